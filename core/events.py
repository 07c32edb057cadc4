"""Events: a transactional outbox, dispatch after commit, handlers applied once, retries.

`emit()` writes an outbox row in the caller's transaction, so an event exists exactly when
the change it describes was committed. After the commit the row is handed to RQ (or, in
embedded mode, processed in-process at once); a relay re-sends whatever was not handed over
or not finished (Redis down, a crash, a worker killed), so delivery is at-least-once. Each
handler records a receipt in its own transaction, which makes redelivery harmless.
"""

from __future__ import annotations

import datetime as dt
import decimal
import fnmatch
import json
import logging
import os
import random
import re
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, cast

from flask import Flask, current_app
from sqlalchemy import event as sa_event
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db import PergolaSession, close_scope_session, scope_state, session
from core.errors import NotFound, ValidationError
from core.event_models import EventFailure, EventReceipt, OutboxEvent
from core.mixins import utcnow
from core.tenancy import (
    TenantContextError,
    current_tenant_id,
    in_system_context,
    require_tenant_id,
    system_context,
    tenant_context,
)

log = logging.getLogger("pergola.events")

TYPE_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
PATTERN_RE = re.compile(r"^(\*|[a-z0-9_*]+(\.[a-z0-9_*]+)*)$")
KERNEL = "core"

_PENDING = "pergola_outbox"
_APP = "pergola_outbox_app"


# --- what handlers see -----------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """An event as handlers and webhooks see it; `attempt` counts from 1 for each handler."""

    id: uuid.UUID
    type: str
    tenant_id: uuid.UUID
    payload: Mapping[str, Any]
    created_at: dt.datetime
    attempt: int = 1

    def to_json(self) -> dict[str, Any]:
        """The event as a webhook body carries it."""
        return {
            "id": str(self.id),
            "type": self.type,
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
            "tenant_id": str(self.tenant_id),
            "data": dict(self.payload),
        }


@dataclass(frozen=True)
class EventHandler:
    """A reaction to events whose type matches one of `patterns` (wildcards: `contacts.*`).

    `name` must be stable across releases: with the addon's name in front it keys the
    receipt that makes a redelivered event a no-op. `func(event)` runs in the event's
    tenant, in a transaction of its own that commits when it returns and rolls back when
    it raises (then it is retried with exponential backoff, up to `max_attempts`).
    """

    name: str
    patterns: str | Sequence[str]
    func: Callable[[Event], Any]
    max_attempts: int | None = None

    def __post_init__(self) -> None:
        pats = (self.patterns,) if isinstance(self.patterns, str) else tuple(self.patterns)
        object.__setattr__(self, "patterns", pats)
        if not re.match(r"^[a-z][a-z0-9_.-]{0,79}$", self.name):
            raise ValueError(
                f"event handler name {self.name!r}: use lower-case letters, "
                "digits, '_', '.', '-' (stable: it keys idempotency)"
            )
        for p in pats:
            if not PATTERN_RE.match(p):
                raise ValueError(f"event handler {self.name!r}: invalid pattern {p!r}")

    def matches(self, event_type: str) -> bool:
        """True when `event_type` matches one of the handler's patterns."""
        return any(type_matches(p, event_type) for p in cast(tuple[str, ...], self.patterns))


def type_matches(pattern: str, event_type: str) -> bool:
    """True when `event_type` matches `pattern`; `*` matches any run of characters."""
    return fnmatch.fnmatchcase(event_type, pattern)


def validate_patterns(patterns: Any, field_name: str = "event_types") -> list[str]:
    """Return `patterns` as a list if each is a valid event type pattern, else raise."""
    if isinstance(patterns, str) or not isinstance(patterns, list | tuple) or not patterns:
        raise ValidationError(
            'give a non-empty list of event types, e.g. ["contacts.*"]', field=field_name
        )
    bad = [p for p in patterns if not isinstance(p, str) or not PATTERN_RE.match(p)]
    if bad:
        raise ValidationError(
            f"invalid event type pattern(s) {', '.join(map(repr, bad))}: use dotted lower-case "
            "names with '*' as wildcard, e.g. 'contacts.*' or 'sales.order.confirmed'",
            field=field_name,
        )
    return list(dict.fromkeys(patterns))


# --- settings --------------------------------------------------------------------------


