"""marshmallow schemas: the one validation layer for the contacts API, forms and import."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    fields,
    post_load,
    pre_load,
    validate,
    validates,
)
from marshmallow import ValidationError as MarshmallowError

from addons.contacts.countries import is_country
from addons.contacts.models import ACCOUNT_KINDS, ACCOUNT_STATUSES, ADDRESS_KINDS
from core.errors import ValidationError

EMAIL = validate.Email(error="not a valid email address")


def _blank_to_none(data: Any, names: tuple[str, ...]) -> Any:
    """Forms and CSV send '' for an empty optional field; treat it as not given."""
    if not isinstance(data, Mapping):
        return data
    # Surrounding blanks are never meant (pasted emails, CSV cells): strip them first.
    out = {k: v.strip() if isinstance(v, str) else v for k, v in data.items()}
    for name in names:
        if isinstance(out.get(name), str) and not out[name].strip():
            out[name] = None
    return out


class AccountSchema(Schema):
    """An account as the API takes it; `partial=True` for PATCH."""

    class Meta:
        unknown = RAISE

    name = fields.String(
        required=True,
        validate=validate.Length(max=200),
        error_messages={"required": "name is required"},
    )
    kinds = fields.List(fields.String(validate=validate.OneOf(ACCOUNT_KINDS)), load_default=None)
    status = fields.String(validate=validate.OneOf(ACCOUNT_STATUSES))
    industry = fields.String(allow_none=True, validate=validate.Length(max=100))
    annual_revenue = fields.Decimal(
        allow_none=True, places=4, allow_nan=False, validate=validate.Range(min=0)
    )
    website = fields.String(allow_none=True, validate=validate.Length(max=255))
    email = fields.String(allow_none=True, validate=[EMAIL, validate.Length(max=254)])
    phone = fields.String(allow_none=True, validate=validate.Length(max=50))
    tax_id = fields.String(allow_none=True, validate=validate.Length(max=50))
    notes = fields.String(allow_none=True)
    tags = fields.List(
        fields.String(
            validate=[
                validate.Length(min=1, max=50),
                # The CSV's list separator: such a tag would come back as two.
                validate.ContainsNoneOf(";", error="a tag may not contain ';'"),
            ]
        )
    )
    owner_id = fields.UUID(allow_none=True)

    OPTIONAL = (
        "industry",
        "annual_revenue",
        "website",
        "email",
        "phone",
        "tax_id",
        "notes",
        "owner_id",
    )

    @pre_load
    def _blanks(self, data: Any, **_kw: Any) -> Any:
        return _blank_to_none(data, self.OPTIONAL)

    @validates("name")
    def _name_not_blank(self, value: str, **_kw: Any) -> None:
        if not value.strip():
            raise MarshmallowError("name is required")

    @post_load
    def _normalise(self, data: dict[str, Any], **_kw: Any) -> dict[str, Any]:
        if "name" in data:
            data["name"] = data["name"].strip()
        if data.get("email"):
            data["email"] = data["email"].strip().lower()
        if data.get("kinds") is None:
            data.pop("kinds", None)
        else:
            # A set, in a stable order: kinds compare equal whatever order they came in.
            data["kinds"] = [k for k in ACCOUNT_KINDS if k in data["kinds"]]
        if "tags" in data:
            data["tags"] = sorted({t.strip() for t in data["tags"] if t.strip()})
        return data


class PersonSchema(Schema):
    """A person at an account."""

    class Meta:
        unknown = RAISE

    account_id = fields.UUID(required=True)
    first_name = fields.String(load_default="", validate=validate.Length(max=100))
    last_name = fields.String(
        required=True,
        validate=validate.Length(max=100),
        error_messages={"required": "last_name is required"},
    )
    email = fields.String(allow_none=True, validate=[EMAIL, validate.Length(max=254)])
    phone = fields.String(allow_none=True, validate=validate.Length(max=50))
    job_title = fields.String(allow_none=True, validate=validate.Length(max=100))
    is_primary = fields.Boolean(metadata={"label": "Primary contact"})

    @pre_load
    def _blanks(self, data: Any, **_kw: Any) -> Any:
        return _blank_to_none(data, ("email", "phone", "job_title"))

    @validates("last_name")
    def _last_name_not_blank(self, value: str, **_kw: Any) -> None:
        if not value.strip():
            raise MarshmallowError("last_name is required")

    @post_load
    def _normalise(self, data: dict[str, Any], **_kw: Any) -> dict[str, Any]:
        if data.get("email"):
            data["email"] = data["email"].strip().lower()
        return data


class AddressSchema(Schema):
    """A postal address of an account."""

    class Meta:
        unknown = RAISE

    kind = fields.String(load_default="billing", validate=validate.OneOf(ADDRESS_KINDS))
    street = fields.String(load_default="", validate=validate.Length(max=255))
    city = fields.String(load_default="", validate=validate.Length(max=100))
    postal_code = fields.String(load_default="", validate=validate.Length(max=20))
    region = fields.String(load_default="", validate=validate.Length(max=100))
    country = fields.String(
        required=True,
        error_messages={"required": "country is required"},
        metadata={"description": "two-letter ISO code, e.g. DE, US, FR"},
    )
    is_default = fields.Boolean(metadata={"label": "Default for its kind"})

    @pre_load
    def _strip(self, data: Any, **_kw: Any) -> Any:
        return _blank_to_none(data, ())

    @validates("country")
    def _country(self, value: str, **_kw: Any) -> None:
        if not is_country(value):
            raise MarshmallowError(
                f"unknown country code {value!r}: use ISO 3166-1 alpha-2, e.g. DE, US, FR"
            )

    @post_load
    def _normalise(self, data: dict[str, Any], **_kw: Any) -> dict[str, Any]:
        if "country" in data:
            data["country"] = data["country"].strip().upper()
        return data


class MergeSchema(Schema):
    """A merge request: the account to keep and the one to archive into it."""

    class Meta:
        unknown = RAISE

    master_id = fields.UUID(required=True)
    duplicate_id = fields.UUID(required=True)


def load(schema: Schema, data: Any, *, partial: bool = False) -> dict[str, Any]:
    """Validate `data` with `schema`; marshmallow's errors become our VALIDATION_ERROR."""
    if not isinstance(data, Mapping):
        raise ValidationError("expected a JSON object", field="body")
    try:
        return dict(schema.load(data, partial=partial))
    except MarshmallowError as exc:
        messages = exc.normalized_messages()
        details = (
            {str(k): _flatten(v) for k, v in messages.items()}
            if isinstance(messages, dict)
            else {"body": _flatten(messages)}
        )
        raise ValidationError(details=details) from None


def _flatten(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, dict):
        return [f"{k}: {' '.join(_flatten(v))}" for k, v in value.items()]
    return [str(value)]
