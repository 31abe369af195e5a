//! Documents the server itself writes before it takes connections (invented demo cases, on
//! request), and registering documents stored before sign-in existed.
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

use crate::accounts::{CaseRecord, Directory};
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
    #[error("the directory: {0}")]
    Directory(String),
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

    pub(crate) fn create_with_id<F>(&mut self, doc: DocumentId, init: F) -> Result<(), SeedError>
    where
        F: FnOnce(&mut Transaction<'_>) -> Result<(), AutomergeError>,
    {
        let runner = self.runner.get_mut();
        let out = runner
            .engine_mut()
            .create_with_id(doc, init, self.now)
            .map_err(|e| SeedError::Create(e.to_string()))?;
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

/// Register every stored document the directory does not know, unallocated: documents
/// written before sign-in existed (or whose registration was lost in a crash) are then seen
/// by nobody until an administrator allocates them (`admin cases allocate`), and nobody can
/// claim one by writing to it. The old server-wide caseload index is not a case: skipped.
pub async fn adopt_unregistered<S: Store>(
    store: &S,
    dir: &Directory,
    now: i64,
) -> Result<usize, SeedError> {
    let known: std::collections::HashSet<DocumentId> = dir
        .cases()
        .map_err(|e| SeedError::Directory(e.to_string()))?
        .into_iter()
        .map(|c| c.doc)
        .collect();
    let indexes: std::collections::HashSet<DocumentId> = dir
        .snapshot()
        .map_err(|e| SeedError::Directory(e.to_string()))?
        .users
        .into_iter()
        .map(|u| u.caseload)
        .collect();
    let old_index = caseload::index_id(store.storage_id());
    let mut adopted = 0;
    for doc in store.list_documents().await? {
        if known.contains(&doc) || indexes.contains(&doc) || doc == old_index {
            continue;
        }
        let record = CaseRecord {
            doc,
            allocated: None,
            team: None,
            created_by: None,
            created_at: now,
            part_of: None,
        };
        if dir
            .register_case(&record)
            .map_err(|e| SeedError::Directory(e.to_string()))?
        {
            adopted += 1;
        }
    }
    if adopted > 0 {
        tracing::warn!(
            adopted,
            "registered documents stored before sign-in as unallocated: allocate them with `admin cases allocate`"
        );
    }
    Ok(adopted)
}
