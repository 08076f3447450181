use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use super::login::{email_rule, leave_when_signed_in, next_param};
use crate::{
    api::session::{Signup, AFTER_SIGN_UP},
    components::auth_state::use_auth_state,
    components::form::{Field, FormError, SubmitButton},
    validate::{form_page, DisplayName, Password},
};

#[component]
pub fn SignupPage() -> impl IntoView {
    let auth = use_auth_state();
    let next = next_param();
    let email = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    // Without WASM a refused form comes back with the error in the URL;
    // only an action created inside the routes reads it from there.
    let from_url = ServerAction::<Signup>::new();
    let error = Signal::derive(move || {
        auth.signup
            .value()
            .get()
            .or_else(|| from_url.value().get())
            .and_then(Result::err)
            .map(|e| e.user_message())
    });
    // The same rules the server applies; it has the last word.
    let password_rule = Callback::new(move |value: String| {
        let (email, name) = (email.get_untracked(), name.get_untracked());
        Password::parse_new(&value, &[email.as_str(), name.as_str()])
            .err()
            .map(|e| e.message())
    });
    let name_rule = |value: String| DisplayName::parse(&value).err().map(|e| e.message());
    leave_when_signed_in(next, AFTER_SIGN_UP);
    let login_href = move || form_page("/login", Some(&next.get()));

    view! {
        <Title text="Create an account"/>
        <section class="panel auth-panel" aria-labelledby="signup-title">
            <h1 id="signup-title">"Create an account"</h1>
            <ActionForm action=auth.signup attr:class="form">
                <input type="hidden" name="next" prop:value=next/>
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
                <SubmitButton label="Create account" busy_label="Creating account…" pending=auth.signup.pending()/>
            </ActionForm>
            <p class="aside">"Already have an account? " <A href=login_href>"Sign in"</A></p>
        </section>
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
