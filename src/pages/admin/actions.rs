//! The console's forms that change something: islands, each loaded lazily
//! (a signed-out visitor's bundle does not grow). The user forms are plain
//! form posts without WASM; with it, they post in the background and load
//! the page again to show the result. The role editors need WASM.

use leptos::{prelude::*, server_fn::ServerFn};

use crate::{
    api::{
        admin::{
            AdminDeleteRole, AdminDeleteUser, AdminSaveRole, AdminSetAttributes, AdminSetDisabled,
            AdminSetRoles, AdminSignOut,
        },
        AppFnError,
    },
    components::form::{action_error, FormError, SubmitButton},
};

/// Once `action` succeeds, the browser loads `then` (or this page again).
fn after_success<S>(action: ServerAction<S>, then: Option<&'static str>)
where
    S: ServerFn<Error = AppFnError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    Effect::new(move |_| {
        if let Some(Ok(_)) = action.value().get() {
            #[cfg(feature = "hydrate")]
            {
                let location = window().location();
                let _ = match then {
                    Some(href) => location.set_href(href),
                    None => location.reload(),
                };
            }
            #[cfg(not(feature = "hydrate"))]
            let _ = then;
        }
    });
}

#[island(lazy)]
pub fn UserActions(
    id: String,
    disabled: bool,
    roles: Vec<String>,
    attributes: String,
    may_write: bool,
    may_disable: bool,
    may_revoke: bool,
) -> impl IntoView {
    let set_disabled = ServerAction::<AdminSetDisabled>::new();
    let sign_out = ServerAction::<AdminSignOut>::new();
    let set_roles = ServerAction::<AdminSetRoles>::new();
    let set_attributes = ServerAction::<AdminSetAttributes>::new();
    let delete = ServerAction::<AdminDeleteUser>::new();
    after_success(set_disabled, None);
    after_success(sign_out, None);
    after_success(set_roles, None);
    after_success(set_attributes, None);
    after_success(delete, Some("/admin"));
    let roles = roles
        .into_iter()
        .filter(|r| r != "user")
        .collect::<Vec<_>>()
        .join(", ");
    let (disable_label, busy) = if disabled {
        ("Enable user", "Enabling…")
    } else {
        ("Disable user", "Disabling…")
    };
    let id = StoredValue::new(id);
    let id_field = move || view! { <input type="hidden" name="id" value=id.get_value()/> };

    view! {
        <section class="panel admin-actions" aria-labelledby="user-actions">
            <h2 id="user-actions">"Actions"</h2>
            {may_disable.then(|| view! {
                <ActionForm action=set_disabled attr:class="inline-form">
                    {id_field()}
                    <input type="hidden" name="disabled" value=(!disabled).to_string()/>
                    <SubmitButton label=disable_label busy_label=busy pending=set_disabled.pending()/>
                    <FormError message=action_error(set_disabled, None)/>
                </ActionForm>
            })}
            {may_revoke.then(|| view! {
                <ActionForm action=sign_out attr:class="inline-form">
                    {id_field()}
                    <SubmitButton label="Sign out everywhere" busy_label="Signing out…" pending=sign_out.pending()/>
                    <FormError message=action_error(sign_out, None)/>
                </ActionForm>
            })}
            {may_write.then(|| view! {
                <ActionForm action=set_roles attr:class="form">
                    {id_field()}
                    <label for="user-roles">"Roles (besides user), separated by commas"</label>
                    <input id="user-roles" name="roles" value=roles.clone() autocomplete="off"/>
                    <FormError message=action_error(set_roles, None)/>
                    <SubmitButton label="Save roles" busy_label="Saving…" pending=set_roles.pending()/>
                </ActionForm>
                <ActionForm action=set_attributes attr:class="form">
                    {id_field()}
                    <label for="user-attributes">"Attributes, one key=value per line"</label>
                    <textarea id="user-attributes" name="attributes" rows="4">{attributes.clone()}</textarea>
                    <FormError message=action_error(set_attributes, None)/>
                    <SubmitButton label="Save attributes" busy_label="Saving…" pending=set_attributes.pending()/>
                </ActionForm>
                <ActionForm action=delete attr:class="form danger-zone">
                    {id_field()}
                    <label class="check">
                        <input type="checkbox" name="confirm" value="yes" required=true/>
                        "Yes, delete this account and end its sessions"
                    </label>
                    <FormError message=action_error(delete, None)/>
                    <SubmitButton label="Delete user" busy_label="Deleting…" pending=delete.pending()/>
                </ActionForm>
            })}
        </section>
    }
}

