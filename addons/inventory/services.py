"""Inventory's business rules: the catalogue, and the stock services purchase and sales call.

Stock changes only here, and only through `_move`: one conditional UPDATE of the stock
level (so the golden rule - available never below zero - holds under concurrency without
a read-then-write race), one ledger row, the `stock_moved` hook and an event, all inside a
savepoint so a refusal or a veto leaves nothing behind.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from typing import Any, cast

from flask import has_request_context
from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    case,
    func,
    literal,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from addons.inventory.models import (
    BUILTIN_UOMS,
    Category,
    KitComponent,
    Product,
    StockLevel,
    StockMovement,
    UnitOfMeasure,
    Warehouse,
    WarehouseUser,
)
from addons.inventory.schemas import (
    ProductSchema,
    ProductUpdateSchema,
    WarehouseSchema,
    load,
    parse_decimal,
)
from core.auth import check, current_principal
from core.db import session
from core.errors import Conflict, DomainError, NotFound, StaleVersion, ValidationError
from core.mixins import utcnow
from core.tenancy import require_tenant_id
from core.types import ExactDecimal

_Q4 = Decimal("0.0001")
# A literal SQL zero: a bound 0 would take the Decimal column type and reach SQLite as text,
# which compares greater than every number.
ZERO: ColumnElement[Any] = literal_column("0")


class InsufficientStock(DomainError):
    """An issue, reservation or transfer asked for more than is available; nothing changed."""

    code = "INSUFFICIENT_STOCK"
    status = 409


class DuplicateSku(Conflict):
    """Another product of the tenant has this SKU (whatever its case)."""

    code = "DUPLICATE_SKU"


@dataclass(frozen=True)
class Availability:
    """The answer of `check_availability`."""

    quantity_available: Decimal | None  # None for products that carry no stock (services)
    is_available: bool


# --- events and notifications ----------------------------------------------------------


def _emit(event_type: str, payload: Mapping[str, Any]) -> None:
    """Write `event_type` to the outbox in the current transaction (once events exist)."""
    try:
        from core.events import emit
    except ImportError:  # the kernel's events land separately; until then, no outbox
        return
    emit(event_type, payload)


def _notify_low(level_payload: Mapping[str, Any]) -> None:
    """Tell the members whose roles grant `inventory.reports:read` that stock ran low."""
    from core.identity import Role, membership_role
    from core.models import Membership
    from core.notifications import notify
    from core.permissions import granted

    tenant_id = require_tenant_id()
    rows = session.execute(
        select(Membership.user_id, Role.permissions)
        .join(membership_role, membership_role.c.membership_id == Membership.id)
        .join(Role, Role.id == membership_role.c.role_id)
        .where(Membership.tenant_id == tenant_id, Membership.active.is_(True))
    ).all()
    users = sorted(
        {uid for uid, perms in rows if granted(perms or [], "inventory.reports:read")}, key=str
    )
    if not users:
        return
    notify(
        users,
        f"Low stock: {level_payload['sku']} in {level_payload['warehouse_code']}",
        body=(
            f"{level_payload['name']}: {level_payload['available']} available, below the "
            f"reorder point {level_payload['reorder_point']}."
        ),
        link=f"/inventory/products/{level_payload['product_id']}",
        email=False,
    )


# --- lookups ---------------------------------------------------------------------------


def quantity(
    value: Any, field: str = "quantity", *, allow_zero: bool = False, signed: bool = False
) -> Decimal:
    """`value` as a stock quantity (4 decimal places), or VALIDATION_ERROR naming `field`."""
    q = parse_decimal(
        value,
        places=4,
        minimum=None if signed else Decimal(0),
        positive=not (allow_zero or signed),
        error=partial(ValidationError, field=field),
    )
    if signed and q == 0 and not allow_zero:
        raise ValidationError("must not be zero", field=field)
    return q


def _as_uuid(value: Any) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        return None


def get_product(ref: Any, field: str = "product") -> Product:
    """The product `ref` (a Product, its id, or its SKU), or VALIDATION_ERROR naming `field`."""
    if isinstance(ref, Product):
        return ref
    pid = _as_uuid(ref)
    stmt = select(Product)
    if pid is not None:
        stmt = stmt.where(Product.id == pid)
    elif isinstance(ref, str) and ref.strip():
        stmt = stmt.where(Product.sku_key == ref.strip().lower())
    else:
        raise ValidationError("no such product", field=field)
    product = session.scalar(stmt)
    if product is None:
        raise ValidationError("no such product", field=field)
    return product


def find_product(product_id: Any) -> Product:
    """The product with id `product_id`, or NOT_FOUND."""
    pid = _as_uuid(product_id)
    product = session.scalar(select(Product).where(Product.id == pid)) if pid else None
    if product is None:
        raise NotFound("no such product")
    return product


def get_warehouse(ref: Any, field: str = "warehouse", *, active: bool = True) -> Warehouse:
    """The warehouse `ref` (a Warehouse, its id or its code) the caller may see; else
    VALIDATION_ERROR naming `field` (record rules hide other storekeepers' warehouses)."""
    if isinstance(ref, Warehouse):
        wid: uuid.UUID | None = ref.id
    else:
        wid = _as_uuid(ref)
    stmt = select(Warehouse)
    if wid is not None:
        stmt = stmt.where(Warehouse.id == wid)
    elif isinstance(ref, str) and ref.strip():
        stmt = stmt.where(func.lower(Warehouse.code) == ref.strip().lower())
    else:
        raise ValidationError("no such warehouse", field=field)
    # Always through a query (not the identity map), so the record rules have their say.
    warehouse = session.scalar(stmt)
    if warehouse is None:
        raise ValidationError("no such warehouse", field=field)
    if active and not warehouse.active:
        raise ValidationError(f"warehouse {warehouse.code} is inactive", field=field)
    return warehouse


def _stocked(product: Product, field: str = "product") -> Product:
    if product.type == "service" or not product.track_inventory:
        raise ValidationError(
            f"{product.sku} is a {'service' if product.type == 'service' else 'non-stocked'} "
            "product: it carries no stock",
            field=field,
        )
    return product


def _user_id() -> uuid.UUID | None:
    principal = current_principal()
    return principal.user_id if principal is not None else None


def _require(permission: str) -> None:
    """Check `permission` for requests and authenticated callers; the CLI and jobs are trusted."""
    if current_principal() is not None or has_request_context():
        check(permission)


# --- the ledger -------------------------------------------------------------------------


def _ensure_level(product_id: uuid.UUID, warehouse_id: uuid.UUID) -> None:
    """Create the (product, warehouse) level at zero if missing; safe against a racing twin."""
    # Look before inserting: on PostgreSQL even an INSERT ... ON CONFLICT DO NOTHING waits
    # for a transaction that has updated the existing row, which would take that row's
    # lock out of the (product, warehouse) order and let two transfers deadlock.
    if session.scalar(
        select(StockLevel.id).where(
            StockLevel.product_id == product_id, StockLevel.warehouse_id == warehouse_id
        )
    ):
        return
    table = cast(Table, StockLevel.__table__)
    now = utcnow()
    values = {
        "id": uuid.uuid4(),
        "tenant_id": require_tenant_id(),
        "product_id": product_id,
        "warehouse_id": warehouse_id,
        "on_hand": Decimal(0),
        "reserved": Decimal(0),
        "is_low": False,
        "created_at": now,
        "updated_at": now,
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["tenant_id", "product_id", "warehouse_id"])
    )
    session.execute(stmt)


