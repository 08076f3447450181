//! Layers every request passes through, outermost first: request id,
//! load limits, security headers, CSRF.

pub mod csrf;
pub mod limits;
pub mod request_id;
pub mod security_headers;
