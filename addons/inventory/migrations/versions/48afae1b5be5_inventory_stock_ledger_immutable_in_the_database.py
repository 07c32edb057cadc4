"""inventory: stock movements are append-only in the database too (triggers)

Revision ID: 48afae1b5be5
Revises: 30998e6e6634
Create Date: 2026-11-24
"""
from collections.abc import Sequence

from alembic import op


revision: str = '48afae1b5be5'
down_revision: str | Sequence[str] | None = '30998e6e6634'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The ORM already refuses; these refuse raw SQL too (like the kernel's audit log: they
# guard against code, not against an owner who drops them). Two writes are let through:
# - ON DELETE SET NULL of user_id when a user is deleted (only that column, only to NULL);
# - DELETE of the movements of a tenant whose status is 'purging', so that a tenant can be
#   removed with all its rows (products and warehouses RESTRICT, so the ledger goes first).
PG_GUARD = """
CREATE FUNCTION inventory_stock_movement_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.user_id IS NULL AND (to_jsonb(NEW) - 'user_id') = (to_jsonb(OLD) - 'user_id') THEN
            RETURN NEW;
        END IF;
    ELSIF TG_OP = 'DELETE' THEN
        IF EXISTS (SELECT 1 FROM core_tenant WHERE id = OLD.tenant_id AND status = 'purging') THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'inventory_stock_movement is append-only: % is not allowed; post a correcting movement', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER inventory_stock_movement_append_only
    BEFORE UPDATE OR DELETE ON inventory_stock_movement
    FOR EACH ROW EXECUTE FUNCTION inventory_stock_movement_append_only();
CREATE TRIGGER inventory_stock_movement_no_truncate BEFORE TRUNCATE ON inventory_stock_movement
    FOR EACH STATEMENT EXECUTE FUNCTION inventory_stock_movement_append_only();
"""

# SQLite triggers cannot compare whole rows: an UPDATE that sets any column but user_id is
# refused, and one that sets user_id to anything but NULL. A column added to the table later
# must be added to this list by the migration that adds it.
COLUMNS = (
    'id, tenant_id, created_at, product_id, warehouse_id, kind, quantity, quantity_before, '
    'quantity_after, reserved_change, reserved_after, unit_cost, reference_type, '
    'reference_id, transfer_id, reason'
)
SQLITE_GUARD = [
    f"""CREATE TRIGGER inventory_stock_movement_no_update
    BEFORE UPDATE OF {COLUMNS} ON inventory_stock_movement
    BEGIN SELECT RAISE(ABORT, 'inventory_stock_movement is append-only: UPDATE is not allowed; post a correcting movement'); END""",
    """CREATE TRIGGER inventory_stock_movement_no_user_update
    BEFORE UPDATE OF user_id ON inventory_stock_movement WHEN NEW.user_id IS NOT NULL
    BEGIN SELECT RAISE(ABORT, 'inventory_stock_movement is append-only: UPDATE is not allowed; post a correcting movement'); END""",
    # INSERT OR REPLACE / REPLACE INTO deletes the old row without firing DELETE triggers
    # (recursive_triggers is off): refuse an insert whose id is already in the ledger.
    """CREATE TRIGGER inventory_stock_movement_no_replace
    BEFORE INSERT ON inventory_stock_movement
    WHEN EXISTS (SELECT 1 FROM inventory_stock_movement WHERE id = NEW.id)
    BEGIN SELECT RAISE(ABORT, 'inventory_stock_movement is append-only: REPLACE is not allowed; post a correcting movement'); END""",
    """CREATE TRIGGER inventory_stock_movement_no_delete
    BEFORE DELETE ON inventory_stock_movement
    WHEN NOT EXISTS (SELECT 1 FROM core_tenant WHERE id = OLD.tenant_id AND status = 'purging')
    BEGIN SELECT RAISE(ABORT, 'inventory_stock_movement is append-only: DELETE is not allowed; post a correcting movement'); END""",
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        op.execute(PG_GUARD)
    elif dialect == 'sqlite':
        for statement in SQLITE_GUARD:
            op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS inventory_stock_movement_no_truncate ON inventory_stock_movement')
        op.execute('DROP TRIGGER IF EXISTS inventory_stock_movement_append_only ON inventory_stock_movement')
        op.execute('DROP FUNCTION IF EXISTS inventory_stock_movement_append_only()')
    elif dialect == 'sqlite':
        op.execute('DROP TRIGGER IF EXISTS inventory_stock_movement_no_delete')
        op.execute('DROP TRIGGER IF EXISTS inventory_stock_movement_no_replace')
        op.execute('DROP TRIGGER IF EXISTS inventory_stock_movement_no_user_update')
        op.execute('DROP TRIGGER IF EXISTS inventory_stock_movement_no_update')
