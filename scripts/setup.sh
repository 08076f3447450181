#!/usr/bin/env bash
# Installs whatever Portcullis needs to build, run and test, and nothing
# that is already there. Safe to run any number of times.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.10
BINARYEN_VERSION=116.0.0 # Debian's binaryen 108 breaks hydration
export PATH="$HOME/.cargo/bin:$PATH"

say() { printf '\033[1msetup:\033[0m %s\n' "$*"; }

# Runs a command as root, through sudo when we are not root already.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# 1. The pinned toolchain with the WASM target.
toolchain=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
if ! rustup target list --installed --toolchain "$toolchain" 2>/dev/null | grep -qx wasm32-unknown-unknown \
  || ! rustup component list --installed --toolchain "$toolchain" 2>/dev/null | grep -q '^clippy'; then
  say "installing Rust $toolchain with the wasm32-unknown-unknown target"
  rustup toolchain install "$toolchain" --profile minimal \
    --component rustfmt,clippy --target wasm32-unknown-unknown
fi

# 2. cargo-leptos, which builds the server and the WASM bundle together.
if [ "$(cargo leptos --version 2>/dev/null | awk '{print $2}')" != "$CARGO_LEPTOS_VERSION" ]; then
  say "installing cargo-leptos $CARGO_LEPTOS_VERSION (takes about 13 minutes)"
  cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked
fi

# 3. wasm-bindgen-cli at exactly the version Cargo.lock resolved; cargo-leptos
#    would download it otherwise, which this network does not allow. Not
#    --locked: one of its locked dependencies is gone from the registry.
bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
if [ -z "$bindgen_version" ]; then
  echo "setup: could not read the wasm-bindgen version from Cargo.lock" >&2
  exit 1
fi
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$bindgen_version" ]; then
  say "installing wasm-bindgen-cli $bindgen_version"
  cargo install wasm-bindgen-cli --version "$bindgen_version"
fi

# 4. wasm-opt 116 (cargo-leptos runs the first one on PATH for release
#    builds). npm's binaryen package ships it as JavaScript: seconds to
#    install, where building the wasm-opt crate takes about 20 minutes.
#    The Makefile puts $WASM_OPT_DIR/node_modules/.bin first on PATH.
WASM_OPT_DIR="${WASM_OPT_DIR:-$HOME/.cache/portcullis/binaryen}"
if ! "$WASM_OPT_DIR/node_modules/.bin/wasm-opt" --version 2>/dev/null | grep -q "version ${BINARYEN_VERSION%%.*}"; then
  say "installing wasm-opt (npm binaryen@$BINARYEN_VERSION)"
  mkdir -p "$WASM_OPT_DIR"
  (cd "$WASM_OPT_DIR" && npm install --prefix . --no-audit --no-fund --loglevel=error "binaryen@$BINARYEN_VERSION")
fi

# 5. Debian packages: chromium for the browser tests (Playwright's own
#    download is blocked here); brotli for `make build` (precompress.sh);
#    wrk for `make bench`; nginx, the real gateway of the forward-auth
#    browser test and the replica test; buildah, podman and debootstrap
#    to build and run the container image (tests/ops/image_check.sh).
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v wrk >/dev/null || missing+=(wrk)
command -v brotli >/dev/null || missing+=(brotli)
command -v buildah >/dev/null || missing+=(buildah)
command -v podman >/dev/null || missing+=(podman)
command -v debootstrap >/dev/null || missing+=(debootstrap)
# ...and what the image check itself uses.
command -v jq >/dev/null || missing+=(jq)
command -v curl >/dev/null || missing+=(curl)
command -v ss >/dev/null || missing+=(iproute2)
command -v openssl >/dev/null || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

# 6. The end-to-end test packages, exactly as locked.
if [ ! -f end2end/node_modules/.package-lock.json ] \
  || ! cmp -s end2end/package-lock.json end2end/node_modules/.portcullis-lock; then
  say "installing the end2end npm packages"
  (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  cp end2end/package-lock.json end2end/node_modules/.portcullis-lock
fi

# 7. The deployment checks' Python tools (hadolint, Helm's engine, the
#    Kubernetes schema validator), exactly as pinned, in their own venv.
OPS_VENV="${OPS_VENV:-$HOME/.cache/portcullis/venv}"
if [ ! -x "$OPS_VENV/bin/python" ] \
  || ! cmp -s tests/ops/requirements.txt "$OPS_VENV/.portcullis-requirements"; then
  say "installing the deployment checks' Python tools"
  python3 -m venv "$OPS_VENV"
  "$OPS_VENV/bin/pip" install --quiet --disable-pip-version-check -r tests/ops/requirements.txt
  cp tests/ops/requirements.txt "$OPS_VENV/.portcullis-requirements"
fi

# 8. promtool, which tests the chart's alert rules: taken out of Debian's
#    prometheus package without installing it (which would start a server).
PROMTOOL_DIR="$HOME/.cache/portcullis/prometheus"
if [ ! -x "$PROMTOOL_DIR/usr/bin/promtool" ]; then
  say "unpacking promtool from Debian's prometheus package"
  rm -rf "$PROMTOOL_DIR" && mkdir -p "$PROMTOOL_DIR"
  (cd "$PROMTOOL_DIR" && apt-get download -qq prometheus && dpkg-deb -x prometheus_*.deb . && rm -f prometheus_*.deb)
fi

say "everything is in place"
