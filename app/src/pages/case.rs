//! The case page: who the young person is, hazard labels, the sections of their file, and
//! contact notes newest first.

use fieldbook_case::account::{self, AuditRow, Role};
use fieldbook_case::network::{self, LinkKind};
use fieldbook_case::route::Route;
use fieldbook_case::status::Status;
use fieldbook_case::{self as case, nrm, profile, removal, validate, vocab, Note, CONTACT_TYPES};
use fieldbook_sync::DocumentId;
use leptos::prelude::*;

use super::concern::ConcernList;
use super::meeting::MeetingList;
use super::moment::{MomentList, PatternFlags};
use super::{case_memo, looking, CaseTop};
use crate::driver::Driver;
use crate::http;
use crate::ui::{
    field_error, format_time, go, new_id, now, CriticalChoice, ErrorSummary, Radios, TextField,
};

#[component]
pub fn CasePage(driver: Driver, id: DocumentId) -> impl IntoView {
    let c = case_memo(&driver, id);
    // Opening a case never writes to it: an older document gets this schema's version
    // number with its first real change (`Driver::change`).
    let d = driver.clone();
    let add = move |_| {
        let note = Note {
            id: new_id(),
            at: now(),
            kind: CONTACT_TYPES[0].into(),
            by: d.author(),
            ..Default::default()
        };
        if d.act(id, |tx| case::add_note(tx, &note)) {
            go(&Route::note(id, &note.id));
        }
    };
    let d = driver.clone();
    let top = Memo::new(move |_| c.with(|k| k.as_ref().map(CaseHeading::of)));
    view! {
        {move || match top.get() {
            None => looking(),
            Some(h) => view! {
                <h1 data-testid="case-name">{h.name}</h1>
                {(!h.facts.is_empty()).then(|| view! { <p class="fb-case-facts" data-testid="case-facts">{h.facts}</p> })}
                <p class="fb-risk" data-testid="risk-level">{match h.level {
                    Some((level, class, at)) => view! {
                        "Risk level: " <strong class=format!("fb-level fb-level-{class}")>{level}</strong>
                        <span class="fb-hint">{format!(" · assessed {at}")}</span>
                    }.into_any(),
                    None => view! { "No risk assessment yet" }.into_any(),
                }}</p>
                {h.newer.then(|| view! {
                    <div class="fb-warning" role="status">"This case was updated by a newer version of Fieldbook. Everything you can see is safe to edit; reload to get the update."</div>
                })}
            }.into_any(),
        }}
        <CaseTop case=c id=id heading=true/>
        <PatternFlags driver=driver.clone() case=c/>
        <p><a href=Route::CheckIn(Some(id)).href() data-testid="case-checkin-link">"Check in before a visit"</a></p>
        <Show when=move || c.with(Option::is_some)>
            <button class="fb-button" data-testid="add-note" on:click=add.clone()>"Add contact note"</button>
            <nav aria-label="Sections of this case" class="fb-sections">
                <ul>
                    <li><a href=Route::Profile(id).href()>"About them"</a></li>
                    <li><a href=Route::Assessments(id).href()>"Risk assessment"</a></li>
                    <li><a href=Route::Plan(id).href()>"Safety plan"</a></li>
                    <li><a href=Route::Missing(id, None).href()>"Record a missing episode"</a></li>
                    <li><a href=Route::Moment(id, None).href() data-testid="log-moment-link">"Log a reachable moment"</a></li>
                    <li><a href=Route::Chronology(id).href()>"Chronology"</a></li>
                    <li><a href=Route::Nrm(id).href() data-testid="nrm-link">"NRM referral and decisions"</a></li>
                    <li><a href=Route::StepDown(id).href() data-testid="step-down-link">"Step down or close"</a></li>
                    <li><a href=Route::Transfer(id).href() data-testid="transfer-link">"Transfer bundle"</a></li>
                </ul>
            </nav>
            <HazardEditor driver=d.clone() id=id case=c/>
            <h2>"Contact notes"</h2>
            <ol class="fb-notes" data-testid="notes">
                {move || c.get().map(|k| k.notes.into_iter().filter(|n| removal::visible(&n.removal)).map(|n| view! {
                    <li class="fb-note">
                        <a href=Route::note(id, &n.id).href()>{format_time(n.at)} " · " {n.kind.clone()}</a>
                        {n.reachable.then(|| view! { <span class="fb-tag">"Reachable moment"</span> })}
                        {n.removal.as_ref().map(|r| view! { <p class="fb-warning">{format!("Removed by {} — but changed since. Open it to keep or remove it.", r.by)}</p> })}
                        <p class="fb-hint">{n.place.clone()}</p>
                        <p class="fb-note-text" data-testid="note-text">{n.text.clone()}</p>
                    </li>
                }).collect_view())}
            </ol>
            <super::deadlines::Deadlines driver=d.clone() id=id case=c/>
            <ConcernList case=c id=id/>
            <MeetingList case=c id=id/>
            <MissingList case=c id=id/>
            <MomentList driver=d.clone() case=c id=id/>
            <NrmSection driver=d.clone() id=id case=c/>
            <Outcomes driver=d.clone() id=id case=c/>
            <Network driver=d.clone() id=id/>
            <WhoOpened driver=d.clone() id=id/>
        </Show>
    }
}

