//! Small pieces every page uses: navigation, times, the hazard banner, the dispute banner,
//! the GOV.UK error summary, radios, free-text fields that keep the caret in place when a
//! colleague's edit arrives, and the chooser for a safety-critical value set two ways at once.

use fieldbook_case::critical::Critical;
use fieldbook_case::route::Route;
use fieldbook_case::validate::FieldError;
use fieldbook_case::vocab::{self, Choice};
use fieldbook_case::{assessment, caret, language, nrm, profile, Case, Dispute, Disputed, Hazard};
use fieldbook_sync::DocumentId;
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::driver::Driver;

/// Shown when a change could not be made because its item is not on this device (removed
/// on another device and compacted away, or a stale link) or can no longer change.
pub const NOTE_GONE: &str =
    "This note is no longer on this device (it may have been removed on another device). Your change was not saved.";
pub const ACTION_GONE: &str =
    "This action is no longer in the safety plan on this device (it may have been removed on another device). Your change was not saved.";
pub const ASSESSMENT_GONE: &str =
    "This assessment can no longer be changed: it has been submitted (perhaps on another device) or is no longer on this device. Your change was not saved.";
pub const VERSION_GONE: &str =
    "This assessment version is no longer on this device, so it was not confirmed.";
pub const LATE_EDITS_TAKEN: &str =
    "These changes are already in a new draft: continue it from the risk assessment page.";

/// Open another page (the `hashchange` handler renders it).
pub fn go(route: &Route) {
    // Setting the fragment of the page's own location cannot fail in a browsing context
    // (it throws only for a detached document, where there is nothing left to show).
    let _ = web_sys::window()
        .expect("window")
        .location()
        .set_hash(&route.to_hash());
}

pub fn now() -> i64 {
    js_sys::Date::now() as i64
}

pub fn new_id() -> String {
    format!("{:016x}", (js_sys::Math::random() * 2f64.powi(53)) as u64)
}

// Every time the app shows or reads is London time (GMT or BST), whatever zone the device
// is set to, so it agrees with the deadlines (`fieldbook_case::clocks::london`).

pub fn format_time(ms: i64) -> String {
    fieldbook_case::clocks::london::short(ms)
}

/// `datetime-local` value (London time) for a timestamp, and back.
pub fn to_local_input(ms: i64) -> String {
    fieldbook_case::clocks::london::to_input(ms)
}

pub fn from_local_input(v: &str) -> Option<i64> {
    fieldbook_case::clocks::london::from_input(v)
}

// Focus, scrolling and timers below are best effort: if one fails the page is still
// complete and usable, only less conveniently placed, so their results are ignored.

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

/// Focus an element without scrolling to it.
fn focus_in_place(el: &web_sys::HtmlElement) {
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"preventScroll".into(), &JsValue::TRUE);
    if let Ok(focus) = js_sys::Reflect::get(el, &"focus".into()) {
        if let Ok(focus) = focus.dyn_into::<js_sys::Function>() {
            let _ = focus.call1(el, &options);
        }
    }
}

/// A new page was opened: show it from the top (a page opened from the bottom of a long one
/// would otherwise open scrolled down, its heading off-screen) and, once it has rendered,
/// move focus to its heading so a screen reader announces it. Focus does not scroll: the
/// name and hazard labels above the heading stay in view.
pub fn show_page_top() {
    let window = web_sys::window().expect("window");
    window.scroll_to_with_x_and_y(0.0, 0.0);
    focus_heading(window, 20);
}

fn focus_heading(window: web_sys::Window, tries: u32) {
    let w = window.clone();
    let cb = Closure::once_into_js(move || {
        let Some(doc) = w.document() else { return };
        // The worker may already have moved on (tapped a field on the page): leave it.
        if doc
            .active_element()
            .and_then(|a| a.closest("main").ok().flatten())
            .is_some()
        {
            return;
        }
        let heading = doc
            .query_selector("main h1")
            .ok()
            .flatten()
            .and_then(|h| h.dyn_into::<web_sys::HtmlElement>().ok())
            .filter(|h| h.offset_parent().is_some()); // rendered, not hidden
        match heading {
            Some(h) => {
                if !h.has_attribute("tabindex") {
                    let _ = h.set_attribute("tabindex", "-1");
                }
                focus_in_place(&h);
            }
            // The page may still be waiting for its case: look again shortly.
            None if tries > 0 => focus_heading(w, tries - 1),
            None => {}
        }
    });
    let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
        cb.unchecked_ref(),
        if tries == 20 { 0 } else { 50 },
    );
}

