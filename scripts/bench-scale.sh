#!/usr/bin/env bash
# Server scale benchmarks, every server variant side by side in one run (called by
# scripts/bench.sh; docs/PERFORMANCE.md, "Scale: pulling a caseload, idle connections, fan-out"):
#   1. a fresh device pulls CASES cases × NOTES contact notes: server CPU-seconds, peak RSS, wall;
#   2. IDLE devices connected, each only joined: server RSS before/after, per device;
#   3. fan-out: FAN devices with one shared case open, EDITORS of them editing: p50/p99 from an
#      edit on one device to its arrival on every other.
# The client side is `fieldbook-scale` (Rust, crates/native-client); the servers are measured
# from outside through /proc/PID.
#
# Usage: scripts/bench-scale.sh [--cases N] [--notes N] [--idle N] [--fan N] [--editors N]
#          [--only pull|idle|fanout] [--no-build]
#          [--variant 'NAME|ours|NODES|EXTRA SERVER ARGS']...
# Columns: "ours" (SQLite, one node) and "reference" (tests/bench/reference-server.mjs) always;
# each --variant adds one, e.g. another build, another store or several nodes on one database:
#   --variant 'ours before the fix|ours:/path/to/old/fieldbook-sync-server|1|'
#   --variant 'ours, PostgreSQL|ours|1|--database-url postgres://…'
#   --variant 'ours, two nodes on PostgreSQL|ours|2|--database-url postgres://…'
# With NODES > 1 the script starts that many server processes with the same arguments (they
# must share a database) and spreads the devices over them round-robin; CPU and RSS are then
# those of the first node.
set -euo pipefail
cd "$(dirname "$0")/.."

cases=500 notes=50 idle_n=1000 fan=200 editors=20 edits=20 only="" build=1
extra_variants=()
while [ $# -gt 0 ]; do
  case "$1" in
    --cases) cases=$2; shift 2 ;;
    --notes) notes=$2; shift 2 ;;
    --idle) idle_n=$2; shift 2 ;;
    --fan) fan=$2; shift 2 ;;
    --editors) editors=$2; shift 2 ;;
    --edits) edits=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --variant) extra_variants+=("$2"); shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

target=${CARGO_TARGET_DIR:-target}
if [ "$build" = 1 ]; then
  cargo build --release --locked -q -p fieldbook-sync-server -p fieldbook-native-client
fi
srv=$target/release/fieldbook-sync-server
scale=$target/release/fieldbook-scale

# A thousand sockets on each side of loopback.
ulimit -n 8192

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The bench's settings for our server: every device comes from 127.0.0.1, so the
# per-address connection limit (default 256) must let a thousand in.
# The bench's device (fieldbook-scale) reads frames only as fast as it applies them, unlike a
# browser, whose network stack answers pings at once: behind a backlog of a caseload it can
# stay silent longer than the default 15 s idle timeout, and the reference has none at all.
cat >"$work/ours.toml" <<'EOF'
max_connections = 2048
max_connections_per_address = 2048
idle_timeout_secs = 120
EOF
# One bench user on our server (the reference has no sign-in). Not a FIELDBOOK_* variable.
SCALE_BENCH_PASSWORD=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
export SCALE_BENCH_PASSWORD

variants=("ours|ours|1|" "reference|reference|1|")
variants+=("${extra_variants[@]}")