/// What the case page shows under the name: age, known-as and date of birth, and the
/// current risk level (the latest submitted assessment's overall level, and when).
#[derive(Clone, PartialEq)]
struct CaseHeading {
    name: String,
    facts: String,
    /// Level label, style, date assessed.
    level: Option<(String, String, String)>,
    newer: bool,
}

impl CaseHeading {
    fn of(k: &case::Case) -> CaseHeading {
        let mut facts = Vec::new();
        if let Some(age) = super::age(&k.profile.dob, now()) {
            facts.push(format!("Age {age}"));
        }
        let summary = case::profile_summary(&k.profile);
        if !summary.is_empty() {
            facts.push(summary);
        }
        let latest = k
            .assessments
            .iter()
            .filter_map(|a| a.submitted.map(|t| (t, a)))
            .max_by_key(|(t, _)| *t);
        let level = latest.map(|(t, a)| {
            let date = format_time(t).chars().take(10).collect();
            match a.overall.value() {
                Some(v) => (vocab::label(vocab::LEVELS, v), v.to_owned(), date),
                None => ("In dispute".to_owned(), "disputed".to_owned(), date),
            }
        });
        CaseHeading {
            name: k.profile.name.clone(),
            facts: facts.join(" · "),
            level,
            newer: k.is_newer_than_app(),
        }
    }
}

#[component]
fn HazardEditor(driver: Driver, id: DocumentId, case: Memo<Option<case::Case>>) -> impl IntoView {
    let hazards = Memo::new(move |_| case.get().map(|c| c.hazards).unwrap_or_default());
    view! {
        <details class="fb-details">
            <summary>"Hazard labels"</summary>
            {move || {
                let current = hazards.get();
                // "NRM referral in place" follows the NRM status: it is not set here.
                vocab::HAZARDS.iter().filter(|(hid, _)| *hid != "nrm").map(|(hid, label)| {
                    let state = current.iter().find(|h| h.id == *hid).map(|h| h.state.clone()).unwrap_or_default();
                    let d = driver.clone();
                    let pick = Callback::new(move |v: String| {
                        let (by, at) = (d.author(), now());
                        d.act(id, |tx| profile::set_hazard(tx, hid, v == "on", &by, at));
                    });
                    if state.is_conflict() {
                        view! { <p class="fb-warning">{format!("{label}: set two ways at the same time. Choose what to keep at the top of this page.")}</p> }.into_any()
                    } else {
                        view! {
                            <CriticalChoice id=format!("hazard-{hid}") legend=(*label).to_owned()
                                choices=vocab::HAZARD_STATES value=state on_pick=pick/>
                        }.into_any()
                    }
                }).collect_view()
            }}
        </details>
    }
}

