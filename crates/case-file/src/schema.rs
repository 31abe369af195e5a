//! Every free-text field of every record, in one list ([`TEXT_FIELDS`]).
//!
//! Readers fill each record's text fields from this list through [`read_text`] (every
//! concurrent copy, joined: [`crate::doc::merged_text`]) and writers go through
//! [`write_text`], so a field listed here merges whoever creates it first. The tests in
//! `tests/text_merge.rs` are generated from the list, and check that a fully populated case
//! holds no Automerge text that is not listed: a text field added later without a line here
//! fails them.

use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::{AutomergeError, ObjId, Prop, ReadDoc};

use crate::doc;

/// A kind of record in the case document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Record {
    Profile,
    Note,
    Assessment,
    /// One of an assessment's 12 categories.
    Category,
    Plan,
    Action,
    Episode,
    NrmStep,
    Outcome,
    Person,
    Place,
    /// A multi-agency meeting.
    Meeting,
    /// Someone who attended a meeting.
    Attendee,
    /// A "concerns identified" record.
    Concern,
    /// The review of a submitted assessment version.
    Review,
    /// A reachable moment logged as an event.
    Moment,
    /// A step-down or closure record.
    StepDown,
    /// The NRM map itself (the tracker's fields; its history steps are [`Record::NrmStep`]).
    Nrm,
}

/// One step of the path from the document root to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Key(&'static str),
    /// Any item of a list.
    Item,
    /// Any key of a map.
    AnyKey,
}

impl Record {
    pub const ALL: [Record; 18] = [
        Record::Profile,
        Record::Note,
        Record::Assessment,
        Record::Category,
        Record::Plan,
        Record::Action,
        Record::Episode,
        Record::NrmStep,
        Record::Outcome,
        Record::Person,
        Record::Place,
        Record::Meeting,
        Record::Attendee,
        Record::Concern,
        Record::Review,
        Record::Moment,
        Record::StepDown,
        Record::Nrm,
    ];

    /// Where its objects are, from the root (layout in `lib.rs`).
    pub fn path(self) -> &'static [Step] {
        use Step::*;
        match self {
            Record::Profile => &[Key("profile")],
            Record::Note => &[Key("notes"), Item],
            Record::Assessment => &[Key("assessments"), Item],
            Record::Category => &[Key("assessments"), Item, Key("categories"), AnyKey],
            Record::Plan => &[Key("plan")],
            Record::Action => &[Key("plan"), Key("actions"), Item],
            Record::Episode => &[Key("missing"), Item],
            Record::NrmStep => &[Key("nrm"), Key("history"), Item],
            Record::Outcome => &[Key("outcomes"), Item],
            Record::Person => &[Key("network"), Key("people"), Item],
            Record::Place => &[Key("network"), Key("places"), Item],
            Record::Meeting => &[Key("meetings"), Item],
            Record::Attendee => &[Key("meetings"), Item, Key("attendees"), Item],
            Record::Concern => &[Key("concerns"), Item],
            Record::Review => &[Key("assessments"), Item, Key("review")],
            Record::Moment => &[Key("moments"), Item],
            Record::StepDown => &[Key("stepDowns"), Item],
            Record::Nrm => &[Key("nrm")],
        }
    }
}

/// How a field is typed, and so how concurrent copies are joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// A one-line input: copies joined with " / ".
    Line,
    /// A text area: copies joined as paragraphs, one per line.
    Paragraph,
}

