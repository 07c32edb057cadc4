"""notes: notes_note

Revision ID: 908527fb3093
Revises:
Create Date: 2026-11-21 10:59:07

The first revision of the `notes` branch. It depends on the kernel revision that creates
tenants and users; a later migration that refers to newer kernel tables depends on theirs.
"""
from collections.abc import Sequence

import core.types
import sqlalchemy as sa
from alembic import op

revision: str = "908527fb3093"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("notes",)
depends_on: str | Sequence[str] | None = "3bb707e5e94c"


def upgrade() -> None:
    op.create_table(
        "notes_note",
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["core_user.id"],
            name=op.f("fk_notes_note_created_by_core_user"), ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["core_tenant.id"],
            name=op.f("fk_notes_note_tenant_id_core_tenant"), ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notes_note")),
    )
    with op.batch_alter_table("notes_note") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notes_note_tenant_id"), ["tenant_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("notes_note")
