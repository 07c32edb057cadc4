"""Inventory's tables: products and their catalogue, warehouses, stock levels and the ledger."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, Mapper, ORMExecuteState, mapped_column, relationship

from core.db import Base, PergolaSession
from core.errors import DomainError
from core.mixins import BusinessModel, SoftDelete, Timestamps, UUIDPrimaryKey, utcnow
from core.tenancy import TenantOwned
from core.types import ExactDecimal, Money, Quantity, UTCDateTime

BUILTIN_UOMS: dict[str, str] = {
    "EA": "Each",
    "KG": "Kilogram",
    "BOX": "Box",
    "HOUR": "Hour",
    "L": "Litre",
    "M": "Metre",
}
PRODUCT_TYPES = ("finished_good", "raw_material", "consumable", "service")
PRODUCT_STATUSES = ("draft", "active", "discontinued")
MOVEMENT_KINDS = (
    "receipt",
    "issue",
    "transfer_out",
    "transfer_in",
    "adjustment",
    "reservation",
    "release",
    "consumption",
)


class UnitOfMeasure(BusinessModel, Base):
    """A tenant-defined unit of measure, beside the built-in EA, KG, BOX, HOUR, L and M."""

    __tablename__ = "inventory_uom"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    code: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(80))


class Category(BusinessModel, Base):
    """A product category; categories form a tree through `parent_id`."""

    __tablename__ = "inventory_category"

    name: Mapped[str] = mapped_column(String(120))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("inventory_category.id", ondelete="RESTRICT"), index=True
    )
    parent: Mapped[Category | None] = relationship(remote_side="Category.id")


class Product(BusinessModel, SoftDelete, Base):
    """An item the business buys, makes, stocks or sells (services carry no stock)."""

    __tablename__ = "inventory_product"
    # SKUs are unique per tenant whatever their case: `sku_key` is the lower-cased SKU.
    __table_args__ = (UniqueConstraint("tenant_id", "sku_key"),)

    sku: Mapped[str] = mapped_column(String(64))
    sku_key: Mapped[str] = mapped_column(String(64))
    barcode: Mapped[str | None] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    category_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("inventory_category.id", ondelete="RESTRICT"), index=True
    )
    uom: Mapped[str] = mapped_column(String(16), default="EA")
    type: Mapped[str] = mapped_column(String(20), default="finished_good")
    status: Mapped[str] = mapped_column(String(20), default="active")
    standard_cost: Mapped[Money] = mapped_column(default=Decimal(0))
    sales_price: Mapped[Money] = mapped_column(default=Decimal(0))
    taxable: Mapped[bool] = mapped_column(Boolean, default=True)
    tax_rate: Mapped[Decimal] = mapped_column(ExactDecimal(9, 4), default=Decimal(0))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    track_inventory: Mapped[bool] = mapped_column(Boolean, default=True)
    # Moving average over receipts with a cost; only stock services change it.
    average_cost: Mapped[Money] = mapped_column(default=Decimal(0))

    category: Mapped[Category | None] = relationship()
    components: Mapped[list[KitComponent]] = relationship(
        foreign_keys="KitComponent.kit_id",
        cascade="all, delete-orphan",
        order_by="KitComponent.created_at",
    )

    @property
    def stocked(self) -> bool:
        """True when the product keeps stock (not a service, and tracking is on)."""
        return self.type != "service" and self.track_inventory


class KitComponent(BusinessModel, Base):
    """A line of a kit's bill of materials: `quantity` of `component` per one kit."""

    __tablename__ = "inventory_kit_component"
    __table_args__ = (
        UniqueConstraint("kit_id", "component_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    kit_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("inventory_product.id", ondelete="CASCADE"), index=True
    )
    component_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("inventory_product.id", ondelete="RESTRICT"), index=True
    )
    quantity: Mapped[Quantity]

    component: Mapped[Product] = relationship(foreign_keys=[component_id])


