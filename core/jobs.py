"""Background jobs: RQ on Redis in production, in-process in embedded mode; the worker.

The database is the source of truth (outbox rows, deliveries, scheduled runs); Redis only
carries "work on row X" messages, so losing a message (Redis down, a worker killed) delays
work until the relay sends the row again, and never loses it.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, cast

from flask import Flask, current_app, has_app_context
from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry
from rq import Queue, SimpleWorker, Worker

from core.errors import DomainError
from core.tenancy import tenant_context

log = logging.getLogger("pergola.jobs")

JOBS: dict[str, str] = {
    "event": "core.jobs.process_event_job",
    "delivery": "core.jobs.deliver_webhook_job",
    "scheduled": "core.jobs.run_scheduled_job",
}
"""The job functions the kernel enqueues, by kind."""


class QueueUnavailable(Exception):
    """Redis could not be reached: the rows stay due and the relay sends them later."""


class NoQueueConfigured(DomainError):
    """A command needs Redis but none is configured (embedded mode)."""

    code = "NO_REDIS"


# --- the queue --------------------------------------------------------------------------


def _connect(url: str, **kwargs: Any) -> Redis:
    # Fail fast: a request that committed must not hang on a Redis that is down (the relay
    # sends the rows later), so no connection retries with backoff here.
    kwargs.setdefault("socket_connect_timeout", 2)
    kwargs.setdefault("socket_timeout", 10)
    return Redis.from_url(url, retry=Retry(NoBackoff(), 1), **kwargs)


def redis_connection(app: Flask | None = None) -> Redis:
    """The app's Redis client (for enqueueing); `NoQueueConfigured` in embedded mode."""
    app = app or cast(Flask, current_app)
    url = app.config["PERGOLA"].redis_url
    if not url:
        raise NoQueueConfigured(
            "no Redis configured: set PERGOLA_REDIS_URL (embedded mode "
            "runs jobs in-process and needs no worker)"
        )
    conn = app.extensions.get("pergola.redis")
    if conn is None:
        conn = app.extensions["pergola.redis"] = _connect(url)
    return cast(Redis, conn)


def queue(app: Flask | None = None, name: str | None = None) -> Queue:
    """The RQ queue the kernel's jobs go to (setting `queue_name`, default 'pergola')."""
    from core.events import event_settings

    app = app or cast(Flask, current_app)
    return Queue(name or event_settings(app).queue_name, connection=redis_connection(app))


def enqueue_many(app: Flask, kind: str, args: Sequence[str], *more: Any) -> None:
    """Enqueue one `kind` job per item of `args`; `QueueUnavailable` if Redis is down."""
    from core.events import event_settings

    settings = event_settings(app)
    q = queue(app)
    jobs = [
        Queue.prepare_data(
            JOBS[kind],
            args=(arg, *more),
            timeout=settings.job_timeout,
            result_ttl=3600,
            failure_ttl=7 * 24 * 3600,
            description=f"pergola {kind} {arg}",
        )
        for arg in args
    ]
    try:
        q.enqueue_many(jobs)
    except RedisError as exc:
        raise QueueUnavailable(str(exc)) from exc


# --- running jobs in-process (embedded mode) ---------------------------------------------

_inline: ContextVar[list[tuple[str, tuple[Any, ...]]] | None] = ContextVar(
    "pergola_inline_jobs", default=None
)


def _function(kind: str) -> Callable[..., Any]:
    module, _, name = JOBS[kind].rpartition(".")
    import importlib

    return cast(Callable[..., Any], getattr(importlib.import_module(module), name))


def run_inline(app: Flask, kind: str, *args: Any) -> None:
    """Run a job now, in this process, as a worker would (own session, no caller).

    Jobs started by a job (an event handler that emits) are queued behind it rather than
    nested, so a chain of events runs breadth-first with a flat stack. Errors are logged:
    the rows they concern stay due and the relay tries them again.
    """
    pending = _inline.get()
    if pending is not None:
        pending.append((kind, args))
        return
    pending = [(kind, args)]
    token = _inline.set(pending)
    try:
        while pending:
            k, a = pending.pop(0)
            try:
                with _clean_scope(app):
                    _function(k)(*a)
            except Exception:
                log.exception("in-process %s job %s failed", k, a)
    finally:
        _inline.reset(token)


@contextmanager
def _clean_scope(app: Flask) -> Iterator[None]:
    from core.events import isolated_scope

    if has_app_context():
        # Run from a request (or command): its scope state may be shared with the app context
        # pushed here (a request's environ is), so isolate first: that context's teardown
        # must close the job's session, never the caller's (mid-commit, detaching its rows).
        with isolated_scope(), app.app_context(), tenant_context(None):
            yield
        return
    with app.app_context(), tenant_context(None), isolated_scope():
        yield


# --- job functions (what RQ imports by name) --------------------------------------------

_fallback: dict[str, Flask] = {}


