//! Reachable moments (issue 13, item 1): logged as events, each starts a follow-up clock for
//! the allocated worker, met by a contact note that names it; repeated moments of one kind
//! raise a pattern flag. Synthetic cases, built as plain data and through the document.

use fieldbook_case::chronology::{self, EventKind};
use fieldbook_case::clocks::{self, follow_up_due, london, words, Clock, Kind, Settings, State};
use fieldbook_case::moments::{self, Moment};
use fieldbook_case::reach::{self, Pattern};
use fieldbook_case::removal::Removal;
use fieldbook_case::{self as case, notes, Case, Note, Profile};
use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::{AutoCommit, ROOT};

const MIN: i64 = 60_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;

/// An instant on London's clocks.
fn london(y: i32, m: u32, d: u32, h: u32, mi: u32) -> i64 {
    london::instant((y, m, d), h, mi)
}

fn moment(id: &str, kind: &str, at: i64) -> Moment {
    Moment {
        id: id.into(),
        at,
        kind: kind.into(),
        what: "Seen at the children's emergency department.".into(),
        by: "PC Example".into(),
        removal: None,
    }
}

fn note(id: &str, at: i64, follow_up_of: &str) -> Note {
    Note {
        id: id.into(),
        at,
        kind: "Face-to-face (planned)".into(),
        follow_up_of: follow_up_of.into(),
        by: "Worker A".into(),
        ..Default::default()
    }
}

fn removed(by_edits_since: bool) -> Option<Removal> {
    Some(Removal {
        by: "Worker A".into(),
        at: 1,
        changed_since: by_edits_since,
    })
}

fn follow_ups(case: &Case, now: i64, settings: &Settings) -> Vec<Clock> {
    clocks::clocks(case, now, settings)
        .into_iter()
        .filter(|c| c.kind == Kind::FollowUp)
        .collect()
}

fn one(case: &Case, now: i64) -> Clock {
    let mut all = follow_ups(case, now, &Settings::default());
    assert_eq!(all.len(), 1, "{all:?}");
    all.remove(0)
}

fn with_moments(moments: Vec<Moment>) -> Case {
    Case {
        moments,
        ..Default::default()
    }
}

// ---- The follow-up clock ----

#[test]
fn a_moment_starts_a_follow_up_for_the_allocated_worker_due_24_hours_later() {
    let at = london(2025, 11, 26, 14, 30);
    let case = with_moments(vec![moment("m1", "hospital", at)]);
    let c = one(&case, at + HOUR);
    assert_eq!(c.started, at);
    assert_eq!(c.due, at + 24 * HOUR);
    assert_eq!(c.whom, "Allocated worker");
    assert_eq!(c.what, "Follow-up: Hospital or A&E attendance");
    assert_eq!(c.source.record, "moments");
    assert_eq!(c.source.id, "m1");
    // Due within 48 hours: due soon from the start.
    assert_eq!(c.state, State::DueSoon);
    assert_eq!(
        words::line(&c, at + HOUR),
        "Follow-up: Hospital or A&E attendance — due by 14:30 on Thursday 27 November"
    );
}

#[test]
fn the_follow_up_keeps_its_time_of_day_across_a_change_of_the_clocks() {
    // 22:00 on Saturday 28 March 2026; the clocks go forward that night.
    let at = london(2026, 3, 28, 22, 0);
    let case = with_moments(vec![moment("m1", "arrest", at)]);
    let c = one(&case, at);
    assert_eq!(c.due, london(2026, 3, 29, 22, 0));
    assert_eq!(c.due - at, 23 * HOUR, "one hour fewer passes");
}

#[test]
fn the_follow_up_time_is_a_setting() {
    let at = london(2025, 6, 2, 9, 0);
    let case = with_moments(vec![moment("m1", "exclusion", at)]);
    let settings = Settings {
        follow_up_hours: 36,
        ..Settings::default()
    };
    let all = follow_ups(&case, at, &settings);
    assert_eq!(all[0].due, london(2025, 6, 3, 21, 0));
    // 72 hours: more than "due soon" away at the start.
    let settings = Settings {
        follow_up_hours: 72,
        ..Settings::default()
    };
    let all = follow_ups(&case, at, &settings);
    assert_eq!(all[0].due, london(2025, 6, 5, 9, 0));
    assert_eq!(all[0].state, State::Upcoming);
    assert_eq!(Settings::default().follow_up_hours, 24);
    assert_eq!(
        follow_up_due(at, -5),
        at,
        "a negative setting is due at once"
    );
}

