//! The console's read views: server-rendered HTML, links and GET forms,
//! so they work without WASM.

use leptos::prelude::*;

use super::actions;
use crate::{
    components::time::readable_time,
    model::{AdminUser, AdminUserDetail, AdminUserPage, AuditFilters, AuditPage, RolesResponse},
    validate::query_value,
};

/// `?name=value&…` with each value encoded; empty values left out.
fn query_string(pairs: &[(&str, &str)]) -> String {
    let encoded: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", query_value(v)))
        .collect();
    if encoded.is_empty() {
        String::new()
    } else {
        format!("?{}", encoded.join("&"))
    }
}

#[component]
fn StatusBadges(user: AdminUser) -> impl IntoView {
    let roles = user
        .roles
        .into_iter()
        .filter(|r| r != "user")
        .map(|r| view! { <span class="badge">{r}</span> })
        .collect_view();
    view! {
        <span class="badges">
            {user.disabled.then(|| view! { <span class="badge badge-danger">"disabled"</span> })}
            {roles}
        </span>
    }
}

#[component]
pub fn UsersList(page: AdminUserPage, query: String) -> impl IntoView {
    let next = page.next_cursor.map(|cursor| {
        format!(
            "/admin{}",
            query_string(&[("q", &query), ("cursor", &cursor)])
        )
    });
    let count = page.users.len();
    let rows = page
        .users
        .into_iter()
        .map(|user| {
            let href = format!("/admin/users/{}", user.id);
            view! {
                <li class="admin-row">
                    <a href=href class="admin-row-main">
                        <span class="admin-row-name">{user.display_name.clone()}</span>
                        <span class="aside">{user.email.clone()}</span>
                    </a>
                    <StatusBadges user=user.clone()/>
                    <span class="aside">"since " {readable_time(&user.created_at)}</span>
                </li>
            }
        })
        .collect_view();
    view! {
        <h1>"Users"</h1>
        <form class="admin-search" method="get" action="/admin" role="search">
            <label for="admin-q">"Email or name begins with"</label>
            <input id="admin-q" name="q" type="search" value=query.clone() autocomplete="off"/>
            <button type="submit" class="button button-small">"Search"</button>
        </form>
        <p class="aside" role="status" aria-live="polite">
            {match count {
                0 => "No users match.".to_owned(),
                1 => "1 user on this page.".to_owned(),
                n => format!("{n} users on this page."),
            }}
        </p>
        <ul class="admin-list" data-testid="admin-users">{rows}</ul>
        {next.map(|href| view! { <p><a href=href rel="next">"Next page"</a></p> })}
    }
}

#[component]
pub fn UserDetail(
    user: AdminUserDetail,
    may_write: bool,
    may_disable: bool,
    may_revoke: bool,
) -> impl IntoView {
    let AdminUserDetail {
        user: summary,
        permissions,
        attributes,
        last_sign_in_at,
        sessions,
        activity,
    } = user;
    let id = summary.id.clone();
    let roles_held = summary.roles.clone();
    let attributes_text = attributes
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("\n");
    let permissions = permissions
        .iter()
        .map(|p| view! { <span class="badge">{p.as_str()}</span> })
        .collect_view();
    let attribute_facts = attributes
        .into_iter()
        .map(|(k, v)| view! { <dt>{k}</dt><dd>{v}</dd> })
        .collect_view();
    let session_items = sessions
        .into_iter()
        .map(|s| {
            view! {
                <li>
                    {s.device} " · " {s.ip.unwrap_or_default()} " · last used "
                    {readable_time(&s.last_used_at)}
                </li>
            }
        })
        .collect_view();
    let activity_items = activity
        .into_iter()
        .map(|a| {
            let failed = (a.outcome != "success").to_string();
            view! {
                <li class="activity" data-failed=failed>
                    <span class="activity-what">{a.event} " · " {a.outcome}</span>
                    <span class="aside">{readable_time(&a.at)}</span>
                </li>
            }
        })
        .collect_view();
    view! {
        <h1>{summary.display_name.clone()}</h1>
        <section class="panel" aria-labelledby="user-facts">
            <h2 id="user-facts">"Account"</h2>
            <dl class="facts">
                <dt>"Email"</dt><dd data-testid="admin-user-email">{summary.email.clone()}</dd>
                <dt>"Status"</dt>
                <dd data-testid="admin-user-status">
                    {if summary.disabled { "Disabled" } else { "Active" }}
                </dd>
                <dt>"Roles"</dt><dd><StatusBadges user=summary.clone()/> {roles_held.join(", ")}</dd>
                <dt>"Permissions"</dt><dd class="badges">{permissions}</dd>
                <dt>"Created"</dt><dd>{readable_time(&summary.created_at)}</dd>
                <dt>"Last sign-in"</dt>
                <dd>{last_sign_in_at.as_deref().map(readable_time).unwrap_or_else(|| "—".into())}</dd>
                {attribute_facts}
            </dl>
        </section>
        <actions::UserActions
            id=id
            disabled=summary.disabled
            roles=roles_held
            attributes=attributes_text
            may_write
            may_disable
            may_revoke
        />
        <section class="panel" aria-labelledby="user-sessions">
            <h2 id="user-sessions">"Live sessions"</h2>
            <ul class="session-list">{session_items}</ul>
        </section>
        <section class="panel" aria-labelledby="user-activity">
            <h2 id="user-activity">"Recent activity"</h2>
            <ul class="activity-list">{activity_items}</ul>
        </section>
    }
}

