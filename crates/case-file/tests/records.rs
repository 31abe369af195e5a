//! Issue 12's records: multi-agency meetings, concerns, the review of a submitted
//! assessment, and the vocabulary and profile values that combine or were retired (older
//! documents keep every value). Synthetic data only.

use fieldbook_case::assessment::{self, AssessmentField, Review};
use fieldbook_case::chronology::{self, EventKind};
use fieldbook_case::concerns::{self, Concern};
use fieldbook_case::meetings::{self, Attendee, Meeting};
use fieldbook_case::missing::Episode;
use fieldbook_case::plan::{self, Action};
use fieldbook_case::{
    self as case, critical, missing, notes, profile, validate, vocab, Note, Profile, ProfileField,
};
use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::{AutoCommit, ObjType, ScalarValue, ROOT};

mod support;

const H: i64 = 3_600_000;
const DAY: i64 = 24 * H;

fn new_case() -> AutoCommit {
    let mut d = support::new_case();
    d.commit();
    d
}

fn attendee(id: &str, name: &str, agency: &str) -> Attendee {
    Attendee {
        id: id.into(),
        name: name.into(),
        agency: agency.into(),
    }
}

fn strategy_meeting() -> Meeting {
    Meeting {
        id: "mt1".into(),
        at: 10 * DAY,
        kind: "strategy".into(),
        chair: "Team Manager T".into(),
        attendees: vec![
            attendee("a1", "Worker W", "Children's social care"),
            attendee("a2", "Officer O", "Police"),
        ],
        level: "high".into(),
        meeting_needed: "yes".into(),
        meeting_chair: "chair".into(),
        nrm: "refer".into(),
        icpc_considered: true,
        plan_heads: Vec::new(),
        next_review: "2027-02-01".into(),
        decisions: "Refer to the NRM. Disrupt the address on Example Road.".into(),
        by: "Worker W".into(),
        removal: None,
    }
}

#[test]
fn a_meeting_round_trips_and_a_save_writes_only_what_changed() {
    let mut d = new_case();
    let m = strategy_meeting();
    meetings::save(&mut d, &m).unwrap();
    meetings::save(
        &mut d,
        &Meeting {
            id: "mt0".into(),
            at: 2 * DAY,
            kind: "core-group".into(),
            chair: "Chair C".into(),
            ..Default::default()
        },
    )
    .unwrap();
    let loaded = AutoCommit::load(&d.save()).unwrap();
    let c = case::read(&loaded);
    assert_eq!(c.meetings.len(), 2);
    assert_eq!(c.meetings[0], m, "newest first, every field as saved");
    assert_eq!(c.meetings[1].id, "mt0");
    assert!(!c.meetings[0].plan_agreed());

    // Device B changes the decisions while device A changes the next review date: both kept.
    let mut a = d.fork();
    let mut b = d.fork();
    let mut on_a = case::read(&a).meetings[0].clone();
    on_a.next_review = "2027-03-01".into();
    meetings::save(&mut a, &on_a).unwrap();
    let mut on_b = case::read(&b).meetings[0].clone();
    on_b.decisions = format!("{} ICPC considered, not needed yet.", on_b.decisions);
    meetings::save(&mut b, &on_b).unwrap();
    a.merge(&mut b).unwrap();
    let merged = case::read(&a).meetings[0].clone();
    assert_eq!(merged.next_review, "2027-03-01");
    assert_eq!(merged.decisions, on_b.decisions);
    assert_eq!(merged.attendees, m.attendees);

    // Removal is marked: the meeting stays in the document, hidden.
    assert!(meetings::remove(&mut a, "mt1", "Worker W", 20 * DAY).unwrap());
    assert!(!meetings::remove(&mut a, "nope", "Worker W", 20 * DAY).unwrap());
    let gone = case::read(&a).meetings[0].clone();
    assert_eq!(
        gone.removal.as_ref().map(|r| r.by.as_str()),
        Some("Worker W")
    );
    assert_eq!(gone.decisions, on_b.decisions, "content kept");
}

