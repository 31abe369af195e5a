//! The monthly service dataset against a hand-built fixture: three invented cases written
//! with the case-file writers, and every expected number worked out by hand in the
//! comments. Synthetic data only.
//!
//! October 2026 in London runs from 1 October 00:00 BST (30 September 23:00 UTC) to
//! 1 November 00:00 GMT (1 November 00:00 UTC): summer time ended on 25 October.

use fieldbook_case::clocks::london;
use fieldbook_case::concerns::{self, Concern};
use fieldbook_case::dataset::{self, Month, Value};
use fieldbook_case::missing::Episode;
use fieldbook_case::{
    self as case, assessment, csv, missing, notes, nrm, outcomes, Case, Note, Outcome, Profile,
};
use fieldbook_sync::automerge::AutoCommit;

const H: i64 = 3_600_000;

/// London wall-clock time.
fn at(y: i32, m: u32, d: u32, hour: u32, minute: u32) -> i64 {
    london::instant((y, m, d), hour, minute)
}

/// UTC time.
fn utc(y: i32, m: u32, d: u32, hour: u32, minute: u32) -> i64 {
    let days = days_from_civil(y, m, d);
    days * 24 * H + i64::from(hour) * H + i64::from(minute) * 60_000
}

fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn new_case(education: &str) -> AutoCommit {
    let mut d = AutoCommit::new();
    case::create(
        &mut d,
        &Profile {
            name: "Demo — Test Person".into(),
            education: education.into(),
            ..Default::default()
        },
    )
    .unwrap();
    d.commit();
    d
}

fn note(d: &mut AutoCommit, id: &str, at: i64, kind: &str, intelligence: bool) {
    notes::add(
        d,
        &Note {
            id: id.into(),
            at,
            kind: kind.into(),
            intelligence,
            by: "Worker W".into(),
            ..Default::default()
        },
    )
    .unwrap();
}

fn concern(d: &mut AutoCommit, id: &str, at: i64, types: &[&str]) {
    concerns::add(
        d,
        &Concern {
            id: id.into(),
            at,
            by: "Worker W".into(),
            types: types.iter().map(|t| (*t).to_owned()).collect(),
            ..Default::default()
        },
    )
    .unwrap();
}

fn episode(id: &str, from: &str, start: i64, end: Option<i64>) -> Episode {
    Episode {
        id: id.into(),
        start,
        end,
        from: from.into(),
        rhi: "pending".into(),
        ..Default::default()
    }
}

fn assess(d: &mut AutoCommit, id: &str, level: &str, submitted: i64) {
    assessment::start(d, id, submitted - H, None, "Worker W").unwrap();
    assessment::set_overall(d, id, level, "Worker W", submitted - H).unwrap();
    assert!(assessment::submit(d, id, submitted).unwrap());
    d.commit();
}

fn step(d: &mut AutoCommit, id: &str, status: &str, at: i64) {
    nrm::set_status(
        d,
        &nrm::Step {
            id: id.into(),
            at,
            status: status.into(),
            reason: String::new(),
            by: "Worker W".into(),
        },
    )
    .unwrap();
}

fn outcome(d: &mut AutoCommit, id: &str, overall: &str, at: i64) {
    outcomes::add(
        d,
        &Outcome {
            id: id.into(),
            at,
            overall: overall.into(),
            by: "Worker W".into(),
            ..Default::default()
        },
    )
    .unwrap();
}