/// Once the view being built has been rendered, focus the element with `id`, scrolling only
/// as far as needed to show it (the name and hazard labels above it stay in view).
pub fn focus_nearby(id: &str) {
    let id = id.to_owned();
    let cb = Closure::once_into_js(move || {
        let Some(el) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id(&id))
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
        else {
            return;
        };
        focus_in_place(&el);
        let options = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&options, &"block".into(), &"nearest".into());
        if let Ok(f) = js_sys::Reflect::get(&el, &"scrollIntoView".into()) {
            if let Ok(f) = f.dyn_into::<js_sys::Function>() {
                let _ = f.call1(&el, &options);
            }
        }
    });
    let _ = web_sys::window()
        .expect("window")
        .set_timeout_with_callback(cb.unchecked_ref());
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
pub fn Hazards(hazards: Memo<Vec<Hazard>>) -> impl IntoView {
    move || {
        let shown = hazards.get();
        (!shown.is_empty()).then(|| {
            view! {
                <ul class="fb-hazards" aria-label="Hazard labels" data-testid="hazards">
                    {shown.into_iter().map(|h| view! {
                        <li class="fb-hazard">
                            <strong>{h.label.clone()}</strong>
                            {h.state.is_conflict().then_some(" (in dispute)")}
                        </li>
                    }).collect_view()}
                </ul>
            }
        })
    }
}

/// The safety-critical choosers ([`CriticalChoice`]) showing a dispute on the page now, by
/// id and value: the dispute banner links to one of these rather than repeat its buttons.
#[derive(Clone, Copy)]
pub struct Choosers(pub RwSignal<Vec<(String, Critical)>>);

/// The id of the chooser a page shows for a disputed value.
fn chooser_id(what: &Disputed) -> String {
    match what {
        Disputed::Hazard(h) => format!("hazard-{h}"),
        Disputed::Overall { .. } => "overall".to_owned(),
        Disputed::Rating { category, .. } => format!("rating-{category}"),
        Disputed::Nrm => "nrm-current".to_owned(),
        Disputed::NrmDecision(stage) => format!("nrm-{stage}-current"),
    }
}

/// Settle a dispute on this device: the kept value is set again, by this worker, now.
fn settle(driver: &Driver, id: DocumentId, what: &Disputed, value: &str) -> Result<(), String> {
    let (by, at) = (driver.author(), now());
    let mut found = true;
    driver.change(id, |tx| {
        found = settle_in(tx, what, value, &by, at)?;
        Ok(())
    })?;
    if found {
        Ok(())
    } else {
        Err("that value is no longer in dispute on this device".to_owned())
    }
}

/// False if the disputed value is not there to settle (its assessment is gone, or it was
/// settled differently in the meantime).
fn settle_in(
    tx: &mut fieldbook_sync::automerge::transaction::Transaction<'_>,
    what: &Disputed,
    value: &str,
    by: &str,
    at: i64,
) -> Result<bool, fieldbook_sync::automerge::AutomergeError> {
    match what {
        Disputed::NrmDecision(stage) => nrm::set_decision(tx, stage, value, by, at),
        Disputed::Hazard(h) => profile::set_hazard(tx, h, value == "on", by, at).map(|()| true),
        Disputed::Overall { assessment: a } => assessment::set_overall(tx, a, value, by, at),
        Disputed::Rating {
            assessment: a,
            category,
        } => assessment::set_rating(tx, a, category, value, by, at),
        Disputed::Nrm => nrm::set_status(
            tx,
            &nrm::Step {
                id: new_id(),
                at,
                status: value.to_owned(),
                reason: "Chosen after it was set two ways at the same time".to_owned(),
                by: by.to_owned(),
            },
        )
        .map(|()| true),
    }
}

/// Which assessment a disputed level or rating belongs to, for people.
fn dispute_context(case: &Case, what: &Disputed) -> Option<String> {
    let (Disputed::Overall { assessment: aid }
    | Disputed::Rating {
        assessment: aid, ..
    }) = what
    else {
        return None;
    };
    let a = case.assessments.iter().find(|a| &a.id == aid)?;
    Some(match a.submitted {
        Some(t) => format!("assessment submitted {}", format_time(t)),
        None => "draft assessment".to_owned(),
    })
}

