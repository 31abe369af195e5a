//! [`Store`] on IndexedDB through `indexed_db_futures`, sealed at rest.
//!
//! Layout: `chunks` and `sync_states` hold sealed values under plain keys (document ids and
//! chunk hashes, see [`keys`]); `meta` holds `storage_id`, `keyring` (JSON, wrapped keys only)
//! and `lock_facts` (JSON, ids and counters) in plain form, and every setting sealed under
//! `setting:<name>`. Each sealed value's AAD is its object store and record key
//! ([`crypto::record_aad`]), so a value moved to another record does not open.

use std::cell::RefCell;

use fieldbook_sync::{DocumentId, StorageId, StorageOp, StoredDocument};
use indexed_db_futures::database::Database;
use indexed_db_futures::internals::SystemRepr;
use indexed_db_futures::object_store::ObjectStore;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::{TransactionDurability, TransactionMode, TransactionOptions};
use indexed_db_futures::typed_array::Uint8Array;
use indexed_db_futures::KeyRange;

use crate::crypto::{self, DataKey, KdfParams, Keyring};
use crate::{keys, LockFacts, Store, StoreError, UnlockError};

const CHUNKS: &str = "chunks";
const SYNC_STATES: &str = "sync_states";
const META: &str = "meta";
/// Settings share the meta store with the storage id, under their own prefix.
const SETTING_PREFIX: &str = "setting:";
const STORAGE_ID: &str = "storage_id";
const KEYRING: &str = "keyring";
const LOCK_FACTS: &str = "lock_facts";

fn idb_err(e: impl std::fmt::Display) -> StoreError {
    let text = e.to_string();
    if text.contains("QuotaExceeded") {
        StoreError::Full
    } else {
        StoreError::Backend(text)
    }
}

fn setting_key(key: &str) -> String {
    format!("{SETTING_PREFIX}{key}")
}

fn settings_range() -> KeyRange<String> {
    KeyRange::Bound(
        SETTING_PREFIX.to_owned(),
        false,
        format!("{SETTING_PREFIX}\u{ffff}"),
        false,
    )
}

/// Open (creating on first use) the database `name`.
async fn open_database(name: &str) -> Result<Database, StoreError> {
    Database::open(name)
        .with_version(1u8)
        .with_on_upgrade_needed(|_, db| {
            db.create_object_store(CHUNKS).build()?;
            db.create_object_store(SYNC_STATES).build()?;
            db.create_object_store(META).build()?;
            Ok(())
        })
        .await
        .map_err(idb_err)
}

async fn get_text(meta: &ObjectStore<'_>, key: &str) -> Result<Option<String>, StoreError> {
    meta.get(key)
        .primitive()
        .map_err(idb_err)?
        .await
        .map_err(idb_err)
}

fn parse_keyring(json: &str) -> Result<Keyring, StoreError> {
    Keyring::from_json(json).map_err(|e| StoreError::InvalidRecord(format!("keyring: {e}")))
}

fn parse_facts(json: &str) -> Result<LockFacts, StoreError> {
    LockFacts::from_json(json).map_err(|e| StoreError::InvalidRecord(format!("lock facts: {e}")))
}

async fn write_facts(db: &Database, facts: &LockFacts) -> Result<(), StoreError> {
    let tx = db
        .transaction(META)
        .with_mode(TransactionMode::Readwrite)
        .build()
        .map_err(idb_err)?;
    let meta = tx.object_store(META).map_err(idb_err)?;
    meta.put(facts.to_json())
        .with_key(LOCK_FACTS)
        .await
        .map_err(idb_err)?;
    tx.commit().await.map_err(idb_err)
}

async fn read_facts(db: &Database) -> Result<LockFacts, StoreError> {
    let tx = db.transaction(META).build().map_err(idb_err)?;
    let meta = tx.object_store(META).map_err(idb_err)?;
    match get_text(&meta, LOCK_FACTS).await? {
        Some(json) => parse_facts(&json),
        None => Ok(LockFacts::default()),
    }
}