#[test]
fn a_note_that_names_the_moment_meets_the_follow_up() {
    let at = london(2025, 11, 26, 14, 30);
    let mut case = with_moments(vec![moment("m1", "arrest", at)]);
    case.notes = vec![
        note("n2", at + 20 * HOUR, "m1"),
        note("n1", at + 3 * HOUR, "m1"),
    ];
    let c = one(&case, at + 30 * HOUR);
    assert_eq!(
        c.state,
        State::Met { at: at + 3 * HOUR },
        "the earliest one"
    );
    assert!(!c.state.is_open());
}

#[test]
fn a_note_at_the_due_time_is_on_time_and_one_a_minute_later_is_late() {
    // As for every clock: a record at the due instant meets it.
    let at = london(2025, 11, 26, 14, 30);
    let due = at + 24 * HOUR;
    let mut case = with_moments(vec![moment("m1", "arrest", at)]);
    case.notes = vec![note("n1", due, "m1")];
    assert_eq!(one(&case, due + DAY).state, State::Met { at: due });
    case.notes = vec![note("n1", due + MIN, "m1")];
    assert_eq!(
        one(&case, due + DAY).state,
        State::MetLate {
            at: due + MIN,
            reason: String::new()
        }
    );
}

#[test]
fn a_follow_up_after_the_due_time_is_met_late() {
    let at = london(2025, 11, 26, 14, 30);
    let mut case = with_moments(vec![moment("m1", "hospital", at)]);
    case.notes = vec![note("n1", at + 30 * HOUR, "m1")];
    let now = at + 40 * HOUR;
    let c = one(&case, now);
    assert_eq!(
        c.state,
        State::MetLate {
            at: at + 30 * HOUR,
            reason: String::new()
        }
    );
    assert_eq!(words::when(&c, now), "done late, 27 November");
}

#[test]
fn with_no_follow_up_it_is_overdue_from_the_due_time() {
    let at = london(2025, 11, 26, 14, 30);
    let case = with_moments(vec![moment("m1", "hospital", at)]);
    let due = at + 24 * HOUR;
    assert_eq!(one(&case, due - MIN).state, State::DueSoon);
    assert_eq!(one(&case, due).state, State::Overdue);
    let c = one(&case, due + 6 * HOUR);
    assert_eq!(c.state, State::Overdue);
    assert_eq!(words::when(&c, due + 6 * HOUR), "overdue by 6 hours");
}

#[test]
fn only_a_shown_note_naming_this_moment_at_or_after_it_meets_it() {
    let at = london(2025, 11, 26, 14, 30);
    let due = at + 24 * HOUR;
    let mut case = with_moments(vec![moment("m1", "hospital", at)]);
    let mut gone = note("n4", at + 2 * HOUR, "m1");
    gone.removal = removed(false);
    case.notes = vec![
        // A face-to-face visit that does not say it follows the moment up.
        note("n1", at + HOUR, ""),
        // Another moment's follow-up.
        note("n2", at + HOUR, "m2"),
        // Before the moment happened.
        note("n3", at - HOUR, "m1"),
        // Removed.
        gone,
    ];
    assert_eq!(one(&case, due).state, State::Overdue);
    // The same note met it at or after the moment itself.
    case.notes.push(note("n5", at, "m1"));
    assert_eq!(one(&case, due).state, State::Met { at });
}

#[test]
fn a_removed_moment_starts_nothing() {
    let at = london(2025, 11, 26, 14, 30);
    let mut m = moment("m1", "arrest", at);
    m.removal = removed(false);
    let case = with_moments(vec![m.clone()]);
    assert!(follow_ups(&case, at + 2 * DAY, &Settings::default()).is_empty());
    // An edit that raced the removal keeps it shown, and so its clock.
    m.removal = removed(true);
    let case = with_moments(vec![m]);
    assert_eq!(one(&case, at + 2 * DAY).state, State::Overdue);
}

