"""pytest fixtures for addon authors: `-p core.testing` gives an addon's tests a Pergola app.

The app runs on a temporary SQLite database built by the real migrations (the kernel's and
every installed addon's); each test's writes are rolled back. Override the session fixture
`pergola_config` to pass settings to `create_app` (e.g. `extra_addons` for an addon that is
not pip-installed yet). `pergola addon new` scaffolds tests that use these fixtures.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from core import create_app, migrate, services
from core.db import Database, get_db
from core.models import Tenant
from core.tenancy import system_context

_seq = itertools.count(1)


@pytest.fixture(scope="session")
def pergola_config() -> dict[str, Any]:
    """Extra settings for the test app; override it in your conftest."""
    return {}


@pytest.fixture(scope="session")
def pergola_app(
    pergola_config: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    """A Pergola app with every installed addon, its schema migrated from empty."""
    folder = tmp_path_factory.mktemp("pergola")
    config: dict[str, Any] = {
        "database_url": f"sqlite:///{folder / 'test.db'}",
        "instance_path": str(folder / "instance"),
        "secret_key": "addon-tests-secret-key-of-32-bytes-or-more",
        "testing": True,
        "csrf": False,
        "default_addons": "none",
        **pergola_config,
    }
    app = create_app(config)
    with app.app_context():
        migrate.upgrade(app)
    yield app
    get_db(app).dispose()


@pytest.fixture()
def pergola_db(pergola_app: Flask) -> Iterator[Database]:
    """The app's database, every session bound to one connection rolled back afterwards."""
    database = get_db(pergola_app)
    conn = database.engine.connect()
    trans = conn.begin()
    database.bind_to(conn)
    try:
        with pergola_app.app_context():
            yield database
    finally:
        database.bind_to(database.engine)
        trans.rollback()
        conn.close()


@pytest.fixture()
def make_tenant(pergola_db: Database) -> Callable[..., Tenant]:
    """Factory: `make_tenant("notes")` is a new tenant with those addons enabled."""

    def factory(*addons: str, slug: str | None = None) -> Tenant:
        slug = slug or f"tenant-{next(_seq)}"
        with system_context():
            return services.create_tenant(slug, slug.title(), addons=list(addons))

    return factory


@pytest.fixture()
def client(pergola_app: Flask, pergola_db: Database) -> FlaskClient:
    """A test client on the rolled-back database."""
    return pergola_app.test_client()


@pytest.fixture()
def bearer(pergola_db: Database) -> Callable[..., dict[str, str]]:
    """Factory: `bearer(tenant, "notes.notes:read")` are headers of an API key with those scopes."""
    from core.login import create_api_key

    def factory(tenant: Tenant, *scopes: str) -> dict[str, str]:
        with system_context():
            _key, secret = create_api_key(tenant, f"test key {next(_seq)}", list(scopes))
        return {"Authorization": f"Bearer {secret}"}

    return factory
