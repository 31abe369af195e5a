//! Issue 8 ("Field day"): disputes listed with what is needed to settle them, open-ended
//! safety-plan actions, contact times in the future, counts, "reported by" in the
//! chronology, and a young person's age.

use fieldbook_case::chronology::{self, EventKind};
use fieldbook_case::critical::Critical;
use fieldbook_case::missing::Episode;
use fieldbook_case::plan::Action;
use fieldbook_case::{
    self as case, assessment, missing, nrm, profile, validate, vocab, Disputed, Profile,
};
use fieldbook_sync::automerge::AutoCommit;

const MIN: i64 = 60_000;

/// Two devices set the overall level, a rating, the NRM status and a hazard label
/// differently from the same starting point.
fn disputed_case() -> (AutoCommit, AutoCommit) {
    let mut a = AutoCommit::new();
    case::create(
        &mut a,
        &Profile {
            name: "Test Person".into(),
            ..Default::default()
        },
    )
    .unwrap();
    assessment::start(&mut a, "as", 1, None, "W").unwrap();
    profile::set_hazard(&mut a, "weapon", true, "W", 1).unwrap();
    let mut b = a.fork();
    let step = |status: &str, by: &str, at| nrm::Step {
        id: format!("{by}-{at}"),
        at,
        status: status.into(),
        reason: String::new(),
        by: by.into(),
    };
    assessment::set_overall(&mut a, "as", "high", "Worker A", 10).unwrap();
    assessment::set_rating(&mut a, "as", "coercion", "high", "Worker A", 10).unwrap();
    nrm::set_status(&mut a, &step("referred", "Worker A", 10)).unwrap();
    profile::set_hazard(&mut a, "weapon", false, "Worker A", 10).unwrap();
    assessment::set_overall(&mut b, "as", "emerging", "Worker B", 11).unwrap();
    assessment::set_rating(&mut b, "as", "coercion", "moderate", "Worker B", 11).unwrap();
    nrm::set_status(&mut b, &step("not-considered", "Worker B", 11)).unwrap();
    profile::set_hazard(&mut b, "weapon", true, "Worker B", 11).unwrap();
    a.merge(&mut b).unwrap();
    b.merge(&mut a).unwrap();
    (a, b)
}

/// Value, who set it, when.
type Set = (String, String, i64);

fn values(c: &Critical) -> Vec<Set> {
    c.candidates
        .iter()
        .map(|x| (x.value.clone(), x.by.clone(), x.at))
        .collect()
}

#[test]
fn each_dispute_says_what_is_disputed_every_value_and_who_set_it_when() {
    let (a, _) = disputed_case();
    let disputes = case::read(&a).conflicts();
    let got: Vec<(Disputed, String, Vec<Set>)> = disputes
        .iter()
        .map(|d| (d.what.clone(), d.label.clone(), values(&d.value)))
        .collect();
    let two = |x: &str, y: &str| {
        vec![
            (x.to_owned(), "Worker B".to_owned(), 11),
            (y.to_owned(), "Worker A".to_owned(), 10),
        ]
    };
    assert_eq!(
        got,
        vec![
            (
                Disputed::Hazard("weapon".into()),
                "Hazard label \"Weapon carrying concern\"".into(),
                two("on", "off")
            ),
            (
                Disputed::Overall {
                    assessment: "as".into()
                },
                "Overall risk level".into(),
                two("emerging", "high")
            ),
            (
                Disputed::Rating {
                    assessment: "as".into(),
                    category: "coercion".into()
                },
                "Rating: Coercion and control".into(),
                two("moderate", "high")
            ),
            (
                Disputed::Nrm,
                "NRM status".into(),
                two("not-considered", "referred")
            ),
        ]
    );
    // Each dispute's values come from the list its chooser offers.
    for d in &disputes {
        for c in &d.value.candidates {
            assert!(
                d.what.choices().iter().any(|(id, _)| *id == c.value),
                "{:?}: {} is not a choice",
                d.what,
                c.value
            );
        }
    }
    assert_eq!(
        vocab::label(Disputed::Nrm.choices(), "referred"),
        "Referred"
    );
}

