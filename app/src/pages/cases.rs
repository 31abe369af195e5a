//! Home: "Due and overdue" for every case on this device (`home::DueList`), then adding a
//! case and how far the caseload has reached this device.

use fieldbook_case::route::Route;
use fieldbook_case::{self as case, status, validate};
use leptos::prelude::*;

use super::home::DueList;
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
        <h1>"Due and overdue"</h1>
        <p><a href=Route::CheckIn(None).href() data-testid="checkin-link">"Lone working: check in before a visit"</a></p>
        <DueList driver=driver.clone()/>
        {progress}
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
