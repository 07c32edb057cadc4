"""Business rules of contacts: the API, web pages, CLI and other addons call these."""

from __future__ import annotations

import logging
import unicodedata
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from marshmallow import Schema
from marshmallow import ValidationError as MarshmallowError
from marshmallow.fields import Field
from sqlalchemy import Select, String, bindparam, cast, func, literal_column, or_, select
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.orm import selectinload
from sqlalchemy.sql.elements import ColumnElement

from addons.contacts.models import (
    ACCOUNT_STATUSES,
    Account,
    Address,
    Person,
    account_search,
    search_document,
)
from addons.contacts.schemas import AccountSchema, AddressSchema, PersonSchema, load
from core.db import session
from core.errors import Conflict, DomainError, NotFound, ValidationError
from core.registry import hook

log = logging.getLogger("pergola.contacts")

ACCOUNT_FIELDS = tuple(AccountSchema().fields)
# Fields whose change is reported in contacts.account.updated (status has its own event).
TRACKED = (
    "name",
    "kinds",
    "industry",
    "annual_revenue",
    "website",
    "email",
    "phone",
    "tax_id",
    "notes",
    "tags",
    "owner_id",
)


# --- events -----------------------------------------------------------------------------


def emit(event_type: str, payload: Mapping[str, Any]) -> None:
    """Write a contacts event to the kernel's outbox; it is dispatched only on commit."""
    try:
        from core.events import emit as kernel_emit
    except ImportError:  # a kernel without the events layer: nothing to write to
        log.info("event %s (no events layer): %s", event_type, dict(payload))
        return
    kernel_emit(event_type, payload)
    # Write the outbox row now, while this tenant is in context (a caller may switch next).
    session.flush()


def _account_payload(account: Account) -> dict[str, Any]:
    return {
        "account_id": str(account.id),
        "name": account.name,
        "kinds": list(account.kinds),
        "status": account.status,
    }


# --- accounts ---------------------------------------------------------------------------


def get_account(account_id: uuid.UUID | str, *, field: str = "account_id") -> Account:
    """The current tenant's live account `account_id`, or NotFound naming `field`."""
    account = session.get(Account, _uuid(account_id, field))
    if account is None or account.deleted_at is not None:
        raise NotFound(f"no such account {account_id}", details={field: ["no such record"]})
    return account


def account_names(account_ids: Iterable[uuid.UUID | str]) -> dict[uuid.UUID, str]:
    """Names of the current tenant's accounts by id, in one query; archived ones included.

    For other addons that show a list of records pointing at accounts (history shows an
    archived account's name). Ids of no account of this tenant are left out.
    """
    ids = {_uuid(a, "account_ids") for a in account_ids}
    if not ids:
        return {}
    # Through the ORM, so the kernel's tenant filter applies; archived rows wanted too.
    rows = session.execute(
        select(Account.id, Account.name)
        .where(Account.id.in_(ids))
        .execution_options(include_deleted=True)
    )
    return {account_id: name for account_id, name in rows}


def create_account(data: Mapping[str, Any]) -> Account:
    """Create an account from API/form/import data; extra fields go to the addons that own them."""
    known, extra = _split(data)
    values, extra = _load_account(known, extra, partial=False)
    _check_owner(values.get("owner_id"))
    values.setdefault("status", "active")
    values.setdefault("kinds", [])
    values.setdefault("tags", [])
    account = Account(**values)
    session.add(account)
    session.flush()
    _extra_fields(account, extra)
    changes = {
        k: [None, _jsonable(getattr(account, k))]
        for k in TRACKED
        if getattr(account, k) not in (None, [], "")
    }
    hook.account_changed(account=account, action="created", changes=changes)
    emit("contacts.account.created", {**_account_payload(account), "fields": changes})
    return account


