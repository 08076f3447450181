use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Redirect, A};

use crate::{
    api::session::{Login, AFTER_SIGN_IN},
    components::auth_state::use_auth_state,
    components::form::{action_error, refused_in_url, Field, FormError, SubmitButton},
    components::return_to::return_param,
    validate::{form_page_returning, Email},
};

/// Where a signed-in visitor goes instead of a sign-in or sign-up form:
/// where the form itself would have sent them (`next`, else `otherwise`).
pub fn onward(next: &str, otherwise: &'static str) -> String {
    if next.is_empty() {
        otherwise.to_owned()
    } else {
        next.to_owned()
    }
}

pub fn email_rule(value: String) -> Option<String> {
    Email::parse(&value).err().map(|e| e.message())
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let auth = use_auth_state();
    let next = return_param();
    let refused = refused_in_url::<Login>();
    let signup_href = form_page_returning("/signup", Some(&next));

    view! {
        <Title text="Sign in"/>
        {if auth.signed_in() {
            view! { <Redirect path=onward(&next, AFTER_SIGN_IN)/> }.into_any()
        } else {
            view! {
                <section class="panel auth-panel" aria-labelledby="login-title">
                    <h1 id="login-title">"Sign in"</h1>
                    <LoginForm next refused/>
                    <p class="aside">"New here? " <A href=signup_href>"Create an account"</A></p>
                </section>
            }
            .into_any()
        }}
    }
}

/// The sign-in form: validates as you type and signs in without a page
/// load in between; a plain form post without WASM.
#[island]
pub fn LoginForm(next: String, refused: Option<String>) -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let error = action_error(login, refused);
    // Why this tab was sent here, if its session just ended.
    let notice = RwSignal::new(None::<&'static str>);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| notice.set(crate::components::session_sync::take_notice()));

    view! {
        {move || notice.get().map(|n| view! { <p class="notice" role="status">{n}</p> })}
        <ActionForm action=login attr:class="form">
            <input type="hidden" name="next" value=next/>
            <Field label="Email" name="email" input_type="email" autocomplete="email" required=true rule=email_rule/>
            <Field
                label="Password"
                name="password"
                input_type="password"
                autocomplete="current-password"
                required=true
                revealable=true
            />
            <FormError message=error/>
            <SubmitButton label="Sign in" busy_label="Signing in…" pending=login.pending()/>
        </ActionForm>
    }
}
