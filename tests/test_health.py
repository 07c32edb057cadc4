"""The health check load balancers poll, and the landing page."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from flask import Flask

from core import create_app
from core.db import get_db


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_healthz_reports_ok(app: Flask):
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_healthz_is_503_when_the_database_is_unreachable(backend: str, tmp_path: Path):
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'no-such-dir' / 'pergola.db'}"
    else:
        url = f"postgresql://pergola@127.0.0.1:{closed_port()}/pergola"
    broken = create_app(
        {
            "database_url": url,
            "testing": True,
            "instance_path": str(tmp_path / "instance"),
            "secret_key": "x",
        }
    )
    try:
        response = broken.test_client().get("/healthz")
    finally:
        get_db(broken).dispose()
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] != "ok"
    assert body["database"] != "ok"


def test_index_leads_visitors_to_login_without_naming_tenants(app: Flask, make_tenant):
    make_tenant("acme", "Acme Corporation")
    make_tenant("globex", "Globex")
    response = app.test_client().get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert 'href="/login"' in page
    assert "Acme Corporation" not in page
    assert "Globex" not in page


def test_healthz_answers_for_an_authenticated_caller(client, tenant, api_headers):
    """A bearer request opens a transaction first; the check must not wait behind it."""
    response = client.get("/healthz", headers=api_headers(tenant))
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}
