"""The benchmark runner: every workload beside its raw-SQL baseline, on SQLite and PostgreSQL.

    python -m bench [--quick] [--db sqlite|postgresql|both] [--only NAME,...]
                    [--size key=value ...] [--json-out FILE] [--list]

Prints one JSON line per figure as it is measured, then a table. Each database is fresh
(a SQLite file, or a new database on the server of SQLALCHEMY_DATABASE_URL /
PERGOLA_BENCH_DATABASE_URL, dropped afterwards). Exit status 1 if any workload failed.
Not a test: figures depend on the machine; read the ratios.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import traceback
from pathlib import Path

from bench import workloads  # importing registers the workloads
from bench.harness import WORKLOADS, Context, Result, build_app, fresh_database, scratch


def parse_sizes(pairs: list[str]) -> dict[str, int]:
    """`key=value` pairs as a dict of ints."""
    out = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if not value:
            raise SystemExit(f"--size wants key=value, got {pair!r}")
        out[key.strip()] = int(value.replace("_", ""))
    return out


def fmt(value: float | None) -> str:
    """A figure with about three significant digits."""
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def table(results: list[Result]) -> str:
    """The readable table printed at the end."""
    head = ("workload", "db", "unit", "pergola", "baseline", "ratio", "notes")
    rows = [head]
    for r in results:
        notes = "; ".join(
            f"{k}={v}"
            for k, v in r.extra.items()
            if k not in ("note", "p50_ms", "p95_ms", "baseline_p50_ms", "baseline_p95_ms")
            and not isinstance(v, dict | list)
        )
        if "p50_ms" in r.extra:
            notes = (
                f"p50 {r.extra['p50_ms']:.2f} ms, p95 {r.extra['p95_ms']:.2f} ms"
                + (
                    f" (baseline {r.extra['baseline_p50_ms']:.2f}/{r.extra['baseline_p95_ms']:.2f})"
                    if "baseline_p50_ms" in r.extra
                    else ""
                )
                + ("; " + notes if notes else "")
            )
        rows.append(
            (
                r.name,
                r.db,
                r.unit,
                fmt(r.value),
                fmt(r.baseline),
                "-" if r.ratio is None else f"{r.ratio:.3g}",
                notes[:110],
            )
        )
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(head))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def run_database(
    kind: str, args: argparse.Namespace, names: list[str], sizes: dict[str, int], emit: list[Result]
) -> bool:
    """Run the selected workloads on one fresh database; False if any failed."""
    from core import migrate
    from core.db import get_db

    ok = True
    pg_url = os.environ.get("PERGOLA_BENCH_DATABASE_URL") or os.environ.get(
        "SQLALCHEMY_DATABASE_URL"
    )
    with scratch() as tmp, fresh_database(kind, pg_url, tmp) as url:
        app = build_app(url, tmp / "instance")
        with app.app_context():
            migrate.upgrade(app)
        for name in names:
            ctx = Context(kind, url, app, args.quick, sizes, tmp, workload=name)
            start = time.perf_counter()
            try:
                results = WORKLOADS[name].fn(ctx)
            except Exception as exc:  # noqa: BLE001 - reported as a failed row, run goes on
                traceback.print_exc()
                ok = False
                results = [
                    ctx.result(
                        name,
                        "-",
                        None,
                        None,
                        error=f"{type(exc).__name__}: "
                        f"{str(exc).splitlines()[0][:200] if str(exc) else ''}",
                    )
                ]
            for r in results:
                r.extra.setdefault("seconds", round(time.perf_counter() - start, 2))
                print(r.to_json(), flush=True)
                emit.append(r)
        get_db(app).dispose()
    return ok


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run, print; the exit status says whether everything ran."""
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test)")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--only", default="", help="comma-separated workload names")
    parser.add_argument(
        "--size",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a size (e.g. n=500); applies to every workload with it",
    )
    parser.add_argument("--json-out", type=Path, help="also write the JSON lines here")
    parser.add_argument("--list", action="store_true", help="list the workloads and exit")
    args = parser.parse_args(argv)
    if args.list:
        for w in sorted(
            WORKLOADS.values(),
            key=lambda w: workloads.ORDER.index(w.name) if w.name in workloads.ORDER else 99,
        ):
            sizes = ", ".join(f"{k}={f}/{q}" for k, (f, q) in w.sizes.items())
            print(f"{w.name:<12} {sizes:<40} {w.doc.splitlines()[0] if w.doc else ''}")
        return 0
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(WORKLOADS)
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload(s) {', '.join(unknown)}; known: {', '.join(WORKLOADS)}")
    rank = {n: i for i, n in enumerate(workloads.ORDER)}
    names.sort(key=lambda n: rank.get(n, len(rank)))
    sizes = parse_sizes(args.size)
    # The bench's own output is the figures; the app's info logs would drown them.
    logging.getLogger("pergola").setLevel(logging.WARNING)
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results: list[Result] = []
    ok = True
    started = time.perf_counter()
    # Figures from a busy machine mislead: say how busy it was.
    load_before = os.getloadavg()[0]
    for kind in kinds:
        ok = run_database(kind, args, names, sizes, results) and ok
    if args.json_out:
        args.json_out.write_text("".join(r.to_json() + "\n" for r in results))
    print()
    print(table(results))
    print(
        f"\n{'quick' if args.quick else 'full'} run, {time.perf_counter() - started:.0f} s, "
        f"{os.cpu_count()} CPUs, load average {load_before:.1f} before and "
        f"{os.getloadavg()[0]:.1f} after{'' if ok else '; SOME WORKLOADS FAILED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