impl Form {
    pub fn separator(self) -> &'static str {
        match self {
            Form::Line => " / ",
            Form::Paragraph => "\n",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextField {
    pub record: Record,
    /// The stored key. Stable: do not change.
    pub key: &'static str,
    /// What the form calls it.
    pub label: &'static str,
    pub form: Form,
}

const fn f(record: Record, key: &'static str, label: &'static str, form: Form) -> TextField {
    TextField {
        record,
        key,
        label,
        form,
    }
}

use Form::{Line, Paragraph};
use Record::*;

/// Every free-text field. Choices, dates, numbers and ids are plain values, not listed.
pub const TEXT_FIELDS: &[TextField] = &[
    f(Profile, "name", "Name", Line),
    f(Profile, "knownAs", "Known as", Line),
    f(Profile, "gender", "Gender", Line),
    f(Profile, "address", "Where they live", Line),
    f(
        Profile,
        "placement",
        "Placement type and location",
        Paragraph,
    ),
    f(Profile, "familyAddress", "Family home address", Line),
    f(Profile, "worker", "Allocated worker(s)", Line),
    f(Profile, "team", "Team", Line),
    f(Profile, "needs", "Additional needs", Paragraph),
    f(Profile, "keyContacts", "Key contacts", Paragraph),
    f(Profile, "voice", "In their own words", Paragraph),
    f(
        Profile,
        "transitionWorker",
        "Transition to adulthood worker",
        Line,
    ),
    f(
        Profile,
        "externalLevel",
        "Risk level recorded by another area",
        Line,
    ),
    f(
        Profile,
        "externalSource",
        "Which area and tool recorded it",
        Line,
    ),
    f(Note, "place", "Where", Line),
    f(Note, "present", "Who was present", Line),
    f(Note, "text", "What happened", Paragraph),
    f(Note, "ownWords", "In their own words", Paragraph),
    f(Note, "followUps", "Follow-up actions", Paragraph),
    f(
        Assessment,
        "summary",
        "Summary of concerns and analysis",
        Paragraph,
    ),
    f(Assessment, "completedBy", "Who completed it", Line),
    f(Category, "text", "Information and analysis", Paragraph),
    f(
        Plan,
        "known",
        "What is known about the exploitation and who is involved",
        Paragraph,
    ),
    f(Action, "text", "Action", Line),
    f(Action, "owner", "Owner", Line),
    f(Episode, "reportedBy", "Reported by", Line),
    f(Episode, "foundWhere", "Where they were found", Line),
    f(Episode, "foundWith", "Who they were with", Line),
    f(Episode, "injuries", "Injuries or signs on return", Line),
    f(
        Episode,
        "rhiReasonText",
        "Why the return home interview was not completed",
        Paragraph,
    ),
    f(
        Episode,
        "rhiLateText",
        "Why the return home interview was late",
        Paragraph,
    ),
    f(NrmStep, "reason", "Reason or note", Paragraph),
    f(Outcome, "notes", "Notes", Paragraph),
    f(Person, "name", "Name or description", Line),
    f(Person, "notes", "Notes", Paragraph),
    f(Place, "name", "Name or description", Line),
    f(Place, "notes", "Notes", Paragraph),
    f(Meeting, "chair", "Who chaired it", Line),
    f(Meeting, "decisions", "Decisions and actions", Paragraph),
    f(Attendee, "name", "Name", Line),
    f(Attendee, "agency", "Agency or role", Line),
    f(Concern, "what", "What the concerns are", Paragraph),
    f(Review, "note", "Reviewer's note", Paragraph),
    f(Moment, "what", "What happened", Paragraph),
    f(
        StepDown,
        "changed",
        "What has changed, and how we know",
        Paragraph,
    ),
    f(StepDown, "exitPlan", "Exit safety plan", Paragraph),
    f(StepDown, "agreedBy", "Manager who agreed it", Line),
    f(StepDown, "signOffBy", "Multi-agency sign-off: who", Line),
    f(
        StepDown,
        "notSeenReason",
        "Why they have not been seen face to face recently",
        Paragraph,
    ),
    f(Nrm, "reference", "NRM referral reference number", Line),
    f(
        Assessment,
        "notSeenReason",
        "Why the level is lowered when they have not been seen face to face recently",
        Paragraph,
    ),
];

/// The text fields of `record`, in list order.
pub fn fields(record: Record) -> impl Iterator<Item = &'static TextField> {
    TEXT_FIELDS.iter().filter(move |t| t.record == record)
}

/// The listed field `key` of `record`, if it is a text field.
pub fn field(record: Record, key: &str) -> Option<&'static TextField> {
    fields(record).find(|t| t.key == key)
}

