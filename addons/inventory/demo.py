"""Demo data: 200 products in two warehouses, with receipts, issues, a transfer, reorder points."""

from __future__ import annotations

import random
from decimal import Decimal

from sqlalchemy import select

from addons.inventory import services
from addons.inventory.models import Warehouse

CATEGORIES = {
    "Hardware": ("Fasteners", "Tools"),
    "Office": ("Paper", "Furniture"),
    "Food": ("Beverages",),
}


def load() -> None:
    """Create the demo catalogue and stock once; a second call changes nothing."""
    from core.db import session

    if session.scalar(select(Warehouse.id).where(Warehouse.code == "MAIN")) is not None:
        return
    rng = random.Random(8)  # the same demo every time
    main = services.create_warehouse(
        {"code": "MAIN", "name": "Main warehouse", "address": "1 Depot Road"}
    )
    east = services.create_warehouse(
        {"code": "EAST", "name": "East branch", "address": "22 Harbour Street"}
    )
    leaves = []
    for top, children in CATEGORIES.items():
        parent = services.create_category(top)
        leaves += [services.create_category(c, parent) for c in children]
    for n in range(1, 201):
        cost = Decimal(rng.randint(100, 20000)) / 100
        product = services.create_product(
            {
                "sku": f"DEMO-{n:04d}",
                "name": f"Demo item {n}",
                "category_id": str(rng.choice(leaves).id),
                "uom": rng.choice(("EA", "EA", "BOX", "KG")),
                "type": "service" if n % 50 == 0 else "finished_good",
                "standard_cost": str(cost),
                "sales_price": str((cost * Decimal("1.4")).quantize(Decimal("0.01"))),
                "tax_rate": "20",
            }
        )
        if not product.stocked:
            continue
        services.receive(
            product, main, rng.randint(10, 200), unit_cost=cost, reference=("demo", "opening")
        )
        services.receive(
            product,
            east,
            rng.randint(0, 3) * 10 or 5,
            unit_cost=cost,
            reference=("demo", "opening"),
        )
        services.issue(product, main, rng.randint(1, 9), reference=("demo", "sale"))
        if n % 7 == 0:
            services.transfer(product, main, east, 3, reason="rebalance")
        if n % 10 == 0:
            services.set_reorder(product, east, 40, 100)
    session.commit()
