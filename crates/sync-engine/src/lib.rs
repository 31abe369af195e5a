//! Fieldbook's sans-IO sync engine, speaking the automerge-repo WebSocket protocol v1.
pub mod ids;
pub mod storage;

pub use ids::{DocumentId, InvalidDocumentId, PeerId, StorageId};
pub use storage::{ChunkKey, ChunkKind, MemoryStore, StorageOp, Store, StoreError, StoredDocument};
pub mod engine;
pub mod guard;
pub mod health;
pub mod wire;

/// Re-exported so callers use the same automerge version as the engine.
pub use automerge;
pub use engine::{
    AccessPolicy, AllowAll, ConnId, Engine, EngineConfig, EngineError, Event, Identity, Millis,
    Output, Role,
};
pub use guard::{GuardError, GuardLimits};
pub use wire::{DecodeError, Message, PeerMetadata, PROTOCOL_V1};
