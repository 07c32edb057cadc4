"""CSV import and export of accounts with their people and addresses.

An account's first row holds its name and fields, its primary contact and its default
address of each kind. A row whose `name` is empty continues the account above: its contact
columns add one more person, its address columns one more address of each kind (not the
default: the first of a kind is). Export writes every live person and address this way, and
the fields other addons add to accounts (`purchase_payment_terms`, ...) as more columns,
which import hands back to those addons: what export writes, import reads.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from addons.contacts import services
from addons.contacts.models import Account, Address, Person
from core.db import session
from core.errors import DomainError, ValidationError

ACCOUNT_COLUMNS = (
    "name",
    "kinds",
    "status",
    "industry",
    "annual_revenue",
    "website",
    "email",
    "phone",
    "tax_id",
    "notes",
    "tags",
)
ADDRESS_PARTS = ("street", "city", "postal_code", "region", "country")
ADDRESS_KINDS = ("billing", "shipping", "other")
ADDRESS_COLUMNS = tuple(f"{kind}_{part}" for kind in ADDRESS_KINDS for part in ADDRESS_PARTS)
PERSON_PARTS = ("first_name", "last_name", "email", "phone", "job_title")
PERSON_COLUMNS = tuple(f"contact_{part}" for part in PERSON_PARTS)
COLUMNS = ACCOUNT_COLUMNS + ADDRESS_COLUMNS + PERSON_COLUMNS
LIST_SEPARATOR = ";"
MAX_ERRORS = 200
# Spreadsheets run cells starting with these as formulas: exported text must not become one
# (a phone number such as +49 30 1234 stays as it is).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PHONE_CHARS = frozenset("0123456789 +-()./")
# The mark export puts before such a cell, and import takes off again.
_GUARD = "'"
# Accounts whose people, addresses and addon fields are read together on export.
_EXPORT_BATCH = 200


@dataclass(frozen=True)
class RowError:
    """What was wrong with one line of the file (line 1 is the header)."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


@dataclass
class ImportResult:
    """What an import did (or, for a preview, would do)."""

    accounts: int = 0
    people: int = 0
    addresses: int = 0
    errors: list[RowError] = field(default_factory=list)
    skipped_lines: list[int] = field(default_factory=list)
    preview: list[dict[str, Any]] = field(default_factory=list)
    committed: bool = False


class ImportFailed(ValidationError):
    """An all-or-nothing import met bad rows: nothing was written; `result.errors` says where."""

    def __init__(self, result: ImportResult) -> None:
        details = {f"line {e.line}": [f"{e.field}: {e.message}"] for e in result.errors}
        super().__init__(
            f"{len(result.errors)} error(s), nothing imported: "
            + "; ".join(str(e) for e in result.errors[:5]),
            details=details,
        )
        self.result = result


