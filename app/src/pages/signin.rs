//! Sign in (GOV.UK sign-in pattern): the only screen until someone has signed in on this
//! device, and where the "your sign-in has ended" banner leads. What the server's answers
//! mean, and whether someone else may take the device over, is decided in
//! `fieldbook_case::account`.

use fieldbook_case::account::{self, SignInProblem, Switch, PASSWORD_FIELD, USERNAME_FIELD};
use fieldbook_case::validate::FieldError;
use leptos::prelude::*;

use crate::driver::Driver;
use crate::gate::{entry_notice, Entry, Gate};
use crate::http;
use crate::ui::{field_error, ErrorSummary};

#[component]
pub fn SignIn(
    /// The running app (signing in again after the session ended).
    #[prop(optional)]
    driver: Option<Driver>,
    /// The way in (a new device, or signing in to unlock), and why it is shown.
    #[prop(optional)]
    gate: Option<(Gate, Entry)>,
    #[prop(into)] on_done: Callback<()>,
) -> impl IntoView {
    let account = driver.as_ref().map(|d| d.signals.account);
    let signed_out = driver.as_ref().map(|d| d.signals.signed_out);
    // Someone signing in again on their own device need not retype their username.
    let username = RwSignal::new(
        account
            .and_then(|a| a.with_untracked(|a| a.as_ref().map(|a| a.username.clone())))
            .unwrap_or_default(),
    );
    let notice = gate.as_ref().and_then(|(_, e)| entry_notice(e));
    let password = RwSignal::new(String::new());
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let (user, pass) = (username.get_untracked(), password.get_untracked());
        let problems = account::check_form(&user, &pass);
        if !problems.is_empty() {
            errors.set(problems);
            return;
        }
        busy.set(true);
        let (d, g) = (driver.clone(), gate.clone());
        leptos::task::spawn_local(async move {
            let result = match (d, g) {
                (Some(d), _) => sign_in(&d, &user, &pass).await,
                (None, Some((g, entry))) => g.sign_in(&entry, &user, &pass).await,
                (None, None) => Err(SignInProblem::StillOpening),
            };
            busy.set(false);
            password.set(String::new());
            match result {
                Ok(()) => {
                    errors.set(Vec::new());
                    on_done.run(());
                }
                Err(problem) => errors.set(vec![problem.to_field_error()]),
            }
        });
    };
    let invalid = move |field: &'static str| errors.with(|e| e.iter().any(|e| e.field == field));
    let described = move |field: &'static str| invalid(field).then(|| format!("{field}-error"));
    // Whose changes are waiting, when the session ended under them.
    let again = move || {
        let (account, signed_out) = (account?, signed_out?);
        account.with(|a| {
            a.as_ref().filter(|_| signed_out.get()).map(|a| {
                format!(
                    "Sign in as {} to send the changes on this device.",
                    a.display_name
                )
            })
        })
    };
    view! {
        {move || view! { <ErrorSummary errors=errors.get()/> }}
        {notice}
        <h1>"Sign in to Fieldbook"</h1>
        {move || again().map(|text| view! { <p class="fb-hint" data-testid="sign-in-again">{text}</p> })}
        <form on:submit=submit novalidate>
            <div class=move || if invalid(USERNAME_FIELD) { "fb-form-group-error" } else { "" }>
                <label class="fb-label" for=USERNAME_FIELD>"Username"</label>
                {move || field_error(&errors.get(), USERNAME_FIELD)}
                <input id=USERNAME_FIELD name="username" class="fb-input" type="text"
                       autocomplete="username" spellcheck="false" autocapitalize="none"
                       aria-describedby=move || described(USERNAME_FIELD)
                       prop:value=move || username.get()
                       on:input=move |ev| username.set(event_target_value(&ev))/>
            </div>
            <div class=move || if invalid(PASSWORD_FIELD) { "fb-form-group-error" } else { "" }>
                <label class="fb-label" for=PASSWORD_FIELD>"Password"</label>
                {move || field_error(&errors.get(), PASSWORD_FIELD)}
                <input id=PASSWORD_FIELD name="password" class="fb-input" type="password"
                       autocomplete="current-password"
                       aria-describedby=move || described(PASSWORD_FIELD)
                       prop:value=move || password.get()
                       on:input=move |ev| password.set(event_target_value(&ev))/>
            </div>
            <button class="fb-button" type="submit" aria-disabled=move || busy.get().then_some("true")>
                {move || if busy.get() { "Signing in…" } else { "Sign in" }}
            </button>
        </form>
    }
}

/// Send the sign-in, and decide what becomes of the device's data (see
/// [`account::switch`]).
async fn sign_in(d: &Driver, username: &str, password: &str) -> Result<(), SignInProblem> {
    let stored = d.signals.account.get_untracked();
    let device_id = stored
        .as_ref()
        .and_then(|a| a.device_id_for(username))
        .map(str::to_owned);
    let (new, _) = http::sign_in(username, password, device_id.as_deref()).await?;
    match account::switch(stored.as_ref(), &new, d.unsent()) {
        Switch::Keep => d.signed_in(new).await.map_err(SignInProblem::Device),
        Switch::Wipe => d.hand_over(new).await.map_err(SignInProblem::Device),
        Switch::Refuse(problem) => {
            // The server has just given the other person a session in this browser: end
            // it, so the device never sends the last person's changes as them. If this
            // fails the session simply expires; the person is told why they were refused.
            let _ = http::call("DELETE", "/api/session", None).await;
            Err(problem)
        }
    }
}
