"""contacts' implementations of the kernel's hooks: routes, commands, demo data."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint

from core.hookspecs import hookimpl


@hookimpl
def register_blueprints() -> list[Blueprint]:
    """The contacts API routes that are not toolkit CRUD, and the web pages."""
    from addons.contacts.api import bp as api_bp
    from addons.contacts.views import bp as web_bp

    return [api_bp, web_bp]


@hookimpl
def register_api_resources() -> list[Any]:
    """The accounts and people resources of the kernel's API toolkit."""
    from addons.contacts.api import accounts, people

    return [accounts, people]


@hookimpl
def register_commands(cli: Any) -> None:
    """`pergola contacts import|export`."""
    from addons.contacts.commands import contacts

    cli.add_command(contacts)


@hookimpl
def load_demo_data(tenant_id: uuid.UUID) -> None:
    """Fifty accounts with people and addresses (idempotent)."""
    from addons.contacts.demo import load_demo

    load_demo()