#[test]
fn two_devices_adding_meetings_and_attendees_offline_keep_all_of_them() {
    let mut base = new_case();
    meetings::save(&mut base, &strategy_meeting()).unwrap();
    base.commit();
    let mut a = base.fork();
    let mut b = base.fork();

    let mut m = case::read(&a).meetings[0].clone();
    m.attendees
        .push(attendee("a3", "Nurse N", "School nursing"));
    meetings::save(&mut a, &m).unwrap();
    meetings::save(
        &mut a,
        &Meeting {
            id: "mt-a".into(),
            at: 12 * DAY,
            kind: "review".into(),
            chair: "Chair C".into(),
            ..Default::default()
        },
    )
    .unwrap();

    let mut m = case::read(&b).meetings[0].clone();
    m.attendees
        .push(attendee("a4", "Teacher T", "Example Academy"));
    meetings::save(&mut b, &m).unwrap();
    meetings::save(
        &mut b,
        &Meeting {
            id: "mt-b".into(),
            at: 11 * DAY,
            kind: "mace".into(),
            chair: "Panel chair P".into(),
            ..Default::default()
        },
    )
    .unwrap();

    a.merge(&mut b).unwrap();
    b.merge(&mut a).unwrap();
    let (ca, cb) = (case::read(&a), case::read(&b));
    assert_eq!(ca.meetings, cb.meetings, "both replicas agree");
    let ids: Vec<&str> = ca.meetings.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["mt-a", "mt-b", "mt1"]);
    let strategy = &ca.meetings[2];
    let mut names: Vec<&str> = strategy.attendees.iter().map(|x| x.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["Nurse N", "Officer O", "Teacher T", "Worker W"]);

    // Removing an attendee hides them; their name stays in the document.
    assert!(meetings::remove_attendee(&mut a, "mt1", "a2", "Worker W", 13 * DAY).unwrap());
    assert!(!meetings::remove_attendee(&mut a, "mt1", "nobody", "Worker W", 13 * DAY).unwrap());
    assert!(!meetings::remove_attendee(&mut a, "none", "a1", "Worker W", 13 * DAY).unwrap());
    let after = case::read(&a).meetings[2].clone();
    assert!(!after.attendees.iter().any(|x| x.id == "a2"));
    assert_eq!(after.attendees.len(), 3);
    // A save of the form as it was before the removal does not bring them back or drop
    // anyone else.
    meetings::save(&mut a, &after).unwrap();
    assert_eq!(case::read(&a).meetings[2].attendees, after.attendees);
}

#[test]
fn the_plan_as_agreed_reads_as_it_was_at_the_meeting_after_later_edits() {
    let mut d = new_case();
    plan::set_known(&mut d, "Older associates at the Example Road flat.").unwrap();
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
    d.commit();
    let agreed_plan = case::read(&d).plan;
    let mut m = strategy_meeting();
    m.plan_heads = meetings::heads_now(&d);
    assert!(!m.plan_heads.is_empty());
    meetings::save(&mut d, &m).unwrap();
    d.commit();

    // Later, the plan changes.
    plan::set_known(&mut d, "Associates have moved to a new address.").unwrap();
    plan::set_action(&mut d, "p1", plan::ActionField::Status, "done").unwrap();
    plan::add_action(
        &mut d,
        &Action {
            id: "p2".into(),
            group: "disruption".into(),
            text: "Closure order".into(),
            owner: "Police".into(),
            status: "not-started".into(),
            ..Default::default()
        },
    )
    .unwrap();
    d.commit();

    let loaded = AutoCommit::load(&d.save()).unwrap();
    let c = case::read(&loaded);
    let saved = &c.meetings[0];
    assert!(saved.plan_agreed());
    assert_eq!(saved.plan_heads, m.plan_heads);
    let then = meetings::plan_as_agreed(&loaded, saved).expect("plan as agreed");
    assert_eq!(then, agreed_plan);
    assert_eq!(then.actions.len(), 1);
    assert_eq!(then.actions[0].status, "in-progress");
    assert_ne!(c.plan, agreed_plan, "the live plan moved on");
    assert_eq!(c.plan.actions.len(), 2);

    // No plan agreed, or heads this document does not hold: nothing to show.
    assert_eq!(meetings::plan_as_agreed(&loaded, &strategy_meeting()), None);
    let mut stranger = strategy_meeting();
    stranger.plan_heads = vec!["00".repeat(32)];
    assert_eq!(meetings::plan_as_agreed(&loaded, &stranger), None);
    stranger.plan_heads = vec!["not a hash".into()];
    assert_eq!(meetings::plan_as_agreed(&loaded, &stranger), None);

    // Inside a transaction, the heads before it (as on the app's Automerge document).
    let mut am = fieldbook_sync::automerge::Automerge::load(&d.save()).unwrap();
    let expected = meetings::heads_now(&am);
    let mut tx = am.transaction();
    assert_eq!(meetings::heads_now(&tx), expected);
    tx.put(ROOT, "touched", true).unwrap();
    tx.commit();
    assert_ne!(meetings::heads_now(&am), expected);
}

