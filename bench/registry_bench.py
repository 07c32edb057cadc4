"""Registry benchmark: per-tenant enablement and tenant-aware hook dispatch.

    python -m bench.registry_bench [--tenants 1000] [--db-url postgresql://...]

Builds a throwaway database (a SQLite file, or a temporary database on the PostgreSQL
server of `--db-url`), migrates it, creates the tenants, then prints a table:

- enabling an addon for one tenant (a leaf addon, and the one with the most dependencies);
- enabling an addon for every tenant, as `pergola addons enable --all-tenants` does;
- one hook call reaching every installed addon: plain pluggy, then Pergola's tenant-aware
  dispatch with the enabled set cached (as within a request), cycling through all tenants,
  and per request (a fresh app context: the enabled set is read from the database once).

Not a test: figures depend on the machine. It runs in well under a minute.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pluggy
from sqlalchemy import create_engine, insert, make_url, select

from core import create_app, migrate
from core.db import get_db, session
from core.hookspecs import hookimpl, hookspec
from core.models import Tenant
from core.registry import Registry, current_registry
from core.tenancy import system_context, tenant_context


class BenchSpecs:
    """A hook every addon implements for the benchmark, doing nothing."""

    @hookspec
    def bench_ping(self, value: int) -> int | None:
        """Return `value`."""


class BenchImpl:
    """One addon's trivial implementation of `bench_ping`."""

    def __init__(self, addon: str) -> None:
        self.__name__ = f"bench-{addon}"

    @hookimpl
    def bench_ping(self, value: int) -> int:
        """Return `value`."""
        return value


