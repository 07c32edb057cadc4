"""Database errors as answers for people: which fields broke which kind of constraint,
without the driver's own message (it quotes values, SQL and internal names)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.exc import DataError, IntegrityError

from core.db import Base
from core.errors import Conflict, ValidationError

# Columns a client never sends: naming them would only confuse.
_HIDDEN = frozenset({"tenant_id"})
_SQLITE = re.compile(r"(UNIQUE|NOT NULL|CHECK|FOREIGN KEY) constraint failed(?::\s*(.*))?")
_PG_KINDS = {"23505": "UNIQUE", "23503": "FOREIGN KEY", "23502": "NOT NULL", "23514": "CHECK"}
_WRITTEN = re.compile(r'^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.I)


def _constraint_columns(name: str) -> list[str]:
    """The columns of the named constraint or unique index, from the models' metadata."""
    for table in Base.metadata.tables.values():
        items: list[Any] = [*table.constraints, *table.indexes]
        for item in items:
            if item.name == name:
                return [c.name for c in getattr(item, "columns", [])]
    return []


def _kind_and_fields(exc: IntegrityError) -> tuple[str, list[str]]:
    """("UNIQUE" | "FOREIGN KEY" | "NOT NULL" | "CHECK" | "", the columns involved)."""
    orig: Any = exc.orig
    diag = getattr(orig, "diag", None)
    if diag is not None:  # psycopg2: the server says which constraint, and its kind
        kind = _PG_KINDS.get(getattr(orig, "pgcode", "") or "", "")
        if kind == "NOT NULL" and diag.column_name:
            return kind, [diag.column_name]
        return kind, _constraint_columns(diag.constraint_name or "")
    match = _SQLITE.search(str(orig))
    if match is None:
        return "", []
    kind, where = match.group(1), (match.group(2) or "").strip()
    if kind == "CHECK":
        return kind, _constraint_columns(where)
    return kind, [part.strip().rsplit(".", 1)[-1] for part in where.split(",") if part.strip()]


def _referenced_by(exc: IntegrityError) -> str | None:
    """For a foreign-key error that removes (or re-keys) a record others still point at:
    what points at it ("" when the database does not say); None for a dangling reference.

    PostgreSQL names the referencing table's constraint either way, so the statement
    tells them apart: a DELETE, or a write to another table than the constraint's."""
    written = _WRITTEN.match(exc.statement or "")
    if written is None:
        return None
    verb, table = written.group(1).split()[0].upper(), written.group(2)
    diag = getattr(exc.orig, "diag", None)
    referencing = (getattr(diag, "table_name", None) or "") if diag is not None else ""
    if verb == "DELETE" or (referencing and referencing != table):
        return referencing.replace("_", " ")
    return None


def integrity_conflict(exc: IntegrityError) -> Conflict:
    """A 409 naming the fields of the constraint `exc` broke, where they can be known."""
    kind, columns = _kind_and_fields(exc)
    names = [c for c in columns if c not in _HIDDEN]
    shown = ", ".join(names)
    in_use_by = _referenced_by(exc) if kind == "FOREIGN KEY" else None
    if in_use_by is not None:
        by = f" ({in_use_by})" if in_use_by else ""
        message = f"the record is still in use: other records{by} refer to it"
        return Conflict(message, details={"id": ["still in use"]})
    if kind == "UNIQUE" and names:
        message, note = f"a record with the same {shown} already exists", "already exists"
    elif kind == "FOREIGN KEY" and names:
        message = f"{shown} refers to a record that does not exist"
        note = "no such record"
    elif kind == "FOREIGN KEY":
        message = (
            "the change refers to a record that does not exist, or removes one that other "
            "records still refer to"
        )
        note = message
    elif kind == "NOT NULL" and names:
        message, note = f"{shown} must have a value", "must have a value"
    elif kind == "CHECK" and names:
        message, note = f"{shown} breaks a rule of the stored data", "breaks a rule"
    else:
        message = "the change conflicts with existing data (a duplicate or a missing reference)"
        note = message
    return Conflict(message, details={name: [note] for name in names} or {"body": [note]})


def data_invalid(_exc: DataError) -> ValidationError:
    """A 422 for a value the column cannot hold (the driver does not say which, reliably)."""
    return ValidationError(
        "a value does not fit its column (too long, out of range or of the wrong form)",
        field="body",
    )
