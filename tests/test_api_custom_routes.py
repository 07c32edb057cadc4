"""Hand-written API routes (an addon's own, the kernel's) behave like the toolkit's: one rate
limit, writes as one unit of work with Idempotency-Key, and a place in the OpenAPI document."""

from __future__ import annotations

import pytest

from tests.fixtures import count_rows

THINGS = "/api/v1/testkit/things"
DOC = "/api/v1/openapi.json"


@pytest.fixture()
def headers(tenant, api_headers):
    """An admin's bearer headers in `tenant`."""
    return api_headers(tenant)


def test_a_custom_route_shares_the_api_rate_limit(client, headers, app, monkeypatch):
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "2 per minute")
    first = client.post(THINGS, json={"name": "one"}, headers=headers)
    assert first.status_code == 201 and first.headers["X-RateLimit-Limit"] == "2"
    assert client.get(THINGS, headers=headers).status_code == 200  # one budget for all
    refused = client.post(THINGS, json={"name": "three"}, headers=headers)
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "RATE_LIMIT_ERROR"
    assert int(refused.headers["Retry-After"]) > 0
    assert count_rows("test_project") == 1


def test_a_kernel_route_shares_the_api_rate_limit(client, headers, app, monkeypatch):
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "1 per minute")
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
    assert client.get("/api/v1/notifications", headers=headers).status_code == 429


def test_a_custom_post_replays_with_the_same_idempotency_key(client, headers):
    h = {**headers, "Idempotency-Key": "thing-1"}
    first = client.post(THINGS, json={"name": "once", "tasks": ["a"]}, headers=h)
    again = client.post(THINGS, json={"name": "once", "tasks": ["a"]}, headers=h)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert count_rows("test_project") == 1 and count_rows("test_task") == 1


def test_a_custom_post_with_a_used_key_and_another_body_is_a_conflict(client, headers):
    h = {**headers, "Idempotency-Key": "thing-2"}
    assert client.post(THINGS, json={"name": "first"}, headers=h).status_code == 201
    resp = client.post(THINGS, json={"name": "second"}, headers=h)
    assert resp.status_code == 409
    assert "Idempotency-Key" in resp.get_json()["error"]["details"]
    assert count_rows("test_project") == 1


def test_a_refused_custom_write_leaves_nothing_behind(client, headers):
    h = {**headers, "Idempotency-Key": "thing-3"}
    resp = client.post(THINGS, json={"name": "half", "tasks": ["ok", "refused"]}, headers=h)
    assert resp.status_code == 409
    # The project and first task were flushed before the refusal: both are rolled back,
    # and the key stays unused, so the corrected retry goes through.
    assert count_rows("test_project") == 0 and count_rows("test_task") == 0
    assert count_rows("core_idempotency_key") == 0
    retry = client.post(THINGS, json={"name": "half", "tasks": ["ok"]}, headers=h)
    assert retry.status_code == 201
    assert count_rows("test_project") == 1 and count_rows("test_task") == 1


def test_login_is_not_replayed_and_keeps_its_own_limit(client, tenant, make_member):
    user = make_member(tenant)
    body = {"email": user.email, "password": "correct horse battery", "tenant": tenant.slug}
    h = {"Idempotency-Key": "login-1"}
    first = client.post("/api/v1/auth/login", json=body, headers=h)
    again = client.post("/api/v1/auth/login", json=body, headers=h)
    assert first.status_code == again.status_code == 200
    assert "Idempotent-Replayed" not in again.headers  # a fresh login, not a stored token
    assert again.get_json()["data"]["access_token"] != first.get_json()["data"]["access_token"]
    assert count_rows("core_idempotency_key") == 0
    assert first.headers["X-RateLimit-Limit"] != "600"  # the login limits, not the API's


