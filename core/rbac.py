"""Roles and permissions: the standard roles, grants declared by addons, record rules."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.sql.elements import ColumnElement

from core.db import session
from core.errors import NotFound, ValidationError
from core.hookspecs import hookimpl
from core.identity import Role
from core.models import Membership
from core.permissions import matches

KERNEL_PERMISSIONS: dict[str, str] = {
    "core.users:manage": "Invite, edit and deactivate users and give them roles",
    "core.roles:manage": "Create roles and edit their permissions",
    "core.addons:manage": "Enable and disable addons for the tenant",
    "core.apikeys:manage": "Create and revoke API keys",
    "core.audit:read": "Read the audit log",
    "core.webhooks:manage": "Register webhook endpoints and see their deliveries",
    "core.events:manage": "See failed events and retry them",
    "core.notifications:read": "See one's own notifications",
}

STANDARD_ROLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "admin": ("Administrator: every permission in this tenant", ("*",)),
    "manager": (
        "Manager: runs the business and reads the audit log",
        ("core.audit:read", "core.notifications:read"),
    ),
    "sales": ("Sales: customers, quotes and orders", ("core.notifications:read",)),
    "purchasing": ("Purchasing: suppliers and purchase orders", ("core.notifications:read",)),
    "storekeeper": (
        "Storekeeper: products and stock in assigned warehouses",
        ("core.notifications:read",),
    ),
    "accountant": ("Accountant: invoices and payments", ("core.notifications:read",)),
    "hr_officer": ("HR officer: employees and leave", ("core.notifications:read",)),
    "support_agent": ("Support agent: tickets", ("core.notifications:read",)),
    "employee": ("Employee: self-service", ("core.notifications:read",)),
    "read_only": (
        "Read-only: sees everything it may read, changes nothing",
        ("core.notifications:read",),
    ),
}


def seed_standard_roles(tenant_id: uuid.UUID) -> None:
    """Create the standard roles of a tenant that lacks them (idempotent)."""
    existing = set(session.scalars(select(Role.name).where(Role.tenant_id == tenant_id)))
    for name, (description, patterns) in STANDARD_ROLES.items():
        if name not in existing:
            session.add(
                Role(
                    tenant_id=tenant_id,
                    name=name,
                    description=description,
                    permissions=list(patterns),
                    standard=True,
                )
            )
    session.flush()


def grant_addon_defaults(
    tenant_id: uuid.UUID, grants: dict[str, tuple[str, ...]], permissions: Iterable[str]
) -> None:
    """Extend the tenant's standard roles with an addon's default grants (idempotent).

    `read_only` also gets every `:read` permission the addon declares.
    """
    wanted = {role: list(patterns) for role, patterns in grants.items()}
    wanted.setdefault("read_only", []).extend(p for p in permissions if p.endswith(":read"))
    roles = {
        r.name: r
        for r in session.scalars(
            select(Role).where(Role.tenant_id == tenant_id, Role.standard.is_(True))
        )
    }
    for name, patterns in wanted.items():
        role = roles.get(name)
        if role is None:
            continue
        missing = [p for p in patterns if p not in role.permissions]
        if missing:
            role.permissions = [*role.permissions, *missing]
    session.flush()


class KernelRbacPlugin:
    """The kernel's own hook implementations for roles."""

    @hookimpl
    def addon_enabled(self, tenant_id: uuid.UUID, addon: str) -> None:
        """Give the standard roles the enabled addon's default grants."""
        from core.registry import current_registry

        manifest = current_registry().addons[addon].manifest
        grant_addon_defaults(tenant_id, dict(manifest.default_grants), manifest.permissions)


def get_role(name: str) -> Role:
    """The current tenant's role `name`, or NotFound naming it."""
    role = session.scalar(select(Role).where(Role.name == name))
    if role is None:
        raise NotFound(f"unknown role {name!r}", details={"roles": [f"no role {name!r}"]})
    return role


def assign_roles(membership: Membership, names: Iterable[str]) -> None:
    """Give `membership` the current tenant's roles `names` (added to what it has)."""
    for name in names:
        role = get_role(name)
        if role not in membership.roles:  # type: ignore[attr-defined]
            membership.roles.append(role)  # type: ignore[attr-defined]
    session.flush()


def validate_patterns(patterns: Iterable[str], known: Iterable[str]) -> list[str]:
    """Check that each pattern is `*`, a known permission, or a wildcard over known ones."""
    known = set(known)
    result = []
    for p in (x.strip() for x in patterns):
        if not p:
            continue
        if p != "*" and not any(matches(p, k) for k in known):
            raise ValidationError(
                f"unknown permission or pattern {p!r}",
                field="scopes",
                details={"scopes": [f"{p!r} grants no known permission"]},
            )
        result.append(p)
    return result


# --- record rules ------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordRule:
    """Narrows what holders of `roles` see of `model`: Odoo-style, e.g. "sales: own orders".

    A principal is restricted on a model only when every one of its roles has a rule there;
    it then sees the union of those rules' rows. A role without a rule (admin) sees all.
    """

    name: str
    model: type
    roles: frozenset[str]
    domain: Callable[[Any, Any], ColumnElement[bool]]  # (model class, principal) -> criterion


def criteria_for(rules: Iterable[RecordRule], model: type, principal: Any) -> Any | None:
    """The criterion restricting `principal` on `model`, or None when unrestricted."""
    relevant = [r for r in rules if r.model is model]
    if not relevant or not principal.roles:
        return None
    by_role: dict[str, list[RecordRule]] = {}
    for r in relevant:
        for role in r.roles:
            by_role.setdefault(role, []).append(r)
    if any(role not in by_role for role in principal.roles):
        return None
    from sqlalchemy import or_

    chosen = {r.name: r for role in principal.roles for r in by_role[role]}
    return or_(*(r.domain(model, principal) for r in chosen.values()))


def install_record_rules(app: Any, pm: Any) -> None:
    """Collect every addon's record rules and add them to the tenant query path."""
    from core.tenancy import add_criteria_provider

    rules = [r for batch in pm.hook.register_record_rules() for r in (batch or [])]
    app.extensions["pergola.record_rules"] = rules
    add_criteria_provider(_record_rule_criteria)


def _record_rule_criteria() -> list[Any]:
    """Loader criteria for the current principal's record rules (none outside requests)."""
    from flask import current_app, has_app_context
    from sqlalchemy.orm import with_loader_criteria

    from core.auth import current_principal

    if not has_app_context():
        return []
    principal = current_principal()
    rules = current_app.extensions.get("pergola.record_rules") or []
    if principal is None or not rules:
        return []
    options = []
    for model in {r.model for r in rules}:
        criterion = criteria_for(rules, model, principal)
        if criterion is not None:
            options.append(with_loader_criteria(model, criterion, include_aliases=True))
    return options
