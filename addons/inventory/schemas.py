"""marshmallow schemas: the one validation layer for inventory's API, forms and imports."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import EXCLUDE, Schema, fields, validate
from marshmallow import ValidationError as MarshmallowError

from addons.inventory.models import PRODUCT_STATUSES, PRODUCT_TYPES
from core.errors import ValidationError


class Amount(fields.Field):
    """A Decimal given as a number or a numeric string (floats go through their text)."""

    def __init__(
        self,
        *,
        places: int = 4,
        minimum: Decimal | None = Decimal(0),
        positive: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.places = places
        self.minimum = minimum
        self.positive = positive

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        return parse_decimal(
            value,
            places=self.places,
            minimum=self.minimum,
            positive=self.positive,
            error=MarshmallowError,
        )

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else str(value)


def parse_decimal(
    value: Any,
    *,
    places: int = 4,
    minimum: Decimal | None = Decimal(0),
    positive: bool = False,
    error: Callable[[str], Exception] = MarshmallowError,
) -> Decimal:
    """`value` as an exact Decimal, or `error(message)` with a message a person understands."""
    if isinstance(value, bool) or value is None or value == "":
        raise error("must be a number")
    try:
        # str() first: a JSON float such as 0.1 means the decimal 0.1, not its binary twin.
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise error("must be a number") from None
    if not number.is_finite():
        raise error("must be a number")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -places:
        raise error(f"at most {places} decimal places")
    if positive and number <= 0:
        raise error("must be greater than zero")
    if minimum is not None and number < minimum:
        raise error(f"must be at least {minimum}")
    return number


class ProductSchema(Schema):
    """A product as the API and forms take it in and give it out."""

    class Meta:
        unknown = EXCLUDE

    id = fields.UUID(dump_only=True)
    sku = fields.String(required=True, validate=validate.Length(min=1, max=64))
    barcode = fields.String(allow_none=True, validate=validate.Length(max=64))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(load_default="")
    category_id = fields.UUID(allow_none=True)
    uom = fields.String(load_default="EA", validate=validate.Length(min=1, max=16))
    type = fields.String(load_default="finished_good", validate=validate.OneOf(PRODUCT_TYPES))
    status = fields.String(load_default="active", validate=validate.OneOf(PRODUCT_STATUSES))
    standard_cost = Amount(load_default=Decimal(0))
    sales_price = Amount(load_default=Decimal(0))
    taxable = fields.Boolean(load_default=True)
    tax_rate = Amount(load_default=Decimal(0), minimum=Decimal(0))
    attributes = fields.Dict(keys=fields.String(), load_default=dict)
    track_inventory = fields.Boolean(load_default=True)
    average_cost = Amount(dump_only=True)
    version = fields.Integer(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class ProductUpdateSchema(ProductSchema):
    """A partial product update; `version` (optional) guards against lost updates."""

    version = fields.Integer(load_only=True)


class WarehouseSchema(Schema):
    """A warehouse or branch."""

    class Meta:
        unknown = EXCLUDE

    id = fields.UUID(dump_only=True)
    code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    address = fields.String(load_default="")
    active = fields.Boolean(load_default=True)


class TransactionSchema(Schema):
    """A stock change posted to `/transactions` (an unknown field is refused, 422)."""

    kind = fields.String(
        required=True,
        validate=validate.OneOf(
            ("receipt", "issue", "adjustment", "reservation", "release", "consumption")
        ),
    )
    product = fields.String(required=True)
    warehouse = fields.String(required=True)
    # Validated by the services (so API, forms and Python callers get the same messages).
    quantity = fields.Raw(required=True)
    unit_cost = fields.Raw(allow_none=True, load_default=None)
    reference_type = fields.String(
        allow_none=True, load_default=None, validate=validate.Length(max=40)
    )
    reference_id = fields.String(
        allow_none=True, load_default=None, validate=validate.Length(max=64)
    )
    reason = fields.String(load_default="")


class TransferSchema(Schema):
    """A transfer between two warehouses (an unknown field is refused, 422)."""

    product = fields.String(required=True)
    from_warehouse = fields.String(required=True)
    to_warehouse = fields.String(required=True)
    quantity = fields.Raw(required=True)
    reference_type = fields.String(allow_none=True, load_default=None)
    reference_id = fields.String(allow_none=True, load_default=None)
    reason = fields.String(load_default="")


def load(schema: Schema, data: Any, *, partial: bool = False) -> dict[str, Any]:
    """Load `data` with `schema`; marshmallow's errors become our VALIDATION_ERROR."""
    if not isinstance(data, dict):
        raise ValidationError(
            "expected a JSON object", field="body", details={"body": ["expected a JSON object"]}
        )
    try:
        return dict(schema.load(data, partial=partial))
    except MarshmallowError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"body": exc.messages}
        details = {
            k: [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in messages.items()
        }
        raise ValidationError(details=details) from None
