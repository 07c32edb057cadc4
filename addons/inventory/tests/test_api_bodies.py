"""The stock routes read their bodies like every API route: JSON only, parsed exactly, and a
field they do not know is refused with a 422 naming it, before anything is written."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures import count_rows

API = "/api/v1/inventory"


@pytest.fixture()
def stock(client: Any, tenant: Any, api_headers: Any, make_member: Any) -> dict[str, Any]:
    """A manager's headers, two warehouses, a product with 10 in MAIN, and another member."""
    headers = api_headers(tenant, roles=["manager"])
    main = client.post(f"{API}/warehouses", json={"code": "MAIN", "name": "Main"}, headers=headers)
    east = client.post(f"{API}/warehouses", json={"code": "EAST", "name": "East"}, headers=headers)
    product = client.post(
        f"{API}/products", json={"sku": "BOLT-8", "name": "Bolt M8"}, headers=headers
    )
    received = client.post(
        f"{API}/transactions",
        json={"kind": "receipt", "product": "BOLT-8", "warehouse": "MAIN", "quantity": 10},
        headers=headers,
    )
    assert received.status_code == 201, received.get_json()
    return {
        "headers": headers,
        "main": main.get_json()["data"],
        "east": east.get_json()["data"],
        "product": product.get_json()["data"],
        "member": make_member(tenant, roles=["sales"]),
    }


def _routes(s: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, a valid body) of each hand-written write route."""
    pid, wid = s["product"]["id"], s["main"]["id"]
    return [
        (
            "POST",
            f"{API}/transactions",
            {"kind": "issue", "product": pid, "warehouse": wid, "quantity": 1},
        ),
        (
            "POST",
            f"{API}/transfers",
            {"product": pid, "from_warehouse": "MAIN", "to_warehouse": "EAST", "quantity": 1},
        ),
        ("POST", f"{API}/counts", {"warehouse": "MAIN", "counts": {"BOLT-8": 9}}),
        ("PUT", f"{API}/stock/{pid}/reorder", {"warehouse": "MAIN", "reorder_point": 3}),
        ("POST", f"{API}/warehouses/{wid}/users", {"user_id": str(s["member"].id)}),
    ]


ROUTES = ["transactions", "transfers", "counts", "reorder", "users"]


def _route(s: dict[str, Any], name: str) -> tuple[str, str, dict[str, Any]]:
    return _routes(s)[ROUTES.index(name)]


def _state() -> tuple[int, int]:
    """What a refused request must leave untouched: the ledger and the assignments."""
    return count_rows("inventory_stock_movement"), count_rows("inventory_warehouse_user")


@pytest.mark.parametrize("name", ROUTES)
def test_an_unknown_field_is_refused_with_422_naming_it(client, stock, name):
    method, path, body = _route(stock, name)
    before = _state()
    resp = client.open(path, method=method, json={**body, "bogus": 1}, headers=stock["headers"])
    assert resp.status_code == 422, resp.get_json()
    error = resp.get_json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"] == {"bogus": ["Unknown field."]}
    assert _state() == before
    # The same body without the stray field goes through.
    fine = client.open(path, method=method, json=body, headers=stock["headers"])
    assert fine.status_code in (200, 201), fine.get_json()


@pytest.mark.parametrize("name", ROUTES)
def test_a_form_body_is_415_and_broken_json_is_400(client, stock, name):
    method, path, _ = _route(stock, name)
    before = _state()
    form = client.open(path, method=method, data={"warehouse": "MAIN"}, headers=stock["headers"])
    assert form.status_code == 415, form.get_json()
    assert form.get_json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    broken = client.open(
        path,
        method=method,
        data='{"warehouse": ',
        content_type="application/json",
        headers=stock["headers"],
    )
    assert broken.status_code == 400, broken.get_json()
    assert broken.get_json()["error"]["details"].keys() == {"body"}
    assert _state() == before


@pytest.mark.parametrize(
    "name,change,field",
    [
        ("counts", {"counts": ["BOLT-8", 9]}, "counts"),
        ("counts", {"warehouse": None}, "warehouse"),
        ("reorder", {"warehouse": 5}, "warehouse"),
        ("users", {"user_id": "not-an-id"}, "user_id"),
        ("transactions", {"kind": "theft"}, "kind"),
        ("transfers", {"reason": ["a", "list"]}, "reason"),
    ],
)
def test_a_field_of_the_wrong_type_is_named(client, stock, name, change, field):
    method, path, body = _route(stock, name)
    before = _state()
    resp = client.open(path, method=method, json={**body, **change}, headers=stock["headers"])
    assert resp.status_code == 422, resp.get_json()
    assert list(resp.get_json()["error"]["details"]) == [field]
    assert _state() == before


def test_a_missing_field_is_named(client, stock):
    pid = stock["product"]["id"]
    resp = client.put(
        f"{API}/stock/{pid}/reorder", json={"reorder_point": 3}, headers=stock["headers"]
    )
    assert resp.status_code == 422
    assert resp.get_json()["error"]["details"] == {
        "warehouse": ["Missing data for required field."]
    }
    users = client.post(
        f"{API}/warehouses/{stock['main']['id']}/users", json={}, headers=stock["headers"]
    )
    assert users.get_json()["error"]["details"] == {"user_id": ["Missing data for required field."]}


def test_movements_page_with_per_page_and_refuse_the_old_limit(client, stock):
    headers = stock["headers"]
    for quantity in (1, 2, 3, 4):  # five movements in all, most within the same second
        more = client.post(
            f"{API}/transactions",
            json={
                "kind": "receipt",
                "product": "BOLT-8",
                "warehouse": "MAIN",
                "quantity": quantity,
            },
            headers=headers,
        )
        assert more.status_code == 201, more.get_json()
    everything = client.get(f"{API}/movements?per_page=200", headers=headers).get_json()
    assert len(everything["data"]) == 5
    assert everything["meta"]["pagination"] == {"per_page": 200, "next_cursor": None}
    seen: list[str] = []
    pages = 0
    query: dict[str, Any] = {"per_page": 2}
    while True:
        page = client.get(f"{API}/movements", query_string=query, headers=headers).get_json()
        pages += 1
        assert len(page["data"]) <= 2 and "next_cursor" not in page["meta"]  # only in pagination
        seen += [m["id"] for m in page["data"]]
        cursor = page["meta"]["pagination"]["next_cursor"]
        if cursor is None:
            break
        assert pages < 5, "the cursor never ends"
        query["cursor"] = cursor
    # Walked in three pages, in the full list's order: none repeated, none skipped.
    assert pages == 3
    assert seen == [m["id"] for m in everything["data"]]
    old = client.get(f"{API}/movements?limit=1", headers=headers)
    assert old.status_code == 422
    assert list(old.get_json()["error"]["details"]) == ["limit"]
    too_many = client.get(f"{API}/movements?per_page=201", headers=headers)
    assert too_many.status_code == 422
    assert list(too_many.get_json()["error"]["details"]) == ["per_page"]
