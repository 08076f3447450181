use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map};

use crate::{
    api::session::{Login, AFTER_SIGN_IN},
    components::auth_state::use_auth_state,
    components::form::{Field, FormError, SubmitButton},
    validate::{form_page, safe_next, Email},
};

/// `?next=` when it is a path on this site, else empty.
pub fn next_param() -> Signal<String> {
    let query = use_query_map();
    Signal::derive(move || {
        query
            .with(|q| q.get("next"))
            .filter(|n| safe_next(n).is_some())
            .unwrap_or_default()
    })
}

pub fn email_rule(value: String) -> Option<String> {
    Email::parse(&value).err().map(|e| e.message())
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let auth = use_auth_state();
    let next = next_param();
    // Without WASM a refused form comes back with the error in the URL;
    // only an action created inside the routes reads it from there.
    let from_url = ServerAction::<Login>::new();
    let error = Signal::derive(move || {
        auth.login
            .value()
            .get()
            .or_else(|| from_url.value().get())
            .and_then(Result::err)
            .map(|e| e.user_message())
    });
    leave_when_signed_in(next, AFTER_SIGN_IN);
    let signup_href = move || form_page("/signup", Some(&next.get()));

    view! {
        <Title text="Sign in"/>
        <section class="panel auth-panel" aria-labelledby="login-title">
            <h1 id="login-title">"Sign in"</h1>
            {move || auth.notice.get().map(|n| view! { <p class="notice" role="status">{n}</p> })}
            <ActionForm action=auth.login attr:class="form">
                <input type="hidden" name="next" prop:value=next/>
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
                <SubmitButton label="Sign in" busy_label="Signing in…" pending=auth.login.pending()/>
            </ActionForm>
            <p class="aside">"New here? " <A href=signup_href>"Create an account"</A></p>
        </section>
    }
}

/// A signed-in visitor (say, one whose session was just renewed) has no
/// business on the sign-in or sign-up form: send them on, to where the
/// form itself would (`next`, else `otherwise`). The same place, because
/// a form's own success may still be on its way there: the next page can
/// be a lazy route whose code is loading while this one still shows.
pub fn leave_when_signed_in(next: Signal<String>, otherwise: &'static str) {
    let auth = use_auth_state();
    Effect::new(move |_| {
        if auth.signed_in() == Some(true) {
            let target = match next.get_untracked() {
                n if n.is_empty() => otherwise.to_owned(),
                n => n,
            };
            leptos_router::hooks::use_navigate()(&target, Default::default());
        }
    });
}
