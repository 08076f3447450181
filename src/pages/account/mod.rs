//! The account page: the session, security panels, API keys, profile,
//! password and deletion; links to the user's service accounts and agents.

mod api_keys;
mod security;

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_meta::Title;
use leptos_router::components::Redirect;

use crate::{
    api::account::{update_profile, DeleteAccount},
    components::{
        auth_state::use_auth_state,
        form::{refused_in_url, Field, FormError, PostForm, SubmitButton},
        session_sync::with_refresh,
        sign_out::SignOutButton,
        time::readable_time,
    },
    model::{CurrentSession, PasswordField},
    validate::{DisplayName, Password},
};

/// Where a signed-out visitor is sent; they come back after signing in.
const LOGIN_THEN_BACK: &str = "/login?next=/account";

#[component]
pub fn AccountPage() -> impl IntoView {
    let auth = use_auth_state();
    view! {
        <Title text="Your account"/>
        {match auth.session() {
            Ok(Some(session)) => view! { <AccountDetails session/> }.into_any(),
            Ok(None) => view! { <Redirect path=LOGIN_THEN_BACK/> }.into_any(),
            Err(e) => view! { <p class="form-error" role="alert">{e.user_message()}</p> }.into_any(),
        }}
    }
}

#[component]
fn AccountDetails(session: CurrentSession) -> impl IntoView {
    let user = session.user.clone();
    view! {
        <div class="account">
            <h1>"Your account"</h1>
            <section class="panel" aria-labelledby="session-title">
                <h2 id="session-title">"This session"</h2>
                <dl class="facts">
                    <dt>"Signed in as"</dt>
                    <dd data-testid="signed-in-as">{user.email.clone()}</dd>
                    <dt>"Session expires"</dt>
                    <dd><time datetime=session.session_expires_at.clone()>{readable_time(&session.session_expires_at)}</time></dd>
                </dl>
                <SignOutButton/>
            </section>
            <security::SecurityPanels/>
            <ProfileForm display_name=user.display_name.clone()/>
            <PasswordForm email=user.email.clone() display_name=user.display_name.clone()/>
            // After the forms above: lazy islands hydrate in page order, and
            // theirs should not wait for this one's part of the bundle.
            <api_keys::ApiKeysPanel
                scopes=user.permissions.clone()
                may_choose_never=crate::pages::agents::may_choose_never(&user)
            />
            <section class="panel" aria-labelledby="agents-link-title">
                <h2 id="agents-link-title">"Service accounts and agents"</h2>
                <p class="aside">"Backends and AI agents that call Portcullis with keys of their own, never allowed more than you."</p>
                <p><a href=crate::pages::agents::ACCOUNT_AGENTS>"Manage your service accounts and agents"</a></p>
            </section>
            <DeleteAccountForm/>
        </div>
    }
}

#[island(lazy)]
pub fn ProfileForm(display_name: String) -> impl IntoView {
    let name = RwSignal::new(display_name);
    let status = RwSignal::new(None::<&'static str>);
    let save = Action::new_local(move |name: &String| {
        let name = name.clone();
        async move {
            let result = with_refresh(|| update_profile(Some(name.clone()), None, None)).await;
            if let Ok(_user) = &result {
                status.set(Some("Saved."));
                #[cfg(feature = "hydrate")]
                crate::components::session_sync::renamed(&_user.display_name);
            }
            result
        }
    });
    let error = Signal::derive(move || {
        save.value()
            .get()
            .and_then(Result::err)
            .map(|e| e.user_message())
    });
    let name_rule = |value: String| DisplayName::parse(&value).err().map(|e| e.message());

    view! {
        <section class="panel" aria-labelledby="profile-title">
            <h2 id="profile-title">"Profile"</h2>
            <form class="form" on:submit=move |ev| {
                ev.prevent_default();
                status.set(None);
                save.dispatch(name.get_untracked());
            }>
                <Field label="Name" name="display_name" autocomplete="name" required=true value=name rule=name_rule/>
                <FormError message=error/>
                <p class="success" role="status" aria-live="polite">{move || status.get()}</p>
                <SubmitButton label="Save" busy_label="Saving…" pending=save.pending()/>
            </form>
        </section>
    }
}

#[island(lazy)]
pub fn PasswordForm(email: String, display_name: String) -> impl IntoView {
    let status = RwSignal::new(None::<&'static str>);
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let change = Action::new_local(move |(current, new): &(String, String)| {
        let (current, new) = (current.clone(), new.clone());
        async move {
            let result = with_refresh(|| {
                update_profile(
                    None,
                    Some(PasswordField::from(current.clone())),
                    Some(PasswordField::from(new.clone())),
                )
            })
            .await;
            if result.is_ok() {
                status.set(Some(
                    "Password changed. Your other sessions are signed out.",
                ));
            }
            result
        }
    });
    let error = Signal::derive(move || {
        change
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| e.user_message())
    });
    let rule = Callback::new(move |value: String| {
        Password::parse_new(&value, &[email.as_str(), display_name.as_str()])
            .err()
            .map(|e| e.message())
    });

    view! {
        <section class="panel" aria-labelledby="password-title">
            <h2 id="password-title">"Change password"</h2>
            <p class="aside">"Changing it signs out your other sessions."</p>
            <form class="form" on:submit=move |ev| {
                ev.prevent_default();
                status.set(None);
                change.dispatch((current.get_untracked(), new.get_untracked()));
            }>
                <Field label="Current password" name="current_password" input_type="password"
                    autocomplete="current-password" required=true revealable=true value=current/>
                <Field label="New password" name="new_password" input_type="password"
                    autocomplete="new-password" required=true revealable=true value=new rule/>
                <FormError message=error/>
                <p class="success" role="status" aria-live="polite">
                    {move || status.get()}
                </p>
                <SubmitButton label="Change password" busy_label="Changing…" pending=change.pending()/>
            </form>
        </section>
    }
}

/// Deleting one's own account: the current password and a ticked box,
/// so it cannot happen by a slip. A plain form post (no WASM): it ends on
/// the start page, signed out, or back here with why.
#[component]
fn DeleteAccountForm() -> impl IntoView {
    view! {
        <section class="panel danger-zone" aria-labelledby="delete-title">
            <h2 id="delete-title">"Delete account"</h2>
            <p class="aside">"This deletes your account and signs out every session. It cannot be undone."</p>
            <PostForm path={DeleteAccount::PATH} refused={refused_in_url::<DeleteAccount>()} label="Delete account">
                // Not a `Field`: its id would be the password form's.
                <label for="delete-password">"Current password"</label>
                <input id="delete-password" name="current_password" type="password"
                    autocomplete="current-password" required=true/>
                <label class="check">
                    <input type="checkbox" name="confirm" value="yes" required=true/>
                    "Yes, delete my account"
                </label>
            </PostForm>
        </section>
    }
}
