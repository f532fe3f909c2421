#!/usr/bin/env bash
# A PostgreSQL primary and a streaming standby with synchronous replication, on loopback, and a
# failover by hand: for the failover test and docs/operations.md.
#
#   scripts/pg-pair.sh start DIR PORT1 PORT2   initdb the primary (PORT1), create the database
#                                              `citizencard`, clone the standby (PORT2) with
#                                              pg_basebackup -R, make it the synchronous standby;
#                                              prints the multi-host URL
#   scripts/pg-pair.sh kill DIR                SIGKILL the primary's postmaster (as a lost machine)
#   scripts/pg-pair.sh promote DIR             promote the standby (what a failover engine does)
#   scripts/pg-pair.sh stop DIR                stop both
#
# Needs Debian's postgresql package. Runs PostgreSQL as the `postgres` user when started as root.
set -euo pipefail
command=${1:?start|kill|promote|stop}
dir=${2:?directory}
. "$(dirname "$0")/pg-lib.sh"

case "$command" in
start)
    port1=${3:?primary port}
    port2=${4:?standby port}
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
    as_owner "$bin/initdb" -D "$dir/primary" -U citizencard -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    cat >>"$dir/primary/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port1
unix_socket_directories = '$dir'
wal_level = replica
max_wal_senders = 5
wal_keep_size = 256MB
hot_standby = on
synchronous_commit = on
max_connections = 300
fsync = on
EOF
    echo "host replication citizencard 127.0.0.1/32 trust" >>"$dir/primary/pg_hba.conf"
    detached as_owner "$bin/pg_ctl" -D "$dir/primary" -l "$dir/primary.log" -w -t 60 start </dev/null >/dev/null
    as_owner "$bin/createdb" -h 127.0.0.1 -p "$port1" -U citizencard citizencard
    as_owner "$bin/pg_basebackup" -h 127.0.0.1 -p "$port1" -U citizencard -D "$dir/standby" -R -X stream \
        -c fast >/dev/null
    sed -i "s/^port = .*/port = $port2/" "$dir/standby/postgresql.conf"
    echo "primary_conninfo = 'host=127.0.0.1 port=$port1 user=citizencard application_name=standby'" \
        >>"$dir/standby/postgresql.auto.conf"
    detached as_owner "$bin/pg_ctl" -D "$dir/standby" -l "$dir/standby.log" -w -t 60 start </dev/null >/dev/null
    # Once the standby streams, the primary waits for it at every commit (synchronous replication;
    # the promoted standby has no such setting, so that it writes alone after a failover).
    for _ in $(seq 1 120); do
        state=$(as_owner "$bin/psql" -h 127.0.0.1 -p "$port1" -U citizencard -d postgres -qAt \
            -c "SELECT state FROM pg_stat_replication" 2>/dev/null || true)
        [ "$state" = "streaming" ] && break
        sleep 0.25
    done
    as_owner "$bin/psql" -h 127.0.0.1 -p "$port1" -U citizencard -d postgres -qAt \
        -c "ALTER SYSTEM SET synchronous_standby_names = '*'" -c "SELECT pg_reload_conf()" >/dev/null
    for _ in $(seq 1 120); do
        state=$(as_owner "$bin/psql" -h 127.0.0.1 -p "$port1" -U citizencard -d postgres -qAt \
            -c "SELECT sync_state FROM pg_stat_replication" 2>/dev/null || true)
        [ "$state" = "sync" ] && break
        sleep 0.25
    done
    [ "$state" = "sync" ] || { echo "the standby does not stream synchronously" >&2; exit 1; }
    echo "$port1" >"$dir/port1"
    echo "$port2" >"$dir/port2"
    echo "postgres://citizencard@127.0.0.1:$port1,127.0.0.1:$port2/citizencard?target_session_attrs=read-write"
    ;;
kill)
    pid=$(head -n 1 "$dir/primary/postmaster.pid")
    kill -9 "$pid"
    ;;
promote)
    as_owner "$bin/pg_ctl" -D "$dir/standby" -w -t 60 promote >/dev/null
    ;;
stop)
    for data in "$dir/standby" "$dir/primary"; do
        if [ -f "$data/postmaster.pid" ]; then as_owner "$bin/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true; fi
    done
    # A postmaster killed with SIGKILL leaves its children; they exit when they notice.
    pkill -9 -f -- "-D $dir/" 2>/dev/null || true
    ;;
*)
    echo "usage: $0 start DIR PORT1 PORT2 | kill DIR | promote DIR | stop DIR" >&2
    exit 2
    ;;
esac
