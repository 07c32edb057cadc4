"""The `shop` fixture addon's hookimpls."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import click
from flask.cli import with_appcontext
from sqlalchemy import func, select

from cli.util import domain_errors
from core.db import session
from core.hookspecs import hookimpl
from core.registry import current_registry
from core.tenancy import tenant_context
from tests.fixture_addons import record
from tests.kernel_models import Project

DEFAULTS = "Shop defaults"
DEMO = "Demo shop"


def _ensure_project(name: str) -> None:
    """Create the project `name` unless the tenant has it: safe to call again."""
    if not session.scalar(select(func.count()).select_from(Project).where(Project.name == name)):
        session.add(Project(name=name))
        session.flush()


@hookimpl
def register_blueprints() -> list[Any]:
    """The shop's routes."""
    from tests.fixture_addons.shop.views import bp

    record("shop", "register_blueprints")
    return [bp]


@hookimpl
def register_commands(cli: Any) -> None:
    """`pergola shop-projects --tenant SLUG`: refuses for a tenant without the shop."""

    @cli.command("shop-projects")
    @click.option("--tenant", "slug", required=True)
    @with_appcontext
    @domain_errors
    def shop_projects(slug: str) -> None:
        """List the tenant's projects."""
        tenant_id = current_registry().require_enabled("shop", slug)
        with tenant_context(tenant_id):
            for name in session.scalars(select(Project.name).order_by(Project.name)):
                click.echo(name)

    record("shop", "register_commands")


@hookimpl
def addon_enabled(tenant_id: uuid.UUID, addon: str) -> None:
    """Seed the shop's default project once, however often the shop is re-enabled."""
    record("shop", "addon_enabled", tenant_id=tenant_id, addon=addon)
    if addon == "shop":
        _ensure_project(DEFAULTS)


@hookimpl
def addon_disabled(tenant_id: uuid.UUID, addon: str) -> None:
    """Record the call; the shop's data stays."""
    record("shop", "addon_disabled", tenant_id=tenant_id, addon=addon)


@hookimpl
def stock_moved(tenant_id: uuid.UUID, sku: str, quantity: Decimal) -> str:
    """Answer with a note naming the tenant."""
    record("shop", "stock_moved", tenant_id=tenant_id, sku=sku, quantity=quantity)
    return f"shop saw {quantity} x {sku}"


@hookimpl
def load_demo_data(tenant_id: uuid.UUID) -> None:
    """Add the demo project once."""
    record("shop", "load_demo_data", tenant_id=tenant_id)
    _ensure_project(DEMO)
