"""The narrow interface purchase needs from contacts and inventory, through their services.

Every call purchase makes into another addon goes through one function here, so that a
change in theirs is one change in ours, and tests can see exactly what we rely on.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core.errors import NotFound, ValidationError

# --- contacts ---------------------------------------------------------------------------


def account(account_id: uuid.UUID, field_name: str = "account_id") -> Any:
    """The live contacts account, or a ValidationError naming `field_name`."""
    from addons.contacts import services as contacts

    try:
        return contacts.get_account(account_id, field=field_name)
    except NotFound:
        raise ValidationError("no such account", field=field_name) from None


def vendors() -> list[Any]:
    """Every live account of kind vendor, by name."""
    from addons.contacts import services as contacts

    out: list[Any] = []
    while True:
        page = contacts.list_accounts(kind="vendor", limit=200, offset=len(out))
        out.extend(page.items)
        if not page.items or len(out) >= page.total:
            return out


def account_names(ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Names of accounts by id, in one query (archived ones included, as history shows them)."""
    from addons.contacts import services as contacts

    wanted = set(ids)
    names = contacts.account_names(wanted)
    return {account_id: names.get(account_id, "(unknown account)") for account_id in wanted}


# --- inventory --------------------------------------------------------------------------


def product(product_id: uuid.UUID, field_name: str = "product_id") -> Any:
    """The product (status, type, name, standard_cost, tax_rate...), or a ValidationError."""
    from addons.inventory import services as inventory

    return inventory.get_product(product_id, field=field_name)


def warehouse(warehouse_id: uuid.UUID, field_name: str = "warehouse_id") -> Any:
    """The warehouse, or a ValidationError naming `field_name`."""
    from addons.inventory import services as inventory

    return inventory.get_warehouse(warehouse_id, field=field_name)


def stock_in(
    *,
    product_id: uuid.UUID,
    warehouse_id: uuid.UUID,
    quantity: Decimal,
    unit_cost: Decimal,
    reference_id: str,
    reason: str,
) -> Any:
    """Receive goods into a warehouse at `unit_cost` (updates the moving-average cost)."""
    from addons.inventory import services as inventory

    return inventory.receive(
        product_id,
        warehouse_id,
        quantity,
        unit_cost=unit_cost,
        reference=("purchase.receipt", reference_id),
        reason=reason,
    )


def stock_out(
    *,
    product_id: uuid.UUID,
    warehouse_id: uuid.UUID,
    quantity: Decimal,
    reference_id: str,
    reason: str,
) -> Any:
    """Issue goods out of a warehouse (a return to the supplier)."""
    from addons.inventory import services as inventory

    return inventory.issue(
        product_id,
        warehouse_id,
        quantity,
        reference=("purchase.return", reference_id),
        reason=reason,
    )


@dataclass(frozen=True)
class LowStock:
    """A product below its reorder point in one warehouse, and what inventory suggests."""

    product_id: uuid.UUID
    product_name: str
    warehouse_id: uuid.UUID
    available: Decimal
    reorder_point: Decimal
    suggested_quantity: Decimal


def low_stock() -> list[LowStock]:
    """Inventory's low-stock list."""
    from addons.inventory import services as inventory

    return [
        LowStock(
            row["product"].id,
            row["product"].name,
            row["warehouse"].id,
            Decimal(row["available"]),
            Decimal(row["reorder_point"]),
            Decimal(row["suggested_quantity"]),
        )
        for row in inventory.low_stock()
    ]
