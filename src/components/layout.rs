use leptos::prelude::*;
use leptos_router::components::A;

/// The navigation bar shown on every page.
#[component]
pub fn SiteHeader() -> impl IntoView {
    view! {
        <header class="site-header">
            <nav class="nav" aria-label="Main">
                <A href="/" attr:class="brand">
                    <span class="brand-mark" aria-hidden="true">"▦"</span>
                    "Portcullis"
                </A>
                <ul class="nav-links">
                    <li><A href="/login">"Sign in"</A></li>
                    <li><A href="/signup" attr:class="button button-small">"Create account"</A></li>
                </ul>
            </nav>
        </header>
    }
}
