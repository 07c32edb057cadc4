"""Business rules of purchase: the API, web pages, CLI, jobs and other addons call these.

Purchase reads and changes contacts' and inventory's data only through their services
(the small adapters in `addons.purchase.partners`), never through their models.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Select, func, select, update

from addons.purchase import partners
from addons.purchase.models import (
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseSettings,
    Receipt,
    ReceiptLine,
    Supplier,
    SupplierPrice,
)
from addons.purchase.schemas import (
    OrderInput,
    ReceiveInput,
    SettingsInput,
    SupplierInput,
    SupplierPriceInput,
    load,
)
from core.auth import current_principal
from core.db import session
from core.errors import Conflict, NotFound, ValidationError
from core.mixins import utcnow
from core.registry import hook
from core.sequences import next_number

log = logging.getLogger("pergola.purchase")

ORDER_PATTERN = "PO-{year}-{seq:05d}"
RECEIPT_PATTERN = "GR-{year}-{seq:05d}"
RETURN_PATTERN = "RT-{year}-{seq:05d}"
# ISO 4217 currencies without minor units; every other currency rounds to cents.
ZERO_DECIMAL_CURRENCIES = frozenset({"JPY", "KRW", "ISK", "CLP", "VND", "XAF", "XOF", "UGX"})
OPEN_STATES = ("sent", "confirmed", "partially_received")
RECEIVABLE_STATES = ("confirmed", "partially_received")
RETURNABLE_STATES = ("partially_received", "received", "closed")
EDITABLE_STATES = ("draft", "sent")


class IllegalTransition(Conflict):
    """The order's state does not allow this action."""

    code = "INVALID_STATE"


# --- events -----------------------------------------------------------------------------


def emit(event_type: str, payload: Mapping[str, Any]) -> None:
    """Write a purchase event to the kernel's outbox (dispatched only after commit)."""
    from core.events import emit as kernel_emit

    kernel_emit(event_type, payload)


def _user_id() -> uuid.UUID | None:
    principal = current_principal()
    return principal.user_id if principal else None


