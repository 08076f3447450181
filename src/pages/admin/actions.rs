//! The console's forms that change something. They are plain HTML form
//! posts rendered on the server, not islands: they work the same without
//! WASM, and add nothing to the bundle anyone downloads. Each post ends in
//! a redirect back to its page, which shows the result, or the refusal
//! that came back in the URL.

use leptos::{prelude::*, server_fn::ServerFn};

use crate::{
    api::admin::{
        AdminDeleteRole, AdminDeleteUser, AdminSaveRole, AdminSetAttributes, AdminSetDisabled,
        AdminSetRoles, AdminSignOut,
    },
    components::form::{refused_in_url, FormError, PostForm},
};

#[component]
pub fn UserActions(
    id: String,
    disabled: bool,
    roles: Vec<String>,
    attributes: String,
    may_write: bool,
    may_disable: bool,
    may_revoke: bool,
) -> impl IntoView {
    let roles = roles
        .into_iter()
        .filter(|r| r != "user")
        .collect::<Vec<_>>()
        .join(", ");
    let disable_label = if disabled {
        "Enable user"
    } else {
        "Disable user"
    };
    let id = StoredValue::new(id);
    let id_field = move || view! { <input type="hidden" name="id" value=id.get_value()/> };

    view! {
        <section class="panel admin-actions" aria-labelledby="user-actions">
            <h2 id="user-actions">"Actions"</h2>
            {may_disable.then(|| view! {
                <PostForm path={AdminSetDisabled::PATH} refused={refused_in_url::<AdminSetDisabled>()} class="inline-form" label=disable_label>
                    {id_field()}
                    <input type="hidden" name="disabled" value=(!disabled).to_string()/>
                </PostForm>
            })}
            {may_revoke.then(|| view! {
                <PostForm path={AdminSignOut::PATH} refused={refused_in_url::<AdminSignOut>()} class="inline-form" label="Sign out everywhere">
                    {id_field()}
                </PostForm>
            })}
            {may_write.then(|| view! {
                <PostForm path={AdminSetRoles::PATH} refused={refused_in_url::<AdminSetRoles>()} label="Save roles">
                    {id_field()}
                    <label for="user-roles">"Roles (besides user), separated by commas"</label>
                    <input id="user-roles" name="roles" value=roles.clone() autocomplete="off"/>
                </PostForm>
                <PostForm path={AdminSetAttributes::PATH} refused={refused_in_url::<AdminSetAttributes>()} label="Save attributes">
                    {id_field()}
                    <label for="user-attributes">"Attributes, one key=value per line"</label>
                    <textarea id="user-attributes" name="attributes" rows="4">{attributes.clone()}</textarea>
                </PostForm>
                <PostForm path={AdminDeleteUser::PATH} refused={refused_in_url::<AdminDeleteUser>()} class="form danger-zone" label="Delete user">
                    {id_field()}
                    <label class="check">
                        <input type="checkbox" name="confirm" value="yes" required=true/>
                        "Yes, delete this account and end its sessions"
                    </label>
                </PostForm>
            })}
        </section>
    }
}

/// Edits one role's description and permissions, and deletes it.
#[component]
pub fn RoleEditor(
    name: String,
    description: String,
    held: Vec<String>,
    catalogue: Vec<String>,
    built_in: bool,
) -> impl IntoView {
    let description_id = format!("{name}-description");
    let (prefix, delete_name) = (name.clone(), name.clone());
    view! {
        <PostForm path={AdminSaveRole::PATH} refused=None label="Save role">
            <input type="hidden" name="name" value=name/>
            <PermissionBoxes prefix catalogue held/>
            <label for=description_id.clone()>"Description"</label>
            <input id=description_id name="description" value=description autocomplete="off"/>
        </PostForm>
        {(!built_in).then(|| view! {
            <PostForm path={AdminDeleteRole::PATH} refused=None class="inline-form" label="Delete role">
                <input type="hidden" name="name" value=delete_name/>
            </PostForm>
        })}
    }
}

/// Why the last change on the roles page was refused, said once.
#[component]
pub fn RolesRefusal() -> impl IntoView {
    let refused = refused_in_url::<AdminSaveRole>().or_else(refused_in_url::<AdminDeleteRole>);
    view! { <FormError message=Signal::derive(move || refused.clone())/> }
}

#[component]
pub fn NewRole(catalogue: Vec<String>) -> impl IntoView {
    view! {
        <section class="panel" aria-labelledby="new-role">
            <h2 id="new-role">"New role"</h2>
            <PostForm path={AdminSaveRole::PATH} refused=None label="Create role">
                <input type="hidden" name="create" value="yes"/>
                <label for="new-role-name">"Name (lower case, digits, - and _)"</label>
                <input id="new-role-name" name="name" required=true autocomplete="off"/>
                <label for="new-role-description">"Description"</label>
                <input id="new-role-description" name="description" autocomplete="off"/>
                <PermissionBoxes prefix="new".to_owned() catalogue held=Vec::new()/>
            </PostForm>
        </section>
    }
}

/// One box per permission of the catalogue, posted as `permissions[]`.
#[component]
fn PermissionBoxes(prefix: String, catalogue: Vec<String>, held: Vec<String>) -> impl IntoView {
    let boxes = catalogue
        .into_iter()
        .map(|permission| {
            let id = format!("{prefix}-{}", permission.replace(':', "-"));
            let checked = held.contains(&permission);
            view! {
                <label class="check" for=id.clone()>
                    <input type="checkbox" id=id.clone() name="permissions[]" value=permission.clone() checked=checked/>
                    {permission.clone()}
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
