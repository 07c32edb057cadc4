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
from marshmallow import RAISE, Schema, fields, validate
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
)
from core.api import Resource, documented
from core.api.body import json_object, load
from core.api.query import DEFAULT_PER_PAGE, MAX_PER_PAGE
from core.auth import check, require_permission
from core.db import session
from core.envelope import ok
from core.errors import Conflict, ValidationError

api = Blueprint("inventory_api", __name__, url_prefix="/api/v1/inventory")
# The write routes flush and never commit: the kernel runs each as one unit of work
# (committed with its Idempotency-Key record on a 2xx answer, rolled back otherwise).


# --- what the stock routes take and answer (for the OpenAPI document) ---------------------


class MovementOut(Schema):
    """A ledger line."""

    id = fields.UUID()
    created_at = fields.String()
    kind = fields.String()
    product_id = fields.UUID()
    warehouse_id = fields.UUID()
    quantity = fields.String()
    quantity_before = fields.String(allow_none=True)
    quantity_after = fields.String(allow_none=True)
    reserved_change = fields.String(allow_none=True)
    reserved_after = fields.String(allow_none=True)
    unit_cost = fields.String(allow_none=True)
    reference_type = fields.String(allow_none=True)
    reference_id = fields.String(allow_none=True)
    transfer_id = fields.UUID(allow_none=True)
    user_id = fields.UUID(allow_none=True)
    reason = fields.String(allow_none=True)


class TransferOut(Schema):
    """Both sides of a transfer."""

    transfer_id = fields.UUID()
    out = fields.Nested(MovementOut)
    into = fields.Nested(MovementOut, data_key="in")


class LevelOut(Schema):
    """A stock level."""

    product_id = fields.UUID()
    warehouse_id = fields.UUID()
    on_hand = fields.String()
    reserved = fields.String()
    available = fields.String()
    reorder_point = fields.String(allow_none=True)
    reorder_quantity = fields.String(allow_none=True)
    is_low = fields.Boolean()


class LowStockOut(LevelOut):
    """A level below its reorder point, with what to order."""

    sku = fields.String()
    name = fields.String()
    warehouse_code = fields.String()
    suggested_quantity = fields.String(allow_none=True)


class ValuationOut(Schema):
    """The stock value of a warehouse or a category."""

    id = fields.UUID(allow_none=True)
    code = fields.String()
    name = fields.String()
    products = fields.Integer()
    quantity = fields.String()
    value = fields.String()


class AvailabilityOut(Schema):
    """Whether a quantity is available."""

    product_id = fields.String()
    quantity_available = fields.String(
        allow_none=True,
        metadata={"description": "null for a product whose stock is not tracked (a service)"},
    )
    is_available = fields.Boolean()


class AssignedOut(Schema):
    """A storekeeper assigned to a warehouse."""

    warehouse_id = fields.String()
    assigned = fields.Boolean()


class AvailabilityQuery(Schema):
    """Query of GET /stock/<product>/check."""

    warehouse = fields.String(metadata={"description": "A warehouse id or code (default: all)"})
    quantity = fields.String(metadata={"description": "The quantity wanted"})


class MovementsQuery(Schema):
    """Query of GET /movements."""

    product = fields.String()
    warehouse = fields.String()
    kind = fields.String()
    reference_type = fields.String()
    reference_id = fields.String()
    since = fields.DateTime()
    until = fields.DateTime()
    per_page = fields.Integer(
        load_default=DEFAULT_PER_PAGE, validate=validate.Range(min=1, max=MAX_PER_PAGE)
    )
    cursor = fields.String(
        metadata={"description": "meta.pagination.next_cursor of the previous page"}
    )


class ValuationQuery(Schema):
    """Query of GET /valuation."""

    by = fields.String(load_default="warehouse", validate=validate.OneOf(("warehouse", "category")))


class CountIn(Schema):
    """Body of POST /counts (unknown fields are refused, like every body here)."""

    warehouse = fields.String(required=True)
    # Quantities are checked by the service, so forms and Python callers get the same words.
    counts = fields.Dict(keys=fields.String(), values=fields.Raw(), required=True)
    reason = fields.String(load_default="stock count")


