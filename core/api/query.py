"""List queries: `filter[field][op]=`, `sort=`, `q=`, `fields=`, `expand=`, page and cursor
pagination, each checked against what the resource declares."""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import marshmallow
from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select, true
from sqlalchemy.orm import selectinload

from core.api.resource import Resource
from core.db import session
from core.errors import ValidationError

OPERATORS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "contains")
DEFAULT_PER_PAGE = 25
MAX_PER_PAGE = 200
FILTER_RE = re.compile(r"^filter\[([^\]]*)\](?:\[([^\]]*)\])?$")
LIST_PARAMS = {"page", "per_page", "cursor", "sort", "q", "fields", "expand"}


@dataclass
class ListQuery:
    """A parsed list request."""

    filters: list[tuple[str, str, Any]] = field(default_factory=list)
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    q: str | None = None
    fields: list[str] | None = None
    expand: list[str] = field(default_factory=list)
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    cursor: str | None = None  # "" = first page of a cursor walk

    @property
    def uses_cursor(self) -> bool:
        """True when the caller walks with cursors rather than page numbers."""
        return self.cursor is not None


def _int(args: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError(f"must be a whole number, got {raw!r}", field=name) from None
    if not low <= value <= high:
        raise ValidationError(f"must be between {low} and {high}, got {value}", field=name)
    return value


def _names(raw: str | None) -> list[str]:
    return [n.strip() for n in (raw or "").split(",") if n.strip()]


def output_fields(resource: Resource) -> set[str]:
    """The names a record is dumped with."""
    return {name for name, f in resource.schema().fields.items() if not f.load_only}


def convert(resource: Resource, name: str, raw: str, param: str) -> Any:
    """`raw` as the Python value of field `name`, through the schema's field (or the column)."""
    schema_field = resource.schema().fields.get(name)
    try:
        if schema_field is not None and not isinstance(schema_field, marshmallow.fields.Raw):
            value = schema_field.deserialize(raw)
        else:
            value = _by_column(resource, name, raw)
    except (marshmallow.ValidationError, ValueError, InvalidOperation, TypeError) as exc:
        text = " ".join(exc.messages) if isinstance(exc, marshmallow.ValidationError) else str(exc)
        raise ValidationError(f"invalid value {raw!r}: {text}", field=param) from None
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)  # the API speaks UTC
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError(f"invalid value {raw!r}", field=param)
    return value


def _by_column(resource: Resource, name: str, raw: str) -> Any:
    python_type = getattr(resource.model, name).type.python_type
    if python_type is bool:
        if raw.lower() not in ("true", "false", "1", "0"):
            raise ValueError("expected true or false")
        return raw.lower() in ("true", "1")
    if python_type is dt.datetime:
        return dt.datetime.fromisoformat(raw)
    if python_type is uuid.UUID:
        return uuid.UUID(raw)
    return python_type(raw)


def is_text(resource: Resource, name: str) -> bool:
    """True when field `name` is a text column (the only kind `contains` searches)."""
    try:
        return getattr(resource.model, name).type.python_type is str
    except (NotImplementedError, AttributeError):
        return False


def _values(args: Mapping[str, str], key: str) -> list[str]:
    getlist = getattr(args, "getlist", None)
    return list(getlist(key)) if getlist else [args[key]]