/// Read the keyring, change it and write it back in one transaction (so two tabs changing
/// different wraps do not undo each other); returns what was written.
async fn update_keyring(
    db: &Database,
    change: impl FnOnce(&mut Keyring),
) -> Result<Keyring, StoreError> {
    let tx = db
        .transaction(META)
        .with_mode(TransactionMode::Readwrite)
        .build()
        .map_err(idb_err)?;
    let meta = tx.object_store(META).map_err(idb_err)?;
    let json = get_text(&meta, KEYRING)
        .await?
        .ok_or_else(|| StoreError::InvalidRecord("the keyring is gone".into()))?;
    let mut ring = parse_keyring(&json)?;
    change(&mut ring);
    meta.put(ring.to_json())
        .with_key(KEYRING)
        .await
        .map_err(idb_err)?;
    tx.commit().await.map_err(idb_err)?;
    Ok(ring)
}

/// A connection closed when dropped. IndexedDB otherwise keeps it open until the garbage
/// collector comes by, and deleting the database waits until then: dropping a store (the
/// app locking) must let go of the database at once.
struct Connection(Database);

impl Drop for Connection {
    fn drop(&mut self) {
        // Closing twice (after `close_connection`) is allowed and does nothing.
        self.0.as_sys().close();
    }
}

impl std::ops::Deref for Connection {
    type Target = Database;
    fn deref(&self) -> &Database {
        &self.0
    }
}

impl Connection {
    /// Close, then delete the database.
    async fn delete(self) -> Result<(), StoreError> {
        let name = self.0.name();
        drop(self);
        Database::delete_by_name(&name)
            .map_err(idb_err)?
            .await
            .map_err(idb_err)
    }
}

/// The database opened without any key: only the storage id, the keyring (wrapped keys) and
/// the [`LockFacts`] can be read. [`Locked::unlock`] (or [`Locked::create`] on a new device)
/// gives the [`IdbStore`].
pub struct Locked {
    db: Connection,
    storage_id: StorageId,
    keyring: RefCell<Option<Keyring>>,
    facts: RefCell<LockFacts>,
}

impl std::fmt::Debug for Locked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Locked")
            .field("db", &self.db.name())
            .field("has_keyring", &self.has_keyring())
            .finish()
    }
}

impl Locked {
    /// Open (creating on first use) the database `name`, without a key.
    pub async fn open(name: &str) -> Result<Locked, StoreError> {
        let db = open_database(name).await?;
        match Self::read_plain_records(&db).await {
            Ok((storage_id, keyring, facts)) => Ok(Locked {
                db: Connection(db),
                storage_id,
                keyring: RefCell::new(keyring),
                facts: RefCell::new(facts),
            }),
            Err(e) => {
                db.close();
                Err(e)
            }
        }
    }

    /// The storage id (created on first open), the keyring and the lock facts.
    async fn read_plain_records(
        db: &Database,
    ) -> Result<(StorageId, Option<Keyring>, LockFacts), StoreError> {
        let tx = db
            .transaction(META)
            .with_mode(TransactionMode::Readwrite)
            .build()
            .map_err(idb_err)?;
        let meta = tx.object_store(META).map_err(idb_err)?;
        let storage_id = match get_text(&meta, STORAGE_ID).await? {
            Some(id) => StorageId(id),
            None => {
                let id = StorageId::random();
                meta.put(id.0.clone())
                    .with_key(STORAGE_ID)
                    .await
                    .map_err(idb_err)?;
                id
            }
        };
        let keyring = get_text(&meta, KEYRING).await?;
        let facts = get_text(&meta, LOCK_FACTS).await?;
        tx.commit().await.map_err(idb_err)?;
        Ok((
            storage_id,
            keyring.as_deref().map(parse_keyring).transpose()?,
            facts
                .as_deref()
                .map(parse_facts)
                .transpose()?
                .unwrap_or_default(),
        ))
    }

    pub fn storage_id(&self) -> &StorageId {
        &self.storage_id
    }

    /// Whether a data key exists for this database (else [`Locked::create`] makes one).
    pub fn has_keyring(&self) -> bool {
        self.keyring.borrow().is_some()
    }

    /// Whether the keyring still has a passcode wrap (not after [`Locked::wipe_except`]).
    pub fn has_passcode(&self) -> bool {
        self.keyring
            .borrow()
            .as_ref()
            .is_some_and(|k| k.by_passcode.is_some())
    }