@contextmanager
def _job_app() -> Iterator[None]:
    """An app context for a job: the worker's, or (plain `rq worker`) one built from env."""
    if has_app_context():
        yield
        return
    app = _fallback.get("app")
    if app is None:
        from core import create_app

        app = _fallback["app"] = create_app()
    with _clean_scope(app):
        yield


def process_event_job(event_id: str) -> str:
    """RQ job: apply an outbox event's handlers and create its webhook deliveries."""
    from core.events import process_event

    with _job_app():
        return process_event(event_id)


def deliver_webhook_job(delivery_id: str) -> str:
    """RQ job: make one attempt at a webhook delivery."""
    from core.webhooks import deliver

    with _job_app():
        return deliver(delivery_id)


def run_scheduled_job(name: str, tenant_id: str | None = None) -> str:
    """RQ job: run scheduled job `name` (for one tenant, or once)."""
    from core.scheduler import run_job

    with _job_app():
        return run_job(name, uuid.UUID(tenant_id) if tenant_id else None)


# --- the worker --------------------------------------------------------------------------


class _PergolaWorkerMixin:
    """Runs each job in a fresh app context, and the scheduler's tick between jobs."""

    app: Flask
    pergola_tick: Callable[[], Any] | None = None
    pergola_tick_interval: float = 5.0
    _pergola_last_tick: float = 0.0

    def perform_job(self, job: Any, queue: Any) -> bool:
        with _clean_scope(self.app):
            return cast(bool, super().perform_job(job, queue))  # type: ignore[misc]

    def run_tick(self) -> None:
        """Run the scheduler tick now (errors are logged, never fatal to the worker)."""
        if self.pergola_tick is None:
            return
        self._pergola_last_tick = time.monotonic()
        try:
            self.pergola_tick()
        except Exception:
            log.exception("scheduler tick failed")

    def subscribe(self) -> None:
        """Listen on the worker's control channel, waking every second.

        RQ reads it in a thread with a 60 s read timeout, and redis-py 8's `stop()` waits
        for that read: when the UNSUBSCRIBE reply is read before the stop flag is set, a
        worker's shutdown (every burst worker's end) hung for up to a minute.
        """
        self.log.info(  # type: ignore[attr-defined]
            "Worker %s: subscribing to channel %s",
            self.name,  # type: ignore[attr-defined]
            self.pubsub_channel_name,  # type: ignore[attr-defined]
        )
        self.pubsub = self.connection.pubsub()  # type: ignore[attr-defined]
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})  # type: ignore[attr-defined]
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=1,
            daemon=True,
            exception_handler=self._pubsub_exception_handler,  # type: ignore[attr-defined]
        )

    def dequeue_job_and_maintain_ttl(
        self, timeout: int | None, max_idle_time: int | None = None
    ) -> Any:
        parent = super().dequeue_job_and_maintain_ttl  # type: ignore[misc]
        if self.pergola_tick is None or timeout is None:
            return parent(timeout, max_idle_time)
        # Wake up at least every tick interval, even when no job arrives.
        wait = max(1, int(self.pergola_tick_interval))
        while True:
            if time.monotonic() - self._pergola_last_tick >= self.pergola_tick_interval:
                self.run_tick()
            result = parent(min(timeout, wait), max_idle_time=wait)
            if result is not None or getattr(self, "_stop_requested", False):
                return result


class PergolaWorker(_PergolaWorkerMixin, Worker):
    """RQ's forking worker: each job runs in a child process (a crash kills only that job)."""


class PergolaSimpleWorker(_PergolaWorkerMixin, SimpleWorker):
    """RQ's non-forking worker, for tests and platforms without fork."""


def run_worker(
    app: Flask,
    *,
    burst: bool = False,
    with_scheduler: bool = False,
    queues: Sequence[str] | None = None,
    simple: bool = False,
    logging_level: str = "INFO",
) -> bool:
    """Run an RQ worker for `app` until stopped (or, with `burst`, until the queue is empty).

    `with_scheduler` also runs the scheduler's tick: due scheduled jobs, and the relay
    that re-sends undispatched events, expired leases and due retries. Returns whether
    any job was processed.
    """
    from core.db import get_db
    from core.events import event_settings
    from core.scheduler import tick

    settings = event_settings(app)
    url = app.config["PERGOLA"].redis_url
    if not url:
        raise NoQueueConfigured(
            "no Redis configured: set PERGOLA_REDIS_URL to run workers "
            "(embedded mode runs jobs inside `pergola run`)"
        )
    # A connection of its own: RQ raises its socket timeout for blocking pops.
    conn = _connect(url)
    names = list(queues or [settings.queue_name])
    cls = PergolaSimpleWorker if simple else PergolaWorker
    worker = cls([Queue(n, connection=conn) for n in names], connection=conn)
    worker.app = app
    if with_scheduler:
        worker.pergola_tick = lambda: tick(app)
        worker.pergola_tick_interval = settings.scheduler_interval
    if not simple:
        engine = get_db(app).engine
        # A forked child must not share pooled connections with its parent.
        os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))
    if with_scheduler:
        worker.run_tick()
    return bool(worker.work(burst=burst, logging_level=logging_level))
