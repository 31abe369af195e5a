//! Documents the server itself writes before it takes connections: the caseload index
//! (every case, so a new device learns them) and, on request, invented demo cases.
//!
//! Edits go through the same sync engine as everything else, in a private instance with no
//! connections, so they are stored in exactly the layout peers' changes are.

use fieldbook_case::caseload;
use fieldbook_sync::automerge::transaction::Transaction;
use fieldbook_sync::automerge::AutomergeError;
use std::cell::RefCell;

use fieldbook_sync::{
    drain, AllowAll, DocumentId, Engine, EngineConfig, Event, Host, PeerId, Role, Runner,
};

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

/// A connectionless engine over `store`, carried out by the shared runner: edit documents,
/// then [`Offline::commit`] writes everything in one transaction.
pub(crate) struct Offline<'a, S: Store> {
    runner: RefCell<Runner<&'a S>>,
    now: u64,
}

/// The seeder has no connections: nothing is sent, load failures are collected.
struct NoPeers {
    now: u64,
    load_failed: Option<String>,
}

impl Host for NoPeers {
    fn now(&self) -> u64 {
        self.now
    }
    fn send(&mut self, _: fieldbook_sync::ConnId, _: fieldbook_sync::Message) {}
    fn close(&mut self, _: fieldbook_sync::ConnId, _: fieldbook_sync::CloseReason) {}
    fn event(&mut self, event: &Event) {
        if let Event::LoadFailed { reason, .. } = event {
            self.load_failed.get_or_insert_with(|| reason.to_string());
        }
    }
}

impl<'a, S: Store> Offline<'a, S> {
    pub(crate) fn new(store: &'a S, now: u64) -> Self {
        let cfg = EngineConfig::new(
            Role::Server,
            PeerId::random("fieldbook-server-seed"),
            Some(store.storage_id().clone()),
        );
        Offline {
            runner: RefCell::new(Runner::new(Engine::new(cfg, AllowAll), store)),
            now,
        }
    }

    /// Load `doc`; true if it has any content.
    pub(crate) async fn open(&mut self, doc: DocumentId) -> Result<bool, SeedError> {
        self.runner.get_mut().step(|e| e.open(doc));
        let mut host = NoPeers {
            now: self.now,
            load_failed: None,
        };
        drain(&self.runner, &mut host).await?;
        if let Some(reason) = host.load_failed {
            return Err(SeedError::Load { doc, reason });
        }
        // `document` is None for a loaded-but-empty document.
        Ok(self.runner.get_mut().engine().document(&doc).is_some())
    }

    pub(crate) fn create<F>(&mut self, init: F) -> Result<DocumentId, SeedError>
    where
        F: FnOnce(&mut Transaction<'_>) -> Result<(), AutomergeError>,
    {
        let runner = self.runner.get_mut();
        let (doc, out) = runner
            .engine_mut()
            .create(init, self.now)
            .map_err(|e| SeedError::Create(e.to_string()))?;
        runner.push(out);
        Ok(doc)
    }

    pub(crate) fn change<F>(&mut self, doc: DocumentId, f: F) -> Result<(), SeedError>
    where
        F: FnOnce(&mut Transaction<'_>) -> Result<(), AutomergeError>,
    {
        let runner = self.runner.get_mut();
        let out = runner
            .engine_mut()
            .change(doc, f, self.now)
            .map_err(|e| SeedError::Edit {
                doc,
                reason: e.to_string(),
            })?;
        runner.push(out);
        Ok(())
    }

    /// Write everything queued (one transaction: nothing else is queued between edits).
    pub(crate) async fn commit(self) -> Result<(), SeedError> {
        let mut host = NoPeers {
            now: self.now,
            load_failed: None,
        };
        Ok(drain(&self.runner, &mut host).await?)
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
