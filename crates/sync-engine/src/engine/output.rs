//! What one engine step asks the driver to do, and what it reports.

use std::collections::BTreeSet;

use super::ConnId;
use crate::storage::StorageOp;
use crate::wire::Message;
use crate::{DocumentId, PeerId, StorageId};

/// What a peer is told when its changes could not be stored; it keeps them and retries.
pub const STORAGE_ERROR: &str = "storage error on the server; try again later";

/// Something the driver or the UI may want to know about.
#[derive(Debug, Clone, PartialEq, Eq)]
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
        reason: String,
    },
    /// Storage could not load a document; waiting peers are disconnected.
    LoadFailed {
        doc: DocumentId,
        reason: String,
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
    pub close: Vec<(ConnId, String)>,
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

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EngineError {
    #[error("document {0} is not loaded")]
    NotLoaded(DocumentId),
    #[error("automerge: {0}")]
    Automerge(String),
}

impl Output {
    pub(super) fn drop_empty(self) {
        debug_assert!(self.is_empty());
    }
}
