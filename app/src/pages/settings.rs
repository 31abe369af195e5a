//! Who is signed in on this device, and signing out. Changes made here are recorded with
//! this person's display name (`Driver::author`).

use fieldbook_case::route::Route;
use leptos::prelude::*;

use crate::driver::Driver;
use crate::http;

#[component]
pub fn Settings(driver: Driver) -> impl IntoView {
    let s = driver.signals;
    let problem = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let sign_out = move |_| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        let d = driver.clone();
        leptos::task::spawn_local(async move {
            let result = sign_out(&d).await;
            busy.set(false);
            match result {
                Ok(()) => crate::ui::go(&Route::SignIn),
                Err(e) => problem.set(Some(e)),
            }
        });
    };
    let row = |label: &'static str, id: &'static str, value: String| {
        view! {
            <div class="fb-summary-row"><dt>{label}</dt><dd data-testid=id>{value}</dd></div>
        }
    };
    view! {
        <h1>"You and this device"</h1>
        {move || s.account.get().map(|a| view! {
            <dl class="fb-summary-list">
                {row("Name", "account-name", a.display_name.clone())}
                {row("Role", "account-role", a.role.label().to_owned())}
                {row("Team", "account-team", a.team.clone().unwrap_or_else(|| "No team".to_owned()))}
                {row("This device", "account-device", a.device_name.clone())}
            </dl>
        })}
        <p>"Colleagues see your name next to risk levels, ratings and other changes you make on this device."</p>
        {move || problem.get().map(|p| view! { <div class="fb-error" role="alert" data-testid="sign-out-problem"><p>{p}</p></div> })}
        <button type="button" class="fb-button fb-button-secondary" data-testid="sign-out" on:click=sign_out>
            {move || if busy.get() { "Signing out…" } else { "Sign out" }}
        </button>
        <p class="fb-hint">"Cases stay on this device after you sign out, and are shown again when you sign back in."</p>
        <p><a href=Route::Cases.href()>"Back to cases"</a></p>
    }
}

/// End the session on the server, then stop showing cases here. Offline, nothing changes:
/// the server's session would otherwise stay valid in this browser.
async fn sign_out(d: &Driver) -> Result<(), String> {
    let answer = http::call("DELETE", "/api/session", None)
        .await
        .map_err(|_| {
            "Fieldbook cannot reach the server to sign you out. Check your signal and try again."
                .to_owned()
        })?;
    // 401: the session had already ended, which is what signing out wants.
    if !matches!(answer.status, 200 | 204 | 401) {
        return Err(format!(
            "Fieldbook's server could not sign you out (error {}). Try again in a few minutes.",
            answer.status
        ));
    }
    d.signed_out_on_purpose()
        .await
        .map_err(|e| format!("You are signed out, but this device could not record it: {e}"))
}
