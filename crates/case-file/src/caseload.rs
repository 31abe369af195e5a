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

use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::{AutomergeError, ObjType, ReadDoc, ScalarValue, ROOT};
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
}
