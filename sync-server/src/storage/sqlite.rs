//! The embedded store: one SQLite file in WAL mode with `synchronous=FULL`, so a commit
//! that returned survives a killed process and a power cut. Every stored value is sealed
//! under its document's own key, kept in a second SQLite file (`keys.rs`, docs/AT-REST.md);
//! deleting a document deletes its key too (crypto-shredding).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use fieldbook_sync::{ChunkKey, DocumentId, StorageId, StorageOp, StoredDocument};
// Write transactions are IMMEDIATE: they take the write lock at BEGIN (waiting out the
// directory's writes to the same file), never upgrade a read snapshot another writer
// has made stale (SQLITE_BUSY_SNAPSHOT, which no busy timeout waits out).
use rusqlite::TransactionBehavior::Immediate;
use rusqlite::{params, Connection, ErrorCode, OptionalExtension};

use super::files;
use super::keys::{self, KeyError, MasterKey, Sealer};
use super::{SealedRows, Store, StoreError};

/// 1: plain rows. 2: every chunk and sync state sealed under its document's key.
pub const SCHEMA_VERSION: i64 = 2;
const KEYS_SCHEMA_VERSION: i64 = 1;
/// Settings share the `meta` table with the store's own rows, under their own prefix.
const SETTING_PREFIX: &str = "setting:";
/// Set while the file still has to be rebuilt after sealing a schema 1 store.
const REBUILD_PENDING: &str = "sealed_rebuild_pending";

#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Mutex<Inner>>,
    path: Arc<PathBuf>,
    storage_id: StorageId,
}

/// Both files, behind one lock: one writer at a time, keys always committed first.
struct Inner {
    data: Connection,
    keys: Connection,
    master: Sealer,
    paths: Paths,
    /// A `wal_checkpoint(TRUNCATE)` after a deletion could not finish (a reader was in the
    /// way): try again after the next commit.
    checkpoint_pending: bool,
    /// Deleting the key of a deleted document failed after its rows were gone: sweep keys
    /// without rows after the next commit.
    sweep_pending: bool,
}

#[derive(Clone)]
struct Paths {
    data: String,
    keys: String,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

/// A key problem as a store error (messages carry no key material).
fn key_err(e: KeyError) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl SqliteStore {
    /// Open (or create) the store at `path`, with the master key from `FIELDBOOK_MASTER_KEY`
    /// or `master.key` beside the file (created on first open).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let master = MasterKey::resolve(&keys::default_master_key_path(path)).map_err(key_err)?;
        Self::open_inner(path, master, None)
    }

    /// Open (or create) the store at `path`, sealing under `master`.
    pub fn open_with_key(path: &Path, master: MasterKey) -> Result<Self, StoreError> {
        Self::open_inner(path, master, None)
    }

    /// The server's store: `config.database_path()` with the master key from
    /// `FIELDBOOK_MASTER_KEY` or `config.master_key_path()`.
    pub fn open_configured(config: &crate::config::Config) -> Result<Self, StoreError> {
        let master = MasterKey::resolve(&config.master_key_path()).map_err(key_err)?;
        Self::open_inner(&config.database_path(), master, None)
    }

    /// Like [`SqliteStore::open`] but caps the database at `max_pages` pages, so that tests
    /// can see what a full disk looks like.
    #[doc(hidden)]
    pub fn open_with_max_pages(path: &Path, max_pages: u64) -> Result<Self, StoreError> {
        let master = MasterKey::resolve(&keys::default_master_key_path(path)).map_err(key_err)?;
        Self::open_inner(path, master, Some(max_pages))
    }

    /// The keys file that belongs to the data file at `path`.
    pub fn keys_path(path: &Path) -> PathBuf {
        keys::keys_path(path)
    }