def _uuid(value: Any, field_name: str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise ValidationError("not a valid id", field=field_name) from None


# --- money ------------------------------------------------------------------------------


def cents(amount: Decimal, currency: str = "EUR") -> Decimal:
    """`amount` rounded half-up to the currency's minor unit (cents for most)."""
    quantum = Decimal(1) if currency in ZERO_DECIMAL_CURRENCIES else Decimal("0.01")
    return amount.quantize(quantum, rounding=ROUND_HALF_UP)


def net_unit_cost(unit_cost: Decimal, discount_pct: Decimal) -> Decimal:
    """The unit cost after the line's discount, to four places (what the stock is worth)."""
    return (unit_cost * (1 - discount_pct / 100)).quantize(
        Decimal("0.0001"), rounding=ROUND_HALF_UP
    )


@dataclass(frozen=True)
class LineAmounts:
    """The money of one line: net (after discount) and tax, each rounded to cents."""

    net: Decimal
    tax: Decimal


@dataclass(frozen=True)
class Totals:
    """An order's totals: the sum of its rounded lines (so lines always add up)."""

    lines: list[LineAmounts]
    untaxed: Decimal
    tax: Decimal
    total: Decimal


def line_amounts(
    quantity: Decimal,
    unit_cost: Decimal,
    discount_pct: Decimal,
    tax_rate: Decimal,
    currency: str = "EUR",
) -> LineAmounts:
    """net = qty * unit cost * (1 - discount), tax = net * rate; each rounded half-up."""
    net = cents(quantity * unit_cost * (1 - discount_pct / 100), currency)
    return LineAmounts(net=net, tax=cents(net * tax_rate / 100, currency))


def compute_totals(lines: Iterable[Mapping[str, Any]], currency: str = "EUR") -> Totals:
    """Totals of lines given as mappings of quantity, unit_cost, discount_pct, tax_rate."""
    amounts = [
        line_amounts(
            Decimal(line.get("quantity") or 0),
            Decimal(line.get("unit_cost") or 0),
            Decimal(line.get("discount_pct") or 0),
            Decimal(line.get("tax_rate") or 0),
            currency,
        )
        for line in lines
    ]
    untaxed = sum((a.net for a in amounts), Decimal(0))
    tax = sum((a.tax for a in amounts), Decimal(0))
    return Totals(amounts, untaxed, tax, untaxed + tax)


# --- settings ---------------------------------------------------------------------------


def get_settings() -> PurchaseSettings:
    """The tenant's purchase settings (defaults, not saved, until someone changes them)."""
    found = session.scalar(select(PurchaseSettings))
    return found or PurchaseSettings(
        receipt_tolerance_pct=Decimal(0), default_currency="EUR", auto_reorder=False
    )


def update_settings(data: Mapping[str, Any]) -> PurchaseSettings:
    """Change the tenant's purchase settings (receipt tolerance, default currency)."""
    values = load(SettingsInput(), data, partial=True)
    current = session.scalar(select(PurchaseSettings))
    if current is None:
        current = PurchaseSettings(
            receipt_tolerance_pct=Decimal(0), default_currency="EUR", auto_reorder=False
        )
        session.add(current)
    for name, value in values.items():
        setattr(current, name, value)
    session.flush()
    return current


# --- suppliers --------------------------------------------------------------------------


def require_vendor(account_id: Any, field_name: str = "account_id") -> Any:
    """The contacts account `account_id` if it is a live vendor; else a ValidationError."""
    account = partners.account(_uuid(account_id, field_name), field_name)
    if "vendor" not in (account.kinds or []):
        raise ValidationError(
            f"{account.name} is not a vendor: mark the account as a vendor in Contacts first",
            field=field_name,
        )
    return account


def get_supplier(account_id: Any) -> Supplier | None:
    """Purchase's terms of vendor `account_id`, or None when none were set."""
    return session.scalar(
        select(Supplier).where(Supplier.account_id == _uuid(account_id, "account_id"))
    )


def set_supplier_terms(data: Mapping[str, Any]) -> Supplier:
    """Create or change a vendor's payment terms, lead time and currency."""
    values = load(SupplierInput(), data)
    require_vendor(values["account_id"])
    supplier = get_supplier(values["account_id"])
    if supplier is None:
        supplier = Supplier(**values)
        session.add(supplier)
    else:
        for name, value in values.items():
            setattr(supplier, name, value)
    session.flush()
    return supplier


@dataclass(frozen=True)
class SupplierSummary:
    """A vendor as the supplier list shows it: account, terms and order figures."""

    account_id: uuid.UUID
    name: str
    terms: Supplier | None
    open_orders: int
    prices: int


def list_suppliers() -> list[SupplierSummary]:
    """Every vendor of the tenant with its terms and how many orders are open."""
    vendors = partners.vendors()
    ids = [v.id for v in vendors]
    terms = (
        {
            s.account_id: s
            for s in session.scalars(select(Supplier).where(Supplier.account_id.in_(ids)))
        }
        if ids
        else {}
    )
    open_counts = dict(
        session.execute(
            select(PurchaseOrder.account_id, func.count())
            .where(PurchaseOrder.state.in_(OPEN_STATES))
            .group_by(PurchaseOrder.account_id)
        ).all()
    )
    price_counts = dict(
        session.execute(
            select(SupplierPrice.account_id, func.count()).group_by(SupplierPrice.account_id)
        ).all()
    )
    return [
        SupplierSummary(
            v.id, v.name, terms.get(v.id), open_counts.get(v.id, 0), price_counts.get(v.id, 0)
        )
        for v in vendors
    ]


def set_supplier_price(data: Mapping[str, Any]) -> SupplierPrice:
    """Create or change a vendor's price for a product from a minimum quantity on."""
    values = load(SupplierPriceInput(), data)
    require_vendor(values["account_id"])
    require_purchasable(values["product_id"], "product_id")
    price = session.scalar(
        select(SupplierPrice).where(
            SupplierPrice.account_id == values["account_id"],
            SupplierPrice.product_id == values["product_id"],
            SupplierPrice.min_quantity == values["min_quantity"],
        )
    )
    if price is None:
        price = SupplierPrice(**values)
        session.add(price)
    else:
        price.price = values["price"]
        price.supplier_code = values["supplier_code"]
    session.flush()
    return price


def delete_supplier_price(price_id: Any) -> None:
    """Remove a supplier price."""
    price = session.get(SupplierPrice, _uuid(price_id, "id"))
    if price is None:
        raise NotFound("no such supplier price", details={"id": ["no such record"]})
    session.delete(price)
    session.flush()


def supplier_prices(*, account_id: Any = None, product_id: Any = None) -> list[SupplierPrice]:
    """Supplier prices, optionally of one vendor or one product."""
    stmt = select(SupplierPrice)
    if account_id is not None:
        stmt = stmt.where(SupplierPrice.account_id == _uuid(account_id, "account_id"))
    if product_id is not None:
        stmt = stmt.where(SupplierPrice.product_id == _uuid(product_id, "product_id"))
    return list(
        session.scalars(stmt.order_by(SupplierPrice.product_id, SupplierPrice.min_quantity))
    )


def supplier_price(
    account_id: uuid.UUID, product_id: uuid.UUID, quantity: Decimal
) -> SupplierPrice | None:
    """The vendor's price for `quantity` of the product: the highest tier it reaches."""
    return session.scalar(
        select(SupplierPrice)
        .where(
            SupplierPrice.account_id == account_id,
            SupplierPrice.product_id == product_id,
            SupplierPrice.min_quantity <= quantity,
        )
        .order_by(SupplierPrice.min_quantity.desc())
        .limit(1)
    )


@dataclass(frozen=True)
class SupplierMerge:
    """What merging vendor `duplicate_id` into `master_id` did to purchase's data."""

    orders_moved: int = 0
    # The master had no terms: the duplicate's became the master's.
    terms_moved: bool = False
    # Terms fields the master had empty (no payment terms, lead time 0) and took from the
    # duplicate's.
    terms_filled: tuple[str, ...] = ()
    # Terms fields where both had a value and the master's was kept: field → the duplicate's.
    terms_dropped: Mapping[str, Any] = field(default_factory=dict)
    prices_moved: int = 0
    # Products both vendors had prices for: the master's price list was kept.
    prices_dropped_for: tuple[uuid.UUID, ...] = ()

    @property
    def moved(self) -> int:
        """How many rows now point at the master instead of the duplicate."""
        return self.orders_moved + int(self.terms_moved) + self.prices_moved

    def dropped(self) -> list[str]:
        """What the merge did not keep, in sentences for the person who merged."""
        out = [
            f"the duplicate's purchase {name.replace('_', ' ')} {value!r} (the master's was kept)"
            for name, value in self.terms_dropped.items()
        ]
        if self.prices_dropped_for:
            listed = ", ".join(_product_label(p) for p in self.prices_dropped_for)
            out.append(f"the duplicate's supplier prices for {listed} (the master's were kept)")
        return out


def _product_label(product_id: uuid.UUID) -> str:
    try:
        product = partners.product(product_id)
    except (NotFound, ValidationError):
        return str(product_id)  # archived since: its id still says which
    return f"{product.sku} {product.name}"


# A term holding this value was never set: a merge fills it from the duplicate's.
_UNSET_TERMS = {"payment_terms": "", "lead_time_days": 0}


def merge_supplier(master_id: Any, duplicate_id: Any) -> SupplierMerge:
    """Move a merged duplicate vendor's purchase data to the master account: every order
    (whatever its state), its terms and its prices. The master's terms take the duplicate's
    where they were unset; where both set one, or both have prices for a product, the
    master's stay and the duplicate's are deleted (the audit log keeps them); the result
    says which. A supplier price has no currency of its own (it is in its vendor's purchase
    currency), so vendors buying in different currencies are not merged while either has
    prices: Conflict. Called by contacts' merge, in its transaction."""
    master = _uuid(master_id, "master_id")
    duplicate = _uuid(duplicate_id, "duplicate_id")
    mine, theirs = get_supplier(master), get_supplier(duplicate)
    default = get_settings().default_currency
    currencies = (mine.currency if mine else default, theirs.currency if theirs else default)
    if currencies[0] != currencies[1] and session.scalar(
        select(func.count())
        .select_from(SupplierPrice)
        .where(SupplierPrice.account_id.in_((master, duplicate)))
    ):
        names = partners.account_names((master, duplicate))
        raise Conflict(
            f"{names[duplicate]} is bought from in {currencies[1]} and {names[master]} in "
            f"{currencies[0]}: merging would change what their supplier prices mean; give "
            "both the same purchase currency first",
            code="CURRENCY_MISMATCH",
            details={"currency": list(currencies)},
        )
    # A bulk UPDATE (audited by the kernel); the version bump makes open forms stale.
    moved = session.execute(
        update(PurchaseOrder)
        .where(PurchaseOrder.account_id == duplicate)
        .values(account_id=master, version=PurchaseOrder.version + 1)
        .execution_options(synchronize_session="fetch")
    )
    orders = int(getattr(moved, "rowcount", 0) or 0)
    terms_moved = False
    filled: list[str] = []
    terms_dropped: dict[str, Any] = {}
    if theirs is not None and mine is None:
        theirs.account_id = master
        terms_moved = True
    elif theirs is not None and mine is not None:
        for name in ("payment_terms", "lead_time_days", "currency"):
            ours, other = getattr(mine, name), getattr(theirs, name)
            if other == ours or other == _UNSET_TERMS.get(name):
                continue
            if name in _UNSET_TERMS and ours == _UNSET_TERMS[name]:
                setattr(mine, name, other)
                filled.append(name)
            else:
                terms_dropped[name] = other
        session.delete(theirs)
    kept_products = set(
        session.scalars(select(SupplierPrice.product_id).where(SupplierPrice.account_id == master))
    )
    prices_moved = 0
    dropped: set[uuid.UUID] = set()
    for price in supplier_prices(account_id=duplicate):
        if price.product_id in kept_products:
            # Tiers from two price lists would not make one list: keep the master's whole.
            session.delete(price)
            dropped.add(price.product_id)
        else:
            price.account_id = master
            prices_moved += 1
    session.flush()
    result = SupplierMerge(
        orders_moved=orders,
        terms_moved=terms_moved,
        terms_filled=tuple(filled),
        terms_dropped=terms_dropped,
        prices_moved=prices_moved,
        prices_dropped_for=tuple(sorted(dropped, key=str)),
    )
    if terms_dropped or dropped:
        log.info("merge of vendor %s into %s kept the master's: %s", duplicate, master, result)
    return result


# --- orders -----------------------------------------------------------------------------


def require_purchasable(product_id: Any, field_name: str) -> Any:
    """The product if it can be bought into stock: active and not a service."""
    product = partners.product(_uuid(product_id, field_name), field_name)
    if product.status != "active":
        raise ValidationError(
            f"{product.name} is {product.status}, not active: it cannot be ordered",
            field=field_name,
        )
    if product.type == "service" or not product.track_inventory:
        kind = "a service" if product.type == "service" else "not stocked"
        raise ValidationError(
            f"{product.name} is {kind}: it cannot be received into stock", field=field_name
        )
    return product


def get_order(order_id: Any) -> PurchaseOrder:
    """The tenant's purchase order `order_id`, or NotFound."""
    order = session.get(PurchaseOrder, _uuid(order_id, "id"))
    if order is None:
        raise NotFound("no such purchase order", details={"id": ["no such record"]})
    return order


@dataclass
class OrderPage:
    """One page of orders and the total it was cut from."""

    items: list[PurchaseOrder]
    total: int


def orders_query(
    *, state: str | Sequence[str] | None = None, account_id: Any = None, q: str | None = None
) -> Select[tuple[PurchaseOrder]]:
    """The SELECT of orders in `state`(s), of vendor `account_id`, whose number contains `q`."""
    stmt = select(PurchaseOrder)
    if state:
        states = [state] if isinstance(state, str) else list(state)
        stmt = stmt.where(PurchaseOrder.state.in_(states))
    if account_id:
        stmt = stmt.where(PurchaseOrder.account_id == _uuid(account_id, "account_id"))
    if q and q.strip():
        stmt = stmt.where(PurchaseOrder.number.ilike(f"%{q.strip()}%"))
    return stmt


def list_orders(
    *,
    state: str | Sequence[str] | None = None,
    account_id: Any = None,
    q: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> OrderPage:
    """Orders, newest first, filtered by state(s), vendor or number."""
    stmt = orders_query(state=state, account_id=account_id, q=q)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    items = session.scalars(
        stmt.order_by(PurchaseOrder.created_at.desc(), PurchaseOrder.id).limit(limit).offset(offset)
    )
    return OrderPage(list(items), total)


@dataclass(frozen=True)
class OpenOrders:
    """How many open orders (sent, confirmed, partly received) in one currency, and their total."""

    currency: str
    count: int
    total: Decimal


def open_orders_summary() -> list[OpenOrders]:
    """Open orders counted and summed per currency (one GROUP BY), for the dashboard."""
    rows = session.execute(
        select(PurchaseOrder.currency, func.count(), func.sum(PurchaseOrder.amount_total))
        .where(PurchaseOrder.state.in_(OPEN_STATES))
        .group_by(PurchaseOrder.currency)
        .order_by(PurchaseOrder.currency)
    ).all()
    return [OpenOrders(c, n, cents(Decimal(t or 0), c)) for c, n, t in rows]


def _validated(
    data: Mapping[str, Any], *, partial: bool = False, current: PurchaseOrder | None = None
) -> dict[str, Any]:
    """Schema, then the rules that need other addons; every error at once, nothing written."""
    values = load(OrderInput(), data, partial=partial)
    errors: dict[str, list[str]] = {}

    def check(field_name: str, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except (ValidationError, NotFound) as exc:
            errors.setdefault(field_name, []).append(exc.message)
            return None

    account_id = values.get("account_id", current.account_id if current else None)
    if "account_id" in values:
        check("account_id", require_vendor, values["account_id"])
    if "warehouse_id" in values:
        check("warehouse_id", partners.warehouse, values["warehouse_id"], "warehouse_id")
    products: dict[int, Any] = {}
    for i, line in enumerate(values.get("lines") or []):
        product = check(
            f"lines.{i}.product_id",
            require_purchasable,
            line["product_id"],
            f"lines.{i}.product_id",
        )
        if product is not None:
            products[i] = product
    if errors:
        raise ValidationError(details=errors)
    currency = values.get("currency") or (current.currency if current else None)
    if not currency:
        terms = get_supplier(account_id) if account_id else None
        currency = terms.currency if terms else get_settings().default_currency
    values["currency"] = currency
    for i, line in enumerate(values.get("lines") or []):
        product = products[i]
        if line.get("unit_cost") is None:
            tier = supplier_price(account_id, product.id, line["quantity"]) if account_id else None
            line["unit_cost"] = tier.price if tier else Decimal(product.standard_cost or 0)
        if line.get("tax_rate") is None:
            line["tax_rate"] = Decimal(product.tax_rate or 0) if product.taxable else Decimal(0)
        if not line.get("description"):
            line["description"] = product.name[:200]
    return values


def _apply_lines(order: PurchaseOrder, lines: list[dict[str, Any]]) -> None:
    """Make the order's lines these (matching by id where given); recompute the totals."""
    existing = {ln.id: ln for ln in order.lines}
    kept: list[PurchaseOrderLine] = []
    for i, data in enumerate(lines):
        line_id = data.pop("id", None)
        line = existing.pop(line_id, None) if line_id else None
        if line is None:
            line = PurchaseOrderLine(received_qty=Decimal(0), returned_qty=Decimal(0))
        for name, value in data.items():
            setattr(line, name, value)
        line.position = i
        kept.append(line)
    order.lines = kept
    _recompute(order)


def _recompute(order: PurchaseOrder) -> None:
    totals = compute_totals(
        [
            {
                "quantity": ln.quantity,
                "unit_cost": ln.unit_cost,
                "discount_pct": ln.discount_pct,
                "tax_rate": ln.tax_rate,
            }
            for ln in order.lines
        ],
        order.currency,
    )
    for line, amounts in zip(order.lines, totals.lines, strict=True):
        line.amount_net, line.amount_tax = amounts.net, amounts.tax
    order.amount_untaxed, order.amount_tax = totals.untaxed, totals.tax
    order.amount_total = totals.total


def create_order(data: Mapping[str, Any]) -> PurchaseOrder:
    """Create a draft order; empty unit costs come from supplier prices, then standard cost."""
    values = _validated(data)
    values.pop("version", None)
    lines = values.pop("lines")
    order = PurchaseOrder(
        state="draft", order_date=utcnow().date(), created_by=_user_id(), **values
    )
    session.add(order)
    _apply_lines(order, lines)
    session.flush()
    return order


def update_order(order_id: Any, data: Mapping[str, Any], *, partial: bool = True) -> PurchaseOrder:
    """Change a draft (or sent) order; `version` in `data` guards against lost updates."""
    order = get_order(order_id)
    _require_state(order, EDITABLE_STATES, "edit")
    values = _validated(data, partial=partial, current=order)
    version = values.pop("version", None)
    if version is not None and version != order.version:
        raise Conflict(
            "the order was changed by someone else since you loaded it; reload it",
            details={"version": [f"current version is {order.version}"]},
        )
    lines = values.pop("lines", None)
    for name, value in values.items():
        setattr(order, name, value)
    if lines is not None:
        _apply_lines(order, lines)
    else:
        _recompute(order)
    session.flush()
    return order


def delete_order(order_id: Any) -> None:
    """Delete a draft that never got a number (numbered orders are cancelled instead)."""
    order = get_order(order_id)
    if order.state != "draft" or order.number:
        raise IllegalTransition(
            f"order {order.reference} is {order.state}: only unnumbered drafts can be deleted; "
            "cancel it instead"
        )
    session.delete(order)
    session.flush()


def _require_state(order: PurchaseOrder, allowed: Sequence[str], action: str) -> None:
    if order.state not in allowed:
        raise IllegalTransition(
            f"cannot {action} order {order.reference}: it is {order.state.replace('_', ' ')} "
            f"(only {', '.join(s.replace('_', ' ') for s in allowed)} orders can be)",
            details={"state": [order.state]},
        )


def _number(order: PurchaseOrder) -> None:
    # Drawn when the order first leaves the house (sent or confirmed): drafts can be thrown
    # away freely, yet every document a supplier sees carries its number, without gaps.
    if not order.number:
        order.number = next_number("purchase.order", ORDER_PATTERN)


def send_order(order_id: Any) -> PurchaseOrder:
    """Mark an order as sent to the supplier (numbering it); sending again is allowed."""
    order = get_order(order_id)
    _require_state(order, EDITABLE_STATES, "send")
    if not order.lines:
        raise ValidationError("add at least one line before sending the order", field="lines")
    _number(order)
    order.state = "sent"
    order.sent_at = utcnow()
    session.flush()
    return order


def confirm_order(order_id: Any) -> PurchaseOrder:
    """Confirm an order: the supplier will deliver; goods can be received against it."""
    order = get_order(order_id)
    _require_state(order, EDITABLE_STATES, "confirm")
    if not order.lines:
        raise ValidationError("add at least one line before confirming the order", field="lines")
    for i, line in enumerate(order.lines):
        # The product may have been archived or changed since the draft was written.
        require_purchasable(line.product_id, f"lines.{i}.product_id")
    # A savepoint, so that a veto from a hookimpl leaves no number drawn and no state changed.
    with session.begin_nested():
        _number(order)
        order.state = "confirmed"
        order.confirmed_at = utcnow()
        session.flush()
        hook.purchase_order_confirmed(order=order)
        emit("purchase.order.confirmed", _order_payload(order))
    return order


def cancel_order(order_id: Any) -> PurchaseOrder:
    """Cancel an order on which nothing has been received."""
    order = get_order(order_id)
    if any(ln.received_qty or ln.returned_qty for ln in order.lines):
        raise IllegalTransition(
            f"cannot cancel order {order.reference}: goods have been received against it "
            "(return them, or close the order instead)",
            details={"state": [order.state]},
        )
    _require_state(order, ("draft", "sent", "confirmed"), "cancel")
    order.state = "cancelled"
    session.flush()
    return order


def close_order(order_id: Any) -> PurchaseOrder:
    """Close a (partly) received order: nothing more is expected from the supplier."""
    order = get_order(order_id)
    _require_state(order, ("partially_received", "received"), "close")
    order.state = "closed"
    session.flush()
    return order


def _order_payload(order: PurchaseOrder) -> dict[str, Any]:
    return {
        "order_id": str(order.id),
        "number": order.number,
        "account_id": str(order.account_id),
        "warehouse_id": str(order.warehouse_id),
        "state": order.state,
        "currency": order.currency,
        "amount_total": str(order.amount_total),
    }


# --- receiving --------------------------------------------------------------------------


def _locked_order(order_id: Any) -> PurchaseOrder:
    """The order, re-read under a row lock (PostgreSQL; SQLite's writers queue anyway)."""
    order = session.scalar(
        select(PurchaseOrder)
        .where(PurchaseOrder.id == _uuid(order_id, "id"))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if order is None:
        raise NotFound("no such purchase order", details={"id": ["no such record"]})
    return order


def _locked_lines(order: PurchaseOrder, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Any]:
    # Locking in id order means two receipts never wait on each other in a cycle.
    rows = session.scalars(
        select(PurchaseOrderLine)
        .where(PurchaseOrderLine.id.in_(sorted(set(ids))), PurchaseOrderLine.order_id == order.id)
        .order_by(PurchaseOrderLine.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {ln.id: ln for ln in rows}


def receive(order_id: Any, data: Mapping[str, Any]) -> Receipt:
    """Receive goods against a confirmed order into its warehouse, at each line's net cost.

    More than the open quantity is refused unless the tenant allows a tolerance; two
    receipts of the same line at once queue on the line's row lock, so together they can
    never exceed it.
    """
    values = load(ReceiveInput(), data)
    order = _locked_order(order_id)
    if order.state not in RECEIVABLE_STATES:
        hint = {
            "draft": "confirm it first",
            "sent": "confirm it first",
            "cancelled": "it was cancelled",
            "received": "everything has arrived",
            "closed": "it was closed",
        }.get(order.state, "")
        raise IllegalTransition(
            f"cannot receive goods on order {order.reference}: it is "
            f"{order.state.replace('_', ' ')}" + (f" ({hint})" if hint else ""),
            details={"state": [order.state]},
        )
    lines = _locked_lines(order, (r["line_id"] for r in values["lines"]))
    tolerance = Decimal(get_settings().receipt_tolerance_pct or 0)
    errors: dict[str, list[str]] = {}
    wanted: dict[uuid.UUID, Decimal] = defaultdict(Decimal)
    for i, row in enumerate(values["lines"]):
        line = lines.get(row["line_id"])
        if line is None:
            errors[f"lines.{i}.line_id"] = ["not a line of this order"]
            continue
        wanted[line.id] += row["quantity"]
        limit = line.quantity * (1 + tolerance / 100) - line.received_qty
        if wanted[line.id] > limit:
            allowed = max(limit, Decimal(0)).normalize()
            errors[f"lines.{i}.quantity"] = [
                f"only {allowed:f} of {line.description or 'this line'} can still be received "
                f"({line.open_qty.normalize():f} open"
                + (f", {tolerance.normalize():f}% tolerance" if tolerance else "")
                + ")"
            ]
    if errors:
        raise ValidationError(details=errors)
    # One savepoint for the whole receipt: a refusal from inventory or a hook leaves
    # nothing behind, even when the caller goes on with its transaction.
    with session.begin_nested():
        receipt = Receipt(
            number=next_number("purchase.receipt", RECEIPT_PATTERN),
            kind="receipt",
            order_id=order.id,
            received_at=utcnow(),
            note=values["note"],
            created_by=_user_id(),
        )
        session.add(receipt)
        session.flush()
        for line_id, qty in wanted.items():
            line = lines[line_id]
            cost = net_unit_cost(line.unit_cost, line.discount_pct)
            partners.stock_in(
                product_id=line.product_id,
                warehouse_id=order.warehouse_id,
                quantity=qty,
                unit_cost=cost,
                reference_id=str(receipt.id),
                reason=f"{receipt.number} for {order.reference}",
            )
            line.received_qty = line.received_qty + qty
            receipt.lines.append(
                ReceiptLine(
                    order_line_id=line.id, product_id=line.product_id, quantity=qty, unit_cost=cost
                )
            )
        _update_receipt_state(order)
        session.flush()
        hook.goods_received(receipt=receipt)
    emit("purchase.goods.received", _receipt_payload(receipt, order))
    return receipt


def return_goods(order_id: Any, data: Mapping[str, Any]) -> Receipt:
    """Send received goods back to the supplier: the stock is issued out of the warehouse."""
    values = load(ReceiveInput(), data)
    order = _locked_order(order_id)
    if order.state not in RETURNABLE_STATES:
        raise IllegalTransition(
            f"cannot return goods on order {order.reference}: nothing has been received "
            f"(it is {order.state.replace('_', ' ')})",
            details={"state": [order.state]},
        )
    lines = _locked_lines(order, (r["line_id"] for r in values["lines"]))
    errors: dict[str, list[str]] = {}
    wanted: dict[uuid.UUID, Decimal] = defaultdict(Decimal)
    for i, row in enumerate(values["lines"]):
        line = lines.get(row["line_id"])
        if line is None:
            errors[f"lines.{i}.line_id"] = ["not a line of this order"]
            continue
        wanted[line.id] += row["quantity"]
        if wanted[line.id] > line.received_qty:
            errors[f"lines.{i}.quantity"] = [
                f"only {line.received_qty.normalize():f} received, so no more can be returned"
            ]
    if errors:
        raise ValidationError(details=errors)
    with session.begin_nested():
        receipt = Receipt(
            number=next_number("purchase.return", RETURN_PATTERN),
            kind="return",
            order_id=order.id,
            received_at=utcnow(),
            note=values["note"],
            created_by=_user_id(),
        )
        session.add(receipt)
        session.flush()
        for line_id, qty in wanted.items():
            line = lines[line_id]
            cost = net_unit_cost(line.unit_cost, line.discount_pct)
            partners.stock_out(
                product_id=line.product_id,
                warehouse_id=order.warehouse_id,
                quantity=qty,
                reference_id=str(receipt.id),
                reason=f"{receipt.number}: return to supplier for {order.reference}",
            )
            line.received_qty = line.received_qty - qty
            line.returned_qty = line.returned_qty + qty
            receipt.lines.append(
                ReceiptLine(
                    order_line_id=line.id, product_id=line.product_id, quantity=qty, unit_cost=cost
                )
            )
        if order.state != "closed":
            _update_receipt_state(order)
        session.flush()
        hook.goods_received(receipt=receipt)
    emit("purchase.goods.returned", _receipt_payload(receipt, order))
    return receipt


def _update_receipt_state(order: PurchaseOrder) -> None:
    if all(ln.received_qty >= ln.quantity for ln in order.lines):
        order.state = "received"
    elif any(ln.received_qty > 0 for ln in order.lines):
        order.state = "partially_received"
    else:
        order.state = "confirmed"


def _receipt_payload(receipt: Receipt, order: PurchaseOrder) -> dict[str, Any]:
    return {
        "receipt_id": str(receipt.id),
        "number": receipt.number,
        "kind": receipt.kind,
        "order_id": str(order.id),
        "order_number": order.number,
        "account_id": str(order.account_id),
        "warehouse_id": str(order.warehouse_id),
        "lines": [
            {
                "product_id": str(rl.product_id),
                "quantity": str(rl.quantity),
                "unit_cost": str(rl.unit_cost),
            }
            for rl in receipt.lines
        ],
    }


def get_receipt(receipt_id: Any) -> Receipt:
    """The tenant's receipt (or return) `receipt_id`, or NotFound."""
    receipt = session.get(Receipt, _uuid(receipt_id, "id"))
    if receipt is None:
        raise NotFound("no such receipt", details={"id": ["no such record"]})
    return receipt


def list_receipts(
    *, order_id: Any = None, limit: int = 50, offset: int = 0
) -> tuple[list[Receipt], int]:
    """Receipts and returns, newest first, optionally of one order; and their total count."""
    stmt = select(Receipt)
    if order_id is not None:
        stmt = stmt.where(Receipt.order_id == _uuid(order_id, "order_id"))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(Receipt.received_at.desc(), Receipt.number.desc()).limit(limit).offset(offset)
    )
    return list(rows), total


# --- what other pages show --------------------------------------------------------------


def incoming(product_id: Any, warehouse_id: Any = None) -> Decimal:
    """Quantity of a product on confirmed orders that has not arrived yet."""
    stmt = (
        select(
            func.coalesce(func.sum(PurchaseOrderLine.quantity - PurchaseOrderLine.received_qty), 0)
        )
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.order_id)
        .where(
            PurchaseOrderLine.product_id == _uuid(product_id, "product_id"),
            PurchaseOrder.state.in_(RECEIVABLE_STATES),
            PurchaseOrderLine.quantity > PurchaseOrderLine.received_qty,
        )
    )
    if warehouse_id is not None:
        stmt = stmt.where(PurchaseOrder.warehouse_id == _uuid(warehouse_id, "warehouse_id"))
    return Decimal(session.scalar(stmt) or 0)


def open_orders_for_product(product_id: Any) -> list[tuple[PurchaseOrder, PurchaseOrderLine]]:
    """Open orders (sent, confirmed, partly received) with a line of the product."""
    rows = session.execute(
        select(PurchaseOrder, PurchaseOrderLine)
        .join(PurchaseOrderLine, PurchaseOrderLine.order_id == PurchaseOrder.id)
        .where(
            PurchaseOrderLine.product_id == _uuid(product_id, "product_id"),
            PurchaseOrder.state.in_(OPEN_STATES),
        )
        .order_by(PurchaseOrder.expected_date, PurchaseOrder.created_at)
    ).all()
    return [(o, ln) for o, ln in rows]


# --- cost tracking ----------------------------------------------------------------------


@dataclass(frozen=True)
class CostHistory:
    """What a product cost when bought: every receipt, the last and the average cost."""

    rows: list[dict[str, Any]]
    last_cost: Decimal | None
    average_cost: Decimal | None
    quantity: Decimal


def product_history(product_id: Any) -> CostHistory:
    """Purchase history of a product: receipts (returns count against), last and average cost."""
    rows = session.execute(
        select(
            Receipt.received_at,
            Receipt.number,
            Receipt.kind,
            PurchaseOrder.number,
            PurchaseOrder.account_id,
            ReceiptLine.quantity,
            ReceiptLine.unit_cost,
        )
        .join(Receipt, Receipt.id == ReceiptLine.receipt_id)
        .join(PurchaseOrder, PurchaseOrder.id == Receipt.order_id)
        .where(ReceiptLine.product_id == _uuid(product_id, "product_id"))
        .order_by(Receipt.received_at.desc(), Receipt.number.desc())
    ).all()
    names = partners.account_names({r[4] for r in rows})
    out: list[dict[str, Any]] = [
        {
            "received_at": r[0],
            "receipt": r[1],
            "kind": r[2],
            "order": r[3],
            "account_id": r[4],
            "supplier": names.get(r[4], ""),
            "quantity": r[5],
            "unit_cost": r[6],
        }
        for r in rows
    ]
    receipts = [r for r in out if r["kind"] == "receipt"]
    qty = sum(
        (r["quantity"] if r["kind"] == "receipt" else -r["quantity"] for r in out), Decimal(0)
    )
    value = sum(
        (r["quantity"] * r["unit_cost"] * (1 if r["kind"] == "receipt" else -1) for r in out),
        Decimal(0),
    )
    average = (value / qty).quantize(Decimal("0.0001"), ROUND_HALF_UP) if qty > 0 else None
    return CostHistory(out, receipts[0]["unit_cost"] if receipts else None, average, qty)


def _month(column: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(column, "YYYY-MM")
    return func.strftime("%Y-%m", column)


@dataclass(frozen=True)
class SpendRow:
    """What was received from one supplier in one month in one currency (returns
    subtracted): amounts in different currencies are never added up."""

    month: str
    account_id: uuid.UUID
    supplier: str
    amount: Decimal
    currency: str


def spend_by_supplier_month(months: int = 12) -> list[SpendRow]:
    """Value of goods received per supplier, month and order currency (net cost, returns
    subtracted)."""
    since = (utcnow() - dt.timedelta(days=31 * months)).replace(day=1, hour=0, minute=0)
    month = _month(Receipt.received_at).label("month")
    value = ReceiptLine.quantity * ReceiptLine.unit_cost
    rows = session.execute(
        select(
            month, PurchaseOrder.account_id, PurchaseOrder.currency, Receipt.kind, func.sum(value)
        )
        .join(Receipt, Receipt.id == ReceiptLine.receipt_id)
        .join(PurchaseOrder, PurchaseOrder.id == Receipt.order_id)
        .where(Receipt.received_at >= since)
        .group_by(month, PurchaseOrder.account_id, PurchaseOrder.currency, Receipt.kind)
    ).all()
    totals: dict[tuple[str, uuid.UUID, str], Decimal] = defaultdict(Decimal)
    for m, account_id, currency, kind, amount in rows:
        amount = Decimal(amount or 0)
        totals[(m, account_id, currency)] += -amount if kind == "return" else amount
    names = partners.account_names({k[1] for k in totals})
    return sorted(
        (SpendRow(m, a, names.get(a, ""), cents(v), c) for (m, a, c), v in totals.items()),
        key=lambda r: (r.month, r.supplier, r.currency),
    )


# --- reorder suggestions ----------------------------------------------------------------


@dataclass
class Suggestion:
    """A product to reorder: how much, from whom, at what price, into which warehouse."""

    product_id: uuid.UUID
    product_name: str
    warehouse_id: uuid.UUID
    quantity: Decimal
    account_id: uuid.UUID | None
    unit_cost: Decimal | None
    reason: str = ""


@dataclass
class ReorderResult:
    """Draft orders made from suggestions, and products no supplier price covers."""

    orders: list[PurchaseOrder] = field(default_factory=list)
    skipped: list[Suggestion] = field(default_factory=list)


def reorder_suggestions() -> list[Suggestion]:
    """From inventory's low-stock list: what to order, net of what is already incoming,
    from the supplier with the cheapest price for that quantity."""
    out = []
    for low in partners.low_stock():
        # What is already on its way counts: do not order twice for the same shortage.
        need = low.suggested_quantity - incoming(low.product_id, low.warehouse_id)
        if need <= 0:
            continue
        best: tuple[Decimal, SupplierPrice] | None = None
        for account_id in {p.account_id for p in supplier_prices(product_id=low.product_id)}:
            tiers = supplier_prices(account_id=account_id, product_id=low.product_id)
            qty = max(need, tiers[0].min_quantity)  # never below the vendor's minimum
            tier = supplier_price(account_id, low.product_id, qty) or tiers[0]
            # Cheapest in total for the quantity we must buy; ties go to the lower price.
            if best is None or (tier.price * qty, tier.price) < (
                best[1].price * best[0],
                best[1].price,
            ):
                best = (qty, tier)
        if best is None:
            out.append(
                Suggestion(
                    low.product_id,
                    low.product_name,
                    low.warehouse_id,
                    need,
                    None,
                    None,
                    "no supplier price for this product",
                )
            )
        else:
            out.append(
                Suggestion(
                    low.product_id,
                    low.product_name,
                    low.warehouse_id,
                    best[0],
                    best[1].account_id,
                    best[1].price,
                )
            )
    return out


def create_reorder_drafts() -> ReorderResult:
    """Draft orders from the reorder suggestions, one per supplier and warehouse."""
    result = ReorderResult()
    groups: dict[tuple[uuid.UUID, uuid.UUID], list[Suggestion]] = defaultdict(list)
    for s in reorder_suggestions():
        if s.account_id is None:
            result.skipped.append(s)
        else:
            groups[(s.account_id, s.warehouse_id)].append(s)
    for (account_id, warehouse_id), items in groups.items():
        terms = get_supplier(account_id)
        expected = (utcnow().date() + dt.timedelta(days=terms.lead_time_days)) if terms else None
        result.orders.append(
            create_order(
                {
                    "account_id": str(account_id),
                    "warehouse_id": str(warehouse_id),
                    "expected_date": expected.isoformat() if expected else None,
                    "notes": "Reorder suggestion (stock below its reorder point)",
                    "lines": [
                        {
                            "product_id": str(s.product_id),
                            "quantity": str(s.quantity),
                            "unit_cost": str(s.unit_cost),
                        }
                        for s in items
                    ],
                }
            )
        )
    return result