@dataclass(frozen=True)
class EventSettings:
    """Tunables of events, jobs and webhooks: `create_app({key: ...})` or PERGOLA_<KEY>."""

    event_max_attempts: int = 8
    event_retry_base: float = 10.0
    event_retry_cap: float = 3600.0
    event_relay_grace: float = 30.0
    event_lease: float = 900.0
    queue_name: str = "pergola"
    job_timeout: int = 300
    webhook_timeout: float = 10.0
    webhook_max_failures: int = 15
    # Off by default: a tenant admin must not make the server POST to (and show the
    # answers of) services on its own network, e.g. a cloud metadata endpoint.
    webhook_allow_private_networks: bool = False
    scheduler_interval: float = 5.0

    @classmethod
    def load(cls, extra: Mapping[str, Any]) -> EventSettings:
        """Read each field from `extra`, then the environment, else keep the default."""
        values: dict[str, Any] = {}
        for f in cls.__dataclass_fields__.values():
            raw = extra.get(f.name, os.environ.get(f"PERGOLA_{f.name.upper()}"))
            if raw is None:
                continue
            if isinstance(f.default, bool):
                values[f.name] = (
                    raw
                    if isinstance(raw, bool)
                    else (str(raw).strip().lower() in ("1", "true", "yes", "on"))
                )
            else:
                kind = cast(Callable[[Any], Any], type(f.default))
                values[f.name] = kind(raw)
        return cls(**values)

    def backoff(self, attempt: int) -> dt.timedelta:
        """How long to wait after failed attempt number `attempt` (1, 2, ...): doubling, capped."""
        seconds = min(self.event_retry_base * 2 ** max(attempt - 1, 0), self.event_retry_cap)
        # A little jitter so that a burst of failures does not come back as one burst.
        return dt.timedelta(seconds=seconds * random.uniform(1.0, 1.1))

    @property
    def lease(self) -> dt.timedelta:
        """How long a queued row is left to its worker before the relay sends it again."""
        return dt.timedelta(seconds=self.event_lease)

    @property
    def grace(self) -> dt.timedelta:
        """How long the after-commit dispatcher has before the relay sends a new row too."""
        return dt.timedelta(seconds=self.event_relay_grace)


def event_settings(app: Flask | None = None) -> EventSettings:
    """The events settings of `app` (default: the current app)."""
    app = app or cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    found = app.extensions.get("pergola.events")
    if found is None:
        found = app.extensions["pergola.events"] = EventSettings.load(app.config["PERGOLA"].extra)
    return cast(EventSettings, found)


def is_embedded(app: Flask | None = None) -> bool:
    """True when no Redis is configured: jobs run in-process right after the commit."""
    app = app or cast(Flask, current_app)
    return bool(app.config["PERGOLA"].embedded)


# --- emitting --------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)  # exact: a float would lose cents
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"event payloads are JSON: cannot encode {type(value).__name__} {value!r}")


def jsonable(payload: Mapping[str, Any]) -> dict[str, Any]:
    """`payload` as plain JSON data (UUIDs, Decimals and datetimes become strings)."""
    return cast(dict[str, Any], json.loads(json.dumps(dict(payload), default=_json_default)))


def emit(
    event_type: str,
    payload: Mapping[str, Any] | None = None,
    *,
    tenant_id: uuid.UUID | None = None,
    db_session: Session | None = None,
) -> uuid.UUID:
    """Record event `event_type` in the current transaction; returns its id.

    The event is dispatched after the transaction commits, and never if it rolls back.
    The tenant is the one in context (in `system_context()`, pass `tenant_id`).
    """
    if not TYPE_RE.match(event_type or ""):
        raise ValueError(
            f"invalid event type {event_type!r}: use dotted lower-case names "
            "such as 'contacts.account.created'"
        )
    return _write(
        event_type, jsonable(payload or {}), tenant_id, internal=False, db_session=db_session
    )


def emit_internal(
    event_type: str,
    payload: Mapping[str, Any],
    *,
    tenant_id: uuid.UUID | None = None,
    db_session: Session | None = None,
) -> uuid.UUID:
    """Like `emit`, for the kernel's own jobs: only kernel handlers see it, never webhooks."""
    return _write(event_type, jsonable(payload), tenant_id, internal=True, db_session=db_session)


