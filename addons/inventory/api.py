"""inventory's JSON API under /api/v1/inventory (thin: parse, call a service, dump).

The standard CRUD of products and warehouses is declared as `core.api` resources (the
kernel serves list/get/create/bulk/PUT/PATCH/DELETE, backed by `services`); the stock
endpoints (transactions, transfers, counts, movements, reports, warehouse users, reorder
settings) stay hand-written on the `api` blueprint below.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from flask import Blueprint, request
from marshmallow import RAISE, Schema, fields
from sqlalchemy import delete, exists, or_, select

from addons.inventory import services
from addons.inventory.models import (
    Product,
    StockLevel,
    StockMovement,
    Warehouse,
    WarehouseUser,
)
from addons.inventory.schemas import (
    Amount,
    ProductSchema,
    ProductUpdateSchema,
    TransactionSchema,
    TransferSchema,
    WarehouseSchema,
    load,
)
from core.api import Resource
from core.auth import check, require_permission
from core.db import session
from core.envelope import ok
from core.errors import Conflict, ValidationError

api = Blueprint("inventory_api", __name__, url_prefix="/api/v1/inventory")


def _num(value: Decimal | None) -> str | None:
    return None if value is None else f"{value.normalize():f}"


def _int_arg(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError("must be a whole number", field=name) from None
    if not lo <= value <= hi:
        raise ValidationError(f"between {lo} and {hi}", field=name)
    return value


def _date_arg(name: str) -> dt.datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError("an ISO 8601 date or time", field=name) from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def movement_json(m: StockMovement) -> dict[str, Any]:
    """A ledger line as the API shows it."""
    return {
        "id": str(m.id),
        "created_at": m.created_at.isoformat(),
        "kind": m.kind,
        "product_id": str(m.product_id),
        "warehouse_id": str(m.warehouse_id),
        "quantity": _num(m.quantity),
        "quantity_before": _num(m.quantity_before),
        "quantity_after": _num(m.quantity_after),
        "reserved_change": _num(m.reserved_change),
        "reserved_after": _num(m.reserved_after),
        "unit_cost": _num(m.unit_cost),
        "reference_type": m.reference_type,
        "reference_id": m.reference_id,
        "transfer_id": str(m.transfer_id) if m.transfer_id else None,
        "user_id": str(m.user_id) if m.user_id else None,
        "reason": m.reason,
    }


def level_json(level: StockLevel) -> dict[str, Any]:
    """A stock level as the API shows it."""
    return {
        "product_id": str(level.product_id),
        "warehouse_id": str(level.warehouse_id),
        "on_hand": _num(level.on_hand),
        "reserved": _num(level.reserved),
        "available": _num(level.available),
        "reorder_point": _num(level.reorder_point),
        "reorder_quantity": _num(level.reorder_quantity),
        "is_low": level.is_low,
    }


# --- stock -------------------------------------------------------------------------------


@api.get("/stock/<product_id>/check")
@require_permission("inventory.stock:read")
def check_stock(product_id: str) -> Any:
    """`{quantity_available, is_available}` for `?warehouse=&quantity=`."""
    result = services.check_availability(
        services.find_product(product_id),
        request.args.get("warehouse") or None,
        request.args.get("quantity") or None,
    )
    return ok(
        {
            "product_id": product_id,
            "quantity_available": _num(result.quantity_available),
            "is_available": result.is_available,
        }
    )


_KIND_PERMISSION = {
    "receipt": "inventory.stock:receive",
    "issue": "inventory.stock:issue",
    "reservation": "inventory.stock:issue",
    "release": "inventory.stock:issue",
    "consumption": "inventory.stock:issue",
    "adjustment": "inventory.stock:adjust",
}


@api.post("/transactions")
@require_permission("inventory.stock:read")
def post_transaction() -> Any:
    """Record a stock change; the permission depends on its `kind` (event
    `inventory.stock.updated`)."""
    body = load(TransactionSchema(), request.get_json(silent=True))
    check(_KIND_PERMISSION[body["kind"]])
    ref = (body["reference_type"], body["reference_id"])
    args = (body["product"], body["warehouse"], body["quantity"])
    kind = body["kind"]
    if kind == "receipt":
        m = services.receive(
            *args, unit_cost=body["unit_cost"], reference=ref, reason=body["reason"]
        )
    elif kind == "adjustment":
        m = services.adjust(*args, reason=body["reason"], reference=ref)
    else:
        fn = {
            "issue": services.issue,
            "reservation": services.reserve,
            "release": services.release,
            "consumption": services.consume_reservation,
        }[kind]
        m = fn(*args, reference=ref, reason=body["reason"])
    session.commit()
    return ok(movement_json(m), 201)


@api.post("/transfers")
@require_permission("inventory.stock:transfer")
def post_transfer() -> Any:
    """Move stock between warehouses: both sides or neither."""
    body = load(TransferSchema(), request.get_json(silent=True))
    out, into = services.transfer(
        body["product"],
        body["from_warehouse"],
        body["to_warehouse"],
        body["quantity"],
        reference=(body["reference_type"], body["reference_id"]),
        reason=body["reason"],
    )
    session.commit()
    return ok(
        {"transfer_id": str(out.transfer_id), "out": movement_json(out), "in": movement_json(into)},
        201,
    )


@api.post("/counts")
@require_permission("inventory.stock:count")
def post_count() -> Any:
    """Counted quantities `{warehouse, counts: {product: qty}, reason}` → adjustments."""
    body = request.get_json(silent=True) or {}
    counts = body.get("counts")
    if not isinstance(counts, dict):
        raise ValidationError("an object of product → counted quantity", field="counts")
    moves = services.count(body.get("warehouse"), counts, body.get("reason") or "stock count")
    session.commit()
    return ok([movement_json(m) for m in moves], 201)


@api.get("/movements")
@require_permission("inventory.stock:read")
def list_movements() -> Any:
    """The ledger, newest first: `product`, `warehouse`, `kind`, `reference_type`,
    `reference_id`, `since`, `until`, `limit`, `cursor` (from `meta.next_cursor`)."""
    rows, nxt = services.movements(
        product=request.args.get("product") or None,
        warehouse=request.args.get("warehouse") or None,
        kind=request.args.get("kind") or None,
        reference_type=request.args.get("reference_type") or None,
        reference_id=request.args.get("reference_id") or None,
        since=_date_arg("since"),
        until=_date_arg("until"),
        limit=_int_arg("limit", 50, 1, 500),
        cursor=request.args.get("cursor") or None,
    )
    return ok([movement_json(m) for m in rows], extra_meta={"next_cursor": nxt})


@api.get("/low-stock")
@require_permission("inventory.reports:read")
def low_stock() -> Any:
    """Levels below their reorder point, with a suggested order quantity."""
    return ok(
        [
            {
                **level_json(r["level"]),
                "sku": r["product"].sku,
                "name": r["product"].name,
                "warehouse_code": r["warehouse"].code,
                "suggested_quantity": _num(r["suggested_quantity"]),
            }
            for r in services.low_stock()
        ]
    )


@api.get("/valuation")
@require_permission("inventory.reports:read")
def valuation() -> Any:
    """Stock value per warehouse (`?by=warehouse`, default) or per category."""
    rows = services.valuation(request.args.get("by", "warehouse"))
    total = sum((r["value"] for r in rows), Decimal(0))
    return ok(
        [
            {
                **r,
                "id": str(r["id"]) if r["id"] else None,
                "quantity": _num(r["quantity"]),
                "value": f"{r['value']:.2f}",
            }
            for r in rows
        ],
        extra_meta={"total_value": f"{total:.2f}"},
    )


# --- warehouses ----------------------------------------------------------------------------


@api.post("/warehouses/<warehouse_id>/users")
@require_permission("inventory.warehouses:manage")
def assign_user(warehouse_id: str) -> Any:
    """Assign `{user_id}` to the warehouse."""
    services.assign_user(warehouse_id, (request.get_json(silent=True) or {}).get("user_id"))
    session.commit()
    return ok({"warehouse_id": warehouse_id, "assigned": True}, 201)


@api.put("/stock/<product_id>/reorder")
@require_permission("inventory.warehouses:manage")
def set_reorder(product_id: str) -> Any:
    """Set `{warehouse, reorder_point, reorder_quantity}` for a product."""
    body = request.get_json(silent=True) or {}
    level = services.set_reorder(
        services.find_product(product_id),
        body.get("warehouse"),
        body.get("reorder_point"),
        body.get("reorder_quantity"),
    )
    session.commit()
    return ok(level_json(level))


# --- toolkit resources: products and warehouses ---------------------------------------------


class ProductInSchema(ProductSchema):
    """A product as POST and PUT take it: unknown fields are refused (422)."""

    class Meta:
        unknown = RAISE


class ProductPatchSchema(ProductUpdateSchema):
    """A PATCH: the fields to change; `version` (optional) works like `If-Match`."""

    class Meta:
        unknown = RAISE


class KitComponentSchema(Schema):
    """A line of a kit's bill of materials (`?expand=components`)."""

    component_id = fields.UUID(dump_only=True)
    quantity = Amount(dump_only=True)