def update_account(
    account_id: uuid.UUID | str,
    data: Mapping[str, Any],
    *,
    partial: bool = True,
    version: int | None = None,
) -> Account:
    """Update an account (PATCH when `partial`, PUT otherwise); status changes go through
    `set_status` so other addons can veto them. `version` guards against lost updates."""
    account = get_account(account_id, field="id")
    if version is not None and version != account.version:
        raise Conflict(
            "the account was changed by someone else since you loaded it; reload it",
            details={"version": [f"current version is {account.version}"]},
        )
    known, extra = _split(data)
    values, extra = _load_account(known, extra, partial=partial)
    new_status = values.pop("status", None)
    if not partial:
        # PUT replaces: what the body leaves out goes back to empty.
        for name in TRACKED:
            values.setdefault(name, [] if name in ("kinds", "tags") else None)
    if values.get("owner_id") not in (None, account.owner_id):
        # Only a new owner is checked: one who has since left may stay until replaced.
        _check_owner(values["owner_id"])
    changes: dict[str, list[Any]] = {}
    for name, value in values.items():
        old = getattr(account, name)
        if old != value:
            changes[name] = [_jsonable(old), _jsonable(value)]
            setattr(account, name, value)
    _extra_fields(account, extra)
    if changes:
        session.flush()
        hook.account_changed(account=account, action="updated", changes=changes)
        emit("contacts.account.updated", {**_account_payload(account), "changes": changes})
    if new_status is not None and new_status != account.status:
        set_status(account.id, new_status)
    return account


def _check_owner(owner_id: uuid.UUID | None) -> None:
    """An account's owner must be an active user and an active member of the tenant in
    context; else a ValidationError on owner_id (an unknown id, a user of another tenant, a
    deactivated user: the form's owner select does not offer them either)."""
    if owner_id is None:
        return
    from core.models import User
    from core.services import memberships_of
    from core.tenancy import current_tenant_id

    tenant_id = current_tenant_id()
    if not any(m.tenant_id == tenant_id for m in memberships_of(owner_id)):
        raise ValidationError("no such user in this tenant", field="owner_id")
    user = session.get(User, owner_id)
    if user is None or not user.active:
        raise ValidationError("this user is deactivated", field="owner_id")


def delete_account(account_id: uuid.UUID | str) -> None:
    """Archive an account (soft delete): it vanishes from lists, its data stays."""
    account = get_account(account_id, field="id")
    account.soft_delete()
    session.flush()
    hook.account_changed(account=account, action="deleted", changes={})
    emit("contacts.account.deleted", _account_payload(account))


def set_status(account_id: uuid.UUID | str, new: str, reason: str = "") -> Account:
    """Change an account's status; any enabled addon may veto through account_status_changing."""
    if new not in ACCOUNT_STATUSES:
        raise ValidationError(
            f"status must be one of {', '.join(ACCOUNT_STATUSES)}", field="status"
        )
    account = get_account(account_id)
    old = account.status
    if old == new:
        return account
    hook.account_status_changing(account=account, old=old, new=new, reason=reason)
    account.status = new
    session.flush()
    changes = {"status": [old, new]}
    hook.account_changed(account=account, action="status_changed", changes=changes)
    emit(
        "contacts.account.status_changed",
        {**_account_payload(account), "old": old, "new": new, "reason": reason},
    )
    return account


def place_on_hold(account_id: uuid.UUID | str, reason: str = "") -> Account:
    """Put an account on hold (finance's credit hold: sales stops quoting it)."""
    return set_status(account_id, "on_hold", reason)


def release(account_id: uuid.UUID | str, reason: str = "") -> Account:
    """Take an account off hold: it becomes active again."""
    account = get_account(account_id)
    if account.status != "on_hold":
        raise DomainError(
            f"account {account.name!r} is not on hold",
            code="NOT_ON_HOLD",
            details={"status": [f"is {account.status}"]},
        )
    return set_status(account.id, "active", reason)


