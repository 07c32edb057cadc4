#!/usr/bin/env bash
# services.sh - throwaway Redis + PostgreSQL for Pergola's tests and CI, on 127.0.0.1,
# free ports, no systemd. Debian 12, works as root (postgres runs via `runuser -u postgres`).
# Adapted from the team's verified script; the project does not need ../shared at run time.
# The database is owned by a plain role `pergola` (no superuser, no BYPASSRLS), because
# PostgreSQL lets superusers ignore row-level security and the tests must see it work.
#
#   source services.sh [start]     # start if needed, export REDIS_URL, DATABASE_URL,
#                                  # SQLALCHEMY_DATABASE_URL (+psycopg2);
#                                  # define services_stop (e.g. trap services_stop EXIT)
#   bash services.sh start         # same, prints `export ...` lines: eval "$(bash services.sh start)"
#   bash services.sh stop|status|env|purge    (purge = stop + delete state dir)
#
# Env: SERVICES_DIR (state; every parent dir must be o+x for user postgres)
#      PG_DBNAME (default pergola_test), PG_BIN (dir with initdb/pg_ctl, auto-detected)
# Idempotent: a second `start` reuses running servers (same ports); `stop` twice is a no-op.

_SVC_SCRIPT="$(readlink -f "${BASH_SOURCE[0]}")"
: "${SERVICES_DIR:=${TMPDIR:-/tmp}/pergola-services}"
: "${PG_DBNAME:=pergola_test}"
: "${PG_APP_ROLE:=pergola}"

