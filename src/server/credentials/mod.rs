//! The credentials Portcullis hands out and checks: password hashes,
//! signing keys, access and refresh tokens, and the cookies that carry
//! them. No SQL and no HTTP handling here.

pub mod api_keys;
pub mod assertions;
pub mod cookies;
pub mod device_cookies;
pub mod keys;
pub mod password;
pub mod tokens;
pub mod verify_timing;