def read_rows(text: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header and (line number, row) pairs of a CSV text; a header needs a `name` column.

    Besides contacts' own COLUMNS, the header may name the fields enabled addons add to
    accounts (`services.extra_field_types()`, what export writes). Cells are stripped of
    surrounding blanks and of the formula guard export adds (`'=SUM(A1)` is `=SUM(A1)`).
    """
    text = text.lstrip("\ufeff")  # Excel's byte-order mark
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if "name" not in header:
        raise ValidationError(
            "the first line must be a header with at least a 'name' column", field="file"
        )
    known = (*COLUMNS, *sorted(services.extra_field_types()))
    unknown = [h for h in header if h and h not in known]
    if unknown:
        raise ValidationError(
            f"unknown column(s): {', '.join(unknown)}; known: {', '.join(known)}", field="file"
        )
    reader.fieldnames = header
    rows = []
    for row in reader:
        clean = {k: _unguard((v or "").strip()) for k, v in row.items() if k}
        if any(clean.values()):
            rows.append((reader.line_num, clean))
    return header, rows


def import_accounts(
    text: str,
    *,
    skip_bad_rows: bool = False,
    dry_run: bool = False,
    progress: Callable[[int], Any] | None = None,
) -> ImportResult:
    """Import a CSV text into the tenant in context.

    All or nothing by default: one bad row and nothing is written (`ImportFailed`). With
    `skip_bad_rows` the good rows are kept and the bad ones reported. `dry_run` checks every
    row and rolls everything back (the web preview). The caller commits.
    """
    header, rows = read_rows(text)
    # Account fields: contacts' own and the addons' (every column but addresses and people).
    account_columns = [h for h in header if h and h not in ADDRESS_COLUMNS + PERSON_COLUMNS]
    result = ImportResult()
    outer = session.begin_nested()
    current: Account | None = None
    current_ok = False
    for line, row in rows:
        row_errors: list[RowError] = []
        saved = session.begin_nested()  # one row at a time: a bad row leaves no trace
        try:
            accounts = 0
            if row.get("name"):
                current_ok = False
                current = _import_account(row, account_columns)
                accounts = 1
            elif current is None or not current_ok:
                raise ValidationError("no valid account above this line to add to", field="name")
            else:
                _refuse_account_fields(row, account_columns)
            addresses = _import_addresses(current, row)
            people = _import_person(current, row)
            saved.commit()
            current_ok = True
            result.accounts += accounts
            result.addresses += addresses
            result.people += people
            result.preview.append(
                {
                    "line": line,
                    "name": current.name,
                    "kinds": ", ".join(current.kinds),
                    "people": people,
                    "addresses": addresses,
                    "new_account": bool(accounts),
                }
            )
        except DomainError as err:
            saved.rollback()
            for name, messages in _field_messages(err):
                row_errors.append(RowError(line, name, messages))
            result.errors.extend(row_errors)
            result.skipped_lines.append(line)
            if not skip_bad_rows and not dry_run and len(result.errors) >= MAX_ERRORS:
                break
        if progress is not None:
            progress(1)
    if dry_run or (result.errors and not skip_bad_rows):
        outer.rollback()
        if result.errors and not skip_bad_rows and not dry_run:
            raise ImportFailed(result)
        return result
    outer.commit()
    result.committed = True
    return result


def _import_account(row: dict[str, str], columns: Sequence[str]) -> Account:
    # Empty cells are "not given"; the addons' columns go with the rest to create_account,
    # which hands them to their owners (account_extra_fields_received).
    data: dict[str, Any] = {k: row[k] for k in columns if row.get(k)}
    for name in ("kinds", "tags"):
        if name in data:
            data[name] = [
                p.strip().lower() if name == "kinds" else p.strip()
                for p in data[name].split(LIST_SEPARATOR)
                if p.strip()
            ]
    return services.create_account(data)


def _refuse_account_fields(row: dict[str, str], columns: Sequence[str]) -> None:
    """A continuation line adds people and addresses only: account fields on it are an error
    rather than silently dropped."""
    given = [k for k in columns if k != "name" and row.get(k)]
    if given:
        raise ValidationError(
            details={
                k: ["an account field belongs on the account's first line (name is empty here)"]
                for k in given
            }
        )


def _import_addresses(account: Account, row: dict[str, str]) -> int:
    added = 0
    for kind in ADDRESS_KINDS:
        parts = {p: row.get(f"{kind}_{p}", "") for p in ADDRESS_PARTS}
        if not any(parts.values()):
            continue
        try:
            services.add_address(account.id, {"kind": kind, **parts})
        except ValidationError as err:
            raise ValidationError(
                details={f"{kind}_{k}": v for k, v in (err.details or {"": [err.message]}).items()}
            ) from err
        added += 1
    return added


def _import_person(account: Account, row: dict[str, str]) -> int:
    parts = {p: row.get(f"contact_{p}", "") for p in PERSON_PARTS}
    if not any(parts.values()):
        return 0
    try:
        services.add_person({"account_id": str(account.id), **parts})
    except ValidationError as err:
        raise ValidationError(
            details={f"contact_{k}": v for k, v in (err.details or {"": [err.message]}).items()}
        ) from err
    return 1


def _field_messages(err: DomainError) -> Iterator[tuple[str, str]]:
    if isinstance(err.details, dict) and err.details:
        for name, messages in err.details.items():
            text = " ".join(messages) if isinstance(messages, list) else str(messages)
            yield name, text
    else:
        yield "row", err.message


def export_rows(accounts: Iterable[Account]) -> Iterator[dict[str, str]]:
    """Accounts as CSV rows: the first with the account's fields, primary contact, default
    addresses and addon fields; one more row (empty name) per further person or address."""
    batch: list[Account] = []
    for account in accounts:
        batch.append(account)
        if len(batch) >= _EXPORT_BATCH:
            yield from _export_batch(batch)
            batch = []
    if batch:
        yield from _export_batch(batch)


def _export_batch(accounts: Sequence[Account]) -> Iterator[dict[str, str]]:
    """Rows of a batch of accounts, their people and addresses read in one query each."""
    ids = [a.id for a in accounts]
    people: dict[Any, list[Person]] = {i: [] for i in ids}
    for person in session.scalars(
        select(Person)
        .where(Person.account_id.in_(ids), Person.deleted_at.is_(None))
        .order_by(Person.last_name, Person.first_name, Person.created_at, Person.id)
    ):
        people[person.account_id].append(person)
    addresses: dict[Any, list[Address]] = {i: [] for i in ids}
    for address in session.scalars(
        select(Address)
        .where(Address.account_id.in_(ids), Address.deleted_at.is_(None))
        .order_by(Address.created_at, Address.id)
    ):
        addresses[address.account_id].append(address)
    extra = services.extra_fields_of(accounts)
    # Only the fields addons declare: import takes no other column (see read_rows).
    declared = services.extra_field_types()
    for account in accounts:
        # The primary contact and the default of each kind first: import makes the first
        # person the primary and the first address of a kind its default.
        persons = sorted(people[account.id], key=lambda p: not p.is_primary)
        by_kind = {
            kind: sorted(
                (a for a in addresses[account.id] if a.kind == kind),
                key=lambda a: not a.is_default,
            )
            for kind in ADDRESS_KINDS
        }
        lines = max(1, len(persons), *(len(v) for v in by_kind.values()))
        for index in range(lines):
            row: dict[str, Any] = dict.fromkeys(COLUMNS, "")
            if index == 0:
                row.update(_account_cells(account))
                row.update(
                    {
                        k: "" if v is None else str(v)
                        for k, v in extra[account.id].items()
                        if k in declared
                    }
                )
            for kind, kind_addresses in by_kind.items():
                if index < len(kind_addresses):
                    for part in ADDRESS_PARTS:
                        row[f"{kind}_{part}"] = getattr(kind_addresses[index], part) or ""
            if index < len(persons):
                for part in PERSON_PARTS:
                    row[f"contact_{part}"] = getattr(persons[index], part) or ""
            yield row


def _account_cells(account: Account) -> dict[str, str]:
    revenue = account.annual_revenue
    return {
        "name": account.name,
        "kinds": LIST_SEPARATOR.join(account.kinds),
        "status": account.status,
        "industry": account.industry or "",
        # Fixed-point: 1000 is "1000", never "1E+3".
        "annual_revenue": "" if revenue is None else format(revenue.normalize(), "f"),
        "website": account.website or "",
        "email": account.email or "",
        "phone": account.phone or "",
        "tax_id": account.tax_id or "",
        "notes": account.notes or "",
        "tags": LIST_SEPARATOR.join(account.tags),
    }


def export_csv(accounts: Iterable[Account]) -> str:
    """Accounts as a CSV text that `import_accounts` reads back."""
    rows = list(export_rows(accounts))
    extra = sorted({k for r in rows for k in r} - set(COLUMNS))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=[*COLUMNS, *extra], extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _safe(v) for k, v in row.items()})
    return buf.getvalue()


def _safe(value: Any) -> str:
    """The cell as exported: a leading `'` where a spreadsheet would run it as a formula
    (phone numbers excepted), and before text that import would otherwise unguard."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START) and not set(text) <= _PHONE_CHARS:
        return _GUARD + text
    if _unguard(text) != text:  # '=x stays '=x after a round trip: ''=x
        return _GUARD + text
    return text


def _unguard(text: str) -> str:
    """The cell as imported: one `'` taken off before what export guards (a formula start
    or another `'`); an apostrophe before anything else ('t Hooft) is the text's own."""
    if text.startswith(_GUARD) and text[1:2] and text[1] in (*_FORMULA_START, _GUARD):
        return text[1:]
    return text