def parse(resource: Resource, args: Mapping[str, str]) -> ListQuery:
    """Read the list parameters; anything undeclared is a `ValidationError` naming it."""
    query = ListQuery()
    for key in args:
        if "\x00" in key or any("\x00" in v for v in _values(args, key)):
            raise ValidationError("must not contain NUL characters", field=key.replace("\x00", ""))
        m = FILTER_RE.match(key)
        if m is None:
            if key not in LIST_PARAMS:
                raise ValidationError(
                    f"unknown query parameter {key!r}; use one of "
                    f"{', '.join(sorted(LIST_PARAMS))} or filter[field][op]",
                    field=key,
                )
            continue
        name, op = m.group(1), m.group(2) or "eq"
        if name not in resource.filterable:
            raise ValidationError(
                f"cannot filter on {name!r}; filterable fields: "
                f"{', '.join(resource.filterable) or 'none'}",
                field=key,
            )
        if op not in OPERATORS:
            raise ValidationError(
                f"unknown operator {op!r}; use one of {', '.join(OPERATORS)}", field=key
            )
        for raw in _values(args, key):
            if op == "in":
                value: Any = [convert(resource, name, v, key) for v in _names(raw)]
                if not value:
                    raise ValidationError("give at least one value, comma-separated", field=key)
            elif op == "contains":
                if not is_text(resource, name):
                    raise ValidationError(
                        f"contains works on text fields; {name!r} is not one", field=key
                    )
                value = raw
            else:
                value = convert(resource, name, raw, key)
                if op in ("lt", "lte", "gt", "gte") and isinstance(value, bool):
                    # PostgreSQL has no order on booleans a caller could mean: refuse, not 500.
                    raise ValidationError(
                        f"{op} does not apply to yes/no field {name!r}; use eq or ne", field=key
                    )
            query.filters.append((name, op, value))
    for item in _names(args.get("sort")) or list(resource.default_sort):
        desc = item.startswith("-")
        name = item.lstrip("-+")
        if name not in resource.sortable and name not in resource.default_sort and name != "id":
            raise ValidationError(
                f"cannot sort on {name!r}; sortable fields: "
                f"{', '.join(resource.sortable) or 'none'}",
                field="sort",
            )
        query.sort.append((name, desc))
    q = args.get("q")
    if q is not None:
        if not resource.has_search:
            raise ValidationError("this resource has no text search", field="q")
        query.q = q.strip() or None
    if "fields" in args:
        wanted = _names(args.get("fields"))
        unknown = [n for n in wanted if n not in output_fields(resource)]
        if unknown or not wanted:
            raise ValidationError(
                f"unknown field(s) {', '.join(unknown) or '(none given)'}; fields: "
                f"{', '.join(sorted(output_fields(resource)))}",
                field="fields",
            )
        query.fields = wanted
    query.expand = parse_expand(resource, args.get("expand"))
    query.per_page = _int(args, "per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
    if "cursor" in args:
        if "page" in args:
            raise ValidationError("use either page or cursor, not both", field="cursor")
        query.cursor = args.get("cursor") or ""
    else:
        query.page = _int(args, "page", 1, 1, 10**9)
    return query


def parse_expand(resource: Resource, raw: str | None) -> list[str]:
    """The relations named in `expand=`, each declared by the resource."""
    names = _names(raw)
    unknown = [n for n in names if n not in resource.expandable]
    if unknown:
        raise ValidationError(
            f"cannot expand {', '.join(unknown)}; expandable: "
            f"{', '.join(resource.expandable) or 'none'}",
            field="expand",
        )
    return names


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _condition(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op == "eq":
        return column.is_(None) if value is None else column == value
    if op == "ne":
        return column.is_not(None) if value is None else or_(column != value, column.is_(None))
    if op == "lt":
        return column < value
    if op == "lte":
        return column <= value
    if op == "gt":
        return column > value
    if op == "gte":
        return column >= value
    if op == "in":
        return column.in_(value)
    # contains: case-insensitive substring, wildcards in the value taken literally
    return func.lower(column).like(f"%{_escape_like(str(value).lower())}%", escape="\\")


def statement(resource: Resource, query: ListQuery) -> Select[Any]:
    """The filtered and searched SELECT (no order, no paging yet)."""
    model: Any = resource.model
    stmt: Select[Any] = select(model)
    for name, op, value in query.filters:
        stmt = stmt.where(_condition(getattr(model, name), op, value))
    if query.q and resource.search is not None:
        stmt = stmt.where(resource.search(query.q))
    elif query.q:
        stmt = stmt.where(
            or_(*(_condition(getattr(model, n), "contains", query.q) for n in resource.searchable))
        )
    for rel in dict.fromkeys([*resource.load, *query.expand]):
        stmt = stmt.options(selectinload(getattr(model, rel)))
    return stmt


def _sort_keys(resource: Resource, query: ListQuery) -> list[tuple[str, bool]]:
    keys = [k for k in query.sort if k[0] != "id"]
    id_desc = next((d for n, d in query.sort if n == "id"), False)
    return [*keys, ("id", id_desc)]  # the id breaks ties: a total, stable order


def ordered(resource: Resource, stmt: Select[Any], query: ListQuery) -> Select[Any]:
    """`stmt` in the requested order; NULLs count as the smallest value on every database."""
    for name, desc in _sort_keys(resource, query):
        col = getattr(resource.model, name)
        stmt = stmt.order_by(col.desc().nulls_last() if desc else col.asc().nulls_first())
    return stmt


def page(resource: Resource, query: ListQuery) -> tuple[list[Any], dict[str, Any]]:
    """One page by number, with the total count."""
    base = statement(resource, query)
    model: Any = resource.model
    total: Any = session.scalar(
        select(func.count()).select_from(base.with_only_columns(model.id).order_by(None).subquery())
    )
    stmt = (
        ordered(resource, base, query)
        .limit(query.per_page)
        .offset((query.page - 1) * query.per_page)
    )
    rows = list(session.scalars(stmt).unique())
    total = int(total or 0)
    return rows, {
        "page": query.page,
        "per_page": query.per_page,
        "total": total,
        "total_pages": math.ceil(total / query.per_page),
    }


# --- cursors ---------------------------------------------------------------------------


def _encode_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, dt.date):
        return {"d": value.isoformat()}
    if isinstance(value, Decimal):
        return {"dec": str(value)}
    if isinstance(value, uuid.UUID):
        return {"uuid": str(value)}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        ((kind, raw),) = value.items()
        parsers: dict[str, Any] = {
            "dt": dt.datetime.fromisoformat,
            "d": dt.date.fromisoformat,
            "dec": Decimal,
            "uuid": uuid.UUID,
        }
        return parsers[kind](raw)
    return value


def encode_cursor(sort: list[tuple[str, bool]], values: list[Any]) -> str:
    """An opaque cursor: the sort it belongs to and the last row's keys."""
    body = json.dumps(
        {"s": [f"-{n}" if d else n for n, d in sort], "v": [_encode_value(v) for v in values]},
        separators=(",", ":"),
    )
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: list[tuple[str, bool]]) -> list[Any]:
    """The key values in `cursor`; a cursor from another sort or a forged one is refused."""
    try:
        body = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        values = [_decode_value(v) for v in body["v"]]
        ok = body["s"] == [f"-{n}" if d else n for n, d in sort] and len(values) == len(sort)
    except (ValueError, KeyError, TypeError, AttributeError):
        ok = False
    if not ok:
        raise ValidationError(
            "invalid cursor; pass next_cursor from the previous page with the same sort",
            field="cursor",
        )
    return values


