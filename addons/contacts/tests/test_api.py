"""The contacts API: CRUD, search, hold, merge, errors in the envelope, permissions, tenants."""

from __future__ import annotations

import pytest

from tests.fixtures import count_rows

BASE = "/api/v1/contacts"


@pytest.fixture()
def tenant(make_tenant):
    return make_tenant()


@pytest.fixture()
def sales(api_headers, tenant):
    return api_headers(tenant, roles=["sales"])


def create(client, headers, **body):
    resp = client.post(f"{BASE}/accounts", json={"name": "Acme", **body}, headers=headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["data"]


def test_account_crud(client, sales):
    acc = create(
        client, sales, kinds=["customer"], annual_revenue="1000000.50", email="hq@acme.example"
    )
    assert acc["annual_revenue"] == "1000000.5000" and acc["status"] == "active"

    got = client.get(f"{BASE}/accounts/{acc['id']}", headers=sales).get_json()["data"]
    assert got["name"] == "Acme" and got["people"] == [] and got["addresses"] == []

    patched = client.patch(
        f"{BASE}/accounts/{acc['id']}", json={"industry": "Rockets"}, headers=sales
    ).get_json()["data"]
    assert patched["industry"] == "Rockets" and patched["email"] == "hq@acme.example"

    put = client.put(f"{BASE}/accounts/{acc['id']}", json={"name": "Acme Ltd"}, headers=sales)
    assert put.status_code == 200
    assert put.get_json()["data"]["email"] is None

    stale = client.patch(
        f"{BASE}/accounts/{acc['id']}", json={"name": "Late"}, headers={**sales, "If-Match": "1"}
    )
    assert stale.status_code == 409 and stale.get_json()["error"]["code"] == "CONFLICT"

    listed = client.get(f"{BASE}/accounts?q=acme", headers=sales).get_json()
    assert [a["name"] for a in listed["data"]] == ["Acme Ltd"] and listed["meta"]["total"] == 1

    assert client.delete(f"{BASE}/accounts/{acc['id']}", headers=sales).status_code == 200
    assert client.get(f"{BASE}/accounts/{acc['id']}", headers=sales).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "X", "email": "bad@"}, "email"),
        ({"name": "X", "kinds": ["alien"]}, "kinds"),
        ({"name": "X", "unknown_thing": 1}, "unknown_thing"),
    ],
)
def test_bad_input_is_a_validation_error_naming_the_field(client, sales, body, field):
    before = count_rows("contacts_account")
    resp = client.post(f"{BASE}/accounts", json=body, headers=sales)
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and field in error["details"]
    assert count_rows("contacts_account") == before


def test_people_and_addresses(client, sales):
    acc = create(client, sales)
    person = client.post(
        f"{BASE}/people",
        json={"account_id": acc["id"], "first_name": "Ann", "last_name": "Lee"},
        headers=sales,
    )
    assert person.status_code == 201 and person.get_json()["data"]["is_primary"] is True
    pid = person.get_json()["data"]["id"]
    assert (
        client.patch(f"{BASE}/people/{pid}", json={"job_title": "CFO"}, headers=sales).get_json()[
            "data"
        ]["job_title"]
        == "CFO"
    )
    bad = client.post(
        f"{BASE}/accounts/{acc['id']}/addresses",
        json={"city": "Nowhere", "country": "ZZ"},
        headers=sales,
    )
    assert bad.status_code == 422 and "country" in bad.get_json()["error"]["details"]
    addr = client.post(
        f"{BASE}/accounts/{acc['id']}/addresses",
        json={"kind": "shipping", "city": "Lyon", "country": "fr"},
        headers=sales,
    )
    assert addr.status_code == 201 and addr.get_json()["data"]["country"] == "FR"
    listed = client.get(f"{BASE}/accounts/{acc['id']}/addresses", headers=sales).get_json()
    assert [a["city"] for a in listed["data"]] == ["Lyon"]
    detail = client.get(f"{BASE}/accounts/{acc['id']}", headers=sales).get_json()["data"]
    assert detail["primary_contact_id"] == pid
    people = client.get(f"{BASE}/people?account_id={acc['id']}", headers=sales).get_json()
    assert [p["last_name"] for p in people["data"]] == ["Lee"]
    assert client.delete(f"{BASE}/people/{pid}", headers=sales).status_code == 200


