"""Tenant administration services behind the settings pages: addons, users, roles, audit."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from core.auth import Principal
from core.db import session
from core.errors import Conflict, NotFound, ValidationError
from core.identity import Role
from core.models import Membership, Tenant, User
from core.permissions import granted, matches
from core.registry import current_registry

# --- addons ------------------------------------------------------------------------------


@dataclass
class AddonCard:
    """An installed addon as the tenant sees it."""

    name: str
    version: str
    summary: str
    depends: list[str]
    dependants: list[str]
    enabled: bool
    application: bool


@dataclass
class AddonPlan:
    """What enabling or disabling one addon would do, shown before the admin confirms."""

    addon: str
    action: str  # "enable" | "disable"
    also: list[str] = field(default_factory=list)  # dependencies pulled in / dependants cascaded
    blocked_by: list[str] = field(default_factory=list)  # enabled dependants (disable only)
    noop: bool = False


def addon_cards(tenant_id: uuid.UUID) -> list[AddonCard]:
    """Every installed addon with its state for the tenant, in dependency order."""
    registry = current_registry()
    enabled = registry.enabled_addons(tenant_id)
    return [
        AddonCard(
            a.name,
            a.manifest.version,
            a.manifest.summary,
            list(a.manifest.depends),
            registry.dependants_of(a.name),
            a.name in enabled,
            a.manifest.application,
        )
        for a in registry.addons.values()
    ]


def addon_plan(tenant_id: uuid.UUID, name: str, action: str) -> AddonPlan:
    """The consequences of `action` on addon `name` for the tenant."""
    registry = current_registry()
    if name not in registry.addons:
        raise NotFound(f"unknown addon {name!r}")
    enabled = registry.enabled_addons(tenant_id)
    if action == "enable":
        closure = registry.dependency_closure([name])
        return AddonPlan(
            name,
            action,
            also=[n for n in closure if n not in enabled and n != name],
            noop=name in enabled,
        )
    if action == "disable":
        dependants = registry.dependants([name], among=enabled)
        return AddonPlan(
            name, action, blocked_by=dependants, also=dependants, noop=name not in enabled
        )
    raise ValidationError(f"unknown action {action!r}", field="action")


def apply_addon_plan(
    tenant_id: uuid.UUID, name: str, action: str, cascade: bool, by: uuid.UUID | None
) -> list[str]:
    """Enable or disable `name` (refused while enabled dependants remain, unless `cascade`)."""
    registry = current_registry()
    if action == "enable":
        return registry.enable(tenant_id, [name], by=by)
    if action == "disable":
        return registry.disable(tenant_id, [name], cascade=cascade)
    raise ValidationError(f"unknown action {action!r}", field="action")


# --- users ----------------------------------------------------------------------------------


@dataclass
class Member:
    """A user of the tenant with their roles."""

    membership_id: uuid.UUID
    user_id: uuid.UUID
    email: str
    name: str
    active: bool
    roles: list[str]
    last_login_at: Any
    # Invited and not yet accepted: no password chosen, cannot log in yet.
    invited: bool = False


def members(tenant_id: uuid.UUID) -> list[Member]:
    """The tenant's members, by email."""
    rows = session.execute(
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.tenant_id == tenant_id)
        .order_by(User.email)
    ).all()
    return [
        Member(
            m.id,
            u.id,
            u.email,
            u.name,
            m.active and u.active,
            sorted(r.name for r in m.roles),  # type: ignore[attr-defined]
            u.last_login_at,
            u.password_hash is None,
        )
        for m, u in rows
    ]


def _membership(tenant_id: uuid.UUID, membership_id: uuid.UUID) -> Membership:
    m = session.scalar(
        select(Membership).where(Membership.id == membership_id, Membership.tenant_id == tenant_id)
    )
    if m is None:
        raise NotFound("no such user in this company")
    return m


