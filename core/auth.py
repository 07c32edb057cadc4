"""Who is calling, and may they: the principal of a request and the permission guard."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from flask import has_app_context

from core.db import scope_state
from core.errors import DomainError, PermissionDenied
from core.permissions import granted

F = TypeVar("F", bound=Callable[..., Any])


class AuthenticationRequired(DomainError):
    """No valid credential came with the request."""

    code = "AUTHENTICATION_ERROR"
    status = 401


@dataclass(frozen=True)
class Principal:
    """The authenticated caller in one tenant: a user (web or JWT) or an API key."""

    user_id: uuid.UUID | None
    tenant_id: uuid.UUID
    patterns: frozenset[str] = field(default_factory=frozenset)
    kind: str = "user"  # "user" | "api_key"
    api_key_id: uuid.UUID | None = None
    email: str = ""
    roles: frozenset[str] = field(default_factory=frozenset)
    # Addons enabled for the tenant: a disabled addon's permissions vanish with it.
    enabled_addons: frozenset[str] | None = None
    # For API keys: the creator's own patterns still bound the key's scopes.
    ceiling: frozenset[str] | None = None

    def can(self, permission: str) -> bool:
        """True when this principal holds `permission` (and its addon is enabled)."""
        addon = permission.split(".", 1)[0]
        if self.enabled_addons is not None and addon != "core" and addon not in self.enabled_addons:
            return False
        if self.ceiling is not None and not granted(self.ceiling, permission):
            return False
        return granted(self.patterns, permission)


def current_principal() -> Principal | None:
    """The principal of the current request, command or job, if any."""
    if not has_app_context():
        return None
    return cast(Principal | None, scope_state().get("principal"))


def set_principal(principal: Principal | None) -> None:
    """Make `principal` the caller for the rest of this request (or app context)."""
    scope_state()["principal"] = principal


def can(principal: Principal | None, permission: str) -> bool:
    """True when `principal` may do `permission` (None may do nothing)."""
    return principal is not None and principal.can(permission)


def check(permission: str) -> Principal:
    """The current principal if it holds `permission`; else 401 or 403 as a domain error."""
    principal = current_principal()
    if principal is None:
        raise AuthenticationRequired("authentication required")
    if not principal.can(permission):
        raise PermissionDenied(
            f"permission {permission!r} required", details={"permission": [permission]}
        )
    return principal


def require_permission(permission: str) -> Callable[[F], F]:
    """Decorate a view: it needs `permission`; the URL-map test reads the mark it leaves."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            check(permission)
            return view(*args, **kwargs)

        wrapper.pergola_permission = permission  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
