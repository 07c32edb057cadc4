"""The addon manifest: what an addon is, as pure data (importing it registers nothing)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
PERMISSION_RE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class MenuItem:
    """An entry in the app menu; shown only when its addon is enabled and the user may."""

    label: str
    endpoint: str
    permission: str | None = None
    order: int = 100


@dataclass(frozen=True)
class Manifest:
    """An addon's declaration.

    `plugins` and `hookspecs` are dotted module (or `module:attr`) paths, imported by the
    registry when it loads the addon, so that importing a manifest has no side effects.
    `permissions` maps `addon.resource:action` to a description; `default_grants` maps a
    standard role name to the permission patterns it gets when the addon is enabled.
    """

    name: str
    version: str
    summary: str = ""
    depends: tuple[str, ...] = ()
    application: bool = False
    permissions: Mapping[str, str] = field(default_factory=dict)
    default_grants: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    menus: tuple[MenuItem, ...] = ()
    plugins: tuple[str, ...] = ()
    hookspecs: tuple[str, ...] = ()
    package: str = ""

    def __post_init__(self) -> None:
        # Freeze the mappings too: a manifest is shared by every app and tenant.
        object.__setattr__(self, "permissions", MappingProxyType(dict(self.permissions)))
        object.__setattr__(
            self,
            "default_grants",
            MappingProxyType({k: tuple(v) for k, v in self.default_grants.items()}),
        )
        object.__setattr__(self, "depends", tuple(self.depends))
        object.__setattr__(self, "plugins", tuple(self.plugins))
        object.__setattr__(self, "hookspecs", tuple(self.hookspecs))
        object.__setattr__(self, "menus", tuple(self.menus))