/// Version `id` with every category rated Moderate and the overall `level`, submitted at
/// 03:00 when `submit`, else left a draft.
fn submitted(d: &mut AutoCommit, id: &str, level: &str, submit: bool) {
    assessment::start(d, id, H, None, "W").unwrap();
    for (c, _) in vocab::RISK_CATEGORIES {
        assessment::set_rating(d, id, c, "moderate", "W", 2 * H).unwrap();
        assessment::set_category_text(d, id, c, "Some information.").unwrap();
    }
    assessment::set_field(d, id, AssessmentField::Summary, "Summary.").unwrap();
    assessment::set_field(d, id, AssessmentField::CompletedBy, "W (social care)").unwrap();
    assessment::set_overall(d, id, level, "W", 2 * H).unwrap();
    if submit {
        assert!(assessment::submit(d, id, 3 * H).unwrap());
    }
    d.commit();
}

fn chair_review() -> Review {
    Review {
        by: "Chair C".into(),
        role: "chair".into(),
        at: 4 * H,
        level: "high".into(),
        meeting_needed: "yes".into(),
        meeting_chair: "chair".into(),
        note: "Agree: the associates are escalating.".into(),
    }
}

#[test]
fn a_review_is_recorded_on_a_submitted_version_only_and_leaves_its_content_frozen() {
    let mut d = new_case();
    submitted(&mut d, "v1", "moderate", true);
    submitted(&mut d, "draft", "moderate", false);
    let before = case::read(&d);
    let frozen = before.assessments.iter().find(|a| a.id == "v1").unwrap();
    assert_eq!(
        (frozen.review.clone(), frozen.confirmed.clone()),
        (None, None)
    );

    assert!(!assessment::review(&mut d, "draft", &chair_review()).unwrap());
    assert!(!assessment::review(&mut d, "nope", &chair_review()).unwrap());
    let draft_item = case::read(&d)
        .assessments
        .into_iter()
        .find(|a| a.id == "draft")
        .unwrap();
    assert_eq!(draft_item.review, None, "nothing written on a draft");

    assert!(assessment::review(&mut d, "v1", &chair_review()).unwrap());
    d.commit();
    let loaded = AutoCommit::load(&d.save()).unwrap();
    let after = case::read(&loaded);
    let v1 = after.assessments.iter().find(|a| a.id == "v1").unwrap();
    assert_eq!(v1.review, Some(chair_review()));
    assert_eq!(v1.confirmed, Some(("Chair C".to_owned(), 4 * H)));
    assert_eq!(v1.late_edits, None, "a review is not a late edit");
    // The content is exactly as submitted: the confirmed level is the review's, not an edit.
    let strip = |a: &case::Assessment| case::Assessment {
        review: None,
        confirmed: None,
        ..a.clone()
    };
    assert_eq!(strip(v1), strip(frozen));
    assert_eq!(v1.overall.value(), Some("moderate"));

    // The chronology shows the review as an assessment event.
    let events = chronology::build(&after);
    let review = events
        .iter()
        .find(|e| e.at == 4 * H && e.kind == EventKind::Assessment)
        .expect("review event");
    assert_eq!(review.title, "Reviewed by child protection chair: High");
    assert_eq!(review.detail, "Chair C");
}

