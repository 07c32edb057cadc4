"""Peak memory (VmHWM) of an app process with every addon loaded, serving one request."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.harness import Context, Result, workload

ROOT = Path(__file__).resolve().parents[2]


def measure(mode: str, ctx: Context) -> dict[str, object]:
    """Run `probe` in a fresh interpreter and read its answer."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.rss_probe", mode, ctx.url, str(ctx.tmp / "rss")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


@workload("rss")
def rss(ctx: Context) -> list[Result]:
    """A fresh process builds the app (every installed addon loaded) and answers /healthz;
    its VmHWM. Baseline: a fresh process that opens the database with the bare driver."""
    app, base = measure("app", ctx), measure("baseline", ctx)
    return [
        ctx.result(
            "rss: app process, all addons loaded",
            "MiB",
            int(app["kib"]) / 1024,
            int(base["kib"]) / 1024,
            higher_is_better=False,
            addons=",".join(app.get("addons", [])),  # type: ignore[arg-type]
            note="baseline: python + the bare driver",
        )
    ]
