//! The caseload index: one document listing the cases a device should hold, so a device
//! that has never seen a case learns it exists (and can show progress while fetching them),
//! and a device learns when it must no longer keep one.
//!
//! Today there is one index per server, its id derived from the server's storage id
//! ([`index_id`]), which every peer learns in the protocol's `peer` message; with sign-in
//! each user has their own (docs/ACCESS.md). Only the server writes it: it lists the cases
//! the user may read, and removes a case when access is lost. Devices only read it
//! ([`reconcile`]): fetch what it lists, and delete their copy of a case it listed before
//! and no longer lists.
//!
//! Layout: `{ type: "fieldbook-caseload", cases: { "<document id>": { added: <ms>,
//! restricted?: true, read_only?: true } }, erased?: { "<document id>": { at: <ms> } } }`.
//! Cases are map keys, not list items: two concurrent additions both survive the merge,
//! and adding the same case twice is one entry. `restricted` marks a case whose processing
//! is restricted (GDPR Art. 18: readable by named people only, no edits), so the app can
//! say so; `read_only` marks a case this person may read but not change (a read grant, or
//! restricted), so their device makes no edit the server would refuse; `erased` lists cases an administrator erased, so every device holding one
//! deletes it, even a copy the index never listed (created offline).

use std::collections::BTreeSet;

use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::{Automerge, AutomergeError, ObjType, ReadDoc, ScalarValue, ROOT};
use fieldbook_sync::{DocumentId, StorageId};
use sha2::{Digest, Sha256};

use crate::doc;

/// Value of the root `type` field, so a caseload is never mistaken for a case.
pub const TYPE: &str = "fieldbook-caseload";

/// The caseload index of the server whose storage id is `server`.
pub fn index_id(server: &StorageId) -> DocumentId {
    let digest = Sha256::digest(format!("fieldbook-caseload/v1/{}", server.0));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    DocumentId::from_bytes(bytes)
}

/// Initialise a new caseload document.
pub fn init(tx: &mut impl Transactable) -> Result<(), AutomergeError> {
    tx.put(ROOT, "type", TYPE)?;
    tx.put_object(ROOT, "cases", ObjType::Map)?;
    Ok(())
}

/// Whether `doc` is a caseload index.
pub fn is_caseload<D: ReadDoc>(d: &D) -> bool {
    doc::text(d, &ROOT, "type") == TYPE
}

/// Every case the index lists (from every concurrent copy of its map), in id order. Keys
/// that are not document ids are skipped.
pub fn case_ids<D: ReadDoc>(d: &D) -> Vec<DocumentId> {
    let ids: std::collections::BTreeSet<DocumentId> =
        doc::all_objs(d, &ROOT, "cases", ObjType::Map)
            .iter()
            .flat_map(|m| d.keys(m).filter_map(|k| k.parse().ok()).collect::<Vec<_>>())
            .collect();
    let mut ids: Vec<DocumentId> = ids.into_iter().collect();
    fieldbook_sync::order::sort_by_key(&mut ids, |id| id.to_string());
    ids
}

/// Add `case` to the index (no-op if it is already listed). `at` is milliseconds since the epoch.
pub fn add(tx: &mut impl Transactable, case: &DocumentId, at: i64) -> Result<bool, AutomergeError> {
    let key = case.to_string();
    let copies = doc::all_objs(tx, &ROOT, "cases", ObjType::Map);
    if copies
        .iter()
        .any(|m| matches!(tx.get(m, key.as_str()), Ok(Some(_))))
    {
        return Ok(false);
    }
    // An index written before `cases` existed (or damaged) gets the map rather than failing.
    let cases = doc::ensure_obj(tx, &ROOT, "cases", ObjType::Map)?;
    let entry = tx.put_object(&cases, key.as_str(), ObjType::Map)?;
    tx.put(&entry, "added", ScalarValue::Timestamp(at))?;
    Ok(true)
}

/// Remove `case` from the index, from every concurrent copy of its map (false if it was
/// not listed). Only the server does this, when someone loses access to a case.
pub fn remove(tx: &mut impl Transactable, case: &DocumentId) -> Result<bool, AutomergeError> {
    let key = case.to_string();
    let mut removed = false;
    for m in doc::all_objs(tx, &ROOT, "cases", ObjType::Map) {
        if matches!(tx.get(&m, key.as_str()), Ok(Some(_))) {
            tx.delete(&m, key.as_str())?;
            removed = true;
        }
    }
    Ok(removed)
}