def _available_in(product_id: uuid.UUID, warehouse_id: uuid.UUID) -> Decimal:
    row = session.execute(
        select(StockLevel.on_hand, StockLevel.reserved).where(
            StockLevel.product_id == product_id, StockLevel.warehouse_id == warehouse_id
        )
    ).first()
    return (row[0] - row[1]) if row else Decimal(0)


def _insufficient(
    product: Product, warehouse: Warehouse, wanted: Decimal, field: str = "quantity"
) -> InsufficientStock:
    available = _available_in(product.id, warehouse.id)
    return InsufficientStock(
        f"insufficient stock of {product.sku} in {warehouse.code}: "
        f"{wanted.normalize():f} wanted, {available.normalize():f} available",
        details={field: [f"only {available.normalize():f} available"]},
    )


def _move(
    product: Product,
    warehouse: Warehouse,
    kind: str,
    *,
    on_hand: Decimal,
    reserved: Decimal = Decimal(0),
    guard: ColumnElement[bool] | None = None,
    unit_cost: Decimal | None = None,
    reference: tuple[str | None, str | None] = (None, None),
    reason: str = "",
    transfer_id: uuid.UUID | None = None,
) -> StockMovement | None:
    """Change one stock level atomically and write its ledger line; None when `guard` failed.

    The guard is part of the UPDATE's WHERE clause: on PostgreSQL a concurrent writer of the
    same row waits for our commit and then re-checks the guard against the new values, on
    SQLite writers are serialised by BEGIN IMMEDIATE; either way no check can go stale.
    """
    conditions = [StockLevel.product_id == product.id, StockLevel.warehouse_id == warehouse.id]
    if guard is not None:
        conditions.append(guard)
    stmt = (
        update(StockLevel)
        .where(*conditions)
        .values(
            on_hand=func.round(StockLevel.on_hand + on_hand, 4),
            reserved=func.round(StockLevel.reserved + reserved, 4),
            updated_at=utcnow(),
        )
        .returning(
            StockLevel.id,
            StockLevel.on_hand,
            StockLevel.reserved,
            StockLevel.reorder_point,
            StockLevel.is_low,
        )
        .execution_options(synchronize_session=False)
    )
    row = session.execute(stmt).first()
    if row is None:
        return None
    level_id, after, reserved_after, point, was_low = row
    # Re-quantise: SQLite hands back what its arithmetic made of the text we sent.
    after = ExactDecimal().process_result_value(after, session.get_bind().dialect) or Decimal(0)
    movement = StockMovement(
        product_id=product.id,
        warehouse_id=warehouse.id,
        kind=kind,
        quantity=on_hand,
        quantity_before=after - on_hand,
        quantity_after=after,
        reserved_change=reserved,
        reserved_after=reserved_after,
        unit_cost=unit_cost,
        reference_type=reference[0],
        reference_id=None if reference[1] is None else str(reference[1]),
        transfer_id=transfer_id,
        user_id=_user_id(),
        reason=reason or "",
    )
    session.add(movement)
    session.flush()
    from core.registry import hook

    hook.stock_moved(movement=movement)
    available = after - Decimal(reserved_after)
    _emit(
        "inventory.stock.updated",
        {
            "movement_id": movement.id,
            "kind": kind,
            "product_id": product.id,
            "sku": product.sku,
            "warehouse_id": warehouse.id,
            "warehouse_code": warehouse.code,
            "quantity_change": on_hand,
            "reserved_change": reserved,
            "on_hand": after,
            "reserved": reserved_after,
            "available": available,
            "reference_type": reference[0],
            "reference_id": movement.reference_id,
        },
    )
    _track_low(level_id, product, warehouse, available, point, was_low)
    return movement


def _track_low(
    level_id: uuid.UUID,
    product: Product,
    warehouse: Warehouse,
    available: Decimal,
    point: Decimal | None,
    was_low: bool,
) -> None:
    """Raise the low flag (and alert) when available crosses below the reorder point;
    lower it when stock recovers. The level's row lock makes the alert once per crossing."""
    is_low = point is not None and available < Decimal(point)
    if is_low == bool(was_low):
        return
    session.execute(
        update(StockLevel)
        .where(StockLevel.id == level_id)
        .values(is_low=is_low)
        .execution_options(synchronize_session=False)
    )
    if is_low:
        payload = {
            "product_id": product.id,
            "sku": product.sku,
            "name": product.name,
            "warehouse_id": warehouse.id,
            "warehouse_code": warehouse.code,
            "available": available,
            "reorder_point": point,
        }
        _emit("inventory.stock.low", payload)
        _notify_low(payload)