def _after(column: Any, value: Any, desc: bool) -> ColumnElement[bool]:
    """Rows strictly after `value` in this key's order (NULL is the smallest value)."""
    if not desc:
        return column.is_not(None) if value is None else column > value
    return false() if value is None else or_(column < value, column.is_(None))


def _equal(column: Any, value: Any) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value


def cursor_page(resource: Resource, query: ListQuery) -> tuple[list[Any], dict[str, Any]]:
    """One page after the cursor (keyset on the sort keys and the id): no OFFSET, no COUNT."""
    keys = _sort_keys(resource, query)
    stmt = statement(resource, query)
    if query.cursor:
        values = decode_cursor(query.cursor, keys)
        cols = [getattr(resource.model, n) for n, _ in keys]
        branches = []
        for i, (_name, desc) in enumerate(keys):
            same = [_equal(cols[j], values[j]) for j in range(i)]
            branches.append(and_(true(), *same, _after(cols[i], values[i], desc)))
        stmt = stmt.where(or_(*branches))
    rows = list(session.scalars(ordered(resource, stmt, query).limit(query.per_page + 1)).unique())
    more = len(rows) > query.per_page
    rows = rows[: query.per_page]
    next_cursor = None
    if more and rows:
        next_cursor = encode_cursor(keys, [getattr(rows[-1], n) for n, _ in keys])
    return rows, {"per_page": query.per_page, "next_cursor": next_cursor}
