#!/usr/bin/env bash
# Installs (Debian's `postgresql`) and starts a throwaway PostgreSQL server for the
# `derivpool-store` tests, then prints the line to evaluate (its only output on stdout):
#
#     export DERIVPOOL_TEST_POSTGRES_URL=postgres://derivpool:derivpool@127.0.0.1:54329/derivpool_test
#
# Usage from .ci/run:
#     eval "$(bash .ci/postgres.sh)"
#
# Idempotent: a second run finds the package installed, the cluster initialised and running,
# the role and database present, and prints the same line. It never fails the CI: when apt,
# root or the server is unavailable it says why on stderr, prints nothing on stdout and exits 0,
# so that the Postgres tests report "skipped: DERIVPOOL_TEST_POSTGRES_URL not set".
set -u

PORT="${DERIVPOOL_PG_PORT:-54329}"
DB=derivpool_test
ROLE=derivpool
PASSWORD=derivpool
DATA_DIR=/var/lib/postgresql/derivpool-ci
LOG_FILE=/var/lib/postgresql/derivpool-ci.log

skip() {
    echo "postgres.sh: $*; PostgreSQL tests will be skipped" >&2
    exit 0
}

if [ "$(id -u)" != 0 ]; then
    skip "not root (cannot install or start PostgreSQL)"
fi

pg_bin_dir() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

if [ -z "$(pg_bin_dir)" ] || [ ! -x "$(pg_bin_dir)/postgres" ]; then
    command -v apt-get >/dev/null 2>&1 || skip "apt-get not found"
    echo "postgres.sh: installing Debian's postgresql" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null 2>&1 || skip "apt-get update failed"
    apt-get install -y -qq postgresql >/dev/null 2>&1 || skip "apt-get install postgresql failed"
fi
BIN="$(pg_bin_dir)"
[ -x "$BIN/postgres" ] || skip "no postgres binary under /usr/lib/postgresql"
id postgres >/dev/null 2>&1 || skip "no postgres system user"

as_pg() {
    runuser -u postgres -- "$@"
}

if [ ! -f "$DATA_DIR/PG_VERSION" ]; then
    mkdir -p "$DATA_DIR" && chown postgres:postgres "$DATA_DIR" && chmod 700 "$DATA_DIR"
    as_pg "$BIN/initdb" -D "$DATA_DIR" -U postgres -A trust --no-instructions >/dev/null ||
        skip "initdb failed"
fi

if ! as_pg "$BIN/pg_ctl" -D "$DATA_DIR" status >/dev/null 2>&1; then
    as_pg "$BIN/pg_ctl" -D "$DATA_DIR" -l "$LOG_FILE" -w -t 60 \
        -o "-p $PORT -k /tmp -c listen_addresses=127.0.0.1" start >/dev/null ||
        skip "the server did not start (see $LOG_FILE)"
fi

psql_pg() {
    as_pg "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA "$@"
}

if [ "$(psql_pg -c "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" != 1 ]; then
    psql_pg -c "CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD'" >/dev/null || skip "CREATE ROLE failed"
fi
if [ "$(psql_pg -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]; then
    psql_pg -c "CREATE DATABASE $DB OWNER $ROLE" >/dev/null || skip "CREATE DATABASE failed"
fi

echo "export DERIVPOOL_TEST_POSTGRES_URL=postgres://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DB"
