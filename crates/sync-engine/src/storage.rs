//! What the engine asks storage to do, in plain data.
//!
//! The engine never touches a disk. It returns [`StorageOp`]s; an adapter (SQLite on the
//! server, IndexedDB in the browser) applies each batch **atomically and durably before**
//! sending the messages produced in the same step. That ordering is what makes "a change
//! is acknowledged only after it is committed" true.
//!
//! Layout (modelled on automerge-repo's storage keys): per document, any number of
//! *incremental* chunks plus at most one live *snapshot*; compaction writes a new snapshot
//! and deletes exactly the chunks it folded in. Chunks are content-addressed (SHA-256 of
//! the bytes), so replaying a batch after a crash is harmless.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::{DocumentId, StorageId};

/// Whether a stored chunk is a compacted whole document or changes since the last save.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChunkKind {
    Snapshot,
    Incremental,
}

impl ChunkKind {
    /// Stable name used as a column value by storage adapters. Do not change.
    pub fn as_str(self) -> &'static str {
        match self {
            ChunkKind::Snapshot => "snapshot",
            ChunkKind::Incremental => "incremental",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "snapshot" => Some(ChunkKind::Snapshot),
            "incremental" => Some(ChunkKind::Incremental),
            _ => None,
        }
    }
}

/// Identifies one chunk of one document.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChunkKey {
    pub document: DocumentId,
    pub kind: ChunkKind,
    /// Lower-case hex SHA-256 of the chunk bytes.
    pub hash: String,
}

impl ChunkKey {
    pub fn for_data(document: DocumentId, kind: ChunkKind, data: &[u8]) -> Self {
        use sha2::Digest;
        ChunkKey {
            document,
            kind,
            hash: hex::encode(sha2::Sha256::digest(data)),
        }
    }
}

/// One storage mutation. A `Vec<StorageOp>` returned from one engine step is one transaction.
#[derive(Clone, PartialEq, Eq)]
pub enum StorageOp {
    /// Store a chunk (idempotent: same key means same bytes).
    PutChunk { key: ChunkKey, data: Vec<u8> },
    /// Store `snapshot` and delete `replaces`, atomically. Chunks not listed stay: a change
    /// saved concurrently with compaction is never dropped.
    Compact {
        snapshot: ChunkKey,
        data: Vec<u8>,
        replaces: Vec<ChunkKey>,
    },
    /// Remember how far we got syncing `document` with the peer whose storage is `peer_storage_id`.
    PutSyncState {
        document: DocumentId,
        peer_storage_id: String,
        data: Vec<u8>,
    },
    /// Delete the sync state remembered for `peer_storage_id` (the engine keeps a bounded
    /// number per document). Deleting one that is not there is not an error.
    ForgetSyncState {
        document: DocumentId,
        peer_storage_id: String,
    },
    /// Delete everything stored for `document`: every chunk, the snapshot and every sync
    /// state (the document is no longer kept here: access lost, or erased). Ops apply in
    /// order, so writes to `document` later in the same transaction start it afresh.
    /// Deleting a document that is not there is not an error.
    DeleteDocument { document: DocumentId },
}

impl StorageOp {
    /// Whether this records only how far a peer got, not document content. A deletion is
    /// content: what a page shows changes.
    pub fn is_sync_progress(&self) -> bool {
        matches!(self, StorageOp::PutSyncState { .. })
    }

    pub fn document(&self) -> &DocumentId {
        match self {
            StorageOp::PutChunk { key, .. } => &key.document,
            StorageOp::Compact { snapshot, .. } => &snapshot.document,
            StorageOp::PutSyncState { document, .. }
            | StorageOp::ForgetSyncState { document, .. }
            | StorageOp::DeleteDocument { document } => document,
        }
    }
}

// Chunk bytes are case data: Debug shows sizes, never content.
impl std::fmt::Debug for StorageOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StorageOp::PutChunk { key, data } => f
                .debug_struct("PutChunk")
                .field("key", key)
                .field("bytes", &data.len())
                .finish(),
            StorageOp::Compact {
                snapshot,
                data,
                replaces,
            } => f
                .debug_struct("Compact")
                .field("snapshot", snapshot)
                .field("bytes", &data.len())
                .field("replaces", &replaces.len())
                .finish(),
            StorageOp::PutSyncState {
                document,
                peer_storage_id,
                data,
            } => f
                .debug_struct("PutSyncState")
                .field("document", document)
                .field("peer_storage_id", peer_storage_id)
                .field("bytes", &data.len())
                .finish(),
            StorageOp::ForgetSyncState {
                document,
                peer_storage_id,
            } => f
                .debug_struct("ForgetSyncState")
                .field("document", document)
                .field("peer_storage_id", peer_storage_id)
                .finish(),
            StorageOp::DeleteDocument { document } => f
                .debug_struct("DeleteDocument")
                .field("document", document)
                .finish(),
        }
    }
}

