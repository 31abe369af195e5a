//! The clocks (issue 12): every deadline of a case, on London time and the England and
//! Wales working-day calendar. Cases are built directly as plain data (synthetic).

use fieldbook_case::assessment::Review;
use fieldbook_case::clocks::{
    self, age_at, age_on, calendar, london, rhi_due, words, Clock, Kind, Settings, State,
};
use fieldbook_case::concerns::Concern;
use fieldbook_case::critical::{Candidate, Critical};
use fieldbook_case::meetings::Meeting;
use fieldbook_case::nrm::Step;
use fieldbook_case::plan::Action;
use fieldbook_case::removal::Removal;
use fieldbook_case::{Assessment, Case, Episode, Hazard};

const MIN: i64 = 60_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;

/// Days from 1970-01-01 to a civil date (Howard Hinnant's algorithm; independent of chrono).
fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(if m <= 2 { y - 1 } else { y });
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An instant given in UTC.
fn utc(y: i32, m: u32, d: u32, h: i64, mi: i64) -> i64 {
    days_from_civil(y, m, d) * DAY + h * HOUR + mi * MIN
}

/// An instant given on London's clocks.
fn london(y: i32, m: u32, d: u32, h: u32, mi: u32) -> i64 {
    london::instant((y, m, d), h, mi)
}

fn level(value: &str, at: i64) -> Critical {
    Critical {
        candidates: vec![Candidate {
            value: value.into(),
            by: "Worker A".into(),
            at,
        }],
    }
}

fn submitted(id: &str, at: i64, overall: &str) -> Assessment {
    Assessment {
        id: id.into(),
        started: at - DAY,
        submitted: Some(at),
        overall: level(overall, at),
        ..Default::default()
    }
}

fn concern(id: &str, at: i64) -> Concern {
    Concern {
        id: id.into(),
        at,
        what: "Seen with older youths near the station.".into(),
        by: "Worker A".into(),
        types: Vec::new(),
        removal: None,
    }
}

fn returned(id: &str, end: i64) -> Episode {
    Episode {
        id: id.into(),
        start: end - 20 * HOUR,
        end: Some(end),
        from: "home".into(),
        rhi: "pending".into(),
        ..Default::default()
    }
}

fn meeting(id: &str, at: i64, kind: &str) -> Meeting {
    Meeting {
        id: id.into(),
        at,
        kind: kind.into(),
        chair: "Chair C".into(),
        ..Default::default()
    }
}

fn review(role: &str, at: i64, lvl: &str) -> Review {
    Review {
        by: "Reviewer R".into(),
        role: role.into(),
        at,
        level: lvl.into(),
        ..Default::default()
    }
}

fn of(all: &[Clock], kind: Kind) -> Vec<Clock> {
    all.iter().filter(|c| c.kind == kind).cloned().collect()
}

fn one(case: &Case, now: i64, kind: Kind) -> Clock {
    let all = of(&clocks::clocks(case, now, &Settings::default()), kind);
    assert_eq!(all.len(), 1, "{kind:?}: {all:?}");
    all.into_iter().next().unwrap()
}

fn none(case: &Case, now: i64, kind: Kind) {
    let all = of(&clocks::clocks(case, now, &Settings::default()), kind);
    assert!(all.is_empty(), "{kind:?}: {all:?}");
}

// ---------------------------------------------------------------- London time

#[test]
fn london_time_at_the_changes_2026() {
    let l = london::local(utc(2026, 3, 29, 0, 59));
    assert_eq!(
        (l.date(), l.hour, l.minute, l.bst),
        ((2026, 3, 29), 0, 59, false)
    );
    let l = london::local(utc(2026, 3, 29, 1, 0));
    assert_eq!(
        (l.date(), l.hour, l.minute, l.bst),
        ((2026, 3, 29), 2, 0, true)
    );
    let l = london::local(utc(2026, 10, 25, 0, 59));
    assert_eq!(
        (l.date(), l.hour, l.minute, l.bst),
        ((2026, 10, 25), 1, 59, true)
    );
    let l = london::local(utc(2026, 10, 25, 1, 0));
    assert_eq!(
        (l.date(), l.hour, l.minute, l.bst),
        ((2026, 10, 25), 1, 0, false)
    );
    assert_eq!(london::midnight((2026, 7, 1)), utc(2026, 6, 30, 23, 0));
}

#[test]
fn london_time_changes_on_the_last_sundays_of_march_and_october_2024_to_2030() {
    for y in 2024..=2030 {
        for (month, bst_after) in [(3u32, true), (10u32, false)] {
            // The last Sunday: the last day of the month stepped back to a Sunday.
            let last = days_from_civil(y, month, 31);
            let sunday = last - (last + 4).rem_euclid(7); // 1970-01-01 was a Thursday
            let change = sunday * DAY + HOUR;
            assert_eq!(london::local(change - 1).bst, !bst_after, "{y}-{month}");
            assert_eq!(london::local(change).bst, bst_after, "{y}-{month}");
        }
    }
}

// ---------------------------------------------------------------- bank holidays

/// Easter Sunday by Gauss's method with the Lichtenberg corrections (a different
/// formulation from the one in the crate).
fn easter(y: i32) -> (u32, u32) {
    let k = y / 100;
    let m = 15 + (3 * k + 3) / 4 - (8 * k + 13) / 25;
    let s = 2 - (3 * k + 3) / 4;
    let a = y % 19;
    let d = (19 * a + m) % 30;
    let r = (d + a / 11) / 29;
    let og = 21 + d - r;
    let sz = 7 - (y + y / 4 + s) % 7;
    let oe = 7 - (og - sz) % 7;
    let os = og + oe; // day of March, may run into April
    if os > 31 {
        (4, (os - 31) as u32)
    } else {
        (3, os as u32)
    }
}

