"""Hooks the inventory addon offers to other addons."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.hookspecs import hookspec

if TYPE_CHECKING:
    from addons.inventory.models import Product, StockMovement


@hookspec
def stock_moved(movement: StockMovement) -> None:
    """Called in the mover's transaction after each stock movement is written (a transfer
    calls it for both sides); raise a `DomainError` to veto the movement. Returns nothing."""


@hookspec
def product_page_panels(product: Product) -> list[dict[str, Any]] | None:
    """Called when a product page is shown; return panels, each a dict with `title` and
    `html` (markup, escaped by the caller unless it is `markupsafe.Markup`)."""


@hookspec
def product_form_sections(product: Product | None) -> list[dict[str, Any]] | None:
    """Called when the product form is shown (`product` is None for a new one); return
    sections, each a dict with `title` and `html` to add below the form's fields."""
