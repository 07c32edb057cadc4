"""Webhooks: tenant admins register endpoints; events are POSTed to them, signed.

Each delivery is a JSON POST signed with HMAC-SHA256 over `timestamp + "." + body` (see
docs/events.md for the headers and a verification snippet). Failed attempts are retried
with exponential backoff; every attempt is logged; an endpoint that fails N times in a
row is disabled until someone re-enables it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import ssl
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

from flask import Flask, current_app
from sqlalchemy import func, select, update

import core
from core.db import session
from core.errors import NotFound, ValidationError
from core.event_models import OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from core.events import (
    Event,
    after_commit,
    event_settings,
    isolated_scope,
    type_matches,
    validate_patterns,
)
from core.mixins import utcnow
from core.tenancy import system_context, tenant_context

log = logging.getLogger("pergola.webhooks")

SIGNATURE_HEADER = "X-Pergola-Signature"
EXCERPT = 500
MIN_SECRET = 16


# --- signing ---------------------------------------------------------------------------


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header value: `t=<unix time>,v1=<hex HMAC-SHA256 of "t." + body>`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    secret: str, body: bytes, header: str, tolerance: int = 300, now: float | None = None
) -> bool:
    """True when `header` signs `body` with `secret` and is at most `tolerance` seconds old."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    fresh = abs((now if now is not None else time.time()) - timestamp) <= tolerance
    return fresh and hmac.compare_digest(expected, parts.get("v1", ""))


def generate_secret() -> str:
    """A new random signing secret."""
    return "whsec_" + secrets.token_urlsafe(32)


# --- endpoints (in the tenant's context) -------------------------------------------------


def validate_url(url: Any) -> str:
    """Return `url` if it is an absolute http(s) URL, else a `ValidationError` on `url`."""
    if not isinstance(url, str) or not url.strip():
        raise ValidationError("url is required", field="url")
    url = url.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise ValidationError(f"url {url!r} is not a valid URL", field="url") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValidationError(
            f"url must start with http:// or https:// (got {parts.scheme or 'no'} scheme)",
            field="url",
        )
    if not parts.hostname:
        raise ValidationError("url must name a host, e.g. https://example.com/hooks", field="url")
    if parts.username or parts.password:
        raise ValidationError(
            "url must not carry a user name or password; the signature authenticates deliveries",
            field="url",
        )
    if len(url) > 2000:
        raise ValidationError("url is longer than 2000 characters", field="url")
    if not event_settings().webhook_allow_private_networks:
        try:
            literal = ipaddress.ip_address(parts.hostname.strip("[]"))
        except ValueError:
            literal = None  # a name: checked when it is resolved, at each delivery
        if literal is not None and not _is_public(literal):
            raise ValidationError(
                f"url points to {literal}, a private network address; webhooks go to public "
                "addresses (an operator may allow private ones)",
                field="url",
            )
    return url


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _is_public(ip: IPAddress) -> bool:
    """True for an address on the public internet: not private, loopback, link-local,
    reserved, multicast or unspecified (v4-mapped and 6to4 v6 addresses by their v4)."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is not None and not _is_public(embedded):
            return False
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


Address = tuple[socket.AddressFamily, Any]  # (family, sockaddr) as getaddrinfo gives them


def resolve(host: str, port: int) -> list[Address]:
    """`host`'s addresses for a TCP connection to `port`: the one DNS lookup of an attempt."""
    found: list[Address] = []
    for family, _type, _proto, _name, sockaddr in socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    ):
        if (family, sockaddr) not in found:
            found.append((family, sockaddr))
    return found


def _ip_of(address: Address) -> IPAddress:
    return ipaddress.ip_address(str(address[1][0]).split("%", 1)[0])


def first_private(addresses: Iterable[Address]) -> str | None:
    """The first of `addresses` that is not public, or None."""
    for address in addresses:
        ip = _ip_of(address)
        if not _is_public(ip):
            return str(ip)
    return None


def _validate_secret(secret: Any) -> str:
    if not isinstance(secret, str) or len(secret) < MIN_SECRET or len(secret) > 200:
        raise ValidationError(f"secret must be {MIN_SECRET} to 200 characters", field="secret")
    return secret


def create_endpoint(
    url: str,
    event_types: Iterable[str],
    *,
    secret: str | None = None,
    description: str = "",
    active: bool = True,
) -> WebhookEndpoint:
    """Register an endpoint for the tenant in context; a secret is generated if not given."""
    endpoint = WebhookEndpoint(
        url=validate_url(url),
        event_types=validate_patterns(
            list(event_types) if not isinstance(event_types, str) else event_types
        ),
        secret=_validate_secret(secret) if secret is not None else generate_secret(),
        description=_description(description),
        active=bool(active),
        consecutive_failures=0,
    )
    session.add(endpoint)
    session.flush()
    return endpoint