#[test]
fn each_moment_has_its_own_follow_up() {
    let a = london(2025, 11, 20, 9, 0);
    let b = london(2025, 11, 26, 9, 0);
    let mut case = with_moments(vec![moment("m2", "arrest", b), moment("m1", "hospital", a)]);
    case.notes = vec![note("n1", a + HOUR, "m1")];
    let all = follow_ups(&case, b + HOUR, &Settings::default());
    assert_eq!(all.len(), 2);
    // Open ones first.
    assert_eq!(
        (all[0].source.id.as_str(), &all[0].state),
        ("m2", &State::DueSoon)
    );
    assert_eq!(
        (all[1].source.id.as_str(), &all[1].state),
        ("m1", &State::Met { at: a + HOUR })
    );
}

// ---- The document: moments, notes that follow them up, the chronology ----

#[test]
fn moments_are_written_read_and_removed_through_the_document() {
    let mut d = AutoCommit::new();
    case::create(&mut d, &Profile::default()).unwrap();
    let at = london(2025, 11, 26, 14, 30);
    moments::add(&mut d, &moment("m1", "arrest", at)).unwrap();
    moments::add(&mut d, &moment("m2", "hospital", at + DAY)).unwrap();
    assert!(moments::set_what(&mut d, "m1", "Arrested with two older males.").unwrap());
    assert!(!moments::set_what(&mut d, "nope", "x").unwrap());
    assert!(moments::set_meta(&mut d, "m2", Some("disclosure"), None).unwrap());
    notes::add(&mut d, &note("n1", at + HOUR, "m1")).unwrap();
    notes::add(&mut d, &note("n2", at + 2 * HOUR, "")).unwrap();
    assert!(notes::set_follow_up_of(&mut d, "n2", "m2").unwrap());

    let c = case::read(&d);
    let ids: Vec<&str> = c.moments.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["m2", "m1"], "newest first");
    assert_eq!(c.moments[1].what, "Arrested with two older males.");
    assert_eq!(c.moments[1].by, "PC Example");
    assert_eq!(c.moments[0].kind, "disclosure");
    let n2 = c.notes.iter().find(|n| n.id == "n2").unwrap();
    assert_eq!(n2.follow_up_of, "m2");

    let events = chronology::build(&c);
    let moment_events: Vec<&str> = events
        .iter()
        .filter(|e| e.kind == EventKind::Moment)
        .map(|e| e.title.as_str())
        .collect();
    assert_eq!(
        moment_events,
        [
            "Reachable moment: Arrest or time in custody",
            "Reachable moment: A disclosure"
        ]
    );
    let first = events.iter().find(|e| e.source == "m1").unwrap();
    assert_eq!(
        first.detail,
        "Arrested with two older males. · Logged by PC Example"
    );

    // n1 follows up m1 in time; m2 (at + 1 day) was "followed up" before it happened.
    let now = at + 3 * DAY;
    let all = follow_ups(&c, now, &Settings::default());
    let state = |id: &str| &all.iter().find(|k| k.source.id == id).unwrap().state;
    assert_eq!(state("m1"), &State::Met { at: at + HOUR });
    assert_eq!(state("m2"), &State::Overdue);

    assert!(moments::remove(&mut d, "m2", "Worker A", now).unwrap());
    let c = case::read(&d);
    assert_eq!(follow_ups(&c, now, &Settings::default()).len(), 1);
    assert!(!chronology::build(&c).iter().any(|e| e.source == "m2"));
    assert!(moments::restore(&mut d, "m2").unwrap());
    assert_eq!(
        follow_ups(&case::read(&d), now, &Settings::default()).len(),
        2
    );
}

#[test]
fn a_moment_does_not_leak_its_words_into_debug_output() {
    let m = moment("m1", "hospital", 1);
    let shown = format!("{m:?}");
    assert!(shown.contains("m1"));
    assert!(!shown.contains("emergency"), "{shown}");
    assert!(!shown.contains("PC Example"), "{shown}");
}

// ---- Pattern flags ----

fn hospital_on(days: &[i64], start: i64) -> Case {
    with_moments(
        days.iter()
            .enumerate()
            .map(|(i, d)| moment(&format!("h{i}"), "hospital", start + d * DAY))
            .collect(),
    )
}

#[test]
fn two_hospital_attendances_raise_nothing_and_the_third_raises_a_flag() {
    let start = london(2025, 3, 3, 15, 0);
    let now = start + 50 * DAY;
    let s = Settings::default();
    assert!(reach::patterns(&hospital_on(&[0, 20], start), now, &s).is_empty());
    let flags = reach::patterns(&hospital_on(&[0, 20, 40], start), now, &s);
    assert_eq!(flags.len(), 1, "{flags:?}");
    let f = &flags[0];
    assert_eq!(f.words, "3 hospital attendances in 90 days");
    assert_eq!(f.kind, "hospital");
    assert_eq!(f.moments, ["h0", "h1", "h2"]);
    assert_eq!((f.first, f.last), (start, start + 40 * DAY));
    assert!(f.current);
}

