"""Multi-tenancy: the tenant context, and the one query path that filters by it.

Every read of a `TenantOwned` model is filtered to the current tenant; inserts take it;
writes into another tenant, or references to another tenant's rows, are refused; and
touching tenant-owned data with no tenant in context raises instead of returning the rows
of every tenant. On PostgreSQL the same rule is enforced a second time by row-level
security keyed on a per-transaction setting (see `ensure_rls`).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, cast

from sqlalchemy import Connection, Engine, ForeignKey, Table, event, inspect, select, text
from sqlalchemy.orm import (
    Mapped,
    Mapper,
    ORMExecuteState,
    Session,
    declared_attr,
    mapped_column,
    with_loader_criteria,
)
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql import util as sql_util

from core.errors import TenantContextError, ValidationError

_tenant_id: ContextVar[uuid.UUID | None] = ContextVar("pergola_tenant_id", default=None)
_system: ContextVar[bool] = ContextVar("pergola_system", default=False)


class TenantOwned:
    """Mixin: the row belongs to one tenant; the kernel filters and stamps it."""

    @declared_attr
    def tenant_id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(
            ForeignKey("core_tenant.id", ondelete="RESTRICT"), index=True, nullable=False
        )


def current_tenant_id() -> uuid.UUID | None:
    """The tenant in context, or None."""
    return _tenant_id.get()


def require_tenant_id() -> uuid.UUID:
    """The tenant in context; raises `TenantContextError` when there is none."""
    tid = _tenant_id.get()
    if tid is None:
        raise TenantContextError("no tenant in context: tenant-owned data needs one")
    return tid


def in_system_context() -> bool:
    """True inside `system_context()`: kernel maintenance that may see every tenant."""
    return _system.get()


@contextmanager
def tenant_context(tenant_id: uuid.UUID | str | None) -> Iterator[None]:
    """Run the block as tenant `tenant_id` (leaves any system context)."""
    tid = uuid.UUID(str(tenant_id)) if tenant_id is not None else None
    t1, t2 = _tenant_id.set(tid), _system.set(False)
    try:
        yield
    finally:
        _system.reset(t2)
        _tenant_id.reset(t1)


@contextmanager
def system_context() -> Iterator[None]:
    """The one escape hatch: the block sees and writes every tenant's rows.

    For kernel maintenance only (migrations, tenant creation, relays, benchmarks); never
    wrap request handling in it.
    """
    token = _system.set(True)
    try:
        yield
    finally:
        _system.reset(token)


def set_tenant(tenant_id: uuid.UUID | None) -> Any:
    """Set the tenant for the rest of this context (a request); returns a reset token."""
    return _tenant_id.set(tenant_id)


def reset_tenant(token: Any) -> None:
    """Undo `set_tenant`."""
    _tenant_id.reset(token)


def tenant_owned_tables() -> list[Table]:
    """Every table mapped by a `TenantOwned` model."""
    from core.db import Base

    tables = {m.local_table for m in Base.registry.mappers if issubclass(m.class_, TenantOwned)}
    return sorted((t for t in tables if isinstance(t, Table)), key=lambda t: t.name)


def _is_tenant_table(table: Any) -> bool:
    return isinstance(table, Table) and table in _tenant_tables_cache()


_TABLES: dict[str, frozenset[Table]] = {}


def _tenant_tables_cache() -> frozenset[Table]:
    """Tenant-owned tables, recomputed after new models have been mapped."""
    cached = _TABLES.get("tables")
    if cached is None:
        cached = _TABLES["tables"] = frozenset(tenant_owned_tables())
    return cached


@event.listens_for(Mapper, "after_mapper_constructed")
def _forget_tenant_tables(_mapper: Mapper[Any], _cls: type) -> None:
    # Counting `registry.mappers` on every call cost more than the check it guarded.
    _TABLES.clear()
    _MAPPERS.clear()
    _PLANS.clear()


_MAPPERS: dict[Table, Mapper[Any] | None] = {}


def _tenant_mapper(table: Table) -> Mapper[Any] | None:
    """The `TenantOwned` mapper whose own table is `table` (to look rows up by identity)."""
    if table not in _MAPPERS:
        from core.db import Base

        found = [
            m
            for m in Base.registry.mappers
            if m.local_table is table and issubclass(m.class_, TenantOwned) and not m.inherits
        ]
        _MAPPERS[table] = found[0] if len(found) == 1 else None
    return _MAPPERS[table]


# --- the query path --------------------------------------------------------------------


def _touches_tenant_data(state: ORMExecuteState) -> bool:
    if any(issubclass(m.class_, TenantOwned) for m in state.all_mappers):
        return True
    stmt = state.statement
    try:
        tables = sql_util.find_tables(
            cast(ClauseElement, stmt), include_aliases=True, include_crud=True
        )
    except Exception:  # noqa: BLE001 - a statement we cannot walk is judged by RLS instead
        return False
    return any(_is_tenant_table(t) for t in tables)


def _rls_key() -> tuple[str, str]:
    tid = _tenant_id.get()
    return ("on" if _system.get() else "off", str(tid) if tid else "")


# What the connection's transaction last set, kept on the DBAPI connection (shared by every
# session that uses it) and maintained by its transaction events below, so that the setting
# is sent once per transaction, not before every statement.
_RLS = "pergola_rls"
_RLS_SAVEPOINTS = "pergola_rls_savepoints"


def _apply_rls(connection: Connection) -> None:
    key = _rls_key()
    connection.execute(
        text(
            "SELECT set_config('pergola.rls_bypass', :b, true), "
            "set_config('pergola.tenant_id', :t, true)"
        ),
        {"b": key[0], "t": key[1]},
    )
    connection.info[_RLS] = key


def _sync_rls(session: Session) -> None:
    """Keep the PostgreSQL setting in step with the context (it may change mid-transaction)."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return
    conn = session.connection()  # begins the transaction if needed: after_begin applies
    if conn.info.get(_RLS) != _rls_key():
        _apply_rls(conn)


