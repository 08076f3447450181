use leptos::prelude::*;
use leptos_router::components::A;

use crate::{
    components::{auth_state::use_auth_state, sign_out::SignOutButton},
    model::{Permission, User},
};

/// Where the Admin link goes: the users list, unless agents are all this
/// user may manage there.
fn admin_home(user: &User) -> &'static str {
    let may = |p: Permission| user.permissions.contains(&p);
    if !may(Permission::UsersRead) && !may(Permission::AuditRead) && may(Permission::AgentsManage) {
        "/admin/agents"
    } else {
        "/admin"
    }
}

/// The navigation bar, showing the auth state on every page.
#[component]
pub fn SiteHeader() -> impl IntoView {
    let auth = use_auth_state();
    view! {
        <header class="site-header">
            <nav class="nav" aria-label="Main">
                <A href="/" attr:class="brand">
                    <span class="brand-mark" aria-hidden="true">"▦"</span>
                    "Portcullis"
                </A>
                <ul class="nav-links">
                    {match auth.current().map(|s| s.user) {
                        Some(user) => view! {
                            {user.may_administer().then(|| view! {
                                <li><A href=admin_home(&user) attr:data-testid="nav-admin">"Admin"</A></li>
                            })}
                            <li>
                                <A href="/account" attr:data-testid="nav-account">
                                    <span id="account-name">{user.display_name}</span>
                                </A>
                            </li>
                            <li><SignOutButton/></li>
                        }.into_any(),
                        None => view! {
                            <li><A href="/login">"Sign in"</A></li>
                            <li><A href="/signup" attr:class="button button-small">"Create account"</A></li>
                        }.into_any(),
                    }}
                </ul>
            </nav>
        </header>
    }
}