def _write(
    event_type: str,
    payload: dict[str, Any],
    tenant_id: uuid.UUID | None,
    *,
    internal: bool,
    db_session: Session | None,
) -> uuid.UUID:
    current = current_tenant_id()
    if tenant_id is None:
        tenant_id = require_tenant_id()
    elif not in_system_context() and tenant_id != current:
        raise TenantContextError("emit for another tenant than the one in context")
    sess = db_session if db_session is not None else _current_session()
    now = utcnow()
    ev = OutboxEvent(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        type=event_type,
        payload=payload,
        internal=internal,
        created_at=now,
        state="pending",
        next_attempt_at=now + event_settings().grace,
    )
    queued = isinstance(sess, PergolaSession) and not is_embedded()
    if queued:
        # Written as handed over, with the lease, so that the commit needs no second
        # transaction to say so; if the hand-over fails it is put back to pending (see
        # `_hand_over`), and if the process dies first the relay sends it when the lease ends.
        ev.state, ev.next_attempt_at = "queued", now + event_settings().lease
        ev.dispatched_at, ev.dispatch_count = now, 1
    sess.add(ev)
    after_commit(sess, _QUEUED if queued else "event", ev.id)
    return ev.id


_QUEUED = "event-queued"  # an event row committed already marked queued


def after_commit(sess: Session, kind: str, ident: uuid.UUID) -> None:
    """Dispatch row `ident` (an 'event' or a webhook 'delivery') once `sess` commits."""
    sess.info.setdefault(_PENDING, []).append((kind, ident))
    sess.info[_APP] = current_app._get_current_object()  # type: ignore[attr-defined]


def _after_commit(sess: Session) -> None:
    # A savepoint's commit also lands here; only the real commit makes events visible.
    if sess.get_nested_transaction() is not None:
        return
    pending = sess.info.pop(_PENDING, None)
    app = sess.info.pop(_APP, None)
    if not pending or app is None:
        return
    for kind in ("event", _QUEUED, "delivery"):
        ids = list(dict.fromkeys(i for k, i in pending if k == kind))
        try:
            if kind == _QUEUED:
                _hand_over(app, ids)
            else:
                dispatch(app, kind, ids)
        except Exception:
            log.exception(
                "dispatching %d %s(s) after commit failed; the relay will", len(ids), kind
            )


def _after_rollback(sess: Session) -> None:
    if sess.get_nested_transaction() is None:
        sess.info.pop(_PENDING, None)
        sess.info.pop(_APP, None)


sa_event.listen(PergolaSession, "after_commit", _after_commit)
sa_event.listen(PergolaSession, "after_rollback", _after_rollback)


# --- handing rows over to the queue -----------------------------------------------------


def _model(kind: str) -> Any:
    from core.event_models import WebhookDelivery

    return {"event": OutboxEvent, "delivery": WebhookDelivery}[kind]


def dispatch(app: Flask, kind: str, ids: Sequence[uuid.UUID]) -> None:
    """Hand freshly committed rows (`kind` 'event' or 'delivery') to the queue, or run them.

    Redis mode: enqueue, then mark them queued with a lease; if Redis is down they stay
    pending and become due for the relay at once. Embedded mode: process them now.
    """
    from core import jobs

    if not ids:
        return
    if is_embedded(app):
        for ident in ids:
            jobs.run_inline(app, kind, str(ident))
        return
    model = _model(kind)
    try:
        jobs.enqueue_many(app, kind, [str(i) for i in ids])
    except jobs.QueueUnavailable as exc:
        log.warning("queue unavailable (%s): %d %s(s) left to the relay", exc, len(ids), kind)
        _update_rows(app, model, ids, "pending", {"next_attempt_at": utcnow()})
        return
    now = utcnow()
    values: dict[str, Any] = {"state": "queued", "next_attempt_at": now + event_settings(app).lease}
    if kind == "event":
        values.update(dispatched_at=now, dispatch_count=OutboxEvent.dispatch_count + 1)
    _update_rows(app, model, ids, "pending", values)


