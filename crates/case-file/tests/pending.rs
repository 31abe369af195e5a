//! "What is waiting to send" is counted in records a worker made, not Automerge changes.

use fieldbook_case::pending::{waiting, Kind};
use fieldbook_case::plan::{self, Action};
use fieldbook_case::{self as case, caseload, missing, notes, profile, Note, NoteField, Profile};
use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::{AutoCommit, Automerge, ChangeHash, ROOT};

fn synced_case() -> (AutoCommit, Vec<ChangeHash>) {
    let mut d = AutoCommit::new();
    let p = Profile {
        name: "Test Person".into(),
        known_as: "TP".into(),
        ..Default::default()
    };
    case::create(&mut d, &p).unwrap();
    notes::add(&mut d, &note("n0")).unwrap();
    notes::set_field(&mut d, "n0", NoteField::Text, "An earlier visit.").unwrap();
    d.commit();
    let heads = d.get_heads();
    (d, heads)
}

fn note(id: &str) -> Note {
    Note {
        id: id.into(),
        at: 1_700_000_000_000,
        kind: case::CONTACT_TYPES[0].into(),
        by: "Test Worker".into(),
        ..Default::default()
    }
}

/// One change per keystroke, as the note form makes them.
fn type_into(d: &mut AutoCommit, id: &str, text: &str) -> usize {
    let mut typed = String::new();
    for ch in text.chars() {
        typed.push(ch);
        notes::set_field(d, id, NoteField::Text, &typed).unwrap();
        d.commit();
    }
    text.chars().count()
}

fn am(d: &mut AutoCommit) -> Automerge {
    d.document().clone()
}

#[test]
fn a_short_note_typed_key_by_key_is_one_note_not_a_hundred_changes() {
    let (mut d, server) = synced_case();
    notes::add(&mut d, &note("n1")).unwrap();
    d.commit();
    let keys = type_into(
        &mut d,
        "n1",
        "Met at the park after school. Talked about college and football; seemed tired but \
         laughed a lot. Agreed to meet again on Tuesday.",
    );
    let doc = am(&mut d);
    assert!(doc.get_changes(&server).len() > keys, "one change per key");
    let w = waiting(&doc, &server);
    assert_eq!(w.count(Kind::Note), 1);
    assert_eq!(w.describe().as_deref(), Some("1 note"));
}

#[test]
fn each_kind_of_record_is_counted_once_however_often_it_was_edited() {
    let (mut d, server) = synced_case();
    // Two new notes and an edit to the synced one: three notes.
    notes::add(&mut d, &note("n1")).unwrap();
    notes::add(&mut d, &note("n2")).unwrap();
    type_into(&mut d, "n1", "First.");
    type_into(&mut d, "n0", "An earlier visit, corrected.");
    // The safety plan twice (text and a new action): one plan.
    plan::set_known(&mut d, "Stays with an aunt at weekends.").unwrap();
    plan::add_action(
        &mut d,
        &Action {
            id: "a1".into(),
            group: "protective".into(),
            text: "Call the school".into(),
            owner: "Test Worker".into(),
            status: "open".into(),
            ..Default::default()
        },
    )
    .unwrap();
    // A missing episode, a profile field, a hazard label.
    missing::save(
        &mut d,
        &missing::Episode {
            id: "m1".into(),
            start: 1_700_000_000_000,
            ..Default::default()
        },
    )
    .unwrap();
    profile::set_field(&mut d, case::ProfileField::KnownAs, "T").unwrap();
    profile::set_hazard(&mut d, "not-alone", true, "Test Worker", 5).unwrap();
    d.commit();
    let w = waiting(&am(&mut d), &server);
    assert_eq!(w.count(Kind::Note), 3, "{w:?}");
    assert_eq!(w.count(Kind::SafetyPlan), 1, "{w:?}");
    assert_eq!(w.count(Kind::MissingEpisode), 1, "{w:?}");
    assert_eq!(w.count(Kind::Profile), 1, "{w:?}");
    assert_eq!(w.count(Kind::HazardLabel), 1, "{w:?}");
    assert_eq!(w.count(Kind::Other), 0, "{w:?}");
    assert_eq!(
        w.describe().as_deref(),
        Some("3 notes, 1 missing episode, 1 safety plan, 1 profile and 1 hazard label")
    );
}

