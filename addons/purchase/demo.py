"""Demo data: three vendors with terms and prices, orders in every state, some received."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from addons.purchase import services
from addons.purchase.models import PurchaseOrder
from core.db import session
from core.errors import ValidationError

MARK = "Demo purchase order"
VENDORS = (
    ("Nordic Timber Supply", "orders@nordic-timber.example", "30 days net", 7),
    ("Bolt & Nut Wholesale", "sales@boltnut.example", "14 days net", 3),
    ("Paint Partners GmbH", "einkauf@paintpartners.example", "prepayment", 10),
)
PRODUCTS = (
    ("PO-DEMO-PLANK", "Oak plank 2 m", "18.50"),
    ("PO-DEMO-SCREW", "Wood screws (box)", "4.20"),
    ("PO-DEMO-VARNISH", "Clear varnish 1 L", "11.90"),
)


def _vendor(name: str, email: str) -> Any:
    from addons.contacts import services as contacts

    for account in contacts.list_accounts(q=name, limit=5).items:
        if account.name == name:
            return account
    return contacts.create_account({"name": name, "kinds": ["vendor"], "email": email})


def _product(sku: str, name: str, cost: str) -> Any:
    from addons.inventory import services as inventory

    try:
        return inventory.get_product(sku)
    except ValidationError:
        return inventory.create_product(
            {"sku": sku, "name": name, "standard_cost": cost, "tax_rate": "21"}
        )


def _warehouse() -> Any:
    from addons.inventory import services as inventory

    found = inventory.list_warehouses(include_inactive=False)
    return (
        found[0]
        if found
        else inventory.create_warehouse({"code": "MAIN", "name": "Main warehouse"})
    )


def load(tenant_id: uuid.UUID) -> None:
    """Add the demo once: nothing happens when its orders are already there."""
    if session.scalar(select(PurchaseOrder.id).where(PurchaseOrder.notes == MARK).limit(1)):
        return
    warehouse = _warehouse()
    products = [_product(*p) for p in PRODUCTS]
    vendors = []
    for name, email, terms, lead in VENDORS:
        account = _vendor(name, email)
        services.set_supplier_terms(
            {
                "account_id": str(account.id),
                "payment_terms": terms,
                "lead_time_days": lead,
                "currency": "EUR",
            }
        )
        vendors.append(account)
    for account, product in zip(vendors, products, strict=True):
        base = Decimal(product.standard_cost or 1)
        services.set_supplier_price(
            {
                "account_id": str(account.id),
                "product_id": str(product.id),
                "supplier_code": f"V-{product.sku[-5:]}",
                "price": str(base),
            }
        )
        bulk = (base * Decimal("0.9")).quantize(Decimal("0.01"))
        services.set_supplier_price(
            {
                "account_id": str(account.id),
                "product_id": str(product.id),
                "price": str(bulk),
                "min_quantity": "100",
            }
        )

    def order(account: Any, lines: list[tuple[Any, str]]) -> PurchaseOrder:
        return services.create_order(
            {
                "account_id": str(account.id),
                "warehouse_id": str(warehouse.id),
                "notes": MARK,
                "lines": [{"product_id": str(p.id), "quantity": q} for p, q in lines],
            }
        )

    order(vendors[0], [(products[0], "40")])  # stays a draft
    sent = order(vendors[1], [(products[1], "120")])
    services.send_order(sent.id)
    for i, (account, product) in enumerate(zip(vendors, products, strict=True)):
        o = order(account, [(product, "50"), (products[(i + 1) % 3], "20")])
        services.confirm_order(o.id)
        if i == 0:  # fully received, over two deliveries
            services.receive(o.id, {"lines": [{"line_id": str(o.lines[0].id), "quantity": "30"}]})
            services.receive(
                o.id,
                {
                    "lines": [
                        {"line_id": str(o.lines[0].id), "quantity": "20"},
                        {"line_id": str(o.lines[1].id), "quantity": "20"},
                    ]
                },
            )
        elif i == 1:  # partly received
            services.receive(o.id, {"lines": [{"line_id": str(o.lines[0].id), "quantity": "25"}]})
