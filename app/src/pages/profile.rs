//! About the young person: every field saved as it is typed (`docs/domain/case-file.md`).

use fieldbook_case::profile::{self, ProfileField};
use fieldbook_case::route::Route;
use fieldbook_case::vocab::{self, Choice};
use fieldbook_sync::DocumentId;
use leptos::prelude::*;

use super::{case_memo, looking, CaseTop};
use crate::driver::Driver;
use crate::ui::TextField;

fn label(f: ProfileField) -> (&'static str, Option<&'static str>) {
    match f {
        ProfileField::Name => ("Name", None),
        ProfileField::KnownAs => ("Known as", None),
        ProfileField::Dob => ("Date of birth", None),
        ProfileField::Gender => ("Gender", None),
        ProfileField::Address => ("Where they live", None),
        ProfileField::Placement => ("Placement type and location", Some("If looked after.")),
        ProfileField::FamilyAddress => (
            "Family home address",
            Some("Keep this even when they are placed elsewhere."),
        ),
        ProfileField::Worker => ("Allocated worker(s)", None),
        ProfileField::Team => ("Team", None),
        ProfileField::LegalStatus => ("Legal status", None),
        ProfileField::Education => ("Education", None),
        ProfileField::Needs => (
            "Additional needs",
            Some(
                "For example a learning need, and how it should shape the way you work with them.",
            ),
        ),
        ProfileField::KeyContacts => ("Key contacts", Some("Parent or carer, trusted adult.")),
        ProfileField::Voice => (
            "In their own words",
            Some("What they want, as they say it."),
        ),
        ProfileField::TransitionWorker => ("Transition to adulthood worker", None),
        ProfileField::TransitionAllocated => ("Date the transition worker was allocated", None),
        ProfileField::ExternalLevel => (
            "Risk level recorded by another area",
            Some("Exactly as they stated it, for example \"Very high\"."),
        ),
        ProfileField::ExternalSource => ("Which area and tool recorded it", None),
    }
}

fn choices(f: ProfileField) -> Option<&'static [Choice]> {
    match f {
        ProfileField::LegalStatus => Some(vocab::LEGAL_STATUS),
        ProfileField::Education => Some(vocab::EDUCATION),
        _ => None,
    }
}

#[component]
pub fn ProfileForm(driver: Driver, id: DocumentId) -> impl IntoView {
    let c = case_memo(&driver, id);
    let exists = Memo::new(move |_| c.with(Option::is_some));
    let fields = ProfileField::ALL.into_iter().map(|f| {
        let d = driver.clone();
        let fid = format!("profile-{}", f.key());
        let (text, hint) = label(f);
        let value = move || c.with(|k| k.as_ref().map(|k| k.profile.get(f).to_owned()).unwrap_or_default());
        let save = move |v: String| { d.act(id, |tx| profile::set_field(tx, f, &v)); };
        let hint_id = format!("{fid}-hint");
        let control = match (choices(f), f) {
            (Some(list), _) => view! {
                <select id=fid.clone() class="fb-input" on:change=move |ev| save(event_target_value(&ev))>
                    <option value="" selected=move || value().is_empty()>"Not recorded"</option>
                    {list.iter().map(|(v, l)| view! { <option value=*v selected=move || value() == *v>{*l}</option> }).collect_view()}
                </select>
            }.into_any(),
            (None, ProfileField::Dob | ProfileField::TransitionAllocated) => view! {
                <input id=fid.clone() class="fb-input fb-input-short" type="date" prop:value=value on:change=move |ev| save(event_target_value(&ev))/>
            }.into_any(),
            (None, ProfileField::Needs | ProfileField::KeyContacts | ProfileField::Voice | ProfileField::Placement) => view! {
                <TextField id=fid.clone() rows=3 describedby=hint.map(|_| hint_id.clone()) value=Signal::derive(value) on_input=save/>
            }.into_any(),
            (None, _) => view! {
                <TextField id=fid.clone() describedby=hint.map(|_| hint_id.clone()) value=Signal::derive(value) on_input=save/>
            }.into_any(),
        };
        view! {
            <label class="fb-label" for=fid>{text}</label>
            {hint.map(|h| view! { <p class="fb-hint" id=hint_id>{h}</p> })}
            {control}
        }
    }).collect_view();
    view! {
        <CaseTop case=c id=id/>
        {move || (!exists.get()).then(looking)}
        <div style:display=move || if exists.get() { "block" } else { "none" }>
            <h1>"About the young person"</h1>
            {fields}
            <a class="fb-button" href=Route::Case(id).href()>"Done"</a>
        </div>
    }
}