#[test]
fn a_second_time_in_custody_raises_a_flag_and_a_first_does_not() {
    let at = london(2025, 5, 1, 2, 0);
    let s = Settings::default();
    let one = with_moments(vec![moment("a1", "arrest", at)]);
    assert!(reach::patterns(&one, at + DAY, &s).is_empty());
    let two = with_moments(vec![
        moment("a1", "arrest", at),
        moment("a2", "arrest", at + 10 * DAY),
    ]);
    let flags = reach::patterns(&two, at + 11 * DAY, &s);
    assert_eq!(flags.len(), 1);
    assert_eq!(flags[0].words, "2 arrests or times in custody in 90 days");
}

#[test]
fn the_90_days_are_london_dates_first_and_last_fewer_than_90_days_apart() {
    // 23:30 on 1 January 2026 (GMT) and 00:30 on 31 March 2026 (BST, 23:30 UTC on the
    // 30th): 89 London days apart, so within 90 days.
    let first = london(2026, 1, 1, 23, 30);
    let mid = london(2026, 2, 15, 12, 0);
    let inside = london(2026, 3, 31, 0, 30);
    let now = london(2026, 4, 10, 12, 0);
    let s = Settings::default();
    let case = |last: i64| {
        with_moments(vec![
            moment("h1", "hospital", first),
            moment("h2", "hospital", mid),
            moment("h3", "hospital", last),
        ])
    };
    assert_eq!(reach::patterns(&case(inside), now, &s).len(), 1);
    // 1 April: 90 days after 1 January, outside the window, though fewer than 90 × 24
    // hours after the first moment.
    let outside = london(2026, 4, 1, 0, 30);
    assert!(outside - first < 90 * DAY);
    assert!(reach::patterns(&case(outside), now, &s).is_empty());
}

#[test]
fn the_latest_window_is_flagged_with_every_moment_in_it() {
    let start = london(2025, 1, 6, 10, 0);
    let s = Settings::default();
    // Three early ones, then a gap, then four within 90 days.
    let case = hospital_on(&[0, 10, 20, 300, 310, 320, 330], start);
    let flags = reach::patterns(&case, start + 331 * DAY, &s);
    assert_eq!(flags.len(), 1);
    assert_eq!(flags[0].words, "4 hospital attendances in 90 days");
    assert_eq!(flags[0].moments, ["h3", "h4", "h5", "h6"]);
}

#[test]
fn removed_future_and_other_moments_do_not_count() {
    let start = london(2025, 3, 3, 15, 0);
    let now = start + 30 * DAY;
    let s = Settings::default();
    let mut gone = moment("h3", "hospital", start + 2 * DAY);
    gone.removal = removed(false);
    let case = with_moments(vec![
        moment("h1", "hospital", start),
        moment("h2", "hospital", start + DAY),
        gone,
        moment("h4", "hospital", now + HOUR),
        moment("x1", "exclusion", start + 3 * DAY),
        moment("a1", "arrest", start + 3 * DAY),
    ]);
    assert!(reach::patterns(&case, now, &s).is_empty());
    // Once the fourth has happened, it counts.
    let flags = reach::patterns(&case, now + HOUR, &s);
    assert_eq!(flags.len(), 1);
    assert_eq!(flags[0].moments, ["h1", "h2", "h4"]);
}

#[test]
fn a_flag_stays_current_while_its_latest_moment_is_within_the_period() {
    let start = london(2025, 3, 3, 15, 0);
    let case = hospital_on(&[0, 1, 2], start);
    let last = start + 2 * DAY;
    let s = Settings::default();
    assert!(reach::patterns(&case, last + 89 * DAY, &s)[0].current);
    let old = reach::patterns(&case, last + 90 * DAY, &s);
    assert_eq!(old.len(), 1, "kept as history");
    assert!(!old[0].current);
}

