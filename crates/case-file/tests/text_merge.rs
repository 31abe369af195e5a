//! Every free-text field of every record merges, whoever creates it first (issue 8).
//!
//! Two phones offline both type into a field the document did not have yet: each creates
//! its own text object at the same key. These tests are generated from
//! `schema::TEXT_FIELDS`, not from a hand list of fields: every listed field is made absent
//! (as in an older document), written differently on two replicas through the record's
//! public writer, merged, and read back through the public reader; then the merged value is
//! edited. A completeness test walks fully populated cases and fails on any text object
//! whose field is not listed, so a field added later must be listed (and so is tested).

use fieldbook_case::network::{self, Link, LinkKind};
use fieldbook_case::plan::{self, Action};
use fieldbook_case::schema::{self, Record, Texts, TEXT_FIELDS};
use fieldbook_case::{
    self as case, assessment, concerns, demo, meetings, missing, moments, notes, nrm, outcomes,
    profile, stepdown, vocab, Note, Outcome,
};
use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::{AutoCommit, ObjId, ObjType, Prop, ReadDoc, Value, ROOT};

mod support;

/// A case with one record of every kind, written by the public writers.
fn every_record() -> AutoCommit {
    let mut d = support::new_case();
    notes::add(
        &mut d,
        &Note {
            id: "n".into(),
            at: 1,
            kind: case::CONTACT_TYPES[0].into(),
            ..Default::default()
        },
    )
    .unwrap();
    assessment::start(&mut d, "a", 1, None, "W").unwrap();
    // A submitted version with its review (the draft "a" stays a draft).
    assessment::start(&mut d, "r", 1, None, "W").unwrap();
    assert!(assessment::submit(&mut d, "r", 2).unwrap());
    assert!(assessment::review(
        &mut d,
        "r",
        &assessment::Review {
            by: "Chair C".into(),
            role: "chair".into(),
            at: 3,
            level: "moderate".into(),
            meeting_needed: "no".into(),
            ..Default::default()
        }
    )
    .unwrap());
    meetings::save(
        &mut d,
        &meetings::Meeting {
            id: "mt".into(),
            at: 1,
            kind: "strategy".into(),
            attendees: vec![meetings::Attendee {
                id: "at".into(),
                ..Default::default()
            }],
            ..Default::default()
        },
    )
    .unwrap();
    concerns::add(
        &mut d,
        &concerns::Concern {
            id: "c".into(),
            at: 1,
            ..Default::default()
        },
    )
    .unwrap();
    moments::add(
        &mut d,
        &moments::Moment {
            id: "rm".into(),
            at: 1,
            kind: "hospital".into(),
            ..Default::default()
        },
    )
    .unwrap();
    plan::add_action(
        &mut d,
        &Action {
            id: "p".into(),
            group: "family".into(),
            status: "not-started".into(),
            ..Default::default()
        },
    )
    .unwrap();
    missing::save(
        &mut d,
        &missing::Episode {
            id: "m".into(),
            start: 1,
            from: "home".into(),
            ..Default::default()
        },
    )
    .unwrap();
    nrm::set_status(
        &mut d,
        &nrm::Step {
            id: "s".into(),
            at: 1,
            status: "referred".into(),
            ..Default::default()
        },
    )
    .unwrap();
    outcomes::add(
        &mut d,
        &Outcome {
            id: "o".into(),
            at: 1,
            overall: "stable".into(),
            ..Default::default()
        },
    )
    .unwrap();
    stepdown::add(
        &mut d,
        &stepdown::StepDown {
            id: "sd".into(),
            at: 1,
            what: "close".into(),
            ..Default::default()
        },
    )
    .unwrap();
    for (kind, id) in [(LinkKind::Person, "pp"), (LinkKind::Place, "pl")] {
        network::add(
            &mut d,
            kind,
            &Link {
                id: id.into(),
                link: "associate".into(),
                rating: "risk".into(),
                ..Default::default()
            },
        )
        .unwrap();
    }
    d.commit();
    d
}

/// The instances of a record the test writes to: each category, or the one record.
fn instances(record: Record) -> Vec<&'static str> {
    match record {
        Record::Category => vocab::RISK_CATEGORIES.iter().map(|(c, _)| *c).collect(),
        _ => vec![""],
    }
}

