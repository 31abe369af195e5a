#!/usr/bin/env bash
# The one test command: everything CI checks, in order, stopping at the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"

stage() { printf '\n=== %s ===\n' "$*"; }

# CI starts from a fresh clone, where incremental state is never reused and only costs disk
# (a cold run once failed with "No space left on device"). Set CARGO_INCREMENTAL=1 to keep it.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
target_dir=${CARGO_TARGET_DIR:-target}
space() {
  printf 'disk: %s free on the build'"'"'s file system' "$(df -h --output=avail . | tail -1 | tr -d ' ')"
  if [ -d "$target_dir" ]; then printf '; %s in %s' "$(du -sh "$target_dir" | cut -f1)" "$target_dir"; fi
  printf '\n'
}
space
trap space EXIT

stage "format"
cargo fmt --all --check

stage "clippy, native and wasm32 (warnings are errors)"
cargo clippy --locked --all-targets -- -D warnings
# The app and the browser store's tests only build for wasm32; proptest (a native
# dev-dependency of the shared crates) does not, so those are linted as libraries there.
cargo clippy --locked --target wasm32-unknown-unknown -p fieldbook-app -p fieldbook-browser-store \
  --all-targets -- -D warnings
cargo clippy --locked --target wasm32-unknown-unknown -p fieldbook-sync -p fieldbook-case -- -D warnings

stage "throwaway PostgreSQL cluster (scripts/pg-cluster.sh) for the PostgreSQL tests"
pg_dir=$(mktemp -d /tmp/fieldbook-pg.XXXXXX)
trap 'scripts/pg-cluster.sh stop "$pg_dir"; space' EXIT
TEST_POSTGRES_URL=$(scripts/pg-cluster.sh start "$pg_dir")
export TEST_POSTGRES_URL

stage "native tests (engine, server, storage on SQLite and PostgreSQL, crash, bad input)"
cargo test --locked

stage "server integration suites again, every server on PostgreSQL"
# Suites whose servers start through tests/support (config, demo_config, ServerProcess) take
# a fresh database under TEST_SERVER_DATABASE=postgres. Left out: crash, storage_story,
# postgres, scale_out and at_rest's store tests run on PostgreSQL in every run already;
# heartbeat, frame_budget, transport and samod_peer test the connection's edge (pings, frame
# sizes, TLS, protocol interop), where the store is never reached differently.
# No `-p`: the same packages as above, so the same features and the binaries already built
# (selecting one package changes feature unification and rebuilt every suite a second time).
TEST_SERVER_DATABASE=postgres cargo test --locked \
  --test access --test roles --test server --test two_nodes --test hostile --test erasure \
  --test lone_working --test admin_cli --test at_rest --test bad_input

stage "shared crates build for wasm32"
cargo check --locked -p fieldbook-sync --target wasm32-unknown-unknown

stage "browser store in headless Chromium (wasm-bindgen-test)"
CHROMEDRIVER=/usr/bin/chromedriver cargo test --locked -p fieldbook-browser-store \
  --target wasm32-unknown-unknown --test idb_store

stage "PWA release build (Trunk, offline)"
trunk build --release --offline

stage "interop and end-to-end tests (Node, real server)"
# The server and client binaries `cargo test` built above (target/debug), not a third
# feature variant of every workspace crate, which `cargo build -p …` would make.
cargo test --locked --no-run
mapfile -t node_tests < <(find tests -name '*.test.mjs' -not -path '*/node_modules/*' | sort)
if [ "${#node_tests[@]}" -eq 0 ]; then
  echo "no Node tests found under tests/" >&2
  exit 1
fi
node --test --test-concurrency=1 "${node_tests[@]}"
