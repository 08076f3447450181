//! Prometheus metrics. One recorder per process, installed when the
//! metrics listener is configured (without it every `record` is a no-op).
//! Label values come only from fixed sets: a route template, never a raw
//! path; an outcome or reason the code names, never client text.

use std::{net::SocketAddr, sync::OnceLock, time::Duration};

use axum::http::{Method, StatusCode};
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

use crate::server::platform::env::{invalid, ConfigError, Env};

/// Where `/metrics` is served: its own listener, never the public port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MetricsConfig {
    pub listen_addr: Option<SocketAddr>,
}

impl MetricsConfig {
    pub fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        let listen_addr = match env.get("PORTCULLIS_METRICS_ADDR") {
            None => None,
            Some(value) => Some(value.trim().parse().map_err(|_| {
                invalid(
                    "PORTCULLIS_METRICS_ADDR",
                    format!("`{value}` is not an address like 0.0.0.0:9464"),
                )
            })?),
        };
        Ok(Self { listen_addr })
    }
}

/// Latency buckets in seconds: forward-auth answers in well under a
/// millisecond, a sign-in takes tens of milliseconds, a saturated one
/// seconds.
const SECONDS_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

#[derive(Debug, thiserror::Error)]
#[error("could not install the metrics recorder: {0}")]
pub struct MetricsError(String);

/// Installs the process's recorder on first use and returns its handle;
/// later calls (several applications in one test process) share it.
pub fn install() -> Result<PrometheusHandle, MetricsError> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
        .map_err(|e: BuildError| MetricsError(e.to_string()))?
        .build_recorder();
    let handle = recorder.handle();
    // Two threads racing here: the loser's recorder is refused and dropped.
    if HANDLE.set(handle.clone()).is_ok() {
        metrics::set_global_recorder(recorder).map_err(|e| MetricsError(e.to_string()))?;
        describe();
        gauge!("portcullis_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    }
    HANDLE
        .get()
        .cloned()
        .ok_or_else(|| MetricsError("no recorder".into()))
}

/// The text exposition, after folding recent histogram samples in.
pub fn render(handle: &PrometheusHandle) -> String {
    handle.run_upkeep();
    handle.render()
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "portcullis_http_requests_total",
        "HTTP requests answered, by route template, method and status class"
    );
    describe_histogram!(
        "portcullis_http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer an HTTP request, by route template and method"
    );
    describe_counter!("portcullis_sign_ins_total", "Password sign-ins by outcome");
    describe_counter!("portcullis_sign_ups_total", "Sign-ups by outcome");
    describe_counter!("portcullis_refreshes_total", "Session refreshes by outcome");
    describe_counter!(
        "portcullis_forward_auth_decisions_total",
        "Forward-auth answers by outcome"
    );
    describe_counter!(
        "portcullis_machine_tokens_total",
        "Token requests of service accounts and agents, by grant and outcome"
    );
    describe_counter!(
        "portcullis_throttle_blocks_total",
        "Requests refused or blocks imposed by throttling, by scope"
    );
    describe_gauge!(
        "portcullis_hash_queue_depth",
        "Requests waiting for a password-hashing slot"
    );
    describe_gauge!("portcullis_hash_slots", "Password hashes computed at once");
    describe_histogram!(
        "portcullis_hash_wait_seconds",
        Unit::Seconds,
        "Time a request waited for a password-hashing slot"
    );
    describe_counter!(
        "portcullis_hash_rejections_total",
        "Requests turned away because password hashing is saturated, by reason"
    );
    describe_gauge!(
        "portcullis_db_pool_connections",
        "Database connections by state (idle, in_use)"
    );
    describe_gauge!(
        "portcullis_db_pool_max_connections",
        "Database connections the pool may open"
    );
    describe_gauge!(
        "portcullis_live_sessions",
        "Sessions neither ended, expired nor idle (refreshed periodically)"
    );
    describe_counter!(
        "portcullis_job_runs_total",
        "Background job runs by task and outcome"
    );
    describe_gauge!(
        "portcullis_ready",
        "1 when the last readiness check passed, else 0"
    );
    describe_gauge!("portcullis_build_info", "The running version");
}

/// An HTTP method as a label: the standard ones by name, anything else
/// (which a client may make up) as `OTHER`.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

pub fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// The route label of a request no route matched.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// One answered request. `route` is a template of the router's (a fixed
/// set) or [`UNMATCHED_ROUTE`].
pub fn http_request(route: &str, method: &Method, status: StatusCode, took: Duration) {
    let method = method_label(method);
    counter!(
        "portcullis_http_requests_total",
        "route" => route.to_owned(),
        "method" => method,
        "status" => status_class(status),
    )
    .increment(1);
    histogram!(
        "portcullis_http_request_duration_seconds",
        "route" => route.to_owned(),
        "method" => method,
    )
    .record(took.as_secs_f64());
}

/// How a password sign-in ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignIn {
    Success,
    BadCredentials,
    Rejected,
    Throttled,
    Busy,
    Error,
}

impl SignIn {
    fn label(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::BadCredentials => "bad_credentials",
            Self::Rejected => "rejected",
            Self::Throttled => "throttled",
            Self::Busy => "busy",
            Self::Error => "error",
        }
    }
}

