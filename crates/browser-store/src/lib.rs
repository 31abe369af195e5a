//! The browser's document store: every case document kept in IndexedDB as incremental chunks
//! plus compacted snapshots (the layout the sync engine's [`StorageOp`]s describe), never
//! the whole document rewritten per keystroke.
//!
//! Callers depend on the [`LocalStore`] trait only, so encryption at rest can wrap a store
//! without touching them.

use std::future::Future;

use fieldbook_sync::{DocumentId, StorageId, StorageOp, StoredDocument};

#[cfg(target_arch = "wasm32")]
mod idb;
#[cfg(target_arch = "wasm32")]
pub use idb::IdbStore;

#[derive(Debug, thiserror::Error)]
pub enum LocalStoreError {
    #[error("this browser has no IndexedDB (private mode or disabled storage?)")]
    Unavailable,
    #[error("the device's storage is full: free some space, then retry")]
    QuotaExceeded,
    #[error("IndexedDB error: {0}")]
    Idb(String),
    #[error("stored record is invalid: {0}")]
    InvalidRecord(String),
}

/// Durable local storage for documents. `apply` is one transaction: when it returns `Ok`
/// the writes are committed; on `Err` none of them are. The operations may come from several
/// engine outputs (the app commits everything queued together) and are applied in order.
/// `IdbStore` issues the whole write on the future's first poll, so a caller that polls it
/// at once has handed the write to the browser before doing anything else.
pub trait LocalStore {
    fn storage_id(&self) -> &StorageId;
    fn load(
        &self,
        doc: DocumentId,
    ) -> impl Future<Output = Result<Option<StoredDocument>, LocalStoreError>>;
    fn apply(&self, ops: Vec<StorageOp>) -> impl Future<Output = Result<(), LocalStoreError>>;
    fn list_documents(&self) -> impl Future<Output = Result<Vec<DocumentId>, LocalStoreError>>;
    /// A small named setting kept on this device (e.g. the practitioner's display name).
    fn get_setting(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<String>, LocalStoreError>>;
    fn put_setting(
        &self,
        key: &str,
        value: &str,
    ) -> impl Future<Output = Result<(), LocalStoreError>>;
}

/// Record keys: `<document id>/<kind>/<hash>` for chunks and `<document id>/<peer storage
/// id>` for sync states. Document ids are bs58 (no `/`), so a document's records form one
/// contiguous key range.
pub mod keys {
    use fieldbook_sync::{ChunkKey, ChunkKind, DocumentId};

    pub fn chunk(k: &ChunkKey) -> String {
        format!("{}/{}/{}", k.document, k.kind.as_str(), k.hash)
    }

    pub fn sync_state(doc: &DocumentId, peer: &str) -> String {
        format!("{doc}/{peer}")
    }

    /// Bounds covering every key of `doc`.
    pub fn range(doc: &DocumentId) -> (String, String) {
        (format!("{doc}/"), format!("{doc}/\u{ffff}"))
    }

    pub fn parse_chunk(key: &str) -> Option<ChunkKey> {
        let mut parts = key.splitn(3, '/');
        let document: DocumentId = parts.next()?.parse().ok()?;
        let kind = ChunkKind::parse(parts.next()?)?;
        let hash = parts.next()?.to_owned();
        Some(ChunkKey {
            document,
            kind,
            hash,
        })
    }

    pub fn parse_sync_state(key: &str) -> Option<(DocumentId, String)> {
        let (doc, peer) = key.split_once('/')?;
        Some((doc.parse().ok()?, peer.to_owned()))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn keys_round_trip_and_stay_in_their_document_range() {
            let doc = DocumentId::random();
            let k = ChunkKey::for_data(doc, ChunkKind::Incremental, b"x");
            assert_eq!(parse_chunk(&chunk(&k)), Some(k.clone()));
            assert_eq!(
                parse_sync_state(&sync_state(&doc, "peer-1")),
                Some((doc, "peer-1".into()))
            );
            let (lo, hi) = range(&doc);
            for key in [chunk(&k), sync_state(&doc, "zzz")] {
                assert!(lo <= key && key < hi, "{key} outside [{lo}, {hi})");
            }
            let other = DocumentId::random();
            let foreign = chunk(&ChunkKey::for_data(other, ChunkKind::Snapshot, b"y"));
            assert!(
                !(lo <= foreign && foreign < hi),
                "{foreign} inside another document's range"
            );
        }
    }
}
