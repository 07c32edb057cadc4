"""Fixtures for the contacts tests: a tenant in context and small factories."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from addons.contacts import services

# The kernel's fixtures live in tests/conftest.py, which pytest shows only to tests/; import
# them here (this package gets its own session app on a freshly migrated database).
from tests.conftest import (  # noqa: F401
    _fresh_rate_limits,
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


@pytest.fixture(scope="session")
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The run's database (as tests/conftest.py chooses it), also when only addons/ run."""
    from core.config import normalise_database_url

    url = request.config.getoption("--db-url", None) or os.environ.get(
        "PERGOLA_TEST_DATABASE_URL")
    return normalise_database_url(url) if url else f"sqlite:///{tmp_path_factory.mktemp('db')}/t.db"


@pytest.fixture()
def acme(make_tenant: Any, as_tenant: Any) -> Iterator[Any]:  # noqa: F811
    """A fresh tenant, in context for the whole test."""
    tenant = make_tenant()
    with as_tenant(tenant):
        yield tenant


@pytest.fixture()
def make_account(session: Any) -> Any:  # noqa: F811
    """Factory: `make_account("Acme", email=...)` creates an account in the tenant in context."""

    def factory(name: str = "Acme Corp", **fields: Any) -> Any:
        return services.create_account({"name": name, **fields})

    return factory
