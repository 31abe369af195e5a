//! Schema round trips, migration from schema 1, unknown-field preservation, validation rules
//! and chronology order.

use fieldbook_case::assessment::{self, AssessmentField};
use fieldbook_case::chronology::{self, EventKind};
use fieldbook_case::missing::Episode;
use fieldbook_case::plan::{self, Action};
use fieldbook_case::{
    self as case, missing, network, notes, nrm, outcomes, profile, validate, vocab, Note,
    NoteField, Profile, ProfileField,
};
use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::{AutoCommit, ObjType, ReadDoc, ScalarValue, Value, ROOT};

const H: i64 = 3_600_000;

fn full_case() -> AutoCommit {
    let mut d = AutoCommit::new();
    let p = Profile {
        name: "Test Person".into(),
        known_as: "TP".into(),
        dob: "2011-03-04".into(),
        legal_status: "cin".into(),
        education: "excluded".into(),
        voice: "I just want to go to college.".into(),
        ..Default::default()
    };
    case::create(&mut d, &p).unwrap();
    profile::set_hazard(&mut d, "not-alone", true, "W", 1).unwrap();
    notes::add(
        &mut d,
        &Note {
            id: "n1".into(),
            at: 10 * H,
            kind: case::CONTACT_TYPES[2].into(),
            duration: 45,
            place: "Example Park".into(),
            text: "Talked about football.".into(),
            own_words: "Nobody makes me do anything.".into(),
            indicators: vec!["phones".into(), "money-gifts".into()],
            reachable: true,
            follow_ups: "Call school".into(),
            by: "W".into(),
            ..Default::default()
        },
    )
    .unwrap();
    assessment::start(&mut d, "a1", 2 * H, None, "W").unwrap();
    for (id, _) in vocab::RISK_CATEGORIES {
        assessment::set_rating(&mut d, "a1", id, "moderate", "W", 3 * H).unwrap();
        assessment::set_category_text(&mut d, "a1", id, "Some information.").unwrap();
    }
    assessment::set_field(&mut d, "a1", AssessmentField::Summary, "Summary.").unwrap();
    assessment::set_field(
        &mut d,
        "a1",
        AssessmentField::CompletedBy,
        "W (social care)",
    )
    .unwrap();
    assessment::set_overall(&mut d, "a1", "moderate", "W", 3 * H).unwrap();
    assessment::submit(&mut d, "a1", 4 * H).unwrap();
    plan::add_action(
        &mut d,
        &Action {
            id: "p1".into(),
            group: "agency".into(),
            text: "Full education timetable".into(),
            owner: "School".into(),
            due: "2026-12-01".into(),
            status: "in-progress".into(),
            removal: None,
        },
    )
    .unwrap();
    plan::set_review(&mut d, "2027-01-15").unwrap();
    missing::save(
        &mut d,
        &Episode {
            id: "m1".into(),
            start: 5 * H,
            end: Some(8 * H),
            found_where: "Bus station".into(),
            from: "home".into(),
            rhi: "completed".into(),
            rhi_offered: Some(9 * H),
            rhi_completed: Some(20 * H),
            ..Default::default()
        },
    )
    .unwrap();
    nrm::set_status(
        &mut d,
        &nrm::Step {
            id: "s1".into(),
            at: 6 * H,
            status: "referred".into(),
            reason: String::new(),
            by: "W".into(),
        },
    )
    .unwrap();
    outcomes::add(
        &mut d,
        &case::Outcome {
            id: "o1".into(),
            at: 30 * H,
            overall: "improved".into(),
            soft: vec!["education".into()],
            notes: "Back in school.".into(),
            by: "W".into(),
        },
    )
    .unwrap();
    network::add(
        &mut d,
        network::LinkKind::Place,
        &network::Link {
            id: "l1".into(),
            name: "Example Park".into(),
            link: "associate".into(),
            rating: "risk".into(),
            ..Default::default()
        },
    )
    .unwrap();
    d
}

