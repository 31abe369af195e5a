#!/usr/bin/env bash
# The one run command: build the PWA, then serve it and the sync endpoint on one port.
# Extra arguments go to the server (see README: --listen, --data-dir, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"
trunk build --release --offline
cargo build --release --locked -p fieldbook-sync-server
exec target/release/fieldbook-sync-server --static-dir dist --data-dir .fieldbook-data "$@"
