//! Where the sign-in and sign-up pages send the browser once it is signed
//! in: `?rd=` (what forward-auth sends) or `?next=`, when the server's
//! return policy allows it: a path on this site, or a URL on a host in
//! `PORTCULLIS_ALLOWED_RETURN_HOSTS`. Anything else is dropped (then the
//! page's own default applies).

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// The checked return target of this page's URL, or empty.
pub fn return_param() -> String {
    let given = use_query_map().with_untracked(|q| [q.get("rd"), q.get("next")]);
    given
        .into_iter()
        .flatten()
        .find_map(|target| checked(&target))
        .unwrap_or_default()
}

/// Pages render on the server, which knows the allowed hosts.
#[cfg(feature = "ssr")]
fn checked(target: &str) -> Option<String> {
    use crate::server::http::state::AppState;

    use_context::<AppState>()?
        .policies
        .gateway
        .return_hosts
        .check(target)
}

#[cfg(not(feature = "ssr"))]
fn checked(target: &str) -> Option<String> {
    crate::validate::safe_next(target).map(str::to_owned)
}