def _reference(reference: Any) -> tuple[str | None, str | None]:
    """`reference` as (document type, id): a tuple, a mapping, or None."""
    if reference is None:
        return (None, None)
    if isinstance(reference, Mapping):
        rtype, rid = reference.get("type"), reference.get("id")
    else:
        rtype, rid = reference
    if rtype is not None and len(str(rtype)) > 40:
        raise ValidationError("at most 40 characters", field="reference_type")
    if rid is not None and len(str(rid)) > 64:
        raise ValidationError("at most 64 characters", field="reference_id")
    return (None if rtype is None else str(rtype), None if rid is None else str(rid))


def _available_guard(q: Decimal) -> ColumnElement[bool]:
    # Arithmetic against 0, not `available >= :q`: SQLite compares a bound text number
    # with an expression as text, never as a number.
    # Rounded to the column's scale: SQLite keeps NUMERIC as REAL, and 0.7 + 0.1 must
    # leave exactly 0.8 available, not 0.7999999999999999.
    return func.round(StockLevel.on_hand - StockLevel.reserved - q, 4) >= ZERO


def receive(
    product: Any,
    warehouse: Any,
    qty: Any,
    unit_cost: Any = None,
    reference: Any = None,
    *,
    reason: str = "",
) -> StockMovement:
    """Put `qty` of `product` into `warehouse` (a purchase receipt, a return, a production
    output); a `unit_cost` updates the product's moving-average cost."""
    p = _stocked(get_product(product))
    w = get_warehouse(warehouse)
    q = quantity(qty)
    cost = None if unit_cost is None or unit_cost == "" else _cost(unit_cost)
    ref = _reference(reference)
    with session.begin_nested():
        if cost is not None:
            # Lock the product first (always product before levels): concurrent receipts
            # of one product then average one after the other. FOR NO KEY UPDATE, so that
            # movements inserted meanwhile (their foreign key takes KEY SHARE) do not wait.
            old_avg = session.execute(
                select(Product.average_cost)
                .where(Product.id == p.id)
                .with_for_update(key_share=True)
            ).scalar_one()
        _ensure_level(p.id, w.id)
        movement = _move(p, w, "receipt", on_hand=q, unit_cost=cost, reference=ref, reason=reason)
        assert movement is not None  # no guard on receipts
        if cost is not None:
            # Every warehouse counts, whatever the caller may see: the average is the
            # product's, not the storekeeper's.
            total_after = session.execute(
                select(func.coalesce(func.sum(StockLevel.on_hand), 0))
                .where(StockLevel.product_id == p.id)
                .execution_options(skip_record_rules=True)
            ).scalar_one()
            total_after = Decimal(str(total_after))
            total_before = total_after - q
            if total_before <= 0:
                new_avg = cost
            else:
                new_avg = (Decimal(old_avg) * total_before + cost * q) / total_after
            new_avg = new_avg.quantize(_Q4, rounding=ROUND_HALF_UP)
            # A Core UPDATE (not audited: the receipts in the ledger explain every change
            # of the average); the audit's locking re-read would deadlock with movements.
            table = cast(Table, Product.__table__)
            session.execute(
                table.update()
                .where(table.c.id == p.id, table.c.tenant_id == require_tenant_id())
                .values(average_cost=new_avg)
            )
            # In memory too, without marking the product dirty (no version bump, no race).
            set_committed_value(p, "average_cost", new_avg)
    return movement


def _cost(value: Any) -> Decimal:
    return parse_decimal(
        value, places=4, minimum=Decimal(0), error=partial(ValidationError, field="unit_cost")
    )


def issue(
    product: Any, warehouse: Any, qty: Any, reference: Any = None, *, reason: str = ""
) -> StockMovement:
    """Take `qty` of `product` out of `warehouse`; INSUFFICIENT_STOCK beyond what is available."""
    p = _stocked(get_product(product))
    w = get_warehouse(warehouse)
    q = quantity(qty)
    ref = _reference(reference)
    with session.begin_nested():
        movement = _move(
            p,
            w,
            "issue",
            on_hand=-q,
            guard=_available_guard(q),
            unit_cost=p.average_cost,
            reference=ref,
            reason=reason,
        )
        if movement is None:
            raise _insufficient(p, w, q)
    return movement


def reserve(
    product: Any, warehouse: Any, qty: Any, reference: Any = None, *, reason: str = ""
) -> StockMovement:
    """Set aside `qty` for an order: available drops, on hand stays (else INSUFFICIENT_STOCK)."""
    p = _stocked(get_product(product))
    w = get_warehouse(warehouse)
    q = quantity(qty)
    ref = _reference(reference)
    with session.begin_nested():
        movement = _move(
            p,
            w,
            "reservation",
            on_hand=Decimal(0),
            reserved=q,
            guard=_available_guard(q),
            reference=ref,
            reason=reason,
        )
        if movement is None:
            raise _insufficient(p, w, q)
    return movement


def release(
    product: Any, warehouse: Any, qty: Any, reference: Any = None, *, reason: str = ""
) -> StockMovement:
    """Give back `qty` of a reservation (an order was cancelled or changed)."""
    p = _stocked(get_product(product))
    w = get_warehouse(warehouse)
    q = quantity(qty)
    ref = _reference(reference)
    with session.begin_nested():
        movement = _move(
            p,
            w,
            "release",
            on_hand=Decimal(0),
            reserved=-q,
            guard=(StockLevel.reserved - q) >= ZERO,
            reference=ref,
            reason=reason,
        )
        if movement is None:
            raise ValidationError(
                f"cannot release more than is reserved of {p.sku} in {w.code}", field="quantity"
            )
    return movement


