#!/usr/bin/env bash
# Writes file.br (brotli -q 11) and file.gz (gzip -9) beside each file of
# the built site that is worth compressing, for the server to send as they
# are (src/server/http/assets.rs). cargo-leptos's own --precompress uses
# weaker settings: its gzip of the WASM came out 17% larger than gzip -9.
set -euo pipefail
site=${1:?usage: precompress.sh SITE_ROOT}
find "$site" -type f \( -name '*.wasm' -o -name '*.js' -o -name '*.css' -o -name '*.json' -o -name '*.txt' \) \
  -print0 | while IFS= read -r -d '' file; do
  # Only when missing or stale: a rebuild that changed nothing is quick.
  [ "$file.br" -nt "$file" ] || brotli -q 11 -f -k -o "$file.br" -- "$file"
  [ "$file.gz" -nt "$file" ] || gzip -9 -n -c -- "$file" > "$file.gz"
done
