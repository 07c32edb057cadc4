"""marshmallow schemas: the one validation layer for the purchase API and forms."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import marshmallow
from marshmallow import RAISE, Schema, fields, pre_load, validate

from core.api.body import flatten
from core.errors import ValidationError

PERCENT = validate.Range(min=0, max=100, error="must be between 0 and 100")
POSITIVE = validate.Range(min=0, min_inclusive=False, error="must be greater than 0")
NOT_NEGATIVE = validate.Range(min=0, error="must not be negative")
CURRENCY = validate.Regexp(r"^[A-Z]{3}$", error="use a three-letter ISO code such as EUR")


def _decimal(**kwargs: Any) -> fields.Decimal:
    # as_string keeps exact values in JSON; a float would lose cents.
    return fields.Decimal(places=4, allow_nan=False, as_string=True, **kwargs)


class _Blankless(Schema):
    """Forms send '' for an empty optional field: treat it as not given."""

    class Meta:
        unknown = RAISE

    @pre_load
    def _drop_blanks(self, data: Any, **_kw: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        return {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip())}


class OrderLineInput(_Blankless):
    """One line of an order as the API and form send it."""

    id = fields.UUID(load_default=None)
    product_id = fields.UUID(required=True, error_messages={"required": "choose a product"})
    description = fields.String(load_default="", validate=validate.Length(max=200))
    quantity = _decimal(
        required=True, validate=POSITIVE, error_messages={"required": "give a quantity"}
    )
    unit_cost = _decimal(load_default=None, allow_none=True, validate=NOT_NEGATIVE)
    tax_rate = _decimal(load_default=None, allow_none=True, validate=PERCENT)
    discount_pct = _decimal(load_default=Decimal(0), validate=PERCENT)


class OrderInput(_Blankless):
    """A purchase order as the API and form send it; `partial=True` for PATCH."""

    account_id = fields.UUID(required=True, error_messages={"required": "choose a supplier"})
    warehouse_id = fields.UUID(
        required=True, error_messages={"required": "choose a destination warehouse"}
    )
    expected_date = fields.Date(load_default=None, allow_none=True)
    currency = fields.String(load_default=None, allow_none=True, validate=CURRENCY)
    notes = fields.String(load_default="")
    lines = fields.List(fields.Nested(OrderLineInput), load_default=list)
    version = fields.Integer(load_default=None, allow_none=True)


class ReceiveLineInput(_Blankless):
    """How much of one order line arrives (or goes back)."""

    line_id = fields.UUID(required=True)
    quantity = _decimal(required=True, validate=POSITIVE)


class ReceiveInput(_Blankless):
    """A receipt or a return: lines and an optional note."""

    lines = fields.List(
        fields.Nested(ReceiveLineInput),
        required=True,
        validate=validate.Length(min=1, error="receive at least one line"),
    )
    note = fields.String(load_default="")


class SupplierInput(_Blankless):
    """A vendor's buying terms."""

    account_id = fields.UUID(required=True)
    payment_terms = fields.String(load_default="", validate=validate.Length(max=100))
    lead_time_days = fields.Integer(load_default=0, validate=validate.Range(min=0, max=3650))
    currency = fields.String(load_default="EUR", validate=CURRENCY)


class SupplierPriceInput(_Blankless):
    """A vendor's price for a product from a minimum quantity on."""

    account_id = fields.UUID(required=True)
    product_id = fields.UUID(required=True)
    supplier_code = fields.String(load_default="", validate=validate.Length(max=64))
    price = _decimal(required=True, validate=NOT_NEGATIVE)
    min_quantity = _decimal(load_default=Decimal(1), validate=POSITIVE)


class SettingsInput(_Blankless):
    """The tenant's purchase settings."""

    receipt_tolerance_pct = _decimal(load_default=Decimal(0), validate=PERCENT)
    default_currency = fields.String(load_default="EUR", validate=CURRENCY)
    auto_reorder = fields.Boolean(load_default=False)


def load(schema: Schema, data: Any, *, partial: bool = False) -> dict[str, Any]:
    """`schema.load(data)`, its errors turned into a `ValidationError` naming each field."""
    try:
        return dict(schema.load(data, partial=partial))
    except marshmallow.ValidationError as exc:
        raise ValidationError(details=flatten(exc.messages)) from exc


# --- output: what the API returns -------------------------------------------------------


def _s(value: Any) -> Any:
    """Decimals as strings (exact), dates and ids as ISO text, None as is."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        # Four places, as the database stores them, whether or not the row was reloaded.
        return format(value.quantize(Decimal("0.0001")), "f")
    if isinstance(value, (dt.date, dt.datetime, uuid.UUID)):
        return value.isoformat() if not isinstance(value, uuid.UUID) else str(value)
    return value


def dump_line(line: Any) -> dict[str, Any]:
    """An order line as the API returns it."""
    names = (
        "id",
        "product_id",
        "description",
        "quantity",
        "unit_cost",
        "tax_rate",
        "discount_pct",
        "received_qty",
        "returned_qty",
        "amount_net",
        "amount_tax",
    )
    out = {n: _s(getattr(line, n)) for n in names}
    out["open_qty"] = _s(line.open_qty)
    return out


def dump_order(order: Any) -> dict[str, Any]:
    """A purchase order with its lines as the API returns it."""
    names = (
        "id",
        "number",
        "state",
        "account_id",
        "warehouse_id",
        "order_date",
        "expected_date",
        "currency",
        "notes",
        "amount_untaxed",
        "amount_tax",
        "amount_total",
        "sent_at",
        "confirmed_at",
        "created_at",
        "updated_at",
        "version",
    )
    out = {n: _s(getattr(order, n)) for n in names}
    out["lines"] = [dump_line(ln) for ln in order.lines]
    return out


def dump_receipt(receipt: Any) -> dict[str, Any]:
    """A receipt (or return) with its lines as the API returns it."""
    out = {
        n: _s(getattr(receipt, n))
        for n in ("id", "number", "kind", "order_id", "received_at", "note", "created_by")
    }
    out["lines"] = [
        {n: _s(getattr(rl, n)) for n in ("order_line_id", "product_id", "quantity", "unit_cost")}
        for rl in receipt.lines
    ]
    return out


def dump_supplier(summary: Any) -> dict[str, Any]:
    """A vendor with purchase's terms as the API returns it."""
    terms = summary.terms
    return {
        "account_id": str(summary.account_id),
        "name": summary.name,
        "payment_terms": terms.payment_terms if terms else "",
        "lead_time_days": terms.lead_time_days if terms else 0,
        "currency": terms.currency if terms else None,
        "open_orders": summary.open_orders,
        "prices": summary.prices,
    }


def dump_price(price: Any) -> dict[str, Any]:
    """A supplier price as the API returns it."""
    return {
        n: _s(getattr(price, n))
        for n in ("id", "account_id", "product_id", "supplier_code", "price", "min_quantity")
    }
