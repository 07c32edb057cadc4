"""purchase's JSON API under /api/v1/purchase.

Orders, receipts and supplier prices are kernel toolkit resources (served by `core.api`
through `register_api_resources`): lists with filters, sort, search, sparse fields and
both kinds of paging, ETag/If-Match, idempotency keys, bulk create and the OpenAPI
document. The rules stay in `services`: the resources' create, update, delete and actions
call them. What is not a record's CRUD keeps its own routes on the `purchase_api`
blueprint: the supplier list and terms, reorder, and the settings.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, request

from addons.purchase import services
from addons.purchase.models import PurchaseOrder, Receipt, SupplierPrice
from addons.purchase.schemas import (
    OrderCreateInput,
    OrderInput,
    OrderOut,
    ReceiptOut,
    ReceiveInput,
    ReorderOut,
    SendInput,
    SettingsInput,
    SettingsOut,
    SupplierOut,
    SupplierPriceChange,
    SupplierPriceInput,
    SupplierPriceOut,
    SupplierTermsInput,
)
from core.api import Action, Resource, documented
from core.api.body import json_object
from core.api.idempotency import idempotent
from core.auth import require_permission
from core.envelope import ok
from core.errors import NotFound, ValidationError

bp = Blueprint("purchase_api", __name__, url_prefix="/api/v1/purchase")


# --- orders -------------------------------------------------------------------------------


def _create_order(data: dict[str, Any]) -> PurchaseOrder:
    return services.create_order(data)


def _update_order(order: PurchaseOrder, data: dict[str, Any]) -> PurchaseOrder:
    # PUT replaces (lines left out are removed); PATCH changes the given fields.
    return services.update_order(order.id, data, partial=request.method != "PUT")


def _delete_order(order: PurchaseOrder) -> None:
    services.delete_order(order.id)


def _send(order: PurchaseOrder, data: dict[str, Any]) -> PurchaseOrder:
    from addons.purchase.documents import send_to_supplier

    return send_to_supplier(order.id, to=data.get("to"))


def _confirm(order: PurchaseOrder, _data: dict[str, Any]) -> PurchaseOrder:
    return services.confirm_order(order.id)


def _cancel(order: PurchaseOrder, _data: dict[str, Any]) -> PurchaseOrder:
    return services.cancel_order(order.id)


def _close(order: PurchaseOrder, _data: dict[str, Any]) -> PurchaseOrder:
    return services.close_order(order.id)


def _receive(order: PurchaseOrder, data: dict[str, Any]) -> dict[str, Any]:
    return dict(ReceiptOut().dump(services.receive(order.id, data)))


def _return(order: PurchaseOrder, data: dict[str, Any]) -> dict[str, Any]:
    return dict(ReceiptOut().dump(services.return_goods(order.id, data)))


orders = Resource(
    "orders",
    PurchaseOrder,
    OrderOut,
    {
        "read": "purchase.orders:read",
        "create": "purchase.orders:create",
        "update": "purchase.orders:update",
        "delete": "purchase.orders:update",  # the manifest's update covers deleting drafts
    },
    create_schema=OrderCreateInput,
    update_schema=OrderInput,
    filterable=(
        "state",
        "account_id",
        "warehouse_id",
        "order_date",
        "expected_date",
        "number",
        "created_at",
    ),
    sortable=("created_at", "number", "order_date", "expected_date", "amount_total"),
    # Supplier names live in contacts, whose tables purchase does not query: number only.
    searchable=("number",),
    default_sort=("-created_at",),
    load=("lines",),
    actions=(
        Action(
            "send",
            _send,
            "purchase.orders:confirm",
            schema=SendInput,
            summary="Mark the order sent (numbering it) and mail its PDF to the supplier",
        ),
        Action(
            "confirm",
            _confirm,
            "purchase.orders:confirm",
            summary="Confirm a draft or sent order (numbering it)",
        ),
        Action(
            "cancel",
            _cancel,
            "purchase.orders:cancel",
            summary="Cancel an order on which nothing was received",
        ),
        Action(
            "close",
            _close,
            "purchase.orders:cancel",
            summary="Close a (partly) received order: nothing more is expected",
        ),
        Action(
            "receive",
            _receive,
            "purchase.orders:receive",
            schema=ReceiveInput,
            status=201,
            summary="Receive goods into the order's warehouse; answers the receipt",
        ),
        Action(
            "return",
            _return,
            "purchase.orders:receive",
            schema=ReceiveInput,
            status=201,
            summary="Return received goods to the supplier; answers the return",
        ),
    ),
    create=_create_order,
    update=_update_order,
    delete=_delete_order,
    summary="Purchase orders with their lines (DELETE removes an unnumbered draft only)",
)

receipts = Resource(
    "receipts",
    Receipt,
    ReceiptOut,
    {"read": "purchase.orders:read"},
    filterable=("order_id", "kind", "number", "received_at"),
    sortable=("received_at", "number"),
    searchable=("number",),
    default_sort=("-received_at",),
    load=("lines",),
    read_only=True,
    summary="Receipts and returns (made by the orders' receive and return actions)",
)


# --- supplier prices ---------------------------------------------------------------------

TIER = ("account_id", "product_id", "min_quantity")


def _set_price(data: dict[str, Any]) -> SupplierPrice:
    return services.set_supplier_price(data)


def _change_price(price: SupplierPrice, data: dict[str, Any]) -> SupplierPrice:
    # The tier (vendor, product, minimum quantity) is what set_supplier_price finds the row
    # by; a PUT naming another tier would change a different price, so it is refused.
    for name in TIER:
        if name in data and data[name] != getattr(price, name):
            raise ValidationError(
                "cannot change; delete this price and create one for the other "
                "vendor, product or minimum quantity",
                field=name,
            )
    current = {
        "supplier_code": price.supplier_code,
        "price": price.price,
        **{name: getattr(price, name) for name in TIER},
    }
    return services.set_supplier_price({**current, **data})


def _delete_price(price: SupplierPrice) -> None:
    services.delete_supplier_price(price.id)


supplier_prices = Resource(
    "supplier-prices",
    SupplierPrice,
    SupplierPriceOut,
    {
        "read": "purchase.suppliers:read",
        "create": "purchase.suppliers:manage",
        "update": "purchase.suppliers:manage",
        "delete": "purchase.suppliers:manage",
    },
    create_schema=SupplierPriceInput,
    update_schema=SupplierPriceChange,
    filterable=("account_id", "product_id", "min_quantity", "price"),
    sortable=("product_id", "min_quantity", "price", "created_at"),
    searchable=("supplier_code",),
    default_sort=("product_id", "min_quantity"),
    create=_set_price,
    update=_change_price,
    delete=_delete_price,
    summary="What vendors charge for products from a minimum quantity on "
    "(POST of an existing tier changes its price)",
)


# --- the routes that are not a record's CRUD -----------------------------------------------


def _supplier(account_id: uuid.UUID) -> dict[str, Any]:
    summary = next((s for s in services.list_suppliers() if s.account_id == account_id), None)
    if summary is None:  # set_supplier_terms checked it is a vendor; this is a safety net
        raise NotFound("no such vendor", details={"account_id": [str(account_id)]})
    return dict(SupplierOut().dump(summary))


@bp.get("/suppliers")
@require_permission("purchase.suppliers:read")
@documented(response=SupplierOut, many=True)
def list_suppliers() -> Any:
    """Vendors with their purchase terms and open order counts."""
    return ok(SupplierOut(many=True).dump(services.list_suppliers()))


@bp.put("/suppliers/<uuid:account_id>")
@require_permission("purchase.suppliers:manage")
@idempotent
@documented(body=SupplierTermsInput, response=SupplierOut)
def set_supplier(account_id: uuid.UUID) -> Any:
    """Set a vendor's payment terms, lead time and currency (what is left out is reset)."""
    services.set_supplier_terms({**json_object(), "account_id": str(account_id)})
    return ok(_supplier(account_id))


@bp.post("/reorder")
@require_permission("purchase.orders:create")
@idempotent
@documented(response=ReorderOut, status=201)
def reorder() -> Any:
    """Make draft orders from the reorder suggestions (one per supplier and warehouse)."""
    return ok(ReorderOut().dump(services.create_reorder_drafts()), 201)


@bp.get("/settings")
@require_permission("purchase.suppliers:read")
@documented(response=SettingsOut)
def get_settings() -> Any:
    """The tenant's purchase settings."""
    return ok(SettingsOut().dump(services.get_settings()))


@bp.patch("/settings")
@require_permission("purchase.suppliers:manage")
@idempotent
@documented(body=SettingsInput, response=SettingsOut)
def update_settings() -> Any:
    """Change the receipt tolerance %, default currency or daily auto-reorder."""
    return ok(SettingsOut().dump(services.update_settings(json_object())))
