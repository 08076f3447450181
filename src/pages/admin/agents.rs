//! `/admin/agents`: every service account and agent, for holders of
//! `agents:manage`. The page checks the permission the session carries
//! (the server functions check it again on every call) and leaves the
//! rest to the `AgentsManager` island, which loads the list in the
//! browser: `server::http::admin_pages` reads no data for this page.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

use super::{AdminNav, Forbidden};
use crate::{
    components::auth_state::use_auth_state,
    model::Permission,
    pages::agents::{may_choose_never, AgentsManager, ACCOUNT_AGENTS, ADMIN_AGENTS},
};

#[component]
pub fn AdminAgentsPage() -> impl IntoView {
    let auth = use_auth_state();
    match auth.session() {
        Ok(Some(session)) if session.user.permissions.contains(&Permission::AgentsManage) => {
            let user = session.user;
            view! {
                <Title text="Service accounts and agents · Admin"/>
                <div class="admin">
                    <AdminNav agents=true/>
                    <h1>"Service accounts and agents"</h1>
                    <p class="aside">
                        "Each may do only what its owner may, whoever grants it. "
                        <a href=ACCOUNT_AGENTS>"Only yours"</a>
                    </p>
                    <AgentsManager
                        permissions=user.permissions.clone()
                        may_choose_never=may_choose_never(&user)
                        console=true
                    />
                </div>
            }
            .into_any()
        }
        Ok(Some(_)) => view! { <Forbidden/> }.into_any(),
        Ok(None) => {
            let back = crate::validate::form_page("/login", Some(ADMIN_AGENTS));
            view! { <Redirect path=back/> }.into_any()
        }
        Err(e) => view! { <p class="form-error" role="alert">{e.user_message()}</p> }.into_any(),
    }
}
