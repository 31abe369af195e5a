//! [`Store`] on IndexedDB through `indexed_db_futures`.

use fieldbook_sync::{DocumentId, StorageId, StorageOp, StoredDocument};
use indexed_db_futures::database::Database;
use indexed_db_futures::internals::SystemRepr;
use indexed_db_futures::object_store::ObjectStore;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::{TransactionDurability, TransactionMode, TransactionOptions};
use indexed_db_futures::typed_array::Uint8Array;
use indexed_db_futures::KeyRange;

use crate::{keys, Store, StoreError};

const CHUNKS: &str = "chunks";
const SYNC_STATES: &str = "sync_states";
const META: &str = "meta";
/// Settings share the meta store with the storage id, under their own prefix.
const SETTING_PREFIX: &str = "setting:";

pub struct IdbStore {
    db: Database,
    storage_id: StorageId,
}

impl std::fmt::Debug for IdbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdbStore")
            .field("db", &self.db.name())
            .finish()
    }
}

fn idb_err(e: impl std::fmt::Display) -> StoreError {
    let text = e.to_string();
    if text.contains("QuotaExceeded") {
        StoreError::Full
    } else {
        StoreError::Backend(text)
    }
}

impl IdbStore {
    /// Open (creating on first use) the database `name`.
    pub async fn open(name: &str) -> Result<IdbStore, StoreError> {
        let db = Database::open(name)
            .with_version(1u8)
            .with_on_upgrade_needed(|_, db| {
                db.create_object_store(CHUNKS).build()?;
                db.create_object_store(SYNC_STATES).build()?;
                db.create_object_store(META).build()?;
                Ok(())
            })
            .await
            .map_err(idb_err)?;
        let tx = db
            .transaction(META)
            .with_mode(TransactionMode::Readwrite)
            .build()
            .map_err(idb_err)?;
        let meta = tx.object_store(META).map_err(idb_err)?;
        let existing: Option<String> = meta
            .get("storage_id")
            .primitive()
            .map_err(idb_err)?
            .await
            .map_err(idb_err)?;
        let storage_id = match existing {
            Some(id) => StorageId(id),
            None => {
                let id = StorageId::random();
                meta.put(id.0.clone())
                    .with_key("storage_id")
                    .await
                    .map_err(idb_err)?;
                id
            }
        };
        tx.commit().await.map_err(idb_err)?;
        Ok(IdbStore { db, storage_id })
    }

    /// Close the connection (IndexedDB keeps it open until told, even when dropped).
    pub fn close(self) {
        self.db.close();
    }

    /// Close the connection and delete the whole database ("wipe this device", tests).
    pub async fn delete(self) -> Result<(), StoreError> {
        self.db.delete().map_err(idb_err)?.await.map_err(idb_err)
    }

    /// Close the connection while the handle is still shared (the app's runner holds it):
    /// every later request through it fails. Needed before [`IdbStore::delete_database`],
    /// which waits until every connection to the database has closed.
    pub fn close_connection(&self) {
        self.db.as_sys().close();
    }

    /// Delete the database `name` (when someone else signs in on a device whose last
    /// person's changes have all been sent). Every connection to it must be closed first,
    /// including this page's ([`IdbStore::close_connection`]): the browser holds the deletion
    /// until they are.
    pub async fn delete_database(name: &str) -> Result<(), StoreError> {
        Database::delete_by_name(name)
            .map_err(idb_err)?
            .await
            .map_err(idb_err)
    }
}

impl Store for IdbStore {
    fn storage_id(&self) -> &StorageId {
        &self.storage_id
    }

