//! Form pieces with labels, live validation through the shared Rust rules,
//! errors linked by `aria-describedby` and announced through `aria-live`.

use leptos::{prelude::*, server_fn::ServerFn};

use crate::api::AppFnError;

/// A rule run on every change: `Some(message)` when the value is refused.
pub type Rule = Callback<String, Option<String>>;

#[component]
pub fn Field(
    label: &'static str,
    name: &'static str,
    autocomplete: &'static str,
    #[prop(default = "text")] input_type: &'static str,
    #[prop(optional)] required: bool,
    /// A password field gets a show/hide toggle.
    #[prop(optional)]
    revealable: bool,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(optional, into)] rule: Option<Rule>,
    /// Mirrors the input's value, for rules that depend on other fields.
    #[prop(optional)]
    value: Option<RwSignal<String>>,
    #[prop(optional, into)] initial: Option<String>,
) -> impl IntoView {
    let value = value.unwrap_or_else(|| RwSignal::new(initial.clone().unwrap_or_default()));
    if let Some(initial) = initial {
        value.set(initial);
    }
    // Hydrating sets the input to `value`: what the person typed while a
    // lazy island's part of the bundle was still loading would be lost.
    #[cfg(feature = "hydrate")]
    if let Some(typed) = typed_before_hydration(name) {
        value.set(typed);
    }
    let touched = RwSignal::new(false);
    let revealed = RwSignal::new(false);
    let error = Memo::new(move |_| {
        let v = value.get();
        if !touched.get() || v.is_empty() {
            return None;
        }
        rule.and_then(|r| r.run(v))
    });
    let input_ref = NodeRef::<leptos::html::Input>::new();

    // The browser's own validation then blocks submitting with our message.
    // An empty field is left to `required`.
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let v = value.get();
        let message = if v.is_empty() {
            None
        } else {
            rule.and_then(|r| r.run(v))
        }
        .unwrap_or_default();
        if let Some(input) = input_ref.get() {
            input.set_custom_validity(&message);
        }
    });

    let input_id = name;
    let error_id = format!("{name}-error");
    let hint_id = format!("{name}-hint");
    let described_by = {
        let error_id = error_id.clone();
        let hint_id = hint_id.clone();
        move || {
            let mut ids = Vec::new();
            if hint.is_some() {
                ids.push(hint_id.clone());
            }
            if error.get().is_some() {
                ids.push(error_id.clone());
            }
            (!ids.is_empty()).then(|| ids.join(" "))
        }
    };
    let shown_type = move || {
        if revealable && revealed.get() {
            "text"
        } else {
            input_type
        }
    };

    view! {
        <div class="field" class:field-invalid=move || error.get().is_some()>
            <label for=input_id>{label}</label>
            {hint.map(|h| view! { <p class="field-hint" id=hint_id.clone()>{h}</p> })}
            <div class="field-control">
                <input
                    node_ref=input_ref
                    id=input_id
                    name=name
                    type=shown_type
                    autocomplete=autocomplete
                    required=required
                    value=value.get_untracked()
                    prop:value=move || value.get()
                    aria-invalid=move || error.get().is_some().then_some("true")
                    aria-describedby=described_by
                    on:input=move |ev| value.set(event_target_value(&ev))
                    on:blur=move |_| touched.set(true)
                />
                {revealable.then(|| view! {
                    <button
                        type="button"
                        class="reveal"
                        aria-controls=input_id
                        aria-pressed=move || revealed.get().to_string()
                        on:click=move |_| revealed.update(|r| *r = !*r)
                    >
                        {move || if revealed.get() { "Hide" } else { "Show" }}
                        <span class="visually-hidden">" password"</span>
                    </button>
                })}
            </div>
            <p class="field-error" id=error_id aria-live="polite">{move || error.get()}</p>
        </div>
    }
}

/// The text in the server-rendered input `id`, if the person changed it
/// before this island hydrated. Nothing while rendering in the browser:
/// the input does not exist yet.
#[cfg(feature = "hydrate")]
fn typed_before_hydration(id: &str) -> Option<String> {
    use wasm_bindgen::JsCast;

    let input = document()
        .get_element_by_id(id)?
        .dyn_into::<web_sys::HtmlInputElement>()
        .ok()?;
    let typed = input.value();
    (typed != input.default_value()).then_some(typed)
}

/// The server's refusal of a whole form, announced when it appears.
#[component]
pub fn FormError(#[prop(into)] message: Signal<Option<String>>) -> impl IntoView {
    view! {
        <div class="form-error" role="alert" aria-live="assertive">
            {move || message.get().map(|m| view! { <p>{m}</p> })}
        </div>
    }
}

/// A submit button that says when it is busy and cannot be pressed twice.
#[component]
pub fn SubmitButton(
    label: &'static str,
    busy_label: &'static str,
    #[prop(into)] pending: Signal<bool>,
) -> impl IntoView {
    view! {
        <button
            type="submit"
            class="button"
            disabled=move || pending.get()
            aria-busy=move || pending.get().to_string()
        >
            {move || if pending.get() { busy_label } else { label }}
        </button>
    }
}

/// A form post's refusal that came back in the URL: without WASM a refused
/// form returns to its page with the error there. Only an action created
/// inside the routes (on the server, in the page) reads it.
pub fn refused_in_url<S>() -> Option<String>
where
    S: ServerFn<Error = AppFnError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    ServerAction::<S>::new()
        .value()
        .get_untracked()
        .and_then(Result::err)
        .map(|e| e.user_message())
}

/// What a form shows as its error: the latest outcome of `action`, or
/// before any, the refusal the page was rendered with.
pub fn action_error<S>(action: ServerAction<S>, refused: Option<String>) -> Signal<Option<String>>
where
    S: ServerFn<Error = AppFnError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    Signal::derive(move || match action.value().get() {
        Some(result) => result.err().map(|e| e.user_message()),
        None => refused.clone(),
    })
}

/// A plain HTML form posting to a server function's `path` (no WASM
/// needed), with the refusal its last post came back with in the URL
/// ([`refused_in_url`]).
#[component]
pub fn PostForm(
    path: &'static str,
    refused: Option<String>,
    #[prop(optional)] class: &'static str,
    label: &'static str,
    children: Children,
) -> impl IntoView {
    view! {
        <form method="post" action=path class=if class.is_empty() { "form" } else { class }>
            {children()}
            <FormError message=Signal::derive(move || refused.clone())/>
            <SubmitButton label busy_label=label pending=Signal::derive(|| false)/>
        </form>
    }
}