def test_every_api_write_view_is_a_unit_of_work_and_keeps_its_marks(app):
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or not rule.methods & {"POST", "PATCH", "DELETE"}:
            continue
        if rule.endpoint.split(".")[0].endswith("_resources"):
            continue  # the toolkit's own views manage their transactions
        view = app.view_functions[rule.endpoint]
        assert getattr(view, "pergola_unit_of_work", False), rule
        assert getattr(view, "pergola_public", False) or getattr(
            view, "pergola_permission", None
        ), rule


def test_custom_routes_appear_in_the_openapi_document(client, headers):
    doc = client.get(DOC, headers=headers).get_json()
    paths, schemas = doc["paths"], doc["components"]["schemas"]

    thing = paths[THINGS]["post"]
    assert thing["tags"] == ["testkit"]
    assert thing["x-permission"] == "testkit.things:create"
    assert thing["summary"].startswith("Create a project owned by the caller")
    body = thing["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert set(schemas[body.rsplit("/", 1)[-1]]["properties"]) == {"name", "tasks"}
    data = thing["responses"]["201"]["content"]["application/json"]["schema"]
    assert data["properties"]["data"]["$ref"].endswith("/TestkitThingOut")
    assert {"401", "403", "409", "422", "429"} <= set(thing["responses"])
    assert "Idempotency-Key" in {p["name"] for p in thing["parameters"]}

    one = paths["/api/v1/testkit/things/{thing_id}"]
    assert one["parameters"][0]["schema"] == {"type": "string", "format": "uuid"}
    assert "2XX" in one["get"]["responses"]  # undocumented: a generic envelope

    hold = paths["/api/v1/contacts/accounts/{account_id}/hold"]["post"]
    assert hold["tags"] == ["contacts"] and hold["x-permission"] == "contacts.accounts:update"
    ref = hold["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert "reason" in schemas[ref.rsplit("/", 1)[-1]]["properties"]

    login = paths["/api/v1/auth/login"]["post"]
    assert login["tags"] == ["kernel"] and login["security"] == []
    ref = login["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert {"email", "password", "tenant"} <= set(schemas[ref.rsplit("/", 1)[-1]]["properties"])
    webhook = paths["/api/v1/webhooks"]["post"]
    assert webhook["x-permission"] == "core.webhooks:manage" and "requestBody" in webhook
    assert DOC not in paths and "/api/docs" not in paths


def test_routes_of_an_addon_the_tenant_disabled_are_not_documented(client, tenant, headers):
    from core.registry import current_registry

    current_registry().disable(tenant.id, ["testkit"])
    paths = client.get(DOC, headers=headers).get_json()["paths"]
    assert THINGS not in paths and "/api/v1/auth/login" in paths


def test_nul_characters_are_refused_before_a_custom_route_sees_them(client, headers):
    resp = client.post(THINGS, json={"name": "a\x00b"}, headers=headers)
    assert resp.status_code == 422 and "name" in resp.get_json()["error"]["details"]
    resp = client.get("/api/v1/inventory/movements?product=a%00b", headers=headers)
    assert resp.status_code == 422 and "product" in resp.get_json()["error"]["details"]
    assert count_rows("test_project") == 0


@pytest.mark.parametrize("path", ["/api/v1/webhooks", "/api/v1/notifications/read", THINGS])
def test_an_anonymous_keyed_post_is_a_401_not_a_500(client, path):
    resp = client.post(path, json={}, headers={"Idempotency-Key": "anon-1"})
    assert resp.status_code == 401
    assert resp.get_json()["error"]["code"] == "AUTHENTICATION_ERROR"


def test_a_keyed_post_without_the_permission_is_a_403(client, tenant, api_headers):
    clerk = {**api_headers(tenant, roles=("sales",)), "Idempotency-Key": "hook-x"}
    resp = client.post("/api/v1/webhooks", json={"url": "https://x.example"}, headers=clerk)
    assert resp.status_code == 403
    assert count_rows("core_idempotency_key") == 0
