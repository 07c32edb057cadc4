"""Fixtures for the contacts tests: a tenant in context and small factories."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from addons.contacts import services


@pytest.fixture()
def acme(make_tenant: Any, as_tenant: Any) -> Iterator[Any]:
    """A fresh tenant, in context for the whole test."""
    tenant = make_tenant()
    with as_tenant(tenant):
        yield tenant


@pytest.fixture()
def make_account(session: Any) -> Any:
    """Factory: `make_account("Acme", email=...)` creates an account in the tenant in context."""

    def factory(name: str = "Acme Corp", **fields: Any) -> Any:
        return services.create_account({"name": name, **fields})

    return factory
