"""Statements and Python CPU per operation: the deterministic side of the benchmark.

    python -m bench.statements [--db sqlite|postgresql]

Counts the SQL statements (round trips on PostgreSQL) each workload's operation sends,
with a `before_cursor_execute` listener, plus the bench process's CPU time per operation.
The counts do not depend on the machine's load, so they compare two versions of the code
where wall-clock figures on a busy machine cannot. One JSON line per operation.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from bench.harness import Context, build_app, fresh_database, new_tenant, scratch
from bench.raw import Raw
from bench.workloads.api_reads import PATH
from bench.workloads.contacts import insert_accounts
from bench.workloads.stock import _setup

_count = [0]


@event.listens_for(Engine, "before_cursor_execute")
def _on_statement(*_args: Any) -> None:
    _count[0] += 1


def measure(name: str, db: str, op: Callable[[int], None], n: int) -> dict[str, Any]:
    """Run `op(1)` to warm up, then `op(n)`; statements and CPU ms per operation."""
    op(1)
    statements, cpu, wall = _count[0], time.process_time(), time.perf_counter()
    op(n)
    out = {
        "op": name,
        "db": db,
        "statements": round((_count[0] - statements) / n, 1),
        "cpu_ms": round((time.process_time() - cpu) / n * 1e3, 2),
        "wall_ms": round((time.perf_counter() - wall) / n * 1e3, 2),
    }
    print(json.dumps(out), flush=True)
    return out


def run(db: str) -> list[dict[str, Any]]:
    """Every operation once on a fresh database of kind `db`."""
    from addons.contacts import services as contacts
    from addons.inventory import services as inv
    from addons.purchase import services as pur
    from core import migrate
    from core.db import session
    from core.tenancy import tenant_context

    pg_url = os.environ.get("PERGOLA_BENCH_DATABASE_URL") or os.environ.get(
        "SQLALCHEMY_DATABASE_URL"
    )
    results = []
    with scratch() as tmp, fresh_database(db, pg_url, tmp) as url:
        app = build_app(url, tmp / "instance")
        with app.app_context():
            migrate.upgrade(app)
        ctx = Context(db, url, app, True, {}, tmp, workload="receipts")
        tid, wid, pids = _setup(ctx, "statements", 120)
        products = iter(pids)
        serial = iter(range(10**9))

        def receipts(n: int) -> None:
            for _ in range(n):
                with app.app_context(), tenant_context(tid):
                    inv.receive(next(products), wid, Decimal("5"), unit_cost=Decimal("2.5"))
                    session.commit()

        def create_products(n: int) -> None:
            with app.app_context(), tenant_context(tid):
                for _ in range(n):
                    inv.create_product({"sku": f"S-{next(serial)}", "name": "Statement"})
                session.commit()

        def accounts(n: int) -> None:
            with app.app_context(), tenant_context(tid):
                for _ in range(n):
                    i = next(serial)
                    account = contacts.create_account(
                        {"name": f"A {i}", "kinds": ["customer"], "email": f"a{i}@example.com"}
                    )
                    for j in range(2):
                        contacts.add_person(
                            {
                                "account_id": account.id,
                                "first_name": f"P{j}",
                                "last_name": f"L {i}",
                                "email": f"p{j}.{i}@x.org",
                            }
                        )
                    contacts.add_address(
                        account.id, {"street": "1 Main St", "city": "Berlin", "country": "DE"}
                    )
                    session.commit()

        with app.app_context(), tenant_context(tid):
            vendor = contacts.create_account({"name": "Vendor", "kinds": ["vendor"]}).id
            session.commit()
        lines = pids[-50:]

        def orders(n: int) -> None:
            for _ in range(n):
                with app.app_context(), tenant_context(tid):
                    order = pur.create_order(
                        {
                            "account_id": str(vendor),
                            "warehouse_id": str(wid),
                            "lines": [
                                {"product_id": str(p), "quantity": "5", "unit_cost": "3"}
                                for p in lines
                            ],
                        }
                    )
                    session.commit()
                    pur.confirm_order(order.id)
                    session.commit()
                    received = [{"line_id": str(ln.id), "quantity": "5"} for ln in order.lines]
                    pur.receive(order.id, {"lines": received})
                    session.commit()

        api_tid, token = new_tenant(app, "statements-api", admin=True)
        raw = Raw(url, api_tid)
        insert_accounts(raw, api_tid, 30)
        raw.close()
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}

        def api_list(n: int) -> None:
            for _ in range(n):
                resp = client.get(PATH, headers=headers)
                if resp.status_code != 200:
                    raise RuntimeError(f"list: {resp.status_code} {resp.get_data(True)[:300]}")

        results.append(measure("receipt (own transaction)", db, receipts, 40))
        results.append(measure("product via create_product", db, create_products, 100))
        results.append(measure("account + 2 people + 1 address", db, accounts, 20))
        results.append(measure("purchase order, 50 lines: create/confirm/receive", db, orders, 3))
        results.append(measure("API list, 50 people + expand=account", db, api_list, 40))
    return results


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    for db in ("sqlite", "postgresql") if args.db == "both" else (args.db,):
        run(db)


if __name__ == "__main__":
    main()
