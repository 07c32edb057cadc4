"""The data layer: declarative base, engine set-up, and one session per request, command or job."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, cast

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import Connection, Engine, MetaData, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.pool import StaticPool
from werkzeug.local import LocalProxy

from core import tenancy
from core.errors import StaleVersion
from core.types import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base of every Pergola model; its metadata names constraints so Alembic can drop them."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime()}


class PergolaSession(Session):
    """A session that keeps to the tenant in context, and reports stale updates as conflicts."""

    def get(self, entity: Any, ident: Any, **kwargs: Any) -> Any:
        """Like `Session.get`, but another tenant's row is None even from the identity map."""
        obj = super().get(entity, ident, **kwargs)
        if (
            isinstance(obj, tenancy.TenantOwned)
            and not tenancy.in_system_context()
            and obj.tenant_id != tenancy.require_tenant_id()
        ):
            return None
        return obj

    def flush(self, objects: Any = None) -> None:
        try:
            super().flush(objects)
        except StaleDataError as exc:
            raise StaleVersion(
                "the record was changed by someone else since you loaded it; "
                "reload it and apply your change again",
                code="CONFLICT",
            ) from exc


tenancy.install(PergolaSession)


def _configure_sqlite(engine: Engine) -> None:
    """Foreign keys on, WAL, a busy timeout, and BEGIN IMMEDIATE so writers queue, not race."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA busy_timeout = 15000")
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front: a second writer waits (busy timeout)
        # instead of failing late with a lost update.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _json_number(value: object) -> object:
    """JSON columns get what request bodies hold, where numbers arrive as exact Decimals:
    write them as JSON numbers (a free-form attribute of 1.5 stays a number)."""
    if isinstance(value, Decimal) and value.is_finite():
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def json_dumps(value: object) -> str:
    """Serialise a JSON column's value (Decimal numbers included)."""
    return json.dumps(value, default=_json_number)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with Pergola's per-dialect settings."""
    kwargs.setdefault("json_serializer", json_dumps)
    if url.startswith("sqlite"):
        if url in ("sqlite://", "sqlite:///:memory:"):
            kwargs.setdefault("poolclass", StaticPool)
        kwargs.setdefault("connect_args", {"check_same_thread": False})
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


class Database:
    """The app's engine and session factory; sessions live for one app context."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.engine = make_engine(url, **engine_kwargs)
        self.session_factory = sessionmaker(
            bind=self.engine, class_=PergolaSession, expire_on_commit=False
        )
        # Tests bind sessions to one connection inside a transaction they roll back.
        self._bind: Engine | Connection = self.engine

    @property
    def dialect(self) -> str:
        """The database's dialect name: 'sqlite' or 'postgresql'."""
        return self.engine.dialect.name

    def bind_to(self, bind: Engine | Connection) -> None:
        """Make new sessions use `bind` (a test's connection); pass the engine to undo."""
        self._bind = bind
        mode = "create_savepoint" if isinstance(bind, Connection) else "conditional_savepoint"
        self.session_factory.configure(bind=bind, join_transaction_mode=mode)

    def new_session(self) -> PergolaSession:
        """A fresh session; the caller closes it (prefer `session_scope`)."""
        return cast(PergolaSession, self.session_factory())

    @contextmanager
    def session_scope(self) -> Iterator[PergolaSession]:
        """A session that commits on success, rolls back on error, and always closes."""
        sess = self.new_session()
        try:
            yield sess
            sess.commit()
        except BaseException:
            sess.rollback()
            raise
        finally:
            sess.close()

    def init_app(self, app: Flask) -> None:
        """Attach to `app`: one session per app context, closed at teardown."""
        app.extensions["pergola.db"] = self

        app.teardown_request(close_scope_session)
        app.teardown_appcontext(close_scope_session)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def get_db(app: Flask | None = None) -> Database:
    """The `Database` of `app` (default: the current app)."""
    return cast(Database, (app or current_app).extensions["pergola.db"])


def scope_state() -> dict[str, Any]:
    """State for one unit of work: the request when there is one, else the app context.

    Not `g` during requests: Flask reuses an app context that is already pushed (tests,
    embedding), so `g` can outlive a request; the WSGI environ cannot.
    """
    if has_request_context():
        return cast(dict[str, Any], request.environ.setdefault("pergola.state", {}))
    return cast(dict[str, Any], g.setdefault("_pergola_state", {}))


def close_scope_session(exc: BaseException | None = None) -> None:
    """Close the session of the current scope (request or app context), if one was opened."""
    sess = scope_state().pop("session", None)
    if sess is not None:
        if exc is not None:
            sess.rollback()
        sess.close()


def get_session() -> PergolaSession:
    """The session of the current request (or app context), opened on first use."""
    state = scope_state()
    sess = state.get("session")
    if sess is None:
        sess = state["session"] = get_db().new_session()
    return cast(PergolaSession, sess)


session: PergolaSession = cast(PergolaSession, LocalProxy(get_session))
"""The current app context's session: `from core.db import session`."""