/// The fixture: cases A, B and C.
fn fixture() -> Vec<Case> {
    // Case A: at home, not attending school.
    let mut a = new_case("not-attending");
    // n1 at 00:30 BST on 1 October (23:30 UTC on 30 September): October. Face to face,
    // intelligence shared.
    note(
        &mut a,
        "n1",
        utc(2026, 9, 30, 23, 30),
        "Face-to-face (planned)",
        true,
    );
    // n2 a phone call in October that also shared intelligence.
    note(
        &mut a,
        "n2",
        at(2026, 10, 10, 11, 0),
        "Phone or message",
        true,
    );
    // n3 at 23:30 BST on 30 September (22:30 UTC): September, not October.
    note(
        &mut a,
        "n3",
        utc(2026, 9, 30, 22, 30),
        "Face-to-face (planned)",
        true,
    );
    // c1 names CCE and county lines.
    concern(
        &mut a,
        "c1",
        at(2026, 10, 5, 9, 0),
        &["cce", "county-lines"],
    );
    // Emerging in August, Moderate on 6 October: one completed in October; Moderate at the
    // end of the month.
    assess(&mut a, "a1", "emerging", at(2026, 8, 10, 12, 0));
    assess(&mut a, "a2", "moderate", at(2026, 10, 6, 12, 0));
    // e1: missing from home 3–4 October, interview 24 hours after return (in time).
    let mut e1 = episode(
        "e1",
        "home",
        at(2026, 10, 3, 10, 0),
        Some(at(2026, 10, 4, 10, 0)),
    );
    e1.rhi = "completed".into();
    e1.rhi_completed = Some(at(2026, 10, 5, 10, 0));
    missing::save(&mut a, &e1).unwrap();
    // e2: went missing at 23:30 GMT on 31 October (October), returned 1 November (a November
    // return, so not among October's returns).
    missing::save(
        &mut a,
        &episode(
            "e2",
            "home",
            utc(2026, 10, 31, 23, 30),
            Some(utc(2026, 11, 1, 8, 0)),
        ),
    )
    .unwrap();
    step(&mut a, "s1", "referred", at(2026, 10, 12, 9, 0));
    outcome(&mut a, "o1", "improved", at(2026, 10, 20, 9, 0));
    a.commit();

    // Case B: in care, alternative provision.
    let mut b = new_case("ap");
    // n4: a cold call (face to face) with intelligence, then removed: counts for nothing.
    note(&mut b, "n4", at(2026, 10, 15, 9, 0), "Cold call", true);
    notes::remove(&mut b, "n4", "Worker W", at(2026, 10, 15, 10, 0)).unwrap();
    // n5: a phone call is not direct support.
    note(
        &mut b,
        "n5",
        at(2026, 10, 16, 9, 0),
        "Phone or message",
        false,
    );
    concern(&mut b, "c2", at(2026, 10, 8, 9, 0), &["cse"]);
    concern(&mut b, "c3", at(2026, 10, 9, 9, 0), &[]);
    // c4 removed: not a referral.
    concern(&mut b, "c4", at(2026, 10, 9, 10, 0), &["trafficking"]);
    concerns::remove(&mut b, "c4", "Worker W", at(2026, 10, 9, 11, 0)).unwrap();
    // High since September: at the end of October.
    assess(&mut b, "b1", "high", at(2026, 9, 15, 12, 0));
    // e3: went missing in September, returned 2 October; interview 96 hours later (late,
    // could not meet within the timescale).
    let mut e3 = episode(
        "e3",
        "care",
        at(2026, 9, 28, 22, 0),
        Some(at(2026, 10, 2, 10, 0)),
    );
    e3.rhi = "completed".into();
    e3.rhi_completed = Some(at(2026, 10, 6, 10, 0));
    e3.rhi_late_reason = "timescale".into();
    missing::save(&mut b, &e3).unwrap();
    // e4: missing from care 20–21 October; interview declined.
    let mut e4 = episode(
        "e4",
        "care",
        at(2026, 10, 20, 22, 0),
        Some(at(2026, 10, 21, 10, 0)),
    );
    e4.rhi = "not-completed".into();
    e4.rhi_reason = "declined".into();
    missing::save(&mut b, &e4).unwrap();
    // e5 removed.
    missing::save(
        &mut b,
        &episode(
            "e5",
            "care",
            at(2026, 10, 22, 9, 0),
            Some(at(2026, 10, 22, 12, 0)),
        ),
    )
    .unwrap();
    missing::remove(&mut b, "e5", "Worker W", at(2026, 10, 23, 9, 0)).unwrap();
    step(&mut b, "s2", "referred", at(2026, 9, 1, 9, 0));
    step(&mut b, "s3", "reasonable-grounds", at(2026, 10, 25, 9, 0));
    // 00:30 UTC on 1 November is 00:30 GMT: November.
    outcome(&mut b, "o2", "declined", utc(2026, 11, 1, 0, 30));
    b.commit();

    // Case C: nothing in October; seen in November; never assessed.
    let mut c = new_case("");
    note(&mut c, "n6", at(2026, 11, 2, 9, 0), "Hospital visit", false);
    c.commit();

    vec![case::read(&a), case::read(&b), case::read(&c)]
}

