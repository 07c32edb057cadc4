"""Stock receipts and hot-product reservations/issues, 1 and 8 workers, against raw SQL."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from bench.harness import Context, Result, new_tenant, workload
from bench.raw import Raw, dec, now
from bench.workloads.products import insert_products

SQLITE_NOTE = "SQLite: writers serialise (BEGIN IMMEDIATE), so 8 workers queue on one lock"


def run_workers(workers: int, jobs: list[Any], make: Callable[[], Callable[[Any], None]]) -> float:
    """Seconds for `workers` threads (each with its own session or connection) to run
    `jobs` between them, each thread taking every `workers`-th job."""
    barrier = threading.Barrier(workers + 1)
    errors: list[BaseException] = []

    def body(k: int) -> None:
        try:
            op = make()
        except BaseException as exc:  # noqa: BLE001 - reported after the run
            errors.append(exc)
            barrier.abort()
            return
        barrier.wait()
        try:
            for job in jobs[k::workers]:
                op(job)
        except BaseException as exc:  # noqa: BLE001 - reported after the run
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(k,)) for k in range(workers)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return elapsed


class RawStock:
    """The ledger's statements by hand: level update (guarded), movement insert, average."""

    def __init__(self, url: str, tenant_id: uuid.UUID, warehouse_id: uuid.UUID) -> None:
        self.raw = Raw(url, tenant_id)
        self.t, self.w = tenant_id, warehouse_id

    def _movement(
        self,
        pid: uuid.UUID,
        kind: str,
        qty: Decimal,
        res: Decimal,
        after: Any,
        res_after: Any,
        cost: Decimal | None,
    ) -> None:
        self.raw.execute(
            "INSERT INTO inventory_stock_movement (id, tenant_id, created_at, product_id,"
            " warehouse_id, kind, quantity, quantity_before, quantity_after, reserved_change,"
            " reserved_after, unit_cost, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '')",
            (
                uuid.uuid4(),
                self.t,
                now(),
                pid,
                self.w,
                kind,
                qty,
                dec(after) - qty,
                dec(after),
                res,
                dec(res_after),
                cost,
            ),
        )

    def receive(self, job: tuple[uuid.UUID, Decimal, Decimal]) -> None:
        """A receipt with a unit cost: lock the product, ensure the level, update it, write
        the movement, re-average the cost, commit."""
        self.raw.begin()
        self.receive_in_transaction(*job)
        self.raw.commit()

    def receive_in_transaction(self, pid: uuid.UUID, qty: Decimal, cost: Decimal) -> None:
        """The receipt's statements inside the caller's transaction."""
        r = self.raw
        lock = "" if r.kind == "sqlite" else " FOR NO KEY UPDATE"
        avg = dec(
            r.one("SELECT average_cost FROM inventory_product WHERE id = ?" + lock, (pid,))[0]
        )
        if (
            r.one(
                "SELECT id FROM inventory_stock_level WHERE product_id = ? AND warehouse_id = ?",
                (pid, self.w),
            )
            is None
        ):
            at = now()
            r.execute(
                "INSERT INTO inventory_stock_level (id, tenant_id, product_id,"
                " warehouse_id, on_hand, reserved, is_low, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (uuid.uuid4(), self.t, pid, self.w, Decimal(0), Decimal(0), False, at, at),
            )
        after, res = r.one(
            "UPDATE inventory_stock_level SET on_hand = on_hand + ?,"
            " updated_at = ? WHERE product_id = ? AND warehouse_id = ?"
            " RETURNING on_hand, reserved",
            (qty, now(), pid, self.w),
        )
        self._movement(pid, "receipt", qty, Decimal(0), after, res, cost)
        total = dec(
            r.one("SELECT sum(on_hand) FROM inventory_stock_level WHERE product_id = ?", (pid,))[0]
        )
        before = total - qty
        new = cost if before <= 0 else ((avg * before + cost * qty) / total)
        r.execute(
            "UPDATE inventory_product SET average_cost = ? WHERE id = ?",
            (new.quantize(Decimal("0.0001")), pid),
        )

    def hot(self, job: tuple[str, uuid.UUID]) -> bool:
        """A guarded reservation or issue of 1 unit; False when refused (nothing left)."""
        kind, pid = job
        one = Decimal(1)
        r = self.raw
        r.begin()
        change = "reserved = reserved + ?" if kind == "reservation" else "on_hand = on_hand - ?"
        row = r.one(
            f"UPDATE inventory_stock_level SET {change}, updated_at = ? WHERE"
            " product_id = ? AND warehouse_id = ? AND on_hand - reserved - ? >= 0"
            " RETURNING on_hand, reserved",
            (one, now(), pid, self.w, one),
        )
        if row is None:
            r.rollback()
            return False
        if kind == "reservation":
            self._movement(pid, kind, Decimal(0), one, row[0], row[1], None)
        else:
            self._movement(pid, kind, -one, Decimal(0), row[0], row[1], None)
        r.commit()
        return True


def _setup(ctx: Context, slug: str, products: int) -> tuple[uuid.UUID, uuid.UUID, list[uuid.UUID]]:
    """A tenant with a warehouse and `products` products (bulk-inserted)."""
    from addons.inventory import services as inv
    from core.db import session
    from core.tenancy import tenant_context

    tid, _ = new_tenant(ctx.app, slug)
    with ctx.app.app_context(), tenant_context(tid):
        wid = inv.create_warehouse({"code": "MAIN", "name": "Main"}).id
        session.commit()
    raw = Raw(ctx.url, tid)
    pids = insert_products(raw, tid, [f"STK-{i:06d}" for i in range(products)])
    raw.close()
    return tid, wid, pids


