"""Authentication services: web login sessions, access JWTs, rotating refresh tokens, API keys."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer
from sqlalchemy import delete, select, update

from core.auth import AuthenticationRequired, Principal
from core.db import session
from core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from core.identity import ApiKey, LoginSession, RefreshToken
from core.mixins import utcnow
from core.models import Membership, Tenant, User
from core.permissions import granted
from core.services import authenticate, hash_password, validate_email

ACCESS_TTL = dt.timedelta(minutes=15)
SESSION_IDLE = dt.timedelta(hours=12)
REFRESH_TTL = dt.timedelta(days=30)
API_KEY_PREFIX = "pgk"
RESET_SALT = "pergola.password-reset"


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _fingerprint(user: User) -> str:
    """Part of the hash of the user's current password (empty: none yet), carried by reset
    and invitation links so a link stops working once the password changes."""
    return _sha256(user.password_hash or "")[:16]


def _check_new_password(password: str, field: str) -> None:
    """Refuse a new password shorter than the minimum, naming the form's `field`."""
    from core.services import MIN_PASSWORD

    if len(password) < MIN_PASSWORD:
        raise ValidationError(f"password must be at least {MIN_PASSWORD} characters", field=field)


def _setting(name: str, default: Any) -> Any:
    return current_app.config.get(name, default)


# --- principals ----------------------------------------------------------------------------


def principal_for(
    user_id: uuid.UUID, tenant_id: uuid.UUID, *, kind: str = "user", api_key: ApiKey | None = None
) -> Principal | None:
    """The principal of an active user in an active tenant they belong to, else None."""
    from core.registry import current_registry
    from core.tenancy import tenant_context

    # In the tenant's context: on PostgreSQL, row-level security hides the roles otherwise.
    with tenant_context(tenant_id):
        row = session.execute(
            select(User, Membership, Tenant)
            .join(Membership, Membership.user_id == User.id)
            .join(Tenant, Tenant.id == Membership.tenant_id)
            .where(User.id == user_id, Membership.tenant_id == tenant_id)
        ).first()
        if row is None:
            return None
        user, membership, tenant = row
        if not (user.active and membership.active and tenant.is_active):
            return None
        roles = list(membership.roles)  # type: ignore[attr-defined]
    patterns = frozenset(p for r in roles for p in r.permissions)
    enabled = current_registry().enabled_addons(tenant_id)
    return Principal(
        user_id=user.id,
        tenant_id=tenant_id,
        patterns=patterns,
        kind=kind,
        email=user.email,
        roles=frozenset(r.name for r in roles),
        enabled_addons=enabled,
    )


def login(email: str, password: str, tenant_slug: str | None) -> tuple[User, Tenant]:
    """Check credentials and membership; a vague error either way, so nothing leaks."""
    user = authenticate(email, password)
    if user is None:
        raise AuthenticationRequired("invalid email or password")
    tenants = user_tenants(user.id)
    if not tenants:
        raise AuthenticationRequired("this account belongs to no active tenant")
    if tenant_slug:
        tenant = next((t for t in tenants if t.slug == tenant_slug), None)
        if tenant is None:
            raise AuthenticationRequired("invalid email, password or tenant")
    else:
        tenant = tenants[0]
    return user, tenant


def user_tenants(user_id: uuid.UUID) -> list[Tenant]:
    """The active tenants the user is an active member of, by name."""
    return list(
        session.scalars(
            select(Tenant)
            .join(Membership, Membership.tenant_id == Tenant.id)
            .where(
                Membership.user_id == user_id,
                Membership.active.is_(True),
                Tenant.status == "active",
            )
            .order_by(Tenant.name)
        )
    )


# --- web sessions ----------------------------------------------------------------------------


def open_login_session(user: User, tenant: Tenant, client_addr: str | None) -> LoginSession:
    """Start a web login; its fresh id goes into the cookie (rotation on every login)."""
    now = utcnow()
    row = LoginSession(
        user_id=user.id,
        tenant_id=tenant.id,
        created_at=now,
        last_seen_at=now,
        client_addr=client_addr,
    )
    session.add(row)
    session.flush()
    return row


