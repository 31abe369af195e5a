//! Each merge rule of the case file, with two or more replicas editing offline and merging.

use fieldbook_case::assessment::{self, AssessmentField};
use fieldbook_case::plan::{self, Action, ActionField};
use fieldbook_case::{self as case, missing, notes, nrm, profile, Note, NoteField};
use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::{AutoCommit, ROOT};

mod support;

fn new_case() -> AutoCommit {
    support::new_case()
}

fn note(id: &str, at: i64) -> Note {
    Note {
        id: id.into(),
        at,
        kind: case::CONTACT_TYPES[0].into(),
        ..Default::default()
    }
}

fn action(id: &str) -> Action {
    Action {
        id: id.into(),
        group: "family".into(),
        text: format!("action {id}"),
        owner: "Parent".into(),
        due: "2026-12-01".into(),
        status: "not-started".into(),
        removal: None,
    }
}

/// Three devices, each adding to every list while offline.
#[test]
fn concurrent_additions_to_every_list_all_survive() {
    let mut base = new_case();
    let mut devices: Vec<AutoCommit> = (0..3).map(|_| base.fork()).collect();
    for (i, d) in devices.iter_mut().enumerate() {
        let tag = format!("d{i}");
        notes::add(d, &note(&tag, i as i64)).unwrap();
        plan::add_action(d, &action(&tag)).unwrap();
        assessment::start(d, &tag, i as i64, None, "W").unwrap();
        missing::save(
            d,
            &missing::Episode {
                id: tag.clone(),
                start: 1,
                from: "home".into(),
                ..Default::default()
            },
        )
        .unwrap();
        case::outcomes::add(
            d,
            &case::Outcome {
                id: tag.clone(),
                at: 5,
                overall: "stable".into(),
                ..Default::default()
            },
        )
        .unwrap();
        nrm::set_status(
            d,
            &nrm::Step {
                id: tag.clone(),
                at: 10 + i as i64,
                status: "referred".into(),
                reason: String::new(),
                by: "W".into(),
            },
        )
        .unwrap();
    }
    let (first, rest) = devices.split_at_mut(1);
    for d in rest {
        first[0].merge(d).unwrap();
    }
    let c = case::read(&first[0]);
    assert_eq!(c.notes.len(), 3);
    assert_eq!(c.plan.actions.len(), 3);
    assert_eq!(c.assessments.len(), 3);
    assert_eq!(c.missing.len(), 3);
    assert_eq!(c.outcomes.len(), 3);
    assert_eq!(c.nrm.history.len(), 3);
}

/// A schema-1 document has no `missing` list: two devices create it concurrently. Both
/// lists survive as an Automerge conflict, and the reader walks both.
#[test]
fn lists_created_concurrently_on_an_old_document_lose_nothing() {
    let mut v1 = AutoCommit::new();
    v1.put(ROOT, "schema", 1).unwrap();
    let p = v1
        .put_object(ROOT, "profile", fieldbook_sync::automerge::ObjType::Map)
        .unwrap();
    v1.put(&p, "name", "Old Case").unwrap();
    let mut a = v1.fork();
    let mut b = v1.fork();
    for (d, id) in [(&mut a, "from-a"), (&mut b, "from-b")] {
        case::migrate(d).unwrap();
        missing::save(
            d,
            &missing::Episode {
                id: id.into(),
                start: 1,
                from: "care".into(),
                ..Default::default()
            },
        )
        .unwrap();
        plan::add_action(d, &action(id)).unwrap();
        profile::set_hazard(d, id, true, "W", 1).unwrap();
    }
    a.merge(&mut b).unwrap();
    let c = case::read(&a);
    let mut ids: Vec<_> = c.missing.iter().map(|e| e.id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["from-a", "from-b"]);
    assert_eq!(c.plan.actions.len(), 2);
    assert_eq!(c.shown_hazards().len(), 2);
    // And an edit to an item in the "losing" copy still lands.
    assert!(plan::set_action(&mut a, "from-b", ActionField::Status, "done").unwrap());
    let c = case::read(&a);
    assert_eq!(
        c.plan
            .actions
            .iter()
            .find(|x| x.id == "from-b")
            .unwrap()
            .status,
        "done"
    );
}

#[test]
fn concurrent_edits_of_free_text_merge() {
    let mut a = new_case();
    notes::add(&mut a, &note("n", 1)).unwrap();
    notes::set_field(&mut a, "n", NoteField::Text, "Seen at the bus station.").unwrap();
    assessment::start(&mut a, "as", 1, None, "W").unwrap();
    assessment::set_field(
        &mut a,
        "as",
        AssessmentField::Summary,
        "Concerns about money.",
    )
    .unwrap();
    let mut b = a.fork();
    notes::set_field(
        &mut a,
        "n",
        NoteField::Text,
        "Seen at the bus station. A: seemed tired.",
    )
    .unwrap();
    notes::set_field(
        &mut b,
        "n",
        NoteField::Text,
        "B: with older males. Seen at the bus station.",
    )
    .unwrap();
    assessment::set_field(
        &mut a,
        "as",
        AssessmentField::Summary,
        "Concerns about money. A adds phones.",
    )
    .unwrap();
    assessment::set_field(
        &mut b,
        "as",
        AssessmentField::Summary,
        "B: missing twice. Concerns about money.",
    )
    .unwrap();
    a.merge(&mut b).unwrap();
    let c = case::read(&a);
    assert_eq!(
        c.notes[0].text,
        "B: with older males. Seen at the bus station. A: seemed tired."
    );
    assert_eq!(
        c.assessments[0].summary,
        "B: missing twice. Concerns about money. A adds phones."
    );
}