def _invariants(ctx: Context, tid: uuid.UUID) -> dict[str, Any]:
    """No negative stock, and every level equals the sum of its ledger lines."""
    from sqlalchemy import select

    from addons.inventory import services as inv
    from addons.inventory.models import StockLevel
    from core.tenancy import tenant_context

    with ctx.app.app_context(), tenant_context(tid):
        from core.db import session

        # Compared in Python: SQLite keeps these numbers as text, where `< 0` is textual.
        levels = session.execute(select(StockLevel.on_hand, StockLevel.reserved)).all()
        negative = sum(
            1
            for on_hand, reserved in levels
            if on_hand < 0 or reserved < 0 or on_hand - reserved < 0
        )
        mismatches = len(inv.ledger_mismatches())
    return {
        "negative_levels": negative,
        "ledger_mismatches": mismatches,
        "invariants": "pass" if not negative and not mismatches else "FAIL",
    }


@workload("receipts", products=(200, 8))
def receipts(ctx: Context) -> list[Result]:
    """A receipt (with a unit cost) for every product, with 1 and then 8 concurrent workers
    (threads, own sessions); baseline: the same statements by hand, own connections."""
    from addons.inventory import services as inv
    from core.db import session
    from core.tenancy import tenant_context

    n = ctx.size("products")
    tid, wid, pids = _setup(ctx, "bench-receipts", n)
    base_tid, base_wid, base_pids = _setup(ctx, "bench-receipts-raw", n)
    app = ctx.app

    def pergola() -> Callable[[Any], None]:
        def op(job: tuple[uuid.UUID, Decimal, Decimal]) -> None:
            with app.app_context(), tenant_context(tid):
                inv.receive(job[0], wid, job[1], unit_cost=job[2])
                session.commit()

        return op

    def baseline() -> Callable[[Any], None]:
        return RawStock(ctx.url, base_tid, base_wid).receive

    out = []
    for workers in (1, 8):
        cost = Decimal(1 + workers)
        t_per = run_workers(workers, [(p, Decimal(10), cost) for p in pids], pergola)
        t_raw = run_workers(workers, [(p, Decimal(10), cost) for p in base_pids], baseline)
        extra: dict[str, Any] = {"workers": workers}
        if ctx.db == "sqlite" and workers > 1:
            extra["note"] = SQLITE_NOTE
        out.append(
            ctx.result(
                f"receipts: {workers} worker{'s' if workers > 1 else ''}",
                "receipts/s",
                n / t_per,
                n / t_raw,
                **extra,
            )
        )
    inv_check = _invariants(ctx, tid)
    out[-1].extra.update(inv_check)
    return out


@workload("hot-stock", hot=(4, 2), ops=(40, 4))
def hot_stock(ctx: Context) -> list[Result]:
    """8 workers reserving and issuing 1 unit at random on a few hot products whose stock
    runs out part-way (refusals count as operations); invariant check afterwards;
    baseline: guarded UPDATE + INSERT by hand."""
    from addons.inventory import services as inv
    from addons.inventory.services import InsufficientStock
    from core.db import session
    from core.tenancy import tenant_context

    hot, ops, workers = ctx.size("hot"), ctx.size("ops"), 8
    total = workers * ops
    # Enough stock for about 3/4 of the operations: the end of the run is refusals.
    stock = Decimal(max(1, total * 3 // 4 // hot))
    app = ctx.app
    tid, wid, pids = _setup(ctx, "bench-hot", hot)
    base_tid, base_wid, base_pids = _setup(ctx, "bench-hot-raw", hot)
    with app.app_context(), tenant_context(tid):
        for p in pids:
            inv.receive(p, wid, stock)
        session.commit()
    raw = RawStock(ctx.url, base_tid, base_wid)
    for p in base_pids:
        raw.receive((p, stock, Decimal(1)))
    raw.raw.close()
    rng = random.Random(10)
    plan = [(rng.choice(("reservation", "issue")), rng.randrange(hot)) for _ in range(total)]
    refused = {"pergola": 0, "baseline": 0}
    lock = threading.Lock()

    def pergola() -> Callable[[Any], None]:
        def op(job: tuple[str, int]) -> None:
            kind, k = job
            with app.app_context(), tenant_context(tid):
                try:
                    fn = inv.reserve if kind == "reservation" else inv.issue
                    fn(pids[k], wid, 1)
                    session.commit()
                except InsufficientStock:
                    session.rollback()
                    with lock:
                        refused["pergola"] += 1

        return op

    def baseline() -> Callable[[Any], None]:
        rs = RawStock(ctx.url, base_tid, base_wid)

        def op(job: tuple[str, int]) -> None:
            if not rs.hot((job[0], base_pids[job[1]])):
                with lock:
                    refused["baseline"] += 1

        return op

    t_per = run_workers(workers, plan, pergola)
    t_raw = run_workers(workers, plan, baseline)
    extra: dict[str, Any] = {
        "workers": workers,
        "refused": refused["pergola"],
        "baseline_refused": refused["baseline"],
        **_invariants(ctx, tid),
    }
    base_inv = _invariants(ctx, base_tid)
    extra["baseline_invariants"] = base_inv["invariants"]
    if ctx.db == "sqlite":
        extra["note"] = SQLITE_NOTE
    return [
        ctx.result(
            "hot stock: reserve/issue, 8 workers", "ops/s", total / t_per, total / t_raw, **extra
        )
    ]
