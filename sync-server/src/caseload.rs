//! Documents the server itself writes before it takes connections: the caseload index
//! (every case, so a new device learns them) and, on request, invented demo cases.
//!
//! Edits go through the same sync engine as everything else, in a private instance with no
//! connections, so they are stored in exactly the layout peers' changes are.

use fieldbook_case::caseload;
use fieldbook_sync::automerge::transaction::Transaction;
use fieldbook_sync::automerge::AutomergeError;
use fieldbook_sync::{AllowAll, DocumentId, Engine, EngineConfig, PeerId, Role, StorageOp};

use crate::storage::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("document {doc} could not be read: {reason}")]
    Load { doc: DocumentId, reason: String },
    #[error("could not write document {doc}: {reason}")]
    Edit { doc: DocumentId, reason: String },
    #[error("could not create a document: {0}")]
    Create(String),
}

/// A connectionless engine over `store`: edit documents, then [`Offline::commit`] once.
pub(crate) struct Offline<'a, S: Store> {
    store: &'a S,
    engine: Engine,
    pending: Vec<StorageOp>,
    now: u64,
}

impl<'a, S: Store> Offline<'a, S> {
    pub(crate) fn new(store: &'a S, now: u64) -> Self {
        let cfg = EngineConfig::new(
            Role::Server,
            PeerId::random("fieldbook-server-seed"),
            Some(store.storage_id().clone()),
        );
        Offline {
            store,
            engine: Engine::new(cfg, AllowAll),
            pending: Vec::new(),
            now,
        }
    }

    /// Load `doc`; true if it has any content.
    pub(crate) async fn open(&mut self, doc: DocumentId) -> Result<bool, SeedError> {
        let mut out = self.engine.open(doc);
        while let Some(d) = out.loads.pop() {
            let stored = self.store.load(d).await?;
            out.merge(self.engine.loaded(d, Ok(stored), self.now));
        }
        self.pending.extend(out.storage);
        if let Some(reason) = out.events.iter().find_map(|e| match e {
            fieldbook_sync::Event::LoadFailed { reason, .. } => Some(reason.to_string()),
            _ => None,
        }) {
            return Err(SeedError::Load { doc, reason });
        }
        // `document` is None for a loaded-but-empty document.
        Ok(self.engine.document(&doc).is_some())
    }

    pub(crate) fn create<F>(&mut self, init: F) -> Result<DocumentId, SeedError>
    where
        F: FnOnce(&mut Transaction<'_>) -> Result<(), AutomergeError>,
    {
        let (doc, out) = self
            .engine
            .create(init, self.now)
            .map_err(|e| SeedError::Create(e.to_string()))?;
        self.pending.extend(out.storage);
        Ok(doc)
    }

    pub(crate) fn change<F>(&mut self, doc: DocumentId, f: F) -> Result<(), SeedError>
    where
        F: FnOnce(&mut Transaction<'_>) -> Result<(), AutomergeError>,
    {
        let out = self
            .engine
            .change(doc, f, self.now)
            .map_err(|e| SeedError::Edit {
                doc,
                reason: e.to_string(),
            })?;
        self.pending.extend(out.storage);
        Ok(())
    }

    /// Write everything in one transaction.
    pub(crate) async fn commit(self) -> Result<(), SeedError> {
        Ok(self.store.apply(self.pending).await?)
    }
}

/// Make sure this server's caseload index exists; returns its id.
pub async fn ensure_index<S: Store>(store: &S, now: u64) -> Result<DocumentId, SeedError> {
    let id = caseload::index_id(store.storage_id());
    let mut offline = Offline::new(store, now);
    if !offline.open(id).await? {
        offline.change(id, |tx| caseload::init(tx))?;
        offline.commit().await?;
        tracing::info!(index = %id, "created the caseload index");
    }
    Ok(id)
}
