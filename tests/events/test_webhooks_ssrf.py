"""Webhook address checks: the address checked is the address connected to (no DNS
rebinding), non-public addresses are refused, and https still checks the host name."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from core import events, webhooks
from core.events import emit
from tests.events.test_webhooks import Receiver, attempts_of, delivery_of, register

PUBLIC = "93.184.215.14"  # a public address; the test network layer refuses it


def answers(*ips: str, port: int = 0) -> list[tuple[Any, ...]]:
    """What getaddrinfo returns for a name with these addresses."""
    out: list[tuple[Any, ...]] = []
    for ip in ips:
        if ":" in ip:
            out.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (ip, port, 0, 0)))
        else:
            out.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)))
    return out


@pytest.fixture()
def receiver() -> Iterator[Callable[[list[tuple[int, str]]], Receiver]]:
    """Factory of loopback HTTP receivers (see tests/events/test_webhooks.py)."""
    made: list[Receiver] = []

    def make(answers: list[tuple[int, str]]) -> Receiver:
        made.append(Receiver(answers))
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.fixture()
def dns(monkeypatch) -> Callable[[str, Callable[[int], list[str]]], list[str]]:
    """Fake DNS: `dns(name, lambda n: [ips for lookup number n])`; returns the lookups."""
    real = socket.getaddrinfo
    names: dict[str, Callable[[int], list[str]]] = {}
    lookups: list[str] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in names:
            lookups.append(host)
            return answers(*names[host](lookups.count(host)), port=int(port or 0))
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    def add(name: str, ips: Callable[[int], list[str]]) -> list[str]:
        names[name] = ips
        return lookups

    return add


@pytest.fixture()
def connects(monkeypatch) -> list[Any]:
    """Every address a socket connects to; public ones are refused (no real internet)."""
    real = socket.socket.connect
    seen: list[Any] = []

    def connect(self: socket.socket, address: Any) -> None:
        seen.append(address)
        if address[0] == PUBLIC:
            raise ConnectionRefusedError(111, "Connection refused (test network)")
        real(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return seen


@pytest.fixture()
def public_only(world, monkeypatch) -> None:
    """The production default: webhooks go to public addresses only."""
    monkeypatch.setitem(
        world.app.extensions,
        "pergola.events",
        replace(events.event_settings(world.app), webhook_allow_private_networks=False),
    )


def test_a_name_that_rebinds_to_loopback_after_the_check_is_never_connected_to(
    world, receiver, dns, connects, public_only
):
    hook = receiver([(200, "internal secrets")])
    port = hook.server.server_port
    # Public for the check, loopback for anyone who asks again.
    lookups = dns("rebind.example.test", lambda n: [PUBLIC] if n == 1 else ["127.0.0.1"])
    t = world.tenant()
    endpoint = register(world, t, f"http://rebind.example.test:{port}/hooks")

    world.run(t, lambda: emit("probe.created", {}))

    assert hook.requests == []
    assert lookups == ["rebind.example.test"]  # resolved once per attempt
    assert [a[0] for a in connects] == [PUBLIC]
    [attempt] = attempts_of(world, delivery_of(world, endpoint.id).id)
    assert attempt.success is False and "refused" in attempt.error.lower()


@pytest.mark.parametrize(
    "addresses",
    [["10.1.2.3"], [PUBLIC, "169.254.169.254"], ["::ffff:127.0.0.1"], ["fd00::1"], ["::1"]],
)
def test_a_name_resolving_to_a_private_address_is_refused_and_the_reason_recorded(
    world, receiver, dns, connects, public_only, addresses
):
    hook = receiver([(200, "ok")])
    dns("intranet.example.test", lambda n: addresses)
    t = world.tenant()
    endpoint = register(world, t, f"http://intranet.example.test:{hook.server.server_port}/h")

    world.run(t, lambda: emit("probe.created", {}))

    assert hook.requests == [] and connects == []
    delivery = delivery_of(world, endpoint.id)
    private = str(webhooks.ipaddress.ip_address(addresses[-1]))
    assert delivery.last_error == (
        f"refused: intranet.example.test resolves to {private}, a private network address"
    )
    [attempt] = attempts_of(world, delivery.id)
    assert attempt.success is False and attempt.status_code is None


def test_the_connection_to_the_checked_address_carries_the_original_host_name(world, receiver, dns):
    # The test settings allow private networks, as a deployment on its own network may.
    hook = receiver([(204, "")])
    dns("hooks.example.test", lambda n: ["127.0.0.1"])
    t = world.tenant()
    endpoint = register(world, t, f"http://hooks.example.test:{hook.server.server_port}/in?x=1")

    world.run(t, lambda: emit("probe.created", {}))

    assert delivery_of(world, endpoint.id).state == "succeeded"
    [request] = hook.requests
    assert request["path"] == "/in?x=1"
    assert request["headers"]["Host"] == f"hooks.example.test:{hook.server.server_port}"


@pytest.mark.parametrize(
    "ip,public",
    [
        ("93.184.215.14", True),
        ("2606:4700::1111", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("100.64.0.1", False),  # carrier-grade NAT
        ("169.254.169.254", False),  # cloud metadata
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1", False),
        ("ff02::1", False),
        ("::ffff:10.0.0.1", False),
        ("2002:7f00:1::", False),  # 6to4 around 127.0.0.1
        ("64:ff9b::7f00:1", False),
    ],
)
def test_which_addresses_count_as_public(ip, public):
    assert webhooks._is_public(webhooks.ipaddress.ip_address(ip)) is public


# --- https: the pinned address still gets SNI and the host name check ---------------------


class TLSReceiver:
    """An HTTPS server on 127.0.0.1 whose certificate names `hooks.example.test`."""

    def __init__(self, directory: Path) -> None:
        self.cert, key = directory / "cert.pem", directory / "key.pem"
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=hooks.example.test",
                "-addext",
                "subjectAltName=DNS:hooks.example.test",
                "-keyout",
                str(key),
                "-out",
                str(self.cert),
            ],
            check=True,
            capture_output=True,
        )
        self.requests: list[dict[str, Any]] = []
        self.server_names: list[str | None] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                owner.requests.append({"path": self.path, "headers": dict(self.headers)})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, key)

        def remember_sni(_sock: Any, name: str | None, _ctx: Any) -> None:
            owner.server_names.append(name)

        context.sni_callback = remember_sni
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def tls_receiver(tmp_path: Path, monkeypatch) -> Iterator[TLSReceiver]:
    """The HTTPS receiver, its certificate trusted by the webhook client."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    server = TLSReceiver(tmp_path)
    monkeypatch.setattr(
        webhooks, "_tls_context", lambda: ssl.create_default_context(cafile=str(server.cert))
    )
    try:
        yield server
    finally:
        server.close()


def test_https_to_a_pinned_address_sends_sni_and_checks_the_certificate_name(tls_receiver, dns):
    dns("hooks.example.test", lambda n: ["127.0.0.1"])
    dns("other.example.test", lambda n: ["127.0.0.1"])
    headers = {"Content-Type": "application/json"}

    good = webhooks.post(
        f"https://hooks.example.test:{tls_receiver.port}/in",
        b"{}",
        headers,
        5,
        allow_private=True,
    )
    # Same address, another name: the certificate does not name it.
    bad = webhooks.post(
        f"https://other.example.test:{tls_receiver.port}/in",
        b"{}",
        headers,
        5,
        allow_private=True,
    )

    assert good.ok, good.error
    assert tls_receiver.requests[0]["headers"]["Host"] == (
        f"hooks.example.test:{tls_receiver.port}"
    )
    assert tls_receiver.server_names[0] == "hooks.example.test"
    assert not bad.ok and bad.status is None
    assert "certificate" in bad.error.lower() and "other.example.test" in bad.error
    assert len(tls_receiver.requests) == 1