    /// The lock facts as of opening (or this handle's last write).
    pub fn facts(&self) -> LockFacts {
        self.facts.borrow().clone()
    }

    pub async fn put_facts(&self, facts: &LockFacts) -> Result<(), StoreError> {
        write_facts(&self.db, facts).await?;
        *self.facts.borrow_mut() = facts.clone();
        Ok(())
    }

    /// A new random data key wrapped under `passcode` (Argon2id with [`KdfParams::DEVICE`])
    /// and under `server_key` (this device's key on the server), written together.
    /// Refused when a keyring exists, or when the database holds records without one (an
    /// unsealed store from before: delete it instead). On failure the connection is closed.
    pub async fn create(
        self,
        passcode: &str,
        server_key: &[u8; 32],
    ) -> Result<IdbStore, StoreError> {
        match self.write_new_keyring(passcode, server_key).await {
            Ok((ring, key)) => Ok(self.into_store(ring, key)),
            Err(e) => {
                self.close();
                Err(e)
            }
        }
    }

    /// Both wraps in the one transaction that writes the keyring: a keyring without the
    /// server's wrap would leave what a lockout keeps unopenable.
    async fn write_new_keyring(
        &self,
        passcode: &str,
        server_key: &[u8; 32],
    ) -> Result<(Keyring, DataKey), StoreError> {
        if self.has_keyring() {
            return Err(StoreError::InvalidRecord(
                "this database already has a keyring: unlock it instead".into(),
            ));
        }
        let (mut ring, key) = Keyring::create(passcode, KdfParams::DEVICE, &mut rand::rng())
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        ring.set_server_key(&key, server_key, &mut rand::rng());
        let tx = self
            .db
            .transaction([CHUNKS, SYNC_STATES, META])
            .with_mode(TransactionMode::Readwrite)
            .build()
            .map_err(idb_err)?;
        let meta = tx.object_store(META).map_err(idb_err)?;
        if get_text(&meta, KEYRING).await?.is_some() {
            return Err(StoreError::InvalidRecord(
                "another tab created this database's keyring: unlock it instead".into(),
            ));
        }
        let mut unsealed = 0;
        for store in [CHUNKS, SYNC_STATES] {
            unsealed += tx
                .object_store(store)
                .map_err(idb_err)?
                .count()
                .primitive()
                .map_err(idb_err)?
                .await
                .map_err(idb_err)?;
        }
        unsealed += meta
            .count()
            .with_query::<String, _>(settings_range())
            .primitive()
            .map_err(idb_err)?
            .await
            .map_err(idb_err)?;
        if unsealed > 0 {
            return Err(StoreError::InvalidRecord(format!(
                "{unsealed} records were stored without encryption: delete this database"
            )));
        }
        meta.put(ring.to_json())
            .with_key(KEYRING)
            .await
            .map_err(idb_err)?;
        tx.commit().await.map_err(idb_err)?;
        Ok((ring, key))
    }

    /// The store, if `passcode` opens the keyring. A wrong passcode counts (persistently,
    /// before this returns) in [`LockFacts::failed_attempts`]; the right one resets it to 0.
    pub async fn unlock(self, passcode: &str) -> Result<IdbStore, (Locked, UnlockError)> {
        let ring = self.keyring.borrow().clone();
        let ring = match ring {
            Some(ring) => ring,
            None => return Err((self, UnlockError::NoKeyring)),
        };
        match ring.unlock(passcode) {
            Ok(key) => {
                if self.facts.borrow().failed_attempts != 0 {
                    if let Err(e) = self.count_attempt(false).await {
                        return Err((self, e.into()));
                    }
                }
                Ok(self.into_store(ring, key))
            }
            Err(crypto::CryptoError::WrongPasscode) => match self.count_attempt(true).await {
                Ok(failed_attempts) => Err((self, UnlockError::WrongPasscode { failed_attempts })),
                Err(e) => Err((self, e.into())),
            },
            Err(e) => Err((self, e.into())),
        }
    }