_svc_main() {
  set -euo pipefail
  local S="$SERVICES_DIR" APT_UPDATED=0 PGB="" PG_RUN=()

  log() { printf '[services] %s\n' "$*" >&2; }

  free_port() {
    if command -v python3 >/dev/null; then
      python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'
    else
      local p; for _ in $(seq 100); do p=$((20000 + RANDOM % 40000))
        (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }; done; return 1
    fi
  }

  apt_install() {
    [ "$(id -u)" = 0 ] || { log "not root: cannot apt-get install $*"; return 1; }
    export DEBIAN_FRONTEND=noninteractive
    if [ "$APT_UPDATED" = 0 ]; then apt-get update -qq; APT_UPDATED=1; fi
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  }

  # ---------------- Redis ----------------
  redis_up() {
    [ -f "$S/redis/port" ] && [ -f "$S/redis/redis.pid" ] &&
      kill -0 "$(cat "$S/redis/redis.pid")" 2>/dev/null &&
      [ "$(redis-cli -h 127.0.0.1 -p "$(cat "$S/redis/port")" ping 2>/dev/null)" = PONG ]
  }
  start_redis() {
    command -v redis-server >/dev/null || { log "installing redis-server (apt)"; apt_install redis-server; }
    mkdir -p "$S/redis"
    if redis_up; then log "redis already running on port $(cat "$S/redis/port")"; return 0; fi
    local p
    for _ in 1 2 3; do
      p=$(free_port); echo "$p" >"$S/redis/port"
      redis-server --bind 127.0.0.1 --port "$p" --daemonize yes --save '' --appendonly no \
        --dir "$S/redis" --pidfile "$S/redis/redis.pid" --logfile "$S/redis/redis.log" 9>&- || true
      for _ in $(seq 50); do redis_up && { log "redis started on port $p"; return 0; }; sleep 0.1; done
    done
    log "redis failed to start:"; tail -n 20 "$S/redis/redis.log" >&2; return 1
  }
  stop_redis() {
    [ -f "$S/redis/redis.pid" ] || return 0
    local pid; pid=$(cat "$S/redis/redis.pid")
    if kill -0 "$pid" 2>/dev/null; then
      redis-cli -h 127.0.0.1 -p "$(cat "$S/redis/port")" shutdown nosave >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      log "redis stopped"
    fi
    rm -f "$S/redis/redis.pid"
  }

  # ---------------- PostgreSQL ----------------
  find_pg_bin() {
    local d
    if [ -n "${PG_BIN:-}" ]; then echo "$PG_BIN"; return 0; fi
    if command -v postgres >/dev/null; then
      d=$(dirname "$(readlink -f "$(command -v postgres)")")
      [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
    fi
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$d" ] && [ -x "$d/initdb" ] && { echo "$d"; return 0; }
    return 1
  }
  pg_setup() {   # sets PGB and PG_RUN (prefix that runs a command as the postgres user)
    PGB=$(find_pg_bin) || { log "installing postgresql (apt)"; apt_install postgresql; PGB=$(find_pg_bin); }
    if [ "$(id -u)" = 0 ]; then
      id -u postgres >/dev/null 2>&1 ||
        useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin postgres
      PG_RUN=(runuser -u postgres --)
    else
      PG_RUN=(env)
    fi
  }
  pg_up() { [ -f "$S/pg/data/postmaster.pid" ] && "${PG_RUN[@]}" "$PGB/pg_ctl" -D "$S/pg/data" status >/dev/null 2>&1; }
  start_pg() {
    pg_setup
    mkdir -p "$S/pg"; [ "$(id -u)" = 0 ] && chown postgres: "$S/pg"
    "${PG_RUN[@]}" test -w "$S/pg" ||
      { log "user postgres cannot write $S/pg (make parents o+x or set SERVICES_DIR under /tmp)"; return 1; }
    if [ ! -f "$S/pg/data/PG_VERSION" ]; then
      rm -rf "$S/pg/data"
      "${PG_RUN[@]}" "$PGB/initdb" -D "$S/pg/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
        --no-sync >"$S/pg/initdb.log" 2>&1 || { log "initdb failed:"; cat "$S/pg/initdb.log" >&2; return 1; }
      log "initdb done ($("$PGB/postgres" --version))"
    fi
    local p=""
    if pg_up; then p=$(cat "$S/pg/port"); log "postgres already running on port $p"
    else
      for _ in 1 2 3; do
        p=$(free_port)
        if "${PG_RUN[@]}" "$PGB/pg_ctl" -D "$S/pg/data" -l "$S/pg/postgres.log" -w -t 60 -o \
            "-c listen_addresses=127.0.0.1 -p $p -k $S/pg -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
            start >/dev/null 9>&-; then   # 9>&-: daemons must not inherit the lock fd
          echo "$p" >"$S/pg/port"; log "postgres started on port $p"; break
        fi
        p=""
      done
      [ -n "$p" ] || { log "postgres failed to start:"; tail -n 20 "$S/pg/postgres.log" >&2; return 1; }
    fi
    local q=("$PGB/psql" -X -h 127.0.0.1 -p "$p" -U postgres -d postgres -tAq)
    [ "$("${q[@]}" -c "select 1 from pg_roles where rolname='$PG_APP_ROLE'")" = 1 ] ||
      { "${q[@]}" -c "create role \"$PG_APP_ROLE\" login nosuperuser nobypassrls createdb"; log "created role $PG_APP_ROLE"; }
    [ "$("${q[@]}" -c "select 1 from pg_database where datname='$PG_DBNAME'")" = 1 ] ||
      { "${q[@]}" -c "create database \"$PG_DBNAME\" owner \"$PG_APP_ROLE\""; log "created database $PG_DBNAME"; }
  }
  stop_pg() {
    [ -f "$S/pg/data/postmaster.pid" ] || return 0
    pg_setup
    if pg_up; then "${PG_RUN[@]}" "$PGB/pg_ctl" -D "$S/pg/data" -m fast -w -t 60 stop >/dev/null; log "postgres stopped"; fi
  }

  write_env() {
    local rp pp; rp=$(cat "$S/redis/port"); pp=$(cat "$S/pg/port")
    # SQLAlchemy 2.1 maps plain postgresql:// to psycopg (v3); +psycopg2 pins psycopg2-binary
    { echo "export REDIS_URL=redis://127.0.0.1:$rp/0"
      echo "export DATABASE_URL=postgresql://$PG_APP_ROLE@127.0.0.1:$pp/$PG_DBNAME"
      echo "export SQLALCHEMY_DATABASE_URL=postgresql+psycopg2://$PG_APP_ROLE@127.0.0.1:$pp/$PG_DBNAME"
      echo "export PG_ADMIN_URL=postgresql://postgres@127.0.0.1:$pp/postgres"
    } >"$S/env"
    cat "$S/env"
  }

  mkdir -p "$S"; chmod 755 "$S"
  exec 9>"$S/.lock"                   # serialise concurrent invocations
  flock -w 120 9 || { log "timed out waiting for lock $S/.lock"; return 1; }
  case "${1:-start}" in
    start)  start_redis; start_pg; write_env ;;
    stop)   stop_redis; stop_pg; rm -f "$S/env" ;;
    status) if redis_up; then echo "redis: up :$(cat "$S/redis/port")"; else echo "redis: down"; fi
            pg_setup; if pg_up; then echo "postgres: up :$(cat "$S/pg/port")"; else echo "postgres: down"; fi ;;
    env)    cat "$S/env" ;;
    purge)  stop_redis; stop_pg; exec 9>&-; rm -rf "$S"; log "purged $S" ;;
    *)      echo "usage: $0 start|stop|status|env|purge" >&2; return 2 ;;
  esac
}

if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then            # sourced
  services_start() { local e; e=$(bash "$_SVC_SCRIPT" start) && eval "$e"; }
  services_stop()  { bash "$_SVC_SCRIPT" stop; unset REDIS_URL DATABASE_URL SQLALCHEMY_DATABASE_URL PG_ADMIN_URL; }
  case "${1:-start}" in
    start) services_start ;;
    stop)  services_stop ;;
    *)     bash "$_SVC_SCRIPT" "$1" ;;
  esac
else                                                   # executed
  _svc_main "$@"
fi
