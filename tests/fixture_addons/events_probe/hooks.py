"""The probe's handlers; the event payload tells each how to behave.

- `record` (probe.*): writes a ProbeEffect. With `started`/`release` file paths, the first
  attempt writes its process id to `started`, then waits for `release` (the test kills the
  worker and this process there).
- `flaky` (probe.flaky): counts its attempts in the `counter` file and raises until it has
  failed `fail_times` times.
- `tick` (scheduled, hourly, per tenant): writes a ProbeEffect with source 'scheduled'.
- `fragile` (scheduled, daily at 06:00, once): raises while PROBE_FRAGILE_FAILS is set.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path
from typing import Any

from core.db import session
from core.events import Event, EventHandler
from core.hookspecs import hookimpl
from core.scheduler import ScheduledJob
from tests.fixture_addons.events_probe.models import ProbeEffect


def _record(event: Event) -> None:
    started, release = event.payload.get("started"), event.payload.get("release")
    if started and not Path(started).exists():
        Path(started).write_text(str(os.getpid()))
        deadline = time.monotonic() + 60
        while not Path(release).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    session.add(
        ProbeEffect(event_id=event.id, source="record", note=str(event.payload.get("note", "")))
    )
    session.flush()


def _flaky(event: Event) -> None:
    counter = Path(event.payload["counter"])
    count = int(counter.read_text() or 0) + 1 if counter.exists() else 1
    counter.write_text(str(count))
    if count <= int(event.payload.get("fail_times", 0)):
        raise RuntimeError(f"flaky failure number {count}")
    session.add(ProbeEffect(event_id=event.id, source="flaky", note=f"attempt {event.attempt}"))


def _tick() -> None:
    session.add(ProbeEffect(source="scheduled", note="tick"))


@hookimpl
def register_event_handlers() -> list[Any]:
    """The probe's handlers."""
    return [
        EventHandler("record", "probe.*", _record),
        EventHandler("flaky", ["probe.flaky"], _flaky),
    ]


def _fragile() -> None:
    if os.environ.get("PROBE_FRAGILE_FAILS"):
        raise RuntimeError("the fragile job broke")


@hookimpl
def register_scheduled_jobs() -> list[Any]:
    """The probe's jobs."""
    return [
        ScheduledJob("tick", _tick, every=dt.timedelta(hours=1)),
        ScheduledJob("fragile", _fragile, at="06:00", per_tenant=False),
    ]