@contextmanager
def database(url: str | None) -> Iterator[str]:
    """A fresh, empty database URL, dropped afterwards."""
    if not url or url.startswith("sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    from core.config import normalise_database_url

    base = make_url(normalise_database_url(url))
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


def timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    """Seconds taken by each of `repeat` calls of `fn`."""
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def fmt(seconds: float) -> str:
    """A duration with a sensible unit."""
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.2f} µs"


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--db-url", default=None, help="PostgreSQL server (default: SQLite)")
    args = parser.parse_args(argv)
    rows: list[tuple[str, str, str, str]] = []

    with database(args.db_url) as url, tempfile.TemporaryDirectory() as instance:
        app = create_app(
            {
                "database_url": url,
                "instance_path": instance,
                "secret_key": "bench-secret-key-of-at-least-32-bytes",
                "default_addons": "none",
            }
        )
        with app.app_context():
            migrate.upgrade(app)
        registry: Registry = app.extensions["pergola.registry"]
        names = list(registry.addons)
        if not names:
            raise SystemExit("no addons installed: nothing to measure")
        leaf = min(names, key=lambda n: (len(registry.dependency_closure([n])), n))
        deepest = max(names, key=lambda n: (len(registry.dependency_closure([n])), n))
        print(
            f"database: {make_url(url).get_backend_name()}; addons installed: "
            f"{', '.join(names)}; tenants: {args.tenants}"
        )

        with app.app_context(), system_context():
            tenant_ids = [uuid.uuid4() for _ in range(args.tenants)]
            session.execute(
                insert(Tenant),
                [
                    {
                        "id": tid,
                        "slug": f"bench-{i:05d}",
                        "name": f"Bench {i}",
                        "status": "active",
                        "settings": {},
                    }
                    for i, tid in enumerate(tenant_ids)
                ],
            )
            session.commit()

        # Enabling for one tenant: each on its own tenant, committed, as the CLI does.
        for label, name in (("leaf", leaf), ("most dependencies", deepest)):
            pool = iter(tenant_ids[:20] if label == "leaf" else tenant_ids[20:40])

            def enable_one(name: str = name, pool: Iterator[uuid.UUID] = pool) -> None:
                with app.app_context():
                    registry.enable(next(pool), [name])
                    session.commit()

            samples = timed(enable_one, 20)
            closure = registry.dependency_closure([name])
            rows.append(
                (
                    f"enable {name} ({label}: {len(closure)} addon(s)) for 1 tenant",
                    "20",
                    fmt(statistics.median(samples)),
                    "median",
                )
            )

        # Enabling for every tenant, one transaction, as `--all-tenants` does.
        with app.app_context():
            start = time.perf_counter()
            for tid in tenant_ids:
                registry.enable(tid, [leaf])
            session.commit()
            total = time.perf_counter() - start
        rows.append(
            (
                f"enable {leaf} for all {args.tenants} tenants",
                str(args.tenants),
                fmt(total),
                f"{fmt(total / args.tenants)} / tenant",
            )
        )

        # Dispatch: a separate registry over the same addons, each also implementing a
        # no-op hook, so every addon answers and the figures measure dispatch only.
        bench = Registry([a.manifest for a in registry.addons.values()])
        bench.pm.add_hookspecs(BenchSpecs)
        for name in names:
            bench.register_plugin(BenchImpl(name), owner=name)
        with app.app_context():
            # Tenants enable every addon, or one of a few subsets: several cached sets.
            subsets = [names, names[: max(1, len(names) // 2)], [leaf]]
            for i, tid in enumerate(tenant_ids):
                registry.enable(tid, subsets[i % len(subsets)])
            session.commit()
        app.extensions["pergola.registry"] = bench  # current_registry() for the calls
        calls = 20_000
        plain = bench.pm.hook.bench_ping
        with app.app_context():
            t = timed(lambda: [plain(value=1) for _ in range(calls)], 1)[0]
            rows.append(
                (
                    f"plain pluggy call ({len(names)} addons answer)",
                    str(calls),
                    fmt(t),
                    f"{fmt(t / calls)} / call",
                )
            )
            full = tenant_ids[0]  # enables every addon
            with tenant_context(full):
                bench.hook.bench_ping(value=1)  # warm the enabled-set cache
                t = timed(lambda: [bench.hook.bench_ping(value=1) for _ in range(calls)], 1)[0]
            rows.append(
                (
                    "tenant-aware call, one tenant, set cached",
                    str(calls),
                    fmt(t),
                    f"{fmt(t / calls)} / call",
                )
            )
            for tid in tenant_ids:  # warm every tenant's cached set
                with tenant_context(tid):
                    bench.hook.bench_ping(value=1)

            def cycle() -> None:
                for _ in range(calls // len(tenant_ids) or 1):
                    for tid in tenant_ids:
                        with tenant_context(tid):
                            bench.hook.bench_ping(value=1)

            n = (calls // len(tenant_ids) or 1) * len(tenant_ids)
            t = timed(cycle, 1)[0]
            rows.append(
                (
                    f"tenant-aware call cycling {len(tenant_ids)} tenants (+context)",
                    str(n),
                    fmt(t),
                    f"{fmt(t / n)} / call",
                )
            )

        requests = 1_000

        def request_plain() -> None:
            with app.app_context():
                session.execute(select(1))  # a request reads something anyway
                plain(value=1)

        def request_tenant(tid: uuid.UUID) -> None:
            with app.app_context(), tenant_context(tid):
                current_registry().hook.bench_ping(value=1)

        def many_plain() -> None:
            for _ in range(requests):
                request_plain()

        t = timed(many_plain, 1)[0]
        rows.append(
            (
                "per request: app context + one query + plain call",
                str(requests),
                fmt(t),
                f"{fmt(t / requests)} / request",
            )
        )
        visits = tenant_ids * (requests // len(tenant_ids) + 1)

        def many_tenant() -> None:
            for i in range(requests):
                request_tenant(visits[i])

        t = timed(many_tenant, 1)[0]
        rows.append(
            (
                "per request: app context + tenant + enabled-set read + call",
                str(requests),
                fmt(t),
                f"{fmt(t / requests)} / request",
            )
        )
        app.extensions["pergola.registry"] = registry
        get_db(app).dispose()

    widths = [max(len(r[i]) for r in [("what", "n", "total", "each"), *rows]) for i in range(4)]
    for row in [("what", "n", "total", "each"), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    print(f"pluggy {pluggy.__version__}")


if __name__ == "__main__":
    main()
