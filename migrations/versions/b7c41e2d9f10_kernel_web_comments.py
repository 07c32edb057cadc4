"""kernel: comments on records, for the web shell's activity feed

Revision ID: b7c41e2d9f10
Revises: 5f258d016120, e16227bb02cc
Create Date: 2026-11-21 11:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.types


revision: str = 'b7c41e2d9f10'
# A merge of the kernel's two heads (identity and audit), so the kernel has one head again.
down_revision: str | Sequence[str] | None = ('5f258d016120', 'e16227bb02cc')
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('core_comment',
    sa.Column('table_name', sa.String(length=63), nullable=False),
    sa.Column('record_id', sa.String(length=200), nullable=False),
    sa.Column('author_id', sa.Uuid(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['core_user.id'], name=op.f('fk_core_comment_author_id_core_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['core_tenant.id'], name=op.f('fk_core_comment_tenant_id_core_tenant'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_core_comment'))
    )
    op.create_index('ix_core_comment_record', 'core_comment', ['tenant_id', 'table_name', 'record_id'], unique=False)
    op.create_index(op.f('ix_core_comment_tenant_id'), 'core_comment', ['tenant_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_core_comment_tenant_id'), table_name='core_comment')
    op.drop_index('ix_core_comment_record', table_name='core_comment')
    op.drop_table('core_comment')