#[test]
fn a_confirmation_recorded_before_reviews_still_reads_as_confirmed() {
    let mut d = new_case();
    submitted(&mut d, "v1", "emerging", true);
    assert!(assessment::confirm(&mut d, "v1", "Manager M", 5 * H).unwrap());
    let c = case::read(&d);
    assert_eq!(
        c.assessments[0].confirmed,
        Some(("Manager M".to_owned(), 5 * H))
    );
    assert_eq!(c.assessments[0].review, None);
    assert_eq!(assessment::reviewer_for("emerging"), "manager");
    assert_eq!(assessment::reviewer_for("high"), "chair");
}

#[test]
fn two_reviewers_offline_keep_both_notes() {
    let mut d = new_case();
    submitted(&mut d, "v1", "high", true);
    let mut a = d.fork();
    let mut b = d.fork();
    assessment::review(&mut a, "v1", &chair_review()).unwrap();
    let mut other = chair_review();
    other.by = "Chair D".into();
    other.at = 5 * H;
    other.note = "Panel to monitor monthly.".into();
    assessment::review(&mut b, "v1", &other).unwrap();
    a.merge(&mut b).unwrap();
    let r = case::read(&a).assessments[0].review.clone().unwrap();
    assert!(
        r.note.contains("Agree: the associates are escalating."),
        "{r:?}"
    );
    assert!(r.note.contains("Panel to monitor monthly."), "{r:?}");
    assert_eq!(r.level, "high");
}

/// Exactly what a schema-2 app wrote: one legal status, an education status and indicator
/// ids that have since been retired.
fn schema_2_document() -> AutoCommit {
    let mut d = AutoCommit::new();
    d.put(ROOT, "schema", 2).unwrap();
    let p = d.put_object(ROOT, "profile", ObjType::Map).unwrap();
    let name = d.put_object(&p, "name", ObjType::Text).unwrap();
    d.splice_text(&name, 0, 0, "Old Person").unwrap();
    d.put(&p, "legalStatus", "la").unwrap();
    d.put(&p, "education", "excluded").unwrap();
    let list = d.put_object(ROOT, "notes", ObjType::List).unwrap();
    let n = d.insert_object(&list, 0, ObjType::Map).unwrap();
    d.put(&n, "id", "old").unwrap();
    d.put(&n, "at", ScalarValue::Timestamp(5)).unwrap();
    d.put(&n, "reachable", true).unwrap();
    let ind = d.put_object(&n, "indicators", ObjType::Map).unwrap();
    d.put(&ind, "secretive", true).unwrap();
    d.put(&ind, "phones", true).unwrap();
    for list in ["assessments", "missing", "outcomes"] {
        d.put_object(ROOT, list, ObjType::List).unwrap();
    }
    d.commit();
    d
}