@dataclass(frozen=True)
class Page:
    """One page of a list and the total it was cut from."""

    items: list[Any]
    total: int


def list_accounts(
    *,
    q: str | None = None,
    kind: str | None = None,
    status: str | None = None,
    tag: str | None = None,
    limit: int = 50,
    offset: int = 0,
    sort: str = "name",
) -> Page:
    """Live accounts of the tenant, filtered and sorted, one page at a time."""
    stmt = accounts_query(q)
    if kind:
        stmt = stmt.where(has_kind(kind))
    if status:
        stmt = stmt.where(Account.status == status)
    if tag:
        stmt = stmt.where(has_tag(tag))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    order = {
        "name": Account.name,
        "-name": Account.name.desc(),
        "created_at": Account.created_at,
        "-created_at": Account.created_at.desc(),
    }
    if sort not in order:
        raise ValidationError(f"sort by one of {', '.join(order)}", field="sort")
    items = session.scalars(stmt.order_by(order[sort], Account.id).limit(limit).offset(offset))
    return Page(list(items), total)


def accounts_query(q: str | None = None) -> Select[tuple[Account]]:
    """The SELECT of live accounts matching the search `q` (all of them without one)."""
    stmt = select(Account).where(Account.deleted_at.is_(None))
    if q and q.strip():
        stmt = stmt.where(search_clause(q))
    return stmt


def has_kind(kind: str) -> ColumnElement[bool]:
    """Accounts of `kind` (customer, vendor, ...) among their kinds."""
    return cast(Account.kinds, String).contains(f'"{kind}"', autoescape=True)


def has_tag(tag: str) -> ColumnElement[bool]:
    """Accounts carrying `tag`."""
    # autoescape: a % or _ typed in a filter is text, not a wildcard.
    return cast(Account.tags, String).contains(f'"{tag}"', autoescape=True)


def search_accounts(q: str, limit: int = 20, offset: int = 0) -> list[Account]:
    """Accounts whose name, email or phone match `q` (every word, each as a prefix): best
    first on SQLite (bm25), by name on PostgreSQL; `offset` skips that many (paging). Their
    people are loaded in one more query, not one per account (the API shows each one's
    primary contact)."""
    if not (q or "").strip():
        raise ValidationError("give something to search for", field="q")
    words, digits = _search_terms(q)
    stmt = select(Account).where(Account.deleted_at.is_(None)).options(selectinload(Account.people))
    if _on_sqlite():
        # Join, not IN: bm25() ranks the FTS row, and the join to Account brings the
        # kernel's tenant filter and record rules with it.
        stmt = (
            stmt.join(account_search, account_search.c.account_id == Account.id)
            .where(_fts_match(words, digits))
            .order_by(_fts_rank(), Account.name, Account.id)
        )
    else:
        stmt = stmt.where(search_clause(q)).order_by(Account.name, Account.id)
    return list(session.scalars(stmt.limit(limit).offset(offset)))


# A run of at least this many digits in a query is also looked for in phones, digits only.
PHONE_MIN_DIGITS = 4
# Characters kept inside a search word (emails, hyphenated names, +49): the rest split words.
_WORD_CHARS = "@.-_+"


def _search_terms(q: str) -> tuple[list[str], str]:
    """The words of `q` (each with a letter or digit) and all its digits; 422 on `q` if
    neither gives anything to search for."""
    q = unicodedata.normalize("NFC", q or "")
    words = "".join(c if c.isalnum() or c in _WORD_CHARS else " " for c in q).split()
    # A word of punctuation only ("-", "@") finds nothing on either database: drop it.
    words = [w for w in words if any(c.isalnum() for c in w)]
    digits = "".join(c for c in q if c.isdigit())
    if not words and len(digits) < PHONE_MIN_DIGITS:
        raise ValidationError("give a name, email or phone to search for", field="q")
    return words, digits


