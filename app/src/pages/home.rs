//! "Due and overdue": every case on this device with its most urgent open clock, in the
//! order to look at them (home, `Route::Cases`), and the same for a manager grouped by the
//! worker each case is allocated to (`Route::Team`). What is due and the order come from
//! `fieldbook_case::{clocks, due}`; this module reads the documents and shows the result.
//!
//! Reading a whole case is the slow part, so a case is read again only when its document
//! changed (its heads moved); the clocks are recomputed from those reads as time passes
//! (`crate::now`), which needs no document at all.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use fieldbook_case::account::Role;
use fieldbook_case::clocks::{self, words, Clock, Settings};
use fieldbook_case::due::{self, Row, Urgency};
use fieldbook_case::find;
use fieldbook_case::route::Route;
use fieldbook_case::{self as case_file, caseload, vocab, Case};
use fieldbook_sync::automerge::ChangeHash;
use fieldbook_sync::DocumentId;
use leptos::prelude::*;

use crate::driver::Driver;
use crate::lone::TeamAlerts;

/// The clock settings this device uses: the service's, from the last session answer (kept
/// on the device, so they apply offline); the defaults before any.
pub fn clock_settings(driver: &Driver) -> Settings {
    let mut s = driver.record().clock_settings;
    if s.nrm_reminder_days.is_empty() {
        // The server never sends none; an old or damaged record keeps the NRM reminders on.
        s.nrm_reminder_days = Settings::default().nrm_reminder_days;
    }
    s
}

/// One case as last read, with the heads it was read at.
#[derive(Clone)]
pub struct Read {
    pub id: DocumentId,
    heads: Vec<ChangeHash>,
    pub case: Arc<Case>,
}

/// Every case on the device, as read.
#[derive(Clone, Default)]
pub struct Reads(pub Vec<Read>);

impl PartialEq for Reads {
    /// Same cases at the same heads: nothing to show differently (cheap, no case compared).
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .zip(&other.0)
                .all(|(a, b)| a.id == b.id && a.heads == b.heads)
    }
}

/// Every case on the device, re-read only where its document changed since the last read.
pub fn read_cases(driver: &Driver) -> Memo<Reads> {
    let s = driver.signals;
    let d = driver.clone();
    Memo::new(move |prev: Option<&Reads>| {
        s.revision.track();
        let ids = s.cases.get();
        // By id: looking each case up in the previous list would cost the caseload squared.
        let before: HashMap<DocumentId, &Read> = prev
            .map(|p| p.0.iter().map(|r| (r.id, r)).collect())
            .unwrap_or_default();
        Reads(
            ids.into_iter()
                .filter_map(|id| {
                    d.with_doc(&id, |doc| {
                        if !case_file::is_case(doc) {
                            return None;
                        }
                        let heads = doc.get_heads();
                        let kept = before.get(&id).filter(|r| r.heads == heads);
                        Some(match kept {
                            Some(r) => Read::clone(r),
                            None => Read {
                                id,
                                heads,
                                case: Arc::new(case_file::read(doc)),
                            },
                        })
                    })
                    .flatten()
                })
                .collect(),
        )
    })
}

/// One line of "Due and overdue".
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Line {
    pub id: DocumentId,
    pub name: String,
    /// The name they are known by (found by "Find a case" too).
    pub known_as: String,
    pub age: Option<u32>,
    pub notes: usize,
    pub hazards: Vec<String>,
    /// The most urgent open clock: how urgent, and in words.
    pub clock: Option<(Urgency, String)>,
    /// How many more open clocks the case has.
    pub more: usize,
    /// Current pattern flags, in words ("3 hospital attendances in 90 days").
    pub patterns: Vec<String>,
    /// Where the most urgent clock's reachable moment is, when it is a follow-up.
    pub moment: Option<String>,
    /// Flags in words: "Closed on …", "Not seen face to face for N days", the prompt to
    /// consider an NRM referral (`fieldbook_case::{stepdown, nrm}`). They never change the
    /// order: a flag is not a lower risk.
    pub flags: Vec<String>,
}