/// Everything stored for one document, as handed back to the engine on load.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct StoredDocument {
    /// Every chunk (snapshot and incremental) with its key; order does not matter.
    pub chunks: Vec<(ChunkKey, Vec<u8>)>,
    /// Persisted sync states keyed by the remote peer's storage id.
    pub sync_states: BTreeMap<String, Vec<u8>>,
}

impl StoredDocument {
    /// The chunks as one document: snapshot first, then incrementals, loaded in one strict
    /// pass, so a damaged chunk is an error where `load_incremental` would skip it with only
    /// a warning, and so is a change whose history is in no chunk. Several snapshots (nodes
    /// sharing a store compact concurrently) are read like any chunks. `None` when no chunk
    /// holds any bytes.
    pub fn to_automerge(&self) -> Result<Option<automerge::Automerge>, automerge::AutomergeError> {
        let mut chunks: Vec<&(ChunkKey, Vec<u8>)> = self.chunks.iter().collect();
        crate::order::sort_by_key(&mut chunks, |(k, _)| k.kind);
        let all: Vec<u8> = chunks
            .iter()
            .flat_map(|(_, data)| data.iter().copied())
            .collect();
        if all.is_empty() {
            return Ok(None);
        }
        let opts = automerge::LoadOptions::new().on_partial_load(automerge::OnPartialLoad::Error);
        let am = automerge::Automerge::load_with_options(&all, opts)?;
        // Automerge keeps changes whose history is missing out of the document (when the
        // first chunk is a snapshot it does not even report them): a chunk was deleted that
        // something stored still needs.
        if !automerge::ReadDoc::get_missing_deps(&am, &[]).is_empty() {
            return Err(automerge::AutomergeError::MissingDeps);
        }
        Ok(Some(am))
    }
}

impl std::fmt::Debug for StoredDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredDocument")
            .field("chunks", &self.chunks.len())
            .field(
                "bytes",
                &self.chunks.iter().map(|(_, d)| d.len()).sum::<usize>(),
            )
            .field("sync_states", &self.sync_states.len())
            .finish()
    }
}

/// Why storage could not do what was asked. One type for every back end (SQLite and
/// PostgreSQL on the server, IndexedDB on a device, memory in tests), so the runner and the
/// engine treat failures alike; each message says what a person can do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage is full: free some space (or raise the database size limit), then retry")]
    Full,
    #[error("no durable storage is available: {0}")]
    Unavailable(String),
    #[error(
        "{path} is corrupt or is not a Fieldbook store: restore it from backup or move it aside"
    )]
    Corrupt { path: String },
    #[error("{path} is locked by another process: is a second server running on the same data directory?")]
    Locked { path: String },
    #[error("{path} was written by a newer Fieldbook (schema {found}, this build knows {known}): upgrade first")]
    NewerSchema {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("stored record is invalid: {0}")]
    InvalidRecord(String),
    #[error("cannot create {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("storage error: {0}")]
    Backend(String),
}

/// Durable storage for documents: the one trait every back end implements and the
/// [`crate::runner`] drives. `apply` is one transaction: `Ok` means every operation is
/// durable, `Err` means none is. Futures are not required to be `Send` (IndexedDB futures
/// are not); the server runs its single sync actor on one thread, so nothing needs them to be.
#[allow(async_fn_in_trait)]
pub trait Store {
    /// This store's own id, created at first open; advertised to peers as our `storageId`.
    fn storage_id(&self) -> &StorageId;
    /// Everything stored for `doc`, or `None` if nothing is.
    async fn load(&self, doc: DocumentId) -> Result<Option<StoredDocument>, StoreError>;
    /// Apply all `ops`, in order, in one transaction.
    async fn apply(&self, ops: Vec<StorageOp>) -> Result<(), StoreError>;
    /// Ids of every stored document.
    async fn list_documents(&self) -> Result<Vec<DocumentId>, StoreError>;
    /// A small named setting (e.g. the caseload index id, a device's display name), kept
    /// apart from the store's own bookkeeping: no key can overwrite the storage id.
    async fn get_setting(&self, key: &str) -> Result<Option<String>, StoreError>;
    async fn put_setting(&self, key: &str, value: &str) -> Result<(), StoreError>;
}