/// Write through the public writer the app uses for this record (false: refused).
fn write(d: &mut AutoCommit, record: Record, inst: &str, key: &str, value: &str) -> bool {
    match record {
        Record::Profile => profile::set_text(d, key, value).unwrap(),
        Record::Note => notes::set_text(d, "n", key, value).unwrap(),
        Record::Assessment => assessment::set_text(d, "a", key, value).unwrap(),
        Record::Category => {
            assert_eq!(
                key, "text",
                "a new category text field needs its writer here"
            );
            assessment::set_category_text(d, "a", inst, value).unwrap()
        }
        Record::Plan => plan::set_text(d, key, value).unwrap(),
        Record::Action => plan::set_action_text(d, "p", key, value).unwrap(),
        Record::Episode => {
            // The episode form saves the whole episode as the person left it.
            let mut e = case::read(d).missing.remove(0);
            *e.text_mut(key).expect("episode field") = value.to_owned();
            missing::save(d, &e).unwrap();
            true
        }
        Record::NrmStep => nrm::set_text(d, "s", key, value).unwrap(),
        Record::Outcome => outcomes::set_text(d, "o", key, value).unwrap(),
        Record::Person => network::set_text(d, LinkKind::Person, "pp", key, value).unwrap(),
        Record::Place => network::set_text(d, LinkKind::Place, "pl", key, value).unwrap(),
        Record::Meeting => {
            // The meeting form saves the whole meeting as the person left it.
            let mut m = case::read(d).meetings.remove(0);
            *m.text_mut(key).expect("meeting field") = value.to_owned();
            meetings::save(d, &m).unwrap();
            true
        }
        Record::Attendee => {
            let mut m = case::read(d).meetings.remove(0);
            *m.attendees[0].text_mut(key).expect("attendee field") = value.to_owned();
            meetings::save(d, &m).unwrap();
            true
        }
        Record::Concern => {
            assert_eq!(
                key, "what",
                "a new concern text field needs its writer here"
            );
            concerns::set_what(d, "c", value).unwrap()
        }
        Record::Moment => {
            assert_eq!(key, "what", "a new moment text field needs its writer here");
            moments::set_what(d, "rm", value).unwrap()
        }
        Record::Review => {
            let mut r = version(&case::read(d), "r")
                .review
                .clone()
                .expect("reviewed");
            *r.text_mut(key).expect("review field") = value.to_owned();
            assessment::review(d, "r", &r).unwrap()
        }
        Record::StepDown => stepdown::set_text(d, "sd", key, value).unwrap(),
        Record::Nrm => {
            // The NRM screen saves the tracker as the person left it.
            let c = case::read(d);
            let mut t = c.nrm.tracker();
            *t.text_mut(key).expect("tracker field") = value.to_owned();
            nrm::save(d, &c.nrm, &t, "W", 2, &mut || "new-step".to_owned()).unwrap();
            true
        }
    }
}

fn version<'c>(c: &'c case::Case, id: &str) -> &'c case::Assessment {
    c.assessments
        .iter()
        .find(|a| a.id == id)
        .unwrap_or_else(|| panic!("no version {id}"))
}

/// Read through the public reader the app uses for this record.
fn read(d: &AutoCommit, record: Record, inst: &str, key: &str) -> String {
    let c = case::read(d);
    let value = match record {
        Record::Profile => c.profile.text(key).map(str::to_owned),
        Record::Note => c.notes[0].text(key).map(str::to_owned),
        Record::Assessment => version(&c, "a").text(key).map(str::to_owned),
        Record::Category => version(&c, "a")
            .category(inst)
            .and_then(|x| x.text(key))
            .map(str::to_owned),
        Record::Plan => c.plan.text(key).map(str::to_owned),
        Record::Action => c.plan.actions[0].text(key).map(str::to_owned),
        Record::Episode => c.missing[0].text(key).map(str::to_owned),
        Record::NrmStep => c.nrm.history[0].text(key).map(str::to_owned),
        Record::Outcome => c.outcomes[0].text(key).map(str::to_owned),
        Record::Person => network::read(d, LinkKind::Person)[0]
            .text(key)
            .map(str::to_owned),
        Record::Place => network::read(d, LinkKind::Place)[0]
            .text(key)
            .map(str::to_owned),
        Record::Meeting => c.meetings[0].text(key).map(str::to_owned),
        Record::Attendee => c.meetings[0].attendees[0].text(key).map(str::to_owned),
        Record::Concern => c.concerns[0].text(key).map(str::to_owned),
        Record::Moment => c.moments[0].text(key).map(str::to_owned),
        Record::Review => version(&c, "r")
            .review
            .as_ref()
            .and_then(|r| r.text(key))
            .map(str::to_owned),
        Record::StepDown => c.step_downs[0].text(key).map(str::to_owned),
        Record::Nrm => c.nrm.text(key).map(str::to_owned),
    };
    value.unwrap_or_else(|| panic!("{record:?} has no readable field {key}"))
}

