//! Durable storage behind the one `Store` trait: the embedded SQLite store, or PostgreSQL
//! when `database_url` is set (several nodes sharing one database, docs/POSTGRES.md); every
//! store runs the same story (`fieldbook_sync::story`). Everything stored is sealed at rest
//! under per-document keys (`keys`, docs/AT-REST.md), in owner-only files (`files`).

pub mod files;
pub mod keys;
mod postgres;
mod sqlite;

use fieldbook_sync::{DocumentId, StorageId, StorageOp, StoredDocument};

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
