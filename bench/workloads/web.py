"""Web pages: the product list, and a product page whose ledger holds 300,000 movements."""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from html import escape
from typing import Any

from bench.harness import Context, Result, new_tenant, timed, workload
from bench.raw import Raw
from bench.workloads.products import insert_products

PASSWORD = "bench-password-123"


def median_ms(fn: Callable[[], Any], repeat: int) -> float:
    """The median of `repeat` calls of `fn`, in milliseconds (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def fill_movements(raw: Raw, tid: uuid.UUID, pid: uuid.UUID, wid: uuid.UUID, n: int) -> None:
    """`n` ledger lines for one product in one INSERT ... SELECT (history only: the level
    is not touched, the product page does not add them up)."""
    raw.begin()
    if raw.kind == "sqlite":
        raw.execute(
            "WITH RECURSIVE k(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM k WHERE n < ?)"
            " INSERT INTO inventory_stock_movement (id, tenant_id, created_at, product_id,"
            " warehouse_id, kind, quantity, quantity_before, quantity_after, reserved_change,"
            " reserved_after, reason) SELECT lower(hex(randomblob(16))), ?,"
            " strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || n || ' seconds'), ?, ?, 'receipt',"
            " '0', '0', '0', '0', '0', 'bench' FROM k",
            (n, tid, pid, wid),
        )
    else:
        raw.execute(
            "INSERT INTO inventory_stock_movement (id, tenant_id, created_at, product_id,"
            " warehouse_id, kind, quantity, quantity_before, quantity_after, reserved_change,"
            " reserved_after, reason) SELECT gen_random_uuid(), ?, now() - n * interval"
            " '1 second', ?, ?, 'receipt', 0, 0, 0, 0, 0, 'bench'"
            " FROM generate_series(1, ?) AS n",
            (tid, pid, wid, n),
        )
    raw.commit()
    if raw.kind == "postgresql":
        raw.conn.autocommit = True
        raw.execute("ANALYZE inventory_stock_movement")
        raw.conn.autocommit = False
    else:
        raw.execute("ANALYZE")


@workload("web", products=(1000, 60), movements=(300_000, 3_000), repeat=(30, 3))
def web(ctx: Context) -> list[Result]:
    """GET /inventory/products (50 of P products with stock totals) and
    /inventory/products/<id> with M movements in its ledger, logged in, in-process; median
    ms. Baseline: the same queries by hand, rows joined into an HTML string."""
    from addons.inventory import services as inv
    from core import services
    from core.db import session
    from core.tenancy import system_context, tenant_context

    nprod, nmov, repeat = ctx.size("products"), ctx.size("movements"), ctx.size("repeat")
    app = ctx.app
    tid, _ = new_tenant(app, "bench-web")
    with app.app_context():
        with system_context():
            services.create_user(
                "web@bench.example", tenant_slug="bench-web", password=PASSWORD, roles=["admin"]
            )
        with tenant_context(tid):
            wid = inv.create_warehouse({"code": "MAIN", "name": "Main"}).id
        session.commit()
    raw = Raw(ctx.url, tid)
    pids = insert_products(raw, tid, [f"WEB-{i:06d}" for i in range(nprod)])
    with app.app_context(), tenant_context(tid):
        for pid in pids[:50]:  # some products carry stock, as in a real list
            inv.receive(pid, wid, Decimal(7), unit_cost=Decimal(2))
        session.commit()
    hist = pids[0]
    fill_seconds = timed(lambda: fill_movements(raw, tid, hist, wid, nmov))

    client = app.test_client()
    resp = client.post(
        "/login", data={"email": "web@bench.example", "password": PASSWORD, "tenant": "bench-web"}
    )
    if resp.status_code != 302:
        raise RuntimeError(f"login: {resp.status_code}")

    def get(path: str) -> Callable[[], None]:
        def run() -> None:
            r = client.get(path)
            if r.status_code != 200:
                raise RuntimeError(f"{path}: {r.status_code} {r.get_data(True)[:200]}")

        return run

    def base_list() -> str:
        raw.begin()
        total = raw.one(
            "SELECT count(*) FROM inventory_product WHERE tenant_id = ? AND deleted_at IS NULL",
            (tid,),
        )[0]
        rows = raw.execute(
            "SELECT p.sku, p.name, p.status, t.on_hand, t.reserved FROM inventory_product p"
            " LEFT JOIN (SELECT product_id, sum(on_hand) AS on_hand, sum(reserved) AS reserved"
            " FROM inventory_stock_level WHERE tenant_id = ? GROUP BY product_id) t"
            " ON t.product_id = p.id WHERE p.tenant_id = ? AND p.deleted_at IS NULL"
            " ORDER BY p.sku_key LIMIT 50",
            (tid, tid),
        ).fetchall()
        raw.commit()
        return f"<p>{total}</p>" + "".join(
            f"<tr><td>{escape(str(c))}</td></tr>" for r in rows for c in r
        )

    def base_detail() -> str:
        raw.begin()
        product = raw.one(
            "SELECT * FROM inventory_product WHERE id = ? AND tenant_id = ?", (hist, tid)
        )
        levels = raw.execute(
            "SELECT * FROM inventory_stock_level WHERE product_id = ? AND tenant_id = ?",
            (hist, tid),
        ).fetchall()
        moves = raw.execute(
            "SELECT * FROM inventory_stock_movement WHERE tenant_id = ? AND"
            " product_id = ? ORDER BY created_at DESC, id DESC LIMIT 26",
            (tid, hist),
        ).fetchall()
        raw.commit()
        return "".join(f"<td>{escape(str(c))}</td>" for r in [product, *levels, *moves] for c in r)

    list_path = "/inventory/products"
    detail_path = f"/inventory/products/{hist}"
    out = [
        ctx.result(
            "web: product list page (50 rows)",
            "ms",
            median_ms(get(list_path), repeat),
            median_ms(base_list, repeat),
            higher_is_better=False,
            stat="median",
        ),
        ctx.result(
            f"web: product page, {nmov:,} movements",
            "ms",
            median_ms(get(detail_path), repeat),
            median_ms(base_detail, repeat),
            higher_is_better=False,
            stat="median",
            fill_seconds=round(fill_seconds, 2),
        ),
    ]
    raw.close()
    return out
