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

.PHONY: help setup run dev build build-debug test lint fmt-check clippy test-rust e2e bench bench-cluster clean

help:
	@echo "make run    build the release site and serve it on http://127.0.0.1:3000"
	@echo "make test   formatting, lints, Rust tests (SQLite + PostgreSQL), browser tests"
	@echo "make dev    rebuild and reload on every change (cargo leptos watch)"
	@echo "make bench  measure the release build (a few minutes); report in bench/results/;"
	@echo "            then three replicas behind nginx, killed and restarted under load"
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

test: setup lint test-rust e2e

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

# Pins the server and the load generator to different cores; see bench/run.py.
# bench/node holds the comparison hash implementation (@node-rs/argon2).
bench: build
	@cmp -s bench/node/package-lock.json bench/node/node_modules/.portcullis-lock \
	  || { (cd bench/node && npm ci --no-audit --no-fund --loglevel=error) \
	       && cp bench/node/package-lock.json bench/node/node_modules/.portcullis-lock; }
	CARGO_TARGET_DIR=$(TARGET_DIR) BENCH_DATABASE_URL=$(TEST_DATABASE_URL) python3 bench/run.py
	$(MAKE) bench-cluster

# Three replicas behind nginx under load for two minutes: a replica killed
# every 20 s, then six rounds of rolling restarts (tests/api/cluster.rs;
# `make test` runs the same test for 10 s).
CLUSTER_SECONDS ?= 120
CLUSTER_CLIENTS ?= 16
bench-cluster: setup
	PORTCULLIS_CLUSTER_SECONDS=$(CLUSTER_SECONDS) PORTCULLIS_CLUSTER_CLIENTS=$(CLUSTER_CLIENTS) \
	  cargo test --features ssr,test-support --test api cluster -- --nocapture

clean:
	cargo clean
	rm -rf end2end/node_modules end2end/test-results
