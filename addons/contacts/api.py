"""contacts' JSON API under /api/v1/contacts: thin routes that parse, call a service, dump.

Built on the kernel's envelope (`core.envelope.ok`); the kernel's API resource toolkit had
not landed when this was written, so paging is `?limit=&offset=` with the total in `meta`.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, request

from addons.contacts import services
from addons.contacts.models import Account, Address, Person
from addons.contacts.schemas import MergeSchema, load
from core.auth import require_permission
from core.db import session
from core.envelope import ok
from core.errors import ValidationError

bp = Blueprint("contacts_api", __name__, url_prefix="/api/v1/contacts")

MAX_LIMIT = 200


def dump_address(address: Address) -> dict[str, Any]:
    """An address as the API shows it."""
    return {
        "id": str(address.id),
        "account_id": str(address.account_id),
        "kind": address.kind,
        "street": address.street,
        "city": address.city,
        "postal_code": address.postal_code,
        "region": address.region,
        "country": address.country,
        "is_default": address.is_default,
        "version": address.version,
    }


def dump_person(person: Person) -> dict[str, Any]:
    """A person as the API shows them."""
    return {
        "id": str(person.id),
        "account_id": str(person.account_id),
        "first_name": person.first_name,
        "last_name": person.last_name,
        "email": person.email,
        "phone": person.phone,
        "job_title": person.job_title,
        "is_primary": person.is_primary,
        "version": person.version,
    }


def dump_account(account: Account, *, detail: bool = False) -> dict[str, Any]:
    """An account as the API shows it; `detail` adds people, addresses and addon fields."""
    body: dict[str, Any] = {
        "id": str(account.id),
        "name": account.name,
        "kinds": list(account.kinds),
        "status": account.status,
        "industry": account.industry,
        "annual_revenue": None if account.annual_revenue is None else str(account.annual_revenue),
        "website": account.website,
        "email": account.email,
        "phone": account.phone,
        "tax_id": account.tax_id,
        "notes": account.notes,
        "tags": list(account.tags),
        "owner_id": str(account.owner_id) if account.owner_id else None,
        "primary_contact_id": str(account.primary_contact_id)
        if account.primary_contact_id
        else None,
        "version": account.version,
        "created_at": account.created_at.isoformat(),
        "updated_at": account.updated_at.isoformat(),
    }
    if detail:
        body["people"] = [dump_person(p) for p in account.people]
        body["addresses"] = [dump_address(a) for a in account.addresses]
        body.update(services.extra_fields(account))
    return body


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationError("send a JSON object", field="body")
    return data


def _paging() -> tuple[int, int]:
    try:
        limit = int(request.args.get("limit", 50))
        offset = int(request.args.get("offset", 0))
    except ValueError:
        raise ValidationError("limit and offset are whole numbers", field="limit") from None
    if not 1 <= limit <= MAX_LIMIT or offset < 0:
        raise ValidationError(f"limit is 1 to {MAX_LIMIT}, offset 0 or more", field="limit")
    return limit, offset


def _version() -> int | None:
    """The version the client last saw: `If-Match` header or `version` in the body."""
    raw = request.headers.get("If-Match") or (request.get_json(silent=True) or {}).get("version")
    if raw in (None, ""):
        return None
    try:
        return int(str(raw).strip('"W/'))
    except ValueError:
        raise ValidationError("version is a whole number", field="version") from None


@bp.get("/accounts")
@require_permission("contacts.accounts:read")
def list_accounts() -> Any:
    """Accounts, filtered by ?q=, kind=, status=, tag=, sorted by ?sort=, paged."""
    limit, offset = _paging()
    args = request.args
    page = services.list_accounts(
        q=args.get("q"),
        kind=args.get("kind"),
        status=args.get("status"),
        tag=args.get("tag"),
        sort=args.get("sort", "name"),
        limit=limit,
        offset=offset,
    )
    return ok(
        [dump_account(a) for a in page.items],
        extra_meta={"total": page.total, "limit": limit, "offset": offset},
    )


@bp.post("/accounts")
@require_permission("contacts.accounts:create")
def create_account() -> Any:
    """Create an account."""
    account = services.create_account(_body())
    session.commit()
    return ok(
        dump_account(account, detail=True),
        201,
        headers={"Location": f"{bp.url_prefix}/accounts/{account.id}"},
    )


@bp.get("/accounts/<uuid:account_id>")
@require_permission("contacts.accounts:read")
def get_account(account_id: uuid.UUID) -> Any:
    """One account with its people, addresses and the fields addons add."""
    return ok(dump_account(services.get_account(account_id, field="id"), detail=True))


@bp.put("/accounts/<uuid:account_id>")
@require_permission("contacts.accounts:update")
def replace_account(account_id: uuid.UUID) -> Any:
    """Replace an account's fields (what the body leaves out is cleared)."""
    account = services.update_account(account_id, _body(), partial=False, version=_version())
    session.commit()
    return ok(dump_account(account, detail=True))


