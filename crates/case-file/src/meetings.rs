//! Multi-agency meetings: strategy discussions, CCE multi-agency meetings, MACE/panel,
//! core groups and reviews. A meeting records who chaired and attended, the overall level
//! agreed, the decisions taken, the safety plan version agreed and the next review date.
//! Meetings start and stop clocks ([`crate::clocks`]) and appear in the chronology.
//! Domain notes: `docs/domain/meetings.md`.
//!
//! Layout: root list `meetings`, each item `{ id, at, kind, chair (text), by, level,
//! meetingNeeded, meetingChair, nrm, icpc, planHeads: [hash…], nextReview, decisions (text),
//! attendees: [ { id, name (text), agency (text) } ], removed… }`.

use fieldbook_sync::automerge::transaction::{Transactable, Transaction};
use fieldbook_sync::automerge::{
    AutoCommit, Automerge, AutomergeError, ChangeHash, ObjId, ObjType, ReadDoc, ScalarValue, Value,
    ROOT,
};

use crate::doc;
use crate::history::At;
use crate::removal::{self, Removal};
use crate::schema::{self, Record, Texts};

const LIST: &str = "meetings";
const ATTENDEES: &str = "attendees";
const PLAN_HEADS: &str = "planHeads";

/// Kinds of meeting (ids stored; labels shown).
pub const MEETING_TYPES: &[crate::vocab::Choice] = &[
    ("strategy", "Strategy discussion"),
    ("cce", "CCE multi-agency meeting"),
    ("mace", "MACE / exploitation panel"),
    ("core-group", "Core group"),
    ("review", "Review meeting"),
];

/// What the meeting decided about an NRM referral.
pub const NRM_DECISIONS: &[crate::vocab::Choice] = &[
    ("refer", "Make an NRM referral"),
    (
        "not-refer",
        "Considered, not referring (reason in the decisions)",
    ),
    ("already", "Already referred"),
    ("not-discussed", "Not discussed"),
];

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Attendee {
    pub id: String,
    pub name: String,
    pub agency: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Meeting {
    pub id: String,
    /// When it was held (ms since the epoch).
    pub at: i64,
    /// An id from [`MEETING_TYPES`].
    pub kind: String,
    pub chair: String,
    pub attendees: Vec<Attendee>,
    /// Overall level agreed (an id from [`crate::vocab::LEVELS`]), or empty.
    pub level: String,
    /// Whether a CCE multi-agency meeting is needed: "yes", "no" or "" (not decided).
    pub meeting_needed: String,
    /// Who chairs it: "manager" or "chair" (an id from [`crate::vocab::REVIEWERS`]), or "".
    pub meeting_chair: String,
    /// An id from [`NRM_DECISIONS`], or empty.
    pub nrm: String,
    /// An initial child protection conference was considered.
    pub icpc_considered: bool,
    /// The document heads when the safety plan was agreed at this meeting (empty: no plan
    /// agreed). The plan as agreed reads at these heads.
    pub plan_heads: Vec<String>,
    /// ISO date of the next review, or empty.
    pub next_review: String,
    /// The decisions and actions, in words.
    pub decisions: String,
    pub by: String,
    pub removal: Option<Removal>,
}

impl Meeting {
    pub fn plan_agreed(&self) -> bool {
        !self.plan_heads.is_empty()
    }
}

crate::schema::texts!(Meeting { "chair" => chair, "decisions" => decisions });
crate::schema::texts!(Attendee { "name" => name, "agency" => agency });

/// Every attendee item of every copy of meeting `m`'s attendee list, removed ones included.
fn attendee_items<D: ReadDoc>(d: &D, m: &ObjId) -> Vec<ObjId> {
    doc::items(d, m, ATTENDEES)
}

fn read_attendee<D: ReadDoc>(d: &D, a: &ObjId) -> Attendee {
    let mut out = Attendee {
        id: doc::text(d, a, "id"),
        ..Default::default()
    };
    schema::fill(d, std::slice::from_ref(a), Record::Attendee, &mut out);
    out
}

/// The heads stored at `planHeads` (every copy of the list, in order, duplicates left out).
fn read_heads<D: ReadDoc>(d: &D, m: &ObjId) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for list in doc::all_objs(d, m, PLAN_HEADS, ObjType::List) {
        for i in 0..d.length(&list) {
            if let Ok(Some((Value::Scalar(s), _))) = d.get(&list, i) {
                if let ScalarValue::Str(h) = s.as_ref() {
                    if !out.iter().any(|x| x == h.as_str()) {
                        out.push(h.to_string());
                    }
                }
            }
        }
    }
    out
}