def _description(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 200:
        raise ValidationError(
            "description must be text of at most 200 characters", field="description"
        )
    return value.strip()


def list_endpoints() -> list[WebhookEndpoint]:
    """The tenant's endpoints, oldest first."""
    return list(
        session.scalars(
            select(WebhookEndpoint).order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
        )
    )


def get_endpoint(endpoint_id: uuid.UUID | str) -> WebhookEndpoint:
    """The tenant's endpoint `endpoint_id`, or `NotFound`."""
    try:
        ident = uuid.UUID(str(endpoint_id))
    except ValueError:
        ident = None
    endpoint = session.get(WebhookEndpoint, ident) if ident else None
    if endpoint is None:
        raise NotFound(f"no webhook endpoint {endpoint_id}", details={"id": ["no such endpoint"]})
    return cast(WebhookEndpoint, endpoint)


def update_endpoint(endpoint_id: uuid.UUID | str, changes: Mapping[str, Any]) -> WebhookEndpoint:
    """Change `url`, `event_types`, `secret`, `description` or `active` (True re-enables)."""
    endpoint = get_endpoint(endpoint_id)
    unknown = set(changes) - {"url", "event_types", "secret", "description", "active"}
    if unknown:
        raise ValidationError(details={k: ["unknown field"] for k in sorted(unknown)})
    if "url" in changes:
        endpoint.url = validate_url(changes["url"])
    if "event_types" in changes:
        endpoint.event_types = validate_patterns(changes["event_types"])
    if "secret" in changes:
        endpoint.secret = _validate_secret(changes["secret"])
    if "description" in changes:
        endpoint.description = _description(changes["description"])
    if "active" in changes:
        if changes["active"] is True:
            enable_endpoint(endpoint)
        elif changes["active"] is False:
            disable_endpoint(endpoint, "disabled by a user")
        else:
            raise ValidationError("active must be true or false", field="active")
    session.flush()
    return endpoint


def enable_endpoint(endpoint: WebhookEndpoint | uuid.UUID | str) -> WebhookEndpoint:
    """Re-enable an endpoint: its failure count starts again from zero."""
    ep = endpoint if isinstance(endpoint, WebhookEndpoint) else get_endpoint(endpoint)
    ep.active, ep.consecutive_failures = True, 0
    ep.disabled_at, ep.disabled_reason = None, ""
    session.flush()
    return ep


def disable_endpoint(
    endpoint: WebhookEndpoint | uuid.UUID | str, reason: str = "disabled by a user"
) -> WebhookEndpoint:
    """Stop delivering to an endpoint; deliveries owed to it fail when their turn comes."""
    ep = endpoint if isinstance(endpoint, WebhookEndpoint) else get_endpoint(endpoint)
    if ep.active:
        ep.active, ep.disabled_at, ep.disabled_reason = False, utcnow(), reason[:300]
    session.flush()
    return ep


def delete_endpoint(endpoint_id: uuid.UUID | str) -> None:
    """Remove an endpoint with its deliveries and their log."""
    endpoint = get_endpoint(endpoint_id)
    session.delete(endpoint)
    session.flush()


def rotate_secret(endpoint_id: uuid.UUID | str) -> WebhookEndpoint:
    """Give the endpoint a new generated secret (returned once by the API)."""
    endpoint = get_endpoint(endpoint_id)
    endpoint.secret = generate_secret()
    session.flush()
    return endpoint


@dataclass(frozen=True)
class DeliveryLog:
    """A delivery with its attempts, newest attempt last."""

    delivery: WebhookDelivery
    attempts: list[WebhookAttempt]


def list_deliveries(
    endpoint_id: uuid.UUID | str, *, state: str | None = None, limit: int = 50
) -> list[DeliveryLog]:
    """The endpoint's deliveries, newest first, each with its logged attempts."""
    endpoint = get_endpoint(endpoint_id)
    stmt = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
    if state:
        stmt = stmt.where(WebhookDelivery.state == state)
    deliveries = list(
        session.scalars(
            stmt.order_by(WebhookDelivery.created_at.desc()).limit(max(1, min(limit, 500)))
        )
    )
    attempts: dict[uuid.UUID, list[WebhookAttempt]] = {d.id: [] for d in deliveries}
    if deliveries:
        for a in session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(list(attempts)))
            .order_by(WebhookAttempt.number)
        ):
            attempts[a.delivery_id].append(a)
    return [DeliveryLog(d, attempts[d.id]) for d in deliveries]


