//! Who is signed in on this device, and signing out. Changes made here are recorded with
//! this person's display name (`Driver::author`).

use fieldbook_case::route::Route;
use leptos::prelude::*;

use crate::driver::Driver;

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
            let result = d.sign_out_of_device().await;
            busy.set(false);
            match result {
                // The database is gone: the reloaded app has only the sign-in page, which
                // leads to the case list.
                Ok(()) => {
                    let window = web_sys::window().expect("window");
                    if let Ok(history) = window.history() {
                        // Throws only for a detached document; the reload happens anyway.
                        let _ = history.replace_state_with_url(
                            &wasm_bindgen::JsValue::NULL,
                            "",
                            Some(&Route::Cases.to_hash()),
                        );
                    }
                    crate::device::reload_locked()
                }
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
            {move || if busy.get() { "Signing out…" } else { "Sign out of this device" }}
        </button>
        <p class="fb-hint">"Signing out removes every case from this device. You cannot sign out while changes are waiting to be sent."</p>
        <p><a href=Route::Cases.href()>"Back to cases"</a></p>
    }
}
