//! What a device has that the server has not confirmed yet, counted in the records a worker
//! made ("3 notes and the safety plan"), not in Automerge changes: one note typed on a phone
//! is a hundred changes, one per keystroke, and none of them is a thing a worker thinks in.
//!
//! [`waiting`] diffs the document between the heads the server is known to have (the sync
//! engine's `confirmed_heads`, which works offline from the persisted sync state) and the
//! current heads, and maps each changed path to the record it lies in (layout in `lib.rs`).
//! A case the server has nothing of is one new case, whatever it holds.

use std::collections::{BTreeMap, BTreeSet};

use fieldbook_sync::automerge::{
    legacy, Automerge, ChangeHash, ObjId, ObjType, PatchAction, Prop, ReadDoc, Value,
};

use crate::caseload;

/// A kind of thing waiting to be sent, in the order it is described.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    NewCase,
    Note,
    MissingEpisode,
    SafetyPlan,
    Assessment,
    Profile,
    HazardLabel,
    Nrm,
    Outcome,
    Relationship,
    Place,
    /// The caseload index (this device listing its cases); implied by a new case.
    CaseList,
    /// Anything else (e.g. fields written by a newer Fieldbook).
    Other,
}

impl Kind {
    fn noun(self, n: usize) -> String {
        let (one, many) = match self {
            Kind::NewCase => ("new case", "new cases"),
            Kind::Note => ("note", "notes"),
            Kind::MissingEpisode => ("missing episode", "missing episodes"),
            Kind::SafetyPlan => ("safety plan", "safety plans"),
            Kind::Assessment => ("risk assessment", "risk assessments"),
            Kind::Profile => ("profile", "profiles"),
            Kind::HazardLabel => ("hazard label", "hazard labels"),
            Kind::Nrm => ("NRM record", "NRM records"),
            Kind::Outcome => ("review outcome", "review outcomes"),
            Kind::Relationship => ("relationship", "relationships"),
            Kind::Place => ("place", "places"),
            Kind::CaseList => return "an update to the case list".into(),
            Kind::Other => return "other changes".into(),
        };
        format!("{n} {}", if n == 1 { one } else { many })
    }
}

/// Records waiting to be sent, by kind. Add up several documents with [`Waiting::add`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Waiting {
    counts: BTreeMap<Kind, usize>,
}