    /// The store, through the key the server holds for this device (after a wipe, or a
    /// forgotten passcode). Does not touch [`LockFacts::failed_attempts`].
    pub async fn unlock_with_server_key(
        self,
        server_key: &[u8; 32],
    ) -> Result<IdbStore, (Locked, UnlockError)> {
        let ring = self.keyring.borrow().clone();
        let ring = match ring {
            Some(ring) => ring,
            None => return Err((self, UnlockError::NoKeyring)),
        };
        match ring.unlock_with_server_key(server_key) {
            Ok(key) => Ok(self.into_store(ring, key)),
            Err(e) => Err((self, e.into())),
        }
    }

    /// Increment (or reset) the persisted failed-attempt count, read and written in one
    /// transaction so no other tab's count is lost.
    async fn count_attempt(&self, failed: bool) -> Result<u32, StoreError> {
        let tx = self
            .db
            .transaction(META)
            .with_mode(TransactionMode::Readwrite)
            .build()
            .map_err(idb_err)?;
        let meta = tx.object_store(META).map_err(idb_err)?;
        let mut facts = match get_text(&meta, LOCK_FACTS).await? {
            Some(json) => parse_facts(&json)?,
            None => LockFacts::default(),
        };
        facts.failed_attempts = if failed {
            facts.failed_attempts.saturating_add(1)
        } else {
            0
        };
        meta.put(facts.to_json())
            .with_key(LOCK_FACTS)
            .await
            .map_err(idb_err)?;
        tx.commit().await.map_err(idb_err)?;
        let count = facts.failed_attempts;
        *self.facts.borrow_mut() = facts;
        Ok(count)
    }

    /// Delete every chunk and sync state of documents not in `keep`, every setting, and the
    /// passcode wrap (too many wrong passcodes; `keep` is what has not reached the server).
    /// Kept: the server wrap, the storage id and the lock facts, so the server can still
    /// unlock what was kept. One transaction: all of it happens or none. Without a server
    /// wrap (`set_server_key` never called) nothing could open what is kept afterwards: the
    /// caller checks that first.
    // Delete requests' futures are dropped unawaited, as in `apply`: the commit reports them.
    #[allow(clippy::let_underscore_future)]
    pub async fn wipe_except(&self, keep: &[DocumentId]) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction([CHUNKS, SYNC_STATES, META])
            .with_mode(TransactionMode::Readwrite)
            .build()
            .map_err(idb_err)?;
        let raw = tx.as_sys().clone();
        let meta = tx.object_store(META).map_err(idb_err)?;
        let ring = match get_text(&meta, KEYRING).await? {
            Some(json) => {
                let mut ring = parse_keyring(&json)?;
                ring.forget_passcode();
                meta.put(ring.to_json())
                    .with_key(KEYRING)
                    .await
                    .map_err(idb_err)?;
                Some(ring)
            }
            None => None,
        };
        drop(
            meta.delete::<String, _>(settings_range())
                .primitive()
                .map_err(idb_err)?,
        );
        for (name, doc_of) in [
            (
                CHUNKS,
                (|k: &str| keys::parse_chunk(k).map(|c| c.document)) as fn(&str) -> _,
            ),
            (SYNC_STATES, |k: &str| {
                keys::parse_sync_state(k).map(|(d, _)| d)
            }),
        ] {
            let store = tx.object_store(name).map_err(idb_err)?;
            let all = all_keys(&store, None).await?;
            for k in all {
                if !doc_of(&k).is_some_and(|d| keep.contains(&d)) {
                    drop(store.delete(k).primitive().map_err(idb_err)?);
                }
            }
        }
        tx.commit().await.map_err(|e| match raw.error() {
            Some(cause) => idb_err(format!("{}: {}", cause.name(), cause.message())),
            None => idb_err(e),
        })?;
        *self.keyring.borrow_mut() = ring;
        Ok(())
    }

    /// Close the connection and delete the whole database.
    pub async fn delete(self) -> Result<(), StoreError> {
        self.db.delete().await
    }

    /// Close the connection (as dropping does).
    pub fn close(self) {
        drop(self);
    }

    fn into_store(self, keyring: Keyring, key: DataKey) -> IdbStore {
        IdbStore {
            db: self.db,
            storage_id: self.storage_id,
            key,
            keyring: RefCell::new(keyring),
        }
    }
}

