"""Settings pages for webhooks and failed events, through the test client, on both databases."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from sqlalchemy import func, select

from core.event_models import (
    EventFailure,
    OutboxEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

PASSWORD = "correct horse battery"


@pytest.fixture()
def login(client):
    """`login(user, tenant)`: log the test client in through the login form."""

    def do(user, tenant):
        resp = client.post(
            "/login", data={"email": user.email, "password": PASSWORD, "tenant": tenant.slug}
        )
        assert resp.status_code == 302, resp.get_data(as_text=True)
        return client

    return do


@pytest.fixture()
def admin(make_tenant, make_member, login):
    tenant = make_tenant(name="Hooks Ltd")
    user = make_member(tenant, roles=["admin"])
    return login(user, tenant), tenant, user


def page(resp) -> str:
    return resp.get_data(as_text=True)


def count_endpoints(session, as_tenant, tenant) -> int:
    with as_tenant(tenant):
        return session.scalar(select(func.count()).select_from(WebhookEndpoint))


def test_a_manager_without_the_permissions_gets_403_and_no_links(make_tenant, make_member, login):
    tenant = make_tenant()
    client = login(make_member(tenant, roles=["manager"]), tenant)
    html = page(client.get("/settings/audit"))
    assert 'href="/settings/webhooks"' not in html and 'href="/settings/failed-events"' not in html
    assert client.get("/settings/webhooks").status_code == 403
    assert client.post("/settings/webhooks", data={"url": "https://x.test"}).status_code == 403
    assert client.get("/settings/failed-events").status_code == 403
    assert client.post("/settings/failed-events/retry-all").status_code == 403


def test_admin_registers_disables_reenables_and_rotates_a_webhook(admin, session, as_tenant):
    client, tenant, _ = admin
    html = page(client.get("/settings/webhooks"))
    assert 'href="/settings/webhooks"' in html and 'href="/settings/failed-events"' in html
    assert "No endpoints yet." in html

    resp = client.post(
        "/settings/webhooks",
        data={"url": "ftp://example.com/in", "event_types": "contacts.*", "description": "ERP"},
    )
    html = page(resp)
    assert resp.status_code == 422
    assert "must start with http:// or https://" in html and "is-invalid" in html
    assert 'value="ftp://example.com/in"' in html and 'value="contacts.*"' in html  # kept
    assert count_endpoints(session, as_tenant, tenant) == 0

    resp = client.post(
        "/settings/webhooks",
        data={"url": "https://example.com/in", "event_types": "contacts.*, sales.order.confirmed"},
    )
    assert resp.status_code == 201
    secret = re.search(r'id="secret" readonly value="([^"]+)"', page(resp)).group(1)
    assert secret.startswith("whsec_")
    html = page(client.get("/settings/webhooks"))
    assert "https://example.com/in" in html and "sales.order.confirmed" in html
    assert secret not in html and "Active" in html
    endpoint_id = re.search(r'data-endpoint="([0-9a-f-]+)"', html).group(1)

    html = page(client.post(f"/settings/webhooks/{endpoint_id}/disable", follow_redirects=True))
    assert "Disabled" in html and "disabled by a user" in html and "Re-enable" in html
    html = page(client.post(f"/settings/webhooks/{endpoint_id}/enable", follow_redirects=True))
    assert "Enabled https://example.com/in" in html
    with as_tenant(tenant):
        endpoint = session.get(WebhookEndpoint, uuid.UUID(endpoint_id))
        session.refresh(endpoint)
        assert endpoint.active and endpoint.consecutive_failures == 0

    resp = client.post(f"/settings/webhooks/{endpoint_id}/rotate-secret")
    rotated = re.search(r'id="secret" readonly value="([^"]+)"', page(resp)).group(1)
    assert rotated != secret

    # A typed secret is validated: too short is refused next to the field, nothing written.
    resp = client.post(
        "/settings/webhooks",
        data={"url": "https://example.org/h", "event_types": "*", "secret": "short"},
    )
    assert resp.status_code == 422 and "secret must be" in page(resp)
    assert count_endpoints(session, as_tenant, tenant) == 1


def test_deliveries_page_shows_each_attempt(admin, session, as_tenant):
    client, tenant, _ = admin
    client.post("/settings/webhooks", data={"url": "https://example.com/d", "event_types": "*"})
    with as_tenant(tenant):
        endpoint = session.scalar(select(WebhookEndpoint))
        event = OutboxEvent(type="contacts.account.created", payload={}, state="done")
        session.add(event)
        session.flush()
        delivery = WebhookDelivery(
            endpoint_id=endpoint.id,
            event_id=event.id,
            event_type=event.type,
            state="delivered",
            attempts=2,
        )
        session.add(delivery)
        session.flush()
        now = dt.datetime.now(dt.UTC)
        session.add_all(
            [
                WebhookAttempt(
                    delivery_id=delivery.id,
                    number=1,
                    attempted_at=now,
                    success=False,
                    status_code=503,
                    duration_ms=41,
                    response_excerpt="busy, try later",
                ),
                WebhookAttempt(
                    delivery_id=delivery.id,
                    number=2,
                    attempted_at=now,
                    success=True,
                    status_code=200,
                    duration_ms=12,
                    response_excerpt="thanks",
                ),
            ]
        )
        session.flush()
    html = page(client.get(f"/settings/webhooks/{endpoint.id}/deliveries"))
    assert "contacts.account.created" in html and "delivered" in html
    assert "503" in html and "41 ms" in html and "busy, try later" in html
    assert "thanks" in html and "12 ms" in html
    assert "No deliveries yet." in page(
        client.get(f"/settings/webhooks/{endpoint.id}/deliveries?state=failed")
    )
    assert client.get(f"/settings/webhooks/{event.id}/deliveries").status_code == 404


def _failed_handler(session, as_tenant, tenant, handler="testkit.sync_crm"):
    with as_tenant(tenant):
        event = OutboxEvent(type="contacts.account.created", payload={}, state="failed")
        session.add(event)
        session.flush()
        failure = EventFailure(
            event_id=event.id,
            handler=handler,
            status="failed",
            attempts=8,
            last_error="Traceback (most recent call last):\nValueError: CRM said no",
        )
        session.add(failure)
        session.flush()
        return failure.id


def test_failed_event_is_listed_and_retry_takes_it_out(admin, session, as_tenant):
    client, tenant, _ = admin
    assert "No failed events." in page(client.get("/settings/failed-events"))
    failure_id = _failed_handler(session, as_tenant, tenant)
    html = page(client.get("/settings/failed-events"))
    assert f'data-failed="{failure_id}"' in html
    assert "testkit.sync_crm" in html and "ValueError: CRM said no" in html
    assert "Retry all (1)" in html

    html = page(client.post(f"/settings/failed-events/{failure_id}/retry", follow_redirects=True))
    assert "Retrying the handler" in html
    assert f'data-failed="{failure_id}"' not in html
    with as_tenant(tenant):
        failure = session.get(EventFailure, failure_id)
        session.refresh(failure)
        assert failure.status != "failed"


def test_retry_all_and_other_tenants_failures_stay_hidden(admin, make_tenant, session, as_tenant):
    client, tenant, _ = admin
    other = make_tenant()
    theirs = _failed_handler(session, as_tenant, other, "testkit.theirs")
    first = _failed_handler(session, as_tenant, tenant, "testkit.one")
    second = _failed_handler(session, as_tenant, tenant, "testkit.two")
    html = page(client.get("/settings/failed-events"))
    assert "testkit.one" in html and "testkit.two" in html and "testkit.theirs" not in html
    assert f"/settings/failed-events/{theirs}/retry" not in html
    html = page(client.post("/settings/failed-events/retry-all", follow_redirects=True))
    assert "Retrying 2 failed items" in html and "No failed events." in html
    resp = client.post(f"/settings/failed-events/{theirs}/retry", follow_redirects=True)
    assert "no failed handler or delivery" in page(resp)
    with as_tenant(other):
        assert session.get(EventFailure, theirs).status == "failed"
    with as_tenant(tenant):
        for ident in (first, second):
            failure = session.get(EventFailure, ident)
            session.refresh(failure)
            assert failure.status != "failed"