fn civil_from_days(z: i64) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = (yoe + era * 400) as i32 + i32::from(m <= 2);
    (y, m, d)
}

/// 0 = Monday.
fn dow(z: i64) -> i64 {
    (z + 3).rem_euclid(7)
}

/// England and Wales bank holidays of `y` by the rules, worked out here independently.
fn expected_holidays(y: i32) -> Vec<(i32, u32, u32)> {
    let (em, ed) = easter(y);
    let e = days_from_civil(y, em, ed);
    let first_monday = |m| {
        let d = days_from_civil(y, m, 1);
        d + (7 - dow(d)) % 7
    };
    let last_monday = |m, len| {
        let d = days_from_civil(y, m, len);
        d - dow(d)
    };
    let fixed = [
        days_from_civil(y, 1, 1),
        e - 2,
        e + 1,
        first_monday(5),
        last_monday(5, 31),
        last_monday(8, 31),
        days_from_civil(y, 12, 25),
        days_from_civil(y, 12, 26),
    ];
    let mut days: Vec<i64> = fixed.iter().copied().filter(|d| dow(*d) < 5).collect();
    for d in fixed.iter().copied().filter(|d| dow(*d) >= 5) {
        let mut s = d;
        while dow(s) >= 5 || days.contains(&s) {
            s += 1;
        }
        days.push(s);
    }
    days.sort();
    days.into_iter().map(civil_from_days).collect()
}

#[test]
fn the_bank_holiday_file_matches_the_rules_worked_out_independently() {
    assert_eq!(calendar::COVERED, (2024, 2030));
    for y in calendar::COVERED.0..=calendar::COVERED.1 {
        let file: Vec<_> = calendar::holidays(y).into_iter().map(|(d, _)| d).collect();
        assert_eq!(file, expected_holidays(y), "{y}");
    }
    // Outside the data, the same rules.
    for y in [2019, 2021, 2031, 2032, 2033] {
        let got: Vec<_> = calendar::holidays(y).into_iter().map(|(d, _)| d).collect();
        assert_eq!(got, expected_holidays(y), "{y}");
    }
}

#[test]
fn the_bank_holiday_file_has_the_dates_gov_uk_publishes() {
    let published: [(i32, [(u32, u32); 8]); 4] = [
        (
            2024,
            [
                (1, 1),
                (3, 29),
                (4, 1),
                (5, 6),
                (5, 27),
                (8, 26),
                (12, 25),
                (12, 26),
            ],
        ),
        (
            2025,
            [
                (1, 1),
                (4, 18),
                (4, 21),
                (5, 5),
                (5, 26),
                (8, 25),
                (12, 25),
                (12, 26),
            ],
        ),
        (
            2026,
            [
                (1, 1),
                (4, 3),
                (4, 6),
                (5, 4),
                (5, 25),
                (8, 31),
                (12, 25),
                (12, 28),
            ],
        ),
        (
            2027,
            [
                (1, 1),
                (3, 26),
                (3, 29),
                (5, 3),
                (5, 31),
                (8, 30),
                (12, 27),
                (12, 28),
            ],
        ),
    ];
    for (y, days) in published {
        let file: Vec<_> = calendar::holidays(y).into_iter().map(|(d, _)| d).collect();
        let want: Vec<_> = days.iter().map(|(m, d)| (y, *m, *d)).collect();
        assert_eq!(file, want, "{y}");
    }
    let names = calendar::holidays(2026);
    assert_eq!(names[7].1, "Boxing Day (substitute day)");
    assert!(calendar::is_bank_holiday((2026, 12, 28)));
    assert!(
        !calendar::is_bank_holiday((2026, 12, 26)),
        "the Saturday itself"
    );
}

#[test]
fn working_days_across_easter_christmas_a_substitute_monday_and_a_weekend() {
    // Thursday before Easter 2026: Good Friday 3 and Easter Monday 6 April do not count.
    assert_eq!(calendar::working_days_after((2026, 4, 2), 1), (2026, 4, 7));
    assert_eq!(calendar::working_days_after((2026, 4, 2), 2), (2026, 4, 8));
    // Christmas Eve 2026 is a Thursday: 25 (Friday) and 28 (Boxing Day substitute) skipped.
    assert_eq!(
        calendar::working_days_after((2026, 12, 24), 1),
        (2026, 12, 29)
    );
    assert_eq!(
        calendar::working_days_after((2026, 12, 24), 2),
        (2026, 12, 30)
    );
    // Friday 24 December 2027: both substitutes, Monday 27 and Tuesday 28.
    assert_eq!(
        calendar::working_days_after((2027, 12, 24), 2),
        (2027, 12, 30)
    );
    // A Saturday.
    assert_eq!(
        calendar::working_days_after((2026, 11, 28), 2),
        (2026, 12, 1)
    );
    assert_eq!(
        calendar::working_days_after((2026, 11, 28), 0),
        (2026, 11, 28)
    );
    assert!(!calendar::is_working_day((2026, 12, 28)));
    assert!(calendar::is_working_day((2026, 12, 29)));
    assert!(!calendar::is_working_day((2026, 11, 28)));
}

