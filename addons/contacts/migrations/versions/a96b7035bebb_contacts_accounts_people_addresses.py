"""contacts: accounts, people, addresses

Revision ID: a96b7035bebb
Revises: 
Create Date: 2026-11-21 10:51:35.642433
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.types


revision: str = 'a96b7035bebb'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ('contacts',)
# Needs core_tenant and core_user, created by the kernel's first revision.
depends_on: str | Sequence[str] | None = '3bb707e5e94c'

# Must match addons.contacts.models.search_document() so autogenerate sees no drift.
SEARCH_INDEX = (
    "CREATE INDEX ix_contacts_account_search ON contacts_account USING gin ("
    "to_tsvector('simple'::regconfig, (((((COALESCE(name, ''::character varying))::text"
    " || ' '::text) || (COALESCE(email, ''::character varying))::text) || ' '::text)"
    " || (COALESCE(phone, ''::character varying))::text)))"
)


def upgrade() -> None:
    op.create_table('contacts_account',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kinds', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('industry', sa.String(length=100), nullable=True),
    sa.Column('annual_revenue', core.types.ExactDecimal(precision=18, scale=4), nullable=True),
    sa.Column('website', sa.String(length=255), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('phone', sa.String(length=50), nullable=True),
    sa.Column('tax_id', sa.String(length=50), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=True),
    sa.Column('merged_into_id', sa.Uuid(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('deleted_at', core.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['merged_into_id'], ['contacts_account.id'], name=op.f('fk_contacts_account_merged_into_id_contacts_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_id'], ['core_user.id'], name=op.f('fk_contacts_account_owner_id_core_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['core_tenant.id'], name=op.f('fk_contacts_account_tenant_id_core_tenant'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contacts_account'))
    )
    with op.batch_alter_table('contacts_account', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contacts_account_email'), ['email'], unique=False)
        batch_op.create_index(batch_op.f('ix_contacts_account_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_contacts_account_tax_id'), ['tax_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_contacts_account_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_contacts_account_tenant_id_name', ['tenant_id', 'name'], unique=False)

    op.create_table('contacts_address',
    sa.Column('account_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('street', sa.String(length=255), nullable=False),
    sa.Column('city', sa.String(length=100), nullable=False),
    sa.Column('postal_code', sa.String(length=20), nullable=False),
    sa.Column('region', sa.String(length=100), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('deleted_at', core.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['contacts_account.id'], name=op.f('fk_contacts_address_account_id_contacts_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['core_tenant.id'], name=op.f('fk_contacts_address_tenant_id_core_tenant'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contacts_address'))
    )
    with op.batch_alter_table('contacts_address', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contacts_address_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_contacts_address_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('contacts_person',
    sa.Column('account_id', sa.Uuid(), nullable=False),
    sa.Column('first_name', sa.String(length=100), nullable=False),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('phone', sa.String(length=50), nullable=True),
    sa.Column('job_title', sa.String(length=100), nullable=True),
    sa.Column('is_primary', sa.Boolean(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('deleted_at', core.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['contacts_account.id'], name=op.f('fk_contacts_person_account_id_contacts_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['core_tenant.id'], name=op.f('fk_contacts_person_tenant_id_core_tenant'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contacts_person'))
    )
    with op.batch_alter_table('contacts_person', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contacts_person_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_contacts_person_tenant_id'), ['tenant_id'], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        # Full-text search by name, email or phone (463819e8545a adds the phone's digits);
        # SQLite searches its FTS5 table instead (e023f4305859).
        op.execute(SEARCH_INDEX)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_contacts_account_search")
    with op.batch_alter_table('contacts_person', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contacts_person_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_contacts_person_account_id'))

    op.drop_table('contacts_person')
    with op.batch_alter_table('contacts_address', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contacts_address_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_contacts_address_account_id'))

    op.drop_table('contacts_address')
    with op.batch_alter_table('contacts_account', schema=None) as batch_op:
        batch_op.drop_index('ix_contacts_account_tenant_id_name')
        batch_op.drop_index(batch_op.f('ix_contacts_account_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_contacts_account_tax_id'))
        batch_op.drop_index(batch_op.f('ix_contacts_account_owner_id'))
        batch_op.drop_index(batch_op.f('ix_contacts_account_email'))

    op.drop_table('contacts_account')