#[component]
fn MissingList(case: Memo<Option<case::Case>>, id: DocumentId) -> impl IntoView {
    move || {
        let episodes: Vec<_> = case
            .get()
            .map(|c| c.missing)
            .unwrap_or_default()
            .into_iter()
            .filter(|e| removal::visible(&e.removal))
            .collect();
        let p = case::missing::patterns(&episodes, now());
        let count = |list: &[(String, usize)]| {
            list.iter()
                .map(|(v, n)| format!("{v} ({n})"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut lines = vec![format!(
            "{} in the last 30 days, {} in the last 90, {} in all",
            p.last_30_days, p.last_90_days, p.total
        )];
        if let Some(h) = p.median_hours {
            lines.push(format!(
                "Usually away about {} (median)",
                vocab::count(h as usize, "hour", "hours")
            ));
        }
        if !p.places.is_empty() {
            lines.push(format!("Found at: {}", count(&p.places)));
        }
        if !p.with.is_empty() {
            lines.push(format!("With: {}", count(&p.with)));
        }
        if p.at_night > 0 {
            lines.push(format!("{} went missing at night", p.at_night));
        }
        if p.no_interview > 0 {
            lines.push(match p.no_interview {
                1 => "1 return with no completed return home interview".to_owned(),
                n => format!("{n} returns with no completed return home interview"),
            });
        }
        (!episodes.is_empty()).then(|| view! {
            <h2>"Missing episodes"</h2>
            <div class="fb-panel" data-testid="missing-patterns">
                <h3>"Patterns"</h3>
                <ul>{lines.into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}</ul>
            </div>
            <ul class="fb-list" data-testid="missing-list">
                {episodes.into_iter().map(|e| view! {
                    <li>
                        <a href=Route::episode(id, &e.id).href()>{format!("Missing from {} at {}", e.from, format_time(e.start))}</a>
                        <span class="fb-hint">{match e.end {
                            Some(t) => format!(" · returned {}", format_time(t)),
                            None => " · still missing".to_owned(),
                        }}</span>
                    </li>
                }).collect_view()}
            </ul>
        })
    }
}

#[component]
fn NrmSection(driver: Driver, id: DocumentId, case: Memo<Option<case::Case>>) -> impl IntoView {
    let status = RwSignal::new(String::new());
    let reason = RwSignal::new(String::new());
    let errors = RwSignal::new(Vec::new());
    let nrm = Memo::new(move |_| case.get().map(|c| c.nrm).unwrap_or_default());
    let d = driver.clone();
    let record = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let step = nrm::Step {
            id: new_id(),
            at: now(),
            status: status.get_untracked(),
            reason: reason.get_untracked(),
            by: d.author(),
        };
        let problems = validate::nrm_step(&step);
        if !problems.is_empty() {
            errors.set(problems);
            return;
        }
        errors.set(Vec::new());
        if d.act(id, |tx| nrm::set_status(tx, &step)) {
            reason.set(String::new());
        }
    };
    view! {
        <h2>"National Referral Mechanism"</h2>
        {move || {
            let n = nrm.get();
            let line = match (n.status.settled(), n.age_days(now())) {
                _ if n.status.is_conflict() => "Set two ways at the same time. Choose what to keep at the top of this page.".to_owned(),
                (Some(c), Some(days)) => format!("{} — for {} (set by {})", vocab::label(vocab::NRM_STATUS, &c.value), vocab::count(days as usize, "day", "days"), c.by),
                _ => "Not recorded".to_owned(),
            };
            view! { <p data-testid="nrm-status">{line}</p> }
        }}
        {move || {
            let n = nrm.get();
            let mut rows = Vec::new();
            if !n.referral_date.is_empty() || !n.reference.is_empty() {
                let mut r = format!("Referred on {}", case::long_date(&n.referral_date));
                if !n.reference.trim().is_empty() {
                    r.push_str(&format!(", reference {}", n.reference.trim()));
                }
                rows.push(r);
            }
            for (label, c, date) in [("Reasonable grounds decision", &n.rg, &n.rg_date), ("Conclusive grounds decision", &n.cg, &n.cg_date)] {
                if c.is_conflict() {
                    rows.push(format!("{label}: set two ways at the same time. Choose what to keep at the top of this page."));
                } else if let Some(v) = c.value() {
                    rows.push(format!("{label}: {} on {}", vocab::label(nrm::DECISIONS, v), case::long_date(date)));
                }
            }
            match n.told.as_str() {
                "yes" => rows.push(format!("Young person told on {}", case::long_date(&n.told_date))),
                "no" => rows.push("Young person not yet told of the decision".to_owned()),
                _ => {}
            }
            (!rows.is_empty()).then(|| view! {
                <ul class="fb-list" data-testid="nrm-tracker">{rows.into_iter().map(|r| view! { <li>{r}</li> }).collect_view()}</ul>
            })
        }}
        {move || {
            let reasons = case.with(|k| k.as_ref().map(|k| nrm::prompt_reasons(k, now())).unwrap_or_default());
            (!reasons.is_empty()).then(|| view! {
                <div class="fb-warning" data-testid="nrm-prompt">
                    <p><strong>"Consider an NRM referral, or record why not"</strong></p>
                    <p>{format!("Because {}.", reasons.join(", and "))}</p>
                </div>
            })
        }}
        <p><a class="fb-button fb-button-secondary" href=Route::Nrm(id).href() data-testid="nrm-edit">"Record the referral and decisions"</a></p>
        {move || {
            let history = nrm.get().history;
            (!history.is_empty()).then(|| view! {
                <details class="fb-details">
                    <summary>"NRM history"</summary>
                    <ol class="fb-list" data-testid="nrm-history">
                        {history.into_iter().map(|h| view! {
                            <li>{format!("{}: {} (by {})", format_time(h.at), vocab::label(vocab::NRM_STATUS, &h.status), h.by)}
                                {(!h.reason.is_empty()).then(|| view! { <p class="fb-hint">{h.reason.clone()}</p> })}</li>
                        }).collect_view()}
                    </ol>
                </details>
            })
        }}
        <details class="fb-details">
            <summary>"Record a new NRM status"</summary>
            {move || view! { <ErrorSummary errors=errors.get()/> }}
            <form on:submit=record novalidate>
                {move || field_error(&errors.get(), "nrm-status")}
                <Radios id="nrm-status".into() legend="NRM status".into() choices=vocab::NRM_STATUS selected=None
                        on_pick=Callback::new(move |v| status.set(v)) hint=None/>
                {move || field_error(&errors.get(), "nrm-reason")}
                <label class="fb-label" for="nrm-reason">"Reason or note"</label>
                <p class="fb-hint" id="nrm-reason-hint">"Required when considered but not referred."</p>
                <TextField id="nrm-reason" rows=3 describedby="nrm-reason-hint" value=reason on_input=move |v: String| reason.set(v)/>
                <button class="fb-button" type="submit">"Record NRM status"</button>
            </form>
        </details>
    }
}

#[component]
fn Outcomes(driver: Driver, id: DocumentId, case: Memo<Option<case::Case>>) -> impl IntoView {
    let overall = RwSignal::new(String::new());
    let soft = RwSignal::new(Vec::<String>::new());
    let notes = RwSignal::new(String::new());
    let error = RwSignal::new(Vec::new());
    let d = driver.clone();
    let record = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let o = case::Outcome {
            id: new_id(),
            at: now(),
            overall: overall.get_untracked(),
            soft: soft.get_untracked(),
            notes: notes.get_untracked(),
            by: d.author(),
        };
        let problems = validate::outcome(&o);
        if !problems.is_empty() {
            error.set(problems);
            return;
        }
        error.set(Vec::new());
        if d.act(id, |tx| case::outcomes::add(tx, &o)) {
            notes.set(String::new());
            soft.set(Vec::new());
        }
    };
    view! {
        <h2>"Outcomes at review"</h2>
        {move || {
            let outcomes = case.get().map(|c| c.outcomes).unwrap_or_default();
            view! {
                <ul class="fb-list" data-testid="outcomes">
                    {outcomes.into_iter().rev().map(|o| view! {
                        <li>
                            <strong>{format!("{}: {}", format_time(o.at), vocab::label(vocab::OUTCOMES, &o.overall))}</strong>
                            <p class="fb-hint">{o.soft.iter().map(|s| vocab::label(vocab::SOFT_OUTCOMES, s)).collect::<Vec<_>>().join(", ")}</p>
                            <p>{o.notes}</p>
                        </li>
                    }).collect_view()}
                </ul>
            }
        }}
        <details class="fb-details">
            <summary>"Record a review outcome"</summary>
            {move || view! { <ErrorSummary errors=error.get()/> }}
            <form on:submit=record novalidate>
                {move || field_error(&error.get(), "outcome-overall")}
                <Radios id="outcome-overall".into() legend="Since the last review, things have".into() choices=vocab::OUTCOMES selected=None
                        on_pick=Callback::new(move |v| overall.set(v)) hint=None/>
                <fieldset class="fb-fieldset">
                    <legend class="fb-label">"Other outcomes"</legend>
                    {vocab::SOFT_OUTCOMES.iter().map(|(sid, label)| {
                        let cid = format!("soft-{sid}");
                        view! {
                            <div class="fb-checkbox">
                                <input type="checkbox" id=cid.clone() prop:checked=move || soft.with(|s| s.iter().any(|x| x == sid))
                                       on:change=move |ev| { let on = event_target_checked(&ev); soft.update(|s| { s.retain(|x| x != sid); if on { s.push((*sid).to_owned()) } }) }/>
                                <label for=cid>{*label}</label>
                            </div>
                        }
                    }).collect_view()}
                </fieldset>
                <label class="fb-label" for="outcome-notes">"Notes"</label>
                <TextField id="outcome-notes" rows=3 value=notes on_input=move |v: String| notes.set(v)/>
                <button class="fb-button" type="submit">"Record outcome"</button>
            </form>
        </details>
    }
}

/// Relationships and places: the most sensitive data, read only when someone asks. They
/// live in the case's own relationships document (fetched when shown, if this device does
/// not hold it); cases written before that keep them in the case document.
#[component]
fn Network(driver: Driver, id: DocumentId) -> impl IntoView {
    let shown = RwSignal::new(false);
    let d2 = driver.clone();
    let s = driver.signals;
    let d = driver.clone();
    // Where this case's relationships are written: its own document, or (older cases) itself.
    let home = {
        let d = driver.clone();
        move || {
            s.revision.get();
            d.with_doc(&id, network::linked).flatten().unwrap_or(id)
        }
    };
    let links = {
        let home = home.clone();
        move || {
            let at = home();
            d.with_doc(&at, |doc| {
                (
                    network::read(doc, LinkKind::Person),
                    network::read(doc, LinkKind::Place),
                )
            })
        }
    };
    let show = {
        let d = driver.clone();
        let home = home.clone();
        move |_| {
            let at = home();
            if at != id {
                d.fetch(at);
            }
            shown.set(true);
        }
    };
    let refused = {
        let home = home.clone();
        move || {
            let at = home();
            at != id && s.unavailable.with(|u| u.contains(&at))
        }
    };
    view! {
        <h2>"Relationships and places"</h2>
        <Show when=move || shown.get() fallback=move || view! {
            <p class="fb-hint">"Hidden: only open this when you need it."</p>
            <button class="fb-button fb-button-secondary" on:click=show.clone()>"Show relationships and places"</button>
        }>
            {
                let links = links.clone();
                let refused = refused.clone();
                move || {
                    if refused() {
                        return view! {
                            <p data-testid="relationships-restricted">"Only the allocated worker, their managers and people the case is shared with can see relationships and places."</p>
                        }.into_any();
                    }
                    let Some((people, places)) = links() else {
                        return view! { <p class="fb-hint">"Fetching relationships and places…"</p> }.into_any();
                    };
                    view! {
                        <h3>"People"</h3>
                        <ul class="fb-list">{people.into_iter().map(|l| view! { <li>{format!("{} — {} ({})", l.name, vocab::label(vocab::LINK_TYPES, &l.link), l.rating)}</li> }).collect_view()}</ul>
                        <h3>"Places"</h3>
                        <ul class="fb-list">{places.into_iter().map(|l| view! { <li>{format!("{} — {} ({})", l.name, vocab::label(vocab::LINK_TYPES, &l.link), l.rating)}</li> }).collect_view()}</ul>
                        <button class="fb-button fb-button-secondary" on:click=move |_| shown.set(false)>"Hide"</button>
                    }.into_any()
                }
            }
            {
                let home = home.clone();
                let refused = refused.clone();
                let d2 = d2.clone();
                move || {
                    let (d2, at) = (d2.clone(), home());
                    (!refused()).then(move || view! { <NetworkAdd driver=d2 id=at/> })
                }
            }
        </Show>
    }
}

#[component]
fn NetworkAdd(driver: Driver, id: DocumentId) -> impl IntoView {
    let kind = RwSignal::new("person".to_owned());
    let draft = RwSignal::new(network::Link::default());
    let errors = RwSignal::new(Vec::new());
    let d = driver.clone();
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let mut l = draft.get_untracked();
        l.id = new_id();
        let problems = validate::link(&l);
        if !problems.is_empty() {
            errors.set(problems);
            return;
        }
        errors.set(Vec::new());
        let k = if kind.get_untracked() == "place" {
            LinkKind::Place
        } else {
            LinkKind::Person
        };
        if d.act(id, |tx| network::add(tx, k, &l)) {
            draft.set(network::Link::default());
        }
    };
    view! {
        <details class="fb-details">
            <summary>"Add a person or place"</summary>
            {move || view! { <ErrorSummary errors=errors.get()/> }}
            <form on:submit=add novalidate>
                <Radios id="link-kind".into() legend="Adding a".into() choices=&[("person", "Person"), ("place", "Place")]
                        selected=Some("person".into()) on_pick=Callback::new(move |v| kind.set(v)) hint=None/>
                {move || field_error(&errors.get(), "link-name")}
                <label class="fb-label" for="link-name">"Name or description"</label>
                <TextField id="link-name" value=Signal::derive(move || draft.with(|l| l.name.clone()))
                           on_input=move |v: String| draft.update(|l| l.name = v)/>
                {move || field_error(&errors.get(), "link-type")}
                <Radios id="link-type".into() legend="How they are linked".into() choices=vocab::LINK_TYPES selected=None
                        on_pick=Callback::new(move |v| draft.update(|l| l.link = v)) hint=None/>
                {move || field_error(&errors.get(), "link-rating")}
                <Radios id="link-rating".into() legend="Risk or protective".into() choices=&[("risk", "Risk"), ("protective", "Protective")] selected=None
                        on_pick=Callback::new(move |v| draft.update(|l| l.rating = v)) hint=None/>
                <button class="fb-button" type="submit">"Add"</button>
            </form>
        </details>
    }
}

