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
    # Set-based, one statement per direction on either database (window functions): in
    # each live account/kind, the address to keep as default is the most recently updated
    # default, or (none flagged) the oldest address.
    flagged = address.c.is_default.is_(True)
    rank = (
        sa.func.row_number()
        .over(
            partition_by=(address.c.account_id, address.c.kind),
            order_by=(
                sa.case((flagged, 1), else_=0).desc(),
                sa.case((flagged, address.c.updated_at)).desc(),
                sa.case((flagged, address.c.id)).desc(),
                address.c.created_at,
                address.c.id,
            ),
        )
        .label("rank")
    )
    ranked = sa.select(address.c.id, rank).where(address.c.deleted_at.is_(None)).subquery()
    keep = sa.select(ranked.c.id).where(ranked.c.rank == 1)
    live = address.c.deleted_at.is_(None)
    conn.execute(
        address.update().where(live, flagged, address.c.id.not_in(keep)).values(is_default=False)
    )
    conn.execute(
        address.update()
        .where(live, address.c.is_default.is_(False), address.c.id.in_(keep))
        .values(is_default=True)
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