def _hand_over(app: Flask, ids: Sequence[uuid.UUID]) -> None:
    """Enqueue events committed as queued; if that fails, make them pending and due at once,
    as `dispatch` leaves rows it could not hand over."""
    from core import jobs

    if not ids:
        return
    try:
        jobs.enqueue_many(app, "event", [str(i) for i in ids])
    except Exception as exc:
        log.warning("queue unavailable (%s): %d event(s) left to the relay", exc, len(ids))
        _update_rows(
            app,
            OutboxEvent,
            ids,
            "queued",
            {
                "state": "pending",
                "next_attempt_at": utcnow(),
                "dispatched_at": None,
                "dispatch_count": OutboxEvent.dispatch_count - 1,
            },
        )
        if not isinstance(exc, jobs.QueueUnavailable):
            raise


def _update_rows(
    app: Flask, model: Any, ids: Sequence[uuid.UUID], from_state: str, values: dict[str, Any]
) -> None:
    """UPDATE rows still in `from_state` (a worker may have finished them already)."""
    with app.app_context(), isolated_scope(), system_context():
        session.execute(
            update(model)
            .where(model.id.in_(list(ids)), model.state == from_state)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        session.commit()


@contextmanager
def isolated_scope() -> Iterator[None]:
    """Run the block with a session of its own and no caller, as a background job runs.

    Used for every handler (its own transaction) and for in-process jobs, which may run
    inside a request whose session and principal must stay untouched.
    """
    state = scope_state()
    saved: dict[str, Any] = {k: state.pop(k) for k in ("session", "principal") if k in state}
    try:
        yield
    finally:
        close_scope_session()
        state.pop("principal", None)
        state.update(saved)


# --- handlers --------------------------------------------------------------------------


def _kernel_handlers() -> list[EventHandler]:
    from core import notifications

    return notifications.event_handlers()


def collect_hook(app: Flask, hook_name: str, kind: type) -> dict[str, list[tuple[str, Any]]]:
    """Call `hook_name` once per plugin (through pluggy): plugin name -> [(full name, item)].

    Full names are `<addon>.<name>` (`core.<name>` for kernel plugins); a wrong type or a
    duplicate name is an error naming the addon, raised when the app is built.
    """
    registry = app.extensions["pergola.registry"]
    pm = registry.pm
    table: dict[str, list[tuple[str, Any]]] = {}
    seen: set[str] = set()
    for impl in getattr(pm.hook, hook_name).get_hookimpls():
        owner = impl.plugin_name.split(":", 1)[0]
        others = [p for p in pm.get_plugins() if p is not impl.plugin]
        results = pm.subset_hook_caller(hook_name, remove_plugins=others)()
        items: list[tuple[str, Any]] = []
        for item in (x for result in results for x in (result or [])):
            if not isinstance(item, kind):
                raise TypeError(
                    f"addon {owner!r}: {hook_name} must return {kind.__name__} "
                    f"objects, got {item!r}"
                )
            name = cast(Any, item).name
            full = f"{owner}.{name}"
            if full in seen:
                raise ValueError(f"addon {owner!r}: {hook_name} names {name!r} twice")
            seen.add(full)
            items.append((full, item))
        table[impl.plugin_name] = items
    return table


def init_app(app: Flask) -> None:
    """Wire events into `app`: settings, the handler and job tables, the JSON blueprints."""
    from core import notifications_api, scheduler, webhooks_api

    event_settings(app)
    app.extensions["pergola.event_handlers"] = collect_hook(
        app, "register_event_handlers", EventHandler
    )
    app.extensions["pergola.scheduled_jobs"] = collect_hook(
        app, "register_scheduled_jobs", scheduler.ScheduledJob
    )
    app.register_blueprint(webhooks_api.bp)
    app.register_blueprint(notifications_api.bp)


def handlers_for(event_type: str, *, internal: bool = False) -> list[tuple[str, EventHandler]]:
    """(full name, handler) of every handler for `event_type` in the tenant in context.

    Addons come through the registry's tenant-aware dispatch, so an addon the tenant has
    not enabled is never asked; full names are `<addon>.<name>`. Internal events go to
    the kernel's own handlers only.
    """
    if internal:
        found = [(f"{KERNEL}.{h.name}", h) for h in _kernel_handlers()]
    else:
        from core.registry import current_registry

        table = current_app.extensions["pergola.event_handlers"]
        caller = current_registry().caller("register_event_handlers")
        found = [
            entry for impl in caller.get_hookimpls() for entry in table.get(impl.plugin_name, ())
        ]
    return [(n, h) for n, h in found if h.matches(event_type)]


def _as_event(row: OutboxEvent) -> Event:
    return Event(
        id=row.id,
        type=row.type,
        tenant_id=row.tenant_id,
        payload=row.payload or {},
        created_at=row.created_at,
    )


@dataclass
class _Outcome:
    state: str  # applied | retrying | failed
    next_at: dt.datetime | None = None


def process_event(event_id: uuid.UUID | str, *, now: dt.datetime | None = None) -> str:
    """Apply every due handler of the event once, create its webhook deliveries, and
    return the event's new state (done, retrying, failed, or missing)."""
    app = cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    event_id = uuid.UUID(str(event_id))
    now = now or utcnow()
    with isolated_scope(), system_context():
        row = session.get(OutboxEvent, event_id)
        if row is None:
            return "missing"  # rolled back, or already pruned
        if row.state in ("done", "failed"):
            return row.state
        data, internal = _as_event(row), row.internal
        session.commit()  # no transaction held while handlers run (SQLite: one writer)

    with tenant_context(data.tenant_id):
        try:
            with isolated_scope():
                handlers = handlers_for(data.type, internal=internal)
        except Exception:
            log.exception("listing handlers for event %s failed; retrying later", data.id)
            outcomes = [_Outcome("retrying", now + event_settings(app).backoff(1))]
        else:
            outcomes = [_apply(app, data, name, h, now) for name, h in handlers]
        deliveries: list[uuid.UUID] = []
        if not internal:
            from core import webhooks

            with isolated_scope():
                deliveries = webhooks.fan_out(data, now=now)

    state, next_at = _overall(outcomes)
    with isolated_scope(), system_context():
        session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id == data.id)
            .values(
                state=state,
                next_attempt_at=next_at,
                processed_at=now if state == "done" else None,
            )
            .execution_options(synchronize_session=False)
        )
        session.commit()
    if deliveries:
        dispatch(app, "delivery", deliveries)
    return state


