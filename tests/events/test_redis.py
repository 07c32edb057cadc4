"""The outbox with Redis and RQ workers: what commits is queued, what rolls back is not,
nothing is lost when Redis is down at commit or a worker is killed mid-job."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue
from sqlalchemy import select

from core import events
from core.db import session
from core.event_models import EventReceipt, Notification, OutboxEvent
from core.events import emit
from core.jobs import QueueUnavailable, run_worker
from core.mixins import utcnow
from tests.events.conftest import make_app, wait_for

pytestmark = pytest.mark.redis


@contextmanager
def keep_signal_handlers():
    """RQ installs its own SIGINT/SIGTERM handlers; give pytest its own back."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


def work_burst(app) -> bool:
    """Run the kernel's worker in this process until the queue is empty."""
    with keep_signal_handlers():
        return run_worker(app, burst=True, simple=True, logging_level="WARNING")


def queued(app) -> int:
    conn = Redis.from_url(app.config["PERGOLA"].redis_url)
    return Queue(events.event_settings(app).queue_name, connection=conn).count


def test_commit_queues_the_event_and_a_worker_applies_it(redis_world):
    world = redis_world
    t = world.tenant()

    event_id = world.run(t, lambda: emit("probe.created", {"note": "queued"}))

    row = world.event(event_id)
    assert (row.state, row.dispatch_count) == ("queued", 1)
    assert queued(world.app) == 1
    assert world.effects(t) == []  # nothing runs in the web process in Redis mode

    assert work_burst(world.app)

    assert [e.note for e in world.effects(t)] == ["queued"]
    assert world.event(event_id).state == "done"
    assert queued(world.app) == 0


def test_rollback_queues_nothing(redis_world):
    world = redis_world
    t = world.tenant()
    with world.app.app_context():
        from core.tenancy import tenant_context

        with tenant_context(t.id):
            emit("probe.created", {"note": "no"})
            session.flush()
            session.rollback()

    assert queued(world.app) == 0
    assert world.count(OutboxEvent, OutboxEvent.tenant_id == t.id) == 0


def test_redis_down_at_commit_is_delivered_once_redis_is_back_and_the_relay_runs(
    app, db_url, own_redis, queue_name, tmp_path
):
    from tests.events.conftest import World

    application = make_app(
        db_url, tmp_path / "instance", redis_url=own_redis.url, queue_name=queue_name
    )
    world = World(application)
    try:
        t = world.tenant()
        own_redis.stop()

        event_id = world.run(t, lambda: emit("probe.created", {"note": "survived"}))

        row = world.event(event_id)
        assert row.state == "pending"  # committed, not handed over: Redis is down
        assert (row.dispatch_count, row.dispatched_at) == (0, None)
        assert row.next_attempt_at <= utcnow()  # and due for the relay at once
        with application.app_context(), pytest.raises(QueueUnavailable):
            events.relay()
        assert world.event(event_id).state == "pending"  # a failed relay loses nothing

        own_redis.start()
        with application.app_context():
            result = events.relay()
        assert result.events >= 1
        assert world.event(event_id).state == "queued"
        assert work_burst(application)

        assert [e.note for e in world.effects(t)] == ["survived"]
        assert world.event(event_id).state == "done"
    finally:
        world.cleanup()
        from core.db import get_db

        get_db(application).dispose()


def test_a_process_dying_between_commit_and_enqueue_loses_nothing(redis_world):
    """The row commits already marked queued (no second transaction): the lease's end makes
    it due, as for a worker that died."""
    world = redis_world
    t = world.tenant()

    def crash_after_commit():
        event_id = emit("probe.created", {"note": "late"})
        session.info.pop("pergola_outbox")  # as if the process died right after COMMIT
        return event_id

    event_id = world.run(t, crash_after_commit)
    assert queued(world.app) == 0
    assert world.event(event_id).state == "queued"
    with world.app.app_context():
        assert events.relay().events == 0
        assert events.relay(now=utcnow() + dt.timedelta(minutes=16)).events == 1
    assert work_burst(world.app)

    assert [e.note for e in world.effects(t)] == ["late"]
    row = world.event(event_id)
    assert (row.state, row.dispatch_count) == ("done", 2)


