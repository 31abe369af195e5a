//! The case document as plain data. Readers turn an Automerge document into a [`Case`];
//! writers apply one user action inside a transaction. Strings a person types are Automerge
//! text so two workers editing the same note offline merge character by character.
//!
//! Layout (schema 1):
//! `{ schema: 1, profile: { name, knownAs, dob }, notes: [ { id, at, kind, place, present, text } ] }`

pub mod caseload;

use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::{
    AutomergeError, ObjId, ObjType, ReadDoc, ScalarValue, Value, ROOT,
};

pub const SCHEMA: i64 = 1;

/// Contact types from the practice guidance (DOMAIN.md §3.4).
pub const CONTACT_TYPES: &[&str] = &[
    "Face-to-face (planned)",
    "Cold call",
    "Detached / street outreach",
    "Phone or message",
    "Return home interview",
    "Multi-agency meeting",
    "Custody visit",
    "Hospital visit",
];

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Profile {
    pub name: String,
    pub known_as: String,
    /// ISO date `YYYY-MM-DD`, or empty.
    pub dob: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Note {
    pub id: String,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    pub kind: String,
    pub place: String,
    pub present: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Case {
    pub profile: Profile,
    /// Newest first.
    pub notes: Vec<Note>,
}

fn text_at<D: ReadDoc>(doc: &D, obj: &ObjId, key: &str) -> String {
    match doc.get(obj, key) {
        Ok(Some((Value::Object(ObjType::Text), id))) => doc.text(&id).unwrap_or_default(),
        Ok(Some((Value::Scalar(s), _))) => match s.as_ref() {
            ScalarValue::Str(s) => s.to_string(),
            _ => String::new(),
        },
        _ => String::new(),
    }
}

fn int_at<D: ReadDoc>(doc: &D, obj: &ObjId, key: &str) -> i64 {
    match doc.get(obj, key) {
        Ok(Some((Value::Scalar(s), _))) => match s.as_ref() {
            ScalarValue::Int(i) | ScalarValue::Timestamp(i) => *i,
            ScalarValue::Uint(u) => *u as i64,
            _ => 0,
        },
        _ => 0,
    }
}

fn map_at<D: ReadDoc>(doc: &D, obj: &ObjId, key: &str) -> Option<ObjId> {
    match doc.get(obj, key) {
        Ok(Some((Value::Object(ObjType::Map), id))) => Some(id),
        _ => None,
    }
}

fn list_at<D: ReadDoc>(doc: &D, obj: &ObjId, key: &str) -> Option<ObjId> {
    match doc.get(obj, key) {
        Ok(Some((Value::Object(ObjType::List), id))) => Some(id),
        _ => None,
    }
}

/// A date of birth as practitioners write it ("24 August 2010"); other text is shown as is.
pub fn long_date(iso: &str) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let mut parts = iso.splitn(3, '-').map(|p| p.parse::<u32>().ok());
    match (
        parts.next().flatten(),
        parts.next().flatten(),
        parts.next().flatten(),
    ) {
        (Some(y), Some(m @ 1..=12), Some(d @ 1..=31)) => {
            format!("{d} {} {y}", MONTHS[m as usize - 1])
        }
        _ => iso.to_owned(),
    }
}

/// The line under a case's name: known-as and date of birth, leaving out what is blank.
pub fn profile_summary(p: &Profile) -> String {
    let mut parts = Vec::new();
    if !p.known_as.trim().is_empty() {
        parts.push(format!("Known as {}", p.known_as.trim()));
    }
    if !p.dob.trim().is_empty() {
        parts.push(format!("Born {}", long_date(p.dob.trim())));
    }
    parts.join(" · ")
}

/// Whether `doc` is a case (has a profile), as opposed to an index or an unrelated document.
pub fn is_case<D: ReadDoc>(doc: &D) -> bool {
    map_at(doc, &ROOT, "profile").is_some()
}

/// Read a case document. Missing parts read as empty: a half-synced document still renders.
pub fn read<D: ReadDoc>(doc: &D) -> Case {
    let profile = map_at(doc, &ROOT, "profile")
        .map(|p| Profile {
            name: text_at(doc, &p, "name"),
            known_as: text_at(doc, &p, "knownAs"),
            dob: text_at(doc, &p, "dob"),
        })
        .unwrap_or_default();
    let mut notes: Vec<Note> = list_at(doc, &ROOT, "notes")
        .map(|list| {
            (0..doc.length(&list))
                .filter_map(|i| match doc.get(&list, i) {
                    Ok(Some((Value::Object(ObjType::Map), n))) => Some(Note {
                        id: text_at(doc, &n, "id"),
                        at: int_at(doc, &n, "at"),
                        kind: text_at(doc, &n, "kind"),
                        place: text_at(doc, &n, "place"),
                        present: text_at(doc, &n, "present"),
                        text: text_at(doc, &n, "text"),
                    }),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    notes.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| a.id.cmp(&b.id)));
    Case { profile, notes }
}

fn put_text(
    tx: &mut impl Transactable,
    obj: &ObjId,
    key: &str,
    value: &str,
) -> Result<(), AutomergeError> {
    let t = tx.put_object(obj, key, ObjType::Text)?;
    tx.splice_text(&t, 0, 0, value)
}

/// Initialise a new case document.
pub fn create(tx: &mut impl Transactable, profile: &Profile) -> Result<(), AutomergeError> {
    tx.put(ROOT, "schema", SCHEMA)?;
    let p = tx.put_object(ROOT, "profile", ObjType::Map)?;
    put_text(tx, &p, "name", &profile.name)?;
    put_text(tx, &p, "knownAs", &profile.known_as)?;
    tx.put(&p, "dob", profile.dob.as_str())?;
    tx.put_object(ROOT, "notes", ObjType::List)?;
    Ok(())
}

/// Add a contact note (its text may be empty: it is filled in as the worker types).
pub fn add_note(tx: &mut impl Transactable, note: &Note) -> Result<(), AutomergeError> {
    let list = match list_at(tx, &ROOT, "notes") {
        Some(l) => l,
        None => tx.put_object(ROOT, "notes", ObjType::List)?,
    };
    let n = tx.length(&list);
    let obj = tx.insert_object(&list, n, ObjType::Map)?;
    tx.put(&obj, "id", note.id.as_str())?;
    tx.put(&obj, "at", ScalarValue::Timestamp(note.at))?;
    tx.put(&obj, "kind", note.kind.as_str())?;
    put_text(tx, &obj, "place", &note.place)?;
    put_text(tx, &obj, "present", &note.present)?;
    put_text(tx, &obj, "text", &note.text)?;
    Ok(())
}

fn find_note<D: ReadDoc>(doc: &D, id: &str) -> Option<ObjId> {
    let list = list_at(doc, &ROOT, "notes")?;
    (0..doc.length(&list)).find_map(|i| match doc.get(&list, i) {
        Ok(Some((Value::Object(ObjType::Map), n))) if text_at(doc, &n, "id") == id => Some(n),
        _ => None,
    })
}

/// Which typed field of a note to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteField {
    Place,
    Present,
    Text,
}

impl NoteField {
    fn key(self) -> &'static str {
        match self {
            NoteField::Place => "place",
            NoteField::Present => "present",
            NoteField::Text => "text",
        }
    }
}

/// Replace a note's text field with `value`, as a minimal diff (so concurrent edits by
/// another worker merge instead of one overwriting the other). Returns false if the note
/// is gone.
pub fn set_note_field(
    tx: &mut impl Transactable,
    id: &str,
    field: NoteField,
    value: &str,
) -> Result<bool, AutomergeError> {
    let Some(note) = find_note(tx, id) else {
        return Ok(false);
    };
    match tx.get(&note, field.key())? {
        Some((Value::Object(ObjType::Text), t)) => tx.update_text(&t, value)?,
        _ => put_text(tx, &note, field.key(), value)?,
    }
    Ok(true)
}

/// Set a note's contact type and time. Returns false if the note is gone.
pub fn set_note_meta(
    tx: &mut impl Transactable,
    id: &str,
    kind: Option<&str>,
    at: Option<i64>,
) -> Result<bool, AutomergeError> {
    let Some(note) = find_note(tx, id) else {
        return Ok(false);
    };
    if let Some(k) = kind {
        tx.put(&note, "kind", k)?;
    }
    if let Some(t) = at {
        tx.put(&note, "at", ScalarValue::Timestamp(t))?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldbook_sync::automerge::AutoCommit;

    fn case() -> AutoCommit {
        let mut d = AutoCommit::new();
        create(
            &mut d,
            &Profile {
                name: "Jordan Example".into(),
                known_as: "JJ".into(),
                dob: "2010-04-01".into(),
            },
        )
        .unwrap();
        d
    }

    fn note(id: &str, at: i64) -> Note {
        Note {
            id: id.into(),
            at,
            kind: CONTACT_TYPES[2].into(),
            place: "Example Park".into(),
            present: "JJ".into(),
            text: String::new(),
        }
    }

    #[test]
    fn a_case_round_trips_with_notes_newest_first() {
        let mut d = case();
        add_note(&mut d, &note("a", 1_000)).unwrap();
        add_note(&mut d, &note("b", 2_000)).unwrap();
        assert!(set_note_field(
            &mut d,
            "a",
            NoteField::Text,
            "Met at the park; talked about college."
        )
        .unwrap());
        let c = read(&d);
        assert_eq!(c.profile.name, "Jordan Example");
        assert_eq!(c.profile.dob, "2010-04-01");
        assert_eq!(
            c.notes.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(),
            vec!["b", "a"]
        );
        assert_eq!(c.notes[1].text, "Met at the park; talked about college.");
        assert!(!set_note_field(&mut d, "missing", NoteField::Text, "x").unwrap());
        assert!(set_note_meta(&mut d, "a", Some(CONTACT_TYPES[0]), Some(3_000)).unwrap());
        let c = read(&d);
        assert_eq!(c.notes[0].id, "a", "re-timed note moves to the top");
        assert_eq!(c.notes[0].kind, CONTACT_TYPES[0]);
    }

    #[test]
    fn the_profile_line_reads_naturally_and_skips_blanks() {
        let mut p = Profile {
            name: "Test Person".into(),
            known_as: "TP".into(),
            dob: "2010-08-24".into(),
        };
        assert_eq!(profile_summary(&p), "Known as TP · Born 24 August 2010");
        p.known_as.clear();
        assert_eq!(profile_summary(&p), "Born 24 August 2010");
        p.dob = "sometime in 2010".into();
        assert_eq!(profile_summary(&p), "Born sometime in 2010");
        p.dob.clear();
        assert_eq!(profile_summary(&p), "");
        assert_eq!(long_date("2010-13-01"), "2010-13-01");
    }

    #[test]
    fn only_documents_with_a_profile_are_cases() {
        assert!(is_case(&case()));
        assert!(!is_case(&AutoCommit::new()));
    }

    #[test]
    fn concurrent_notes_and_text_edits_both_survive() {
        let mut a = case();
        add_note(&mut a, &note("shared", 1_000)).unwrap();
        set_note_field(
            &mut a,
            "shared",
            NoteField::Text,
            "Seen at the bus station.",
        )
        .unwrap();
        let mut b = AutoCommit::load(&a.save()).unwrap();
        // Offline on two phones:
        add_note(&mut a, &note("from-a", 2_000)).unwrap();
        set_note_field(
            &mut a,
            "shared",
            NoteField::Text,
            "Seen at the bus station. Worker A: seemed tired.",
        )
        .unwrap();
        add_note(&mut b, &note("from-b", 3_000)).unwrap();
        set_note_field(
            &mut b,
            "shared",
            NoteField::Text,
            "Worker B: with two older males. Seen at the bus station.",
        )
        .unwrap();
        a.merge(&mut b).unwrap();
        let c = read(&a);
        assert_eq!(c.notes.len(), 3);
        let shared = c.notes.iter().find(|n| n.id == "shared").unwrap();
        assert!(
            shared.text.contains("Worker A: seemed tired."),
            "{}",
            shared.text
        );
        assert!(
            shared.text.contains("Worker B: with two older males."),
            "{}",
            shared.text
        );
    }
}
