"""The benchmark harness runs a quick workload end to end (no timing thresholds here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.harness import Result

ROOT = Path(__file__).resolve().parent.parent


def test_a_quick_workload_prints_a_json_line_with_its_baseline_and_ratio(tmp_path):
    out = tmp_path / "bench.jsonl"
    # SQLite and in-process events: the test needs no server, and never the test database.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REDIS_URL", "PERGOLA_BENCH_REDIS_URL", "PERGOLA_DATABASE_URL")
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--db",
            "sqlite",
            "--only",
            "contacts",
            "--size",
            "m=2",
            "--json-out",
            str(out),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 1
    row = lines[0]
    assert row["db"] == "sqlite" and row["size"] == {"m": 2} and row["unit"] == "accounts/s"
    assert row["value"] > 0 and row["baseline"] > 0
    assert row["ratio"] > 0
    assert "contacts: accounts" in proc.stdout  # the table at the end


def test_the_ratio_reads_the_same_way_for_rates_and_durations():
    faster = Result("x", "sqlite", {}, "ops/s", 50.0, 100.0)
    slower = Result("y", "sqlite", {}, "ms", 20.0, 10.0, higher_is_better=False)
    assert faster.ratio == 0.5 and slower.ratio == 0.5
    assert Result("z", "sqlite", {}, "ms", None, 1.0).ratio is None
