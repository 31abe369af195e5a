//! Device settings: the practitioner's name, recorded with safety-critical changes.

use fieldbook_case::route::Route;
use leptos::prelude::*;

use crate::driver::Driver;
use crate::ui::TextField;

#[component]
pub fn Settings(driver: Driver) -> impl IntoView {
    let name = RwSignal::new(driver.signals.author.get_untracked());
    let saved = RwSignal::new(false);
    let d = driver.clone();
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let d = d.clone();
        leptos::task::spawn_local(async move {
            match d.set_author(name.get_untracked()).await {
                Ok(()) => saved.set(true),
                Err(e) => d
                    .signals
                    .error
                    .set(Some(format!("Could not save your name: {e}"))),
            }
        });
    };
    view! {
        <h1>"Your name on this device"</h1>
        <form on:submit=save novalidate>
            <label class="fb-label" for="author">"Your name and role"</label>
            <p class="fb-hint" id="author-hint">"Shown to colleagues next to risk levels, ratings and other changes you make, e.g. \"A. Worker (outreach)\"."</p>
            <TextField id="author" autocomplete="name" describedby="author-hint"
                       value=name on_input=move |v: String| { saved.set(false); name.set(v) }/>
            <button class="fb-button" type="submit">"Save"</button>
        </form>
        <Show when=move || saved.get()>
            <p role="status" data-testid="author-saved">"Saved. " <a href=Route::Cases.href()>"Back to cases"</a></p>
        </Show>
    }
}