def consume_reservation(
    product: Any, warehouse: Any, qty: Any, reference: Any = None, *, reason: str = ""
) -> StockMovement:
    """Ship `qty` that was reserved: on hand and reserved both drop (a delivery of an order)."""
    p = _stocked(get_product(product))
    w = get_warehouse(warehouse)
    q = quantity(qty)
    ref = _reference(reference)
    with session.begin_nested():
        movement = _move(
            p,
            w,
            "consumption",
            on_hand=-q,
            reserved=-q,
            guard=(StockLevel.reserved - q) >= ZERO,
            unit_cost=p.average_cost,
            reference=ref,
            reason=reason,
        )
        if movement is None:
            raise ValidationError(
                f"cannot consume more than is reserved of {p.sku} in {w.code}", field="quantity"
            )
    return movement


def transfer(
    product: Any,
    from_warehouse: Any,
    to_warehouse: Any,
    qty: Any,
    reference: Any = None,
    *,
    reason: str = "",
) -> tuple[StockMovement, StockMovement]:
    """Move `qty` between two warehouses: both sides in one transaction, or neither."""
    p = _stocked(get_product(product))
    src = get_warehouse(from_warehouse, "from_warehouse")
    dst = get_warehouse(to_warehouse, "to_warehouse")
    if src.id == dst.id:
        raise ValidationError("must differ from from_warehouse", field="to_warehouse")
    q = quantity(qty)
    ref = _reference(reference)
    transfer_id = uuid.uuid4()
    moves: dict[str, StockMovement] = {}
    with session.begin_nested():
        _ensure_level(p.id, dst.id)
        # Lock the two levels in warehouse-id order: two opposite transfers cannot deadlock.
        for side in sorted(("out", "in"), key=lambda s: str((src if s == "out" else dst).id)):
            if side == "out":
                m = _move(
                    p,
                    src,
                    "transfer_out",
                    on_hand=-q,
                    guard=_available_guard(q),
                    unit_cost=p.average_cost,
                    reference=ref,
                    reason=reason,
                    transfer_id=transfer_id,
                )
                if m is None:
                    raise _insufficient(p, src, q)
            else:
                m = _move(
                    p,
                    dst,
                    "transfer_in",
                    on_hand=q,
                    unit_cost=p.average_cost,
                    reference=ref,
                    reason=reason,
                    transfer_id=transfer_id,
                )
                assert m is not None
            moves[side] = m
    return moves["out"], moves["in"]


def adjust(
    product: Any,
    warehouse: Any,
    qty: Any,
    reason: str,
    reference: Any = None,
    *,
    _permission: str | None = "inventory.stock:adjust",
) -> StockMovement:
    """Correct on-hand stock by the signed `qty` (needs `inventory.stock:adjust` and a reason);
    never below what is reserved."""
    if _permission:
        _require(_permission)
    p = _stocked(get_product(product))
    w = get_warehouse(warehouse)
    q = quantity(qty, signed=True)
    if not (reason or "").strip():
        raise ValidationError("an adjustment needs a reason", field="reason")
    ref = _reference(reference)
    with session.begin_nested():
        if q > 0:
            _ensure_level(p.id, w.id)
            movement = _move(
                p,
                w,
                "adjustment",
                on_hand=q,
                unit_cost=p.average_cost,
                reference=ref,
                reason=reason.strip(),
            )
        else:
            movement = _move(
                p,
                w,
                "adjustment",
                on_hand=q,
                guard=_available_guard(-q),
                unit_cost=p.average_cost,
                reference=ref,
                reason=reason.strip(),
            )
        if movement is None:
            raise _insufficient(p, w, -q)
    return movement


def count(
    warehouse: Any,
    counted: Mapping[Any, Any] | Iterable[tuple[Any, Any]],
    reason: str = "stock count",
) -> list[StockMovement]:
    """Record counted quantities for `warehouse`; each difference becomes an adjustment.

    All or nothing: a count below what is reserved is refused (INSUFFICIENT_STOCK) and no
    line of the count is applied.
    """
    _require("inventory.stock:count")
    w = get_warehouse(warehouse)
    items = list(counted.items()) if isinstance(counted, Mapping) else list(counted)
    if not items:
        raise ValidationError("count at least one product", field="counts")
    lines: list[tuple[Product, Decimal]] = []
    seen: set[uuid.UUID] = set()
    for ref, value in items:
        p = _stocked(get_product(ref))
        if p.id in seen:
            raise ValidationError(f"{p.sku} is counted twice", field="counts")
        seen.add(p.id)
        lines.append((p, quantity(value, "counted", allow_zero=True)))
    lines.sort(key=lambda line: str(line[0].id))  # consistent lock order
    count_id = str(uuid.uuid4())
    note = (reason or "stock count").strip()
    movements: list[StockMovement] = []
    with session.begin_nested():
        for p, wanted in lines:
            _ensure_level(p.id, w.id)
            level = session.execute(
                select(StockLevel.on_hand, StockLevel.reserved)
                .where(StockLevel.product_id == p.id, StockLevel.warehouse_id == w.id)
                .with_for_update(key_share=True)
            ).one()
            delta = wanted - Decimal(level.on_hand)
            if delta == 0:
                continue
            if wanted < Decimal(level.reserved):
                raise InsufficientStock(
                    f"{p.sku}: counted {wanted.normalize():f} but "
                    f"{Decimal(level.reserved).normalize():f} are reserved; release "
                    "reservations first",
                    details={"counted": [f"{p.sku}: below reserved"]},
                )
            m = adjust(
                p,
                w,
                delta,
                reason=f"{note} (counted {wanted.normalize():f})",
                reference=("stock_count", count_id),
                _permission=None,
            )
            movements.append(m)
    return movements


