"""Webhooks: signed JSON POSTs to the endpoints that want the event, retried with backoff,
every attempt logged, endpoints disabled after repeated failures and enabled again."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from core import events, webhooks
from core.config import PROJECT_ROOT
from core.db import session
from core.errors import ValidationError
from core.event_models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from core.events import emit
from core.tenancy import tenant_context
from tests.events.conftest import wait_for

SECRET = "whsec_test-secret-0123456789"


def documented_verifier():
    """`verify_pergola_signature` exactly as docs/events.md shows it."""
    text = (PROJECT_ROOT / "docs" / "events.md").read_text()
    after = text.split("<!-- signature-snippet -->", 1)[1]
    code = re.search(r"```python\n(.*?)```", after, re.S).group(1)
    namespace: dict[str, Any] = {}
    exec(compile(code, "docs/events.md", "exec"), namespace)
    return namespace["verify_pergola_signature"]


class Receiver:
    """An HTTP server on 127.0.0.1 that answers from a script and records each request."""

    def __init__(self, answers: list[tuple[int, str]]) -> None:
        self.answers = answers
        self.requests: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                n = len(receiver.requests) - 1
                status, text = receiver.answers[min(n, len(receiver.answers) - 1)]
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(text.encode())

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/pergola"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def receiver() -> Iterator[Any]:
    """Factory: `receiver([(500, "boom"), (200, "ok")])`; the last answer repeats."""
    made: list[Receiver] = []

    def make(answers: list[tuple[int, str]]) -> Receiver:
        r = Receiver(answers)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def register(world, tenant, url, patterns=("probe.*",), secret=SECRET):
    return world.run(tenant, lambda: webhooks.create_endpoint(url, list(patterns), secret=secret))


def delivery_of(world, endpoint_id):
    return world.system(
        lambda: session.scalar(
            select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
        )
    )


def attempts_of(world, delivery_id):
    return world.system(
        lambda: list(
            session.scalars(
                select(WebhookAttempt)
                .where(WebhookAttempt.delivery_id == delivery_id)
                .order_by(WebhookAttempt.number)
            )
        )
    )


def retry_now(world, delivery_id):
    """Let the backoff elapse, then run the relay (embedded: it delivers at once)."""
    world.fast_forward(WebhookDelivery, delivery_id)
    with world.app.app_context():
        assert events.relay().deliveries == 1


def test_fails_twice_then_succeeds_once_and_verifies_with_the_documented_snippet(world, receiver):
    t = world.tenant()
    hook = receiver([(500, "boom, try later"), (503, "still down"), (200, "thanks")])
    endpoint = register(world, t, hook.url)

    event_id = world.run(t, lambda: emit("probe.created", {"note": "hooked", "n": 1}))

    delivery = delivery_of(world, endpoint.id)
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("retrying", 1, 500)
    first_wait = delivery.next_attempt_at - attempts_of(world, delivery.id)[0].attempted_at
    assert dt.timedelta(seconds=10) <= first_wait <= dt.timedelta(seconds=11)
    with world.app.app_context():
        assert events.relay().deliveries == 0  # not due yet

    retry_now(world, delivery.id)
    second = delivery_of(world, endpoint.id)
    assert (second.state, second.attempts) == ("retrying", 2)
    second_wait = second.next_attempt_at - attempts_of(world, delivery.id)[1].attempted_at
    assert dt.timedelta(seconds=20) <= second_wait <= dt.timedelta(seconds=22)

    retry_now(world, delivery.id)

    done = delivery_of(world, endpoint.id)
    assert (done.state, done.attempts, done.last_status_code) == ("succeeded", 3, 200)
    assert len(hook.requests) == 3
    ok = hook.requests[-1]
    verify = documented_verifier()
    assert verify(SECRET, ok["body"], ok["headers"]["X-Pergola-Signature"])
    assert not verify(
        "whsec_some-other-secret-000", ok["body"], ok["headers"]["X-Pergola-Signature"]
    )
    assert not verify(SECRET, ok["body"] + b" ", ok["headers"]["X-Pergola-Signature"])
    headers = ok["headers"]
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Pergola-Event"] == "probe.created"
    assert headers["X-Pergola-Event-Id"] == str(event_id)
    assert headers["X-Pergola-Attempt"] == "3"
    # The same delivery id and the same body on every attempt: receivers deduplicate.
    assert {r["headers"]["X-Pergola-Delivery"] for r in hook.requests} == {str(delivery.id)}
    assert {r["body"] for r in hook.requests} == {ok["body"]}
    body = json.loads(ok["body"])
    assert body["id"] == str(event_id) and body["type"] == "probe.created"
    assert body["data"] == {"note": "hooked", "n": 1}
    assert body["tenant_id"] == str(t.id)

    log = attempts_of(world, delivery.id)
    assert [(a.number, a.status_code, a.success) for a in log] == [
        (1, 500, False),
        (2, 503, False),
        (3, 200, True),
    ]
    assert [a.response_excerpt for a in log] == ["boom, try later", "still down", "thanks"]
    assert all(a.duration_ms >= 0 for a in log)
    endpoint_now = world.system(lambda: session.get(WebhookEndpoint, endpoint.id))
    assert (endpoint_now.active, endpoint_now.consecutive_failures) == (True, 0)
    with world.app.app_context():
        assert events.relay().deliveries == 0  # nothing left to send


def test_only_matching_active_endpoints_of_the_tenant_receive_the_event(world, receiver):
    a, b = world.tenant(), world.tenant()
    wants = receiver([(200, "ok")])
    other_type = receiver([(200, "ok")])
    paused = receiver([(200, "ok")])
    other_tenant = receiver([(200, "ok")])
    register(world, a, wants.url, ["probe.created"])
    register(world, a, other_type.url, ["contacts.*"])
    register(world, a, paused.url, ["*"])
    register(world, b, other_tenant.url, ["*"])
    world.run(
        a,
        lambda: webhooks.disable_endpoint(
            session.scalar(select(WebhookEndpoint.id).where(WebhookEndpoint.url == paused.url))
        ),
    )

    world.run(a, lambda: emit("probe.created", {}))

    assert len(wants.requests) == 1
    assert other_type.requests == paused.requests == other_tenant.requests == []


def test_internal_events_never_reach_webhooks(world, receiver, make_user_committed):
    t = world.tenant()
    user = make_user_committed(world, t)
    everything = receiver([(200, "ok")])
    register(world, t, everything.url, ["*"])
    from core.notifications import notify

    world.run(t, lambda: notify([user.id], "Private", "for your eyes only"))

    assert everything.requests == []


def test_endpoint_is_disabled_after_n_consecutive_failures_and_can_be_enabled(world, receiver):
    t = world.tenant()
    hook = receiver([(500, "down")])
    endpoint = register(world, t, hook.url)

    first_event = world.run(t, lambda: emit("probe.created", {"n": 1}))
    first = delivery_of(world, endpoint.id)
    retry_now(world, first.id)
    retry_now(world, first.id)  # attempt 3 of 3: this delivery gives up
    assert delivery_of(world, endpoint.id).state == "failed"
    ep = world.system(lambda: session.get(WebhookEndpoint, endpoint.id))
    assert (ep.active, ep.consecutive_failures) == (True, 3)

    world.run(t, lambda: emit("probe.created", {"n": 2}))  # the 4th failure in a row

    ep = world.system(lambda: session.get(WebhookEndpoint, endpoint.id))
    assert ep.active is False and ep.disabled_reason == "4 consecutive failures"
    second = world.system(
        lambda: session.scalar(
            select(WebhookDelivery).where(
                WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.event_id != first_event
            )
        )
    )
    assert second.state == "failed" and "endpoint disabled" in second.last_error
    world.run(t, lambda: emit("probe.created", {"n": 3}))
    assert len(hook.requests) == 4  # nothing is sent to a disabled endpoint
    with world.app.app_context(), tenant_context(t.id):
        failed = {i.id for i in events.failed() if i.kind == "webhook"}
    assert failed == {first.id, second.id}

    hook.answers = [(204, "")]
    world.run(t, lambda: webhooks.update_endpoint(endpoint.id, {"active": True}))
    ep = world.system(lambda: session.get(WebhookEndpoint, endpoint.id))
    assert (ep.active, ep.consecutive_failures, ep.disabled_at) == (True, 0, None)
    world.run(t, lambda: emit("probe.created", {"n": 4}))
    assert len(hook.requests) == 5

    # A failed delivery, retried by hand once the receiver is back, succeeds.
    with world.app.app_context(), tenant_context(t.id):
        assert events.retry(second.id) == "webhook"
        session.commit()
    assert world.system(lambda: session.get(WebhookDelivery, second.id)).state == "succeeded"
    assert len(hook.requests) == 6


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "example.com/hook",
        "gopher://example.com",
        "http://",
        "https://user:pw@example.com/hook",
        "",
    ],
)
def test_only_http_and_https_urls_are_accepted(world, url):
    t = world.tenant()
    with world.app.app_context(), tenant_context(t.id):
        with pytest.raises(ValidationError) as err:
            webhooks.create_endpoint(url, ["probe.*"])
        assert err.value.field == "url"
        assert "url" in err.value.details
        session.rollback()


def test_event_type_patterns_and_secret_are_checked(world):
    t = world.tenant()
    with world.app.app_context(), tenant_context(t.id):
        for bad in ([], "probe.*", ["Probe Created"], ["a..b"]):
            with pytest.raises(ValidationError) as err:
                webhooks.create_endpoint("https://example.com/h", bad)
            assert err.value.field == "event_types"
        with pytest.raises(ValidationError) as err:
            webhooks.create_endpoint("https://example.com/h", ["*"], secret="short")
        assert err.value.field == "secret"
        endpoint = webhooks.create_endpoint("HTTPS://example.com/h", ["sales.*", "sales.*"])
        assert endpoint.event_types == ["sales.*"]
        assert endpoint.secret.startswith("whsec_") and len(endpoint.secret) > 30
        session.rollback()


def test_unreachable_receiver_is_a_logged_failed_attempt(world):
    t = world.tenant()
    from tests.events.conftest import free_port

    endpoint = register(world, t, f"http://127.0.0.1:{free_port()}/nobody-home")

    world.run(t, lambda: emit("probe.created", {}))

    delivery = delivery_of(world, endpoint.id)
    assert (delivery.state, delivery.last_status_code) == ("retrying", None)
    [attempt] = attempts_of(world, delivery.id)
    assert attempt.success is False and attempt.status_code is None
    assert "refused" in attempt.error.lower()


def test_names_that_resolve_to_private_addresses_are_refused_at_delivery(
    world, receiver, monkeypatch
):
    from dataclasses import replace

    monkeypatch.setitem(
        world.app.extensions,
        "pergola.events",
        replace(events.event_settings(world.app), webhook_allow_private_networks=False),
    )
    t = world.tenant()
    hook = receiver([(200, "internal secrets")])
    endpoint = register(world, t, hook.url.replace("127.0.0.1", "localhost"))

    world.run(t, lambda: emit("probe.created", {}))

    assert hook.requests == []
    delivery = delivery_of(world, endpoint.id)
    [attempt] = attempts_of(world, delivery.id)
    assert attempt.success is False and attempt.response_excerpt == ""
    assert "localhost resolves to" in attempt.error and "private network" in attempt.error


def test_redirects_are_not_followed(world, receiver):
    t = world.tenant()
    hook = receiver([(302, "elsewhere")])
    endpoint = register(world, t, hook.url)

    world.run(t, lambda: emit("probe.created", {}))

    delivery = delivery_of(world, endpoint.id)
    assert (delivery.state, delivery.last_status_code) == ("retrying", 302)
    assert len(hook.requests) == 1


def test_sign_and_verify_agree():
    body = b'{"a":1}'
    header = webhooks.sign(SECRET, body, 1_700_000_000)
    assert header.startswith("t=1700000000,v1=")
    assert webhooks.verify(SECRET, body, header, now=1_700_000_100)
    assert not webhooks.verify(SECRET, body, header, now=1_700_001_000)  # too old
    assert not webhooks.verify(SECRET, body, "garbage")


@pytest.mark.redis
def test_a_worker_delivers_with_retries_driven_by_the_scheduler(
    redis_world, receiver, start_worker
):
    world = redis_world
    t = world.tenant()
    hook = receiver([(500, "no"), (500, "no"), (200, "yes")])
    endpoint = register(world, t, hook.url)

    world.run(t, lambda: emit("probe.created", {"note": "via worker"}))
    worker = start_worker("--with-scheduler", scheduler_interval=1, event_retry_base=0)
    try:
        wait_for(
            lambda: (
                delivery_of(world, endpoint.id) is not None
                and delivery_of(world, endpoint.id).state == "succeeded"
            ),
            60,
            "the delivery to succeed",
        )
    finally:
        output = worker.stop()

    assert [r["headers"]["X-Pergola-Attempt"] for r in hook.requests] == ["1", "2", "3"], output
    ok = hook.requests[-1]
    assert documented_verifier()(SECRET, ok["body"], ok["headers"]["X-Pergola-Signature"])
