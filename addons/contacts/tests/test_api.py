"""The contacts API: accounts and people on the kernel's resource toolkit (filters, sort,
fields, ETag, idempotency, OpenAPI), and contacts' own routes (search, hold, merge, addresses);
errors in the envelope, permissions, tenants."""

from __future__ import annotations

import pytest

from addons.contacts import services
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
    resp = client.post(
        f"{BASE}/accounts",
        json={
            "name": "Acme",
            "kinds": ["customer"],
            "annual_revenue": "1000000.50",
            "email": "hq@acme.example",
        },
        headers=sales,
    )
    assert resp.status_code == 201 and resp.headers["ETag"] == '"1"'
    acc = resp.get_json()["data"]
    assert resp.headers["Location"].endswith(f"{BASE}/accounts/{acc['id']}")
    assert acc["annual_revenue"] == "1000000.5000" and acc["status"] == "active"

    got = client.get(f"{BASE}/accounts/{acc['id']}?expand=people,addresses", headers=sales)
    assert got.headers["ETag"] == '"1"'
    data = got.get_json()["data"]
    assert data["name"] == "Acme" and data["people"] == [] and data["addresses"] == []

    patched = client.patch(
        f"{BASE}/accounts/{acc['id']}", json={"industry": "Rockets"}, headers=sales
    ).get_json()["data"]
    assert patched["industry"] == "Rockets" and patched["email"] == "hq@acme.example"

    put = client.put(f"{BASE}/accounts/{acc['id']}", json={"name": "Acme Ltd"}, headers=sales)
    assert put.status_code == 200
    assert put.get_json()["data"]["email"] is None and put.get_json()["data"]["industry"] is None

    listed = client.get(f"{BASE}/accounts?q=acme", headers=sales).get_json()
    assert [a["name"] for a in listed["data"]] == ["Acme Ltd"]
    assert listed["meta"]["pagination"] == {"page": 1, "per_page": 25, "total": 1, "total_pages": 1}

    gone = client.delete(f"{BASE}/accounts/{acc['id']}", headers=sales)
    assert gone.status_code == 200
    assert gone.get_json()["data"] == {"id": acc["id"], "deleted": True}
    assert client.get(f"{BASE}/accounts/{acc['id']}", headers=sales).status_code == 404
    assert count_rows("contacts_account") >= 1  # archived, not deleted


def test_list_filters_sort_and_fields(client, sales):
    create(client, sales, name="Beta", industry="Rockets")
    create(client, sales, name="Alpha", industry="Rockets")
    held = create(client, sales, name="Gamma", industry="Boats")
    client.post(f"{BASE}/accounts/{held['id']}/hold", json={"reason": "credit"}, headers=sales)

    def names(query):
        resp = client.get(f"{BASE}/accounts?{query}", headers=sales)
        assert resp.status_code == 200, resp.get_json()
        return [a["name"] for a in resp.get_json()["data"]]

    assert names("") == ["Alpha", "Beta", "Gamma"]  # default sort: name
    assert names("sort=-name") == ["Gamma", "Beta", "Alpha"]
    assert names("filter[status][eq]=on_hold") == ["Gamma"]
    assert names("filter[status][ne]=on_hold&sort=-name") == ["Beta", "Alpha"]
    assert names("filter[industry][in]=Boats,Rockets&filter[name][contains]=ET") == ["Beta"]
    sparse = client.get(f"{BASE}/accounts?fields=id,name&sort=name", headers=sales).get_json()
    assert [set(a) for a in sparse["data"]] == [{"id", "name"}] * 3
    page = client.get(f"{BASE}/accounts?per_page=2&page=2", headers=sales).get_json()
    assert [a["name"] for a in page["data"]] == ["Gamma"]
    assert page["meta"]["pagination"]["total_pages"] == 2
    bad = client.get(f"{BASE}/accounts?filter[notes][eq]=x", headers=sales)
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "VALIDATION_ERROR"


