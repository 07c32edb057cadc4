"""Notifications: a row per user for the bell, and mail sent from a job after commit (.eml
files in embedded mode without SMTP, SMTP when configured, retried when SMTP is down)."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from core import events
from core.db import session
from core.errors import ValidationError
from core.event_models import EventFailure, Notification, OutboxEvent
from core.notifications import list_notifications, mark_read, notify, unread_count
from core.tenancy import tenant_context
from tests.events.conftest import free_port


def mails_to(app, email: str) -> list[Any]:
    folder = Path(app.instance_path) / "mail"
    found = [message_from_bytes(p.read_bytes()) for p in sorted(folder.glob("*.eml"))]
    return [m for m in found if m["To"] == email]


def test_notify_fills_the_bell_and_mails_each_user_after_commit(world, make_user_committed):
    t = world.tenant()
    ann, bob = make_user_committed(world, t), make_user_committed(world, t)

    rows = world.run(
        t,
        lambda: notify(
            [ann.id, bob.id, ann.id],
            "Order SO-1 confirmed",
            "Ship by Friday.",
            link="https://erp.example/so/1",
        ),
    )

    assert sorted(r.user_id for r in rows) == sorted([ann.id, bob.id])  # one each
    for user in (ann, bob):
        [mail] = mails_to(world.app, user.email)
        assert mail["Subject"] == "Order SO-1 confirmed"
        text = mail.get_payload(decode=True).decode()
        assert "Ship by Friday." in text and "https://erp.example/so/1" in text

    def bell(user):
        return [
            (n.subject, n.read_at is None, n.email_state) for n in list_notifications(user.id)
        ], unread_count(user.id)

    assert world.run(t, lambda: bell(ann)) == ([("Order SO-1 confirmed", True, "sent")], 1)
    assert world.run(t, lambda: mark_read(ann.id)) == 1
    assert world.run(t, lambda: bell(ann))[1] == 0
    assert world.run(t, lambda: bell(bob))[1] == 1  # each user has their own bell


def test_notify_without_email_sends_nothing(world, make_user_committed):
    t = world.tenant()
    ann = make_user_committed(world, t)

    world.run(t, lambda: notify([ann.id], "Just the bell", email=False))

    assert mails_to(world.app, ann.email) == []
    assert world.run(t, lambda: unread_count(ann.id)) == 1
    assert world.count(OutboxEvent, OutboxEvent.tenant_id == t.id) == 0


def test_a_rolled_back_notification_is_neither_shown_nor_sent(world, make_user_committed):
    t = world.tenant()
    ann = make_user_committed(world, t)
    with world.app.app_context(), tenant_context(t.id):
        notify([ann.id], "Never mind")
        session.rollback()

    assert world.run(t, lambda: unread_count(ann.id)) == 0
    assert mails_to(world.app, ann.email) == []


def test_only_members_of_the_tenant_can_be_notified(world, make_user_committed):
    t, other = world.tenant(), world.tenant()
    stranger = make_user_committed(world, other)
    with world.app.app_context(), tenant_context(t.id):
        with pytest.raises(ValidationError) as err:
            notify([stranger.id], "Hello")
        assert err.value.field == "user_ids"
        with pytest.raises(ValidationError) as err:
            notify([], "Hello")
        assert err.value.field == "user_ids"
        session.rollback()


class SMTPServer:
    """Just enough SMTP on 127.0.0.1 to receive what smtplib sends."""

    def __init__(self, port: int) -> None:
        self.messages: list[bytes] = []
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.wfile.write(b"220 test ESMTP\r\n")
                lines: list[bytes] = []
                data = False
                while line := self.rfile.readline():
                    if data:
                        if line in (b".\r\n", b".\n"):
                            outer.messages.append(b"".join(lines))
                            lines, data = [], False
                            self.wfile.write(b"250 queued\r\n")
                        else:
                            lines.append(line[1:] if line.startswith(b"..") else line)
                        continue
                    verb = line[:4].upper()
                    if verb == b"DATA":
                        data = True
                        self.wfile.write(b"354 go ahead\r\n")
                    elif verb == b"QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:
                        self.wfile.write(b"250 ok\r\n")

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def smtp(monkeypatch) -> Iterator[Any]:
    """SMTP settings pointing at a port; `start()` brings a server up there."""
    port = free_port()
    monkeypatch.setenv("PERGOLA_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("PERGOLA_SMTP_PORT", str(port))
    monkeypatch.setenv("PERGOLA_SMTP_STARTTLS", "0")
    monkeypatch.setenv("PERGOLA_SMTP_FROM", "erp@example.com")
    servers: list[SMTPServer] = []

    class Control:
        def start(self) -> SMTPServer:
            servers.append(SMTPServer(port))
            return servers[-1]

    yield Control()
    for s in servers:
        s.close()


def test_mail_goes_over_smtp_and_waits_while_smtp_is_down(world, make_user_committed, smtp):
    t = world.tenant()
    ann = make_user_committed(world, t)

    world.run(t, lambda: notify([ann.id], "Invoice overdue", "Please pay."))

    state = world.run(t, lambda: session.scalar(select(Notification.email_state)))
    assert state == "pending"  # SMTP refused: the send is retried, not lost
    failure = world.system(
        lambda: session.scalar(
            select(EventFailure)
            .join(OutboxEvent, OutboxEvent.id == EventFailure.event_id)
            .where(OutboxEvent.tenant_id == t.id)
        )
    )
    assert failure.handler == "core.notification_email" and failure.status == "retrying"

    server = smtp.start()
    world.fast_forward(
        EventFailure, failure.id, also=update(OutboxEvent).where(OutboxEvent.id == failure.event_id)
    )
    with world.app.app_context():
        events.relay()

    [raw] = server.messages
    mail = message_from_bytes(raw)
    assert (mail["To"], mail["From"], mail["Subject"]) == (
        ann.email,
        "erp@example.com",
        "Invoice overdue",
    )
    assert world.run(t, lambda: session.scalar(select(Notification.email_state))) == "sent"
    assert mails_to(world.app, ann.email) == []  # no .eml when SMTP is configured


# --- the bell's API --------------------------------------------------------------------


def login(client, make_member, tenant, roles=("employee",)):
    user = make_member(tenant, roles=roles)
    resp = client.post(
        "/api/v1/auth/login",
        json={"email": user.email, "password": "correct horse battery", "tenant": tenant.slug},
    )
    assert resp.status_code == 200, resp.get_json()
    return user, {"Authorization": f"Bearer {resp.get_json()['data']['access_token']}"}


def test_the_bell_api_lists_and_marks_the_callers_own_notifications(
    client, tenant, make_member, as_tenant, session
):
    ann, headers = login(client, make_member, tenant)
    bob = make_member(tenant, roles=("employee",))
    with as_tenant(tenant):
        notify([ann.id], "First", email=False)
        notify([ann.id], "Second", "details", link="/x", email=False)
        notify([bob.id], "Not yours", email=False)
        session.commit()

    resp = client.get("/api/v1/notifications", headers=headers)
    assert resp.status_code == 200
    body = resp.get_json()
    assert [n["subject"] for n in body["data"]] == ["Second", "First"]
    assert body["meta"]["unread"] == 2

    first = body["data"][1]["id"]
    resp = client.post("/api/v1/notifications/read", json={"ids": [first]}, headers=headers)
    assert resp.get_json()["data"] == {"marked": 1}
    unread = client.get("/api/v1/notifications?unread=1", headers=headers).get_json()
    assert [n["subject"] for n in unread["data"]] == ["Second"]
    assert unread["meta"]["unread"] == 1

    assert client.get("/api/v1/notifications").status_code == 401
