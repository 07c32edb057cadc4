"""Fixtures for the purchase tests: a tenant in context with vendors, products, a warehouse."""

from __future__ import annotations

import os
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

# The kernel's fixtures live in tests/conftest.py, which pytest shows only to tests/.
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
        if "postgres" in item.keywords and "purchase" in str(item.path):
            item.add_marker(skip)


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
    w.widget = inventory.create_product({"sku": "WIDGET", "name": "Widget",
                                         "standard_cost": "2.50", "tax_rate": "21"})
    w.gadget = inventory.create_product({"sku": "GADGET", "name": "Gadget",
                                         "standard_cost": "10", "tax_rate": "21"})
    w.service = inventory.create_product({"sku": "INSTALL", "name": "Installation",
                                          "type": "service", "track_inventory": False})
    w.old = inventory.create_product({"sku": "OLD", "name": "Old thing",
                                      "status": "discontinued"})
    return w


@pytest.fixture()
def world(session: Any, make_tenant: Any, as_tenant: Any) -> Iterator[SimpleNamespace]:  # noqa: F811
    """A fresh tenant in context with vendors, products and a warehouse."""
    tenant = make_tenant()
    with as_tenant(tenant):
        w = build_world()
        w.tenant = tenant
        yield w