def check_availability(product: Any, warehouse: Any = None, qty: Any = None) -> Availability:
    """How much of `product` is available (in `warehouse`, or in all active ones), and whether
    `qty` (default: any) of it is."""
    p = get_product(product)
    wanted = None if qty is None or qty == "" else quantity(qty)
    if not p.stocked:
        return Availability(None, True)
    stmt = (
        select(func.coalesce(func.sum(StockLevel.on_hand - StockLevel.reserved), 0))
        .join(Warehouse, Warehouse.id == StockLevel.warehouse_id)
        .where(StockLevel.product_id == p.id)
    )
    if warehouse is not None and warehouse != "":
        stmt = stmt.where(StockLevel.warehouse_id == get_warehouse(warehouse).id)
    else:
        stmt = stmt.where(Warehouse.active.is_(True))
    raw = session.execute(stmt).scalar_one()
    available = ExactDecimal().process_result_value(raw, session.get_bind().dialect)
    available = available if available is not None else Decimal(0)
    ok = available >= wanted if wanted is not None else available > 0
    return Availability(available, ok)


# --- the catalogue ----------------------------------------------------------------------


def uom_codes() -> list[str]:
    """The built-in units and the tenant's own, by code."""
    own = session.scalars(select(UnitOfMeasure.code).order_by(UnitOfMeasure.code)).all()
    return [*BUILTIN_UOMS, *(c for c in own if c not in BUILTIN_UOMS)]


def create_uom(code: str, name: str) -> UnitOfMeasure:
    """Add a tenant-defined unit of measure."""
    code = (code or "").strip().upper()
    if not code or len(code) > 16:
        raise ValidationError("1 to 16 characters", field="code")
    if code in uom_codes():
        raise Conflict(f"unit {code} exists", details={"code": ["already exists"]})
    uom = UnitOfMeasure(code=code, name=(name or code).strip())
    session.add(uom)
    session.flush()
    return uom


def create_category(name: str, parent: Any = None) -> Category:
    """Add a category, optionally under `parent` (a Category or its id)."""
    name = (name or "").strip()
    if not name:
        raise ValidationError("required", field="name")
    parent_id = _category_id(parent, "parent_id")
    category = Category(name=name, parent_id=parent_id)
    session.add(category)
    session.flush()
    return category


def _category_id(ref: Any, field: str) -> uuid.UUID | None:
    if ref is None or ref == "":
        return None
    cid = ref.id if isinstance(ref, Category) else _as_uuid(ref)
    if cid is None or session.scalar(select(Category.id).where(Category.id == cid)) is None:
        raise ValidationError("no such category", field=field)
    return cid


def move_category(category: Category, parent: Any) -> None:
    """Put `category` under `parent` (None: top level); a category cannot be its own ancestor."""
    parent_id = _category_id(parent, "parent_id")
    walk = parent_id
    while walk is not None:
        if walk == category.id:
            raise ValidationError("a category cannot be inside itself", field="parent_id")
        walk = session.scalar(select(Category.parent_id).where(Category.id == walk))
    category.parent_id = parent_id
    session.flush()


def category_paths() -> dict[uuid.UUID, str]:
    """Every category's full path ("Hardware / Fasteners"), by id."""
    rows = session.execute(select(Category.id, Category.name, Category.parent_id)).all()
    by_id = {r.id: r for r in rows}

    def path(cid: uuid.UUID, depth: int = 0) -> str:
        r = by_id[cid]
        if r.parent_id is None or r.parent_id not in by_id or depth > 50:
            return str(r.name)
        return f"{path(r.parent_id, depth + 1)} / {r.name}"

    return {cid: path(cid) for cid in by_id}


def _check_product_fields(data: dict[str, Any]) -> None:
    if "uom" in data:
        data["uom"] = data["uom"].strip().upper()
        if data["uom"] not in uom_codes():
            raise ValidationError(f"unknown unit {data['uom']!r}", field="uom")
    if "category_id" in data:
        data["category_id"] = _category_id(data["category_id"], "category_id")
    if "sku" in data:
        data["sku"] = data["sku"].strip()
        if not data["sku"]:
            raise ValidationError("required", field="sku")


def _check_sku_free(sku: str, exclude: uuid.UUID | None = None) -> None:
    stmt = (
        select(Product.sku)
        .where(Product.sku_key == sku.lower())
        .execution_options(include_deleted=True)
    )
    if exclude is not None:
        stmt = stmt.where(Product.id != exclude)
    taken = session.scalar(stmt)
    if taken is not None:
        raise DuplicateSku(
            f"SKU {sku} is taken (by {taken})", details={"sku": [f"already used by {taken}"]}
        )


def _flush_product(product: Product) -> None:
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        # A concurrent insert of the same SKU won the race past our check.
        raise DuplicateSku(
            f"SKU {product.sku} is taken", details={"sku": ["already used"]}
        ) from None


def product_payload(product: Product) -> dict[str, Any]:
    """A product as the API and events show it."""
    return dict(ProductSchema().dump(product))


def create_product(data: Mapping[str, Any]) -> Product:
    """Create a product from `data` (validated here); DUPLICATE_SKU if its SKU is taken."""
    fields = load(ProductSchema(), dict(data))
    _check_product_fields(fields)
    _check_sku_free(fields["sku"])
    product = Product(**fields, sku_key=fields["sku"].lower())
    session.add(product)
    _flush_product(product)
    _emit("inventory.product.created", product_payload(product))
    return product


