"""purchase's JSON API under /api/v1/purchase: thin — parse, call a service, dump."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Blueprint, request

from addons.purchase import services
from addons.purchase.schemas import (
    dump_order,
    dump_price,
    dump_receipt,
    dump_supplier,
)
from core.auth import require_permission
from core.db import session
from core.envelope import ok
from core.errors import ValidationError

bp = Blueprint("purchase_api", __name__, url_prefix="/api/v1/purchase")


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValidationError("the body must be a JSON object", field="body")
    return data


def _page() -> tuple[int, int]:
    try:
        limit = min(max(int(request.args.get("limit", 50)), 1), 200)
        offset = max(int(request.args.get("offset", 0)), 0)
    except ValueError:
        raise ValidationError("limit and offset must be whole numbers", field="limit") from None
    return limit, offset


@bp.get("/orders")
@require_permission("purchase.orders:read")
def list_orders() -> Any:
    """Orders, newest first; filters: state (comma-separated), account_id, q."""
    limit, offset = _page()
    state = request.args.get("state")
    page = services.list_orders(
        state=state.split(",") if state else None,
        account_id=request.args.get("account_id"),
        q=request.args.get("q"),
        limit=limit,
        offset=offset,
    )
    return ok(
        [dump_order(o) for o in page.items],
        extra_meta={"total": page.total, "limit": limit, "offset": offset},
    )


@bp.post("/orders")
@require_permission("purchase.orders:create")
def create_order() -> Any:
    """Create a draft order."""
    order = services.create_order(_body())
    session.commit()
    return ok(dump_order(order), 201)


@bp.get("/orders/<uuid:order_id>")
@require_permission("purchase.orders:read")
def get_order(order_id: Any) -> Any:
    """One order with its lines."""
    return ok(dump_order(services.get_order(order_id)))


@bp.route("/orders/<uuid:order_id>", methods=["PATCH", "PUT"])
@require_permission("purchase.orders:update")
def update_order(order_id: Any) -> Any:
    """Change a draft or sent order (PUT replaces, PATCH changes what is given)."""
    order = services.update_order(order_id, _body(), partial=request.method == "PATCH")
    session.commit()
    return ok(dump_order(order))


@bp.delete("/orders/<uuid:order_id>")
@require_permission("purchase.orders:update")
def delete_order(order_id: Any) -> Any:
    """Delete an unnumbered draft."""
    services.delete_order(order_id)
    session.commit()
    return ok({"deleted": str(order_id)})


def _transition(order_id: Any, action: Any) -> Any:
    order = action(order_id)
    session.commit()
    return ok(dump_order(order))


@bp.post("/orders/<uuid:order_id>/send")
@require_permission("purchase.orders:confirm")
def send_order(order_id: Any) -> Any:
    """Mail the order's PDF to the supplier and mark it sent."""
    from addons.purchase.documents import send_to_supplier

    order = send_to_supplier(order_id, to=_body().get("to"))
    session.commit()
    return ok(dump_order(order))


@bp.post("/orders/<uuid:order_id>/confirm")
@require_permission("purchase.orders:confirm")
def confirm_order(order_id: Any) -> Any:
    """Confirm the order (numbering it)."""
    return _transition(order_id, services.confirm_order)


@bp.post("/orders/<uuid:order_id>/cancel")
@require_permission("purchase.orders:cancel")
def cancel_order(order_id: Any) -> Any:
    """Cancel an order on which nothing was received."""
    return _transition(order_id, services.cancel_order)


@bp.post("/orders/<uuid:order_id>/close")
@require_permission("purchase.orders:cancel")
def close_order(order_id: Any) -> Any:
    """Close a (partly) received order."""
    return _transition(order_id, services.close_order)


@bp.post("/orders/<uuid:order_id>/receive")
@require_permission("purchase.orders:receive")
def receive(order_id: Any) -> Any:
    """Receive goods: {"lines": [{"line_id", "quantity"}], "note"}."""
    receipt = services.receive(order_id, _body())
    session.commit()
    return ok(dump_receipt(receipt), 201)