@bp.patch("/accounts/<uuid:account_id>")
@require_permission("contacts.accounts:update")
def patch_account(account_id: uuid.UUID) -> Any:
    """Change some of an account's fields."""
    account = services.update_account(account_id, _body(), partial=True, version=_version())
    session.commit()
    return ok(dump_account(account, detail=True))


@bp.delete("/accounts/<uuid:account_id>")
@require_permission("contacts.accounts:delete")
def delete_account(account_id: uuid.UUID) -> Any:
    """Archive an account."""
    services.delete_account(account_id)
    session.commit()
    return ok({"id": str(account_id), "archived": True})


@bp.post("/accounts/<uuid:account_id>/hold")
@require_permission("contacts.accounts:update")
def hold_account(account_id: uuid.UUID) -> Any:
    """Put an account on hold; body: {"reason": "..."}."""
    reason = str((request.get_json(silent=True) or {}).get("reason", ""))
    account = services.place_on_hold(account_id, reason)
    session.commit()
    return ok(dump_account(account))


@bp.post("/accounts/<uuid:account_id>/release")
@require_permission("contacts.accounts:update")
def release_account(account_id: uuid.UUID) -> Any:
    """Take an account off hold."""
    reason = str((request.get_json(silent=True) or {}).get("reason", ""))
    account = services.release(account_id, reason)
    session.commit()
    return ok(dump_account(account))


@bp.get("/accounts/<uuid:account_id>/addresses")
@require_permission("contacts.accounts:read")
def list_addresses(account_id: uuid.UUID) -> Any:
    """An account's addresses."""
    return ok([dump_address(a) for a in services.list_addresses(account_id)])


@bp.post("/accounts/<uuid:account_id>/addresses")
@require_permission("contacts.accounts:update")
def add_address(account_id: uuid.UUID) -> Any:
    """Add an address to an account."""
    address = services.add_address(account_id, _body())
    session.commit()
    return ok(dump_address(address), 201)


@bp.patch("/addresses/<uuid:address_id>")
@require_permission("contacts.accounts:update")
def patch_address(address_id: uuid.UUID) -> Any:
    """Change an address."""
    address = services.update_address(address_id, _body())
    session.commit()
    return ok(dump_address(address))


@bp.delete("/addresses/<uuid:address_id>")
@require_permission("contacts.accounts:update")
def delete_address(address_id: uuid.UUID) -> Any:
    """Remove an address."""
    services.delete_address(address_id)
    session.commit()
    return ok({"id": str(address_id), "archived": True})


@bp.get("/people")
@require_permission("contacts.people:read")
def list_people() -> Any:
    """People, optionally of one ?account_id= or matching ?q=, paged."""
    limit, offset = _paging()
    page = services.list_people(
        account_id=request.args.get("account_id"),
        q=request.args.get("q"),
        limit=limit,
        offset=offset,
    )
    return ok(
        [dump_person(p) for p in page.items],
        extra_meta={"total": page.total, "limit": limit, "offset": offset},
    )


@bp.post("/people")
@require_permission("contacts.people:create")
def add_person() -> Any:
    """Add a person to an account (`account_id` in the body)."""
    person = services.add_person(_body())
    session.commit()
    return ok(dump_person(person), 201)


@bp.get("/people/<uuid:person_id>")
@require_permission("contacts.people:read")
def get_person(person_id: uuid.UUID) -> Any:
    """One person."""
    return ok(dump_person(services.get_person(person_id)))


@bp.patch("/people/<uuid:person_id>")
@require_permission("contacts.people:update")
def patch_person(person_id: uuid.UUID) -> Any:
    """Change a person."""
    person = services.update_person(person_id, _body())
    session.commit()
    return ok(dump_person(person))


@bp.delete("/people/<uuid:person_id>")
@require_permission("contacts.people:delete")
def delete_person(person_id: uuid.UUID) -> Any:
    """Remove a person."""
    services.delete_person(person_id)
    session.commit()
    return ok({"id": str(person_id), "archived": True})


@bp.get("/search")
@require_permission("contacts.accounts:read")
def search() -> Any:
    """Accounts whose name, email or phone match ?q=."""
    limit, _offset = _paging()
    return ok(
        [dump_account(a) for a in services.search_accounts(request.args.get("q", ""), limit=limit)]
    )


@bp.get("/duplicates")
@require_permission("contacts.accounts:read")
def duplicates() -> Any:
    """Groups of accounts sharing an email or a tax id."""
    return ok(
        [
            {
                "reason": g.reason,
                "value": g.value,
                "accounts": [dump_account(a) for a in g.accounts],
            }
            for g in services.find_duplicates()
        ]
    )


@bp.post("/merge")
@require_permission("contacts.accounts:update")
def merge() -> Any:
    """Merge `duplicate_id` into `master_id`; the duplicate is archived."""
    body = load(MergeSchema(), _body())
    master = services.merge_accounts(body["master_id"], body["duplicate_id"])
    session.commit()
    return ok(dump_account(master, detail=True))