// ---------------------------------------------------------------- 1. Assessment

#[test]
fn assessment_due_ten_days_after_the_concern_met_by_the_next_submission() {
    let at = london(2026, 5, 1, 15, 0);
    let mut case = Case {
        concerns: vec![concern("c1", at)],
        ..Default::default()
    };
    let due = london(2026, 5, 12, 0, 0); // the whole of 11 May counts
    let c = one(&case, at, Kind::Assessment);
    assert_eq!(
        (c.started, c.due, c.state.clone()),
        (at, due, State::Upcoming)
    );
    assert_eq!((c.source.record, c.source.id.as_str()), ("concerns", "c1"));
    assert_eq!(c.whom, "Allocated worker");
    assert_eq!(words::line(&c, at), "Risk assessment — due 11 May");
    assert_eq!(
        one(&case, due - 47 * HOUR, Kind::Assessment).state,
        State::DueSoon
    );
    assert_eq!(words::when(&c, london(2026, 5, 7, 9, 0)), "due Monday");
    assert_eq!(words::when(&c, london(2026, 5, 10, 9, 0)), "due tomorrow");
    assert_eq!(words::when(&c, london(2026, 5, 11, 9, 0)), "due today");
    let late = one(&case, due + 3 * DAY + HOUR, Kind::Assessment);
    assert_eq!(late.state, State::Overdue);
    assert_eq!(
        words::when(&late, due + 3 * DAY + HOUR),
        "overdue by 3 days"
    );

    // An assessment submitted before the concern does not meet it; a draft does not either.
    case.assessments = vec![submitted("old", at - DAY, "emerging")];
    case.assessments.push(Assessment {
        id: "draft".into(),
        started: at + HOUR,
        ..Default::default()
    });
    assert_eq!(
        one(&case, due + HOUR, Kind::Assessment).state,
        State::Overdue
    );

    case.assessments
        .push(submitted("a1", london(2026, 5, 11, 23, 59), "emerging"));
    let met = one(&case, due + 9 * DAY, Kind::Assessment);
    assert_eq!(
        met.state,
        State::Met {
            at: london(2026, 5, 11, 23, 59)
        }
    );
    assert_eq!(words::when(&met, due + 9 * DAY), "done 11 May");

    case.assessments.pop();
    case.assessments
        .push(submitted("a1", london(2026, 5, 13, 9, 0), "emerging"));
    let c = one(&case, due + 9 * DAY, Kind::Assessment);
    assert_eq!(
        c.state,
        State::MetLate {
            at: london(2026, 5, 13, 9, 0),
            reason: String::new()
        }
    );
    assert_eq!(words::when(&c, due + 9 * DAY), "done late, 13 May");
}

#[test]
fn removed_concerns_start_no_clock_unless_changed_since() {
    let at = london(2026, 5, 1, 15, 0);
    let mut c = concern("c1", at);
    c.removal = Some(Removal {
        by: "Worker A".into(),
        at: at + HOUR,
        changed_since: false,
    });
    let mut case = Case {
        concerns: vec![c],
        ..Default::default()
    };
    none(&case, at, Kind::Assessment);
    case.concerns[0].removal.as_mut().unwrap().changed_since = true;
    one(&case, at, Kind::Assessment);
}

// ---------------------------------------------------------------- 2. Review

#[test]
fn review_of_a_moderate_assessment_by_a_chair_within_two_working_days_across_easter() {
    // Submitted Thursday 2 April 2026, before Good Friday: due by the end of Wednesday 8th.
    let sub = london(2026, 4, 2, 16, 0);
    let mut case = Case {
        assessments: vec![submitted("a1", sub, "moderate")],
        ..Default::default()
    };
    let c = one(&case, sub, Kind::AssessmentReview);
    assert_eq!(c.whom, "Child protection chair");
    assert_eq!((c.started, c.due), (sub, london(2026, 4, 9, 0, 0)));
    assert_eq!(c.state, State::Upcoming);
    assert_eq!(
        words::line(&c, sub),
        "Review of risk assessment — due Wednesday"
    );
    let over = london(2026, 4, 9, 6, 0);
    assert_eq!(
        one(&case, over, Kind::AssessmentReview).state,
        State::Overdue
    );
    assert_eq!(
        words::when(&one(&case, over, Kind::AssessmentReview), over),
        "overdue by 6 hours"
    );

    // A manager's review does not meet a Moderate assessment's clock.
    case.assessments[0].review = Some(review("manager", london(2026, 4, 7, 10, 0), "moderate"));
    assert_eq!(
        one(&case, over, Kind::AssessmentReview).state,
        State::Overdue
    );
    // The chair's does; after the due time it is late.
    case.assessments[0].review = Some(review("chair", london(2026, 4, 8, 17, 0), "moderate"));
    assert_eq!(
        one(&case, over, Kind::AssessmentReview).state,
        State::Met {
            at: london(2026, 4, 8, 17, 0)
        }
    );
    case.assessments[0].review = Some(review("chair", london(2026, 4, 9, 9, 0), "moderate"));
    assert!(matches!(
        one(&case, over, Kind::AssessmentReview).state,
        State::MetLate { .. }
    ));
}

