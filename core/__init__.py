"""Pergola's kernel: app factory, data layer, tenancy, registry, identity and toolkits."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

__version__ = "0.1.0"


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build a Pergola app; `config` overrides settings read from the environment."""
    from core.app import build_app

    return build_app(config)


__all__ = ["create_app"]