def _on_after_begin(session: Session, _transaction: Any, connection: Connection) -> None:
    if connection.dialect.name == "postgresql" and connection.info.get(_RLS) != _rls_key():
        _apply_rls(connection)


@event.listens_for(Engine, "begin")
@event.listens_for(Engine, "commit")
@event.listens_for(Engine, "rollback")
def _on_transaction_edge(connection: Connection) -> None:
    # set_config(..., true) lasts until the transaction ends.
    connection.info.pop(_RLS, None)
    connection.info.pop(_RLS_SAVEPOINTS, None)


@event.listens_for(Engine, "savepoint")
def _on_savepoint(connection: Connection, name: str) -> None:
    connection.info.setdefault(_RLS_SAVEPOINTS, {})[name] = connection.info.get(_RLS)


@event.listens_for(Engine, "rollback_savepoint")
def _on_rollback_savepoint(connection: Connection, name: str, _context: Any) -> None:
    # Rolling back to a savepoint also undoes a set_config made after it.
    before = connection.info.get(_RLS_SAVEPOINTS, {}).pop(name, None)
    if before is None:
        connection.info.pop(_RLS, None)
    else:
        connection.info[_RLS] = before


@event.listens_for(Engine, "release_savepoint")
def _on_release_savepoint(connection: Connection, name: str, _context: Any) -> None:
    connection.info.get(_RLS_SAVEPOINTS, {}).pop(name, None)


def _on_after_transaction_end(session: Session, transaction: Any) -> None:
    if transaction.parent is not None and not transaction.nested:
        return  # a flush's subtransaction: no SQL transaction began or ended
    # A row verified inside a rolled-back savepoint may be gone: verify again.
    session.info.pop(_VERIFIED, None)


def _on_execute(state: ORMExecuteState) -> None:
    _sync_rls(state.session)
    if state.is_column_load:
        return  # refreshing a row already loaded under these rules
    # Relationship loads are filtered too: the parent may not be tenant-owned (a membership's
    # roles) or may have been loaded in another context, so propagation alone is not enough.
    if state.is_insert:
        _stamp_insert_params(state)
        return
    if state.is_update and _system.get():
        state.session.info.pop(_VERIFIED, None)  # it may move rows between tenants
    include_deleted = state.execution_options.get("include_deleted", False)
    options = []
    if not include_deleted:
        options.append(_criteria(None))
    if not _system.get():
        tid = _tenant_id.get()
        if tid is None:
            if _touches_tenant_data(state):
                raise TenantContextError(
                    "query on tenant-owned data with no tenant in context "
                    "(use tenant_context(...) or, for kernel maintenance, system_context())"
                )
        else:
            if (
                state.is_update
                and isinstance(state.parameters, list)
                and _touches_tenant_data(state)
            ):
                # ORM "bulk UPDATE by primary key" has no WHERE clause for the criteria to
                # join: it would write any tenant's row whose id it is given.
                raise TenantContextError(
                    "bulk UPDATE by primary key on tenant-owned data is refused; "
                    "use update(Model).where(...).values(...) or change loaded objects"
                )
            options.append(_criteria(tid))
        # Aggregates that must see the whole tenant (a product's total stock for its
        # average cost) opt out of record rules, never of the tenant wall.
        if not state.execution_options.get("skip_record_rules", False):
            for provider in _criteria_providers:
                options.extend(provider())
    if options and (state.is_select or state.is_update or state.is_delete):
        state.statement = state.statement.options(*options)