#[test]
fn an_edit_to_an_item_another_device_removed_is_not_lost() {
    let mut a = new_case();
    plan::add_action(&mut a, &action("x")).unwrap();
    notes::add(&mut a, &note("n", 1)).unwrap();
    let mut b = a.fork();
    plan::remove_action(&mut a, "x", "Worker A", 100).unwrap();
    notes::remove(&mut a, "n", "Worker A", 100).unwrap();
    plan::set_action(&mut b, "x", ActionField::Owner, "Youth worker").unwrap();
    notes::set_field(&mut b, "n", NoteField::Text, "Important detail").unwrap();
    a.merge(&mut b).unwrap();
    let c = case::read(&a);
    let x = &c.plan.actions[0];
    assert_eq!(x.owner, "Youth worker");
    let r = x.removal.as_ref().expect("removal recorded");
    assert!(r.changed_since, "flagged for a person to decide");
    assert!(case::removal::visible(&x.removal));
    assert!(c.notes[0].removal.as_ref().unwrap().changed_since);
    assert!(
        case::chronology::build(&c).iter().any(|e| e.source == "n"),
        "still in the chronology"
    );
    // An uncontested removal hides the item (but keeps it in the document).
    notes::remove(&mut a, "n", "Worker A", 200).unwrap();
    let c = case::read(&a);
    assert!(!case::removal::visible(&c.notes[0].removal));
    assert_eq!(c.notes[0].text, "Important detail");
}

#[test]
fn safety_critical_values_set_differently_show_both_with_who_and_when() {
    let mut a = new_case();
    assessment::start(&mut a, "as", 1, None, "W").unwrap();
    nrm::set_status(
        &mut a,
        &nrm::Step {
            id: "s0".into(),
            at: 1,
            status: "not-considered".into(),
            reason: String::new(),
            by: "W".into(),
        },
    )
    .unwrap();
    profile::set_hazard(&mut a, "weapon", true, "W", 1).unwrap();
    let mut b = a.fork();
    assessment::set_overall(&mut a, "as", "high", "Worker A", 10).unwrap();
    assessment::set_overall(&mut b, "as", "moderate", "Worker B", 11).unwrap();
    assessment::set_rating(&mut a, "as", "coercion", "high", "Worker A", 10).unwrap();
    assessment::set_rating(&mut b, "as", "coercion", "emerging", "Worker B", 11).unwrap();
    nrm::set_status(
        &mut a,
        &nrm::Step {
            id: "sa".into(),
            at: 10,
            status: "referred".into(),
            reason: String::new(),
            by: "Worker A".into(),
        },
    )
    .unwrap();
    nrm::set_status(
        &mut b,
        &nrm::Step {
            id: "sb".into(),
            at: 11,
            status: "not-referred".into(),
            reason: "no indicators".into(),
            by: "Worker B".into(),
        },
    )
    .unwrap();
    profile::set_hazard(&mut b, "weapon", false, "Worker B", 11).unwrap();
    profile::set_hazard(&mut a, "weapon", true, "Worker A", 10).unwrap();
    a.merge(&mut b).unwrap();
    let c = case::read(&a);
    let asmt = &c.assessments[0];
    let who = |crit: &case::critical::Critical| {
        crit.candidates
            .iter()
            .map(|x| (x.value.clone(), x.by.clone(), x.at))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        who(&asmt.overall),
        vec![
            ("moderate".into(), "Worker B".into(), 11),
            ("high".into(), "Worker A".into(), 10)
        ]
    );
    assert!(asmt.category("coercion").unwrap().rating.is_conflict());
    assert!(c.nrm.status.is_conflict());
    let weapon = &c.hazards[0];
    assert!(
        weapon.state.is_conflict() && weapon.shown(),
        "a disputed removal keeps the label shown"
    );
    assert_eq!(c.conflicts().len(), 4, "{:?}", c.conflicts());
    assert!(
        !case::validate::assessment(asmt).is_empty(),
        "cannot submit while in dispute"
    );

    // A person settles each; every replica then agrees.
    assessment::set_overall(&mut a, "as", "high", "Manager M", 20).unwrap();
    assessment::set_rating(&mut a, "as", "coercion", "high", "Manager M", 20).unwrap();
    profile::set_hazard(&mut a, "weapon", true, "Manager M", 20).unwrap();
    nrm::set_status(
        &mut a,
        &nrm::Step {
            id: "sm".into(),
            at: 20,
            status: "referred".into(),
            reason: String::new(),
            by: "Manager M".into(),
        },
    )
    .unwrap();
    b.merge(&mut a).unwrap();
    let c = case::read(&b);
    assert!(c.conflicts().is_empty(), "{:?}", c.conflicts());
    assert_eq!(c.assessments[0].overall.value(), Some("high"));
    assert_eq!(c.nrm.status.settled().unwrap().by, "Manager M");
}
