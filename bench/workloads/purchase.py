"""A purchase order with 50 lines, created, confirmed and received, against raw SQL."""

from __future__ import annotations

import importlib
import uuid
from decimal import Decimal
from typing import Any

from bench.harness import Context, Result, new_tenant, timed, workload
from bench.raw import Raw, dec, now
from bench.workloads.products import insert_products
from bench.workloads.stock import RawStock

Q2 = Decimal("0.01")


def available() -> str | None:
    """None if purchase's services are installed, else why not."""
    try:
        svc = importlib.import_module("addons.purchase.services")
    except ImportError as exc:
        return f"purchase addon not available: {exc}"
    missing = [f for f in ("create_order", "confirm_order", "receive") if not hasattr(svc, f)]
    return f"purchase services missing: {', '.join(missing)}" if missing else None


def raw_order(
    raw: Raw,
    tid: uuid.UUID,
    account: uuid.UUID,
    wid: uuid.UUID,
    pids: list[uuid.UUID],
    number: int,
    stock: RawStock,
) -> None:
    """Create (commit), confirm (commit), receive every line (commit), by hand."""
    at = now()
    oid = uuid.uuid4()
    lines = []
    untaxed = Decimal(0)
    raw.begin()
    for i, pid in enumerate(pids):
        qty, cost = Decimal(5), Decimal(2 + i % 7)
        net = (qty * cost).quantize(Q2)
        untaxed += net
        lines.append(
            (
                uuid.uuid4(),
                tid,
                oid,
                i,
                pid,
                f"Product {i}",
                qty,
                cost,
                Decimal(0),
                Decimal(0),
                Decimal(0),
                Decimal(0),
                net,
                Decimal(0),
                at,
                at,
            )
        )
    raw.execute(
        "INSERT INTO purchase_order (id, tenant_id, account_id, warehouse_id,"
        " order_date, state, currency, notes, amount_untaxed, amount_tax, amount_total,"
        " created_at, updated_at, version) VALUES (?, ?, ?, ?, ?, 'draft', 'EUR', '',"
        " ?, ?, ?, ?, ?, 1)",
        (oid, tid, account, wid, at.date(), untaxed, Decimal(0), untaxed, at, at),
    )
    raw.many(
        "INSERT INTO purchase_order_line (id, tenant_id, order_id, position, product_id,"
        " description, quantity, unit_cost, tax_rate, discount_pct, received_qty,"
        " returned_qty, amount_net, amount_tax, created_at, updated_at, version)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
        lines,
    )
    raw.commit()
    raw.begin()
    raw.execute(
        "UPDATE purchase_order SET state = 'confirmed', number = ?, confirmed_at = ?,"
        " version = version + 1 WHERE id = ?",
        (f"PO-RAW-{number:06d}", now(), oid),
    )
    raw.commit()
    # Receiving: lock the order and its lines, one receipt, a stock receipt per line.
    raw.begin()
    lock = "" if raw.kind == "sqlite" else " FOR UPDATE"
    raw.one("SELECT state FROM purchase_order WHERE id = ?" + lock, (oid,))
    rows = raw.execute(
        "SELECT id, product_id, quantity, unit_cost FROM purchase_order_line"
        " WHERE order_id = ? ORDER BY id" + lock,
        (oid,),
    ).fetchall()
    rid = uuid.uuid4()
    raw.execute(
        "INSERT INTO purchase_receipt (id, tenant_id, number, kind, order_id,"
        " received_at, note, created_at, updated_at, version) VALUES (?, ?, ?,"
        " 'receipt', ?, ?, '', ?, ?, 1)",
        (rid, tid, f"GR-RAW-{number:06d}", oid, at, at, at),
    )
    stock.raw = raw  # the stock statements join this transaction
    for line_id, pid, qty, cost in rows:
        stock.receive_in_transaction(_uuid(raw, pid), dec(qty), dec(cost))
        raw.execute(
            "UPDATE purchase_order_line SET received_qty = received_qty + ?,"
            " version = version + 1 WHERE id = ?",
            (dec(qty), _uuid(raw, line_id)),
        )
        raw.execute(
            "INSERT INTO purchase_receipt_line (id, tenant_id, receipt_id,"
            " order_line_id, product_id, quantity, unit_cost, created_at, updated_at,"
            " version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
            (
                uuid.uuid4(),
                tid,
                rid,
                _uuid(raw, line_id),
                _uuid(raw, pid),
                dec(qty),
                dec(cost),
                at,
                at,
            ),
        )
    raw.execute(
        "UPDATE purchase_order SET state = 'received', version = version + 1 WHERE id = ?", (oid,)
    )
    raw.commit()


def _uuid(raw: Raw, value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


@workload("purchase", orders=(5, 1), lines=(50, 10))
def purchase(ctx: Context) -> list[Result]:
    """Orders of 50 lines: create, confirm, receive everything (three transactions) through
    purchase.services; baseline: the same rows and stock statements by hand."""
    why = available()
    if why:
        return [
            ctx.result(
                "purchase: order of 50 lines",
                "orders/s",
                None,
                None,
                status="not available",
                reason=why,
            )
        ]
    from addons.contacts import services as contacts
    from addons.inventory import services as inv
    from addons.purchase import services as pur
    from core.db import session
    from core.tenancy import tenant_context

    n, nlines = ctx.size("orders"), ctx.size("lines")
    app = ctx.app

    def setup(slug: str) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID, list[uuid.UUID]]:
        tid, _ = new_tenant(app, slug)
        with app.app_context(), tenant_context(tid):
            wid = inv.create_warehouse({"code": "MAIN", "name": "Main"}).id
            vendor = contacts.create_account({"name": "Vendor", "kinds": ["vendor"]}).id
            session.commit()
        raw = Raw(ctx.url, tid)
        pids = insert_products(raw, tid, [f"PUR-{i:04d}" for i in range(nlines)])
        raw.close()
        return tid, wid, vendor, pids

    tid, wid, vendor, pids = setup("bench-purchase")
    btid, bwid, bvendor, bpids = setup("bench-purchase-raw")

    def pergola() -> None:
        for _ in range(n):
            with app.app_context(), tenant_context(tid):
                order = pur.create_order(
                    {
                        "account_id": str(vendor),
                        "warehouse_id": str(wid),
                        "lines": [
                            {"product_id": str(p), "quantity": "5", "unit_cost": str(2 + i % 7)}
                            for i, p in enumerate(pids)
                        ],
                    }
                )
                session.commit()
                pur.confirm_order(order.id)
                session.commit()
                pur.receive(
                    order.id,
                    {"lines": [{"line_id": str(ln.id), "quantity": "5"} for ln in order.lines]},
                )
                session.commit()

    def baseline() -> None:
        raw = Raw(ctx.url, btid)
        stock = RawStock(ctx.url, btid, bwid)
        stock.raw.close()
        for k in range(n):
            raw_order(raw, btid, bvendor, bwid, bpids, k, stock)
        raw.close()

    t_per, t_raw = timed(pergola), timed(baseline)
    with app.app_context(), tenant_context(tid):
        states = {o.state for o in pur.list_orders().items}
    return [
        ctx.result(
            f"purchase: order of {nlines} lines, confirm, receive",
            "orders/s",
            n / t_per,
            n / t_raw,
            states=",".join(sorted(states)),
            lines_per_s=round(n * nlines / t_per, 1),
        )
    ]
