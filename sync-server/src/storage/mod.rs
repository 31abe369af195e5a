//! Durable storage behind the one `Store` trait: the embedded SQLite store, or PostgreSQL
//! when `database_url` is set (several nodes sharing one database, docs/POSTGRES.md); every
//! store runs the same story (`fieldbook_sync::story`). Everything stored is sealed at rest
//! under per-document keys (`keys`, docs/AT-REST.md), in owner-only files (`files`).

pub mod files;
pub mod keys;
mod postgres;
mod sqlite;

use fieldbook_sync::{ChunkKey, ChunkKind, DocumentId, StorageId, StorageOp, StoredDocument};

/// The one store trait and its error live in the engine crate, shared with the PWA's
/// IndexedDB store and the in-memory store.
pub use fieldbook_sync::{Store, StoreError};
pub use keys::{KeyError, MasterKey, MASTER_KEY_ENV};
pub use postgres::{store_err, PgStore, MIGRATION_SCOPE, STEPS as PG_STEPS};
pub use sqlite::{SqliteStore, SCHEMA_VERSION};

use crate::config::Config;
use crate::pg::PgPool;

/// The server's store, whichever the settings chose: one type, so one sync actor runs on both.
#[derive(Debug, Clone)]
pub enum ServerStore {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

/// The PostgreSQL pool `config` asks for (`database_url`, `database_pool_size`), if any.
/// Blocks while it connects (the connection is made on a pool thread, so this is safe to
/// call from async code; call it once and share the pool with the directory).
pub fn open_pool(config: &Config) -> Result<Option<PgPool>, StoreError> {
    crate::pg::pool_for(config).map_err(|e| StoreError::Unavailable(e.to_string()))
}

/// The store `config` asks for, sealing under `master`: PostgreSQL on `pool` when there is
/// one (from [`open_pool`]), else the SQLite file at `config.database_path()`.
pub async fn open_with(
    config: &Config,
    master: MasterKey,
    pool: Option<&PgPool>,
) -> Result<ServerStore, StoreError> {
    match pool {
        Some(pool) => Ok(ServerStore::Postgres(
            PgStore::open(pool.clone(), master).await?,
        )),
        None => Ok(ServerStore::Sqlite(SqliteStore::open_with_key(
            &config.database_path(),
            master,
        )?)),
    }
}

/// The store `config` asks for, with its master key (`FIELDBOOK_MASTER_KEY` or
/// `master_key_file`): what the admin commands that read documents use.
pub async fn open(config: &Config) -> Result<ServerStore, StoreError> {
    let master = MasterKey::resolve(&config.master_key_path())
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    let pool = open_pool(config)?;
    open_with(config, master, pool.as_ref()).await
}

/// One document's rows as a store read them, still sealed: chunks `(kind, hash, sealed)` and
/// sync states `(peer storage id, sealed)`. Both stores load through [`SealedRows::open`], so
/// what a load promises (every row opens under the document's key with its own associated
/// data, or the load fails; never a shorter document) is written once.
#[derive(Debug, Default)]
pub(crate) struct SealedRows {
    pub chunks: Vec<(String, String, Vec<u8>)>,
    pub states: Vec<(String, Vec<u8>)>,
}

impl SealedRows {
    /// What `Store::load` returns for these rows of `doc`: `None` when there are none, else
    /// every row opened under the key `key` gives (asked only when there are rows; `None`:
    /// the rows have no key, explained by `no_key`).
    pub(crate) fn open(
        self,
        doc: DocumentId,
        key: impl FnOnce() -> Result<Option<keys::Sealer>, StoreError>,
        no_key: impl FnOnce() -> String,
    ) -> Result<Option<StoredDocument>, StoreError> {
        if self.chunks.is_empty() && self.states.is_empty() {
            return Ok(None);
        }
        let id = doc.to_string();
        let key = key()?.ok_or_else(|| StoreError::InvalidRecord(no_key()))?;
        let unreadable = |what: &str| {
            StoreError::InvalidRecord(format!(
                "{what} of document {id} does not open with its key: it was changed or belongs \
                 elsewhere"
            ))
        };
        let mut stored = StoredDocument::default();
        for (kind, hash, sealed) in self.chunks {
            let data = key
                .open(&keys::chunk_aad(&id, &kind, &hash), &sealed)
                .map_err(|_| unreadable(&format!("chunk {hash}")))?;
            let kind = ChunkKind::parse(&kind).ok_or_else(|| {
                StoreError::InvalidRecord(format!(
                    "chunk {hash} of {doc} has unknown kind {kind:?}"
                ))
            })?;
            stored.chunks.push((
                ChunkKey {
                    document: doc,
                    kind,
                    hash,
                },
                data,
            ));
        }
        for (peer, sealed) in self.states {
            let data = key
                .open(&keys::sync_state_aad(&id, &peer), &sealed)
                .map_err(|_| unreadable("a sync state"))?;
            stored.sync_states.insert(peer, data);
        }
        Ok(Some(stored))
    }
}

macro_rules! each {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            ServerStore::Sqlite($s) => $e,
            ServerStore::Postgres($s) => $e,
        }
    };
}

impl Store for ServerStore {
    fn storage_id(&self) -> &StorageId {
        each!(self, s => s.storage_id())
    }
    async fn load(&self, doc: DocumentId) -> Result<Option<StoredDocument>, StoreError> {
        each!(self, s => s.load(doc).await)
    }
    async fn apply(&self, ops: Vec<StorageOp>) -> Result<(), StoreError> {
        each!(self, s => s.apply(ops).await)
    }
    async fn list_documents(&self) -> Result<Vec<DocumentId>, StoreError> {
        each!(self, s => s.list_documents().await)
    }
    async fn get_setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        each!(self, s => s.get_setting(key).await)
    }
    async fn put_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        each!(self, s => s.put_setting(key, value).await)
    }
}
