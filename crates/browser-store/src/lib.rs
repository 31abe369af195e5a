//! The browser's document store: every case document kept in IndexedDB as incremental chunks
//! plus compacted snapshots (the layout the sync engine's [`StorageOp`]s describe), never
//! the whole document rewritten per keystroke.
//!
//! Callers depend on the shared [`Store`] trait only (defined in the engine crate, also
//! implemented by the server's SQLite store).
//!
//! Encrypted at rest: the database is opened [`Locked`] (no key), and only a passcode (or the
//! key the server holds for this device) turns it into an [`IdbStore`], whose every chunk,
//! sync state and setting is sealed with the device's data key ([`crypto`]). Readable while
//! locked: the storage id, the [`crypto::Keyring`] (wrapped keys only) and the [`LockFacts`].

use fieldbook_sync::DocumentId;
pub use fieldbook_sync::{Store, StoreError};
use serde::{Deserialize, Serialize};

pub mod crypto;

#[cfg(target_arch = "wasm32")]
mod idb;
#[cfg(target_arch = "wasm32")]
pub use idb::{IdbStore, Locked};

/// What the app needs to know while the store is locked, stored in plain form: ids and
/// counters only, never case content.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LockFacts {
    /// Wrong passcodes since the last right one (persisted before the answer is given).
    #[serde(default)]
    pub failed_attempts: u32,
    /// When this device last reached the server (ms since the epoch), for the offline lease.
    #[serde(default)]
    pub last_contact_ms: Option<f64>,
    /// Documents with changes the server has not acknowledged: never wiped silently.
    #[serde(default, with = "document_ids")]
    pub unsent: Vec<DocumentId>,
    /// The server's device policy, as the JSON text the app stored (opaque here).
    #[serde(default)]
    pub policy: Option<String>,
}

impl LockFacts {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("lock facts always serialize")
    }

    pub fn from_json(json: &str) -> Result<LockFacts, serde_json::Error> {
        serde_json::from_str(json)
    }
}

mod document_ids {
    use fieldbook_sync::DocumentId;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(ids: &[DocumentId], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(ids.iter().map(|id| id.to_string()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<DocumentId>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|text| text.parse().map_err(serde::de::Error::custom))
            .collect()
    }
}

/// Why a [`Locked`] store did not unlock. The store comes back with it, still locked.
#[derive(Debug, thiserror::Error)]
pub enum UnlockError {
    /// The count already includes this attempt and is persisted.
    #[error("wrong passcode ({failed_attempts} failed attempts in a row)")]
    WrongPasscode { failed_attempts: u32 },
    #[error("the passcode was forgotten on this device: unlock through the server")]
    NoPasscode,
    #[error("this device's store has no keyring yet: create one")]
    NoKeyring,
    #[error("this device has no server-held key")]
    NoServerKey,
    #[error("the server's key for this device does not open its keyring")]
    WrongServerKey,
    #[error(transparent)]
    Crypto(crypto::CryptoError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<crypto::CryptoError> for UnlockError {
    fn from(e: crypto::CryptoError) -> Self {
        use crypto::CryptoError as C;
        match e {
            C::NoPasscode => UnlockError::NoPasscode,
            C::NoServerKey => UnlockError::NoServerKey,
            C::WrongServerKey => UnlockError::WrongServerKey,
            other => UnlockError::Crypto(other),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_facts_round_trip_and_old_records_still_read() {
        let facts = LockFacts {
            failed_attempts: 3,
            last_contact_ms: Some(1.7e12),
            unsent: vec![DocumentId::random(), DocumentId::random()],
            policy: Some("{\"max_attempts\":5}".into()),
        };
        let back = LockFacts::from_json(&facts.to_json()).unwrap();
        assert_eq!(back, facts);
        assert_eq!(LockFacts::from_json("{}").unwrap(), LockFacts::default());
        assert!(LockFacts::from_json("{\"unsent\":[\"not-an-id\"]}").is_err());
    }
}
