//! Service accounts and agents: register one (its first key shown once),
//! change what it may do, make and revoke its keys, disable, enable and
//! delete it. One lazy island for both places it appears: a person's own
//! at /account/agents, and every one in the admin console (/admin/agents)
//! for holders of `agents:manage`. Loads in the browser once hydrated.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

use crate::{
    api::{
        machines::{
            create_agent_key, delete_agent, list_agents, register_agent, revoke_agent_key,
            set_agent_disabled, set_agent_permissions,
        },
        AppFnError,
    },
    components::time::readable_time,
    components::{
        auth_state::use_auth_state,
        form::{FormError, SubmitButton},
        keys::{days_of, names, ExpiryFields, KeyRow, NewKey, PermissionChecks, DEFAULT_DAYS},
        session_sync::with_refresh,
    },
    model::{Agent, ApiKey, Permission, RoleName, User},
};

pub const ACCOUNT_AGENTS: &str = "/account/agents";
pub const ADMIN_AGENTS: &str = "/admin/agents";

/// Said once an agent is gone (in the list, as its panel went with it).
const DELETED: &str = "Deleted.";

/// Whether `user` may make keys that never expire: administrators only.
pub fn may_choose_never(user: &User) -> bool {
    user.role == RoleName::ADMIN || user.roles.iter().any(|r| r == RoleName::ADMIN)
}

/// /account/agents: the signed-in person's own.
#[component]
pub fn AccountAgentsPage() -> impl IntoView {
    let auth = use_auth_state();
    view! {
        <Title text="Service accounts and agents"/>
        {match auth.session() {
            Ok(Some(session)) => {
                let user = session.user;
                let console = user.permissions.contains(&Permission::AgentsManage);
                view! {
                    <div class="account agents-page">
                        <p><a href="/account">"← Your account"</a></p>
                        <h1>"Your service accounts and agents"</h1>
                        <p class="aside">
                            "A service account or an agent (an AI assistant, say) calls Portcullis with keys of its own, "
                            "and may never do more than you can."
                            {console.then(|| view! { " " <a href=ADMIN_AGENTS>"Everyone's are in the admin console."</a> })}
                        </p>
                        <AgentsManager
                            permissions=user.permissions.clone()
                            may_choose_never=may_choose_never(&user)
                            console=false
                        />
                    </div>
                }.into_any()
            }
            Ok(None) => view! { <Redirect path=crate::validate::form_page("/login", Some(ACCOUNT_AGENTS))/> }.into_any(),
            Err(e) => view! { <p class="form-error" role="alert">{e.user_message()}</p> }.into_any(),
        }}
    }
}

/// A key just made, for the agent `agent`: shown in its panel, or under
/// the registration form when it came with the agent.
#[derive(Debug, Clone)]
struct Fresh {
    agent: String,
    name: String,
    key: String,
    registered: bool,
}

/// How the last change to an agent went, said in its panel.
#[derive(Debug, Clone)]
struct Outcome {
    agent: String,
    said: Result<String, String>,
}

/// What every part of the manager shares.
#[derive(Clone, Copy)]
struct Shared {
    changes: RwSignal<u32>,
    fresh: RwSignal<Option<Fresh>>,
    outcome: RwSignal<Option<Outcome>>,
    may_choose_never: bool,
    console: bool,
}

impl Shared {
    /// Records how a call for `agent` went and reads the list again.
    fn finish<T>(self, agent: &str, result: &Result<T, AppFnError>, done: String) {
        self.outcome.set(Some(Outcome {
            agent: agent.to_owned(),
            said: result
                .as_ref()
                .map(|_| done)
                .map_err(AppFnError::user_message),
        }));
        self.changes.update(|n| *n = n.wrapping_add(1));
    }
}

/// `permissions`: the signed-in person's (what they may grant);
/// `console`: every agent, with its owner, for a holder of
/// `agents:manage`; else their own only.
#[island(lazy)]
pub fn AgentsManager(
    permissions: Vec<Permission>,
    may_choose_never: bool,
    console: bool,
) -> impl IntoView {
    // Browser-only resources must not take part in hydration (see
    // `account::security::SecurityPanels`).
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let shared = Shared {
        changes: RwSignal::new(0),
        fresh: RwSignal::new(None),
        outcome: RwSignal::new(None),
        may_choose_never,
        console,
    };
    view! {
        <Show
            when=move || hydrated.get()
            fallback=|| view! { <p class="loading panel">"Loading service accounts and agents…"</p> }
        >
            <RegisterForm permissions=permissions.clone() shared/>
            <AgentList permissions=permissions.clone() shared/>
        </Show>
    }
}

