//! Extractors for an axum service that trusts Portcullis. The state must
//! give a [`Verifier`] (`FromRef`). The token comes from
//! `Authorization: Bearer` or Portcullis's access cookie (shared with the
//! domain by `PORTCULLIS_COOKIE_DOMAIN`; its names are the verifier's, see
//! [`Verifier::with_access_cookie`]); a bearer token that fails does not
//! hide a good cookie. A refusal is a 401 with `WWW-Authenticate` (no
//! valid token) or a 403 (valid, not allowed: a machine where only a
//! person may come, a role or permission not held).

use std::{marker::PhantomData, time::SystemTime};

use axum::{
    extract::{FromRef, FromRequestParts},
    http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};

use crate::{
    claims::{AccessClaims, Subject},
    verify::Verifier,
};

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

/// The tokens a request carries, in the order they are tried: the bearer
/// header's, then the access cookie's under one of `cookie_names` (none if
/// sent twice: someone planted one beside the real one).
pub fn tokens_of(headers: &HeaderMap, cookie_names: &[String]) -> Vec<String> {
    let mut tokens = Vec::new();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty());
    tokens.extend(bearer.map(str::to_owned));
    let mut cookies = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, value)| cookie_names.iter().any(|n| n == name) && !value.is_empty());
    if let (Some((_, first)), None) = (cookies.next(), cookies.next()) {
        tokens.push(first.to_owned());
    }
    tokens
}

/// A caller with a valid access token: a person, a service or an agent
/// (see [`AccessClaims::subject`]).
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
        for token in tokens_of(&parts.headers, verifier.access_cookies()) {
            #[cfg(feature = "fetch")]
            let verified = verifier.verify_fetching(&token, SystemTime::now()).await;
            #[cfg(not(feature = "fetch"))]
            let verified = verifier.verify(&token, SystemTime::now());
            if let Ok(claims) = verified {
                return Ok(Authenticated(claims));
            }
        }
        Err(Refusal::Unauthenticated)
    }
}

/// A person with a valid access token of their own: a service's or
/// agent's token, delegated or not, is refused with a 403.
#[derive(Debug, Clone)]
pub struct AuthenticatedUser(pub AccessClaims);

/// A role a route requires: `struct Admin; impl Role for Admin { const NAME: &'static str = "admin"; }`.
pub trait Role {
    const NAME: &'static str;
}

/// A permission a route requires, e.g. `users:read`.
pub trait Permission {
    const NAME: &'static str;
}

/// A person holding the role `R`: never a machine, whose token holds no
/// role.
#[derive(Debug, Clone)]
pub struct RequireRole<R>(pub AccessClaims, pub PhantomData<R>);

/// A caller holding the permission `P`: a person by their roles, a
/// service or agent by its scope.
#[derive(Debug, Clone)]
pub struct RequirePermission<P>(pub AccessClaims, pub PhantomData<P>);

/// The caller, if authenticated (else 401) and `allowed` (else 403).
async fn authorized<S>(
    parts: &mut Parts,
    state: &S,
    allowed: impl FnOnce(&AccessClaims) -> bool,
) -> Result<AccessClaims, Refusal>
where
    Verifier: FromRef<S>,
    S: Send + Sync,
{
    let Authenticated(claims) = Authenticated::from_request_parts(parts, state).await?;
    if allowed(&claims) {
        Ok(claims)
    } else {
        Err(Refusal::Forbidden)
    }
}

impl<S> FromRequestParts<S> for AuthenticatedUser
where
    Verifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let claims = authorized(parts, state, |c| matches!(c.subject(), Subject::User(_))).await?;
        Ok(Self(claims))
    }
}

impl<S, R> FromRequestParts<S> for RequireRole<R>
where
    Verifier: FromRef<S>,
    S: Send + Sync,
    R: Role,
{
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let claims = authorized(parts, state, |c| !c.is_machine() && c.has_role(R::NAME)).await?;
        Ok(Self(claims, PhantomData))
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
        let claims = authorized(parts, state, |c| c.has_permission(P::NAME)).await?;
        Ok(Self(claims, PhantomData))
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
        #[cfg(feature = "fetch")]
        let verified = verifier
            .verify_assertion_fetching(token, host, SystemTime::now())
            .await;
        #[cfg(not(feature = "fetch"))]
        let verified = verifier.verify_assertion(token, host, SystemTime::now());
        verified.map(Asserted).map_err(|_| Refusal::Unauthenticated)
    }
}

#[cfg(test)]
mod tests {
    use axum::http::Request;
    use serde_json::Value;