/// The unlocked store: holds the data key (dropped, and zeroized, with the store).
pub struct IdbStore {
    db: Connection,
    storage_id: StorageId,
    key: DataKey,
    keyring: RefCell<Keyring>,
}

impl std::fmt::Debug for IdbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdbStore")
            .field("db", &self.db.name())
            .finish_non_exhaustive()
    }
}

impl IdbStore {
    /// Wrap the data key under the key the server holds for this device (replacing any
    /// earlier one), so the server can unlock this device's copy after a wipe.
    pub async fn set_server_key(&self, server_key: &[u8; 32]) -> Result<(), StoreError> {
        let mut wrapped = self.keyring.borrow().clone();
        wrapped.set_server_key(&self.key, server_key, &mut rand::rng());
        let ring = update_keyring(&self.db, |ring| ring.by_server = wrapped.by_server).await?;
        *self.keyring.borrow_mut() = ring;
        Ok(())
    }

    /// Wrap the data key under a new passcode (fresh salt, [`KdfParams::DEVICE`]).
    pub async fn set_passcode(&self, passcode: &str) -> Result<(), StoreError> {
        let mut wrapped = self.keyring.borrow().clone();
        wrapped.kdf = KdfParams::DEVICE;
        wrapped
            .set_passcode(&self.key, passcode, &mut rand::rng())
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let ring = update_keyring(&self.db, |ring| {
            ring.kdf = wrapped.kdf;
            ring.salt = wrapped.salt;
            ring.by_passcode = wrapped.by_passcode;
        })
        .await?;
        *self.keyring.borrow_mut() = ring;
        Ok(())
    }

    pub async fn facts(&self) -> Result<LockFacts, StoreError> {
        read_facts(&self.db).await
    }

    pub async fn put_facts(&self, facts: &LockFacts) -> Result<(), StoreError> {
        write_facts(&self.db, facts).await
    }

    /// Close the connection (as dropping does).
    pub fn close(self) {
        drop(self);
    }

    /// Close the connection and delete the whole database ("wipe this device", tests).
    pub async fn delete(self) -> Result<(), StoreError> {
        self.db.delete().await
    }

    /// Close the connection while the handle is still shared (the app's runner holds it):
    /// every later request through it fails. Needed before [`IdbStore::delete_database`],
    /// which waits until every connection to the database has closed.
    pub fn close_connection(&self) {
        self.db.as_sys().close();
    }

    /// Delete the database `name` (when someone else signs in on a device whose last
    /// person's changes have all been sent). Every connection to it must be closed first,
    /// including this page's ([`IdbStore::close_connection`]): the browser holds the deletion
    /// until they are.
    pub async fn delete_database(name: &str) -> Result<(), StoreError> {
        Database::delete_by_name(name)
            .map_err(idb_err)?
            .await
            .map_err(idb_err)
    }

    fn seal_value(
        &self,
        store: &str,
        key: &str,
        plaintext: &[u8],
        rng: &mut impl rand::CryptoRng,
    ) -> Uint8Array {
        Uint8Array::from(crypto::seal(
            &self.key,
            &crypto::record_aad(store, key),
            plaintext,
            rng,
        ))
    }

    fn open_value(&self, store: &str, key: &str, sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
        crypto::open(&self.key, &crypto::record_aad(store, key), sealed)
            .map_err(|e| StoreError::InvalidRecord(format!("{store} record {key:?}: {e}")))
    }

    /// [`Store::apply`] without sealing: the control for measuring sealing's cost per save
    /// (tests/device_bench.rs). Never built into the app.
    #[cfg(feature = "bench")]
    pub async fn apply_unsealed(&self, ops: Vec<StorageOp>) -> Result<(), StoreError> {
        self.apply_ops(ops, false).await
    }

