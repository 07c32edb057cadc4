"""Fixtures for the inventory tests: a tenant in context with two warehouses and a product."""

from __future__ import annotations

import os
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from addons.inventory import services

# The kernel's fixtures live in tests/conftest.py, which pytest shows only to tests/; import
# them here (this package gets its own session app and database: a migrated, empty one).
from tests.conftest import (  # noqa: F401
    api_headers,
    app,
    app_ctx,
    as_tenant,
    client,
    committed,
    db,
    make_member,
    make_tenant,
    make_user,
    runner,
    session,
    tenant,
)


def _url(config: pytest.Config) -> str | None:
    return config.getoption("--db-url", None) or os.environ.get("PERGOLA_TEST_DATABASE_URL")


@pytest.fixture(scope="session")
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The run's database (as tests/conftest.py chooses it), also when only addons/ run."""
    from core.config import normalise_database_url

    url = _url(request.config)
    return normalise_database_url(url) if url else f"sqlite:///{tmp_path_factory.mktemp('db')}/t.db"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip `postgres` tests on SQLite when tests/conftest.py is not there to do it."""
    if (_url(config) or "").startswith("postgres"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set PERGOLA_TEST_DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords and "inventory" in str(item.path):
            item.add_marker(skip)


@pytest.fixture()
def inv(session: Any, make_tenant: Any,  # noqa: F811 - the imported fixtures, by name
        as_tenant: Any) -> Iterator[SimpleNamespace]:  # noqa: F811
    """A tenant in context with warehouses MAIN and EAST and a stocked product WIDGET-1."""
    owner = make_tenant()
    with as_tenant(owner):
        main = services.create_warehouse({"code": "MAIN", "name": "Main"})
        east = services.create_warehouse({"code": "EAST", "name": "East"})
        widget = services.create_product({"sku": "WIDGET-1", "name": "Widget",
                                           "standard_cost": "2.50", "sales_price": "4.00"})
        yield SimpleNamespace(tenant=owner, main=main, east=east, widget=widget)
