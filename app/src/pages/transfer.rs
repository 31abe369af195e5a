//! The transfer bundle (`#/case/<id>/transfer`): everything the next worker needs when a
//! case moves area or worker, as a readable page to print and a CSV to download. What goes
//! in it is `fieldbook_case::transfer`; relationships and places and exact addresses only
//! when ticked. Printing and downloading are the worker's responsibility (the page says so):
//! the app records nothing about them.

use fieldbook_case::network::{self, LinkKind};
use fieldbook_case::transfer::{self, Author, Names, Network, Options, Section};
use fieldbook_case::{caseload, Case};
use fieldbook_sync::DocumentId;
use leptos::prelude::*;

use super::{case_memo, CaseTop};
use crate::driver::Driver;
use crate::ui::{format_time, now};

/// Authors' agencies and teams as this device knows them: the person signed in, the
/// allocated worker (the caseload index's team, else the profile's), and the profile's
/// worker and team.
fn names(driver: &Driver, id: &DocumentId, case: &Case) -> Names {
    let mut names = Names::new();
    let p = &case.profile;
    if !p.worker.trim().is_empty() {
        names.insert(
            p.worker.trim().to_owned(),
            Author {
                agency: String::new(),
                team: p.team.trim().to_owned(),
            },
        );
    }
    if let Some(a) = driver
        .with_index(|idx| caseload::allocation(idx, id))
        .flatten()
        .filter(|a| !a.worker.trim().is_empty())
    {
        names
            .entry(a.worker.trim().to_owned())
            .or_default()
            .team
            .clone_from(&a.team);
    }
    if let Some(me) = driver.signals.account.get_untracked() {
        names.insert(
            me.display_name.trim().to_owned(),
            Author {
                agency: me.agency.clone(),
                team: me.team.clone().unwrap_or_default(),
            },
        );
    }
    names
}

