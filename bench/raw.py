"""The baselines' database access: one DB-API connection, hand-written SQL, no ORM.

SQL is written once with `?` placeholders; on PostgreSQL they become `%s`. Values are
adapted to what each database stores (SQLite: UUIDs as 32 hex characters, numbers as
text, naive UTC datetimes, as Pergola's column types do), so the baseline's rows are rows
Pergola can read.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import make_url


class Raw:
    """A plain connection to the bench database, in the tenant `tenant_id`."""

    def __init__(self, url: str, tenant_id: uuid.UUID | None = None) -> None:
        u = make_url(url)
        self.kind = u.get_backend_name()
        self.tenant_id = tenant_id
        if self.kind == "sqlite":
            # Autocommit mode, explicit BEGIN IMMEDIATE: writers queue as Pergola's do.
            self.conn: Any = sqlite3.connect(
                u.database or "", isolation_level=None, check_same_thread=False, timeout=30
            )
            self.conn.execute("PRAGMA foreign_keys = ON")
            self.conn.execute("PRAGMA busy_timeout = 30000")
            # As Pergola's engine sets them: WAL, and no fsync at every commit.
            self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = NORMAL")
        else:
            import psycopg2

            self.conn = psycopg2.connect(
                u.set(drivername="postgresql").render_as_string(hide_password=False)
            )
        self.cur = self.conn.cursor()

    def begin(self) -> None:
        """Start a write transaction (and, on PostgreSQL, say the tenant for row security)."""
        if self.kind == "sqlite":
            self.cur.execute("BEGIN IMMEDIATE")
        elif self.tenant_id is not None:
            self.cur.execute(
                "SELECT set_config('pergola.tenant_id', %s, true)", (str(self.tenant_id),)
            )

    def commit(self) -> None:
        """Commit the transaction."""
        if self.kind == "sqlite":
            self.cur.execute("COMMIT")
        else:
            self.conn.commit()

    def rollback(self) -> None:
        """Roll back the transaction."""
        if self.kind == "sqlite":
            self.cur.execute("ROLLBACK")
        else:
            self.conn.rollback()

    def v(self, value: Any) -> Any:
        """`value` as this database stores it."""
        if isinstance(value, uuid.UUID):
            return value.hex if self.kind == "sqlite" else str(value)
        if self.kind == "sqlite":
            if isinstance(value, Decimal):
                return str(value)
            if isinstance(value, dt.datetime):
                return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ")
            if isinstance(value, dt.date):
                return value.isoformat()
        if isinstance(value, dict | list):
            return json.dumps(value)
        return value

    def sql(self, text: str) -> str:
        """`text` with this driver's placeholders."""
        return text if self.kind == "sqlite" else text.replace("?", "%s")

    def execute(self, text: str, params: tuple[Any, ...] = ()) -> Any:
        """Run one statement; returns the cursor."""
        self.cur.execute(self.sql(text), tuple(self.v(p) for p in params))
        return self.cur

    def many(self, text: str, rows: list[tuple[Any, ...]]) -> None:
        """Run one statement for each row."""
        self.cur.executemany(self.sql(text), [tuple(self.v(p) for p in r) for r in rows])

    def one(self, text: str, params: tuple[Any, ...] = ()) -> Any:
        """The first row of a query."""
        return self.execute(text, params).fetchone()

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


def now() -> dt.datetime:
    """The current UTC time."""
    return dt.datetime.now(dt.UTC)


def dec(value: Any) -> Decimal:
    """A number read back from either database as a Decimal."""
    return Decimal(str(value))
