"""API reads: 50 records with their related names, in-process and over HTTP (gunicorn)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.harness import Context, Result, new_tenant, percentile, workload
from bench.raw import Raw
from bench.workloads.contacts import insert_accounts

PATH = "/api/v1/benchkit/people?per_page=50&expand=account&sort=last_name"
ROOT = Path(__file__).resolve().parents[2]


def samples(fn: Callable[[], Any], n: int) -> tuple[float, list[float]]:
    """(total seconds, per-call seconds) of `n` calls of `fn`."""
    out = []
    start = time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return time.perf_counter() - start, out


def raw_list(raw: Raw, tid: uuid.UUID) -> Callable[[], str]:
    """The baseline: one JOIN for 50 people with their account's name, as JSON."""

    def run() -> str:
        raw.begin()
        rows = raw.execute(
            "SELECT p.id, p.account_id, p.first_name, p.last_name, p.email, p.version, a.id,"
            " a.name FROM contacts_person p JOIN contacts_account a ON a.id = p.account_id"
            " WHERE p.tenant_id = ? AND p.deleted_at IS NULL ORDER BY p.last_name, p.id"
            " LIMIT 50",
            (tid,),
        ).fetchall()
        raw.commit()
        return json.dumps(
            {
                "success": True,
                "data": [
                    {
                        "id": str(r[0]),
                        "account_id": str(r[1]),
                        "first_name": r[2],
                        "last_name": r[3],
                        "email": r[4],
                        "version": r[5],
                        "account": {"id": str(r[6]), "name": r[7]},
                    }
                    for r in rows
                ],
            }
        )

    return run


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_gunicorn(ctx: Context, port: int) -> subprocess.Popen[bytes]:
    """gunicorn with 2 sync workers on 127.0.0.1:`port` serving the bench app."""
    env = {
        **os.environ,
        "PERGOLA_BENCH_WSGI_DATABASE_URL": ctx.url,
        "PERGOLA_BENCH_WSGI_INSTANCE": str(ctx.tmp / "instance"),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "--timeout",
            "60",
            "bench.wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return proc
        except OSError:
            time.sleep(0.2)
    stop(proc)
    raise RuntimeError("gunicorn did not answer /healthz within 60 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop gunicorn (its process group: the arbiter and its workers)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@workload("api-reads", requests=(1000, 10), accounts=(30, 25))
def api_reads(ctx: Context) -> list[Result]:
    """GET 50 people with expand=account (their account's name) R times: the WSGI app
    in-process (test client) and over HTTP against gunicorn with 2 workers; baseline: the
    JOIN by hand, serialised with json."""
    n, accounts = ctx.size("requests"), ctx.size("accounts")
    tid, token = new_tenant(ctx.app, "bench-api", admin=True)
    raw = Raw(ctx.url, tid)
    insert_accounts(raw, tid, accounts)
    headers = {"Authorization": f"Bearer {token}"}
    client = ctx.app.test_client()

    def in_process() -> None:
        resp = client.get(PATH, headers=headers)
        if resp.status_code != 200 or len(resp.get_json()["data"]) != 50:
            raise RuntimeError(f"list: {resp.status_code} {resp.get_data(True)[:300]}")
        if "account" not in resp.get_json()["data"][0]:
            raise RuntimeError("expand=account did not expand")

    base = raw_list(raw, tid)
    base()
    in_process()  # warm both
    rows = client.get(PATH, headers=headers).get_json()["data"]
    if any(row["account"]["id"] != row["account_id"] for row in rows):
        raise RuntimeError("expand=account gave a row another row's account")
    t_base, s_base = samples(base, n)
    t_in, s_in = samples(in_process, n)
    out = [
        ctx.result(
            "api reads: 50 people + account name, in-process",
            "req/s",
            n / t_in,
            n / t_base,
            p50_ms=percentile(s_in, 50) * 1e3,
            p95_ms=percentile(s_in, 95) * 1e3,
            baseline_p50_ms=percentile(s_base, 50) * 1e3,
            baseline_p95_ms=percentile(s_base, 95) * 1e3,
        )
    ]
    port = free_port()
    proc = start_gunicorn(ctx, port)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

        def over_http() -> None:
            conn.request("GET", PATH, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                raise RuntimeError(f"HTTP list: {resp.status} {body[:300]!r}")

        for _ in range(4):
            over_http()  # each worker opens its connections
        t_http, s_http = samples(over_http, n)
        conn.close()
    finally:
        stop(proc)
        raw.close()
    out.append(
        ctx.result(
            "api reads: same, HTTP, gunicorn 2 workers",
            "req/s",
            n / t_http,
            n / t_base,
            p50_ms=percentile(s_http, 50) * 1e3,
            p95_ms=percentile(s_http, 95) * 1e3,
            baseline_p50_ms=percentile(s_base, 50) * 1e3,
            baseline_p95_ms=percentile(s_base, 95) * 1e3,
            note="one client, sequential requests, keep-alive off (sync workers)",
        )
    )
    return out
