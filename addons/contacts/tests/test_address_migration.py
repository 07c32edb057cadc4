"""The one-default-per-kind migration repairs existing addresses before it adds its index."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from core import migrate
from core.db import get_db
from tests.fixtures import app_on, fresh_database


@pytest.fixture()
def fresh_app(db_url: str, tmp_path: Path):
    """An app on a new, empty database (SQLite file or PostgreSQL database)."""
    for url in fresh_database(db_url, tmp_path, "addr"):
        with app_on(url, tmp_path) as application:
            yield application


def test_the_upgrade_leaves_each_kind_exactly_one_default_and_the_downgrade_drops_the_index(
    fresh_app,
):
    with fresh_app.app_context():
        migrate.upgrade(fresh_app, "contacts@e023f4305859")
    engine = create_engine(get_db(fresh_app).engine.url)
    tenant, account = uuid.uuid4().hex, uuid.uuid4().hex
    rows = [
        # (city, kind, is_default, deleted, created, updated)
        ("Berlin", "billing", True, False, "2026-01-01", "2026-01-01"),
        ("Paris", "billing", True, False, "2026-01-02", "2026-03-01"),  # newest default
        ("Rome", "billing", False, False, "2026-01-03", "2026-01-03"),
        ("Leeds", "shipping", False, False, "2026-02-02", "2026-02-02"),
        ("York", "shipping", False, False, "2026-02-01", "2026-02-01"),  # oldest: promoted
        ("Gone", "other", True, True, "2026-01-01", "2026-01-01"),  # archived: flag cleared
    ]
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT set_config('pergola.rls_bypass', 'on', true)")
        uid = (lambda h: str(uuid.UUID(h))) if conn.dialect.name == "postgresql" else str
        conn.execute(
            text(
                "INSERT INTO core_tenant (id, slug, name, status, settings, created_at, "
                "updated_at) VALUES (:id, 'old', 'Old', 'active', '{}', :t, :t)"
            ),
            {"id": uid(tenant), "t": "2026-01-01"},
        )
        conn.execute(
            text(
                "INSERT INTO contacts_account (id, tenant_id, name, kinds, status, tags, "
                "created_at, updated_at, version) VALUES (:id, :tenant, 'Old Co', '[]', "
                "'active', '[]', :t, :t, 1)"
            ),
            {"id": uid(account), "tenant": uid(tenant), "t": "2026-01-01"},
        )
        for city, kind, default, deleted, created, updated in rows:
            conn.execute(
                text(
                    "INSERT INTO contacts_address (id, tenant_id, account_id, kind, street, "
                    "city, postal_code, region, country, is_default, created_at, updated_at, "
                    "version, deleted_at) VALUES (:id, :tenant, :account, :kind, '', :city, "
                    "'', '', 'DE', :default, :created, :updated, 1, :deleted)"
                ),
                {
                    "id": uid(uuid.uuid4().hex),
                    "tenant": uid(tenant),
                    "account": uid(account),
                    "kind": kind,
                    "city": city,
                    "default": default,
                    "created": created,
                    "updated": updated,
                    "deleted": updated if deleted else None,
                },
            )
    with fresh_app.app_context():
        migrate.upgrade(fresh_app)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT set_config('pergola.rls_bypass', 'on', true)")
        flagged = conn.execute(
            text("SELECT city FROM contacts_address WHERE is_default ORDER BY city")
        ).scalars()
        assert list(flagged) == ["Paris", "York"]
        with pytest.raises(IntegrityError), conn.begin_nested():
            conn.execute(text("UPDATE contacts_address SET is_default = :t"), {"t": True})
    with fresh_app.app_context():
        migrate.downgrade(fresh_app, "contacts@e023f4305859")
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT set_config('pergola.rls_bypass', 'on', true)")
        conn.execute(text("UPDATE contacts_address SET is_default = :t"), {"t": True})
    engine.dispose()
