#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the test suite, in a temporary directory, on a loopback port.
#
#   scripts/pg-test-cluster.sh start DIR PORT   initdb (if needed) and start; prints the URL to use as
#                                               CITIZENCARD_TEST_POSTGRES_URL
#   scripts/pg-test-cluster.sh stop DIR         stop it (fast shutdown)
#
# Needs Debian's postgresql package (initdb, pg_ctl). Runs the server as the `postgres` user when
# started as root, since PostgreSQL refuses to run as root.
set -euo pipefail
command=${1:?start|stop}
dir=${2:?directory}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bin/pg_ctl" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }

as_owner() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$command" in
start)
    port=${3:?port}
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_owner "$bin/initdb" -D "$dir/data" -U citizencard -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
            || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=1000 -c max_locks_per_transaction=256 -c shared_buffers=256MB -c fsync=on" \
        start >/dev/null
    as_owner "$bin/psql" -h 127.0.0.1 -p "$port" -U citizencard -d postgres -qAt \
        -c "SELECT 1 FROM pg_database WHERE datname = 'citizencard_test'" | grep -q 1 \
        || as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U citizencard citizencard_test
    echo "postgres://citizencard@127.0.0.1:$port/citizencard_test"
    ;;
stop)
    if [ -f "$dir/data/postmaster.pid" ]; then as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true; fi
    ;;
*)
    echo "usage: $0 start DIR PORT | stop DIR" >&2
    exit 2
    ;;
esac
