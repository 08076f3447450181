//! The account page's security panels: where the user is signed in (with a
//! way to end any of those sessions) and what happened to the account
//! lately. Both load in the browser once the page has hydrated.

use leptos::prelude::*;

use crate::components::time::readable_time;
use crate::{
    api::security::{get_activity, list_sessions, revoke_other_sessions, revoke_session},
    components::{form::FormError, session_sync::with_refresh},
    model::{ActivityEntry, SessionSummary},
};

/// Bumped after every change, so both panels read again.
#[derive(Clone, Copy)]
struct Changes(RwSignal<u32>);

impl Changes {
    fn track(self) {
        self.0.track();
    }

    fn happened(self) {
        self.0.update(|n| *n = n.wrapping_add(1));
    }
}

#[island(lazy)]
pub fn SecurityPanels() -> impl IntoView {
    let changes = Changes(RwSignal::new(0));
    // Browser-only resources must not take part in hydration (a page loaded
    // at /account then never settles), so the panels mount once it is done.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <Show
            when=move || hydrated.get()
            fallback=|| view! { <p class="loading panel">"Loading your sessions and activity…"</p> }
        >
            <SessionsPanel changes/>
            <ActivityPanel changes/>
        </Show>
    }
}

#[component]
fn SessionsPanel(changes: Changes) -> impl IntoView {
    let sessions = LocalResource::new(move || {
        changes.track();
        async move { with_refresh(list_sessions).await }
    });
    let status = RwSignal::new(None::<String>);
    let revoke = Action::new_local(move |session: &SessionSummary| {
        let (id, device) = (session.id.clone(), session.device.clone());
        async move {
            let result = with_refresh(|| revoke_session(id.clone())).await;
            if result.is_ok() {
                status.set(Some(format!("Signed out {device}.")));
            }
            changes.happened();
            result
        }
    });
    let revoke_others = Action::new_local(move |_: &()| async move {
        let result = with_refresh(revoke_other_sessions).await;
        if result.is_ok() {
            status.set(Some("Signed out everywhere else.".into()));
        }
        changes.happened();
        result
    });
    let error = Signal::derive(move || {
        let failed = |r: Option<Result<(), crate::api::AppFnError>>| {
            r.and_then(Result::err).map(|e| e.user_message())
        };
        failed(revoke.value().get()).or_else(|| failed(revoke_others.value().get()))
    });
    let busy = Signal::derive(move || revoke.pending().get() || revoke_others.pending().get());

    view! {
        <section class="panel" aria-labelledby="sessions-title" data-testid="sessions">
            <h2 id="sessions-title">"Where you're signed in"</h2>
            <Transition fallback=|| view! { <p class="loading">"Loading sessions…"</p> }>
                {move || Suspend::new(async move {
                    match sessions.await {
                        Ok(list) => {
                            let others = list.iter().filter(|s| !s.current).count();
                            view! {
                                <ul class="session-list">
                                    {list.into_iter().map(|s| view! { <SessionRow session=s revoke busy/> }).collect_view()}
                                </ul>
                                <Show when=move || { others > 0 }>
                                    <button type="button" class="button button-secondary"
                                        disabled=move || busy.get()
                                        on:click=move |_| {
                                            status.set(None);
                                            revoke_others.dispatch(());
                                        }>
                                        "Sign out everywhere else"
                                    </button>
                                </Show>
                            }.into_any()
                        }
                        Err(e) => view! { <p class="form-error" role="alert">{e.user_message()}</p> }.into_any(),
                    }
                })}
            </Transition>
            <FormError message=error/>
            <p class="success" role="status" aria-live="polite">{move || status.get()}</p>
        </section>
    }
}

#[component]
fn SessionRow(
    session: SessionSummary,
    revoke: Action<SessionSummary, Result<(), crate::api::AppFnError>>,
    busy: Signal<bool>,
) -> impl IntoView {
    let current = session.current;
    let label = format!("Sign out {}", session.device);
    let place = session
        .ip
        .clone()
        .map(|ip| format!(" · {ip}"))
        .unwrap_or_default();
    view! {
        <li class="session" data-current=current.to_string()>
            <div class="session-what">
                <strong>{session.device.clone()}</strong>
                {current.then(|| view! { <span class="badge">"This device"</span> })}
                <span class="aside">{place}</span>
            </div>
            <div class="aside session-when">
                "Signed in " {readable_time(&session.signed_in_at)}
                " · last active " {readable_time(&session.last_used_at)}
            </div>
            {(!current).then(|| view! {
                <button type="button" class="button button-secondary button-small"
                    aria-label=label
                    disabled=move || busy.get()
                    on:click=move |_| { revoke.dispatch(session.clone()); }>
                    "Sign out"
                </button>
            })}
        </li>
    }
}

#[component]
fn ActivityPanel(changes: Changes) -> impl IntoView {
    let activity = LocalResource::new(move || {
        changes.track();
        async move { with_refresh(get_activity).await }
    });
    view! {
        <section class="panel" aria-labelledby="activity-title" data-testid="activity">
            <h2 id="activity-title">"Recent security activity"</h2>
            <Transition fallback=|| view! { <p class="loading">"Loading activity…"</p> }>
                {move || Suspend::new(async move {
                    match activity.await {
                        Ok(entries) if entries.is_empty() => view! { <p class="aside">"Nothing yet."</p> }.into_any(),
                        Ok(entries) => view! {
                            <ol class="activity-list">
                                {entries.into_iter().map(|e| view! { <ActivityRow entry=e/> }).collect_view()}
                            </ol>
                        }.into_any(),
                        Err(e) => view! { <p class="form-error" role="alert">{e.user_message()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn ActivityRow(entry: ActivityEntry) -> impl IntoView {
    let failed = entry.outcome == "failure";
    let detail = [entry.device.clone(), entry.ip.clone()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" · ");
    view! {
        <li class="activity" data-event=entry.event.clone() data-failed=failed.to_string()>
            <span class="activity-what">{describe(&entry.event, failed)}</span>
            <span class="aside">
                <time datetime=entry.at.clone()>{readable_time(&entry.at)}</time>
                {(!detail.is_empty()).then(|| format!(" · {detail}"))}
            </span>
        </li>
    }
}

/// Audit event names in words.
fn describe(event: &str, failed: bool) -> &'static str {
    match (event, failed) {
        ("signup", _) => "Account created",
        ("login", false) => "Signed in",
        ("login", true) => "Failed sign-in attempt",
        ("logout", _) => "Signed out",
        ("password_change", false) => "Password changed",
        ("password_change", true) => "Wrong current password when changing password",
        ("profile_update", _) => "Profile updated",
        ("session_revoked", _) => "Session signed out from this page",
        ("refresh_reuse_detected", _) => "Stolen session token detected; that session was ended",
        ("throttled", _) => "Sign-in attempts slowed down after repeated failures",
        _ => "Security event",
    }
}
