"""The audit log: every write to business data leaves a row the application cannot edit.

Every mapped `TenantOwned` class is audited unless it says `__audit__ = False`. Mapper
events note each inserted, updated and deleted object while the session flushes; the
session's `after_flush` then writes all of the flush's notes with one INSERT on the flush's
own connection, so the audit rows commit or roll back with the change they describe.
`__audit_exclude__` names columns never recorded; `__audit_redact__` names columns whose
change is recorded with its values masked (secrets).
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from flask import Blueprint, g, has_app_context, has_request_context, request
from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    event,
    insert,
    select,
    tuple_,
)
from sqlalchemy.orm import (
    InstanceState,
    Mapped,
    Mapper,
    ORMExecuteState,
    Session,
    mapped_column,
    object_session,
)
from sqlalchemy.orm.attributes import instance_state

from core.api.endpoint import documented
from core.api.kernel_schemas import AuditEntryOut, AuditQuery
from core.auth import current_principal, require_permission
from core.db import Base, PergolaSession
from core.envelope import ok
from core.errors import PermissionDenied, ValidationError
from core.mixins import SoftDelete, utcnow
from core.tenancy import TenantOwned, tenant_context
from core.types import ExactDecimal, UTCDateTime

ACTIONS = ("create", "update", "delete", "soft_delete", "restore")

# Bookkeeping columns: the entry itself says which record and tenant, and a changed
# `updated_at` or `version` is implied by every update.
_ALWAYS_IGNORED = frozenset({"tenant_id", "updated_at", "version"})
_REDACTED = "***"
_PENDING = "pergola_audit_pending"
_OLD_VALUES = "pergola_audit_old_values"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class AuditLogImmutable(PermissionDenied):
    """Someone tried to change or delete an audit row: the log is append-only."""

    code = "AUDIT_LOG_IMMUTABLE"


class AuditError(RuntimeError):
    """A write the kernel cannot audit; a programming error, refused rather than let through."""


class AuditEntry(TenantOwned, Base):
    """One write to one business record: who, what, when, from where, and the changed fields."""

    __tablename__ = "core_audit_log"
    __audit__ = False
    __table_args__ = (
        Index("ix_core_audit_log_record", "tenant_id", "table_name", "record_id"),
        Index("ix_core_audit_log_recent", "tenant_id", "id"),
    )

    # An integer key orders the entries of one flush, which share a timestamp.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    # CASCADE, not the usual RESTRICT: the trail leaves only together with its tenant (the
    # immutability triggers allow exactly that delete, and nothing else).
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("core_tenant.id", ondelete="CASCADE"), nullable=False
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    # No foreign keys to users or keys: deleting one must neither be blocked by nor rewrite
    # the audit trail.
    user_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    action: Mapped[str] = mapped_column(String(20))
    table_name: Mapped[str] = mapped_column(String(63))
    record_id: Mapped[str | None] = mapped_column(String(200))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    request_id: Mapped[str | None] = mapped_column(String(64))
    remote_addr: Mapped[str | None] = mapped_column(String(45))

    def to_dict(self) -> dict[str, Any]:
        """The entry as JSON-safe data (the API's and the CLI's shape)."""
        return {
            "id": self.id,
            "tenant_id": str(self.tenant_id),
            "at": self.created_at.isoformat(),
            "user_id": str(self.user_id) if self.user_id else None,
            "api_key_id": str(self.api_key_id) if self.api_key_id else None,
            "action": self.action,
            "model": self.table_name,
            "record_id": self.record_id,
            "changes": self.changes,
            "request_id": self.request_id,
            "remote_addr": self.remote_addr,
        }


def audit_table() -> Table:
    """The audit log's table."""
    return AuditEntry.__table__  # type: ignore[return-value]


# --- what is audited ---------------------------------------------------------------------


def is_audited(cls: type) -> bool:
    """True when writes to mapped class `cls` are audited: tenant-owned and not opted out."""
    return issubclass(cls, TenantOwned) and getattr(cls, "__audit__", True) is not False