#[test]
fn review_of_a_high_assessment_over_christmas_and_of_an_emerging_one_on_a_saturday() {
    // Christmas Eve 2026, a Thursday: 25 and 28 December are holidays.
    let sub = london(2026, 12, 24, 11, 0);
    let mut case = Case {
        assessments: vec![submitted("a1", sub, "high")],
        ..Default::default()
    };
    let c = one(&case, sub, Kind::AssessmentReview);
    assert_eq!(c.due, london(2026, 12, 31, 0, 0));
    // A manager's review of a High assessment leaves it open.
    case.assessments[0].review = Some(review("manager", sub + HOUR, "high"));
    assert!(one(&case, sub + 2 * HOUR, Kind::AssessmentReview)
        .state
        .is_open());

    // Saturday 28 November 2026: Monday and Tuesday are the two working days.
    let sat = london(2026, 11, 28, 10, 0);
    let case = Case {
        assessments: vec![submitted("a2", sat, "emerging")],
        ..Default::default()
    };
    let c = one(&case, sat, Kind::AssessmentReview);
    assert_eq!(
        (c.whom.as_str(), c.due),
        ("Team manager", london(2026, 12, 2, 0, 0))
    );
    // A legacy confirmation meets it.
    let mut case = case;
    case.assessments[0].confirmed = Some(("Manager M".into(), london(2026, 11, 30, 9, 0)));
    assert_eq!(
        one(&case, sat, Kind::AssessmentReview).state,
        State::Met {
            at: london(2026, 11, 30, 9, 0)
        }
    );
}

#[test]
fn a_version_replaced_before_review_needs_no_review_of_its_own() {
    let t = london(2026, 6, 1, 10, 0);
    let case = Case {
        assessments: vec![
            submitted("a1", t, "moderate"),
            submitted("a2", t + DAY, "moderate"),
        ],
        ..Default::default()
    };
    let c = one(&case, t + 2 * DAY, Kind::AssessmentReview);
    assert_eq!(c.source.id, "a2");
}

// ---------------------------------------------------------------- 3. Meeting

#[test]
fn meeting_within_fifteen_days_of_the_concerns_when_moderate_or_high() {
    let at = london(2026, 6, 1, 9, 0);
    let sub = london(2026, 6, 5, 9, 0);
    let mut case = Case {
        concerns: vec![concern("c1", at)],
        assessments: vec![submitted("a1", sub, "emerging")],
        ..Default::default()
    };
    none(&case, sub, Kind::Meeting);
    case.assessments[0].overall = level("high", sub);
    let c = one(&case, sub, Kind::Meeting);
    assert_eq!((c.started, c.due), (at, london(2026, 6, 17, 0, 0)));
    assert_eq!(c.source.id, "c1");
    assert_eq!(c.whom, "Child protection chair");
    assert_eq!(
        one(&case, london(2026, 6, 18, 9, 0), Kind::Meeting).state,
        State::Overdue
    );
    // A core group is not the multi-agency meeting; a strategy discussion is.
    case.meetings = vec![meeting("m0", london(2026, 6, 10, 9, 0), "core-group")];
    assert_eq!(
        one(&case, london(2026, 6, 18, 9, 0), Kind::Meeting).state,
        State::Overdue
    );
    case.meetings
        .push(meeting("m1", london(2026, 6, 16, 14, 0), "strategy"));
    assert_eq!(
        one(&case, london(2026, 6, 18, 9, 0), Kind::Meeting).state,
        State::Met {
            at: london(2026, 6, 16, 14, 0)
        }
    );
    case.meetings[1].at = london(2026, 6, 19, 14, 0);
    assert!(matches!(
        one(&case, london(2026, 6, 20, 9, 0), Kind::Meeting).state,
        State::MetLate { .. }
    ));
}

#[test]
fn the_chairs_decision_on_the_meeting_stands() {
    let sub = london(2026, 6, 5, 9, 0);
    let mut case = Case {
        assessments: vec![submitted("a1", sub, "emerging")],
        ..Default::default()
    };
    let mut r = review("manager", sub + HOUR, "emerging");
    r.meeting_needed = "yes".into();
    r.meeting_chair = "manager".into();
    case.assessments[0].review = Some(r);
    let c = one(&case, sub, Kind::Meeting);
    assert_eq!((c.started, c.whom.as_str()), (sub, "Team manager"));
    assert_eq!(c.source.record, "assessments");

    let mut r = review("chair", sub + HOUR, "moderate");
    r.meeting_needed = "no".into();
    case.assessments[0].overall = level("moderate", sub);
    case.assessments[0].review = Some(r);
    none(&case, sub, Kind::Meeting);
}

// ---------------------------------------------------------------- 4. Plan review

#[test]
fn plan_review_every_six_weeks_while_moderate_or_high() {
    let sub = london(2026, 3, 2, 10, 0);
    let mut case = Case {
        assessments: vec![submitted("a1", sub, "moderate")],
        ..Default::default()
    };
    let c = one(&case, sub, Kind::PlanReview);
    assert_eq!((c.started, c.due), (sub, london(2026, 4, 14, 0, 0)));
    assert_eq!(c.what, "Review of plan");
    assert_eq!(
        one(&case, london(2026, 4, 14, 6, 0), Kind::PlanReview).state,
        State::Overdue
    );
    // The plan's own review date, when sooner.
    case.plan.review = "2026-03-20".into();
    assert_eq!(
        one(&case, sub, Kind::PlanReview).due,
        london(2026, 3, 21, 0, 0)
    );
    // A review meeting starts a new cycle: the old one shows as met.
    case.plan.review = String::new();
    let m = london(2026, 4, 10, 10, 0);
    let mut rm = meeting("m1", m, "review");
    rm.next_review = "2026-05-01".into();
    case.meetings = vec![rm];
    let all = of(
        &clocks::clocks(&case, m + HOUR, &Settings::default()),
        Kind::PlanReview,
    );
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!((all[0].started, all[0].due), (m, london(2026, 5, 2, 0, 0)));
    assert_eq!(all[0].state, State::Upcoming);
    assert_eq!(all[1].state, State::Met { at: m });
    assert_eq!(all[1].due, london(2026, 4, 14, 0, 0));
    // Met late when the meeting came after six weeks.
    case.meetings[0].at = london(2026, 4, 20, 10, 0);
    let all = of(
        &clocks::clocks(&case, london(2026, 4, 21, 10, 0), &Settings::default()),
        Kind::PlanReview,
    );
    assert!(matches!(all[1].state, State::MetLate { .. }), "{all:?}");
}

