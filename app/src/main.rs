//! Fieldbook PWA entry point. The real screens, the IndexedDB store and the browser sync
//! client arrive with the PWA issue; this shell proves the shared engine runs in wasm32.

use leptos::prelude::*;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}

#[component]
fn App() -> impl IntoView {
    // A document id minted by the same engine code the server runs.
    let sample = fieldbook_sync::DocumentId::random().to_url();
    view! {
        <header class="fb-header"><span class="fb-logo">"Fieldbook"</span></header>
        <main class="fb-main">
            <h1>"Fieldbook"</h1>
            <p class="fb-body">"Case notes for outreach work, on the phone, with or without signal."</p>
            <p class="fb-hint">"Engine check: " <code data-testid="sample-url">{sample}</code></p>
        </main>
    }
}
