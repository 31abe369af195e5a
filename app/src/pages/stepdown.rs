//! "Step down or close": the evidence a step-down or closure needs — the current level, when
//! the young person was last seen face to face, what changed and how we know, the exit
//! safety plan, the manager who agreed it and multi-agency sign-off — and the gate
//! (`fieldbook_case::stepdown`): refused while they have not been seen face to face for
//! longer than the service allows, unless a reason is recorded.

use fieldbook_case::clocks::london;
use fieldbook_case::route::Route;
use fieldbook_case::stepdown::{self, field, StepDown};
use fieldbook_case::{vocab, Case};
use fieldbook_sync::DocumentId;
use leptos::prelude::*;

use super::home::clock_settings;
use super::{case_memo, looking, CaseTop};
use crate::driver::Driver;
use crate::ui::{field_error, format_time, go, new_id, now, ErrorSummary, Radios, TextField};

/// ISO date (London) of an instant.
fn iso(ms: i64) -> String {
    let (y, m, d) = london::date_of(ms);
    format!("{y:04}-{m:02}-{d:02}")
}

#[component]
pub fn StepDownPage(driver: Driver, id: DocumentId) -> impl IntoView {
    let c = case_memo(&driver, id);
    let ready = Memo::new(move |_| c.with(Option::is_some));
    view! {
        <CaseTop case=c id=id/>
        {move || if ready.get() {
            view! { <StepDownForm driver=driver.clone() id=id case=c/> }.into_any()
        } else {
            looking()
        }}
    }
}

