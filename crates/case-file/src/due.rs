//! "Due and overdue": what the home screen and the manager view show, as plain data. Every
//! case on the device becomes one [`Row`] (its open clocks, most urgent first); rows are put
//! in the order a worker should look at them ([`order`]) and, for a manager, grouped by the
//! worker each case is allocated to ([`by_worker`]). The clocks themselves come from
//! [`crate::clocks::clocks`]; this module only picks, sorts, groups and counts.

use std::collections::BTreeMap;

use crate::clocks::{self, Clock, Settings, State};
use crate::Case;

/// What a manager's view calls a case nobody is allocated to.
pub const NOT_ALLOCATED: &str = "Not allocated";

/// How urgent a clock is, for people: the tag shown with it (never colour alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Urgency {
    Overdue,
    DueSoon,
    Upcoming,
}

impl Urgency {
    /// The words on the tag ("Overdue", "Due soon"); `None` for a clock not yet close.
    pub fn tag(self) -> Option<&'static str> {
        match self {
            Urgency::Overdue => Some("Overdue"),
            Urgency::DueSoon => Some("Due soon"),
            Urgency::Upcoming => None,
        }
    }

    /// A class-name suffix for styling ("overdue", "due-soon", "upcoming").
    pub fn class(self) -> &'static str {
        match self {
            Urgency::Overdue => "overdue",
            Urgency::DueSoon => "due-soon",
            Urgency::Upcoming => "upcoming",
        }
    }
}

/// How urgent `clock` is; `None` once it is met.
pub fn urgency(clock: &Clock) -> Option<Urgency> {
    match clock.state {
        State::Overdue => Some(Urgency::Overdue),
        State::DueSoon => Some(Urgency::DueSoon),
        State::Upcoming => Some(Urgency::Upcoming),
        State::Met { .. } | State::MetLate { .. } => None,
    }
}

/// The open clocks of a case, most urgent first: overdue (longest overdue first), then by
/// when they are due (soonest first). Ties keep the order [`clocks::clocks`] gave.
pub fn open(all: &[Clock]) -> Vec<Clock> {
    let mut open: Vec<Clock> = all.iter().filter(|c| c.state.is_open()).cloned().collect();
    fieldbook_sync::order::sort_by_key(&mut open, |c| (c.state != State::Overdue, c.due));
    open
}

/// Open clocks first (most urgent first), then met ones, newest first: what a case's
/// "Deadlines" section lists.
pub fn split(all: &[Clock]) -> (Vec<Clock>, Vec<Clock>) {
    let mut done: Vec<Clock> = all.iter().filter(|c| !c.state.is_open()).cloned().collect();
    fieldbook_sync::order::sort_by_key(&mut done, |c| std::cmp::Reverse(met_at(c)));
    (open(all), done)
}

/// When a met clock was met.
pub fn met_at(clock: &Clock) -> Option<i64> {
    match clock.state {
        State::Met { at } | State::MetLate { at, .. } => Some(at),
        _ => None,
    }
}

/// One case on the home screen: `K` identifies it (the app's document id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row<K> {
    pub key: K,
    pub name: String,
    /// Open clocks, most urgent first ([`open`]).
    pub open: Vec<Clock>,
}

impl<K> Row<K> {
    /// The clocks of `case` at `now` (only the open ones are kept).
    pub fn of(key: K, case: &Case, now: i64, settings: &Settings) -> Row<K> {
        Row {
            key,
            name: case.profile.name.clone(),
            open: open(&clocks::clocks(case, now, settings)),
        }
    }

    /// The clock the line shows.
    pub fn most_urgent(&self) -> Option<&Clock> {
        self.open.first()
    }

    /// How many more open clocks there are after the one shown ("+2 more due").
    pub fn more(&self) -> usize {
        self.open.len().saturating_sub(1)
    }
}

/// "+2 more due" under a line, or nothing when the line shows the only open clock.
pub fn more_words(more: usize) -> Option<String> {
    (more > 0).then(|| format!("+{more} more due"))
}

