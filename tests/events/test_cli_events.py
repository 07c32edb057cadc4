"""`pergola events ...`, `pergola worker` and `pergola run`: what an operator types."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from cli.main import cli
from core.db import session
from core.event_models import OutboxEvent
from core.events import emit
from core.mixins import utcnow


def invoke(app, *args: str):
    with app.app_context():
        return app.test_cli_runner().invoke(cli, list(args))


def failing_event(world, tenant, tmp_path, fail_times=10):
    counter = tmp_path / f"count-{tenant.slug}"
    event_id = world.run(
        tenant, lambda: emit("probe.flaky", {"counter": str(counter), "fail_times": fail_times})
    )
    for _ in range(2):  # attempts 2 and 3 of 3, due at once
        world.system(
            lambda: session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id == event_id)
                .values(next_attempt_at=utcnow() - dt.timedelta(seconds=1))
            )
        )
        from core.event_models import EventFailure

        world.system(
            lambda: session.execute(
                update(EventFailure)
                .where(EventFailure.event_id == event_id)
                .values(next_attempt_at=utcnow() - dt.timedelta(seconds=1))
            )
        )
        assert invoke(world.app, "events", "relay").exit_code == 0
    return event_id, counter


def test_failed_lists_what_gave_up_and_retry_applies_it(world, tmp_path):
    t = world.tenant()
    event_id, counter = failing_event(world, t, tmp_path)

    result = invoke(world.app, "events", "failed")

    assert result.exit_code == 0, result.output
    [line] = [
        ln
        for ln in result.output.splitlines()
        if "events_probe.flaky" in ln and f" {t.slug} " in ln
    ]
    assert "attempts=3" in line and "RuntimeError: flaky failure number 3" in line
    failure_id = line.split()[0]
    only_t = invoke(world.app, "events", "failed", "--tenant", t.slug).output
    assert failure_id in only_t

    counter.write_text("1000")
    result = invoke(world.app, "events", "retry", failure_id)

    assert result.exit_code == 0, result.output
    assert "retried 1 item(s)" in result.output
    assert [e.source for e in world.effects(t, "flaky")] == ["flaky"]
    assert failure_id not in invoke(world.app, "events", "failed", "--tenant", t.slug).output
    shown = invoke(world.app, "events", "show", str(event_id)).output
    assert "state done" in shown and "applied  events_probe.flaky" in shown


def test_retry_all_retries_every_failed_item(world, tmp_path):
    a, b = world.tenant(), world.tenant()
    _, counter_a = failing_event(world, a, tmp_path)
    _, counter_b = failing_event(world, b, tmp_path)
    counter_a.write_text("1000")
    counter_b.write_text("1000")

    result = invoke(world.app, "events", "retry", "--all")

    assert result.exit_code == 0, result.output
    assert len(world.effects(a, "flaky")) == 1 and len(world.effects(b, "flaky")) == 1
    assert "nothing failed" in invoke(world.app, "events", "failed", "--tenant", a.slug).output


def test_retry_needs_ids_or_all_and_names_unknown_ids(world):
    result = invoke(world.app, "events", "retry")
    assert result.exit_code == 2 and "give the ID(s) to retry, or --all" in result.output

    result = invoke(world.app, "events", "retry", "3f1c0e4e-0000-4000-8000-000000000000")
    assert result.exit_code == 1
    assert result.output.strip().startswith("Error: no failed handler or delivery")
    assert len(result.output.strip().splitlines()) == 1


def test_relay_sends_what_was_left_behind(world):
    t = world.tenant()

    def crash_after_commit():
        event_id = emit("probe.created", {"note": "left behind"})
        session.info.pop("pergola_outbox")
        return event_id

    event_id = world.run(t, crash_after_commit)
    world.system(
        lambda: session.execute(
            update(OutboxEvent).where(OutboxEvent.id == event_id).values(next_attempt_at=utcnow())
        )
    )

    result = invoke(world.app, "events", "relay")

    assert result.exit_code == 0, result.output
    assert "relayed 1 event(s)" in result.output
    assert [e.note for e in world.effects(t)] == ["left behind"]


def test_worker_without_redis_says_what_to_set(world):
    result = invoke(world.app, "worker", "--burst")

    assert result.exit_code == 1
    assert "PERGOLA_REDIS_URL" in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.redis
def test_relay_with_redis_down_fails_in_one_line_and_loses_nothing(
    app, db_url, own_redis, queue_name, tmp_path
):
    from tests.events.conftest import World, make_app

    application = make_app(db_url, tmp_path / "i", redis_url=own_redis.url, queue_name=queue_name)
    world = World(application)
    try:
        t = world.tenant()
        own_redis.stop()
        event_id = world.run(t, lambda: emit("probe.created", {}))

        result = invoke(application, "events", "relay")

        assert result.exit_code == 1
        assert "Redis is unreachable" in result.output and "nothing was lost" in result.output
        assert world.event(event_id).state == "pending"
    finally:
        world.cleanup()


def test_run_starts_the_embedded_scheduler_unless_told_not_to(world):
    result = invoke(world.app, "run", "--help")

    assert result.exit_code == 0
    assert "--scheduler / --no-scheduler" in result.output
    assert "--host" in result.output  # Flask's own options are all still there
