//! Small pieces every page uses: navigation, times, the hazard banner, the GOV.UK error
//! summary, radios, and the chooser for a safety-critical value set two ways at once.

use fieldbook_case::critical::Critical;
use fieldbook_case::validate::FieldError;
use fieldbook_case::vocab::{self, Choice};
use fieldbook_case::Case;
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

pub fn go(hash: &str) {
    let _ = web_sys::window().expect("window").location().set_hash(hash);
}

pub fn now() -> i64 {
    js_sys::Date::now() as i64
}

pub fn new_id() -> String {
    format!("{:016x}", (js_sys::Math::random() * 2f64.powi(53)) as u64)
}

pub fn format_time(ms: i64) -> String {
    let d = js_sys::Date::new(&JsValue::from_f64(ms as f64));
    format!(
        "{:02}/{:02}/{} {:02}:{:02}",
        d.get_date(),
        d.get_month() + 1,
        d.get_full_year(),
        d.get_hours(),
        d.get_minutes()
    )
}

/// `datetime-local` value (local time) for a timestamp, and back.
pub fn to_local_input(ms: i64) -> String {
    let d = js_sys::Date::new(&JsValue::from_f64(ms as f64));
    format!(
        "{}-{:02}-{:02}T{:02}:{:02}",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date(),
        d.get_hours(),
        d.get_minutes()
    )
}

pub fn from_local_input(v: &str) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    let ms = js_sys::Date::new(&JsValue::from_str(v)).get_time();
    (!ms.is_nan()).then_some(ms as i64)
}

/// Move keyboard focus (and the screen reader) to the element with `id`, now.
pub fn focus_now(id: &str) {
    if let Some(el) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(id))
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    {
        let _ = el.focus();
        el.scroll_into_view();
    }
}

/// Like [`focus_now`], once the view being built has been rendered.
pub fn focus(id: &str) {
    let id = id.to_owned();
    let cb = Closure::once_into_js(move || focus_now(&id));
    let _ = web_sys::window()
        .expect("window")
        .set_timeout_with_callback(cb.unchecked_ref());
}

/// Hazard labels, impossible to miss, on every screen about the young person.
#[component]
pub fn Hazards(case: Case) -> impl IntoView {
    let shown: Vec<_> = case.shown_hazards().into_iter().cloned().collect();
    let conflicts = case.conflicts();
    view! {
        <Show when={let n = shown.len(); move || n > 0}>
            <ul class="fb-hazards" aria-label="Hazard labels" data-testid="hazards">
                {shown.iter().map(|h| view! {
                    <li class="fb-hazard">
                        <strong>{h.label.clone()}</strong>
                        {h.state.is_conflict().then_some(" (disputed: choose on the case page)")}
                    </li>
                }).collect_view()}
            </ul>
        </Show>
        <Show when={let n = conflicts.len(); move || n > 0}>
            <div class="fb-warning" role="status" data-testid="conflicts">
                <strong>"Set two ways at the same time — a person needs to choose: "</strong>
                {conflicts.join("; ")}
            </div>
        </Show>
    }
}

/// The GOV.UK error summary: takes focus, links to each field.
#[component]
pub fn ErrorSummary(errors: Vec<FieldError>) -> impl IntoView {
    if errors.is_empty() {
        return ().into_any();
    }
    focus("error-summary");
    view! {
        <div class="fb-error-summary" id="error-summary" tabindex="-1" role="alert" aria-labelledby="error-summary-title">
            <h2 id="error-summary-title">"There is a problem"</h2>
            <ul>
                {errors.into_iter().map(|e| {
                    let field = e.field.clone();
                    view! {
                        <li><a href="#" on:click=move |ev| { ev.prevent_default(); focus_now(&field); }>{e.message}</a></li>
                    }
                }).collect_view()}
            </ul>
        </div>
    }
    .into_any()
}

/// The error message shown above a field.
pub fn field_error(errors: &[FieldError], field: &str) -> Option<impl IntoView> {
    errors.iter().find(|e| e.field == field).map(|e| {
        view! { <p class="fb-error-message" id=format!("{field}-error")><span class="fb-visually-hidden">"Error: "</span>{e.message.clone()}</p> }
    })
}

/// A set of radios (GOV.UK): `id` is the first radio's id, so error links can focus it.
#[component]
pub fn Radios(
    id: String,
    legend: String,
    choices: &'static [Choice],
    selected: Option<String>,
    on_pick: Callback<String>,
    hint: Option<String>,
) -> impl IntoView {
    let name = id.clone();
    view! {
        <fieldset class="fb-fieldset">
            <legend class="fb-label">{legend}</legend>
            {hint.map(|h| view! { <p class="fb-hint">{h}</p> })}
            {choices.iter().enumerate().map(|(i, (value, label))| {
                let rid = if i == 0 { id.clone() } else { format!("{id}-{value}") };
                let checked = selected.as_deref() == Some(*value);
                view! {
                    <div class="fb-radio">
                        <input type="radio" id=rid.clone() name=name.clone() value=*value checked=checked
                               on:change=move |_| on_pick.run((*value).to_owned())/>
                        <label for=rid>{*label}</label>
                    </div>
                }
            }).collect_view()}
        </fieldset>
    }
}

/// A safety-critical value: radios when settled, and when set two ways at once, every value
/// with who set it and when, and a button to keep each.
#[component]
pub fn CriticalChoice(
    id: String,
    legend: String,
    choices: &'static [Choice],
    value: Critical,
    on_pick: Callback<String>,
) -> impl IntoView {
    if value.is_conflict() {
        let candidates = value.candidates.clone();
        view! {
            <fieldset class="fb-fieldset fb-conflict" data-testid=format!("conflict-{id}")>
                <legend class="fb-label">{legend}</legend>
                <p class="fb-warning" id=id.clone() tabindex="-1">
                    "These were set on different devices at the same time. Nothing has been chosen: keep one."
                </p>
                <ul class="fb-list">
                    {candidates.into_iter().map(|c| {
                        let label = vocab::label(choices, &c.value);
                        let keep = c.value.clone();
                        let who = if c.by.is_empty() { "an earlier version".to_owned() } else { c.by.clone() };
                        view! {
                            <li data-testid="candidate">
                                <strong>{label.clone()}</strong>
                                {format!(" — set by {who} at {}", format_time(c.at))}
                                <button type="button" class="fb-button fb-button-secondary"
                                        on:click=move |_| on_pick.run(keep.clone())>{format!("Keep {label}")}</button>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            </fieldset>
        }
        .into_any()
    } else {
        let set_by = value
            .settled()
            .filter(|c| !c.by.is_empty())
            .map(|c| format!("Set by {} at {}", c.by, format_time(c.at)));
        view! {
            <Radios id=id legend=legend choices=choices selected=value.value().map(str::to_owned)
                    on_pick=on_pick hint=set_by/>
        }
        .into_any()
    }
}
