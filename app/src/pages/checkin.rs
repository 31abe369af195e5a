//! "Lone working" (`#/checkin`, `#/checkin/<case>`): check in before a visit — where, with
//! whom, expected back by (London time) — and check out after. "Checked in" is said only
//! once the server has answered that it has the check-in; offline or on an error the screen
//! says plainly that it was NOT sent and to tell the manager by phone. Nothing is queued.

use fieldbook_case::lone;
use fieldbook_case::route::Route;
use fieldbook_case::validate::FieldError;
use fieldbook_sync::DocumentId;
use leptos::prelude::*;

use crate::driver::Driver;
use crate::http;
use crate::lone::{server_error, state};
use crate::ui::{field_error, now, ErrorSummary};

/// What the last "Check in" came to.
#[derive(Clone, PartialEq)]
enum Sent {
    /// The server has it: the words to say.
    Confirmed(String),
    /// It was not sent or not taken: why.
    NotSent(String),
}

#[component]
pub fn CheckInPage(driver: Driver, case: Option<DocumentId>) -> impl IntoView {
    let lone = state();
    let place = RwSignal::new(String::new());
    let with_whom = RwSignal::new(String::new());
    let back = RwSignal::new(String::new());
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let sent = RwSignal::new(None::<Sent>);
    let sending = RwSignal::new(false);
    let case_name = case.and_then(|id| {
        driver
            .with_doc(&id, |doc| fieldbook_case::read(doc).profile.name)
            .filter(|n| !n.trim().is_empty())
    });
    let quick = move |hours: i64| back.set(lone::time_input(now() + hours * 3_600_000));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if sending.get_untracked() {
            return;
        }
        let t = now();
        let problems = lone::check(
            &place.get_untracked(),
            &with_whom.get_untracked(),
            &back.get_untracked(),
            t,
        );
        errors.set(problems.clone());
        if !problems.is_empty() {
            return;
        }
        let Ok(expected_back) = lone::expected_back(&back.get_untracked(), t) else {
            return;
        };
        let body = serde_json::json!({
            "where": place.get_untracked().trim(),
            "with_whom": with_whom.get_untracked().trim(),
            "expected_back": expected_back,
            "case": case.map(|c| c.to_string()),
        })
        .to_string();
        sending.set(true);
        sent.set(None);
        leptos::task::spawn_local(async move {
            let answer = http::call("POST", "/api/checkins", Some(&body)).await;
            sending.set(false);
            let outcome = match answer {
                Err(http::Unreachable) => Sent::NotSent(
                    "Your check-in was NOT sent: there is no connection to the server. Before you go, phone your manager and tell them where you are going, who with, and when you expect to be back.".into(),
                ),
                Ok(a) if a.status == 201 => match lone.checked_in(&a.body) {
                    Some(open) => {
                        place.set(String::new());
                        with_whom.set(String::new());
                        back.set(String::new());
                        Sent::Confirmed(lone::confirmed(open.expected_back))
                    }
                    None => Sent::NotSent("Your check-in may not have been recorded: the server's answer was not understood. Phone your manager before you go.".into()),
                },
                Ok(a) if a.status == 400 => {
                    let from_server = serde_json::from_str::<serde_json::Value>(&a.body)
                        .ok()
                        .and_then(|v| v["errors"].as_array().cloned())
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|e| {
                            Some(FieldError {
                                field: lone::field_of(e["field"].as_str()?).to_owned(),
                                message: e["message"].as_str()?.to_owned(),
                            })
                        })
                        .collect::<Vec<_>>();
                    if !from_server.is_empty() {
                        errors.set(from_server);
                        return;
                    }
                    Sent::NotSent(format!("Your check-in was NOT recorded: {} Phone your manager before you go.", server_error(&a.body)))
                }
                Ok(a) if a.status == 409 => {
                    lone.refresh();
                    Sent::NotSent("You are already checked in for a visit. Check out of it first (the button at the top), then check in again.".into())
                }
                Ok(a) => Sent::NotSent(format!(
                    "Your check-in was NOT recorded: {} Before you go, phone your manager and tell them where you are going, who with, and when you expect to be back.",
                    server_error(&a.body)
                )),
            };
            sent.set(Some(outcome));
        });
    };
    let input =
        |signal: RwSignal<String>| move |ev: leptos::ev::Event| signal.set(event_target_value(&ev));
    let described = move |field: &'static str| {
        errors.with(|e| {
            e.iter()
                .any(|e| e.field == field)
                .then(|| format!("{field}-error"))
        })
    };
    view! {
        <h1>"Lone working"</h1>
        {move || match sent.get() {
            Some(Sent::Confirmed(text)) => view! {
                <div class="fb-lone fb-lone-done" role="status" data-testid="checkin-confirmed"><p>{text}</p></div>
            }.into_any(),
            Some(Sent::NotSent(text)) => view! {
                <div class="fb-error" role="alert" data-testid="checkin-not-sent">
                    <h2>"Not checked in"</h2>
                    <p>{text}</p>
                </div>
            }.into_any(),
            None => ().into_any(),
        }}
        {move || match lone.open.get() {
            Some(open) => view! {
                <p data-testid="checkin-open">{format!(
                    "You are checked in. You said you would be back by {}. Check out with the button at the top of the screen when you are back.",
                    lone::hhmm(open.expected_back)
                )}</p>
            }.into_any(),
            None => view! {
                <p>"Before a visit on your own, tell Fieldbook where you are going and when you expect to be back. If you have not checked out by then, your manager is alerted."</p>
                {case_name.clone().map(|n| view! { <p class="fb-hint" data-testid="checkin-case">{format!("Visit for {n}")}</p> })}
                {move || view! { <ErrorSummary errors=errors.get()/> }}
                <form on:submit=submit novalidate data-testid="checkin-form">
                    <label class="fb-label" for=lone::WHERE>"Where are you going?"</label>
                    <p class="fb-hint" id="checkin-where-hint">"An address or place, so someone can find you"</p>
                    {move || field_error(&errors.get(), lone::WHERE)}
                    <input id=lone::WHERE class="fb-input" type="text" autocomplete="off"
                           aria-describedby=move || described(lone::WHERE).map_or("checkin-where-hint".to_owned(), |e| format!("checkin-where-hint {e}"))
                           prop:value=move || place.get() on:input=input(place)/>
                    <label class="fb-label" for=lone::WITH_WHOM>"Who will you be with?"</label>
                    {move || field_error(&errors.get(), lone::WITH_WHOM)}
                    <input id=lone::WITH_WHOM class="fb-input" type="text" autocomplete="off"
                           aria-describedby=move || described(lone::WITH_WHOM)
                           prop:value=move || with_whom.get() on:input=input(with_whom)/>
                    <label class="fb-label" for=lone::EXPECTED_BACK>"Expected back by"</label>
                    <p class="fb-hint" id="checkin-back-hint">"UK time, for example 15:30"</p>
                    {move || field_error(&errors.get(), lone::EXPECTED_BACK)}
                    <input id=lone::EXPECTED_BACK class="fb-input fb-input-short" type="time"
                           aria-describedby=move || described(lone::EXPECTED_BACK).map_or("checkin-back-hint".to_owned(), |e| format!("checkin-back-hint {e}"))
                           prop:value=move || back.get() on:input=input(back)/>
                    <p class="fb-lone-quick">
                        <button type="button" class="fb-button fb-button-secondary" data-testid="in-1-hour" on:click=move |_| quick(1)>"In 1 hour"</button>
                        " "
                        <button type="button" class="fb-button fb-button-secondary" data-testid="in-2-hours" on:click=move |_| quick(2)>"In 2 hours"</button>
                    </p>
                    <button class="fb-button" type="submit" data-testid="check-in" disabled=move || sending.get()>
                        {move || if sending.get() { "Checking in…" } else { "Check in" }}
                    </button>
                </form>
            }.into_any(),
        }}
        <p>{match case {
            Some(id) => view! { <a href=Route::Case(id).href()>"Back to the case"</a> }.into_any(),
            None => view! { <a href=Route::Cases.href()>"Back to due and overdue"</a> }.into_any(),
        }}</p>
    }
}