#[component]
fn RegisterForm(permissions: Vec<Permission>, shared: Shared) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let kind = RwSignal::new("agent".to_owned());
    let description = RwSignal::new(String::new());
    let chosen = RwSignal::new(Vec::<Permission>::new());
    let days = RwSignal::new(DEFAULT_DAYS.to_owned());
    let never = RwSignal::new(false);
    let register = Action::new_local(move |_: &()| {
        let (name_now, kind_now, description_now) = (
            name.get_untracked(),
            kind.get_untracked(),
            description.get_untracked(),
        );
        let (permissions_now, days_now, never_now) = (
            names(&chosen.get_untracked()),
            days_of(&days.get_untracked()),
            never.get_untracked(),
        );
        async move {
            let result = with_refresh(|| {
                register_agent(
                    name_now.clone(),
                    kind_now.clone(),
                    description_now.clone(),
                    permissions_now.clone(),
                    days_now,
                    never_now,
                )
            })
            .await;
            if let Ok(made) = &result {
                shared.fresh.set(Some(Fresh {
                    agent: made.agent.id.clone(),
                    name: made.agent.name.clone(),
                    key: made.key.clone(),
                    registered: true,
                }));
                name.set(String::new());
                description.set(String::new());
                chosen.set(Vec::new());
                days.set(DEFAULT_DAYS.to_owned());
                never.set(false);
                shared.changes.update(|n| *n = n.wrapping_add(1));
            }
            result.map(|_| ())
        }
    });
    let error = Signal::derive(move || crate::components::keys::failure(register.value().get()));
    let fresh = move || shared.fresh.get().filter(|f| f.registered);

    view! {
        <section class="panel" aria-labelledby="register-agent-title" data-testid="register-agent">
            <h2 id="register-agent-title">"Register a service account or agent"</h2>
            <form class="form" on:submit=move |ev| {
                ev.prevent_default();
                shared.fresh.set(None);
                register.dispatch(());
            }>
                <div class="field">
                    <label for="agent-name">"Name"</label>
                    <input id="agent-name" required=true maxlength="64" autocomplete="off" bind:value=name/>
                </div>
                <div class="field">
                    <label for="agent-kind">"Kind"</label>
                    <select id="agent-kind" prop:value=move || kind.get()
                        on:change=move |ev| kind.set(event_target_value(&ev))>
                        <option value="agent">"Agent (an AI assistant or other tool acting for you)"</option>
                        <option value="service">"Service account (a backend)"</option>
                    </select>
                </div>
                <div class="field">
                    <label for="agent-description">"Description"</label>
                    <input id="agent-description" maxlength="500" autocomplete="off" bind:value=description/>
                </div>
                <PermissionChecks prefix="agent-new".to_owned() legend="Permissions" offered=permissions chosen/>
                <ExpiryFields prefix="agent-new".to_owned() days never may_choose_never=shared.may_choose_never/>
                <FormError message=error/>
                <SubmitButton label="Register" busy_label="Registering…" pending=register.pending()/>
            </form>
            {move || fresh().map(|made| view! {
                <NewKey
                    label=format!("The key of “{}”", made.name)
                    key=made.key
                    id="agent-new-key".to_owned()
                    on_done=Callback::new(move |()| shared.fresh.set(None))
                />
            })}
        </section>
    }
}

/// The calls an agent's panel makes, each with the agent's id first.
#[derive(Clone, Copy)]
struct Calls {
    permissions: Action<(String, Vec<Permission>), ()>,
    disabled: Action<(String, bool), ()>,
    delete: Action<String, ()>,
    new_key: Action<(String, String, Option<i64>, bool), ()>,
    revoke_key: Action<(String, ApiKey), ()>,
}

