#!/usr/bin/env bash
# Installs what building and testing Fieldbook needs, skipping whatever is already present.
# Idempotent: a warm run does nothing and takes a few seconds. Needs rustup, node/npm and
# (for the browser) root or sudo for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

TRUNK_VERSION=0.21.14
log() { printf 'setup: %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Browser and driver for end-to-end and wasm-bindgen tests (Debian's build; test tools
# must not download their own browser).
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  log "chromium present"
else
  log "installing chromium and chromium-driver"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# PostgreSQL server binaries: the test command starts a throwaway cluster with them
# (scripts/pg-cluster.sh); production nodes only need a reachable server.
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  log "postgresql present"
else
  log "installing postgresql"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi

if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "wasm32 target present"
else
  log "adding wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if command -v trunk >/dev/null && trunk --version | grep -q " $TRUNK_VERSION\$"; then
  log "trunk $TRUNK_VERSION present"
else
  log "installing trunk $TRUNK_VERSION (several minutes, once)"
  cargo install --locked trunk --version "$TRUNK_VERSION"
fi

# wasm-bindgen's CLI must match the library version in Cargo.lock exactly.
WB_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ -z "$WB_VERSION" ]; then
  echo "setup: Cargo.lock has no wasm-bindgen entry; run 'cargo generate-lockfile'" >&2
  exit 1
fi
if command -v wasm-bindgen >/dev/null && wasm-bindgen --version | grep -q " $WB_VERSION\$"; then
  log "wasm-bindgen $WB_VERSION present"
else
  log "installing wasm-bindgen-cli $WB_VERSION (a few minutes, once)"
  # Not --locked: its lockfile pins a crate version the registry no longer serves.
  cargo install wasm-bindgen-cli --version "$WB_VERSION"
fi

# wasm-opt (binaryen 132) and the Playwright driver come from npm. --ignore-scripts: no
# install step may download anything.
if [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
  log "npm packages present"
else
  log "installing npm packages"
  # `npm install`, not `npm ci`: cbor-x's optional native helpers (@cbor-extract/*) are not
  # served by the registry here, so the lockfile cannot list them and `npm ci` refuses it.
  # With exact pins and the committed lockfile, install resolves the same tree.
  npm install --ignore-scripts --no-audit --no-fund --loglevel=error
fi

# Everything Trunk needs must already be here: fetch crates now so builds can run offline.
cargo fetch --locked >/dev/null 2>&1 || cargo fetch >/dev/null
log "ready"