def load_login_session(sid: str) -> LoginSession | None:
    """The live login session with id `sid`, or None once idle past the timeout."""
    try:
        key = uuid.UUID(sid)
    except (ValueError, TypeError):
        return None
    row = session.get(LoginSession, key)
    if row is None:
        return None
    now = utcnow()
    idle: dt.timedelta = _setting("PERGOLA_SESSION_IDLE", SESSION_IDLE)
    if now - row.last_seen_at > idle:
        return None
    # Touch at most every few minutes: a page view must not mean a write.
    if now - row.last_seen_at > dt.timedelta(minutes=5):
        row.last_seen_at = now
        session.commit()
    return row


def close_login_session(sid: str) -> None:
    """End a web login: the cookie that carried it stops working."""
    row = load_login_session(sid)
    if row is not None:
        session.delete(row)
        session.flush()


def switch_tenant(row: LoginSession, tenant_slug: str) -> Tenant:
    """Move a web login to another tenant the user belongs to."""
    tenant = next((t for t in user_tenants(row.user_id) if t.slug == tenant_slug), None)
    if tenant is None:
        raise NotFound(f"unknown tenant {tenant_slug!r}", details={"tenant": ["not yours"]})
    row.tenant_id = tenant.id
    session.flush()
    return tenant


# --- JWT access tokens and refresh tokens ------------------------------------------------


def issue_tokens(user: User, tenant: Tenant, family: uuid.UUID | None = None) -> dict[str, Any]:
    """A short-lived access JWT and a new refresh token (stored hashed)."""
    now = utcnow()
    ttl: dt.timedelta = _setting("PERGOLA_ACCESS_TTL", ACCESS_TTL)
    claims = {
        "sub": str(user.id),
        "tid": str(tenant.id),
        "typ": "access",
        "iat": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
    }
    access = jwt.encode(claims, current_app.config["SECRET_KEY"], algorithm="HS256")
    refresh = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            token_hash=_sha256(refresh),
            family_id=family or uuid.uuid4(),
            user_id=user.id,
            tenant_id=tenant.id,
            created_at=now,
            expires_at=now + _setting("PERGOLA_REFRESH_TTL", REFRESH_TTL),
        )
    )
    session.flush()
    return {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": int(ttl.total_seconds()),
        "refresh_token": refresh,
        "tenant": tenant.slug,
    }