#[test]
fn thresholds_are_settings() {
    let start = london(2025, 9, 1, 8, 0);
    let case = with_moments(vec![
        moment("x1", "exclusion", start),
        moment("x2", "exclusion", start + 29 * DAY),
        moment("h1", "hospital", start),
        moment("h2", "hospital", start + DAY),
    ]);
    let now = start + 30 * DAY;
    assert!(reach::patterns(&case, now, &Settings::default()).is_empty());
    let s = Settings {
        patterns: vec![
            Pattern {
                kind: "exclusion".into(),
                count: 2,
                days: 30,
            },
            Pattern {
                kind: "hospital".into(),
                count: 2,
                days: 0,
            },
            Pattern {
                kind: "hospital".into(),
                count: 0,
                days: 90,
            },
        ],
        ..Settings::default()
    };
    let flags = reach::patterns(&case, now, &s);
    assert_eq!(flags.len(), 1, "rules with 0 are off: {flags:?}");
    assert_eq!(flags[0].words, "2 exclusions from school in 30 days");
    // 30 days apart is outside a 30-day window.
    let mut far = case.clone();
    far.moments[1].at = start + 30 * DAY;
    assert!(reach::patterns(&far, now, &s).is_empty());
}

#[test]
fn current_flags_come_first_then_newest() {
    let start = london(2024, 1, 8, 12, 0);
    let case = with_moments(vec![
        moment("a1", "arrest", start),
        moment("a2", "arrest", start + DAY),
        moment("h1", "hospital", start + 200 * DAY),
        moment("h2", "hospital", start + 201 * DAY),
        moment("h3", "hospital", start + 202 * DAY),
    ]);
    let flags = reach::patterns(&case, start + 210 * DAY, &Settings::default());
    let kinds: Vec<(&str, bool)> = flags.iter().map(|f| (f.kind.as_str(), f.current)).collect();
    assert_eq!(kinds, [("hospital", true), ("arrest", false)]);
}

#[test]
fn counts_are_said_in_plain_words() {
    assert_eq!(reach::noun("hospital", 1), "hospital attendance");
    assert_eq!(reach::noun("returned", 2), "returns from missing");
    assert_eq!(reach::noun("court-order", 3), "new court orders");
    assert_eq!(reach::noun("other", 2), "reachable moments");
    assert_eq!(reach::noun("dog-bite", 2), "reachable moments (dog-bite)");
}

#[test]
fn moments_logged_on_two_offline_devices_into_an_older_case_both_survive() {
    // A case from before moments existed: no `moments` list.
    let mut base = AutoCommit::new();
    case::create(&mut base, &Profile::default()).unwrap();
    base.delete(ROOT, "moments").unwrap();
    base.commit();
    let at = london(2025, 11, 26, 14, 30);
    // A police officer logs a custody; a nurse, offline elsewhere, a hospital attendance:
    // each device creates the list.
    let mut police = base.fork();
    let mut nurse = base.fork();
    moments::add(&mut police, &moment("p1", "arrest", at)).unwrap();
    moments::add(&mut nurse, &moment("h1", "hospital", at + HOUR)).unwrap();
    police.merge(&mut nurse).unwrap();
    nurse.merge(&mut police).unwrap();
    for d in [&police, &nurse] {
        let ids: Vec<String> = case::read(d).moments.into_iter().map(|m| m.id).collect();
        assert_eq!(ids, ["h1", "p1"]);
    }
    // The worker follows up the custody; the hospital attendance stays open.
    let mut worker = police.fork();
    notes::add(&mut worker, &note("n1", at + 5 * HOUR, "p1")).unwrap();
    nurse.merge(&mut worker).unwrap();
    let all = follow_ups(&case::read(&nurse), at + 6 * HOUR, &Settings::default());
    let states: Vec<(&str, &State)> = all
        .iter()
        .map(|c| (c.source.id.as_str(), &c.state))
        .collect();
    assert_eq!(
        states,
        [
            ("h1", &State::DueSoon),
            ("p1", &State::Met { at: at + 5 * HOUR })
        ]
    );
}

// ---- What the app's screens ask and offer ----

