"""`/api/v1/webhooks`: tenant admins register, change, re-enable and remove endpoints and
read their deliveries; everyone else is refused; tenants never see each other's."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from core.event_models import WebhookEndpoint
from core.events import emit, event_settings
from tests.events.test_webhooks import Receiver


@pytest.fixture()
def private_hooks_allowed(app, monkeypatch):
    """Let this test's webhooks reach its receiver on 127.0.0.1."""
    monkeypatch.setitem(
        app.extensions,
        "pergola.events",
        replace(event_settings(app), webhook_allow_private_networks=True),
    )


def test_admin_registers_lists_changes_and_removes_an_endpoint(client, tenant, api_headers):
    headers = api_headers(tenant, roles=("admin",))

    resp = client.post(
        "/api/v1/webhooks",
        headers=headers,
        json={
            "url": "https://hooks.example.com/pergola",
            "event_types": ["contacts.*"],
            "description": "CRM sync",
        },
    )
    assert resp.status_code == 201, resp.get_json()
    created = resp.get_json()["data"]
    assert created["secret"].startswith("whsec_")  # shown this once
    assert created["active"] is True and created["event_types"] == ["contacts.*"]
    ident = created["id"]

    listed = client.get("/api/v1/webhooks", headers=headers).get_json()["data"]
    assert [e["id"] for e in listed] == [ident]
    assert "secret" not in listed[0]
    assert listed[0]["secret_hint"].startswith("whsec_")

    resp = client.patch(
        f"/api/v1/webhooks/{ident}",
        headers=headers,
        json={"event_types": ["contacts.*", "sales.order.confirmed"], "active": False},
    )
    assert resp.status_code == 200
    data = resp.get_json()["data"]
    assert data["event_types"] == ["contacts.*", "sales.order.confirmed"]
    assert (data["active"], data["disabled_reason"]) == (False, "disabled by a user")

    data = client.patch(
        f"/api/v1/webhooks/{ident}", headers=headers, json={"active": True}
    ).get_json()["data"]
    assert (data["active"], data["consecutive_failures"], data["disabled_at"]) == (True, 0, None)

    rotated = client.post(f"/api/v1/webhooks/{ident}/rotate-secret", headers=headers)
    assert rotated.get_json()["data"]["secret"] != created["secret"]

    assert client.delete(f"/api/v1/webhooks/{ident}", headers=headers).status_code == 200
    assert client.get(f"/api/v1/webhooks/{ident}", headers=headers).status_code == 404
    assert client.get("/api/v1/webhooks", headers=headers).get_json()["data"] == []


def test_non_http_urls_are_refused_naming_the_url_field(client, tenant, api_headers):
    headers = api_headers(tenant, roles=("admin",))

    resp = client.post(
        "/api/v1/webhooks",
        headers=headers,
        json={"url": "ftp://files.example.com/drop", "event_types": ["*"]},
    )

    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert "url" in error["details"] and "http" in error["message"]

    resp = client.post("/api/v1/webhooks", headers=headers, json={"event_types": ["*"]})
    assert resp.status_code == 422 and "url" in resp.get_json()["error"]["details"]
    resp = client.patch("/api/v1/webhooks/not-an-id", headers=headers, json={"url": "x"})
    assert resp.status_code == 404


def test_only_holders_of_the_permission_may_manage_webhooks(client, tenant, api_headers):
    clerk = api_headers(tenant, roles=("sales",))

    assert client.get("/api/v1/webhooks", headers=clerk).status_code == 403
    resp = client.post(
        "/api/v1/webhooks",
        headers=clerk,
        json={"url": "https://example.com/h", "event_types": ["*"]},
    )
    assert resp.status_code == 403
    assert resp.get_json()["error"]["code"] == "AUTHORIZATION_ERROR"
    assert client.get("/api/v1/webhooks").status_code == 401