def search_clause(q: str) -> ColumnElement[bool]:
    """Accounts matching `q`: full-text on PostgreSQL (the GIN index), FTS5 on SQLite (the
    contacts_account_fts table); a run of digits also matches phones, digits only."""
    words, digits = _search_terms(q)
    if _on_sqlite():
        matching = select(account_search.c.account_id).where(_fts_match(words, digits))
        return Account.id.in_(matching)
    queries: list[ColumnElement[Any]] = []
    if words:
        queries.append(_tsquery(words))
    if len(digits) >= PHONE_MIN_DIGITS:
        # Phones are typed many ways (+49 30 1234, 030-1234): the index holds every suffix
        # of the phone's digits with weight D, so the digits anywhere in it are a prefix.
        digits_query = cast(bindparam("digits", f"'{digits}':*D", unique=True), TSQUERY)
        queries.append(digits_query)
    query = queries[0]
    if len(queries) > 1:
        # One @@ on one tsquery (words OR digits): the GIN index answers both.
        query = query.op("||")(queries[1])
    return search_document().op("@@")(query)


def _tsquery(words: Sequence[str]) -> ColumnElement[Any]:
    """Every word as a prefix of a word of name, email or phone (weight A), for PostgreSQL;
    words are quoted so no operator leaks in."""
    emails = [w for w in words if _is_partial_email(w)]
    plain = [w for w in words if w not in emails]
    parts: list[ColumnElement[Any]] = []
    if plain:
        query = " & ".join("'" + w.replace("'", "").replace("\\", "") + "':*A" for w in plain)
        parts.append(func.to_tsquery(literal_column("'simple'"), query))
    for word in emails:
        # The parser keeps a whole email as one lexeme but splits a partial one ("boom@acme"
        # becomes boom <-> acme), so typing an email would find nothing until it is
        # complete: cast it as a literal lexeme prefix instead (emails are stored lower-case).
        lexeme = "'" + word.lower().replace("'", "").replace("\\", "") + "':*A"
        parts.append(cast(bindparam("lexeme", lexeme, unique=True), TSQUERY))
    query_ = parts[0]
    for part in parts[1:]:
        query_ = query_.op("&&")(part)
    return query_


def _is_partial_email(word: str) -> bool:
    """`local@` or `local@domain...`: something the parser would split unlike the stored email."""
    local, at, domain = word.partition("@")
    return bool(local and at and "@" not in domain)


def _on_sqlite() -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _fts_match(words: Sequence[str], digits: str) -> ColumnElement[bool]:
    """`contacts_account_fts MATCH <query>`: every word as a prefix in name, email or phone,
    or the digits anywhere in the phone (a prefix of one of its stored suffixes).

    Words hold only letters, digits and _WORD_CHARS, never a double quote, so each one
    quoted is a plain FTS5 string: AND, OR, NEAR, `*`, `^`, `:` or `-` in it stay text,
    and the tokenizer splits it as it split the stored text ("sales@acme.com" is the
    phrase sales acme com)."""
    parts = []
    if words:
        parts.append("({name email phone} : (" + " AND ".join(f'"{w}"*' for w in words) + "))")
    if len(digits) >= PHONE_MIN_DIGITS:
        parts.append(f'({{phone_digits}} : "{digits}"*)')
    table_ = literal_column(account_search.name)
    return table_.op("MATCH")(bindparam("fts_query", " OR ".join(parts), type_=String, unique=True))


def _fts_rank() -> ColumnElement[float]:
    """bm25 of the matched FTS row (lower is better); a hit in the name counts most."""
    # Weights per column: account_id, name, email, phone, phone_digits.
    return func.bm25(literal_column(account_search.name), 0.0, 10.0, 5.0, 2.0, 1.0)


# --- people -----------------------------------------------------------------------------


def get_person(person_id: uuid.UUID | str) -> Person:
    """The current tenant's live person `person_id`, or NotFound."""
    person = session.get(Person, _uuid(person_id, "id"))
    if person is None or person.deleted_at is not None:
        raise NotFound(f"no such person {person_id}", details={"id": ["no such record"]})
    return person