impl Calls {
    fn new(shared: Shared) -> Self {
        Self {
            permissions: Action::new_local(move |(id, chosen): &(String, Vec<Permission>)| {
                let (id, chosen) = (id.clone(), names(chosen));
                async move {
                    let result =
                        with_refresh(|| set_agent_permissions(id.clone(), chosen.clone())).await;
                    shared.finish(&id, &result, "Permissions saved.".to_owned());
                }
            }),
            disabled: Action::new_local(move |(id, disabled): &(String, bool)| {
                let (id, disabled) = (id.clone(), *disabled);
                async move {
                    let result = with_refresh(|| set_agent_disabled(id.clone(), disabled)).await;
                    let done = if disabled {
                        "Disabled: its keys and tokens no longer work."
                    } else {
                        "Enabled."
                    };
                    shared.finish(&id, &result, done.to_owned());
                }
            }),
            delete: Action::new_local(move |id: &String| {
                let id = id.clone();
                async move {
                    let result = with_refresh(|| delete_agent(id.clone())).await;
                    shared.finish(&id, &result, DELETED.to_owned());
                }
            }),
            new_key: Action::new_local(
                move |(id, name, days, never): &(String, String, Option<i64>, bool)| {
                    let (id, name, days, never) = (id.clone(), name.clone(), *days, *never);
                    async move {
                        let result = with_refresh(|| {
                            create_agent_key(id.clone(), name.clone(), days, never)
                        })
                        .await;
                        if let Ok(made) = &result {
                            shared.fresh.set(Some(Fresh {
                                agent: id.clone(),
                                name: made.api_key.name.clone(),
                                key: made.key.clone(),
                                registered: false,
                            }));
                        }
                        shared.finish(&id, &result, "Key made.".to_owned());
                    }
                },
            ),
            revoke_key: Action::new_local(move |(id, key): &(String, ApiKey)| {
                let (id, key_id, name) = (id.clone(), key.id.clone(), key.name.clone());
                async move {
                    let result =
                        with_refresh(|| revoke_agent_key(id.clone(), key_id.clone())).await;
                    shared.finish(&id, &result, format!("Revoked key “{name}”."));
                }
            }),
        }
    }

    fn busy(self) -> Signal<bool> {
        Signal::derive(move || {
            self.permissions.pending().get()
                || self.disabled.pending().get()
                || self.delete.pending().get()
                || self.new_key.pending().get()
                || self.revoke_key.pending().get()
        })
    }
}