def update_product(product: Any, data: Mapping[str, Any]) -> Product:
    """Change the fields given in `data`; `version`, if given, must be the current one."""
    p = product if isinstance(product, Product) else find_product(product)
    fields = load(ProductUpdateSchema(), dict(data), partial=True)
    version = fields.pop("version", None)
    if version is not None and version != p.version:
        raise StaleVersion(
            "the product was changed by someone else since you loaded it; "
            "reload it and apply your change again",
            code="CONFLICT",
        )
    _check_product_fields(fields)
    if "sku" in fields and fields["sku"].lower() != p.sku_key:
        _check_sku_free(fields["sku"], exclude=p.id)
    if fields.get("type") == "service" and p.type != "service" and _on_hand_total(p) > 0:
        raise ValidationError("a product with stock on hand cannot become a service", field="type")
    changed = {k: v for k, v in fields.items() if getattr(p, k) != v}
    for key, value in changed.items():
        setattr(p, key, value)
    if "sku" in changed:
        p.sku_key = p.sku.lower()
    if changed:
        _flush_product(p)
        _emit("inventory.product.updated", {**product_payload(p), "changed": sorted(changed)})
    return p


def _on_hand_total(product: Product) -> Decimal:
    raw = session.scalar(
        select(func.coalesce(func.sum(StockLevel.on_hand), 0))
        .where(StockLevel.product_id == product.id)
        .execution_options(skip_record_rules=True)
    )
    return Decimal(str(raw or 0))


def archive_product(product: Any) -> Product:
    """Archive (soft-delete) a product that has no stock on hand."""
    p = product if isinstance(product, Product) else find_product(product)
    if _on_hand_total(p) > 0:
        raise Conflict(
            f"{p.sku} still has stock on hand: issue or adjust it to zero first",
            details={"product": ["stock on hand"]},
        )
    p.soft_delete()
    p.status = "discontinued"
    session.flush()
    _emit(
        "inventory.product.updated", {**product_payload(p), "changed": ["deleted"], "deleted": True}
    )
    return p


def set_components(kit: Any, components: Sequence[tuple[Any, Any]]) -> list[KitComponent]:
    """Replace the bill of materials of `kit` with (component, quantity) pairs."""
    p = kit if isinstance(kit, Product) else get_product(kit)
    wanted: dict[uuid.UUID, Decimal] = {}
    for ref, qty in components:
        c = get_product(ref, "components")
        if c.id == p.id:
            raise ValidationError("a kit cannot contain itself", field="components")
        if _contains(c.id, p.id):
            raise ValidationError(f"{c.sku} already contains {p.sku}", field="components")
        wanted[c.id] = wanted.get(c.id, Decimal(0)) + quantity(qty, "components")
    p.components.clear()
    session.flush()
    for cid, q in wanted.items():
        p.components.append(KitComponent(component_id=cid, quantity=q))
    session.flush()
    return list(p.components)


def _contains(kit_id: uuid.UUID, target: uuid.UUID, depth: int = 0) -> bool:
    if depth > 20:
        return True
    children = session.scalars(
        select(KitComponent.component_id).where(KitComponent.kit_id == kit_id)
    ).all()
    return any(c == target or _contains(c, target, depth + 1) for c in children)


def products_query(
    search: str = "", *, status: str | None = None, category: Any = None
) -> Select[tuple[Product]]:
    """The SELECT of products matching `search` (SKU or name contains, barcode equals)."""
    stmt = select(Product)
    if search and search.strip():
        like = f"%{search.strip().lower()}%"
        stmt = stmt.where(
            or_(
                Product.sku_key.like(like),
                func.lower(Product.name).like(like),
                Product.barcode == search.strip(),
            )
        )
    if status:
        stmt = stmt.where(Product.status == status)
    if category:
        stmt = stmt.where(Product.category_id == _category_id(category, "category"))
    return stmt


def stock_totals(products: Sequence[Product]) -> dict[uuid.UUID, tuple[Decimal, Decimal]]:
    """(on hand, reserved) over every warehouse the caller may see, per product given."""
    ids = [p.id for p in products]
    if not ids:
        return {}
    stmt = (
        select(
            StockLevel.product_id,
            func.sum(StockLevel.on_hand),
            func.sum(StockLevel.reserved),
        )
        .where(StockLevel.product_id.in_(ids))
        .group_by(StockLevel.product_id)
    )
    to_dec = ExactDecimal().process_result_value
    dialect = session.get_bind().dialect
    out = {pid: (Decimal(0), Decimal(0)) for pid in ids}
    for pid, on_hand, reserved in session.execute(stmt).all():
        out[pid] = (to_dec(on_hand, dialect) or Decimal(0), to_dec(reserved, dialect) or Decimal(0))
    return out