#[test]
fn logging_a_moment_needs_its_kind_a_time_not_in_the_future_and_what_happened() {
    let now = london(2025, 11, 26, 14, 30);
    let ok = moment("m1", "arrest", now - HOUR);
    assert!(moments::check(&ok, now).is_empty());
    assert!(moments::check(&moment("m1", "arrest", now), now).is_empty());
    let fields = |m: &Moment| -> Vec<String> {
        moments::check(m, now)
            .into_iter()
            .map(|e| e.field)
            .collect()
    };
    let empty = Moment {
        id: "m2".into(),
        ..Default::default()
    };
    assert_eq!(fields(&empty), ["moment-kind", "moment-at", "moment-what"]);
    assert_eq!(
        fields(&moment("m1", "not-a-kind", now - HOUR)),
        ["moment-kind"]
    );
    let future = moment("m1", "hospital", now + MIN);
    assert_eq!(fields(&future), ["moment-at"]);
    assert_eq!(
        moments::check(&future, now)[0].message,
        "When it happened must be now or in the past"
    );
    let blank = Moment {
        what: "   ".into(),
        ..ok.clone()
    };
    assert_eq!(fields(&blank), ["moment-what"]);
}

#[test]
fn a_note_is_offered_open_and_recent_moments_newest_first_and_keeps_its_own_answer() {
    let now = london(2025, 11, 26, 14, 30);
    let mut case = with_moments(vec![
        // Open: nobody followed it up, 20 days ago (overdue, still offered).
        moment("old-open", "arrest", now - 20 * DAY),
        // Followed up 20 days ago: too old to offer.
        moment("old-met", "hospital", now - 20 * DAY + HOUR),
        // Followed up, 3 days ago: recent, offered.
        moment("recent-met", "hospital", now - 3 * DAY),
        // Open, an hour ago.
        moment("new", "arrest", london(2025, 11, 26, 13, 5)),
        // Later than now (a time typed wrong on another phone): not offered.
        moment("future", "exclusion", now + HOUR),
        // Removed: not offered.
        Moment {
            removal: removed(false),
            ..moment("gone", "disclosure", now - DAY)
        },
    ]);
    case.notes = vec![
        note("n1", now - 20 * DAY + 2 * HOUR, "old-met"),
        note("n2", now - 3 * DAY + HOUR, "recent-met"),
    ];
    let s = Settings::default();
    let got = reach::follow_up_choices(&case, now, &s, "");
    let ids: Vec<(&str, bool)> = got.iter().map(|c| (c.id.as_str(), c.open)).collect();
    assert_eq!(
        ids,
        [("new", true), ("recent-met", false), ("old-open", true)]
    );
    assert_eq!(
        got[0].label,
        "Arrest or time in custody, 26 November 2025 at 13:05"
    );
    // A note that already names an old (or removed) moment still shows it as its answer.
    let with_old = reach::follow_up_choices(&case, now, &s, "old-met");
    assert!(with_old.iter().any(|c| c.id == "old-met" && !c.open));
    let with_gone = reach::follow_up_choices(&case, now, &s, "gone");
    assert!(with_gone.iter().any(|c| c.id == "gone"));
    // No moments: nothing to offer (the screen does not ask).
    assert!(reach::follow_up_choices(&Case::default(), now, &s, "").is_empty());
}

#[test]
fn only_current_flags_show_on_the_case_and_home() {
    let start = london(2025, 1, 6, 10, 0);
    let case = hospital_on(&[0, 10, 20], start);
    let s = Settings::default();
    let soon = start + 30 * DAY;
    assert_eq!(reach::current(&case, soon, &s).len(), 1);
    assert_eq!(
        reach::current(&case, soon, &s)[0].words,
        "3 hospital attendances in 90 days"
    );
    // A year on, the flag is history: still in `patterns`, not current.
    let later = start + 365 * DAY;
    assert_eq!(reach::patterns(&case, later, &s).len(), 1);
    assert!(reach::current(&case, later, &s).is_empty());
}

#[test]
fn the_phone_reads_the_follow_up_time_and_patterns_from_the_session_answer() {
    // The shape the server sends as `clock_settings` (sync-server `api::ClockSettings`).
    let json = r#"{"nrm_reminder_days": [14, 28], "due_soon_hours": 24,
                   "transition_notice_days": 90, "follow_up_hours": 12,
                   "patterns": [{"kind": "exclusion", "count": 2, "days": 30}]}"#;
    let s: Settings = serde_json::from_str(json).unwrap();
    assert_eq!(s.follow_up_hours, 12);
    assert_eq!(
        s.patterns,
        [Pattern {
            kind: "exclusion".into(),
            count: 2,
            days: 30
        }]
    );
    // An older server sends neither: the defaults apply.
    let old: Settings = serde_json::from_str(r#"{"nrm_reminder_days": [30]}"#).unwrap();
    assert_eq!(old.follow_up_hours, 24);
    assert_eq!(old.patterns, reach::default_patterns());
}
