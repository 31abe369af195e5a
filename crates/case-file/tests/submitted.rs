//! A submitted assessment version is immutable everywhere (issue 8): writers refuse to
//! change it, it reads as it was submitted however late another device's edits arrive,
//! and those late edits are kept for a new draft rather than lost or merged in.

use fieldbook_case::assessment::{self, Assessment, AssessmentField};
use fieldbook_case::{self as case, demo, vocab};
use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::{AutoCommit, ObjType, ReadDoc, ROOT};

mod support;

/// A case with a complete draft "a" (every category rated and described).
fn complete_draft() -> AutoCommit {
    let mut d = support::new_case();
    assessment::start(&mut d, "a", 1, None, "Worker A").unwrap();
    for (cid, _) in vocab::RISK_CATEGORIES {
        assessment::set_rating(&mut d, "a", cid, "moderate", "Worker A", 2).unwrap();
        assessment::set_category_text(&mut d, "a", cid, &format!("A on {cid}.")).unwrap();
    }
    assessment::set_field(&mut d, "a", AssessmentField::Summary, "A's summary.").unwrap();
    assessment::set_field(&mut d, "a", AssessmentField::CompletedBy, "Worker A").unwrap();
    assessment::set_overall(&mut d, "a", "moderate", "Worker A", 3).unwrap();
    d.commit();
    d
}

fn version(d: &AutoCommit, id: &str) -> Assessment {
    case::read(d)
        .assessments
        .into_iter()
        .find(|a| a.id == id)
        .unwrap_or_else(|| panic!("no version {id}"))
}

/// Each category (id, text, rating values), summary, overall level values, who completed it.
type Content = (
    Vec<(String, String, Vec<String>)>,
    String,
    Vec<String>,
    String,
);

/// The content a person filled in (what must not change once submitted).
fn content(a: &Assessment) -> Content {
    let values = |c: &case::critical::Critical| {
        c.candidates
            .iter()
            .map(|x| x.value.clone())
            .collect::<Vec<_>>()
    };
    (
        a.categories
            .iter()
            .map(|c| (c.id.clone(), c.text.clone(), values(&c.rating)))
            .collect(),
        a.summary.clone(),
        values(&a.overall),
        a.completed_by.clone(),
    )
}

/// Phone B, offline and unaware of the submission, changes text, a rating, the summary and
/// the overall level of version "a".
fn late_edits_on_b(b: &mut AutoCommit) {
    assert!(assessment::set_category_text(
        b,
        "a",
        "coercion",
        "A on coercion. B: new older friends."
    )
    .unwrap());
    assert!(assessment::set_rating(b, "a", "coercion", "high", "Worker B", 10).unwrap());
    assert!(assessment::set_field(
        b,
        "a",
        AssessmentField::Summary,
        "A's summary. B adds money owed."
    )
    .unwrap());
    assert!(assessment::set_overall(b, "a", "high", "Worker B", 11).unwrap());
}

#[test]
fn writers_refuse_to_change_a_submitted_version_but_a_manager_can_confirm_it() {
    let mut d = complete_draft();
    assert!(assessment::submit(&mut d, "a", 5).unwrap());
    d.commit();
    let before = version(&d, "a");
    assert!(assessment::is_submitted(&d, "a"));
    assert!(!assessment::set_category_text(&mut d, "a", "coercion", "changed").unwrap());
    assert!(!assessment::set_rating(&mut d, "a", "coercion", "high", "W", 6).unwrap());
    assert!(!assessment::set_field(&mut d, "a", AssessmentField::Summary, "changed").unwrap());
    assert!(!assessment::set_field(&mut d, "a", AssessmentField::CompletedBy, "changed").unwrap());
    assert!(!assessment::set_text(&mut d, "a", "summary", "changed").unwrap());
    assert!(!assessment::set_overall(&mut d, "a", "high", "W", 6).unwrap());
    assert!(
        !assessment::submit(&mut d, "a", 7).unwrap(),
        "submitted once"
    );
    assert_eq!(d.pending_ops(), 0, "nothing was written");
    assert!(assessment::confirm(&mut d, "a", "Manager M", 8).unwrap());
    let after = version(&d, "a");
    assert_eq!(content(&after), content(&before));
    assert_eq!((after.submitted, after.late_edits.clone()), (Some(5), None));
    assert_eq!(after.confirmed, Some(("Manager M".to_owned(), 8)));
    // A draft is still editable.
    assert!(!assessment::is_submitted(&d, "nope"));
    assessment::start(&mut d, "b", 9, Some(&after), "W").unwrap();
    assert!(assessment::set_rating(&mut d, "b", "coercion", "high", "W", 10).unwrap());
}