#[test]
fn a_schema_2_document_keeps_its_values_through_migration_and_new_ticks() {
    let mut d = schema_2_document();
    let c = case::read(&d);
    assert_eq!(c.schema, 2);
    assert!(case::migrate(&mut d).unwrap());
    assert!(!case::migrate(&mut d).unwrap(), "idempotent");
    let c = case::read(&d);
    assert_eq!(c.schema, case::SCHEMA);
    assert_eq!(c.profile.legal_status, "la");
    assert_eq!(c.profile.legal_statuses, ["la"]);
    assert_eq!(c.profile.education, "excluded");
    assert_eq!(vocab::education_label(&c.profile.education), "Excluded");
    assert_eq!(c.notes[0].indicators, ["phones", "secretive"]);
    assert_eq!(
        vocab::indicator_label("secretive"),
        "Secretive, withdrawn, new older friends, controlling relationships"
    );
    assert_eq!(
        c.notes[0].reachable_kind, "",
        "older notes only say it was one"
    );
    assert!(c.meetings.is_empty() && c.concerns.is_empty());

    // Ticking a care order keeps looked after: the old status is carried into the ticks.
    profile::set_legal_status(&mut d, "care-order", true).unwrap();
    let p = case::read(&d).profile;
    assert_eq!(p.legal_statuses, ["la", "care-order"]);
    assert_eq!(
        p.legal_status, "",
        "the old single value now lives among the ticks"
    );
    // Unticking looked after works (it would not if the old value were still read).
    profile::set_legal_status(&mut d, "la", false).unwrap();
    assert_eq!(case::read(&d).profile.legal_statuses, ["care-order"]);
    let d = AutoCommit::load(&d.save()).unwrap();
    assert_eq!(case::read(&d).profile.legal_statuses, ["care-order"]);

    // New records go into the migrated document.
    let mut d = d;
    concerns::add(
        &mut d,
        &Concern {
            id: "c1".into(),
            at: 6,
            what: "Seen with older males.".into(),
            by: "W".into(),
            types: Vec::new(),
            removal: None,
        },
    )
    .unwrap();
    meetings::save(&mut d, &strategy_meeting()).unwrap();
    let c = case::read(&d);
    assert_eq!((c.concerns.len(), c.meetings.len()), (1, 1));
}

#[test]
fn legal_statuses_set_on_two_devices_at_once_both_apply() {
    let mut base = schema_2_document();
    case::migrate(&mut base).unwrap();
    base.commit();
    let mut a = base.fork();
    let mut b = base.fork();
    profile::set_legal_status(&mut a, "care-order", true).unwrap();
    profile::set_legal_status(&mut b, "yjs", true).unwrap();
    a.merge(&mut b).unwrap();
    assert_eq!(
        case::read(&a).profile.legal_statuses,
        ["la", "care-order", "yjs"]
    );
    // An old "none" is not carried into a profile being given a status, but is kept
    // (and readable) until then.
    let mut d = new_case();
    profile::set_field(&mut d, ProfileField::LegalStatus, "none").unwrap();
    assert_eq!(case::read(&d).profile.legal_statuses, ["none"]);
    assert_eq!(vocab::legal_status_label("none"), "None");
    profile::set_legal_status(&mut d, "cin", true).unwrap();
    assert_eq!(case::read(&d).profile.legal_statuses, ["cin"]);
}

