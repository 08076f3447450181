use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    ParamSegment, SsrMode, StaticSegment,
};

use crate::{
    components::{auth_state::AuthState, layout::SiteHeader, session_keeper::SessionKeeper},
    pages::{
        account::AccountPage,
        admin::{AdminAgentsPage, AdminConsole},
        agents::AccountAgentsPage,
        home::HomePage,
        login::LoginPage,
        not_found::NotFound,
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
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <AutoReload options=options.clone()/>
                <HashedStylesheet options=options.clone() id="leptos"/>
                <HydrationScripts options islands=true/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The app, rendered on the server for each request. Only its islands
/// (`#[island]`) reach the browser; links are plain page loads.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let auth = AuthState::provide();

    view! {
        <Title formatter=|title: String| {
            if title.is_empty() { "Portcullis".to_owned() } else { format!("{title} · Portcullis") }
        }/>
        <Router>
            // The session keeper flips `data-hydrated` once the islands have
            // hydrated; tests wait on it before they interact.
            <div class="app" data-hydrated="false">
                <a class="skip-link" href="#main">"Skip to content"</a>
                <SiteHeader/>
                <main id="main" class="main">
                    <Routes fallback=NotFound>
                        // Async: the whole page is rendered before any of it
                        // is sent, so a redirect or status set while it
                        // renders (a protected page, a signed-in visitor on
                        // the sign-in form) always reaches the response head.
                        <Route path=StaticSegment("") view=HomePage ssr=SsrMode::Async/>
                        <Route path=StaticSegment("login") view=LoginPage ssr=SsrMode::Async/>
                        <Route path=StaticSegment("signup") view=SignupPage ssr=SsrMode::Async/>
                        <Route path=StaticSegment("account") view=AccountPage ssr=SsrMode::Async/>
                        <Route path=(StaticSegment("account"), StaticSegment("agents")) view=AccountAgentsPage ssr=SsrMode::Async/>
                        // One page for the console: its data, read before it
                        // renders, says which view (`server::http::admin_pages`).
                        <Route path=StaticSegment("admin") view=AdminConsole ssr=SsrMode::Async/>
                        <Route
                            path=(StaticSegment("admin"), StaticSegment("users"), ParamSegment("id"))
                            view=AdminConsole
                            ssr=SsrMode::Async
                        />
                        <Route path=(StaticSegment("admin"), StaticSegment("roles")) view=AdminConsole ssr=SsrMode::Async/>
                        <Route path=(StaticSegment("admin"), StaticSegment("audit")) view=AdminConsole ssr=SsrMode::Async/>
                        // Its data loads in the browser (the island in
                        // `pages::agents`), not through `admin_pages`.
                        <Route path=(StaticSegment("admin"), StaticSegment("agents")) view=AdminAgentsPage ssr=SsrMode::Async/>
                    </Routes>
                </main>
                <SessionKeeper
                    access_expires_in_secs=auth.current().map(|s| s.access_expires_in_secs)
                    signed_out=auth.signed_out()
                />
            </div>
        </Router>
    }
}