#[test]
fn plan_review_at_emerging_follows_only_the_review_dates() {
    let sub = london(2026, 3, 2, 10, 0);
    let mut case = Case {
        assessments: vec![submitted("a1", sub, "emerging")],
        ..Default::default()
    };
    none(&case, sub, Kind::PlanReview);
    case.plan.review = "2026-06-01".into();
    assert_eq!(
        one(&case, sub, Kind::PlanReview).due,
        london(2026, 6, 2, 0, 0)
    );
    // A meeting that agreed High takes over from the Emerging assessment.
    let mut m = meeting("m1", london(2026, 3, 10, 10, 0), "strategy");
    m.level = "high".into();
    case.meetings = vec![m];
    assert_eq!(
        one(&case, sub, Kind::PlanReview).due,
        london(2026, 4, 14, 0, 0)
    );
}

// ---------------------------------------------------------------- 5, 6. RHI

#[test]
fn rhi_offer_within_24_hours() {
    let end = london(2026, 11, 25, 10, 0);
    let mut case = Case {
        missing: vec![returned("e1", end)],
        ..Default::default()
    };
    let c = one(&case, end, Kind::RhiOffer);
    assert_eq!((c.started, c.due), (end, end + 24 * HOUR));
    assert_eq!(c.state, State::DueSoon);
    assert_eq!(words::when(&c, end), "due by 10:00 on Thursday 26 November");
    assert_eq!(
        one(&case, end + 25 * HOUR, Kind::RhiOffer).state,
        State::Overdue
    );
    case.missing[0].rhi_offered = Some(end + 3 * HOUR);
    assert_eq!(
        one(&case, end + 25 * HOUR, Kind::RhiOffer).state,
        State::Met { at: end + 3 * HOUR }
    );
    case.missing[0].rhi_offered = Some(end + 30 * HOUR);
    assert!(matches!(
        one(&case, end + 31 * HOUR, Kind::RhiOffer).state,
        State::MetLate { .. }
    ));
}

#[test]
fn rhi_within_48_hours_when_exploitation_is_suspected_72_otherwise() {
    // Wednesday 25 November 2026, 10:00.
    let end = london(2026, 11, 25, 10, 0);
    let mut case = Case {
        missing: vec![returned("e1", end)],
        ..Default::default()
    };
    assert_eq!(rhi_due(&case, end), end + 72 * HOUR);
    let c = one(&case, end + 2 * HOUR, Kind::Rhi);
    assert_eq!(c.due, end + 72 * HOUR);
    assert_eq!(
        words::line(&c, end + 2 * HOUR),
        "Return home interview (RHI) — due by 10:00 on Saturday 28 November"
    );

    case.concerns = vec![concern("c1", end - 30 * DAY)];
    assert_eq!(rhi_due(&case, end), end + 48 * HOUR);
    let now = end + 2 * HOUR;
    let c = one(&case, now, Kind::Rhi);
    assert_eq!(
        (c.started, c.due, c.state.clone()),
        (end, end + 48 * HOUR, State::DueSoon)
    );
    assert_eq!(
        words::line(&c, now),
        "Return home interview (RHI) — due by 10:00 on Friday 27 November"
    );
    let friday = london(2026, 11, 27, 8, 0);
    assert_eq!(
        words::when(&one(&case, friday, Kind::Rhi), friday),
        "due by 10:00 today"
    );
    let late = end + 54 * HOUR;
    let c = one(&case, late, Kind::Rhi);
    assert_eq!(c.state, State::Overdue);
    assert_eq!(
        words::line(&c, late),
        "Return home interview (RHI) — overdue by 6 hours"
    );
    assert_eq!(
        words::when(&c, end + 48 * HOUR + 40 * MIN),
        "overdue by 40 minutes"
    );

    // Done on time.
    case.missing[0].rhi = "completed".into();
    case.missing[0].rhi_completed = Some(end + 47 * HOUR);
    let c = one(&case, late, Kind::Rhi);
    assert_eq!(
        c.state,
        State::Met {
            at: end + 47 * HOUR
        }
    );
    assert_eq!(words::when(&c, late), "done 27 November");
    // Done late, with the reason recorded.
    case.missing[0].rhi_completed = Some(london(2026, 11, 28, 15, 0));
    case.missing[0].rhi_late_reason = "timescale".into();
    let c = one(&case, late, Kind::Rhi);
    assert_eq!(
        c.state,
        State::MetLate {
            at: london(2026, 11, 28, 15, 0),
            reason: "Could not meet within the timescale".into()
        }
    );
    assert_eq!(
        words::when(&c, late),
        "done late, 28 November (Could not meet within the timescale)"
    );
    case.missing[0].rhi_late_reason = "other".into();
    case.missing[0].rhi_late_text = "The interviewer was ill.".into();
    assert_eq!(
        one(&case, late, Kind::Rhi).state,
        State::MetLate {
            at: london(2026, 11, 28, 15, 0),
            reason: "Other: The interviewer was ill.".into()
        }
    );
}