def _overall(outcomes: Sequence[_Outcome]) -> tuple[str, dt.datetime | None]:
    waiting = [o.next_at for o in outcomes if o.state == "retrying" and o.next_at]
    if waiting:
        return "retrying", min(waiting)
    if any(o.state == "failed" for o in outcomes):
        return "failed", None
    return "done", None


def _error_text(exc: BaseException) -> str:
    text = "".join(traceback.format_exception(exc))
    return text[-4000:]


def _apply(app: Flask, data: Event, name: str, handler: EventHandler, now: dt.datetime) -> _Outcome:
    """Run one handler in a transaction of its own, unless it already applied the event."""
    settings = event_settings(app)
    with isolated_scope():
        if session.get(EventReceipt, (data.id, name)) is not None:
            _forget_failure(data.id, name)
            return _Outcome("applied")
        failure = _failure(data.id, name)
        if failure is not None and failure.status == "failed":
            session.commit()
            return _Outcome("failed")
        if failure is not None and failure.next_attempt_at and failure.next_attempt_at > now:
            at = failure.next_attempt_at
            session.commit()
            return _Outcome("retrying", at)
        attempt = (failure.attempts if failure is not None else 0) + 1
        # The receipt goes in first: a concurrent redelivery blocks on it, then fails.
        session.add(
            EventReceipt(event_id=data.id, handler=name, tenant_id=data.tenant_id, applied_at=now)
        )
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            return _Outcome("applied")
        try:
            handler.func(replace(data, attempt=attempt))
            if failure is not None:
                session.delete(failure)
            session.commit()
            log.info("event %s (%s): %s applied", data.id, data.type, name)
            return _Outcome("applied")
        except Exception as exc:  # noqa: BLE001 - any handler error is retried, then listed
            session.rollback()
            error = _error_text(exc)
            log.warning(
                "event %s (%s): handler %s failed (attempt %d): %s",
                data.id,
                data.type,
                name,
                attempt,
                exc,
            )

    max_attempts = handler.max_attempts or settings.event_max_attempts
    give_up = attempt >= max_attempts
    next_at = None if give_up else now + settings.backoff(attempt)
    with isolated_scope():
        failure = _failure(data.id, name)
        if failure is None:
            failure = EventFailure(
                event_id=data.id, handler=name, tenant_id=data.tenant_id, first_failed_at=now
            )
            session.add(failure)
        failure.attempts = attempt
        failure.status = "failed" if give_up else "retrying"
        failure.last_error = error
        failure.last_failed_at = now
        failure.next_attempt_at = next_at
        try:
            session.commit()
        except IntegrityError:  # a concurrent attempt recorded it first; it will retry
            session.rollback()
    return _Outcome("failed") if give_up else _Outcome("retrying", next_at)


