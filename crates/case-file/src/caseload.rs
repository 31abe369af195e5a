//! The caseload index: one document per server that lists every case document, so a device
//! that has never seen a case learns it exists (and can show progress while fetching them).
//!
//! Its id is derived from the server's storage id ([`index_id`]), which every peer learns
//! in the protocol's `peer` message: no extra endpoint, and it works with the server's
//! storage alone. Only the server creates it (at start-up); devices only find and add to it,
//! so there is never a second, competing `cases` map.
//!
//! Layout: `{ type: "fieldbook-caseload", cases: { "<document id>": { added: <ms> } } }`.
//! Cases are map keys, not list items: two devices adding cases offline both survive the
//! merge, and adding the same case twice is one entry.

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
    ids.sort_by_key(|id| id.to_string());
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

/// What a device does about the caseload index after its documents change ([`reconcile`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconcile {
    /// The index (learnt from the server, or found among the local documents).
    pub index: DocumentId,
    /// Cases listed in the index that hold content on this device, and how many it lists.
    pub progress: (usize, usize),
    /// Listed cases this device does not know yet: fetch them.
    pub to_find: Vec<DocumentId>,
    /// Cases on this device the index does not list: add them (one change to the index).
    pub to_list: Vec<DocumentId>,
}

/// Decide what to fetch and what to list. `index` is the server's index if known (from its
/// storage id); else, offline since install, whichever `loaded` document is one. `known`
/// is every case this device knows of; `doc` reads a loaded document.
///
/// `None` while there is no index with content here: a device only ever edits an index
/// that came from the server, so it never starts a competing one.
pub fn reconcile<'a>(
    index: Option<DocumentId>,
    loaded: &[DocumentId],
    known: &[DocumentId],
    doc: impl Fn(&DocumentId) -> Option<&'a Automerge>,
) -> Option<Reconcile> {
    let index = index.or_else(|| {
        loaded
            .iter()
            .copied()
            .find(|d| doc(d).is_some_and(is_caseload))
    })?;
    let listed = doc(&index).filter(|d| is_caseload(*d)).map(case_ids)?;
    // Runs after every batch (each keystroke): sets keep it linear in the caseload.
    let known_set: BTreeSet<DocumentId> = known.iter().copied().collect();
    let listed_set: BTreeSet<DocumentId> = listed.iter().copied().collect();
    let has_content = |d: &DocumentId| doc(d).is_some_and(|a| !a.get_heads().is_empty());
    Some(Reconcile {
        index,
        progress: (
            listed.iter().filter(|d| has_content(d)).count(),
            listed.len(),
        ),
        to_find: listed
            .iter()
            .filter(|d| !known_set.contains(d))
            .copied()
            .collect(),
        to_list: known_set
            .iter()
            .filter(|d| !listed_set.contains(d) && **d != index)
            .filter(|d| doc(d).is_some_and(crate::is_case))
            .copied()
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
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

    #[test]
    fn reconcile_fetches_what_is_listed_and_lists_own_cases() {
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
        let r = reconcile(Some(index), &loaded, &known, get).unwrap();
        assert_eq!(r.index, index);
        assert_eq!(r.progress, (1, 3), "only the fetched case has content");
        assert_eq!(r.to_find, vec![unknown]);
        assert_eq!(
            r.to_list,
            vec![own],
            "not the index, not a non-case, not empty"
        );
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

        let found = reconcile(None, &[case, index], &known, get).unwrap();
        assert_eq!(found.index, index);
        assert_eq!(found.to_list, vec![case]);
        assert_eq!(found.to_find, vec![listed]);

        // No index among the local documents, or a known id whose document is not here
        // (or not an index): nothing to do, and nothing created.
        assert_eq!(reconcile(None, &[case], &[case], get), None);
        assert_eq!(
            reconcile(Some(DocumentId::random()), &[case], &[case], get),
            None
        );
        assert_eq!(reconcile(Some(case), &[case], &[case], get), None);
    }

    #[test]
    fn reconcile_with_everything_in_step_does_nothing() {
        let case = DocumentId::random();
        let index = DocumentId::random();
        let index_doc = index_listing(&[case]);
        let case_doc = a_case();
        let docs = [(case, &case_doc), (index, &index_doc)];
        let get = |d: &DocumentId| docs.iter().find(|(i, _)| i == d).map(|(_, a)| *a);
        let r = reconcile(Some(index), &[case, index], &[case, index], get).unwrap();
        assert_eq!(r.progress, (1, 1));
        assert!(r.to_find.is_empty() && r.to_list.is_empty());
    }
}