#[test]
fn each_sign_of_suspected_exploitation_shortens_the_rhi_to_48_hours() {
    let end = london(2026, 11, 25, 10, 0);
    let base = Case {
        missing: vec![returned("e1", end)],
        ..Default::default()
    };
    assert_eq!(rhi_due(&base, end), end + 72 * HOUR);

    let mut c = base.clone();
    c.assessments = vec![submitted("a1", end - DAY, "moderate")];
    assert_eq!(rhi_due(&c, end), end + 48 * HOUR, "Moderate");
    c.assessments = vec![submitted("a1", end - DAY, "emerging")];
    assert_eq!(rhi_due(&c, end), end + 72 * HOUR, "Emerging");
    // Ratings that together suggest exploitation, even at Emerging: raised concern under
    // missing, coercion, contact and offending at once (three of them is not enough).
    let raised = |ids: &[&str]| -> Vec<fieldbook_case::assessment::Category> {
        ids.iter()
            .map(|id| fieldbook_case::assessment::Category {
                id: (*id).into(),
                text: String::new(),
                rating: level("moderate", end - DAY),
            })
            .collect()
    };
    c.assessments[0].categories = raised(&["missing", "coercion", "contact"]);
    assert_eq!(rhi_due(&c, end), end + 72 * HOUR, "three of the four");
    c.assessments[0].categories = raised(&["missing", "coercion", "contact", "offending"]);
    assert_eq!(rhi_due(&c, end), end + 48 * HOUR, "suggests CCE");

    let mut c = base.clone();
    c.hazards = vec![Hazard {
        id: "high-cce".into(),
        label: "High risk of CCE".into(),
        state: level("on", end - DAY),
    }];
    assert_eq!(rhi_due(&c, end), end + 48 * HOUR, "hazard");
    c.hazards[0].state = level("off", end - DAY);
    assert_eq!(rhi_due(&c, end), end + 72 * HOUR, "hazard off");

    let mut c = base.clone();
    c.nrm.status = level("referred", end - DAY);
    assert_eq!(rhi_due(&c, end), end + 48 * HOUR, "NRM");
    c.nrm.status = level("not-referred", end - DAY);
    assert_eq!(rhi_due(&c, end), end + 72 * HOUR, "NRM not referred");

    // A removed concern is not a sign.
    let mut c = base.clone();
    let mut k = concern("c1", end - DAY);
    k.removal = Some(Removal {
        by: "Worker A".into(),
        at: end,
        changed_since: false,
    });
    c.concerns = vec![k];
    assert_eq!(rhi_due(&c, end), end + 72 * HOUR, "removed concern");
}

#[test]
fn a_completed_rhi_is_judged_on_what_was_known_when_it_was_done() {
    let end = london(2026, 11, 25, 10, 0);
    let mut case = Case {
        missing: vec![returned("e1", end)],
        ..Default::default()
    };
    case.missing[0].rhi = "completed".into();
    case.missing[0].rhi_completed = Some(end + 60 * HOUR);
    // A concern recorded a week later does not make that interview late after the fact.
    case.concerns = vec![concern("c1", end + 7 * DAY)];
    let c = one(&case, end + 8 * DAY, Kind::Rhi);
    assert_eq!(
        (c.due, c.state),
        (
            end + 72 * HOUR,
            State::Met {
                at: end + 60 * HOUR
            }
        )
    );
    // One recorded before it was done does.
    case.concerns = vec![concern("c1", end + HOUR)];
    assert!(matches!(
        one(&case, end + 8 * DAY, Kind::Rhi).state,
        State::MetLate { .. }
    ));
}

#[test]
fn an_rhi_not_completed_closes_with_its_reason_and_a_child_still_missing_has_none() {
    let end = london(2026, 11, 25, 10, 0);
    let mut case = Case {
        missing: vec![returned("e1", end)],
        ..Default::default()
    };
    case.missing[0].rhi = "not-completed".into();
    case.missing[0].rhi_reason = "declined".into();
    let c = one(&case, end + 5 * DAY, Kind::Rhi);
    assert_eq!(
        c.state,
        State::MetLate {
            at: end,
            reason: "Not completed: Declined or unable to engage".into()
        }
    );
    assert_eq!(
        words::when(&c, end + 5 * DAY),
        "not completed (Declined or unable to engage)"
    );
    assert!(!one(&case, end + 5 * DAY, Kind::RhiOffer).state.is_open());

    case.missing[0].end = None;
    none(&case, end, Kind::Rhi);
    none(&case, end, Kind::RhiOffer);
}

