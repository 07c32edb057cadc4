"""Route declarations: every endpoint is public or names the permission it needs."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable[..., object])


def public(view: F) -> F:
    """Mark a view as open to anyone, logged in or not (a test checks every route is marked)."""
    view.pergola_public = True  # type: ignore[attr-defined]
    return view
