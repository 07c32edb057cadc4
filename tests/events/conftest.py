"""Fixtures of the events tests: an app with the probe addon, real commits, Redis, a worker.

Redis tests are marked `redis` and use PERGOLA_TEST_REDIS_URL; without it they skip, except
under CI=true where they fail (CI must not skip them silently). Each test gets a queue of
its own, so runs that share a Redis do not see each other's jobs.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from core import create_app
from core.config import PROJECT_ROOT
from core.db import get_db
from core.tenancy import ensure_rls, system_context, tenant_context
from tests.fixtures import Committed

WORKER_MAIN = "tests.events.worker_main"


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll `condition` until it returns something truthy, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def base_config(db_url: str, instance: Path, **extra: Any) -> dict[str, Any]:
    """Settings of an app with only the probe addon (the kernel's handlers are always on)."""
    from tests.fixture_addons.events_probe.manifest import manifest

    return {
        "database_url": db_url,
        "testing": True,
        "instance_path": str(instance),
        "secret_key": "test-secret-of-at-least-32-bytes-long",
        "csrf": False,
        "only_addons": [manifest],
        "redis_url": None,
        "event_max_attempts": 3,
        "webhook_max_failures": 4,
        "webhook_allow_private_networks": True,
        **extra,
    }


def make_app(db_url: str, instance: Path, **extra: Any) -> Flask:
    """Build an events test app and make sure the probe's table exists."""
    application = create_app(base_config(db_url, instance, **extra))
    from tests.fixture_addons.events_probe.models import ProbeEffect

    with get_db(application).engine.begin() as conn:
        ProbeEffect.__table__.create(conn, checkfirst=True)
        ensure_rls(conn)
    return application


@pytest.fixture(scope="session")
def events_app(
    app: Flask, db_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    """Embedded mode (no Redis): events run in-process right after each commit."""
    application = make_app(db_url, tmp_path_factory.mktemp("events-instance"))
    yield application
    get_db(application).dispose()


class World(Committed):
    """Real commits in one app: tenants cleaned up afterwards, helpers to read results."""

    def run(self, tenant: Any, fn: Callable[[], Any]) -> Any:
        """Run `fn()` in `tenant`'s context in a fresh app context, then commit."""
        from core.db import session

        with self.app.app_context(), tenant_context(tenant.id):
            result = fn()
            session.commit()
            return result

    def system(self, fn: Callable[[], Any]) -> Any:
        """Run `fn()` in system context in a fresh app context, then commit."""
        from core.db import session

        with self.app.app_context(), system_context():
            result = fn()
            session.commit()
            return result

    def effects(self, tenant: Any, source: str | None = None) -> list[Any]:
        """The probe's effects in `tenant`."""
        from core.db import session
        from tests.fixture_addons.events_probe.models import ProbeEffect

        def read() -> list[Any]:
            stmt = select(ProbeEffect)
            if source:
                stmt = stmt.where(ProbeEffect.source == source)
            return list(session.scalars(stmt))

        return self.run(tenant, read)

    def event(self, event_id: uuid.UUID) -> Any:
        """The outbox row `event_id` (any tenant)."""
        from core.db import session
        from core.event_models import OutboxEvent

        return self.system(lambda: session.get(OutboxEvent, event_id))

    def count(self, model: Any, *where: Any) -> int:
        """Rows of `model` matching `where`, across tenants."""
        from core.db import session

        return self.system(
            lambda: session.scalar(select(func.count()).select_from(model).where(*where))
        )

    def fast_forward(self, model: Any, ident: uuid.UUID, also: Any = None) -> None:
        """Make a waiting retry due now, as if its backoff had elapsed."""
        from core.db import session
        from core.mixins import utcnow

        past = utcnow() - dt.timedelta(seconds=1)

        def go() -> None:
            session.execute(update(model).where(model.id == ident).values(next_attempt_at=past))
            if also is not None:
                session.execute(also.values(next_attempt_at=past))

        self.system(go)


@pytest.fixture()
def world(events_app: Flask) -> Iterator[World]:
    """Real commits in the embedded events app."""
    helper = World(events_app)
    try:
        yield helper
    finally:
        helper.cleanup()


# --- Redis ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis; skipped without one, except under CI where that is an error."""
    url = os.environ.get("PERGOLA_TEST_REDIS_URL")
    if not url:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("PERGOLA_TEST_REDIS_URL is not set: CI must run the Redis tests")
        pytest.skip("needs Redis (set PERGOLA_TEST_REDIS_URL, as `make test` does)")
    return url


@pytest.fixture()
def queue_name() -> Iterator[str]:
    """A queue of this test's own."""
    yield f"pergola-test-{uuid.uuid4().hex[:12]}"


def _drop_queue(url: str, name: str) -> None:
    from redis import Redis
    from rq import Queue

    try:
        conn = Redis.from_url(url, socket_connect_timeout=2)
        Queue(name, connection=conn).delete(delete_jobs=True)
        for key in conn.scan_iter(f"rq:*{name}*"):
            conn.delete(key)
    except Exception:  # noqa: BLE001 - a Redis the test stopped has nothing left to clean
        pass


@pytest.fixture()
def redis_app(
    app: Flask, db_url: str, redis_url: str, queue_name: str, tmp_path: Path
) -> Iterator[Flask]:
    """Redis mode on the test Redis, with a queue of its own."""
    application = make_app(
        db_url, tmp_path / "instance", redis_url=redis_url, queue_name=queue_name
    )
    yield application
    get_db(application).dispose()
    _drop_queue(redis_url, queue_name)


@pytest.fixture()
def redis_world(redis_app: Flask) -> Iterator[World]:
    """Real commits in the Redis-mode app."""
    helper = World(redis_app)
    try:
        yield helper
    finally:
        helper.cleanup()


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A throwaway redis-server on loopback that a test may stop and start again."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it and wait until it answers."""
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self.answers, 15, "redis-server to start")

    def stop(self) -> None:
        """Stop it and wait until the port is closed."""
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(15)
            self.proc = None
        wait_for(lambda: not self.answers(), 15, "redis-server to stop")

    def answers(self) -> bool:
        """True when the server accepts connections and answers PING."""
        from redis import Redis

        try:
            return bool(Redis.from_url(self.url, socket_connect_timeout=0.5).ping())
        except Exception:  # noqa: BLE001 - any failure means "not up"
            return False


@pytest.fixture()
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own (loopback only), stopped at the end."""
    if subprocess.run(["which", "redis-server"], capture_output=True).returncode != 0:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("redis-server is not installed")
        pytest.skip("needs redis-server")
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        if server.proc is not None:
            server.proc.kill()
            server.proc.wait(15)


# --- real worker processes -------------------------------------------------------------


class WorkerProcess:
    """`python -m tests.events.worker_main`: the kernel's worker with the probe addon."""

    def __init__(self, config: dict[str, Any], log: Path, *args: str) -> None:
        env = dict(os.environ)
        env["PERGOLA_TEST_WORKER_CONFIG"] = json.dumps(config)
        self.log = log
        with log.open("wb") as out:
            # A session of its own, so that killing its group also kills RQ's work horse.
            self.proc = subprocess.Popen(
                [sys.executable, "-m", WORKER_MAIN, *args],
                cwd=str(PROJECT_ROOT),
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill_hard(self, horse_pid: int) -> None:
        """kill -9 the worker, then its work horse (RQ puts it in a session of its own)."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(15)
        os.kill(horse_pid, signal.SIGKILL)
        wait_for(lambda: not _alive(horse_pid), 15, "the work horse to die")

    def stop(self) -> str:
        """Ask the worker to stop (SIGTERM, then SIGKILL); returns its output."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(15)
            except ProcessLookupError:
                pass
        return self.output()

    def wait(self, timeout: float = 60) -> str:
        """Wait for a burst worker to finish; returns its output."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(f"worker did not finish in {timeout}s:\n{self.output()}") from None
        return self.output()

    def output(self) -> str:
        """What the worker printed so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child of a dead parent is reaped by init; until then it is a zombie.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return False


@pytest.fixture()
def start_worker(
    db_url: str, redis_url: str, queue_name: str, tmp_path: Path
) -> Iterator[Callable[..., WorkerProcess]]:
    """Factory: `start_worker("--burst", **settings)` starts a real worker subprocess."""
    started: list[WorkerProcess] = []

    def start(*args: str, **extra: Any) -> WorkerProcess:
        config = base_config(
            db_url,
            tmp_path / "worker-instance",
            redis_url=redis_url,
            queue_name=queue_name,
            **extra,
        )
        config.pop("only_addons")
        worker = WorkerProcess(config, tmp_path / f"worker-{len(started)}.log", *args)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture()
def make_user_committed() -> Callable[..., Any]:
    """Factory: `make_user_committed(world, tenant, roles=())` commits a member of `tenant`."""

    def make(world: World, tenant: Any, roles: tuple[str, ...] = (), email: str | None = None):
        from core import services
        from core.db import session

        email = email or f"u{uuid.uuid4().hex[:12]}@example.com"
        with world.app.app_context(), system_context():
            user = services.create_user(
                email, tenant_slug=tenant.slug, password="correct horse battery", roles=roles
            )
            session.commit()
            return user

    return make