impl Line {
    fn of(row: &Row<DocumentId>, case: &Case, now: i64, settings: &Settings) -> Line {
        Line {
            id: row.key,
            name: row.name.clone(),
            known_as: case.profile.known_as.clone(),
            age: super::age(&case.profile.dob, now),
            notes: case.notes.len(),
            hazards: case
                .shown_hazards()
                .iter()
                .map(|h| h.label.clone())
                .collect(),
            clock: row
                .most_urgent()
                .and_then(|c| Some((due::urgency(c)?, words::line(c, now)))),
            more: row.more(),
            patterns: fieldbook_case::reach::current(case, now, settings)
                .into_iter()
                .map(|f| f.words)
                .collect(),
            moment: row
                .most_urgent()
                .filter(|c| c.kind == clocks::Kind::FollowUp)
                .map(|c| source_link(row.key, c).0.href()),
            flags: flags(case, now, settings),
        }
    }
}

/// A case's flags for its card ([`Line::flags`]), with the device's clock settings.
fn flags(case: &Case, now: i64, settings: &Settings) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(c) = case_file::stepdown::closed(case) {
        out.push(format!("Closed on {}", case_file::long_date(&c.date)));
    }
    if let Some(f) = case_file::stepdown::not_seen_flag(case, now, settings) {
        out.push(f);
    }
    if case_file::nrm::prompt(case, now) {
        out.push("Consider an NRM referral, or record why not".to_owned());
    }
    out
}

/// One case's row and line on "Due and overdue", for the heads it was read at and the
/// time they were worked out for.
struct DueCase {
    heads: Vec<ChangeHash>,
    now: i64,
    row: Row<DocumentId>,
    line: Line,
}

/// Every case's line, most urgent first. A case's clocks and line are worked out again only
/// when its document or the time changed: while a new phone pulls its caseload the page
/// re-renders about once a second as cases arrive, and working out every case each time
/// would cost the caseload squared over the pull.
fn due_lines(
    cache: &mut HashMap<DocumentId, DueCase>,
    reads: &Reads,
    now: i64,
    settings: &Settings,
) -> Vec<Line> {
    let mut fresh = HashMap::with_capacity(reads.0.len());
    let mut rows = Vec::with_capacity(reads.0.len());
    for read in &reads.0 {
        let due = match cache.remove(&read.id) {
            Some(c) if c.now == now && c.heads == read.heads => c,
            _ => {
                let row = Row::of(read.id, &read.case, now, settings);
                let line = Line::of(&row, &read.case, now, settings);
                DueCase {
                    heads: read.heads.clone(),
                    now,
                    row,
                    line,
                }
            }
        };
        rows.push(due.row.clone());
        fresh.insert(read.id, due);
    }
    due::order(&mut rows);
    let lines = rows
        .iter()
        .filter_map(|row| fresh.get(&row.key).map(|c| c.line.clone()))
        .collect();
    *cache = fresh;
    lines
}

fn lines(rows: &[Row<DocumentId>], reads: &Reads, now: i64, settings: &Settings) -> Vec<Line> {
    let by_id: HashMap<DocumentId, &Read> = reads.0.iter().map(|r| (r.id, r)).collect();
    rows.iter()
        .filter_map(|row| {
            let read = by_id.get(&row.key)?;
            Some(Line::of(row, &read.case, now, settings))
        })
        .collect()
}

/// Whether the signed-in person is a manager (the manager view is linked for them).
pub fn is_manager(driver: &Driver) -> bool {
    driver
        .signals
        .account
        .with(|a| a.as_ref().is_some_and(|a| a.role == Role::Manager))
}