    use super::*;
    use crate::{
        claims::{KIND_AGENT, KIND_SERVICE},
        testing::{delegated, human, machine, signed, verifier, AGENT_ID, SERVICE_ID},
        verify::unix_secs,
    };

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

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|&n| n.to_owned()).collect()
    }

    #[test]
    fn the_bearer_header_comes_first_then_one_access_cookie() {
        let tls = names(&crate::DEFAULT_ACCESS_COOKIES);
        let both = headers(&[
            ("authorization", "Bearer abc"),
            ("cookie", "__Secure-portcullis_access=def"),
        ]);
        assert_eq!(tokens_of(&both, &tls), ["abc", "def"]);
        let cookie = headers(&[("cookie", "theme=dark; __Secure-portcullis_access=def")]);
        assert_eq!(tokens_of(&cookie, &tls), ["def"]);
        // Without TLS, a name anyone on the network can set: only if asked.
        let plain = headers(&[("cookie", "portcullis_access=x")]);
        assert!(tokens_of(&plain, &tls).is_empty());
        assert_eq!(tokens_of(&plain, &names(&["portcullis_access"])), ["x"]);
        // Planted beside the real one: neither is believed.
        let twice = headers(&[
            ("cookie", "__Host-portcullis_access=planted"),
            ("cookie", "__Host-portcullis_access=mine"),
        ]);
        assert!(tokens_of(&twice, &tls).is_empty());
        // Another scheme hides nothing.
        let basic = headers(&[
            ("authorization", "Basic x"),
            ("cookie", "__Host-portcullis_access=y"),
        ]);
        assert_eq!(tokens_of(&basic, &tls), ["y"]);
    }

    struct Admin;
    impl Role for Admin {
        const NAME: &'static str = "admin";
    }
    struct People;
    impl Role for People {
        const NAME: &'static str = "user";
    }
    struct ReadUsers;
    impl Permission for ReadUsers {
        const NAME: &'static str = "users:read";
    }
    struct WriteUsers;
    impl Permission for WriteUsers {
        const NAME: &'static str = "users:write";
    }

    /// The refusal, if any, of extractor `E` for a request bearing a
    /// token of `claims` (none if `None`).
    async fn refusal<E>(claims: Option<Value>) -> Option<Refusal>
    where
        E: FromRequestParts<Verifier, Rejection = Refusal>,
    {
        let mut request = Request::builder();
        if let Some(claims) = claims {
            request = request.header(header::AUTHORIZATION, format!("Bearer {}", signed(&claims)));
        }
        let (mut parts, ()) = request.body(()).unwrap().into_parts();
        E::from_request_parts(&mut parts, &verifier()).await.err()
    }

    fn now() -> i64 {
        unix_secs(SystemTime::now())
    }

    fn service() -> Value {
        let mut claims = machine(KIND_SERVICE, SERVICE_ID, now());
        // Even a role in its token makes no machine a role holder.
        claims["roles"] = serde_json::json!(["admin", "user"]);
        claims
    }

    fn machines() -> [Value; 3] {
        [
            service(),
            machine(KIND_AGENT, AGENT_ID, now()),
            delegated(now()),
        ]
    }

    #[tokio::test]
    async fn any_principal_is_authenticated_but_only_a_person_is_a_user() {
        assert_eq!(
            refusal::<Authenticated>(None).await,
            Some(Refusal::Unauthenticated)
        );
        assert_eq!(
            refusal::<AuthenticatedUser>(None).await,
            Some(Refusal::Unauthenticated)
        );
        assert_eq!(refusal::<AuthenticatedUser>(Some(human(now()))).await, None);
        for claims in machines() {
            assert_eq!(refusal::<Authenticated>(Some(claims.clone())).await, None);
            assert_eq!(
                refusal::<AuthenticatedUser>(Some(claims)).await,
                Some(Refusal::Forbidden)
            );
        }
    }

    #[tokio::test]
    async fn a_role_is_a_person_s_and_a_permission_anyone_s() {
        assert_eq!(
            refusal::<RequireRole<People>>(Some(human(now()))).await,
            None
        );
        assert_eq!(
            refusal::<RequireRole<Admin>>(Some(human(now()))).await,
            Some(Refusal::Forbidden)
        );
        for claims in machines().into_iter().chain([human(now())]) {
            assert_eq!(
                refusal::<RequirePermission<ReadUsers>>(Some(claims.clone())).await,
                None
            );
            assert_eq!(
                refusal::<RequirePermission<WriteUsers>>(Some(claims)).await,
                Some(Refusal::Forbidden)
            );
        }
        for claims in machines() {
            for refused in [
                refusal::<RequireRole<Admin>>(Some(claims.clone())).await,
                refusal::<RequireRole<People>>(Some(claims)).await,
            ] {
                assert_eq!(refused, Some(Refusal::Forbidden));
            }
        }
    }
}
