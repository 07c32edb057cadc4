"""Fixtures for apps built with only the fixture addons (imported by tests/fixtures.py).

The apps share the test database (its schema comes from the session `app` fixture) and
roll back every test's writes. Until login lands in these tests, a request names its
tenant in the `X-Test-Tenant` header and gets every permission: a test-only stand-in,
installed first so the kernel's addon guard sees the tenant.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, g, request

from core import create_app, services
from core.auth import Principal, set_principal
from core.db import Database, get_db
from core.hookspecs import hookimpl
from core.tenancy import reset_tenant, set_tenant, system_context
from tests.fixture_addons import CALLS, record
from tests.fixture_addons.reports.manifest import manifest as reports
from tests.fixture_addons.shop.manifest import manifest as shop
from tests.fixture_addons.stock.manifest import manifest as stock

FIXTURE_MANIFESTS = (stock, shop, reports)
TENANT_HEADER = "X-Test-Tenant"


class KernelRecorder:
    """A kernel plugin: the kernel's implementations are called whatever a tenant enabled."""

    @hookimpl
    def stock_moved(self, tenant_id: uuid.UUID, sku: str, quantity: Any) -> str:
        """Record the call and answer."""
        record("kernel", "stock_moved", tenant_id=tenant_id, sku=sku)
        return "kernel saw it"


def _tenant_from_header() -> None:
    raw = request.headers.get(TENANT_HEADER)
    if raw:
        tenant_id = uuid.UUID(raw)
        g._test_tenant_token = set_tenant(tenant_id)
        set_principal(Principal(user_id=None, tenant_id=tenant_id, patterns=frozenset({"*"})))


def _leave_header_tenant(_exc: BaseException | None) -> None:
    token = g.pop("_test_tenant_token", None)
    if token is not None:
        reset_tenant(token)


def build_fixture_app(db_url: str, instance: Path, **extra: Any) -> Flask:
    """An app whose only addons are the fixture addons, on the test database."""
    config: dict[str, Any] = {
        "database_url": db_url,
        "testing": True,
        "instance_path": str(instance),
        "secret_key": "test-secret",
        "only_addons": list(FIXTURE_MANIFESTS),
        "default_addons": "none",
        "kernel_plugins": [KernelRecorder()],
        "csrf": False,
    }
    config.update(extra)
    application = create_app(config)
    application.before_request_funcs.setdefault(None, []).insert(0, _tenant_from_header)
    application.teardown_request(_leave_header_tenant)
    return application


@pytest.fixture(scope="session")
def fx_app(app: Flask, db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The fixture-addon app (depends on `app`, which built the schema)."""
    application = build_fixture_app(db_url, tmp_path_factory.mktemp("fx-instance"))
    yield application
    get_db(application).dispose()


@pytest.fixture()
def fx(fx_app: Flask) -> Iterator[Flask]:
    """`fx_app` in an app context, its writes rolled back afterwards, `CALLS` emptied."""
    database: Database = get_db(fx_app)
    conn = database.engine.connect()
    trans = conn.begin()
    database.bind_to(conn)
    CALLS.clear()
    try:
        with fx_app.app_context():
            yield fx_app
    finally:
        database.bind_to(database.engine)
        trans.rollback()
        conn.close()


@pytest.fixture()
def fx_tenant(fx: Flask) -> Any:
    """Factory: `fx_tenant("acme", "shop")` creates tenant acme with those addons enabled."""

    def factory(slug: str, *addons: str) -> Any:
        with system_context():
            return services.create_tenant(slug, slug.title(), addons=list(addons))

    return factory


@pytest.fixture()
def fx_client(fx: Flask) -> Any:
    """A test client whose `get(path, tenant=t)` calls as tenant `t`."""

    class Client:
        def __init__(self) -> None:
            self._client = fx.test_client()

        def get(self, path: str, tenant: Any = None) -> Any:
            headers = {TENANT_HEADER: str(tenant.id)} if tenant is not None else {}
            return self._client.get(path, headers=headers)

    return Client()


@pytest.fixture()
def fx_runner(fx: Flask) -> Any:
    """Runs `pergola` commands against the fixture-addon app."""
    from cli.main import cli

    class Runner:
        def invoke(self, args: list[str], input: str | None = None) -> Any:
            return fx.test_cli_runner().invoke(cli, args, input=input)

    return Runner()
