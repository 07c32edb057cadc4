"""Fixtures for the purchase tests: a tenant in context with vendors, products, a warehouse."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest


def build_world() -> SimpleNamespace:
    """In the tenant in context: two vendors, a customer, a warehouse and four products."""
    from addons.contacts import services as contacts
    from addons.inventory import services as inventory

    def account(name: str, kinds: list[str], **extra: Any) -> Any:
        return contacts.create_account({"name": name, "kinds": kinds, **extra})

    w = SimpleNamespace()
    w.vendor = account("Acme Supplies", ["vendor"], email="orders@acme.example")
    w.vendor2 = account("Beta Parts", ["vendor", "customer"])
    w.customer = account("Carol's Shop", ["customer"])
    w.main = inventory.create_warehouse({"code": "MAIN", "name": "Main"})
    w.widget = inventory.create_product(
        {"sku": "WIDGET", "name": "Widget", "standard_cost": "2.50", "tax_rate": "21"}
    )
    w.gadget = inventory.create_product(
        {"sku": "GADGET", "name": "Gadget", "standard_cost": "10", "tax_rate": "21"}
    )
    w.service = inventory.create_product(
        {"sku": "INSTALL", "name": "Installation", "type": "service", "track_inventory": False}
    )
    w.old = inventory.create_product({"sku": "OLD", "name": "Old thing", "status": "discontinued"})
    return w


@pytest.fixture()
def world(session: Any, make_tenant: Any, as_tenant: Any) -> Iterator[SimpleNamespace]:
    """A fresh tenant in context with vendors, products and a warehouse."""
    tenant = make_tenant()
    with as_tenant(tenant):
        w = build_world()
        w.tenant = tenant
        yield w


@pytest.fixture()
def buyer(client: Any, world: SimpleNamespace, make_member: Any, web_login: Any) -> Any:
    """A logged-in member of the world's tenant with the purchasing and storekeeper roles."""
    user = make_member(world.tenant, roles=["purchasing", "storekeeper"])
    return web_login(client, world.tenant, user)
