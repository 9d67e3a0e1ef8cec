#!/bin/sh
#-------------------------------------------------------------------------
# with_pg.sh CMD [ARGS...]
#    Runs CMD against a throw-away PostgreSQL cluster, the way PostgreSQL's
#    own `make check` does: initdb into a fresh temp dir, start postgres
#    with no TCP listener and a private Unix socket in that dir, wait until
#    it accepts connections, run CMD, stop the server.
#
# Exported to CMD:
#    MAISON_TEST_DATABASE_URL  libpq conninfo of the cluster
#    MAISON_TEST_PG_BINDIR     where pg_ctl lives
#    MAISON_TEST_PG_DATA       the cluster's data directory
#    MAISON_TEST_PG_USER       OS user that owns the cluster when we run
#                              as root (empty otherwise); run pg_ctl as it
#
# Every invocation gets its own temp dir, socket and port, so automake's
# parallel harness may run several at once. The temp dir is removed when
# CMD passes or is skipped (exit 0 or 77) and kept, with its server log,
# when CMD fails. A failure to set up the cluster exits 99, which automake
# reports as a hard ERROR rather than a test failure.
#
# Use as an automake LOG_COMPILER:
#    LOG_COMPILER = $(top_srcdir)/tests/harness/with_pg.sh
#    PY_LOG_COMPILER = $(top_srcdir)/tests/harness/with_pg.sh python3
#-------------------------------------------------------------------------
set -u

if [ $# -eq 0 ]; then
    echo "usage: $0 CMD [ARGS...]" >&2
    exit 99
fi

bindir=${MAISON_TEST_PG_BINDIR:-}
if [ -z "$bindir" ]; then
    for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
        if [ -x "$d/initdb" ]; then bindir=$d; break; fi
    done
fi
if [ -z "$bindir" ] && command -v pg_config >/dev/null 2>&1; then
    bindir=$(pg_config --bindir)
fi
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
    echo "with_pg.sh: PostgreSQL binaries (initdb, pg_ctl) not found;" \
         "set MAISON_TEST_PG_BINDIR" >&2
    exit 99
fi

# PostgreSQL refuses to run as root, so as root the cluster belongs to an
# unprivileged system user; root clients can still use the socket (trust
# authentication, root passes the directory permission check).
pg_user=""
if [ "$(id -u)" -eq 0 ]; then
    pg_user=${MAISON_TEST_PG_OS_USER:-maison}
    if ! id -u "$pg_user" >/dev/null 2>&1; then
        # Two tests starting at once may both try; the loser's failure is
        # harmless as long as the user exists afterwards.
        useradd --system --no-create-home --shell /usr/sbin/nologin \
            "$pg_user" >/dev/null 2>&1
        if ! id -u "$pg_user" >/dev/null 2>&1; then
            echo "with_pg.sh: cannot create system user $pg_user" >&2
            exit 99
        fi
    fi
fi

as_pg() {
    if [ -n "$pg_user" ]; then
        runuser -u "$pg_user" -- "$@"
    else
        "$@"
    fi
}

# A short path: the socket path must fit in sockaddr_un (107 bytes).
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mzpg.XXXXXX") || exit 99
data="$tmp/data"
log="$tmp/postgres.log"
# The socket lives in a private directory, so the port only has to be
# unique within it; still vary it so two clusters never share a name.
port=$((20000 + $$ % 20000))

if [ -n "$pg_user" ]; then
    chown "$pg_user" "$tmp" || exit 99
fi
chmod 700 "$tmp"

server_started=no
stop_server() {
    if [ "$server_started" = yes ]; then
        as_pg "$bindir/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1
        server_started=no
    fi
}

fail_setup() {
    echo "with_pg.sh: $1; cluster kept in $tmp" >&2
    [ -f "$log" ] && tail -n 20 "$log" >&2
    stop_server
    exit 99
}

trap 'stop_server; exit 130' INT
trap 'stop_server; exit 143' TERM
trap 'stop_server' EXIT

if ! as_pg "$bindir/initdb" -D "$data" -U postgres -A trust -E UTF8 \
        --no-instructions --no-sync >"$tmp/initdb.log" 2>&1; then
    cat "$tmp/initdb.log" >&2
    fail_setup "initdb failed"
fi

# Written to the config file rather than passed on the command line so
# that a test stopping and restarting the server with a plain
# `pg_ctl -D $MAISON_TEST_PG_DATA start` gets the same socket and port.
cat >>"$data/postgresql.conf" <<EOF

# with_pg.sh: private socket, no TCP
listen_addresses = ''
unix_socket_directories = '$tmp'
port = $port
max_connections = 60
shared_buffers = 32MB
EOF

server_started=yes
if ! as_pg "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 60 start \
        >/dev/null 2>&1; then
    server_started=no
    fail_setup "postgres did not start"
fi

# pg_ctl -w already waited for the postmaster; also wait until it accepts
# connections, in case it is still finishing recovery.
i=0
until "$bindir/pg_isready" -q -h "$tmp" -p "$port" -d postgres -U postgres; do
    i=$((i + 1))
    [ $i -gt 300 ] && fail_setup "postgres not ready after 30 s"
    sleep 0.1
done

MAISON_TEST_DATABASE_URL="host=$tmp port=$port dbname=postgres user=postgres"
MAISON_TEST_PG_BINDIR=$bindir
MAISON_TEST_PG_DATA=$data
MAISON_TEST_PG_USER=$pg_user
export MAISON_TEST_DATABASE_URL MAISON_TEST_PG_BINDIR MAISON_TEST_PG_DATA \
    MAISON_TEST_PG_USER

"$@"
rc=$?

stop_server
trap - EXIT INT TERM
if [ $rc -eq 0 ] || [ $rc -eq 77 ]; then
    rm -rf "$tmp"
else
    echo "with_pg.sh: '$*' exited $rc; cluster and server log kept in $tmp" >&2
fi
exit $rc
