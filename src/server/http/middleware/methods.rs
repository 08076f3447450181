//! Methods no route here takes and that only ever serve attacks: CONNECT
//! (tunnelling through the server) and TRACE (echoing a request's headers,
//! cookies included, back to a script). Refused before anything else runs.

use axum::{
    extract::Request,
    http::{header, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{model::ErrorCode, server::http::error::ApiError};

/// What the routes here answer to, for the 405's `Allow`.
const ALLOWED: &str = "GET, HEAD, POST, PUT, DELETE";

pub async fn refuse_connect_and_trace(request: Request, next: Next) -> Response {
    if !matches!(*request.method(), Method::CONNECT | Method::TRACE) {
        return next.run(request).await;
    }
    let mut response = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        "This method is not allowed.",
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(ALLOWED));
    response
}