def add_person(data: Mapping[str, Any]) -> Person:
    """Add a person to an account (`account_id` in `data`); is_primary moves the flag to them."""
    values = load(PersonSchema(), data)
    account = get_account(values["account_id"])
    person = Person(is_primary=False, **{k: v for k, v in values.items() if k != "is_primary"})
    person.account = account
    session.add(person)
    session.flush()
    if values.get("is_primary") or not any(p.is_primary for p in _people_of(account.id)):
        _make_primary(person)
    return person


def update_person(person_id: uuid.UUID | str, data: Mapping[str, Any]) -> Person:
    """Change a person (partial); moving them to another account checks it is the tenant's."""
    person = get_person(person_id)
    values = load(PersonSchema(), data, partial=True)
    if "account_id" in values and values["account_id"] != person.account_id:
        person.account = get_account(values["account_id"])
        person.is_primary = False
    primary = values.pop("is_primary", None)
    for name, value in values.items():
        if name != "account_id":
            setattr(person, name, value)
    if primary:
        _make_primary(person)
    elif primary is False:
        person.is_primary = False
    session.flush()
    return person


def delete_person(person_id: uuid.UUID | str) -> None:
    """Remove a person (soft delete)."""
    person = get_person(person_id)
    person.soft_delete()
    person.is_primary = False
    session.flush()


