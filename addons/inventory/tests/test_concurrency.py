"""The golden rule under concurrency: threads with their own connections, real commits.

On PostgreSQL the conditional UPDATE's row lock and re-check decide; on SQLite, BEGIN
IMMEDIATE queues the writers. Either way: exactly as many reservations succeed as there is
stock, and every level equals the sum of its movements.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from addons.inventory import services
from addons.inventory.models import StockLevel
from core.db import session
from core.tenancy import tenant_context


def setup_stock(app: Any, committed: Any, products: int = 1) -> tuple[Any, list[Any], list[Any]]:
    """A committed tenant with warehouses A and B and `products` products, 10 units each in A."""
    tenant = committed.tenant()
    with app.app_context(), tenant_context(tenant.id):
        whs = [services.create_warehouse({"code": c, "name": c}) for c in ("A", "B")]
        prods = []
        for n in range(products):
            p = services.create_product({"sku": f"P{n}", "name": f"Product {n}"})
            services.receive(p, whs[0], 10, unit_cost="1")
            services.receive(p, whs[1], 1)
            services.issue(p, whs[1], 1)  # both levels exist before the race starts
            prods.append(p)
        session.commit()
        return tenant, [w.id for w in whs], [p.id for p in prods]


def run_threads(app: Any, tenant_id: Any, jobs: Sequence[Callable[[], object]]) -> list[str]:
    """Run each job in its own thread, app context (own session and connection) and tenant."""
    outcomes: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(jobs))

    def run(job: Callable[[], object]) -> None:
        with app.app_context(), tenant_context(tenant_id):
            barrier.wait()
            try:
                job()
                session.commit()
                result = "ok"
            except services.InsufficientStock:
                session.rollback()
                result = "insufficient"
            except Exception as exc:  # noqa: BLE001 - reported to the test, which fails
                session.rollback()
                result = f"error: {exc!r}"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return outcomes


def twenty_reservations(app: Any, committed: Any) -> None:
    tenant, (wa, _wb), (pid,) = setup_stock(app, committed)
    jobs = [lambda: services.reserve(pid, wa, 1, reference=("sales_order", "x")) for _ in range(20)]

    outcomes = run_threads(app, tenant.id, jobs)

    assert sorted(outcomes) == ["insufficient"] * 10 + ["ok"] * 10, outcomes
    with app.app_context(), tenant_context(tenant.id):
        level = session.scalars(select(StockLevel).where(StockLevel.warehouse_id == wa)).one()
        assert (level.on_hand, level.reserved, level.available) == (10, 10, 0)
        assert services.ledger_mismatches() == []


@pytest.mark.postgres
def test_twenty_workers_reserve_ten_units_on_postgresql(app, committed):
    twenty_reservations(app, committed)


def test_twenty_workers_reserve_ten_units_on_any_database(app, committed):
    # SQLite serialises the writers (BEGIN IMMEDIATE); PostgreSQL runs them truly at once.
    twenty_reservations(app, committed)


def mixed_workload(app: Any, committed: Any) -> None:
    tenant, whs, pids = setup_stock(app, committed, products=2)
    rng = random.Random(42)

    def job_for(seed: int) -> Callable[[], None]:
        r = random.Random(seed)

        def job() -> None:
            for _ in range(6):
                pid, (src, dst) = r.choice(pids), r.sample(whs, 2)
                op = r.choice(("receive", "issue", "transfer", "reserve", "adjust"))
                try:
                    if op == "receive":
                        services.receive(pid, src, r.randint(1, 3), unit_cost=r.randint(1, 5))
                    elif op == "issue":
                        services.issue(pid, src, r.randint(1, 4))
                    elif op == "transfer":
                        services.transfer(pid, src, dst, r.randint(1, 5))
                    elif op == "reserve":
                        services.reserve(pid, src, r.randint(1, 3))
                    else:
                        services.adjust(pid, src, r.choice((-2, -1, 1, 2)), reason="test")
                except services.InsufficientStock:
                    pass  # refused, nothing written: the savepoint rolled back
                session.commit()

        return job

    outcomes = run_threads(app, tenant.id, [job_for(rng.randint(0, 10**6)) for _ in range(8)])

    assert outcomes == ["ok"] * 8, outcomes
    with app.app_context(), tenant_context(tenant.id):
        assert services.ledger_mismatches() == []
        for level in session.scalars(select(StockLevel)):
            assert level.on_hand >= 0 and 0 <= level.reserved <= level.on_hand
        assert all(p.average_cost > 0 for p in map(services.find_product, pids))
        assert sum(Decimal(lv.on_hand) for lv in session.scalars(select(StockLevel))) >= 0


@pytest.mark.postgres
def test_mixed_concurrent_workload_keeps_the_ledger_equal_to_levels_on_postgresql(app, committed):
    mixed_workload(app, committed)


def test_mixed_concurrent_workload_keeps_the_ledger_equal_to_levels(app, committed):
    mixed_workload(app, committed)
