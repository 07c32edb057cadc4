"""Plugins that the registry must refuse, each for its own reason."""

from __future__ import annotations

import uuid

from core.hookspecs import hookimpl


class Typo:
    """A hookimpl whose name matches no hookspec (`addon_enable` for `addon_enabled`)."""

    @hookimpl
    def addon_enable(self, tenant_id: uuid.UUID, addon: str) -> None:
        """Never called."""


class ExtraArgument:
    """A hookimpl asking for an argument its hookspec does not pass."""

    @hookimpl
    def addon_enabled(self, tenant_id: uuid.UUID, addon: str, user: str) -> None:
        """Never called."""


class Fine:
    """A valid plugin, registered late to show the registry is frozen."""

    @hookimpl
    def addon_enabled(self, tenant_id: uuid.UUID, addon: str) -> None:
        """Never called."""