/// Record that `case` was erased (at `at`, ms since the epoch): it leaves the list and
/// joins `erased`. False if it was already recorded as erased.
pub fn erase(
    tx: &mut impl Transactable,
    case: &DocumentId,
    at: i64,
) -> Result<bool, AutomergeError> {
    remove(tx, case)?;
    let key = case.to_string();
    if doc::all_objs(tx, &ROOT, "erased", ObjType::Map)
        .iter()
        .any(|m| matches!(tx.get(m, key.as_str()), Ok(Some(_))))
    {
        return Ok(false);
    }
    let erased = doc::ensure_obj(tx, &ROOT, "erased", ObjType::Map)?;
    let entry = tx.put_object(&erased, key.as_str(), ObjType::Map)?;
    tx.put(&entry, "at", ScalarValue::Timestamp(at))?;
    Ok(true)
}

/// Every case the index records as erased (from every concurrent copy), in id order.
pub fn erased_ids<D: ReadDoc>(d: &D) -> Vec<DocumentId> {
    let ids: BTreeSet<DocumentId> = doc::all_objs(d, &ROOT, "erased", ObjType::Map)
        .iter()
        .flat_map(|m| d.keys(m).filter_map(|k| k.parse().ok()).collect::<Vec<_>>())
        .collect();
    let mut ids: Vec<DocumentId> = ids.into_iter().collect();
    fieldbook_sync::order::sort_by_key(&mut ids, |id| id.to_string());
    ids
}

/// Set (or clear) a flag on a listed case's entry: false if the index does not list it.
fn set_flag(
    tx: &mut impl Transactable,
    case: &DocumentId,
    flag: &str,
    on: bool,
) -> Result<bool, AutomergeError> {
    let entries = entries(tx, case);
    for entry in &entries {
        if on {
            tx.put(entry, flag, true)?;
        } else if matches!(tx.get(entry, flag), Ok(Some(_))) {
            tx.delete(entry, flag)?;
        }
    }
    Ok(!entries.is_empty())
}

/// Every concurrent copy of the index's entry for `case` (none if it is not listed).
fn entries<D: ReadDoc>(d: &D, case: &DocumentId) -> Vec<fieldbook_sync::automerge::ObjId> {
    let key = case.to_string();
    doc::all_objs(d, &ROOT, "cases", ObjType::Map)
        .iter()
        .filter_map(|m| match d.get(m, key.as_str()) {
            Ok(Some((_, id))) => Some(id),
            _ => None,
        })
        .collect()
}

/// Whether the index's entry for `case` carries `flag` (in any concurrent copy of it).
fn has_flag<D: ReadDoc>(d: &D, case: &DocumentId, flag: &str) -> bool {
    entries(d, case)
        .iter()
        .any(|entry| doc::boolean(d, entry, flag))
}

/// Mark a listed case as restricted (or not): false if the index does not list it.
pub fn set_restricted(
    tx: &mut impl Transactable,
    case: &DocumentId,
    restricted: bool,
) -> Result<bool, AutomergeError> {
    set_flag(tx, case, "restricted", restricted)
}

/// Whether the index lists `case` as restricted (in any concurrent copy of its entry).
pub fn is_restricted<D: ReadDoc>(d: &D, case: &DocumentId) -> bool {
    has_flag(d, case, "restricted")
}

/// Mark a listed case as one this person may read but not change (or not).
pub fn set_read_only(
    tx: &mut impl Transactable,
    case: &DocumentId,
    read_only: bool,
) -> Result<bool, AutomergeError> {
    set_flag(tx, case, "read_only", read_only)
}

/// Whether the index lists `case` as read-only for this person: the server refuses their
/// changes to it, so the device does not make any.
pub fn is_read_only<D: ReadDoc>(d: &D, case: &DocumentId) -> bool {
    has_flag(d, case, "read_only")
}

/// Who a listed case is allocated to, as the server's directory has it (written by the
/// server into each entry: `worker` = the allocated person's display name, `team` = the
/// case's team id), so a manager's device can group its caseload by worker offline.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Allocation {
    pub worker: String,
    pub team: String,
}