class AssignUserIn(Schema):
    """Body of POST /warehouses/<id>/users."""

    user_id = fields.UUID(required=True)


class ReorderIn(Schema):
    """Body of PUT /stock/<product>/reorder (a point or quantity left out or null clears it)."""

    warehouse = fields.String(required=True)
    reorder_point = fields.Raw(allow_none=True, load_default=None)
    reorder_quantity = fields.Raw(allow_none=True, load_default=None)


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
@documented(query=AvailabilityQuery, response=AvailabilityOut)
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
@documented(body=TransactionSchema, response=MovementOut, status=201)
def post_transaction() -> Any:
    """Record a stock change; the permission depends on its `kind` (event
    `inventory.stock.updated`)."""
    body = load(TransactionSchema(), json_object())
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
    return ok(movement_json(m), 201)


@api.post("/transfers")
@require_permission("inventory.stock:transfer")
@documented(body=TransferSchema, response=TransferOut, status=201)
def post_transfer() -> Any:
    """Move stock between warehouses: both sides or neither."""
    body = load(TransferSchema(), json_object())
    out, into = services.transfer(
        body["product"],
        body["from_warehouse"],
        body["to_warehouse"],
        body["quantity"],
        reference=(body["reference_type"], body["reference_id"]),
        reason=body["reason"],
    )
    return ok(
        {"transfer_id": str(out.transfer_id), "out": movement_json(out), "in": movement_json(into)},
        201,
    )


@api.post("/counts")
@require_permission("inventory.stock:count")
@documented(body=CountIn, response=MovementOut, many=True, status=201)
def post_count() -> Any:
    """Counted quantities `{warehouse, counts: {product: qty}, reason}` → adjustments."""
    body = load(CountIn(), json_object())
    moves = services.count(body["warehouse"], body["counts"], body["reason"] or "stock count")
    return ok([movement_json(m) for m in moves], 201)


@api.get("/movements")
@require_permission("inventory.stock:read")
@documented(query=MovementsQuery, response=MovementOut, many=True, paginated=True)
def list_movements() -> Any:
    """The ledger, newest first: `product`, `warehouse`, `kind`, `reference_type`,
    `reference_id`, `since`, `until`, `per_page`, `cursor` (`meta.pagination.next_cursor`)."""
    unknown = sorted(set(request.args) - set(MovementsQuery().fields))
    if unknown:
        # A typo (or the old `limit=`) would otherwise be ignored without a word.
        raise ValidationError(
            f"unknown query parameter {unknown[0]!r}; use one of "
            f"{', '.join(MovementsQuery().fields)}",
            field=unknown[0],
        )
    per_page = _int_arg("per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
    rows, nxt = services.movements(
        product=request.args.get("product") or None,
        warehouse=request.args.get("warehouse") or None,
        kind=request.args.get("kind") or None,
        reference_type=request.args.get("reference_type") or None,
        reference_id=request.args.get("reference_id") or None,
        since=_date_arg("since"),
        until=_date_arg("until"),
        limit=per_page,
        cursor=request.args.get("cursor") or None,
    )
    return ok(
        [movement_json(m) for m in rows],
        extra_meta={"pagination": {"per_page": per_page, "next_cursor": nxt}},
    )


@api.get("/low-stock")
@require_permission("inventory.reports:read")
@documented(response=LowStockOut, many=True)
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
@documented(query=ValuationQuery, response=ValuationOut, many=True)
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
@documented(body=AssignUserIn, response=AssignedOut, status=201)
def assign_user(warehouse_id: str) -> Any:
    """Assign `{user_id}` to the warehouse."""
    services.assign_user(warehouse_id, load(AssignUserIn(), json_object())["user_id"])
    return ok({"warehouse_id": warehouse_id, "assigned": True}, 201)


@api.put("/stock/<product_id>/reorder")
@require_permission("inventory.warehouses:manage")
@documented(body=ReorderIn, response=LevelOut)
def set_reorder(product_id: str) -> Any:
    """Set `{warehouse, reorder_point, reorder_quantity}` for a product."""
    body = load(ReorderIn(), json_object())
    level = services.set_reorder(
        services.find_product(product_id),
        body["warehouse"],
        body["reorder_point"],
        body["reorder_quantity"],
    )
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
