#!/usr/bin/env bash
# Run the benchmark suite (bench/) on SQLite and PostgreSQL: `make bench` / `make bench-quick`.
#   bash scripts/bench.sh [--quick] [any other `python -m bench` option]
# Starts PostgreSQL and Redis via scripts/services.sh (reusing running ones) and stops what it
# started. Each run creates its own database on that server and drops it: the test database
# is never touched. The JSON lines also go to test-artifacts/bench[-quick].jsonl.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export SERVICES_DIR="${SERVICES_DIR:-/tmp/pergola-services}"

started_here=0
if ! bash scripts/services.sh status 2>/dev/null | grep -q "postgres: up"; then started_here=1; fi
env_lines=$(bash scripts/services.sh start) || { echo "could not start PostgreSQL/Redis" >&2; exit 1; }
eval "$env_lines"
cleanup() { [ "$started_here" = 1 ] && bash scripts/services.sh stop; }
trap cleanup EXIT

mkdir -p test-artifacts
name=bench
for arg in "$@"; do [ "$arg" = --quick ] && name=bench-quick; done
$BIN/python -m bench --db both --json-out "test-artifacts/$name.jsonl" "$@"