def reset_delivery(delivery: WebhookDelivery, now: dt.datetime | None = None) -> None:
    """Give a delivery a fresh round of attempts (it is sent after the caller commits)."""
    # Pending again: dispatched after the commit, or by the relay after the grace.
    delivery.state = "pending"
    delivery.next_attempt_at = (now or utcnow()) + event_settings().grace
    delivery.attempt_limit = delivery.attempts + event_settings().event_max_attempts
    delivery.last_error = ""


def retry_delivery(endpoint_id: uuid.UUID | str, delivery_id: uuid.UUID | str) -> WebhookDelivery:
    """Send one of the endpoint's deliveries again (also a succeeded one, on request)."""
    endpoint = get_endpoint(endpoint_id)
    try:
        ident = uuid.UUID(str(delivery_id))
    except ValueError:
        ident = None
    delivery = session.get(WebhookDelivery, ident) if ident else None
    if delivery is None or delivery.endpoint_id != endpoint.id:
        raise NotFound(
            f"no delivery {delivery_id} for this endpoint",
            details={"delivery_id": ["no such delivery"]},
        )
    if not endpoint.active:
        raise ValidationError("the endpoint is disabled: enable it first", field="active")
    reset_delivery(delivery)
    session.flush()
    after_commit(cast(Any, session)._get_current_object(), "delivery", delivery.id)
    return delivery


# --- fan-out and delivery (jobs) ---------------------------------------------------------


def fan_out(data: Event, *, now: dt.datetime) -> list[uuid.UUID]:
    """Create the event's deliveries, once, for the tenant's active endpoints that want it.

    Runs in the event's tenant; locks the event row so that two workers processing the
    same event do not both create deliveries. Returns the new deliveries' ids.
    """
    row = session.execute(
        select(OutboxEvent).where(OutboxEvent.id == data.id).with_for_update()
    ).scalar_one_or_none()
    if row is None or row.webhooks_done:
        session.commit()
        return []
    grace = event_settings().grace
    ids: list[uuid.UUID] = []
    active = select(WebhookEndpoint).where(WebhookEndpoint.active.is_(True))
    for endpoint in session.scalars(active):
        if any(type_matches(p, data.type) for p in endpoint.event_types or ()):
            delivery = WebhookDelivery(
                id=uuid.uuid4(),
                tenant_id=data.tenant_id,
                endpoint_id=endpoint.id,
                event_id=data.id,
                event_type=data.type,
                state="pending",
                attempts=0,
                attempt_limit=event_settings().event_max_attempts,
                created_at=now,
                next_attempt_at=now + grace,
            )
            session.add(delivery)
            ids.append(delivery.id)
    row.webhooks_done = True
    session.commit()
    return ids


def body_of(data: Event) -> bytes:
    """The exact bytes POSTed for an event (the same on every attempt)."""
    return json.dumps(data.to_json(), separators=(",", ":"), sort_keys=True).encode()


