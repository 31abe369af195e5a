//! "Due and overdue": every case on this device with its most urgent open clock, in the
//! order to look at them (home, `Route::Cases`), and the same for a manager grouped by the
//! worker each case is allocated to (`Route::Team`). What is due and the order come from
//! `fieldbook_case::{clocks, due}`; this module reads the documents and shows the result.
//!
//! Reading a whole case is the slow part, so a case is read again only when its document
//! changed (its heads moved), and the reads are kept across screens for the page's life
//! (opening home again costs only what changed); each case's clocks and line are worked out
//! again from those reads when its document or the minute changes (`crate::now`), which
//! needs no document at all. Both go a slice of about 8 ms at a time, so a thousand cases
//! arriving or due again never hold the page (a tap waits at most a slice).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use fieldbook_case::account::Role;
use fieldbook_case::clocks::{self, words, Clock, Settings};
use fieldbook_case::due::{self, Row, Urgency};
use fieldbook_case::find;
use fieldbook_case::route::Route;
use fieldbook_case::{self as case_file, caseload, vocab, Case};
use fieldbook_sync::automerge::ChangeHash;
use fieldbook_sync::DocumentId;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

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
pub struct Reads(
    pub Vec<Read>,
    /** Cases not yet read at their current heads. */ pub usize,
);

impl PartialEq for Reads {
    /// Same cases at the same heads: nothing to show differently (cheap, no case compared).
    fn eq(&self, other: &Self) -> bool {
        self.1 == other.1
            && self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .zip(&other.0)
                .all(|(a, b)| a.id == b.id && a.heads == b.heads)
    }
}

/// How long one task spends reading cases or working out their lines before it lets the
/// page handle input and paint (the rest is done in the next task).
const SLICE_MS: f64 = 8.0;

/// What the screens of cases keep for as long as the page lives (one driver per page:
/// locking and signing out reload it): each case's read and its line on "Due and overdue",
/// with the heads (and minute) they are for. Opening home again costs only what changed
/// meanwhile, not a read of every case (seconds with 1,000 cases). A case that leaves the
/// device leaves this too.
#[derive(Default)]
struct Kept {
    reads: HashMap<DocumentId, Read>,
    due: HashMap<DocumentId, DueCase>,
    /// The clock settings the lines in `due` were worked out with.
    settings: Option<Settings>,
}

thread_local! {
    static KEPT: std::cell::RefCell<Kept> = std::cell::RefCell::new(Kept::default());
}

/// Run `f` in a later task (after input and paint), once however often it is asked for
/// before it runs.
fn later(armed: &Arc<AtomicBool>, f: impl FnOnce() + 'static) {
    if armed.swap(true, Ordering::Relaxed) {
        return;
    }
    let disarm = armed.clone();
    let cb = wasm_bindgen::closure::Closure::once_into_js(move || {
        disarm.store(false, Ordering::Relaxed);
        f()
    });
    // Fails only without a window (the page is unloading): nothing left to show.
    if let Some(w) = web_sys::window() {
        if w.set_timeout_with_callback_and_timeout_and_arguments_0(cb.unchecked_ref(), 0)
            .is_err()
        {
            armed.store(false, Ordering::Relaxed);
        }
    }
}

/// Every case on the device, re-read only where its document changed since it was last
/// read (by any screen: the reads are kept, see [`Kept`]). With `sliced`, reading stops
/// after [`SLICE_MS`] and goes on in the next task, so a thousand cases arriving (a new
/// phone pulling its caseload) or changed never hold the page for seconds: until then a
/// case shows as last read, and one never read is not in the list yet (`Reads.1` says how
/// many are left). Without it (the monthly dataset, which must count every case) every
/// case is read before it returns.
pub fn read_cases(driver: &Driver, sliced: bool) -> Memo<Reads> {
    let s = driver.signals;
    let d = driver.clone();
    let more = RwSignal::new(0u64);
    let armed = Arc::new(AtomicBool::new(false));
    Memo::new(move |_| {
        s.revision.track();
        more.track();
        let ids = s.cases.get();
        let until = js_sys::Date::now() + SLICE_MS;
        let mut read = 0usize;
        let mut left = 0usize;
        let reads = KEPT.with(|k| {
            let kept = &mut k.borrow_mut().reads;
            let reads: Vec<Read> = ids
                .iter()
                .filter_map(|id| {
                    d.with_doc(id, |doc| {
                        if !case_file::is_case(doc) {
                            return None;
                        }
                        let heads = doc.get_heads();
                        if let Some(r) = kept.get(id).filter(|r| r.heads == heads) {
                            return Some(r.clone());
                        }
                        if sliced && read > 0 && js_sys::Date::now() >= until {
                            left += 1;
                            return kept.get(id).cloned();
                        }
                        read += 1;
                        let r = Read {
                            id: *id,
                            heads,
                            case: Arc::new(case_file::read(doc)),
                        };
                        kept.insert(*id, r.clone());
                        Some(r)
                    })
                    .flatten()
                })
                .collect();
            // A case gone from the device goes from memory too.
            if kept.len() > ids.len() {
                let on: HashSet<DocumentId> = ids.iter().copied().collect();
                kept.retain(|id, _| on.contains(id));
            }
            reads
        });
        if left > 0 {
            later(&armed, move || {
                // The screen may have gone meanwhile: then nothing is left to read for it.
                more.try_update(|n| *n += 1);
            });
        }
        Reads(reads, left)
    })
}

