#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests and benchmarks: `initdb` + `pg_ctl` on a Unix socket
# in a directory of its own (no TCP port, trust authentication for the socket only).
#   scripts/pg-cluster.sh start DIR   -> starts it, prints its URL (postgres://fieldbook@/fieldbook?host=DIR)
#   scripts/pg-cluster.sh stop DIR    -> stops it (fast shutdown) and deletes DIR
# PostgreSQL refuses to run as root; as root the cluster runs as the `postgres` user.
set -euo pipefail
cmd=${1:?usage: pg-cluster.sh start|stop DIR}
dir=${2:?usage: pg-cluster.sh start|stop DIR}
bin=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
if [ ! -x "$bin/initdb" ]; then
  echo "pg-cluster: PostgreSQL server binaries not found (run scripts/setup.sh)" >&2
  exit 1
fi
as_owner() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "$cmd" in
  start)
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then chown postgres "$dir"; fi
    # --no-sync only skips initdb's own fsync of the template; the server itself runs with
    # fsync=on, so a commit the tests rely on is as durable as in production.
    as_owner "$bin/initdb" -D "$dir/data" -A trust -U fieldbook --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 || {
      cat "$dir/initdb.log" >&2; exit 1; }
    as_owner "$bin/pg_ctl" -D "$dir/data" -w -s -l "$dir/server.log" \
      -o "-k $dir -c listen_addresses= -c max_connections=300 -c fsync=on" start
    as_owner "$bin/createdb" -h "$dir" -U fieldbook fieldbook
    echo "postgres://fieldbook@/fieldbook?host=$dir"
    ;;
  stop)
    if [ -d "$dir/data" ]; then as_owner "$bin/pg_ctl" -D "$dir/data" -w -s -m fast stop || true; fi
    rm -rf "$dir"
    ;;
  *) echo "usage: pg-cluster.sh start|stop DIR" >&2; exit 2 ;;
esac