class Warehouse(BusinessModel, Base):
    """A warehouse or branch that holds stock."""

    __tablename__ = "inventory_warehouse"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(120))
    address: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class WarehouseUser(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """A user assigned to a warehouse (storekeepers see only the warehouses they are assigned)."""

    __tablename__ = "inventory_warehouse_user"
    __table_args__ = (UniqueConstraint("warehouse_id", "user_id"),)

    warehouse_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("inventory_warehouse.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("core_user.id", ondelete="CASCADE"), index=True
    )


class StockLevel(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """Stock of one product in one warehouse; changed only by the stock services' conditional
    UPDATEs, each of which writes a movement to the ledger."""

    __tablename__ = "inventory_stock_level"
    # The ledger records every change of a level (before, after, who, when, why). Auditing
    # the level too would read and lock each row twice more per movement, and its plain
    # FOR UPDATE deadlocks against the KEY SHARE locks that inserting movements takes.
    __audit__ = False
    __table_args__ = (
        UniqueConstraint("tenant_id", "product_id", "warehouse_id"),
        # The last wall behind the services' conditional updates.
        CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        CheckConstraint("reserved <= on_hand", name="reserved_within_on_hand"),
        Index("ix_inventory_stock_level_warehouse", "tenant_id", "warehouse_id"),
    )

    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("inventory_product.id", ondelete="RESTRICT"), index=True
    )
    warehouse_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("inventory_warehouse.id", ondelete="RESTRICT")
    )
    on_hand: Mapped[Quantity] = mapped_column(default=Decimal(0))
    reserved: Mapped[Quantity] = mapped_column(default=Decimal(0))
    reorder_point: Mapped[Decimal | None] = mapped_column(ExactDecimal(18, 4))
    reorder_quantity: Mapped[Decimal | None] = mapped_column(ExactDecimal(18, 4))
    # Set while available is below the reorder point: one alert per crossing, not per move.
    is_low: Mapped[bool] = mapped_column(Boolean, default=False)

    product: Mapped[Product] = relationship()
    warehouse: Mapped[Warehouse] = relationship()

    @property
    def available(self) -> Decimal:
        """On hand minus reserved: what may still be issued or reserved."""
        return self.on_hand - self.reserved


class StockMovement(UUIDPrimaryKey, TenantOwned, Base):
    """One line of the append-only stock ledger.

    `quantity` is the signed change of on-hand stock and `reserved_change` that of the
    reserved stock, so the sums of a product's movements in a warehouse are its levels.
    """

    __tablename__ = "inventory_stock_movement"
    # The ledger is its own audit trail; auditing it again would double every movement.
    __audit__ = False
    __table_args__ = (
        # Keyset pagination of a product's history, newest first.
        Index(
            "ix_inventory_stock_movement_product_time",
            "tenant_id",
            "product_id",
            "created_at",
            "id",
        ),
        Index(
            "ix_inventory_stock_movement_warehouse_time", "tenant_id", "warehouse_id", "created_at"
        ),
        Index(
            "ix_inventory_stock_movement_reference", "tenant_id", "reference_type", "reference_id"
        ),
    )

    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("inventory_product.id", ondelete="RESTRICT")
    )
    warehouse_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("inventory_warehouse.id", ondelete="RESTRICT")
    )
    kind: Mapped[str] = mapped_column(String(20))
    quantity: Mapped[Quantity]
    quantity_before: Mapped[Quantity]
    quantity_after: Mapped[Quantity]
    reserved_change: Mapped[Quantity] = mapped_column(default=Decimal(0))
    reserved_after: Mapped[Quantity]
    unit_cost: Mapped[Decimal | None] = mapped_column(ExactDecimal(18, 4))
    reference_type: Mapped[str | None] = mapped_column(String(40))
    reference_id: Mapped[str | None] = mapped_column(String(64))
    transfer_id: Mapped[uuid.UUID | None] = mapped_column()
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL")
    )
    reason: Mapped[str] = mapped_column(Text, default="")

    product: Mapped[Product] = relationship()
    warehouse: Mapped[Warehouse] = relationship()


class LedgerImmutable(DomainError):
    """Someone tried to change or delete a stock movement: the ledger is append-only."""

    code = "LEDGER_IMMUTABLE"
    status = 409


def _refuse_row_change(_mapper: Mapper[Any], _conn: Any, _target: Any) -> None:
    raise LedgerImmutable("stock movements are append-only: post a correcting movement")


def _refuse_bulk_change(state: ORMExecuteState) -> None:
    # Only ORM statements on the model: a tenant purge may still delete the table's rows.
    if (
        (state.is_update or state.is_delete)
        and state.bind_mapper is not None
        and state.bind_mapper.class_ is StockMovement
    ):
        raise LedgerImmutable("stock movements are append-only: post a correcting movement")


event.listen(StockMovement, "before_update", _refuse_row_change)
event.listen(StockMovement, "before_delete", _refuse_row_change)
event.listen(PergolaSession, "do_orm_execute", _refuse_bulk_change)