def test_etag_if_match_and_concurrent_edits(client, sales):
    acc = create(client, sales)
    url = f"{BASE}/accounts/{acc['id']}"
    etag = client.get(url, headers=sales).headers["ETag"]
    ok = client.patch(url, json={"industry": "Rockets"}, headers={**sales, "If-Match": etag})
    assert ok.status_code == 200 and ok.headers["ETag"] == '"2"'
    stale = client.patch(url, json={"name": "Late"}, headers={**sales, "If-Match": etag})
    assert stale.status_code == 412
    assert stale.get_json()["error"]["code"] == "PRECONDITION_FAILED"
    assert client.delete(url, headers={**sales, "If-Match": etag}).status_code == 412
    assert client.get(url, headers=sales).get_json()["data"]["name"] == "Acme"


def test_idempotency_key_creates_one_account(client, sales):
    headers = {**sales, "Idempotency-Key": "create-acme-1"}
    first = client.post(f"{BASE}/accounts", json={"name": "Once"}, headers=headers)
    again = client.post(f"{BASE}/accounts", json={"name": "Once"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_json()["data"]["id"] == first.get_json()["data"]["id"]
    listed = client.get(f"{BASE}/accounts?filter[name][eq]=Once", headers=sales).get_json()
    assert listed["meta"]["pagination"]["total"] == 1


def test_the_openapi_document_lists_the_contacts_resources(client, sales):
    paths = client.get("/api/v1/openapi.json", headers=sales).get_json()["paths"]
    assert {"get", "post"} <= set(paths[f"{BASE}/accounts"])
    assert {"get", "put", "patch", "delete"} <= set(paths[f"{BASE}/accounts/{{id}}"])
    assert {"get", "post"} <= set(paths[f"{BASE}/people"])


def test_no_url_is_served_twice(app):
    seen: dict[tuple[str, str], str] = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(BASE):
            continue
        shape = "/".join("<>" if part.startswith("<") else part for part in rule.rule.split("/"))
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (shape, method) not in seen, (rule.rule, method, seen.get((shape, method)))
            seen[(shape, method)] = rule.endpoint
    assert seen[("/api/v1/contacts/accounts", "GET")] == "contacts_resources.accounts_list"
    assert seen[("/api/v1/contacts/accounts/<>/hold", "POST")] == "contacts_api.hold_account"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "X", "email": "bad@"}, "email"),
        ({"name": "X", "kinds": ["alien"]}, "kinds.0"),
        ({"name": "X", "unknown_thing": 1}, "unknown_thing"),
        ({"email": "a@b.example"}, "name"),
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
    assert count_rows("contacts_address") == 0  # nothing written
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
    people = client.get(f"{BASE}/people?filter[account_id]={acc['id']}", headers=sales).get_json()
    assert [p["last_name"] for p in people["data"]] == ["Lee"]
    expanded = client.get(f"{BASE}/accounts/{acc['id']}?expand=people,addresses", headers=sales)
    assert [p["id"] for p in expanded.get_json()["data"]["people"]] == [pid]
    assert [a["city"] for a in expanded.get_json()["data"]["addresses"]] == ["Lyon"]
    people_before = count_rows("contacts_person")
    bad_person = client.post(
        f"{BASE}/people",
        json={"account_id": acc["id"], "last_name": "X", "email": "nope@"},
        headers=sales,
    )
    assert bad_person.status_code == 422 and "email" in bad_person.get_json()["error"]["details"]
    assert count_rows("contacts_person") == people_before
    assert client.delete(f"{BASE}/people/{pid}", headers=sales).status_code == 200
    assert client.get(f"{BASE}/people/{pid}", headers=sales).status_code == 404


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
    released = client.post(f"{BASE}/accounts/{one['id']}/release", headers=sales)
    assert released.get_json()["data"]["status"] == "active"
    held_version = released.get_json()["data"]["version"]

    dups = client.get(f"{BASE}/duplicates", headers=sales).get_json()["data"]
    assert dups[0]["reason"] == "email" and len(dups[0]["accounts"]) == 2
    itself = client.post(
        f"{BASE}/merge", json={"master_id": one["id"], "duplicate_id": one["id"]}, headers=sales
    )
    assert itself.status_code == 422 and "duplicate_id" in itself.get_json()["error"]["details"]
    after = client.get(f"{BASE}/accounts/{one['id']}", headers=sales)
    assert after.status_code == 200 and after.headers["ETag"] == f'"{held_version}"'  # untouched
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
        ("put", f"/accounts/{theirs['id']}", {"name": "Mine now"}),
        ("delete", f"/accounts/{theirs['id']}", None),
        ("post", f"/accounts/{theirs['id']}/hold", {"reason": "x"}),
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
    listed = client.get(f"{BASE}/accounts", headers=sales).get_json()
    assert listed["meta"]["pagination"]["total"] == 0