/// The list of cases with what is due, most urgent first (home), with "Find a case".
///
/// Finding hides the lines that do not match rather than rebuilding the list: a keystroke
/// recomputes only which cases match (names, `fieldbook_case::find`), never a clock, and
/// touches only the lines whose match changed.
#[component]
pub fn DueList(driver: Driver) -> impl IntoView {
    let reads = read_cases(&driver);
    let now = crate::now::ticking();
    let settings = clock_settings(&driver);
    let cache = Arc::new(Mutex::new(HashMap::new()));
    let shown = Memo::new(move |_| {
        let now = now.get();
        let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
        reads.with(|r| due_lines(&mut cache, r, now, &settings))
    });
    let typed = RwSignal::new(String::new());
    // The cases that match what is typed; `None` while nothing is (every case shows).
    let matching = Memo::new(move |_| {
        let query = typed.with(|t| find::Query::new(t));
        if query.is_empty() {
            return None;
        }
        shown.with(|lines| {
            Some(
                lines
                    .iter()
                    .filter(|l| query.matches(&[&l.name, &l.known_as]))
                    .map(|l| l.id)
                    .collect::<HashSet<DocumentId>>(),
            )
        })
    });
    let results = move || {
        let total = shown.with(Vec::len);
        let found = matching.with(|m| m.as_ref().map_or(total, HashSet::len));
        typed.with(|t| find::results_words(t, found, total))
    };
    let d = driver.clone();
    view! {
        {move || is_manager(&d).then(|| view! {
            <p><a href=Route::Team.href() data-testid="team-link">"Your team’s deadlines"</a></p>
        })}
        <form class="fb-find" role="search" on:submit=|ev: leptos::ev::SubmitEvent| ev.prevent_default()>
            <label class="fb-label" for="find-case">"Find a case"</label>
            <p class="fb-hint" id="find-case-hint">"Type part of the young person’s name or the name they are known by"</p>
            <input id="find-case" class="fb-input" type="search" autocomplete="off" spellcheck="false"
                aria-describedby="find-case-hint" data-testid="find-case"
                prop:value=move || typed.get()
                on:input=move |ev| typed.set(event_target_value(&ev))/>
        </form>
        <p class="fb-find-results" role="status" aria-live="polite" data-testid="find-results">{results}</p>
        <ul class="fb-list fb-due-list" data-testid="case-list">
            <For each=move || shown.get() key=|l| l.clone() let:line>
                {
                    let id = line.id;
                    let hidden = Signal::derive(move || {
                        matching.with(|m| m.as_ref().is_some_and(|m| !m.contains(&id)))
                    });
                    view! { <DueLine line=line hidden=hidden/> }
                }
            </For>
        </ul>
        {move || shown.with(Vec::is_empty).then(|| view! {
            <p class="fb-hint" data-testid="no-cases">"There are no cases on this device yet."</p>
        })}
    }
}

/// One case: its name (a link), age, hazard labels and most urgent clock, and how many more.
/// `hidden`: left out by "Find a case" (still in the page, so clearing the search costs no
/// re-rendering).
#[component]
fn DueLine(line: Line, #[prop(optional)] hidden: Option<Signal<bool>>) -> impl IntoView {
    let mut facts = Vec::new();
    if let Some(age) = line.age {
        facts.push(format!("Age {age}"));
    }
    facts.push(vocab::count(line.notes, "note", "notes"));
    let clock = match line.clock {
        Some((urgency, text)) => view! {
            <p class=format!("fb-due fb-due-{}", urgency.class()) data-testid="due-clock">
                {urgency.tag().map(|t| view! {
                    <strong class=format!("fb-due-tag fb-due-tag-{}", urgency.class())>{t}</strong>
                })}
                {text}
            </p>
        }
        .into_any(),
        None => {
            view! { <p class="fb-due fb-hint" data-testid="due-clock">"Nothing due"</p> }.into_any()
        }
    };
    view! {
        <li class="fb-due-line" data-testid="due-line" hidden=move || hidden.is_some_and(|h| h.get())>
            <p class="fb-due-who">
                <a href=Route::Case(line.id).href() data-testid="case-link">{line.name}</a>
                <span class="fb-hint">{format!(" · {}", facts.join(" · "))}</span>
                {line.hazards.into_iter().map(|h| view! { <span class="fb-tag fb-tag-red">{h}</span> }).collect_view()}
            </p>
            {line.patterns.into_iter().map(|f| view! {
                <p class="fb-flag-line" data-testid="pattern-flag"><strong>"Pattern: "</strong>{f}</p>
            }).collect_view()}
            {(!line.flags.is_empty()).then(|| view! {
                <ul class="fb-case-flags" data-testid="case-flags">
                    {line.flags.into_iter().map(|f| view! { <li class="fb-flag"><strong>{f}</strong></li> }).collect_view()}
                </ul>
            })}
            {clock}
            {line.moment.map(|href| view! {
                <p class="fb-due-more"><a href=href data-testid="due-moment">"See the reachable moment"</a></p>
            })}
            {due::more_words(line.more).map(|more| view! {
                <p class="fb-due-more"><a href=Route::Deadlines(line.id).href() data-testid="due-more">{more}</a></p>
            })}
        </li>
    }
}

