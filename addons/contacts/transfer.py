"""CSV import and export of accounts with their people and addresses.

One row per account. A row whose `name` is empty adds its contact columns as one more
person of the account above it, so a spreadsheet can list several people per account.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from addons.contacts import services
from addons.contacts.models import Account
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
ADDRESS_COLUMNS = tuple(
    f"{kind}_{part}" for kind in ("billing", "shipping") for part in ADDRESS_PARTS
)
PERSON_PARTS = ("first_name", "last_name", "email", "phone", "job_title")
PERSON_COLUMNS = tuple(f"contact_{part}" for part in PERSON_PARTS)
COLUMNS = ACCOUNT_COLUMNS + ADDRESS_COLUMNS + PERSON_COLUMNS
LIST_SEPARATOR = ";"
MAX_ERRORS = 200
# Spreadsheets run cells starting with these as formulas: exported text must not become one
# (a phone number such as +49 30 1234 stays as it is).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PHONE_CHARS = frozenset("0123456789 +-()./")


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
    """The header and (line number, row) pairs of a CSV text; a header needs a `name` column."""
    text = text.lstrip("\ufeff")  # Excel's byte-order mark
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if "name" not in header:
        raise ValidationError(
            "the first line must be a header with at least a 'name' column", field="file"
        )
    unknown = [h for h in header if h and h not in COLUMNS]
    if unknown:
        raise ValidationError(
            f"unknown column(s): {', '.join(unknown)}; known: {', '.join(COLUMNS)}", field="file"
        )
    reader.fieldnames = header
    rows = []
    for row in reader:
        clean = {k: (v or "").strip() for k, v in row.items() if k}
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
    _header, rows = read_rows(text)
    result = ImportResult()
    outer = session.begin_nested()
    current: Account | None = None
    current_ok = False
    for line, row in rows:
        row_errors: list[RowError] = []
        saved = session.begin_nested()  # one row at a time: a bad row leaves no trace
        try:
            accounts = addresses = 0
            if row.get("name"):
                current_ok = False
                current = _import_account(row)
                accounts, addresses = 1, _import_addresses(current, row)
            elif current is None or not current_ok:
                raise ValidationError(
                    "no valid account above this line to add the contact to", field="name"
                )
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


def _import_account(row: dict[str, str]) -> Account:
    data: dict[str, Any] = {k: row[k] for k in ACCOUNT_COLUMNS if row.get(k)}
    for name in ("kinds", "tags"):
        if name in data:
            data[name] = [
                p.strip().lower() if name == "kinds" else p.strip()
                for p in data[name].split(LIST_SEPARATOR)
                if p.strip()
            ]
    return services.create_account(data)


def _import_addresses(account: Account, row: dict[str, str]) -> int:
    added = 0
    for kind in ("billing", "shipping"):
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
    """Accounts as CSV rows (primary contact and default addresses), plus addon fields."""
    for account in accounts:
        row: dict[str, Any] = {
            "name": account.name,
            "kinds": LIST_SEPARATOR.join(account.kinds),
            "status": account.status,
            "industry": account.industry or "",
            "annual_revenue": ""
            if account.annual_revenue is None
            else str(account.annual_revenue.normalize()),
            "website": account.website or "",
            "email": account.email or "",
            "phone": account.phone or "",
            "tax_id": account.tax_id or "",
            "notes": account.notes or "",
            "tags": LIST_SEPARATOR.join(account.tags),
        }
        for kind in ("billing", "shipping"):
            address = account.default_address(kind)
            for part in ADDRESS_PARTS:
                row[f"{kind}_{part}"] = getattr(address, part) if address else ""
        person = account.primary_contact
        for part in PERSON_PARTS:
            row[f"contact_{part}"] = (getattr(person, part) or "") if person else ""
        row.update(
            {k: "" if v is None else str(v) for k, v in services.extra_fields(account).items()}
        )
        yield row


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
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START) and not set(text) <= _PHONE_CHARS:
        return "'" + text
    return text