def _recorded_keys(mapper: Mapper[Any]) -> list[tuple[str, bool]]:
    """(attribute key, redact?) for every column attribute the audit records."""
    cls = mapper.class_
    exclude = set(getattr(cls, "__audit_exclude__", ())) | _ALWAYS_IGNORED
    redact = set(getattr(cls, "__audit_redact__", ()))
    return [(a.key, a.key in redact) for a in mapper.column_attrs if a.key not in exclude]


def _as_stored(mapper: Mapper[Any], key: str, value: Any) -> Any:
    """`value` as the column will hold it: money set as 12.5 is recorded as stored, 12.5000."""
    column_type = mapper.column_attrs[key].columns[0].type
    if isinstance(column_type, ExactDecimal) and isinstance(value, Decimal | int | str):
        try:
            return Decimal(value).quantize(Decimal(1).scaleb(-column_type.scale))
        except ArithmeticError:
            return value
    return value


def json_safe(value: Any) -> Any:
    """`value` as JSON: Decimal as string, datetimes ISO 8601, UUIDs as strings."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return json_safe(value.value)
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(bytes(value))} bytes>"
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    return str(value)


def _record_id(mapper: Mapper[Any], state: InstanceState[Any]) -> str | None:
    ident = mapper.primary_key_from_instance(state.obj())
    if not ident or any(v is None for v in ident):
        return None
    return "/".join(str(v) for v in ident)


# --- collecting changes during the flush ---------------------------------------------------


def _note(
    state: InstanceState[Any], mapper: Mapper[Any], action: str, changes: dict[str, dict[str, Any]]
) -> None:
    sess = object_session(state.obj())
    if sess is None or not isinstance(sess, _SESSION_CLASSES):
        return
    sess.info.setdefault(_PENDING, []).append(
        {
            "tenant_id": state.dict.get("tenant_id"),
            "action": action,
            "table_name": mapper.local_table.name,  # type: ignore[attr-defined]
            "record_id": _record_id(mapper, state),
            "changes": changes,
        }
    )


def _value(mapper: Mapper[Any], key: str, value: Any, redact: bool) -> Any:
    if redact and value is not None:
        return _REDACTED
    return json_safe(_as_stored(mapper, key, value))


def _snapshot(mapper: Mapper[Any], state: InstanceState[Any], old: bool) -> dict[str, Any]:
    """Every loaded, non-null recorded column, as an all-new (create) or all-old (delete) diff."""
    out = {}
    for key, redact in _recorded_keys(mapper):
        value = state.dict.get(key)
        if value is not None:
            v = _value(mapper, key, value, redact)
            out[key] = {"old": v, "new": None} if old else {"old": None, "new": v}
    return out


def _after_insert(mapper: Mapper[Any], _conn: Any, target: Any) -> None:
    if is_audited(mapper.class_):
        state = instance_state(target)
        _note(state, mapper, "create", _snapshot(mapper, state, old=False))


def _after_update(mapper: Mapper[Any], _conn: Any, target: Any) -> None:
    if not is_audited(mapper.class_):
        return
    state = instance_state(target)
    sess = object_session(target)
    known_old = (sess.info.get(_OLD_VALUES) or {}).get(state, {}) if sess else {}
    changes: dict[str, dict[str, Any]] = {}
    for key, redact in _recorded_keys(mapper):
        hist = state.attrs[key].history
        if not hist.added and not hist.deleted:
            continue
        old = hist.deleted[0] if hist.deleted else known_old.get(key)
        new = hist.added[0] if hist.added else None
        old, new = _as_stored(mapper, key, old), _as_stored(mapper, key, new)
        if old == new:
            continue
        changes[key] = {
            "old": _value(mapper, key, old, redact),
            "new": _value(mapper, key, new, redact),
        }
    if not changes:
        return  # only bookkeeping or relationship collections changed
    _note(state, mapper, _update_action(mapper, changes), changes)


def _update_action(mapper: Mapper[Any], changes: dict[str, dict[str, Any]]) -> str:
    """ "update", or "soft_delete" / "restore" when only `deleted_at` changed."""
    if issubclass(mapper.class_, SoftDelete) and set(changes) == {"deleted_at"}:
        return "soft_delete" if changes["deleted_at"]["new"] is not None else "restore"
    return "update"


def _after_delete(mapper: Mapper[Any], _conn: Any, target: Any) -> None:
    if is_audited(mapper.class_):
        state = instance_state(target)
        _note(state, mapper, "delete", _snapshot(mapper, state, old=True))


def _before_flush(session: Session, _ctx: Any, _instances: Any) -> None:
    """Start the flush's notes afresh, and load what the notes will need but is not loaded."""
    session.info[_PENDING] = []
    olds: dict[InstanceState[Any], dict[str, Any]] = {}
    session.info[_OLD_VALUES] = olds
    with session.no_autoflush:
        for obj in session.deleted:
            if is_audited(type(obj)):
                # The deleted row's last values are its audit record: load any expired ones.
                state = instance_state(obj)
                for key, _ in _recorded_keys(state.mapper):
                    if key in state.unloaded:
                        getattr(obj, key)
        for obj in session.dirty:
            if is_audited(type(obj)):
                _load_unknown_old_values(session, instance_state(obj), olds)


