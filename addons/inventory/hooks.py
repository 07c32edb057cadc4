"""inventory's implementations of the kernel's hooks: routes, commands, record rules, demo."""

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
def load_demo_data(tenant_id: uuid.UUID) -> None:
    """200 products in two warehouses, with receipts, issues and a transfer (idempotent)."""
    from addons.inventory.demo import load

    load()
