use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::components::auth_state::use_auth_state;

#[component]
pub fn HomePage() -> impl IntoView {
    let auth = use_auth_state();
    view! {
        <Title text=""/>
        {match auth.current().map(|s| s.user) {
            Some(user) => view! {
                <section class="hero">
                    <h1>"Welcome back, " {user.display_name}</h1>
                    <p class="lead">"You are signed in as " {user.email} "."</p>
                    <div class="actions">
                        <A href="/account" attr:class="button">"Your account"</A>
                    </div>
                </section>
            }.into_any(),
            None => view! { <Intro/> }.into_any(),
        }}
    }
}

#[component]
fn Intro() -> impl IntoView {
    view! {
        <section class="hero">
            <h1>"Sign-in that stays on your servers"</h1>
            <p class="lead">
                "Portcullis keeps identity behind one backend: passwords are hashed with Argon2id, "
                "sessions live in HTTP-only cookies, and your services verify short-lived access "
                "tokens locally."
            </p>
            <div class="actions">
                <A href="/signup" attr:class="button">"Create an account"</A>
                <A href="/login" attr:class="button button-secondary">"Sign in"</A>
            </div>
        </section>
    }
}