#[test]
fn new_profile_fields_note_kinds_and_late_reasons_round_trip() {
    let mut d = AutoCommit::new();
    let p = Profile {
        name: "Test Person".into(),
        legal_statuses: vec!["cp".into(), "yjs".into()],
        transition_worker: "Worker X (leaving care)".into(),
        transition_allocated: "2027-05-01".into(),
        external_level: "Very high".into(),
        external_source: "Another area's exploitation tool".into(),
        ..Default::default()
    };
    case::create(&mut d, &p).unwrap();
    notes::add(
        &mut d,
        &Note {
            id: "n1".into(),
            at: 10,
            kind: case::CONTACT_TYPES[6].into(),
            reachable_kind: "arrest".into(),
            by: "W".into(),
            ..Default::default()
        },
    )
    .unwrap();
    notes::add(
        &mut d,
        &Note {
            id: "n2".into(),
            at: 5,
            kind: case::CONTACT_TYPES[0].into(),
            by: "W".into(),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(notes::set_reachable_kind(&mut d, "n2", "hospital").unwrap());
    assert!(!notes::set_reachable_kind(&mut d, "nope", "hospital").unwrap());
    missing::save(
        &mut d,
        &Episode {
            id: "m1".into(),
            start: 100 * H,
            end: Some(110 * H),
            from: "care".into(),
            rhi: "completed".into(),
            rhi_completed: Some(200 * H),
            rhi_late_reason: "other".into(),
            rhi_late_text: "Placement moved out of area.".into(),
            ..Default::default()
        },
    )
    .unwrap();
    let d = AutoCommit::load(&d.save()).unwrap();
    let c = case::read(&d);
    assert_eq!(c.profile.legal_statuses, ["cp", "yjs"]);
    for f in [
        ProfileField::TransitionWorker,
        ProfileField::TransitionAllocated,
        ProfileField::ExternalLevel,
        ProfileField::ExternalSource,
    ] {
        assert_eq!(c.profile.get(f), p.get(f), "{f:?}");
    }
    assert_eq!(
        (c.notes[0].reachable, c.notes[0].reachable_kind.as_str()),
        (true, "arrest")
    );
    assert_eq!(
        (c.notes[1].reachable, c.notes[1].reachable_kind.as_str()),
        (true, "hospital"),
        "a kind makes it a reachable moment"
    );
    let e = &c.missing[0];
    assert_eq!(e.rhi_late_reason, "other");
    assert_eq!(e.rhi_late_text, "Placement moved out of area.");
    let events = chronology::build(&c);
    assert!(events
        .iter()
        .any(|e| e.title == "Custody visit (reachable moment: Arrest or time in custody)"));
}

#[test]
fn concerns_are_added_edited_removed_and_shown_in_the_chronology() {
    let mut d = new_case();
    for (id, at) in [("c1", DAY), ("c2", 3 * DAY)] {
        concerns::add(
            &mut d,
            &Concern {
                id: id.into(),
                at,
                what: String::new(),
                by: "W".into(),
                types: Vec::new(),
                removal: None,
            },
        )
        .unwrap();
    }
    assert!(concerns::set_what(&mut d, "c1", "Found with cash and two phones.").unwrap());
    assert!(!concerns::set_what(&mut d, "nope", "x").unwrap());
    let c = case::read(&d);
    let ids: Vec<&str> = c.concerns.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["c2", "c1"], "newest first");
    assert_eq!(c.concerns[1].what, "Found with cash and two phones.");
    assert!(concerns::remove(&mut d, "c2", "W", 4 * DAY).unwrap());
    let c = case::read(&d);
    assert_eq!(c.concerns.len(), 2, "a removal is marked, not erased");
    let events = chronology::filter(&chronology::build(&c), &[EventKind::Concern]);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].title, "Concerns identified");
    assert_eq!(events[0].detail, "Found with cash and two phones.");
    assert_eq!(EventKind::Concern.id(), "concern");
    assert!(EventKind::ALL.contains(&EventKind::Meeting));
}

#[test]
fn meetings_appear_in_the_chronology_with_their_type_chair_and_level() {
    let mut d = new_case();
    meetings::save(&mut d, &strategy_meeting()).unwrap();
    let c = case::read(&d);
    let events = chronology::filter(&chronology::build(&c), &[EventKind::Meeting]);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].title, "Strategy discussion");
    assert_eq!(
        events[0].detail,
        "Chaired by Team Manager T · Level agreed: High"
    );
    assert_eq!(EventKind::Meeting.label(), "Meeting");
}

fn fields(errors: Vec<validate::FieldError>) -> Vec<String> {
    errors.into_iter().map(|e| e.field).collect()
}