#[test]
fn every_record_round_trips_through_save_and_load() {
    let mut d = full_case();
    let loaded = AutoCommit::load(&d.save()).unwrap();
    let c = case::read(&loaded);
    assert_eq!(c, case::read(&d));
    assert_eq!(c.schema, case::SCHEMA);
    assert_eq!(c.profile.voice, "I just want to go to college.");
    assert_eq!(c.profile.legal_status, "cin");
    // The case is referred to the NRM: its label is derived from that status (issue 13).
    let labels: Vec<String> = c.shown_hazards().into_iter().map(|h| h.label).collect();
    assert_eq!(labels, ["NRM referral in place", "Do not visit alone"]);
    let n = &c.notes[0];
    assert_eq!((n.duration, n.reachable), (45, true));
    assert_eq!(
        n.indicators,
        vec!["money-gifts".to_owned(), "phones".to_owned()]
    );
    assert_eq!(n.own_words, "Nobody makes me do anything.");
    let a = &c.assessments[0];
    assert_eq!(a.categories.len(), 12);
    assert!(
        validate::assessment(a).is_empty(),
        "{:?}",
        validate::assessment(a)
    );
    assert_eq!(a.overall.value(), Some("moderate"));
    assert_eq!(c.plan.review, "2027-01-15");
    assert_eq!(c.plan.actions[0].owner, "School");
    assert_eq!(c.missing[0].duration_ms(), Some(3 * H));
    assert_eq!(c.nrm.status.value(), Some("referred"));
    assert_eq!(c.nrm.age_days(6 * H + 3 * 86_400_000), Some(3));
    assert_eq!(c.outcomes[0].soft, vec!["education".to_owned()]);
    assert_eq!(
        network::read(&loaded, network::LinkKind::Place)[0].name,
        "Example Park"
    );
}

#[test]
fn a_schema_1_document_opens_and_migrates() {
    // Exactly what the schema-1 app wrote.
    let mut d = AutoCommit::new();
    d.put(ROOT, "schema", 1).unwrap();
    let p = d.put_object(ROOT, "profile", ObjType::Map).unwrap();
    let name = d.put_object(&p, "name", ObjType::Text).unwrap();
    d.splice_text(&name, 0, 0, "Old Person").unwrap();
    d.put(&p, "dob", "2010-01-02").unwrap();
    let list = d.put_object(ROOT, "notes", ObjType::List).unwrap();
    let n = d.insert_object(&list, 0, ObjType::Map).unwrap();
    d.put(&n, "id", "old").unwrap();
    d.put(&n, "at", ScalarValue::Timestamp(5)).unwrap();
    let t = d.put_object(&n, "text", ObjType::Text).unwrap();
    d.splice_text(&t, 0, 0, "old note").unwrap();

    let c = case::read(&d);
    assert_eq!(
        (c.schema, c.profile.name.as_str(), c.notes[0].text.as_str()),
        (1, "Old Person", "old note")
    );
    assert!(c.assessments.is_empty() && c.missing.is_empty());
    assert!(case::migrate(&mut d).unwrap());
    assert!(!case::migrate(&mut d).unwrap(), "idempotent");
    // New records can be added to the migrated document; old ones are editable.
    assessment::start(&mut d, "a", 1, None, "W").unwrap();
    notes::set_field(&mut d, "old", NoteField::Text, "old note, edited").unwrap();
    let c = case::read(&d);
    assert_eq!(c.schema, case::SCHEMA);
    assert_eq!(c.assessments.len(), 1);
    assert_eq!(c.notes[0].text, "old note, edited");
}

