"""kernel: audit log (append-only) and document sequences

Revision ID: e16227bb02cc
Revises: 73e21c68716d
Create Date: 2026-11-21 10:45:50.568497
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.types


revision: str = 'e16227bb02cc'
down_revision: str | Sequence[str] | None = '73e21c68716d'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The application role owns the table, so these guard against code, not against an owner
# who drops them. DELETE is let through only for rows whose tenant is gone: deleting a
# tenant cascades to its audit trail, and nothing else may.
PG_GUARD = """
CREATE FUNCTION core_audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF NOT EXISTS (SELECT 1 FROM core_tenant WHERE id = OLD.tenant_id) THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'core_audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER core_audit_log_append_only BEFORE UPDATE OR DELETE ON core_audit_log
    FOR EACH ROW EXECUTE FUNCTION core_audit_log_append_only();
CREATE TRIGGER core_audit_log_no_truncate BEFORE TRUNCATE ON core_audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION core_audit_log_append_only();
"""

SQLITE_GUARD = [
    """CREATE TRIGGER core_audit_log_no_update BEFORE UPDATE ON core_audit_log
    BEGIN SELECT RAISE(ABORT, 'core_audit_log is append-only: UPDATE is not allowed'); END""",
    """CREATE TRIGGER core_audit_log_no_delete BEFORE DELETE ON core_audit_log
    WHEN EXISTS (SELECT 1 FROM core_tenant WHERE id = OLD.tenant_id)
    BEGIN SELECT RAISE(ABORT, 'core_audit_log is append-only: DELETE is not allowed'); END""",
]


def upgrade() -> None:
    op.create_table('core_audit_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('api_key_id', sa.Uuid(), nullable=True),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('table_name', sa.String(length=63), nullable=False),
    sa.Column('record_id', sa.String(length=200), nullable=True),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('remote_addr', sa.String(length=45), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['core_tenant.id'], name=op.f('fk_core_audit_log_tenant_id_core_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_core_audit_log'))
    )
    with op.batch_alter_table('core_audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_core_audit_log_recent', ['tenant_id', 'id'], unique=False)
        batch_op.create_index('ix_core_audit_log_record', ['tenant_id', 'table_name', 'record_id'], unique=False)

    op.create_table('core_sequence',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('doc_type', sa.String(length=63), nullable=False),
    sa.Column('period', sa.String(length=10), nullable=False),
    sa.Column('last_value', sa.Integer(), nullable=False),
    sa.Column('updated_at', core.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['core_tenant.id'], name=op.f('fk_core_sequence_tenant_id_core_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'doc_type', 'period', name=op.f('pk_core_sequence'))
    )

    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        op.execute(PG_GUARD)
    elif dialect == 'sqlite':
        for statement in SQLITE_GUARD:
            op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS core_audit_log_no_truncate ON core_audit_log')
        op.execute('DROP TRIGGER IF EXISTS core_audit_log_append_only ON core_audit_log')
        op.execute('DROP FUNCTION IF EXISTS core_audit_log_append_only()')
    elif dialect == 'sqlite':
        op.execute('DROP TRIGGER IF EXISTS core_audit_log_no_delete')
        op.execute('DROP TRIGGER IF EXISTS core_audit_log_no_update')

    op.drop_table('core_sequence')
    with op.batch_alter_table('core_audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_core_audit_log_record')
        batch_op.drop_index('ix_core_audit_log_recent')

    op.drop_table('core_audit_log')
