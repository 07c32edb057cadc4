"""Hooks the `stock` fixture addon offers to others."""

from __future__ import annotations

import uuid
from decimal import Decimal

from core.hookspecs import hookspec


@hookspec
def stock_moved(tenant_id: uuid.UUID, sku: str, quantity: Decimal) -> str | None:
    """Called after stock of `sku` moved by `quantity`; return a note for the caller."""
