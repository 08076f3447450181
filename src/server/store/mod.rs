//! The tables, one module each; the only place with SQL. The backend is
//! chosen once, in [`db`].

pub mod api_keys;
pub mod audit;
pub mod authz_changes;
pub mod db;
pub mod rate_limits;
pub mod refresh_tokens;
pub mod roles;
pub mod service_accounts;
pub mod sessions;
pub mod users;
