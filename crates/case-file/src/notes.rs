//! Contact and visit notes. Written fast, in pieces, per keystroke.
//! Domain notes: `docs/domain/case-file.md`.

use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::{AutomergeError, ObjId, ReadDoc, ScalarValue, ROOT};

use crate::doc;
use crate::removal::{self, Removal};
use crate::schema::{self, Record};

pub(crate) const LIST: &str = "notes";

/// Contact types from the practice guidance (`docs/domain/case-file.md`).
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

/// Whether a contact of this type saw the young person face to face: every contact type
/// except "Phone or message" and "Multi-agency meeting". A type not in [`CONTACT_TYPES`]
/// (an older or newer app's) does not count: the step-down gate asks for evidence
/// (`crate::stepdown`), and the monthly dataset counts young people seen (`crate::dataset`).
pub fn face_to_face(kind: &str) -> bool {
    CONTACT_TYPES.contains(&kind) && !["Phone or message", "Multi-agency meeting"].contains(&kind)
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Note {
    pub id: String,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    pub kind: String,
    /// Minutes; 0 when not recorded.
    pub duration: i64,
    pub place: String,
    pub present: String,
    /// What happened.
    pub text: String,
    /// The young person's words, in their own words.
    pub own_words: String,
    /// Ids from [`crate::vocab::INDICATORS`].
    pub indicators: Vec<String>,
    /// A reachable moment: a window when the young person may accept help
    /// (`docs/domain/practice-rules.md`).
    pub reachable: bool,
    /// What kind of reachable moment (an id from [`crate::vocab::REACHABLE_MOMENTS`]), or
    /// empty (older notes only say that it was one).
    pub reachable_kind: String,
    /// The id of the reachable moment ([`crate::moments`]) this contact follows up, or
    /// empty. Such a note, at or after the moment, meets its follow-up clock.
    pub follow_up_of: String,
    pub follow_ups: String,
    /// An intelligence form was submitted to the police about what this contact found
    /// (counted in the monthly service dataset).
    pub intelligence: bool,
    pub by: String,
    pub removal: Option<Removal>,
}

/// Which typed field of a note to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteField {
    Place,
    Present,
    Text,
    OwnWords,
    FollowUps,
}

impl NoteField {
    /// The stored key (as listed in [`crate::schema::TEXT_FIELDS`]).
    pub fn key(self) -> &'static str {
        match self {
            NoteField::Place => "place",
            NoteField::Present => "present",
            NoteField::Text => "text",
            NoteField::OwnWords => "ownWords",
            NoteField::FollowUps => "followUps",
        }
    }
}

crate::schema::texts!(Note {
    "place" => place,
    "present" => present,
    "text" => text,
    "ownWords" => own_words,
    "followUps" => follow_ups,
});

pub(crate) fn read_one<D: ReadDoc>(d: &D, n: &ObjId) -> Note {
    let mut note = Note {
        id: doc::text(d, n, "id"),
        at: doc::int(d, n, "at"),
        kind: doc::text(d, n, "kind"),
        duration: doc::int(d, n, "duration"),
        indicators: doc::flags(d, n, "indicators"),
        reachable: doc::boolean(d, n, "reachable"),
        reachable_kind: doc::text(d, n, "reachableKind"),
        follow_up_of: doc::text(d, n, "followUpOf"),
        intelligence: doc::boolean(d, n, "intelligence"),
        by: doc::text(d, n, "by"),
        removal: removal::read(d, n),
        ..Default::default()
    };
    schema::fill(d, std::slice::from_ref(n), Record::Note, &mut note);
    note
}

/// Every note (removed ones included), newest first.
pub fn read<D: ReadDoc>(d: &D) -> Vec<Note> {
    doc::newest_first(d, LIST, read_one, |n| n.at, |n| &n.id)
}

/// Add a contact note (its text may be empty: it is filled in as the worker types).
pub fn add(tx: &mut impl Transactable, note: &Note) -> Result<(), AutomergeError> {
    let n = doc::push_item(tx, &ROOT, LIST, &note.id)?;
    tx.put(&n, "at", ScalarValue::Timestamp(note.at))?;
    tx.put(&n, "kind", note.kind.as_str())?;
    tx.put(&n, "by", note.by.as_str())?;
    if note.duration > 0 {
        tx.put(&n, "duration", note.duration)?;
    }
    for (f, v) in [
        (NoteField::Place, &note.place),
        (NoteField::Present, &note.present),
        (NoteField::Text, &note.text),
        (NoteField::OwnWords, &note.own_words),
        (NoteField::FollowUps, &note.follow_ups),
    ] {
        doc::set_text(tx, &n, f.key(), v)?;
    }
    for i in &note.indicators {
        doc::set_flag(tx, &n, "indicators", i, true)?;
    }
    if note.reachable || !note.reachable_kind.is_empty() {
        tx.put(&n, "reachable", true)?;
    }
    if !note.reachable_kind.is_empty() {
        tx.put(&n, "reachableKind", note.reachable_kind.as_str())?;
    }
    if !note.follow_up_of.is_empty() {
        tx.put(&n, "followUpOf", note.follow_up_of.as_str())?;
    }
    if note.intelligence {
        tx.put(&n, "intelligence", true)?;
    }
    Ok(())
}

