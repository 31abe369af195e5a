//! The NRM tracker: referral date and reference, the reasonable-grounds and conclusive-grounds
//! decisions with their dates, and whether the young person was told. Saving writes only
//! what changed (`fieldbook_case::nrm::save`): a referral or decision also moves the NRM
//! status, and the "NRM referral in place" label follows the status.

use fieldbook_case::nrm::{self, field, Tracker};
use fieldbook_case::route::Route;
use fieldbook_case::{vocab, Case};
use fieldbook_sync::DocumentId;
use leptos::prelude::*;

use super::{case_memo, looking, CaseTop};
use crate::driver::Driver;
use crate::ui::{field_error, go, new_id, now, ErrorSummary, Radios, TextField};

const TOLD: &[vocab::Choice] = &[("yes", "Yes"), ("no", "Not yet")];

#[component]
pub fn NrmPage(driver: Driver, id: DocumentId) -> impl IntoView {
    let c = case_memo(&driver, id);
    let ready = Memo::new(move |_| c.with(Option::is_some));
    view! {
        <CaseTop case=c id=id/>
        {move || if ready.get() {
            view! { <NrmForm driver=driver.clone() id=id case=c/> }.into_any()
        } else {
            looking()
        }}
    }
}

#[component]
fn NrmForm(driver: Driver, id: DocumentId, case: Memo<Option<Case>>) -> impl IntoView {
    let start = case
        .get_untracked()
        .map(|c| c.nrm.tracker())
        .unwrap_or_default();
    let t = RwSignal::new(start.clone());
    let errors = RwSignal::new(Vec::new());
    let d = driver.clone();
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(k) = case.get_untracked() else {
            return;
        };
        let new = t.get_untracked();
        let problems = nrm::validate(&new, now());
        if !problems.is_empty() {
            errors.set(problems);
            return;
        }
        errors.set(Vec::new());
        let (by, at) = (d.author(), now());
        if d.act(id, |tx| nrm::save(tx, &k.nrm, &new, &by, at, &mut new_id)) {
            go(&Route::Case(id));
        }
    };
    let date_input = move |fid: &'static str,
                           label: &'static str,
                           get: fn(&Tracker) -> String,
                           put: fn(&mut Tracker, String)| {
        view! {
            {move || field_error(&errors.get(), fid)}
            <label class="fb-label" for=fid>{label}</label>
            <input id=fid class="fb-input fb-input-short" type="date"
                   prop:value=move || t.with(get)
                   on:input=move |ev| { let v = event_target_value(&ev); t.update(|t| put(t, v)) }/>
        }
    };
    let pick =
        |put: fn(&mut Tracker, String)| Callback::new(move |v: String| t.update(|t| put(t, v)));
    let some = |v: &str| (!v.is_empty()).then(|| v.to_owned());
    view! {
        <h1>"National Referral Mechanism (NRM)"</h1>
        <p class="fb-hint">"The national process for identifying a child as a possible victim of trafficking or modern slavery. Dates are UK (London) dates."</p>
        {move || view! { <ErrorSummary errors=errors.get()/> }}
        <form on:submit=save novalidate>
            <h2>"Referral"</h2>
            {date_input(field::REFERRAL_DATE, "Date of the referral", |t| t.referral_date.clone(), |t, v| t.referral_date = v)}
            {move || field_error(&errors.get(), field::REFERENCE)}
            <label class="fb-label" for=field::REFERENCE>"Reference number"</label>
            <TextField id=field::REFERENCE autocomplete="off" value=Signal::derive(move || t.with(|t| t.reference.clone()))
                       on_input=move |v: String| t.update(|t| t.reference = v)/>
            <h2>"Reasonable grounds decision"</h2>
            {move || field_error(&errors.get(), field::RG)}
            <Radios id=field::RG.into() legend="Decision".into() choices=nrm::DECISIONS selected=some(&start.rg)
                    on_pick=pick(|t, v| t.rg = v) hint=None/>
            {date_input(field::RG_DATE, "Date of the decision", |t| t.rg_date.clone(), |t, v| t.rg_date = v)}
            <h2>"Conclusive grounds decision"</h2>
            {move || field_error(&errors.get(), field::CG)}
            <Radios id=field::CG.into() legend="Decision".into() choices=nrm::DECISIONS selected=some(&start.cg)
                    on_pick=pick(|t, v| t.cg = v) hint=None/>
            {date_input(field::CG_DATE, "Date of the decision", |t| t.cg_date.clone(), |t, v| t.cg_date = v)}
            <h2>"Telling the young person"</h2>
            {move || field_error(&errors.get(), field::TOLD)}
            <Radios id=field::TOLD.into() legend="Has the young person been told of the latest decision?".into() choices=TOLD selected=some(&start.told)
                    on_pick=pick(|t, v| t.told = v) hint=None/>
            {date_input(field::TOLD_DATE, "Date they were told", |t| t.told_date.clone(), |t, v| t.told_date = v)}
            <button class="fb-button" type="submit" data-testid="save-nrm">"Save"</button>
        </form>
    }
}