/// Record who `case` is allocated to: false if the index does not list it. Writes only
/// values that differ, so rewriting an unchanged index makes no change.
pub fn set_allocation(
    tx: &mut impl Transactable,
    case: &DocumentId,
    a: &Allocation,
) -> Result<bool, AutomergeError> {
    let entries = entries(tx, case);
    for entry in &entries {
        for (k, v) in [("worker", &a.worker), ("team", &a.team)] {
            if doc::text(tx, entry, k) != *v {
                tx.put(entry, k, v.as_str())?;
            }
        }
    }
    Ok(!entries.is_empty())
}

/// Who the index says `case` is allocated to (the first copy of its entry that says).
pub fn allocation<D: ReadDoc>(d: &D, case: &DocumentId) -> Option<Allocation> {
    entries(d, case)
        .iter()
        .map(|entry| Allocation {
            worker: doc::text(d, entry, "worker"),
            team: doc::text(d, entry, "team"),
        })
        .find(|a| !a.worker.is_empty() || !a.team.is_empty())
}

/// What a device does about the caseload index after its documents change ([`reconcile`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconcile {
    /// The index (learnt from the server, or found among the local documents).
    pub index: DocumentId,
    /// Cases listed in the index that hold content on this device, and how many it lists.
    pub progress: (usize, usize),
    /// Listed cases this device does not know yet: fetch them.
    pub to_find: Vec<DocumentId>,
    /// Cases this device knows that this index listed before and no longer lists (access
    /// to them was lost), and every case it knows that the index records as erased (even
    /// one never listed, such as a case created offline): the device deletes its copy.
    pub to_delete: Vec<DocumentId>,
    /// Listed cases not yet in the device's [`Listed`] record of this index: add them, so
    /// the device notices if they are unlisted later.
    pub newly_listed: Vec<DocumentId>,
}

/// Decide what to fetch, what to delete and what to remember. `index` is the index's id if
/// known (from the server); else, offline since install, whichever `loaded` document is
/// one. `known` is every case this device holds (or is fetching); `listed` is what the
/// device has seen this index list before; `doc` reads a loaded document.
///
/// `None` while there is no index with content here (not fetched yet): nothing is deleted
/// on the strength of an index the device has not seen. A case is deleted only if this
/// index listed it before: a case created on this device and never listed (not yet on the
/// server, or not yet indexed there) is always kept.
pub fn reconcile<'a>(
    index: Option<DocumentId>,
    loaded: &[DocumentId],
    known: &[DocumentId],
    listed: &Listed,
    doc: impl Fn(&DocumentId) -> Option<&'a Automerge>,
) -> Option<Reconcile> {
    let index = index.or_else(|| {
        loaded
            .iter()
            .copied()
            .find(|d| doc(d).is_some_and(is_caseload))
    })?;
    let index_doc = doc(&index).filter(|d| is_caseload(*d))?;
    let erased: BTreeSet<DocumentId> = erased_ids(index_doc).into_iter().collect();
    // An erased case is never fetched, even if a stale copy of the list still names it.
    let now_listed: Vec<DocumentId> = case_ids(index_doc)
        .into_iter()
        .filter(|d| !erased.contains(d))
        .collect();
    // Runs after every batch (each keystroke): sets keep it linear in the caseload.
    let known_set: BTreeSet<DocumentId> = known.iter().copied().collect();
    let listed_now: BTreeSet<DocumentId> = now_listed.iter().copied().collect();
    // A record of another index says nothing about this one (see `Listed`).
    let before = if listed.index == Some(index) {
        &listed.cases
    } else {
        &BTreeSet::new()
    };
    let has_content = |d: &DocumentId| doc(d).is_some_and(|a| !a.get_heads().is_empty());
    Some(Reconcile {
        index,
        progress: (
            now_listed.iter().filter(|d| has_content(d)).count(),
            now_listed.len(),
        ),
        to_find: now_listed
            .iter()
            .filter(|d| !known_set.contains(d))
            .copied()
            .collect(),
        to_delete: known_set
            .iter()
            .filter(|d| {
                **d != index
                    && (erased.contains(d) || (before.contains(d) && !listed_now.contains(d)))
            })
            .copied()
            .collect(),
        newly_listed: now_listed
            .iter()
            .filter(|d| !before.contains(d))
            .copied()
            .collect(),
    })
}

