"""The benchmark harness: workload registry, sizes, timing, throwaway databases and apps.

Every workload measures Pergola doing some work and, in the same run on the same database,
a baseline doing that work in hand-written SQL (sqlite3 / psycopg2, no ORM, no framework).
The ratio Pergola / baseline is what to read: the machines are noisy, the ratio less so.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import create_engine, make_url

SECRET = "bench-secret-key-of-at-least-32-bytes-long"


@dataclass
class Result:
    """One figure: Pergola's value beside the baseline's, and their ratio."""

    name: str
    db: str
    size: dict[str, Any]
    unit: str
    value: float | None
    baseline: float | None
    extra: dict[str, Any] = field(default_factory=dict)
    higher_is_better: bool = True

    @property
    def ratio(self) -> float | None:
        """Pergola / baseline, oriented so that below 1 means slower than the baseline."""
        if not self.value or not self.baseline:
            return None
        r = self.value / self.baseline
        return r if self.higher_is_better else 1 / r

    def to_json(self) -> str:
        """The JSON line the runner prints."""
        data = asdict(self)
        data.pop("higher_is_better")
        data["ratio"] = None if self.ratio is None else round(self.ratio, 4)
        for key in ("value", "baseline"):
            if isinstance(data[key], float):
                data[key] = round(data[key], 4)
        return json.dumps(data, default=str, sort_keys=False)


@dataclass
class Workload:
    """A registered workload: `fn(ctx)` returns its results."""

    name: str
    fn: Callable[[Context], list[Result]]
    sizes: dict[str, tuple[int, int]]  # key -> (full, quick)
    doc: str


WORKLOADS: dict[str, Workload] = {}


def workload(
    name: str, **sizes: tuple[int, int]
) -> Callable[[Callable[[Context], list[Result]]], Callable[[Context], list[Result]]]:
    """Register a workload under `name` with its (full, quick) sizes."""

    def deco(fn: Callable[[Context], list[Result]]) -> Callable[[Context], list[Result]]:
        WORKLOADS[name] = Workload(name, fn, dict(sizes), (fn.__doc__ or "").strip())
        return fn

    return deco


@dataclass
class Context:
    """What a workload gets: the database, an app on it, the sizes and a scratch folder."""

    db: str  # "sqlite" or "postgresql"
    url: str
    app: Flask
    quick: bool
    overrides: dict[str, int]
    tmp: Path
    workload: str = ""

    def size(self, key: str) -> int:
        """The size `key` of the running workload (override, else quick or full default)."""
        if key in self.overrides:
            return self.overrides[key]
        full, quick = WORKLOADS[self.workload].sizes[key]
        return quick if self.quick else full

    def sizes(self) -> dict[str, int]:
        """Every size of the running workload."""
        return {k: self.size(k) for k in WORKLOADS[self.workload].sizes}

    def result(
        self,
        name: str,
        unit: str,
        value: float | None,
        baseline: float | None,
        *,
        higher_is_better: bool = True,
        size: dict[str, Any] | None = None,
        **extra: Any,
    ) -> Result:
        """A result of the running workload on this database."""
        return Result(
            name,
            self.db,
            size if size is not None else self.sizes(),
            unit,
            value,
            baseline,
            extra,
            higher_is_better,
        )


def timed(fn: Callable[[], Any]) -> float:
    """Seconds one call of `fn` takes."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def percentile(samples: list[float], pct: float) -> float:
    """The `pct` percentile (nearest rank) of `samples`."""
    ordered = sorted(samples)
    k = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered)) - 1))
    return ordered[k]


@contextmanager
def fresh_database(kind: str, pg_url: str | None, tmp: Path) -> Iterator[str]:
    """A new empty database URL (a SQLite file, or a database on `pg_url`'s server), dropped
    afterwards: the bench never touches the test database."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'bench.db'}"
        return
    if not pg_url:
        raise SystemExit("PostgreSQL: set SQLALCHEMY_DATABASE_URL (scripts/services.sh env)")
    from core.config import normalise_database_url

    base = make_url(normalise_database_url(pg_url))
    name = f"pergola_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


API_RATE_LIMIT = "10000000 per minute"
REDIS_DB = 14  # the bench's own Redis database: its queued jobs never mix with the tests'


def bench_redis_url() -> str | None:
    """Redis for events and rate limits, as in production (PERGOLA_BENCH_REDIS_URL or
    REDIS_URL, on database 14); None runs events in-process, the embedded default."""
    url = os.environ.get("PERGOLA_BENCH_REDIS_URL") or os.environ.get("REDIS_URL")
    if not url:
        return None
    base, _, _db = url.rstrip("/").rpartition("/")
    return f"{base}/{REDIS_DB}" if base.count("/") >= 2 else f"{url.rstrip('/')}/{REDIS_DB}"


def flush_bench_redis() -> None:
    """Drop what the run queued in the bench's Redis database (nobody processes it)."""
    url = bench_redis_url()
    if url:
        import redis

        redis.Redis.from_url(url).flushdb()


def build_app(url: str, instance: Path, **extra: Any) -> Flask:
    """A Pergola app on `url` with every installed addon plus the bench's resources."""
    from bench.addon import manifest
    from core import create_app

    config: dict[str, Any] = {
        "database_url": url,
        "instance_path": str(instance),
        "secret_key": SECRET,
        "redis_url": bench_redis_url(),
        # The API's default budget (600/min per user) would throttle
        # the read loops: the bench measures work, not the limiter.
        "api_rate_limit": API_RATE_LIMIT,
        # The test client logs in over plain HTTP; no forms are posted
        # but the login form.
        "csrf": False,
        "secure_cookies": False,
        "extra_addons": [manifest],
        # Room for 8 worker threads plus the request being served.
        "engine_options": {} if url.startswith("sqlite") else {"pool_size": 12, "max_overflow": 8},
        **extra,
    }
    return create_app(config)


def new_tenant(app: Flask, slug: str, *, admin: bool = False) -> tuple[uuid.UUID, str | None]:
    """A tenant with every addon enabled; with `admin`, a bearer token of an admin member."""
    from core import services
    from core.db import session
    from core.login import issue_tokens
    from core.tenancy import system_context

    with app.app_context():
        with system_context():
            tenant = services.create_tenant(slug, slug.replace("-", " ").title())
            token = None
            if admin:
                user = services.create_user(
                    f"admin@{slug}.example", tenant_slug=slug, roles=["admin"]
                )
                token = issue_tokens(user, tenant)["access_token"]
        session.commit()
        return tenant.id, token


@contextmanager
def scratch() -> Iterator[Path]:
    """A temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="pergola-bench-") as tmp:
        yield Path(tmp)