def _failure(event_id: uuid.UUID, name: str) -> EventFailure | None:
    return session.scalar(
        select(EventFailure).where(EventFailure.event_id == event_id, EventFailure.handler == name)
    )


def _forget_failure(event_id: uuid.UUID, name: str) -> None:
    """A failure row left by a concurrent attempt that lost to a successful one."""
    stale = _failure(event_id, name)
    if stale is not None:
        session.delete(stale)
    session.commit()


# --- the relay -------------------------------------------------------------------------


@dataclass
class RelayResult:
    """What one relay pass handed over."""

    events: int = 0
    deliveries: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Rows handed over."""
        return self.events + self.deliveries


def _due(model: Any, now: dt.datetime) -> Any:
    return select(model.id).where(
        model.state.in_(("pending", "queued", "retrying")),
        model.next_attempt_at.is_not(None),
        model.next_attempt_at <= now,
    )


def count_due(*, now: dt.datetime | None = None) -> int:
    """How many events and webhook deliveries the relay would hand over now."""
    now = now or utcnow()
    total = 0
    with isolated_scope(), system_context():
        for kind in ("event", "delivery"):
            model = _model(kind)
            total += (
                session.scalar(select(func.count()).select_from(_due(model, now).subquery())) or 0
            )
        session.commit()
    return total


def relay(
    *,
    now: dt.datetime | None = None,
    batch: int = 200,
    limit: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> RelayResult:
    """Hand over every due event and webhook delivery: never dispatched (Redis was down,
    the process died after commit), queued but unfinished past the lease (a worker died),
    or waiting for a retry that is now due. Safe to run anywhere, any number of times.

    Raises `jobs.QueueUnavailable` when Redis cannot be reached (rows stay due).
    """
    from core import jobs

    app = cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    settings = event_settings(app)
    now = now or utcnow()
    result = RelayResult()
    for kind in ("event", "delivery"):
        model = _model(kind)
        while limit is None or result.total < limit:
            size = batch if limit is None else min(batch, limit - result.total)
            with isolated_scope(), system_context():
                ids = list(
                    session.scalars(_due(model, now).order_by(model.next_attempt_at).limit(size))
                )
                if not ids:
                    session.commit()
                    break
                # Claim: only rows still due move on, so two relays never both send one.
                values: dict[str, Any] = {
                    "state": "queued",
                    "next_attempt_at": now + settings.lease,
                }
                if kind == "event":
                    values.update(dispatched_at=now, dispatch_count=OutboxEvent.dispatch_count + 1)
                claimed = list(
                    session.scalars(
                        update(model)
                        .where(
                            model.id.in_(ids),
                            model.state.in_(("pending", "queued", "retrying")),
                            model.next_attempt_at <= now,
                        )
                        .values(**values)
                        .returning(model.id)
                        .execution_options(synchronize_session=False)
                    )
                )
                session.commit()
            if not claimed:
                break
            if is_embedded(app):
                for ident in claimed:
                    jobs.run_inline(app, kind, str(ident))
            else:
                try:
                    jobs.enqueue_many(app, kind, [str(i) for i in claimed])
                except jobs.QueueUnavailable:
                    _update_rows(
                        app,
                        model,
                        claimed,
                        "queued",
                        {"state": "pending", "next_attempt_at": utcnow()},
                    )
                    raise
            if kind == "event":
                result.events += len(claimed)
            else:
                result.deliveries += len(claimed)
            if on_progress:
                on_progress(len(claimed))
    return result


# --- the failed list (CLI and the Settings page) ----------------------------------------


@dataclass(frozen=True)
class FailedItem:
    """A handler or webhook delivery that gave up; `retry(id)` tries it again."""

    id: uuid.UUID
    kind: str  # "handler" | "webhook"
    tenant_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    target: str  # the handler's name or the endpoint's URL
    attempts: int
    error: str
    failed_at: dt.datetime

    @property
    def summary(self) -> str:
        """The error's last line: what the person reading the list needs first."""
        lines = [ln for ln in self.error.strip().splitlines() if ln.strip()]
        return lines[-1].strip() if lines else ""


