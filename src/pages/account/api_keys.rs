//! The account page's API keys: make one (a name, scopes from what the user
//! holds, an expiry), see it once with a copy button, list the live ones
//! with their last use, revoke any. Loads in the browser once the page has
//! hydrated, as the sessions panel does.

use leptos::prelude::*;

use crate::{
    api::machines::{create_api_key, list_api_keys, revoke_api_key},
    components::{
        form::{FormError, SubmitButton},
        keys::{
            days_of, failure, names, ExpiryFields, KeyRow, NewKey, PermissionChecks, DEFAULT_DAYS,
        },
        session_sync::with_refresh,
    },
    model::{ApiKey, CreatedApiKey, Permission},
};

/// `scopes`: what the user holds, so what a key may be given.
/// `may_choose_never`: an administrator, who may make a key that never
/// expires.
#[island(lazy)]
pub fn ApiKeysPanel(scopes: Vec<Permission>, may_choose_never: bool) -> impl IntoView {
    // Browser-only resources must not take part in hydration (see
    // `security::SecurityPanels`): the panel mounts once that is done.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <section class="panel" aria-labelledby="api-keys-title" data-testid="api-keys">
            <h2 id="api-keys-title">"API keys"</h2>
            <p class="aside">
                "A key lets a script or another service call Portcullis's API as you, limited to the scopes you give it. "
                "Send it as " <code>"X-API-Key"</code> " or " <code>"Authorization: Bearer"</code> "."
            </p>
            <Show
                when=move || hydrated.get()
                fallback=|| view! { <p class="loading">"Loading your API keys…"</p> }
            >
                <Keys scopes=scopes.clone() may_choose_never/>
            </Show>
        </section>
    }
}

#[component]
fn Keys(scopes: Vec<Permission>, may_choose_never: bool) -> impl IntoView {
    let changes = RwSignal::new(0_u32);
    let changed = move || changes.update(|n| *n = n.wrapping_add(1));
    let keys = LocalResource::new(move || {
        changes.track();
        async move { with_refresh(list_api_keys).await }
    });

    let name = RwSignal::new(String::new());
    let chosen = RwSignal::new(Vec::<Permission>::new());
    let days = RwSignal::new(DEFAULT_DAYS.to_owned());
    let never = RwSignal::new(false);
    let fresh = RwSignal::new(None::<CreatedApiKey>);
    let status = RwSignal::new(None::<String>);

    let create = Action::new_local(move |_: &()| {
        let (name_now, scopes_now) = (name.get_untracked(), names(&chosen.get_untracked()));
        let (days_now, never_now) = (days_of(&days.get_untracked()), never.get_untracked());
        async move {
            let result = with_refresh(|| {
                create_api_key(name_now.clone(), scopes_now.clone(), days_now, never_now)
            })
            .await;
            if let Ok(made) = &result {
                fresh.set(Some(made.clone()));
                name.set(String::new());
                chosen.set(Vec::new());
                days.set(DEFAULT_DAYS.to_owned());
                never.set(false);
                changed();
            }
            result.map(|_| ())
        }
    });
    let revoke = Action::new_local(move |key: &ApiKey| {
        let (id, key_name) = (key.id.clone(), key.name.clone());
        async move {
            let result = with_refresh(|| revoke_api_key(id.clone())).await;
            if result.is_ok() {
                status.set(Some(format!("Revoked “{key_name}”.")));
            }
            changed();
            result
        }
    });
    let create_error = Signal::derive(move || failure(create.value().get()));
    let revoke_error = Signal::derive(move || failure(revoke.value().get()));
    let on_revoke = Callback::new(move |key: ApiKey| {
        status.set(None);
        revoke.dispatch(key);
    });
    let busy = revoke.pending();

    view! {
        <form class="form" aria-labelledby="new-api-key-title" on:submit=move |ev| {
            ev.prevent_default();
            fresh.set(None);
            status.set(None);
            create.dispatch(());
        }>
            <h3 id="new-api-key-title">"New key"</h3>
            <div class="field">
                <label for="api-key-name">"What it is for"</label>
                <input id="api-key-name" required=true maxlength="64" autocomplete="off"
                    placeholder="e.g. nightly backup" bind:value=name/>
            </div>
            <PermissionChecks prefix="api-key-scope".to_owned() legend="Scopes" offered=scopes chosen/>
            <ExpiryFields prefix="api-key".to_owned() days never may_choose_never/>
            <FormError message=create_error/>
            <SubmitButton label="Create key" busy_label="Creating…" pending=create.pending()/>
        </form>
        {move || fresh.get().map(|made| view! {
            <NewKey
                label=format!("Your new key “{}”", made.api_key.name)
                key=made.key
                id="api-key-new".to_owned()
                on_done=Callback::new(move |()| fresh.set(None))
            />
        })}
        <h3>"Your keys"</h3>
        <Transition fallback=|| view! { <p class="loading">"Loading keys…"</p> }>
            {move || Suspend::new(async move {
                match keys.await {
                    Ok(list) if list.is_empty() => view! { <p class="aside" data-testid="no-api-keys">"No keys yet."</p> }.into_any(),
                    Ok(list) => view! {
                        <ul class="key-list">
                            {list.into_iter().map(|key| view! { <KeyRow key on_revoke busy/> }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(e) => view! { <p class="form-error" role="alert">{e.user_message()}</p> }.into_any(),
                }
            })}
        </Transition>
        <FormError message=revoke_error/>
        <p class="success" role="status" aria-live="polite">{move || status.get()}</p>
    }
}