/// A listed text field, read from every copy of its record object. An unlisted key is a
/// programming error: it reads as empty (and fails the tests).
pub fn read_text<D: ReadDoc>(d: &D, copies: &[ObjId], record: Record, key: &str) -> String {
    match field(record, key) {
        Some(t) => doc::merged_text(d, copies, key, t.form.separator()),
        None => {
            debug_assert!(false, "{record:?}.{key} is not in schema::TEXT_FIELDS");
            String::new()
        }
    }
}

/// Write a listed text field of a record (every copy of its object given; see
/// [`doc::write_text`]). Returns false, writing nothing, for a key that is not listed.
pub fn write_text(
    tx: &mut impl Transactable,
    copies: &[ObjId],
    record: Record,
    key: &str,
    value: &str,
) -> Result<bool, AutomergeError> {
    if field(record, key).is_none() || copies.is_empty() {
        return Ok(false);
    }
    doc::write_text(tx, copies, key, value)?;
    Ok(true)
}

/// Plain data with text fields addressed by their stored keys ([`TEXT_FIELDS`]).
pub trait Texts {
    fn text_mut(&mut self, key: &str) -> Option<&mut String>;
    fn text(&self, key: &str) -> Option<&str>;
}

/// Fill every listed text field of `record` in `into` from the copies of its object.
pub fn fill<D: ReadDoc, T: Texts>(d: &D, copies: &[ObjId], record: Record, into: &mut T) {
    for t in fields(record) {
        match into.text_mut(t.key) {
            Some(slot) => *slot = doc::merged_text(d, copies, t.key, t.form.separator()),
            None => debug_assert!(false, "{record:?} has no field for {}", t.key),
        }
    }
}

/// The record and field key a value at `path` (from the root) belongs to, if `path` is a
/// field of a known record: e.g. `["notes", 0, "text"]` is the note field `text`.
pub fn locate(path: &[Prop]) -> Option<(Record, String)> {
    let (key, at) = path.split_last()?;
    let Prop::Map(key) = key else {
        return None;
    };
    let record = Record::ALL.into_iter().find(|r| {
        r.path().len() == at.len()
            && r.path().iter().zip(at).all(|(s, p)| match (s, p) {
                (Step::Key(k), Prop::Map(m)) => k == m,
                (Step::AnyKey, Prop::Map(_)) | (Step::Item, Prop::Seq(_)) => true,
                _ => false,
            })
    })?;
    Some((record, key.clone()))
}

/// Implements [`Texts`] for a struct from `"key" => field` pairs.
macro_rules! texts {
    ($ty:ty { $($key:literal => $field:ident),* $(,)? }) => {
        impl $crate::schema::Texts for $ty {
            fn text_mut(&mut self, key: &str) -> Option<&mut String> {
                match key {
                    $($key => Some(&mut self.$field),)*
                    _ => None,
                }
            }
            fn text(&self, key: &str) -> Option<&str> {
                match key {
                    $($key => Some(&self.$field),)*
                    _ => None,
                }
            }
        }
    };
}
pub(crate) use texts;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_record_has_text_fields_and_no_field_is_listed_twice() {
        for r in Record::ALL {
            assert!(fields(r).count() > 0, "{r:?}");
        }
        for (i, a) in TEXT_FIELDS.iter().enumerate() {
            assert!(
                !TEXT_FIELDS[i + 1..]
                    .iter()
                    .any(|b| (a.record, a.key) == (b.record, b.key)),
                "{a:?}"
            );
        }
    }

    #[test]
    fn paths_locate_their_record() {
        let p = |v: &[&str]| -> Vec<Prop> {
            v.iter()
                .map(|s| match s.parse::<usize>() {
                    Ok(i) => Prop::Seq(i),
                    Err(_) => Prop::Map((*s).into()),
                })
                .collect()
        };
        assert_eq!(
            locate(&p(&["assessments", "2", "categories", "coercion", "text"])),
            Some((Category, "text".into()))
        );
        assert_eq!(
            locate(&p(&["network", "places", "0", "notes"])),
            Some((Place, "notes".into()))
        );
        assert_eq!(locate(&p(&["plan", "known"])), Some((Plan, "known".into())));
        assert_eq!(locate(&p(&["plan", "0", "known"])), None);
        assert_eq!(locate(&p(&["title"])), None);
    }
}
