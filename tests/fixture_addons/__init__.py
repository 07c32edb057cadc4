"""Small addons used only by the registry tests; apps load them with `only_addons=[...]`.

`stock` publishes a hookspec; `shop` depends on it, implements it and serves a route;
`reports` depends on `shop`. Every hookimpl here writes to `CALLS`, so tests can see
which tenant each call reached.
"""

from __future__ import annotations

from typing import Any

CALLS: list[tuple[str, str, dict[str, Any]]] = []
"""(addon, hook, arguments) of every call the fixture addons received, in order."""


def record(addon: str, hook: str, /, **kwargs: Any) -> None:
    """Note that `addon`'s implementation of `hook` was called with `kwargs`."""
    CALLS.append((addon, hook, kwargs))


def calls(hook: str, addon: str | None = None) -> list[dict[str, Any]]:
    """The arguments of each call of `hook` (received by `addon`, if given)."""
    return [kw for a, h, kw in CALLS if h == hook and (addon is None or a == addon)]