    fn open_inner(
        path: &Path,
        master: MasterKey,
        max_pages: Option<u64>,
    ) -> Result<Self, StoreError> {
        let shown = path.display().to_string();
        let keys_path = keys::keys_path(path);
        let paths = Paths {
            data: shown.clone(),
            keys: keys_path.display().to_string(),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            files::restrict_dir(dir)?;
            // An older install left the default master key world-readable.
            let default_key = keys::default_master_key_path(path);
            if default_key.exists() {
                files::restrict_file(&default_key)?;
            }
        }
        let master = master.cipher().map_err(key_err)?;
        files::create_owner_only(path)?;
        let err = |e: rusqlite::Error| map_err(e, &shown);
        let data = open_connection(path, &shown)?;
        if let Some(n) = max_pages {
            data.query_row(&format!("PRAGMA max_page_count={n}"), [], |_| Ok(()))
                .map_err(err)?;
        }
        data.execute_batch(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
        )
        .map_err(err)?;
        let version = read_meta(&data, "schema_version")
            .map_err(err)?
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| StoreError::InvalidRecord(format!("schema_version {v:?}")))
            })
            .transpose()?;
        if let Some(v) = version.filter(|v| *v > SCHEMA_VERSION) {
            return Err(StoreError::NewerSchema {
                path: shown,
                found: v,
                known: SCHEMA_VERSION,
            });
        }
        let bound_keys = read_meta(&data, "keys_id").map_err(err)?;
        if bound_keys.is_some() && !keys_path.exists() {
            return Err(StoreError::Backend(format!(
                "{shown} is sealed under document keys kept in {}, which is missing: restore the \
                 keys file that belongs to this store (nothing was changed)",
                paths.keys
            )));
        }
        // The keys file is opened and the master key checked before anything is written to
        // the data file: a wrong key changes nothing.
        let keys = open_keys(&keys_path, &paths.keys, &master)?;
        let keys_id = read_meta(&keys, "keys_id")
            .map_err(|e| map_err(e, &paths.keys))?
            .ok_or_else(|| StoreError::Corrupt {
                path: paths.keys.clone(),
            })?;
        if let Some(bound) = &bound_keys {
            if *bound != keys_id {
                return Err(StoreError::Backend(format!(
                    "{} holds the keys of another store, not of {shown}: restore the keys file \
                     that belongs to this store (nothing was changed)",
                    paths.keys
                )));
            }
        }
        let mut inner = Inner {
            data,
            keys,
            master,
            paths,
            checkpoint_pending: false,
            sweep_pending: false,
        };
        match version {
            None => {
                inner
                    .data
                    .execute_batch(&format!(
                        "BEGIN;
                         CREATE TABLE chunks (
                            doc_id TEXT NOT NULL, kind TEXT NOT NULL, hash TEXT NOT NULL, data BLOB NOT NULL,
                            PRIMARY KEY (doc_id, kind, hash));
                         CREATE TABLE sync_states (
                            doc_id TEXT NOT NULL, peer_storage_id TEXT NOT NULL, data BLOB NOT NULL,
                            PRIMARY KEY (doc_id, peer_storage_id));
                         INSERT INTO meta (key, value) VALUES ('schema_version', '{SCHEMA_VERSION}');
                         INSERT INTO meta (key, value) VALUES ('storage_id', '{}');
                         INSERT INTO meta (key, value) VALUES ('keys_id', '{keys_id}');
                         COMMIT;",
                        StorageId::random().0
                    ))
                    .map_err(err)?;
            }
            Some(1) => inner.seal_plain_rows(&keys_id)?,
            Some(_) => {}
        }
        inner.finish_sealing()?;
        // Finish any deletion a crash interrupted between its commit and its key's removal.
        inner.sweep_orphan_keys()?;
        let storage_id: String = inner
            .data
            .query_row("SELECT value FROM meta WHERE key = 'storage_id'", [], |r| {
                r.get(0)
            })
            .map_err(err)?;
        for p in [path.to_path_buf(), keys_path] {
            files::restrict_sqlite_files(&p)?;
        }
        Ok(SqliteStore {
            inner: Arc::new(Mutex::new(inner)),
            path: Arc::new(path.to_path_buf()),
            storage_id: StorageId(storage_id),
        })
    }

    /// Run blocking SQLite work off the async runtime.
    async fn blocking<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Inner) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave a half transaction: SQLite rolls back.
            let mut c = inner.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut c)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("storage task failed: {e}")))?
    }
}

/// A connection with the store's settings: WAL, `synchronous=FULL`, and `secure_delete`, so
/// the pages a deletion frees are zeroed, not left holding what was deleted.
fn open_connection(path: &Path, shown: &str) -> Result<Connection, StoreError> {
    let err = |e: rusqlite::Error| map_err(e, shown);
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
    conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA secure_delete=ON;")
        .map_err(err)?;
    Ok(conn)
}

