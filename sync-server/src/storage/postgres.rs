//! The shared store: documents in PostgreSQL (`--database-url`), so several server nodes
//! can serve the same documents. Same semantics as [`super::SqliteStore`]: every stored
//! value sealed under its document's own key; the document keys, wrapped by the master key,
//! in a table of their own (`store_doc_keys`, docs/AT-REST.md); one transaction per `apply`
//! (keys, chunks, compaction, sync states and deletions commit together); strict loads.
//!
//! Every node sharing the database shares one storage id (a device reconnecting to another
//! node keeps its cheap reconnect) and must have the same master key (checked at open).
//! Everything runs on [`PgPool`] threads; statements are parameterised, never formatted.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use fieldbook_sync::{ChunkKey, DocumentId, StorageId, StorageOp, StoredDocument};
use postgres::error::SqlState;
use postgres::Transaction;
use sha2::Digest;

use super::keys::{self, KeyError, MasterKey, Sealer};
use super::{SealedRows, Store, StoreError};
use crate::pg::{self, PgError, PgPool};

/// The migration scope of the store's tables in `schema_migrations`.
pub const MIGRATION_SCOPE: &str = "store";

/// The store's schema, one step per version (never edit a released step: add one).
pub const STEPS: &[&str] = &[
    // 1: sealed chunks and sync states, wrapped document keys, the store's identity, settings.
    "CREATE TABLE store_meta (key TEXT PRIMARY KEY, value BYTEA NOT NULL);
     CREATE TABLE store_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE store_doc_keys (doc TEXT PRIMARY KEY, wrapped BYTEA NOT NULL);
     CREATE TABLE store_chunks (
         doc_id TEXT NOT NULL, kind TEXT NOT NULL, hash TEXT NOT NULL, data BYTEA NOT NULL,
         PRIMARY KEY (doc_id, kind, hash));
     CREATE TABLE store_sync_states (
         doc_id TEXT NOT NULL, peer_storage_id TEXT NOT NULL, data BYTEA NOT NULL,
         PRIMARY KEY (doc_id, peer_storage_id));",
];

/// How often a transaction that PostgreSQL rolled back because of another node (a deadlock
/// or a serialisation failure: nothing of it was committed) is run again.
const RETRIES: usize = 3;

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    master: Arc<Sealer>,
    storage_id: StorageId,
    /// This node's id in change notifications (`crate::feed`), once it has a feed.
    notify_as: Option<Arc<str>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("database", self.pool.url())
            .finish()
    }
}

fn key_err(e: KeyError) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// A PostgreSQL error as a store error. The message is PostgreSQL's own (with its SQLSTATE),
/// never the statement's parameters (sealed case data, ids) or the URL (it may hold a password).
pub fn store_err(e: PgError) -> StoreError {
    match &e {
        PgError::Db(db) => {
            if let Some(d) = db.as_db_error() {
                if *d.code() == SqlState::DISK_FULL || *d.code() == SqlState::OUT_OF_MEMORY {
                    return StoreError::Full;
                }
                return StoreError::Backend(format!(
                    "PostgreSQL: {} ({})",
                    d.message(),
                    d.code().code()
                ));
            }
            if db.is_closed() {
                return StoreError::Unavailable(format!("PostgreSQL connection lost: {db}"));
            }
            StoreError::Backend(format!("PostgreSQL: {db}"))
        }
        PgError::Connect(_) | PgError::Stopped => StoreError::Unavailable(e.to_string()),
        PgError::Other(_) => StoreError::Backend(e.to_string()),
    }
}

/// Rolled back by PostgreSQL because of a concurrent transaction: safe to run again.
fn retryable(e: &PgError) -> bool {
    matches!(e.code(), Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE)
}

/// A store error carried through a pool job (which returns [`PgError`]).
fn wrap(e: StoreError) -> PgError {
    PgError::Other(e.to_string())
}

