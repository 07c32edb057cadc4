"""kernel: API idempotency keys

Revision ID: 5b1d0c7e9a21
Revises: 03147b593dad, b7c41e2d9f10
Create Date: 2026-11-21 11:20:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.types

revision: str = '5b1d0c7e9a21'
down_revision: str | Sequence[str] | None = ('03147b593dad', 'b7c41e2d9f10')
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('core_idempotency_key',
    sa.Column('principal', sa.String(length=80), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['core_tenant.id'],
                            name=op.f('fk_core_idempotency_key_tenant_id_core_tenant'),
                            ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_core_idempotency_key')),
    sa.UniqueConstraint('tenant_id', 'principal', 'key',
                        name=op.f('uq_core_idempotency_key_tenant_id_principal_key'))
    )
    op.create_index(op.f('ix_core_idempotency_key_tenant_id'), 'core_idempotency_key',
                    ['tenant_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_core_idempotency_key_tenant_id'), table_name='core_idempotency_key')
    op.drop_table('core_idempotency_key')