def headers_for(
    secret: str,
    body: bytes,
    *,
    event_type: str,
    event_id: uuid.UUID,
    delivery_id: uuid.UUID,
    attempt: int,
    timestamp: int | None = None,
) -> dict[str, str]:
    """The headers of one delivery attempt, signature included."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": "application/json",
        "User-Agent": f"Pergola-Webhooks/{core.__version__}",
        "X-Pergola-Event": event_type,
        "X-Pergola-Event-Id": str(event_id),
        "X-Pergola-Delivery": str(delivery_id),
        "X-Pergola-Attempt": str(attempt),
        SIGNATURE_HEADER: sign(secret, body, ts),
    }


@dataclass(frozen=True)
class PostResult:
    """What the receiver answered to one attempt."""

    status: int | None
    excerpt: str
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        """True for a 2xx answer."""
        return self.status is not None and 200 <= self.status < 300


class _PinnedConnection(http.client.HTTPConnection):
    """HTTP(S) to addresses resolved and checked beforehand, never resolving the name again.

    The name is still what the receiver sees: in the Host header and, for https, in SNI
    and the certificate's hostname check. http.client follows no redirects.
    """

    def __init__(
        self,
        host: str,
        port: int,
        addresses: list[Address],
        timeout: float,
        tls: ssl.SSLContext | None,
    ) -> None:
        super().__init__(host, port, timeout=timeout)
        self.addresses = addresses
        self.tls = tls
        if tls is not None:
            self.default_port = 443  # so that the Host header leaves out ":443"

    def connect(self) -> None:
        """Connect to the first of the checked addresses that answers."""
        error: OSError = OSError(f"{self.host} has no address")
        for family, sockaddr in self.addresses:
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.settimeout(self.timeout)
                sock.connect(sockaddr)
            except OSError as exc:
                sock.close()
                error = exc
                continue
            if self.tls is not None:
                try:
                    sock = self.tls.wrap_socket(sock, server_hostname=self.host)
                except OSError:
                    sock.close()
                    raise
            self.sock = sock
            return
        raise error


def _tls_context() -> ssl.SSLContext:
    """Certificates checked against the system's CAs and the URL's host name."""
    return ssl.create_default_context()


def post(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    timeout: float,
    *,
    allow_private: bool = False,
) -> PostResult:
    """POST `body` to `url`; never raises, reports what happened.

    The host name is resolved once; unless `allow_private`, the attempt is refused when any
    of its addresses is not public. The connection goes to those same addresses, so a name
    that resolves differently a moment later (DNS rebinding) cannot redirect it.
    """
    started = time.monotonic()

    def failed(error: str) -> PostResult:
        return PostResult(None, "", error[:500], int((time.monotonic() - started) * 1000))

    try:
        parts = urlsplit(url)
        https = parts.scheme.lower() == "https"
        host, port = parts.hostname or "", parts.port or (443 if https else 80)
    except ValueError as exc:
        return failed(f"ValueError: {exc}")
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError) as exc:
        return failed(f"{type(exc).__name__}: {exc}")
    if not allow_private:
        blocked = first_private(addresses)
        if blocked is not None:
            return failed(f"refused: {host} resolves to {blocked}, a private network address")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn = _PinnedConnection(host, port, addresses, timeout, _tls_context() if https else None)
    status: int | None = None
    raw, error = b"", ""
    try:
        conn.request("POST", path, body=body, headers=dict(headers))
        response = conn.getresponse()
        status = response.status
        raw = response.read(4 * EXCERPT)
        if not 200 <= status < 300:
            error = f"HTTP {status}"
    except (OSError, http.client.HTTPException, ValueError) as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    finally:
        conn.close()
    duration = int((time.monotonic() - started) * 1000)
    return PostResult(status, raw.decode("utf-8", "replace")[:EXCERPT], error, duration)


def deliver(delivery_id: uuid.UUID | str, *, now: dt.datetime | None = None) -> str:
    """Make one attempt at a delivery; returns its new state.

    No transaction is held during the HTTP call. The attempt number is claimed first with
    a conditional UPDATE, so a duplicate job for the same delivery does nothing.
    """
    app = cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    settings = event_settings(app)
    ident = uuid.UUID(str(delivery_id))
    now = now or utcnow()
    with isolated_scope(), system_context():
        found = session.get(WebhookDelivery, ident)
        if found is None:
            return "missing"
        if found.state in ("succeeded", "failed"):
            return found.state
        tenant_id = found.tenant_id
        session.commit()

    with tenant_context(tenant_id):
        with isolated_scope():
            d = cast(WebhookDelivery, session.get(WebhookDelivery, ident))
            endpoint = session.get(WebhookEndpoint, d.endpoint_id)
            row = session.get(OutboxEvent, d.event_id)
            if endpoint is None or row is None or not endpoint.active:
                d.state, d.next_attempt_at = "failed", None
                d.last_error = (
                    "endpoint disabled: " + endpoint.disabled_reason
                    if endpoint is not None
                    else "endpoint or event deleted"
                )[:500]
                session.commit()
                return "failed"
            if d.state == "retrying" and d.next_attempt_at and d.next_attempt_at > now:
                session.commit()
                return "retrying"  # an early duplicate: the retry is not due yet
            number = d.attempts + 1
            claimed = getattr(
                session.execute(
                    update(WebhookDelivery)
                    .where(
                        WebhookDelivery.id == ident,
                        WebhookDelivery.attempts == d.attempts,
                        WebhookDelivery.state.in_(("pending", "queued", "retrying")),
                    )
                    .values(attempts=number, state="queued", next_attempt_at=now + settings.lease)
                    .execution_options(synchronize_session=False)
                ),
                "rowcount",
                0,
            )
            url, secret, endpoint_id = endpoint.url, endpoint.secret, endpoint.id
            data = Event(
                id=row.id,
                type=row.type,
                tenant_id=row.tenant_id,
                payload=row.payload or {},
                created_at=row.created_at,
            )
            limit = d.attempt_limit
            session.commit()
            if not claimed:
                return "queued"  # another job is on this attempt

        body = body_of(data)
        headers = headers_for(
            secret, body, event_type=data.type, event_id=data.id, delivery_id=ident, attempt=number
        )
        result = post(
            url,
            body,
            headers,
            settings.webhook_timeout,
            allow_private=settings.webhook_allow_private_networks,
        )
        log.info(
            "webhook %s attempt %d to %s: %s %s (%d ms)",
            ident,
            number,
            url,
            result.status,
            result.error,
            result.duration_ms,
        )
        return _record(ident, endpoint_id, number, limit, result, now)


def _record(
    ident: uuid.UUID,
    endpoint_id: uuid.UUID,
    number: int,
    attempt_limit: int,
    result: PostResult,
    now: dt.datetime,
) -> str:
    """Log the attempt, move the delivery on, and keep the endpoint's failure count."""
    settings = event_settings()
    with isolated_scope():
        d = cast(WebhookDelivery, session.get(WebhookDelivery, ident))
        session.add(
            WebhookAttempt(
                delivery_id=ident,
                tenant_id=d.tenant_id,
                number=number,
                attempted_at=now,
                success=result.ok,
                status_code=result.status,
                duration_ms=result.duration_ms,
                response_excerpt=result.excerpt,
                error=result.error,
            )
        )
        d.last_status_code = result.status
        if result.ok:
            d.state, d.delivered_at, d.next_attempt_at, d.last_error = "succeeded", now, None, ""
            session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == endpoint_id)
                .values(consecutive_failures=0)
                .execution_options(synchronize_session=False)
            )
            session.commit()
            return "succeeded"
        d.last_error = (result.error or f"HTTP {result.status}")[:500]
        session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id)
            .values(consecutive_failures=WebhookEndpoint.consecutive_failures + 1)
            .execution_options(synchronize_session=False)
        )
        endpoint = session.get(WebhookEndpoint, endpoint_id, populate_existing=True)
        max_failures = settings.webhook_max_failures
        if (
            endpoint is not None
            and endpoint.active
            and endpoint.consecutive_failures >= max_failures
        ):
            endpoint.active, endpoint.disabled_at = False, now
            endpoint.disabled_reason = f"{endpoint.consecutive_failures} consecutive failures"
            log.warning(
                "webhook endpoint %s disabled after %d consecutive failures",
                endpoint_id,
                endpoint.consecutive_failures,
            )
        if endpoint is None or not endpoint.active:
            d.state, d.next_attempt_at = "failed", None
            d.last_error = f"endpoint disabled ({d.last_error})"[:500]
        elif number >= attempt_limit:
            d.state, d.next_attempt_at = "failed", None
        else:
            in_round = number - (attempt_limit - settings.event_max_attempts)
            d.state, d.next_attempt_at = "retrying", now + settings.backoff(max(in_round, 1))
        session.commit()
        return d.state