fn read_one<D: ReadDoc>(d: &D, m: &ObjId) -> Meeting {
    let mut attendees: Vec<(i64, Attendee)> = attendee_items(d, m)
        .iter()
        .filter(|a| removal::visible(&removal::read(d, a)))
        .map(|a| (doc::int(d, a, "added"), read_attendee(d, a)))
        .collect();
    // In the order they were added (the same on every replica).
    fieldbook_sync::order::sort_by(&mut attendees, |(x, a), (y, b)| {
        x.cmp(y).then_with(|| a.id.cmp(&b.id))
    });
    let mut out = Meeting {
        id: doc::text(d, m, "id"),
        at: doc::int(d, m, "at"),
        kind: doc::text(d, m, "kind"),
        attendees: attendees.into_iter().map(|(_, a)| a).collect(),
        level: doc::text(d, m, "level"),
        meeting_needed: doc::text(d, m, "meetingNeeded"),
        meeting_chair: doc::text(d, m, "meetingChair"),
        nrm: doc::text(d, m, "nrm"),
        icpc_considered: doc::boolean(d, m, "icpc"),
        plan_heads: read_heads(d, m),
        next_review: doc::text(d, m, "nextReview"),
        by: doc::text(d, m, "by"),
        removal: removal::read(d, m),
        ..Default::default()
    };
    schema::fill(d, std::slice::from_ref(m), Record::Meeting, &mut out);
    out
}

/// Every meeting (removed ones included), newest first.
pub fn read<D: ReadDoc>(d: &D) -> Vec<Meeting> {
    doc::newest_first(d, LIST, read_one, |m| m.at, |m| &m.id)
}

/// Write the listed text fields of `record` that differ from what `value` holds.
fn write_changed_texts<T: Texts>(
    tx: &mut impl Transactable,
    item: &ObjId,
    record: Record,
    value: &T,
) -> Result<bool, AutomergeError> {
    let copies = [item.clone()];
    let mut changed = false;
    for t in schema::fields(record) {
        let v = value.text(t.key).unwrap_or_default();
        if schema::read_text(tx, &copies, record, t.key) != v {
            schema::write_text(tx, &copies, record, t.key, v)?;
            changed = true;
        }
    }
    Ok(changed)
}

/// Save a meeting: a new one, or what changed on an existing one. Only values that differ
/// from the document are written, so a colleague's concurrent edit to another field is
/// kept. Attendees are items with their own ids: a new id is added (two devices adding
/// attendees offline keep both), a known one has its name and agency updated; an attendee
/// missing from `m` is left alone (removing one is [`remove_attendee`]).
pub fn save(tx: &mut impl Transactable, m: &Meeting) -> Result<(), AutomergeError> {
    let item = match doc::find_item(tx, &ROOT, LIST, &m.id) {
        Some(item) => {
            removal::touch(tx, &item)?;
            item
        }
        None => doc::push_item(tx, &ROOT, LIST, &m.id)?,
    };
    if doc::opt_int(tx, &item, "at") != Some(m.at) {
        tx.put(&item, "at", ScalarValue::Timestamp(m.at))?;
    }
    for (key, value) in [
        ("kind", &m.kind),
        ("level", &m.level),
        ("meetingNeeded", &m.meeting_needed),
        ("meetingChair", &m.meeting_chair),
        ("nrm", &m.nrm),
        ("nextReview", &m.next_review),
        ("by", &m.by),
    ] {
        if doc::text(tx, &item, key) != *value {
            tx.put(&item, key, value.as_str())?;
        }
    }
    if doc::boolean(tx, &item, "icpc") != m.icpc_considered {
        tx.put(&item, "icpc", m.icpc_considered)?;
    }
    // The heads are one value (the point the plan was agreed at), replaced as a whole.
    if read_heads(tx, &item) != m.plan_heads {
        let list = tx.put_object(&item, PLAN_HEADS, ObjType::List)?;
        for (i, h) in m.plan_heads.iter().enumerate() {
            tx.insert(&list, i, h.as_str())?;
        }
    }
    write_changed_texts(tx, &item, Record::Meeting, m)?;
    let mut next = attendee_items(tx, &item)
        .iter()
        .map(|a| doc::int(tx, a, "added"))
        .max()
        .unwrap_or(0);
    for a in &m.attendees {
        let existing = attendee_items(tx, &item)
            .into_iter()
            .find(|x| doc::text(tx, x, "id") == a.id);
        match existing {
            Some(x) => {
                if write_changed_texts(tx, &x, Record::Attendee, a)? {
                    removal::touch(tx, &x)?;
                }
            }
            None => {
                next += 1;
                let x = doc::push_item(tx, &item, ATTENDEES, &a.id)?;
                tx.put(&x, "added", next)?;
                for t in schema::fields(Record::Attendee) {
                    let v = a.text(t.key).unwrap_or_default();
                    schema::write_text(tx, std::slice::from_ref(&x), Record::Attendee, t.key, v)?;
                }
            }
        }
    }
    Ok(())
}

