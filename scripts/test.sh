#!/usr/bin/env bash
# Run everything CI runs: lint, then the whole suite on SQLite and on PostgreSQL.
# Starts PostgreSQL and Redis (installing them if missing) and stops what it started.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export SERVICES_DIR="${SERVICES_DIR:-/tmp/pergola-services}"

log() { printf '\n== %s\n' "$*"; }

# Servers already running (a developer's `make services`) are reused and left running.
started_here=0
if ! bash scripts/services.sh status 2>/dev/null | grep -q "postgres: up"; then started_here=1; fi
env_lines=$(bash scripts/services.sh start) || { echo "could not start PostgreSQL/Redis" >&2; exit 1; }
eval "$env_lines"
cleanup() { [ "$started_here" = 1 ] && bash scripts/services.sh stop; }
trap cleanup EXIT

bash scripts/install-browser.sh || { echo "could not install Chromium for browser tests" >&2; exit 1; }

status=0
# The example third-party addon is part of the test environment (`make install` puts it there).
if ! $BIN/python -c "import pergola_notes" 2>/dev/null; then
  log "installing examples/pergola-notes"
  $BIN/pip install --quiet --no-build-isolation -e examples/pergola-notes || status=1
fi
log "lint: ruff and mypy"
$BIN/ruff check . || status=1
$BIN/ruff format --check . || status=1
$BIN/mypy core || status=1

# pytest exits 5 when it collected nothing: for us that is a failure, not a pass.
run_pytest() {
  local label=$1; shift
  log "tests on $label"
  PERGOLA_TEST_REDIS_URL="$REDIS_URL" $BIN/pytest "$@"
  local rc=$?
  if [ $rc = 5 ]; then echo "pytest collected no tests on $label" >&2; rc=1; fi
  [ $rc = 0 ] || status=1
}

# Blank, not inherited: a developer's exported URL must not turn the SQLite run into a second PostgreSQL run.
PERGOLA_TEST_DATABASE_URL= run_pytest SQLite -p no:cacheprovider
PERGOLA_TEST_DATABASE_URL="$SQLALCHEMY_DATABASE_URL" run_pytest PostgreSQL -p no:cacheprovider

# --- bench smoke test (issue 10): the harness still runs every workload on both databases.
# Figures are not checked. `timeout` only guards CI's budget against a hang (quick takes
# about 25 s of CPU); a failed or hung workload fails the run.
log "bench smoke test: python -m bench --quick"
mkdir -p test-artifacts
if timeout 300 $BIN/python -m bench --quick --db both --json-out test-artifacts/bench-quick.jsonl \
    >test-artifacts/bench-quick.log 2>&1; then
  tail -n 3 test-artifacts/bench-quick.log
else
  tail -n 60 test-artifacts/bench-quick.log; echo "bench smoke test failed" >&2; status=1
fi
# --- end of bench smoke test

if [ $status = 0 ]; then log "all checks passed"; else log "FAILED"; fi
exit $status
