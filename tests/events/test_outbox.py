"""The outbox in embedded mode: events exist exactly when their transaction commits, each
enabled addon's handler applies an event once, failures retry with backoff and then wait
in the failed list."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from core import events
from core.db import session
from core.event_models import EventFailure, EventReceipt, OutboxEvent
from core.events import emit
from core.mixins import utcnow
from core.registry import current_registry
from core.tenancy import TenantContextError, system_context, tenant_context


def test_rollback_emits_nothing(world):
    t = world.tenant()
    with world.app.app_context(), tenant_context(t.id):
        event_id = emit("probe.created", {"note": "never"})
        session.flush()
        session.rollback()
        session.commit()  # a later commit of the same session sends nothing either

    assert world.event(event_id) is None
    assert world.effects(t) == []


def test_savepoint_rollback_drops_only_its_own_events(world):
    t = world.tenant()

    def work():
        kept = emit("probe.created", {"note": "kept"})
        with pytest.raises(RuntimeError), session.begin_nested():
            emit("probe.created", {"note": "dropped"})
            raise RuntimeError("undo this part")
        return kept

    kept = world.run(t, work)

    assert [e.note for e in world.effects(t)] == ["kept"]
    assert world.event(kept).state == "done"


def test_committed_event_is_handled_at_once_and_only_once(world):
    t = world.tenant()

    event_id = world.run(t, lambda: emit("probe.created", {"note": "hello"}))

    effects = world.effects(t, "record")
    assert [(e.event_id, e.note) for e in effects] == [(event_id, "hello")]
    row = world.event(event_id)
    assert (row.state, row.tenant_id, row.payload) == ("done", t.id, {"note": "hello"})
    assert row.processed_at is not None
    # Delivered again (a relay after a crash, a duplicate job): nothing is applied twice.
    with world.app.app_context():
        assert events.process_event(event_id) == "done"
    world.system(
        lambda: session.execute(
            update(OutboxEvent).where(OutboxEvent.id == event_id).values(state="queued")
        )
    )
    with world.app.app_context():
        assert events.process_event(event_id) == "done"
    assert len(world.effects(t, "record")) == 1
    assert world.count(EventReceipt, EventReceipt.event_id == event_id) == 1


def test_disabled_addons_handlers_are_not_called(world):
    on, off = world.tenant(), world.tenant()

    def disable():
        current_registry().disable(off.id, ["events_probe"])

    world.system(disable)

    on_event = world.run(on, lambda: emit("probe.created", {"note": "on"}))
    off_event = world.run(off, lambda: emit("probe.created", {"note": "off"}))

    assert [e.note for e in world.effects(on)] == ["on"]
    assert world.effects(off) == []
    assert world.event(off_event).state == "done"  # nobody wanted it: done, nothing applied
    assert world.count(EventReceipt, EventReceipt.event_id == off_event) == 0
    assert world.count(EventReceipt, EventReceipt.event_id == on_event) == 1

    # Enabled again: its handler hears the tenant's new events (not the ones it missed).
    world.system(lambda: current_registry().enable(off.id, ["events_probe"]))
    world.run(off, lambda: emit("probe.created", {"note": "back"}))
    assert [e.note for e in world.effects(off)] == ["back"]


def test_handlers_run_in_the_events_tenant(world):
    a, b = world.tenant(), world.tenant()
    world.run(a, lambda: emit("probe.created", {"note": "a"}))
    world.run(b, lambda: emit("probe.created", {"note": "b"}))

    assert [e.note for e in world.effects(a)] == ["a"]
    assert [e.note for e in world.effects(b)] == ["b"]


def test_failing_handler_backs_off_exponentially_then_lands_in_the_failed_list(world, tmp_path):
    t = world.tenant()
    counter = tmp_path / "count"
    event_id = world.run(
        t, lambda: emit("probe.flaky", {"counter": str(counter), "fail_times": 10})
    )
    handler = "events_probe.flaky"

    def failure():
        return world.system(
            lambda: session.scalar(
                select(EventFailure).where(
                    EventFailure.event_id == event_id, EventFailure.handler == handler
                )
            )
        )

    first = failure()
    assert (first.status, first.attempts) == ("retrying", 1)
    assert "flaky failure number 1" in first.last_error
    waits = [first.next_attempt_at - first.last_failed_at]
    row = world.event(event_id)
    assert row.state == "retrying" and row.next_attempt_at == first.next_attempt_at
    # The other handler of the same event applied once and is not run again on retries.
    assert len(world.effects(t, "record")) == 1

    with world.app.app_context():
        assert events.relay().events == 0  # the retry is not due yet

    world.fast_forward(
        EventFailure, first.id, also=update(OutboxEvent).where(OutboxEvent.id == event_id)
    )
    with world.app.app_context():
        assert events.relay().events == 1
    second = failure()
    assert second.attempts == 2
    waits.append(second.next_attempt_at - second.last_failed_at)
    # Base 10 s, doubling, with up to 10 % jitter.
    assert dt.timedelta(seconds=10) <= waits[0] <= dt.timedelta(seconds=11)
    assert dt.timedelta(seconds=20) <= waits[1] <= dt.timedelta(seconds=22)

    world.fast_forward(
        EventFailure, second.id, also=update(OutboxEvent).where(OutboxEvent.id == event_id)
    )
    with world.app.app_context():
        events.relay()
    last = failure()
    assert (last.status, last.attempts, last.next_attempt_at) == ("failed", 3, None)
    assert world.event(event_id).state == "failed"
    assert counter.read_text() == "3"
    assert len(world.effects(t, "record")) == 1
    assert world.effects(t, "flaky") == []

    with world.app.app_context(), system_context():
        listed = [i for i in events.failed() if i.event_id == event_id]
    assert [(i.kind, i.target, i.attempts, i.summary) for i in listed] == [
        ("handler", handler, 3, "RuntimeError: flaky failure number 3")
    ]
    with world.app.app_context(), tenant_context(t.id):
        assert [i.id for i in events.failed()] == [last.id]  # the tenant's own list

    # Fixed, then retried by hand: applied once, and gone from the list.
    counter.write_text("1000")
    with world.app.app_context(), system_context():
        assert events.retry(last.id) == "handler"
        session.commit()
    assert [e.note for e in world.effects(t, "flaky")] == ["attempt 1"]
    assert world.event(event_id).state == "done"
    assert failure() is None


def test_a_tenant_cannot_list_or_retry_another_tenants_failures(world, tmp_path):
    a, b = world.tenant(), world.tenant()
    world.run(a, lambda: emit("probe.flaky", {"counter": str(tmp_path / "c"), "fail_times": 9}))
    failure_id = world.system(
        lambda: session.scalar(
            select(EventFailure.id)
            .join(OutboxEvent, OutboxEvent.id == EventFailure.event_id)
            .where(OutboxEvent.tenant_id == a.id)
        )
    )

    from core.errors import NotFound

    with world.app.app_context(), tenant_context(b.id):
        assert events.failed() == []
        with pytest.raises(NotFound):
            events.retry(failure_id)


def test_relay_sends_events_whose_dispatch_never_happened(world):
    t = world.tenant()

    def crash_after_commit():
        event_id = emit("probe.created", {"note": "late"})
        session.info.pop("pergola_outbox")  # as if the process died right after COMMIT
        return event_id

    event_id = world.run(t, crash_after_commit)
    assert world.event(event_id).state == "pending"
    assert world.effects(t) == []

    with world.app.app_context():
        assert events.relay().events == 0  # too young: the dispatcher may still be at it
        later = utcnow() + dt.timedelta(seconds=31)
        assert events.count_due(now=later) >= 1
        result = events.relay(now=later)

    assert result.events >= 1
    assert [e.note for e in world.effects(t)] == ["late"]
    row = world.event(event_id)
    assert (row.state, row.dispatch_count) == ("done", 1)


def test_emit_needs_a_tenant_a_dotted_type_and_json(world):
    t = world.tenant()
    with world.app.app_context():
        with pytest.raises(TenantContextError):
            emit("probe.created", {})
        with tenant_context(t.id):
            with pytest.raises(ValueError, match="invalid event type 'Created'"):
                emit("Created", {})
            with pytest.raises(TypeError, match="cannot encode object"):
                emit("probe.created", {"x": object()})
            with pytest.raises(TenantContextError):
                emit("probe.created", {}, tenant_id=uuid.uuid4())
            session.rollback()

    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    ident = uuid.uuid4()
    event_id = world.run(
        t,
        lambda: emit(
            "probe.created", {"amount": Decimal("12.30"), "id": ident, "at": when, "tags": ("a",)}
        ),
    )
    assert world.event(event_id).payload == {
        "amount": "12.30",
        "id": str(ident),
        "at": "2026-01-02T03:04:05+00:00",
        "tags": ["a"],
    }


def test_system_context_may_emit_for_a_named_tenant(world):
    t = world.tenant()

    event_id = world.system(lambda: emit("probe.created", {"note": "sys"}, tenant_id=t.id))

    assert world.event(event_id).tenant_id == t.id
    assert [e.note for e in world.effects(t)] == ["sys"]


def test_backoff_doubles_and_is_capped():
    settings = events.EventSettings(event_retry_base=10, event_retry_cap=60)
    seconds = [settings.backoff(n).total_seconds() for n in range(1, 6)]
    for got, want in zip(seconds, [10, 20, 40, 60, 60], strict=True):
        assert want <= got <= want * 1.1


def test_handler_names_and_patterns_are_checked():
    with pytest.raises(ValueError, match="invalid pattern"):
        events.EventHandler("ok", "Bad Pattern!", lambda e: None)
    with pytest.raises(ValueError, match="handler name"):
        events.EventHandler("Not OK", "x.*", lambda e: None)
    h = events.EventHandler("ok", ["contacts.*", "sales.order.confirmed"], lambda e: None)
    assert h.matches("contacts.account.created")
    assert h.matches("sales.order.confirmed")
    assert not h.matches("sales.order.cancelled")
    assert not h.matches("contactsx.account")
