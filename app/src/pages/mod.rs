//! One module per screen. Each reads plain data from the case document through
//! `fieldbook_case` and sends user actions back as small edits; no rules live here.

pub mod assessment;
pub mod case;
pub mod cases;
pub mod chronology;
pub mod missing;
pub mod note;
pub mod plan;
pub mod profile;
pub mod settings;

use fieldbook_case::{self as case_file, Case};
use fieldbook_sync::DocumentId;
use leptos::prelude::*;

use crate::driver::Driver;
use crate::ui::Hazards;

/// The case as plain data, re-read when any document changes but only passed on when this
/// case actually changed (so typing elsewhere does not re-render this page).
pub fn case_memo(driver: &Driver, id: DocumentId) -> Memo<Option<Case>> {
    if driver.with_doc(&id, |_| ()).is_none() {
        driver.find(id);
    }
    let s = driver.signals;
    let d = driver.clone();
    Memo::new(move |_| {
        s.revision.get();
        d.with_doc(&id, |doc| {
            case_file::is_case(doc).then(|| case_file::read(doc))
        })
        .flatten()
    })
}

/// Name, hazard labels and disputes: shown at the top of every screen about the young person.
#[component]
pub fn CaseTop(case: Memo<Option<Case>>, id: DocumentId) -> impl IntoView {
    let banner = Memo::new(move |_| case.get().map(|c| (c.profile.name.clone(), c)));
    move || {
        banner.get().map(|(name, c)| {
            view! {
                <p class="fb-case-link"><a href=format!("#/case/{id}")>{name}</a></p>
                <Hazards case=c/>
            }
        })
    }
}

/// Shown while a case is not (yet) on this device.
pub fn looking() -> AnyView {
    view! { <p data-testid="case-loading">"Looking for this case…"</p> }.into_any()
}