#[component]
pub fn RolesList(roles: RolesResponse, may_write: bool) -> impl IntoView {
    let catalogue: Vec<String> = roles
        .catalogue
        .iter()
        .map(|p| p.as_str().to_owned())
        .collect();
    let items = roles
        .roles
        .into_iter()
        .map(|role| {
            let held: Vec<String> = role
                .permissions
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect();
            view! {
                <li class="panel role" data-testid=format!("role-{}", role.name)>
                    <h2>{role.name.clone()} {role.built_in.then(|| view! { <span class="badge">"built in"</span> })}</h2>
                    <p class="aside">
                        {(!role.description.is_empty()).then(|| format!("{} · ", role.description))}
                        {format!("held by {}", role.holders)}
                    </p>
                    <p class="badges">
                        {held.iter().map(|p| view! { <span class="badge">{p.clone()}</span> }).collect_view()}
                    </p>
                    {(may_write && role.name != "admin").then(|| view! {
                        <actions::RoleEditor
                            name=role.name.clone()
                            description=role.description.clone()
                            held=held.clone()
                            catalogue=catalogue.clone()
                            built_in=role.built_in
                        />
                    })}
                </li>
            }
        })
        .collect_view();
    view! {
        <h1>"Roles"</h1>
        <actions::RolesRefusal/>
        <ul class="admin-list roles">{items}</ul>
        {may_write.then(|| view! { <actions::NewRole catalogue=catalogue.clone()/> })}
    }
}

#[component]
pub fn AuditList(page: AuditPage, filters: AuditFilters) -> impl IntoView {
    let next = page.next_cursor.map(|cursor| {
        format!(
            "/admin/audit{}",
            query_string(&[
                ("user", &filters.user),
                ("type", &filters.event_type),
                ("outcome", &filters.outcome),
                ("cursor", &cursor),
            ])
        )
    });
    let rows = page
        .events
        .into_iter()
        .map(|e| {
            let subject = e.user_id.clone().unwrap_or_default();
            let actor = e.actor_id.map(|a| format!(" by {a}")).unwrap_or_default();
            let failed = (e.outcome != "success").to_string();
            view! {
                <li class="activity" data-failed=failed>
                    <span class="activity-what">{e.event} " · " {e.outcome}</span>
                    <span class="aside">{readable_time(&e.at)} " · " {subject} {actor}</span>
                </li>
            }
        })
        .collect_view();
    view! {
        <h1>"Audit log"</h1>
        <form class="admin-search" method="get" action="/admin/audit">
            <label for="audit-user">"User id"</label>
            <input id="audit-user" name="user" value=filters.user.clone() autocomplete="off"/>
            <label for="audit-type">"Event"</label>
            <input id="audit-type" name="type" value=filters.event_type.clone() autocomplete="off"/>
            <label for="audit-outcome">"Outcome"</label>
            <select id="audit-outcome" name="outcome">
                <option value="" selected=filters.outcome.is_empty()>"any"</option>
                <option value="success" selected=filters.outcome == "success">"success"</option>
                <option value="failure" selected=filters.outcome == "failure">"failure"</option>
            </select>
            <button type="submit" class="button button-small">"Filter"</button>
        </form>
        <ul class="activity-list" data-testid="admin-audit">{rows}</ul>
        {next.map(|href| view! { <p><a href=href rel="next">"Next page"</a></p> })}
    }
}
