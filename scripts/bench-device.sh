#!/usr/bin/env bash
# Device encryption costs in headless Chromium (crates/browser-store/tests/device_bench.rs):
# Argon2id unlock per parameter set, RustCrypto vs WebCrypto AES-256-GCM, and the per-save
# overhead of sealing in `apply`. Built with the browser bundle's profile (wasm-release,
# without Trunk's wasm-opt pass). Prints Markdown tables (docs/PERFORMANCE.md, "Device encryption").
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
# The whole run (all four benches) must finish inside the runner's timeout.
if ! WASM_BINDGEN_TEST_TIMEOUT=900 CHROMEDRIVER=${CHROMEDRIVER:-/usr/bin/chromedriver} \
  cargo test --profile wasm-release -p fieldbook-browser-store --target wasm32-unknown-unknown \
    --features bench --test device_bench -- --nocapture >"$log" 2>&1; then
  cat "$log" >&2
  exit 1
fi
echo "Run on $(date -u +%Y-%m-%d), $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB," \
  "$(chromium --version 2>/dev/null || echo 'Chromium'), headless"
# The tables (and the chosen parameters), without the runner's chatter.
grep -E '^(\||###|KdfParams::DEVICE)' "$log" | sed -e 's/^###/\n###/' -e 's/^KdfParams/\nKdfParams/'
