"""contacts: one default address per kind and account, guaranteed by a partial unique index

Revision ID: 3e3896c2aa12
Revises: e023f4305859
Create Date: 2026-12-06 04:30:00.000000

Before this revision the services could leave two defaults of one kind (changing an
address's kind kept its flag) or none (the web form's unchecked box stopped the first
address of a kind from becoming the default). The upgrade first repairs existing rows so
the index can be built: archived addresses lose the flag; of several defaults of one kind
the most recently updated one stays; a kind with live addresses and no default gets its
oldest one. These are plain SQL updates, so the audit log does not record them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "3e3896c2aa12"
down_revision: str | Sequence[str] | None = "e023f4305859"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_contacts_address_one_default"

address = sa.table(
    "contacts_address",
    sa.column("id", sa.Uuid()),
    sa.column("account_id", sa.Uuid()),
    sa.column("kind", sa.String()),
    sa.column("is_default", sa.Boolean()),
    sa.column("deleted_at", sa.DateTime()),
    sa.column("created_at", sa.DateTime()),
    sa.column("updated_at", sa.DateTime()),
)


def _repair(conn: sa.Connection) -> None:
    conn.execute(
        address.update()
        .where(address.c.deleted_at.is_not(None), address.c.is_default.is_(True))
        .values(is_default=False)
    )
    defaults = sa.func.sum(sa.case((address.c.is_default.is_(True), 1), else_=0))
    groups = conn.execute(
        sa.select(address.c.account_id, address.c.kind)
        .where(address.c.deleted_at.is_(None))
        .group_by(address.c.account_id, address.c.kind)
        .having(defaults != 1)
    ).all()
    for account_id, kind in groups:
        rows = conn.execute(
            sa.select(
                address.c.id, address.c.is_default, address.c.created_at, address.c.updated_at
            ).where(
                address.c.account_id == account_id,
                address.c.kind == kind,
                address.c.deleted_at.is_(None),
            )
        ).all()
        flagged = [r for r in rows if r.is_default]
        if flagged:
            keep = max(flagged, key=lambda r: (r.updated_at, str(r.id))).id
        else:
            keep = min(rows, key=lambda r: (r.created_at, str(r.id))).id
        for row in rows:
            if bool(row.is_default) != (row.id == keep):
                conn.execute(
                    address.update().where(address.c.id == row.id).values(is_default=row.id == keep)
                )


def upgrade() -> None:
    _repair(op.get_bind())
    # CREATE INDEX needs no table rebuild on SQLite (no batch mode).
    op.create_index(
        INDEX,
        "contacts_address",
        ["account_id", "kind"],
        unique=True,
        sqlite_where=sa.text("is_default"),
        postgresql_where=sa.text("is_default"),
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="contacts_address")
