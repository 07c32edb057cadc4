"""Scheduled jobs: addons declare periodic jobs; workers (or `pergola run`) fire them.

Each tick creates the missing rows of `core_scheduled_run`, claims the due ones with a
conditional UPDATE (so several schedulers never fire one run twice), hands them to the
queue (embedded: runs them), then runs the events relay.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from flask import Flask, current_app
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from core.db import session
from core.event_models import OutboxEvent, ScheduledRun
from core.mixins import utcnow
from core.tenancy import system_context, tenant_context

log = logging.getLogger("pergola.scheduler")

KERNEL = "core"
_AT_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class ScheduledJob:
    """A periodic job: every `every`, or daily at `at` ('HH:MM', UTC).

    `func()` runs in a transaction of its own that commits when it returns. With
    `per_tenant` (the default) it runs once per tenant that has the addon enabled, in that
    tenant's context; otherwise once per period in system context. `name` must be stable:
    with the addon's name in front it keys the record of last runs.
    """

    name: str
    func: Callable[[], Any]
    every: dt.timedelta | None = None
    at: str | None = None
    per_tenant: bool = True

    def __post_init__(self) -> None:
        if not re.match(r"^[a-z][a-z0-9_.-]{0,79}$", self.name):
            raise ValueError(
                f"scheduled job name {self.name!r}: use lower-case letters, digits, '_', '.', '-'"
            )
        if (self.every is None) == (self.at is None):
            raise ValueError(f"scheduled job {self.name!r}: give exactly one of every= or at=")
        if self.every is not None and self.every < dt.timedelta(seconds=1):
            raise ValueError(f"scheduled job {self.name!r}: every= must be at least 1 second")
        if self.at is not None and not _AT_RE.match(self.at):
            raise ValueError(f"scheduled job {self.name!r}: at= must be 'HH:MM' (UTC)")

    def first_run(self, now: dt.datetime) -> dt.datetime:
        """When a newly seen job first fires: at once for intervals, else the next `at`."""
        return now if self.every is not None else self._next_at(now)

    def next_run(self, now: dt.datetime) -> dt.datetime:
        """When the job fires next after firing at `now`."""
        if self.every is not None:
            return now + self.every
        return self._next_at(now + dt.timedelta(seconds=1))

    def _next_at(self, after: dt.datetime) -> dt.datetime:
        hour, minute = (int(x) for x in cast(str, self.at).split(":"))
        candidate = after.astimezone(dt.UTC).replace(
            hour=hour, minute=minute, second=0, microsecond=0
        )
        return candidate if candidate >= after else candidate + dt.timedelta(days=1)


def _prune_events() -> None:
    """Delete processed events (with their receipts and webhook logs) past retention."""
    days = int(
        current_app.config["PERGOLA"].extra.get(
            "event_retention_days", os.environ.get("PERGOLA_EVENT_RETENTION_DAYS", 30)
        )
    )
    cutoff = utcnow() - dt.timedelta(days=days)
    with system_context():
        session.execute(
            delete(OutboxEvent)
            .where(
                OutboxEvent.state == "done",
                OutboxEvent.created_at < cutoff,
            )
            .execution_options(synchronize_session=False)
        )


def idempotency_retention(app: Flask | None = None) -> dt.timedelta:
    """How long Idempotency-Key answers are kept: `idempotency_retention_hours` (or
    PERGOLA_IDEMPOTENCY_RETENTION_HOURS), 24 hours by default."""
    app = app or cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    raw = app.config["PERGOLA"].extra.get(
        "idempotency_retention_hours", os.environ.get("PERGOLA_IDEMPOTENCY_RETENTION_HOURS", 24)
    )
    hours = float(raw)
    if not hours >= 0:  # also refuses NaN
        raise ValueError(f"idempotency_retention_hours must be 0 or more (got {raw!r})")
    return dt.timedelta(hours=hours)


def purge_idempotency_keys(older_than: dt.timedelta | None = None) -> int:
    """Forget every tenant's Idempotency-Key answers older than `older_than` (default: the
    retention); returns how many. The caller commits."""
    from core.api.idempotency import purge

    # System context: the tenant filter steps aside and, on PostgreSQL, so does RLS
    # (pergola.rls_bypass), so one DELETE reaches every tenant's rows.
    with system_context():
        return purge(older_than if older_than is not None else idempotency_retention())


def _purge_idempotency_keys() -> None:
    """The kernel job: `purge_idempotency_keys()` with the configured retention."""
    purged = purge_idempotency_keys()
    if purged:
        log.info("forgot %d idempotency keys past retention", purged)


KERNEL_JOBS = (
    ScheduledJob("prune_events", _prune_events, at="03:17", per_tenant=False),
    # One run across tenants (not per tenant): suspended tenants' keys go too.
    ScheduledJob(
        "purge_idempotency_keys",
        _purge_idempotency_keys,
        every=dt.timedelta(hours=1),
        per_tenant=False,
    ),
)


def scheduled_jobs() -> dict[str, tuple[str, ScheduledJob]]:
    """Every declared job by full name (`<addon>.<name>`), with its owner."""
    found: dict[str, tuple[str, ScheduledJob]] = {
        f"{KERNEL}.{j.name}": (KERNEL, j) for j in KERNEL_JOBS
    }
    for entries in current_app.extensions["pergola.scheduled_jobs"].values():
        for name, job in entries:
            found[name] = (name.split(".", 1)[0], job)
    return found


def _key(name: str, tenant_id: uuid.UUID | None) -> str:
    return f"{name}@{tenant_id or '*'}"


def _wanted_runs(
    jobs: dict[str, tuple[str, ScheduledJob]],
) -> dict[str, tuple[str, uuid.UUID | None]]:
    """Every (job, tenant) pair that should have a run record, keyed like the table."""
    from core.models import Tenant, TenantAddon

    active = list(session.scalars(select(Tenant.id).where(Tenant.status == "active")))
    enabled: dict[str, set[uuid.UUID]] = {}
    for tid, addon in session.execute(
        select(TenantAddon.tenant_id, TenantAddon.addon)
        .join(Tenant, Tenant.id == TenantAddon.tenant_id)
        .where(Tenant.status == "active")
    ):
        enabled.setdefault(addon, set()).add(tid)
    wanted: dict[str, tuple[str, uuid.UUID | None]] = {}
    for name, (owner, job) in jobs.items():
        if not job.per_tenant:
            wanted[_key(name, None)] = (name, None)
            continue
        for tid in active if owner == KERNEL else sorted(enabled.get(owner, ())):
            wanted[_key(name, tid)] = (name, tid)
    return wanted


@dataclass
class TickResult:
    """What one tick fired and relayed."""

    fired: list[str] = field(default_factory=list)
    relayed: int = 0


def tick(app: Flask, *, now: dt.datetime | None = None, relay: bool = True) -> TickResult:
    """Fire every due scheduled job once, then (with `relay`) run the events relay."""
    from core import jobs
    from core.events import is_embedded, isolated_scope
    from core.events import relay as relay_events

    result = TickResult()
    now = now or utcnow()
    due: list[tuple[str, uuid.UUID | None, dt.datetime]] = []
    with app.app_context(), tenant_context(None), isolated_scope(), system_context():
        declared = scheduled_jobs()
        wanted = _wanted_runs(declared)
        rows = {r.key: r for r in session.scalars(select(ScheduledRun))}
        for key, (name, tid) in wanted.items():
            if key in rows:
                continue
            try:
                with session.begin_nested():
                    session.add(
                        ScheduledRun(
                            key=key,
                            job=name,
                            tenant_id=tid,
                            next_run_at=declared[name][1].first_run(now),
                        )
                    )
            except IntegrityError:  # another scheduler created it a moment ago
                pass
        session.commit()
        due_rows = session.scalars(
            select(ScheduledRun).where(ScheduledRun.next_run_at <= now)
        ).all()
        for run in due_rows:
            if run.key not in wanted:
                continue  # a job that is gone, or a tenant that disabled the addon
            seen = run.next_run_at
            job = declared[run.job][1]
            claimed = _rowcount(
                session.execute(
                    update(ScheduledRun)
                    .where(ScheduledRun.key == run.key, ScheduledRun.next_run_at == seen)
                    .values(last_run_at=now, next_run_at=job.next_run(now))
                    .execution_options(synchronize_session=False)
                )
            )
            session.commit()
            if claimed:
                due.append((run.job, run.tenant_id, seen))
    for name, tid, seen in due:
        args = [name, str(tid) if tid else None]
        if is_embedded(app):
            jobs.run_inline(app, "scheduled", *args)
        else:
            try:
                jobs.enqueue_many(app, "scheduled", [name], args[1])
            except jobs.QueueUnavailable:
                log.warning("queue unavailable: scheduled job %s left for the next tick", name)
                _unclaim(app, _key(name, tid), seen)
                continue
        result.fired.append(_key(name, tid))
    if relay:
        with app.app_context(), tenant_context(None), isolated_scope():
            try:
                result.relayed = relay_events(now=now).total
            except jobs.QueueUnavailable as exc:
                log.warning("relay: queue unavailable (%s); will try again", exc)
    return result


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _unclaim(app: Flask, key: str, seen: dt.datetime) -> None:
    from core.events import isolated_scope

    with app.app_context(), isolated_scope(), system_context():
        session.execute(
            update(ScheduledRun)
            .where(ScheduledRun.key == key)
            .values(next_run_at=seen)
            .execution_options(synchronize_session=False)
        )
        session.commit()


def run_job(name: str, tenant_id: uuid.UUID | None) -> str:
    """Run scheduled job `name` now (in `tenant_id`'s context, or system context); returns
    'ok', 'failed' or 'skipped' (unknown job, or the tenant no longer enables the addon)."""
    from core.events import isolated_scope
    from core.registry import current_registry

    with isolated_scope(), system_context():
        declared = scheduled_jobs()
        session.commit()
    if name not in declared:
        log.warning("scheduled job %s is not declared (any more); skipped", name)
        return "skipped"
    owner, job = declared[name]
    status, error = "ok", ""
    try:
        if tenant_id is None:
            with isolated_scope(), system_context():
                job.func()
                session.commit()
        else:
            with tenant_context(tenant_id), isolated_scope():
                if owner != KERNEL and not current_registry().is_enabled(owner, tenant_id):
                    return "skipped"
                job.func()
                session.commit()
    except Exception as exc:
        log.exception("scheduled job %s (tenant %s) failed", name, tenant_id)
        status, error = "failed", f"{type(exc).__name__}: {exc}"
    with isolated_scope(), system_context():
        session.execute(
            update(ScheduledRun)
            .where(ScheduledRun.key == _key(name, tenant_id))
            .values(last_status=status, last_error=error)
            .execution_options(synchronize_session=False)
        )
        session.commit()
    return status


def scheduled_runs() -> list[ScheduledRun]:
    """The record of scheduled runs (system context: every tenant's)."""
    return list(session.scalars(select(ScheduledRun).order_by(ScheduledRun.key)))


class EmbeddedScheduler:
    """A daemon thread that ticks every `interval` seconds inside `pergola run`."""

    def __init__(self, app: Flask, interval: float) -> None:
        self.app = app
        self.interval = interval
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="pergola-scheduler", daemon=True)

    def _loop(self) -> None:
        while True:
            try:
                tick(self.app)
            except Exception:
                log.exception("embedded scheduler tick failed")
            if self._stop.wait(self.interval):
                return

    def start(self) -> EmbeddedScheduler:
        """Start ticking (the first tick runs at once)."""
        self.thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to stop and wait for it."""
        self._stop.set()
        self.thread.join(timeout)


def start_embedded_scheduler(app: Flask, interval: float | None = None) -> EmbeddedScheduler:
    """Run due scheduled jobs and the events relay in a background thread of this process.

    For embedded mode (no Redis), started by `pergola run`; idempotent per app.
    """
    from core.events import event_settings

    running = app.extensions.get("pergola.scheduler")
    if running is not None and running.thread.is_alive():
        return cast(EmbeddedScheduler, running)
    scheduler = EmbeddedScheduler(app, interval or event_settings(app).scheduler_interval)
    app.extensions["pergola.scheduler"] = scheduler
    return scheduler.start()
