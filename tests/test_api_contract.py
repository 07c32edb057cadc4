"""The API contract: one envelope, stable error codes, bodies checked, idempotency, limits."""

from __future__ import annotations

import json

import pytest

from tests.fixtures import count_rows

URL = "/api/v1/testkit/projects"


@pytest.fixture()
def headers(tenant, api_headers):
    """An admin's bearer headers in `tenant`."""
    return api_headers(tenant)


def _error(resp, status, code):
    assert resp.status_code == status, resp.get_json()
    body = resp.get_json()
    assert body["success"] is False
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert set(body["meta"]) >= {"request_id", "timestamp"}
    assert "Traceback" not in resp.get_data(as_text=True)
    return body["error"]


# --- the envelope --------------------------------------------------------------------------


def test_success_and_error_share_one_envelope_with_the_request_id(client, headers):
    ok = client.get(URL, headers={**headers, "X-Request-ID": "req-123"})
    body = ok.get_json()
    assert set(body) == {"success", "data", "meta"}
    assert body["success"] is True and body["meta"]["request_id"] == "req-123"
    assert set(body["meta"]["pagination"]) == {"page", "per_page", "total", "total_pages"}
    bad = client.get(f"{URL}?per_page=0", headers={**headers, "X-Request-ID": "req-456"})
    assert set(bad.get_json()) == {"success", "error", "meta"}
    assert bad.get_json()["meta"]["request_id"] == "req-456"


