"""Old Idempotency-Key answers are forgotten, for every tenant: by the kernel's scheduled
job (retention `idempotency_retention_hours`, 24 h) and by `pergola api
purge-idempotency-keys`."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from flask import Flask
from sqlalchemy import delete, select

from core.api.models import IdempotencyKey
from core.event_models import ScheduledRun
from core.mixins import utcnow
from core.scheduler import idempotency_retention, scheduled_jobs, tick
from core.tenancy import system_context, tenant_context

JOB = "core.purge_idempotency_keys"


def remember(session, tenant, key: str, age: dt.timedelta) -> None:
    """A stored answer of `tenant` for `key`, made `age` ago."""
    with tenant_context(tenant.id):
        session.add(
            IdempotencyKey(
                principal=f"user:{uuid.uuid4()}",
                key=key,
                request_hash="0" * 64,
                status=201,
                body="{}",
                created_at=utcnow() - age,
            )
        )
        session.flush()


def keys_left(session) -> set[str]:
    """The keys still stored, across tenants (ours are unique per test)."""
    with system_context():
        return set(session.scalars(select(IdempotencyKey.key)))


@pytest.fixture()
def keys(session, make_tenant):
    """Two tenants (one suspended), each with a 30-hour-old and a 2-hour-old key."""
    tag = uuid.uuid4().hex[:8]
    a, b = make_tenant(), make_tenant()
    b.status = "suspended"
    for t in (a, b):
        remember(session, t, f"{tag}-{t.slug}-old", dt.timedelta(hours=30))
        remember(session, t, f"{tag}-{t.slug}-new", dt.timedelta(hours=2))
    session.commit()
    return {
        "old": {f"{tag}-{t.slug}-old" for t in (a, b)},
        "new": {f"{tag}-{t.slug}-new" for t in (a, b)},
    }


def test_the_kernel_job_forgets_keys_past_retention_in_every_tenant(app, session, keys):
    assert JOB in scheduled_jobs()
    assert scheduled_jobs()[JOB][1].per_tenant is False  # one run across all tenants
    with system_context():
        session.execute(delete(ScheduledRun).where(ScheduledRun.job == JOB))
    session.commit()

    fired = tick(app, relay=False).fired

    assert f"{JOB}@*" in fired
    left = keys_left(session)
    assert not keys["old"] & left
    assert keys["new"] <= left
    with system_context():
        assert session.get(ScheduledRun, f"{JOB}@*").last_status == "ok"


def test_the_command_forgets_old_keys_and_takes_another_age(runner, session, keys):
    result = runner.invoke(["api", "purge-idempotency-keys"])

    assert result.exit_code == 0, result.output
    assert "purged" in result.output and "1 day, 0:00:00" in result.output
    left = keys_left(session)
    assert not keys["old"] & left and keys["new"] <= left

    result = runner.invoke(["api", "purge-idempotency-keys", "--older-than", "1"])

    assert result.exit_code == 0, result.output
    assert not keys["new"] & keys_left(session)


def test_the_command_refuses_a_negative_age(runner):
    result = runner.invoke(["api", "purge-idempotency-keys", "--older-than", "-1"])

    assert result.exit_code == 2
    assert "--older-than" in result.output


def test_retention_is_configurable(app: Flask, monkeypatch):
    assert idempotency_retention(app) == dt.timedelta(hours=24)
    monkeypatch.setitem(app.config["PERGOLA"].extra, "idempotency_retention_hours", "1.5")
    assert idempotency_retention(app) == dt.timedelta(minutes=90)
    monkeypatch.setitem(app.config["PERGOLA"].extra, "idempotency_retention_hours", "-3")
    with pytest.raises(ValueError, match="idempotency_retention_hours"):
        idempotency_retention(app)


def test_a_shorter_configured_retention_is_what_the_job_uses(app, session, keys, monkeypatch):
    monkeypatch.setitem(app.config["PERGOLA"].extra, "idempotency_retention_hours", 1)
    with system_context():
        session.execute(delete(ScheduledRun).where(ScheduledRun.job == JOB))
    session.commit()

    tick(app, relay=False)

    assert not (keys["old"] | keys["new"]) & keys_left(session)
