//! The chronology: every dated event of the case, oldest first, filterable by type, and
//! printable for a multi-agency meeting.

use fieldbook_case::chronology::{self, EventKind};
use fieldbook_sync::DocumentId;
use leptos::prelude::*;

use super::{case_memo, CaseTop};
use crate::driver::Driver;
use crate::ui::format_time;

#[component]
pub fn Chronology(driver: Driver, id: DocumentId) -> impl IntoView {
    let c = case_memo(&driver, id);
    let hidden = RwSignal::new(Vec::<EventKind>::new());
    let events = Memo::new(move |_| c.get().map(|k| chronology::build(&k)).unwrap_or_default());
    let shown = move || {
        let hide = hidden.get();
        let kinds: Vec<EventKind> = EventKind::ALL
            .into_iter()
            .filter(|k| !hide.contains(k))
            .collect();
        chronology::filter(&events.get(), &kinds)
    };
    let print = |_| {
        // Printing may be blocked (e.g. a kiosk): the page itself is unchanged.
        let _ = web_sys::window().expect("window").print();
    };
    view! {
        <CaseTop case=c id=id/>
        <h1>"Chronology"</h1>
        // Collapsed, so on a phone the first events are on the first screen; the summary
        // says when some kinds are hidden.
        <details class="fb-details fb-no-print fb-filter">
            <summary data-testid="filter-events">"Filter events"
                <span class="fb-hint">{move || match hidden.with(Vec::len) {
                    0 => " (showing all)".to_owned(),
                    n => format!(" ({n} of {} kinds hidden)", EventKind::ALL.len()),
                }}</span>
            </summary>
            <fieldset class="fb-fieldset">
                <legend class="fb-visually-hidden">"Show"</legend>
                {EventKind::ALL.into_iter().map(|k| {
                    let cid = format!("show-{}", k.id());
                    view! {
                        <div class="fb-checkbox">
                            <input type="checkbox" id=cid.clone() prop:checked=move || !hidden.get().contains(&k)
                                   on:change=move |ev| { let on = event_target_checked(&ev); hidden.update(|h| { h.retain(|x| *x != k); if !on { h.push(k) } }) }/>
                            <label for=cid>{k.label()}</label>
                        </div>
                    }
                }).collect_view()}
            </fieldset>
        </details>
        <button class="fb-button fb-button-secondary fb-no-print fb-print" on:click=print>"Print for a meeting"</button>
        <table class="fb-table" data-testid="chronology">
            <caption class="fb-visually-hidden">"Every dated event, oldest first"</caption>
            <thead><tr><th scope="col">"When"</th><th scope="col">"What"</th><th scope="col">"Details"</th></tr></thead>
            <tbody>
                {move || shown().into_iter().map(|e| view! {
                    <tr data-kind=e.kind.id()><td>{format_time(e.at)}</td><td>{e.title}</td><td class="fb-note-text">{e.detail}</td></tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}
