//! What every server function needs from its request, and how it answers:
//! the same status, code and message as the JSON API, and the same
//! session effects.

use axum::http::{header, HeaderMap};
use leptos::prelude::*;
use leptos_axum::ResponseOptions;

use super::AppFnError;
use crate::{
    model::User,
    server::{
        credentials::tokens::Principal,
        domain::client::ClientInfo,
        http::{
            effects::SessionEffects,
            error::ApiError,
            extract::{access_token_session, principal_from_headers},
            state::AppState,
        },
        services::{Issued, ServiceError, Services},
    },
};

pub struct Call {
    pub state: AppState,
    pub client: ClientInfo,
    pub headers: HeaderMap,
    response: ResponseOptions,
}

fn transport(message: &str) -> AppFnError {
    AppFnError::Transport(leptos::server_fn::error::ServerFnErrorErr::ServerError(
        message.to_owned(),
    ))
}

impl Call {
    pub async fn new() -> Result<Self, AppFnError> {
        let state = use_context::<AppState>().ok_or_else(|| transport("no application state"))?;
        let response =
            use_context::<ResponseOptions>().ok_or_else(|| transport("no response options"))?;
        let headers: HeaderMap = leptos_axum::extract()
            .await
            .map_err(AppFnError::Transport)?;
        let client: ClientInfo = leptos_axum::extract_with_state(&state)
            .await
            .map_err(AppFnError::Transport)?;
        Ok(Self {
            state,
            client,
            headers,
            response,
        })
    }

    /// The use cases, for this caller at this moment.
    pub fn services(&self) -> Services<'_> {
        self.state.services(&self.client)
    }

    pub fn principal(&self) -> Option<Principal> {
        principal_from_headers(&self.state, &self.headers)
    }

    /// The caller, or the 401 that tells the app to refresh.
    pub fn require_principal(&self) -> Result<Principal, AppFnError> {
        self.principal()
            .ok_or_else(|| self.refuse(ServiceError::Unauthenticated))
    }

    /// The refresh token from its cookie, if the browser sent one.
    pub fn refresh_cookie(&self) -> Option<String> {
        self.state.credentials.cookies.read_refresh(&self.headers)
    }

    /// The device cookie, if this browser signed in here before.
    pub fn device_cookie(&self) -> Option<String> {
        self.state.credentials.cookies.read_device(&self.headers)
    }

    /// The session of the access cookie, lapsed or not, that a refresh
    /// must continue.
    pub fn access_token_session(&self) -> Option<uuid::Uuid> {
        access_token_session(&self.state, &self.headers)
    }

    pub fn apply(&self, effects: SessionEffects<'_>) -> Result<(), AppFnError> {
        effects
            .apply_to_options(&self.state, &self.response)
            .map_err(|broken| self.refuse_with(ApiError::from(broken)))
    }

    /// A plain HTML form post (no WASM) rather than the app's fetch.
    fn is_plain_form(&self) -> bool {
        self.headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"))
    }

    /// Sets the session cookies and sends the browser on to `next` (when
    /// the return policy allows it) or `default`.
    pub fn signed_in(
        &self,
        issued: &Issued,
        next: Option<&str>,
        default: &str,
    ) -> Result<User, AppFnError> {
        self.apply(SessionEffects::signed_in(
            &issued.tokens,
            issued.device.as_deref(),
        ))?;
        self.redirect_to_next(next, default);
        Ok(User::from(&issued.user))
    }

    /// `next` if the return policy allows it: a local path, or a URL on
    /// a host in `PORTCULLIS_ALLOWED_RETURN_HOSTS`.
    pub fn return_to(&self, next: Option<&str>) -> Option<String> {
        let hosts = &self.state.policies.gateway.return_hosts;
        next.and_then(|target| hosts.check(target))
    }

    /// Sends the browser on to `next` when the return policy allows it,
    /// else to `default`.
    pub fn redirect_to_next(&self, next: Option<&str>, default: &str) {
        let target = self.return_to(next);
        leptos_axum::redirect(target.as_deref().unwrap_or(default));
    }

    /// The same status, code and message as the JSON API gives. A plain
    /// form post keeps leptos' redirect back to the form (which shows
    /// the error), so its status is left alone.
    pub fn refuse(&self, err: ServiceError) -> AppFnError {
        self.refuse_with(ApiError::from(err))
    }

    fn refuse_with(&self, api: ApiError) -> AppFnError {
        api.log();
        if !self.is_plain_form() {
            self.response.set_status(api.status());
            for (name, value) in api.headers() {
                self.response.insert_header(name, value);
            }
        }
        AppFnError::Refused {
            code: api.code(),
            message: api.message().to_owned(),
        }
    }

    /// Like [`Call::refuse`], for a form page. Without WASM the browser
    /// must come back to the form with the error in its URL; leptos
    /// would send it to the `Referer`, which `Referrer-Policy:
    /// no-referrer` withholds.
    pub fn refuse_form<S: leptos::server_fn::ServerFn>(
        &self,
        err: ServiceError,
        page: &str,
        next: Option<&str>,
    ) -> AppFnError {
        self.refuse_form_with::<S>(ApiError::from(err), page, next)
    }

    /// Like [`Call::refuse_form`], for a refusal of the HTTP layer's own.
    pub fn refuse_form_with<S: leptos::server_fn::ServerFn>(
        &self,
        api: ApiError,
        page: &str,
        next: Option<&str>,
    ) -> AppFnError {
        let refused = self.refuse_with(api);
        if self.is_plain_form() {
            let base = format!(
                "{}{}",
                self.state.public_origin,
                crate::validate::form_page_returning(page, self.return_to(next).as_deref())
            );
            let back = leptos::server_fn::error::ServerFnUrlError::new(S::PATH, refused.clone())
                .to_url(&base);
            if let Ok(url) = back {
                leptos_axum::redirect(url.as_str());
            }
        }
        refused
    }
}