/// "Who has opened this file", from the server's audit log: for managers, when online
/// (the log is on the server; nothing of it is kept on the device).
#[component]
fn WhoOpened(driver: Driver, id: DocumentId) -> impl IntoView {
    let s = driver.signals;
    let manager = Memo::new(move |_| {
        s.account
            .with(|a| a.as_ref().is_some_and(|a| a.role == Role::Manager))
    });
    let online = Memo::new(move |_| s.status.get() != Status::Offline);
    // None: not asked yet (or asked again); Some(Err): what to tell the manager.
    let rows = RwSignal::new(None::<Result<Vec<AuditRow>, String>>);
    let asking = RwSignal::new(false);
    let ask = move || {
        if asking.get_untracked() {
            return;
        }
        asking.set(true);
        leptos::task::spawn_local(async move {
            let answer = http::call("GET", &format!("/api/cases/{id}/audit"), None).await;
            let result = match answer {
                Err(_) => Err(account::audit_problem(None)),
                Ok(a) if a.status == 200 => account::audit_rows(&a.body)
                    .map_err(|e| format!("Fieldbook could not read who has opened this file: {e}")),
                Ok(a) => Err(account::audit_problem(Some(a.status))),
            };
            asking.set(false);
            rows.set(Some(result));
        });
    };
    Effect::new(move |_| {
        if manager.get() && online.get() && rows.with_untracked(Option::is_none) {
            ask();
        }
    });
    move || {
        manager.get().then(|| {
            view! {
                <section data-testid="who-opened">
                    <h2>"Who has opened this file"</h2>
                    {move || match (online.get(), rows.get()) {
                        (false, _) => view! { <p class="fb-hint">"Shown when this device is online."</p> }.into_any(),
                        (true, None) => view! { <p class="fb-hint">"Asking the server…"</p> }.into_any(),
                        (true, Some(Err(e))) => view! {
                            <p class="fb-error-message" role="alert" data-testid="who-opened-problem">{e}</p>
                            <button type="button" class="fb-button fb-button-secondary" on:click=move |_| ask()>"Try again"</button>
                        }.into_any(),
                        (true, Some(Ok(list))) if list.is_empty() => view! { <p>"No one has opened this file yet."</p> }.into_any(),
                        (true, Some(Ok(list))) => view! {
                            <table class="fb-table">
                                <thead><tr><th scope="col">"Who"</th><th scope="col">"Device"</th><th scope="col">"When"</th><th scope="col">"What"</th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|r| view! {
                                        <tr><td>{r.who().to_owned()}</td><td>{r.device().to_owned()}</td><td>{format_time(r.at)}</td><td>{r.action().to_owned()}</td></tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                            <button type="button" class="fb-button fb-button-secondary" on:click=move |_| ask()>"Check again"</button>
                        }.into_any(),
                    }}
                </section>
            }
        })
    }
}
