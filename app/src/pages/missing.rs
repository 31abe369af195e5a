//! Recording a missing episode and its return home interview. Saved with one button after
//! validation: an interview that was not completed cannot be saved without a reason.

use fieldbook_case::missing::{self, Episode, RHI_STATES};
use fieldbook_case::route::Route;
use fieldbook_case::{clocks, validate, vocab, Case};
use fieldbook_sync::DocumentId;
use leptos::prelude::*;

use super::{case_memo, looking, CaseTop};
use crate::driver::Driver;
use crate::ui::{
    field_error, format_time, from_local_input, go, new_id, now, to_local_input, ErrorSummary,
    Radios, TextField,
};

#[component]
pub fn MissingForm(driver: Driver, id: DocumentId, episode: Option<String>) -> impl IntoView {
    let c = case_memo(&driver, id);
    // An existing episode is edited only once it is on this device: saving a form that was
    // never filled from it would blank its fields.
    let eid = episode.clone();
    let found = Memo::new(move |_| match &eid {
        None => Some(None),
        Some(eid) => c.with(|k| {
            k.as_ref()
                .and_then(|k| k.missing.iter().find(|e| &e.id == eid).cloned().map(Some))
        }),
    });
    let ready = Memo::new(move |_| found.with(Option::is_some));
    view! {
        <CaseTop case=c id=id/>
        <super::moment::NeedsCallout case=c/>
        {move || if ready.get() {
            let existing = found.get_untracked().flatten();
            view! { <MissingFields driver=driver.clone() id=id case=c existing=existing/> }.into_any()
        } else {
            looking()
        }}
    }
}

