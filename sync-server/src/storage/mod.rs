//! Durable storage behind one trait. SQLite is the embedded default; other back ends
//! (PostgreSQL for scale-out) implement the same trait and run the same story test
//! (`sync-server/tests/storage_story.rs`).

use std::future::Future;

use fieldbook_sync::{DocumentId, StorageId, StorageOp, StoredDocument};

mod sqlite;

pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage is full: free disk space (or raise the database size limit) and retry")]
    Full,
    #[error("database file {path} is corrupt or is not a Fieldbook store: restore it from backup or move it aside")]
    Corrupt { path: String },
    #[error("database {path} is locked by another process: is a second server running on the same data directory?")]
    Locked { path: String },
    #[error("database {path} was written by a newer Fieldbook (schema {found}, this build knows {known}): upgrade the server")]
    NewerSchema {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("stored row is invalid: {0}")]
    InvalidRow(String),
    #[error("cannot create data directory {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Database(String),
}

pub trait Store: Send + Sync + 'static {
    /// This store's own id, created at first open; advertised to peers as our `storageId`.
    fn storage_id(&self) -> &StorageId;

    /// Everything stored for `doc`, or `None` if nothing is.
    fn load(
        &self,
        doc: DocumentId,
    ) -> impl Future<Output = Result<Option<StoredDocument>, StoreError>> + Send;

    /// Apply all `ops` in one transaction. `Ok` means durable; `Err` means none applied.
    fn apply(&self, ops: Vec<StorageOp>) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Ids of every stored document.
    fn list_documents(&self) -> impl Future<Output = Result<Vec<DocumentId>, StoreError>> + Send;

    /// A small named setting the server keeps (e.g. the caseload index's document id).
    /// Separate from the store's own bookkeeping: no key can overwrite the storage id.
    fn get_setting(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// Set a named setting, durably.
    fn put_setting(
        &self,
        key: &str,
        value: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
