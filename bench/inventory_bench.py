"""Inventory benchmark: stock services against hand-written SQL doing the same work.

    python -m bench.inventory_bench [--quick] [--db-url postgresql://...] [--redis-url ...]

On a throwaway PostgreSQL database (created on the server of `--db-url`, default
`PERGOLA_BENCH_DATABASE_URL` or `SQLALCHEMY_DATABASE_URL`, and dropped afterwards), prints
operations per second with 1 and 8 concurrent workers (threads, one connection each, all on
one product and warehouse, so they contend for the same rows) for:

- receipts with a unit cost: `services.receive` vs. psycopg2 doing the same statements (lock
  the product, conditional UPDATE of the level, sum the levels, update the average cost,
  INSERT the movement, commit);
- reservations: `services.reserve` vs. psycopg2 (conditional UPDATE, INSERT, commit);

and the product page's movement history (first and a deep keyset page) with 300,000
movements (30,000 with `--quick`), `services.movements` vs. the same keyset query in SQL.
Each pair runs in the same process on the same database; the ratio is Pergola / baseline.
Pergola's side also writes its outbox event and savepoint, which the baseline does not:
that is what the ratio shows. Not a test: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import psycopg2
import psycopg2.extras
from sqlalchemy import create_engine, make_url

from core import create_app, migrate, services
from core.db import get_db, session
from core.tenancy import system_context, tenant_context


@contextmanager
def database(url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database on the server of `url`, dropped afterwards."""
    from core.config import normalise_database_url

    base = make_url(normalise_database_url(url))
    if base.get_backend_name() != "postgresql":
        raise SystemExit("the inventory benchmark needs PostgreSQL (--db-url postgresql://...)")
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