def test_people_filter_on_is_primary_and_refuse_a_range_on_it(client, sales):
    acc = create(client, sales)
    for last in ("Lee", "Kim"):  # the first person of an account becomes its primary contact
        resp = client.post(
            f"{BASE}/people", json={"account_id": acc["id"], "last_name": last}, headers=sales
        )
        assert resp.status_code == 201
    primary = client.get(f"{BASE}/people?filter[is_primary][eq]=true", headers=sales)
    assert [p["last_name"] for p in primary.get_json()["data"]] == ["Lee"]
    others = client.get(f"{BASE}/people?filter[is_primary][eq]=false", headers=sales)
    assert [p["last_name"] for p in others.get_json()["data"]] == ["Kim"]
    ranged = client.get(f"{BASE}/people?filter[is_primary][gt]=true", headers=sales)
    assert ranged.status_code == 422
    error = ranged.get_json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert "filter[is_primary][gt]" in error["details"] and "is_primary" in error["message"]


def test_the_openapi_document_offers_only_eq_and_ne_on_is_primary(client, sales):
    paths = client.get("/api/v1/openapi.json", headers=sales).get_json()["paths"]
    params = {p["name"] for p in paths[f"{BASE}/people"]["get"]["parameters"]}
    assert {"filter[is_primary][eq]", "filter[is_primary][ne]"} <= params
    assert not {f"filter[is_primary][{op}]" for op in ("lt", "lte", "gt", "gte")} & params


# --- a page of accounts costs the same statements whatever its size ---------------------


def test_listing_accounts_reads_people_and_purchase_terms_once_per_page(
    count_selects, client, api_headers, tenant, as_tenant, session
):
    # Purchase shows its terms to those who may see supplier terms.
    sales = api_headers(tenant, roles=["sales", "storekeeper"])
    with as_tenant(tenant):
        for n in range(20):
            account = services.create_account(
                {
                    "name": f"Vendor {n:02d}",
                    "kinds": ["vendor"],
                    # purchase (enabled for the tenant) keeps these in its own table
                    "purchase_lead_time_days": n,
                    "purchase_payment_terms": "30 days net",
                }
            )
            services.add_person({"account_id": str(account.id), "last_name": f"Contact {n:02d}"})
        session.flush()

    def statements_for(per_page: int) -> tuple[list[str], list[dict]]:
        with count_selects() as seen:
            resp = client.get(f"{BASE}/accounts?per_page={per_page}", headers=sales)
        assert resp.status_code == 200, resp.get_json()
        return seen, resp.get_json()["data"]

    few, _ = statements_for(2)
    many, rows = statements_for(20)
    assert len(rows) == 20
    # Every row shows its own primary contact and its own purchase terms.
    assert all(r["primary_contact_id"] is not None for r in rows)
    assert [r["purchase_lead_time_days"] for r in rows] == list(range(20))
    assert {r["purchase_payment_terms"] for r in rows} == {"30 days net"}
    assert len([s for s in many if "contacts_person.is_primary" in s]) == 1
    assert len([s for s in many if "FROM purchase_supplier" in s]) == 1
    assert len(many) == len(few)  # 20 rows cost no more statements than 2


# --- contacts' own routes parse bodies as the toolkit does ------------------------------


def test_custom_routes_refuse_a_form_body_with_415(client, sales):
    acc = create(client, sales)
    for path in (f"/accounts/{acc['id']}/hold", f"/accounts/{acc['id']}/addresses", "/merge"):
        resp = client.post(f"{BASE}{path}", data={"reason": "x", "country": "DE"}, headers=sales)
        assert resp.status_code == 415, path
        assert resp.get_json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert (
        client.get(f"{BASE}/accounts/{acc['id']}", headers=sales).get_json()["data"]["status"]
        == "active"
    )
    assert count_rows("contacts_address") == 0


