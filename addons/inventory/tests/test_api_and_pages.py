"""The JSON API and the web pages, as storekeepers, sales people and managers use them."""

from __future__ import annotations

import pytest
from markupsafe import Markup

from core.hookspecs import hookimpl

API = "/api/v1/inventory"


@pytest.fixture()
def manager(tenant, api_headers):
    return api_headers(tenant, roles=["manager"])


def make_stock(client, headers):
    wh = client.post(f"{API}/warehouses", json={"code": "main", "name": "Main"}, headers=headers)
    assert wh.status_code == 201, wh.get_json()
    prod = client.post(
        f"{API}/products",
        json={"sku": "BOLT-8", "name": "Bolt M8", "sales_price": "0.20"},
        headers=headers,
    )
    assert prod.status_code == 201, prod.get_json()
    return wh.get_json()["data"], prod.get_json()["data"]


def test_product_crud_and_duplicate_sku(client, manager):
    _, prod = make_stock(client, manager)
    dup = client.post(f"{API}/products", json={"sku": "bolt-8", "name": "Again"}, headers=manager)
    assert dup.status_code == 409 and dup.get_json()["error"]["code"] == "DUPLICATE_SKU"

    bad = client.post(
        f"{API}/products",
        json={"sku": "X", "name": "X", "type": "gizmo", "sales_price": "abc"},
        headers=manager,
    )
    assert bad.status_code == 422
    assert set(bad.get_json()["error"]["details"]) == {"type", "sales_price"}

    upd = client.patch(
        f"{API}/products/{prod['id']}",
        json={"name": "Bolt M8 zinc", "version": prod["version"]},
        headers=manager,
    )
    assert upd.status_code == 200 and upd.get_json()["data"]["name"] == "Bolt M8 zinc"
    stale = client.patch(
        f"{API}/products/{prod['id']}",
        json={"name": "Old", "version": prod["version"]},
        headers=manager,
    )
    assert stale.status_code == 409

    assert client.delete(f"{API}/products/{prod['id']}", headers=manager).status_code == 200
    assert client.get(f"{API}/products/{prod['id']}", headers=manager).status_code == 404


def test_product_attributes_keep_their_numbers(client, manager):
    # Bodies are parsed with exact decimals; the JSON column must still store the numbers.
    attributes = {"weight_kg": 1.5, "pack": 12, "size": {"width": 0.25, "unit": "m"}}
    made = client.post(
        f"{API}/products",
        json={"sku": "ROPE-1", "name": "Rope", "attributes": attributes},
        headers=manager,
    )
    assert made.status_code == 201, made.get_json()
    got = client.get(f"{API}/products/{made.get_json()['data']['id']}", headers=manager)
    assert got.get_json()["data"]["attributes"] == attributes


def test_transactions_check_movements_and_insufficient_stock(client, manager):
    wh, prod = make_stock(client, manager)
    r = client.post(
        f"{API}/transactions",
        json={
            "kind": "receipt",
            "product": prod["id"],
            "warehouse": wh["code"],
            "quantity": 10,
            "unit_cost": "0.05",
            "reference_type": "purchase_order",
            "reference_id": "PO-7",
        },
        headers=manager,
    )
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["data"]["quantity_after"] == "10"

    check = client.get(
        f"{API}/stock/{prod['id']}/check?warehouse={wh['id']}&quantity=11", headers=manager
    ).get_json()["data"]
    assert (check["quantity_available"], check["is_available"]) == ("10", False)

    too_much = client.post(
        f"{API}/transactions",
        json={"kind": "issue", "product": "BOLT-8", "warehouse": wh["id"], "quantity": 11},
        headers=manager,
    )
    assert too_much.status_code == 409
    assert too_much.get_json()["error"]["code"] == "INSUFFICIENT_STOCK"

    negative = client.post(
        f"{API}/transactions",
        json={"kind": "issue", "product": "BOLT-8", "warehouse": wh["id"], "quantity": -1},
        headers=manager,
    )
    assert negative.status_code == 422
    assert negative.get_json()["error"]["details"] == {"quantity": ["must be greater than zero"]}

    for _ in range(3):
        client.post(
            f"{API}/transactions",
            json={"kind": "issue", "product": "BOLT-8", "warehouse": wh["id"], "quantity": 1},
            headers=manager,
        )
    page1 = client.get(f"{API}/movements?product={prod['id']}&per_page=2", headers=manager)
    body = page1.get_json()
    assert [m["kind"] for m in body["data"]] == ["issue", "issue"]
    pagination = body["meta"]["pagination"]  # the envelope's place, as toolkit lists
    assert pagination["per_page"] == 2 and pagination["next_cursor"]
    page2 = client.get(
        f"{API}/movements?product={prod['id']}&per_page=2&cursor={pagination['next_cursor']}",
        headers=manager,
    ).get_json()
    assert [m["kind"] for m in page2["data"]] == ["issue", "receipt"]
    assert page2["meta"]["pagination"] == {"per_page": 2, "next_cursor": None}

    val = client.get(f"{API}/valuation", headers=manager).get_json()
    assert val["data"][0]["value"] == "0.35" and val["meta"]["total_value"] == "0.35"


