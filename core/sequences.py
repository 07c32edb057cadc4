"""Document numbers: per tenant and document type, gap-free, safe under concurrency.

`next_number("sales.order", "SO-{year}-{seq:05d}")` gives "SO-2026-00001", then
"SO-2026-00002", and starts again at 1 in 2027. The counter is one row per tenant,
document type and period, bumped by one atomic UPSERT ... RETURNING in the caller's
transaction: the row stays locked until that transaction ends (PostgreSQL row lock;
SQLite's BEGIN IMMEDIATE serialises writers anyway), so concurrent callers queue and
get consecutive numbers, and a rollback gives the number back: no gaps.
"""

from __future__ import annotations

import datetime as dt
import re
import string
import uuid
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.db import Base
from core.errors import ValidationError
from core.mixins import utcnow
from core.tenancy import TenantOwned, require_tenant_id
from core.types import UTCDateTime

DOC_TYPE_RE = re.compile(r"^[a-z][a-z0-9_.-]{0,62}$")
FIELDS = ("seq", "year", "yy", "month", "day")
DEFAULT_PATTERN = "{seq:05d}"
MAX_NUMBER_LENGTH = 64


class DocumentSequence(TenantOwned, Base):
    """The last number issued for one tenant, document type and period."""

    __tablename__ = "core_sequence"
    # A counter bump is not a business change; the numbered document is audited itself.
    __audit__ = False

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("core_tenant.id", ondelete="CASCADE"), primary_key=True
    )
    doc_type: Mapped[str] = mapped_column(String(63), primary_key=True)
    # "" when the pattern never resets, else "2026", "2026-03" or "2026-03-31".
    period: Mapped[str] = mapped_column(String(10), primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False)


def _pattern_error(pattern: str, why: str) -> ValidationError:
    return ValidationError(f"invalid sequence pattern {pattern!r}: {why}", field="pattern")


def parse_pattern(pattern: str) -> str:
    """Check `pattern` and return how often it resets: "", "year", "month" or "day".

    Placeholders: `{seq}` (required, once; may carry an int format such as `{seq:05d}`),
    `{year}` (2026), `{yy}` (26), `{month}` (03), `{day}` (31).
    """
    if not isinstance(pattern, str) or not pattern:
        raise _pattern_error(str(pattern), "it is empty")
    try:
        parts = list(string.Formatter().parse(pattern))
    except ValueError as exc:
        raise _pattern_error(pattern, str(exc)) from None
    names = []
    for _literal, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in FIELDS:
            allowed = ", ".join("{" + f + "}" for f in FIELDS)
            raise _pattern_error(pattern, f"unknown placeholder {{{name}}} (use {allowed})")
        if conversion:
            raise _pattern_error(pattern, f"conversion !{conversion} is not supported")
        if name != "seq" and spec:
            raise _pattern_error(pattern, f"{{{name}}} takes no format")
        if name == "seq":
            try:
                format(1, spec or "")
            except ValueError:
                raise _pattern_error(pattern, f"{{seq:{spec}}} is not a number format") from None
        names.append(name)
    if names.count("seq") != 1:
        raise _pattern_error(pattern, "it needs {seq} exactly once")
    has_year = "year" in names or "yy" in names
    if "day" in names and "month" not in names:
        raise _pattern_error(pattern, "{day} needs {month} too, or numbers would repeat")
    if "month" in names and not has_year:
        raise _pattern_error(pattern, "{month} needs {year} or {yy} too, or numbers would repeat")
    if "day" in names:
        return "day"
    if "month" in names:
        return "month"
    return "year" if has_year else ""


def _period_key(reset: str, day: dt.date) -> str:
    return {"": "", "year": f"{day:%Y}", "month": f"{day:%Y-%m}", "day": f"{day:%Y-%m-%d}"}[reset]


def format_number(pattern: str, seq: int, day: dt.date) -> str:
    """Render `pattern` for number `seq` on `day` (the pattern must be valid)."""
    return pattern.format(
        seq=seq, year=f"{day:%Y}", yy=f"{day:%y}", month=f"{day:%m}", day=f"{day:%d}"
    )


def _validate_doc_type(doc_type: str) -> str:
    if not isinstance(doc_type, str) or not DOC_TYPE_RE.match(doc_type):
        raise ValidationError(
            f"invalid document type {doc_type!r}: use 1-63 lower-case letters, digits, "
            "'.', '_' or '-', starting with a letter",
            field="doc_type",
        )
    return doc_type


def next_number(
    doc_type: str,
    pattern: str | None = None,
    *,
    when: dt.date | None = None,
    session: Session | None = None,
) -> str:
    """Draw the next number of `doc_type` for the current tenant, formatted by `pattern`.

    The number belongs to the caller's transaction: commit keeps it, rollback returns it.
    `when` (default: today, UTC) picks the period of a resetting pattern, e.g. the
    document's date. The counter row stays locked until the transaction ends, so keep
    numbering late in the transaction.
    """
    _validate_doc_type(doc_type)
    pattern = DEFAULT_PATTERN if pattern is None else pattern
    reset = parse_pattern(pattern)
    if when is None:
        when = utcnow().date()
    elif isinstance(when, dt.datetime):
        when = when.astimezone(dt.UTC).date() if when.tzinfo else when.date()
    period = _period_key(reset, when)
    if session is None:
        from core.db import session as current

        session = current
    value = _bump(session, require_tenant_id(), doc_type, period)
    number = format_number(pattern, value, when)
    if len(number) > MAX_NUMBER_LENGTH:
        raise _pattern_error(pattern, f"numbers would be longer than {MAX_NUMBER_LENGTH}")
    return number


def _bump(session: Session, tenant_id: uuid.UUID, doc_type: str, period: str) -> int:
    """Add one to the counter (creating it at 1) and return the new value, in one statement."""
    table: Table = DocumentSequence.__table__  # type: ignore[assignment]
    dialect = session.get_bind(mapper=DocumentSequence.__mapper__).dialect.name
    if dialect not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"sequences support PostgreSQL and SQLite, not {dialect}")
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.tenant_id, table.c.doc_type, table.c.period],
        set_={"last_value": table.c.last_value + 1, "updated_at": stmt.excluded.updated_at},
    ).returning(table.c.last_value)
    params = {
        "tenant_id": tenant_id,
        "doc_type": doc_type,
        "period": period,
        "last_value": 1,
        "updated_at": utcnow(),
    }
    return int(session.execute(stmt, params).scalar_one())


def current_number(doc_type: str, *, period: str = "", session: Session | None = None) -> int:
    """The last number issued for `doc_type` in `period` ("", "2026", "2026-03"...), 0 if none."""
    _validate_doc_type(doc_type)
    if session is None:
        from core.db import session as current

        session = current
    value = session.scalar(
        select(DocumentSequence.last_value).where(
            DocumentSequence.doc_type == doc_type, DocumentSequence.period == period
        )
    )
    return int(value or 0)
