#!/bin/sh
# pgserver.sh: a throwaway PostgreSQL server for the tests (issue 23).
#
#   tests/pgserver.sh start DIR   initdb into DIR/data, start the server, print
#                                 its connection string (a postgresql:// URI to
#                                 the maintenance database 'postgres')
#   tests/pgserver.sh restart DIR stop it and start it again, its data kept
#                                 (what a client's connections live through)
#   tests/pgserver.sh stop DIR    stop it and remove DIR whole
#
# DIR must be an empty or missing folder (mktemp -d makes one). The server
# listens on no TCP address at all (listen_addresses = ''), only on a Unix
# socket in DIR, so suites running side by side never meet; fsync and the
# other durability settings keep their defaults. As root it runs as the
# unprivileged user 'postgres' (Debian's package creates it: the server
# refuses to run as root). Local connections are trusted for every role but
# herald_pw, which must give its password (scram-sha-256): the tests of
# database_password_file log in as that role. Debian's PostgreSQL 15.
set -eu

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PORT=5432 # names the socket file only (DIR/.s.PGSQL.5432)

usage() {
    echo "usage: $0 start DIR | restart DIR | stop DIR" >&2
    exit 2
}

as_pg() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

start() {
    dir=$1
    mkdir -p "$dir"
    [ -z "$(ls -A "$dir")" ] || { echo "pgserver: '$dir' is not empty" >&2; exit 1; }
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    chmod 700 "$dir"
    as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    # the first matching line wins: herald_pw needs its password
    hba="$dir/data/pg_hba.conf"
    as_pg sh -c "printf '%s\n' 'local all herald_pw scram-sha-256' 'local all all trust' > '$hba'"
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses='' -c unix_socket_directories='$dir' -p $PORT" start \
        >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    echo "postgresql:///postgres?host=$dir&port=$PORT&user=postgres"
}

restart() {
    as_pg "$PGBIN/pg_ctl" -D "$1/data" -w -t 60 -m fast restart >/dev/null ||
        { cat "$1/server.log" >&2; exit 1; }
}

stop() {
    dir=$1
    [ -d "$dir" ] || exit 0
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_pg "$PGBIN/pg_ctl" -D "$dir/data" -w -t 60 -m fast stop >/dev/null ||
            { echo "pgserver: cannot stop the server in '$dir'" >&2; exit 1; }
    fi
    rm -rf "$dir"
}

[ $# = 2 ] || usage
case $1 in
start) start "$2" ;;
restart) restart "$2" ;;
stop) stop "$2" ;;
*) usage ;;
esac