#[component]
fn MissingFields(
    driver: Driver,
    id: DocumentId,
    case: Memo<Option<Case>>,
    existing: Option<Episode>,
) -> impl IntoView {
    let e = RwSignal::new(existing.unwrap_or_else(|| Episode {
        id: new_id(),
        ..Default::default()
    }));
    let errors = RwSignal::new(Vec::new());
    // When the interview was due for this return (48 hours where exploitation is suspected,
    // else 72), and whether the one recorded was completed after that.
    let due = Memo::new(move |_| {
        let end = e.with(|e| e.end)?;
        case.with(|c| c.as_ref().map(|c| clocks::rhi_due(c, end)))
    });
    let late = Memo::new(move |_| {
        let due = due.get();
        e.with(|e| {
            e.rhi == "completed"
                && matches!((e.rhi_completed, due), (Some(t), Some(due)) if t > due)
        })
    });
    let d = driver.clone();
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let episode = e.get_untracked();
        let mut problems = validate::missing(&episode, now());
        if let Some(due) = due.get_untracked() {
            problems.extend(validate::rhi_late(&episode, due));
        }
        if !problems.is_empty() {
            errors.set(problems);
            return;
        }
        if d.act(id, |tx| missing::save(tx, &episode)) {
            go(&Route::Case(id));
        }
    };
    let time_input = move |fid: &'static str,
                           label: &'static str,
                           get: fn(&Episode) -> Option<i64>,
                           set: fn(&mut Episode, Option<i64>)| {
        view! {
            {move || field_error(&errors.get(), fid)}
            <label class="fb-label" for=fid>{label}</label>
            <input id=fid class="fb-input fb-input-short" type="datetime-local"
                   prop:value=move || e.with(|e| get(e).filter(|t| *t > 0).map(to_local_input).unwrap_or_default())
                   on:change=move |ev| { let v = from_local_input(&event_target_value(&ev)); e.update(|e| set(e, v)) }/>
        }
    };
    let text_input = move |fid: &'static str,
                           label: &'static str,
                           get: fn(&Episode) -> String,
                           set: fn(&mut Episode, String)| {
        view! {
            {move || field_error(&errors.get(), fid)}
            <label class="fb-label" for=fid>{label}</label>
            <TextField id=fid value=Signal::derive(move || e.with(get)) on_input=move |v: String| e.update(|e| set(e, v))/>
        }
    };
    view! {
        <h1>"Missing episode"</h1>
        {move || view! { <ErrorSummary errors=errors.get()/> }}
        <form on:submit=save novalidate>
            {time_input("missing-start", "When they went missing", |e| Some(e.start), |e, v| e.start = v.unwrap_or(0))}
            {move || field_error(&errors.get(), "missing-from")}
            <Radios id="missing-from".into() legend="Missing from".into() choices=&[("home", "Home"), ("care", "Care")]
                    selected=Some(e.get_untracked().from) on_pick=Callback::new(move |v| e.update(|e| e.from = v)) hint=None/>
            {text_input("missing-reported-by", "Reported by", |e| e.reported_by.clone(), |e, v| e.reported_by = v)}
            {time_input("missing-end", "When they were found or returned (leave empty if still missing)", |e| e.end, |e, v| e.end = v)}
            {text_input("missing-found-where", "Where they were found", |e| e.found_where.clone(), |e, v| e.found_where = v)}
            {text_input("missing-found-with", "Who they were with", |e| e.found_with.clone(), |e, v| e.found_with = v)}
            {text_input("missing-injuries", "Injuries or signs on return", |e| e.injuries.clone(), |e, v| e.injuries = v)}
            <h2>"Return home interview"</h2>
            <p class="fb-hint">"Offer it within 24 hours of their return and complete it within 72 hours (48 hours when criminal exploitation is suspected)."</p>
            {time_input("rhi-offered", "When it was offered", |e| e.rhi_offered, |e, v| e.rhi_offered = v)}
            {move || field_error(&errors.get(), "rhi")}
            // Not `Radios`: its ids (`rhi-<value>`) would give the "Completed" radio the id of
            // the completion time below, and that field's label would point at the radio.
            <fieldset class="fb-fieldset">
                <legend class="fb-label">"Was the interview completed?"</legend>
                {RHI_STATES.iter().enumerate().map(|(i, (v, label))| {
                    let rid = if i == 0 { "rhi".to_owned() } else { format!("rhi-state-{v}") };
                    view! {
                        <div class="fb-radio">
                            <input type="radio" id=rid.clone() name="rhi" value=*v
                                   prop:checked=move || e.with(|e| e.rhi == *v)
                                   on:change=move |_| e.update(|e| e.rhi = (*v).to_owned())/>
                            <label for=rid>{*label}</label>
                        </div>
                    }
                }).collect_view()}
            </fieldset>
            <Show when=move || e.with(|e| e.rhi == "completed")>
                {time_input("rhi-completed", "When it was completed", |e| e.rhi_completed, |e, v| e.rhi_completed = v)}
            </Show>
            <Show when=move || late.get()>
                <div class="fb-conditional" data-testid="rhi-late">
                    {move || field_error(&errors.get(), "rhi-late-reason")}
                    <fieldset class="fb-fieldset" id="rhi-late-reason" tabindex="-1">
                        <legend class="fb-label">"The interview was late. Why?"</legend>
                        {move || due.get().map(|t| view! { <p class="fb-hint">{format!("It was due by {}.", format_time(t))}</p> })}
                        {vocab::RHI_LATE_REASONS.iter().map(|(rid, label)| {
                            let iid = format!("rhi-late-reason-{rid}");
                            view! {
                                <div class="fb-radio">
                                    <input type="radio" id=iid.clone() name="rhi-late-reason" value=*rid
                                           prop:checked=move || e.with(|e| e.rhi_late_reason == *rid)
                                           on:change=move |_| e.update(|e| e.rhi_late_reason = (*rid).to_owned())/>
                                    <label for=iid>{*label}</label>
                                </div>
                            }
                        }).collect_view()}
                    </fieldset>
                    {move || field_error(&errors.get(), "rhi-late-text")}
                    <label class="fb-label" for="rhi-late-text">"Why it was late, in your words"</label>
                    <p class="fb-hint" id="rhi-late-text-hint">"Needed when the reason is \"Other\"."</p>
                    <TextField id="rhi-late-text" rows=3 describedby="rhi-late-text-hint" value=Signal::derive(move || e.with(|e| e.rhi_late_text.clone()))
                               on_input=move |v: String| e.update(|e| e.rhi_late_text = v)/>
                </div>
            </Show>
            <Show when=move || e.with(|e| e.rhi == "not-completed")>
                {move || field_error(&errors.get(), "rhi-reason")}
                <Radios id="rhi-reason".into() legend="Why was it not completed?".into() choices=vocab::RHI_REASONS
                        selected=Some(e.get_untracked().rhi_reason) on_pick=Callback::new(move |v| e.update(|e| e.rhi_reason = v)) hint=None/>
                {move || field_error(&errors.get(), "rhi-reason-text")}
                <label class="fb-label" for="rhi-reason-text">"Reason in your words"</label>
                <TextField id="rhi-reason-text" rows=3 value=Signal::derive(move || e.with(|e| e.rhi_reason_text.clone()))
                           on_input=move |v: String| e.update(|e| e.rhi_reason_text = v)/>
            </Show>
            <button class="fb-button" type="submit" data-testid="save-missing">"Save missing episode"</button>
        </form>
    }
}