/// What a device has seen one caseload index list, kept in its store (setting
/// [`Listed::SETTING`]) so that a case can be told apart when the index stops listing it:
/// one listed before is deleted, one created here and never listed is kept.
///
/// It belongs to one index: when the index changes (another server, another user) nothing
/// seen in the old one is deleted because the new one does not list it. Ids stay in it
/// after their case is deleted: if the deletion did not reach storage, the case is still
/// known at the next start and deleted then; if the index lists it again, it is fetched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listed {
    /// The index these were seen in; `None` before any.
    pub index: Option<DocumentId>,
    pub cases: BTreeSet<DocumentId>,
}

/// The stored record of [`Listed`] is not one this build wrote.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the record of cases listed for this device is unreadable")]
pub struct ListedUnreadable;

impl Listed {
    /// The store setting it is kept in.
    pub const SETTING: &'static str = "listed_cases";

    /// Record `cases` as listed by `index` (starting afresh if the record was of another).
    pub fn record(&mut self, index: DocumentId, cases: &[DocumentId]) {
        if self.index != Some(index) {
            *self = Listed {
                index: Some(index),
                cases: BTreeSet::new(),
            };
        }
        self.cases.extend(cases.iter().copied());
    }

    /// JSON: `{"index":"<id>","cases":["<id>",…]}` (document ids are bs58: nothing to escape).
    pub fn to_json(&self) -> String {
        let cases: Vec<String> = self.cases.iter().map(|c| format!("\"{c}\"")).collect();
        match self.index {
            Some(i) => format!("{{\"index\":\"{i}\",\"cases\":[{}]}}", cases.join(",")),
            None => format!("{{\"index\":null,\"cases\":[{}]}}", cases.join(",")),
        }
    }

    /// Read what [`Listed::to_json`] wrote (whitespace between tokens allowed).
    pub fn from_json(json: &str) -> Result<Listed, ListedUnreadable> {
        let mut p = Json(json.trim());
        p.eat("{")?;
        p.eat("\"index\"")?;
        p.eat(":")?;
        let index = if p.0.starts_with("null") {
            p.eat("null")?;
            None
        } else {
            Some(p.id()?)
        };
        p.eat(",")?;
        p.eat("\"cases\"")?;
        p.eat(":")?;
        p.eat("[")?;
        let mut cases = BTreeSet::new();
        if !p.0.starts_with(']') {
            loop {
                cases.insert(p.id()?);
                if p.0.starts_with(']') {
                    break;
                }
                p.eat(",")?;
            }
        }
        p.eat("]")?;
        p.eat("}")?;
        if !p.0.is_empty() {
            return Err(ListedUnreadable);
        }
        Ok(Listed { index, cases })
    }
}

/// The rest of a [`Listed`] record being read.
struct Json<'a>(&'a str);