def add_member(
    tenant: Tenant,
    email: str,
    name: str,
    password: str,
    roles: Sequence[str],
    host_url: str,
    inviter: uuid.UUID | None = None,
) -> tuple[User, bool]:
    """Create (or add an existing) user with `roles`; without a password, mail an invitation
    from `inviter` (a user id) to the company.

    Returns the user and whether an invitation went out.
    """
    from core import login as login_service
    from core import services

    if not roles:
        raise ValidationError("give the user at least one role", field="roles")
    user = services.create_user(
        email, tenant_slug=tenant.slug, password=password or None, name=name.strip(), roles=roles
    )
    invited = False
    if not password and user.password_hash is None:
        sender = session.get(User, inviter) if inviter is not None else None
        login_service.send_invitation(user, tenant, sender, host_url)
        invited = True
    return user, invited


def resend_invitation(
    tenant: Tenant, membership_id: uuid.UUID, inviter: uuid.UUID | None, host_url: str
) -> User:
    """Mail a pending member a fresh invitation (a new link, valid from now)."""
    from core import login as login_service

    membership = _membership(tenant.id, membership_id)
    user = session.get(User, membership.user_id)
    assert user is not None  # a membership's user exists (foreign key)
    sender = session.get(User, inviter) if inviter is not None else None
    login_service.send_invitation(user, tenant, sender, host_url)
    return user


def set_roles(
    tenant_id: uuid.UUID, membership_id: uuid.UUID, names: Iterable[str], actor: Principal
) -> Membership:
    """Replace a member's roles (one cannot take the admin role away from oneself)."""
    membership = _membership(tenant_id, membership_id)
    wanted = sorted(set(names))
    if not wanted:
        raise ValidationError("give the user at least one role", field="roles")
    roles = list(session.scalars(select(Role).where(Role.name.in_(wanted))))
    unknown = set(wanted) - {r.name for r in roles}
    if unknown:
        raise ValidationError(f"unknown role(s): {', '.join(sorted(unknown))}", field="roles")
    if membership.user_id == actor.user_id and not granted(
        [p for r in roles for p in r.permissions], "core.users:manage"
    ):
        raise Conflict(
            "you cannot remove your own right to manage users",
            details={"roles": ["keep a role that manages users"]},
        )
    membership.roles = roles  # type: ignore[attr-defined]
    session.flush()
    return membership


def set_active(
    tenant_id: uuid.UUID, membership_id: uuid.UUID, active: bool, actor: Principal
) -> Membership:
    """Deactivate (or reactivate) a member; a deactivated member can no longer log in here."""
    membership = _membership(tenant_id, membership_id)
    if membership.user_id == actor.user_id and not active:
        raise Conflict("you cannot deactivate yourself")
    membership.active = active
    session.flush()
    if not active:
        from core.identity import LoginSession

        # Their open web logins in this company end now, not at the next cookie check.
        for row in session.scalars(
            select(LoginSession).where(
                LoginSession.user_id == membership.user_id, LoginSession.tenant_id == tenant_id
            )
        ):
            session.delete(row)
        session.flush()
    return membership


# --- roles ----------------------------------------------------------------------------------


@dataclass
class PermissionGroup:
    """The permissions of one addon (or the kernel), for the matrix."""

    addon: str
    title: str
    permissions: list[tuple[str, str]]


def permission_groups(tenant_id: uuid.UUID) -> list[PermissionGroup]:
    """Kernel permissions, then each enabled addon's, grouped."""
    from core.rbac import KERNEL_PERMISSIONS

    registry = current_registry()
    enabled = registry.enabled_addons(tenant_id)
    groups = [PermissionGroup("core", "Kernel", sorted(KERNEL_PERMISSIONS.items()))]
    for addon in registry.addons.values():
        if addon.name in enabled and addon.manifest.permissions:
            groups.append(
                PermissionGroup(
                    addon.name,
                    addon.manifest.summary or addon.name,
                    sorted(addon.manifest.permissions.items()),
                )
            )
    return groups


def roles() -> list[Role]:
    """The current tenant's roles: standard ones first, then by name."""
    return list(session.scalars(select(Role).order_by(Role.standard.desc(), Role.name)))


def role_grants(role: Role, permission: str) -> bool:
    """Whether `role` grants `permission` (directly or through a wildcard)."""
    return granted(role.permissions, permission)