#[test]
fn nothing_waits_when_the_server_has_everything_and_a_new_case_is_one_case() {
    let (mut d, heads) = synced_case();
    assert!(waiting(&am(&mut d), &heads).is_empty());
    // The server's heads in another order are the same heads.
    let mut reversed = heads.clone();
    reversed.reverse();
    assert!(waiting(&am(&mut d), &reversed).is_empty());
    let w = waiting(&am(&mut d), &[]);
    assert_eq!(w.count(Kind::NewCase), 1);
    assert_eq!(w.count(Kind::Note), 0, "its notes travel with it");
    assert_eq!(w.describe().as_deref(), Some("1 new case"));
}

#[test]
fn only_what_the_server_lacks_counts_after_a_partial_sync() {
    let (mut d, _) = synced_case();
    notes::add(&mut d, &note("n1")).unwrap();
    type_into(&mut d, "n1", "Sent before the signal went.");
    let server = d.get_heads();
    notes::add(&mut d, &note("n2")).unwrap();
    type_into(&mut d, "n2", "Written after.");
    let w = waiting(&am(&mut d), &server);
    assert_eq!(w.count(Kind::Note), 1);
}

#[test]
fn concurrent_server_history_does_not_count_as_ours() {
    // The server has a colleague's note we have merged; ours is the only thing it lacks.
    let (mut mine, base) = synced_case();
    let mut theirs = mine.fork();
    notes::add(&mut theirs, &note("colleague")).unwrap();
    type_into(&mut theirs, "colleague", "Their visit.");
    notes::add(&mut mine, &note("mine")).unwrap();
    type_into(&mut mine, "mine", "My visit.");
    mine.merge(&mut theirs).unwrap();
    let server = theirs.get_heads();
    assert_ne!(server, base);
    let w = waiting(&am(&mut mine), &server);
    assert_eq!(w.count(Kind::Note), 1, "{w:?}");
}

#[test]
fn the_caseload_index_and_unknown_fields_are_named_plainly() {
    let mut index = AutoCommit::new();
    caseload::init(&mut index).unwrap();
    index.commit();
    let synced = index.get_heads();
    caseload::add(&mut index, &fieldbook_sync::DocumentId::random(), 1).unwrap();
    index.commit();
    let w = waiting(&am(&mut index), &synced);
    assert_eq!(w.describe().as_deref(), Some("an update to the case list"));

    let (mut d, server) = synced_case();
    d.put(ROOT, "fromANewerApp", "kept").unwrap();
    d.commit();
    let w = waiting(&am(&mut d), &server);
    assert_eq!(w.describe().as_deref(), Some("other changes"));
}

#[test]
fn a_schema_number_alone_is_not_a_record() {
    let (mut d, server) = synced_case();
    d.put(ROOT, "schema", case::SCHEMA + 1).unwrap();
    d.commit();
    assert!(waiting(&am(&mut d), &server).is_empty());
}

#[test]
fn an_older_case_is_upgraded_by_its_first_real_change_and_counts_as_that_record() {
    // Schema 1: only a profile and notes, no schema number.
    let mut d = AutoCommit::new();
    let p = d
        .put_object(ROOT, "profile", fieldbook_sync::automerge::ObjType::Map)
        .unwrap();
    d.put(&p, "name", "Test Person Older").unwrap();
    d.put_object(ROOT, "notes", fieldbook_sync::automerge::ObjType::List)
        .unwrap();
    d.commit();
    let server = d.get_heads();
    assert_eq!(case::read(&am(&mut d)).schema, 1);
    // What the app's `Driver::change` does: the upgrade rides along with the edit.
    assert!(case::migrate(&mut d).unwrap());
    notes::add(&mut d, &note("n1")).unwrap();
    d.commit();
    let doc = am(&mut d);
    assert_eq!(case::read(&doc).schema, case::SCHEMA);
    assert_eq!(waiting(&doc, &server).describe().as_deref(), Some("1 note"));
}
