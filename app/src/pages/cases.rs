//! The caseload: every case on this device (and, once synced, every case on the server).

use fieldbook_case::route::Route;
use fieldbook_case::{self as case, status, validate, vocab};
use fieldbook_sync::DocumentId;
use leptos::prelude::*;

use crate::driver::Driver;
use crate::ui::{field_error, go, ErrorSummary, TextField};

#[component]
pub fn CaseList(driver: Driver) -> impl IntoView {
    let s = driver.signals;
    let name = RwSignal::new(String::new());
    let known_as = RwSignal::new(String::new());
    let dob = RwSignal::new(String::new());
    let errors = RwSignal::new(Vec::new());
    let d = driver.clone();
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let profile = case::Profile {
            name: name.get_untracked().trim().to_owned(),
            known_as: known_as.get_untracked().trim().to_owned(),
            dob: dob.get_untracked(),
            worker: d.author(),
            ..Default::default()
        };
        let problems = validate::profile(&profile);
        if !problems.is_empty() {
            errors.set(problems);
            return;
        }
        errors.set(Vec::new());
        match d.create_case(&profile) {
            Ok(id) => go(&Route::Case(id)),
            Err(e) => s.error.set(Some(e)),
        }
    };
    let d = driver.clone();
    let rows = move || {
        s.revision.get();
        let mut rows: Vec<(DocumentId, case::Case)> = s
            .cases
            .get()
            .into_iter()
            .filter_map(|id| {
                d.with_doc(&id, |doc| case::is_case(doc).then(|| (id, case::read(doc))))
                    .flatten()
            })
            .collect();
        rows.sort_by(|a, b| a.1.profile.name.cmp(&b.1.profile.name));
        rows
    };
    let progress = move || {
        status::progress(s.fetched.get()).map(|text| {
            view! {
                <div class="fb-progress" role="status" data-testid="caseload-progress">
                    <p>{text}</p>
                    <Show when=move || { let (h, t) = s.fetched.get(); h < t }>
                        <progress max=move || s.fetched.get().1 value=move || s.fetched.get().0></progress>
                    </Show>
                </div>
            }
        })
    };
    view! {
        <h1>"Cases"</h1>
        {progress}
        <ul class="fb-list" data-testid="case-list">
            <For each=rows key=|(id, c)| (*id, c.profile.name.clone(), c.notes.len(), c.shown_hazards().len()) let:row>
                <li>
                    <a href=Route::Case(row.0).href()>{row.1.profile.name.clone()}</a>
                    <span class="fb-hint">{format!(" · {}", vocab::count(row.1.notes.len(), "note", "notes"))}</span>
                    {row.1.shown_hazards().iter().map(|h| view! { <span class="fb-tag fb-tag-red">{h.label.clone()}</span> }).collect_view()}
                </li>
            </For>
        </ul>
        <h2>"Add a case"</h2>
        {move || view! { <ErrorSummary errors=errors.get()/> }}
        <form on:submit=create novalidate>
            {move || field_error(&errors.get(), "case-name")}
            <label class="fb-label" for="case-name">"Name"</label>
            <TextField id="case-name" autocomplete="off" value=name on_input=move |v: String| name.set(v)/>
            <label class="fb-label" for="case-known-as">"Known as"</label>
            <TextField id="case-known-as" autocomplete="off" value=known_as on_input=move |v: String| known_as.set(v)/>
            {move || field_error(&errors.get(), "case-dob")}
            <label class="fb-label" for="case-dob">"Date of birth"</label>
            <input id="case-dob" class="fb-input fb-input-short" type="date" prop:value=move || dob.get() on:input=move |ev| dob.set(event_target_value(&ev))/>
            <button class="fb-button" type="submit">"Create case"</button>
        </form>
        <p><a href=Route::Settings.href()>"You and this device"</a></p>
    }
}