def test_transfers_low_stock_and_reorder(client, manager):
    wh, prod = make_stock(client, manager)
    east = client.post(
        f"{API}/warehouses", json={"code": "EAST", "name": "East"}, headers=manager
    ).get_json()["data"]
    client.post(
        f"{API}/transactions",
        json={"kind": "receipt", "product": prod["id"], "warehouse": wh["id"], "quantity": 5},
        headers=manager,
    )
    same = client.post(
        f"{API}/transfers",
        json={
            "product": prod["id"],
            "from_warehouse": wh["id"],
            "to_warehouse": wh["id"],
            "quantity": 1,
        },
        headers=manager,
    )
    assert same.status_code == 422 and "to_warehouse" in same.get_json()["error"]["details"]
    ok = client.post(
        f"{API}/transfers",
        json={
            "product": prod["id"],
            "from_warehouse": "MAIN",
            "to_warehouse": "EAST",
            "quantity": 2,
        },
        headers=manager,
    )
    assert ok.status_code == 201

    r = client.put(
        f"{API}/stock/{prod['id']}/reorder",
        json={"warehouse": east["id"], "reorder_point": 3, "reorder_quantity": 10},
        headers=manager,
    )
    assert r.status_code == 200 and r.get_json()["data"]["is_low"] is True
    low = client.get(f"{API}/low-stock", headers=manager).get_json()["data"]
    assert [(x["sku"], x["warehouse_code"], x["suggested_quantity"]) for x in low] == [
        ("BOLT-8", "EAST", "10")
    ]


def test_sales_reads_but_cannot_move_stock(client, tenant, manager, api_headers):
    wh, prod = make_stock(client, manager)
    sales = api_headers(tenant, roles=["sales"])
    assert client.get(f"{API}/products", headers=sales).status_code == 200
    r = client.post(
        f"{API}/transactions",
        json={"kind": "receipt", "product": prod["id"], "warehouse": wh["id"], "quantity": 1},
        headers=sales,
    )
    assert r.status_code == 403


def test_storekeepers_cannot_adjust_but_managers_can(client, tenant, manager, api_headers):
    wh, prod = make_stock(client, manager)
    keeper = api_headers(tenant, roles=["storekeeper"])
    body = {
        "kind": "adjustment",
        "product": prod["id"],
        "warehouse": wh["id"],
        "quantity": 3,
        "reason": "found behind the shelf",
    }
    assert client.post(f"{API}/transactions", json=body, headers=keeper).status_code == 403
    r = client.post(f"{API}/transactions", json=body, headers=manager)
    assert r.status_code == 201
    noreason = client.post(f"{API}/transactions", json={**body, "reason": ""}, headers=manager)
    assert noreason.status_code == 422 and "reason" in noreason.get_json()["error"]["details"]


class Panels:
    """A plugin adding a panel and a form section."""

    @hookimpl
    def product_page_panels(self, product):
        return [{"title": "Suppliers", "html": Markup("<p id='sup'>ACME</p>")}]

    @hookimpl
    def product_form_sections(self, product):
        return [{"title": "Purchasing", "html": "<b>escaped</b>"}]


@pytest.fixture()
def with_panels(app):
    from core.registry import current_registry

    with app.app_context():
        registry = current_registry()
    plugin = Panels()
    registry.pm.register(plugin, name="inventory-test-panels")
    registry._callers.clear()
    yield
    registry.pm.unregister(plugin)
    registry._callers.clear()


def login(client, make_member, tenant, roles):
    user = make_member(tenant, roles=roles)
    r = client.post(
        "/login",
        data={"email": user.email, "password": "correct horse battery", "tenant": tenant.slug},
    )
    assert r.status_code in (302, 303), r.data[:300]


def test_web_pages_show_stock_and_take_forms(client, tenant, make_member, with_panels):
    login(client, make_member, tenant, ["manager"])
    r = client.post("/inventory/warehouses", data={"code": "MAIN", "name": "Main"})
    assert r.status_code == 303  # the old list form still creates, then shows the warehouse
    r = client.post(
        "/inventory/products/new",
        data={
            "sku": "NUT-8",
            "name": "Nut M8",
            "uom": "EA",
            "type": "finished_good",
            "status": "active",
            "track_inventory": "on",
        },
    )
    assert r.status_code == 302, r.data[:500]
    page = client.get("/inventory/stock/receive")
    assert b"Unit cost" in page.data
    from addons.inventory.models import Warehouse  # noqa: F401

    wh_id = page.data.split(b'<option value="')[1].split(b'"')[0].decode()
    r = client.post(
        "/inventory/stock/receive",
        data={"product": "NUT-8", "warehouse": wh_id, "quantity": "12", "unit_cost": "0.1"},
    )
    assert r.status_code == 302, r.data.decode()[-1500:]
    detail = client.get(r.headers["Location"])
    assert b"receipt" in detail.data and b"<p id='sup'>ACME</p>" in detail.data
    bad = client.post(
        "/inventory/stock/issue", data={"product": "NUT-8", "warehouse": wh_id, "quantity": "13"}
    )
    assert bad.status_code == 422 and b"insufficient stock" in bad.data
    listing = client.get("/inventory/products")
    assert b"NUT-8" in listing.data and b"12" in listing.data
    form = client.get(detail.request.path + "/edit")
    assert b"&lt;b&gt;escaped&lt;/b&gt;" in form.data
    for path in (
        "/inventory/warehouses",
        "/inventory/low-stock",
        "/inventory/valuation",
        "/inventory/valuation?by=category",
        "/inventory/products/export.csv",
        "/inventory/warehouses/export.csv",
        "/inventory/warehouses/new",
        "/inventory/stock/transfer",
        "/inventory/stock/adjust",
    ):
        assert client.get(path).status_code == 200, path
    old_csv = client.get("/inventory/products.csv?q=nut")
    assert old_csv.status_code == 308
    assert old_csv.headers["Location"].endswith("/inventory/products/export.csv?q=nut")