def new_patterns(old: Sequence[str], visible: Iterable[str], checked: set[str]) -> list[str]:
    """A role's patterns after the matrix was saved.

    Patterns about permissions not on the page (disabled addons) stay; a wildcard stays
    while everything it covers on the page is still ticked (so it keeps covering the
    addon's future permissions); other ticks become explicit names.
    """
    visible = list(visible)
    keep: list[str] = []
    covered: set[str] = set()
    for p in old:
        hits = {v for v in visible if matches(p, v)}
        if not hits or hits <= checked:
            keep.append(p)
            covered |= hits
    return keep + sorted(checked - covered)


def save_matrix(tenant_id: uuid.UUID, ticks: set[tuple[str, str]]) -> list[str]:
    """Apply the matrix: `ticks` holds (role name, permission); returns the roles changed."""
    visible = [p for g in permission_groups(tenant_id) for p, _ in g.permissions]
    changed = []
    for role in roles():
        if "*" in role.permissions:
            continue  # the administrator role is all-powerful by definition
        checked = {p for r, p in ticks if r == role.name and p in visible}
        patterns = new_patterns(role.permissions, visible, checked)
        if sorted(patterns) != sorted(role.permissions):
            role.permissions = patterns
            changed.append(role.name)
    session.flush()
    return changed


def create_role(name: str, description: str) -> Role:
    """A new custom role with no permissions yet."""
    import re

    name = name.strip().lower()
    if not re.fullmatch(r"[a-z][a-z0-9_]{1,59}", name):
        raise ValidationError(
            "use 2-60 lower-case letters, digits or '_', starting with a letter", field="name"
        )
    if session.scalar(select(Role.id).where(Role.name == name)) is not None:
        raise Conflict(f"role {name!r} already exists", details={"name": ["already exists"]})
    role = Role(name=name, description=description.strip()[:255], permissions=[], standard=False)
    session.add(role)
    session.flush()
    return role


# --- audit ----------------------------------------------------------------------------------


@dataclass
class AuditPage:
    """One page of the filtered audit log."""

    entries: list[Any]
    emails: dict[uuid.UUID, str]
    total: int
    page: int
    pages: int
    tables: list[str]


def audit_page(filters: dict[str, str], page: int, per_page: int = 50) -> AuditPage:
    """The current tenant's audit entries, newest first, filtered by model, record, user,
    action and date (YYYY-MM-DD bounds)."""
    import datetime as dt
    import math

    from core.audit import AuditEntry

    where = []
    if filters.get("model"):
        where.append(AuditEntry.table_name == filters["model"])
    if filters.get("record"):
        where.append(AuditEntry.record_id == filters["record"].strip())
    if filters.get("action"):
        where.append(AuditEntry.action == filters["action"])
    if filters.get("user"):
        uid = session.scalar(select(User.id).where(User.email == filters["user"].strip().lower()))
        where.append(AuditEntry.user_id == uid if uid else AuditEntry.id.is_(None))
    for key, op in (("since", "ge"), ("until", "lt")):
        if filters.get(key):
            try:
                day = dt.datetime.fromisoformat(filters[key]).replace(tzinfo=dt.UTC)
            except ValueError:
                raise ValidationError("use a date like 2026-01-31", field=key) from None
            if op == "ge":
                where.append(AuditEntry.created_at >= day)
            else:
                where.append(AuditEntry.created_at < day + dt.timedelta(days=1))
    total = session.scalar(select(func.count()).select_from(AuditEntry).where(*where)) or 0
    pages = max(1, math.ceil(total / per_page))
    page = max(1, min(page, pages))
    entries = list(
        session.scalars(
            select(AuditEntry)
            .where(*where)
            .order_by(AuditEntry.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    ids = {e.user_id for e in entries if e.user_id}
    emails: dict[uuid.UUID, str] = {}
    if ids:
        emails = {
            uid: email
            for uid, email in session.execute(select(User.id, User.email).where(User.id.in_(ids)))
        }
    tables = list(
        session.scalars(select(AuditEntry.table_name).distinct().order_by(AuditEntry.table_name))
    )
    return AuditPage(entries, emails, total, page, pages, tables)
