//! Pieces of the API key and agent islands: a key shown once with a copy
//! button, a key's facts with a revoke button, the expiry fields and the
//! permission boxes. Used only inside lazy islands, so they load with them.

use leptos::prelude::*;

use crate::{
    api::AppFnError,
    components::time::readable_time,
    model::{ApiKey, Permission},
};

/// Days a key lives unless its maker says otherwise (the server's default).
pub const DEFAULT_DAYS: &str = "90";

/// The days field as the server takes it: `None` for the default.
pub fn days_of(text: &str) -> Option<i64> {
    text.trim().parse().ok()
}

/// A key just made, shown this once: selectable, with a copy button.
#[component]
pub fn NewKey(
    /// What the key is for, e.g. `Key “ci”`.
    label: String,
    key: String,
    /// Unique on the page.
    id: String,
    on_done: Callback<()>,
) -> impl IntoView {
    let copied = RwSignal::new(None::<&'static str>);
    let input_ref = NodeRef::<leptos::html::Input>::new();
    let copy = {
        let key = key.clone();
        move |_| {
            copied.set(None);
            copy_text(&key, input_ref, copied);
        }
    };
    let hint_id = format!("{id}-hint");
    view! {
        <div class="new-key notice" role="status">
            <label for=id.clone()><strong>{label}</strong></label>
            <p class="aside" id=hint_id.clone()>"Copy it now: it is not shown again."</p>
            <div class="field-control">
                <input
                    node_ref=input_ref
                    id=id
                    class="key-value"
                    data-testid="new-key"
                    readonly=true
                    value=key
                    spellcheck="false"
                    autocomplete="off"
                    aria-describedby=hint_id
                    on:focus=move |_| select(input_ref)
                />
                <button type="button" class="button button-small" on:click=copy>"Copy"</button>
            </div>
            <p class="success" aria-live="polite">{move || copied.get()}</p>
            <button type="button" class="button button-secondary button-small"
                on:click=move |_| on_done.run(())>
                "I have copied it"
            </button>
        </div>
    }
}

fn select(input: NodeRef<leptos::html::Input>) {
    if let Some(input) = input.get_untracked() {
        input.select();
    }
}

/// Puts `text` on the clipboard where the browser allows it (a secure
/// context); else selects it for the person to copy. Through `js_sys`:
/// web-sys's clipboard bindings are not among this build's features.
#[cfg(feature = "hydrate")]
fn copy_text(
    text: &str,
    input: NodeRef<leptos::html::Input>,
    copied: RwSignal<Option<&'static str>>,
) {
    use wasm_bindgen::{closure::Closure, JsCast, JsValue};

    const MANUAL: &str = "Select the key and copy it yourself.";
    let get = |target: &JsValue, name: &str| {
        js_sys::Reflect::get(target, &JsValue::from_str(name))
            .ok()
            .filter(|v| !v.is_undefined() && !v.is_null())
    };
    let window: JsValue = window().into();
    let written = get(&window, "navigator")
        .and_then(|navigator| get(&navigator, "clipboard"))
        .and_then(|clipboard| {
            let write = get(&clipboard, "writeText")?
                .dyn_into::<js_sys::Function>()
                .ok()?;
            write.call1(&clipboard, &JsValue::from_str(text)).ok()
        });
    select(input);
    // The promise's own `then`, called as a plain function: each callback
    // frees itself once called.
    let then = written.as_ref().and_then(|promise| {
        Some((
            promise,
            get(promise, "then")?.dyn_into::<js_sys::Function>().ok()?,
        ))
    });
    match then {
        Some((promise, then)) => {
            let done = Closure::once_into_js(move |_: JsValue| copied.set(Some("Copied.")));
            let failed = Closure::once_into_js(move |_: JsValue| copied.set(Some(MANUAL)));
            if then.call2(promise, &done, &failed).is_err() {
                copied.set(Some(MANUAL));
            }
        }
        None => copied.set(Some(MANUAL)),
    }
}

/// Pages render on the server; the copy button works only once hydrated.
#[cfg(not(feature = "hydrate"))]
fn copy_text(
    _text: &str,
    _input: NodeRef<leptos::html::Input>,
    _copied: RwSignal<Option<&'static str>>,
) {
}

/// One key: what it may do, when it lapses, when and where it was last
/// used, and a button that revokes it.
#[component]
pub fn KeyRow(
    key: ApiKey,
    on_revoke: Callback<ApiKey>,
    #[prop(into)] busy: Signal<bool>,
) -> impl IntoView {
    let scopes = match &key.scopes {
        Some(scopes) if scopes.is_empty() => {
            view! { <span class="aside">"no scopes"</span> }.into_any()
        }
        Some(scopes) => scopes
            .iter()
            .map(|p| view! { <span class="badge">{p.as_str()}</span> })
            .collect_view()
            .into_any(),
        None => view! { <span class="aside">"all its agent may do"</span> }.into_any(),
    };
    let expires = match &key.expires_at {
        Some(at) => view! { <time datetime=at.clone()>{readable_time(at)}</time> }.into_any(),
        None => view! { <span class="badge badge-danger">"never expires"</span> }.into_any(),
    };
    let last_used = match (&key.last_used_at, &key.last_used_ip) {
        (Some(at), ip) => {
            let place = ip
                .as_ref()
                .map(|ip| format!(" from {ip}"))
                .unwrap_or_default();
            format!("{}{place}", readable_time(at))
        }
        (None, _) => "never".to_owned(),
    };
    let label = format!("Revoke key {}", key.name);
    let revoked = key.clone();
    view! {
        <li class="key" data-testid=format!("key-{}", key.prefix)>
            <div class="key-what">
                <strong>{key.name.clone()}</strong>
                <code class="key-prefix">{format!("{}…", key.prefix)}</code>
            </div>
            <div class="badges key-scopes">{scopes}</div>
            <dl class="key-facts aside">
                <dt>"Created"</dt><dd>{readable_time(&key.created_at)}</dd>
                <dt>"Expires"</dt><dd>{expires}</dd>
                <dt>"Last used"</dt><dd data-testid="key-last-used">{last_used}</dd>
            </dl>
            <button type="button" class="button button-secondary button-small"
                aria-label=label
                disabled=move || busy.get()
                on:click=move |_| on_revoke.run(revoked.clone())>
                "Revoke"
            </button>
        </li>
    }
}

/// How long a new key lives: days (90 unless changed) or, for an
/// administrator only, never, which is flagged.
#[component]
pub fn ExpiryFields(
    /// Unique on the page; the fields' ids start with it.
    prefix: String,
    days: RwSignal<String>,
    never: RwSignal<bool>,
    may_choose_never: bool,
) -> impl IntoView {
    let days_id = format!("{prefix}-days");
    let never_id = format!("{prefix}-never");
    view! {
        <div class="field expiry">
            <label for=days_id.clone()>"Expires after (days)"</label>
            <input id=days_id type="number" min="1" step="1" inputmode="numeric"
                required=move || !never.get()
                disabled=move || never.get()
                bind:value=days/>
            {may_choose_never.then(|| view! {
                <label class="check" for=never_id.clone()>
                    <input type="checkbox" id=never_id.clone() bind:checked=never/>
                    "Never expires "
                    <span class="badge badge-danger">"administrators only; not recommended"</span>
                </label>
            })}
        </div>
    }
}

/// One box per permission `offered`; the ticked ones are in `chosen`.
#[component]
pub fn PermissionChecks(
    /// Unique on the page; the boxes' ids start with it.
    prefix: String,
    legend: &'static str,
    offered: Vec<Permission>,
    chosen: RwSignal<Vec<Permission>>,
) -> impl IntoView {
    let empty = offered.is_empty();
    let boxes = offered
        .into_iter()
        .map(|permission| {
            let id = format!("{prefix}-{}", permission.as_str().replace(':', "-"));
            let label_for = id.clone();
            view! {
                <label class="check" for=label_for>
                    <input type="checkbox" id=id value=permission.as_str()
                        prop:checked=move || chosen.with(|c| c.contains(&permission))
                        on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            chosen.update(|c| {
                                c.retain(|p| *p != permission);
                                if on {
                                    c.push(permission);
                                    c.sort();
                                }
                            });
                        }/>
                    {permission.as_str()}
                </label>
            }
        })
        .collect_view();
    let none = empty.then(|| view! { <p class="aside">"You hold no permissions to give."</p> });
    view! {
        <fieldset class="permissions">
            <legend>{legend}</legend>
            {none}
            {boxes}
        </fieldset>
    }
}

/// Permissions as the server functions take them.
pub fn names(permissions: &[Permission]) -> Vec<String> {
    permissions.iter().map(|p| p.as_str().to_owned()).collect()
}

/// What the person reads when a call failed.
pub fn failure(outcome: Option<Result<(), AppFnError>>) -> Option<String> {
    outcome.and_then(Result::err).map(|e| e.user_message())
}
