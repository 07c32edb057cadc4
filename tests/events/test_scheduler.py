"""Scheduled jobs: declared by addons, fired once per period per tenant that enables the
addon, never twice however many schedulers tick, failures recorded."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select

from core.db import session
from core.event_models import ScheduledRun
from core.mixins import utcnow
from core.registry import current_registry
from core.scheduler import ScheduledJob, start_embedded_scheduler, tick
from tests.events.conftest import wait_for


def run_row(world, key):
    return world.system(lambda: session.get(ScheduledRun, key))


def test_a_scheduled_job_fires_once_per_period_for_tenants_that_enable_its_addon(world):
    on, off = world.tenant(), world.tenant()
    world.system(lambda: current_registry().disable(off.id, ["events_probe"]))
    now = utcnow()

    first = tick(world.app, now=now, relay=False)

    key = f"events_probe.tick@{on.id}"
    assert key in first.fired
    assert not [k for k in first.fired if str(off.id) in k]
    assert len(world.effects(on, "scheduled")) == 1
    assert world.effects(off) == []
    row = run_row(world, key)
    assert (row.last_run_at, row.next_run_at, row.last_status) == (
        now,
        now + dt.timedelta(hours=1),
        "ok",
    )

    assert key not in tick(world.app, now=now + dt.timedelta(minutes=59), relay=False).fired
    assert len(world.effects(on, "scheduled")) == 1

    assert key in tick(world.app, now=now + dt.timedelta(hours=1), relay=False).fired
    assert len(world.effects(on, "scheduled")) == 2


def test_several_schedulers_ticking_at_once_fire_each_run_once(world):
    t = world.tenant()
    now = utcnow()
    tick(world.app, now=now - dt.timedelta(hours=2), relay=False)  # creates the run rows
    assert len(world.effects(t, "scheduled")) == 1
    start = threading.Barrier(4)
    fired: list[list[str]] = []
    errors: list[BaseException] = []

    def scheduler() -> None:
        try:
            start.wait(10)
            fired.append(tick(world.app, now=now, relay=False).fired)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=scheduler) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)

    assert errors == []
    key = f"events_probe.tick@{t.id}"
    assert sum(k == key for run in fired for k in run) == 1
    assert len(world.effects(t, "scheduled")) == 2


def test_a_failing_job_is_recorded_and_tried_again_next_period(world, monkeypatch):
    world.tenant()
    six = utcnow().replace(hour=6, minute=0, second=0, microsecond=0)
    tick(world.app, now=six - dt.timedelta(hours=1), relay=False)  # first sight: due at 06:00
    key = "events_probe.fragile@*"
    world.system(
        lambda: session.execute(
            ScheduledRun.__table__.update().where(ScheduledRun.key == key).values(next_run_at=six)
        )
    )
    monkeypatch.setenv("PROBE_FRAGILE_FAILS", "1")

    assert key in tick(world.app, now=six, relay=False).fired

    row = run_row(world, key)
    assert (row.last_status, row.last_error) == ("failed", "RuntimeError: the fragile job broke")
    assert row.next_run_at == six + dt.timedelta(days=1)

    monkeypatch.delenv("PROBE_FRAGILE_FAILS")
    assert key in tick(world.app, now=six + dt.timedelta(days=1), relay=False).fired
    assert run_row(world, key).last_status == "ok"
    world.system(
        lambda: session.execute(ScheduledRun.__table__.delete().where(ScheduledRun.key == key))
    )


def test_the_embedded_scheduler_runs_due_jobs_in_a_background_thread(world):
    t = world.tenant()
    scheduler = start_embedded_scheduler(world.app, interval=0.2)
    try:
        assert start_embedded_scheduler(world.app) is scheduler  # one per app
        wait_for(lambda: world.effects(t, "scheduled"), 30, "the embedded scheduler")
    finally:
        scheduler.stop()
    assert not scheduler.thread.is_alive()


def test_daily_and_interval_schedules():
    at = ScheduledJob("daily", lambda: None, at="07:30")
    morning = dt.datetime(2026, 3, 1, 6, 0, tzinfo=dt.UTC)
    assert at.first_run(morning) == dt.datetime(2026, 3, 1, 7, 30, tzinfo=dt.UTC)
    assert at.next_run(dt.datetime(2026, 3, 1, 7, 30, tzinfo=dt.UTC)) == dt.datetime(
        2026, 3, 2, 7, 30, tzinfo=dt.UTC
    )
    evening = dt.datetime(2026, 3, 1, 20, 0, tzinfo=dt.UTC)
    assert at.first_run(evening) == dt.datetime(2026, 3, 2, 7, 30, tzinfo=dt.UTC)
    every = ScheduledJob("often", lambda: None, every=dt.timedelta(minutes=5))
    assert every.first_run(morning) == morning
    assert every.next_run(morning) == morning + dt.timedelta(minutes=5)
    with pytest.raises(ValueError, match="exactly one"):
        ScheduledJob("both", lambda: None, every=dt.timedelta(hours=1), at="01:00")
    with pytest.raises(ValueError, match="HH:MM"):
        ScheduledJob("bad", lambda: None, at="25:00")


def test_runs_of_a_disabled_addon_stop(world):
    t = world.tenant()
    now = utcnow()
    tick(world.app, now=now, relay=False)
    world.system(lambda: current_registry().disable(t.id, ["events_probe"]))

    later = tick(world.app, now=now + dt.timedelta(hours=2), relay=False)

    assert f"events_probe.tick@{t.id}" not in later.fired
    assert len(world.effects(t, "scheduled")) == 1
    keys = world.system(
        lambda: set(session.scalars(select(ScheduledRun.key).where(ScheduledRun.tenant_id == t.id)))
    )
    assert keys == {f"events_probe.tick@{t.id}"}  # kept: it resumes if enabled again
