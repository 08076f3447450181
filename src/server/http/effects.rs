//! What a response does to the browser's session, described once and
//! applied alike by the JSON handlers and the UI's server functions.
//! Every response that carries session effects is also `no-store`.

use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use leptos_axum::ResponseOptions;

use super::state::AppState;
use crate::server::credentials::{cookies::CookieError, tokens::TokenPair};

#[derive(Debug, Clone, Copy)]
enum Cookies<'a> {
    Keep,
    Set(&'a TokenPair),
    Clear,
}

#[derive(Clone, Copy)]
pub struct SessionEffects<'a> {
    cookies: Cookies<'a>,
    /// A device cookie to set: this browser just signed in.
    device: Option<&'a str>,
    clear_site_data: bool,
}

// By hand, so the device cookie is never printed (the tokens' own Debug
// hides them).
impl std::fmt::Debug for SessionEffects<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionEffects")
            .field("cookies", &self.cookies)
            .field("device", &self.device.map(|_| "[redacted]"))
            .field("clear_site_data", &self.clear_site_data)
            .finish()
    }
}

impl<'a> SessionEffects<'a> {
    /// Cookies untouched; the response is still not cached.
    pub fn no_store() -> Self {
        Self {
            cookies: Cookies::Keep,
            clear_site_data: false,
            device: None,
        }
    }

    /// The session cookies now carry `tokens`.
    pub fn set(tokens: &'a TokenPair) -> Self {
        Self {
            cookies: Cookies::Set(tokens),
            clear_site_data: false,
            device: None,
        }
    }

    /// A sign-in: the session cookies carry `tokens`, and the browser
    /// is remembered as a device of the account when `device` is given.
    pub fn signed_in(tokens: &'a TokenPair, device: Option<&'a str>) -> Self {
        Self {
            device,
            ..Self::set(tokens)
        }
    }

    /// The session cookies are deleted (the session is gone).
    pub fn clear() -> Self {
        Self {
            cookies: Cookies::Clear,
            clear_site_data: false,
            device: None,
        }
    }

    /// A sign-out: the cookies are deleted, and the browser drops every
    /// cookie of this site, even one this code no longer knows the name of.
    pub fn sign_out() -> Self {
        Self {
            cookies: Cookies::Clear,
            clear_site_data: true,
            device: None,
        }
    }

    /// The headers, each to be added (`Set-Cookie`) or set (the others).
    fn headers(&self, state: &AppState) -> Result<Vec<(HeaderName, HeaderValue)>, CookieError> {
        let mut headers = vec![(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))];
        let cookies = &state.credentials.cookies;
        let set_cookies = match self.cookies {
            Cookies::Keep => Vec::new(),
            Cookies::Set(tokens) => cookies.for_session(tokens, state.clock.now())?.to_vec(),
            Cookies::Clear => cookies.clear_both()?.to_vec(),
        };
        let set_cookies = match self.device {
            Some(device) => [set_cookies, vec![cookies.device(device)?]].concat(),
            None => set_cookies,
        };
        headers.extend(set_cookies.into_iter().map(|c| (header::SET_COOKIE, c)));
        if self.clear_site_data {
            headers.push((
                HeaderName::from_static("clear-site-data"),
                HeaderValue::from_static("\"cookies\""),
            ));
        }
        Ok(headers)
    }

    /// For a response an axum handler builds.
    pub fn apply(&self, state: &AppState, target: &mut HeaderMap) -> Result<(), CookieError> {
        for (name, value) in self.headers(state)? {
            if name == header::SET_COOKIE {
                target.append(name, value);
            } else {
                target.insert(name, value);
            }
        }
        Ok(())
    }

    /// For the response of a server function.
    pub fn apply_to_options(
        &self,
        state: &AppState,
        target: &ResponseOptions,
    ) -> Result<(), CookieError> {
        for (name, value) in self.headers(state)? {
            if name == header::SET_COOKIE {
                target.append_header(name, value);
            } else {
                target.insert_header(name, value);
            }
        }
        Ok(())
    }
}
