//! Extractors for an axum service that trusts Portcullis. The state must
//! give a [`Verifier`] (`FromRef`). The token comes from
//! `Authorization: Bearer` or else Portcullis's access cookie (shared with
//! the domain by `PORTCULLIS_COOKIE_DOMAIN`). A refusal is a 401 with
//! `WWW-Authenticate` (no valid token) or a 403 (valid, not allowed).

use std::{marker::PhantomData, time::SystemTime};

use axum::{
    extract::{FromRef, FromRequestParts},
    http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};

use crate::{claims::AccessClaims, verify::Verifier};

/// The access cookie's names: over TLS shared with a domain, over TLS on
/// Portcullis's host only, and without TLS (development).
pub const ACCESS_COOKIES: [&str; 3] = [
    "__Secure-portcullis_access",
    "__Host-portcullis_access",
    "portcullis_access",
];

/// A refusal, as JSON with a stable `error` code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Unauthenticated,
    Forbidden,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, code) = match self {
            Self::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            Self::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
        };
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            format!(r#"{{"error":"{code}"}}"#),
        )
            .into_response();
        if self == Self::Unauthenticated {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"portcullis\""),
            );
        }
        response
    }
}

/// The token of a request: the bearer header, or else the access cookie
/// (refused if sent twice: someone planted one).
pub fn token_of(headers: &HeaderMap) -> Option<String> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let (scheme, token) = value.to_str().ok()?.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_owned())
            .filter(|t| !t.is_empty());
    }
    let mut found = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, value)| ACCESS_COOKIES.contains(name) && !value.is_empty());
    let (_, first) = found.next()?;
    found.next().is_none().then(|| first.to_owned())
}

/// A caller with a valid access token.
#[derive(Debug, Clone)]
pub struct Authenticated(pub AccessClaims);

impl<S> FromRequestParts<S> for Authenticated
where
    Verifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = Verifier::from_ref(state);
        let token = token_of(&parts.headers).ok_or(Refusal::Unauthenticated)?;
        #[cfg(feature = "fetch")]
        let verified = verifier.verify_fetching(&token, SystemTime::now()).await;
        #[cfg(not(feature = "fetch"))]
        let verified = verifier.verify(&token, SystemTime::now());
        verified
            .map(Authenticated)
            .map_err(|_| Refusal::Unauthenticated)
    }
}

/// A role a route requires: `struct Admin; impl Role for Admin { const NAME: &'static str = "admin"; }`.
pub trait Role {
    const NAME: &'static str;
}

/// A permission a route requires, e.g. `users:read`.
pub trait Permission {
    const NAME: &'static str;
}

/// A caller holding the role `R`.
#[derive(Debug, Clone)]
pub struct RequireRole<R>(pub AccessClaims, pub PhantomData<R>);

/// A caller holding the permission `P`.
#[derive(Debug, Clone)]
pub struct RequirePermission<P>(pub AccessClaims, pub PhantomData<P>);

impl<S, R> FromRequestParts<S> for RequireRole<R>
where
    Verifier: FromRef<S>,
    S: Send + Sync,
    R: Role,
{
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Authenticated(claims) = Authenticated::from_request_parts(parts, state).await?;
        if claims.has_role(R::NAME) {
            Ok(Self(claims, PhantomData))
        } else {
            Err(Refusal::Forbidden)
        }
    }
}

impl<S, P> FromRequestParts<S> for RequirePermission<P>
where
    Verifier: FromRef<S>,
    S: Send + Sync,
    P: Permission,
{
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Authenticated(claims) = Authenticated::from_request_parts(parts, state).await?;
        if claims.has_permission(P::NAME) {
            Ok(Self(claims, PhantomData))
        } else {
            Err(Refusal::Forbidden)
        }
    }
}

/// A request that came through the gateway: its `X-Portcullis-Assertion`
/// holds, for the host set by `Verifier::expecting_assertions_for`.
#[cfg(feature = "assertion")]
#[derive(Debug, Clone)]
pub struct Asserted(pub crate::assertion::AssertionClaims);

#[cfg(feature = "assertion")]
impl<S> FromRequestParts<S> for Asserted
where
    Verifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = Verifier::from_ref(state);
        let host = verifier
            .assertion_audience()
            .ok_or(Refusal::Unauthenticated)?;
        let token = parts
            .headers
            .get(crate::assertion::ASSERTION_HEADER)
            .and_then(|v| v.to_str().ok())
            .ok_or(Refusal::Unauthenticated)?;
        verifier
            .verify_assertion(token, host, SystemTime::now())
            .map(Asserted)
            .map_err(|_| Refusal::Unauthenticated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        headers
    }

    #[test]
    fn the_bearer_header_comes_first_then_one_access_cookie() {
        let both = headers(&[
            ("authorization", "Bearer abc"),
            ("cookie", "portcullis_access=def"),
        ]);
        assert_eq!(token_of(&both).as_deref(), Some("abc"));
        let cookie = headers(&[("cookie", "theme=dark; __Secure-portcullis_access=def")]);
        assert_eq!(token_of(&cookie).as_deref(), Some("def"));
        // Planted beside the real one: neither is believed.
        let twice = headers(&[
            ("cookie", "portcullis_access=planted"),
            ("cookie", "portcullis_access=mine"),
        ]);
        assert_eq!(token_of(&twice), None);
        assert_eq!(token_of(&headers(&[("authorization", "Basic x")])), None);
    }
}