def list_products(
    *,
    search: str = "",
    status: str | None = None,
    category: Any = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Products with their on-hand, reserved and available totals, and the total count."""
    stmt = products_query(search, status=status, category=category)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    products = list(session.scalars(stmt.order_by(Product.sku_key).limit(limit).offset(offset)))
    totals = stock_totals(products)
    rows = []
    for product in products:
        oh, rs = totals[product.id]
        rows.append({"product": product, "on_hand": oh, "reserved": rs, "available": oh - rs})
    return rows, int(total)


# --- warehouses ---------------------------------------------------------------------------


def create_warehouse(data: Mapping[str, Any]) -> Warehouse:
    """Create a warehouse (its code unique in the tenant)."""
    _require("inventory.warehouses:manage")
    fields = load(WarehouseSchema(), dict(data))
    fields["code"] = fields["code"].strip().upper()
    if not fields["code"]:
        # Whitespace or control characters only: nothing a person could read on a label.
        raise ValidationError("a code is required", field="code")
    if not fields["name"].strip():
        raise ValidationError("a name is required", field="name")
    if session.scalar(select(Warehouse.id).where(Warehouse.code == fields["code"])):
        raise Conflict(f"warehouse {fields['code']} exists", details={"code": ["already used"]})
    warehouse = Warehouse(**fields)
    session.add(warehouse)
    session.flush()
    return warehouse


def update_warehouse(warehouse: Any, data: Mapping[str, Any]) -> Warehouse:
    """Change a warehouse's name, address or active flag."""
    _require("inventory.warehouses:manage")
    w = get_warehouse(warehouse, active=False)
    fields = load(WarehouseSchema(), dict(data), partial=True)
    fields.pop("code", None)  # codes are references on paper: they do not change
    for key, value in fields.items():
        setattr(w, key, value)
    session.flush()
    return w


def list_warehouses(*, include_inactive: bool = True) -> list[Warehouse]:
    """The warehouses the caller may see, by code."""
    stmt = select(Warehouse).order_by(Warehouse.code)
    if not include_inactive:
        stmt = stmt.where(Warehouse.active.is_(True))
    return list(session.scalars(stmt))


def assign_user(warehouse: Any, user_id: Any) -> None:
    """Assign a member of the tenant to a warehouse (idempotent)."""
    _require("inventory.warehouses:manage")
    from core.models import Membership

    w = get_warehouse(warehouse, active=False)
    uid = _as_uuid(user_id)
    if (
        uid is None
        or session.scalar(
            select(Membership.id).where(
                Membership.user_id == uid, Membership.tenant_id == require_tenant_id()
            )
        )
        is None
    ):
        raise ValidationError("no such member of this tenant", field="user_id")
    exists = session.scalar(
        select(WarehouseUser.id).where(
            WarehouseUser.warehouse_id == w.id, WarehouseUser.user_id == uid
        )
    )
    if exists is None:
        session.add(WarehouseUser(warehouse_id=w.id, user_id=uid))
        session.flush()


def unassign_user(warehouse: Any, user_id: Any) -> None:
    """Remove a user from a warehouse."""
    _require("inventory.warehouses:manage")
    w = get_warehouse(warehouse, active=False)
    for row in session.scalars(
        select(WarehouseUser).where(
            WarehouseUser.warehouse_id == w.id, WarehouseUser.user_id == _as_uuid(user_id)
        )
    ):
        session.delete(row)
    session.flush()


def warehouse_users(warehouse: Warehouse) -> list[uuid.UUID]:
    """Ids of the users assigned to `warehouse`."""
    return list(
        session.scalars(
            select(WarehouseUser.user_id).where(WarehouseUser.warehouse_id == warehouse.id)
        )
    )


# --- levels, reorder, history, reports ----------------------------------------------------


def stock_levels(product: Any) -> list[StockLevel]:
    """The product's levels in the warehouses the caller may see, by warehouse code."""
    p = get_product(product)
    return list(
        session.scalars(
            select(StockLevel)
            .join(Warehouse, Warehouse.id == StockLevel.warehouse_id)
            .where(StockLevel.product_id == p.id)
            .order_by(Warehouse.code)
        )
    )


def set_reorder(product: Any, warehouse: Any, point: Any, reorder_qty: Any = None) -> StockLevel:
    """Set the reorder point and quantity of a product in a warehouse (None clears them)."""
    _require("inventory.warehouses:manage")
    p = _stocked(get_product(product))
    w = get_warehouse(warehouse, active=False)
    pt = None if point is None or point == "" else quantity(point, "reorder_point", allow_zero=True)
    rq = (
        None
        if reorder_qty is None or reorder_qty == ""
        else quantity(reorder_qty, "reorder_quantity", allow_zero=True)
    )
    _ensure_level(p.id, w.id)
    level = session.scalars(
        select(StockLevel)
        .where(StockLevel.product_id == p.id, StockLevel.warehouse_id == w.id)
        .with_for_update(key_share=True)
    ).one()
    session.refresh(level)
    level.reorder_point, level.reorder_quantity = pt, rq
    session.flush()
    _track_low(level.id, p, w, level.available, pt, level.is_low)
    session.refresh(level)
    return level


def low_stock() -> list[dict[str, Any]]:
    """Levels whose available stock is below their reorder point, with a suggested order."""
    rows = session.execute(
        select(StockLevel, Product, Warehouse)
        .join(Product, Product.id == StockLevel.product_id)
        .join(Warehouse, Warehouse.id == StockLevel.warehouse_id)
        .where(
            StockLevel.reorder_point.is_not(None),
            (StockLevel.on_hand - StockLevel.reserved - StockLevel.reorder_point) < ZERO,
        )
        .order_by(Product.sku_key, Warehouse.code)
    ).all()
    out = []
    for level, product, warehouse in rows:
        point = level.reorder_point or Decimal(0)
        suggested = level.reorder_quantity or (point - level.available)
        out.append(
            {
                "level": level,
                "product": product,
                "warehouse": warehouse,
                "available": level.available,
                "reorder_point": point,
                "suggested_quantity": max(suggested, point - level.available),
            }
        )
    return out


def _encode_cursor(created_at: dt.datetime, mid: uuid.UUID) -> str:
    raw = f"{created_at.isoformat()}|{mid}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[dt.datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, mid = raw.split("|")
        return dt.datetime.fromisoformat(when), uuid.UUID(mid)
    except (ValueError, UnicodeDecodeError):
        raise ValidationError("invalid cursor", field="cursor") from None


def movements(
    *,
    product: Any = None,
    warehouse: Any = None,
    kind: str | None = None,
    reference_type: str | None = None,
    reference_id: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[StockMovement], str | None]:
    """Ledger lines, newest first, and the cursor of the next page (None at the end).

    Keyset pagination on (created_at, id) with the (tenant, product, created_at, id) index:
    page 1,000 costs what page 1 costs, however long the ledger.
    """
    if not 1 <= limit <= 500:
        raise ValidationError("between 1 and 500", field="limit")
    stmt = select(StockMovement)
    if product is not None and product != "":
        stmt = stmt.where(StockMovement.product_id == get_product(product).id)
    if warehouse is not None and warehouse != "":
        stmt = stmt.where(StockMovement.warehouse_id == get_warehouse(warehouse, active=False).id)
    if kind:
        stmt = stmt.where(StockMovement.kind == kind)
    if reference_type:
        stmt = stmt.where(StockMovement.reference_type == reference_type)
    if reference_id:
        stmt = stmt.where(StockMovement.reference_id == str(reference_id))
    if since is not None:
        stmt = stmt.where(StockMovement.created_at >= since)
    if until is not None:
        stmt = stmt.where(StockMovement.created_at < until)
    if cursor:
        at, mid = _decode_cursor(cursor)
        stmt = stmt.where(
            or_(
                StockMovement.created_at < at,
                and_(StockMovement.created_at == at, StockMovement.id < mid),
            )
        )
    stmt = stmt.order_by(StockMovement.created_at.desc(), StockMovement.id.desc()).limit(limit + 1)
    rows = list(session.scalars(stmt))
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = _encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
    return rows, nxt


def valuation(by: str = "warehouse") -> list[dict[str, Any]]:
    """Stock value (on hand x moving-average cost) per warehouse or per category, in SQL."""
    if by not in ("warehouse", "category"):
        raise ValidationError("must be 'warehouse' or 'category'", field="by")
    qty = func.sum(StockLevel.on_hand)
    value = func.sum(StockLevel.on_hand * Product.average_cost)
    base = (
        select()
        .select_from(StockLevel)
        .join(Product, Product.id == StockLevel.product_id)
        .where(StockLevel.on_hand > 0)
    )
    if by == "warehouse":
        stmt = (
            base.join(Warehouse, Warehouse.id == StockLevel.warehouse_id)
            .add_columns(
                Warehouse.id,
                Warehouse.code,
                Warehouse.name,
                func.count(func.distinct(StockLevel.product_id)),
                qty,
                value,
            )
            .group_by(Warehouse.id, Warehouse.code, Warehouse.name)
            .order_by(Warehouse.code)
        )
    else:
        label = func.coalesce(Category.name, literal("Uncategorised"))
        stmt = (
            base.outerjoin(Category, Category.id == Product.category_id)
            .add_columns(
                Category.id,
                case((Category.id.is_(None), literal(""))),
                label,
                func.count(func.distinct(StockLevel.product_id)),
                qty,
                value,
            )
            .group_by(Category.id, Category.name)
            .order_by(label)
        )
    dialect = session.get_bind().dialect
    to_dec = ExactDecimal(18, 4).process_result_value
    paths = category_paths() if by == "category" else {}
    out = []
    for gid, code, name, products, q, v in session.execute(stmt).all():
        out.append(
            {
                "id": gid,
                "code": code or "",
                "name": paths.get(gid, name) if by == "category" else name,
                "products": int(products),
                "quantity": to_dec(q, dialect) or Decimal(0),
                "value": (to_dec(v, dialect) or Decimal(0)).quantize(
                    Decimal("0.01"), rounding=ROUND_HALF_UP
                ),
            }
        )
    return out


def ledger_mismatches() -> list[dict[str, Any]]:
    """(product, warehouse) pairs whose levels differ from the sums of their movements."""
    sums = (
        select(
            StockMovement.product_id,
            StockMovement.warehouse_id,
            func.sum(StockMovement.quantity).label("q"),
            func.sum(StockMovement.reserved_change).label("r"),
        )
        .group_by(StockMovement.product_id, StockMovement.warehouse_id)
        .subquery()
    )
    rows = session.execute(
        select(
            StockLevel.product_id,
            StockLevel.warehouse_id,
            StockLevel.on_hand,
            StockLevel.reserved,
            sums.c.q,
            sums.c.r,
        ).outerjoin(
            sums,
            and_(
                sums.c.product_id == StockLevel.product_id,
                sums.c.warehouse_id == StockLevel.warehouse_id,
            ),
        )
    ).all()
    dialect = session.get_bind().dialect
    to_dec = ExactDecimal().process_result_value
    out = []
    for pid, wid, on_hand, reserved, q, r in rows:
        q, r = to_dec(q, dialect) or Decimal(0), to_dec(r, dialect) or Decimal(0)
        if q != on_hand or r != reserved:
            out.append(
                {
                    "product_id": pid,
                    "warehouse_id": wid,
                    "on_hand": on_hand,
                    "ledger_on_hand": q,
                    "reserved": reserved,
                    "ledger_reserved": r,
                }
            )
    return out


# --- CSV import and export ------------------------------------------------------------------

CSV_FIELDS = (
    "sku",
    "name",
    "barcode",
    "description",
    "uom",
    "type",
    "status",
    "standard_cost",
    "sales_price",
    "taxable",
    "tax_rate",
    "track_inventory",
)


def import_row(row: Mapping[str, Any]) -> str:
    """Create or update the product of one CSV row (by SKU); returns 'created' or 'updated'."""
    data: dict[str, Any] = {
        k: (v.strip() if isinstance(v, str) else v)
        for k, v in row.items()
        if k in CSV_FIELDS and v not in (None, "")
    }
    for flag in ("taxable", "track_inventory"):
        if flag in data:
            data[flag] = str(data[flag]).lower() in ("1", "true", "yes", "y")
    sku = data.get("sku", "")
    existing = session.scalar(select(Product).where(Product.sku_key == str(sku).lower()))
    if existing is None:
        create_product(data)
        return "created"
    update_product(existing, data)
    return "updated"


def export_csv(products: Iterable[Product] | None = None) -> str:
    """The products given (default: every product) as CSV text, in the format `import_row`
    reads."""
    import csv
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS)
    writer.writeheader()
    if products is None:
        products = session.scalars(select(Product).order_by(Product.sku_key))
    for p in products:
        writer.writerow(
            {
                f: (
                    "true"
                    if getattr(p, f) is True
                    else "false"
                    if getattr(p, f) is False
                    else getattr(p, f) or ""
                )
                for f in CSV_FIELDS
            }
        )
    return buf.getvalue()