def _load_unknown_old_values(
    session: Session, state: InstanceState[Any], olds: dict[InstanceState[Any], dict[str, Any]]
) -> None:
    """An attribute set while unloaded has no old value in its history: read it from the row."""
    mapper = state.mapper
    unknown = []
    for key, _ in _recorded_keys(mapper):
        hist = state.attrs[key].history
        if hist.added and not hist.deleted and not hist.unchanged:
            unknown.append(key)
    if not unknown or state.key is None:
        return
    cols = [mapper.column_attrs[k].columns[0] for k in unknown]
    where = [c == v for c, v in zip(mapper.primary_key, state.key[1], strict=True)]
    row = session.execute(
        select(*cols).where(*where).execution_options(include_deleted=True)
    ).first()
    if row is not None:
        olds[state] = dict(zip(unknown, row, strict=True))


def _after_flush(session: Session, _ctx: Any) -> None:
    """Write the flush's audit rows in one statement, on the flush's connection."""
    pending = session.info.pop(_PENDING, None)
    session.info.pop(_OLD_VALUES, None)
    if not pending:
        return
    write_entries(session, pending)


def write_entries(session: Session, entries: Iterable[dict[str, Any]]) -> None:
    """Insert audit rows (tenant_id, action, table_name, record_id, changes) with who/where/when.

    For the kernel's own writes that bypass the flush; the rows join the session's
    transaction.
    """
    who = request_context()
    now = utcnow()
    rows = [{**e, **who, "created_at": now} for e in entries]
    if not rows:
        return
    conn = session.connection(bind_arguments={"mapper": AuditEntry.__mapper__})
    # executemany of one INSERT: psycopg2 sends it as multi-row VALUES batches, SQLite
    # prepares it once.
    conn.execute(insert(audit_table()), rows)


def request_context() -> dict[str, Any]:
    """Who is writing and from where: the principal, request id and client address, if any."""
    out: dict[str, Any] = {
        "user_id": None,
        "api_key_id": None,
        "request_id": None,
        "remote_addr": None,
    }
    if not has_app_context():
        return out  # a script or worker thread outside Flask: a system write
    principal = current_principal()
    if principal is not None:
        out["user_id"] = principal.user_id
        out["api_key_id"] = principal.api_key_id
    rid = g.get("request_id")
    out["request_id"] = str(rid)[:64] if rid else None
    if has_request_context():
        out["remote_addr"] = request.remote_addr
    return out


# --- immutability --------------------------------------------------------------------------


def _refuse_row_change(_mapper: Mapper[Any], _conn: Any, _target: Any) -> None:
    raise AuditLogImmutable("the audit log is append-only: its rows cannot be changed or deleted")