#[test]
fn rhi_deadlines_keep_their_time_of_day_across_the_clock_changes() {
    let suspected = |end: i64| Case {
        missing: vec![returned("e1", end)],
        concerns: vec![concern("c1", end - 30 * DAY)],
        ..Default::default()
    };
    // 00:30 on Saturday 28 March 2026 (GMT); the clocks go forward on the Sunday.
    let end = london(2026, 3, 28, 0, 30);
    assert_eq!(end, utc(2026, 3, 28, 0, 30));
    let due = rhi_due(&suspected(end), end);
    assert_eq!(due, utc(2026, 3, 29, 23, 30), "00:30 BST on 30 March");
    let l = london::local(due);
    assert_eq!(
        (l.date(), l.hour, l.minute, l.bst),
        ((2026, 3, 30), 0, 30, true)
    );
    let c = one(&suspected(end), end, Kind::Rhi);
    assert_eq!(words::when(&c, end), "due by 00:30 on Monday 30 March");

    // 00:30 BST on Sunday 25 October 2026, just before the clocks go back at 02:00.
    let end = london(2026, 10, 25, 0, 30);
    assert_eq!(end, utc(2026, 10, 24, 23, 30));
    let due = rhi_due(&suspected(end), end);
    assert_eq!(due, utc(2026, 10, 27, 0, 30), "00:30 GMT on 27 October");
    let c = one(&suspected(end), end, Kind::RhiOffer);
    assert_eq!(c.due, utc(2026, 10, 26, 0, 30));
    // Without suspicion: 72 hours, by 00:30 on Wednesday 28 October.
    let case = Case {
        missing: vec![returned("e1", end)],
        ..Default::default()
    };
    assert_eq!(rhi_due(&case, end), utc(2026, 10, 28, 0, 30));
}

// ---------------------------------------------------------------- 7. Transition

#[test]
fn transition_worker_by_the_17th_birthday_and_29_february() {
    let mut case = Case::default();
    case.profile.dob = "2008-02-29".into();
    let due = london::midnight((2025, 3, 1));
    assert_eq!(due, utc(2025, 3, 1, 0, 0), "midnight GMT");
    let c = one(&case, utc(2025, 1, 1, 9, 0), Kind::Transition);
    assert_eq!(c.due, due);
    assert_eq!(c.started, due - 183 * DAY);
    assert_eq!(c.source.record, "profile");
    assert_eq!(words::when(&c, utc(2025, 1, 1, 9, 0)), "due 28 February");
    assert_eq!(one(&case, due, Kind::Transition).state, State::Overdue);
    // Not shown more than the notice period before.
    none(&case, due - 184 * DAY, Kind::Transition);

    // Allocated on the birthday: on time; the day after: late; a date with no worker: open.
    case.profile.transition_allocated = "2025-03-01".into();
    assert_eq!(
        one(&case, due + 2 * DAY, Kind::Transition).state,
        State::Overdue
    );
    case.profile.transition_worker = "Transition Worker T".into();
    assert_eq!(
        one(&case, due + 2 * DAY, Kind::Transition).state,
        State::Met { at: due }
    );
    case.profile.transition_allocated = "2025-03-02".into();
    assert!(matches!(
        one(&case, due + 2 * DAY, Kind::Transition).state,
        State::MetLate { .. }
    ));
    // Allocated early: shown as done even before the notice period.
    case.profile.transition_allocated = "2024-01-10".into();
    assert!(matches!(
        one(&case, due - 400 * DAY, Kind::Transition).state,
        State::Met { .. }
    ));

    let mut case = Case::default();
    case.profile.dob = "2012-02-29".into();
    assert_eq!(
        one(&case, utc(2029, 2, 1, 0, 0), Kind::Transition).due,
        utc(2029, 3, 1, 0, 0)
    );
    // 2028 is a leap year: the 16th birthday is on 29 February.
    assert_eq!(age_on("2012-02-29", (2028, 2, 28)), Some(15));
    assert_eq!(age_on("2012-02-29", (2028, 2, 29)), Some(16));
}

#[test]
fn ages_from_the_date_of_birth() {
    assert_eq!(age_on("2008-02-29", (2025, 2, 28)), Some(16));
    assert_eq!(age_on("2008-02-29", (2025, 3, 1)), Some(17));
    assert_eq!(age_on("2010-08-24", (2026, 8, 23)), Some(15));
    assert_eq!(age_on("2010-08-24", (2026, 8, 24)), Some(16));
    assert_eq!(age_on("2010-08-24", (2010, 8, 24)), Some(0));
    assert_eq!(age_on("2010-08-24", (2010, 8, 23)), None);
    assert_eq!(age_on("24/08/2010", (2026, 8, 24)), None);
    assert_eq!(age_on("", (2026, 8, 24)), None);
    // London's date: 23:30 UTC on 23 August in summer is already the 24th in London.
    assert_eq!(age_at("2010-08-24", utc(2026, 8, 23, 23, 30)), Some(16));
    assert_eq!(age_at("2010-08-24", utc(2026, 8, 23, 22, 30)), Some(15));
}

// ---------------------------------------------------------------- 8. Actions

