//! Layers every request passes through, outermost first: hardening
//! headers (so every answer carries them, refusals included), metrics,
//! request id, CONNECT/TRACE refusal, load limits, CSRF; the JSON API adds CORS, pages
//! their CSP.

pub mod cors;
pub mod csrf;
pub mod limits;
pub mod methods;
pub mod metrics;
pub mod request_id;
pub mod security_headers;