def _refuse_bulk_change(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if table is audit_table() or (
        state.bind_mapper is not None and state.bind_mapper.class_ is AuditEntry
    ):
        raise AuditLogImmutable(
            "the audit log is append-only: its rows cannot be changed or deleted"
        )


# --- ORM bulk statements ---------------------------------------------------------------------
# `session.execute(update(Model)...)`, `delete(Model)` and `insert(Model)` skip the flush and
# its events, so they are audited here: the affected rows are read before (locked) and after
# the statement, and the difference is recorded. Core statements on a bare `Table` and raw
# SQL bypass the ORM and are not audited, as they bypass tenant filtering.

_CHUNK = 500


def _audit_bulk(state: ORMExecuteState) -> Any:
    if not (state.is_insert or state.is_update or state.is_delete):
        return None
    mapper = state.bind_mapper
    if mapper is None or not is_audited(mapper.class_):
        return None
    if state.is_insert:
        return _bulk_insert(state, mapper)
    return _bulk_change(state, mapper)


def _pk_attrs(mapper: Mapper[Any]) -> list[str]:
    return [mapper.get_property_by_column(c).key for c in mapper.primary_key]


def _read_rows(
    session: Session, mapper: Mapper[Any], where: Any, include_deleted: bool, lock: bool
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Recorded columns (and tenant) of the rows matching `where`, keyed by primary key."""
    pks = _pk_attrs(mapper)
    keys = [k for k, _ in _recorded_keys(mapper) if k not in pks]
    cols = [getattr(mapper.class_, k) for k in [*pks, "tenant_id", *keys]]
    stmt = select(*cols).execution_options(include_deleted=include_deleted)
    if where is not None:
        stmt = stmt.where(where)
    if lock:
        # NO KEY UPDATE (PostgreSQL): holds the rows against other writers without blocking
        # inserts of rows that reference them, which plain FOR UPDATE would (deadlocks).
        stmt = stmt.with_for_update(key_share=True)
    out = {}
    for row in session.execute(stmt).mappings():
        out[tuple(row[k] for k in pks)] = dict(row)
    return out


def _read_by_pk(
    session: Session, mapper: Mapper[Any], idents: list[tuple[Any, ...]], lock: bool = False
) -> dict[tuple[Any, ...], dict[str, Any]]:
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    pk_cols = [getattr(mapper.class_, k) for k in _pk_attrs(mapper)]
    for i in range(0, len(idents), _CHUNK):
        chunk = idents[i : i + _CHUNK]
        if len(pk_cols) == 1:
            where = pk_cols[0].in_([ident[0] for ident in chunk])
        else:
            where = tuple_(*pk_cols).in_(chunk)
        out.update(_read_rows(session, mapper, where, include_deleted=True, lock=lock))
    return out


def _entry(
    mapper: Mapper[Any],
    action: str,
    ident: tuple[Any, ...],
    tenant_id: Any,
    changes: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "action": action,
        "table_name": mapper.local_table.name,  # type: ignore[attr-defined]
        "record_id": "/".join(str(v) for v in ident),
        "changes": changes,
    }


def _row_diff(
    mapper: Mapper[Any], old: dict[str, Any] | None, new: dict[str, Any] | None
) -> dict[str, dict[str, Any]]:
    changes = {}
    for key, redact in _recorded_keys(mapper):
        before = _as_stored(mapper, key, (old or {}).get(key))
        after = _as_stored(mapper, key, (new or {}).get(key))
        if before != after:
            changes[key] = {
                "old": _value(mapper, key, before, redact),
                "new": _value(mapper, key, after, redact),
            }
    return changes


def _recorded_columns(mapper: Mapper[Any]) -> tuple[list[str], list[Any]]:
    """The keys and ORM attributes `_read_rows` reads: primary key, tenant, recorded columns."""
    pks = _pk_attrs(mapper)
    keys = [*pks, "tenant_id", *(k for k, _ in _recorded_keys(mapper) if k not in pks)]
    return keys, [getattr(mapper.class_, k) for k in keys]


def _can_return(state: ORMExecuteState, mapper: Mapper[Any], stmt: Any) -> bool:
    """True when the statement can hand back the rows it changed with RETURNING, and has no
    RETURNING of its own whose rows the caller wants.

    PostgreSQL only: SQLite (3.35 and later) has RETURNING, but its driver then reports a
    rowcount of 0 to the caller, who may rely on it; there the rows are read again instead,
    in-process and without a round trip.
    """
    if stmt._returning or (stmt.whereclause is None and isinstance(state.parameters, list)):
        return False
    dialect = state.session.get_bind(mapper=mapper).dialect
    if not getattr(dialect, "supports_sane_rowcount_returning", False):
        return False
    return bool(dialect.delete_returning if state.is_delete else dialect.update_returning)


def _invoke_returning(
    state: ORMExecuteState, mapper: Mapper[Any], stmt: Any
) -> tuple[Any, dict[tuple[Any, ...], dict[str, Any]]]:
    """Run the statement with RETURNING of the recorded columns: (its result, the rows)."""
    keys, cols = _recorded_columns(mapper)
    n = len(_pk_attrs(mapper))
    # The caller's result keeps its rowcount; its rows (none asked for) are read here.
    result = state.invoke_statement(
        statement=stmt.returning(*cols).execution_options(preserve_rowcount=True)
    )
    rows = {}
    for row in result.all():
        values = dict(zip(keys, row, strict=True))
        rows[tuple(row[:n])] = values
    # The ORM wraps RETURNING rows; the caller asked for none and gets, as without
    # RETURNING, the cursor's result (its rowcount).
    raw = getattr(result, "raw", None)
    return (raw if raw is not None else result), rows


def _bulk_change(state: ORMExecuteState, mapper: Mapper[Any]) -> Any:
    session = state.session
    stmt: Any = state.statement
    pks = _pk_attrs(mapper)
    include_deleted = bool(state.execution_options.get("include_deleted", False))
    params = state.parameters
    returning = _can_return(state, mapper, stmt)
    if returning and state.is_delete:
        # DELETE ... RETURNING hands back the last values: no read before, nor lock.
        result, before = _invoke_returning(state, mapper, stmt)
        entries = [
            _entry(mapper, "delete", ident, old["tenant_id"], _row_diff(mapper, old, None))
            for ident, old in before.items()
        ]
        write_entries(session, entries)
        return result
    if isinstance(params, list) and params and stmt.whereclause is None:
        # Bulk UPDATE by primary key: one parameter set per row.
        idents = [tuple(p[k] for k in pks) for p in params]
        before = _read_by_pk(session, mapper, idents, lock=True)
    else:
        before = _read_rows(session, mapper, stmt.whereclause, include_deleted, lock=True)
    if returning:
        # UPDATE ... RETURNING hands back the new values: no second read.
        result, after = _invoke_returning(state, mapper, stmt)
        before = {ident: old for ident, old in before.items() if ident in after}
    else:
        result = state.invoke_statement()
    entries = []
    if state.is_delete:
        after = {}
    elif not returning:
        after = _read_by_pk(session, mapper, list(before))
    for ident, old in before.items():
        new = after.get(ident)
        changes = _row_diff(mapper, old, new)
        if new is None:
            action = "delete"
        elif changes:
            action = _update_action(mapper, changes)
        else:
            continue
        entries.append(_entry(mapper, action, ident, old["tenant_id"], changes))
    write_entries(session, entries)
    return result


def _bulk_insert(state: ORMExecuteState, mapper: Mapper[Any]) -> Any:
    params: Any = state.parameters
    rows: list[dict[str, Any]] = params if isinstance(params, list) else [params] if params else []
    pks = _pk_attrs(mapper)
    for row in rows:
        for key in pks:
            if row.get(key) is None:
                default = mapper.column_attrs[key].columns[0].default
                if default is None or not (default.is_callable or default.is_scalar):
                    break
                # The default the INSERT would apply anyway, drawn here so we know the id.
                row[key] = default.arg(None) if default.is_callable else default.arg
    idents = [tuple(row.get(k) for k in pks) for row in rows]
    if not rows or any(v is None for ident in idents for v in ident):
        raise AuditError(
            f"cannot audit this bulk INSERT into {mapper.local_table.name}: "  # type: ignore[attr-defined]
            "pass the rows as parameters, with primary keys or Python-side key defaults"
        )
    result = state.invoke_statement()
    after = _read_by_pk(state.session, mapper, idents)
    entries = [
        _entry(
            mapper,
            "create",
            ident,
            after[ident]["tenant_id"],
            _row_diff(mapper, None, after[ident]),
        )
        for ident in idents
        if ident in after
    ]
    write_entries(state.session, entries)
    return result


event.listen(AuditEntry, "before_update", _refuse_row_change)
event.listen(AuditEntry, "before_delete", _refuse_row_change)
event.listen(Mapper, "after_insert", _after_insert)
event.listen(Mapper, "after_update", _after_update)
event.listen(Mapper, "after_delete", _after_delete)

_SESSION_CLASSES: tuple[type[Session], ...] = ()


def install(session_class: type[Session]) -> None:
    """Audit the flushes of every session of `session_class`, and guard the log's rows."""
    global _SESSION_CLASSES
    if session_class in _SESSION_CLASSES:
        return
    _SESSION_CLASSES = (*_SESSION_CLASSES, session_class)
    event.listen(session_class, "before_flush", _before_flush)
    event.listen(session_class, "after_flush", _after_flush)
    event.listen(session_class, "do_orm_execute", _refuse_bulk_change)
    event.listen(session_class, "do_orm_execute", _audit_bulk)


install(PergolaSession)


# --- reading -------------------------------------------------------------------------------


def _model_name(model: type | str) -> str:
    if isinstance(model, str):
        return model
    table = getattr(model, "__table__", None)
    if table is None:
        raise ValidationError(f"{model!r} is not a mapped model", field="model")
    return str(table.name)


def _normalise_record(record: Any) -> str:
    if isinstance(record, uuid.UUID):
        return str(record)
    text_ = str(record).strip()
    try:
        return str(uuid.UUID(text_))  # accept hex or braces, match how ids are stored
    except ValueError:
        return text_


def audit_entries(
    model: type | str | None = None,
    record: Any = None,
    limit: int = DEFAULT_LIMIT,
    session: Session | None = None,
) -> list[AuditEntry]:
    """The current tenant's audit entries, newest first, optionally for one model or record.

    `model` is a mapped class or a table name; `record` a record id (a UUID or its text).
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(f"limit must be a whole number from 1 to {MAX_LIMIT}", field="limit")
    if session is None:
        from core.db import session as current

        session = current
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if model is not None:
        stmt = stmt.where(AuditEntry.table_name == _model_name(model))
    if record is not None:
        stmt = stmt.where(AuditEntry.record_id == _normalise_record(record))
    return list(session.scalars(stmt))


blueprint = Blueprint("core_audit", __name__, url_prefix="/api/v1/audit")


def _limit_arg(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        return int(raw)
    except ValueError:
        raise ValidationError(
            f"limit must be a whole number from 1 to {MAX_LIMIT}", field="limit"
        ) from None


@blueprint.get("")
@require_permission("core.audit:read")
@documented(query=AuditQuery, response=AuditEntryOut, many=True)
def list_entries() -> Any:
    """The caller's tenant's audit entries, newest first: ?model=TABLE&record=ID&limit=N."""
    principal = current_principal()
    assert principal is not None  # require_permission let us in
    args = request.args
    # A principal belongs to one tenant: read that tenant's log, whatever else is in context.
    with tenant_context(principal.tenant_id):
        entries = audit_entries(
            model=args.get("model") or None,
            record=args.get("record") or None,
            limit=_limit_arg(args.get("limit")),
        )
    return ok([e.to_dict() for e in entries])  # the envelope, with meta
