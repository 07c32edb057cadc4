"""Alembic environment: run by `pergola db ...`, which passes metadata and engine in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from core.migrate import include_name
from core.tenancy import ensure_rls

config = context.config
target_metadata = config.attributes["target_metadata"]


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_schemas=False,
        # Virtual tables and their shadows come from raw DDL in migrations, not from models.
        include_name=include_name(connection),
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Migrations may move data of every tenant: lift row-level security for them.
            connection.exec_driver_sql("SELECT set_config('pergola.rls_bypass', 'on', true)")
        context.run_migrations()
        # New tenant-owned tables get row-level security without the author writing it.
        ensure_rls(connection)


def run_migrations_online() -> None:
    """Migrate on the connection we were given, or on a new one from the app's engine."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    with config.attributes["engine"].connect() as conn:
        _run(conn)
        conn.commit()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; use `pergola db upgrade`")
run_migrations_online()