def test_worker_killed_mid_job_is_redelivered_and_applied_once(redis_world, start_worker, tmp_path):
    world = redis_world
    t = world.tenant()
    started, release = tmp_path / "started", tmp_path / "release"

    event_id = world.run(
        t,
        lambda: emit(
            "probe.created", {"note": "once", "started": str(started), "release": str(release)}
        ),
    )

    worker = start_worker()  # a forking RQ worker: the job runs in its work horse
    wait_for(lambda: started.exists() and started.read_text(), 60, "the handler to start")
    worker.kill_hard(int(started.read_text()))  # kill -9, in the middle of the handler

    assert world.effects(t) == []
    row = world.event(event_id)
    assert row.state == "queued"  # it is the lease's end that makes it due again
    with world.app.app_context():
        assert events.relay().events == 0
        assert events.relay(now=utcnow() + dt.timedelta(minutes=16)).events == 1

    output = start_worker("--burst").wait(60)

    assert [e.note for e in world.effects(t)] == ["once"], output
    row = world.event(event_id)
    assert (row.state, row.dispatch_count) == ("done", 2)
    assert world.count(EventReceipt, EventReceipt.event_id == event_id) == 1

    # A stray duplicate job for the same event changes nothing.
    from core.jobs import enqueue_many

    enqueue_many(world.app, "event", [str(event_id)])
    assert work_burst(world.app)
    assert len(world.effects(t)) == 1


def test_worker_with_scheduler_fires_scheduled_jobs_and_relays(redis_world, start_worker):
    world = redis_world
    t = world.tenant()

    def crash_after_commit():
        event_id = emit("probe.created", {"note": "relayed"})
        session.info.pop("pergola_outbox")  # never dispatched: only the relay can send it
        return event_id

    event_id = world.run(t, crash_after_commit)
    from sqlalchemy import update

    world.system(
        lambda: session.execute(
            update(OutboxEvent).where(OutboxEvent.id == event_id).values(next_attempt_at=utcnow())
        )
    )

    worker = start_worker("--with-scheduler", scheduler_interval=1)
    try:
        wait_for(lambda: world.effects(t, "scheduled"), 60, "the scheduled job")
        wait_for(lambda: world.effects(t, "record"), 60, "the relayed event")
    finally:
        output = worker.stop()
    assert [e.note for e in world.effects(t, "record")] == ["relayed"], output
    assert len(world.effects(t, "scheduled")) == 1  # hourly: once, however often it ticks


def test_pergola_worker_command_sends_notification_mail(
    redis_world, db_url, tmp_path, make_user_committed
):
    world = redis_world
    t = world.tenant()
    user = make_user_committed(world, t)
    from core.notifications import notify

    world.run(t, lambda: notify([user.id], "Stock is low", "Reorder soon", link="/stock"))
    with world.app.app_context():
        assert queued(world.app) == 1

    instance = tmp_path / "cli-instance"
    env = dict(
        os.environ,
        PERGOLA_DATABASE_URL=db_url,
        PERGOLA_REDIS_URL=world.app.config["PERGOLA"].redis_url,
        PERGOLA_QUEUE_NAME=events.event_settings(world.app).queue_name,
        PERGOLA_INSTANCE_PATH=str(instance),
        PERGOLA_SECRET_KEY="test-secret-of-at-least-32-bytes-long",
    )
    env.pop("PERGOLA_SMTP_HOST", None)
    pergola = Path(sys.executable).parent / "pergola"
    done = subprocess.run(
        [str(pergola), "worker", "--burst"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr

    mails = list((instance / "mail").glob("*.eml"))
    assert len(mails) == 1
    text = mails[0].read_text()
    assert f"To: {user.email}" in text and "Subject: Stock is low" in text
    assert "Reorder soon" in text and "/stock" in text
    state = world.run(t, lambda: session.scalar(select(Notification.email_state)))
    assert state == "sent"