def list_people(
    *,
    account_id: uuid.UUID | str | None = None,
    q: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page:
    """Live people of the tenant, optionally of one account or matching `q`."""
    stmt = select(Person).where(Person.deleted_at.is_(None))
    if account_id is not None:
        stmt = stmt.where(Person.account_id == get_account(account_id).id)
    if q and q.strip():
        # A substring scan of one tenant's people; % and _ in q are text, not wildcards.
        term = q.strip().lower()
        stmt = stmt.where(
            or_(
                func.lower(Person.first_name).contains(term, autoescape=True),
                func.lower(Person.last_name).contains(term, autoescape=True),
                func.lower(Person.email).contains(term, autoescape=True),
            )
        )
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    items = session.scalars(
        stmt.order_by(Person.last_name, Person.first_name, Person.id).limit(limit).offset(offset)
    )
    return Page(list(items), total)


def _people_of(account_id: uuid.UUID) -> list[Person]:
    return list(
        session.scalars(
            select(Person).where(Person.account_id == account_id, Person.deleted_at.is_(None))
        )
    )


def _make_primary(person: Person) -> None:
    """One primary contact per account: flagging one unflags the others."""
    for other in _people_of(person.account_id):
        if other is not person and other.is_primary:
            other.is_primary = False
    person.is_primary = True
    session.flush()


# --- addresses --------------------------------------------------------------------------


def get_address(address_id: uuid.UUID | str) -> Address:
    """The current tenant's live address, or NotFound."""
    address = session.get(Address, _uuid(address_id, "id"))
    if address is None or address.deleted_at is not None:
        raise NotFound(f"no such address {address_id}", details={"id": ["no such record"]})
    return address


def add_address(account_id: uuid.UUID | str, data: Mapping[str, Any]) -> Address:
    """Add an address to an account; it becomes the default of its kind when `is_default`
    asks for it, or when the account has no address of that kind yet (whatever
    `is_default` says: a kind with addresses always has exactly one default)."""
    account = get_account(account_id)
    values = load(AddressSchema(), data)
    default = values.pop("is_default", None)
    address = Address(is_default=False, **values)
    address.account = account
    session.add(address)
    session.flush()
    if default or _default_of(account.id, address.kind) is None:
        _make_default(address)
    return address


def update_address(address_id: uuid.UUID | str, data: Mapping[str, Any]) -> Address:
    """Change an address (partial), keeping one default per kind: `is_default` true takes
    the default from the others, false hands it to the kind's oldest other address (the
    only one keeps it); moving to another kind hands the old kind's default on and takes
    the new kind's if it had none."""
    address = get_address(address_id)
    values = load(AddressSchema(), data, partial=True)
    default = values.pop("is_default", None)
    old_kind = address.kind
    moving = "kind" in values and values["kind"] != old_kind
    if moving and address.is_default:
        _hand_default_on(address)
    for name, value in values.items():
        setattr(address, name, value)
    session.flush()
    if default or _default_of(address.account_id, address.kind) is None:
        _make_default(address)
    elif default is False and address.is_default:
        _hand_default_on(address, keep_if_alone=True)
    return address


def delete_address(address_id: uuid.UUID | str) -> None:
    """Remove an address (soft delete); if it was its kind's default, the kind's oldest
    remaining address becomes the default (none when it was the last)."""
    address = get_address(address_id)
    if address.is_default:
        _hand_default_on(address)
    address.soft_delete()
    session.flush()


def list_addresses(account_id: uuid.UUID | str) -> list[Address]:
    """The live addresses of an account, by kind with defaults first."""
    account = get_account(account_id)
    return sorted(_addresses_of(account.id), key=lambda a: (a.kind, not a.is_default, a.city))


def _addresses_of(account_id: uuid.UUID) -> list[Address]:
    return list(
        session.scalars(
            select(Address).where(Address.account_id == account_id, Address.deleted_at.is_(None))
        )
    )


def _default_of(account_id: uuid.UUID, kind: str) -> Address | None:
    """The account's live default address of `kind`, if any."""
    return next(
        (a for a in _addresses_of(account_id) if a.kind == kind and a.is_default),
        None,
    )


def _make_default(address: Address) -> None:
    """One default address per kind and account: flagging one unflags the others."""
    for other in _addresses_of(address.account_id):
        if other is not address and other.kind == address.kind and other.is_default:
            other.is_default = False
    # The unique index allows one default per kind at every statement: clear, then set.
    session.flush()
    address.is_default = True
    session.flush()


def _hand_default_on(address: Address, *, keep_if_alone: bool = False) -> Address | None:
    """Take the default of its kind from `address` and give it to the kind's oldest other
    live address; with none, `address` keeps it if `keep_if_alone`, else the kind has none."""
    others = sorted(
        (
            a
            for a in _addresses_of(address.account_id)
            if a is not address and a.kind == address.kind
        ),
        key=lambda a: (a.created_at, str(a.id)),
    )
    if not others:
        if not keep_if_alone:
            address.is_default = False
            session.flush()
        return None
    address.is_default = False
    session.flush()
    others[0].is_default = True
    session.flush()
    return others[0]


# --- duplicates and merge ---------------------------------------------------------------


@dataclass(frozen=True)
class DuplicateGroup:
    """Accounts that share an email or a tax id: candidates for a merge."""

    reason: str
    value: str
    accounts: list[Account]


def find_duplicates() -> list[DuplicateGroup]:
    """Groups of live accounts with the same email (any case) or the same tax id."""
    groups: list[DuplicateGroup] = []
    for reason, column in (
        ("email", func.lower(Account.email)),
        ("tax_id", func.upper(func.replace(Account.tax_id, " ", ""))),
    ):
        values = session.scalars(
            select(column)
            .where(Account.deleted_at.is_(None), column.is_not(None), column != "")
            .group_by(column)
            .having(func.count() > 1)
            .order_by(column)
        ).all()
        for value in values:
            accounts = session.scalars(
                select(Account)
                .where(Account.deleted_at.is_(None), column == value)
                .order_by(Account.created_at)
            ).all()
            groups.append(DuplicateGroup(reason, value, list(accounts)))
    return groups


def duplicates_of(account: Account) -> list[Account]:
    """Other live accounts with the same email or tax id as `account`."""
    conditions = []
    if account.email:
        conditions.append(func.lower(Account.email) == account.email.lower())
    if account.tax_id:
        conditions.append(Account.tax_id == account.tax_id)
    if not conditions:
        return []
    return list(
        session.scalars(
            select(Account)
            .where(Account.deleted_at.is_(None), Account.id != account.id, or_(*conditions))
            .order_by(Account.name)
        )
    )


@dataclass(frozen=True)
class Merged:
    """A merge's outcome: the master account, and what enabled addons did not keep (their
    sentences, e.g. purchase's terms where both vendors had some)."""

    account: Account
    dropped: tuple[str, ...] = ()


def merge_accounts(master_id: uuid.UUID | str, duplicate_id: uuid.UUID | str) -> Account:
    """Merge `duplicate_id` into `master_id` (see `merge`); the master account."""
    return merge(master_id, duplicate_id).account


def merge(master_id: uuid.UUID | str, duplicate_id: uuid.UUID | str) -> Merged:
    """Merge `duplicate_id` into `master_id`: people and addresses move, other addons repoint
    their references (contacts_merge_references), empty master fields are filled from the
    duplicate, and the duplicate is archived. The outcome says what addons did not keep."""
    if str(master_id) == str(duplicate_id):
        raise ValidationError("cannot merge an account with itself", field="duplicate_id")
    master = get_account(master_id, field="master_id")
    duplicate = get_account(duplicate_id, field="duplicate_id")
    had_primary = any(p.is_primary for p in _people_of(master.id))
    defaults = {a.kind for a in _addresses_of(master.id) if a.is_default}
    for person in _people_of(duplicate.id):
        person.account = master
        if had_primary:
            person.is_primary = False
    for address in _addresses_of(duplicate.id):
        address.account = master
        if address.kind in defaults:
            address.is_default = False
    changes: dict[str, list[Any]] = {}
    for name in (
        "industry",
        "annual_revenue",
        "website",
        "email",
        "phone",
        "tax_id",
        "notes",
        "owner_id",
    ):
        if getattr(master, name) in (None, "") and getattr(duplicate, name) not in (None, ""):
            changes[name] = [None, _jsonable(getattr(duplicate, name))]
            setattr(master, name, getattr(duplicate, name))
    for name in ("kinds", "tags"):
        merged = sorted(set(getattr(master, name)) | set(getattr(duplicate, name)))
        if name == "kinds":
            from addons.contacts.models import ACCOUNT_KINDS

            merged = [k for k in ACCOUNT_KINDS if k in merged]
        if merged != list(getattr(master, name)):
            changes[name] = [list(getattr(master, name)), merged]
            setattr(master, name, merged)
    duplicate.merged_into_id = master.id
    duplicate.soft_delete()
    session.flush()
    from addons.contacts.extensions import MergeReport

    reports = hook.contacts_merge_references(master_id=master.id, duplicate_id=duplicate.id)
    dropped = tuple(
        sentence for r in reports or () if isinstance(r, MergeReport) for sentence in r.dropped
    )
    merged = [str(duplicate.id), str(master.id)]
    hook.account_changed(
        account=master,
        action="merged",
        changes={**changes, "merged": merged, **({"dropped": list(dropped)} if dropped else {})},
    )
    emit(
        "contacts.account.merged",
        {**_account_payload(master), "duplicate_id": str(duplicate.id), "dropped": list(dropped)},
    )
    if changes:
        emit("contacts.account.updated", {**_account_payload(master), "changes": changes})
    return Merged(master, dropped)


# --- extension fields -------------------------------------------------------------------


def _split(data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    if not isinstance(data, Mapping):
        raise ValidationError("expected a JSON object", field="body")
    known = {k: v for k, v in data.items() if k in ACCOUNT_FIELDS}
    extra = {k: v for k, v in data.items() if k not in ACCOUNT_FIELDS and k not in _IGNORED}
    return known, extra


# Read-only fields a client may send back unchanged (a GET's body PUT again).
_IGNORED = frozenset(
    {
        "id",
        "version",
        "created_at",
        "updated_at",
        "primary_contact_id",
        "addresses",
        "people",
        "merged_into_id",
        "deleted_at",
    }
)


def _extra_fields(account: Account, extra: Mapping[str, Any]) -> None:
    """Hand fields contacts does not know to the addons that own them; refuse the rest."""
    if not extra:
        return
    claimed: set[str] = set()
    for names in hook.account_extra_fields_received(account=account, data=dict(extra)):
        claimed.update(names or ())
    unknown = sorted(set(extra) - claimed)
    if unknown:
        raise ValidationError(details={name: ["unknown field"] for name in unknown})


def extra_field_types() -> dict[str, Field]:
    """The fields the enabled addons add to accounts, as they declare them (name → field)."""
    declared: dict[str, Field] = {}
    for batch in hook.account_extra_field_types():
        for name, field in (batch or {}).items():
            if name not in ACCOUNT_FIELDS:  # an addon may add fields, never redefine ours
                declared[name] = field
    return declared


def _load_account(
    known: Mapping[str, Any], extra: Mapping[str, Any], *, partial: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validate contacts' own fields and the declared extra ones together, so one answer
    names every bad field; undeclared extra fields pass on unchanged (their owner checks
    them, and fields nobody claims are refused)."""
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    try:
        values = load(AccountSchema(), known, partial=partial)
    except ValidationError as exc:
        errors.update(exc.details or {"body": [exc.message]})
    try:
        extra = load_extra_fields(extra)
    except ValidationError as exc:
        errors.update(exc.details or {})
    if errors:
        raise ValidationError(details=errors)
    return values, extra


def load_extra_fields(extra: Mapping[str, Any]) -> dict[str, Any]:
    """`extra` with the fields an enabled addon declared loaded by its declaration (the
    rest unchanged); a ValidationError names each bad one."""
    declared = {k: f for k, f in extra_field_types().items() if k in extra}
    out = dict(extra)
    if not declared:
        return out
    # Forms send '' for an empty field: that is "no value", as for contacts' own fields.
    raw = {
        k: None if isinstance(extra[k], str) and not extra[k].strip() else extra[k]
        for k in declared
    }
    try:
        out.update(Schema.from_dict(declared)().load(raw))
    except MarshmallowError as exc:
        messages = exc.normalized_messages()
        raise ValidationError(details={str(k): _messages(v) for k, v in messages.items()}) from None
    return out


def _messages(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def extra_fields_of(accounts: Sequence[Account]) -> dict[uuid.UUID, dict[str, Any]]:
    """What the enabled addons add to each account's API representation, by account id:
    one hook call for the whole list, each declared field dumped as declared."""
    result: dict[uuid.UUID, dict[str, Any]] = {a.id: {} for a in accounts}
    if not accounts:
        return result
    for batch in hook.account_extra_fields(accounts=list(accounts)):
        for account_id, fields_ in (batch or {}).items():
            if account_id not in result:
                continue
            for name, value in (fields_ or {}).items():
                if name not in ACCOUNT_FIELDS:  # an addon may add fields, never override ours
                    result[account_id][name] = value
    declared = extra_field_types()
    if declared:
        for values in result.values():
            shown = {k: f for k, f in declared.items() if k in values}
            if shown:
                values.update(Schema.from_dict(shown)().dump(values))
    return result


def extra_fields(account: Account) -> dict[str, Any]:
    """What the enabled addons add to one account's API representation."""
    return extra_fields_of([account])[account.id]


# --- helpers ----------------------------------------------------------------------------


def _uuid(value: uuid.UUID | str, field: str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound(f"no such record {value!r}", details={field: ["no such record"]}) from None


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, list):
        return list(value)
    return value
