//! `POST /oauth2/token` (RFC 6749 §3.2): client credentials with an
//! agent's key as the secret, and token exchange (RFC 8693). Errors take
//! RFC 6749 §5.2's form, `{"error", "error_description"}`, not the API's.

use std::collections::HashMap;

use axum::{
    body::Bytes,
    extract::State,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use base64::{engine::general_purpose::STANDARD, Engine};
use percent_encoding::percent_decode_str;
use serde::Serialize;

use crate::{
    model::ErrorCode,
    server::{
        domain::client::ClientInfo,
        http::{error::ApiError, state::AppState},
        platform::telemetry::metrics::{self, Grant, TokenOutcome},
        services::machines::oauth::{grant_of, IssuedToken, OAuthError, TokenRequest},
    },
};

#[derive(Serialize)]
struct TokenBody<'a> {
    access_token: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    issued_token_type: Option<&'a str>,
    token_type: &'static str,
    expires_in: i64,
    scope: &'a str,
}

/// The token, never cached (RFC 6749 §5.1).
pub fn token_response(issued: &IssuedToken) -> Response {
    let body = TokenBody {
        access_token: &issued.access_token,
        issued_token_type: issued.issued_token_type,
        token_type: "Bearer",
        expires_in: issued.expires_in,
        scope: &issued.scope,
    };
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

/// An RFC 6749 §5.2 error. `basic`: the client authenticated with HTTP
/// Basic, so a refusal of it says how to retry (§5.2, `invalid_client`).
fn oauth_error(err: OAuthError, basic: bool) -> Response {
    if let OAuthError::Internal(inner) = err {
        return ApiError::from(inner).into_response();
    }
    let (status, code, description) = match &err {
        OAuthError::InvalidRequest(why) => (StatusCode::BAD_REQUEST, "invalid_request", *why),
        OAuthError::InvalidClient => (
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The client is unknown, or its secret is wrong, revoked or expired.",
        ),
        OAuthError::InvalidGrant(why) => (StatusCode::BAD_REQUEST, "invalid_grant", *why),
        OAuthError::UnsupportedGrantType => (
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The grant types are client_credentials and token exchange.",
        ),
        OAuthError::InvalidScope => (
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "The scope asks for a permission unknown or not held.",
        ),
        OAuthError::InvalidTarget => (
            StatusCode::BAD_REQUEST,
            "invalid_target",
            "The resource must be an absolute URI without a fragment.",
        ),
        OAuthError::SlowDown(_) => (
            StatusCode::TOO_MANY_REQUESTS,
            "slow_down",
            "Too many token requests; wait and retry.",
        ),
        OAuthError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "server_error", ""),
    };
    let mut response = (
        status,
        Json(ErrorBody {
            error: code,
            error_description: description,
        }),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let OAuthError::SlowDown(secs) = err {
        if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
            headers.insert(header::RETRY_AFTER, value);
        }
    }
    if matches!(err, OAuthError::InvalidClient) {
        let challenge = if basic {
            "Basic realm=\"portcullis\""
        } else {
            "Bearer realm=\"portcullis\""
        };
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
    }
    response
}

/// For `POST /api/agents/token`, which answers in the API's own form.
pub fn as_api_error(err: OAuthError) -> ApiError {
    match err {
        OAuthError::InvalidClient | OAuthError::InvalidGrant(_) => ApiError::unauthenticated(),
        OAuthError::InvalidScope => ApiError::bad_request(
            ErrorCode::InvalidPermission,
            "The scope asks for a permission unknown or not held.",
        ),
        OAuthError::InvalidTarget | OAuthError::InvalidRequest(_) => ApiError::bad_request(
            ErrorCode::InvalidQuery,
            "The resource must be an absolute URI without a fragment.",
        ),
        OAuthError::UnsupportedGrantType => ApiError::unauthenticated(),
        OAuthError::SlowDown(secs) => {
            ApiError::from(crate::server::services::ServiceError::Throttled(secs))
        }
        OAuthError::Internal(inner) => ApiError::from(inner),
    }
}

/// The client's id and secret from HTTP Basic (RFC 6749 §2.3.1: each
/// form-urlencoded before joining). `Err` for a Basic header that does not
/// decode.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, ()> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| ())?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| ())?;
    let text = String::from_utf8(decoded).map_err(|_| ())?;
    let (id, secret) = text.split_once(':').ok_or(())?;
    let unform = |s: &str| {
        percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| ())
    };
    Ok(Some((unform(id)?, unform(secret)?)))
}

pub async fn token(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let basic = basic_credentials(&headers);
    let used_basic = !matches!(basic, Ok(None));
    let grant = url::form_urlencoded::parse(&body)
        .find(|(name, _)| name == "grant_type")
        .map_or(Grant::Other, |(_, value)| grant_of(&value));
    match token_request(&state, &client, &headers, &body, basic).await {
        Ok(issued) => {
            metrics::machine_token(grant, TokenOutcome::Issued);
            token_response(&issued)
        }
        Err(err) => {
            metrics::machine_token(grant, err.outcome());
            oauth_error(err, used_basic)
        }
    }
}

async fn token_request(
    state: &AppState,
    client: &ClientInfo,
    headers: &HeaderMap,
    body: &[u8],
    basic: Result<Option<(String, String)>, ()>,
) -> Result<IssuedToken, OAuthError> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form {
        return Err(OAuthError::InvalidRequest(
            "send the parameters as application/x-www-form-urlencoded",
        ));
    }
    // Each parameter at most once (RFC 6749 §3.2).
    let mut params: HashMap<String, String> = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        if params
            .insert(name.into_owned(), value.into_owned())
            .is_some()
        {
            return Err(OAuthError::InvalidRequest("a parameter was given twice"));
        }
    }
    let basic = basic.map_err(|_| OAuthError::InvalidClient)?;
    let posted_secret = params.get("client_secret").map(String::as_str);
    let (client_id, client_secret) = match (&basic, posted_secret) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::InvalidRequest(
                "authenticate the client one way only",
            ))
        }
        (Some((id, secret)), None) => {
            if params.get("client_id").is_some_and(|posted| posted != id) {
                return Err(OAuthError::InvalidRequest("two different client ids"));
            }
            (Some(id.as_str()), Some(secret.as_str()))
        }
        (None, secret) => (params.get("client_id").map(String::as_str), secret),
    };
    let param = |name: &str| params.get(name).map(String::as_str);
    let request = TokenRequest {
        grant_type: param("grant_type").unwrap_or_default(),
        client_id,
        client_secret,
        scope: param("scope"),
        resource: param("resource"),
        subject_token: param("subject_token"),
        subject_token_type: param("subject_token_type"),
    };
    state.services(client).oauth_token(&request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let encoded = STANDARD.encode("my%20client:s%3Acret+x");
        assert_eq!(
            basic_credentials(&basic(&format!("Basic {encoded}"))),
            Ok(Some(("my client".into(), "s:cret x".into())))
        );
        assert_eq!(basic_credentials(&basic("Bearer abc")), Ok(None));
        assert_eq!(basic_credentials(&HeaderMap::new()), Ok(None));
        assert_eq!(basic_credentials(&basic("Basic !!!")), Err(()));
        let no_colon = STANDARD.encode("nocolon");
        assert_eq!(
            basic_credentials(&basic(&format!("Basic {no_colon}"))),
            Err(())
        );
    }
}