fn count(n: usize) -> Option<Value> {
    Some(Value::Count(n))
}

fn rate(part: usize, whole: usize) -> Option<Value> {
    Some(Value::Rate { part, whole })
}

#[test]
fn october_numbers_match_the_hand_worked_fixture() {
    let cases = fixture();
    let october = Month::parse("2026-10").unwrap();
    assert_eq!(october.start(), utc(2026, 9, 30, 23, 0), "BST midnight");
    assert_eq!(october.end(), utc(2026, 11, 1, 0, 0), "GMT midnight");
    let now = at(2026, 12, 1, 9, 0);
    let d = dataset::monthly(&cases, october, now);
    assert!(d.complete);
    assert_eq!(d.cases, 3);
    let expected = [
        // c1, c2, c3 (c4 removed).
        ("referrals", count(3)),
        // a2 on 6 October (a1 August, b1 September).
        ("assessments-completed", count(1)),
        // c1 names CCE and county lines, c2 CSE, c3 nothing: each 1 of 3.
        ("concern-type-cce", rate(1, 3)),
        ("concern-type-county-lines", rate(1, 3)),
        ("concern-type-cse", rate(1, 3)),
        ("concern-type-trafficking", rate(0, 3)),
        ("concern-type-none", rate(1, 3)),
        // A (n1, 00:30 BST on 1 October). B's cold call was removed, n5 was a phone call;
        // C was seen in November.
        ("young-people-supported", count(1)),
        // n1 and n2 (n3 was September, n4 removed).
        ("intelligence-forms", count(2)),
        // e1, e2 (23:30 GMT on 31 October) and e4; e3 started in September; e5 removed.
        ("missing-episodes", count(3)),
        ("missing-from-home", count(2)),
        ("missing-from-care", count(1)),
        ("children-missing", count(2)),
        ("children-missing-from-home", count(1)),
        ("children-missing-from-care", count(1)),
        // Returned in October: e1, e3, e4 (e2 returned in November).
        ("returns", count(3)),
        // e1 and e3 were done: 2 of 3 = 66.7%.
        ("rhi-done", rate(2, 3)),
        // Only e1 within 72 hours: 1 of 3 = 33.3%.
        ("rhi-within-72h", rate(1, 3)),
        ("rhi-not-done-declined", count(1)),
        ("rhi-not-done-other-agency", count(0)),
        ("rhi-late-timescale", count(1)),
        ("rhi-late-not-engaged", count(0)),
        ("rhi-reason-not-recorded", count(0)),
        // s1 (s2 was September), s3.
        ("nrm-referrals", count(1)),
        ("nrm-reasonable-grounds", count(1)),
        ("nrm-conclusive-grounds", count(0)),
        // o1 (o2 is 00:30 GMT on 1 November).
        ("outcome-improved", count(1)),
        ("outcome-stable", count(0)),
        ("outcome-declined", count(0)),
        // At the end of October: A Moderate (a2), B High, C none.
        ("level-emerging", count(0)),
        ("level-moderate", count(1)),
        ("level-high", count(1)),
        ("level-none", count(1)),
        // Moderate or High: A (not attending) and B (alternative provision).
        ("education-not-attending", rate(1, 2)),
        ("education-ap", rate(1, 2)),
        ("education-in-education", rate(0, 2)),
        ("education-not-recorded", rate(0, 2)),
    ];
    for (id, value) in expected {
        assert_eq!(d.get(id), value, "{id}");
    }
    assert_eq!(
        d.get("rhi-done").unwrap().percent().as_deref(),
        Some("66.7")
    );
    assert_eq!(d.get("rhi-within-72h").unwrap().words(), "1 of 3 (33.3%)");

    // September: n3 (23:30 BST on the 30th) is September's; e3 started then; b1 completed.
    let september = dataset::monthly(&cases, october.previous(), now);
    assert_eq!(september.get("young-people-supported"), count(1));
    assert_eq!(september.get("intelligence-forms"), count(1));
    assert_eq!(september.get("missing-episodes"), count(1));
    assert_eq!(september.get("assessments-completed"), count(1));
    assert_eq!(september.get("nrm-referrals"), count(1));
    // Levels at the end of September: A Emerging (a1), B High, C none.
    assert_eq!(september.get("level-emerging"), count(1));
    assert_eq!(september.get("level-moderate"), count(0));
    // November: C seen (n6); e2 returned with no interview yet (pending, past 72 hours by
    // December: neither done nor in time); o2 declined.
    let november = dataset::monthly(&cases, october.next(), now);
    assert_eq!(november.get("young-people-supported"), count(1));
    assert_eq!(november.get("returns"), count(1));
    assert_eq!(november.get("rhi-done"), rate(0, 1));
    assert_eq!(november.get("outcome-declined"), count(1));
}