#[test]
fn fields_this_version_does_not_know_are_kept_through_edits() {
    let mut d = full_case();
    // A newer app wrote these.
    d.put(ROOT, "schema", 7).unwrap();
    d.put(ROOT, "futureSection", "keep me").unwrap();
    let p = d.get(ROOT, "profile").unwrap().unwrap().1;
    d.put(&p, "pronouns", "they/them").unwrap();
    let notes_list = d.get(ROOT, "notes").unwrap().unwrap().1;
    let n = d.get(&notes_list, 0).unwrap().unwrap().1;
    d.put(&n, "weather", "rain").unwrap();

    assert!(case::read(&d).is_newer_than_app());
    assert!(!case::migrate(&mut d).unwrap(), "never downgrades");
    profile::set_field(&mut d, ProfileField::Name, "Test Person Renamed").unwrap();
    notes::set_field(&mut d, "n1", NoteField::Text, "Edited").unwrap();
    notes::set_indicator(&mut d, "n1", "fear", true).unwrap();
    profile::set_hazard(&mut d, "weapon", true, "W", 9).unwrap();

    let d = AutoCommit::load(&d.save()).unwrap();
    let scalar = |obj, key: &str| match d.get(obj, key).unwrap() {
        Some((Value::Scalar(s), _)) => s.into_owned(),
        other => panic!("{key}: {other:?}"),
    };
    assert_eq!(
        scalar(&ROOT, "futureSection"),
        ScalarValue::Str("keep me".into())
    );
    assert_eq!(scalar(&ROOT, "schema"), ScalarValue::Int(7));
    assert_eq!(scalar(&p, "pronouns"), ScalarValue::Str("they/them".into()));
    assert_eq!(scalar(&n, "weather"), ScalarValue::Str("rain".into()));
    assert_eq!(case::read(&d).profile.name, "Test Person Renamed");
}

#[test]
fn a_missing_episode_needs_a_reason_when_the_rhi_was_not_completed() {
    let now = 200 * H;
    let mut e = Episode {
        id: "m".into(),
        start: 100 * H,
        end: Some(110 * H),
        from: "care".into(),
        rhi: "not-completed".into(),
        ..Default::default()
    };
    let fields = |e: &Episode| {
        validate::missing(e, now)
            .into_iter()
            .map(|x| x.field)
            .collect::<Vec<_>>()
    };
    assert_eq!(fields(&e), ["rhi-reason"]);
    e.rhi_reason = "other".into();
    assert_eq!(fields(&e), ["rhi-reason-text"]);
    e.rhi_reason_text = "   ".into();
    assert_eq!(fields(&e), ["rhi-reason-text"], "blank is not a reason");
    e.rhi_reason_text = "Moved out of area the next day".into();
    assert!(fields(&e).is_empty());
    e.rhi = String::new();
    assert_eq!(fields(&e), ["rhi"], "not saying is not an option");
    e.rhi = "pending".into();
    assert_eq!(fields(&e), ["rhi"], "more than 72 hours after return");
    e.end = Some(now - 10 * H);
    assert!(fields(&e).is_empty(), "pending is fine within 72 hours");
    e.rhi = "completed".into();
    assert_eq!(fields(&e), ["rhi-completed"]);
    e.end = Some(90 * H);
    assert!(fields(&e).contains(&"missing-end".to_owned()));
    e.end = None;
    e.rhi = String::new();
    e.from = String::new();
    assert_eq!(
        fields(&e),
        ["missing-from"],
        "still missing: no RHI asked for yet"
    );
}

#[test]
fn other_validation_rules() {
    let mut p = Profile::default();
    assert_eq!(validate::profile(&p)[0].field, "case-name");
    p.name = "X".into();
    p.dob = "2010-02-30".into();
    assert_eq!(
        validate::profile(&p)[0].message,
        "Date of birth must be a real date"
    );
    p.dob = "2012-02-29".into();
    assert!(validate::profile(&p).is_empty());
    assert!(!validate::is_iso_date("2011-02-29") && validate::is_iso_date("2000-02-29"));

    let mut step = nrm::Step {
        status: "not-referred".into(),
        ..Default::default()
    };
    assert_eq!(validate::nrm_step(&step)[0].field, "nrm-reason");
    step.reason = "Indicators explained by family situation".into();
    assert!(validate::nrm_step(&step).is_empty());

    let mut d = AutoCommit::new();
    case::create(
        &mut d,
        &Profile {
            name: "X".into(),
            ..Default::default()
        },
    )
    .unwrap();
    assessment::start(&mut d, "a", 1, None, "W").unwrap();
    let errors = validate::assessment(&case::read(&d).assessments[0]);
    assert_eq!(
        errors.len(),
        12 + 3,
        "12 ratings, summary, overall, completed by"
    );
    assert_eq!(errors[0].field, "completed-by");
    assert_eq!(
        errors[1].message,
        "Select a rating for Running away / going missing from home, school or care"
    );

    let mut o = case::Outcome::default();
    assert_eq!(validate::outcome(&o)[0].field, "outcome-overall");
    o.overall = "stable".into();
    assert!(validate::outcome(&o).is_empty());

    let mut l = network::Link::default();
    assert_eq!(validate::link(&l).len(), 3);
    l = network::Link {
        name: "Park".into(),
        link: "associate".into(),
        rating: "risk".into(),
        ..l
    };
    assert!(validate::link(&l).is_empty());

    let mut a = Action::default();
    assert_eq!(
        validate::action(&a).len(),
        2,
        "text and owner; the due date is optional"
    );
    a = Action {
        text: "t".into(),
        owner: "o".into(),
        due: "2026-12-01".into(),
        ..a
    };
    assert!(validate::action(&a).is_empty());
}

