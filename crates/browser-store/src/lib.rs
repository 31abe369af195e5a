//! The browser's document store: every case document kept in IndexedDB as incremental chunks
//! plus compacted snapshots (the layout the sync engine's [`StorageOp`]s describe), never
//! the whole document rewritten per keystroke.
//!
//! Callers depend on the shared [`Store`] trait only (defined in the engine crate, also
//! implemented by the server's SQLite store), so encryption at rest can wrap a store without
//! touching them.

pub use fieldbook_sync::{Store, StoreError};

pub mod crypto;

#[cfg(target_arch = "wasm32")]
mod idb;
#[cfg(target_arch = "wasm32")]
pub use idb::IdbStore;

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
