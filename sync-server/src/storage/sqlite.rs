//! The embedded store: one SQLite file in WAL mode with `synchronous=FULL`, so a commit
//! that returned survives a killed process and a power cut.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use fieldbook_sync::{ChunkKey, ChunkKind, DocumentId, StorageId, StorageOp, StoredDocument};
use rusqlite::{params, Connection, ErrorCode, OptionalExtension};

use super::{Store, StoreError};

const SCHEMA_VERSION: i64 = 1;
/// Settings share the `meta` table with the store's own rows, under their own prefix.
const SETTING_PREFIX: &str = "setting:";

#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    path: Arc<PathBuf>,
    storage_id: StorageId,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_inner(path, None)
    }

    /// Like [`SqliteStore::open`] but caps the database at `max_pages` pages, so that tests
    /// can see what a full disk looks like.
    #[doc(hidden)]
    pub fn open_with_max_pages(path: &Path, max_pages: u64) -> Result<Self, StoreError> {
        Self::open_inner(path, Some(max_pages))
    }

    fn open_inner(path: &Path, max_pages: Option<u64>) -> Result<Self, StoreError> {
        let shown = path.display().to_string();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let err = |e: rusqlite::Error| map_err(e, &shown);
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        // `journal_mode` is the first read of the file: a non-database fails here.
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Backend(format!(
                "{shown}: could not enable WAL (got {mode})"
            )));
        }
        conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")
            .map_err(err)?;
        if let Some(n) = max_pages {
            conn.query_row(&format!("PRAGMA max_page_count={n}"), [], |_| Ok(()))
                .map_err(err)?;
        }
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
        )
        .map_err(err)?;
        let version: Option<i64> = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map_err(err)?
            .map(|v| {
                v.parse()
                    .map_err(|_| StoreError::InvalidRecord(format!("schema_version {v:?}")))
            })
            .transpose()?;
        match version {
            Some(v) if v > SCHEMA_VERSION => {
                return Err(StoreError::NewerSchema {
                    path: shown,
                    found: v,
                    known: SCHEMA_VERSION,
                })
            }
            Some(_) => {}
            None => {
                conn.execute_batch(&format!(
                    "BEGIN;
                     CREATE TABLE chunks (
                        doc_id TEXT NOT NULL, kind TEXT NOT NULL, hash TEXT NOT NULL, data BLOB NOT NULL,
                        PRIMARY KEY (doc_id, kind, hash));
                     CREATE TABLE sync_states (
                        doc_id TEXT NOT NULL, peer_storage_id TEXT NOT NULL, data BLOB NOT NULL,
                        PRIMARY KEY (doc_id, peer_storage_id));
                     INSERT INTO meta (key, value) VALUES ('schema_version', '{SCHEMA_VERSION}');
                     INSERT INTO meta (key, value) VALUES ('storage_id', '{}');
                     COMMIT;",
                    StorageId::random().0
                ))
                .map_err(err)?;
            }
        }
        let storage_id: String = conn
            .query_row("SELECT value FROM meta WHERE key = 'storage_id'", [], |r| {
                r.get(0)
            })
            .map_err(err)?;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
            path: Arc::new(path.to_path_buf()),
            storage_id: StorageId(storage_id),
        })
    }

    /// Run blocking SQLite work off the async runtime.
    async fn blocking<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    {
        let conn = self.conn.clone();
        let shown = self.path.display().to_string();
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave a half transaction: SQLite rolls back.
            let mut c = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut c).map_err(|e| map_err(e, &shown))
        })
        .await
        .map_err(|e| StoreError::Backend(format!("storage task failed: {e}")))?
    }
}

fn map_err(e: rusqlite::Error, path: &str) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DiskFull) => StoreError::Full,
        Some(ErrorCode::DatabaseCorrupt) | Some(ErrorCode::NotADatabase) => StoreError::Corrupt {
            path: path.to_owned(),
        },
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => StoreError::Locked {
            path: path.to_owned(),
        },
        _ => StoreError::Backend(e.to_string()),
    }
}

impl Store for SqliteStore {
    fn storage_id(&self) -> &StorageId {
        &self.storage_id
    }

