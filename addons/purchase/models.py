"""Purchase's tables: supplier terms and prices, purchase orders, their lines and receipts."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base
from core.mixins import BusinessModel
from core.types import ExactDecimal, Money, Quantity, UTCDateTime

ORDER_STATES = (
    "draft",
    "sent",
    "confirmed",
    "partially_received",
    "received",
    "closed",
    "cancelled",
)
RECEIPT_KINDS = ("receipt", "return")


class PurchaseSettings(BusinessModel, Base):
    """The tenant's purchase settings (one row per tenant, created on first change)."""

    __tablename__ = "purchase_settings"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    # How far a receipt may go over the ordered quantity, in percent (0 = not at all).
    receipt_tolerance_pct: Mapped[Decimal] = mapped_column(ExactDecimal(9, 4), default=Decimal(0))
    default_currency: Mapped[str] = mapped_column(String(3), default="EUR")
    # The daily job makes reorder drafts only where the tenant asked for it.
    auto_reorder: Mapped[bool] = mapped_column(Boolean, default=False)


class Supplier(BusinessModel, Base):
    """Purchase's extension of a contacts account of kind vendor: its buying terms."""

    __tablename__ = "purchase_supplier"
    __table_args__ = (UniqueConstraint("tenant_id", "account_id"),)

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("contacts_account.id", ondelete="CASCADE"), index=True
    )
    payment_terms: Mapped[str] = mapped_column(String(100), default="")
    lead_time_days: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")


class SupplierPrice(BusinessModel, Base):
    """What a vendor charges for a product from a minimum quantity on."""

    __tablename__ = "purchase_supplier_price"
    __table_args__ = (UniqueConstraint("tenant_id", "account_id", "product_id", "min_quantity"),)

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("contacts_account.id", ondelete="CASCADE"), index=True
    )
    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("inventory_product.id", ondelete="CASCADE"), index=True
    )
    supplier_code: Mapped[str] = mapped_column(String(64), default="")
    price: Mapped[Money]
    min_quantity: Mapped[Quantity] = mapped_column(default=Decimal(1))


class PurchaseOrder(BusinessModel, Base):
    """An order to a vendor for goods delivered into one warehouse."""

    __tablename__ = "purchase_order"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        Index("ix_purchase_order_tenant_state", "tenant_id", "state"),
    )

    # None while a draft: numbers are drawn when the order first leaves the house.
    number: Mapped[str | None] = mapped_column(String(64))
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("contacts_account.id", ondelete="RESTRICT"), index=True
    )
    warehouse_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("inventory_warehouse.id", ondelete="RESTRICT"), index=True
    )
    order_date: Mapped[dt.date] = mapped_column(Date)
    expected_date: Mapped[dt.date | None] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(20), default="draft")
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    notes: Mapped[str] = mapped_column(Text, default="")
    amount_untaxed: Mapped[Money] = mapped_column(default=Decimal(0))
    amount_tax: Mapped[Money] = mapped_column(default=Decimal(0))
    amount_total: Mapped[Money] = mapped_column(default=Decimal(0))
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL")
    )

    lines: Mapped[list[PurchaseOrderLine]] = relationship(
        back_populates="order",
        order_by="PurchaseOrderLine.position",
        cascade="all, delete-orphan",
    )

    @property
    def reference(self) -> str:
        """The number, or 'Draft' before one was drawn."""
        return self.number or "Draft"


class PurchaseOrderLine(BusinessModel, Base):
    """One product on an order: what was ordered, at what cost, and how much arrived."""

    __tablename__ = "purchase_order_line"

    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("purchase_order.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("inventory_product.id", ondelete="RESTRICT"), index=True
    )
    description: Mapped[str] = mapped_column(String(200), default="")
    quantity: Mapped[Quantity]
    unit_cost: Mapped[Money]
    tax_rate: Mapped[Decimal] = mapped_column(ExactDecimal(9, 4), default=Decimal(0))
    discount_pct: Mapped[Decimal] = mapped_column(ExactDecimal(9, 4), default=Decimal(0))
    # Net of returns: what the warehouse holds from this line.
    received_qty: Mapped[Quantity] = mapped_column(default=Decimal(0))
    returned_qty: Mapped[Quantity] = mapped_column(default=Decimal(0))
    amount_net: Mapped[Money] = mapped_column(default=Decimal(0))
    amount_tax: Mapped[Money] = mapped_column(default=Decimal(0))

    order: Mapped[PurchaseOrder] = relationship(back_populates="lines")

    @property
    def open_qty(self) -> Decimal:
        """Ordered but not yet received (never below zero)."""
        return max(self.quantity - self.received_qty, Decimal(0))


class Receipt(BusinessModel, Base):
    """Goods arriving from (kind receipt) or going back to (kind return) the vendor."""

    __tablename__ = "purchase_receipt"
    __table_args__ = (UniqueConstraint("tenant_id", "number"),)

    number: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(10), default="receipt")
    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("purchase_order.id", ondelete="RESTRICT"), index=True
    )
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL")
    )

    order: Mapped[PurchaseOrder] = relationship()
    lines: Mapped[list[ReceiptLine]] = relationship(
        back_populates="receipt", cascade="all, delete-orphan"
    )


class ReceiptLine(BusinessModel, Base):
    """How much of one order line a receipt brought in (or sent back), at which cost."""

    __tablename__ = "purchase_receipt_line"

    receipt_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("purchase_receipt.id", ondelete="CASCADE"), index=True
    )
    order_line_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("purchase_order_line.id", ondelete="RESTRICT"), index=True
    )
    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("inventory_product.id", ondelete="RESTRICT"), index=True
    )
    quantity: Mapped[Quantity]
    unit_cost: Mapped[Money]

    receipt: Mapped[Receipt] = relationship(back_populates="lines")


__all__ = [
    "ORDER_STATES",
    "RECEIPT_KINDS",
    "PurchaseOrder",
    "PurchaseOrderLine",
    "PurchaseSettings",
    "Receipt",
    "ReceiptLine",
    "Supplier",
    "SupplierPrice",
]