def decode_access_token(token: str) -> dict[str, Any]:
    """The claims of a valid access JWT; expired or forged ones are a 401."""
    try:
        claims = jwt.decode(
            token,
            current_app.config["SECRET_KEY"],
            algorithms=["HS256"],
            options={"require": ["exp", "sub", "tid"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthenticationRequired("access token expired") from exc
    except jwt.InvalidTokenError as exc:
        raise AuthenticationRequired("invalid access token") from exc
    if claims.get("typ") != "access":
        raise AuthenticationRequired("invalid access token")
    return claims


def refresh_tokens(refresh: str) -> dict[str, Any]:
    """Spend a refresh token for a new pair; a reused (stolen) one revokes its whole family."""
    now = utcnow()
    row = session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == _sha256(refresh)).with_for_update()
    )
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise AuthenticationRequired("invalid or expired refresh token")
    if row.used_at is not None:
        revoke_family(row.family_id)
        raise AuthenticationRequired("refresh token already used; all sessions of it revoked")
    row.used_at = now
    user = session.get(User, row.user_id)
    tenant = session.get(Tenant, row.tenant_id)
    if user is None or tenant is None or principal_for(user.id, tenant.id) is None:
        raise AuthenticationRequired("account no longer active")
    return issue_tokens(user, tenant, family=row.family_id)


def revoke_family(family_id: uuid.UUID) -> None:
    """Revoke every refresh token of one login."""
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def logout_refresh(refresh: str) -> None:
    """Revoke the login a refresh token belongs to (idempotent)."""
    row = session.scalar(select(RefreshToken).where(RefreshToken.token_hash == _sha256(refresh)))
    if row is not None:
        revoke_family(row.family_id)


# --- API keys --------------------------------------------------------------------------------

_DURATION = re.compile(r"^(\d+)([dhm])$")


def parse_duration(text: str) -> dt.timedelta:
    """'90d', '12h' or '30m' as a timedelta."""
    m = _DURATION.match(text.strip())
    if not m or int(m.group(1)) <= 0:
        raise ValidationError(
            f"invalid duration {text!r}: use e.g. 90d, 12h or 30m", field="expires"
        )
    n, unit = int(m.group(1)), m.group(2)
    return {"d": dt.timedelta(days=n), "h": dt.timedelta(hours=n), "m": dt.timedelta(minutes=n)}[
        unit
    ]


def create_api_key(
    tenant: Tenant,
    name: str,
    scopes: list[str],
    expires_in: dt.timedelta | None = None,
    created_by: Principal | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the secret, which is shown once and never stored."""
    from core.rbac import KERNEL_PERMISSIONS, validate_patterns
    from core.registry import current_registry

    if not name.strip():
        raise ValidationError("name is required", field="name")
    known = {**KERNEL_PERMISSIONS, **current_registry().permissions()}
    scopes = validate_patterns(scopes, known)
    if not scopes:
        raise ValidationError("at least one scope is required", field="scopes")
    if created_by is not None:
        outside = [s for s in scopes if not _covered(created_by.patterns, s, known)]
        if outside:
            raise PermissionDenied(
                f"scopes beyond your own permissions: {', '.join(outside)}",
                details={"scopes": outside},
            )
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    key = ApiKey(
        tenant_id=tenant.id,
        name=name.strip(),
        prefix=prefix,
        key_hash=_sha256(secret),
        scopes=scopes,
        created_by=created_by.user_id if created_by else None,
        created_at=now,
        expires_at=now + expires_in if expires_in else None,
    )
    session.add(key)
    session.flush()
    return key, f"{API_KEY_PREFIX}_{prefix}_{secret}"


def _covered(own: frozenset[str], scope: str, known: dict[str, str]) -> bool:
    """A scope is within `own` when every known permission it grants is granted by `own`."""
    return all(granted(own, k) for k in known if granted([scope], k)) and (
        scope != "*" or "*" in own
    )


def revoke_api_key(tenant: Tenant, prefix: str) -> ApiKey:
    """Revoke the tenant's key with `prefix`."""
    key = session.scalar(
        select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.tenant_id == tenant.id)
    )
    if key is None:
        raise NotFound(f"no API key {prefix!r} in tenant {tenant.slug!r}")
    key.revoked_at = key.revoked_at or utcnow()
    session.flush()
    return key


def list_api_keys(tenant: Tenant) -> list[ApiKey]:
    """The tenant's keys, newest first."""
    return list(
        session.scalars(
            select(ApiKey).where(ApiKey.tenant_id == tenant.id).order_by(ApiKey.created_at.desc())
        )
    )


def principal_from_api_key(token: str) -> Principal:
    """The principal of a live API key; anything else is a 401."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX:
        raise AuthenticationRequired("invalid API key")
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == parts[1]))
    if key is None or not hmac.compare_digest(key.key_hash, _sha256(parts[2])):
        raise AuthenticationRequired("invalid API key")
    now = utcnow()
    if key.revoked_at is not None:
        raise AuthenticationRequired("API key revoked")
    if key.expires_at is not None and key.expires_at <= now:
        raise AuthenticationRequired("API key expired")
    tenant = session.get(Tenant, key.tenant_id)
    if tenant is None or not tenant.is_active:
        raise AuthenticationRequired("tenant suspended")
    ceiling = None
    roles: frozenset[str] = frozenset()
    if key.created_by is not None:
        creator = principal_for(key.created_by, key.tenant_id)
        if creator is None:
            raise AuthenticationRequired("the key's creator no longer has access")
        # The creator's permissions bound the key, and the creator's roles carry their
        # record rules: a key sees no row its creator could not.
        ceiling = creator.patterns
        roles = creator.roles
    # Record use at most once a minute: a key used per request must not write per request.
    if key.last_used_at is None or now - key.last_used_at > dt.timedelta(minutes=1):
        key.last_used_at = now
        session.commit()
    from core.registry import current_registry

    return Principal(
        user_id=key.created_by,
        tenant_id=key.tenant_id,
        patterns=frozenset(key.scopes),
        kind="api_key",
        api_key_id=key.id,
        enabled_addons=current_registry().enabled_addons(key.tenant_id),
        ceiling=ceiling,
        roles=roles,
        email=f"api-key:{key.name}",
    )


def principal_from_bearer(token: str) -> Principal:
    """Resolve an `Authorization: Bearer` credential: an API key or an access JWT."""
    if token.startswith(API_KEY_PREFIX + "_"):
        return principal_from_api_key(token)
    claims = decode_access_token(token)
    principal = principal_for(uuid.UUID(claims["sub"]), uuid.UUID(claims["tid"]))
    if principal is None:
        raise AuthenticationRequired("account no longer active")
    return principal


# --- passwords -------------------------------------------------------------------------------


def change_password(
    user: User, current: str, new: str, keep_session: uuid.UUID | None = None
) -> None:
    """Change a password after checking the current one; other logins end."""
    from core.services import check_password

    if not check_password(user, current):
        raise ValidationError("current password is wrong", field="current_password")
    _check_new_password(new, "new_password")
    user.password_hash = hash_password(new)
    end_other_logins(user, keep=keep_session)
    session.flush()


def end_other_logins(user: User, keep: uuid.UUID | None = None) -> None:
    """After a password change: revoke every refresh token and web login but `keep`.

    Whoever stole a token or cookie must lose it with the old password.
    """
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    stmt = delete(LoginSession).where(LoginSession.user_id == user.id)
    if keep is not None:
        stmt = stmt.where(LoginSession.id != keep)
    session.execute(stmt)


def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=RESET_SALT)


def password_reset_token(user: User) -> str:
    """A signed token; it carries part of the current hash, so it works once."""
    return _reset_serializer().dumps({"u": str(user.id), "h": _fingerprint(user)})


def reset_password(token: str, new: str, max_age: int = 3600) -> User:
    """Set a new password with a reset token (valid for an hour, once)."""
    try:
        data = _reset_serializer().loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise ValidationError("the reset link has expired", field="token") from exc
    except BadSignature as exc:
        raise ValidationError("the reset link is invalid", field="token") from exc
    user = session.get(User, uuid.UUID(data["u"]))
    if user is None or _fingerprint(user) != data["h"]:
        raise ValidationError("the reset link was already used", field="token")
    _check_new_password(new, "password")
    user.password_hash = hash_password(new)
    end_other_logins(user)
    session.flush()
    return user


def request_password_reset(email: str, base_url: str) -> None:
    """Mail a reset link if the account exists; say nothing either way."""
    from core.mailer import send_mail
    from core.services import find_user

    email = validate_email(email)
    user = find_user(email)
    if user is None or not user.active:
        return
    link = f"{base_url.rstrip('/')}/password/reset/{password_reset_token(user)}"
    send_mail(
        user.email,
        "Reset your Pergola password",
        f"Hello {user.name},\n\nTo choose a new password, open:\n{link}\n\n"
        "The link works once, within an hour. If you did not ask, ignore this mail.\n",
    )


# --- invitations -----------------------------------------------------------------------------

INVITE_SALT = "pergola.invitation"
INVITATION_DAYS = 7


def invitation_days() -> int:
    """How many days an invitation link works (`PERGOLA_INVITATION_DAYS`, default 7)."""
    import os

    raw = _setting("PERGOLA_INVITATION_DAYS", None) or os.environ.get("PERGOLA_INVITATION_DAYS")
    try:
        return max(1, int(raw)) if raw else INVITATION_DAYS
    except ValueError:
        return INVITATION_DAYS


@dataclass(frozen=True)
class Invitation:
    """What an invitation link says: who is invited, to which company, by whom, until when."""

    user: User
    tenant: Tenant
    inviter: str
    expires_at: dt.datetime


def _invite_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=INVITE_SALT)


def invitation_token(
    user: User, tenant: Tenant, inviter: User | None, issued_at: dt.datetime | None = None
) -> str:
    """A signed invitation; like a reset link it carries part of the current hash, so it
    works once (and not once the user has chosen a password some other way)."""
    at = issued_at or utcnow()
    return _invite_serializer().dumps(
        {
            "u": str(user.id),
            "t": str(tenant.id),
            "i": str(inviter.id) if inviter is not None else "",
            "at": int(at.timestamp()),
            "h": _fingerprint(user),
        }
    )


def read_invitation(token: str) -> Invitation:
    """The invitation a link carries; a clear error when it is forged, expired or used."""
    try:
        data = _invite_serializer().loads(token)
    except BadSignature as exc:
        raise ValidationError("the invitation link is invalid", field="token") from exc
    user = session.get(User, uuid.UUID(data["u"]))
    tenant = session.get(Tenant, uuid.UUID(data["t"]))
    if user is None or tenant is None or not user.active:
        raise ValidationError("the invitation link is invalid", field="token")
    if _fingerprint(user) != data["h"]:
        raise ValidationError(
            "the invitation was already accepted: log in, or ask for a password reset",
            field="token",
        )
    issued = dt.datetime.fromtimestamp(data["at"], dt.UTC)
    expires_at = issued + dt.timedelta(days=invitation_days())
    inviter = session.get(User, uuid.UUID(data["i"])) if data["i"] else None
    who = (inviter.name or inviter.email) if inviter is not None else "An administrator"
    if not _active_member(user.id, tenant.id):
        # Deactivated (or removed) since the mail went out: an old link must not let them in.
        raise ValidationError(
            f"this invitation to {tenant.name} was withdrawn; ask {who} if you should still join",
            field="token",
        )
    if utcnow() > expires_at:
        raise ValidationError(
            f"the invitation link has expired; ask {who} to send a new one", field="token"
        )
    return Invitation(user, tenant, who, expires_at)


def _active_member(user_id: uuid.UUID, tenant_id: uuid.UUID) -> bool:
    """Whether the user has an active membership in the tenant."""
    return (
        session.scalar(
            select(Membership.id).where(
                Membership.user_id == user_id,
                Membership.tenant_id == tenant_id,
                Membership.active.is_(True),
            )
        )
        is not None
    )


def send_invitation(user: User, tenant: Tenant, inviter: User | None, base_url: str) -> Path | None:
    """Mail `user` an invitation to `tenant` from `inviter`, with a set-password link."""
    from core.mailer import send_mail

    if not _active_member(user.id, tenant.id):
        raise Conflict(
            f"{user.email} is deactivated in {tenant.name}; reactivate them before inviting",
            details={"email": ["deactivated"]},
        )
    if user.password_hash is not None:
        raise Conflict(
            f"{user.email} has already set a password; nothing to resend",
            details={"email": ["already has a password"]},
        )
    who = (inviter.name or inviter.email) if inviter is not None else "An administrator"
    days = invitation_days()
    link = f"{base_url.rstrip('/')}/invitation/{invitation_token(user, tenant, inviter)}"
    return send_mail(
        user.email,
        f"{who} invited you to {tenant.name} on Pergola",
        f"Hello {user.name or user.email},\n\n"
        f"{who} invited you to join {tenant.name} on Pergola.\n\n"
        f"To accept, choose your password here:\n{link}\n\n"
        f"The link works once, within {days} days. If it has expired, ask {who} to send "
        "you a new invitation.\n",
    )


def accept_invitation(token: str, password: str) -> Invitation:
    """Set the invited user's password; the link then stops working."""
    invitation = read_invitation(token)
    _check_new_password(password, "password")
    # Conditional, so two simultaneous POSTs of one link cannot both pass: only the first
    # finds the password still unset.
    done = session.execute(
        update(User)
        .where(User.id == invitation.user.id, User.password_hash.is_(None))
        .values(password_hash=hash_password(password))
        .execution_options(synchronize_session="fetch")
    )
    if getattr(done, "rowcount", 0) != 1:
        raise ValidationError(
            "the invitation was already accepted: log in, or ask for a password reset",
            field="token",
        )
    return invitation