/// Every value in the document with its path from the root, conflicting values included.
fn walk(d: &AutoCommit) -> Vec<(Vec<Prop>, Value<'static>, ObjId, ObjId)> {
    fn visit(
        d: &AutoCommit,
        obj: &ObjId,
        path: &mut Vec<Prop>,
        out: &mut Vec<(Vec<Prop>, Value<'static>, ObjId, ObjId)>,
    ) {
        let props: Vec<Prop> = match d.object_type(obj) {
            Ok(ObjType::Map) | Ok(ObjType::Table) => d.keys(obj).map(Prop::Map).collect(),
            Ok(ObjType::List) => (0..d.length(obj)).map(Prop::Seq).collect(),
            _ => return,
        };
        for p in props {
            for (v, id) in d.get_all(obj, p.clone()).unwrap() {
                path.push(p.clone());
                out.push((
                    path.clone(),
                    v.clone().into_owned(),
                    obj.clone(),
                    id.clone(),
                ));
                if let Value::Object(_) = v {
                    visit(d, &id, path, out);
                }
                path.pop();
            }
        }
    }
    let mut out = Vec::new();
    visit(d, &ROOT, &mut Vec::new(), &mut out);
    out
}

/// Remove `key` from every object of `record`: the field is absent, as in a document
/// written before the field existed.
fn make_absent(d: &mut AutoCommit, record: Record, key: &str) {
    let parents: Vec<ObjId> = walk(d)
        .into_iter()
        .filter(|(path, ..)| schema::locate(path) == Some((record, key.to_owned())))
        .map(|(_, _, parent, _)| parent)
        .collect();
    for p in parents {
        if !d.get_all(&p, key).unwrap().is_empty() {
            d.delete(&p, key).unwrap();
        }
    }
    d.commit();
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[test]
fn every_text_field_created_on_two_devices_at_once_keeps_both_texts() {
    let mut checked = 0;
    for field in TEXT_FIELDS {
        let sep = field.form.separator();
        for inst in instances(field.record) {
            let what = format!("{:?}.{} {inst}", field.record, field.key);
            let mut base = every_record();
            make_absent(&mut base, field.record, field.key);
            assert_eq!(read(&base, field.record, inst, field.key), "", "{what}");
            let mut a = base.fork();
            let mut b = base.fork();
            let (ta, tb) = (
                format!("Phone A wrote this in {}", field.label),
                format!("Phone B wrote this in {}", field.label),
            );
            assert!(write(&mut a, field.record, inst, field.key, &ta), "{what}");
            assert!(write(&mut b, field.record, inst, field.key, &tb), "{what}");
            a.merge(&mut b).unwrap();
            b.merge(&mut a).unwrap();
            let (ra, rb) = (
                read(&a, field.record, inst, field.key),
                read(&b, field.record, inst, field.key),
            );
            assert_eq!(ra, rb, "{what}: both replicas show the same");
            assert!(
                ra == format!("{ta}{sep}{tb}") || ra == format!("{tb}{sep}{ta}"),
                "{what}: {ra:?}"
            );

            // A person edits the merged value on phone A; phone B receives it.
            let edited = format!("{ra} (checked)");
            assert!(
                write(&mut a, field.record, inst, field.key, &edited),
                "{what}"
            );
            b.merge(&mut a).unwrap();
            a.merge(&mut b).unwrap();
            for d in [&a, &b] {
                let r = read(d, field.record, inst, field.key);
                assert_eq!(r, edited, "{what}");
                assert_eq!((count(&r, &ta), count(&r, &tb)), (1, 1), "{what}: {r:?}");
            }
            checked += 1;
        }
    }
    assert_eq!(
        checked,
        TEXT_FIELDS.len() + vocab::RISK_CATEGORIES.len() - 1,
        "every listed field, and each of the 12 categories"
    );
}

#[test]
fn a_copy_emptied_by_an_edit_still_shows_what_its_device_typed_afterwards() {
    let mut a = every_record();
    let mut b = a.fork();
    plan::set_known(&mut a, "A: older cousin involved.").unwrap();
    plan::set_known(&mut b, "B: seen at the bus station.").unwrap();
    let mut b_offline = b.fork();
    a.merge(&mut b).unwrap();
    let merged = case::read(&a).plan.known;
    assert!(
        merged == "A: older cousin involved.\nB: seen at the bus station."
            || merged == "B: seen at the bus station.\nA: older cousin involved.",
        "{merged:?}"
    );
    // A tidies the merged text into one paragraph; B, still offline, keeps typing in its own.
    plan::set_known(
        &mut a,
        "A: older cousin involved. B: seen at the bus station.",
    )
    .unwrap();
    plan::set_known(
        &mut b_offline,
        "B: seen at the bus station. Twice this week.",
    )
    .unwrap();
    a.merge(&mut b_offline).unwrap();
    b_offline.merge(&mut a).unwrap();
    let known = case::read(&a).plan.known;
    assert_eq!(case::read(&b_offline).plan.known, known);
    // Which copy A's edit kept depends on the devices' actor ids; either way B's late words
    // survive (appended in the copy A emptied, or merged into the one A kept).
    for part in [
        "A: older cousin involved.",
        "B: seen at the bus station.",
        "Twice this week.",
    ] {
        assert_eq!(count(&known, part), 1, "{part} in {known:?}");
    }
}

#[test]
fn plain_strings_written_by_other_tools_are_shown_and_replaced_without_hiding_text() {
    let mut a = every_record();
    let list = a.get(&ROOT, "notes").unwrap().unwrap().1;
    let n = a.get(&list, 0).unwrap().unwrap().1;
    a.delete(&n, "place").unwrap();
    a.commit();
    let mut b = a.fork();
    // A stock automerge client sets a plain string; Fieldbook types into the same field.
    a.put(&n, "place", "Example Park").unwrap();
    notes::set_field(&mut b, "n", case::NoteField::Place, "Bus station").unwrap();
    a.merge(&mut b).unwrap();
    let shown = case::read(&a).notes[0].place.clone();
    assert!(
        shown == "Example Park / Bus station" || shown == "Bus station / Example Park",
        "{shown:?}"
    );
    // The plain copy sits beside a text object: editing keeps it rather than hide the text.
    notes::set_field(
        &mut a,
        "n",
        case::NoteField::Place,
        &format!("{shown}, gate"),
    )
    .unwrap();
    let after = case::read(&a).notes[0].place.clone();
    assert!(after.contains(&format!("{shown}, gate")), "{after:?}");

    // A plain string alone is replaced by text that then merges by character.
    let mut c = every_record();
    let list = c.get(&ROOT, "notes").unwrap().unwrap().1;
    let n = c.get(&list, 0).unwrap().unwrap().1;
    c.put(&n, "present", "Parent").unwrap();
    notes::set_field(&mut c, "n", case::NoteField::Present, "Parent and sibling").unwrap();
    assert_eq!(case::read(&c).notes[0].present, "Parent and sibling");
    assert!(matches!(
        c.get(&n, "present").unwrap(),
        Some((Value::Object(ObjType::Text), _))
    ));
}

#[test]
fn a_whole_record_map_created_twice_shows_both_devices_text() {
    // An older document without a plan: both phones create the plan map itself.
    let mut base = every_record();
    base.delete(&ROOT, "plan").unwrap();
    base.commit();
    let mut a = base.fork();
    let mut b = base.fork();
    plan::set_known(&mut a, "Known on phone A").unwrap();
    plan::set_known(&mut b, "Known on phone B").unwrap();
    a.merge(&mut b).unwrap();
    let known = case::read(&a).plan.known;
    assert_eq!(count(&known, "Known on phone A"), 1, "{known:?}");
    assert_eq!(count(&known, "Known on phone B"), 1, "{known:?}");
    plan::set_known(&mut a, "Known on both phones").unwrap();
    assert_eq!(case::read(&a).plan.known, "Known on both phones");
}

#[test]
fn every_text_object_in_a_full_case_is_a_listed_field() {
    let now = 1_790_000_000_000;
    let mut docs: Vec<AutoCommit> = (0..demo::PEOPLE.len())
        .map(|i| {
            let mut d = AutoCommit::new();
            demo::write(&mut d, i, now).unwrap();
            d
        })
        .collect();
    // And a case with every listed field written through its writer.
    let mut full = every_record();
    for field in TEXT_FIELDS {
        for inst in instances(field.record) {
            assert!(write(&mut full, field.record, inst, field.key, "x"));
        }
    }
    docs.push(full);
    let mut seen = std::collections::BTreeSet::new();
    for d in &docs {
        for (path, value, ..) in walk(d) {
            if !matches!(value, Value::Object(ObjType::Text)) {
                continue;
            }
            let located = schema::locate(&path);
            let listed = located
                .as_ref()
                .is_some_and(|(r, k)| schema::field(*r, k).is_some());
            assert!(
                listed,
                "text at {path:?} ({located:?}) is not in schema::TEXT_FIELDS: list it"
            );
            seen.insert(located.unwrap());
        }
    }
    let listed: std::collections::BTreeSet<_> = TEXT_FIELDS
        .iter()
        .map(|f| (f.record, f.key.to_owned()))
        .collect();
    assert_eq!(seen, listed, "the walk finds every listed field");
}
