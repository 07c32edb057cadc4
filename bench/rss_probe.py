"""Peak RSS probe run in a fresh interpreter by the `rss` workload.

    python -m bench.rss_probe app|baseline DATABASE_URL INSTANCE_DIR

A module of its own (not under bench.workloads) so that the baseline process imports
nothing but the database driver.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


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


if __name__ == "__main__":
    probe(sys.argv[1], sys.argv[2], sys.argv[3])