/// One worker's part of the manager view.
#[derive(Clone, PartialEq, Eq, Hash)]
struct GroupView {
    worker: String,
    counts: String,
    lines: Vec<Line>,
}

/// The manager view: the same clocks for the whole caseload on this device, by worker.
#[component]
pub fn TeamPage(driver: Driver) -> impl IntoView {
    let reads = read_cases(&driver);
    let now = crate::now::ticking();
    let settings = clock_settings(&driver);
    let s = driver.signals;
    let d = driver.clone();
    // Who each case is allocated to: the caseload index (the server's directory), else the
    // profile's "worker" text. Re-read with the documents.
    let workers = Memo::new(move |_| {
        s.revision.track();
        reads.with(|r| {
            r.0.iter()
                .map(|read| {
                    let allocated = d
                        .with_index(|idx| caseload::allocation(idx, &read.id))
                        .flatten();
                    let worker = due::worker_of(
                        allocated.as_ref().map(|a| a.worker.as_str()),
                        &read.case.profile.worker,
                    );
                    (read.id, worker)
                })
                .collect::<Vec<_>>()
        })
    });
    let groups = Memo::new(move |_| {
        let now = now.get();
        let workers = workers.get();
        reads.with(|r| {
            let rows: Vec<Row<DocumentId>> =
                r.0.iter()
                    .map(|read| Row::of(read.id, &read.case, now, &settings))
                    .collect();
            let worker = |row: &Row<DocumentId>| {
                workers
                    .iter()
                    .find(|(id, _)| *id == row.key)
                    .map(|(_, w)| w.clone())
                    .unwrap_or_else(|| due::NOT_ALLOCATED.to_owned())
            };
            due::by_worker(rows, worker)
                .into_iter()
                .map(|g| GroupView {
                    counts: due::counts_words(g.counts),
                    lines: lines(&g.rows, r, now, &settings),
                    worker: g.worker,
                })
                .collect::<Vec<_>>()
        })
    });
    let manager = is_manager(&driver);
    view! {
        <h1>"Your team’s deadlines"</h1>
        <TeamAlerts/>
        <p class="fb-hint">"Every case on this device, by the worker it is allocated to. Most urgent first."</p>
        {(!manager).then(|| view! {
            <p class="fb-hint">"This view is meant for managers: it shows only the cases on this device."</p>
        })}
        <For each=move || groups.get() key=|g| g.clone() let:group>
            <section class="fb-team-group" data-testid="team-group" aria-label=group.worker.clone()>
                <h2>{group.worker.clone()}</h2>
                <p class="fb-due-counts" data-testid="team-counts">{group.counts.clone()}</p>
                <ul class="fb-list fb-due-list">
                    {group.lines.into_iter().map(|line| view! { <DueLine line=line/> }).collect_view()}
                </ul>
            </section>
        </For>
        {move || groups.with(Vec::is_empty).then(|| view! {
            <p class="fb-hint">"There are no cases on this device yet."</p>
        })}
        <p><a href=Route::Dataset.href() data-testid="dataset-link">"Monthly service dataset"</a></p>
        <p><a href=Route::Cases.href()>"Back to due and overdue"</a></p>
    }
}

/// Where the record that started a clock is shown, and what to call the link.
pub fn source_link(case: DocumentId, clock: &Clock) -> (Route, &'static str) {
    let id = clock.source.id.as_str();
    match clock.source.record {
        "missing" => (Route::episode(case, id), "Missing episode"),
        "actions" | "plan" => (Route::Plan(case), "Safety plan"),
        "assessments" => (Route::check(case, id), "Risk assessment"),
        "profile" => (Route::Profile(case), "About them"),
        "nrm" => (Route::Case(case), "NRM on the case page"),
        "meetings" if !id.is_empty() => (Route::meeting(case, id), "Meeting"),
        "concerns" if !id.is_empty() => (Route::concern(case, id), "Concerns identified"),
        "moments" if !id.is_empty() => (Route::moment(case, id), "Reachable moment"),
        _ => (Route::Case(case), "The case page"),
    }
}

/// The clocks of one case at `now`: open ones most urgent first, then done ones.
pub fn case_clocks(case: &Case, now: i64, settings: &Settings) -> (Vec<Clock>, Vec<Clock>) {
    due::split(&clocks::clocks(case, now, settings))
}
