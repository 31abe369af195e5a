#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests and benchmarks: `initdb` + `pg_ctl` on a Unix socket
# in a directory of its own (no TCP port, trust authentication for the socket only).
#   scripts/pg-cluster.sh start DIR   -> starts it, prints its URL (postgres://fieldbook@/fieldbook?host=DIR)
#   scripts/pg-cluster.sh stop DIR    -> stops it (fast shutdown) and deletes DIR
# PostgreSQL refuses to run as root; as root the cluster runs as the `postgres` user.
# With PG_TLS_CERT, PG_TLS_KEY (PEM files) and PG_TLS_PORT set, the cluster also listens on
# 127.0.0.1:PG_TLS_PORT with TLS on, presenting that certificate (tests of TLS to PostgreSQL);
# the printed URL then names the port, and TCP connections are trusted as the socket's are.
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
    net="-c listen_addresses=" port=5432
    if [ -n "${PG_TLS_CERT:-}" ]; then
      port=${PG_TLS_PORT:?PG_TLS_PORT is needed with PG_TLS_CERT}
      mkdir -p "$dir/tls"
      cp "$PG_TLS_CERT" "$dir/tls/server.crt"
      cp "${PG_TLS_KEY:?PG_TLS_KEY is needed with PG_TLS_CERT}" "$dir/tls/server.key"
      # PostgreSQL refuses a key others can read, or one it does not own.
      chmod 600 "$dir/tls/server.key"
      if [ "$(id -u)" -eq 0 ]; then chown -R postgres "$dir/tls"; fi
      # In the configuration file, not on the command line, so a test can turn TLS off
      # with ALTER SYSTEM and a reload (command-line settings would override that).
      net=""
      printf '%s\n' "listen_addresses = '127.0.0.1'" "port = $port" "ssl = on" \
        "ssl_cert_file = '$dir/tls/server.crt'" "ssl_key_file = '$dir/tls/server.key'" |
        as_owner tee -a "$dir/data/postgresql.conf" >/dev/null
    fi
    as_owner "$bin/pg_ctl" -D "$dir/data" -w -s -l "$dir/server.log" \
      -o "-k $dir $net -c max_connections=300 -c fsync=on" start
    as_owner "$bin/createdb" -h "$dir" -p "$port" -U fieldbook fieldbook
    if [ "$port" = 5432 ]; then
      echo "postgres://fieldbook@/fieldbook?host=$dir"
    else
      echo "postgres://fieldbook@/fieldbook?host=$dir&port=$port"
    fi
    ;;
  stop)
    if [ -d "$dir/data" ]; then as_owner "$bin/pg_ctl" -D "$dir/data" -w -s -m fast stop || true; fi
    rm -rf "$dir"
    ;;
  *) echo "usage: pg-cluster.sh start|stop DIR" >&2; exit 2 ;;
esac