/// Open (or create) the keys file and check that `master` is the key its keys were wrapped
/// with. Nothing is written to an existing file before that check.
fn open_keys(path: &Path, shown: &str, master: &Sealer) -> Result<Connection, StoreError> {
    let err = |e: rusqlite::Error| map_err(e, shown);
    files::create_owner_only(path)?;
    let conn = open_connection(path, shown)?;
    let has_meta: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta')",
            [],
            |r| r.get(0),
        )
        .map_err(err)?;
    if !has_meta {
        let check = master
            .seal(&keys::master_check_aad(), b"fieldbook")
            .map_err(key_err)?;
        let tx = conn.unchecked_transaction().map_err(err)?;
        tx.execute_batch(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
             CREATE TABLE doc_keys (doc TEXT PRIMARY KEY, wrapped BLOB NOT NULL);",
        )
        .map_err(err)?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?1), ('keys_id', ?2), ('master_check', ?3)",
            params![
                KEYS_SCHEMA_VERSION.to_string(),
                StorageId::random().0,
                check
            ],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        return Ok(conn);
    }
    let version: Option<String> = read_meta(&conn, "schema_version").map_err(err)?;
    match version.as_deref().map(str::parse::<i64>) {
        Some(Ok(v)) if v > KEYS_SCHEMA_VERSION => {
            return Err(StoreError::NewerSchema {
                path: shown.to_owned(),
                found: v,
                known: KEYS_SCHEMA_VERSION,
            })
        }
        Some(Ok(_)) => {}
        _ => {
            return Err(StoreError::Corrupt {
                path: shown.to_owned(),
            })
        }
    }
    let check: Vec<u8> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'master_check'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(err)?
        .ok_or_else(|| StoreError::Corrupt {
            path: shown.to_owned(),
        })?;
    if master.open(&keys::master_check_aad(), &check).is_err() {
        return Err(StoreError::Backend(format!(
            "the master key is not the one the document keys in {shown} were made with: \
             set FIELDBOOK_MASTER_KEY or master_key_file to the right key (nothing was changed)"
        )));
    }
    Ok(conn)
}

fn read_meta(conn: &Connection, key: &str) -> Result<Option<String>, rusqlite::Error> {
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()
}

