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

use crate::DocumentId;

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
}

impl StorageOp {
    pub fn document(&self) -> &DocumentId {
        match self {
            StorageOp::PutChunk { key, .. } => &key.document,
            StorageOp::Compact { snapshot, .. } => &snapshot.document,
            StorageOp::PutSyncState { document, .. } => document,
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

/// Applies [`StorageOp`]s to a map in memory, with the same semantics as the durable
/// stores. For simulations, tests and throwaway tool peers only: it is not persistence.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore(pub BTreeMap<DocumentId, StoredDocument>);

impl MemoryStore {
    pub fn apply(&mut self, ops: Vec<StorageOp>) {
        for op in ops {
            match op {
                StorageOp::PutChunk { key, data } => {
                    let e = self.0.entry(key.document).or_default();
                    if !e.chunks.iter().any(|(k, _)| *k == key) {
                        e.chunks.push((key, data));
                    }
                }
                StorageOp::Compact {
                    snapshot,
                    data,
                    replaces,
                } => {
                    let e = self.0.entry(snapshot.document).or_default();
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
                    self.0
                        .entry(document)
                        .or_default()
                        .sync_states
                        .insert(peer_storage_id, data);
                }
            }
        }
    }

    pub fn load(&self, doc: &DocumentId) -> Option<StoredDocument> {
        self.0.get(doc).cloned()
    }
}
