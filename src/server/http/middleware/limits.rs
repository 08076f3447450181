//! Load limits: a cap on requests in flight and a deadline for each, so slow
//! or numerous clients cannot pin the server. Over the cap a request gets
//! 503 at once rather than waiting in an unbounded queue.

use std::{sync::Arc, time::Duration};

use axum::{
    body::Body,
    extract::{Request, State},
    http::{header, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tokio::sync::Semaphore;

use crate::{
    model::ErrorCode,
    server::{
        http::{error::ApiError, json::BODY_LIMIT_BYTES},
        platform::env::{ConfigError, Env},
    },
};

/// How much the server takes on at once, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadLimits {
    /// Requests served at once; more get 503 at once instead of queueing.
    pub max_concurrent_requests: usize,
    /// The longest any request may take, body upload included.
    pub request_timeout: Duration,
}

impl LoadLimits {
    pub fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            max_concurrent_requests: env.number(
                "PORTCULLIS_MAX_CONCURRENT_REQUESTS",
                1024,
                1..=1_000_000,
            )?,
            request_timeout: env.timeout(
                "PORTCULLIS_REQUEST_TIMEOUT_SECS",
                Duration::from_secs(30),
                1..=600,
                Duration::from_secs(1),
            )?,
        })
    }
}

#[derive(Clone)]
pub struct Limits {
    slots: Arc<Semaphore>,
    timeout: Duration,
}

impl Limits {
    pub fn new(load: LoadLimits) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(load.max_concurrent_requests)),
            timeout: load.request_timeout,
        }
    }
}

/// Liveness must answer even when the server is saturated, or an
/// orchestrator would restart a replica that is merely busy.
const EXEMPT: &str = "/health";

pub async fn enforce(State(limits): State<Limits>, request: Request, next: Next) -> Response {
    if request.uri().path() == EXEMPT {
        return next.run(request).await;
    }
    let Ok(_slot) = limits.slots.clone().try_acquire_owned() else {
        return ApiError::unavailable("The server is busy. Try again in a moment.")
            .with_detail("concurrent request cap reached")
            .with_retry_after(1)
            .into_response();
    };
    // The deadline covers reading the body, so a trickling upload ends too.
    match tokio::time::timeout(limits.timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            ErrorCode::RequestTimeout,
            "The request took too long.",
        )
        .with_detail(format!("request exceeded {:?}", limits.timeout))
        .into_response(),
    }
}

/// One body limit for every route, server functions included: axum's
/// `DefaultBodyLimit` binds only its own extractors, and leptos reads the
/// body itself. A declared length over it is refused before any of the
/// body is read; a body without one is cut off where it passes the limit.
pub async fn limit_body(request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > BODY_LIMIT_BYTES as u64) {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            "The request body is larger than 64 KiB.",
        )
        .into_response();
    }
    next.run(request.map(|body| Body::new(http_body_util::Limited::new(body, BODY_LIMIT_BYTES))))
        .await
}
