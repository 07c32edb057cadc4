"""Permission names (`addon.resource:action`) and wildcard patterns (`*`, `sales.*`)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache


@lru_cache(maxsize=4096)
def matches(pattern: str, permission: str) -> bool:
    """True when `pattern` grants `permission`."""
    if pattern == "*" or pattern == permission:
        return True
    if pattern.endswith(":*"):
        return permission.startswith(pattern[:-1])
    if pattern.endswith(".*"):
        return permission.startswith(pattern[:-1])
    return False


def granted(patterns: Iterable[str], permission: str) -> bool:
    """True when any of `patterns` grants `permission`."""
    return any(matches(p, permission) for p in patterns)
