"""The purchase JSON API: orders CRUD, confirm, receive, cancel, suppliers, receipts, roles."""

from __future__ import annotations

from typing import Any

from tests.fixtures import count_rows


def _login(client: Any, tenant: Any, user: Any) -> dict[str, str]:
    resp = client.post(
        "/api/v1/auth/login",
        json={"email": user.email, "password": "correct horse battery", "tenant": tenant.slug},
    )
    return {"Authorization": f"Bearer {resp.get_json()['data']['access_token']}"}


def _order_body(w: Any, qty: str = "10") -> dict[str, Any]:
    return {
        "account_id": str(w.vendor.id),
        "warehouse_id": str(w.main.id),
        "expected_date": "2026-12-01",
        "lines": [
            {"product_id": str(w.widget.id), "quantity": qty, "unit_cost": "2.50", "tax_rate": "21"}
        ],
    }


def test_order_lifecycle_through_the_api(client, world, api_headers):
    h = api_headers(world.tenant, roles=["purchasing"])
    made = client.post("/api/v1/purchase/orders", json=_order_body(world), headers=h)
    assert made.status_code == 201, made.get_json()
    order = made.get_json()["data"]
    assert order["state"] == "draft" and order["amount_total"] == "30.2500"
    oid, line_id = order["id"], order["lines"][0]["id"]

    patched = client.patch(f"/api/v1/purchase/orders/{oid}", json={"notes": "rush"}, headers=h)
    assert patched.get_json()["data"]["notes"] == "rush"
    listed = client.get("/api/v1/purchase/orders?state=draft", headers=h).get_json()
    assert [o["id"] for o in listed["data"]] == [oid] and listed["meta"]["total"] == 1

    confirmed = client.post(f"/api/v1/purchase/orders/{oid}/confirm", headers=h).get_json()
    assert confirmed["data"]["state"] == "confirmed"
    assert confirmed["data"]["number"].startswith("PO-")

    got = client.post(
        f"/api/v1/purchase/orders/{oid}/receive",
        headers=h,
        json={"lines": [{"line_id": line_id, "quantity": "4"}]},
    )
    assert got.status_code == 201 and got.get_json()["data"]["number"].startswith("GR-")
    receipts = client.get(f"/api/v1/purchase/receipts?order_id={oid}", headers=h).get_json()
    assert len(receipts["data"]) == 1

    refused = client.post(f"/api/v1/purchase/orders/{oid}/cancel", headers=h)
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "INVALID_STATE"
    assert "goods have been received" in refused.get_json()["error"]["message"]


def test_bad_input_answers_422_naming_the_fields_and_writes_nothing(client, world, api_headers):
    h = api_headers(world.tenant, roles=["purchasing"])
    before = count_rows("purchase_order")
    body = _order_body(world, qty="0")
    body["account_id"] = str(world.customer.id)
    resp = client.post("/api/v1/purchase/orders", json=body, headers=h)
    assert resp.status_code == 422
    details = resp.get_json()["error"]["details"]
    assert set(details) == {"lines.0.quantity"}  # schema errors come first
    body["lines"][0]["quantity"] = "1"
    details = client.post("/api/v1/purchase/orders", json=body, headers=h).get_json()["error"][
        "details"
    ]
    assert "is not a vendor" in details["account_id"][0]
    assert count_rows("purchase_order") == before


def test_receiving_more_than_open_answers_422(client, world, api_headers):
    h = api_headers(world.tenant, roles=["purchasing"])
    order = client.post("/api/v1/purchase/orders", json=_order_body(world), headers=h).get_json()[
        "data"
    ]
    client.post(f"/api/v1/purchase/orders/{order['id']}/confirm", headers=h)
    resp = client.post(
        f"/api/v1/purchase/orders/{order['id']}/receive",
        headers=h,
        json={"lines": [{"line_id": order["lines"][0]["id"], "quantity": "11"}]},
    )
    assert resp.status_code == 422
    assert "can still be received" in resp.get_json()["error"]["details"]["lines.0.quantity"][0]


def test_storekeepers_receive_but_do_not_buy(client, world, api_headers, make_member):
    from addons.inventory import services as inventory

    buyer = api_headers(world.tenant, roles=["purchasing"])
    storekeeper = make_member(world.tenant, roles=["storekeeper"])
    inventory.assign_user(world.main, storekeeper.id)  # storekeepers see their warehouses
    keeper = _login(client, world.tenant, storekeeper)
    assert (
        client.post("/api/v1/purchase/orders", json=_order_body(world), headers=keeper).status_code
        == 403
    )
    order = client.post(
        "/api/v1/purchase/orders", json=_order_body(world), headers=buyer
    ).get_json()["data"]
    assert (
        client.post(f"/api/v1/purchase/orders/{order['id']}/confirm", headers=keeper).status_code
        == 403
    )
    client.post(f"/api/v1/purchase/orders/{order['id']}/confirm", headers=buyer)
    resp = client.post(
        f"/api/v1/purchase/orders/{order['id']}/receive",
        headers=keeper,
        json={"lines": [{"line_id": order["lines"][0]["id"], "quantity": "10"}]},
    )
    assert resp.status_code == 201


def test_suppliers_and_prices(client, world, api_headers):
    h = api_headers(world.tenant, roles=["purchasing"])
    resp = client.put(
        f"/api/v1/purchase/suppliers/{world.vendor.id}",
        headers=h,
        json={"payment_terms": "30 days", "lead_time_days": 5, "currency": "USD"},
    )
    assert resp.status_code == 200 and resp.get_json()["data"]["lead_time_days"] == 5
    refused = client.put(f"/api/v1/purchase/suppliers/{world.customer.id}", headers=h, json={})
    assert refused.status_code == 422
    names = {
        s["name"] for s in client.get("/api/v1/purchase/suppliers", headers=h).get_json()["data"]
    }
    assert names == {"Acme Supplies", "Beta Parts"}
    price = client.post(
        "/api/v1/purchase/supplier-prices",
        headers=h,
        json={
            "account_id": str(world.vendor.id),
            "product_id": str(world.widget.id),
            "price": "1.75",
            "supplier_code": "AC-W",
        },
    )
    assert price.status_code == 201
    order = client.post(
        "/api/v1/purchase/orders",
        headers=h,
        json={
            "account_id": str(world.vendor.id),
            "warehouse_id": str(world.main.id),
            "lines": [{"product_id": str(world.widget.id), "quantity": "2"}],
        },
    ).get_json()["data"]
    assert order["currency"] == "USD" and order["lines"][0]["unit_cost"] == "1.7500"


def test_settings_tolerance_through_the_api(client, world, api_headers):
    h = api_headers(world.tenant, roles=["purchasing"])
    assert client.get("/api/v1/purchase/settings", headers=h).get_json()["data"] == {
        "receipt_tolerance_pct": "0.0000",
        "default_currency": "EUR",
        "auto_reorder": False,
    }
    resp = client.patch("/api/v1/purchase/settings", headers=h, json={"receipt_tolerance_pct": "5"})
    assert resp.get_json()["data"]["receipt_tolerance_pct"] == "5.0000"
    bad = client.patch(
        "/api/v1/purchase/settings", headers=h, json={"receipt_tolerance_pct": "150"}
    )
    assert bad.status_code == 422
    assert bad.get_json()["error"]["details"] == {
        "receipt_tolerance_pct": ["must be between 0 and 100"]
    }
