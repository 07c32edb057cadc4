"""Products and warehouses on the kernel's API toolkit: filters, sort, ETags, bulk,
idempotency, the OpenAPI document, and the services' rules behind each write."""

from __future__ import annotations

import pytest

API = "/api/v1/inventory"


@pytest.fixture()
def manager(tenant, api_headers):
    return api_headers(tenant, roles=["manager"])


def _create(client, headers, **body):
    r = client.post(f"{API}/products", json={"name": body.get("sku", "P"), **body}, headers=headers)
    assert r.status_code == 201, r.get_json()
    return r


def _total(client, headers):
    body = client.get(f"{API}/products", headers=headers).get_json()
    return body["meta"]["pagination"]["total"]


def test_list_filters_sorts_and_pages(client, manager):
    for sku in ("BOLT-8", "BOLT-10", "NUT-8", "WASHER"):
        _create(client, manager, sku=sku)
    r = client.get(f"{API}/products?filter[sku][contains]=bolt&sort=-sku", headers=manager)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert [p["sku"] for p in body["data"]] == ["BOLT-8", "BOLT-10"]
    assert body["meta"]["pagination"]["total"] == 2
    skus = [
        p["sku"]
        for p in client.get(f"{API}/products?sort=-sku&per_page=10", headers=manager).get_json()[
            "data"
        ]
    ]
    assert skus == ["WASHER", "NUT-8", "BOLT-8", "BOLT-10"]
    page = client.get(f"{API}/products?sort=sku&per_page=3&page=2", headers=manager).get_json()
    assert page["meta"]["pagination"]["total_pages"] == 2 and len(page["data"]) == 1
    found = client.get(f"{API}/products?q=wash", headers=manager).get_json()["data"]
    assert [p["sku"] for p in found] == ["WASHER"]
    bad = client.get(f"{API}/products?filter[sales_price][gt]=1", headers=manager)
    assert bad.status_code == 422


def test_validation_errors_name_the_fields(client, manager):
    r = client.post(
        f"{API}/products",
        json={"sku": "X", "name": "X", "type": "gizmo", "colour": "red"},
        headers=manager,
    )
    assert r.status_code == 422
    error = r.get_json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert set(error["details"]) == {"type", "colour"}


def test_etag_and_if_match(client, manager):
    created = _create(client, manager, sku="E-1")
    pid = created.get_json()["data"]["id"]
    got = client.get(f"{API}/products/{pid}", headers=manager)
    assert got.status_code == 200 and got.headers["ETag"] == '"1"'
    ok = client.patch(
        f"{API}/products/{pid}", json={"name": "Changed"}, headers={**manager, "If-Match": '"1"'}
    )
    assert ok.status_code == 200 and ok.headers["ETag"] == '"2"'
    stale = client.patch(
        f"{API}/products/{pid}", json={"name": "Lost"}, headers={**manager, "If-Match": '"1"'}
    )
    assert stale.status_code == 412
    assert stale.get_json()["error"]["code"] == "PRECONDITION_FAILED"
    assert client.get(f"{API}/products/{pid}", headers=manager).get_json()["data"]["name"] == (
        "Changed"
    )


def test_duplicate_sku_is_a_409_and_a_bulk_with_one_writes_nothing(client, manager):
    _create(client, manager, sku="DUP-1")
    dup = client.post(f"{API}/products", json={"sku": "dup-1", "name": "Again"}, headers=manager)
    assert dup.status_code == 409 and dup.get_json()["error"]["code"] == "DUPLICATE_SKU"
    bulk = client.post(
        f"{API}/products/bulk",
        json={
            "items": [
                {"sku": "NEW-1", "name": "New 1"},
                {"sku": "NEW-2", "name": "New 2"},
                {"sku": "DUP-1", "name": "Clash"},
            ]
        },
        headers=manager,
    )
    assert bulk.status_code == 409, bulk.get_json()
    error = bulk.get_json()["error"]
    assert error["code"] == "DUPLICATE_SKU" and "items.2" in error["details"]
    assert _total(client, manager) == 1
    fine = client.post(
        f"{API}/products/bulk",
        json={"items": [{"sku": "NEW-1", "name": "New 1"}, {"sku": "NEW-2", "name": "New 2"}]},
        headers=manager,
    )
    assert fine.status_code == 201 and len(fine.get_json()["data"]) == 2
    assert _total(client, manager) == 3


