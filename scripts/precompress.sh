#!/usr/bin/env bash
# Writes file.br (brotli -q 11) and file.gz (gzip -9) beside each file of
# the bundle (SITE_ROOT/pkg), for the server to send as they are
# (src/server/http/assets.rs). cargo-leptos's own --precompress uses
# weaker settings: its gzip of the WASM came out 17% larger than gzip -9.
set -euo pipefail
site=${1:?usage: precompress.sh SITE_ROOT}
find "$site/pkg" -type f \( -name '*.wasm' -o -name '*.js' -o -name '*.css' -o -name '*.json' \) \
  -print0 | while IFS= read -r -d '' file; do
  # Only when missing or stale. Written aside and then renamed: a file cut
  # short by an interrupted run would be newer than its source, never
  # redone, and served as immutable.
  if [ ! "$file.br" -nt "$file" ]; then
    brotli -q 11 -f -c -- "$file" > "$file.br.tmp" && mv -f "$file.br.tmp" "$file.br"
  fi
  if [ ! "$file.gz" -nt "$file" ]; then
    gzip -9 -n -c -- "$file" > "$file.gz.tmp" && mv -f "$file.gz.tmp" "$file.gz"
  fi
done