#[component]
fn StepDownForm(driver: Driver, id: DocumentId, case: Memo<Option<Case>>) -> impl IntoView {
    let settings = clock_settings(&driver);
    let start = case.get_untracked().unwrap_or_default();
    let seen = stepdown::last_seen(&start);
    let s = RwSignal::new(StepDown {
        date: iso(now()),
        last_seen: seen.map(iso).unwrap_or_default(),
        ..Default::default()
    });
    let errors = RwSignal::new(Vec::new());
    let d = driver.clone();
    let settings2 = settings.clone();
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(k) = case.get_untracked() else {
            return;
        };
        let mut record = s.get_untracked();
        record.id = new_id();
        record.at = now();
        record.by = d.author();
        if record.what != "step-down" {
            record.level.clear();
        }
        let problems = stepdown::validate(&record, &k, record.at, &settings2);
        if !problems.is_empty() {
            errors.set(problems);
            return;
        }
        errors.set(Vec::new());
        if d.act(id, |tx| stepdown::add(tx, &record)) {
            go(&Route::Case(id));
        }
    };
    let facts = Memo::new(move |_| {
        case.with(|k| {
            k.as_ref().map(|k| {
                let level = stepdown::current_level(k)
                    .map(|l| vocab::label(vocab::LEVELS, &l))
                    .unwrap_or_else(|| "No level recorded".to_owned());
                let seen = match stepdown::last_seen(k) {
                    Some(t) => format!(
                        "{} ({} ago)",
                        format_time(t),
                        vocab::count(stepdown::days_since(t, now()) as usize, "day", "days")
                    ),
                    None => "No face-to-face contact recorded".to_owned(),
                };
                (level, seen, stepdown::needs_sign_off(k))
            })
        })
    });
    let sign_off = Memo::new(move |_| facts.with(|f| f.as_ref().is_some_and(|f| f.2)));
    let limit = settings.not_seen_days;
    let text = move |key: &'static str| {
        Signal::derive(move || {
            s.with(|s| {
                fieldbook_case::schema::Texts::text(s, key)
                    .unwrap_or_default()
                    .to_owned()
            })
        })
    };
    let set = move |key: &'static str| {
        move |v: String| {
            s.update(|s| {
                if let Some(slot) = fieldbook_case::schema::Texts::text_mut(s, key) {
                    *slot = v;
                }
            })
        }
    };
    view! {
        <h1>"Step down or close"</h1>
        {move || view! { <ErrorSummary errors=errors.get()/> }}
        {move || facts.get().map(|(level, seen, _)| view! {
            <dl class="fb-summary-list" data-testid="stepdown-facts">
                <div class="fb-summary-row"><dt>"Current level"</dt><dd data-testid="stepdown-level-now">{level}</dd></div>
                <div class="fb-summary-row"><dt>"Last seen face to face"</dt><dd data-testid="stepdown-last-seen-now">{seen}</dd></div>
            </dl>
        })}
        <p class="fb-hint">{format!(
            "If they have not been seen face to face for more than {}, you must say why before stepping down or closing.",
            vocab::count(limit.max(0) as usize, "day", "days")
        )}</p>
        <form on:submit=save novalidate>
            {move || field_error(&errors.get(), field::WHAT)}
            <Radios id=field::WHAT.into() legend="What are you doing?".into() choices=stepdown::KINDS selected=None
                    on_pick=Callback::new(move |v| s.update(|s| s.what = v)) hint=None/>
            <Show when=move || s.with(|s| s.what == "step-down")>
                {move || field_error(&errors.get(), field::LEVEL)}
                <Radios id=field::LEVEL.into() legend="Level it steps down to".into() choices=vocab::LEVELS selected=None
                        on_pick=Callback::new(move |v| s.update(|s| s.level = v)) hint=None/>
            </Show>
            {move || field_error(&errors.get(), field::DATE)}
            <label class="fb-label" for=field::DATE>"Date of the step-down or closure"</label>
            <input id=field::DATE class="fb-input fb-input-short" type="date"
                   prop:value=move || s.with(|s| s.date.clone())
                   on:input=move |ev| { let v = event_target_value(&ev); s.update(|s| s.date = v) }/>
            {move || field_error(&errors.get(), field::LAST_SEEN)}
            <label class="fb-label" for=field::LAST_SEEN>"Date last seen face to face"</label>
            <p class="fb-hint" id="stepdown-last-seen-hint">"From the contact notes. Change it only if a face-to-face contact is not yet in the notes."</p>
            <input id=field::LAST_SEEN class="fb-input fb-input-short" type="date" aria-describedby="stepdown-last-seen-hint"
                   prop:value=move || s.with(|s| s.last_seen.clone())
                   on:input=move |ev| { let v = event_target_value(&ev); s.update(|s| s.last_seen = v) }/>
            {move || field_error(&errors.get(), field::REASON)}
            <label class="fb-label" for=field::REASON>"Why they have not been seen face to face recently"</label>
            <p class="fb-hint" id="stepdown-reason-hint">{format!(
                "Needed when the last face-to-face contact was more than {} ago.",
                vocab::count(limit.max(0) as usize, "day", "days")
            )}</p>
            <TextField id=field::REASON rows=3 describedby="stepdown-reason-hint" value=text("notSeenReason") on_input=set("notSeenReason")/>
            {move || field_error(&errors.get(), field::CHANGED)}
            <label class="fb-label" for=field::CHANGED>"What has changed, and how we know"</label>
            <TextField id=field::CHANGED rows=4 value=text("changed") on_input=set("changed")/>
            {move || field_error(&errors.get(), field::EXIT_PLAN)}
            <label class="fb-label" for=field::EXIT_PLAN>"Exit safety plan"</label>
            <p class="fb-hint" id="stepdown-exit-plan-hint">"Who stays in touch, what to do if things change, and who they can go to."</p>
            <TextField id=field::EXIT_PLAN rows=4 describedby="stepdown-exit-plan-hint" value=text("exitPlan") on_input=set("exitPlan")/>
            {move || field_error(&errors.get(), field::AGREED_BY)}
            <label class="fb-label" for=field::AGREED_BY>"Manager who agreed it"</label>
            <TextField id=field::AGREED_BY value=text("agreedBy") on_input=set("agreedBy")/>
            <fieldset class="fb-fieldset">
                <legend class="fb-label">{move || if sign_off.get() {
                    "Multi-agency sign-off (needed: this case has had a multi-agency meeting)"
                } else {
                    "Multi-agency sign-off (if any)"
                }}</legend>
                {move || field_error(&errors.get(), field::SIGN_OFF_BY)}
                <label class="fb-label" for=field::SIGN_OFF_BY>"Who signed it off"</label>
                <TextField id=field::SIGN_OFF_BY value=text("signOffBy") on_input=set("signOffBy")/>
                {move || field_error(&errors.get(), field::SIGN_OFF_DATE)}
                <label class="fb-label" for=field::SIGN_OFF_DATE>"When"</label>
                <input id=field::SIGN_OFF_DATE class="fb-input fb-input-short" type="date"
                       prop:value=move || s.with(|s| s.sign_off_date.clone())
                       on:input=move |ev| { let v = event_target_value(&ev); s.update(|s| s.sign_off_date = v) }/>
            </fieldset>
            <button class="fb-button" type="submit" data-testid="save-stepdown">"Save"</button>
        </form>
    }
}

/// "Closed on 3 March 2026" at the top of every case screen when the case is closed.
pub fn closed_banner(case: &Case) -> Option<String> {
    stepdown::closed(case).map(|c| format!("Closed on {}", fieldbook_case::long_date(&c.date)))
}