class WarehouseInSchema(WarehouseSchema):
    """A warehouse as POST, PUT and PATCH take it (`code` cannot change after creation)."""

    class Meta:
        unknown = RAISE


class WarehouseOutSchema(WarehouseSchema):
    """A warehouse as the API shows it."""

    version = fields.Integer(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


def _create_product(data: dict[str, Any]) -> Product:
    return services.create_product(data)


def _update_product(product: Product, data: dict[str, Any]) -> Product:
    return services.update_product(product, data)


def _archive_product(product: Product) -> None:
    services.archive_product(product)


def _create_warehouse(data: dict[str, Any]) -> Warehouse:
    return services.create_warehouse(data)


def _update_warehouse(warehouse: Warehouse, data: dict[str, Any]) -> Warehouse:
    return services.update_warehouse(warehouse, data)


def _delete_warehouse(warehouse: Warehouse) -> None:
    """Delete a warehouse that never held stock; one with history is deactivated instead."""
    used = session.scalar(
        select(
            or_(
                exists().where(StockLevel.warehouse_id == warehouse.id),
                exists().where(StockMovement.warehouse_id == warehouse.id),
            )
        ).execution_options(skip_record_rules=True)
    )
    if used:
        raise Conflict(
            f"warehouse {warehouse.code} has stock history: deactivate it instead "
            '(PATCH {"active": false})',
            details={"warehouse": ["has stock history"]},
        )
    session.execute(delete(WarehouseUser).where(WarehouseUser.warehouse_id == warehouse.id))
    session.delete(warehouse)


products = Resource(
    "products",
    Product,
    ProductSchema,
    "inventory.products",
    create_schema=ProductInSchema,
    update_schema=ProductPatchSchema,
    filterable=("sku", "name", "status", "type", "category_id", "created_at"),
    sortable=("sku", "name", "created_at"),
    searchable=("sku", "name", "barcode"),
    expandable={"components": KitComponentSchema},
    default_sort=("sku",),
    create=_create_product,
    update=_update_product,
    delete=_archive_product,
    summary="Products of the catalogue (DELETE archives a product without stock)",
)

warehouses = Resource(
    "warehouses",
    Warehouse,
    WarehouseOutSchema,
    {
        "read": "inventory.warehouses:read",
        "create": "inventory.warehouses:manage",
        "update": "inventory.warehouses:manage",
        "delete": "inventory.warehouses:manage",
    },
    create_schema=WarehouseInSchema,
    filterable=("code", "name", "created_at"),
    sortable=("code", "name", "created_at"),
    searchable=("code", "name"),
    default_sort=("code",),
    create=_create_warehouse,
    update=_update_warehouse,
    delete=_delete_warehouse,
    summary="Warehouses and branches (storekeepers see only their own)",
)