#[test]
fn offline_edits_made_before_seeing_the_submission_become_late_edits_not_part_of_it() {
    let mut a = complete_draft();
    let mut b = a.fork();
    assert!(assessment::submit(&mut a, "a", 5).unwrap());
    a.commit();
    let submitted = version(&a, "a");
    late_edits_on_b(&mut b);
    a.merge(&mut b).unwrap();
    b.merge(&mut a).unwrap();

    for d in [&a, &b] {
        let heads = d.clone().get_heads();
        let v = version(d, "a");
        assert_eq!(v.submitted, Some(5));
        assert_eq!(
            content(&v),
            content(&submitted),
            "the submitted version is unchanged"
        );
        let late = v.late_edits.expect("B's changes are kept");
        let draft = &late.content;
        assert_eq!(draft.submitted, None);
        assert_eq!(draft.from_late_edits.as_deref(), Some("a"));
        assert_eq!(
            draft.category("coercion").unwrap().text,
            "A on coercion. B: new older friends."
        );
        assert_eq!(
            draft.category("coercion").unwrap().rating.value(),
            Some("high")
        );
        assert_eq!(draft.category("missing").unwrap().text, "A on missing.");
        assert_eq!(draft.summary, "A's summary. B adds money owed.");
        assert_eq!(draft.overall.value(), Some("high"));
        assert_eq!(draft.completed_by, "Worker A");
        let coercion = vocab::label(vocab::RISK_CATEGORIES, "coercion");
        assert_eq!(
            late.changed,
            vec![
                format!("{coercion}: information and analysis"),
                "Summary of concerns and analysis".to_owned(),
                format!("{coercion}: rating"),
                "Overall risk level".to_owned(),
            ]
        );
        assert_eq!(late.by, vec!["Worker B".to_owned()]);
        assert_eq!(d.clone().get_heads(), heads, "reading never writes");
    }
    assert_eq!(case::read(&a).assessments, case::read(&b).assessments);
    assert!(
        case::chronology::build(&case::read(&a))
            .iter()
            .any(|e| e.title == "Risk assessment: Moderate"),
        "the chronology shows the level as submitted"
    );
}

#[test]
fn late_edits_become_a_draft_once_even_when_two_devices_take_them_offline() {
    let mut a = complete_draft();
    let mut b = a.fork();
    let mut c = a.fork(); // a third device, offline all along
    assessment::submit(&mut a, "a", 5).unwrap();
    a.commit();
    late_edits_on_b(&mut b);
    a.merge(&mut b).unwrap();
    b.merge(&mut a).unwrap();
    let submitted = content(&version(&a, "a"));

    // Both devices turn the late edits into a draft while offline.
    assert!(
        assessment::start_draft_from_late_edits(&mut a, "a", "from-a", 20, "Worker A").unwrap()
    );
    assert!(
        !assessment::start_draft_from_late_edits(&mut a, "a", "again", 21, "Worker A").unwrap(),
        "taken already on this device"
    );
    assert!(
        assessment::start_draft_from_late_edits(&mut b, "a", "from-b", 22, "Worker B").unwrap()
    );
    a.merge(&mut b).unwrap();
    b.merge(&mut a).unwrap();
    for d in [&a, &b] {
        let all = case::read(d).assessments;
        let v = all.iter().find(|x| x.id == "a").unwrap();
        assert_eq!(content(v), submitted);
        assert_eq!(v.late_edits, None, "no longer offered");
        let drafts: Vec<&Assessment> = all.iter().filter(|x| x.submitted.is_none()).collect();
        assert_eq!(drafts.len(), 2, "one from each device; nothing lost");
        for draft in drafts {
            assert_eq!(draft.from_late_edits.as_deref(), Some("a"));
            assert_eq!(draft.summary, "A's summary. B adds money owed.");
            let coercion = draft.category("coercion").unwrap();
            assert_eq!(coercion.text, "A on coercion. B: new older friends.");
            let rating = coercion.rating.settled().unwrap();
            // Carried into each draft by the worker who started it: a change may only name
            // its own author (the server refuses others).
            let starter = if draft.id == "from-a" {
                "Worker A"
            } else {
                "Worker B"
            };
            assert_eq!(
                (rating.value.as_str(), rating.by.as_str()),
                ("high", starter)
            );
            assert_eq!(draft.overall.value(), Some("high"));
            assert_eq!(draft.completed_by, "Worker A");
            assert!(
                case::validate::assessment(draft).is_empty(),
                "ready to submit"
            );
        }
    }

    // A third device's late edit, arriving after that, is offered again.
    assessment::set_field(
        &mut c,
        "a",
        AssessmentField::CompletedBy,
        "Worker A, Worker C",
    )
    .unwrap();
    a.merge(&mut c).unwrap();
    let v = version(&a, "a");
    assert_eq!(content(&v), submitted);
    let late = v.late_edits.expect("C's change is kept");
    assert_eq!(late.changed, vec!["Who completed it"]);
    assert_eq!(late.content.completed_by, "Worker A, Worker C");
    assert_eq!(late.content.summary, "A's summary. B adds money owed.");
}

