"""Route declarations: every endpoint is public or names the permission it needs."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable[..., object])


def public(view: F) -> F:
    """Mark a view as open to anyone, logged in or not (a test checks every route is marked)."""
    view.pergola_public = True  # type: ignore[attr-defined]
    return view


def login_required(view: F) -> F:
    """Mark a view as open to any logged-in user of the tenant (no specific permission)."""
    import functools

    from core.auth import AuthenticationRequired, current_principal

    @functools.wraps(view)
    def wrapper(*args: object, **kwargs: object) -> object:
        if current_principal() is None:
            raise AuthenticationRequired("authentication required")
        return view(*args, **kwargs)

    wrapper.pergola_permission = "authenticated"  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]
