#!/usr/bin/env bash
# Trunk post-build hook: stamp the service worker with a hash of the built shell, so a new
# release means a new cache and an "update available" prompt.
set -euo pipefail
dir="${TRUNK_STAGING_DIR:?run from Trunk}"
build=$(cd "$dir" && find . -type f ! -name sw.js -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
sed -i "s/__FIELDBOOK_BUILD__/$build/" "$dir/sw.js"