#[test]
fn a_late_rating_set_against_the_submitters_own_change_keeps_the_late_value_in_the_draft() {
    let mut a = complete_draft();
    let mut b = a.fork();
    // A changes the rating just before submitting; B, concurrently, sets another one.
    assessment::set_rating(&mut a, "a", "contact", "emerging", "Worker A", 4).unwrap();
    assessment::submit(&mut a, "a", 5).unwrap();
    assessment::set_rating(&mut b, "a", "contact", "high", "Worker B", 6).unwrap();
    a.merge(&mut b).unwrap();
    let v = version(&a, "a");
    assert_eq!(
        v.category("contact").unwrap().rating.value(),
        Some("emerging")
    );
    let late = v.late_edits.unwrap();
    assert!(late
        .content
        .category("contact")
        .unwrap()
        .rating
        .is_conflict());
    assessment::start_draft_from_late_edits(&mut a, "a", "d", 7, "Worker A").unwrap();
    let d = version(&a, "d");
    let r = d
        .category("contact")
        .unwrap()
        .rating
        .settled()
        .unwrap()
        .clone();
    // B's late value, its time, carried into the draft by A, who started it (a change may
    // only name its own author).
    assert_eq!(
        (r.value.as_str(), r.by.as_str(), r.at),
        ("high", "Worker A", 6)
    );
}

#[test]
fn versions_submitted_before_this_rule_are_frozen_too() {
    // The demo writes, submits and confirms in one change, as older builds could.
    let mut d = AutoCommit::new();
    demo::write(&mut d, 0, 1_790_000_000_000).unwrap();
    let mut d = AutoCommit::load(&d.save()).unwrap();
    let v = case::read(&d).assessments.remove(0);
    assert!(v.submitted.is_some() && v.late_edits.is_none());
    assert_eq!(
        v.summary,
        "Invented summary: concerns about going missing and new older associates."
    );
    // An app without the rule (or another tool) edits the submitted summary directly.
    let list = d.get(&ROOT, "assessments").unwrap().unwrap().1;
    let item = d.get(&list, 0).unwrap().unwrap().1;
    let (_, summary) = d.get(&item, "summary").unwrap().unwrap();
    assert_eq!(d.object_type(&summary).unwrap(), ObjType::Text);
    d.splice_text(&summary, 0, 0, "Edited later. ").unwrap();
    d.commit();
    let after = case::read(&d).assessments.remove(0);
    assert_eq!(after.summary, v.summary, "shown as submitted");
    assert!(after
        .late_edits
        .unwrap()
        .content
        .summary
        .starts_with("Edited later. Invented summary"));
}

#[test]
fn a_level_disputed_by_two_offline_submissions_is_settled_by_choosing_one_of_them() {
    let mut a = complete_draft();
    let mut b = a.fork();
    // Both phones, offline, set a different level on the same draft and submit it.
    assert!(assessment::set_overall(&mut a, "a", "high", "Worker A", 20).unwrap());
    assert!(assessment::submit(&mut a, "a", 21).unwrap());
    assert!(assessment::set_overall(&mut b, "a", "emerging", "Worker B", 22).unwrap());
    assert!(assessment::submit(&mut b, "a", 23).unwrap());
    a.merge(&mut b).unwrap();
    b.merge(&mut a).unwrap();
    let disputed = version(&a, "a");
    assert!(
        disputed.overall.is_conflict(),
        "both submitted levels are shown"
    );
    assert!(case::read(&a)
        .conflicts()
        .iter()
        .any(|d| d.label == "Overall risk level"));

    // Settling may only pick one of the values it was submitted with.
    assert!(!assessment::set_overall(&mut a, "a", "moderate", "Manager M", 30).unwrap());
    assert!(version(&a, "a").overall.is_conflict());
    assert!(assessment::set_overall(&mut a, "a", "high", "Manager M", 31).unwrap());
    a.commit();
    let settled = version(&a, "a");
    assert_eq!(settled.overall.value(), Some("high"));
    assert_eq!(settled.overall.settled().unwrap().by, "Manager M");
    assert!(case::read(&a).conflicts().is_empty());
    // Nothing else about the version moved, and nothing shows as a late edit.
    assert_eq!(content(&settled).0, content(&disputed).0);
    assert!(settled.late_edits.is_none());
    // Once settled there is nothing left to settle: no further writes.
    assert!(!assessment::set_overall(&mut a, "a", "emerging", "Manager M", 32).unwrap());

    // The other phone sees the settlement after syncing.
    b.merge(&mut a).unwrap();
    assert_eq!(version(&b, "a").overall.value(), Some("high"));
}
