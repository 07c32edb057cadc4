"""kernel: the audit log refuses INSERT OR REPLACE on SQLite

SQLite's REPLACE deletes the conflicting row without firing DELETE triggers (recursive
triggers are off), so `INSERT OR REPLACE INTO core_audit_log` could rewrite an entry past
the append-only guards. PostgreSQL's upsert fires the UPDATE trigger already.

Revision ID: c3e8a1d4f7b2
Revises: 5b1d0c7e9a21
Create Date: 2026-11-21 14:30:00.000000
"""
from collections.abc import Sequence

from alembic import op

revision: str = 'c3e8a1d4f7b2'
down_revision: str | Sequence[str] | None = '5b1d0c7e9a21'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        op.execute(
            """CREATE TRIGGER core_audit_log_no_replace BEFORE INSERT ON core_audit_log
            WHEN EXISTS (SELECT 1 FROM core_audit_log WHERE id = NEW.id)
            BEGIN SELECT RAISE(ABORT, 'core_audit_log is append-only: REPLACE is not allowed'); END"""
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('DROP TRIGGER IF EXISTS core_audit_log_no_replace')