/// Put rows in the order to look at them: cases with an overdue clock first (longest
/// overdue first), then by their most urgent clock's due time (soonest first), then cases
/// with no open clock; ties and clockless cases by name.
pub fn order<K>(rows: &mut [Row<K>]) {
    fieldbook_sync::order::sort_by(rows, |a, b| {
        let key = |r: &Row<K>| match r.most_urgent() {
            Some(c) => (0, c.state != State::Overdue, c.due),
            None => (1, false, 0),
        };
        key(a)
            .cmp(&key(b))
            .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
            .then_with(|| a.name.cmp(&b.name))
    });
}

/// Overdue and due-soon counts over `clocks`.
pub fn counts<'a>(clocks: impl IntoIterator<Item = &'a Clock>) -> (usize, usize) {
    clocks.into_iter().fold((0, 0), |(o, s), c| match c.state {
        State::Overdue => (o + 1, s),
        State::DueSoon => (o, s + 1),
        _ => (o, s),
    })
}

/// "3 overdue, 2 due soon", "1 overdue", "Nothing overdue or due soon".
pub fn counts_words((overdue, soon): (usize, usize)) -> String {
    match (overdue, soon) {
        (0, 0) => "Nothing overdue or due soon".to_owned(),
        (o, 0) => format!("{o} overdue"),
        (0, s) => format!("{s} due soon"),
        (o, s) => format!("{o} overdue, {s} due soon"),
    }
}

/// One worker's part of the manager view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group<K> {
    /// The worker's name, or [`NOT_ALLOCATED`].
    pub worker: String,
    /// Overdue and due-soon clocks over all their cases.
    pub counts: (usize, usize),
    /// Their cases, in [`order`].
    pub rows: Vec<Row<K>>,
}

/// Who a case is allocated to for the manager view: the caseload index's allocation
/// (what the server's directory says), else the profile's "worker" text, else
/// [`NOT_ALLOCATED`].
pub fn worker_of(allocated: Option<&str>, profile_worker: &str) -> String {
    [allocated.unwrap_or(""), profile_worker]
        .into_iter()
        .map(str::trim)
        .find(|w| !w.is_empty())
        .unwrap_or(NOT_ALLOCATED)
        .to_owned()
}

