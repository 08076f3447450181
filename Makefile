# Portcullis: `make run` serves it, `make test` checks everything.
# Both install whatever is missing first (scripts/setup.sh).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
# wasm-opt comes from npm (scripts/setup.sh); cargo-leptos takes the first on PATH.
WASM_OPT_DIR ?= $(HOME)/.cache/portcullis/binaryen
export WASM_OPT_DIR
export PATH := $(WASM_OPT_DIR)/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)

# The PostgreSQL server the tests create their databases on.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
export TEST_DATABASE_URL

TARGET_DIR := $(abspath $(or $(CARGO_TARGET_DIR),target))
# cargo-leptos writes the site (JS, WASM, CSS, assets) here.
SITE_ROOT := $(CURDIR)/target/site
WASM_TARGET := wasm32-unknown-unknown

# The deployment checks' tools (scripts/setup.sh installs them).
OPS_PYTHON := $(HOME)/.cache/portcullis/venv/bin/python
PROMTOOL := $(HOME)/.cache/portcullis/prometheus/usr/bin/promtool

.PHONY: help setup run dev build build-debug test lint fmt-check clippy test-rust e2e ops chart-check image-check image bench bench-cluster clean

help:
	@echo "make run    build the release site and serve it on http://127.0.0.1:3000"
	@echo "make test   formatting, lints, Rust tests (SQLite + PostgreSQL), browser tests"
	@echo "make dev    rebuild and reload on every change (cargo leptos watch)"
	@echo "make bench  measure the release build (a few minutes); report in bench/results/"
	@echo "make image  build the container image from the release build and check it"
	@echo "make setup  install the tools the above need (done by them too)"

setup:
	@./scripts/setup.sh

# --split puts each lazy island in its own part of the WASM bundle (the app
# needs it); precompress.sh writes a brotli and a gzip file beside each file.
build: setup
	cargo leptos build --release --split
	./scripts/precompress.sh "$(SITE_ROOT)"

run: build
	@mkdir -p data
	LEPTOS_SITE_ROOT=$(SITE_ROOT) $(TARGET_DIR)/release/portcullis

# Rebuilds in watch mode keep plain file names: no hashing, and no stale
# hash.txt for the server to read.
dev: setup
	rm -f $(TARGET_DIR)/debug/hash.txt
	LEPTOS_HASH_FILES=false cargo leptos watch --split

test: setup lint test-rust e2e ops

lint: fmt-check clippy

fmt-check:
	cargo fmt --all -- --check

clippy:
	cargo clippy --features ssr,test-support --all-targets -- -D warnings
	cargo clippy -p portcullis-verify --all-features --all-targets -- -D warnings
	cargo clippy -p portcullis-verify --no-default-features -- -D warnings
	cargo clippy --lib --features hydrate --target $(WASM_TARGET) -- -D warnings

test-rust:
	cargo test --features ssr,test-support
	cargo test -p portcullis-verify --all-features

# The browser tests run the debug server with the debug WASM bundle.
build-debug:
	cargo leptos build --split
	cargo build --example downstream

e2e: build-debug
	cd end2end && CI=$${CI:-} PORTCULLIS_BIN=$(TARGET_DIR)/debug/portcullis LEPTOS_SITE_ROOT=$(SITE_ROOT) npx playwright test

# The Helm chart (lint, render, kubernetes-validate, assertions, alert-rule
# tests) and the container image: its runtime stage built with buildah from
# the debug build the browser tests use, then run and probed. `make image`
# does the same with the release build users get.
ops: chart-check image-check

chart-check:
	PROMTOOL=$(PROMTOOL) $(OPS_PYTHON) tests/ops/chart_check.py

image-check: build-debug
	PORTCULLIS_BIN=$(TARGET_DIR)/debug/portcullis LEPTOS_SITE_ROOT=$(SITE_ROOT) ./tests/ops/image_check.sh

image: build
	PORTCULLIS_BIN=$(TARGET_DIR)/release/portcullis LEPTOS_SITE_ROOT=$(SITE_ROOT) IMAGE=localhost/portcullis:latest ./tests/ops/image_check.sh

# Pins the server and the load generator to different cores; see bench/run.py.
# bench/node holds the comparison hash implementation (@node-rs/argon2).
bench: build
	@cmp -s bench/node/package-lock.json bench/node/node_modules/.portcullis-lock \
	  || { (cd bench/node && npm ci --no-audit --no-fund --loglevel=error) \
	       && cp bench/node/package-lock.json bench/node/node_modules/.portcullis-lock; }
	CARGO_TARGET_DIR=$(TARGET_DIR) BENCH_DATABASE_URL=$(TEST_DATABASE_URL) python3 bench/run.py
	$(MAKE) bench-cluster

# The replica test's longer variant: three replicas behind nginx for two
# minutes, a replica killed every 20 s and all restarted in turn.
bench-cluster:
	PORTCULLIS_CLUSTER_SECONDS=120 PORTCULLIS_CLUSTER_CLIENTS=12 \
	  cargo test --features ssr,test-support --test api cluster -- --nocapture --test-threads=1

clean:
	cargo clean
	rm -rf end2end/node_modules end2end/test-results