def test_search_hold_release_and_merge(client, sales):
    one = create(client, sales, name="Acme Rockets", email="sales@acme.example")
    two = create(client, sales, name="Acme Rocket Co", email="SALES@acme.example")
    found = client.get(f"{BASE}/search?q=rocket", headers=sales).get_json()["data"]
    assert sorted(a["name"] for a in found) == ["Acme Rocket Co", "Acme Rockets"]
    assert client.get(f"{BASE}/search?q=", headers=sales).status_code == 422

    held = client.post(
        f"{BASE}/accounts/{one['id']}/hold", json={"reason": "credit"}, headers=sales
    )
    assert held.get_json()["data"]["status"] == "on_hold"
    assert (
        client.post(f"{BASE}/accounts/{one['id']}/release", headers=sales).get_json()["data"][
            "status"
        ]
        == "active"
    )

    dups = client.get(f"{BASE}/duplicates", headers=sales).get_json()["data"]
    assert dups[0]["reason"] == "email" and len(dups[0]["accounts"]) == 2
    itself = client.post(
        f"{BASE}/merge", json={"master_id": one["id"], "duplicate_id": one["id"]}, headers=sales
    )
    assert itself.status_code == 422 and "duplicate_id" in itself.get_json()["error"]["details"]
    merged = client.post(
        f"{BASE}/merge", json={"master_id": one["id"], "duplicate_id": two["id"]}, headers=sales
    )
    assert merged.status_code == 200
    assert client.get(f"{BASE}/accounts/{two['id']}", headers=sales).status_code == 404


def test_permissions_by_role(client, api_headers, tenant):
    reader = api_headers(tenant, roles=["read_only"])
    buyer = api_headers(tenant, roles=["purchasing"])
    nobody = api_headers(tenant, roles=["employee"])
    acc = create(client, buyer, kinds=["vendor"])
    assert client.get(f"{BASE}/accounts", headers=reader).status_code == 200
    assert client.get(f"{BASE}/people", headers=reader).status_code == 200
    assert client.post(f"{BASE}/accounts", json={"name": "X"}, headers=reader).status_code == 403
    assert (
        client.patch(f"{BASE}/accounts/{acc['id']}", json={"name": "Y"}, headers=buyer).status_code
        == 403
    )
    assert client.delete(f"{BASE}/accounts/{acc['id']}", headers=buyer).status_code == 403
    denied = client.get(f"{BASE}/accounts", headers=nobody)
    assert denied.status_code == 403
    assert denied.get_json()["error"]["code"] == "AUTHORIZATION_ERROR"
    assert client.get(f"{BASE}/accounts").status_code == 401


def test_other_tenants_ids_are_404(client, api_headers, make_tenant, sales):
    theirs = create(client, api_headers(make_tenant(), roles=["sales"]), name="Theirs")
    for method, path, body in [
        ("get", f"/accounts/{theirs['id']}", None),
        ("patch", f"/accounts/{theirs['id']}", {"name": "Mine now"}),
        ("delete", f"/accounts/{theirs['id']}", None),
        ("get", f"/accounts/{theirs['id']}/addresses", None),
        ("post", f"/accounts/{theirs['id']}/addresses", {"country": "DE"}),
    ]:
        resp = getattr(client, method)(f"{BASE}{path}", json=body, headers=sales)
        assert resp.status_code == 404, (method, path)
        assert resp.get_json()["error"]["code"] == "NOT_FOUND"
    person = client.post(
        f"{BASE}/people", json={"account_id": theirs["id"], "last_name": "X"}, headers=sales
    )
    assert person.status_code == 404 and "account_id" in person.get_json()["error"]["details"]
    assert client.get(f"{BASE}/accounts", headers=sales).get_json()["meta"]["total"] == 0
