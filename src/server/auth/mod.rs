//! Authentication: passwords, tokens, cookies, CSRF and the rules that
//! tie them together in [`service`].

pub mod cookies;
pub mod csrf;
pub mod extract;
pub mod keys;
pub mod password;
pub mod service;
pub mod throttle;
pub mod tokens;