def failed(*, limit: int = 200, tenant_id: uuid.UUID | None = None) -> list[FailedItem]:
    """Failures that gave up, newest first: the tenant's in its context; in system context
    every tenant's, or `tenant_id`'s."""
    from core.event_models import WebhookDelivery, WebhookEndpoint

    items: list[FailedItem] = []
    handlers = (
        select(EventFailure, OutboxEvent.type)
        .join(OutboxEvent, OutboxEvent.id == EventFailure.event_id)
        .where(EventFailure.status == "failed")
    )
    hooks = (
        select(WebhookDelivery, WebhookEndpoint.url)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.state == "failed")
    )
    if tenant_id is not None:
        handlers = handlers.where(EventFailure.tenant_id == tenant_id)
        hooks = hooks.where(WebhookDelivery.tenant_id == tenant_id)
    rows = session.execute(handlers.order_by(EventFailure.last_failed_at.desc()).limit(limit)).all()
    for f, etype in rows:
        items.append(
            FailedItem(
                f.id,
                "handler",
                f.tenant_id,
                f.event_id,
                etype,
                f.handler,
                f.attempts,
                f.last_error,
                f.last_failed_at,
            )
        )
    deliveries = session.execute(
        hooks.order_by(WebhookDelivery.created_at.desc()).limit(limit)
    ).all()
    for d, url in deliveries:
        items.append(
            FailedItem(
                d.id,
                "webhook",
                d.tenant_id,
                d.event_id,
                d.event_type,
                url,
                d.attempts,
                d.last_error,
                d.delivered_at or d.created_at,
            )
        )
    items.sort(key=lambda i: i.failed_at, reverse=True)
    return items[:limit]


def retry(item_id: uuid.UUID | str) -> str:
    """Try a failed handler or webhook delivery again, with a fresh round of attempts.

    Sees what the context sees (a tenant's own, or all in system context); an unknown id
    is `NotFound`. The retry is handed over after the caller commits; returns the kind
    ('handler' or 'webhook').
    """
    from core.event_models import WebhookDelivery

    try:
        ident = uuid.UUID(str(item_id))
    except ValueError:
        raise NotFound(f"no failed handler or delivery {item_id!r}") from None
    now = utcnow()
    failure = session.get(EventFailure, ident)
    if failure is not None:
        failure.status, failure.attempts, failure.next_attempt_at = "retrying", 0, now
        ev = session.get(OutboxEvent, failure.event_id)
        if ev is not None:
            # Pending again: dispatched after the commit, or by the relay after the grace.
            ev.state, ev.next_attempt_at = "pending", now + event_settings().grace
        after_commit(_current_session(), "event", failure.event_id)
        return "handler"
    delivery = session.get(WebhookDelivery, ident)
    if delivery is not None:
        from core import webhooks

        webhooks.reset_delivery(delivery, now)
        after_commit(_current_session(), "delivery", delivery.id)
        return "webhook"
    raise NotFound(
        f"no failed handler or delivery {item_id!r}", details={"id": ["no such failed item"]}
    )


def _current_session() -> Session:
    return cast(Session, session._get_current_object())  # type: ignore[attr-defined]


def event_status(event_id: uuid.UUID | str) -> dict[str, Any]:
    """An event's state, its receipts and its failures, for the CLI and the Settings page."""
    ident = uuid.UUID(str(event_id))
    row = session.get(OutboxEvent, ident)
    if row is None:
        raise NotFound(f"no event {event_id}", details={"id": ["no such event"]})
    receipts = session.scalars(select(EventReceipt).where(EventReceipt.event_id == ident)).all()
    failures = session.scalars(select(EventFailure).where(EventFailure.event_id == ident)).all()
    return {
        "id": str(row.id),
        "type": row.type,
        "tenant_id": str(row.tenant_id),
        "state": row.state,
        "created_at": row.created_at,
        "payload": row.payload,
        "dispatch_count": row.dispatch_count,
        "processed_at": row.processed_at,
        "applied": sorted(r.handler for r in receipts),
        "failures": [
            {
                "id": str(f.id),
                "handler": f.handler,
                "status": f.status,
                "attempts": f.attempts,
                "next_attempt_at": f.next_attempt_at,
            }
            for f in failures
        ],
    }
