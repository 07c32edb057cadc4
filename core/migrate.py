"""Alembic, driven from code: the kernel's branch plus one branch per installed addon."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from flask import Flask, current_app
from sqlalchemy import Connection

from core.config import PROJECT_ROOT
from core.db import Base, get_db

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"
KERNEL_VERSIONS = MIGRATIONS_DIR / "versions"


def unmapped_tables(connection: Connection) -> frozenset[str]:
    """Tables the database keeps for itself and no model maps: SQLite's virtual tables (an
    FTS5 search index, an R*Tree) and their shadow tables. A migration creates them with raw
    DDL; autogenerate and the drift check leave them alone."""
    if connection.dialect.name != "sqlite":
        return frozenset()
    # table_list's third column is table, view, virtual or shadow (SQLite 3.37+); an older
    # SQLite answers an unknown pragma with no rows, so read sqlite_master instead.
    rows = connection.exec_driver_sql("PRAGMA main.table_list").all()
    if rows:
        return frozenset(row[1] for row in rows if row[2] in ("virtual", "shadow"))
    return unmapped_tables_from_master(connection)


def unmapped_tables_from_master(connection: Connection) -> frozenset[str]:
    """`unmapped_tables` for SQLite before 3.37, read from sqlite_master's DDL."""
    tables = connection.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
    entries = [(name, sql or "") for name, sql in tables]
    virtual = {name for name, sql in entries if sql.upper().startswith("CREATE VIRTUAL TABLE")}
    # A virtual table module names its shadow tables `<table>_<suffix>`.
    shadow = {name for name, _ in entries if any(name.startswith(f"{v}_") for v in virtual)}
    return frozenset(virtual | shadow)


def include_name(connection: Connection) -> Callable[[str | None, str, Mapping[str, Any]], bool]:
    """An Alembic `include_name` for `connection` that skips its `unmapped_tables`."""
    skipped = unmapped_tables(connection)

    def include(name: str | None, type_: str, parent_names: Mapping[str, Any]) -> bool:
        return not (type_ == "table" and name in skipped)

    return include


def version_locations(app: Flask) -> list[Path]:
    """The kernel's versions folder, then each installed addon's (from the registry)."""
    extra: Iterable[Path] = app.extensions.get("pergola.migration_dirs", ())
    return [KERNEL_VERSIONS, *extra]


def alembic_config(app: Flask | None = None, connection: Connection | None = None) -> Config:
    """An Alembic config for `app`'s database, optionally on an open connection."""
    app = app or current_app
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    locations = version_locations(app)
    # path_separator "os" splits on os.pathsep: a space would glue the folders into one.
    cfg.set_main_option("version_locations", os.pathsep.join(str(p) for p in locations))
    cfg.set_main_option("sqlalchemy.url", get_db(app).engine.url.render_as_string(False))
    cfg.attributes["target_metadata"] = Base.metadata
    cfg.attributes["engine"] = get_db(app).engine
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(app: Flask | None = None, revision: str = "heads", **kw: Any) -> None:
    """Upgrade the kernel and every installed addon (default: all heads)."""
    command.upgrade(alembic_config(app, **kw), revision)


def downgrade(app: Flask | None = None, revision: str = "base", **kw: Any) -> None:
    """Downgrade to `revision` (`base` drops everything)."""
    command.downgrade(alembic_config(app, **kw), revision)


def current(app: Flask | None = None, **kw: Any) -> None:
    """Print the current revision of each branch."""
    command.current(alembic_config(app, **kw), verbose=False)


def revision(
    message: str,
    *,
    head: str,
    branch_label: str | None = None,
    version_path: str | None = None,
    depends_on: str | None = None,
    app: Flask | None = None,
) -> Any:
    """Autogenerate a revision on `head` (e.g. `core@head`)."""
    return command.revision(
        alembic_config(app),
        message=message,
        autogenerate=True,
        head=head,
        branch_label=branch_label,
        version_path=version_path,
        depends_on=depends_on,
    )