#[test]
fn meeting_validation() {
    let now = 100 * DAY;
    let mut m = Meeting::default();
    assert_eq!(
        fields(validate::meeting(&m, now)),
        ["meeting-date", "meeting-kind", "meeting-chair"]
    );
    m = Meeting {
        at: now + 2 * H,
        kind: "cce".into(),
        chair: "  ".into(),
        ..m
    };
    let errors = validate::meeting(&m, now);
    assert_eq!(
        errors[0].message,
        "The date of the meeting must be today or in the past"
    );
    assert_eq!(fields(errors), ["meeting-date", "meeting-chair"]);
    m.at = now + H / 2;
    m.chair = "Chair C".into();
    assert!(
        validate::meeting(&m, now).is_empty(),
        "clocks drift a little"
    );
    m.meeting_needed = "yes".into();
    assert_eq!(fields(validate::meeting(&m, now)), ["meeting-chaired-by"]);
    m.meeting_chair = "manager".into();
    assert!(validate::meeting(&m, now).is_empty());
    m.meeting_needed = "no".into();
    m.meeting_chair.clear();
    m.next_review = "2027-02-30".into();
    assert_eq!(fields(validate::meeting(&m, now)), ["meeting-next-review"]);
}

#[test]
fn concern_and_review_validation() {
    let now = 100 * DAY;
    let mut c = Concern::default();
    assert_eq!(
        fields(validate::concern(&c, now)),
        ["concern-date", "concern-what"]
    );
    c.at = now;
    c.what = "Seen with older males.".into();
    assert!(validate::concern(&c, now).is_empty());
    c.at = now + 3 * H;
    assert_eq!(fields(validate::concern(&c, now)), ["concern-date"]);

    // A manager reviewing Emerging confirms the level only.
    let mut r = Review {
        role: "manager".into(),
        ..Default::default()
    };
    let errors = validate::review(&r, "emerging");
    assert_eq!(errors[0].message, "Select the overall risk level");
    assert_eq!(fields(errors), ["review-level"]);
    r.level = "emerging".into();
    assert!(validate::review(&r, "emerging").is_empty());
    // A chair also decides whether a meeting is needed, and who chairs it.
    r.role = "chair".into();
    r.level = "high".into();
    assert_eq!(
        fields(validate::review(&r, "high")),
        ["review-meeting-needed"]
    );
    r.meeting_needed = "yes".into();
    assert_eq!(
        fields(validate::review(&r, "high")),
        ["review-meeting-chair"]
    );
    r.meeting_chair = "chair".into();
    assert!(validate::review(&r, "high").is_empty());
    r.meeting_needed = "no".into();
    r.meeting_chair.clear();
    assert!(validate::review(&r, "high").is_empty());
    // A Moderate version needs the chair's decisions whoever records the review.
    let manager = Review {
        role: "manager".into(),
        level: "moderate".into(),
        ..Default::default()
    };
    assert_eq!(
        fields(validate::review(&manager, "moderate")),
        ["review-meeting-needed"]
    );
}

#[test]
fn a_late_return_home_interview_needs_its_reason() {
    let due = 100 * H;
    let mut e = Episode {
        rhi: "completed".into(),
        rhi_completed: Some(due),
        ..Default::default()
    };
    assert!(
        validate::rhi_late(&e, due).is_empty(),
        "on time, to the minute"
    );
    e.rhi_completed = Some(due + 1);
    let errors = validate::rhi_late(&e, due);
    assert_eq!(
        errors[0].message,
        "Select why the return home interview was late"
    );
    assert_eq!(fields(errors), ["rhi-late-reason"]);
    e.rhi_late_reason = "not-a-reason".into();
    assert_eq!(fields(validate::rhi_late(&e, due)), ["rhi-late-reason"]);
    e.rhi_late_reason = "other".into();
    assert_eq!(fields(validate::rhi_late(&e, due)), ["rhi-late-text"]);
    e.rhi_late_text = "Placement moved.".into();
    assert!(validate::rhi_late(&e, due).is_empty());
    e.rhi_late_reason = "missing-again".into();
    e.rhi_late_text.clear();
    assert!(validate::rhi_late(&e, due).is_empty());
    // Not completed (or still pending) is validated elsewhere.
    e.rhi = "pending".into();
    e.rhi_late_reason.clear();
    assert!(validate::rhi_late(&e, due).is_empty());
}

