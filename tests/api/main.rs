//! Integration tests against the real server on port 0, each run once on a
//! fresh SQLite file and once on a fresh PostgreSQL database.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
// Tests pick their own moments; the server reads only its injected clock.
#![allow(clippy::disallowed_methods)]

mod helpers;
mod sql;

mod admin;
mod admin_console;
mod agents;
mod api_keys;
mod audit;
mod authz_view;
mod cluster;
mod config;
mod cross_site;
mod downstream;
mod forward_auth;
mod headers;
mod health;
mod keys;
mod limits;
mod login;
mod machine_gate;
mod machines;
mod migrations;
mod oauth2_token;
mod operations;
mod pages;
mod profile;
mod refresh;
mod replicas;
mod requests;
mod retention;
mod roles;
mod server_fns;
mod sessions;
mod signup;
mod store;
mod throttle;
mod tokens;
mod user_lookup;