macro_rules! forward_store {
    ($($ty:ty),*) => {$(
        impl<S: Store + ?Sized> Store for $ty {
            fn storage_id(&self) -> &StorageId {
                (**self).storage_id()
            }
            async fn load(&self, doc: DocumentId) -> Result<Option<StoredDocument>, StoreError> {
                (**self).load(doc).await
            }
            async fn apply(&self, ops: Vec<StorageOp>) -> Result<(), StoreError> {
                (**self).apply(ops).await
            }
            async fn list_documents(&self) -> Result<Vec<DocumentId>, StoreError> {
                (**self).list_documents().await
            }
            async fn get_setting(&self, key: &str) -> Result<Option<String>, StoreError> {
                (**self).get_setting(key).await
            }
            async fn put_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
                (**self).put_setting(key, value).await
            }
        }
    )*};
}
forward_store!(&S, std::rc::Rc<S>, std::sync::Arc<S>);

/// [`Store`] in memory, with the same semantics as the durable stores. For simulations,
/// tests and throwaway tool peers only: it is not persistence. Clones share one map.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    storage_id: StorageId,
    inner: Arc<Mutex<MemoryInner>>,
}

#[derive(Debug, Default)]
struct MemoryInner {
    docs: BTreeMap<DocumentId, StoredDocument>,
    settings: BTreeMap<String, String>,
    /// Test hook: the next this many `apply` calls fail (nothing applied).
    fail_applies: usize,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new(StorageId::random())
    }
}

impl MemoryStore {
    pub fn new(storage_id: StorageId) -> Self {
        MemoryStore {
            storage_id,
            inner: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryInner> {
        // A panic elsewhere while holding the lock leaves the map as it was between
        // operations (each op is applied whole), so the data is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Make the next `n` transactions fail, as a full or broken disk would (for tests).
    pub fn fail_next_applies(&self, n: usize) {
        self.lock().fail_applies = n;
    }

    /// What is stored for `doc` right now (synchronous, for tests and simulations).
    pub fn snapshot(&self, doc: &DocumentId) -> Option<StoredDocument> {
        self.lock().docs.get(doc).cloned()
    }

    /// Every stored document id (synchronous, for tests and simulations).
    pub fn document_ids(&self) -> Vec<DocumentId> {
        self.lock().docs.keys().copied().collect()
    }

    /// [`Store::apply`] without a future (for synchronous simulations).
    pub fn apply_now(&self, ops: Vec<StorageOp>) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if inner.fail_applies > 0 {
            inner.fail_applies -= 1;
            return Err(StoreError::Backend("injected failure".into()));
        }
        for op in ops {
            apply_op(&mut inner.docs, op);
        }
        Ok(())
    }
}

fn apply_op(docs: &mut BTreeMap<DocumentId, StoredDocument>, op: StorageOp) {
    match op {
        StorageOp::PutChunk { key, data } => {
            let e = docs.entry(key.document).or_default();
            if !e.chunks.iter().any(|(k, _)| *k == key) {
                e.chunks.push((key, data));
            }
        }
        StorageOp::Compact {
            snapshot,
            data,
            replaces,
        } => {
            let e = docs.entry(snapshot.document).or_default();
            e.chunks
                .retain(|(k, _)| !replaces.contains(k) || *k == snapshot);
            if !e.chunks.iter().any(|(k, _)| *k == snapshot) {
                e.chunks.push((snapshot, data));
            }
        }
        StorageOp::PutSyncState {
            document,
            peer_storage_id,
            data,
        } => {
            docs.entry(document)
                .or_default()
                .sync_states
                .insert(peer_storage_id, data);
        }
        StorageOp::ForgetSyncState {
            document,
            peer_storage_id,
        } => {
            if let Some(e) = docs.get_mut(&document) {
                e.sync_states.remove(&peer_storage_id);
            }
        }
        StorageOp::DeleteDocument { document } => {
            docs.remove(&document);
        }
    }
}

impl Store for MemoryStore {
    fn storage_id(&self) -> &StorageId {
        &self.storage_id
    }
    async fn load(&self, doc: DocumentId) -> Result<Option<StoredDocument>, StoreError> {
        Ok(self.snapshot(&doc))
    }
    async fn apply(&self, ops: Vec<StorageOp>) -> Result<(), StoreError> {
        self.apply_now(ops)
    }
    async fn list_documents(&self) -> Result<Vec<DocumentId>, StoreError> {
        Ok(self.document_ids())
    }
    async fn get_setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.lock().settings.get(key).cloned())
    }
    async fn put_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.lock().settings.insert(key.into(), value.into());
        Ok(())
    }
}
