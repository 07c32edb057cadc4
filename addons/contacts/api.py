"""contacts' JSON API under /api/v1/contacts.

The standard CRUD of accounts and people is declared as kernel toolkit resources
(`accounts`, `people` below, served by `core.api` through `register_api_resources`): lists
with filters, sort, search, sparse fields, expansions and paging, ETag/If-Match, idempotency
keys and the OpenAPI document. The rules stay in `services`: the resources' create, update
and delete call them. What is not plain CRUD keeps its own routes on the `contacts_api`
blueprint: search, hold/release, duplicates, merge and the addresses of an account.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from flask import Blueprint, request
from marshmallow import INCLUDE, RAISE, Schema, fields, post_dump, validate, validates_schema
from marshmallow import ValidationError as MarshmallowError
from sqlalchemy import func, select

from addons.contacts import services
from addons.contacts.models import Account, Address, Person
from addons.contacts.schemas import AccountSchema, AddressSchema, MergeSchema, PersonSchema, load
from core.api import Resource, documented
from core.api.body import json_object
from core.api.query import DEFAULT_PER_PAGE, MAX_PER_PAGE
from core.auth import require_permission
from core.db import session
from core.envelope import ok
from core.errors import ValidationError

bp = Blueprint("contacts_api", __name__, url_prefix="/api/v1/contacts")

MAX_PAGE = 10**9  # as the toolkit's lists


# --- what the API shows -----------------------------------------------------------------


class AddressOut(Schema):
    """An address as the API shows it."""

    id = fields.UUID(dump_only=True)
    account_id = fields.UUID()
    kind = fields.String()
    street = fields.String()
    city = fields.String()
    postal_code = fields.String()
    region = fields.String()
    country = fields.String()
    is_default = fields.Boolean()
    version = fields.Integer(dump_only=True)


class PersonOut(Schema):
    """A person as the API shows them."""

    id = fields.UUID(dump_only=True)
    account_id = fields.UUID()
    first_name = fields.String()
    last_name = fields.String()
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    job_title = fields.String(allow_none=True)
    is_primary = fields.Boolean()
    version = fields.Integer(dump_only=True)
    created_at = fields.AwareDateTime(dump_only=True)
    updated_at = fields.AwareDateTime(dump_only=True)


class AccountOut(Schema):
    """An account as the API shows it, plus the fields enabled addons add to it."""

    class Meta:
        # Output only (never loaded): INCLUDE makes the document say additionalProperties,
        # for the fields enabled addons add. The accounts resource lists the declared ones
        # (Resource(extra_fields=)); contacts' own routes answer with them too.
        unknown = INCLUDE

    id = fields.UUID(dump_only=True)
    name = fields.String()
    kinds = fields.List(fields.String())
    status = fields.String()
    industry = fields.String(allow_none=True)
    annual_revenue = fields.Decimal(as_string=True, allow_none=True)
    website = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    tax_id = fields.String(allow_none=True)
    notes = fields.String(allow_none=True)
    tags = fields.List(fields.String())
    owner_id = fields.UUID(allow_none=True)
    primary_contact_id = fields.UUID(dump_only=True, allow_none=True)
    version = fields.Integer(dump_only=True)
    created_at = fields.AwareDateTime(dump_only=True)
    updated_at = fields.AwareDateTime(dump_only=True)

    @post_dump(pass_collection=True, pass_original=True)
    def _addon_fields(self, data: Any, original: Any, many: bool, **_kw: Any) -> Any:
        # A sparse fieldset (`fields=`) asks for our fields only.
        if self.only is not None:
            return data
        rows, accounts = (data, list(original)) if many else ([data], [original])
        # One hook call for the whole page: each addon reads its table once, not per row.
        extra = services.extra_fields_of(accounts)
        for row, account in zip(rows, accounts, strict=True):
            row.update(extra[account.id])
        return data


class AccountIn(AccountSchema):
    """An account as the toolkit takes it: our fields are validated here; fields we do not
    know pass through to the service, which hands them to the addons that own them (and
    refuses those nobody claims)."""

    class Meta:
        unknown = INCLUDE

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _declared_extra_fields(self, _data: Any, original: Any, **_kw: Any) -> None:
        # The fields enabled addons declared are checked here too, so that one answer names
        # every bad field, ours and theirs (the service loads them again before saving).
        if not isinstance(original, dict):
            return
        try:
            services.load_extra_fields({k: v for k, v in original.items() if k not in self.fields})
        except ValidationError as exc:
            raise MarshmallowError(exc.details or {}) from None

    # The same field, marked as an exact decimal for the OpenAPI document (string or number).
    annual_revenue = fields.Decimal(
        as_string=True,
        allow_none=True,
        places=4,
        allow_nan=False,
        validate=validate.Range(min=Decimal(0)),
    )


def dump_account(account: Account) -> dict[str, Any]:
    """An account as the API shows it."""
    return dict(AccountOut().dump(account))


def dump_address(address: Address) -> dict[str, Any]:
    """An address as the API shows it."""
    return dict(AddressOut().dump(address))


# --- the toolkit resources: services are the rules --------------------------------------


def _create_account(data: dict[str, Any]) -> Account:
    return services.create_account(data)


def _update_account(account: Account, data: dict[str, Any]) -> Account:
    # PUT replaces (what the body leaves out is cleared); PATCH changes the given fields.
    return services.update_account(account.id, data, partial=request.method != "PUT")


def _delete_account(account: Account) -> None:
    services.delete_account(account.id)


def _create_person(data: dict[str, Any]) -> Person:
    return services.add_person(data)


def _update_person(person: Person, data: dict[str, Any]) -> Person:
    if request.method == "PUT":
        # PUT replaces: the optional fields the body leaves out are cleared.
        data = {"email": None, "phone": None, "job_title": None, **data}
    return services.update_person(person.id, data)


def _delete_person(person: Person) -> None:
    services.delete_person(person.id)


accounts = Resource(
    "accounts",
    Account,
    AccountOut,
    "contacts.accounts",
    create_schema=AccountIn,
    update_schema=AccountIn,
    filterable=("name", "status", "industry", "email", "tax_id", "owner_id", "created_at"),
    sortable=("name", "status", "created_at", "updated_at"),
    search=services.search_clause,
    # primary_contact_id reads the people: load them for the whole page, not per account.
    load=("people",),
    extra_fields=services.extra_field_types,
    expandable={"people": PersonOut, "addresses": AddressOut},
    default_sort=("name",),
    create=_create_account,
    update=_update_account,
    delete=_delete_account,
    summary="Accounts: customers, vendors, partners and prospects",
)

people = Resource(
    "people",
    Person,
    PersonOut,
    "contacts.people",
    create_schema=PersonSchema,
    filterable=("account_id", "last_name", "email", "is_primary", "created_at"),
    sortable=("last_name", "first_name", "created_at"),
    searchable=("first_name", "last_name", "email", "phone"),
    default_sort=("last_name", "first_name"),
    create=_create_person,
    update=_update_person,
    delete=_delete_person,
    summary="People at accounts",
)


# --- the routes that are not plain CRUD -------------------------------------------------
# They flush and never commit: the kernel runs each write as one unit of work (committed
# with its Idempotency-Key record on a 2xx answer, rolled back otherwise).


class ReasonIn(Schema):
    """Body of hold and release: why (optional; kept in the account's history)."""

    reason = fields.String(load_default="", validate=validate.Length(max=500))


class AddressPatchIn(AddressSchema):
    """Body of PATCH /addresses/<id>: any subset of an address's fields."""

    country = fields.String()


class SearchQuery(Schema):
    """Query of GET /search: the text, and the page as the toolkit's lists take it."""

    class Meta:
        unknown = RAISE

    q = fields.String(required=True, validate=validate.Length(min=1, max=200))
    # The toolkit's bound: a page past it would overflow the database's OFFSET.
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(
        load_default=DEFAULT_PER_PAGE, validate=validate.Range(min=1, max=MAX_PER_PAGE)
    )


class DuplicateGroupOut(Schema):
    """Accounts sharing an email or a tax id."""

    reason = fields.String()
    value = fields.String()
    accounts = fields.List(fields.Nested(AccountOut))


class AddressArchivedOut(Schema):
    """The answer of DELETE /addresses/<id>."""

    id = fields.UUID()
    archived = fields.Boolean()


def _reason() -> str:
    """The optional `reason` of an optional JSON body."""
    if not request.get_data(cache=True).strip():
        return ""
    return str(load(ReasonIn(), json_object())["reason"])


@bp.post("/accounts/<uuid:account_id>/hold")
@require_permission("contacts.accounts:update")
@documented(body=ReasonIn, response=AccountOut)
def hold_account(account_id: uuid.UUID) -> Any:
    """Put an account on hold; body: {"reason": "..."}."""
    return ok(dump_account(services.place_on_hold(account_id, _reason())))


@bp.post("/accounts/<uuid:account_id>/release")
@require_permission("contacts.accounts:update")
@documented(body=ReasonIn, response=AccountOut)
def release_account(account_id: uuid.UUID) -> Any:
    """Take an account off hold."""
    return ok(dump_account(services.release(account_id, _reason())))


@bp.get("/accounts/<uuid:account_id>/addresses")
@require_permission("contacts.accounts:read")
@documented(response=AddressOut, many=True)
def list_addresses(account_id: uuid.UUID) -> Any:
    """An account's addresses."""
    return ok([dump_address(a) for a in services.list_addresses(account_id)])


@bp.post("/accounts/<uuid:account_id>/addresses")
@require_permission("contacts.accounts:update")
@documented(body=AddressSchema, response=AddressOut, status=201)
def add_address(account_id: uuid.UUID) -> Any:
    """Add an address to an account."""
    return ok(dump_address(services.add_address(account_id, json_object())), 201)


@bp.patch("/addresses/<uuid:address_id>")
@require_permission("contacts.accounts:update")
@documented(body=AddressPatchIn, response=AddressOut)
def patch_address(address_id: uuid.UUID) -> Any:
    """Change an address."""
    return ok(dump_address(services.update_address(address_id, json_object())))


@bp.delete("/addresses/<uuid:address_id>")
@require_permission("contacts.accounts:update")
@documented(response=AddressArchivedOut)
def delete_address(address_id: uuid.UUID) -> Any:
    """Remove an address."""
    services.delete_address(address_id)
    return ok({"id": str(address_id), "archived": True})


@bp.get("/search")
@require_permission("contacts.accounts:read")
@documented(query=SearchQuery, response=AccountOut, many=True, paginated=True)
def search() -> Any:
    """Accounts whose name, email or phone match ?q= (by name on PostgreSQL, best first on
    SQLite), a page at a time."""
    if "limit" in request.args:
        raise ValidationError("use page and per_page, as on every list", field="limit")
    args = load(SearchQuery(), request.args.to_dict())
    per_page, page = args["per_page"], args["page"]
    found = services.search_accounts(args["q"], limit=per_page, offset=(page - 1) * per_page)
    total = session.scalar(
        select(func.count()).select_from(services.accounts_query(args["q"]).subquery())
    )
    pagination = {
        "page": page,
        "per_page": per_page,
        "total": total or 0,
        "total_pages": -(-(total or 0) // per_page),
    }
    return ok(AccountOut(many=True).dump(found), extra_meta={"pagination": pagination})


@bp.get("/duplicates")
@require_permission("contacts.accounts:read")
@documented(response=DuplicateGroupOut, many=True)
def duplicates() -> Any:
    """Groups of accounts sharing an email or a tax id."""
    groups = services.find_duplicates()
    # One dump of every account listed: the addons' extra fields are read once, not per row.
    dumped = iter(AccountOut(many=True).dump([a for g in groups for a in g.accounts]))
    return ok(
        [
            {
                "reason": g.reason,
                "value": g.value,
                "accounts": [next(dumped) for _ in g.accounts],
            }
            for g in groups
        ]
    )


@bp.post("/merge")
@require_permission("contacts.accounts:update")
@documented(body=MergeSchema, response=AccountOut)
def merge() -> Any:
    """Merge `duplicate_id` into `master_id`; the duplicate is archived. `meta.dropped` lists
    what enabled addons did not keep (e.g. the duplicate's purchase terms)."""
    body = load(MergeSchema(), json_object())
    merged = services.merge(body["master_id"], body["duplicate_id"])
    return ok(dump_account(merged.account), extra_meta={"dropped": list(merged.dropped)})
