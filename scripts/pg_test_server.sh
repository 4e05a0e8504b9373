#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A throw-away PostgreSQL cluster for the storage tests: data and socket in /tmp/medic-pg,
# listening on 127.0.0.1 only. Idempotent: `start` creates what is missing and starts what is
# stopped; `stop` stops it (the data stays, `destroy` removes it).
#
#   scripts/pg_test_server.sh start     # prints: export MEDIC_TEST_POSTGRES_URL=postgresql://...
#   scripts/pg_test_server.sh stop
#   scripts/pg_test_server.sh status
#   scripts/pg_test_server.sh destroy
#
# Environment: MEDIC_PG_DIR (default /tmp/medic-pg), MEDIC_PG_PORT (default 55432).
# The server runs as the `postgres` OS user when started by root (postgres refuses to run as root).
set -euo pipefail

pg_dir="${MEDIC_PG_DIR:-/tmp/medic-pg}"
port="${MEDIC_PG_PORT:-55432}"
data="$pg_dir/data"
log="$pg_dir/server.log"
db_user=medic
db_password=medic
db_name=medic_test

die() { echo "pg_test_server: $*" >&2; exit 1; }

# The newest installed server version (Debian: /usr/lib/postgresql/<major>/bin).
find_bin_dir() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [ -n "$dir" ] && [ -x "$dir/pg_ctl" ] || die "no PostgreSQL server in /usr/lib/postgresql/*/bin;" \
    "install it: apt-get install postgresql"
  echo "$dir"
}

bin="$(find_bin_dir)"

# Runs a server binary as the cluster's owner.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

psql_admin() {
  as_owner "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$pg_dir" -p "$port" -U postgres -d postgres "$@"
}

is_running() {
  [ -f "$data/PG_VERSION" ] && as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1
}

create_cluster() {
  mkdir -p "$pg_dir"
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || die "the 'postgres' OS user is missing (apt-get install postgresql)"
    chown postgres:postgres "$pg_dir"
  fi
  chmod 0700 "$pg_dir"
  as_owner "$bin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
    >"$pg_dir/initdb.log" 2>&1 || die "initdb failed; see $pg_dir/initdb.log"
  # Loopback TCP and a socket in our own directory only; quick fsync-free settings: the data is
  # thrown away anyway. Password auth over TCP, trust over the socket (for this script).
  cat >>"$data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$pg_dir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF
  cat >"$data/pg_hba.conf" <<EOF
local all all trust
host  all all 127.0.0.1/32 scram-sha-256
EOF
}

wait_ready() {
  local i
  for i in $(seq 1 100); do
    if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
      return 0
    fi
    sleep 0.1
  done
  die "the server did not become ready within 10 s; see $log"
}

create_database() {
  psql_admin <<EOF
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$db_user') THEN
    CREATE ROLE $db_user LOGIN PASSWORD '$db_password';
  END IF;
END \$\$;
EOF
  if [ "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$db_name'")" != 1 ]; then
    psql_admin -c "CREATE DATABASE $db_name OWNER $db_user ENCODING 'UTF8' TEMPLATE template0"
  fi
}

start() {
  [ -f "$data/PG_VERSION" ] || create_cluster
  if ! is_running; then
    as_owner "$bin/pg_ctl" -D "$data" -l "$log" -w -t 30 start >/dev/null ||
      die "pg_ctl start failed; see $log"
  fi
  wait_ready
  create_database
  echo "export MEDIC_TEST_POSTGRES_URL=postgresql://$db_user:$db_password@127.0.0.1:$port/$db_name"
}

stop() {
  if is_running; then
    as_owner "$bin/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if is_running; then echo running; else echo stopped; exit 3; fi ;;
  destroy) stop; rm -rf "$pg_dir" ;;
  *) die "usage: $0 start|stop|status|destroy" ;;
esac