impl Waiting {
    pub fn count(&self, kind: Kind) -> usize {
        self.counts.get(&kind).copied().unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    pub fn add(&mut self, other: &Waiting) {
        for (k, n) in &other.counts {
            *self.counts.entry(*k).or_default() += n;
        }
    }

    fn bump(&mut self, kind: Kind, n: usize) {
        if n > 0 {
            *self.counts.entry(kind).or_default() += n;
        }
    }

    /// "1 note", "3 notes, 1 safety plan and 1 missing episode"; `None` if nothing waits.
    pub fn describe(&self) -> Option<String> {
        let parts: Vec<String> = self
            .counts
            .iter()
            .filter(|(k, _)| !(**k == Kind::CaseList && self.count(Kind::NewCase) > 0))
            .map(|(k, n)| k.noun(*n))
            .collect();
        match parts.as_slice() {
            [] => None,
            [one] => Some(one.clone()),
            [init @ .., last] => Some(format!("{} and {last}", init.join(", "))),
        }
    }
}

/// What `doc` holds beyond `confirmed` (the heads the server is known to have; empty if it
/// has nothing of the document). Reads only; costs one diff.
pub fn waiting(doc: &Automerge, confirmed: &[ChangeHash]) -> Waiting {
    let mut out = Waiting::default();
    let heads = doc.get_heads();
    if heads.is_empty() || same(&heads, confirmed) {
        return out;
    }
    if caseload::is_caseload(doc) {
        out.bump(Kind::CaseList, 1);
        return out;
    }
    if !crate::is_case(doc) {
        out.bump(Kind::Other, 1);
        return out;
    }
    if confirmed.is_empty() {
        out.bump(Kind::NewCase, 1);
        return out;
    }
    let seen =
        touched_records(doc, confirmed).unwrap_or_else(|| diffed_records(doc, confirmed, &heads));
    for (kind, _) in seen {
        out.bump(kind, 1);
    }
    out
}

/// The records that differ between `confirmed` and `heads`, by a diff of the document.
fn diffed_records(
    doc: &Automerge,
    confirmed: &[ChangeHash],
    heads: &[ChangeHash],
) -> BTreeSet<(Kind, Key)> {
    let mut seen = BTreeSet::new();
    for patch in doc.diff(confirmed, heads) {
        for item in records(&patch.path, &patch.obj, &patch.action) {
            seen.insert(item);
        }
    }
    seen
}

/// More changes than this since what the server has: count with the diff.
const MAX_CHANGES: usize = 512;
/// More objects touched than this: count with the diff.
const MAX_OBJECTS: usize = 64;

/// The records the changes since `confirmed` touched, found from the changes themselves —
/// each operation's object and where it sits — rather than a diff of the document, which
/// walks the whole document (a hundred milliseconds and more on a phone for a case with a
/// thousand notes, once a second while someone types). `None` when that does not decide
/// it and the diff must: an operation on a list or the root itself (an item added or
/// deleted, a section created), on an object no longer visible, or too many changes.
fn touched_records(doc: &Automerge, confirmed: &[ChangeHash]) -> Option<BTreeSet<(Kind, Key)>> {
    if confirmed
        .iter()
        .any(|h| doc.get_change_meta_by_hash(h).is_none())
    {
        return None;
    }
    let changes = doc.get_changes(confirmed);
    if changes.len() > MAX_CHANGES {
        return None;
    }
    // Objects operated on, and items inserted into a list (the list and the new item).
    let mut objects = BTreeSet::new();
    let mut inserted = BTreeSet::new();
    for change in &changes {
        let c = change.decode();
        for (i, op) in c.operations.iter().enumerate() {
            // A map inserted into a list is a new item; other insertions (characters into
            // a text) are operations on their object like any other.
            if op.insert && op.action == legacy::OpType::Make(ObjType::Map) {
                let item = format!("{}@{}", c.start_op.get() + i as u64, c.actor_id);
                inserted.insert((op.obj.to_string(), item));
            } else {
                objects.insert(op.obj.to_string());
            }
            if objects.len() + inserted.len() > MAX_OBJECTS {
                return None;
            }
        }
    }
    let mut seen = BTreeSet::new();
    for obj in objects {
        let (obj, _) = doc.import(&obj).ok()?;
        let path = doc.parents(&obj).ok()?.visible_path()?;
        seen.insert(record_holding(&path, &obj)?);
    }
    for (list, item) in inserted {
        let (list, _) = doc.import(&list).ok()?;
        let path = doc.parents(&list).ok()?.visible_path()?;
        let (item, _) = doc.import(&item).ok()?;
        // Still in the list, as the diff would show it.
        let parent = doc.parents(&item).ok()?.next()?;
        if !parent.visible || parent.obj != list {
            return None;
        }
        seen.insert(new_item(&path, item)?);
    }
    Some(seen)
}

/// The record a map inserted into the list at `path` is, if that list holds records.
fn new_item(path: &[(ObjId, Prop)], item: ObjId) -> Option<(Kind, Key)> {
    let key_at = |k: usize| match path.get(k) {
        Some((_, Prop::Map(s))) => Some(s.as_str()),
        _ => None,
    };
    match section(key_at(0)?, key_at(1))? {
        (kind, Shape::List(depth)) if path.len() == depth => Some((kind, Key::Item(item))),
        _ => None,
    }
}

/// The record that object `obj` (at `path`, as in [`records`]) is or lies inside, when
/// that alone says which record an operation on it changes (as [`records`] decides it for
/// any action); `None` for the root, a list of items, or the map of keyed records.
fn record_holding(path: &[(ObjId, Prop)], obj: &ObjId) -> Option<(Kind, Key)> {
    let key_at = |k: usize| match path.get(k) {
        Some((_, Prop::Map(s))) => Some(s.as_str()),
        _ => None,
    };
    let root = key_at(0)?;
    let Some((kind, shape)) = section(root, key_at(1)) else {
        return Some((Kind::Other, Key::Name(root.to_owned())));
    };
    match shape {
        Shape::Whole => Some((kind, Key::Whole)),
        Shape::Keyed => key_at(1).map(|id| (kind, Key::Name(id.to_owned()))),
        Shape::List(depth) if path.len() > depth => {
            let item = path.get(depth + 1).map(|(o, _)| o).unwrap_or(obj);
            Some((kind, Key::Item(item.clone())))
        }
        Shape::List(_) => None,
    }
}

fn same(a: &[ChangeHash], b: &[ChangeHash]) -> bool {
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    fieldbook_sync::order::sort(&mut a);
    fieldbook_sync::order::sort(&mut b);
    a == b
}

/// What identifies one record within its kind.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    /// The one record of its kind in a case (profile, plan, NRM).
    Whole,
    /// A list item, by its object.
    Item(ObjId),
    /// A map entry (hazard labels are keyed by id) or an unknown root key.
    Name(String),
    /// A list edit whose items cannot be named (never made by this app).
    Position(ObjId, usize),
}

