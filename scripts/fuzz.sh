#!/usr/bin/env bash
# Fuzz the sync engine's hostile-input surface (docs/RELIABILITY.md).
#   scripts/fuzz.sh [seconds-per-target] [target...]
# Installs cargo-fuzz if missing, writes a seed corpus from real engine traffic, then runs
# each target for the given time (default 60 s), one at a time. Crashes land in
# fuzz/artifacts/<target>/; turn each into a test in crates/sync-engine/tests/.
# Stable Rust only: RUSTC_BOOTSTRAP=1 unlocks the -Z flags cargo-fuzz needs.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(frame_decode sync_guard engine_receive)
export RUSTC_BOOTSTRAP=1

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

# Seeds: every frame of real syncs between a phone and a server engine.
cargo run --quiet --example gen_corpus -- corpus
# ...and between stock automerge-repo 2.5.6 peers, when the npm packages are installed.
if command -v node >/dev/null && [ -d ../node_modules/@automerge/automerge-repo ]; then
  node js/capture.mjs corpus || echo "skipping stock-peer seeds"
fi

cargo fuzz build -O
failed=()
for t in "${targets[@]}"; do
  echo "== $t: ${secs}s"
  # -rss_limit_mb: a bounded decoder never needs more; -max_len: frames up to 256 KiB.
  cargo fuzz run -O "$t" "corpus/$t" -- \
    -max_total_time="$secs" -rss_limit_mb=2048 -max_len=262144 -timeout=10 -print_final_stats=1 \
    || failed+=("$t")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "crashes in: ${failed[*]} (see fuzz/artifacts/)" >&2
  exit 1
fi