def run_workers(workers: int, ops: int, make_worker: Callable[[], Callable[[int], None]]) -> float:
    """Operations per second of `workers` threads each running `ops` operations."""
    barrier = threading.Barrier(workers + 1)
    errors: list[BaseException] = []

    def body() -> None:
        op = make_worker()
        barrier.wait()
        try:
            for i in range(ops):
                op(i)
        except BaseException as exc:  # noqa: BLE001 - reported after the run
            errors.append(exc)

    threads = [threading.Thread(target=body) for _ in range(workers)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return workers * ops / elapsed


class Baseline:
    """The same operations in hand-written SQL on one psycopg2 connection."""

    def __init__(
        self, dsn: str, tenant_id: uuid.UUID, product_id: uuid.UUID, warehouse_id: uuid.UUID
    ) -> None:
        self.conn = psycopg2.connect(dsn)
        self.t, self.p, self.w = str(tenant_id), str(product_id), str(warehouse_id)

    def _begin(self, cur: Any) -> None:
        # Row-level security is forced on these tables: the baseline says its tenant too.
        cur.execute("SELECT set_config('pergola.tenant_id', %s, true)", (self.t,))

    def _movement(
        self,
        cur: Any,
        kind: str,
        qty: int,
        reserved: int,
        after: Any,
        reserved_after: Any,
        cost: Any,
    ) -> None:
        cur.execute(
            "INSERT INTO inventory_stock_movement (id, tenant_id, created_at, product_id,"
            " warehouse_id, kind, quantity, quantity_before, quantity_after, reserved_change,"
            " reserved_after, unit_cost, reason) VALUES (%s, %s, now(), %s, %s, %s, %s, %s, %s,"
            " %s, %s, %s, '')",
            (
                str(uuid.uuid4()),
                self.t,
                self.p,
                self.w,
                kind,
                qty,
                after - qty,
                after,
                reserved,
                reserved_after,
                cost,
            ),
        )

    def receive(self, i: int) -> None:
        """A receipt of 1 unit with a cost."""
        cost = Decimal(1 + i % 5)
        with self.conn.cursor() as cur:
            self._begin(cur)
            cur.execute(
                "SELECT average_cost FROM inventory_product WHERE id = %s FOR NO KEY UPDATE",
                (self.p,),
            )
            avg = cur.fetchone()[0]
            cur.execute(
                "UPDATE inventory_stock_level SET on_hand = on_hand + 1,"
                " updated_at = now() WHERE tenant_id = %s AND product_id = %s"
                " AND warehouse_id = %s RETURNING on_hand, reserved",
                (self.t, self.p, self.w),
            )
            after, reserved = cur.fetchone()
            cur.execute(
                "SELECT sum(on_hand) FROM inventory_stock_level WHERE product_id = %s", (self.p,)
            )
            total = cur.fetchone()[0]
            new_avg = ((avg * (total - 1) + cost) / total).quantize(Decimal("0.0001"))
            cur.execute(
                "UPDATE inventory_product SET average_cost = %s WHERE id = %s", (new_avg, self.p)
            )
            self._movement(cur, "receipt", 1, 0, after, reserved, cost)
        self.conn.commit()

    def reserve(self, i: int) -> None:
        """A reservation of 1 unit, refused when nothing is available."""
        with self.conn.cursor() as cur:
            self._begin(cur)
            cur.execute(
                "UPDATE inventory_stock_level SET reserved = reserved + 1,"
                " updated_at = now() WHERE tenant_id = %s AND product_id = %s"
                " AND warehouse_id = %s AND on_hand - reserved - 1 >= 0"
                " RETURNING on_hand, reserved",
                (self.t, self.p, self.w),
            )
            row = cur.fetchone()
            if row is None:
                raise RuntimeError("out of stock")
            self._movement(cur, "reservation", 0, 1, row[0], row[1], None)
        self.conn.commit()

    def history(self, cursor: tuple[Any, Any] | None, limit: int = 25) -> list[Any]:
        """One keyset page of the product's movements, newest first."""
        with self.conn.cursor() as cur:
            self._begin(cur)
            sql = "SELECT * FROM inventory_stock_movement WHERE tenant_id = %s AND product_id = %s"
            params: list[Any] = [self.t, self.p]
            if cursor:
                sql += " AND (created_at, id) < (%s, %s)"
                params += [cursor[0], cursor[1]]
            cur.execute(sql + " ORDER BY created_at DESC, id DESC LIMIT %s", (*params, limit))
            rows = cur.fetchall()
        self.conn.commit()
        return rows


def fill_history(
    dsn: str, tenant_id: uuid.UUID, product_id: uuid.UUID, warehouse_id: uuid.UUID, count: int
) -> None:
    """`count` ledger lines for the product (bulk-inserted: the history, not the levels)."""
    conn = psycopg2.connect(dsn)
    with conn.cursor() as cur:
        cur.execute("SELECT set_config('pergola.tenant_id', %s, true)", (str(tenant_id),))
        rows = [
            (str(uuid.uuid4()), str(tenant_id), n, str(product_id), str(warehouse_id))
            for n in range(count)
        ]
        psycopg2.extras.execute_values(
            cur,
            "INSERT INTO inventory_stock_movement (id, tenant_id, created_at, product_id,"
            " warehouse_id, kind, quantity, quantity_before, quantity_after, reserved_change,"
            " reserved_after, reason) SELECT v.id::uuid, v.t::uuid, now() - make_interval(secs"
            " => v.n), v.p::uuid, v.w::uuid, 'receipt', 0, 0, 0, 0, 0, 'bench' FROM (VALUES %s)"
            " AS v(id, t, n, p, w)",
            rows,
            page_size=5000,
        )
        cur.execute("ANALYZE inventory_stock_movement")
    conn.commit()
    conn.close()


def best_of(fn: Callable[[], Any], repeat: int = 30) -> float:
    """The fastest of `repeat` runs, in milliseconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer operations (seconds)")
    parser.add_argument(
        "--db-url",
        default=os.environ.get("PERGOLA_BENCH_DATABASE_URL")
        or os.environ.get("SQLALCHEMY_DATABASE_URL"),
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL"),
        help="events go to RQ as in production (default: in-process)",
    )
    args = parser.parse_args(argv)
    if not args.db_url:
        raise SystemExit("give --db-url postgresql://... (or set SQLALCHEMY_DATABASE_URL)")
    ops = 60 if args.quick else 400
    history = 30_000 if args.quick else 300_000

    with database(args.db_url) as url, tempfile.TemporaryDirectory() as instance:
        app = create_app(
            {
                "database_url": url,
                "instance_path": instance,
                "secret_key": "bench-" * 6,
                "redis_url": args.redis_url,
                "engine_options": {"pool_size": 20, "max_overflow": 10},
            }
        )
        with app.app_context():
            migrate.upgrade(app)
            with system_context():
                tenant = services.create_tenant("bench", "Bench")
            session.commit()
            from addons.inventory import services as inv

            with tenant_context(tenant.id):
                wh = inv.create_warehouse({"code": "MAIN", "name": "Main"})
                product = inv.create_product({"sku": "BENCH", "name": "Bench"})
                hist = inv.create_product({"sku": "HISTORY", "name": "History"})
                inv.receive(product, wh, 10_000_000, unit_cost="1")
                inv.receive(hist, wh, 1)
                session.commit()
            tid, pid, wid, hid = tenant.id, product.id, wh.id, hist.id
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

        def pergola(op: str) -> Callable[[], Callable[[int], None]]:
            def make() -> Callable[[int], None]:
                def run(i: int) -> None:
                    with app.app_context(), tenant_context(tid):
                        if op == "receive":
                            inv.receive(pid, wid, 1, unit_cost=1 + i % 5)
                        else:
                            inv.reserve(pid, wid, 1)
                        session.commit()

                return run

            return make

        def baseline(op: str) -> Callable[[], Callable[[int], None]]:
            def make() -> Callable[[int], None]:
                b = Baseline(dsn, tid, pid, wid)
                return b.receive if op == "receive" else b.reserve

            return make

        print(f"{'operation':<28}{'workers':>8}{'pergola/s':>12}{'baseline/s':>12}{'ratio':>8}")
        for op in ("receive", "reserve"):
            for workers in (1, 8):
                per = run_workers(workers, ops, pergola(op))
                base = run_workers(workers, ops, baseline(op))
                name = "receipts (with cost)" if op == "receive" else "reservations"
                print(f"{name:<28}{workers:>8}{per:>12.0f}{base:>12.0f}{per / base:>8.2f}")

        fill_history(dsn, tid, hid, wid, history)
        b = Baseline(dsn, tid, hid, wid)
        with app.app_context(), tenant_context(tid):
            deep: list[Any] = []

            def first_page() -> None:
                inv.movements(product=hid, limit=25)

            rows, cursor = inv.movements(product=hid, limit=500)
            for _ in range(20):  # walk 10,000 lines deep
                rows, cursor = inv.movements(product=hid, limit=500, cursor=cursor)
            deep.append(cursor)
            last = rows[-1]

            def deep_page() -> None:
                inv.movements(product=hid, limit=25, cursor=deep[0])

            for label, fn, base_fn in (
                ("history: first page", first_page, lambda: b.history(None)),
                (
                    "history: page at 10,000",
                    deep_page,
                    lambda: b.history((last.created_at, str(last.id))),
                ),
            ):
                per_ms, base_ms = best_of(fn), best_of(base_fn)
                print(
                    f"{label:<28}{history:>8}{per_ms:>10.2f}ms{base_ms:>10.2f}ms"
                    f"{per_ms / base_ms:>8.2f}"
                )
        get_db(app).dispose()


if __name__ == "__main__":
    main()