/// Edits one role's description and permissions, or deletes it.
#[island(lazy)]
pub fn RoleEditor(
    name: String,
    description: String,
    held: Vec<String>,
    catalogue: Vec<String>,
    built_in: bool,
) -> impl IntoView {
    let save = ServerAction::<AdminSaveRole>::new();
    let remove = ServerAction::<AdminDeleteRole>::new();
    after_success(save, None);
    after_success(remove, None);
    let chosen = RwSignal::new(held);
    let description = RwSignal::new(description);
    let error = Signal::derive(move || {
        action_error(save, None)
            .get()
            .or_else(|| action_error(remove, None).get())
    });
    let save_name = name.clone();
    let remove_name = name.clone();
    view! {
        <form class="form" on:submit=move |ev| {
            ev.prevent_default();
            save.dispatch(AdminSaveRole {
                name: save_name.clone(),
                description: description.get_untracked(),
                permissions: chosen.get_untracked().join(","),
                create: "false".into(),
            });
        }>
            <PermissionBoxes prefix=name.clone() catalogue chosen/>
            <label for=format!("{name}-description")>"Description"</label>
            <input id=format!("{name}-description") prop:value=description
                on:input=move |ev| description.set(event_target_value(&ev))/>
            <FormError message=error/>
            <div class="button-row">
                <SubmitButton label="Save role" busy_label="Saving…" pending=save.pending()/>
                {(!built_in).then(|| view! {
                    <button type="button" class="button button-secondary" on:click=move |_| {
                        remove.dispatch(AdminDeleteRole { name: remove_name.clone() });
                    }>"Delete role"</button>
                })}
            </div>
        </form>
    }
}

#[island(lazy)]
pub fn NewRole(catalogue: Vec<String>) -> impl IntoView {
    let save = ServerAction::<AdminSaveRole>::new();
    after_success(save, None);
    let name = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let chosen = RwSignal::new(Vec::<String>::new());
    view! {
        <section class="panel" aria-labelledby="new-role">
            <h2 id="new-role">"New role"</h2>
            <form class="form" on:submit=move |ev| {
                ev.prevent_default();
                save.dispatch(AdminSaveRole {
                    name: name.get_untracked(),
                    description: description.get_untracked(),
                    permissions: chosen.get_untracked().join(","),
                    create: "true".into(),
                });
            }>
                <label for="new-role-name">"Name (lower case, digits, - and _)"</label>
                <input id="new-role-name" required=true prop:value=name
                    on:input=move |ev| name.set(event_target_value(&ev))/>
                <label for="new-role-description">"Description"</label>
                <input id="new-role-description" prop:value=description
                    on:input=move |ev| description.set(event_target_value(&ev))/>
                <PermissionBoxes prefix="new".to_owned() catalogue chosen/>
                <FormError message=action_error(save, None)/>
                <SubmitButton label="Create role" busy_label="Creating…" pending=save.pending()/>
            </form>
        </section>
    }
}

#[component]
fn PermissionBoxes(
    prefix: String,
    catalogue: Vec<String>,
    chosen: RwSignal<Vec<String>>,
) -> impl IntoView {
    let boxes = catalogue
        .into_iter()
        .map(|permission| {
            let id = format!("{prefix}-{}", permission.replace(':', "-"));
            let checked = {
                let permission = permission.clone();
                move || chosen.with(|c| c.contains(&permission))
            };
            let toggle = {
                let permission = permission.clone();
                move |_| {
                    chosen.update(|c| match c.iter().position(|p| *p == permission) {
                        Some(at) => {
                            c.remove(at);
                        }
                        None => c.push(permission.clone()),
                    })
                }
            };
            view! {
                <label class="check" for=id.clone()>
                    <input type="checkbox" id=id.clone() prop:checked=checked on:change=toggle/>
                    {permission}
                </label>
            }
        })
        .collect_view();
    view! {
        <fieldset class="permissions">
            <legend>"Permissions"</legend>
            {boxes}
        </fieldset>
    }
}