def test_an_unexpected_error_is_a_500_with_the_request_id_and_no_trace(
    client, headers, monkeypatch, caplog
):
    from core.api import query

    def boom(*_args, **_kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(query, "page", boom)
    resp = client.get(URL, headers=headers)
    error = _error(resp, 500, "INTERNAL_ERROR")
    assert resp.get_json()["meta"]["request_id"] in error["message"]
    assert "secret internals" not in resp.get_data(as_text=True)
    assert "secret internals" in caplog.text  # the log has it


@pytest.mark.parametrize(
    "status,code,call",
    [
        (401, "AUTHENTICATION_ERROR", lambda c, h: c.get(URL)),
        (
            401,
            "AUTHENTICATION_ERROR",
            lambda c, h: c.get(URL, headers={"Authorization": "Bearer x"}),
        ),
        (
            404,
            "NOT_FOUND",
            lambda c, h: c.get(f"{URL}/00000000-0000-0000-0000-000000000000", headers=h),
        ),
        (404, "NOT_FOUND", lambda c, h: c.get(f"{URL}/not-an-id", headers=h)),
        (404, "NOT_FOUND", lambda c, h: c.get("/api/v1/testkit/nothing-here", headers=h)),
        (405, "METHOD_NOT_ALLOWED", lambda c, h: c.delete(URL, headers=h)),
        (422, "VALIDATION_ERROR", lambda c, h: c.post(URL, json={}, headers=h)),
    ],
)
def test_error_codes(client, headers, status, code, call):
    _error(call(client, headers), status, code)


# --- bodies --------------------------------------------------------------------------------


def test_a_body_that_is_not_json_is_refused_with_415(client, headers):
    error = _error(
        client.post(
            URL, data="name=x", headers=headers, content_type="application/x-www-form-urlencoded"
        ),
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    )
    assert "Content-Type" in error["details"]
    _error(client.post(URL, data='{"name": "x"}', headers=headers), 415, "UNSUPPORTED_MEDIA_TYPE")


def test_malformed_json_is_a_400_naming_the_body(client, headers):
    error = _error(
        client.post(URL, data='{"name": ', headers=headers, content_type="application/json"),
        400,
        "VALIDATION_ERROR",
    )
    assert list(error["details"]) == ["body"]
    assert "not valid JSON" in error["message"]


def test_a_body_that_is_not_an_object_is_refused(client, headers):
    error = _error(client.post(URL, json=["name"], headers=headers), 422, "VALIDATION_ERROR")
    assert error["details"] == {"body": ["the body must be a JSON object, not an array"]}


def test_an_oversized_body_is_a_413(client, headers, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1000)
    error = _error(
        client.post(URL, json={"name": "x" * 2000}, headers=headers), 413, "PAYLOAD_TOO_LARGE"
    )
    assert "1000 bytes" in error["message"]


def test_unknown_fields_and_wrong_types_are_named(client, headers):
    error = _error(
        client.post(
            URL, json={"name": 5, "budget": "lots", "colour": "red", "id": "mine"}, headers=headers
        ),
        422,
        "VALIDATION_ERROR",
    )
    assert error["details"] == {
        "name": ["Not a valid string."],
        "budget": ["Not a valid number."],
        "colour": ["Unknown field."],
        "id": ["Unknown field."],
    }
    assert count_rows("test_project") == 0


def test_nul_characters_are_refused_before_the_database_sees_them(client, headers):
    error = _error(
        client.post(URL, json={"name": "a\u0000b"}, headers=headers), 422, "VALIDATION_ERROR"
    )
    assert list(error["details"]) == ["name"]
    _error(client.get(f"{URL}?q=a%00b", headers=headers), 422, "VALIDATION_ERROR")


# --- idempotency ---------------------------------------------------------------------------


def test_a_retry_with_the_same_key_replays_the_first_answer(client, headers):
    h = {**headers, "Idempotency-Key": "order-42"}
    first = client.post(URL, json={"name": "Once"}, headers=h)
    again = client.post(URL, json={"name": "Once"}, headers=h)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()  # the same record, the same request id
    assert again.headers["Idempotent-Replayed"] == "true"
    # The whole answer: where the record lives and its version, as the first time.
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Location"].endswith(first.get_json()["data"]["id"])
    assert again.headers["ETag"] == first.headers["ETag"] == '"1"'
    assert "Idempotent-Replayed" not in first.headers
    assert count_rows("test_project") == 1


def test_an_idempotency_key_longer_than_255_characters_is_refused(client, headers):
    error = _error(
        client.post(
            URL, json={"name": "Long key"}, headers={**headers, "Idempotency-Key": "k" * 256}
        ),
        422,
        "VALIDATION_ERROR",
    )
    assert error["details"] == {"Idempotency-Key": ["must be 1 to 255 characters"]}
    assert count_rows("test_project") == 0
    fits = client.post(
        URL, json={"name": "Long key"}, headers={**headers, "Idempotency-Key": "k" * 255}
    )
    assert fits.status_code == 201


def test_the_same_key_with_another_body_is_a_conflict(client, headers):
    h = {**headers, "Idempotency-Key": "order-43"}
    assert client.post(URL, json={"name": "First"}, headers=h).status_code == 201
    error = _error(client.post(URL, json={"name": "Second"}, headers=h), 409, "CONFLICT")
    assert "Idempotency-Key" in error["details"]
    assert count_rows("test_project") == 1


def test_keys_belong_to_their_caller_and_failures_are_not_remembered(client, tenant, api_headers):
    a, b = api_headers(tenant), api_headers(tenant)
    key = {"Idempotency-Key": "shared-key"}
    assert client.post(URL, json={"name": "A"}, headers={**a, **key}).status_code == 201
    # Another caller's key of the same name is its own.
    assert client.post(URL, json={"name": "B"}, headers={**b, **key}).status_code == 201
    # A refused request leaves its key unused: the corrected retry goes through.
    bad = client.post(URL, json={"name": ""}, headers={**a, "Idempotency-Key": "k2"})
    assert bad.status_code == 422
    assert (
        client.post(URL, json={"name": "C"}, headers={**a, "Idempotency-Key": "k2"}).status_code
        == 201
    )
    assert count_rows("test_project") == 3
    assert count_rows("core_idempotency_key") == 3


def test_idempotency_covers_bulk_and_actions(client, headers):
    h = {**headers, "Idempotency-Key": "bulk-1"}
    body = {"items": [{"name": "B1"}, {"name": "B2"}]}
    first = client.post(f"{URL}/bulk", json=body, headers=h)
    assert client.post(f"{URL}/bulk", json=body, headers=h).get_json() == first.get_json()
    pid = first.get_json()["data"][0]["id"]
    h2 = {**headers, "Idempotency-Key": "task-1"}
    for _ in range(2):
        assert (
            client.post(f"{URL}/{pid}/add-task", json={"title": "T"}, headers=h2).status_code == 200
        )
    assert count_rows("test_task") == 1
    assert count_rows("test_project") == 2


# --- rate limits ---------------------------------------------------------------------------


def test_rate_limit_headers_then_429_with_retry_after(
    client, tenant, api_headers, app, monkeypatch
):
    h = api_headers(tenant)
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "3 per minute")
    first = client.get(URL, headers=h)
    assert first.headers["X-RateLimit-Limit"] == "3"
    assert first.headers["X-RateLimit-Remaining"] == "2"
    client.get(URL, headers=h)
    client.get(f"{URL}/00000000-0000-0000-0000-000000000000", headers=h)  # one shared budget
    resp = client.get(URL, headers=h)
    error = _error(resp, 429, "RATE_LIMIT_ERROR")
    assert int(resp.headers["Retry-After"]) > 0
    assert error["message"]
    # Another user of the same tenant has a budget of their own.
    assert client.get(URL, headers=api_headers(tenant)).status_code == 200