impl PgStore {
    /// Open the store in the pool's database: migrate its tables, create the storage id and
    /// the master key check on first open, and check `master` against it (a wrong key is
    /// refused before anything is written).
    pub async fn open(pool: PgPool, master: MasterKey) -> Result<Self, StoreError> {
        let master = Arc::new(master.cipher().map_err(key_err)?);
        let check = master
            .seal(&keys::master_check_aad(), b"fieldbook")
            .map_err(key_err)?;
        let fresh_id = StorageId::random().0;
        let (storage_id, stored_check) = pool
            .run_async(move |c| {
                pg::migrate(c, MIGRATION_SCOPE, STEPS)?;
                // Created once: nodes starting together keep the first one's.
                c.execute(
                    "INSERT INTO store_meta (key, value) VALUES ('storage_id', $1), ('master_check', $2)
                     ON CONFLICT (key) DO NOTHING",
                    &[&fresh_id.as_bytes(), &check],
                )?;
                let rows = c.query(
                    "SELECT key, value FROM store_meta WHERE key IN ('storage_id', 'master_check')",
                    &[],
                )?;
                let mut id = None;
                let mut check = None;
                for r in rows {
                    match r.get::<_, &str>(0) {
                        "storage_id" => id = Some(r.get::<_, Vec<u8>>(1)),
                        _ => check = Some(r.get::<_, Vec<u8>>(1)),
                    }
                }
                Ok((id, check))
            })
            .await
            .map_err(|e| match e {
                PgError::Other(m) if m.contains("newer than this server") => {
                    StoreError::Backend(m)
                }
                e => store_err(e),
            })?;
        let corrupt = || StoreError::InvalidRecord("the store's identity rows are missing".into());
        let storage_id = String::from_utf8(storage_id.ok_or_else(corrupt)?)
            .map_err(|_| StoreError::InvalidRecord("the store's storage id".into()))?;
        if master
            .open(
                &keys::master_check_aad(),
                &stored_check.ok_or_else(corrupt)?,
            )
            .is_err()
        {
            return Err(StoreError::Backend(
                "the master key is not the one the document keys in this database were made with: \
                 every node must use the same FIELDBOOK_MASTER_KEY or master_key_file (nothing was changed)"
                    .into(),
            ));
        }
        Ok(PgStore {
            pool,
            master,
            storage_id: StorageId(storage_id),
            notify_as: None,
        })
    }

