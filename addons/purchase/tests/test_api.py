"""The purchase JSON API on the kernel's toolkit: orders, their actions, receipts, supplier
prices, and purchase's own routes (suppliers, reorder, settings)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures import count_rows

BASE = "/api/v1/purchase"


def _login(client: Any, tenant: Any, user: Any) -> dict[str, str]:
    resp = client.post(
        "/api/v1/auth/login",
        json={"email": user.email, "password": "correct horse battery", "tenant": tenant.slug},
    )
    return {"Authorization": f"Bearer {resp.get_json()['data']['access_token']}"}


def _order_body(w: Any, qty: str = "10", cost: str = "2.50") -> dict[str, Any]:
    return {
        "account_id": str(w.vendor.id),
        "warehouse_id": str(w.main.id),
        "expected_date": "2026-12-01",
        "lines": [
            {"product_id": str(w.widget.id), "quantity": qty, "unit_cost": cost, "tax_rate": "21"}
        ],
    }


def _create(client: Any, h: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    resp = client.post(f"{BASE}/orders", json=body, headers=h)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["data"]


def _confirmed(client: Any, h: dict[str, str], w: Any, qty: str = "10") -> dict[str, Any]:
    order = _create(client, h, _order_body(w, qty))
    resp = client.post(f"{BASE}/orders/{order['id']}/confirm", headers=h)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["data"]


def _receive(
    client: Any, h: dict[str, str], order: dict[str, Any], qty: str, **headers: str
) -> Any:
    return client.post(
        f"{BASE}/orders/{order['id']}/receive",
        headers={**h, **headers},
        json={"lines": [{"line_id": order["lines"][0]["id"], "quantity": qty}], "note": "dock 2"},
    )


@pytest.fixture()
def buyer(world: Any, api_headers: Any) -> dict[str, str]:
    """Bearer headers of a member with the purchasing role."""
    return api_headers(world.tenant, roles=["purchasing"])


# --- orders: create, read, change, delete ------------------------------------------------


def test_create_answers_201_with_the_order_its_lines_location_and_etag(client, world, buyer):
    resp = client.post(f"{BASE}/orders", json=_order_body(world), headers=buyer)
    assert resp.status_code == 201, resp.get_json()
    order = resp.get_json()["data"]
    assert order["state"] == "draft" and order["number"] is None
    assert order["amount_untaxed"] == "25.0000" and order["amount_total"] == "30.2500"
    assert order["lines"][0]["open_qty"] == "10.0000"
    assert resp.headers["Location"].endswith(f"/orders/{order['id']}")
    assert resp.headers["ETag"] == f'"{order["version"]}"'
    got = client.get(f"{BASE}/orders/{order['id']}", headers=buyer)
    assert got.get_json()["data"] == order and got.headers["ETag"] == resp.headers["ETag"]


def test_a_bad_line_answers_422_naming_the_field_and_writes_nothing(client, world, buyer):
    before = count_rows("purchase_order")
    body = _order_body(world, qty="0")
    resp = client.post(f"{BASE}/orders", json=body, headers=buyer)
    assert resp.status_code == 422
    assert resp.get_json()["error"]["details"] == {"lines.0.quantity": ["must be greater than 0"]}

    body["lines"][0]["quantity"] = "1"
    body["lines"].append({"product_id": str(world.service.id), "quantity": "1"})
    body["account_id"] = str(world.customer.id)
    details = client.post(f"{BASE}/orders", json=body, headers=buyer).get_json()["error"]["details"]
    assert "is not a vendor" in details["account_id"][0]
    assert "cannot be received into stock" in details["lines.1.product_id"][0]

    body = _order_body(world)
    body["version"] = 3  # a change's guard, not something a new order has
    resp = client.post(f"{BASE}/orders", json=body, headers=buyer)
    assert resp.get_json()["error"]["details"] == {"version": ["Unknown field."]}
    assert count_rows("purchase_order") == before


def test_patch_changes_the_given_fields_and_a_stale_if_match_answers_412(client, world, buyer):
    order = _create(client, buyer, _order_body(world))
    url = f"{BASE}/orders/{order['id']}"
    first_tag = f'"{order["version"]}"'
    patched = client.patch(url, json={"notes": "rush"}, headers={**buyer, "If-Match": first_tag})
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["data"]["notes"] == "rush"
    assert patched.get_json()["data"]["lines"] == order["lines"]  # left alone by a PATCH
    assert patched.headers["ETag"] != first_tag

    stale = client.patch(url, json={"notes": "late"}, headers={**buyer, "If-Match": first_tag})
    assert stale.status_code == 412
    assert stale.get_json()["error"]["code"] == "PRECONDITION_FAILED"
    assert client.get(url, headers=buyer).get_json()["data"]["notes"] == "rush"


def test_put_replaces_the_lines(client, world, buyer):
    order = _create(client, buyer, _order_body(world))
    body = _order_body(world)
    body["lines"] = [{"product_id": str(world.gadget.id), "quantity": "2"}]
    resp = client.put(f"{BASE}/orders/{order['id']}", json=body, headers=buyer)
    assert resp.status_code == 200, resp.get_json()
    lines = resp.get_json()["data"]["lines"]
    assert [ln["product_id"] for ln in lines] == [str(world.gadget.id)]
    assert lines[0]["unit_cost"] == "10.0000"  # the product's standard cost


def test_delete_removes_an_unnumbered_draft_only(client, world, buyer):
    draft = _create(client, buyer, _order_body(world))
    resp = client.delete(f"{BASE}/orders/{draft['id']}", headers=buyer)
    assert resp.status_code == 200 and resp.get_json()["data"]["deleted"] is True
    assert client.get(f"{BASE}/orders/{draft['id']}", headers=buyer).status_code == 404

    numbered = _confirmed(client, buyer, world)
    refused = client.delete(f"{BASE}/orders/{numbered['id']}", headers=buyer)
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "INVALID_STATE"
    assert "cancel it instead" in refused.get_json()["error"]["message"]


# --- lists ------------------------------------------------------------------------------


def test_list_filters_sorts_and_searches(client, world, buyer):
    small = _create(client, buyer, _order_body(world, "1"))
    big = _confirmed(client, buyer, world, "100")
    other = _order_body(world, "10")
    other["account_id"] = str(world.vendor2.id)
    mid = _create(client, buyer, other)

    def ids(query: str) -> list[str]:
        resp = client.get(f"{BASE}/orders?{query}", headers=buyer)
        assert resp.status_code == 200, resp.get_json()
        return [o["id"] for o in resp.get_json()["data"]]

    assert ids("sort=-amount_total") == [big["id"], mid["id"], small["id"]]
    assert ids("filter[state]=draft&sort=amount_total") == [small["id"], mid["id"]]
    assert ids("filter[state][in]=confirmed,received") == [big["id"]]
    assert ids(f"filter[account_id]={world.vendor2.id}") == [mid["id"]]
    assert set(ids(f"filter[warehouse_id]={world.main.id}")) == {small["id"], mid["id"], big["id"]}
    assert len(ids(f"filter[order_date][lte]={big['order_date']}")) == 3
    assert ids(f"q={big['number'][-5:]}") == [big["id"]]
    assert ids(f"filter[number]={big['number']}") == [big["id"]]
    listed = client.get(f"{BASE}/orders?per_page=2", headers=buyer).get_json()
    assert listed["meta"]["pagination"]["total"] == 3
    assert listed["meta"]["pagination"]["total_pages"] == 2


def test_list_walks_with_cursors_and_refuses_unknown_parameters(client, world, buyer):
    made = {_create(client, buyer, _order_body(world, str(q)))["id"] for q in range(1, 6)}
    seen: list[str] = []
    cursor = ""
    while cursor is not None:
        page = client.get(
            f"{BASE}/orders?per_page=2&sort=amount_total&cursor={cursor}", headers=buyer
        ).get_json()
        seen += [o["id"] for o in page["data"]]
        cursor = page["meta"]["pagination"]["next_cursor"]
    assert len(seen) == 5 and set(seen) == made

    old_style = client.get(f"{BASE}/orders?limit=10&offset=0", headers=buyer)
    assert old_style.status_code == 422
    assert "limit" in old_style.get_json()["error"]["details"]
    bad = client.get(f"{BASE}/orders?filter[notes][eq]=x", headers=buyer)
    assert bad.status_code == 422 and "filter[notes][eq]" in bad.get_json()["error"]["details"]


# --- actions ------------------------------------------------------------------------------


def test_order_lifecycle_confirm_receive_partly_close_and_return(client, world, buyer):
    order = _confirmed(client, buyer, world)
    assert order["state"] == "confirmed" and order["number"].startswith("PO-")

    got = _receive(client, buyer, order, "4")
    assert got.status_code == 201, got.get_json()
    receipt = got.get_json()["data"]
    assert receipt["number"].startswith("GR-") and receipt["kind"] == "receipt"
    assert receipt["note"] == "dock 2" and receipt["lines"][0]["quantity"] == "4.0000"
    now = client.get(f"{BASE}/orders/{order['id']}", headers=buyer).get_json()["data"]
    assert now["state"] == "partially_received" and now["lines"][0]["open_qty"] == "6.0000"

    refused = client.post(f"{BASE}/orders/{order['id']}/cancel", headers=buyer)
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "INVALID_STATE"
    assert "goods have been received" in refused.get_json()["error"]["message"]

    closed = client.post(f"{BASE}/orders/{order['id']}/close", headers=buyer)
    assert closed.status_code == 200 and closed.get_json()["data"]["state"] == "closed"
    back = client.post(
        f"{BASE}/orders/{order['id']}/return",
        headers=buyer,
        json={"lines": [{"line_id": order["lines"][0]["id"], "quantity": "1"}]},
    )
    assert back.status_code == 201, back.get_json()
    assert back.get_json()["data"]["kind"] == "return"
    assert back.get_json()["data"]["number"].startswith("RT-")
    too_many = client.post(
        f"{BASE}/orders/{order['id']}/return",
        headers=buyer,
        json={"lines": [{"line_id": order["lines"][0]["id"], "quantity": "4"}]},
    )
    assert too_many.status_code == 422
    assert (
        "no more can be returned" in too_many.get_json()["error"]["details"]["lines.0.quantity"][0]
    )


def test_receiving_more_than_open_is_refused_naming_the_line(client, world, buyer):
    order = _confirmed(client, buyer, world)
    assert _receive(client, buyer, order, "7").status_code == 201
    resp = _receive(client, buyer, order, "4")
    assert resp.status_code == 422
    message = resp.get_json()["error"]["details"]["lines.0.quantity"][0]
    assert message.startswith("only 3 of Widget can still be received")
    empty = client.post(f"{BASE}/orders/{order['id']}/receive", headers=buyer, json={"lines": []})
    assert empty.get_json()["error"]["details"] == {"lines": ["receive at least one line"]}


def test_a_retried_receive_with_the_same_idempotency_key_receives_once(client, world, buyer):
    order = _confirmed(client, buyer, world)
    before = count_rows("purchase_receipt")
    first = _receive(client, buyer, order, "4", **{"Idempotency-Key": "dock-2-0001"})
    again = _receive(client, buyer, order, "4", **{"Idempotency-Key": "dock-2-0001"})
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_json()["data"] == first.get_json()["data"]
    assert count_rows("purchase_receipt") == before + 1
    now = client.get(f"{BASE}/orders/{order['id']}", headers=buyer).get_json()["data"]
    assert now["lines"][0]["received_qty"] == "4.0000"

    other = _receive(client, buyer, order, "5", **{"Idempotency-Key": "dock-2-0001"})
    assert other.status_code == 409 and other.get_json()["error"]["code"] == "CONFLICT"


def test_send_numbers_the_order_and_checks_the_address(client, world, buyer):
    order = _create(client, buyer, _order_body(world))
    bad = client.post(f"{BASE}/orders/{order['id']}/send", headers=buyer, json={"to": "nobody"})
    assert bad.status_code == 422 and "to" in bad.get_json()["error"]["details"]
    sent = client.post(f"{BASE}/orders/{order['id']}/send", headers=buyer, json={})
    assert sent.status_code == 200, sent.get_json()
    assert sent.get_json()["data"]["state"] == "sent"
    assert sent.get_json()["data"]["number"].startswith("PO-")
    assert sent.get_json()["data"]["sent_at"] is not None


def test_an_action_with_a_stale_if_match_changes_nothing(client, world, buyer):
    order = _create(client, buyer, _order_body(world))
    client.patch(f"{BASE}/orders/{order['id']}", json={"notes": "x"}, headers=buyer)
    resp = client.post(
        f"{BASE}/orders/{order['id']}/confirm",
        headers={**buyer, "If-Match": f'"{order["version"]}"'},
    )
    assert resp.status_code == 412
    assert client.get(f"{BASE}/orders/{order['id']}", headers=buyer).get_json()["data"][
        "state"
    ] == ("draft")


# --- receipts ----------------------------------------------------------------------------


def test_receipts_are_listed_filtered_and_read_only(client, world, buyer):
    order = _confirmed(client, buyer, world)
    other = _confirmed(client, buyer, world)
    first = _receive(client, buyer, order, "2").get_json()["data"]
    _receive(client, buyer, other, "3")
    listed = client.get(f"{BASE}/receipts?filter[order_id]={order['id']}", headers=buyer)
    assert [r["id"] for r in listed.get_json()["data"]] == [first["id"]]
    assert (
        client.get(f"{BASE}/receipts?q={first['number']}", headers=buyer).get_json()["meta"][
            "pagination"
        ]["total"]
        == 1
    )
    got = client.get(f"{BASE}/receipts/{first['id']}", headers=buyer)
    assert got.status_code == 200 and got.get_json()["data"] == first
    assert client.post(f"{BASE}/receipts", json={}, headers=buyer).status_code == 405
    assert client.delete(f"{BASE}/receipts/{first['id']}", headers=buyer).status_code == 405


# --- permissions and tenants ---------------------------------------------------------------


def test_storekeepers_receive_but_do_not_buy(client, world, buyer, make_member):
    from addons.inventory import services as inventory

    storekeeper = make_member(world.tenant, roles=["storekeeper"])
    inventory.assign_user(world.main, storekeeper.id)  # storekeepers see their warehouses
    keeper = _login(client, world.tenant, storekeeper)
    denied = client.post(f"{BASE}/orders", json=_order_body(world), headers=keeper)
    assert denied.status_code == 403
    assert denied.get_json()["error"]["details"]["permission"] == ["purchase.orders:create"]
    order = _create(client, buyer, _order_body(world))
    assert client.post(f"{BASE}/orders/{order['id']}/confirm", headers=keeper).status_code == 403
    assert (
        client.patch(f"{BASE}/orders/{order['id']}", json={"notes": "x"}, headers=keeper)
    ).status_code == 403
    assert client.delete(f"{BASE}/orders/{order['id']}", headers=keeper).status_code == 403
    client.post(f"{BASE}/orders/{order['id']}/confirm", headers=buyer)
    assert client.get(f"{BASE}/orders/{order['id']}", headers=keeper).status_code == 200
    assert _receive(client, keeper, order, "10").status_code == 201
    assert client.post(f"{BASE}/orders/{order['id']}/close", headers=keeper).status_code == 403
    assert (
        client.put(f"{BASE}/suppliers/{world.vendor.id}", json={}, headers=keeper).status_code
        == 403
    )


def test_a_member_without_purchase_roles_sees_nothing(client, world, api_headers):
    sales = api_headers(world.tenant, roles=["sales"])
    for url in ("orders", "receipts", "supplier-prices", "suppliers", "settings"):
        resp = client.get(f"{BASE}/{url}", headers=sales)
        assert resp.status_code == 403, url


def test_another_tenants_orders_are_not_found(client, world, buyer, make_tenant, api_headers):
    order = _confirmed(client, buyer, world)
    outsider = api_headers(make_tenant(), roles=["purchasing"])
    assert client.get(f"{BASE}/orders/{order['id']}", headers=outsider).status_code == 404
    assert client.get(f"{BASE}/orders", headers=outsider).get_json()["data"] == []
    assert _receive(client, outsider, order, "1").status_code == 404
    assert (
        client.patch(f"{BASE}/orders/{order['id']}", json={"notes": "x"}, headers=outsider)
    ).status_code == 404
    assert client.get(f"{BASE}/orders/{order['id']}", headers=buyer).get_json()["data"]["lines"][0][
        "received_qty"
    ] == ("0.0000")


# --- supplier prices, suppliers, settings, reorder --------------------------------------------


def test_supplier_prices_crud_and_orders_use_them(client, world, buyer):
    url = f"{BASE}/supplier-prices"
    body = {
        "account_id": str(world.vendor.id),
        "product_id": str(world.widget.id),
        "price": "1.75",
        "supplier_code": "AC-W",
    }
    made = client.post(url, json=body, headers=buyer)
    assert made.status_code == 201, made.get_json()
    price = made.get_json()["data"]
    assert price["price"] == "1.7500" and price["min_quantity"] == "1.0000"
    assert (
        client.get(f"{url}?filter[account_id]={world.vendor2.id}", headers=buyer).get_json()["data"]
        == []
    )
    listed = client.get(f"{url}?filter[product_id]={world.widget.id}", headers=buyer).get_json()
    assert [p["id"] for p in listed["data"]] == [price["id"]]

    patched = client.patch(f"{url}/{price['id']}", json={"price": "1.60"}, headers=buyer)
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["data"]["price"] == "1.6000"
    assert patched.get_json()["data"]["supplier_code"] == "AC-W"
    moved = client.put(
        f"{url}/{price['id']}", json={**body, "product_id": str(world.gadget.id)}, headers=buyer
    )
    assert moved.status_code == 422 and "product_id" in moved.get_json()["error"]["details"]
    not_vendor = client.post(
        url, json={**body, "account_id": str(world.customer.id)}, headers=buyer
    )
    assert "is not a vendor" in not_vendor.get_json()["error"]["details"]["account_id"][0]

    order = _create(
        client,
        buyer,
        {
            "account_id": str(world.vendor.id),
            "warehouse_id": str(world.main.id),
            "lines": [{"product_id": str(world.widget.id), "quantity": "2"}],
        },
    )
    assert order["lines"][0]["unit_cost"] == "1.6000"

    assert client.delete(f"{url}/{price['id']}", headers=buyer).status_code == 200
    assert client.get(f"{url}/{price['id']}", headers=buyer).status_code == 404


def test_suppliers_terms_through_the_api(client, world, buyer):
    resp = client.put(
        f"{BASE}/suppliers/{world.vendor.id}",
        headers=buyer,
        json={"payment_terms": "30 days", "lead_time_days": 5, "currency": "USD"},
    )
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["data"] == {
        "account_id": str(world.vendor.id),
        "name": "Acme Supplies",
        "payment_terms": "30 days",
        "lead_time_days": 5,
        "currency": "USD",
        "open_orders": 0,
        "prices": 0,
    }
    refused = client.put(f"{BASE}/suppliers/{world.customer.id}", headers=buyer, json={})
    assert refused.status_code == 422
    assert "is not a vendor" in refused.get_json()["error"]["details"]["account_id"][0]
    bad = client.put(f"{BASE}/suppliers/{world.vendor.id}", headers=buyer, json={"currency": "x"})
    assert bad.status_code == 422 and "currency" in bad.get_json()["error"]["details"]
    suppliers = client.get(f"{BASE}/suppliers", headers=buyer).get_json()["data"]
    assert {s["name"]: s["currency"] for s in suppliers} == {
        "Acme Supplies": "USD",
        "Beta Parts": None,
    }
    order = _create(
        client,
        buyer,
        {
            "account_id": str(world.vendor.id),
            "warehouse_id": str(world.main.id),
            "lines": [{"product_id": str(world.widget.id), "quantity": "2"}],
        },
    )
    assert order["currency"] == "USD"


def test_settings_through_the_api(client, world, buyer):
    assert client.get(f"{BASE}/settings", headers=buyer).get_json()["data"] == {
        "receipt_tolerance_pct": "0.0000",
        "default_currency": "EUR",
        "auto_reorder": False,
    }
    resp = client.patch(f"{BASE}/settings", headers=buyer, json={"receipt_tolerance_pct": "5"})
    assert resp.status_code == 200
    assert resp.get_json()["data"]["receipt_tolerance_pct"] == "5.0000"
    bad = client.patch(f"{BASE}/settings", headers=buyer, json={"receipt_tolerance_pct": "150"})
    assert bad.status_code == 422
    assert bad.get_json()["error"]["details"] == {
        "receipt_tolerance_pct": ["must be between 0 and 100"]
    }
    assert client.get(f"{BASE}/settings", headers=buyer).get_json()["data"][
        "receipt_tolerance_pct"
    ] == ("5.0000")


def test_reorder_makes_drafts_for_low_stock(client, world, buyer):
    from addons.inventory import services as inventory

    client.post(
        f"{BASE}/supplier-prices",
        headers=buyer,
        json={"account_id": str(world.vendor.id), "product_id": str(world.widget.id), "price": "2"},
    )
    inventory.set_reorder(world.widget, world.main.id, "5", "20")
    resp = client.post(f"{BASE}/reorder", headers=buyer)
    assert resp.status_code == 201, resp.get_json()
    data = resp.get_json()["data"]
    assert [o["account_id"] for o in data["orders"]] == [str(world.vendor.id)]
    assert data["orders"][0]["state"] == "draft"
    assert data["orders"][0]["lines"][0]["quantity"] == "20.0000"


# --- the OpenAPI document ----------------------------------------------------------------


def test_the_openapi_document_lists_purchases_resources_and_actions(client, world, buyer):
    doc = client.get("/api/v1/openapi.json", headers=buyer).get_json()
    paths = doc["paths"]
    orders = f"{BASE}/orders"
    assert set(paths[orders]) == {"get", "post"}
    assert {"get", "put", "patch", "delete"} <= set(paths[f"{orders}/{{id}}"])
    for action in ("send", "confirm", "cancel", "close", "receive", "return"):
        assert "post" in paths[f"{orders}/{{id}}/{action}"], action
    receive = paths[f"{orders}/{{id}}/receive"]["post"]
    assert "purchase.orders:receive" in receive["description"] and "201" in receive["responses"]
    assert set(paths[f"{BASE}/receipts"]) == {"get"}
    assert set(paths[f"{BASE}/receipts/{{id}}"]) - {"parameters"} == {"get"}
    assert f"{BASE}/receipts/bulk" not in paths
    assert {"get", "post"} <= set(paths[f"{BASE}/supplier-prices"])
    names = {p["name"] for p in paths[orders]["get"]["parameters"]}
    assert {"filter[state][eq]", "filter[account_id][eq]", "filter[order_date][gte]", "q"} <= names
    for path, method in (
        ("/suppliers", "get"),
        ("/suppliers/{account_id}", "put"),
        ("/reorder", "post"),
        ("/settings", "get"),
        ("/settings", "patch"),
    ):
        assert method in paths[f"{BASE}{path}"], path  # the custom routes, @documented
    terms = paths[f"{BASE}/suppliers/{{account_id}}"]["put"]["requestBody"]["content"]
    terms_ref = terms["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    schemas = doc["components"]["schemas"]
    assert set(schemas[terms_ref]["properties"]) == {"payment_terms", "lead_time_days", "currency"}
    assert schemas["PurchaseOrders"]["properties"]["lines"]["type"] == "array"
    assert set(schemas["PurchaseOrdersCreate"]["required"]) == {"account_id", "warehouse_id"}


def test_a_page_of_orders_loads_their_lines_in_one_query(app, client, world, buyer):
    from sqlalchemy import event

    from core.db import get_db

    def selects_for(per_page: int) -> int:
        seen: list[str] = []

        def count(_conn, _cursor, statement, *_args):
            if "purchase_order_line" in statement and statement.lstrip().startswith("SELECT"):
                seen.append(statement)

        engine = get_db(app).engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            resp = client.get(f"{BASE}/orders?per_page={per_page}", headers=buyer)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        data = resp.get_json()["data"]
        assert len(data) == per_page and all(len(o["lines"]) == 1 for o in data)
        return len(seen)

    for _ in range(6):
        _create(client, buyer, _order_body(world))
    assert selects_for(2) == selects_for(6) == 1
