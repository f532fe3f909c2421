#!/usr/bin/env bash
# A PostgreSQL cluster backed up by pgBackRest (full backups and the WAL archive), and its
# point-in-time recovery into a new data directory; for the backup test and docs/operations.md.
#
#   scripts/pg-pitr.sh start DIR PORT        initdb with WAL archiving to the pgBackRest repository
#                                            DIR/repo, start, create the database `citizencard`,
#                                            create the stanza and take a full backup; prints the URL
#   scripts/pg-pitr.sh backup DIR            another full backup
#   scripts/pg-pitr.sh archive DIR           switch to a new WAL segment and wait until every
#                                            segment so far is in the archive (pgbackrest check)
#   scripts/pg-pitr.sh now DIR               the server's clock_timestamp(), for a recovery target
#   scripts/pg-pitr.sh restore DIR TIME PORT stop the cluster (as if lost), restore the latest
#                                            backup into DIR/restored, replay the archive up to
#                                            TIME (inclusive) and promote; start it on PORT; prints
#                                            the URL
#   scripts/pg-pitr.sh stop DIR              stop both clusters
#
# Needs Debian's postgresql and pgbackrest packages. Runs PostgreSQL and pgBackRest as the
# `postgres` user when started as root.
set -euo pipefail
command=${1:?start|backup|archive|now|restore|stop}
dir=${2:?directory}
. "$(dirname "$0")/pg-lib.sh"
command -v pgbackrest >/dev/null || { echo "pgbackrest not found (apt-get install pgbackrest)" >&2; exit 1; }
backrest() { as_owner pgbackrest --config="$dir/pgbackrest.conf" --stanza=citizencard "$@"; }
port() { cat "$dir/port"; }
sql() { as_owner "$bin/psql" -h 127.0.0.1 -p "$(port)" -U citizencard -d citizencard -qAt -c "$1"; }

case "$command" in
start)
    port=${3:?port}
    mkdir -p "$dir/repo" "$dir/log" "$dir/lock" "$dir/spool"
    if [ "$(id -u)" -eq 0 ]; then chown -R postgres: "$dir"; fi
    echo "$port" >"$dir/port"
    cat >"$dir/pgbackrest.conf" <<EOF
[global]
repo1-path=$dir/repo
repo1-retention-full=2
log-path=$dir/log
lock-path=$dir/lock
spool-path=$dir/spool
log-level-console=warn
log-level-file=info
start-fast=y
compress-type=lz4

[citizencard]
pg1-path=$dir/data
pg1-port=$port
pg1-user=citizencard
pg1-socket-path=$dir
EOF
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir/pgbackrest.conf" "$dir/port"; fi
    as_owner "$bin/initdb" -D "$dir/data" -U citizencard -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
wal_level = replica
archive_mode = on
archive_command = 'pgbackrest --config=$dir/pgbackrest.conf --stanza=citizencard archive-push %p'
max_wal_senders = 3
fsync = on
EOF
    detached as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start </dev/null >/dev/null
    as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U citizencard citizencard
    backrest stanza-create >/dev/null
    backrest --type=full backup >/dev/null
    echo "postgres://citizencard@127.0.0.1:$port/citizencard"
    ;;
backup)
    backrest --type=full backup >/dev/null
    ;;
archive)
    sql "SELECT pg_switch_wal()" >/dev/null
    backrest check >/dev/null
    ;;
now)
    sql "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'"
    ;;
restore)
    target=${3:?recovery target time}
    port=${4:?port}
    as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null || true
    rm -rf "$dir/restored"
    mkdir -p "$dir/restored"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir/restored"; fi
    chmod 700 "$dir/restored"
    backrest --pg1-path="$dir/restored" --type=time "--target=$target" --target-action=promote restore >/dev/null
    # The restored cluster listens on a port of its own and does not archive into the old timeline's
    # repository by accident: archiving stays on (pgBackRest puts the new timeline beside the old).
    sed -i "s/^port = .*/port = $port/" "$dir/restored/postgresql.conf"
    detached as_owner "$bin/pg_ctl" -D "$dir/restored" -l "$dir/restored.log" -w -t 120 start </dev/null >/dev/null
    # Wait for the end of recovery (promotion).
    for _ in $(seq 1 120); do
        state=$(as_owner "$bin/psql" -h 127.0.0.1 -p "$port" -U citizencard -d citizencard -qAt \
            -c "SELECT pg_is_in_recovery()" 2>/dev/null || echo t)
        [ "$state" = "f" ] && break
        sleep 0.5
    done
    echo "$port" >"$dir/restored.port"
    echo "postgres://citizencard@127.0.0.1:$port/citizencard"
    ;;
stop)
    for data in "$dir/restored" "$dir/data"; do
        if [ -f "$data/postmaster.pid" ]; then as_owner "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null || true; fi
    done
    ;;
*)
    echo "usage: $0 start DIR PORT | backup DIR | archive DIR | now DIR | restore DIR TIME PORT | stop DIR" >&2
    exit 2
    ;;
esac