    /// The pool this store runs on (shared with the directory and the change feed).
    /// Announce every commit's written documents on the change feed as `node`
    /// (`crate::feed::PgFeed`), inside the commit's own transaction.
    pub fn notify_as(&mut self, node: &str) {
        self.notify_as = Some(node.into());
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// The key of `doc` inside `tx`, locked against a concurrent deletion until commit, if it has one.
fn key_of(tx: &mut Transaction<'_>, master: &Sealer, doc: &str) -> Result<Option<Sealer>, PgError> {
    let row = tx.query_opt(
        "SELECT wrapped FROM store_doc_keys WHERE doc = $1 FOR SHARE",
        &[&doc],
    )?;
    row.map(|r| {
        master.unwrap_key(doc, r.get::<_, &[u8]>(0)).map_err(|_| {
            wrap(StoreError::InvalidRecord(format!(
                "the key of document {doc} does not open with the master key"
            )))
        })
    })
    .transpose()
}

/// The key of `doc`, made (in this transaction) if it has none. Two nodes making one at once:
/// the second's insert waits for the first and then uses the first's key.
fn ensure_key(
    tx: &mut Transaction<'_>,
    master: &Sealer,
    cache: &mut HashMap<String, Sealer>,
    doc: &str,
) -> Result<(), PgError> {
    if cache.contains_key(doc) {
        return Ok(());
    }
    let key = match key_of(tx, master, doc)? {
        Some(k) => k,
        None => {
            let (_, raw) = Sealer::generate().map_err(|e| wrap(key_err(e)))?;
            let wrapped = master.wrap(doc, &raw).map_err(|e| wrap(key_err(e)))?;
            tx.execute(
                "INSERT INTO store_doc_keys (doc, wrapped) VALUES ($1, $2) ON CONFLICT (doc) DO NOTHING",
                &[&doc, &wrapped],
            )?;
            key_of(tx, master, doc)?
                .ok_or_else(|| PgError::Other("a new document key was not stored".into()))?
        }
    };
    cache.insert(doc.to_owned(), key);
    Ok(())
}

fn put_chunk(
    tx: &mut Transaction<'_>,
    master: &Sealer,
    cache: &mut HashMap<String, Sealer>,
    key: &ChunkKey,
    data: &[u8],
) -> Result<(), PgError> {
    let doc = key.document.to_string();
    ensure_key(tx, master, cache, &doc)?;
    let sealed = cache[&doc]
        .seal(&keys::chunk_aad(&doc, key.kind.as_str(), &key.hash), data)
        .map_err(|e| wrap(key_err(e)))?;
    // Content-addressed: the same chunk written by two nodes at once is one row, no error.
    tx.execute(
        "INSERT INTO store_chunks (doc_id, kind, hash, data) VALUES ($1, $2, $3, $4)
         ON CONFLICT (doc_id, kind, hash) DO NOTHING",
        &[&doc, &key.kind.as_str(), &key.hash, &sealed],
    )?;
    Ok(())
}

/// Take a transaction-long lock on every document `ops` touch, in one global order, before
/// touching any row. Two nodes writing the same documents (devices on both syncing one case)
/// would otherwise take row locks in their batches' own orders and deadlock; PostgreSQL
/// then aborts one, and under steady load the retries deadlocked again (the fan-out bench
/// lost commits this way). With the locks, the second waits for the first and both commit.
/// Returns the statements, run as one batch at the start of each attempt.
fn document_locks(ops: &[StorageOp]) -> String {
    /// The first advisory key of the store's document locks (the directory uses one-key
    /// locks, a separate space).
    const STORE_LOCKS: i32 = 0x4642_5354; // "FBST"
    let docs: BTreeSet<&DocumentId> = ops.iter().map(StorageOp::document).collect();
    let keys: BTreeSet<i32> = docs
        .into_iter()
        .map(|doc| {
            let digest = sha2::Sha256::digest(doc.to_string().as_bytes());
            i32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
        })
        .collect();
    // Integers we computed, so a plain batch (one round trip) is safe; run in this order.
    keys.iter()
        .map(|k| format!("SELECT pg_advisory_xact_lock({STORE_LOCKS}, {k});"))
        .collect()
}

/// Every op of one `apply`, in order, inside `tx` (the caller commits). One function, so a
/// statement that must commit with the batch (a change notification) has one place to go.
fn apply_ops(tx: &mut Transaction<'_>, master: &Sealer, ops: &[StorageOp]) -> Result<(), PgError> {
    let mut cache: HashMap<String, Sealer> = HashMap::new();
    for op in ops {
        match op {
            StorageOp::PutChunk { key, data } => put_chunk(tx, master, &mut cache, key, data)?,
            StorageOp::Compact {
                snapshot,
                data,
                replaces,
            } => {
                put_chunk(tx, master, &mut cache, snapshot, data)?;
                let del = tx.prepare(
                    "DELETE FROM store_chunks WHERE doc_id = $1 AND kind = $2 AND hash = $3",
                )?;
                for k in replaces.iter().filter(|k| *k != snapshot) {
                    tx.execute(&del, &[&k.document.to_string(), &k.kind.as_str(), &k.hash])?;
                }
            }
            StorageOp::PutSyncState {
                document,
                peer_storage_id,
                data,
            } => {
                let doc = document.to_string();
                ensure_key(tx, master, &mut cache, &doc)?;
                let sealed = cache[&doc]
                    .seal(&keys::sync_state_aad(&doc, peer_storage_id), data)
                    .map_err(|e| wrap(key_err(e)))?;
                tx.execute(
                    "INSERT INTO store_sync_states (doc_id, peer_storage_id, data) VALUES ($1, $2, $3)
                     ON CONFLICT (doc_id, peer_storage_id) DO UPDATE SET data = excluded.data",
                    &[&doc, &peer_storage_id, &sealed],
                )?;
            }
            StorageOp::ForgetSyncState {
                document,
                peer_storage_id,
            } => {
                tx.execute(
                    "DELETE FROM store_sync_states WHERE doc_id = $1 AND peer_storage_id = $2",
                    &[&document.to_string(), &peer_storage_id],
                )?;
            }
            StorageOp::DeleteDocument { document } => {
                let doc = document.to_string();
                // The key first: it waits for any node still writing under it (they hold it
                // FOR SHARE), so the rows deleted next include what they committed.
                tx.execute("DELETE FROM store_doc_keys WHERE doc = $1", &[&doc])?;
                tx.execute("DELETE FROM store_chunks WHERE doc_id = $1", &[&doc])?;
                tx.execute("DELETE FROM store_sync_states WHERE doc_id = $1", &[&doc])?;
                // A later op in this batch writes the document afresh, under a new key.
                cache.remove(&doc);
            }
        }
    }
    Ok(())
}

impl Store for PgStore {
    fn storage_id(&self) -> &StorageId {
        &self.storage_id
    }

    async fn load(&self, doc: DocumentId) -> Result<Option<StoredDocument>, StoreError> {
        let id = doc.to_string();
        let master = self.master.clone();
        self.pool
            .run_async(move |c| {
                // One statement, so one snapshot (chunks, sync states and key as of one
                // moment), typed so it is one round trip: a load of a document no one stored
                // costs a node as little as on SQLite (a flood of made-up ids must not stall
                // everyone else's sync behind it).
                let mut rows = SealedRows::default();
                let mut wrapped: Option<Vec<u8>> = None;
                for r in c.query_typed(
                    "SELECT 0, kind, hash, data FROM store_chunks WHERE doc_id = $1 \
                     UNION ALL SELECT 1, peer_storage_id, '', data FROM store_sync_states \
                       WHERE doc_id = $1 \
                     UNION ALL SELECT 2, '', '', wrapped FROM store_doc_keys WHERE doc = $1 \
                     ORDER BY 1, 2, 3",
                    &[(&id, postgres::types::Type::TEXT)],
                )? {
                    match r.get::<_, i32>(0) {
                        0 => rows.chunks.push((r.get(1), r.get(2), r.get(3))),
                        1 => rows.states.push((r.get(1), r.get(3))),
                        _ => wrapped = Some(r.get(3)),
                    }
                }
                let key = || {
                    wrapped
                        .map(|w| {
                            master.unwrap_key(&id, &w).map_err(|_| {
                                StoreError::InvalidRecord(format!(
                                    "the key of document {id} does not open with the master key"
                                ))
                            })
                        })
                        .transpose()
                };
                let no_key = || {
                    format!(
                        "document {id} has stored data but no key: without its key the document \
                         cannot be read (restore the database from one backup, not its tables \
                         from different ones)"
                    )
                };
                Ok(rows.open(doc, key, no_key).map_err(LoadError))
                    as Result<Result<Option<StoredDocument>, LoadError>, PgError>
            })
            .await
            .map_err(store_err)?
            .map_err(|LoadError(e)| e)
    }

    async fn apply(&self, ops: Vec<StorageOp>) -> Result<(), StoreError> {
        if ops.is_empty() {
            return Ok(());
        }
        let master = self.master.clone();
        // Other nodes hear of content written here (not mere sync progress) from PostgreSQL
        // itself, on commit: a node killed after committing has still told them.
        let notes: Vec<String> = match &self.notify_as {
            Some(node) => crate::feed::pg_payloads(node, &crate::feed::written_documents(&ops)),
            None => Vec::new(),
        };
        let locks = document_locks(&ops);
        self.pool
            .run_async(move |c| {
                let mut attempt = 0;
                loop {
                    let mut tx = c.transaction()?;
                    let result = tx
                        .batch_execute(&locks)
                        .map_err(PgError::from)
                        .and_then(|()| apply_ops(&mut tx, &master, &ops))
                        .and_then(|()| {
                            for note in &notes {
                                tx.execute(
                                    "SELECT pg_notify($1, $2)",
                                    &[&crate::feed::PG_CHANNEL, note],
                                )?;
                            }
                            Ok(())
                        })
                        .and_then(|()| Ok(tx.commit()?));
                    match result {
                        // Rolled back whole by PostgreSQL (another node's transaction was in
                        // the way): nothing was committed, so running it again is safe.
                        Err(e) if retryable(&e) && attempt < RETRIES => attempt += 1,
                        other => return other,
                    }
                }
            })
            .await
            .map_err(store_err)
    }

    async fn list_documents(&self) -> Result<Vec<DocumentId>, StoreError> {
        let ids: Vec<String> = self
            .pool
            .run_async(|c| {
                Ok(c.query(
                    "SELECT DISTINCT doc_id FROM store_chunks ORDER BY doc_id",
                    &[],
                )?
                .into_iter()
                .map(|r| r.get(0))
                .collect())
            })
            .await
            .map_err(store_err)?;
        ids.into_iter()
            .map(|s| {
                s.parse()
                    .map_err(|_| StoreError::InvalidRecord(format!("document id {s:?}")))
            })
            .collect()
    }

    async fn get_setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        let key = key.to_owned();
        self.pool
            .run_async(move |c| {
                Ok(
                    c.query_opt("SELECT value FROM store_settings WHERE key = $1", &[&key])?
                        .map(|r| r.get(0)),
                )
            })
            .await
            .map_err(store_err)
    }

    async fn put_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let (key, value) = (key.to_owned(), value.to_owned());
        self.pool
            .run_async(move |c| {
                c.execute(
                    "INSERT INTO store_settings (key, value) VALUES ($1, $2)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    &[&key, &value],
                )?;
                Ok(())
            })
            .await
            .map_err(store_err)
    }
}

/// A load that read its rows but could not open them (carried out of the pool job as a value,
/// so it stays a [`StoreError::InvalidRecord`]).
struct LoadError(StoreError);
