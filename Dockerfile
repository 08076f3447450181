# syntax=docker/dockerfile:1
# Portcullis container image: the release server, its hash.txt and the site,
# on Debian bookworm-slim, as uid 10001. Stages:
#   builder   compiles everything with the tools `make setup` pins
#   prebuilt  takes a finished `make build` from the build context `host-build`
#   artifacts whichever of the two ARTIFACTS names (/out: portcullis, hash.txt, site/)
#   runtime   the image: the same whichever way /out was made
# See README, "Deployment", for the commands; tests/ops/image_check.sh builds
# the runtime stage from a host build and runs it.

# builder | prebuilt. buildah 1.28 (Debian bookworm's; fixed in 1.29) picks
# the stages to build from --build-arg values only, not from this default:
# pass --build-arg ARTIFACTS=builder explicitly there.
ARG ARTIFACTS=builder

# Bookworm like the runtime below: the binary links against its glibc.
FROM rust:1.95.0-bookworm AS builder
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Node and npm only run binaryen's wasm-opt; brotli is for precompress.sh.
ARG NODEJS_VERSION=18.20.4+dfsg-1~deb12u3
ARG NPM_VERSION=9.2.0~ds1-1
ARG BROTLI_VERSION=1.0.9-2+deb12u1
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      "nodejs=${NODEJS_VERSION}" "npm=${NPM_VERSION}" "brotli=${BROTLI_VERSION}" \
 && rm -rf /var/lib/apt/lists/*
# The versions scripts/setup.sh installs: cargo-leptos exactly as locked,
# wasm-opt from npm's binaryen (Debian's is too old), first on PATH.
ARG CARGO_LEPTOS_VERSION=0.3.10
ARG BINARYEN_VERSION=116.0.0
ENV PATH=/opt/binaryen/node_modules/.bin:${PATH}
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    cargo install cargo-leptos --version "${CARGO_LEPTOS_VERSION}" --locked \
 && npm install --prefix /opt/binaryen --no-audit --no-fund --loglevel=error "binaryen@${BINARYEN_VERSION}" \
 && wasm-opt --version
WORKDIR /src
# The toolchain rust-toolchain.toml names (this image's, unless they part),
# and wasm-bindgen-cli at the version Cargo.lock resolved; not --locked, as
# in setup.sh.
COPY rust-toolchain.toml Cargo.lock ./
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    toolchain="$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)" \
 && rustup toolchain install "${toolchain}" --profile minimal \
      --component rustfmt,clippy --target wasm32-unknown-unknown \
 && bindgen_version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)" \
 && test -n "${bindgen_version}" \
 && cargo install wasm-bindgen-cli --version "${bindgen_version}"
COPY . .
# What `make build` runs. target/ is a cache between builds, so the site is
# cleared first: hashed bundle names change, and old ones would pile up.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    rm -rf target/site \
 && cargo leptos build --release --split \
 && ./scripts/precompress.sh target/site \
 && install -D -m 0755 target/release/portcullis /out/portcullis \
 && install -m 0644 target/release/hash.txt /out/hash.txt \
 && cp -R target/site /out/site

# A build made on the host (glibc no newer than bookworm's), from a build
# context directory holding exactly portcullis, hash.txt and site/:
#   --build-arg ARTIFACTS=prebuilt --build-context host-build=DIR
# hadolint knows no named build contexts (hadolint/hadolint#830).
FROM scratch AS prebuilt
# hadolint ignore=DL3022
COPY --from=host-build . /out/

FROM ${ARTIFACTS} AS artifacts

FROM debian:bookworm-slim AS runtime
# CA certificates for outbound TLS (SMTP, OIDC); the user owns nothing but
# /data. Its files are root's: the root filesystem may be mounted read-only,
# with /data a volume and /tmp a tmpfs.
ARG CA_CERTIFICATES_VERSION=20250419~deb12u2
RUN apt-get update \
 && apt-get install -y --no-install-recommends "ca-certificates=${CA_CERTIFICATES_VERSION}" \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && groupadd --system --gid 10001 portcullis \
 && useradd --uid 10001 --gid 10001 --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin portcullis \
 && install -d -o 10001 -g 10001 -m 0750 /data
WORKDIR /app
# hash.txt beside the binary: the server reads it there (hashed asset names).
COPY --from=artifacts /out/ /app/

ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="portcullis" \
      org.opencontainers.image.description="Self-hostable authentication service with its own web app" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="docker.io/library/debian:bookworm-slim"

# Production: start-up fails without a real PORTCULLIS_JWT_SECRET (or
# signing key) and an https PORTCULLIS_PUBLIC_URL, which the deployment sets.
ENV PORTCULLIS_ENV=production \
    PORTCULLIS_LISTEN_ADDR=0.0.0.0:3000 \
    PORTCULLIS_METRICS_ADDR=0.0.0.0:9464 \
    PORTCULLIS_LOG_FORMAT=json \
    LEPTOS_SITE_ROOT=/app/site \
    DATABASE_URL=sqlite:///data/portcullis.db
VOLUME ["/data"]
USER 10001:10001
# The app, and the metrics listener (never expose that one publicly).
EXPOSE 3000 9464
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/app/portcullis", "healthcheck"]
ENTRYPOINT ["/app/portcullis"]
# Serve (no arguments); the base image's CMD would otherwise be its argument.
CMD []
