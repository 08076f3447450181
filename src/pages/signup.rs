use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Redirect, A};

use super::login::{email_rule, onward};
use crate::{
    api::session::{Signup, AFTER_SIGN_UP},
    components::auth_state::use_auth_state,
    components::form::{action_error, refused_in_url, Field, FormError, SubmitButton},
    components::return_to::return_param,
    validate::{form_page_returning, DisplayName, Password},
};

#[component]
pub fn SignupPage() -> impl IntoView {
    let auth = use_auth_state();
    let next = return_param();
    let refused = refused_in_url::<Signup>();
    let login_href = form_page_returning("/login", Some(&next));

    view! {
        <Title text="Create an account"/>
        {if auth.signed_in() {
            view! { <Redirect path=onward(&next, AFTER_SIGN_UP)/> }.into_any()
        } else {
            view! {
                <section class="panel auth-panel" aria-labelledby="signup-title">
                    <h1 id="signup-title">"Create an account"</h1>
                    <SignupForm next refused/>
                    <p class="aside">"Already have an account? " <A href=login_href>"Sign in"</A></p>
                </section>
            }
            .into_any()
        }}
    }
}

/// The sign-up form, checking the server's own rules as you type; a plain
/// form post without WASM.
#[island(lazy)]
pub fn SignupForm(next: String, refused: Option<String>) -> impl IntoView {
    let signup = ServerAction::<Signup>::new();
    let email = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let error = action_error(signup, refused);
    // The same rules the server applies; it has the last word.
    let password_rule = Callback::new(move |value: String| {
        let (email, name) = (email.get_untracked(), name.get_untracked());
        Password::parse_new(&value, &[email.as_str(), name.as_str()])
            .err()
            .map(|e| e.message())
    });
    let name_rule = |value: String| DisplayName::parse(&value).err().map(|e| e.message());

    view! {
        <ActionForm action=signup attr:class="form">
            <input type="hidden" name="next" value=next/>
            <Field label="Name" name="display_name" autocomplete="name" value=name rule=name_rule
                hint="How Portcullis greets you. Optional."/>
            <Field label="Email" name="email" input_type="email" autocomplete="email" required=true
                value=email rule=email_rule/>
            <Field
                label="Password"
                name="password"
                input_type="password"
                autocomplete="new-password"
                required=true
                revealable=true
                hint=PASSWORD_HINT
                rule=password_rule
            />
            <FormError message=error/>
            <SubmitButton label="Create account" busy_label="Creating account…" pending=signup.pending()/>
        </ActionForm>
    }
}

/// Keep in step with `PASSWORD_MIN_CHARS` (a test checks).
const PASSWORD_HINT: &str =
    "At least 12 characters. Any characters work; a few unrelated words make a strong one.";

#[cfg(test)]
mod tests {
    use crate::validate::PASSWORD_MIN_CHARS;

    #[test]
    fn the_hint_names_the_real_minimum() {
        assert!(super::PASSWORD_HINT.contains(&PASSWORD_MIN_CHARS.to_string()));
    }
}