_CRITERIA: dict[uuid.UUID | None, Any] = {}


def _criteria(tid: uuid.UUID | None) -> Any:
    """The loader criterion of tenant `tid`, or (None) the one hiding soft-deleted rows.

    Built once and reused: building one analyses its lambda, which cost more per statement
    than the rest of the query path. An option binds its tenant for good, so it can be shared.
    """
    found = _CRITERIA.get(tid)
    if found is None:
        if len(_CRITERIA) > 4096:
            _CRITERIA.clear()  # a bound on memory for a process serving many tenants
        if tid is None:
            from core.mixins import SoftDelete

            found = with_loader_criteria(
                SoftDelete, lambda cls: cls.deleted_at.is_(None), include_aliases=True
            )
        else:
            found = with_loader_criteria(
                TenantOwned, lambda cls: cls.tenant_id == tid, include_aliases=True
            )
        _CRITERIA[tid] = found
    return found


_criteria_providers: list[Callable[[], list[Any]]] = []


def add_criteria_provider(provider: Callable[[], list[Any]]) -> None:
    """Add loader criteria to every tenant query (record rules use this: one query path)."""
    if provider not in _criteria_providers:
        _criteria_providers.append(provider)


def _stamp_insert_params(state: ORMExecuteState) -> None:
    """ORM bulk INSERT statements take the current tenant like flushed objects do."""
    mapper = state.bind_mapper
    if mapper is None or not issubclass(mapper.class_, TenantOwned) or _system.get():
        return
    tid = require_tenant_id()
    params: Any = state.parameters
    rows: list[dict[str, Any]] = params if isinstance(params, list) else [params] if params else []
    if not rows:
        raise TenantContextError("insert into a tenant-owned table must pass rows as parameters")
    for row in rows:
        given = row.get("tenant_id")
        if given is None:
            row["tenant_id"] = tid
        elif uuid.UUID(str(given)) != tid:
            raise TenantContextError("insert of a row for another tenant")


def _on_before_flush(session: Session, _ctx: Any, _instances: Any) -> None:
    _sync_rls(session)
    system = _system.get()
    tid = _tenant_id.get()
    fk_checks: dict[Table, dict[Any, str]] = defaultdict(dict)
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if not isinstance(obj, TenantOwned):
            continue
        if not system:
            if tid is None:
                raise TenantContextError(f"write to {type(obj).__name__} with no tenant in context")
            if obj in session.new and obj.tenant_id is None:
                obj.tenant_id = tid
            if obj.tenant_id != tid:
                raise TenantContextError(f"write to another tenant's {type(obj).__name__}")
        elif obj.tenant_id is None:
            raise TenantContextError(
                f"{type(obj).__name__} created in system context without a tenant_id"
            )
        elif obj in session.dirty:
            # System context may move a row to another tenant: verify references afresh.
            session.info.pop(_VERIFIED, None)
        if obj in session.deleted:
            continue
        _collect_reference_checks(obj, fk_checks)
    _check_references(session, fk_checks, tid if not system else None)


def _reference_plan(mapper: Mapper[Any]) -> tuple[list[str], list[tuple[str, Table]]]:
    """What of `mapper` can point at tenant-owned rows: many-to-one relationship keys, and
    (attribute key, referenced table) of each foreign-key column. Worked out once per mapper."""
    plan = _PLANS.get(mapper)
    if plan is None:
        rels = [
            rel.key
            for rel in mapper.relationships
            if rel.direction.name == "MANYTOONE" and issubclass(rel.mapper.class_, TenantOwned)
        ]
        cols = []
        for col in mapper.local_table.columns:
            for fk in col.foreign_keys:
                ref = fk.column.table
                if _is_tenant_table(ref) and col.name != "tenant_id":
                    cols.append((mapper.get_property_by_column(col).key, cast(Table, ref)))
        plan = _PLANS[mapper] = (rels, cols)
    return plan


_PLANS: dict[Mapper[Any], tuple[list[str], list[tuple[str, Table]]]] = {}


def _collect_reference_checks(obj: Any, fk_checks: dict[Table, dict[Any, str]]) -> None:
    """Note every reference from `obj` to a tenant-owned row, to verify it is ours."""
    state = inspect(obj)
    rels, cols = _reference_plan(state.mapper)
    for key in rels:
        target = state.attrs[key].loaded_value
        if isinstance(target, TenantOwned) and target.tenant_id not in (None, obj.tenant_id):
            raise ValidationError(
                "refers to a record of another tenant",
                field=key,
                details={key: ["no such record"]},
            )
    for key, ref in cols:
        if state.pending or state.attrs[key].history.added:
            value = getattr(obj, key)
            if value is not None:
                fk_checks[ref][value] = key


