"""contacts: account search on SQLite through an FTS5 table kept in step by triggers

Revision ID: e023f4305859
Revises: a96b7035bebb
Create Date: 2026-11-24 09:00:00.000000

PostgreSQL searches through the GIN index of the first revision; this one does nothing
there. On SQLite it creates `contacts_account_fts` (account id, name, email, phone and the
phone's digit suffixes), triggers that keep it in step with every write to
`contacts_account` (ORM, bulk, import, merge, raw SQL), and fills it from existing rows.

The FTS row is found by the account's id through the index (`{account_id}: "<id>"`), not by
rowid: `contacts_account` has a UUID primary key, so its rowid is not stable (VACUUM may
renumber it) and cannot key an external-content table.

A later revision that rebuilds `contacts_account` with batch_alter_table on SQLite (move
and copy) drops these triggers with the old table: it must create them again
(test_search checks they exist at head).
"""
from collections.abc import Sequence

from alembic import op


revision: str = 'e023f4305859'
down_revision: str | Sequence[str] | None = 'a96b7035bebb'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FTS = "contacts_account_fts"
# Substrings of a phone's digits are matched as prefixes of its suffixes, so store every
# suffix long enough to be searched (4 digits, as the query requires) of the first 50 chars.
PHONE_CHARS = 50
MIN_DIGITS = 4


def _stripped(phone: str) -> str:
    """The phone without the characters people type between digits (as PostgreSQL strips)."""
    expr = f"coalesce({phone}, '')"
    for ch in (" ", "-", "+", "(", ")", ".", "/"):
        expr = f"replace({expr}, '{ch}', '')"
    return expr


def _suffixes(s: str) -> str:
    """Space-separated suffixes of `s` of at least MIN_DIGITS characters."""
    parts = [
        f"CASE WHEN length({s}) >= {i + MIN_DIGITS - 1} THEN substr({s}, {i}) || ' ' ELSE '' END"
        for i in range(1, PHONE_CHARS - MIN_DIGITS + 2)
    ]
    return " || ".join(parts)


def _insert(row: str) -> str:
    """INSERT INTO the FTS table the search document of `row` (new, or a SELECT alias)."""
    return (
        f"INSERT INTO {FTS} (account_id, name, email, phone, phone_digits) "
        f"SELECT {row}.id, {row}.name, coalesce({row}.email, ''), coalesce({row}.phone, ''), "
        f"{_suffixes('s')} "
    )


def _delete(row: str) -> str:
    return f"DELETE FROM {FTS} WHERE {FTS} MATCH '{{account_id}} : \"' || {row}.id || '\"'"


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(
        f"CREATE VIRTUAL TABLE {FTS} USING fts5("
        "account_id, name, email, phone, phone_digits, "
        "tokenize = 'unicode61 remove_diacritics 2')"
    )
    # The insert trigger clears the id first: INSERT OR REPLACE deletes the old row without
    # firing the delete trigger (unless recursive_triggers is on) and must not leave two.
    op.execute(
        f"CREATE TRIGGER {FTS}_insert AFTER INSERT ON contacts_account BEGIN "
        f"{_delete('new')}; "
        f"{_insert('new')}FROM (SELECT {_stripped('new.phone')} AS s); END"
    )
    op.execute(
        f"CREATE TRIGGER {FTS}_update AFTER UPDATE OF id, name, email, phone "
        f"ON contacts_account BEGIN {_delete('old')}; "
        f"{_insert('new')}FROM (SELECT {_stripped('new.phone')} AS s); END"
    )
    op.execute(
        f"CREATE TRIGGER {FTS}_delete AFTER DELETE ON contacts_account BEGIN "
        f"{_delete('old')}; END"
    )
    op.execute(
        f"{_insert('a')}FROM (SELECT *, {_stripped('phone')} AS s FROM contacts_account) AS a"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for trigger in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS {FTS}_{trigger}")
    # Dropping the virtual table drops its shadow tables with it.
    op.execute(f"DROP TABLE IF EXISTS {FTS}")
