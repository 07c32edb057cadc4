"""Migrations on a fresh database: upgrade from empty, no drift from the models, downgrade to base.

Generic on purpose: the checks walk `Base.metadata` and `tenant_owned_tables()`, so every
addon's tables are covered as soon as its models are mapped and its migrations installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from sqlalchemy import inspect, text

from core import migrate
from core.db import Base, get_db
from core.tenancy import tenant_owned_tables
from tests.fixtures import app_on, fresh_database


def is_test_only(table: Any) -> bool:
    """Tables that the test suite creates itself; migrations do not know them."""
    return bool(table.info.get("test_only"))


def schema_tables() -> set[str]:
    """Names of the tables the migrations must create."""
    return {t.name for t in Base.metadata.sorted_tables if not is_test_only(t)}


@pytest.fixture()
def fresh_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    """A brand-new empty database next to the test database, dropped afterwards."""
    yield from fresh_database(db_url, tmp_path, "mig")


@pytest.fixture()
def fresh_app(fresh_url: str, tmp_path: Path) -> Iterator[Flask]:
    """An app on the fresh database, as `pergola db upgrade` would build it."""
    with app_on(fresh_url, tmp_path) as application:
        yield application


def table_names(app: Flask) -> set[str]:
    """The tables that exist in the app's database."""
    with get_db(app).engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def drift(app: Flask) -> list[Any]:
    """What autogenerate would change to make the database match the models."""

    def include_object(obj: Any, name: str | None, type_: str, reflected: bool, other: Any) -> bool:
        if type_ == "table":
            return not is_test_only(other if reflected and other is not None else obj)
        return True

    with get_db(app).engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "include_object": include_object,
                "include_name": migrate.include_name(conn),
            },
        )
        return list(compare_metadata(context, Base.metadata))


def test_upgrade_from_empty_has_no_drift_and_downgrades_to_base(fresh_app):
    assert table_names(fresh_app) == set()

    with fresh_app.app_context():
        migrate.upgrade(fresh_app)

    missing = schema_tables() - table_names(fresh_app)
    assert not missing, f"tables with no migration: {sorted(missing)}"
    assert drift(fresh_app) == []

    with fresh_app.app_context():
        migrate.downgrade(fresh_app, "base")

    assert table_names(fresh_app) <= {"alembic_version"}


def test_upgrade_is_idempotent(fresh_app):
    with fresh_app.app_context():
        migrate.upgrade(fresh_app)
        before = table_names(fresh_app)
        migrate.upgrade(fresh_app)
    assert table_names(fresh_app) == before
    assert drift(fresh_app) == []


@pytest.mark.postgres
def test_every_tenant_owned_table_has_forced_row_level_security(fresh_app):
    with fresh_app.app_context():
        migrate.upgrade(fresh_app)

    owned = {t.name for t in tenant_owned_tables() if not is_test_only(t)}
    with get_db(fresh_app).engine.connect() as conn:
        rls = {
            row.relname: (row.relrowsecurity, row.relforcerowsecurity)
            for row in conn.execute(
                text(
                    "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity "
                    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = current_schema() AND c.relkind = 'r'"
                )
            )
        }
        policies = set(
            conn.execute(
                text("SELECT tablename FROM pg_policies WHERE schemaname = current_schema()")
            ).scalars()
        )

    without = sorted(name for name in owned if rls.get(name) != (True, True))
    assert not without, f"tenant-owned tables without forced RLS: {without}"
    assert owned <= policies
    # Kernel tables that are not tenant-owned (users log in before a tenant is chosen)
    # must stay readable without a tenant setting.
    assert not rls["core_user"][0]
    assert not rls["core_tenant"][0]