# start VARIANT_INDEX DIR: starts the variant's server(s) on DIR; sets `urls` (one per node),
# `pid` (the first node) and `auth` (fieldbook-scale's sign-in arguments).
start() {
  local spec=${variants[$1]} dir=$2
  local kind nodes args bin=$srv
  IFS='|' read -r _ kind nodes args <<<"$spec"
  # `ours:PATH` runs another build of our server (e.g. the one before a fix, side by side).
  if [ "${kind#ours:}" != "$kind" ]; then bin=${kind#ours:}; kind=ours; fi
  # `@PG@` in a variant's arguments: a new database on the cluster at BENCH_PG_URL (started by
  # scripts/bench.sh with scripts/pg-cluster.sh), one per measurement, shared by its nodes.
  if [[ "$args" == *@PG@* ]]; then
    if [ ! -e "$dir.db" ]; then
      local db="bench_${RANDOM}_${RANDOM}"
      psql "${BENCH_PG_URL:?set BENCH_PG_URL for @PG@ variants}" -qc "CREATE DATABASE $db"
      sed "s#/fieldbook?#/$db?#" <<<"$BENCH_PG_URL" >"$dir.db"
    fi
    args=${args//@PG@/$(cat "$dir.db")}
  fi
  urls=() node_pids=()
  local extra=()
  read -r -a extra <<<"$args"
  for n in $(seq "$nodes"); do
    local out="$dir.node$n.out"
    : >"$out"
    if [ "$kind" = reference ]; then
      node tests/bench/reference-server.mjs "$dir" >"$out" 2>"$dir.node$n.err" &
    else
      if [ ! -e "$dir.user" ]; then
        mkdir -p "$dir"
        "$bin" --config "$work/ours.toml" --data-dir "$dir" "${extra[@]}" admin teams add bench \
          --name "Bench team" --agency "Bench agency" >/dev/null
        printf '%s\n' "$SCALE_BENCH_PASSWORD" | "$bin" --config "$work/ours.toml" --data-dir "$dir" \
          "${extra[@]}" admin users add bench --name "Bench Worker" --role practitioner \
          --agency "Bench agency" --team bench --password-stdin >/dev/null
        touch "$dir.user"
      fi
      FIELDBOOK_LOG=warn "$bin" --config "$work/ours.toml" --listen 127.0.0.1:0 --data-dir "$dir" \
        "${extra[@]}" >"$out" 2>"$dir.node$n.err" &
    fi
    node_pids+=($!)
    pids+=($!)
    for _ in $(seq 300); do grep -q 'ws://' "$out" && break; sleep 0.1; done
    if ! grep -q 'ws://' "$out"; then
      echo "the server did not start:" >&2
      cat "$dir.node$n.err" >&2
      exit 1
    fi
    if [ "$kind" = reference ]; then
      urls+=("$(grep -o 'ws://[0-9.:]*' "$out")")
    else
      urls+=("$(grep -o 'ws://[^ )]*/sync' "$out")")
    fi
  done
  pid=${node_pids[0]}
  if [ "$kind" = reference ]; then
    auth=()
  else
    auth=(--username bench --password-env SCALE_BENCH_PASSWORD)
  fi
}

stop() {
  for p in "${node_pids[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
}

url_args() { for u in "${urls[@]}"; do printf -- '--url\n%s\n' "$u"; done; }

# get FILE KEY: a value from fieldbook-scale's `key value` output.
get() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }

run() {
  local v=$1 what=$2; shift 2
  local -a ua
  mapfile -t ua < <(url_args)
  echo "+ fieldbook-scale ${ua[*]} ${auth[*]} --pid $pid $what $*" >&2
  "$scale" "${ua[@]}" "${auth[@]}" --pid "$pid" "$what" "$@" >"$work/$v.$what"
}

names=()
for i in "${!variants[@]}"; do names+=("${variants[$i]%%|*}"); done
ref_index=1

# table TITLE ROWS...: each row "label|what|key|scale|unit" (value = key / scale).
table() {
  local title=$1; shift
  echo
  echo "$title"
  echo
  local header="| measure |" line="|---|"
  for n in "${names[@]}"; do header+=" $n |"; line+="---|"; done
  for i in "${!names[@]}"; do
    [ "$i" = "$ref_index" ] && continue
    header+=" ${names[$i]} / reference |"; line+="---|"
  done
  echo "$header"; echo "$line"
  local row
  for row in "$@"; do
    local label what key div unit
    IFS='|' read -r label what key div unit <<<"$row"
    local cells="| $label |" vals=()
    for i in "${!names[@]}"; do
      local f="$work/$i.$what" v="-"
      if [ -s "$f" ]; then
        v=$(get "$f" "$key")
        v=$(awk -v x="$v" -v d="$div" 'BEGIN { printf (x / d < 10 ? "%.2f" : "%.1f"), x / d }')
      fi
      vals+=("$v"); cells+=" $v $unit |"
    done
    local r=${vals[$ref_index]}
    for i in "${!names[@]}"; do
      [ "$i" = "$ref_index" ] && continue
      cells+=" $(awk -v a="${vals[$i]}" -v b="$r" 'BEGIN { if (b + 0 > 0 && a != "-") printf "%.2f", a / b; else printf "-" }') |"
    done
    echo "$cells"
  done
}

echo "Scale run: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB, $(date -u +%F)," \
  "$(node --version) for the reference; $cases cases × $notes notes, $idle_n idle devices," \
  "fan-out $fan devices / $editors editors × $edits edits"

for i in "${!variants[@]}"; do
  if [ -z "$only" ] || [ "$only" = pull ]; then
    # Seed, then restart the server so the pull is measured in a fresh process (its VmHWM
    # covers start-up and the pull only, not the seeding).
    start "$i" "$work/pull$i"
    run "$i" seed --cases "$cases" --notes "$notes" --ids "$work/ids$i"
    stop
    start "$i" "$work/pull$i"
    run "$i" pull --ids "$work/ids$i"
    stop
  fi
  if [ -z "$only" ] || [ "$only" = idle ]; then
    start "$i" "$work/idle$i"
    run "$i" idle --devices "$idle_n"
    stop
  fi
  if [ -z "$only" ] || [ "$only" = fanout ]; then
    start "$i" "$work/fan$i"
    run "$i" fanout --devices "$fan" --editors "$editors" --edits "$edits"
    stop
  fi
done

if [ -z "$only" ] || [ "$only" = pull ]; then
  table "### A fresh device pulls $cases cases × $notes notes (server restarted after seeding)" \
    "server CPU over the pull|pull|cpu_secs|1|s" \
    "server peak RSS (VmHWM: start-up + pull)|pull|hwm_kb|1024|MB" \
    "server RSS when the pull starts|pull|rss_start_kb|1024|MB" \
    "wall time until the device holds all|pull|wall_secs|1|s"
fi
if [ -z "$only" ] || [ "$only" = idle ]; then
  table "### $idle_n idle connected devices (each joined, then nothing; RSS after holding them 6 s)" \
    "server RSS before|idle|rss_before_kb|1024|MB" \
    "server RSS with them connected|idle|rss_after_kb|1024|MB" \
    "added per device|idle|per_device_kb|1|KB"
fi
if [ -z "$only" ] || [ "$only" = fanout ]; then
  table "### Fan-out: $fan devices with one shared case open, $editors editing ($edits edits each, one per 250 ms)" \
    "edit on A → arrival on B, p50|fanout|p50_ms|1|ms" \
    "p99|fanout|p99_ms|1|ms" \
    "max|fanout|max_ms|1|ms"
fi