    /// One readwrite transaction for all of `ops`, applied in order. Every value is sealed
    /// and every request issued, and the commit requested, before the future first waits, so
    /// once the caller has polled it the whole write is with the browser's storage backend:
    /// no round trip to this page per request (each would wait behind rendering and other
    /// tasks). A failing request aborts the transaction, and the commit reports it.
    // The request futures are dropped on purpose (see below): the request is issued when it
    // is built, and the commit reports its outcome.
    #[allow(clippy::let_underscore_future)]
    async fn apply_ops(&self, ops: Vec<StorageOp>, sealed: bool) -> Result<(), StoreError> {
        if ops.is_empty() {
            return Ok(());
        }
        let mut rng = rand::rng();
        let mut value = |store: &str, key: &str, data: Vec<u8>| {
            if sealed {
                self.seal_value(store, key, &data, &mut rng)
            } else {
                Uint8Array::from(data)
            }
        };
        // Relaxed (the default in Chromium since 121, Firefox and Safari, stated here so older
        // Chromium behaves the same): `complete` fires once the write has reached the OS, so
        // it survives the browser or tab being killed; only power loss or an OS crash within
        // the OS's flush interval can lose it. No fsync per keystroke.
        let tx = self
            .db
            .transaction([CHUNKS, SYNC_STATES])
            .with_mode(TransactionMode::Readwrite)
            .with_options(TransactionOptions::new().with_durability(TransactionDurability::Relaxed))
            .build()
            .map_err(idb_err)?;
        // Kept to read why the transaction aborted (e.g. quota) once `commit` has taken it.
        let raw = tx.as_sys().clone();
        {
            let chunks = tx.object_store(CHUNKS).map_err(idb_err)?;
            let states = tx.object_store(SYNC_STATES).map_err(idb_err)?;
            for op in ops {
                // Each request's own future is dropped unawaited: the transaction runs the
                // requests in order, and `commit` below resolves only if all succeeded.
                match op {
                    StorageOp::PutChunk { key, data } => {
                        let record = keys::chunk(&key);
                        drop(
                            chunks
                                .put(value(CHUNKS, &record, data))
                                .with_key(record)
                                .primitive()
                                .map_err(idb_err)?,
                        );
                    }
                    StorageOp::Compact {
                        snapshot,
                        data,
                        replaces,
                    } => {
                        let record = keys::chunk(&snapshot);
                        drop(
                            chunks
                                .put(value(CHUNKS, &record, data))
                                .with_key(record)
                                .primitive()
                                .map_err(idb_err)?,
                        );
                        for k in replaces.iter().filter(|k| **k != snapshot) {
                            drop(chunks.delete(keys::chunk(k)).primitive().map_err(idb_err)?);
                        }
                    }
                    StorageOp::PutSyncState {
                        document,
                        peer_storage_id,
                        data,
                    } => {
                        let record = keys::sync_state(&document, &peer_storage_id);
                        drop(
                            states
                                .put(value(SYNC_STATES, &record, data))
                                .with_key(record)
                                .primitive()
                                .map_err(idb_err)?,
                        );
                    }
                    StorageOp::ForgetSyncState {
                        document,
                        peer_storage_id,
                    } => {
                        drop(
                            states
                                .delete(keys::sync_state(&document, &peer_storage_id))
                                .primitive()
                                .map_err(idb_err)?,
                        );
                    }
                    StorageOp::DeleteDocument { document } => {
                        // A document's records are one key range in each store (see `keys`).
                        let (lo, hi) = keys::range(&document);
                        let range = || KeyRange::Bound(lo.clone(), false, hi.clone(), false);
                        drop(
                            chunks
                                .delete::<String, _>(range())
                                .primitive()
                                .map_err(idb_err)?,
                        );
                        drop(
                            states
                                .delete::<String, _>(range())
                                .primitive()
                                .map_err(idb_err)?,
                        );
                    }
                }
            }
        }
        // Dropping an uncommitted transaction rolls it back: commit is the durability point.
        tx.commit().await.map_err(|e| match raw.error() {
            Some(cause) => idb_err(format!("{}: {}", cause.name(), cause.message())),
            None => idb_err(e),
        })
    }
}

impl Store for IdbStore {
    fn storage_id(&self) -> &StorageId {
        &self.storage_id
    }