impl Inner {
    fn data_err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |e| map_err(e, &self.paths.data)
    }

    fn keys_err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |e| map_err(e, &self.paths.keys)
    }

    /// The key of `doc`, if it has one.
    fn key_of(&self, doc: &str) -> Result<Option<Sealer>, StoreError> {
        let wrapped: Option<Vec<u8>> = self
            .keys
            .prepare_cached("SELECT wrapped FROM doc_keys WHERE doc = ?1")
            .and_then(|mut s| s.query_row([doc], |r| r.get(0)).optional())
            .map_err(self.keys_err())?;
        wrapped
            .map(|w| {
                self.master.unwrap_key(doc, &w).map_err(|_| {
                    StoreError::InvalidRecord(format!(
                        "the key of document {doc} in {} does not open with the master key",
                        self.paths.keys
                    ))
                })
            })
            .transpose()
    }

    /// The key of every document in `docs`, making the missing ones. New keys are committed
    /// (durably) before this returns, so nothing is ever sealed under a key that could be lost.
    fn ensure_keys<'a>(
        &mut self,
        docs: impl IntoIterator<Item = &'a str>,
    ) -> Result<HashMap<String, Sealer>, StoreError> {
        let mut keys = HashMap::new();
        let mut new = Vec::new();
        for doc in docs {
            if keys.contains_key(doc) {
                continue;
            }
            let key = match self.key_of(doc)? {
                Some(k) => k,
                None => {
                    let (k, raw) = Sealer::generate().map_err(key_err)?;
                    new.push((
                        doc.to_owned(),
                        self.master.wrap(doc, &raw).map_err(key_err)?,
                    ));
                    k
                }
            };
            keys.insert(doc.to_owned(), key);
        }
        if !new.is_empty() {
            let err = |e| map_err(e, &self.paths.keys);
            let tx = self
                .keys
                .transaction_with_behavior(Immediate)
                .map_err(err)?;
            for (doc, wrapped) in &new {
                tx.prepare_cached("INSERT INTO doc_keys (doc, wrapped) VALUES (?1, ?2)")
                    .and_then(|mut s| s.execute(params![doc, wrapped]))
                    .map_err(err)?;
            }
            tx.commit().map_err(err)?;
        }
        Ok(keys)
    }

    /// The version 1 → 2 migration: seal every plain row in one transaction (keys first),
    /// then rewrite the file so no page keeps a plain copy.
    fn seal_plain_rows(&mut self, keys_id: &str) -> Result<(), StoreError> {
        let docs: Vec<String> = self
            .data
            .prepare("SELECT doc_id FROM chunks UNION SELECT doc_id FROM sync_states")
            .and_then(|mut s| {
                s.query_map([], |r| r.get(0))?
                    .collect::<Result<Vec<String>, _>>()
            })
            .map_err(self.data_err())?;
        let keys = self.ensure_keys(docs.iter().map(String::as_str))?;
        let err = |e| map_err(e, &self.paths.data);
        let tx = self
            .data
            .transaction_with_behavior(Immediate)
            .map_err(err)?;
        let chunk_ids: Vec<i64> = tx
            .prepare("SELECT rowid FROM chunks")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(err)?;
        for id in chunk_ids {
            let (doc, kind, hash, plain): (String, String, String, Vec<u8>) = tx
                .query_row(
                    "SELECT doc_id, kind, hash, data FROM chunks WHERE rowid = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .map_err(err)?;
            let sealed = keys[&doc]
                .seal(&keys::chunk_aad(&doc, &kind, &hash), &plain)
                .map_err(key_err)?;
            tx.execute(
                "UPDATE chunks SET data = ?1 WHERE rowid = ?2",
                params![sealed, id],
            )
            .map_err(err)?;
        }
        let state_ids: Vec<i64> = tx
            .prepare("SELECT rowid FROM sync_states")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(err)?;
        for id in state_ids {
            let (doc, peer, plain): (String, String, Vec<u8>) = tx
                .query_row(
                    "SELECT doc_id, peer_storage_id, data FROM sync_states WHERE rowid = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .map_err(err)?;
            let sealed = keys[&doc]
                .seal(&keys::sync_state_aad(&doc, &peer), &plain)
                .map_err(key_err)?;
            tx.execute(
                "UPDATE sync_states SET data = ?1 WHERE rowid = ?2",
                params![sealed, id],
            )
            .map_err(err)?;
        }
        tx.execute(
            "UPDATE meta SET value = ?1 WHERE key = 'schema_version'",
            [SCHEMA_VERSION.to_string()],
        )
        .map_err(err)?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('keys_id', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [keys_id],
        )
        .map_err(err)?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, 'pending')
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [REBUILD_PENDING],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        tracing::info!(
            documents = docs.len(),
            "stored documents sealed under per-document keys (schema 1 to 2)"
        );
        Ok(())
    }

    /// Pages freed before `secure_delete` was on may still hold plain rows: after sealing,
    /// rebuild the file from its live (now sealed) rows and empty the WAL. Until that has
    /// happened it is retried at every open; a busy reader only postpones it.
    fn finish_sealing(&mut self) -> Result<(), StoreError> {
        if read_meta(&self.data, REBUILD_PENDING)
            .map_err(self.data_err())?
            .is_none()
        {
            return Ok(());
        }
        let rebuilt = self.data.execute_batch("VACUUM;");
        match rebuilt.map_err(self.data_err()) {
            Ok(()) => {}
            Err(StoreError::Locked { .. }) => {
                tracing::warn!("could not rebuild the data file after sealing it (busy): retrying at the next start");
                return Ok(());
            }
            Err(e) => return Err(e),
        }
        self.checkpoint()?;
        if self.checkpoint_pending {
            return Ok(());
        }
        self.data
            .execute("DELETE FROM meta WHERE key = ?1", [REBUILD_PENDING])
            .map_err(self.data_err())?;
        // The deletion itself leaves a WAL frame: empty it too.
        self.checkpoint()
    }

    /// Delete the keys of documents with no rows left (deletions interrupted between their
    /// commit and their key's removal), then empty both WALs if anything was deleted.
    fn sweep_orphan_keys(&mut self) -> Result<(), StoreError> {
        let docs: Vec<String> = self
            .keys
            .prepare("SELECT doc FROM doc_keys")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(self.keys_err())?;
        // One pass over the data (this runs at every open), not a query per document.
        let stored: std::collections::HashSet<String> = self
            .data
            .prepare("SELECT doc_id FROM chunks UNION SELECT doc_id FROM sync_states")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(self.data_err())?;
        let orphans: Vec<String> = docs.into_iter().filter(|d| !stored.contains(d)).collect();
        if !orphans.is_empty() {
            self.delete_keys(&orphans)?;
            self.checkpoint()?;
        }
        self.sweep_pending = false;
        Ok(())
    }

    /// Those of `docs` with no chunk and no sync state stored.
    fn without_rows(&self, docs: Vec<String>) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for doc in docs {
            let has: bool = self
                .data
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM chunks WHERE doc_id = ?1)
                         OR EXISTS (SELECT 1 FROM sync_states WHERE doc_id = ?1)",
                )
                .and_then(|mut s| s.query_row([&doc], |r| r.get(0)))
                .map_err(self.data_err())?;
            if !has {
                out.push(doc);
            }
        }
        Ok(out)
    }

    fn delete_keys(&mut self, docs: &[String]) -> Result<(), StoreError> {
        let err = |e| map_err(e, &self.paths.keys);
        let tx = self
            .keys
            .transaction_with_behavior(Immediate)
            .map_err(err)?;
        for doc in docs {
            tx.prepare_cached("DELETE FROM doc_keys WHERE doc = ?1")
                .and_then(|mut s| s.execute([doc]))
                .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// `wal_checkpoint(TRUNCATE)` on both files: afterwards neither WAL holds a frame
    /// written before (what a deletion removed). A reader in the way leaves it pending.
    fn checkpoint(&mut self) -> Result<(), StoreError> {
        let mut done = true;
        for (conn, path) in [
            (&self.data, &self.paths.data),
            (&self.keys, &self.paths.keys),
        ] {
            let busy: i64 = conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
                .map_err(|e| map_err(e, path))?;
            done &= busy == 0;
        }
        self.checkpoint_pending = !done;
        if !done {
            tracing::warn!("the WAL could not be emptied after a deletion (a reader was busy): retrying after the next commit");
        }
        Ok(())
    }

    fn apply(&mut self, ops: &[StorageOp]) -> Result<(), StoreError> {
        let written: Vec<String> = ops
            .iter()
            .filter(|op| {
                !matches!(
                    op,
                    StorageOp::DeleteDocument { .. } | StorageOp::ForgetSyncState { .. }
                )
            })
            .map(|op| op.document().to_string())
            .collect();
        let keys = self.ensure_keys(written.iter().map(String::as_str))?;
        let err = |e| map_err(e, &self.paths.data);
        let tx = self
            .data
            .transaction_with_behavior(Immediate)
            .map_err(err)?;
        let mut deleted = Vec::new();
        for op in ops {
            match op {
                StorageOp::PutChunk { key, data } => {
                    put_chunk(&tx, &keys, key, data, &self.paths.data)?
                }
                StorageOp::Compact {
                    snapshot,
                    data,
                    replaces,
                } => {
                    put_chunk(&tx, &keys, snapshot, data, &self.paths.data)?;
                    let mut del = tx
                        .prepare_cached(
                            "DELETE FROM chunks WHERE doc_id = ?1 AND kind = ?2 AND hash = ?3",
                        )
                        .map_err(err)?;
                    for k in replaces.iter().filter(|k| *k != snapshot) {
                        del.execute(params![k.document.to_string(), k.kind.as_str(), k.hash])
                            .map_err(err)?;
                    }
                }
                StorageOp::PutSyncState {
                    document,
                    peer_storage_id,
                    data,
                } => {
                    let doc = document.to_string();
                    let sealed = keys[&doc]
                        .seal(&keys::sync_state_aad(&doc, peer_storage_id), data)
                        .map_err(key_err)?;
                    tx.prepare_cached(
                        "INSERT INTO sync_states (doc_id, peer_storage_id, data) VALUES (?1, ?2, ?3)
                         ON CONFLICT (doc_id, peer_storage_id) DO UPDATE SET data = excluded.data",
                    )
                    .and_then(|mut s| s.execute(params![doc, peer_storage_id, sealed]))
                    .map_err(err)?;
                }
                StorageOp::ForgetSyncState {
                    document,
                    peer_storage_id,
                } => {
                    tx.prepare_cached(
                        "DELETE FROM sync_states WHERE doc_id = ?1 AND peer_storage_id = ?2",
                    )
                    .and_then(|mut s| s.execute(params![document.to_string(), peer_storage_id]))
                    .map_err(err)?;
                }
                StorageOp::DeleteDocument { document } => {
                    let id = document.to_string();
                    tx.prepare_cached("DELETE FROM chunks WHERE doc_id = ?1")
                        .and_then(|mut s| s.execute([&id]))
                        .map_err(err)?;
                    tx.prepare_cached("DELETE FROM sync_states WHERE doc_id = ?1")
                        .and_then(|mut s| s.execute([&id]))
                        .map_err(err)?;
                    deleted.push(id);
                }
            }
        }
        tx.commit().map_err(err)?;
        // Committed: what follows finishes the shredding. A failure here does not undo the
        // commit (its acknowledgements are honest); it is logged and retried after the next
        // commit, and at the next start.
        if !deleted.is_empty() || self.sweep_pending || self.checkpoint_pending {
            if let Err(e) = self.shred(deleted) {
                self.sweep_pending = true;
                tracing::error!(error = %e, "could not finish deleting a document's key: retrying after the next commit");
            }
        }
        Ok(())
    }

    /// Delete the keys of `deleted` documents that have no rows left (a later write in the
    /// same batch keeps the key), then empty both WALs.
    fn shred(&mut self, deleted: Vec<String>) -> Result<(), StoreError> {
        if self.sweep_pending {
            self.sweep_orphan_keys()?;
        }
        let gone = self.without_rows(deleted)?;
        self.delete_keys(&gone)?;
        self.checkpoint()
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
        self.blocking(move |inner| {
            let err = |e| map_err(e, &inner.paths.data);
            let tx = inner.data.unchecked_transaction().map_err(err)?;
            let chunks = tx
                .prepare_cached("SELECT kind, hash, data FROM chunks WHERE doc_id = ?1")
                .and_then(|mut s| {
                    s.query_map([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                        .collect::<Result<Vec<_>, _>>()
                })
                .map_err(err)?;
            let states = tx
                .prepare_cached("SELECT peer_storage_id, data FROM sync_states WHERE doc_id = ?1")
                .and_then(|mut s| {
                    s.query_map([&id], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect::<Result<Vec<_>, _>>()
                })
                .map_err(err)?;
            tx.commit().map_err(err)?;
            SealedRows { chunks, states }.open(
                doc,
                || inner.key_of(&id),
                || {
                    format!(
                        "document {id} has stored data but no key in {}: restore the keys file \
                         that belongs to this store (without its key the document cannot be read)",
                        inner.paths.keys
                    )
                },
            )
        })
        .await
    }

    async fn apply(&self, ops: Vec<StorageOp>) -> Result<(), StoreError> {
        if ops.is_empty() {
            return Ok(());
        }
        self.blocking(move |inner| inner.apply(&ops)).await
    }

    async fn list_documents(&self) -> Result<Vec<DocumentId>, StoreError> {
        let ids = self
            .blocking(|inner| {
                inner
                    .data
                    .prepare_cached("SELECT DISTINCT doc_id FROM chunks ORDER BY doc_id")
                    .and_then(|mut s| {
                        s.query_map([], |r| r.get::<_, String>(0))?
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .map_err(inner.data_err())
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
        self.blocking(move |inner| {
            inner
                .data
                .prepare_cached("SELECT value FROM meta WHERE key = ?1")
                .and_then(|mut s| s.query_row([&key], |r| r.get(0)).optional())
                .map_err(inner.data_err())
        })
        .await
    }

    async fn put_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let (key, value) = (format!("{SETTING_PREFIX}{key}"), value.to_owned());
        self.blocking(move |inner| {
            inner
                .data
                .prepare_cached(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                )
                .and_then(|mut s| s.execute([&key, &value]))
                .map(|_| ())
                .map_err(inner.data_err())
        })
        .await
    }
}

fn put_chunk(
    tx: &rusqlite::Transaction<'_>,
    keys: &HashMap<String, Sealer>,
    key: &ChunkKey,
    data: &[u8],
    path: &str,
) -> Result<(), StoreError> {
    let doc = key.document.to_string();
    let err = |e: rusqlite::Error| map_err(e, path);
    // Content-addressed: a chunk already stored is not sealed again.
    let exists: bool = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM chunks WHERE doc_id = ?1 AND kind = ?2 AND hash = ?3)",
        )
        .and_then(|mut s| s.query_row(params![doc, key.kind.as_str(), key.hash], |r| r.get(0)))
        .map_err(err)?;
    if exists {
        return Ok(());
    }
    let sealed = keys[&doc]
        .seal(&keys::chunk_aad(&doc, key.kind.as_str(), &key.hash), data)
        .map_err(key_err)?;
    tx.prepare_cached("INSERT INTO chunks (doc_id, kind, hash, data) VALUES (?1, ?2, ?3, ?4)")
        .and_then(|mut s| s.execute(params![doc, key.kind.as_str(), key.hash, sealed]))
        .map_err(err)?;
    Ok(())
}
