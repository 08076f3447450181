use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    lazy_route, Lazy, LazyRoute, SsrMode, StaticSegment,
};

use crate::{
    components::{auth_state::AuthState, layout::SiteHeader},
    pages::{
        account::AccountPage, home::HomePage, login::LoginPage, not_found::NotFound,
        signup::SignupPage,
    },
};

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <AutoReload options=options.clone()/>
                <HashedStylesheet options=options.clone() id="leptos"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    AuthState::provide();

    // Effects run only in the browser, so this flips once the WASM bundle
    // has hydrated the page; tests wait on it before they interact.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    view! {
        <Title formatter=|title: String| {
            if title.is_empty() { "Portcullis".to_owned() } else { format!("{title} · Portcullis") }
        }/>
        <Router>
            <div class="app" data-hydrated=move || hydrated.get().to_string()>
                <a class="skip-link" href="#main">"Skip to content"</a>
                <SiteHeader/>
                <main id="main" class="main">
                    <Routes fallback=NotFound>
                        // In order: every Suspense renders in place, so
                        // pages work without JavaScript and a protected page
                        // can answer with a real redirect.
                        // Only the sign-in page is in the main bundle; the
                        // others load their own part when first shown.
                        <Route path=StaticSegment("") view={Lazy::<HomeRoute>::new()} ssr=SsrMode::InOrder/>
                        <Route path=StaticSegment("login") view=LoginPage ssr=SsrMode::InOrder/>
                        <Route path=StaticSegment("signup") view={Lazy::<SignupRoute>::new()} ssr=SsrMode::InOrder/>
                        <Route path=StaticSegment("account") view={Lazy::<AccountRoute>::new()} ssr=SsrMode::InOrder/>
                    </Routes>
                </main>
            </div>
        </Router>
    }
}

// Pages in their own part of the WASM bundle (`cargo leptos build --split`).
// Their data comes from the auth state, so `data` has nothing to start.

struct HomeRoute;

#[lazy_route]
impl LazyRoute for HomeRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <HomePage/> }.into_any()
    }
}

struct SignupRoute;

#[lazy_route]
impl LazyRoute for SignupRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <SignupPage/> }.into_any()
    }
}

struct AccountRoute;

#[lazy_route]
impl LazyRoute for AccountRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <AccountPage/> }.into_any()
    }
}