# --- API shapes --------------------------------------------------------------------------


def endpoint_dict(endpoint: WebhookEndpoint, *, with_secret: bool = False) -> dict[str, Any]:
    """An endpoint as the API shows it; the secret only when just created or rotated."""
    data: dict[str, Any] = {
        "id": str(endpoint.id),
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": list(endpoint.event_types or []),
        "active": endpoint.active,
        "consecutive_failures": endpoint.consecutive_failures,
        "disabled_at": _iso(endpoint.disabled_at),
        "disabled_reason": endpoint.disabled_reason or None,
        "secret_hint": endpoint.secret[:6] + "…" + endpoint.secret[-4:],
        "created_at": _iso(endpoint.created_at),
        "updated_at": _iso(endpoint.updated_at),
    }
    if with_secret:
        data["secret"] = endpoint.secret
    return data


def delivery_dict(entry: DeliveryLog) -> dict[str, Any]:
    """A delivery and its attempts as the API shows them."""
    d = entry.delivery
    return {
        "id": str(d.id),
        "event_id": str(d.event_id),
        "event_type": d.event_type,
        "state": d.state,
        "attempts": d.attempts,
        "next_attempt_at": _iso(d.next_attempt_at) if d.state == "retrying" else None,
        "created_at": _iso(d.created_at),
        "delivered_at": _iso(d.delivered_at),
        "last_status_code": d.last_status_code,
        "last_error": d.last_error or None,
        "log": [
            {
                "number": a.number,
                "attempted_at": _iso(a.attempted_at),
                "success": a.success,
                "status_code": a.status_code,
                "duration_ms": a.duration_ms,
                "response_excerpt": a.response_excerpt,
                "error": a.error or None,
            }
            for a in entry.attempts
        ],
    }


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def delivery_counts() -> dict[str, int]:
    """The tenant's deliveries by state (for the Settings page)."""
    return {
        state: n
        for state, n in session.execute(
            select(WebhookDelivery.state, func.count()).group_by(WebhookDelivery.state)
        )
    }
