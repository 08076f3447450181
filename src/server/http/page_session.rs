//! The session a page renders with, read before rendering starts and handed
//! to the app in the request's extensions. Pages then render without
//! awaiting anything: leptos's server-side resources can leave a render
//! waiting forever (a resource read under several `Suspense`s, or first
//! polled while another app generates its route list), and a page is the
//! last place that may hang.

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::Response,
};

use crate::{
    model::{CurrentSession, ErrorCode},
    server::{
        http::{
            error::ApiError,
            extract::{client_info, principal_from_headers},
            state::AppState,
        },
        services::ServiceError,
    },
};

#[derive(Debug, Clone)]
pub enum PageSession {
    SignedOut,
    SignedIn(CurrentSession),
    /// It could not be read (say, the database is down); the page says so.
    Unreadable {
        code: ErrorCode,
        message: String,
    },
}

/// Middleware for the page routes and their fallback. A file the fallback
/// serves (`/favicon.svg`) or an unknown API path needs no session.
pub async fn read(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !is_page(request.uri().path()) {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let session = session_of(&state, &parts).await;
    parts.extensions.insert(session);
    next.run(Request::from_parts(parts, body)).await
}

/// Page paths have no file extension and are not under `/api/`.
fn is_page(path: &str) -> bool {
    let last = path.rsplit('/').next().unwrap_or_default();
    !path.starts_with("/api/") && !last.contains('.')
}

async fn session_of(state: &AppState, parts: &axum::http::request::Parts) -> PageSession {
    let Some(principal) = principal_from_headers(state, &parts.headers) else {
        return PageSession::SignedOut;
    };
    let client = client_info(parts, &state.trusted_proxies);
    match state.services(&client).current_session(&principal).await {
        Ok(session) => PageSession::SignedIn(session),
        // A stale token is shown as a lapsed one: the page renews it (a
        // refresh brings the current authorization) and loads again.
        Err(ServiceError::Unauthenticated | ServiceError::StaleAuthorization) => {
            PageSession::SignedOut
        }
        Err(err) => {
            let api = ApiError::from(err);
            api.log();
            PageSession::Unreadable {
                code: api.code(),
                message: api.message().to_owned(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_page;

    #[test]
    fn only_pages_read_the_session() {
        for page in ["/", "/login", "/account", "/no-such-page", "/a/b"] {
            assert!(is_page(page), "{page}");
        }
        for other in ["/favicon.svg", "/robots.txt", "/api/nope", "/pkg/x.wasm"] {
            assert!(!is_page(other), "{other}");
        }
    }
}