@bp.post("/orders/<uuid:order_id>/return")
@require_permission("purchase.orders:receive")
def return_goods(order_id: Any) -> Any:
    """Return received goods to the supplier."""
    receipt = services.return_goods(order_id, _body())
    session.commit()
    return ok(dump_receipt(receipt), 201)


@bp.get("/receipts")
@require_permission("purchase.orders:read")
def list_receipts() -> Any:
    """Receipts and returns, newest first; filter: order_id."""
    limit, offset = _page()
    rows, total = services.list_receipts(
        order_id=request.args.get("order_id"), limit=limit, offset=offset
    )
    return ok(
        [dump_receipt(r) for r in rows],
        extra_meta={"total": total, "limit": limit, "offset": offset},
    )


@bp.get("/receipts/<uuid:receipt_id>")
@require_permission("purchase.orders:read")
def get_receipt(receipt_id: Any) -> Any:
    """One receipt or return."""
    return ok(dump_receipt(services.get_receipt(receipt_id)))


@bp.get("/suppliers")
@require_permission("purchase.suppliers:read")
def list_suppliers() -> Any:
    """Vendors with their purchase terms and open order counts."""
    return ok([dump_supplier(s) for s in services.list_suppliers()])


@bp.put("/suppliers/<uuid:account_id>")
@require_permission("purchase.suppliers:manage")
def set_supplier(account_id: Any) -> Any:
    """Set a vendor's payment terms, lead time and currency."""
    services.set_supplier_terms({**_body(), "account_id": str(account_id)})
    session.commit()
    summary = next(s for s in services.list_suppliers() if s.account_id == account_id)
    return ok(dump_supplier(summary))


@bp.get("/supplier-prices")
@require_permission("purchase.suppliers:read")
def list_prices() -> Any:
    """Supplier prices; filters: account_id, product_id."""
    rows = services.supplier_prices(
        account_id=request.args.get("account_id"), product_id=request.args.get("product_id")
    )
    return ok([dump_price(p) for p in rows])


@bp.post("/supplier-prices")
@require_permission("purchase.suppliers:manage")
def set_price() -> Any:
    """Create or change a supplier price."""
    price = services.set_supplier_price(_body())
    session.commit()
    return ok(dump_price(price), 201)


@bp.delete("/supplier-prices/<uuid:price_id>")
@require_permission("purchase.suppliers:manage")
def delete_price(price_id: Any) -> Any:
    """Remove a supplier price."""
    services.delete_supplier_price(price_id)
    session.commit()
    return ok({"deleted": str(price_id)})


@bp.post("/reorder")
@require_permission("purchase.orders:create")
def reorder() -> Any:
    """Make draft orders from the reorder suggestions."""
    result = services.create_reorder_drafts()
    session.commit()
    return ok(
        {
            "orders": [dump_order(o) for o in result.orders],
            "skipped": [
                {"product_id": str(s.product_id), "reason": s.reason} for s in result.skipped
            ],
        },
        201,
    )


def _settings_dict() -> dict[str, Any]:
    found = services.get_settings()
    tolerance = Decimal(found.receipt_tolerance_pct).quantize(Decimal("0.0001"))
    return {
        "receipt_tolerance_pct": format(tolerance, "f"),
        "default_currency": found.default_currency,
        "auto_reorder": found.auto_reorder,
    }


@bp.get("/settings")
@require_permission("purchase.suppliers:read")
def get_settings() -> Any:
    """The tenant's purchase settings."""
    return ok(_settings_dict())


@bp.patch("/settings")
@require_permission("purchase.suppliers:manage")
def update_settings() -> Any:
    """Change the receipt tolerance %, default currency or daily auto-reorder."""
    services.update_settings(_body())
    session.commit()
    return ok(_settings_dict())
