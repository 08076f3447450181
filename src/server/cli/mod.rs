//! Subcommands other than serving: probes an operator or a container
//! runtime runs against a server.

pub mod check_login;
pub mod healthcheck;
