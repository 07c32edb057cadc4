"""Fixtures for the inventory tests: a tenant in context with two warehouses and a product."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from addons.inventory import services


@pytest.fixture()
def inv(session: Any, make_tenant: Any, as_tenant: Any) -> Iterator[SimpleNamespace]:
    """A tenant in context with warehouses MAIN and EAST and a stocked product WIDGET-1."""
    owner = make_tenant()
    with as_tenant(owner):
        main = services.create_warehouse({"code": "MAIN", "name": "Main"})
        east = services.create_warehouse({"code": "EAST", "name": "East"})
        widget = services.create_product(
            {"sku": "WIDGET-1", "name": "Widget", "standard_cost": "2.50", "sales_price": "4.00"}
        )
        yield SimpleNamespace(tenant=owner, main=main, east=east, widget=widget)