impl Json<'_> {
    fn eat(&mut self, token: &str) -> Result<(), ListedUnreadable> {
        self.0 = self
            .0
            .strip_prefix(token)
            .ok_or(ListedUnreadable)?
            .trim_start();
        Ok(())
    }

    fn id(&mut self) -> Result<DocumentId, ListedUnreadable> {
        let rest = self.0.strip_prefix('"').ok_or(ListedUnreadable)?;
        let (id, rest) = rest.split_once('"').ok_or(ListedUnreadable)?;
        self.0 = rest.trim_start();
        id.parse().map_err(|_| ListedUnreadable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldbook_sync::automerge::transaction::Transaction;
    use fieldbook_sync::automerge::AutoCommit;

    #[test]
    fn cases_added_offline_on_two_devices_all_survive_the_merge() {
        let mut a = AutoCommit::new();
        init(&mut a).unwrap();
        assert!(is_caseload(&a));
        let mut b = AutoCommit::load(&a.save()).unwrap();
        let (x, y, shared) = (
            DocumentId::random(),
            DocumentId::random(),
            DocumentId::random(),
        );
        assert!(add(&mut a, &x, 1).unwrap());
        assert!(add(&mut a, &shared, 2).unwrap());
        assert!(!add(&mut a, &shared, 3).unwrap(), "second add is a no-op");
        add(&mut b, &y, 4).unwrap();
        add(&mut b, &shared, 5).unwrap();
        a.merge(&mut b).unwrap();
        let mut want = vec![x, y, shared];
        want.sort_by_key(|d| d.to_string());
        assert_eq!(case_ids(&a), want);
    }

    #[test]
    fn the_index_id_is_stable_per_server_and_differs_between_servers() {
        let a = StorageId("server-a".into());
        assert_eq!(index_id(&a), index_id(&StorageId("server-a".into())));
        assert_ne!(index_id(&a), index_id(&StorageId("server-b".into())));
        let shown = index_id(&a).to_string();
        assert_eq!(shown.parse::<DocumentId>().unwrap(), index_id(&a));
    }

    #[test]
    fn a_case_document_is_not_a_caseload_and_lists_nothing() {
        let mut d = AutoCommit::new();
        crate::create(&mut d, &crate::Profile::default()).unwrap();
        assert!(!is_caseload(&d));
        assert!(case_ids(&d).is_empty());
    }

    #[test]
    fn junk_keys_are_skipped_and_a_missing_map_is_recreated() {
        let mut d = AutoCommit::new();
        d.put(ROOT, "type", TYPE).unwrap();
        let id = DocumentId::random();
        add(&mut d, &id, 7).unwrap();
        let cases = match d.get(ROOT, "cases").unwrap() {
            Some((_, c)) => c,
            None => panic!("cases map missing"),
        };
        d.put(&cases, "not-a-document-id", 1).unwrap();
        assert_eq!(case_ids(&d), vec![id]);
    }

    fn index_listing(ids: &[DocumentId]) -> Automerge {
        let mut d = Automerge::new();
        let mut tx = d.transaction();
        init(&mut tx).unwrap();
        for id in ids {
            add(&mut tx, id, 1).unwrap();
        }
        tx.commit();
        d
    }

    fn a_case() -> Automerge {
        let mut d = Automerge::new();
        let mut tx = d.transaction();
        crate::create(&mut tx, &crate::Profile::default()).unwrap();
        tx.commit();
        d
    }

    /// A test device: its documents, and what it has seen `index` list.
    struct Device {
        index: DocumentId,
        docs: Vec<(DocumentId, Automerge)>,
        listed: Listed,
    }

    impl Device {
        /// A device whose copy of the index lists `listed` and that holds `held` cases.
        fn new(listed: &[DocumentId], held: &[DocumentId]) -> Device {
            let index = DocumentId::random();
            let mut docs = vec![(index, index_listing(listed))];
            docs.extend(held.iter().map(|d| (*d, a_case())));
            Device {
                index,
                docs,
                listed: Listed::default(),
            }
        }

        fn known(&self) -> Vec<DocumentId> {
            self.docs.iter().map(|(d, _)| *d).collect()
        }

        fn reconcile(&self) -> Option<Reconcile> {
            let known = self.known();
            reconcile(Some(self.index), &known, &known, &self.listed, |d| {
                self.docs.iter().find(|(i, _)| i == d).map(|(_, a)| a)
            })
        }

        /// Reconcile and apply it as the app does: remember what is listed, drop what is
        /// to be deleted. Returns what was deleted.
        fn step(&mut self) -> Vec<DocumentId> {
            let r = self.reconcile().expect("an index with content");
            self.listed.record(r.index, &r.newly_listed);
            self.docs.retain(|(d, _)| !r.to_delete.contains(d));
            r.to_delete
        }

        /// The server edits the index (the only writer).
        fn server_edits(&mut self, f: impl FnOnce(&mut Transaction<'_>)) {
            let (_, d) = self
                .docs
                .iter_mut()
                .find(|(i, _)| *i == self.index)
                .unwrap();
            let mut tx = d.transaction();
            f(&mut tx);
            tx.commit();
        }
    }

    #[test]
    fn a_case_listed_then_unlisted_is_deleted_and_the_others_are_kept() {
        let (x, y) = (DocumentId::random(), DocumentId::random());
        let mut dev = Device::new(&[x, y], &[x, y]);
        assert_eq!(dev.step(), vec![], "both listed: nothing to delete");
        assert_eq!(dev.listed.cases, [x, y].into());
        dev.server_edits(|tx| assert!(remove(tx, &x).unwrap()));
        assert_eq!(case_ids(&dev.docs[0].1), vec![y]);
        assert_eq!(dev.step(), vec![x]);
        assert_eq!(dev.known(), vec![dev.index, y]);
        assert_eq!(dev.step(), vec![], "deleted once");
        assert!(
            dev.listed.cases.contains(&x),
            "remembered, so a deletion that failed is retried at the next start"
        );
    }

    #[test]
    fn a_case_created_here_and_never_listed_is_never_deleted() {
        let (listed, mine) = (DocumentId::random(), DocumentId::random());
        let mut dev = Device::new(&[listed], &[listed, mine]);
        for _ in 0..3 {
            assert_eq!(dev.step(), vec![]);
        }
        // Even once every listed case is unlisted, and however often it runs.
        dev.server_edits(|tx| {
            remove(tx, &listed).unwrap();
        });
        assert_eq!(dev.step(), vec![listed]);
        assert_eq!(dev.step(), vec![]);
        assert!(dev.known().contains(&mine));
        // Listed later (the server indexed it), and unlisted after that: now it goes.
        dev.server_edits(|tx| {
            add(tx, &mine, 2).unwrap();
        });
        assert_eq!(dev.step(), vec![]);
        dev.server_edits(|tx| {
            remove(tx, &mine).unwrap();
        });
        assert_eq!(dev.step(), vec![mine]);
    }

    #[test]
    fn an_index_with_no_content_yet_deletes_nothing() {
        let x = DocumentId::random();
        let mut dev = Device::new(&[x], &[x]);
        dev.step();
        // The device has seen x listed; now its index copy is not there or has no content
        // (as before the first fetch): no decision at all, so nothing is deleted.
        dev.docs[0].1 = Automerge::new();
        assert_eq!(dev.reconcile(), None);
        dev.docs.remove(0);
        assert_eq!(dev.reconcile(), None);
        let known = dev.known();
        let get = |d: &DocumentId| dev.docs.iter().find(|(i, _)| i == d).map(|(_, a)| a);
        assert_eq!(reconcile(None, &known, &known, &dev.listed, get), None);
    }

    #[test]
    fn an_unlisted_case_that_was_listed_again_is_kept() {
        let x = DocumentId::random();
        let mut dev = Device::new(&[x], &[x]);
        dev.step();
        // Access lost and regained before this device looked again: listed now, so kept.
        dev.server_edits(|tx| {
            remove(tx, &x).unwrap();
        });
        dev.server_edits(|tx| {
            add(tx, &x, 9).unwrap();
        });
        assert_eq!(case_ids(&dev.docs[0].1), vec![x]);
        assert_eq!(dev.step(), vec![]);
        assert!(dev.known().contains(&x));
    }

    #[test]
    fn a_case_unlisted_while_still_being_fetched_is_deleted_and_not_fetched() {
        let x = DocumentId::random();
        let mut dev = Device::new(&[x], &[]);
        let r = dev.reconcile().unwrap();
        assert_eq!(r.to_find, vec![x]);
        dev.step();
        // Being fetched: known, no content yet.
        dev.docs.push((x, Automerge::new()));
        assert_eq!(dev.reconcile().unwrap().progress, (0, 1));
        dev.server_edits(|tx| {
            remove(tx, &x).unwrap();
        });
        let r = dev.reconcile().unwrap();
        assert!(r.to_find.is_empty());
        assert_eq!(r.to_delete, vec![x], "the fetch is cancelled");
    }

    #[test]
    fn what_another_index_listed_is_never_deleted() {
        let x = DocumentId::random();
        let mut dev = Device::new(&[x], &[x]);
        dev.step();
        // The device now follows another index (another server or user) that lists nothing.
        let other = DocumentId::random();
        dev.docs.push((other, index_listing(&[])));
        dev.index = other;
        let r = dev.reconcile().unwrap();
        assert_eq!(r.to_delete, vec![]);
        assert_eq!(r.newly_listed, vec![]);
        dev.step();
        assert_eq!(
            dev.listed.index,
            Some(other),
            "the record follows the index"
        );
        assert!(dev.listed.cases.is_empty());
    }

    #[test]
    fn reconcile_fetches_what_is_listed_and_reports_progress() {
        let (fetched, missing, unknown, own, other, empty) = (
            DocumentId::random(),
            DocumentId::random(),
            DocumentId::random(),
            DocumentId::random(),
            DocumentId::random(),
            DocumentId::random(),
        );
        let index = DocumentId::random();
        let index_doc = index_listing(&[fetched, missing, unknown]);
        let (fetched_doc, own_doc) = (a_case(), a_case());
        let mut other_doc = Automerge::new();
        let mut tx = other_doc.transaction();
        tx.put(ROOT, "type", "something-else").unwrap();
        tx.commit();
        let empty_doc = Automerge::new();
        let docs = [
            (index, &index_doc),
            (fetched, &fetched_doc),
            (own, &own_doc),
            (other, &other_doc),
            // Known but still being fetched: no content yet.
            (missing, &empty_doc),
            (empty, &empty_doc),
        ];
        let get = |d: &DocumentId| docs.iter().find(|(i, _)| i == d).map(|(_, a)| *a);
        let loaded: Vec<DocumentId> = docs.iter().map(|(i, _)| *i).collect();
        let known = [fetched, missing, own, other, empty, index];
        let r = reconcile(Some(index), &loaded, &known, &Listed::default(), get).unwrap();
        assert_eq!(r.index, index);
        assert_eq!(r.progress, (1, 3), "only the fetched case has content");
        assert_eq!(r.to_find, vec![unknown]);
        assert_eq!(r.to_delete, vec![], "nothing was listed before");
        let mut listed = vec![fetched, missing, unknown];
        listed.sort_by_key(|d| d.to_string());
        assert_eq!(r.newly_listed, listed);
    }

    #[test]
    fn reconcile_finds_a_local_index_offline_and_never_starts_one() {
        let (case, listed) = (DocumentId::random(), DocumentId::random());
        let index = DocumentId::random();
        let index_doc = index_listing(&[listed]);
        let case_doc = a_case();
        let docs = [(case, &case_doc), (index, &index_doc)];
        let get = |d: &DocumentId| docs.iter().find(|(i, _)| i == d).map(|(_, a)| *a);
        let known = [case, index];
        let none = Listed::default();

        let found = reconcile(None, &[case, index], &known, &none, get).unwrap();
        assert_eq!(found.index, index);
        assert_eq!(found.to_find, vec![listed]);
        assert_eq!(found.to_delete, vec![]);

        // No index among the local documents, or a known id whose document is not here
        // (or not an index): nothing to do, and nothing created.
        assert_eq!(reconcile(None, &[case], &[case], &none, get), None);
        assert_eq!(
            reconcile(Some(DocumentId::random()), &[case], &[case], &none, get),
            None
        );
        assert_eq!(reconcile(Some(case), &[case], &[case], &none, get), None);
    }

    #[test]
    fn reconcile_with_everything_in_step_does_nothing() {
        let case = DocumentId::random();
        let mut dev = Device::new(&[case], &[case]);
        dev.step();
        let r = dev.reconcile().unwrap();
        assert_eq!(r.progress, (1, 1));
        assert!(r.to_find.is_empty() && r.to_delete.is_empty() && r.newly_listed.is_empty());
    }

    #[test]
    fn the_listed_record_round_trips_through_json_and_refuses_anything_else() {
        let index = DocumentId::random();
        let mut l = Listed::default();
        assert_eq!(Listed::from_json(&l.to_json()), Ok(l.clone()));
        l.record(index, &[]);
        assert_eq!(Listed::from_json(&l.to_json()), Ok(l.clone()));
        l.record(index, &[DocumentId::random(), DocumentId::random()]);
        let json = l.to_json();
        assert_eq!(Listed::from_json(&json), Ok(l.clone()));
        let spaced = json
            .replace(',', " ,\n ")
            .replace(':', " : ")
            .replace('[', "[ ");
        assert_eq!(Listed::from_json(&format!("  {spaced} ")), Ok(l.clone()));
        for bad in [
            "",
            "[]",
            "{}",
            &json[..json.len() - 1],
            &format!("{json}x"),
            &json.replace("cases", "kases"),
            "{\"index\":null,\"cases\":[\"not-an-id\"]}",
            "{\"index\":null,\"cases\":[,]}",
        ] {
            assert_eq!(Listed::from_json(bad), Err(ListedUnreadable), "{bad:?}");
        }
    }

    #[test]
    fn an_erased_case_is_deleted_even_if_never_listed_here_and_never_fetched() {
        let (x, offline, kept) = (
            DocumentId::random(),
            DocumentId::random(),
            DocumentId::random(),
        );
        // The device saw x and kept listed; it created `offline` itself, never listed.
        let mut dev = Device::new(&[x, kept], &[x, kept, offline]);
        assert_eq!(dev.step(), vec![]);
        dev.server_edits(|tx| {
            assert!(erase(tx, &x, 10).unwrap());
            assert!(!erase(tx, &x, 11).unwrap(), "recorded once");
            assert!(erase(tx, &offline, 12).unwrap());
        });
        assert_eq!(case_ids(&dev.docs[0].1), vec![kept]);
        let mut erased = vec![x, offline];
        erased.sort_by_key(|d| d.to_string());
        assert_eq!(erased_ids(&dev.docs[0].1), erased);
        let mut deleted = dev.step();
        deleted.sort_by_key(|d| d.to_string());
        assert_eq!(deleted, erased);
        assert_eq!(dev.known(), vec![dev.index, kept]);
        assert_eq!(dev.step(), vec![]);

        // A merge with a stale copy that still lists x (and an x known again, e.g. being
        // fetched): x is neither fetched nor kept.
        let mut stale = index_listing(&[x]);
        let mut merged = dev.docs[0].1.clone();
        merged.merge(&mut stale).unwrap();
        dev.docs[0].1 = merged;
        let r = dev.reconcile().unwrap();
        assert!(!r.to_find.contains(&x));
        dev.docs.push((x, Automerge::new()));
        assert_eq!(dev.reconcile().unwrap().to_delete, vec![x]);
    }

    #[test]
    fn allocations_are_recorded_per_entry_and_rewrites_change_nothing() {
        let mut d = AutoCommit::new();
        init(&mut d).unwrap();
        let x = DocumentId::random();
        let a = Allocation {
            worker: "Invented Worker".into(),
            team: "north".into(),
        };
        assert!(!set_allocation(&mut d, &x, &a).unwrap(), "not listed yet");
        add(&mut d, &x, 1).unwrap();
        assert_eq!(allocation(&d, &x), None);
        assert!(set_allocation(&mut d, &x, &a).unwrap());
        assert_eq!(allocation(&d, &x), Some(a.clone()));
        let heads = d.get_heads();
        set_allocation(&mut d, &x, &a).unwrap();
        d.commit();
        assert_eq!(
            d.get_heads(),
            heads,
            "an unchanged allocation writes nothing"
        );
    }

    #[test]
    fn restricted_entries_are_flagged_and_unflagged() {
        let mut d = AutoCommit::new();
        init(&mut d).unwrap();
        let (x, y) = (DocumentId::random(), DocumentId::random());
        add(&mut d, &x, 1).unwrap();
        assert!(!is_restricted(&d, &x));
        assert!(set_restricted(&mut d, &x, true).unwrap());
        assert!(is_restricted(&d, &x));
        assert!(!set_restricted(&mut d, &y, true).unwrap(), "not listed");
        assert!(!is_restricted(&d, &y));
        let mut other = AutoCommit::load(&d.save()).unwrap();
        assert!(set_restricted(&mut d, &x, false).unwrap());
        assert!(!is_restricted(&d, &x));
        assert_eq!(case_ids(&d), vec![x], "still listed");
        // A copy made while it was restricted, merged back later, does not bring the flag
        // back: the unflagging came after it.
        other.put(ROOT, "unrelated", 1).unwrap();
        d.merge(&mut other).unwrap();
        assert!(
            !is_restricted(&d, &x),
            "the later unflagging wins the merge"
        );
    }

    #[test]
    fn read_only_is_its_own_flag() {
        let mut d = AutoCommit::new();
        init(&mut d).unwrap();
        let x = DocumentId::random();
        add(&mut d, &x, 1).unwrap();
        assert!(!is_read_only(&d, &x));
        assert!(set_read_only(&mut d, &x, true).unwrap());
        assert!(is_read_only(&d, &x) && !is_restricted(&d, &x));
        assert!(set_restricted(&mut d, &x, true).unwrap());
        assert!(set_read_only(&mut d, &x, false).unwrap());
        assert!(!is_read_only(&d, &x) && is_restricted(&d, &x));
    }

    #[test]
    fn remove_takes_a_case_out_of_every_copy_of_the_map() {
        let mut a = AutoCommit::new();
        init(&mut a).unwrap();
        let mut b = AutoCommit::load(&a.save()).unwrap();
        let x = DocumentId::random();
        // Both copies of an index that once got its map twice list x.
        a.put_object(ROOT, "cases", ObjType::Map).unwrap();
        b.put_object(ROOT, "cases", ObjType::Map).unwrap();
        add(&mut a, &x, 1).unwrap();
        add(&mut b, &x, 1).unwrap();
        a.merge(&mut b).unwrap();
        assert_eq!(doc::all_objs(&a, &ROOT, "cases", ObjType::Map).len(), 2);
        assert!(remove(&mut a, &x).unwrap());
        assert_eq!(case_ids(&a), vec![]);
        assert!(!remove(&mut a, &x).unwrap(), "not listed any more");
    }
}
