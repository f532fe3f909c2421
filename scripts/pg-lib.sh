# Shared by scripts/pg-pitr.sh and scripts/pg-pair.sh (sourced): the PostgreSQL binaries, running
# as their owner, and starting a server detached from the caller's descriptors.
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bin/pg_ctl" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }

# Runs a command as the `postgres` user when started as root (PostgreSQL refuses to run as root).
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Starts a server with no descriptor of the caller's but 0-2: a test harness that waits for the
# script must not wait for the server too, through a descriptor the server inherited.
detached() {
    (
        for fd in $(ls /proc/$BASHPID/fd); do
            if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
        done
        "$@"
    )
}
