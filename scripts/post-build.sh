#!/usr/bin/env bash
# Trunk post-build hook (runs in Trunk's staging dir, before it becomes dist/):
# 0. move Trunk's inline bootstrap script into a file, which the server's
#    Content-Security-Policy (script-src 'self') allows and an inline script it does not;
# 1. stamp the service worker with a hash of the built shell, so a new release means a new
#    cache and an "update available" prompt;
# 2. write brotli and gzip copies of every text/wasm asset, which the server sends to
#    browsers that accept them (compressed once here, not on every request).
set -euo pipefail
dir="${TRUNK_STAGING_DIR:?run from Trunk}"
node "$(dirname "$0")/externalise-scripts.mjs" "$dir"
build=$(cd "$dir" && find . -type f ! -name sw.js -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
sed -i "s/__FIELDBOOK_BUILD__/$build/" "$dir/sw.js"
node "$(dirname "$0")/precompress.mjs" "$dir"