/// Where records live: `(root key, sub-key for nested lists, kind, shape)`.
enum Shape {
    Whole,
    /// A list of items at this depth below the root (1: `notes[i]`, 2: `network.people[i]`).
    List(usize),
    /// A map keyed by record id (hazard labels).
    Keyed,
}

fn section(root: &str, sub: Option<&str>) -> Option<(Kind, Shape)> {
    Some(match (root, sub) {
        ("profile", _) => (Kind::Profile, Shape::Whole),
        ("hazards", _) => (Kind::HazardLabel, Shape::Keyed),
        ("notes", _) => (Kind::Note, Shape::List(1)),
        ("assessments", _) => (Kind::Assessment, Shape::List(1)),
        ("missing", _) => (Kind::MissingEpisode, Shape::List(1)),
        ("outcomes", _) => (Kind::Outcome, Shape::List(1)),
        ("plan", _) => (Kind::SafetyPlan, Shape::Whole),
        ("nrm", _) => (Kind::Nrm, Shape::Whole),
        ("network", Some("people")) => (Kind::Relationship, Shape::List(2)),
        ("network", Some("places")) => (Kind::Place, Shape::List(2)),
        ("network", _) => (Kind::Relationship, Shape::Whole),
        _ => return None,
    })
}

/// The records one patch touches. `path[k] = (obj_k, prop_k)` with `obj_0` the root and
/// `obj_{k+1}` the child of `obj_k` at `prop_k`; `obj` is the object the action is on.
fn records(path: &[(ObjId, Prop)], obj: &ObjId, action: &PatchAction) -> Vec<(Kind, Key)> {
    let key_at = |k: usize| match path.get(k) {
        Some((_, Prop::Map(s))) => Some(s.as_str()),
        _ => None,
    };
    let root = match key_at(0) {
        Some(r) => r,
        // An action on the root itself: a section created (its items are counted as they
        // arrive), the schema number, or a key this app does not know.
        None => {
            return match action {
                PatchAction::PutMap { key, .. } | PatchAction::DeleteMap { key }
                    if key != "schema" && section(key, None).is_none() =>
                {
                    vec![(Kind::Other, Key::Name(key.clone()))]
                }
                _ => vec![],
            };
        }
    };
    let Some((kind, shape)) = section(root, key_at(1)) else {
        return vec![(Kind::Other, Key::Name(root.to_owned()))];
    };
    // The object at depth `k` (`obj_k`).
    let obj_at = |k: usize| -> Option<&ObjId> {
        match k.cmp(&path.len()) {
            std::cmp::Ordering::Less => Some(&path[k].0),
            std::cmp::Ordering::Equal => Some(obj),
            std::cmp::Ordering::Greater => None,
        }
    };
    match shape {
        Shape::Whole => vec![(kind, Key::Whole)],
        Shape::Keyed => match (path.get(1), action) {
            (Some((_, Prop::Map(id))), _) => vec![(kind, Key::Name(id.clone()))],
            (None, PatchAction::PutMap { key, .. } | PatchAction::DeleteMap { key }) => {
                vec![(kind, Key::Name(key.clone()))]
            }
            (
                None,
                PatchAction::Conflict {
                    prop: Prop::Map(key),
                },
            ) => {
                vec![(kind, Key::Name(key.clone()))]
            }
            _ => vec![],
        },
        Shape::List(depth) => {
            if path.len() > depth {
                // Inside an item: the item is the object one level below the list.
                obj_at(depth + 1)
                    .map(|item| vec![(kind, Key::Item(item.clone()))])
                    .unwrap_or_default()
            } else if path.len() == depth {
                // On the list itself: items inserted, replaced or (never by this app) deleted.
                match action {
                    PatchAction::Insert { values, .. } => values
                        .iter()
                        .map(|(v, id, _)| match v {
                            Value::Object(_) => (kind, Key::Item(id.clone())),
                            _ => (kind, Key::Position(obj.clone(), 0)),
                        })
                        .collect(),
                    PatchAction::PutSeq { value: (_, id), .. } => {
                        vec![(kind, Key::Item(id.clone()))]
                    }
                    PatchAction::DeleteSeq { index, .. } => {
                        vec![(kind, Key::Position(obj.clone(), *index))]
                    }
                    _ => vec![],
                }
            } else {
                // The list (or its parent) being created: counted by its items.
                vec![]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Edits whose records the changes alone name are counted exactly as the diff counts
    /// them; the rest are left to the diff.
    #[test]
    fn counting_from_the_changes_agrees_with_the_diff() {
        use crate::notes::{self, NoteField};
        use crate::{Note, ProfileField};
        use fieldbook_sync::automerge::transaction::Transactable;
        let mut d = crate::reader::tests::case_with(20);
        let confirmed = d.get_heads();
        type Edit = fn(&mut fieldbook_sync::automerge::transaction::Transaction<'_>);
        let edits: [(Edit, bool); 7] = [
            (
                |tx| {
                    notes::set_field(tx, "n0003", NoteField::Text, "met at").unwrap();
                },
                true,
            ),
            (
                |tx| {
                    notes::set_field(tx, "n0003", NoteField::Text, "met at the library").unwrap();
                },
                true,
            ),
            (
                |tx| {
                    notes::set_meta(tx, "n0007", Some("Cold call"), None).unwrap();
                },
                true,
            ),
            (
                |tx| {
                    crate::profile::set_field(tx, ProfileField::KnownAs, "Sammy").unwrap();
                },
                true,
            ),
            (
                |tx| {
                    let note = Note {
                        id: "new".into(),
                        at: 1_800_000_000_000,
                        ..Default::default()
                    };
                    crate::add_note(tx, &note).unwrap();
                },
                true,
            ),
            (
                |tx| {
                    notes::set_field(tx, "new", NoteField::Text, "typed offline").unwrap();
                },
                true,
            ),
            // A note deleted outright (a stock client could): the diff decides.
            (
                |tx| {
                    let list = crate::doc::obj_at(
                        tx,
                        &fieldbook_sync::automerge::ROOT,
                        "notes",
                        ObjType::List,
                    )
                    .unwrap();
                    tx.delete(&list, 0).unwrap();
                },
                false,
            ),
        ];
        for (edit, decided) in edits {
            let mut tx = d.transaction();
            edit(&mut tx);
            tx.commit();
            let heads = d.get_heads();
            let fast = touched_records(&d, &confirmed);
            assert_eq!(fast.is_some(), decided);
            if let Some(fast) = fast {
                assert_eq!(fast, diffed_records(&d, &confirmed, &heads));
            }
            // Counted from what the server has after the previous edit too.
            if decided {
                assert!(touched_records(&d, &heads).is_some_and(|s| s.is_empty()));
            }
        }
        // n3, n7, the new note, and the deleted one (by its position).
        assert_eq!(waiting(&d, &confirmed).count(Kind::Note), 4);
        assert_eq!(waiting(&d, &confirmed).count(Kind::Profile), 1);
    }

    #[test]
    fn descriptions_read_naturally() {
        let mut w = Waiting::default();
        assert_eq!(w.describe(), None);
        w.bump(Kind::Note, 1);
        assert_eq!(w.describe().unwrap(), "1 note");
        w.bump(Kind::Note, 2);
        w.bump(Kind::SafetyPlan, 1);
        assert_eq!(w.describe().unwrap(), "3 notes and 1 safety plan");
        w.bump(Kind::MissingEpisode, 2);
        assert_eq!(
            w.describe().unwrap(),
            "3 notes, 2 missing episodes and 1 safety plan"
        );
        let mut n = Waiting::default();
        n.bump(Kind::NewCase, 1);
        n.bump(Kind::CaseList, 1);
        assert_eq!(n.describe().unwrap(), "1 new case", "the list is implied");
        let mut c = Waiting::default();
        c.bump(Kind::CaseList, 1);
        assert_eq!(c.describe().unwrap(), "an update to the case list");
        w.add(&n);
        assert_eq!(w.count(Kind::NewCase), 1);
        assert_eq!(w.count(Kind::Note), 3);
    }
}
