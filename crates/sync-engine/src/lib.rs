//! Fieldbook's sans-IO sync engine, speaking the automerge-repo WebSocket protocol v1.
pub mod ids;
pub mod storage;

pub use ids::{DocumentId, InvalidDocumentId, PeerId, StorageId};
pub use storage::{ChunkKey, ChunkKind, StorageOp, StoredDocument};
