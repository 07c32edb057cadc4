"""Bulk-create products: the API's bulk endpoint and the service layer, against raw INSERTs."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from bench.harness import Context, Result, new_tenant, timed, workload
from bench.raw import Raw, now

BATCH = 500  # items per bulk request and per transaction (the endpoint takes up to 1,000)


def insert_products(raw: Raw, tenant_id: uuid.UUID, skus: list[str]) -> list[uuid.UUID]:
    """The baseline's product insert: check the SKU is free, INSERT (one transaction)."""
    ids = []
    raw.begin()
    for sku in skus:
        if (
            raw.one(
                "SELECT id FROM inventory_product WHERE tenant_id = ? AND sku_key = ?",
                (tenant_id, sku.lower()),
            )
            is not None
        ):
            raise RuntimeError(f"duplicate {sku}")
        pid, at = uuid.uuid4(), now()
        raw.execute(
            "INSERT INTO inventory_product (id, tenant_id, sku, sku_key, name, description,"
            " uom, type, status, standard_cost, sales_price, taxable, tax_rate, attributes,"
            " track_inventory, average_cost, created_at, updated_at, version)"
            " VALUES (?, ?, ?, ?, ?, '', 'EA', 'finished_good', 'active', ?, ?, ?, ?, ?, ?,"
            " ?, ?, ?, 1)",
            (
                pid,
                tenant_id,
                sku,
                sku.lower(),
                f"Product {sku}",
                Decimal("1.5"),
                Decimal("3"),
                True,
                Decimal("0"),
                {},
                True,
                Decimal("0"),
                at,
                at,
            ),
        )
        ids.append(pid)
    raw.commit()
    return ids


def item(sku: str) -> dict[str, Any]:
    """One product as the API and the service take it."""
    return {"sku": sku, "name": f"Product {sku}", "standard_cost": "1.5", "sales_price": "3"}


@workload("products", n=(500, 20))
def products(ctx: Context) -> list[Result]:
    """Bulk-create N products via POST /api/v1/benchkit/products/bulk (in-process client,
    bearer token) and via inventory.services.create_product; baseline: SKU check + INSERT."""
    from addons.inventory import services
    from core.db import session
    from core.tenancy import tenant_context

    n = ctx.size("n")
    app = ctx.app
    _, token = new_tenant(app, "bench-products-api", admin=True)
    svc_tid, _ = new_tenant(app, "bench-products-svc")
    base_tid, _ = new_tenant(app, "bench-products-raw")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    def api() -> None:
        for start in range(0, n, BATCH):
            items = [item(f"API-{i:07d}") for i in range(start, min(n, start + BATCH))]
            resp = client.post(
                "/api/v1/benchkit/products/bulk", json={"items": items}, headers=headers
            )
            if resp.status_code != 201:
                raise RuntimeError(f"bulk create: {resp.status_code} {resp.get_data(True)[:300]}")

    def service() -> None:
        for start in range(0, n, BATCH):
            with app.app_context(), tenant_context(svc_tid):
                for i in range(start, min(n, start + BATCH)):
                    services.create_product(item(f"SVC-{i:07d}"))
                session.commit()

    def baseline() -> None:
        raw = Raw(ctx.url, base_tid)
        for start in range(0, n, BATCH):
            insert_products(
                raw, base_tid, [f"RAW-{i:07d}" for i in range(start, min(n, start + BATCH))]
            )
        raw.close()

    t_api, t_svc, t_raw = timed(api), timed(service), timed(baseline)
    extra = {
        "batch": BATCH,
        "note": "Pergola also writes an outbox event and an audit row "
        "per product; the baseline only the product",
    }
    return [
        ctx.result("products: API bulk endpoint", "products/s", n / t_api, n / t_raw, **extra),
        ctx.result("products: service layer", "products/s", n / t_svc, n / t_raw, **extra),
    ]