_VERIFIED = "pergola_verified_refs"
_UNKNOWN = object()


def _no_such_record(field: str) -> ValidationError:
    return ValidationError(
        f"{field}: no such record", field=field, details={field: ["no such record"]}
    )


def _known_tenant(session: Session, table: Table, new_rows: dict[Any, Any], ident: Any) -> Any:
    """The tenant of row `ident` of `table` if the session holds it loaded, else `_UNKNOWN`.

    Looked up by identity key, not by scanning the identity map (a bulk import holds
    thousands of rows), and read from the loaded state, never by loading an expired row.
    """
    if ident in new_rows:
        return new_rows[ident]
    mapper = _tenant_mapper(table)
    if mapper is None or len(mapper.primary_key) != 1:
        for o in session.identity_map.values():
            if getattr(o, "__table__", None) is table and getattr(o, "id", None) == ident:
                return inspect(o).dict.get("tenant_id", _UNKNOWN)
        return _UNKNOWN
    obj = session.identity_map.get(mapper.identity_key_from_primary_key((ident,)))
    if obj is None:
        return _UNKNOWN
    return inspect(obj).dict.get("tenant_id", _UNKNOWN)


def _check_references(
    session: Session, fk_checks: dict[Table, dict[Any, str]], tid: uuid.UUID | None
) -> None:
    """Refuse references to rows of another tenant (or to no row): one query per referenced
    table for the ids neither in the session nor verified earlier in this transaction."""
    if not fk_checks:
        return
    # Rows added in this same flush are not in the database yet; they were checked above.
    new_by_table: dict[Any, dict[Any, Any]] = defaultdict(dict)
    for o in session.new:
        if isinstance(o, TenantOwned):
            new_by_table[getattr(o, "__table__", None)][getattr(o, "id", None)] = o.tenant_id
    verified: set[tuple[Any, ...]] = session.info.setdefault(_VERIFIED, set())
    for table, wanted in fk_checks.items():
        ids = []
        for i, field in wanted.items():
            if (tid, table, i) in verified:
                continue
            owner = _known_tenant(session, table, new_by_table.get(table, {}), i)
            if owner is _UNKNOWN:
                ids.append(i)
            elif tid is not None and owner not in (None, tid):
                raise _no_such_record(field)
        if not ids:
            continue
        stmt = select(table.c.id).where(table.c.id.in_(ids))
        if tid is not None:
            stmt = stmt.where(table.c.tenant_id == tid)
        with session.no_autoflush:
            found = set(session.execute(stmt).scalars())
        missing = [i for i in ids if i not in found]
        if missing:
            raise _no_such_record(wanted[missing[0]])
        # A row's tenant never changes, so within this transaction it stays verified.
        verified.update((tid, table, i) for i in ids)


def install(session_class: type[Session]) -> None:
    """Attach the tenancy listeners to every session of `session_class`."""
    event.listen(session_class, "do_orm_execute", _on_execute)
    event.listen(session_class, "before_flush", _on_before_flush)
    event.listen(session_class, "after_begin", _on_after_begin)
    event.listen(session_class, "after_transaction_end", _on_after_transaction_end)


# --- PostgreSQL row-level security ------------------------------------------------------

_POLICY = "pergola_tenant_isolation"
_CONDITION = (
    "current_setting('pergola.rls_bypass', true) = 'on' OR "
    "tenant_id = NULLIF(current_setting('pergola.tenant_id', true), '')::uuid"
)


def ensure_rls(connection: Connection) -> list[str]:
    """Enable row-level security on every tenant-owned table that lacks it; returns their names.

    Idempotent; run after each migration so an addon's new tables are covered without the
    addon author writing anything. FORCE makes it apply to the owning role too.
    """
    if connection.dialect.name != "postgresql":
        return []
    existing = set(
        connection.execute(
            text("SELECT tablename FROM pg_policies WHERE policyname = :p"), {"p": _POLICY}
        ).scalars()
    )
    present = set(
        connection.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        ).scalars()
    )
    done = []
    for table in tenant_owned_tables():
        if table.name in existing or table.name not in present:
            continue
        q = f'"{table.name}"'
        connection.exec_driver_sql(f"ALTER TABLE {q} ENABLE ROW LEVEL SECURITY")
        connection.exec_driver_sql(f"ALTER TABLE {q} FORCE ROW LEVEL SECURITY")
        connection.exec_driver_sql(
            f"CREATE POLICY {_POLICY} ON {q} USING ({_CONDITION}) WITH CHECK ({_CONDITION})"
        )
        done.append(table.name)
    return done