/// Apply `f` to note `id`, counting the edit. Returns false if there is no such note.
fn edit<T: Transactable>(
    tx: &mut T,
    id: &str,
    f: impl FnOnce(&mut T, &ObjId) -> Result<(), AutomergeError>,
) -> Result<bool, AutomergeError> {
    doc::on_item(tx, &ROOT, LIST, id, |tx, n| {
        f(tx, n)?;
        removal::touch(tx, n)
    })
}

pub fn set_field(
    tx: &mut impl Transactable,
    id: &str,
    field: NoteField,
    value: &str,
) -> Result<bool, AutomergeError> {
    set_text(tx, id, field.key(), value)
}

/// Write a text field of note `id` (a key from [`crate::schema::TEXT_FIELDS`]). False if
/// there is no such note or field.
pub fn set_text(
    tx: &mut impl Transactable,
    id: &str,
    key: &str,
    value: &str,
) -> Result<bool, AutomergeError> {
    if schema::field(Record::Note, key).is_none() {
        return Ok(false);
    }
    edit(tx, id, |tx, n| {
        schema::write_text(tx, std::slice::from_ref(n), Record::Note, key, value).map(|_| ())
    })
}

/// [`set_field`] for a note being typed into: `hint` is where note `id` was found last time
/// (checked before it is used, see [`doc::find_item_near`]) and is updated, so a keystroke in
/// a case with a thousand notes does not search them all.
pub fn set_field_near(
    tx: &mut impl Transactable,
    id: &str,
    hint: &mut Option<ObjId>,
    field: NoteField,
    value: &str,
) -> Result<bool, AutomergeError> {
    let Some(n) = doc::find_item_near(tx, &ROOT, LIST, id, hint.as_ref()) else {
        *hint = None;
        return Ok(false);
    };
    *hint = Some(n.clone());
    schema::write_text(
        tx,
        std::slice::from_ref(&n),
        Record::Note,
        field.key(),
        value,
    )?;
    removal::touch(tx, &n)?;
    Ok(true)
}

/// Set a note's contact type and/or time.
pub fn set_meta(
    tx: &mut impl Transactable,
    id: &str,
    kind: Option<&str>,
    at: Option<i64>,
) -> Result<bool, AutomergeError> {
    edit(tx, id, |tx, n| {
        if let Some(k) = kind {
            tx.put(n, "kind", k)?;
        }
        if let Some(t) = at {
            tx.put(n, "at", ScalarValue::Timestamp(t))?;
        }
        Ok(())
    })
}

pub fn set_duration(
    tx: &mut impl Transactable,
    id: &str,
    minutes: i64,
) -> Result<bool, AutomergeError> {
    edit(tx, id, |tx, n| tx.put(n, "duration", minutes.max(0)))
}

pub fn set_indicator(
    tx: &mut impl Transactable,
    id: &str,
    indicator: &str,
    on: bool,
) -> Result<bool, AutomergeError> {
    edit(tx, id, |tx, n| {
        doc::set_flag(tx, n, "indicators", indicator, on)
    })
}

pub fn set_reachable(
    tx: &mut impl Transactable,
    id: &str,
    on: bool,
) -> Result<bool, AutomergeError> {
    edit(tx, id, |tx, n| tx.put(n, "reachable", on))
}

/// Record whether an intelligence form was submitted to the police about this contact.
pub fn set_intelligence(
    tx: &mut impl Transactable,
    id: &str,
    on: bool,
) -> Result<bool, AutomergeError> {
    edit(tx, id, |tx, n| tx.put(n, "intelligence", on))
}

/// Say what kind of reachable moment the contact was (an id from
/// [`crate::vocab::REACHABLE_MOMENTS`]); a kind makes the note a reachable moment. An empty
/// kind clears only the kind.
pub fn set_reachable_kind(
    tx: &mut impl Transactable,
    id: &str,
    kind: &str,
) -> Result<bool, AutomergeError> {
    edit(tx, id, |tx, n| {
        tx.put(n, "reachableKind", kind)?;
        if !kind.is_empty() {
            tx.put(n, "reachable", true)?;
        }
        Ok(())
    })
}

/// Say which reachable moment this contact follows up (a moment id; empty: none).
pub fn set_follow_up_of(
    tx: &mut impl Transactable,
    id: &str,
    moment: &str,
) -> Result<bool, AutomergeError> {
    edit(tx, id, |tx, n| tx.put(n, "followUpOf", moment))
}

pub fn remove(
    tx: &mut impl Transactable,
    id: &str,
    by: &str,
    at: i64,
) -> Result<bool, AutomergeError> {
    doc::on_item(tx, &ROOT, LIST, id, |tx, n| removal::remove(tx, n, by, at))
}

pub fn restore(tx: &mut impl Transactable, id: &str) -> Result<bool, AutomergeError> {
    doc::on_item(tx, &ROOT, LIST, id, removal::restore)
}
