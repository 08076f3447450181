//! A JSON body extractor whose rejections use the API's error shape:
//! 415 for another content type, 413 over the body limit, 400 otherwise.

use axum::{
    extract::{rejection::JsonRejection, FromRequest, Request},
    http::{header, StatusCode},
    Json,
};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::model::ErrorCode;

/// Largest request body accepted anywhere.
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

pub struct ApiJson<T>(pub T);

/// Like [`ApiJson`], but an empty body with no content type means `None`.
pub struct OptionalJson<T>(pub Option<T>);

fn rejection(err: JsonRejection) -> ApiError {
    match err.status() {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "Send the body as JSON with Content-Type: application/json.",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            "The request body is larger than 64 KiB.",
        ),
        _ => ApiError::bad_request(
            ErrorCode::MalformedJson,
            "The request body is not the JSON this endpoint expects.",
        )
        .with_detail(err.body_text()),
    }
}

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Json::<T>::from_request(req, state)
            .await
            .map(|Json(v)| ApiJson(v))
            .map_err(rejection)
    }
}

impl<T, S> FromRequest<S> for OptionalJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let no_type = !req.headers().contains_key(header::CONTENT_TYPE);
        let declared_empty = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() == b"0");
        let no_length = !req.headers().contains_key(header::CONTENT_LENGTH)
            && !req.headers().contains_key(header::TRANSFER_ENCODING);
        if no_type && (declared_empty || no_length) {
            return Ok(OptionalJson(None));
        }
        ApiJson::<T>::from_request(req, state)
            .await
            .map(|ApiJson(v)| OptionalJson(Some(v)))
    }
}