    async fn load(&self, doc: DocumentId) -> Result<Option<StoredDocument>, StoreError> {
        let id = doc.to_string();
        let (chunks, states) = self
            .blocking(move |c| {
                let tx = c.transaction()?;
                let chunks = tx
                    .prepare_cached("SELECT kind, hash, data FROM chunks WHERE doc_id = ?1")?
                    .query_map([&id], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, Vec<u8>>(2)?,
                        ))
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                let states = tx
                    .prepare_cached(
                        "SELECT peer_storage_id, data FROM sync_states WHERE doc_id = ?1",
                    )?
                    .query_map([&id], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                tx.commit()?;
                Ok((chunks, states))
            })
            .await?;
        if chunks.is_empty() && states.is_empty() {
            return Ok(None);
        }
        let mut stored = StoredDocument::default();
        for (kind, hash, data) in chunks {
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
        stored.sync_states = states.into_iter().collect();
        Ok(Some(stored))
    }

    async fn apply(&self, ops: Vec<StorageOp>) -> Result<(), StoreError> {
        if ops.is_empty() {
            return Ok(());
        }
        self.blocking(move |c| {
            let tx = c.transaction()?;
            for op in &ops {
                match op {
                    StorageOp::PutChunk { key, data } => put_chunk(&tx, key, data)?,
                    StorageOp::Compact { snapshot, data, replaces } => {
                        put_chunk(&tx, snapshot, data)?;
                        let mut del = tx.prepare_cached("DELETE FROM chunks WHERE doc_id = ?1 AND kind = ?2 AND hash = ?3")?;
                        for k in replaces.iter().filter(|k| *k != snapshot) {
                            del.execute(params![k.document.to_string(), k.kind.as_str(), k.hash])?;
                        }
                    }
                    StorageOp::PutSyncState { document, peer_storage_id, data } => {
                        tx.prepare_cached(
                            "INSERT INTO sync_states (doc_id, peer_storage_id, data) VALUES (?1, ?2, ?3)
                             ON CONFLICT (doc_id, peer_storage_id) DO UPDATE SET data = excluded.data",
                        )?
                        .execute(params![document.to_string(), peer_storage_id, data])?;
                    }
                    StorageOp::ForgetSyncState { document, peer_storage_id } => {
                        tx.prepare_cached("DELETE FROM sync_states WHERE doc_id = ?1 AND peer_storage_id = ?2")?
                            .execute(params![document.to_string(), peer_storage_id])?;
                    }
                    StorageOp::DeleteDocument { document } => {
                        let id = document.to_string();
                        tx.prepare_cached("DELETE FROM chunks WHERE doc_id = ?1")?.execute([&id])?;
                        tx.prepare_cached("DELETE FROM sync_states WHERE doc_id = ?1")?.execute([&id])?;
                    }
                }
            }
            tx.commit()
        })
        .await
    }

    async fn list_documents(&self) -> Result<Vec<DocumentId>, StoreError> {
        let ids = self
            .blocking(|c| {
                c.prepare_cached("SELECT DISTINCT doc_id FROM chunks ORDER BY doc_id")?
                    .query_map([], |r| r.get::<_, String>(0))?
                    .collect::<Result<Vec<_>, _>>()
            })
            .await?;
        ids.into_iter()
            .map(|s| {
                s.parse()
                    .map_err(|_| StoreError::InvalidRecord(format!("document id {s:?}")))
            })
            .collect()
    }

    async fn get_setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        let key = format!("{SETTING_PREFIX}{key}");
        self.blocking(move |c| {
            c.prepare_cached("SELECT value FROM meta WHERE key = ?1")?
                .query_row([&key], |r| r.get(0))
                .optional()
        })
        .await
    }

    async fn put_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let (key, value) = (format!("{SETTING_PREFIX}{key}"), value.to_owned());
        self.blocking(move |c| {
            c.prepare_cached(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?
            .execute([&key, &value])
            .map(|_| ())
        })
        .await
    }
}

fn put_chunk(
    tx: &rusqlite::Transaction<'_>,
    key: &ChunkKey,
    data: &[u8],
) -> Result<(), rusqlite::Error> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO chunks (doc_id, kind, hash, data) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        key.document.to_string(),
        key.kind.as_str(),
        key.hash,
        data
    ])?;
    Ok(())
}