#[test]
fn safety_plan_actions_by_their_due_dates() {
    let action = |id: &str, due: &str, status: &str, owner: &str| Action {
        id: id.into(),
        group: "agency".into(),
        text: "Refer to the youth club".into(),
        owner: owner.into(),
        due: due.into(),
        status: status.into(),
        removal: None,
    };
    let mut case = Case::default();
    case.plan.actions = vec![
        action("x1", "2026-12-03", "in-progress", "Youth worker Y"),
        action("x2", "2026-11-20", "done", ""),
        action("x3", "", "not-started", "Y"),
        action("x4", "someday", "not-started", "Y"),
    ];
    let now = london(2026, 11, 24, 9, 0); // a Tuesday
    let all = of(
        &clocks::clocks(&case, now, &Settings::default()),
        Kind::Action,
    );
    assert_eq!(all.len(), 2, "no clock without a valid due date");
    assert_eq!(all[0].source.id, "x1");
    assert_eq!(all[0].due, london(2026, 12, 4, 0, 0));
    assert_eq!(all[0].whom, "Youth worker Y");
    assert_eq!(
        words::line(&all[0], now),
        "Refer to the youth club — due 3 December"
    );
    assert_eq!(
        words::when(&all[0], london(2026, 11, 30, 9, 0)),
        "due Thursday"
    );
    assert_eq!(
        all[1].state,
        State::Met {
            at: london(2026, 11, 21, 0, 0)
        }
    );
    assert_eq!(all[1].whom, "Owner not recorded");
    // An action records no time it was done, so none is said (its due date could be ahead).
    assert_eq!(words::when(&all[1], now), "done");
    let late = london(2026, 12, 4, 0, 45);
    assert_eq!(one_action(&case, late, "x1").state, State::Overdue);
    assert_eq!(
        words::when(&one_action(&case, late, "x1"), late),
        "overdue by 45 minutes"
    );
    // The next year's date says its year.
    case.plan.actions[0].due = "2027-01-15".into();
    assert_eq!(
        words::when(&one_action(&case, now, "x1"), now),
        "due 15 January 2027"
    );
    // Removed: no clock.
    case.plan.actions[0].removal = Some(Removal {
        by: "Worker A".into(),
        at: now,
        changed_since: false,
    });
    assert_eq!(
        of(
            &clocks::clocks(&case, now, &Settings::default()),
            Kind::Action
        )
        .len(),
        1
    );
}

fn one_action(case: &Case, now: i64, id: &str) -> Clock {
    clocks::clocks(case, now, &Settings::default())
        .into_iter()
        .find(|c| c.kind == Kind::Action && c.source.id == id)
        .unwrap()
}

// ---------------------------------------------------------------- 9. NRM

fn step(id: &str, at: i64, status: &str) -> Step {
    Step {
        id: id.into(),
        at,
        status: status.into(),
        reason: String::new(),
        by: "Worker A".into(),
    }
}

#[test]
fn an_nrm_referral_with_no_decision_escalates_at_each_threshold() {
    let at = london(2026, 1, 5, 10, 0);
    let mut case = Case::default();
    case.nrm.status = level("referred", at);
    case.nrm.history = vec![step("s1", at, "referred")];
    let c = one(&case, at + 10 * DAY, Kind::Nrm);
    assert_eq!((c.started, c.due, c.escalation), (at, at + 30 * DAY, 0));
    assert_eq!(c.state, State::Upcoming);
    assert_eq!(c.what, "NRM referral");
    assert_eq!(words::when(&c, at + 10 * DAY), "10 days without a decision");
    assert_eq!(
        words::line(&c, at + 10 * DAY),
        "NRM referral 10 days without a decision"
    );
    let c = one(&case, at + 47 * DAY, Kind::Nrm);
    assert_eq!((c.state.clone(), c.escalation), (State::Overdue, 1));
    assert_eq!(
        words::when(&c, at + 47 * DAY),
        "47 days without a decision (first reminder)"
    );
    assert_eq!(one(&case, at + 95 * DAY, Kind::Nrm).escalation, 3);
    let custom = Settings {
        nrm_reminder_days: vec![14, 28],
        ..Default::default()
    };
    let c = clocks::clocks(&case, at + 20 * DAY, &custom);
    assert_eq!((c[0].due, c[0].escalation), (at + 14 * DAY, 1));

    // A decision meets it.
    let decided = at + 40 * DAY;
    case.nrm.status = level("reasonable-grounds", decided);
    case.nrm
        .history
        .push(step("s2", decided, "reasonable-grounds"));
    let c = one(&case, at + 60 * DAY, Kind::Nrm);
    assert_eq!(
        (c.started, c.state.clone()),
        (at, State::Met { at: decided })
    );
    assert_eq!(
        words::when(&c, at + 60 * DAY),
        "decision 14 February, 40 days after referral"
    );
    // Not referred: no clock.
    case.nrm.status = level("not-referred", decided);
    none(&case, at, Kind::Nrm);
}

// ---------------------------------------------------------------- all together

#[test]
fn clocks_are_sorted_open_by_urgency_then_met_newest_first() {
    let now = london(2026, 11, 25, 12, 0);
    let mut case = Case {
        concerns: vec![concern("c1", now - 20 * DAY)], // assessment overdue by ~9 days
        missing: vec![
            returned("e1", now - 2 * HOUR),
            returned("e2", now - 10 * DAY),
        ],
        ..Default::default()
    };
    case.missing[1].rhi = "completed".into();
    case.missing[1].rhi_completed = Some(now - 9 * DAY);
    case.missing[1].rhi_offered = Some(now - 10 * DAY + HOUR);
    let all = clocks::clocks(&case, now, &Settings::default());
    let order: Vec<(Kind, &str, bool)> = all
        .iter()
        .map(|c| (c.kind, c.source.id.as_str(), c.state.is_open()))
        .collect();
    assert_eq!(
        order,
        vec![
            (Kind::Assessment, "c1", true),
            (Kind::RhiOffer, "e1", true),
            (Kind::Rhi, "e1", true),
            (Kind::Rhi, "e2", false),
            (Kind::RhiOffer, "e2", false),
        ]
    );
    // Deterministic: the same answer every time.
    assert_eq!(all, clocks::clocks(&case, now, &Settings::default()));
}
