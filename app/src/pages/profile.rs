//! About the young person: every field saved as it is typed (`docs/domain/case-file.md`).

use fieldbook_case::profile::{self, ProfileField};
use fieldbook_case::route::Route;
use fieldbook_case::{vocab, Case};
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
        ProfileField::TransitionWorker => (
            "Transition-to-adulthood worker",
            Some("Allocate one by their 17th birthday."),
        ),
        ProfileField::TransitionAllocated => ("Date the transition worker was allocated", None),
        ProfileField::ExternalLevel => (
            "Level from another area's tool (as stated)",
            Some("Exactly as the other area wrote it, for example \"Very high\"."),
        ),
        ProfileField::ExternalSource => (
            "Area and tool",
            Some("Which area's assessment tool gave that level."),
        ),
    }
}

/// Legal statuses as checkboxes: they combine (looked after *and* a care order). A status
/// no longer offered but recorded on this case stays shown, ticked, with its old label.
/// Each box is built once (ticking one never re-creates it under the finger or the focus).
#[component]
fn LegalStatuses(driver: Driver, id: DocumentId, case: Memo<Option<Case>>) -> impl IntoView {
    let ticked = Memo::new(move |_| {
        case.with(|k| {
            k.as_ref()
                .map(|k| k.profile.legal_statuses.clone())
                .unwrap_or_default()
        })
    });
    let others = Memo::new(move |_| {
        ticked.with(|t| {
            t.iter()
                .filter(|v| !vocab::LEGAL_STATUS.iter().any(|(x, _)| x == v))
                .cloned()
                .collect::<Vec<_>>()
        })
    });
    let checkbox = move |v: String, label: String| {
        let d = driver.clone();
        let cid = format!("legal-{v}");
        let key = v.clone();
        view! {
            <div class="fb-checkbox">
                <input type="checkbox" id=cid.clone() prop:checked=move || ticked.with(|t| t.contains(&key))
                       on:change=move |ev| { let on = event_target_checked(&ev); d.act(id, |tx| profile::set_legal_status(tx, &v, on)); }/>
                <label for=cid>{label}</label>
            </div>
        }
    };
    let offered = vocab::LEGAL_STATUS
        .iter()
        .map(|(v, l)| checkbox((*v).to_owned(), (*l).to_owned()))
        .collect_view();
    let retired = {
        let checkbox = checkbox.clone();
        move || {
            others
                .get()
                .into_iter()
                .map(|v| {
                    let l = vocab::legal_status_label(&v);
                    checkbox(v, l)
                })
                .collect_view()
        }
    };
    view! {
        <fieldset class="fb-fieldset" id="profile-legalStatus">
            <legend class="fb-label">"Legal status"</legend>
            <p class="fb-hint">"Tick every one that applies."</p>
            {offered}
            {retired}
        </fieldset>
    }
}

/// Education as services count it, as radios; a status no longer offered but recorded on
/// this case stays shown, selected, with its old label.
#[component]
fn Education(driver: Driver, id: DocumentId, case: Memo<Option<Case>>) -> impl IntoView {
    let current = Memo::new(move |_| {
        case.with(|k| {
            k.as_ref()
                .map(|k| k.profile.education.clone())
                .unwrap_or_default()
        })
    });
    let other = Memo::new(move |_| {
        current.with(|c| {
            (!c.is_empty() && !vocab::EDUCATION.iter().any(|(x, _)| x == c)).then(|| c.clone())
        })
    });
    let radio = move |first: bool, v: String, label: String| {
        let d = driver.clone();
        let rid = if first {
            "profile-education".to_owned()
        } else {
            format!("profile-education-{v}")
        };
        let key = v.clone();
        view! {
            <div class="fb-radio">
                <input type="radio" id=rid.clone() name="profile-education" value=v.clone()
                       prop:checked=move || current.with(|c| *c == key)
                       on:change=move |_| { d.act(id, |tx| profile::set_field(tx, ProfileField::Education, &v)); }/>
                <label for=rid>{label}</label>
            </div>
        }
    };
    let offered = vocab::EDUCATION
        .iter()
        .enumerate()
        .map(|(i, (v, l))| radio(i == 0, (*v).to_owned(), (*l).to_owned()))
        .collect_view();
    let retired = {
        let radio = radio.clone();
        move || {
            other.get().map(|v| {
                let l = vocab::education_label(&v);
                radio(false, v, l)
            })
        }
    };
    view! {
        <fieldset class="fb-fieldset">
            <legend class="fb-label">"Education"</legend>
            {offered}
            {retired}
        </fieldset>
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
        let save = {
            let d = d.clone();
            move |v: String| { d.act(id, |tx| profile::set_field(tx, f, &v)); }
        };
        let hint_id = format!("{fid}-hint");
        let control = match f {
            ProfileField::LegalStatus => {
                return view! { <LegalStatuses driver=d id=id case=c/> }.into_any();
            }
            ProfileField::Education => {
                return view! { <Education driver=d id=id case=c/> }.into_any();
            }
            ProfileField::Dob | ProfileField::TransitionAllocated => view! {
                <input id=fid.clone() class="fb-input fb-input-short" type="date" aria-describedby=hint.map(|_| hint_id.clone())
                       prop:value=value on:change=move |ev| save(event_target_value(&ev))/>
            }.into_any(),
            ProfileField::Needs | ProfileField::KeyContacts | ProfileField::Voice | ProfileField::Placement => view! {
                <TextField id=fid.clone() rows=3 describedby=hint.map(|_| hint_id.clone()) value=Signal::derive(value) on_input=save/>
            }.into_any(),
            _ => view! {
                <TextField id=fid.clone() describedby=hint.map(|_| hint_id.clone()) value=Signal::derive(value) on_input=save/>
            }.into_any(),
        };
        view! {
            <label class="fb-label" for=fid>{text}</label>
            {hint.map(|h| view! { <p class="fb-hint" id=hint_id>{h}</p> })}
            {control}
        }.into_any()
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