/// The minute of `now` (ms): what is due is said to the minute at the finest ("overdue by
/// 40 minutes"; due times are whole minutes), so a case's line is worked out again when
/// the minute changes or its document does, not at each 5-second tick.
fn minute_of(now: i64) -> i64 {
    now.div_euclid(60_000)
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
/// minute they were worked out for.
struct DueCase {
    heads: Vec<ChangeHash>,
    minute: i64,
    row: Row<DocumentId>,
    line: Line,
}

/// Every case's row and line at `now`, in the order of `reads`, and how many cases are left
/// to work out in a later task. A case's clocks and line are worked out again only when its
/// document or the minute changed (kept across screens, [`Kept`]): while a new phone pulls
/// its caseload the page re-renders about once a second as cases arrive, and working out
/// every case each time would cost the caseload squared over the pull. Working out stops
/// after [`SLICE_MS`]: a case not yet worked out shows its last line, or is not in the list
/// yet if it never had one.
///
/// Without `sliced` (the manager view, whose counts must be complete) every case is worked
/// out before it returns.
fn due_cases(
    reads: &Reads,
    now: i64,
    settings: &Settings,
    sliced: bool,
) -> (Vec<(Row<DocumentId>, Line)>, usize) {
    let minute = minute_of(now);
    let until = js_sys::Date::now() + SLICE_MS;
    let mut done = 0usize;
    let mut left = 0usize;
    let out = KEPT.with(|k| {
        let mut k = k.borrow_mut();
        if k.settings.as_ref() != Some(settings) {
            // The service's settings changed: every line may say something else.
            k.due.clear();
            k.settings = Some(settings.clone());
        }
        let kept = &mut k.due;
        let out: Vec<(Row<DocumentId>, Line)> = reads
            .0
            .iter()
            .filter_map(|read| {
                let fresh = kept
                    .get(&read.id)
                    .is_some_and(|c| c.minute == minute && c.heads == read.heads);
                if !fresh {
                    if sliced && done > 0 && js_sys::Date::now() >= until {
                        left += 1;
                    } else {
                        done += 1;
                        let row = Row::of(read.id, &read.case, now, settings);
                        let line = Line::of(&row, &read.case, now, settings);
                        kept.insert(
                            read.id,
                            DueCase {
                                heads: read.heads.clone(),
                                minute,
                                row,
                                line,
                            },
                        );
                    }
                }
                kept.get(&read.id).map(|c| (c.row.clone(), c.line.clone()))
            })
            .collect();
        if kept.len() > reads.0.len() {
            let on: HashSet<DocumentId> = reads.0.iter().map(|r| r.id).collect();
            kept.retain(|id, _| on.contains(id));
        }
        out
    });
    (out, left)
}

/// Every case's line, most urgent first, and how many cases are left to work out.
fn due_lines(reads: &Reads, now: i64, settings: &Settings) -> (Vec<Line>, usize) {
    let (cases, left) = due_cases(reads, now, settings, true);
    let mut lines: HashMap<DocumentId, Line> = HashMap::with_capacity(cases.len());
    let mut rows = Vec::with_capacity(cases.len());
    for (row, line) in cases {
        lines.insert(row.key, line);
        rows.push(row);
    }
    due::order(&mut rows);
    let ordered = rows.iter().filter_map(|r| lines.remove(&r.key)).collect();
    (ordered, left)
}

/// The lines of "Due and overdue" as time passes and cases change: worked out when the
/// minute (from the ticking time) or a case changes, a slice at a time (see
/// [`due_cases`]). Whoever works a line out reads the exact time (`crate::now::read`).
#[derive(Clone, PartialEq)]
struct Shown {
    lines: Vec<Line>,
    /// Cases not yet read or worked out: the list is not complete.
    left: usize,
}

fn shown_lines(reads: Memo<Reads>, settings: Settings) -> Memo<Shown> {
    let now = crate::now::ticking();
    let minute = Memo::new(move |_| minute_of(now.get()));
    let more = RwSignal::new(0u64);
    let armed = Arc::new(AtomicBool::new(false));
    Memo::new(move |_| {
        // Read, not only tracked: a memo nobody has read is never computed, so it would never
        // hear the time move (`track` alone left home saying "due" two days on, eabeab4).
        minute.with(|_| ());
        more.track();
        let (lines, left, unread) = reads.with(|r| {
            let (lines, left) = due_lines(r, crate::now::read(), &settings);
            (lines, left, r.1)
        });
        if left > 0 {
            later(&armed, move || {
                more.try_update(|n| *n += 1);
            });
        }
        Shown {
            lines,
            left: left + unread,
        }
    })
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
/// A keystroke in "Find a case" recomputes only which cases match (names,
/// `fieldbook_case::find`), never a clock, and the list then holds at most
/// `find::SHOWN_AT_ONCE` lines (unless the person asked for all): the lines that stay are
/// kept, only those that come or go are built or dropped.
#[component]
pub fn DueList(driver: Driver) -> impl IntoView {
    let reads = read_cases(&driver, true);
    let due = shown_lines(reads, clock_settings(&driver));
    let shown = Memo::new(move |_| due.with(|d| d.lines.clone()));
    let typed = RwSignal::new(String::new());
    // The names folded once per change of the list, not on every keystroke.
    let names = Memo::new(move |_| {
        shown.with(|lines| {
            lines
                .iter()
                .map(|l| (l.id, find::Folded::new(&[&l.name, &l.known_as])))
                .collect::<Vec<_>>()
        })
    });
    // The cases that match what is typed; `None` while nothing is (every case shows).
    let matching = Memo::new(move |_| {
        let query = typed.with(|t| find::Query::new(t));
        if query.is_empty() {
            return None;
        }
        names.with(|names| {
            Some(
                names
                    .iter()
                    .filter(|(_, folded)| query.matches_folded(folded))
                    .map(|(id, _)| *id)
                    .collect::<HashSet<DocumentId>>(),
            )
        })
    });
    // "Show all" was asked for; typing goes back to the first lines.
    let all = RwSignal::new(false);
    // Which lines show: at most `find::SHOWN_AT_ONCE` of those that match, so a keystroke
    // lays out a screenful of lines, never hundreds.
    let showing = Memo::new(move |_| {
        let all = all.get();
        matching.with(|m| {
            shown.with(|lines| {
                find::Shown::new(
                    lines.iter().map(|l| l.id),
                    |id| m.as_ref().is_none_or(|m| m.contains(id)),
                    find::SHOWN_AT_ONCE,
                    all,
                )
            })
        })
    });
    // Only the lines shown are in the page. Hidden lines kept in it made every key that
    // showed lines again slow: Chromium's style pass over a list of a thousand hidden
    // siblings took 30–60 ms for a handful of lines (docs/PERFORMANCE.md).
    let visible = Memo::new(move |_| {
        showing.with(|s| {
            shown.with(|lines| {
                lines
                    .iter()
                    .filter(|l| s.shows(&l.id))
                    .cloned()
                    .collect::<Vec<Line>>()
            })
        })
    });
    let results = move || {
        let total = shown.with(Vec::len);
        let found = matching.with(|m| m.as_ref().map_or(total, HashSet::len));
        typed.with(|t| find::results_words(t, found, total))
    };
    let left_out = move || {
        let (shown_now, matches) = showing.with(|s| (s.matching - s.left_out, s.matching));
        // `matching` is `None` exactly when nothing is typed.
        let searching = matching.with(Option::is_some);
        find::left_out_words(shown_now, matches, searching).map(|(said, button)| {
            view! {
                <div class="fb-find-more" data-testid="find-more">
                    <p class="fb-hint" role="status">{said}</p>
                    <button type="button" class="fb-button fb-button-secondary" data-testid="show-all"
                        on:click=move |_| all.set(true)>{button}</button>
                </div>
            }
        })
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
                on:input=move |ev| {
                    typed.set(event_target_value(&ev));
                    all.set(false);
                }/>
        </form>
        <p class="fb-find-results" role="status" aria-live="polite" data-testid="find-results">{results}</p>
        <ul class="fb-list fb-due-list" data-testid="case-list">
            <For each=move || visible.get() key=|l| l.clone() let:line>
                <DueLine line=line/>
            </For>
        </ul>
        {left_out}
        {move || {
            let left = due.with(|d| d.left);
            (left > 0).then(|| view! {
                <p class="fb-hint" role="status" data-testid="due-reading">
                    {format!("Reading {} on this device…", vocab::count(left, "more case", "more cases"))}
                </p>
            })
        }}
        {move || due.with(|d| d.lines.is_empty() && d.left == 0).then(|| view! {
            <p class="fb-hint" data-testid="no-cases">"There are no cases on this device yet."</p>
        })}
    }
}

/// One case: its name (a link), age, hazard labels and most urgent clock, and how many more.
#[component]
fn DueLine(line: Line) -> impl IntoView {
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
        <li class="fb-due-line" data-testid="due-line">
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
    // Not sliced: a manager's counts are of every case on the device.
    let reads = read_cases(&driver, false);
    let now = crate::now::ticking();
    let minute = Memo::new(move |_| minute_of(now.get()));
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
                .collect::<HashMap<_, _>>()
        })
    });
    let groups = Memo::new(move |_| {
        // Read, not only tracked (see `shown_lines`).
        minute.with(|_| ());
        let now = crate::now::read();
        workers.with(|workers| {
            reads.with(|r| {
                let (cases, _) = due_cases(r, now, &settings, false);
                let mut lines: HashMap<DocumentId, Line> = HashMap::with_capacity(cases.len());
                let mut rows = Vec::with_capacity(cases.len());
                for (row, line) in cases {
                    lines.insert(row.key, line);
                    rows.push(row);
                }
                let worker = |row: &Row<DocumentId>| {
                    workers
                        .get(&row.key)
                        .cloned()
                        .unwrap_or_else(|| due::NOT_ALLOCATED.to_owned())
                };
                due::by_worker(rows, worker)
                    .into_iter()
                    .map(|g| GroupView {
                        counts: due::counts_words(g.counts),
                        lines: g
                            .rows
                            .iter()
                            .filter_map(|row| lines.get(&row.key).cloned())
                            .collect(),
                        worker: g.worker,
                    })
                    .collect::<Vec<_>>()
            })
        })
    });
    let manager = is_manager(&driver);
    // Workers whose every line was asked for. The others show their most urgent
    // `find::SHOWN_AT_ONCE`: laying out every line of a big team at once held the page
    // (docs/PERFORMANCE.md); the counts above each list are always of every case.
    let expanded = RwSignal::new(HashSet::<String>::new());
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
                {
                    let (worker, lines) = (group.worker.clone(), group.lines.clone());
                    move || {
                        let all = expanded.with(|e| e.contains(&worker));
                        let shown = if all { lines.len() } else { lines.len().min(find::SHOWN_AT_ONCE) };
                        view! {
                            <ul class="fb-list fb-due-list">
                                {lines[..shown].iter().cloned().map(|line| view! { <DueLine line=line/> }).collect_view()}
                            </ul>
                        }
                    }
                }
                {
                    let (worker, total) = (group.worker.clone(), group.lines.len());
                    move || {
                        let all = expanded.with(|e| e.contains(&worker));
                        let shown = if all { total } else { total.min(find::SHOWN_AT_ONCE) };
                        let w = worker.clone();
                        find::left_out_words(shown, total, false).map(|(said, button)| view! {
                            <div class="fb-find-more" data-testid="team-more">
                                <p class="fb-hint" role="status">{said}</p>
                                <button type="button" class="fb-button fb-button-secondary" data-testid="team-show-all"
                                    on:click=move |_| expanded.update(|e| { e.insert(w.clone()); })>{button}</button>
                            </div>
                        })
                    }
                }
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