pub fn remove(
    tx: &mut impl Transactable,
    id: &str,
    by: &str,
    at: i64,
) -> Result<bool, AutomergeError> {
    doc::on_item(tx, &ROOT, LIST, id, |tx, m| removal::remove(tx, m, by, at))
}

/// Remove attendee `attendee` from meeting `meeting` (a marked removal: their name stays in
/// the document, and an edit racing the removal keeps them listed). False if there is no
/// such meeting or attendee.
pub fn remove_attendee(
    tx: &mut impl Transactable,
    meeting: &str,
    attendee: &str,
    by: &str,
    at: i64,
) -> Result<bool, AutomergeError> {
    let Some(m) = doc::find_item(tx, &ROOT, LIST, meeting) else {
        return Ok(false);
    };
    let Some(a) = attendee_items(tx, &m)
        .into_iter()
        .find(|x| doc::text(tx, x, "id") == attendee)
    else {
        return Ok(false);
    };
    removal::remove(tx, &a, by, at)?;
    removal::touch(tx, &m)?;
    Ok(true)
}

/// The safety plan as it was when meeting `m` agreed it (read at its `plan_heads`), or None
/// when no plan was agreed or those heads are not in this document.
pub fn plan_as_agreed<D: ReadDoc>(d: &D, m: &Meeting) -> Option<crate::SafetyPlan> {
    if m.plan_heads.is_empty() {
        return None;
    }
    let heads = m
        .plan_heads
        .iter()
        .map(|h| h.parse::<ChangeHash>().ok())
        .collect::<Option<Vec<_>>>()?;
    if heads.iter().any(|h| d.get_change_by_hash(h).is_none()) {
        return None;
    }
    Some(crate::plan::read(&At::new(d, heads)))
}

/// A document whose current heads can be read: the app's and server's [`Automerge`], an
/// [`AutoCommit`] and a [`Transaction`] in progress (its heads before the transaction).
pub trait CurrentHeads {
    fn current_heads(&self) -> Vec<ChangeHash>;
}

impl CurrentHeads for Automerge {
    fn current_heads(&self) -> Vec<ChangeHash> {
        self.get_heads()
    }
}

impl CurrentHeads for AutoCommit {
    fn current_heads(&self) -> Vec<ChangeHash> {
        Transactable::base_heads(self)
    }
}

impl CurrentHeads for Transaction<'_> {
    fn current_heads(&self) -> Vec<ChangeHash> {
        self.base_heads()
    }
}

/// The document's current heads as strings, for `plan_heads`: "the plan as it stands is
/// agreed". Inside a transaction these are the heads before it, so edit the plan and record
/// the meeting in separate changes (the app's edits are committed as they are typed).
pub fn heads_now<D: CurrentHeads>(d: &D) -> Vec<String> {
    let mut heads: Vec<String> = d.current_heads().iter().map(|h| h.to_string()).collect();
    fieldbook_sync::order::sort(&mut heads);
    heads
}