def test_tenants_never_see_each_others_endpoints(client, make_tenant, api_headers):
    a, b = make_tenant(), make_tenant()
    a_headers, b_headers = api_headers(a), api_headers(b)
    ident = client.post(
        "/api/v1/webhooks",
        headers=a_headers,
        json={"url": "https://a.example.com/h", "event_types": ["*"]},
    ).get_json()["data"]["id"]

    assert client.get("/api/v1/webhooks", headers=b_headers).get_json()["data"] == []
    assert client.get(f"/api/v1/webhooks/{ident}", headers=b_headers).status_code == 404
    assert client.delete(f"/api/v1/webhooks/{ident}", headers=b_headers).status_code == 404
    assert client.get(f"/api/v1/webhooks/{ident}/deliveries", headers=b_headers).status_code == 404


def test_private_network_addresses_are_refused_by_default(client, tenant, api_headers):
    headers = api_headers(tenant, roles=("admin",))
    for url in (
        "http://127.0.0.1:8080/admin",
        "http://169.254.169.254/latest/meta-data",
        "https://10.1.2.3/hook",
        "http://[::1]/hook",
        "http://[::ffff:192.168.0.1]/",
    ):
        resp = client.post(
            "/api/v1/webhooks", headers=headers, json={"url": url, "event_types": ["*"]}
        )
        assert resp.status_code == 422, url
        error = resp.get_json()["error"]
        assert "url" in error["details"] and "private network" in error["message"]


def test_deliveries_show_each_attempt_and_can_be_retried(
    client, tenant, api_headers, as_tenant, session, private_hooks_allowed
):
    headers = api_headers(tenant, roles=("admin",))
    hook = Receiver([(500, "database is down"), (200, "ok")])
    try:
        ident = client.post(
            "/api/v1/webhooks", headers=headers, json={"url": hook.url, "event_types": ["probe.*"]}
        ).get_json()["data"]["id"]
        with as_tenant(tenant):
            event_id = emit("probe.created", {"n": 1})
            session.commit()  # embedded: delivered at once, and it fails

        resp = client.get(f"/api/v1/webhooks/{ident}/deliveries", headers=headers)
        [delivery] = resp.get_json()["data"]
        assert (delivery["event_id"], delivery["event_type"]) == (str(event_id), "probe.created")
        assert (delivery["state"], delivery["attempts"], delivery["last_status_code"]) == (
            "retrying",
            1,
            500,
        )
        [attempt] = delivery["log"]
        assert (attempt["number"], attempt["status_code"], attempt["success"]) == (1, 500, False)
        assert attempt["response_excerpt"] == "database is down"
        assert isinstance(attempt["duration_ms"], int)
        failed_only = client.get(
            f"/api/v1/webhooks/{ident}/deliveries?state=failed", headers=headers
        )
        assert failed_only.get_json()["data"] == []

        resp = client.post(
            f"/api/v1/webhooks/{ident}/deliveries/{delivery['id']}/retry", headers=headers
        )
        assert resp.status_code == 202

        [delivery] = client.get(f"/api/v1/webhooks/{ident}/deliveries", headers=headers).get_json()[
            "data"
        ]
        assert (delivery["state"], delivery["attempts"]) == ("succeeded", 2)
        assert [a["status_code"] for a in delivery["log"]] == [500, 200]
        assert len(hook.requests) == 2
        with as_tenant(tenant):
            assert session.scalar(select(WebhookEndpoint.consecutive_failures)) == 0
    finally:
        hook.close()


def test_a_keyed_retry_of_a_create_registers_once_and_never_stores_the_secret(
    client, tenant, api_headers, as_tenant
):
    from core.api.models import IdempotencyKey
    from core.db import session

    headers = {**api_headers(tenant, roles=("admin",)), "Idempotency-Key": "hook-1"}
    body = {"url": "https://hooks.example.com/a", "event_types": ["*"]}
    first = client.post("/api/v1/webhooks", headers=headers, json=body)
    assert first.status_code == 201
    secret = first.get_json()["data"]["secret"]

    again = client.post("/api/v1/webhooks", headers=headers, json=body)
    assert again.status_code == 409
    assert again.get_json()["error"]["details"] == {"Idempotency-Key": ["already used"]}
    assert secret not in again.get_data(as_text=True)
    with as_tenant(tenant):
        assert len(session.scalars(select(WebhookEndpoint)).all()) == 1
        stored = session.scalars(select(IdempotencyKey)).all()
        assert [k.key for k in stored] == ["hook-1"]
        assert all(secret not in k.body for k in stored)
