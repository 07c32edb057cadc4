"""Peak memory (VmHWM) of an app process with every addon loaded, serving one request."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.harness import Context, Result, workload

ROOT = Path(__file__).resolve().parents[2]


def peak_kib() -> int:
    """This process's peak resident set size in KiB (VmHWM; ru_maxrss if /proc is absent)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def probe(mode: str, url: str, instance: str) -> None:
    """Print the peak RSS of either the app (`app`) or the bare driver (`baseline`)."""
    if mode == "app":
        from bench.harness import build_app

        app = build_app(url, Path(instance))
        client = app.test_client()
        status = client.get("/healthz").status_code
        addons = list(app.extensions["pergola.registry"].addons)
        print(json.dumps({"kib": peak_kib(), "status": status, "addons": addons}))
    else:
        # Only the driver: no SQLAlchemy, no Flask, nothing of Pergola.
        if url.startswith("sqlite"):
            import sqlite3

            conn = sqlite3.connect(url.split(":///", 1)[1])
        else:
            import psycopg2

            conn = psycopg2.connect("postgresql://" + url.split("://", 1)[1])
        conn.cursor().execute("SELECT 1")
        conn.close()
        print(json.dumps({"kib": peak_kib()}))


def measure(mode: str, ctx: Context) -> dict[str, object]:
    """Run `probe` in a fresh interpreter and read its answer."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.workloads.rss", mode, ctx.url, str(ctx.tmp / "rss")],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


@workload("rss")
def rss(ctx: Context) -> list[Result]:
    """A fresh process builds the app (every installed addon loaded) and answers /healthz;
    its VmHWM. Baseline: a fresh process that opens the database with the bare driver."""
    app, base = measure("app", ctx), measure("baseline", ctx)
    return [ctx.result("rss: app process, all addons loaded", "MiB",
                       int(app["kib"]) / 1024, int(base["kib"]) / 1024, higher_is_better=False,
                       addons=",".join(app.get("addons", [])),  # type: ignore[arg-type]
                       note="baseline: python + the bare driver")]


if __name__ == "__main__":
    probe(sys.argv[1], sys.argv[2], sys.argv[3])