pub fn sign_in(outcome: SignIn) {
    counter!("portcullis_sign_ins_total", "outcome" => outcome.label()).increment(1);
}

/// How a sign-up ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignUp {
    Created,
    Rejected,
    Throttled,
    Busy,
    Error,
}

impl SignUp {
    fn label(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Rejected => "rejected",
            Self::Throttled => "throttled",
            Self::Busy => "busy",
            Self::Error => "error",
        }
    }
}

pub fn sign_up(outcome: SignUp) {
    counter!("portcullis_sign_ups_total", "outcome" => outcome.label()).increment(1);
}

/// How a refresh ended: a new token, the same successor again within the
/// grace window, a replay that ended the session, or a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    Rotated,
    Grace,
    ReuseDetected,
    Rejected,
    Throttled,
    Error,
}

impl Refresh {
    fn label(self) -> &'static str {
        match self {
            Self::Rotated => "rotated",
            Self::Grace => "grace",
            Self::ReuseDetected => "reuse_detected",
            Self::Rejected => "rejected",
            Self::Throttled => "throttled",
            Self::Error => "error",
        }
    }
}

pub fn refresh(outcome: Refresh) {
    counter!("portcullis_refreshes_total", "outcome" => outcome.label()).increment(1);
}

/// A forward-auth answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    Allowed,
    Unauthenticated,
    Forbidden,
    BadRequest,
    Error,
}

impl Gate {
    fn label(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::BadRequest => "bad_request",
            Self::Error => "error",
        }
    }
}

pub fn forward_auth(outcome: Gate) {
    counter!("portcullis_forward_auth_decisions_total", "outcome" => outcome.label()).increment(1);
}

/// How a machine asked for a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    ClientCredentials,
    TokenExchange,
    /// An unknown or missing grant type.
    Other,
}

/// What came of a machine's token request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenOutcome {
    Issued,
    /// A bad client, secret, grant, scope or target.
    Refused,
    Throttled,
    Error,
}

pub fn machine_token(grant: Grant, outcome: TokenOutcome) {
    let grant = match grant {
        Grant::ClientCredentials => "client_credentials",
        Grant::TokenExchange => "token_exchange",
        Grant::Other => "other",
    };
    let outcome = match outcome {
        TokenOutcome::Issued => "issued",
        TokenOutcome::Refused => "refused",
        TokenOutcome::Throttled => "throttled",
        TokenOutcome::Error => "error",
    };
    counter!("portcullis_machine_tokens_total", "grant" => grant, "outcome" => outcome)
        .increment(1);
}

/// A request throttling refused, or a block it imposed; `scope` is one of
/// the throttle's fixed scope names.
pub fn throttle_block(scope: &'static str) {
    counter!("portcullis_throttle_blocks_total", "scope" => scope).increment(1);
}

/// Why a request got no hashing slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashRejection {
    QueueFull,
    Timeout,
}

pub fn hash_rejected(reason: HashRejection) {
    let reason = match reason {
        HashRejection::QueueFull => "queue_full",
        HashRejection::Timeout => "timeout",
    };
    counter!("portcullis_hash_rejections_total", "reason" => reason).increment(1);
}

pub fn hash_slots(slots: usize) {
    gauge!("portcullis_hash_slots").set(slots as f64);
}

pub fn hash_queue_depth(waiting: usize) {
    gauge!("portcullis_hash_queue_depth").set(waiting as f64);
}

pub fn hash_wait(waited: Duration) {
    histogram!("portcullis_hash_wait_seconds").record(waited.as_secs_f64());
}

/// The database pool, read when metrics are scraped.
pub fn db_pool(in_use: u32, idle: u32, max: u32) {
    gauge!("portcullis_db_pool_connections", "state" => "in_use").set(f64::from(in_use));
    gauge!("portcullis_db_pool_connections", "state" => "idle").set(f64::from(idle));
    gauge!("portcullis_db_pool_max_connections").set(f64::from(max));
}

pub fn live_sessions(count: u64) {
    gauge!("portcullis_live_sessions").set(count as f64);
}

pub fn job_run(job: &'static str, ok: bool) {
    let outcome = if ok { "ok" } else { "failed" };
    // Not `job`: Prometheus sets that label on every series it scrapes.
    counter!("portcullis_job_runs_total", "task" => job, "outcome" => outcome).increment(1);
}

pub fn ready(ok: bool) {
    gauge!("portcullis_ready").set(if ok { 1.0 } else { 0.0 });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_up_methods_share_one_label() {
        let made_up = Method::from_bytes(b"PROPFIND").unwrap();
        assert_eq!(method_label(&made_up), "OTHER");
        assert_eq!(method_label(&Method::GET), "GET");
    }

    #[test]
    fn statuses_are_counted_by_class() {
        assert_eq!(status_class(StatusCode::OK), "2xx");
        assert_eq!(status_class(StatusCode::FOUND), "3xx");
        assert_eq!(status_class(StatusCode::NOT_FOUND), "4xx");
        assert_eq!(status_class(StatusCode::SERVICE_UNAVAILABLE), "5xx");
    }
}
