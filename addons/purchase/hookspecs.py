"""Hooks the purchase addon offers to others (invoicing makes vendor bills from them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.hookspecs import hookspec

if TYPE_CHECKING:
    from addons.purchase.models import PurchaseOrder, Receipt


@hookspec
def purchase_order_confirmed(order: PurchaseOrder) -> None:
    """Called in the confirming transaction once `order` is confirmed and numbered; raise a
    `DomainError` to veto the confirmation (nothing is written). Returns nothing."""


@hookspec
def goods_received(receipt: Receipt) -> None:
    """Called in the receiving transaction after `receipt` (kind `receipt` or `return`) has
    moved the stock; raise a `DomainError` to veto it (nothing is written). Returns nothing."""