#[test]
fn settling_each_dispute_where_it_lives_clears_it_on_every_device() {
    let (mut a, mut b) = disputed_case();
    for d in case::read(&a).conflicts() {
        let keep = d.value.candidates[1].value.clone(); // Worker A's value
        match d.what {
            Disputed::NrmDecision(stage) => {
                assert!(nrm::set_decision(&mut a, &stage, &keep, "M", 20).unwrap())
            }
            Disputed::Hazard(h) => profile::set_hazard(&mut a, &h, keep == "on", "M", 20).unwrap(),
            Disputed::Overall { assessment: x } => {
                assert!(assessment::set_overall(&mut a, &x, &keep, "M", 20).unwrap())
            }
            Disputed::Rating {
                assessment: x,
                category,
            } => assert!(assessment::set_rating(&mut a, &x, &category, &keep, "M", 20).unwrap()),
            Disputed::Nrm => nrm::set_status(
                &mut a,
                &nrm::Step {
                    id: "settled".into(),
                    at: 20,
                    status: keep,
                    reason: String::new(),
                    by: "M".into(),
                },
            )
            .unwrap(),
        };
        assert!(
            !case::read(&a)
                .conflicts()
                .iter()
                .any(|x| x.label == d.label),
            "{} settled on this device at once",
            d.label
        );
    }
    b.merge(&mut a).unwrap();
    let c = case::read(&b);
    assert!(c.conflicts().is_empty(), "{:?}", c.conflicts());
    assert_eq!(c.assessments[0].overall.value(), Some("high"));
    assert_eq!(c.nrm.status.value(), Some("referred"));
    assert!(!c.hazards[0].shown(), "Worker A's removal was kept");
}

#[test]
fn a_safety_plan_action_may_have_no_due_date_but_a_given_one_must_be_real() {
    let mut a = Action {
        text: "Appointments at 3pm".into(),
        owner: "Youth worker".into(),
        ..Default::default()
    };
    assert_eq!(validate::action(&a), vec![]);
    a.due = "2026-02-30".into();
    let errors = validate::action(&a);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].field, "action-due");
    assert_eq!(errors[0].message, "Due date must be a real date");
    a.due = "2026-02-28".into();
    assert_eq!(validate::action(&a), vec![]);
}

#[test]
fn a_contact_time_later_than_now_is_refused_beyond_a_few_minutes_of_clock_drift() {
    let now = 1_750_000_000_000;
    assert!(validate::contact_time(now - 60 * MIN, now).is_empty());
    assert!(validate::contact_time(now, now).is_empty());
    assert!(validate::contact_time(now + 4 * MIN, now).is_empty());
    let errors = validate::contact_time(now + 6 * MIN, now);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].field, "note-at");
    assert_eq!(
        errors[0].message,
        "Date and time of the contact must be now or in the past"
    );
}

#[test]
fn counts_use_the_singular_for_one() {
    assert_eq!(vocab::count(1, "note", "notes"), "1 note");
    assert_eq!(vocab::count(0, "note", "notes"), "0 notes");
    assert_eq!(vocab::count(2, "day", "days"), "2 days");
}

#[test]
fn the_chronology_says_who_reported_a_young_person_missing() {
    let mut d = AutoCommit::new();
    case::create(&mut d, &Profile::default()).unwrap();
    let episode = |id: &str, by: &str| Episode {
        id: id.into(),
        start: 5 * MIN,
        from: "home".into(),
        reported_by: by.into(),
        ..Default::default()
    };
    missing::save(&mut d, &episode("m1", "Mum")).unwrap();
    missing::save(&mut d, &episode("m2", "  ")).unwrap();
    let events = chronology::build(&case::read(&d));
    let missing: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e.kind == EventKind::Missing)
        .map(|e| (e.title.as_str(), e.detail.as_str()))
        .collect();
    assert_eq!(
        missing,
        vec![
            ("Went missing from home", "Reported by Mum"),
            ("Went missing from home", "")
        ]
    );
}

#[test]
fn age_is_whole_years_on_the_day_asked() {
    assert_eq!(validate::age_on("2010-05-17", "2026-05-16"), Some(15));
    assert_eq!(validate::age_on("2010-05-17", "2026-05-17"), Some(16));
    assert_eq!(validate::age_on("2010-05-17", "2026-12-31"), Some(16));
    assert_eq!(validate::age_on("2010-05-17", "2010-05-17"), Some(0));
    // Born on 29 February: a year older on 1 March in other years.
    assert_eq!(validate::age_on("2012-02-29", "2013-02-28"), Some(0));
    assert_eq!(validate::age_on("2012-02-29", "2013-03-01"), Some(1));
    assert_eq!(validate::age_on("2012-02-29", "2016-02-29"), Some(4));
    // Not a date, or not born yet: no age rather than a wrong one.
    assert_eq!(validate::age_on("", "2026-01-01"), None);
    assert_eq!(validate::age_on("sometime in 2010", "2026-01-01"), None);
    assert_eq!(validate::age_on("2027-01-01", "2026-01-01"), None);
}
