#!/usr/bin/env bash
# Runs the sync benchmark against our server and the reference automerge-repo Node server,
# side by side in one run on loopback, and prints a Markdown table (copy it into
# docs/PERFORMANCE.md with the date and this command). Both servers store to a temp dir.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
cargo build --release --locked -q -p fieldbook-sync-server -p fieldbook-native-client
bin=${CARGO_TARGET_DIR:-target}/release
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# Our server lets no one sync without signing in: one bench user (the reference has no sign-in).
SCALE_BENCH_PASSWORD=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
export SCALE_BENCH_PASSWORD
"$bin/fieldbook-sync-server" --data-dir "$work/ours" admin teams add bench --name "Bench team" --agency "Bench agency" >/dev/null
printf '%s\n' "$SCALE_BENCH_PASSWORD" | "$bin/fieldbook-sync-server" --data-dir "$work/ours" admin users add bench \
  --name "Bench Worker" --role practitioner --agency "Bench agency" --team bench --password-stdin >/dev/null
FIELDBOOK_LOG=warn "$bin/fieldbook-sync-server" --listen 127.0.0.1:0 --data-dir "$work/ours" >"$work/ours.out" &
pids+=($!)
node tests/bench/reference-server.mjs "$work/reference" >"$work/ref.out" &
pids+=($!)
for f in ours.out ref.out; do
  for _ in $(seq 100); do [ -s "$work/$f" ] && break; sleep 0.1; done
done
ours=$(grep -o 'ws://[^ )]*/sync' "$work/ours.out")
ref=$(grep -o 'ws://[0-9.:]*' "$work/ref.out")
echo "ours: $ours  reference: $ref  ($(nproc) cores, $(date -u +%F))"
"$bin/fieldbook-bench" --ours "$ours" --username bench --password-env SCALE_BENCH_PASSWORD --reference "$ref" "$@"

# Scale: a fresh device pulling 500 cases × 50 notes, 1,000 idle devices, fan-out to 200
# (docs/PERFORMANCE.md, "Scale"); every server variant side by side.
echo
# The same on PostgreSQL, one node and two nodes sharing a database, on a throwaway cluster.
pg_dir=$(mktemp -d /tmp/fieldbook-bench-pg.XXXXXX)
BENCH_PG_URL=$(scripts/pg-cluster.sh start "$pg_dir")
export BENCH_PG_URL
trap 'scripts/pg-cluster.sh stop "$pg_dir"; cleanup' EXIT
bash scripts/bench-scale.sh --no-build \
  --variant 'ours, PostgreSQL|ours|1|--database-url @PG@' \
  --variant 'ours, two nodes on PostgreSQL|ours|2|--database-url @PG@'

# First-visit transfer of the release PWA (what a phone downloads once, brotli-compressed).
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"
trunk build --release --offline >/dev/null 2>&1
FIELDBOOK_LOG=warn "$bin/fieldbook-sync-server" --listen 127.0.0.1:0 --data-dir "$work/shell" --static-dir dist >"$work/shell.out" &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/shell.out" ] && break; sleep 0.1; done
shell=$(grep -o 'http://[^ ]*/' "$work/shell.out" | head -1)
echo
node scripts/measure-transfer.mjs "$shell"

# Keystroke → committed on the device, in the real PWA in headless Chromium (this build).
echo
FIELDBOOK_SERVER_BIN="$bin/fieldbook-sync-server" node scripts/measure-save.mjs --dist dist --label "this build"

# The same with a big caseload (issue 14): 500 cases on the device, typing into a case with
# 1,000 more notes; then "Due and overdue" with 1,000 cases and Find a case per keystroke.
echo
FIELDBOOK_SERVER_BIN=target/release/fieldbook-sync-server node scripts/measure-save.mjs --dist dist --label "this build" --cases 500 --big-case-notes 1000 --runs 3 --chars 40
echo
FIELDBOOK_SERVER_BIN=target/release/fieldbook-sync-server node scripts/measure-find.mjs --dist dist --label "this build" --cases 1000 --runs 3

# A new phone pulling 100 and then 500 demo cases until "All N cases … on this device", in the
# real PWA in headless Chromium (the goal: 500 cost at most 5.5× 100), and how responsive the
# page stays meanwhile (long tasks, and a key pressed every 100 ms: how long each waits).
echo
FIELDBOOK_SERVER_BIN=target/release/fieldbook-sync-server node scripts/measure-pull.mjs --dist dist --label "this build"
# The same with the page’s CPU slowed 4× (Chromium's throttling: roughly a mid-range phone).
echo
FIELDBOOK_SERVER_BIN=target/release/fieldbook-sync-server node scripts/measure-pull.mjs --dist dist --label "this build" --sizes 100,500 --cpu-slowdown 4

# What the language prompts cost a keystroke in a 5,000-word note, in the real PWA, against a
# control note of the same length with nothing to flag; and the matcher alone, natively.
echo
node scripts/measure-prompts.mjs --dist dist
echo
cargo run --release --locked -q -p fieldbook-case --example language_bench