#[component]
fn AgentList(permissions: Vec<Permission>, shared: Shared) -> impl IntoView {
    let mine = !shared.console;
    let agents = LocalResource::new(move || {
        shared.changes.track();
        async move { with_refresh(|| list_agents(mine)).await }
    });
    let calls = Calls::new(shared);
    // Whose permissions an editor offers: every one in the console (the
    // server holds each agent to its owner's), else the person's own.
    let offered = StoredValue::new(if shared.console {
        Permission::ALL.to_vec()
    } else {
        permissions
    });
    // A deletion's outcome, said where the agent was.
    let deleted = move || {
        shared
            .outcome
            .get()
            .filter(|o| matches!(&o.said, Ok(said) if said == DELETED))
            .map(|_| DELETED)
    };

    view! {
        <section class="agents" aria-labelledby="agents-title">
            <h2 id="agents-title">
                {if shared.console { "All service accounts and agents" } else { "Yours" }}
            </h2>
            <p class="success" role="status" aria-live="polite">{deleted}</p>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match agents.await {
                        Ok(list) if list.is_empty() => view! {
                            <p class="aside" data-testid="no-agents">"None registered yet."</p>
                        }.into_any(),
                        Ok(list) => view! {
                            <ul class="admin-list agent-list" data-testid="agents">
                                {list.into_iter().map(|agent| view! {
                                    <AgentItem agent offered=offered.get_value() shared calls/>
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(e) => view! { <p class="form-error" role="alert">{e.user_message()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn AgentItem(
    agent: Agent,
    offered: Vec<Permission>,
    shared: Shared,
    calls: Calls,
) -> impl IntoView {
    let id = StoredValue::new(agent.id.clone());
    let prefix = format!("agent-{}", agent.id);
    let busy = calls.busy();

    // What the editor offers: its own grants stay visible even when the
    // person could not grant them now.
    let mut offered = offered;
    offered.extend(agent.permissions.iter().copied());
    offered.sort();
    offered.dedup();
    let chosen = RwSignal::new(agent.permissions.clone());
    let capped: Vec<Permission> = agent
        .permissions
        .iter()
        .filter(|p| !agent.effective.contains(p))
        .copied()
        .collect();

    let key_name = RwSignal::new("key".to_owned());
    let days = RwSignal::new(DEFAULT_DAYS.to_owned());
    let never = RwSignal::new(false);
    let confirm = RwSignal::new(false);
    let disabled = agent.disabled;

    let said = move || {
        shared
            .outcome
            .get()
            .filter(|o| id.with_value(|id| *id == o.agent))
            .map(|o| o.said)
    };
    let done = move || said().and_then(Result::ok);
    let refused = Signal::derive(move || said().and_then(Result::err));
    let fresh = move || {
        shared
            .fresh
            .get()
            .filter(|f| !f.registered && id.with_value(|id| *id == f.agent))
    };
    let on_revoke = Callback::new(move |key: ApiKey| {
        calls.revoke_key.dispatch((id.get_value(), key));
    });
    let owner = shared.console.then(|| {
        let who = agent
            .owner_email
            .clone()
            .unwrap_or_else(|| agent.owner_id.clone());
        view! { <span class="aside">"owned by " {who}</span> }
    });
    let (title_id, labelled_by) = (format!("{prefix}-title"), format!("{prefix}-title"));
    let keys = agent.keys.clone();
    let live_keys = keys.len();

    view! {
        <li class="panel agent" data-testid=format!("agent-{}", agent.name) data-disabled=disabled.to_string()
            aria-labelledby=labelled_by>
            <h3 id=title_id class="agent-title">
                {agent.name.clone()}
                <span class="badge">{agent.kind.clone()}</span>
                {disabled.then(|| view! { <span class="badge badge-danger" data-testid="agent-disabled">"disabled"</span> })}
            </h3>
            {owner}
            {(!agent.description.is_empty()).then(|| view! { <p>{agent.description.clone()}</p> })}
            <dl class="facts">
                <dt>"Client id"</dt><dd><code>{agent.id.clone()}</code></dd>
                <dt>"Registered"</dt><dd>{readable_time(&agent.created_at)}</dd>
            </dl>

            <form class="form" on:submit=move |ev| {
                ev.prevent_default();
                calls.permissions.dispatch((id.get_value(), chosen.get_untracked()));
            }>
                <PermissionChecks prefix=format!("{prefix}-perm") legend="What it may do" offered chosen/>
                {(!capped.is_empty()).then(|| {
                    let list = capped.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ");
                    view! { <p class="aside">"Its owner no longer holds " {list} ", so it cannot use that now."</p> }
                })}
                <SubmitButton label="Save permissions" busy_label="Saving…" pending=busy/>
            </form>

            <h4>"Keys"</h4>
            {if keys.is_empty() {
                view! { <p class="aside">"No live keys."</p> }.into_any()
            } else {
                view! {
                    <ul class="key-list">
                        {keys.into_iter().map(|key| view! { <KeyRow key on_revoke busy/> }).collect_view()}
                    </ul>
                }.into_any()
            }}
            {move || fresh().map(|made| view! {
                <NewKey
                    label=format!("New key “{}”", made.name)
                    key=made.key
                    id=format!("agent-{}-new-key", made.agent)
                    on_done=Callback::new(move |()| shared.fresh.set(None))
                />
            })}
            <form class="form new-agent-key" on:submit=move |ev| {
                ev.prevent_default();
                shared.fresh.set(None);
                calls.new_key.dispatch((
                    id.get_value(),
                    key_name.get_untracked(),
                    days_of(&days.get_untracked()),
                    never.get_untracked(),
                ));
            }>
                <div class="field">
                    <label for=format!("{prefix}-key-name")>"New key's name"</label>
                    <input id=format!("{prefix}-key-name") required=true maxlength="64" autocomplete="off" bind:value=key_name/>
                </div>
                <ExpiryFields prefix=format!("{prefix}-key") days never may_choose_never=shared.may_choose_never/>
                {(live_keys >= 2).then(|| view! {
                    <p class="aside">"Two keys at most: revoke the old one once its client uses the new one."</p>
                })}
                <SubmitButton label="New key" busy_label="Making…" pending=busy/>
            </form>

            <FormError message=refused/>
            <p class="success" role="status" aria-live="polite">{done}</p>

            <div class="button-row">
                <button type="button" class="button button-secondary button-small"
                    disabled=move || busy.get()
                    on:click=move |_| { calls.disabled.dispatch((id.get_value(), !disabled)); }>
                    {if disabled { "Enable" } else { "Disable" }}
                </button>
            </div>
            <form class="form danger-zone-inline" on:submit=move |ev| {
                ev.prevent_default();
                calls.delete.dispatch(id.get_value());
            }>
                <label class="check">
                    <input type="checkbox" required=true bind:checked=confirm/>
                    "Yes, delete it and its keys"
                </label>
                <SubmitButton label="Delete" busy_label="Deleting…" pending=busy/>
            </form>
        </li>
    }
}
