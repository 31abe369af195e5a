//! One module per screen. Each reads plain data from the case document through
//! `fieldbook_case` and sends user actions back as small edits; no rules live here.

pub mod assessment;
pub mod case;
pub mod cases;
pub mod checkin;
pub mod chronology;
pub mod concern;
pub mod dataset;
pub mod deadlines;
pub mod home;
pub mod meeting;
pub mod missing;
pub mod moment;
pub mod note;
pub mod nrm;
pub mod plan;
pub mod profile;
pub mod settings;
pub mod signin;
pub mod stepdown;
pub mod transfer;

use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use fieldbook_case::route::Route;
use fieldbook_case::{self as case_file, clocks, Case};
use fieldbook_sync::DocumentId;
use leptos::prelude::*;

use crate::driver::Driver;
use crate::ui::{Choosers, Disputes, Hazards};

thread_local! {
    /// The reader of the case shown last (see [`case_memo`]).
    static LAST_READER: RefCell<Option<(DocumentId, Arc<Mutex<case_file::reader::CaseReader>>)>> =
        const { RefCell::new(None) };
}

/// The case as plain data, re-read when any document changes but only passed on when this
/// case actually changed (so typing elsewhere does not re-render this page).
///
/// Every page about a case starts here, so this also gives the page's [`CaseTop`] what its
/// dispute banner needs: the driver (to settle a dispute) and the page's own choosers.
pub fn case_memo(driver: &Driver, id: DocumentId) -> Memo<Option<Case>> {
    provide_context(driver.clone());
    provide_context(ThisCase(id));
    provide_context(Choosers(RwSignal::new(Vec::new())));
    // Asking for a case not on this device happens on navigation (`main::open_case`), not
    // here: rendering only reads.
    let s = driver.signals;
    let d = driver.clone();
    // Re-reads only the notes that changed when that is all that changed (typing into a
    // note), instead of every note of a long case on each re-render; kept for the next page
    // about the same case (the case page, then its note), which then reads no note again.
    let reader = LAST_READER.with_borrow_mut(|last| match last {
        Some((case, reader)) if *case == id => reader.clone(),
        _ => {
            let reader = Arc::new(Mutex::new(case_file::reader::CaseReader::new()));
            *last = Some((id, reader.clone()));
            reader
        }
    });
    Memo::new(move |_| {
        s.revision.get();
        let mut reader = reader.lock().unwrap_or_else(|e| e.into_inner());
        let case = d.with_doc(&id, |doc| reader.read(doc).cloned());
        if case.is_none() {
            // Gone from the device (erased, or no longer listed): keep nothing of it.
            *reader = case_file::reader::CaseReader::new();
        }
        case.flatten()
    })
}

/// The young person's age at `now` from their date of birth (`YYYY-MM-DD`), on London's
/// calendar date; `None` without a usable date of birth.
pub fn age(dob: &str, now: i64) -> Option<u32> {
    clocks::age_at(dob.trim(), now)
}

/// Name, age, hazard labels and disputes: shown at the top of every screen about the young
/// person. The case page itself shows the name as its heading (and the age under it), so
/// `heading` leaves out the link.
#[component]
pub fn CaseTop(
    case: Memo<Option<Case>>,
    id: DocumentId,
    #[prop(optional)] heading: bool,
) -> impl IntoView {
    let name = Memo::new(move |_| case.with(|c| c.as_ref().map(|c| c.profile.name.clone())));
    let dob = Memo::new(move |_| case.with(|c| c.as_ref().map(|c| c.profile.dob.clone())));
    let hazards = Memo::new(move |_| {
        case.with(|c| c.as_ref().map(|c| c.shown_hazards()).unwrap_or_default())
    });
    let restricted = use_context::<Driver>().map(|d| {
        let s = d.signals;
        Memo::new(move |_| {
            s.revision.get();
            d.restricted(&id)
        })
    });
    view! {
        {move || (!heading).then(|| name.get().map(|name| view! {
            <p class="fb-case-link">
                <a href=Route::Case(id).href()>{name}</a>
                {dob.get().and_then(|d| age(&d, crate::now::read())).map(|a| view! {
                    <span class="fb-hint" data-testid="case-age">{format!(" · Age {a}")}</span>
                })}
            </p>
        }))}
        <Hazards hazards=hazards/>
        <GateFlags case=case/>
        {move || restricted.is_some_and(|r| r.get()).then(|| view! {
            <div class="fb-restricted" role="region" aria-label="Restricted case" data-testid="restricted">
                <strong>"Restricted case"</strong>
                <p>"An administrator has restricted this case: it is kept, and only named people can read it. Nobody can change it while it is restricted."</p>
            </div>
        })}
        <Disputes case=case id=id/>
    }
}

/// The case the page is about (for [`looking`]).
#[derive(Clone, Copy)]
struct ThisCase(DocumentId);

/// Shown while a case is not (yet) on this device, or, once the server has said it does
/// not have it or will not share it, that it is not available. Reads the page's case from
/// the context [`case_memo`] provides.
pub fn looking() -> AnyView {
    let (removed, unavailable) = match (use_context::<Driver>(), use_context::<ThisCase>()) {
        (Some(d), Some(ThisCase(id))) => (
            d.signals.removed.with(|r| r.contains(&id)),
            d.signals.unavailable.with(|u| u.contains(&id)),
        ),
        _ => (false, false),
    };
    // Deleted from this device (the caseload index stopped listing it): say so rather than
    // look for it forever.
    if removed {
        return view! {
            <div data-testid="case-removed">
                <h1>"This case is no longer available on this device"</h1>
                <p>"You no longer have access to it, so its copy was removed from this device."</p>
                <p><a href=Route::Cases.href()>"Go to your cases"</a></p>
            </div>
        }
        .into_any();
    }
    if unavailable {
        view! {
            <div data-testid="case-unavailable">
                <h1>"This case is not available"</h1>
                <p>"It is not on this device, and the server did not send it: the link may be wrong, or the case is not one you can open."</p>
                <p><a href=Route::Cases.href()>"Go to your cases"</a></p>
            </div>
        }
        .into_any()
    } else {
        view! { <p data-testid="case-loading">"Looking for this case…"</p> }.into_any()
    }
}

/// At the top of every case screen: "Closed on …" for a closed case, and the flag "Not
/// seen face to face for N days" (a flag in words, never a lower risk;
/// `fieldbook_case::stepdown`).
#[component]
fn GateFlags(case: Memo<Option<Case>>) -> impl IntoView {
    let settings = use_context::<Driver>()
        .map(|d| home::clock_settings(&d))
        .unwrap_or_default();
    let flags = Memo::new(move |_| {
        let now = crate::now::read();
        case.with(|c| {
            c.as_ref().map(|c| {
                (
                    stepdown::closed_banner(c),
                    case_file::stepdown::not_seen_flag(c, now, &settings),
                )
            })
        })
    });
    move || {
        flags.get().map(|(closed, not_seen)| {
            view! {
                {closed.map(|c| view! {
                    <div class="fb-closed" role="region" aria-label="Case closed" data-testid="case-closed"><strong>{c}</strong></div>
                })}
                {not_seen.map(|f| view! {
                    <p class="fb-flag" data-testid="not-seen-flag"><strong>{f}</strong></p>
                })}
            }
        })
    }
}