    async fn get_setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        let tx = self.db.transaction(META).build().map_err(idb_err)?;
        let meta = tx.object_store(META).map_err(idb_err)?;
        let record = setting_key(key);
        let sealed: Option<Uint8Array> = meta
            .get(record.as_str())
            .primitive()
            .map_err(idb_err)?
            .await
            .map_err(idb_err)?;
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let plain = self.open_value(META, &record, sealed.as_ref())?;
        String::from_utf8(plain)
            .map(Some)
            .map_err(|_| StoreError::InvalidRecord(format!("setting {key:?} is not UTF-8")))
    }

    async fn put_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction(META)
            .with_mode(TransactionMode::Readwrite)
            .build()
            .map_err(idb_err)?;
        let meta = tx.object_store(META).map_err(idb_err)?;
        let record = setting_key(key);
        meta.put(self.seal_value(META, &record, value.as_bytes(), &mut rand::rng()))
            .with_key(record)
            .await
            .map_err(idb_err)?;
        tx.commit().await.map_err(idb_err)
    }

    async fn load(&self, doc: DocumentId) -> Result<Option<StoredDocument>, StoreError> {
        let (lo, hi) = keys::range(&doc);
        // One read transaction: chunks and sync states are seen at the same instant.
        let tx = self
            .db
            .transaction([CHUNKS, SYNC_STATES])
            .build()
            .map_err(idb_err)?;
        let mut stored = StoredDocument::default();
        let chunks = tx.object_store(CHUNKS).map_err(idb_err)?;
        for (k, v) in read_range(&chunks, &lo, &hi).await? {
            let key = keys::parse_chunk(&k)
                .ok_or_else(|| StoreError::InvalidRecord(format!("chunk key {k:?}")))?;
            stored.chunks.push((key, self.open_value(CHUNKS, &k, &v)?));
        }
        let states = tx.object_store(SYNC_STATES).map_err(idb_err)?;
        for (k, v) in read_range(&states, &lo, &hi).await? {
            let (_, peer) = keys::parse_sync_state(&k)
                .ok_or_else(|| StoreError::InvalidRecord(format!("sync state key {k:?}")))?;
            stored
                .sync_states
                .insert(peer, self.open_value(SYNC_STATES, &k, &v)?);
        }
        if stored.chunks.is_empty() && stored.sync_states.is_empty() {
            return Ok(None);
        }
        Ok(Some(stored))
    }

    async fn apply(&self, ops: Vec<StorageOp>) -> Result<(), StoreError> {
        self.apply_ops(ops, true).await
    }

    async fn list_documents(&self) -> Result<Vec<DocumentId>, StoreError> {
        let tx = self.db.transaction(CHUNKS).build().map_err(idb_err)?;
        let all = all_keys(&tx.object_store(CHUNKS).map_err(idb_err)?, None).await?;
        let mut docs: Vec<DocumentId> = all
            .iter()
            .filter_map(|k| keys::parse_chunk(k))
            .map(|k| k.document)
            .collect();
        docs.dedup();
        Ok(docs)
    }
}

/// Every key of `store` (those in `range`, if given), in key order.
async fn all_keys(
    store: &ObjectStore<'_>,
    range: Option<KeyRange<String>>,
) -> Result<Vec<String>, StoreError> {
    let keys = match range {
        Some(r) => store
            .get_all_keys()
            .with_query::<String, _>(r)
            .primitive()
            .map_err(idb_err)?
            .await
            .map_err(idb_err)?
            .collect::<Result<Vec<String>, _>>(),
        None => store
            .get_all_keys()
            .primitive()
            .map_err(idb_err)?
            .await
            .map_err(idb_err)?
            .collect::<Result<Vec<String>, _>>(),
    };
    keys.map_err(idb_err)
}

/// Every (key, bytes) record of `store` with a key in `[lo, hi]`, in key order.
async fn read_range(
    store: &ObjectStore<'_>,
    lo: &str,
    hi: &str,
) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
    let range = || KeyRange::Bound(lo.to_owned(), false, hi.to_owned(), false);
    let keys = all_keys(store, Some(range())).await?;
    let values: Vec<Uint8Array> = store
        .get_all()
        .with_query::<String, _>(range())
        .primitive()
        .map_err(idb_err)?
        .await
        .map_err(idb_err)?
        .collect::<Result<_, _>>()
        .map_err(idb_err)?;
    if keys.len() != values.len() {
        return Err(StoreError::Backend(format!(
            "{} keys but {} values in one range",
            keys.len(),
            values.len()
        )));
    }
    Ok(keys
        .into_iter()
        .zip(values.into_iter().map(|v| v.as_ref().to_vec()))
        .collect())
}
