//! Fieldbook's sans-IO sync engine, speaking the automerge-repo WebSocket protocol v1.
pub mod ids;
pub mod storage;

pub use ids::{DocumentId, InvalidDocumentId, PeerId, StorageId};
pub use storage::{ChunkKey, ChunkKind, MemoryStore, StorageOp, Store, StoreError, StoredDocument};
pub mod engine;
pub mod guard;
pub mod health;
pub mod order;
pub mod runner;
#[cfg(feature = "story")]
pub mod story;
pub mod wire;

/// Re-exported so callers use the same automerge version as the engine.
pub use automerge;
pub use engine::{
    AccessPolicy, AllowAll, CloseReason, ConnId, Engine, EngineConfig, EngineError, Event,
    Identity, Limits, LoadFailure, Millis, Output, Role, Violation,
};
pub use guard::{GuardError, GuardLimits};
pub use runner::{drain, Commit, Host, Runner, RunnerCell};
pub use wire::{DecodeError, Message, PeerMetadata, PROTOCOL_V1};