#[component]
pub fn TransferPage(driver: Driver, id: DocumentId) -> impl IntoView {
    let c = case_memo(&driver, id);
    let with_network = RwSignal::new(false);
    let with_addresses = RwSignal::new(false);
    let s = driver.signals;
    // Where this case's relationships are written: its own document, or (older cases) itself.
    let home = {
        let d = driver.clone();
        move || {
            s.revision.get();
            d.with_doc(&id, network::linked).flatten().unwrap_or(id)
        }
    };
    let d = driver.clone();
    let home2 = home.clone();
    // Relationships and places: None while being fetched (or not allowed).
    let links = move || {
        let at = home2();
        d.with_doc(&at, |doc| Network {
            people: network::read(doc, LinkKind::Person),
            places: network::read(doc, LinkKind::Place),
        })
    };
    let refused = {
        let home = home.clone();
        move || {
            let at = home();
            at != id && s.unavailable.with(|u| u.contains(&at))
        }
    };
    let choose_network = {
        let d = driver.clone();
        let home = home.clone();
        move |ev| {
            let on = event_target_checked(&ev);
            let at = home();
            if on && at != id {
                d.fetch(at);
            }
            with_network.set(on);
        }
    };
    let d = driver.clone();
    let links2 = links.clone();
    let bundle = Memo::new(move |_| {
        let case = c.get()?;
        let network = if with_network.get() { links2() } else { None };
        let options = Options {
            network,
            addresses: with_addresses.get(),
        };
        Some(transfer::bundle(
            &case,
            &options,
            &names(&d, &id, &case),
            now(),
        ))
    });
    let network_waiting = {
        let refused = refused.clone();
        move || {
            if !with_network.get() {
                return None;
            }
            if refused() {
                Some("Only the allocated worker, their managers and people the case is shared with can see relationships and places: they are left out.")
            } else if links().is_none() {
                Some("Fetching relationships and places…")
            } else {
                None
            }
        }
    };
    let print = move |_| {
        if let Err(e) = web_sys::window().expect("window").print() {
            s.error.set(Some(format!(
                "This browser could not open printing: {}",
                crate::ui::js_error(&e)
            )));
        }
    };
    let download = move |_| {
        let Some(b) = bundle.get_untracked() else {
            return;
        };
        if let Err(e) =
            crate::ui::download(&transfer::file_name(&id.to_string()), &transfer::to_csv(&b))
        {
            s.error
                .set(Some(format!("Could not download the CSV: {e}")));
        }
    };
    view! {
        <CaseTop case=c id=id/>
        <h1>"Transfer bundle"</h1>
        <div class="fb-no-print">
            <p>"Everything the next worker needs when this case moves to another area or worker: the chronology with who wrote each entry, the safety plan, the latest risk assessment and how the level has changed, missing patterns and the NRM history."</p>
            <div class="fb-warning" role="note">
                <p>"Printing or downloading this is your responsibility. Keep the copy safe, give it only to the team taking the case on, and destroy it once they have it. Fieldbook does not keep a record of copies made from this page."</p>
            </div>
            <fieldset class="fb-fieldset">
                <legend class="fb-label">"What to include"</legend>
                <p class="fb-hint">"Left out unless you tick them: include them only if the receiving team needs them."</p>
                <div class="fb-checkbox">
                    <input type="checkbox" id="transfer-network" prop:checked=move || with_network.get() on:change=choose_network/>
                    <label for="transfer-network">"Include relationships and places"</label>
                </div>
                <div class="fb-checkbox">
                    <input type="checkbox" id="transfer-addresses" prop:checked=move || with_addresses.get()
                           on:change=move |ev| with_addresses.set(event_target_checked(&ev))/>
                    <label for="transfer-addresses">"Include addresses"</label>
                </div>
            </fieldset>
            {move || network_waiting().map(|m| view! { <p class="fb-hint" role="status" data-testid="transfer-network-status">{m}</p> })}
            <div class="fb-button-group">
                <button type="button" class="fb-button" data-testid="transfer-print" on:click=print>"Print"</button>
                <button type="button" class="fb-button fb-button-secondary" data-testid="transfer-csv" on:click=download>"Download CSV"</button>
            </div>
        </div>
        {move || bundle.get().map(|b| view! {
            <div class="fb-transfer" data-testid="transfer-bundle">
                <p class="fb-hint">{format!("Made on {}", format_time(b.generated))}</p>
                {b.sections.into_iter().map(|s| view! { <BundleSection section=s/> }).collect_view()}
            </div>
        })}
    }
}

#[component]
fn BundleSection(section: Section) -> impl IntoView {
    let (when, details, author) = section.columns();
    let heading = format!("transfer-{}-heading", section.id);
    let labelled_by = heading.clone();
    let empty = section.rows.is_empty();
    view! {
        <section class="fb-transfer-section" data-section=section.id aria-labelledby=labelled_by>
            <h2 id=heading>{section.title}</h2>
            {if empty {
                view! { <p class="fb-hint">"Nothing recorded."</p> }.into_any()
            } else {
                view! {
                    <table class="fb-table fb-transfer-table">
                        <thead><tr>
                            {when.then(|| view! { <th scope="col">"When"</th> })}
                            <th scope="col">"What"</th>
                            {details.then(|| view! { <th scope="col">"Details"</th> })}
                            {author.then(|| view! { <th scope="col">"Recorded by"</th> })}
                        </tr></thead>
                        <tbody>
                            {section.rows.into_iter().map(|r| {
                                let by = [r.agency.as_str(), r.team.as_str()]
                                    .into_iter()
                                    .filter(|s| !s.is_empty())
                                    .collect::<Vec<_>>()
                                    .join(", ");
                                view! {
                                    <tr>
                                        {when.then(|| view! { <td class="fb-nowrap fb-when">{r.when.clone()}</td> })}
                                        <td class=if when { "" } else { "fb-when" }>{r.what.clone()}</td>
                                        {details.then(|| view! { <td class="fb-note-text">{r.details.clone()}</td> })}
                                        {author.then(|| view! { <td>{r.author.clone()}{(!by.is_empty()).then(|| view! { <br/><span class="fb-hint">{by.clone()}</span> })}</td> })}
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}
