"""Reorder alerts, the catalogue (SKUs, kits, categories, units), record rules, CLI, demo."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from addons.inventory import services
from addons.inventory.models import Product, StockMovement, Warehouse
from core.db import session
from core.errors import Conflict, ValidationError
from core.event_models import Notification, OutboxEvent


def events(kind: str) -> list[dict]:
    return [
        e.payload
        for e in session.scalars(
            select(OutboxEvent).where(OutboxEvent.type == kind).order_by(OutboxEvent.created_at)
        )
    ]


def test_low_stock_alerts_once_per_crossing_and_notifies_inventory_users(inv, make_member):
    keeper = make_member(inv.tenant, roles=["storekeeper"])
    seller = make_member(inv.tenant, roles=["sales"])
    services.receive(inv.widget, inv.main, 10)
    services.set_reorder(inv.widget, inv.main, 5, 20)

    services.issue(inv.widget, inv.main, 4)  # 6 left: not below 5
    services.issue(inv.widget, inv.main, 2)  # 4 left: crosses
    services.issue(inv.widget, inv.main, 1)  # still low: no second alert
    assert [e["available"] for e in events("inventory.stock.low")] == ["4.0000"]
    assert [r["product"].sku for r in services.low_stock()] == ["WIDGET-1"]
    assert services.low_stock()[0]["suggested_quantity"] == 20

    notified = set(session.scalars(select(Notification.user_id)))
    assert keeper.id in notified and seller.id not in notified

    services.receive(inv.widget, inv.main, 10)  # recovers: the flag drops
    assert services.low_stock() == []
    services.reserve(inv.widget, inv.main, 10)  # crosses again through a reservation
    assert len(events("inventory.stock.low")) == 2


def test_every_movement_emits_stock_updated_and_calls_stock_moved(inv, app):
    from core.hookspecs import hookimpl
    from core.registry import current_registry

    seen = []

    class Watcher:
        @hookimpl
        def stock_moved(self, movement):
            seen.append((movement.kind, movement.quantity))

    registry = current_registry()
    registry.pm.register(Watcher(), name="inventory-test-watcher")
    registry._callers.clear()
    try:
        services.receive(inv.widget, inv.main, 3)
        services.transfer(inv.widget, inv.main, inv.east, 1)
    finally:
        registry.pm.unregister(name="inventory-test-watcher")
        registry._callers.clear()
    # The two sides of a transfer come in warehouse-id order (the lock order).
    assert seen[0] == ("receipt", 3)
    assert sorted(seen[1:]) == [("transfer_in", 1), ("transfer_out", -1)]
    kinds = [e["kind"] for e in events("inventory.stock.updated")]
    assert kinds[0] == "receipt" and sorted(kinds[1:]) == ["transfer_in", "transfer_out"]


def test_a_hook_can_veto_a_movement_and_nothing_is_written(inv):
    from core.errors import DomainError
    from core.hookspecs import hookimpl
    from core.registry import current_registry

    class Veto:
        @hookimpl
        def stock_moved(self, movement):
            raise DomainError("frozen for the audit", code="STOCK_FROZEN")

    registry = current_registry()
    registry.pm.register(Veto(), name="inventory-test-veto")
    registry._callers.clear()
    try:
        with pytest.raises(DomainError):
            services.receive(inv.widget, inv.main, 3)
    finally:
        registry.pm.unregister(name="inventory-test-veto")
        registry._callers.clear()
    assert session.scalar(select(func.count()).select_from(StockMovement)) == 0
    assert services.check_availability(inv.widget, inv.main).quantity_available == 0


def test_skus_are_unique_whatever_their_case(inv):
    with pytest.raises(services.DuplicateSku) as err:
        services.create_product({"sku": " widget-1 ", "name": "Again"})
    assert err.value.status == 409 and err.value.details == {"sku": ["already used by WIDGET-1"]}
    other = services.create_product({"sku": "W2", "name": "Two"})
    with pytest.raises(services.DuplicateSku):
        services.update_product(other, {"sku": "Widget-1"})


def test_products_validate_units_types_and_categories(inv):
    with pytest.raises(ValidationError) as err:
        services.create_product({"sku": "X", "name": "X", "uom": "PALLET"})
    assert err.value.details == {"uom": ["unknown unit 'PALLET'"]}
    services.create_uom("pallet", "Pallet")
    assert services.create_product({"sku": "X", "name": "X", "uom": "Pallet"}).uom == "PALLET"

    hardware = services.create_category("Hardware")
    bolts = services.create_category("Bolts", hardware)
    assert services.category_paths()[bolts.id] == "Hardware / Bolts"
    with pytest.raises(ValidationError):
        services.move_category(hardware, bolts)
    with pytest.raises(ValidationError) as err:
        services.create_product({"sku": "Y", "name": "Y", "category_id": str(inv.main.id)})
    assert err.value.details == {"category_id": ["no such category"]}


def test_kits_list_components_without_cycles(inv):
    screw = services.create_product({"sku": "SCREW", "name": "Screw"})
    kit = services.create_product({"sku": "KIT", "name": "Kit"})
    services.set_components(kit, [(inv.widget, 2), ("SCREW", "8")])
    assert sorted((c.component.sku, c.quantity) for c in kit.components) == [
        ("SCREW", Decimal(8)),
        ("WIDGET-1", Decimal(2)),
    ]
    with pytest.raises(ValidationError):
        services.set_components(screw, [(kit, 1)])
    with pytest.raises(ValidationError):
        services.set_components(kit, [(kit, 1)])


def test_archiving_needs_an_empty_shelf(inv):
    services.receive(inv.widget, inv.main, 1)
    with pytest.raises(Conflict):
        services.archive_product(inv.widget)
    services.issue(inv.widget, inv.main, 1)
    services.archive_product(inv.widget)
    assert session.scalar(select(Product).where(Product.sku_key == "widget-1")) is None


def test_valuation_per_warehouse_and_category_in_sql(inv):
    tools = services.create_category("Tools")
    hammer = services.create_product(
        {"sku": "HAMMER", "name": "Hammer", "category_id": str(tools.id)}
    )
    services.receive(inv.widget, inv.main, 10, unit_cost="1.10")
    services.receive(inv.widget, inv.east, 5, unit_cost="1.40")  # average 1.2
    services.receive(hammer, inv.east, 3, unit_cost="7.333")

    by_wh = {r["code"]: r for r in services.valuation("warehouse")}
    assert by_wh["MAIN"]["value"] == Decimal("12.00")
    assert by_wh["EAST"]["value"] == Decimal("28.00")  # 5 x 1.2 + 3 x 7.333 = 27.999
    by_cat = {r["name"]: r["value"] for r in services.valuation("category")}
    assert by_cat == {"Tools": Decimal("22.00"), "Uncategorised": Decimal("18.00")}
    assert all(isinstance(v, Decimal) for v in by_cat.values())


def test_storekeepers_see_only_their_warehouses(
    client, tenant, api_headers, make_member, as_tenant
):
    admin = api_headers(tenant, roles=["admin"])
    for code in ("NORTH", "SOUTH"):
        client.post(
            "/api/v1/inventory/warehouses", json={"code": code, "name": code}, headers=admin
        )
    client.post("/api/v1/inventory/products", json={"sku": "S1", "name": "S1"}, headers=admin)
    for code in ("NORTH", "SOUTH"):
        client.post(
            "/api/v1/inventory/transactions",
            json={"kind": "receipt", "product": "S1", "warehouse": code, "quantity": 2},
            headers=admin,
        )
    keeper = make_member(tenant, roles=["storekeeper"])
    with as_tenant(tenant):
        north = session.scalars(select(Warehouse).where(Warehouse.code == "NORTH")).one()
    r = client.post(
        f"/api/v1/inventory/warehouses/{north.id}/users",
        json={"user_id": str(keeper.id)},
        headers=admin,
    )
    assert r.status_code == 201
    resp = client.post(
        "/api/v1/auth/login",
        json={"email": keeper.email, "tenant": tenant.slug, "password": "correct horse battery"},
    )
    headers = {"Authorization": f"Bearer {resp.get_json()['data']['access_token']}"}

    codes = [
        w["code"]
        for w in client.get("/api/v1/inventory/warehouses", headers=headers).get_json()["data"]
    ]
    assert codes == ["NORTH"]
    moves = client.get("/api/v1/inventory/movements", headers=headers).get_json()["data"]
    assert {m["warehouse_id"] for m in moves} == {str(north.id)}
    south = client.post(
        "/api/v1/inventory/transactions",
        json={"kind": "issue", "product": "S1", "warehouse": "SOUTH", "quantity": 1},
        headers=headers,
    )
    assert south.status_code == 422
    assert south.get_json()["error"]["details"] == {"warehouse": ["no such warehouse"]}


def test_cli_imports_and_exports_products(runner, tenant, tmp_path, app):
    src = tmp_path / "products.csv"
    src.write_text("sku,name,uom,sales_price,taxable\nA-1,Apple,KG,1.20,yes\nB-2,Box,BOX,3,no\n")
    r = runner.invoke(["inventory", "import", str(src), "--tenant", tenant.slug])
    assert r.exit_code == 0, r.output
    assert "2 created, 0 updated" in r.output

    src.write_text("sku,name,uom\na-1,Apple (green),KG\n")
    assert (
        "0 created, 1 updated"
        in runner.invoke(["inventory", "import", str(src), "--tenant", tenant.slug]).output
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("sku,name,uom\nC-3,Cherry,PALLET\n")
    r = runner.invoke(["inventory", "import", str(bad), "--tenant", tenant.slug])
    assert r.exit_code == 1 and "line 2: uom: unknown unit 'PALLET'" in r.output

    out = runner.invoke(["inventory", "export", "--tenant", tenant.slug]).output
    assert out.splitlines()[0].startswith("sku,name,")
    assert "a-1,Apple (green)" in out and "B-2,Box" in out and "C-3" not in out


def test_demo_data_is_idempotent(session, make_tenant, as_tenant):
    from addons.inventory.demo import load

    t = make_tenant()
    with as_tenant(t):
        load()
        products = session.scalar(select(func.count()).select_from(Product))
        moves = session.scalar(select(func.count()).select_from(StockMovement))
        load()
        assert products == 200
        assert session.scalar(select(func.count()).select_from(StockMovement)) == moves
        assert services.ledger_mismatches() == []
        assert len(services.list_warehouses()) == 2


def test_a_storekeepers_receipt_averages_over_every_warehouse(
    client, tenant, api_headers, make_member, as_tenant
):
    """Record rules narrow what a storekeeper sees, never the product's own average cost."""
    admin = api_headers(tenant, roles=["admin"])
    for code in ("NORTH", "SOUTH"):
        client.post(
            "/api/v1/inventory/warehouses", json={"code": code, "name": code}, headers=admin
        )
    client.post("/api/v1/inventory/products", json={"sku": "AVG", "name": "Avg"}, headers=admin)
    client.post(
        "/api/v1/inventory/transactions",
        json={
            "kind": "receipt",
            "product": "AVG",
            "warehouse": "SOUTH",
            "quantity": 100,
            "unit_cost": "10",
        },
        headers=admin,
    )
    keeper = make_member(tenant, roles=["storekeeper"])
    with as_tenant(tenant):
        north = session.scalars(select(Warehouse).where(Warehouse.code == "NORTH")).one()
    client.post(
        f"/api/v1/inventory/warehouses/{north.id}/users",
        json={"user_id": str(keeper.id)},
        headers=admin,
    )
    resp = client.post(
        "/api/v1/auth/login",
        json={"email": keeper.email, "tenant": tenant.slug, "password": "correct horse battery"},
    )
    keeper_headers = {"Authorization": f"Bearer {resp.get_json()['data']['access_token']}"}
    r = client.post(
        "/api/v1/inventory/transactions",
        json={
            "kind": "receipt",
            "product": "AVG",
            "warehouse": "NORTH",
            "quantity": 10,
            "unit_cost": "20",
        },
        headers=keeper_headers,
    )
    assert r.status_code in (200, 201), r.get_json()
    with as_tenant(tenant):
        session.expire_all()
        product = session.scalars(select(Product).where(Product.sku == "AVG")).one()
    # (100 x 10 + 10 x 20) / 110, not 20 as if SOUTH did not exist.
    assert product.average_cost == Decimal("10.9091")


def test_fractional_quantities_add_up_exactly(inv):
    """0.7 + 0.1 leaves exactly 0.8 to issue, on SQLite (REAL storage) as on PostgreSQL."""
    services.receive(inv.widget, inv.east, "0.7")
    services.receive(inv.widget, inv.east, "0.1")
    services.issue(inv.widget, inv.east, "0.8")
    assert services.check_availability(inv.widget, inv.east).quantity_available == Decimal("0")


@pytest.mark.parametrize("code", ["   ", "\u001f"])
def test_a_warehouse_code_of_blanks_is_refused(inv, code):
    with pytest.raises(ValidationError) as err:
        services.create_warehouse({"code": code, "name": "Nowhere"})
    assert err.value.details == {"code": ["a code is required"]}
