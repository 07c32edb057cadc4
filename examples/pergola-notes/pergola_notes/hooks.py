"""The `notes` addon's hook implementations (see Pergola's docs/hooks.md)."""

from __future__ import annotations

import uuid
from typing import Any

import click
from cli.util import domain_errors
from core.hookspecs import hookimpl
from core.registry import current_registry
from core.tenancy import tenant_context
from flask import Blueprint
from flask.cli import with_appcontext

from pergola_notes import services


@hookimpl
def register_blueprints() -> list[Blueprint]:
    """Serve the addon's pages; tenants that have not enabled it get 404."""
    from pergola_notes.views import bp

    return [bp]


@hookimpl
def register_api_resources() -> list[Any]:
    """Serve the JSON API under /api/v1/notes (and in the tenant's OpenAPI document)."""
    from pergola_notes.api import notes

    return [notes]


@hookimpl
def register_commands(cli: Any) -> None:
    """`pergola notes count --tenant SLUG`."""

    @cli.group("notes")
    def group() -> None:
        """Notes commands."""

    @group.command("count")
    @click.option("--tenant", "slug", required=True, help="The tenant to count for.")
    @with_appcontext
    @domain_errors
    def count(slug: str) -> None:
        """Print how many notes the tenant has."""
        tenant_id = current_registry().require_enabled("notes", slug)
        with tenant_context(tenant_id):
            click.echo(services.count_notes())


@hookimpl
def addon_enabled(tenant_id: uuid.UUID, addon: str) -> None:
    """Seed a welcome note the first time the addon is enabled (idempotent)."""
    if addon == "notes":
        services.ensure_note(services.WELCOME, "Delete me when you like.")


@hookimpl
def load_demo_data(tenant_id: uuid.UUID) -> None:
    """Add demo notes for `pergola demo` (idempotent)."""
    for title in services.DEMO_TITLES:
        services.ensure_note(title)
