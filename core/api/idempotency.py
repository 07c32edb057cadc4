"""`Idempotency-Key` on POST: a retry with the same key and body gets the first answer again.

Keys are scoped to the tenant and the caller (user or API key). The answer is stored in
the same transaction as the change it reports, so either both exist or neither does.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Response, make_response, request
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from core.api.models import IdempotencyKey
from core.auth import AuthenticationRequired, check, current_principal
from core.db import session
from core.errors import Conflict, ValidationError
from core.mixins import utcnow

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
F = TypeVar("F", bound=Callable[..., Any])


def _principal_key() -> str:
    principal = current_principal()
    if principal is None:
        return "anonymous"
    if principal.api_key_id is not None:
        return f"key:{principal.api_key_id}"
    return f"user:{principal.user_id}"


def _request_hash() -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.path, request.query_string.decode("latin-1")):
        digest.update(part.encode() + b"\0")
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def _find(key: str) -> IdempotencyKey | None:
    return session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.principal == _principal_key(), IdempotencyKey.key == key
        )
    )


def idempotent(view: F) -> F:
    """Decorate a POST view that flushes but does not commit: honour `Idempotency-Key`, and
    commit the view's work on a 2xx answer (with the remembered answer, when keyed)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if key is None or request.method != "POST":
            return _commit(make_response(view(*args, **kwargs)))
        _may_call(view)  # before the stored answers: they are only for who may still ask
        key = key.strip()
        if not key or len(key) > MAX_KEY_LENGTH:
            raise ValidationError(f"must be 1 to {MAX_KEY_LENGTH} characters", field=HEADER)
        digest = _request_hash()
        seen = _find(key)
        if seen is not None:
            if seen.request_hash != digest:
                raise Conflict(
                    f"{HEADER} {key!r} was already used for a different request; "
                    "use a new key for a new request",
                    details={HEADER: ["already used"]},
                )
            if getattr(view, "pergola_shows_secret", False):
                # Its answer held a secret shown once; it was not kept, so it can't be replayed.
                raise Conflict(
                    f"the request with {HEADER} {key!r} was already carried out; its answer "
                    "carried a secret that is shown only once and not stored",
                    details={HEADER: ["already used"]},
                )
            replay = Response(seen.body, status=seen.status, mimetype="application/json")
            replay.headers.update(seen.headers or {})
            replay.headers["Idempotent-Replayed"] = "true"
            return replay
        response = make_response(view(*args, **kwargs))
        body_text = response.get_data(as_text=True)
        if 200 <= response.status_code < 300:
            session.add(
                IdempotencyKey(
                    principal=_principal_key(),
                    key=key,
                    request_hash=digest,
                    status=response.status_code,
                    body="" if getattr(view, "pergola_shows_secret", False) else body_text,
                    headers=_kept_headers(response),
                )
            )
        return _commit(response, key)

    wrapper.pergola_unit_of_work = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


# Describe the stored body, not the answer: the replay sets them from the body it sends.
_NOT_KEPT = frozenset({"content-type", "content-length"})


def _kept_headers(response: Response) -> dict[str, str]:
    """The headers the view set on its answer (Location, ETag, ...), to be replayed."""
    return {k: v for k, v in response.headers.items() if k.lower() not in _NOT_KEPT}


def _may_call(view: Any) -> None:
    """Refuse (401/403) a caller the view itself would refuse. The kernel wraps a view
    after its permission check, so without this a replay would skip that check."""
    permission = getattr(view, "pergola_permission", None)
    if permission is None or permission == "authenticated":
        if current_principal() is None:
            raise AuthenticationRequired("authentication required")
        return
    check(permission)


def shows_secret(view: F) -> F:
    """Mark a POST view whose answer carries a secret shown once (a webhook's signing key):
    its `Idempotency-Key` still stops a second run, but the answer is not stored, so a
    retry gets a 409 instead of the secret again."""
    view.pergola_shows_secret = True  # type: ignore[attr-defined]
    return view


def unit_of_work(view: F) -> F:
    """Decorate a write view: commit its work on a 2xx answer, roll it back otherwise, and
    ignore `Idempotency-Key` (for public views, whose answers are not the caller's to keep)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return _commit(make_response(view(*args, **kwargs)))

    wrapper.pergola_unit_of_work = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def _commit(response: Response, key: str | None = None) -> Response:
    if not 200 <= response.status_code < 300:
        session.rollback()
        return response
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        if key is None:
            raise
        # The same key raced in from a parallel request, which won: this one's work is undone.
        raise Conflict(
            f"a request with {HEADER} {key!r} is already being processed",
            details={HEADER: ["in use"]},
        ) from exc
    return response


def purge(older_than: dt.timedelta = dt.timedelta(hours=24)) -> int:
    """Forget the current tenant's keys older than `older_than`; returns how many."""
    result = session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at < utcnow() - older_than)
    )
    return int(getattr(result, "rowcount", 0) or 0)