def test_custom_routes_answer_malformed_json_with_400(client, sales):
    acc = create(client, sales)
    for method, path in (
        ("post", f"/accounts/{acc['id']}/hold"),
        ("post", f"/accounts/{acc['id']}/addresses"),
        ("post", "/merge"),
    ):
        resp = getattr(client, method)(
            f"{BASE}{path}",
            data='{"reason": "x",',
            content_type="application/json",
            headers=sales,
        )
        assert resp.status_code == 400, path
        error = resp.get_json()["error"]
        assert error["code"] == "VALIDATION_ERROR"
        assert "not valid JSON" in error["message"] and "body" in error["details"]
    assert count_rows("contacts_address") == 0


def test_custom_routes_refuse_unknown_fields_naming_them(client, sales):
    one = create(client, sales, name="One", email="same@acme.example")
    two = create(client, sales, name="Two", email="same@acme.example")
    cases = [
        ("post", f"/accounts/{one['id']}/hold", {"reason": "x", "until": "friday"}, "until"),
        (
            "post",
            f"/accounts/{one['id']}/addresses",
            {"country": "DE", "planet": "Earth"},
            "planet",
        ),
        (
            "post",
            "/merge",
            {"master_id": one["id"], "duplicate_id": two["id"], "keep_both": True},
            "keep_both",
        ),
    ]
    for method, path, body, field in cases:
        resp = getattr(client, method)(f"{BASE}{path}", json=body, headers=sales)
        assert resp.status_code == 422, path
        error = resp.get_json()["error"]
        assert error["code"] == "VALIDATION_ERROR" and field in error["details"], error
    # Nothing happened: not held, no address, both accounts still there.
    assert (
        client.get(f"{BASE}/accounts/{one['id']}", headers=sales).get_json()["data"]["status"]
        == "active"
    )
    assert client.get(f"{BASE}/accounts/{two['id']}", headers=sales).status_code == 200
    assert count_rows("contacts_address") == 0


def test_search_pages_like_every_list(client, sales):
    for n in range(5):
        create(client, sales, name=f"Rocket {n}")
    create(client, sales, name="Boats")
    first = client.get(f"{BASE}/search?q=rocket&per_page=2", headers=sales).get_json()
    assert len(first["data"]) == 2
    assert first["meta"]["pagination"] == {"page": 1, "per_page": 2, "total": 5, "total_pages": 3}
    last = client.get(f"{BASE}/search?q=rocket&per_page=2&page=3", headers=sales).get_json()
    assert len(last["data"]) == 1
    seen = [a["name"] for a in first["data"]] + [
        a["name"]
        for page in (2, 3)
        for a in client.get(
            f"{BASE}/search?q=rocket&per_page=2&page={page}", headers=sales
        ).get_json()["data"]
    ]
    assert sorted(seen) == [f"Rocket {n}" for n in range(5)]  # each once, none left out
    default = client.get(f"{BASE}/search?q=rocket", headers=sales).get_json()["meta"]
    assert default["pagination"]["per_page"] == 25
    for query, field in (
        ("per_page=201", "per_page"),
        ("page=0", "page"),
        ("page=258061184898427648", "page"),  # past any OFFSET the database takes
        ("limit=5", "limit"),
    ):
        resp = client.get(f"{BASE}/search?q=rocket&{query}", headers=sales)
        assert resp.status_code == 422 and field in resp.get_json()["error"]["details"], query


def test_the_openapi_document_pages_the_search(client, sales):
    paths = client.get("/api/v1/openapi.json", headers=sales).get_json()["paths"]
    search = paths[f"{BASE}/search"]["get"]
    assert {p["name"] for p in search["parameters"]} == {"q", "page", "per_page"}
    meta = search["responses"]["200"]["content"]["application/json"]["schema"]["properties"]
    assert "pagination" in str(meta["meta"])
