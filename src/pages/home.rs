use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <Title text=""/>
        <section class="hero">
            <h1>"Sign-in that stays on your servers"</h1>
            <p class="lead">
                "Portcullis keeps identity behind one backend: passwords are hashed with Argon2id, "
                "sessions live in HTTP-only cookies, and your services verify short-lived access "
                "tokens locally."
            </p>
            <div class="actions">
                <a class="button" href="/signup">"Create an account"</a>
                <a class="button button-secondary" href="/login">"Sign in"</a>
            </div>
        </section>
    }
}