/// Group rows by worker (`worker` gives each row's, see [`worker_of`]). Workers with an
/// overdue clock come first (most overdue clocks first), then those with most due soon,
/// then by name; "Not allocated" goes last among equals so a named worker reads first.
pub fn by_worker<K>(rows: Vec<Row<K>>, worker: impl Fn(&Row<K>) -> String) -> Vec<Group<K>> {
    let mut groups: BTreeMap<String, Vec<Row<K>>> = BTreeMap::new();
    for r in rows {
        groups.entry(worker(&r)).or_default().push(r);
    }
    let mut out: Vec<Group<K>> = groups
        .into_iter()
        .map(|(worker, mut rows)| {
            order(&mut rows);
            let counts = counts(rows.iter().flat_map(|r| r.open.iter()));
            Group {
                worker,
                counts,
                rows,
            }
        })
        .collect();
    fieldbook_sync::order::sort_by(&mut out, |a, b| {
        (
            std::cmp::Reverse(a.counts),
            a.worker == NOT_ALLOCATED,
            &a.worker,
        )
            .cmp(&(
                std::cmp::Reverse(b.counts),
                b.worker == NOT_ALLOCATED,
                &b.worker,
            ))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clocks::{Kind, Source};

    const H: i64 = 3_600_000;
    const NOW: i64 = 1_000 * H;

    fn clock(what: &str, due: i64, state: State) -> Clock {
        Clock {
            kind: Kind::Action,
            what: what.to_owned(),
            whom: "Allocated worker".to_owned(),
            source: Source {
                record: "actions",
                id: what.to_owned(),
            },
            started: due - 100 * H,
            due,
            state,
            escalation: 0,
        }
    }

    fn row(name: &str, clocks: Vec<Clock>) -> Row<&'static str> {
        Row {
            key: "k",
            name: name.to_owned(),
            open: open(&clocks),
        }
    }

    fn names<K>(rows: &[Row<K>]) -> Vec<&str> {
        rows.iter().map(|r| r.name.as_str()).collect()
    }

    #[test]
    fn a_case_shows_its_most_urgent_open_clock_and_counts_the_rest() {
        let r = row(
            "A",
            vec![
                clock("later", NOW + 100 * H, State::Upcoming),
                clock("met", NOW - 10 * H, State::Met { at: NOW - 20 * H }),
                clock("soon", NOW + 5 * H, State::DueSoon),
                clock("late", NOW - H, State::Overdue),
                clock("later-late", NOW - 50 * H, State::Overdue),
            ],
        );
        let whats: Vec<&str> = r.open.iter().map(|c| c.what.as_str()).collect();
        assert_eq!(whats, ["later-late", "late", "soon", "later"]);
        assert_eq!(r.most_urgent().unwrap().what, "later-late");
        assert_eq!(r.more(), 3);
        assert_eq!(more_words(r.more()).as_deref(), Some("+3 more due"));
        assert_eq!(more_words(0), None);
    }

    #[test]
    fn cases_are_ordered_overdue_longest_first_then_soonest_due_then_no_clock_by_name() {
        let mut rows = vec![
            row("Zed nothing", vec![]),
            row("Soon", vec![clock("s", NOW + 3 * H, State::DueSoon)]),
            row("Slightly late", vec![clock("o", NOW - H, State::Overdue)]),
            row(
                "abel nothing",
                vec![clock("m", NOW, State::Met { at: NOW })],
            ),
            row("Very late", vec![clock("o", NOW - 30 * H, State::Overdue)]),
            row("Later", vec![clock("u", NOW + 300 * H, State::Upcoming)]),
            row("Sooner", vec![clock("s", NOW + 2 * H, State::DueSoon)]),
        ];
        order(&mut rows);
        assert_eq!(
            names(&rows),
            [
                "Very late",
                "Slightly late",
                "Sooner",
                "Soon",
                "Later",
                "abel nothing",
                "Zed nothing"
            ]
        );
    }

    #[test]
    fn an_overdue_clock_outranks_one_with_an_earlier_due_time_that_is_not_overdue() {
        // The clocks module decides the state (a met-late clock or a grace period could make
        // a due time in the past not overdue); the order follows the state first.
        let mut rows = vec![
            row("Due soon", vec![clock("s", NOW - 5 * H, State::DueSoon)]),
            row("Overdue", vec![clock("o", NOW - H, State::Overdue)]),
        ];
        order(&mut rows);
        assert_eq!(names(&rows), ["Overdue", "Due soon"]);
    }

    #[test]
    fn urgency_tags_say_it_in_words() {
        let o = clock("o", NOW - H, State::Overdue);
        let s = clock("s", NOW + H, State::DueSoon);
        let u = clock("u", NOW + 100 * H, State::Upcoming);
        let m = clock(
            "m",
            NOW,
            State::MetLate {
                at: NOW,
                reason: String::new(),
            },
        );
        assert_eq!(urgency(&o).and_then(Urgency::tag), Some("Overdue"));
        assert_eq!(urgency(&s).and_then(Urgency::tag), Some("Due soon"));
        assert_eq!(urgency(&u).and_then(Urgency::tag), None);
        assert_eq!(urgency(&m), None);
    }

    #[test]
    fn deadlines_split_into_open_and_done_newest_first() {
        let all = vec![
            clock("m1", NOW, State::Met { at: NOW - 5 * H }),
            clock("o", NOW - H, State::Overdue),
            clock(
                "m2",
                NOW,
                State::MetLate {
                    at: NOW - H,
                    reason: "x".into(),
                },
            ),
        ];
        let (open, done) = split(&all);
        assert_eq!(open.len(), 1);
        let whats: Vec<&str> = done.iter().map(|c| c.what.as_str()).collect();
        assert_eq!(whats, ["m2", "m1"]);
    }

    #[test]
    fn counts_are_said_plainly() {
        let cs = [
            clock("a", NOW - H, State::Overdue),
            clock("b", NOW - H, State::Overdue),
            clock("c", NOW + H, State::DueSoon),
            clock("d", NOW + 99 * H, State::Upcoming),
        ];
        assert_eq!(counts(&cs), (2, 1));
        assert_eq!(counts_words(counts(&cs)), "2 overdue, 1 due soon");
        assert_eq!(counts_words((1, 0)), "1 overdue");
        assert_eq!(counts_words((0, 4)), "4 due soon");
        assert_eq!(counts_words((0, 0)), "Nothing overdue or due soon");
    }

    #[test]
    fn real_clocks_of_a_return_put_the_late_offer_first_and_the_interview_next() {
        use crate::{Case, Episode};
        let end = crate::clocks::london::instant((2026, 11, 24), 10, 0);
        let case = Case {
            missing: vec![Episode {
                id: "e1".into(),
                start: end - 9 * H,
                end: Some(end),
                from: "home".into(),
                rhi: "pending".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let now = end + 26 * H;
        let row = Row::of("k", &case, now, &Settings::default());
        let kinds: Vec<Kind> = row.open.iter().map(|c| c.kind).collect();
        assert_eq!(kinds, [Kind::RhiOffer, Kind::Rhi]);
        assert_eq!(row.open[0].state, State::Overdue);
        assert_eq!(row.open[1].state, State::DueSoon);
        assert_eq!(counts(&row.open), (1, 1));
        // Offered and done: nothing open, so the case sorts after any case with a clock.
        let mut done = case.clone();
        done.missing[0].rhi_offered = Some(end + H);
        done.missing[0].rhi = "completed".into();
        done.missing[0].rhi_completed = Some(end + 20 * H);
        let mut rows = vec![
            Row::of("done", &done, now, &Settings::default()),
            Row::of("open", &case, now, &Settings::default()),
        ];
        assert!(rows[0].open.is_empty());
        order(&mut rows);
        assert_eq!(
            rows.iter().map(|r| r.key).collect::<Vec<_>>(),
            ["open", "done"]
        );
    }

    #[test]
    fn the_worker_is_the_allocation_then_the_profile_then_not_allocated() {
        assert_eq!(worker_of(Some("Ayo"), "Bea"), "Ayo");
        assert_eq!(worker_of(Some("  "), "Bea "), "Bea");
        assert_eq!(worker_of(None, "Bea"), "Bea");
        assert_eq!(worker_of(None, " "), NOT_ALLOCATED);
    }

    #[test]
    fn a_manager_sees_each_worker_with_counts_most_overdue_first() {
        let rows = vec![
            row("Cal 1", vec![clock("s", NOW + H, State::DueSoon)]),
            row("Ayo 1", vec![clock("o", NOW - H, State::Overdue)]),
            row("Nobody 1", vec![]),
            row(
                "Ayo 2",
                vec![
                    clock("o", NOW - 9 * H, State::Overdue),
                    clock("s", NOW + H, State::DueSoon),
                ],
            ),
            row("Bea 1", vec![]),
        ];
        let worker = |r: &Row<&str>| match r.name.split(' ').next().unwrap() {
            "Nobody" => NOT_ALLOCATED.to_owned(),
            w => w.to_owned(),
        };
        let groups = by_worker(rows, worker);
        let summary: Vec<(&str, String, Vec<&str>)> = groups
            .iter()
            .map(|g| (g.worker.as_str(), counts_words(g.counts), names(&g.rows)))
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "Ayo",
                    "2 overdue, 1 due soon".to_owned(),
                    vec!["Ayo 2", "Ayo 1"]
                ),
                ("Cal", "1 due soon".to_owned(), vec!["Cal 1"]),
                (
                    "Bea",
                    "Nothing overdue or due soon".to_owned(),
                    vec!["Bea 1"]
                ),
                (
                    NOT_ALLOCATED,
                    "Nothing overdue or due soon".to_owned(),
                    vec!["Nobody 1"]
                ),
            ]
        );
    }
}
