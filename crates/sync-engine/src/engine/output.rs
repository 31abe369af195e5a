//! What one engine step asks the driver to do, and what it reports.

use std::collections::BTreeSet;

use std::sync::Arc;

use automerge::AutomergeError;

use super::ConnId;
use crate::storage::{StorageOp, StoreError};
use crate::wire::{DecodeError, Message};
use crate::{DocumentId, PeerId, StorageId};

/// What a peer is told when its changes could not be stored; it keeps them and retries.
pub const STORAGE_ERROR: &str = "storage error on the server; try again later";

/// How a peer broke the protocol (or a limit). The text is sent to the peer in an `error`
/// message, so it names the problem but never echoes document content.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Violation {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("unsupported protocol version")]
    UnsupportedProtocol,
    #[error("expected handshake, got `{0}`")]
    ExpectedHandshake(&'static str),
    #[error("unexpected `{0}` after handshake")]
    UnexpectedAfterHandshake(&'static str),
    #[error("senderId does not match the joined peer")]
    WrongSender,
    #[error("targetId is not this peer")]
    WrongTarget,
    #[error("invalid automerge sync message: {0}")]
    InvalidSyncMessage(Arc<dyn std::error::Error + Send + Sync>),
    #[error("sync message could not be applied: {0}")]
    SyncNotApplied(Arc<AutomergeError>),
    #[error("too many documents on one connection (limit {limit})")]
    TooManyDocuments { limit: usize },
    #[error("too many messages waiting for documents to load on one connection")]
    TooManyPending,
    /// The access policy refused the content of a change (e.g. it names another author).
    #[error("change refused: {0}")]
    ChangeRefused(&'static str),
}

impl Violation {
    /// Whatever decoding error the sync-message check reports.
    pub fn invalid_sync_message(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Violation::InvalidSyncMessage(Arc::new(e))
    }
}

/// Why a document could not be loaded from storage.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LoadFailure {
    #[error(transparent)]
    Store(Arc<StoreError>),
    #[error("storage returned chunk {hash} of another document for {doc}")]
    ForeignChunk { doc: DocumentId, hash: String },
    #[error("stored data of {doc} is unreadable: {source}")]
    Unreadable {
        doc: DocumentId,
        source: Arc<AutomergeError>,
    },
}

/// Why the engine asks the driver to close a connection. `Display` is the text sent to the
/// peer in the `error` message and used as the close reason.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CloseReason {
    #[error(transparent)]
    Violation(#[from] Violation),
    /// Our storage failed; the peer keeps its changes and retries.
    #[error("{STORAGE_ERROR}")]
    Storage,
    /// The peer sent an `error` (truncated to 200 characters).
    #[error("peer reported error: {0}")]
    PeerError(String),
    /// Memory limits reached and nothing could be evicted.
    #[error("server busy: too many documents in memory; try again later")]
    Busy,
    /// An engine step failed unexpectedly ([`super::Engine::quarantine`]).
    #[error("internal error")]
    Internal,
}

/// Something the driver or the UI may want to know about.
#[derive(Debug, Clone)]
pub enum Event {
    PeerJoined {
        conn: ConnId,
        peer: PeerId,
        storage_id: Option<StorageId>,
        /// Client side: the server answers `fieldbook-heartbeat` (always false on a server).
        heartbeat: bool,
    },
    /// A document's content changed because of a remote peer.
    DocumentChanged {
        doc: DocumentId,
        from: ConnId,
    },
    /// Another writer sharing our store committed changes we did not have; they are merged
    /// and being sent to connected peers ([`super::Engine::changed_elsewhere`]).
    ChangedElsewhere {
        doc: DocumentId,
    },
    /// Loaded from storage (or found to be absent: `exists == false`).
    DocumentLoaded {
        doc: DocumentId,
        exists: bool,
    },
    /// The remote peer said it does not have (or will not share) the document.
    DocumentUnavailable {
        doc: DocumentId,
        conn: ConnId,
    },
    /// A peer without write access sent changes; they were not applied.
    WriteRejected {
        doc: DocumentId,
        conn: ConnId,
    },
    Ephemeral {
        doc: DocumentId,
        conn: ConnId,
        data: Vec<u8>,
    },
    /// The connection broke the protocol and is being closed.
    ProtocolViolation {
        conn: ConnId,
        reason: Violation,
    },
    /// Storage could not load a document; waiting peers are disconnected.
    LoadFailed {
        doc: DocumentId,
        reason: LoadFailure,
    },
    DocumentEvicted {
        doc: DocumentId,
    },
}

/// The effects of one engine step. See the module docs for the order a driver applies them.
#[derive(Debug, Default)]
#[must_use = "an Output's storage writes and messages must be carried out"]
pub struct Output {
    pub storage: Vec<StorageOp>,
    pub loads: Vec<DocumentId>,
    pub send: Vec<(ConnId, Message)>,
    /// Connections to close once their pending `send`s are flushed, with the reason.
    pub close: Vec<(ConnId, CloseReason)>,
    pub events: Vec<Event>,
}

impl Output {
    pub fn merge(&mut self, other: Output) {
        self.storage.extend(other.storage);
        self.loads.extend(other.loads);
        self.send.extend(other.send);
        self.close.extend(other.close);
        self.events.extend(other.events);
    }

    /// Documents this output's storage operations write, for [`Engine::storage_failed`]
    /// (taken before the operations are handed to storage, so no bytes are copied).
    pub fn documents_written(&self) -> BTreeSet<DocumentId> {
        self.storage.iter().map(|op| *op.document()).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.storage.is_empty()
            && self.loads.is_empty()
            && self.send.is_empty()
            && self.close.is_empty()
            && self.events.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("document {0} is not loaded")]
    NotLoaded(DocumentId),
    #[error("document {0} already exists")]
    AlreadyExists(DocumentId),
    #[error("automerge: {0}")]
    Automerge(#[from] AutomergeError),
}

impl Output {
    pub(super) fn drop_empty(self) {
        debug_assert!(self.is_empty());
    }
}
