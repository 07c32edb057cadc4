"""The `shop` fixture addon's routes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Blueprint, jsonify, render_template
from sqlalchemy import select

from core.auth import require_permission
from core.db import session
from core.registry import hook
from core.tenancy import require_tenant_id
from tests.kernel_models import Project

bp = Blueprint("shop", __name__, url_prefix="/shop")


@bp.get("/")
@require_permission("shop.orders:read")
def index() -> Any:
    """The tenant's projects, and what `stock_moved` answers for this tenant."""
    notes = hook.stock_moved(tenant_id=require_tenant_id(), sku="X-1", quantity=Decimal("1"))
    names = session.scalars(select(Project.name).order_by(Project.name)).all()
    return jsonify(tenant=str(require_tenant_id()), projects=list(names), notes=notes)


@bp.get("/page")
@require_permission("shop.orders:read")
def page() -> Any:
    """A page rendered from the addon's own templates folder."""
    return render_template("shop/page.html", tenant=require_tenant_id())