def test_an_idempotency_key_replay_creates_one_product(client, manager):
    h = {**manager, "Idempotency-Key": "import-7"}
    first = client.post(f"{API}/products", json={"sku": "ONCE", "name": "Once"}, headers=h)
    again = client.post(f"{API}/products", json={"sku": "ONCE", "name": "Once"}, headers=h)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["data"] == first.get_json()["data"]
    assert _total(client, manager) == 1


def test_delete_archives_and_refuses_a_product_with_stock(client, manager):
    wh = client.post(f"{API}/warehouses", json={"code": "main", "name": "Main"}, headers=manager)
    assert wh.status_code == 201 and wh.get_json()["data"]["code"] == "MAIN"
    pid = _create(client, manager, sku="STOCKED").get_json()["data"]["id"]
    client.post(
        f"{API}/transactions",
        json={"kind": "receipt", "product": pid, "warehouse": "MAIN", "quantity": 1},
        headers=manager,
    )
    refused = client.delete(f"{API}/products/{pid}", headers=manager)
    assert refused.status_code == 409 and "product" in refused.get_json()["error"]["details"]
    empty = _create(client, manager, sku="EMPTY").get_json()["data"]["id"]
    gone = client.delete(f"{API}/products/{empty}", headers=manager)
    assert gone.status_code == 200 and gone.get_json()["data"] == {"id": empty, "deleted": True}
    assert client.get(f"{API}/products/{empty}", headers=manager).status_code == 404
    # A warehouse with stock history is not deleted; one without is.
    wid = wh.get_json()["data"]["id"]
    assert client.delete(f"{API}/warehouses/{wid}", headers=manager).status_code == 409
    spare = client.post(f"{API}/warehouses", json={"code": "SPARE", "name": "S"}, headers=manager)
    sid = spare.get_json()["data"]["id"]
    assert client.delete(f"{API}/warehouses/{sid}", headers=manager).status_code == 200
    codes = [w["code"] for w in client.get(f"{API}/warehouses", headers=manager).get_json()["data"]]
    assert codes == ["MAIN"]


def test_warehouse_permissions_and_the_storekeeper_rule(client, tenant, manager, api_headers):
    ids = {}
    for code in ("NORTH", "SOUTH"):
        r = client.post(f"{API}/warehouses", json={"code": code, "name": code}, headers=manager)
        ids[code] = r.get_json()["data"]["id"]
    renamed = client.patch(
        f"{API}/warehouses/{ids['NORTH']}", json={"name": "North hall"}, headers=manager
    )
    assert renamed.status_code == 200 and renamed.get_json()["data"]["name"] == "North hall"
    purchasing = api_headers(tenant, roles=["purchasing"])
    assert client.get(f"{API}/warehouses", headers=purchasing).status_code == 200
    denied = client.post(f"{API}/warehouses", json={"code": "X", "name": "X"}, headers=purchasing)
    assert denied.status_code == 403
    assert denied.get_json()["error"]["details"]["permission"] == ["inventory.warehouses:manage"]

    keeper = api_headers(tenant, roles=["storekeeper"])
    me = client.get("/api/v1/auth/me", headers=keeper).get_json()["data"]
    user_id = me["user_id"]
    r = client.post(
        f"{API}/warehouses/{ids['NORTH']}/users", json={"user_id": user_id}, headers=manager
    )
    assert r.status_code == 201
    listed = client.get(f"{API}/warehouses", headers=keeper).get_json()
    assert [w["code"] for w in listed["data"]] == ["NORTH"]
    assert listed["meta"]["pagination"]["total"] == 1
    assert client.get(f"{API}/warehouses/{ids['SOUTH']}", headers=keeper).status_code == 404


def test_the_openapi_document_lists_inventory_resources(client, manager):
    paths = client.get("/api/v1/openapi.json", headers=manager).get_json()["paths"]
    assert "/api/v1/inventory/products" in paths
    assert "/api/v1/inventory/warehouses" in paths
    assert "/api/v1/inventory/products/bulk" in paths