fn rated(ratings: &[(&str, &str)]) -> case::Assessment {
    let mut d = new_case();
    assessment::start(&mut d, "a", 1, None, "W").unwrap();
    for (c, _) in vocab::RISK_CATEGORIES {
        assessment::set_rating(&mut d, "a", c, "strength", "W", 1).unwrap();
    }
    for (c, r) in ratings {
        assessment::set_rating(&mut d, "a", c, r, "W", 2).unwrap();
    }
    case::read(&d).assessments.remove(0)
}

#[test]
fn ratings_suggest_exploitation_only_when_missing_coercion_contact_and_offending_are_all_raised() {
    let four = ["missing", "coercion", "contact", "offending"];
    assert!(!rated(&[]).suggests_cce());
    assert!(
        !rated(&[
            ("education", "high"),
            ("health", "high"),
            ("family", "high")
        ])
        .suggests_cce(),
        "High in education, health and family alone never counts"
    );
    assert!(
        rated(&four.map(|c| (c, "moderate"))).suggests_cce(),
        "all four at Moderate"
    );
    assert!(rated(&[
        ("missing", "high"),
        ("coercion", "moderate"),
        ("contact", "high"),
        ("offending", "moderate"),
    ])
    .suggests_cce());
    for left_out in four {
        let three: Vec<(&str, &str)> = four
            .iter()
            .filter(|c| **c != left_out)
            .map(|c| (*c, "high"))
            .chain([
                ("education", "high"),
                ("health", "high"),
                ("family", "high"),
            ])
            .collect();
        assert!(
            !rated(&three).suggests_cce(),
            "three of the four, without {left_out}"
        );
        let emerging: Vec<(&str, &str)> =
            three.into_iter().chain([(left_out, "emerging")]).collect();
        assert!(!rated(&emerging).suggests_cce(), "{left_out} only Emerging");
    }
    // A rating in dispute does not count until a person settles it.
    let mut a = rated(&four.map(|c| (c, "high")));
    let disputed = critical::Critical {
        candidates: vec![
            critical::Candidate {
                value: "high".into(),
                by: "A".into(),
                at: 2,
            },
            critical::Candidate {
                value: "strength".into(),
                by: "B".into(),
                at: 1,
            },
        ],
    };
    a.categories
        .iter_mut()
        .find(|c| c.id == "coercion")
        .unwrap()
        .rating = disputed;
    assert!(!a.suggests_cce());
}

#[test]
fn the_indicator_list_is_the_guidance_list_and_old_ids_stay_readable() {
    let ids: Vec<&str> = vocab::INDICATORS.iter().map(|(i, _)| *i).collect();
    let retired: Vec<&str> = vocab::RETIRED_INDICATORS.iter().map(|(i, _)| *i).collect();
    assert_eq!(ids.len(), 28, "each item of the guidance on its own");
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "ids are unique");
    // Every id the older checklist offered is either still offered or retired: none lost.
    for old in [
        "missing",
        "money-gifts",
        "phones",
        "hurt",
        "carrying",
        "keys",
        "secretive",
        "cars",
        "recruiting",
        "fear",
        "school",
        "substances",
        "self-harm",
        "aggression",
        "debt",
        "violence",
    ] {
        assert!(
            ids.contains(&old) != retired.contains(&old),
            "{old}: offered or retired, not both"
        );
        assert_ne!(vocab::indicator_label(old), old, "{old} has a label");
    }
    assert_eq!(vocab::indicator_label("never-existed"), "never-existed");

    let education: Vec<&str> = vocab::EDUCATION.iter().map(|(i, _)| *i).collect();
    assert_eq!(
        education,
        [
            "in-education",
            "not-in-education",
            "not-attending",
            "at-risk-exclusion",
            "ap",
            "neet"
        ]
    );
    let legal: Vec<&str> = vocab::LEGAL_STATUS.iter().map(|(i, _)| *i).collect();
    assert_eq!(legal, ["cin", "cp", "la", "care-order", "yjs"]);
    assert_eq!(vocab::legal_status_label("yjs"), "Known to youth justice");
}