/// Every safety-critical value set two ways at the same time, on every screen of the case:
/// each competing value with who set it and when, and a button to keep each (or, when this
/// page shows that value's own chooser, a link to it). Choosing settles it on this device;
/// the banner goes once nothing is in dispute.
#[component]
pub fn Disputes(case: Memo<Option<Case>>, id: DocumentId) -> impl IntoView {
    let disputes = Memo::new(move |_| {
        case.with(|c| {
            c.as_ref()
                .map(|c| {
                    c.conflicts()
                        .into_iter()
                        .map(|d| {
                            let context = dispute_context(c, &d.what);
                            (d, context)
                        })
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
    });
    let driver = use_context::<Driver>();
    let choosers = use_context::<Choosers>();
    let kept = RwSignal::new(None::<String>);
    let row = move |(d, context): (Dispute, Option<String>)| {
        let cid = chooser_id(&d.what);
        let on_page = choosers.is_some_and(|Choosers(c)| {
            c.with(|c| c.iter().any(|(i, v)| *i == cid && *v == d.value))
        });
        let choices = d.what.choices();
        let title = match &context {
            Some(c) => format!("{} ({c})", d.label),
            None => d.label.clone(),
        };
        let what = d.what.clone();
        let label = d.label.clone();
        let driver = driver.clone();
        view! {
            <div class="fb-dispute" data-testid="dispute">
                <h3 class="fb-dispute-title">{title}</h3>
                <ul class="fb-dispute-values">
                    {d.value.candidates.into_iter().map(|c| {
                        let value = vocab::label(choices, &c.value);
                        let who = if c.by.is_empty() { "an earlier version".to_owned() } else { c.by.clone() };
                        let button = (!on_page).then(|| driver.clone()).flatten().map(|driver| {
                            let (what, keep, value, label) = (what.clone(), c.value.clone(), value.clone(), label.clone());
                            view! {
                                <button type="button" class="fb-button fb-button-secondary fb-keep"
                                        on:click=move |_| {
                                            match settle(&driver, id, &what, &keep) {
                                                Ok(()) => {
                                                    kept.set(Some(format!("{label}: kept {value}.")));
                                                    focus_nearby("dispute-kept");
                                                }
                                                Err(e) => driver.signals.error.set(Some(format!("Could not keep {value}: {e}"))),
                                            }
                                        }>
                                    {format!("Keep {value}")}
                                    <span class="fb-visually-hidden">{format!(" for {label}")}</span>
                                </button>
                            }
                        });
                        view! {
                            <li data-testid="candidate">
                                <strong>{value.clone()}</strong>
                                {format!(" — set by {who} at {}", format_time(c.at))}
                                {button}
                            </li>
                        }
                    }).collect_view()}
                </ul>
                {on_page.then(|| {
                    let cid = cid.clone();
                    view! {
                        <p><a href="#" class="fb-dispute-link" on:click=move |ev| { ev.prevent_default(); focus_now(&cid); }>
                            "Choose on this page"<span class="fb-visually-hidden">{format!(": {label}")}</span>
                        </a></p>
                    }
                })}
            </div>
        }
    };
    view! {
        {move || {
            let list = disputes.get();
            (!list.is_empty()).then(|| {
                let row = row.clone();
                view! {
                    <section class="fb-disputes" aria-labelledby="disputes-title" data-testid="conflicts">
                        <h2 class="fb-disputes-heading" id="disputes-title">"Set two ways at the same time: choose what to keep"</h2>
                        <p>"Two devices changed these while apart. Nothing has been chosen for you."</p>
                        {list.into_iter().map(row).collect_view()}
                    </section>
                }
            })
        }}
        {move || kept.get().map(|k| view! {
            <p class="fb-kept" id="dispute-kept" tabindex="-1" role="status" data-testid="dispute-kept">
                {k}" Other devices will show it once they sync."
            </p>
        })}
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
        // Tell the dispute banner this page has the chooser, while it is shown.
        if let Some(Choosers(on_page)) = use_context::<Choosers>() {
            let entry = (id.clone(), value.clone());
            on_page.update(|l| l.push(entry.clone()));
            on_cleanup(move || {
                on_page.try_update(|l| l.retain(|e| *e != entry));
            });
        }
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

/// A text control whose value can be replaced from outside.
trait TextControl {
    fn text(&self) -> String;
    fn set_text(&self, v: &str);
    fn selection(&self) -> Option<(u32, u32)>;
    fn select(&self, start: u32, end: u32);
    fn element(&self) -> &web_sys::HtmlElement;
}

/// Inputs and text areas have the same value and selection API, but no common trait.
macro_rules! text_control {
    ($($element:ty),*) => {$(
        impl TextControl for $element {
            fn text(&self) -> String {
                self.value()
            }
            fn set_text(&self, v: &str) {
                self.set_value(v)
            }
            fn selection(&self) -> Option<(u32, u32)> {
                Some((self.selection_start().ok()??, self.selection_end().ok()??))
            }
            fn select(&self, start: u32, end: u32) {
                // Throws only for input types without a selection; ours are text: the caret
                // stays.
                let _ = self.set_selection_range(start, end);
            }
            fn element(&self) -> &web_sys::HtmlElement {
                self.as_ref()
            }
        }
    )*};
}
text_control!(web_sys::HtmlInputElement, web_sys::HtmlTextAreaElement);

/// Show `new` in the field. If the worker is typing in it (it has focus), their caret and
/// selection keep their place in the text around them ([`caret::map_caret`]).
fn show_value(el: &(impl TextControl + AsRef<web_sys::Element>), new: &str) {
    let old = el.text();
    if old == new {
        return;
    }
    let focused = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.active_element())
        .is_some_and(|a| &a == el.as_ref());
    let selection = if focused { el.selection() } else { None };
    el.set_text(new);
    if let Some((start, end)) = selection {
        let map = |p: u32| caret::map_caret(&old, new, p as usize) as u32;
        el.select(map(start), map(end));
    }
}

/// How long typing must pause before a phrase that ends at the caret is shown: until then
/// its last word may still be growing ("chose to" on the way to "chose tomorrow").
const PAUSE_MS: i32 = 1200;

/// One phrase shown under a field, as people see it: its position is left out, so typing
/// elsewhere in the text changes nothing on screen (and nothing is announced again).
#[derive(Clone, PartialEq)]
struct Prompt {
    /// The words as typed.
    text: String,
    /// Which finding with these words it is (0 for the first), to find it again on accept.
    nth: usize,
    why: &'static str,
    suggestions: Vec<String>,
    advice: Option<String>,
}

/// A stretch of the field's text in its underline mirror.
#[derive(Clone, PartialEq)]
enum Stretch {
    Plain(String),
    Marked(String),
}

/// The findings to show now: all of them, except one that ends where the worker is typing
/// (`typing_at`, UTF-16) — its last word may not be finished.
fn shown(findings: &[language::Finding], typing_at: Option<usize>) -> Vec<&language::Finding> {
    findings
        .iter()
        .filter(|f| typing_at != Some(f.utf16.end))
        .collect()
}

/// Replace the `i`th suggestion of `prompt` into the field's current text, report it as an
/// edit and put the caret just after the new words. If the text no longer has that phrase
/// (it changed since the prompt was shown), nothing changes.
fn accept(
    el: &dyn TextControl,
    prompt: &Prompt,
    i: usize,
    on_input: Callback<String>,
) -> Option<String> {
    let current = el.text();
    let f = language::find(&current)
        .into_iter()
        .filter(|f| f.text == prompt.text)
        .nth(prompt.nth)
        .filter(|f| f.suggestions.get(i) == prompt.suggestions.get(i))?;
    let changed = language::apply(&current, &f, i);
    if changed == current {
        return None;
    }
    let at = language::caret_after(&f, i) as u32;
    el.set_text(&changed);
    on_input.run(changed.clone());
    // Focus cannot fail on an element in the page; the caret is placed either way.
    let _ = el.element().focus();
    el.select(at, at);
    Some(changed)
}

/// A free-text field, one line or (with `rows`) several, showing `value` and reporting each
/// edit to `on_input`. When `value` changes from outside while the worker is typing — a
/// colleague's edit to the same text arriving by sync — the new text appears and the caret
/// stays where it was in the words around it, instead of jumping to the end.
///
/// Every field also carries the language prompts (`fieldbook_case::language`,
/// docs/domain/language.md): phrases that recast a child as responsible for their own
/// exploitation are underlined in place — by a copy of the text behind the transparent
/// control, with the same font, padding, wrapping and scroll, hidden from screen readers —
/// and listed below it under "Consider other wording", each with why and one button per
/// suggestion. Finding them never touches the control's value or caret; what is typed is
/// saved as typed. Pressing a suggestion replaces that phrase through `on_input` (the
/// writers diff it into a splice of just those words) and puts the caret after them.
#[component]
pub fn TextField(
    #[prop(into)] id: String,
    #[prop(into)] value: Signal<String>,
    #[prop(into)] on_input: Callback<String>,
    /// Lines to show: a `<textarea>` when given, else an `<input>`.
    #[prop(optional)]
    rows: Option<u32>,
    /// Ids of the hint and error message describing it.
    #[prop(optional, into)]
    describedby: MaybeProp<String>,
    #[prop(optional, into)] autocomplete: MaybeProp<String>,
    #[prop(optional, into)] disabled: Signal<bool>,
) -> impl IntoView {
    let initial = value.get_untracked();
    // What the control shows, as the prompts see it.
    let text = RwSignal::new(initial.clone());
    // Where the worker is typing (UTF-16), until they pause or leave the field.
    let typing_at = RwSignal::new(None::<usize>);
    let pause = StoredValue::new(0u32);
    let findings = Memo::new(move |_| text.with(|t| language::find(t)));
    let prompts = Memo::new(move |_| {
        let at = typing_at.get();
        findings.with(|all| {
            let mut seen: Vec<&str> = Vec::new();
            let mut out = Vec::new();
            for f in all {
                let nth = seen.iter().filter(|t| **t == f.text).count();
                seen.push(&f.text);
                if at == Some(f.utf16.end) {
                    continue;
                }
                out.push(Prompt {
                    text: f.text.clone(),
                    nth,
                    why: f.why,
                    suggestions: f.suggestions.clone(),
                    advice: f.advice.clone(),
                });
            }
            out
        })
    });
    let stretches = Memo::new(move |_| {
        let at = typing_at.get();
        text.with(|t| {
            findings.with(|all| {
                let mut out = Vec::new();
                let shown = shown(all, at);
                // Nothing to underline: no copy of the text at all.
                if shown.is_empty() {
                    return out;
                }
                let mut from = 0;
                for f in shown {
                    if f.bytes.start > from {
                        out.push(Stretch::Plain(t[from..f.bytes.start].to_owned()));
                    }
                    out.push(Stretch::Marked(t[f.bytes.clone()].to_owned()));
                    from = f.bytes.end;
                }
                // A copy of a text ending in a line break needs something on the last line to
                // be as tall as the control.
                out.push(Stretch::Plain(format!("{} ", &t[from..])));
                out
            })
        })
    });
    let mirror = NodeRef::<leptos::html::Div>::new();
    let area = NodeRef::<leptos::html::Textarea>::new();
    let line = NodeRef::<leptos::html::Input>::new();
    let control = move || -> Option<Box<dyn TextControl>> {
        match (area.get(), line.get()) {
            (Some(a), _) => Some(Box::new(a)),
            (None, Some(l)) => Some(Box::new(l)),
            (None, None) => None,
        }
    };
    // The copy scrolls with the control.
    let follow = move || {
        if let (Some(m), Some(c)) = (mirror.get(), control()) {
            m.set_scroll_top(c.element().scroll_top());
            m.set_scroll_left(c.element().scroll_left());
        }
    };
    Effect::new(move |_| {
        stretches.track();
        follow();
    });
    Effect::new(move |_| {
        let v = value.get();
        if let Some(a) = area.get() {
            show_value(&a, &v);
            text.set(a.value());
        } else if let Some(l) = line.get() {
            show_value(&l, &v);
            text.set(l.value());
        }
    });
    let typed = move |ev: web_sys::Event| {
        let v = event_target_value(&ev);
        let at = control()
            .and_then(|c| c.selection())
            .map(|(_, end)| end as usize);
        text.set(v.clone());
        typing_at.set(at);
        on_input.run(v);
        // After a pause the phrase at the caret is shown too.
        let n = pause.get_value().wrapping_add(1);
        pause.set_value(n);
        let cb = Closure::once_into_js(move || {
            if pause.try_get_value() == Some(n) {
                typing_at.try_set(None);
            }
        });
        // Cannot fail for a window; if it ever did, the phrase shows on the next keystroke.
        let _ = web_sys::window()
            .expect("window")
            .set_timeout_with_callback_and_timeout_and_arguments_0(cb.unchecked_ref(), PAUSE_MS);
    };
    let left = move |_| typing_at.set(None);
    let prompts_id = format!("{id}-wording");
    let field = match rows {
        Some(rows) => view! {
            <textarea id=id.clone() class="fb-textarea fb-lang-control" rows=rows node_ref=area aria-describedby=move || describedby.get()
                      autocomplete=move || autocomplete.get() disabled=move || disabled.get() prop:value=initial
                      on:input=typed on:blur=left on:scroll=move |_| follow()></textarea>
        }
        .into_any(),
        None => view! {
            <input id=id.clone() class="fb-input fb-lang-control" type="text" node_ref=line aria-describedby=move || describedby.get()
                   autocomplete=move || autocomplete.get() disabled=move || disabled.get() prop:value=initial
                   on:input=typed on:blur=left on:scroll=move |_| follow() on:keyup=move |_| follow()/>
        }
        .into_any(),
    };
    let mirror_class = if rows.is_some() {
        "fb-lang-mirror fb-lang-mirror-lines"
    } else {
        "fb-lang-mirror fb-lang-mirror-line"
    };
    let suggestion = move |p: Prompt, i: usize, s: String| {
        let name = format!("Use ‘{s}’");
        let instead = format!(" instead of ‘{}’", p.text);
        view! {
            <button type="button" class="fb-button fb-button-secondary fb-lang-use" data-testid="use-wording"
                    on:click=move |_| {
                        if let Some(c) = control() {
                            if let Some(changed) = accept(&*c, &p, i, on_input) {
                                text.set(changed);
                                typing_at.set(None);
                            } else {
                                text.set(c.text());
                            }
                        }
                    }>
                {name}<span class="fb-visually-hidden">{instead}</span>
            </button>
        }
    };
    view! {
        <div class="fb-lang-field">
            <div class=mirror_class node_ref=mirror aria-hidden="true" data-testid="wording-mirror">
                {move || stretches.get().into_iter().map(|s| match s {
                    Stretch::Plain(t) => t.into_any(),
                    Stretch::Marked(t) => view! { <mark class="fb-lang-mark">{t}</mark> }.into_any(),
                }).collect_view()}
            </div>
            {field}
        </div>
        <div class="fb-lang-prompts" id=prompts_id aria-live="polite" data-testid="wording">
            <Show when=move || prompts.with(|p| !p.is_empty())>
                <p class="fb-lang-title">"Consider other wording"</p>
            </Show>
            <ul class="fb-lang-list">
                <For each=move || prompts.get() key=|p| (p.text.clone(), p.nth) let:p>
                    <li class="fb-lang-item" data-testid="wording-item">
                        <p class="fb-lang-why"><strong>{format!("‘{}’", p.text)}</strong>{format!(": {}", p.why)}</p>
                        {p.advice.clone().map(|a| view! { <p class="fb-hint">{a}</p> })}
                        {p.suggestions.iter().cloned().enumerate().map(|(i, s)| suggestion(p.clone(), i, s)).collect_view()}
                    </li>
                </For>
            </ul>
        </div>
    }
}

/// What a JavaScript exception says, for a person.
pub fn js_error(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "the browser refused".to_owned())
}

/// Offer `text` as a CSV file called `name` (a Blob and a temporary link; the link and the
/// object URL are gone straight after).
pub fn download(name: &str, text: &str) -> Result<(), String> {
    let window = web_sys::window().ok_or("no window")?;
    let document = window.document().ok_or("no document")?;
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("text/csv;charset=utf-8");
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options)
        .map_err(|e| js_error(&e))?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(|e| js_error(&e))?;
    let a: web_sys::HtmlAnchorElement = document
        .create_element("a")
        .map_err(|e| js_error(&e))?
        .dyn_into()
        .map_err(|_| "could not make a link".to_owned())?;
    a.set_href(&url);
    a.set_download(name);
    a.set_class_name("fb-visually-hidden");
    let body = document.body().ok_or("no page body")?;
    body.append_child(&a).map_err(|e| js_error(&e))?;
    a.click();
    a.remove();
    web_sys::Url::revoke_object_url(&url).map_err(|e| js_error(&e))?;
    Ok(())
}
