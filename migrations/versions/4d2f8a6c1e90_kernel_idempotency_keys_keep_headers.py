"""kernel: idempotency keys keep the answer's headers

Revision ID: 4d2f8a6c1e90
Revises: c3e8a1d4f7b2
Create Date: 2026-12-06 04:20:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '4d2f8a6c1e90'
down_revision: str | Sequence[str] | None = 'c3e8a1d4f7b2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: answers stored before this revision are replayed without their headers.
    with op.batch_alter_table('core_idempotency_key') as batch_op:
        batch_op.add_column(sa.Column('headers', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('core_idempotency_key') as batch_op:
        batch_op.drop_column('headers')