    async fn get_setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        let tx = self.db.transaction(META).build().map_err(idb_err)?;
        let meta = tx.object_store(META).map_err(idb_err)?;
        meta.get(format!("{SETTING_PREFIX}{key}"))
            .primitive()
            .map_err(idb_err)?
            .await
            .map_err(idb_err)
    }

    async fn put_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction(META)
            .with_mode(TransactionMode::Readwrite)
            .build()
            .map_err(idb_err)?;
        let meta = tx.object_store(META).map_err(idb_err)?;
        meta.put(value.to_owned())
            .with_key(format!("{SETTING_PREFIX}{key}"))
            .await
            .map_err(idb_err)?;
        tx.commit().await.map_err(idb_err)
    }

    async fn load(&self, doc: DocumentId) -> Result<Option<StoredDocument>, StoreError> {
        let (lo, hi) = keys::range(&doc);
        // One read transaction: chunks and sync states are seen at the same instant.
        let tx = self
            .db
            .transaction([CHUNKS, SYNC_STATES])
            .build()
            .map_err(idb_err)?;
        let mut stored = StoredDocument::default();
        let chunks = tx.object_store(CHUNKS).map_err(idb_err)?;
        for (k, v) in read_range(&chunks, &lo, &hi).await? {
            let key = keys::parse_chunk(&k)
                .ok_or_else(|| StoreError::InvalidRecord(format!("chunk key {k:?}")))?;
            stored.chunks.push((key, v));
        }
        let states = tx.object_store(SYNC_STATES).map_err(idb_err)?;
        for (k, v) in read_range(&states, &lo, &hi).await? {
            let (_, peer) = keys::parse_sync_state(&k)
                .ok_or_else(|| StoreError::InvalidRecord(format!("sync state key {k:?}")))?;
            stored.sync_states.insert(peer, v);
        }
        if stored.chunks.is_empty() && stored.sync_states.is_empty() {
            return Ok(None);
        }
        Ok(Some(stored))
    }

    /// One readwrite transaction for all of `ops`, applied in order. Every request is issued
    /// and the commit requested before the future first waits, so once the caller has polled
    /// it the whole write is with the browser's storage backend: no round trip to this page
    /// per request (each would wait behind rendering and other tasks). A failing request
    /// aborts the transaction, and the commit reports it.
    // The request futures are dropped on purpose (see below): the request is issued when it
    // is built, and the commit reports its outcome.
    #[allow(clippy::let_underscore_future)]
    async fn apply(&self, ops: Vec<StorageOp>) -> Result<(), StoreError> {
        if ops.is_empty() {
            return Ok(());
        }
        // Relaxed (the default in Chromium since 121, Firefox and Safari, stated here so older
        // Chromium behaves the same): `complete` fires once the write has reached the OS, so
        // it survives the browser or tab being killed; only power loss or an OS crash within
        // the OS's flush interval can lose it. No fsync per keystroke.
        let tx = self
            .db
            .transaction([CHUNKS, SYNC_STATES])
            .with_mode(TransactionMode::Readwrite)
            .with_options(TransactionOptions::new().with_durability(TransactionDurability::Relaxed))
            .build()
            .map_err(idb_err)?;
        // Kept to read why the transaction aborted (e.g. quota) once `commit` has taken it.
        let raw = tx.as_sys().clone();
        {
            let chunks = tx.object_store(CHUNKS).map_err(idb_err)?;
            let states = tx.object_store(SYNC_STATES).map_err(idb_err)?;
            for op in ops {
                // Each request's own future is dropped unawaited: the transaction runs the
                // requests in order, and `commit` below resolves only if all succeeded.
                match op {
                    StorageOp::PutChunk { key, data } => {
                        drop(
                            chunks
                                .put(Uint8Array::from(data))
                                .with_key(keys::chunk(&key))
                                .primitive()
                                .map_err(idb_err)?,
                        );
                    }
                    StorageOp::Compact {
                        snapshot,
                        data,
                        replaces,
                    } => {
                        drop(
                            chunks
                                .put(Uint8Array::from(data))
                                .with_key(keys::chunk(&snapshot))
                                .primitive()
                                .map_err(idb_err)?,
                        );
                        for k in replaces.iter().filter(|k| **k != snapshot) {
                            drop(chunks.delete(keys::chunk(k)).primitive().map_err(idb_err)?);
                        }
                    }
                    StorageOp::PutSyncState {
                        document,
                        peer_storage_id,
                        data,
                    } => {
                        drop(
                            states
                                .put(Uint8Array::from(data))
                                .with_key(keys::sync_state(&document, &peer_storage_id))
                                .primitive()
                                .map_err(idb_err)?,
                        );
                    }
                    StorageOp::ForgetSyncState {
                        document,
                        peer_storage_id,
                    } => {
                        drop(
                            states
                                .delete(keys::sync_state(&document, &peer_storage_id))
                                .primitive()
                                .map_err(idb_err)?,
                        );
                    }
                    StorageOp::DeleteDocument { document } => {
                        // A document's records are one key range in each store (see `keys`).
                        let (lo, hi) = keys::range(&document);
                        let range = || KeyRange::Bound(lo.clone(), false, hi.clone(), false);
                        drop(
                            chunks
                                .delete::<String, _>(range())
                                .primitive()
                                .map_err(idb_err)?,
                        );
                        drop(
                            states
                                .delete::<String, _>(range())
                                .primitive()
                                .map_err(idb_err)?,
                        );
                    }
                }
            }
        }
        // Dropping an uncommitted transaction rolls it back: commit is the durability point.
        tx.commit().await.map_err(|e| match raw.error() {
            Some(cause) => idb_err(format!("{}: {}", cause.name(), cause.message())),
            None => idb_err(e),
        })
    }

    async fn list_documents(&self) -> Result<Vec<DocumentId>, StoreError> {
        let tx = self.db.transaction(CHUNKS).build().map_err(idb_err)?;
        let all: Vec<String> = tx
            .object_store(CHUNKS)
            .map_err(idb_err)?
            .get_all_keys()
            .primitive()
            .map_err(idb_err)?
            .await
            .map_err(idb_err)?
            .collect::<Result<_, _>>()
            .map_err(idb_err)?;
        let mut docs: Vec<DocumentId> = all
            .iter()
            .filter_map(|k| keys::parse_chunk(k))
            .map(|k| k.document)
            .collect();
        docs.dedup();
        Ok(docs)
    }
}

/// Every (key, bytes) record of `store` with a key in `[lo, hi]`, in key order.
async fn read_range(
    store: &ObjectStore<'_>,
    lo: &str,
    hi: &str,
) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
    let range = || KeyRange::Bound(lo.to_owned(), false, hi.to_owned(), false);
    let keys: Vec<String> = store
        .get_all_keys()
        .with_query::<String, _>(range())
        .primitive()
        .map_err(idb_err)?
        .await
        .map_err(idb_err)?
        .collect::<Result<_, _>>()
        .map_err(idb_err)?;
    let values: Vec<Uint8Array> = store
        .get_all()
        .with_query::<String, _>(range())
        .primitive()
        .map_err(idb_err)?
        .await
        .map_err(idb_err)?
        .collect::<Result<_, _>>()
        .map_err(idb_err)?;
    if keys.len() != values.len() {
        return Err(StoreError::Backend(format!(
            "{} keys but {} values in one range",
            keys.len(),
            values.len()
        )));
    }
    Ok(keys
        .into_iter()
        .zip(values.into_iter().map(|v| v.as_ref().to_vec()))
        .collect())
}
