"""marshmallow schemas: the one validation layer for the purchase API and forms."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import marshmallow
from marshmallow import RAISE, Schema, fields, pre_dump, pre_load, validate

from core.api.body import flatten
from core.errors import ValidationError

PERCENT = validate.Range(min=0, max=100, error="must be between 0 and 100")
POSITIVE = validate.Range(min=0, min_inclusive=False, error="must be greater than 0")
NOT_NEGATIVE = validate.Range(min=0, error="must not be negative")
CURRENCY = validate.Regexp(r"^[A-Z]{3}$", error="use a three-letter ISO code such as EUR")


def _decimal(**kwargs: Any) -> fields.Decimal:
    # as_string keeps exact values in JSON; a float would lose cents. (The OpenAPI document
    # shows it as a decimal string or a number, nested line schemas included: the kernel.)
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


class OrderCreateInput(OrderInput):
    """A new order as the API takes it (`version` belongs to changes only)."""

    class Meta(_Blankless.Meta):
        exclude = ("version",)


class SendInput(_Blankless):
    """Sending an order: the address to mail it to (default: the supplier's email)."""

    to = fields.Email(load_default=None, allow_none=True)


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


class SupplierTermsInput(SupplierInput):
    """A vendor's buying terms as `PUT /suppliers/<account_id>` takes them."""

    class Meta(_Blankless.Meta):
        exclude = ("account_id",)


class SupplierPriceInput(_Blankless):
    """A vendor's price for a product from a minimum quantity on."""

    account_id = fields.UUID(required=True)
    product_id = fields.UUID(required=True)
    supplier_code = fields.String(load_default="", validate=validate.Length(max=64))
    price = _decimal(required=True, validate=NOT_NEGATIVE)
    min_quantity = _decimal(load_default=Decimal(1), validate=POSITIVE)


class SupplierPriceChange(_Blankless):
    """A change to a supplier price: vendor, product and minimum quantity name the tier and
    stay as they are (delete the price and create another to move it)."""

    supplier_code = fields.String(load_default="", validate=validate.Length(max=64))
    price = _decimal(required=True, validate=NOT_NEGATIVE)


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


def _amount(**kwargs: Any) -> fields.Decimal:
    # Four places, as the database stores them, whether or not the row was reloaded.
    return fields.Decimal(places=4, as_string=True, dump_only=True, **kwargs)


class OrderLineOut(Schema):
    """An order line as the API shows it."""

    id = fields.UUID(dump_only=True)
    product_id = fields.UUID(dump_only=True)
    description = fields.String(dump_only=True)
    quantity = _amount()
    unit_cost = _amount()
    tax_rate = _amount()
    discount_pct = _amount()
    received_qty = _amount()
    returned_qty = _amount()
    open_qty = _amount()
    amount_net = _amount()
    amount_tax = _amount()


class OrderOut(Schema):
    """A purchase order with its lines as the API shows it."""

    id = fields.UUID(dump_only=True)
    number = fields.String(allow_none=True, dump_only=True)
    state = fields.String(dump_only=True)
    account_id = fields.UUID(dump_only=True)
    warehouse_id = fields.UUID(dump_only=True)
    order_date = fields.Date(dump_only=True)
    expected_date = fields.Date(allow_none=True, dump_only=True)
    currency = fields.String(dump_only=True)
    notes = fields.String(dump_only=True)
    amount_untaxed = _amount()
    amount_tax = _amount()
    amount_total = _amount()
    sent_at = fields.AwareDateTime(allow_none=True, dump_only=True)
    confirmed_at = fields.AwareDateTime(allow_none=True, dump_only=True)
    created_by = fields.UUID(allow_none=True, dump_only=True)
    created_at = fields.AwareDateTime(dump_only=True)
    updated_at = fields.AwareDateTime(dump_only=True)
    version = fields.Integer(dump_only=True)
    lines = fields.List(fields.Nested(OrderLineOut), dump_only=True)


class ReceiptLineOut(Schema):
    """What one receipt line brought in (or sent back), at which net unit cost."""

    id = fields.UUID(dump_only=True)
    order_line_id = fields.UUID(dump_only=True)
    product_id = fields.UUID(dump_only=True)
    quantity = _amount()
    unit_cost = _amount()


class ReceiptOut(Schema):
    """A receipt (kind `receipt`) or a return (kind `return`) with its lines."""

    id = fields.UUID(dump_only=True)
    number = fields.String(dump_only=True)
    kind = fields.String(dump_only=True)
    order_id = fields.UUID(dump_only=True)
    received_at = fields.AwareDateTime(dump_only=True)
    note = fields.String(dump_only=True)
    created_by = fields.UUID(allow_none=True, dump_only=True)
    created_at = fields.AwareDateTime(dump_only=True)
    version = fields.Integer(dump_only=True)
    lines = fields.List(fields.Nested(ReceiptLineOut), dump_only=True)


class SupplierPriceOut(Schema):
    """A supplier price as the API shows it."""

    id = fields.UUID(dump_only=True)
    account_id = fields.UUID(dump_only=True)
    product_id = fields.UUID(dump_only=True)
    supplier_code = fields.String(dump_only=True)
    price = _amount()
    min_quantity = _amount()
    version = fields.Integer(dump_only=True)
    created_at = fields.AwareDateTime(dump_only=True)
    updated_at = fields.AwareDateTime(dump_only=True)


class SupplierOut(Schema):
    """A vendor with purchase's terms and order figures (from `services.SupplierSummary`)."""

    account_id = fields.UUID(dump_only=True)
    name = fields.String(dump_only=True)
    payment_terms = fields.String(dump_only=True)
    lead_time_days = fields.Integer(dump_only=True)
    currency = fields.String(allow_none=True, dump_only=True)
    open_orders = fields.Integer(dump_only=True)
    prices = fields.Integer(dump_only=True, metadata={"description": "supplier prices on file"})

    @pre_dump
    def _terms(self, summary: Any, **_kw: Any) -> dict[str, Any]:
        # A vendor nobody set terms for yet: empty terms, no purchase currency.
        terms = summary.terms
        return {
            "account_id": summary.account_id,
            "name": summary.name,
            "payment_terms": terms.payment_terms if terms else "",
            "lead_time_days": terms.lead_time_days if terms else 0,
            "currency": terms.currency if terms else None,
            "open_orders": summary.open_orders,
            "prices": summary.prices,
        }


class SettingsOut(Schema):
    """The tenant's purchase settings."""

    receipt_tolerance_pct = _amount()
    default_currency = fields.String(dump_only=True)
    auto_reorder = fields.Boolean(dump_only=True)


class SkippedOut(Schema):
    """A reorder suggestion no draft was made for, and why."""

    product_id = fields.UUID(dump_only=True)
    reason = fields.String(dump_only=True)


class ReorderOut(Schema):
    """What `POST /reorder` did: the drafts it made and the suggestions it skipped."""

    orders = fields.List(fields.Nested(OrderOut), dump_only=True)
    skipped = fields.List(fields.Nested(SkippedOut), dump_only=True)
