//! "CCE concerns identified — a risk assessment is needed": when the concerns came to light
//! and what they are. The date starts the 10-day risk assessment clock (and the 15-day
//! meeting clock when a meeting is required).

use fieldbook_case::concerns::{self, Concern};
use fieldbook_case::route::Route;
use fieldbook_case::{removal, validate, vocab, Case};
use fieldbook_sync::DocumentId;
use leptos::prelude::*;

use super::{case_memo, looking, CaseTop};
use crate::driver::Driver;
use crate::ui::{
    field_error, format_time, from_local_input, go, new_id, now, to_local_input, ErrorSummary,
    TextField,
};

const CONCERN_GONE: &str =
    "This record is no longer on this device (it may have been removed on another device). Your change was not saved.";

#[component]
pub fn ConcernForm(driver: Driver, id: DocumentId, concern: Option<String>) -> impl IntoView {
    let c = case_memo(&driver, id);
    let cid = concern.clone();
    let found = Memo::new(move |_| match &cid {
        None => Some(None),
        Some(cid) => c.with(|k| {
            k.as_ref()
                .and_then(|k| k.concerns.iter().find(|x| &x.id == cid).cloned().map(Some))
        }),
    });
    let ready = Memo::new(move |_| found.with(Option::is_some));
    view! {
        <CaseTop case=c id=id/>
        {move || if ready.get() {
            let existing = found.get_untracked().flatten();
            view! { <ConcernFields driver=driver.clone() id=id existing=existing/> }.into_any()
        } else {
            looking()
        }}
    }
}

#[component]
fn ConcernFields(driver: Driver, id: DocumentId, existing: Option<Concern>) -> impl IntoView {
    let is_new = existing.is_none();
    // The kinds ticked when the form opened: only changes are written.
    let ticked_before = existing
        .as_ref()
        .map(|x| x.types.clone())
        .unwrap_or_default();
    let c = RwSignal::new(existing.unwrap_or_else(|| Concern {
        id: new_id(),
        ..Default::default()
    }));
    let errors = RwSignal::new(Vec::new());
    let d = driver.clone();
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let mut concern = c.get_untracked();
        if concern.by.is_empty() {
            concern.by = d.author();
        }
        let problems = validate::concern(&concern, now());
        if !problems.is_empty() {
            errors.set(problems);
            return;
        }
        let saved = if is_new {
            d.act(id, |tx| concerns::add(tx, &concern))
        } else {
            d.act_on(id, CONCERN_GONE, |tx| {
                if !concerns::set_what(tx, &concern.id, &concern.what)? {
                    return Ok(false);
                }
                for (t, _) in vocab::CONCERN_TYPES {
                    let on = concern.types.iter().any(|x| x == t);
                    if on != ticked_before.iter().any(|x| x == t)
                        && !concerns::set_type(tx, &concern.id, t, on)?
                    {
                        return Ok(false);
                    }
                }
                Ok(true)
            })
        };
        if saved {
            go(&Route::Case(id));
        }
    };
    view! {
        <h1>"CCE concerns identified"</h1>
        <p class="fb-hint">"A risk assessment is needed: complete it within 10 days of the concerns coming to light."</p>
        {move || view! { <ErrorSummary errors=errors.get()/> }}
        <form on:submit=save novalidate>
            {move || field_error(&errors.get(), "concern-date")}
            {if is_new {
                view! {
                    <label class="fb-label" for="concern-date">"When the concerns came to light"</label>
                    <input id="concern-date" class="fb-input fb-input-short" type="datetime-local"
                           prop:value=move || c.with(|c| if c.at > 0 { to_local_input(c.at) } else { String::new() })
                           on:change=move |ev| { let v = from_local_input(&event_target_value(&ev)); c.update(|c| c.at = v.unwrap_or(0)) }/>
                }.into_any()
            } else {
                view! {
                    <p><strong>"When the concerns came to light: "</strong>{format_time(c.with_untracked(|c| c.at))}</p>
                }.into_any()
            }}
            {move || field_error(&errors.get(), "concern-what")}
            <label class="fb-label" for="concern-what">"What the concerns are"</label>
            <TextField id="concern-what" rows=5 value=Signal::derive(move || c.with(|c| c.what.clone()))
                       on_input=move |v: String| c.update(|c| c.what = v)/>
            <fieldset class="fb-fieldset">
                <legend class="fb-label">"Kind of exploitation"</legend>
                <p class="fb-hint">"Tick all that apply. Counted in the monthly service dataset."</p>
                {vocab::CONCERN_TYPES.iter().map(|(t, label)| {
                    let cid = format!("concern-type-{t}");
                    view! {
                        <div class="fb-checkbox">
                            <input type="checkbox" id=cid.clone() prop:checked=move || c.with(|c| c.types.iter().any(|x| x == t))
                                   on:change=move |ev| { let on = event_target_checked(&ev); c.update(|c| { c.types.retain(|x| x != t); if on { c.types.push((*t).to_owned()) } }) }/>
                            <label for=cid>{*label}</label>
                        </div>
                    }
                }).collect_view()}
            </fieldset>
            <button class="fb-button" type="submit" data-testid="save-concern">"Save"</button>
        </form>
    }
}

/// The case page's list of concern records, with "Record CCE concerns".
#[component]
pub fn ConcernList(case: Memo<Option<Case>>, id: DocumentId) -> impl IntoView {
    let list = Memo::new(move |_| {
        case.with(|c| {
            c.as_ref()
                .map(|c| {
                    c.concerns
                        .iter()
                        .filter(|x| removal::visible(&x.removal))
                        .cloned()
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
    });
    view! {
        <h2>"CCE concerns identified"</h2>
        {move || {
            let all = list.get();
            (!all.is_empty()).then(|| view! {
                <ul class="fb-list" data-testid="concerns">
                    {all.into_iter().map(|x| view! {
                        <li>
                            <a href=Route::concern(id, &x.id).href()>{format!("Concerns identified {}", format_time(x.at))}</a>
                            <p class="fb-note-text">{x.what.clone()}</p>
                        </li>
                    }).collect_view()}
                </ul>
            })
        }}
        <p><a class="fb-button fb-button-secondary" data-testid="record-concern" href=Route::Concern(id, None).href()>"Record CCE concerns"</a></p>
    }
}
