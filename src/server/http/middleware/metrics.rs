//! Counts and times every answer by route template, never by raw path, so
//! made-up paths cannot add series.

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request},
    middleware::Next,
    response::Response,
};

use crate::server::platform::telemetry::metrics::{self, UNMATCHED_ROUTE};

pub async fn record(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let response = next.run(request).await;
    let route = route.as_ref().map_or(UNMATCHED_ROUTE, MatchedPath::as_str);
    metrics::http_request(route, &method, response.status(), started.elapsed());
    response
}
