//! The admin console: `/admin` (users), `/admin/users/{id}`, `/admin/roles`
//! and `/admin/audit`. Its data is read on the server before the page
//! renders (`server::http::admin_pages`), which is also where permissions
//! are checked; the pages render it as plain HTML, and their forms are
//! plain form posts (`actions`): the console needs no WASM and adds none.
//! `/admin/agents` is the exception (`agents`): an island that loads its
//! data in the browser.

mod actions;
mod agents;
mod views;

pub use agents::AdminAgentsPage;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::Redirect, hooks::use_location};

use crate::{
    components::auth_state::use_auth_state,
    model::{AdminPage, Permission},
};

#[component]
pub fn AdminConsole() -> impl IntoView {
    let auth = use_auth_state();
    let path = use_location().pathname.get_untracked();
    match auth.session() {
        Ok(Some(session)) => match this_requests_page() {
            Some(AdminPage::Forbidden) | None => view! { <Forbidden/> }.into_any(),
            Some(AdminPage::NotFound) => view! { <crate::pages::not_found::NotFound/> }.into_any(),
            Some(page) => view! { <Console page permissions=session.user.permissions/> }.into_any(),
        },
        Ok(None) => {
            let back = crate::validate::form_page("/login", Some(&path));
            view! { <Redirect path=back/> }.into_any()
        }
        Err(e) => view! { <p class="form-error" role="alert">{e.user_message()}</p> }.into_any(),
    }
}

#[component]
fn Console(page: AdminPage, permissions: Vec<Permission>) -> impl IntoView {
    let may = |p: Permission| permissions.contains(&p);
    let (title, body) = match page {
        AdminPage::Users { page, query } => {
            ("Users", view! { <views::UsersList page query/> }.into_any())
        }
        AdminPage::User(detail) => {
            let user = *detail;
            (
                "User",
                view! {
                    <views::UserDetail
                        user
                        may_write=may(Permission::UsersWrite)
                        may_disable=may(Permission::UsersDisable)
                        may_revoke=may(Permission::SessionsRevoke)
                    />
                }
                .into_any(),
            )
        }
        AdminPage::Roles(roles) => (
            "Roles",
            view! { <views::RolesList roles may_write=may(Permission::RolesWrite)/> }.into_any(),
        ),
        AdminPage::Audit { page, filters } => (
            "Audit log",
            view! { <views::AuditList page filters/> }.into_any(),
        ),
        AdminPage::Failed(message) => (
            "Admin",
            view! { <p class="form-error" role="alert">{message}</p> }.into_any(),
        ),
        AdminPage::Forbidden | AdminPage::NotFound => ("Admin", ().into_any()),
    };
    view! {
        <Title text=format!("{title} · Admin")/>
        <div class="admin">
            <AdminNav agents=may(Permission::AgentsManage)/>
            {body}
        </div>
    }
}

/// The console's sections; service accounts and agents for those who
/// manage them.
#[component]
fn AdminNav(agents: bool) -> impl IntoView {
    view! {
        <nav class="admin-nav" aria-label="Admin">
            <a href="/admin">"Users"</a>
            <a href="/admin/roles">"Roles"</a>
            <a href="/admin/audit">"Audit log"</a>
            {agents.then(|| view! { <a href=crate::pages::agents::ADMIN_AGENTS>"Service accounts and agents"</a> })}
        </nav>
    }
}

/// A real 403: the page says so and so does the status.
#[component]
fn Forbidden() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::FORBIDDEN);
    }
    view! {
        <Title text="Not allowed"/>
        <section class="panel">
            <h1>"Not allowed"</h1>
            <p>"Your account may not use the admin console."</p>
            <p><a href="/">"Back to the start page"</a></p>
        </section>
    }
}

/// Left in the request by `server::http::admin_pages`.
#[cfg(feature = "ssr")]
fn this_requests_page() -> Option<AdminPage> {
    use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<AdminPage>().cloned())
}

/// Pages render only on the server.
#[cfg(not(feature = "ssr"))]
fn this_requests_page() -> Option<AdminPage> {
    None
}
