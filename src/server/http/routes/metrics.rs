//! `/metrics` in Prometheus's text format, served only on the metrics
//! listener (`PORTCULLIS_METRICS_ADDR`), never on the public port.

use axum::{
    extract::State,
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
    routing::get,
    Extension, Router,
};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::server::{http::state::AppState, platform::telemetry::metrics};

/// The metrics listener's whole router.
pub fn router(state: AppState, handle: PrometheusHandle) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .layer(Extension(handle))
        .with_state(state)
}

/// Gauges that are cheap to read are read now, at scrape time; the rest
/// (live sessions) are kept fresh by a background job.
async fn scrape(
    State(state): State<AppState>,
    Extension(handle): Extension<PrometheusHandle>,
) -> Response {
    let pool = state.db.usage();
    metrics::db_pool(pool.in_use, pool.idle, pool.max);
    metrics::hash_queue_depth(state.credentials.hasher.waiting());
    let body = metrics::render(&handle);
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}
