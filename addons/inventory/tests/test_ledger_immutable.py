"""The stock ledger is append-only in the database itself: raw SQL cannot change or delete a
movement either, on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import Uuid, bindparam, inspect, select, text
from sqlalchemy.exc import DBAPIError

from addons.inventory import services
from addons.inventory.models import StockMovement
from core import migrate
from core.auth import Principal, set_principal
from core.db import get_db, session
from core.models import Membership, Tenant, User
from core.tenancy import system_context
from tests.fixtures import app_on, count_rows, fresh_database

TRIGGER_REV = "48afae1b5be5"
BEFORE_TRIGGERS = "30998e6e6634"


def refused(sql: str, **params: object) -> str:
    """Run `sql` in a savepoint; it must be refused by the database. Returns the message."""
    stmt = text(sql)
    for name, value in params.items():
        if isinstance(value, uuid.UUID):  # stored as each database stores a Uuid column
            stmt = stmt.bindparams(bindparam(name, type_=Uuid()))
    with pytest.raises(DBAPIError) as err, session.begin_nested():
        session.execute(stmt, params)
    return str(err.value.orig)


def stored(movement_id) -> StockMovement:
    """The movement as the database has it now."""
    return session.scalars(
        select(StockMovement)
        .where(StockMovement.id == movement_id)
        .execution_options(populate_existing=True)
    ).one()


@pytest.fixture()
def movement(inv) -> StockMovement:
    """A receipt of 10 at 3.00 into MAIN, flushed."""
    m = services.receive(inv.widget, inv.main, 10, unit_cost="3")
    session.flush()
    return m


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE inventory_stock_movement SET quantity = 999 WHERE id = :id",
        "UPDATE inventory_stock_movement SET unit_cost = 0 WHERE id = :id",
        "UPDATE inventory_stock_movement SET reason = 'edited' WHERE id = :id",
        # Nulling the user is let through only on its own (for ON DELETE SET NULL).
        "UPDATE inventory_stock_movement SET user_id = NULL, quantity = 1 WHERE id = :id",
    ],
)
def test_a_raw_update_of_a_movement_is_refused_by_the_database(movement, sql):
    message = refused(sql, id=movement.id)

    assert "inventory_stock_movement is append-only" in message and "UPDATE" in message
    m = stored(movement.id)
    assert (m.quantity, m.unit_cost, m.reason) == (Decimal(10), Decimal(3), "")


def test_a_raw_replace_of_a_movement_is_refused_by_the_database(movement):
    # SQLite's REPLACE deletes the old row without firing DELETE triggers; PostgreSQL's
    # upsert fires the UPDATE trigger.
    if session.get_bind().dialect.name == "sqlite":
        sql = (
            "INSERT OR REPLACE INTO inventory_stock_movement SELECT * FROM "
            "inventory_stock_movement WHERE id = :id"
        )
    else:
        sql = (
            "INSERT INTO inventory_stock_movement SELECT * FROM inventory_stock_movement "
            "WHERE id = :id ON CONFLICT (id) DO UPDATE SET quantity = 999"
        )
    message = refused(sql, id=movement.id)

    assert "inventory_stock_movement is append-only" in message
    assert stored(movement.id).quantity == Decimal(10)


def test_a_raw_delete_of_a_movement_is_refused_by_the_database(movement):
    before = count_rows("inventory_stock_movement")

    message = refused("DELETE FROM inventory_stock_movement WHERE id = :id", id=movement.id)

    assert "inventory_stock_movement is append-only" in message and "DELETE" in message
    assert count_rows("inventory_stock_movement") == before


def test_system_context_does_not_unlock_the_ledger(movement):
    # RLS is bypassed in system context; the triggers are not.
    with system_context():
        refused("UPDATE inventory_stock_movement SET quantity = 0 WHERE id = :id", id=movement.id)
        refused("DELETE FROM inventory_stock_movement WHERE id = :id", id=movement.id)


@pytest.mark.postgres
def test_truncate_of_the_ledger_is_refused_on_postgresql(movement):
    with system_context():
        message = refused("TRUNCATE inventory_stock_movement CASCADE")
    assert "TRUNCATE is not allowed" in message


def test_deleting_the_user_who_moved_stock_only_clears_the_movement_s_user(
    inv, make_user, as_tenant
):
    clerk = make_user(inv.tenant)
    set_principal(Principal(user_id=clerk.id, tenant_id=inv.tenant.id))
    try:
        m = services.receive(inv.widget, inv.main, 4, unit_cost="2")
        session.flush()
    finally:
        set_principal(None)
    assert m.user_id == clerk.id
    with system_context():
        memberships = Membership.__table__
        session.execute(memberships.delete().where(memberships.c.user_id == clerk.id))
        session.execute(User.__table__.delete().where(User.__table__.c.id == clerk.id))
    with as_tenant(inv.tenant):
        kept = stored(m.id)
    assert (kept.user_id, kept.quantity) == (None, Decimal(4))


def test_a_tenant_being_purged_may_have_its_ledger_deleted(movement, inv):
    with system_context():
        session.execute(
            Tenant.__table__.update().where(Tenant.id == inv.tenant.id).values(status="purging")
        )
        session.execute(
            StockMovement.__table__.delete().where(
                StockMovement.__table__.c.tenant_id == inv.tenant.id
            )
        )
        assert session.scalar(select(StockMovement).where(StockMovement.id == movement.id)) is None


# --- the migration ------------------------------------------------------------------------


def guard_triggers(app: Flask) -> set[str]:
    """The names of the ledger's triggers in the app's database."""
    with get_db(app).engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            sql = (
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal "
                "AND tgrelid = 'inventory_stock_movement'::regclass"
            )
        else:
            sql = (
                "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name = 'inventory_stock_movement'"
            )
        return set(conn.exec_driver_sql(sql).scalars())


@pytest.fixture()
def fresh_app(db_url: str, tmp_path: Path) -> Iterator[Flask]:
    """An app on a brand-new empty database."""
    for url in fresh_database(db_url, tmp_path, "ledger"):
        with app_on(url, tmp_path) as application:
            yield application


def test_the_migration_adds_the_triggers_and_its_downgrade_drops_them(fresh_app):
    with fresh_app.app_context():
        migrate.upgrade(fresh_app)
    assert guard_triggers(fresh_app)

    with fresh_app.app_context():
        migrate.downgrade(fresh_app, BEFORE_TRIGGERS)

    assert guard_triggers(fresh_app) == set()
    with get_db(fresh_app).engine.connect() as conn:
        assert "inventory_stock_movement" in inspect(conn).get_table_names()

    with fresh_app.app_context():
        migrate.upgrade(fresh_app)
    assert guard_triggers(fresh_app)