def test_retry_after_comes_only_with_a_429(client, tenant, api_headers, app, monkeypatch):
    h = api_headers(tenant)
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "2 per minute")
    for _ in range(2):
        fine = client.get(URL, headers=h)
        assert fine.status_code == 200
        assert "X-RateLimit-Remaining" in fine.headers
        assert "Retry-After" not in fine.headers  # nothing to wait for yet
    refused = client.get(URL, headers=h)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert refused.headers["X-RateLimit-Remaining"] == "0"


def test_an_api_key_spends_a_budget_of_its_own(
    client, session, tenant, make_member, as_tenant, app, monkeypatch
):
    from core import login

    owner = make_member(tenant)
    with as_tenant(tenant):
        creator = login.principal_for(owner.id, tenant.id)
        _, secret = login.create_api_key(
            tenant, "sync job", ["testkit.projects:read"], created_by=creator
        )
        _, other = login.create_api_key(
            tenant, "other job", ["testkit.projects:read"], created_by=creator
        )
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "2 per minute")
    key = {"Authorization": f"Bearer {secret}"}
    assert [client.get(URL, headers=key).status_code for _ in range(2)] == [200, 200]
    refused = client.get(URL, headers=key)
    error = _error(refused, 429, "RATE_LIMIT_ERROR")
    assert error["message"] and int(refused.headers["Retry-After"]) > 0
    # The budget is the key's: another key of the same user and tenant still has its own.
    assert client.get(URL, headers={"Authorization": f"Bearer {other}"}).status_code == 200


def test_the_default_limit_comes_from_the_factory_setting(app, monkeypatch):
    from core.api.limits import DEFAULT_API_LIMIT, api_limit

    with app.app_context():
        assert api_limit() == app.config.get("API_RATE_LIMIT") or DEFAULT_API_LIMIT
        monkeypatch.setitem(app.config["PERGOLA"].extra, "api_rate_limit", "5 per second")
        assert api_limit() == "5 per second"


# --- routes declare permissions ------------------------------------------------------------


def test_every_toolkit_route_names_its_permission(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("testkit_resources."):
            view = app.view_functions[rule.endpoint]
            assert getattr(view, "pergola_permission", "").startswith("testkit.projects:"), rule


def test_the_json_body_is_parsed_exactly(client, headers):
    resp = client.post(
        URL,
        data=json.dumps({"name": "Big", "budget": 123456789.1234}),
        content_type="application/json",
        headers=headers,
    )
    assert resp.get_json()["data"]["budget"] == "123456789.1234"


# --- the database refuses a write ------------------------------------------------------------


def test_a_unique_constraint_is_a_409_naming_its_fields_without_driver_text(client, headers):
    from tests.testkit.api import breaking

    with breaking("Clash", "duplicate-task"):
        resp = client.post(URL, json={"name": "Clash"}, headers=headers)
    error = _error(resp, 409, "CONFLICT")
    assert error["details"] == {"id": ["already exists"]}
    assert error["message"] == "a record with the same id already exists"
    text = resp.get_data(as_text=True)
    for internal in ("UNIQUE constraint", "duplicate key", "test_task", "DETAIL", "pk_"):
        assert internal not in text
    assert count_rows("test_project") == 0 and count_rows("test_task") == 0


def test_a_value_too_long_for_its_column_is_a_422(client, headers, db):
    from tests.testkit.api import breaking

    if db.engine.dialect.name == "sqlite":
        pytest.skip("SQLite stores text of any length: it raises no DataError to answer")
    with breaking("Long", "too-long"):
        resp = client.post(URL, json={"name": "Long"}, headers=headers)
    error = _error(resp, 422, "VALIDATION_ERROR")
    assert "does not fit its column" in error["message"]
    assert "character varying" not in resp.get_data(as_text=True)
    assert count_rows("test_project") == 0