#[test]
fn rates_with_nothing_to_divide_have_no_percentage() {
    let cases = fixture();
    let december = Month::parse("2026-12").unwrap();
    let d = dataset::monthly(&cases, december, at(2026, 12, 10, 9, 0));
    assert!(!d.complete, "December is still running on the 10th");
    assert_eq!(d.get("referrals"), count(0));
    assert_eq!(d.get("concern-type-cce"), rate(0, 0));
    assert_eq!(d.get("rhi-within-72h"), rate(0, 0));
    assert_eq!(d.get("rhi-within-72h").unwrap().percent(), None);
    assert_eq!(d.get("rhi-within-72h").unwrap().words(), "None to count");
    let csv = dataset::to_csv(&d);
    let rows = csv::parse(&csv);
    let line = rows.iter().find(|r| r[2] == "rhi-within-72h").unwrap();
    assert_eq!(&line[4..], ["0", "0", ""]);
    // No cases at all: every count zero, every rate without a percentage.
    let empty = dataset::monthly(&[], december, at(2026, 12, 10, 9, 0));
    assert!(empty.measures.iter().all(|m| match m.value {
        Value::Count(n) => n == 0,
        Value::Rate { part, whole } => part == 0 && whole == 0 && m.value.percent().is_none(),
    }));
}

#[test]
fn the_csv_has_a_header_and_one_row_per_measure() {
    let cases = fixture();
    let october = Month::parse("2026-10").unwrap();
    let d = dataset::monthly(&cases, october, at(2026, 12, 1, 9, 0));
    let text = dataset::to_csv(&d);
    assert!(text.ends_with("\r\n"));
    let rows = csv::parse(&text);
    assert_eq!(rows[0], dataset::CSV_HEADER);
    assert_eq!(rows.len(), d.measures.len() + 1);
    let ids: Vec<&str> = rows[1..].iter().map(|r| r[2].as_str()).collect();
    let unique: std::collections::BTreeSet<&&str> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "measure ids are unique");
    let rhi = rows.iter().find(|r| r[2] == "rhi-done").unwrap();
    assert_eq!(rhi[0], "2026-10");
    assert_eq!(rhi[1], "Missing and return home interviews");
    assert_eq!(&rhi[4..], ["2", "3", "66.7"]);
    let referrals = rows.iter().find(|r| r[2] == "referrals").unwrap();
    assert_eq!(&referrals[4..], ["3", "", ""]);
    assert_eq!(dataset::file_name(october), "service-dataset-2026-10.csv");
}

#[test]
fn the_demo_has_numbers_for_the_last_complete_month() {
    use fieldbook_case::demo;
    for now in [
        at(2026, 11, 26, 9, 0),
        at(2026, 3, 1, 8, 0),
        at(2026, 7, 31, 20, 0),
    ] {
        let cases: Vec<Case> = (0..demo::PEOPLE.len())
            .map(|i| {
                let mut d = AutoCommit::new();
                demo::write(&mut d, i, now).unwrap();
                d.commit();
                case::read(&d)
            })
            .collect();
        let d = dataset::monthly(&cases, Month::last_complete(now), now);
        for id in [
            "young-people-supported",
            "intelligence-forms",
            "missing-episodes",
            "returns",
        ] {
            assert!(
                matches!(d.get(id), Some(Value::Count(n)) if n > 0),
                "{id} at {now}: {:?}",
                d.get(id)
            );
        }
        assert!(
            matches!(d.get("rhi-within-72h"), Some(Value::Rate { part, whole }) if part > 0 && whole > part)
        );
        let current = dataset::monthly(&cases, Month::of(now), now);
        assert!(
            matches!(current.get("young-people-supported"), Some(Value::Count(n)) if n > 0)
                || london::local(now).day < 3,
            "current month at {now}"
        );
    }
}