#[test]
fn the_chronology_merges_every_dated_event_in_time_order() {
    let d = full_case();
    let c = case::read(&d);
    let events = chronology::build(&c);
    let kinds: Vec<(i64, EventKind)> = events.iter().map(|e| (e.at / H, e.kind)).collect();
    assert_eq!(
        kinds,
        vec![
            (4, EventKind::Assessment),
            (5, EventKind::Missing),
            (6, EventKind::Nrm),
            (8, EventKind::Returned),
            (10, EventKind::Contact),
            (20, EventKind::ReturnInterview),
            (30, EventKind::Outcome),
        ]
    );
    assert_eq!(events[0].title, "Risk assessment: Moderate");
    assert_eq!(
        events[4].title,
        "Detached / street outreach (reachable moment)"
    );
    let only = chronology::filter(&events, &[EventKind::Missing, EventKind::Returned]);
    assert_eq!(only.len(), 2);
    assert_eq!(chronology::filter(&events, &[]).len(), events.len());
}

#[test]
fn a_new_assessment_version_starts_from_the_last_one_and_history_shows_the_trend() {
    let mut d = full_case();
    let previous = case::read(&d).assessments[0].clone();
    assessment::start(&mut d, "a2", 40 * H, Some(&previous), "W").unwrap();
    assessment::set_rating(&mut d, "a2", "missing", "high", "W", 41 * H).unwrap();
    let c = case::read(&d);
    assert_eq!(c.assessments.len(), 2);
    let draft = &c.assessments[1];
    assert_eq!(draft.submitted, None);
    assert_eq!(
        draft.category("education").unwrap().text,
        "Some information."
    );
    assert!(
        draft.overall.is_unset(),
        "the overall level is a fresh judgement"
    );
    assessment::set_field(&mut d, "a2", AssessmentField::CompletedBy, "W").unwrap();
    assessment::set_overall(&mut d, "a2", "high", "W", 41 * H).unwrap();
    assessment::submit(&mut d, "a2", 42 * H).unwrap();
    let c = case::read(&d);
    let trend = assessment::trend(&c.assessments);
    assert_eq!(
        trend[0],
        (
            "missing".to_owned(),
            vec![Some("moderate".into()), Some("high".into())]
        )
    );
    // A submitted version is not changed: the next review is a new draft.
    assert!(!assessment::set_rating(&mut d, "a2", "offending", "high", "W", 43 * H).unwrap());
    assessment::start(&mut d, "a3", 43 * H, Some(&c.assessments[1]), "W").unwrap();
    assessment::set_rating(&mut d, "a3", "offending", "high", "W", 43 * H).unwrap();
    let c = case::read(&d);
    assert_eq!(
        c.assessments[1]
            .category("offending")
            .and_then(|x| x.rating.value()),
        Some("moderate")
    );
    assert_eq!(
        c.assessments[2]
            .category("offending")
            .and_then(|x| x.rating.value()),
        Some("high")
    );
}
