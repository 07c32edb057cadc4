"""Kernel services for tenants and users; the CLI, web and API call these, never the models."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterable, Sequence

from flask import current_app
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from core.db import session
from core.errors import Conflict, NotFound, ValidationError
from core.mixins import utcnow
from core.models import Membership, Tenant, User
from core.rbac import assign_roles, seed_standard_roles
from core.registry import Registry, current_registry
from core.tenancy import system_context, tenant_context

SLUG_RE = re.compile(r"^[a-z][a-z0-9-]{1,62}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 8


def validate_slug(slug: str) -> str:
    """Return `slug` if it is a valid tenant slug, else raise naming the rule."""
    if not SLUG_RE.match(slug or ""):
        raise ValidationError(
            f"invalid slug {slug!r}: use 2-63 lower-case letters, digits or '-', "
            "starting with a letter",
            field="slug",
        )
    return slug


def validate_email(email: str) -> str:
    """Return the normalised `email`, or raise naming the field."""
    value = (email or "").strip().lower()
    if not EMAIL_RE.match(value) or len(value) > 254:
        raise ValidationError(f"invalid email address {email!r}", field="email")
    return value


def create_tenant(slug: str, name: str, addons: Iterable[str] | None = None) -> Tenant:
    """Create a tenant with `addons` enabled (default: the deployment's default addons).

    A duplicate slug is a `Conflict`.
    """
    validate_slug(slug)
    if not (name or "").strip():
        raise ValidationError("name is required", field="name")
    with system_context():
        if session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
            raise Conflict(f"tenant {slug!r} already exists", details={"slug": ["already exists"]})
        tenant = Tenant(slug=slug, name=name.strip(), status="active", settings={})
        session.add(tenant)
        session.flush()
        seed_standard_roles(tenant.id)
    registry = current_registry()
    registry.enable(tenant.id, default_addons(registry) if addons is None else addons)
    return tenant


def default_addons(registry: Registry) -> list[str]:
    """Addons a new tenant starts with: PERGOLA_DEFAULT_ADDONS ('all', 'none' or a list)."""
    setting = current_app.config["PERGOLA"].extra.get(
        "default_addons", os.environ.get("PERGOLA_DEFAULT_ADDONS", "all")
    )
    if isinstance(setting, str):
        if setting.strip() == "all":
            return list(registry.addons)
        setting = [] if setting.strip() in ("", "none") else setting.split(",")
    return [n.strip() for n in setting if n.strip()]


def get_tenant(slug: str) -> Tenant:
    """The tenant with `slug`, or `NotFound`."""
    tenant = session.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        raise NotFound(f"unknown tenant {slug!r}", details={"tenant": ["no such tenant"]})
    return tenant


def list_tenants() -> Sequence[Tenant]:
    """Every tenant, by slug."""
    return session.scalars(select(Tenant).order_by(Tenant.slug)).all()


def find_user(email: str) -> User | None:
    """The user with `email` (any case), or None."""
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def create_user(
    email: str,
    *,
    tenant_slug: str,
    password: str | None = None,
    name: str = "",
    roles: Iterable[str] = (),
) -> User:
    """Create a user, or reuse the one with that email in any case, as a member of the tenant.

    An existing user keeps their name and password: whoever adds them to one more tenant
    must not be able to take over the login they use in the others.
    """
    email = validate_email(email)
    tenant = get_tenant(tenant_slug)
    if password is not None:
        validate_password(password)
    user = find_user(email)
    if user is None:
        user = User(email=email, name=name or email.split("@")[0], active=True)
        if password is not None:
            user.password_hash = hash_password(password)
        session.add(user)
    elif any(m.tenant_id == tenant.id for m in user.memberships):
        raise Conflict(f"user {email!r} is already a member of tenant {tenant.slug!r}")
    membership = Membership(tenant_id=tenant.id, active=True)
    user.memberships.append(membership)
    session.flush()
    if roles:
        with tenant_context(tenant.id):
            assign_roles(membership, roles)
    return user


def validate_password(password: str) -> str:
    """Return `password` if it is acceptable, else raise naming the rule."""
    if len(password) < MIN_PASSWORD:
        raise ValidationError(
            f"password must be at least {MIN_PASSWORD} characters", field="password"
        )
    return password


def set_password(user: User, password: str) -> None:
    """Give `user` a new password (validated, stored as a scrypt hash)."""
    user.password_hash = hash_password(validate_password(password))


def hash_password(password: str) -> str:
    """Hash with werkzeug's scrypt."""
    return generate_password_hash(password, method="scrypt")


def check_password(user: User, password: str) -> bool:
    """True when `password` is the user's; always False for inactive users or no password."""
    if not user.active or not user.password_hash:
        return False
    return check_password_hash(user.password_hash, password)


def authenticate(email: str, password: str) -> User | None:
    """The active user with these credentials, stamped with the login time; else None."""
    user = find_user(email)
    if user is None:
        # Spend the same time as a real check so response timing does not reveal emails.
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password(user, password):
        return None
    user.last_login_at = utcnow()
    return user


def memberships_of(user_id: uuid.UUID) -> Sequence[Membership]:
    """The user's active memberships, with their tenants."""
    return session.scalars(
        select(Membership).where(Membership.user_id == user_id, Membership.active.is_(True))
    ).all()


_DUMMY_HASH = generate_password_hash("pergola-timing-equaliser", method="scrypt")
