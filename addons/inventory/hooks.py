"""inventory's implementations of the kernel's hooks: routes, commands, record rules,
dashboard widgets, demo."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint
from sqlalchemy import select

from core.hookspecs import hookimpl
from core.rbac import RecordRule


@hookimpl
def register_blueprints() -> list[Blueprint]:
    """The JSON API and the web pages."""
    from addons.inventory.api import api
    from addons.inventory.views import web

    return [api, web]


@hookimpl
def register_api_resources() -> list[Any]:
    """Products and warehouses on the kernel's API toolkit."""
    from addons.inventory.api import products, warehouses

    return [products, warehouses]


@hookimpl
def register_commands(cli: Any) -> None:
    """`pergola inventory import|export`."""
    from addons.inventory.cli import inventory_cli

    cli.add_command(inventory_cli)


def _assigned(model: Any, principal: Any, column: str) -> Any:
    from addons.inventory.models import WarehouseUser

    return getattr(model, column).in_(
        select(WarehouseUser.warehouse_id).where(WarehouseUser.user_id == principal.user_id)
    )


@hookimpl
def register_record_rules() -> list[RecordRule]:
    """Storekeepers see only the warehouses they are assigned to, and only their stock."""
    from addons.inventory.models import StockLevel, StockMovement, Warehouse

    keepers = frozenset({"storekeeper"})
    return [
        RecordRule(
            "storekeeper: own warehouses only",
            Warehouse,
            keepers,
            lambda m, p: _assigned(m, p, "id"),
        ),
        RecordRule(
            "storekeeper: stock of own warehouses only",
            StockLevel,
            keepers,
            lambda m, p: _assigned(m, p, "warehouse_id"),
        ),
        RecordRule(
            "storekeeper: movements of own warehouses only",
            StockMovement,
            keepers,
            lambda m, p: _assigned(m, p, "warehouse_id"),
        ),
    ]


@hookimpl
def dashboard_widgets(principal: Any) -> list[Any] | None:
    """Stock value by warehouse (a chart) and what is below its reorder point, for those
    who may see inventory's reports."""
    if not principal.can("inventory.reports:read"):
        return None
    from flask import render_template, url_for

    from addons.inventory import services
    from addons.inventory.views import valuation_chart
    from core.web.widgets import Widget

    rows = services.valuation("warehouse")
    link = f'<a class="small" href="{url_for("inventory_web.valuation")}">Valuation</a>'
    if rows:
        chart: Widget = valuation_chart(rows, "warehouse", width=6, order=20, html=link)
    else:
        # An empty chart is only axes: say so instead.
        chart = Widget(
            "Stock value by warehouse",
            width=6,
            order=20,
            html=f'<p class="text-body-secondary">No stock valued yet.</p>{link}',
        )
    low = services.low_stock()
    below = Widget(
        "Below reorder point",
        width=6,
        order=21,
        html=render_template("inventory/_low_stock_widget.html", rows=low[:8], more=len(low) - 8),
    )
    return [chart, below]


@hookimpl
def load_demo_data(tenant_id: uuid.UUID) -> None:
    """200 products in two warehouses, with receipts, issues and a transfer (idempotent)."""
    from addons.inventory.demo import load

    load()
