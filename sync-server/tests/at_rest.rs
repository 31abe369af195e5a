//! The server's data at rest (docs/AT-REST.md): nothing of a case is readable in the files,
//! a deleted document's sealed bytes and key are gone from every file (crypto-shredding),
//! the files are the owner's alone, a wrong master key changes nothing, and a store from
//! before sealing migrates. Every name and note here is invented. The running-server tests
//! run on PostgreSQL too when the test command asks (`support::pg::on_postgres`), looking
//! at its database as well as the data directory; `on_postgres` below tests the store.

mod support;

use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use fieldbook_sync::story::chunk;
use fieldbook_sync::{ChunkKey, ChunkKind, DocumentId, StorageOp};
use fieldbook_sync_server::storage::{MasterKey, SqliteStore, Store, StoreError};
use rusqlite::Connection;

/// Invented, distinctive text: if any of it shows in a file, that file leaks case content.
const SECRETS: &[&str] = &[
    "Zinnia Marchbank-Oyelaran",
    "seen at the Quillfeather Lane garages",
    "owes Dellacroix Pimm forty pounds",
    "sync-state-Thornwick-Abernathy",
    "old plain row, compacted away: Ysolde Crankshaw",
];

/// Every file in `dir` (not recursive), by name.
fn files_in(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    out.sort();
    out
}

/// Which of `needles` occur, as UTF-8, in any file in `dir`, with the file.
/// For a server's data directory on PostgreSQL (`support::database_for`), also any value of
/// any table of its database.
fn found(dir: &Path, needles: &[&str]) -> Vec<String> {
    let mut hits = Vec::new();
    let mut places = files_in(dir)
        .into_iter()
        .map(|(p, b)| (p.display().to_string(), b))
        .collect::<Vec<_>>();
    if let Some(url) = support::known_database(dir) {
        places.push((
            "the PostgreSQL database".into(),
            support::pg::every_value(&url),
        ));
    }
    for (place, bytes) in places {
        for n in needles {
            if bytes.windows(n.len()).any(|w| w == n.as_bytes()) {
                hits.push(format!("{n:?} in {place}"));
            }
        }
    }
    hits
}

const WINDOW: usize = 32;

/// Files in `dir` holding any 32-byte window of any of `values`.
fn windows_found(dir: &Path, values: &[Vec<u8>]) -> Vec<String> {
    let wanted: HashSet<&[u8]> = values.iter().flat_map(|v| v.windows(WINDOW)).collect();
    assert!(!wanted.is_empty());
    files_in(dir)
        .into_iter()
        .filter(|(_, bytes)| bytes.windows(WINDOW).any(|w| wanted.contains(w)))
        .map(|(p, _)| p.display().to_string())
        .collect()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn sync_state(doc: DocumentId, peer: &str, data: &[u8]) -> StorageOp {
    StorageOp::PutSyncState {
        document: doc,
        peer_storage_id: peer.into(),
        data: data.to_vec(),
    }
}

#[tokio::test]
async fn nothing_of_a_case_is_readable_in_the_files_open_or_closed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fieldbook.sqlite3");
    let s = SqliteStore::open(&path).unwrap();
    let doc = DocumentId::random();
    let first = format!("profile: {}", SECRETS[0]);
    s.apply(vec![
        chunk(doc, ChunkKind::Incremental, first.as_bytes()),
        chunk(doc, ChunkKind::Incremental, SECRETS[1].as_bytes()),
        sync_state(doc, "peer-1", SECRETS[3].as_bytes()),
    ])
    .await
    .unwrap();
    let snapshot = format!("{} / {} / {}", SECRETS[0], SECRETS[1], SECRETS[2]);
    s.apply(vec![StorageOp::Compact {
        snapshot: ChunkKey::for_data(doc, ChunkKind::Snapshot, snapshot.as_bytes()),
        data: snapshot.clone().into_bytes(),
        replaces: vec![ChunkKey::for_data(
            doc,
            ChunkKind::Incremental,
            first.as_bytes(),
        )],
    }])
    .await
    .unwrap();
    // Open: the rows are in the WAL.
    assert!(with_suffix(&path, "-wal").exists());
    assert_eq!(found(dir.path(), SECRETS), Vec::<String>::new());
    let got = s.load(doc).await.unwrap().unwrap();
    let mut data: Vec<&[u8]> = got.chunks.iter().map(|(_, d)| d.as_slice()).collect();
    data.sort();
    let mut want = vec![SECRETS[1].as_bytes(), snapshot.as_bytes()];
    want.sort();
    assert_eq!(data, want);
    assert_eq!(got.sync_states["peer-1"], SECRETS[3].as_bytes());
    // Closed: checkpointed into the data file.
    drop(s);
    assert_eq!(found(dir.path(), SECRETS), Vec::<String>::new());
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.load(doc).await.unwrap().unwrap(), got);
}

/// What is stored for `doc` as it lies in the files: its sealed rows and its wrapped key.
fn sealed_bytes_of(path: &Path, doc: DocumentId) -> (Vec<Vec<u8>>, Vec<u8>) {
    let id = doc.to_string();
    let data = Connection::open(path).unwrap();
    let mut rows: Vec<Vec<u8>> = data
        .prepare("SELECT data FROM chunks WHERE doc_id = ?1 UNION ALL SELECT data FROM sync_states WHERE doc_id = ?1")
        .unwrap()
        .query_map([&id], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    rows.sort();
    let keys = Connection::open(SqliteStore::keys_path(path)).unwrap();
    let wrapped: Vec<u8> = keys
        .query_row("SELECT wrapped FROM doc_keys WHERE doc = ?1", [&id], |r| {
            r.get(0)
        })
        .unwrap();
    (rows, wrapped)
}

#[tokio::test]
async fn a_deleted_document_leaves_no_sealed_byte_and_no_key_in_any_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fieldbook.sqlite3");
    let s = SqliteStore::open(&path).unwrap();
    let (erased, kept, other) = (
        DocumentId::random(),
        DocumentId::random(),
        DocumentId::random(),
    );
    let big = SECRETS[2].repeat(300); // overflow pages, not only small cells
    s.apply(vec![
        chunk(erased, ChunkKind::Incremental, SECRETS[0].as_bytes()),
        chunk(erased, ChunkKind::Incremental, big.as_bytes()),
        chunk(kept, ChunkKind::Incremental, b"kept one"),
        sync_state(erased, "peer-1", SECRETS[3].as_bytes()),
    ])
    .await
    .unwrap();
    s.apply(vec![
        chunk(other, ChunkKind::Incremental, b"other one"),
        chunk(kept, ChunkKind::Incremental, b"kept two"),
    ])
    .await
    .unwrap();
    let (rows, wrapped) = sealed_bytes_of(&path, erased);
    assert_eq!(rows.len(), 3);
    // The capture is good: those bytes are in the files now.
    let mut all = rows.clone();
    all.push(wrapped.clone());
    assert!(!windows_found(dir.path(), &rows).is_empty());
    assert!(!windows_found(dir.path(), std::slice::from_ref(&wrapped)).is_empty());

    s.apply(vec![
        StorageOp::DeleteDocument { document: erased },
        chunk(kept, ChunkKind::Incremental, b"kept three"),
    ])
    .await
    .unwrap();
    // With the store still open (its WALs in use), and again once it is closed.
    assert_eq!(windows_found(dir.path(), &all), Vec::<String>::new());
    assert!(s.load(erased).await.unwrap().is_none());
    assert_eq!(s.load(kept).await.unwrap().unwrap().chunks.len(), 3);
    assert_eq!(s.load(other).await.unwrap().unwrap().chunks.len(), 1);
    drop(s);
    assert_eq!(windows_found(dir.path(), &all), Vec::<String>::new());
    let keys = Connection::open(SqliteStore::keys_path(&path)).unwrap();
    let left: i64 = keys
        .query_row("SELECT count(*) FROM doc_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        left, 2,
        "the erased document's key is gone, the others stay"
    );
    drop(keys);
    let s = SqliteStore::open(&path).unwrap();
    assert!(s.load(erased).await.unwrap().is_none());
    assert_eq!(
        s.load(other).await.unwrap().unwrap().chunks[0].1,
        b"other one"
    );
}

#[tokio::test]
async fn a_document_deleted_and_written_again_in_one_commit_keeps_a_working_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fieldbook.sqlite3");
    let s = SqliteStore::open(&path).unwrap();
    let doc = DocumentId::random();
    s.apply(vec![chunk(doc, ChunkKind::Incremental, b"before")])
        .await
        .unwrap();
    s.apply(vec![
        StorageOp::DeleteDocument { document: doc },
        chunk(doc, ChunkKind::Incremental, b"afresh"),
    ])
    .await
    .unwrap();
    drop(s);
    let s = SqliteStore::open(&path).unwrap();
    let got = s.load(doc).await.unwrap().unwrap();
    assert_eq!(got.chunks.len(), 1);
    assert_eq!(got.chunks[0].1, b"afresh");
}

#[tokio::test]
async fn a_backup_of_the_data_alone_does_not_open_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fieldbook.sqlite3");
    let doc = DocumentId::random();
    let s = SqliteStore::open(&path).unwrap();
    s.apply(vec![chunk(doc, ChunkKind::Incremental, b"x")])
        .await
        .unwrap();
    drop(s);
    // The data file restored without its keys file.
    let restored = tempfile::tempdir().unwrap();
    let copy = restored.path().join("fieldbook.sqlite3");
    std::fs::copy(&path, &copy).unwrap();
    std::fs::copy(
        dir.path().join("master.key"),
        restored.path().join("master.key"),
    )
    .unwrap();
    let err = SqliteStore::open(&copy).unwrap_err().to_string();
    assert!(
        err.contains("fieldbook-keys.sqlite3") && err.contains("missing"),
        "{err}"
    );
    // Another store's keys file is refused too, not used.
    let stranger = tempfile::tempdir().unwrap();
    drop(SqliteStore::open(&stranger.path().join("fieldbook.sqlite3")).unwrap());
    std::fs::copy(
        stranger.path().join("fieldbook-keys.sqlite3"),
        restored.path().join("fieldbook-keys.sqlite3"),
    )
    .unwrap();
    std::fs::copy(
        stranger.path().join("master.key"),
        restored.path().join("master.key"),
    )
    .unwrap();
    let err = SqliteStore::open(&copy).unwrap_err().to_string();
    assert!(err.contains("another store"), "{err}");
}

#[tokio::test]
async fn a_row_whose_key_is_gone_is_an_error_not_an_empty_document() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fieldbook.sqlite3");
    let s = SqliteStore::open(&path).unwrap();
    let doc = DocumentId::random();
    s.apply(vec![chunk(doc, ChunkKind::Incremental, b"x")])
        .await
        .unwrap();
    let keys = Connection::open(SqliteStore::keys_path(&path)).unwrap();
    keys.execute("DELETE FROM doc_keys", []).unwrap();
    let err = s.load(doc).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::InvalidRecord(m) if m.contains("no key")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_wrong_master_key_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fieldbook.sqlite3");
    let right = MasterKey::generate().unwrap();
    let right_text = right.to_base64();
    let doc = DocumentId::random();
    let s = SqliteStore::open_with_key(&path, right).unwrap();
    s.apply(vec![chunk(doc, ChunkKind::Incremental, b"kept")])
        .await
        .unwrap();
    s.put_setting("kept", "yes").await.unwrap();
    drop(s);
    let before = files_in(dir.path());
    let err = SqliteStore::open_with_key(&path, MasterKey::generate().unwrap()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("master key") && msg.contains("nothing was changed"),
        "{msg}"
    );
    assert!(!msg.contains(right_text.as_str()));
    assert_eq!(files_in(dir.path()), before, "the files are untouched");
    let s = SqliteStore::open_with_key(&path, MasterKey::from_base64(&right_text, "test").unwrap())
        .unwrap();
    assert_eq!(s.load(doc).await.unwrap().unwrap().chunks[0].1, b"kept");
}

/// A store as the previous build (schema 1) wrote it: plain rows, world-readable files.
fn plain_store(path: &Path, doc: DocumentId) -> String {
    let c = Connection::open(path).unwrap();
    c.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))
        .unwrap();
    let storage_id = "plain-store-id".to_owned();
    c.execute_batch(&format!(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
         CREATE TABLE chunks (
            doc_id TEXT NOT NULL, kind TEXT NOT NULL, hash TEXT NOT NULL, data BLOB NOT NULL,
            PRIMARY KEY (doc_id, kind, hash));
         CREATE TABLE sync_states (
            doc_id TEXT NOT NULL, peer_storage_id TEXT NOT NULL, data BLOB NOT NULL,
            PRIMARY KEY (doc_id, peer_storage_id));
         INSERT INTO meta (key, value) VALUES ('schema_version', '1');
         INSERT INTO meta (key, value) VALUES ('storage_id', '{storage_id}');
         INSERT INTO meta (key, value) VALUES ('setting:kept', 'yes');"
    ))
    .unwrap();
    let put = |kind: ChunkKind, data: &[u8]| {
        let k = ChunkKey::for_data(doc, kind, data);
        c.execute(
            "INSERT INTO chunks (doc_id, kind, hash, data) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![doc.to_string(), kind.as_str(), k.hash, data],
        )
        .unwrap();
    };
    put(ChunkKind::Snapshot, SECRETS[0].as_bytes());
    put(ChunkKind::Incremental, SECRETS[1].repeat(200).as_bytes());
    put(ChunkKind::Incremental, SECRETS[4].repeat(200).as_bytes());
    c.execute(
        "INSERT INTO sync_states (doc_id, peer_storage_id, data) VALUES (?1, 'peer-1', ?2)",
        rusqlite::params![doc.to_string(), SECRETS[3].as_bytes()],
    )
    .unwrap();
    // Compaction in the old build: the row is deleted, its bytes stay in a free page.
    c.execute(
        "DELETE FROM chunks WHERE hash = ?1",
        [ChunkKey::for_data(
            doc,
            ChunkKind::Incremental,
            SECRETS[4].repeat(200).as_bytes(),
        )
        .hash],
    )
    .unwrap();
    drop(c);
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
    storage_id
}

#[tokio::test]
async fn a_store_from_before_sealing_is_sealed_on_open_and_loads_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fieldbook.sqlite3");
    let doc = DocumentId::random();
    let storage_id = plain_store(&path, doc);
    // The old files hold every secret stored in plain text, the deleted row's too.
    let stored = [SECRETS[0], SECRETS[1], SECRETS[3], SECRETS[4]];
    assert_eq!(found(dir.path(), &stored).len(), stored.len());

    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.storage_id().0, storage_id);
    assert_eq!(found(dir.path(), SECRETS), Vec::<String>::new());
    let got = s.load(doc).await.unwrap().unwrap();
    let mut chunks: Vec<(ChunkKind, Vec<u8>)> = got
        .chunks
        .iter()
        .map(|(k, d)| (k.kind, d.clone()))
        .collect();
    chunks.sort();
    assert_eq!(
        chunks,
        vec![
            (ChunkKind::Snapshot, SECRETS[0].as_bytes().to_vec()),
            (ChunkKind::Incremental, SECRETS[1].repeat(200).into_bytes()),
        ]
    );
    assert_eq!(got.sync_states["peer-1"], SECRETS[3].as_bytes());
    assert_eq!(s.get_setting("kept").await.unwrap().as_deref(), Some("yes"));
    assert_eq!(s.list_documents().await.unwrap(), vec![doc]);
    assert_eq!(mode(&path), 0o600);
    drop(s);
    // Opening again is a no-op: same data, schema 2 recorded.
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.load(doc).await.unwrap().unwrap(), got);
    let c = Connection::open(&path).unwrap();
    let v: String = c
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(v, "2");
    let pending: i64 = c
        .query_row(
            "SELECT count(*) FROM meta WHERE key = 'sealed_rebuild_pending'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(pending, 0, "the file was rebuilt once sealed");
}

#[tokio::test]
async fn store_files_are_owner_only_even_where_an_older_install_left_them_open() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    std::fs::create_dir(&data_dir).unwrap();
    std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = data_dir.join("fieldbook.sqlite3");
    plain_store(&path, DocumentId::random());
    std::fs::write(
        data_dir.join("master.key"),
        MasterKey::generate().unwrap().to_base64().as_bytes(),
    )
    .unwrap();
    std::fs::set_permissions(
        data_dir.join("master.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    // No umask here (the test process keeps its own): the store fixes modes itself.
    let s = SqliteStore::open(&path).unwrap();
    s.apply(vec![chunk(
        DocumentId::random(),
        ChunkKind::Incremental,
        b"x",
    )])
    .await
    .unwrap();
    assert_owner_only(&data_dir);
}

/// The data directory is 0700 and every file in it 0600, and the files a live store must
/// have are there.
fn assert_owner_only(data_dir: &Path) {
    assert_eq!(mode(data_dir), 0o700, "{}", data_dir.display());
    let names: Vec<String> = files_in(data_dir)
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    if support::known_database(data_dir).is_some() {
        // On PostgreSQL the data directory keeps no store or directory file at all.
        assert!(
            !names.iter().any(|n| n.contains("sqlite3")),
            "SQLite files beside PostgreSQL: {names:?}"
        );
        for (p, _) in files_in(data_dir) {
            assert_eq!(mode(&p), 0o600, "{}", p.display());
        }
        return;
    }
    for must in [
        "fieldbook.sqlite3",
        "fieldbook.sqlite3-wal",
        "fieldbook.sqlite3-shm",
        "fieldbook-keys.sqlite3",
        "fieldbook-keys.sqlite3-wal",
    ] {
        assert!(names.iter().any(|n| n == must), "{must} not in {names:?}");
    }
    for (p, _) in files_in(data_dir) {
        assert_eq!(mode(&p), 0o600, "{}", p.display());
    }
}

#[tokio::test]
async fn a_running_server_keeps_no_case_text_in_its_files_and_they_are_its_own() {
    use fieldbook_sync::automerge::{transaction::Transactable, AutoCommit, ObjType, ROOT};
    let key = MasterKey::generate().unwrap();
    let key_text = key.to_base64();
    let server =
        support::ServerProcess::start(&[("FIELDBOOK_MASTER_KEY", key_text.as_str())]).await;
    let bystander = support::Bystander::join(&server).await;
    let note = "Quillon Harrowgate missed the Tuesday session";
    bystander.round_trip_with("note", note).await;
    // Control: Automerge keeps short text as is, so unsealed it would be in these bytes.
    let mut plain = AutoCommit::new();
    plain.put(ROOT, "name", "Bystander Test Child").unwrap();
    let notes = plain.put_object(ROOT, "notes", ObjType::List).unwrap();
    plain.insert(&notes, 0, note).unwrap();
    let saved = plain.save();
    assert!(saved.windows(note.len()).any(|w| w == note.as_bytes()));

    let data_dir = server.dir.path();
    let mut needles = vec![note, "Bystander Test Child"];
    needles.extend(fieldbook_case::demo::PEOPLE.iter().map(|p| p.0));
    assert_eq!(found(data_dir, &needles), Vec::<String>::new());
    assert_eq!(found(data_dir, &[key_text.as_str()]), Vec::<String>::new());
    // The key came from the environment: no key file was made.
    assert!(!data_dir.join("master.key").exists());
    assert_owner_only(data_dir);
    assert!(
        !server
            .stderr()
            .iter()
            .any(|l| l.contains(key_text.as_str())),
        "the master key is never logged"
    );
}

#[tokio::test]
async fn the_server_makes_its_own_master_key_owner_only_and_warns_about_where_it_is() {
    let server = support::ServerProcess::start(&[]).await;
    let key_file = server.dir.path().join("master.key");
    assert_eq!(mode(&key_file), 0o600);
    let key = std::fs::read_to_string(&key_file).unwrap();
    MasterKey::from_base64(&key, "test").unwrap();
    assert!(
        server
            .stderr()
            .iter()
            .any(|l| l.contains("WARN") && l.contains("outside the data directory")),
        "{:?}",
        server.stderr()
    );
    assert!(!server.stderr().iter().any(|l| l.contains(key.trim())));
    assert_owner_only(server.dir.path());
}

#[test]
fn the_process_creates_owner_only_files_whoever_opens_the_file_first() {
    // The admin CLI opens the directory alone (no document store): only the process umask
    // keeps the SQLite file it creates, and its -wal and -shm, to the owner.
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fieldbook-sync-server"))
        .args(["admin", "--data-dir"])
        .arg(&data_dir)
        .args([
            "teams", "add", "north", "--name", "North", "--agency", "Test",
        ])
        .env("FIELDBOOK_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(mode(&data_dir), 0o700);
    let files = files_in(&data_dir);
    assert!(files.iter().any(|(p, _)| p.ends_with("fieldbook.sqlite3")));
    for (p, _) in files {
        assert_eq!(mode(&p), 0o600, "{}", p.display());
    }
}

/// A deletion interrupted after its commit (the process killed before the key's removal)
/// leaves a key without rows: the next open removes it, and keeps the others.
#[tokio::test]
async fn a_key_left_by_an_interrupted_deletion_is_removed_at_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fieldbook.sqlite3");
    let (gone, kept) = (DocumentId::random(), DocumentId::random());
    {
        let s = SqliteStore::open(&path).unwrap();
        s.apply(vec![
            chunk(gone, ChunkKind::Incremental, SECRETS[0].as_bytes()),
            chunk(kept, ChunkKind::Incremental, b"kept one"),
        ])
        .await
        .unwrap();
    }
    let keys_of = |doc: DocumentId| -> i64 {
        Connection::open(SqliteStore::keys_path(&path))
            .unwrap()
            .query_row(
                "SELECT count(*) FROM doc_keys WHERE doc = ?1",
                [doc.to_string()],
                |r| r.get(0),
            )
            .unwrap()
    };
    // What the crash leaves: the rows' deletion committed, the key still there.
    Connection::open(&path)
        .unwrap()
        .execute("DELETE FROM chunks WHERE doc_id = ?1", [gone.to_string()])
        .unwrap();
    assert_eq!(keys_of(gone), 1, "the orphan key is there before the open");
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(keys_of(gone), 0, "the open removed the orphan key");
    assert_eq!(keys_of(kept), 1);
    assert_eq!(s.load(kept).await.unwrap().unwrap().chunks.len(), 1);
}

// PostgreSQL (`--database-url`): the same promises, looked at through what `SELECT` returns
// from every table the store keeps (docs/AT-REST.md, "PostgreSQL").

mod on_postgres {
    use super::*;
    use fieldbook_sync_server::pg::{PgPool, PgUrl};
    use fieldbook_sync_server::storage::PgStore;

    const TABLES: &[&str] = &[
        "store_chunks",
        "store_sync_states",
        "store_doc_keys",
        "store_meta",
        "store_settings",
    ];

    async fn open(url: &str, master: &MasterKey) -> PgStore {
        let pool = PgPool::open(&PgUrl::parse(url).unwrap(), 1).unwrap();
        PgStore::open(
            pool,
            MasterKey::from_base64(&master.to_base64(), "test").unwrap(),
        )
        .await
        .unwrap()
    }

    /// Every value of every column of every row of the store's tables, as bytes (text as
    /// its UTF-8), read by a connection of its own on a thread of its own.
    fn all_values(url: &str) -> Vec<Vec<u8>> {
        let url = url.to_owned();
        std::thread::spawn(move || {
            let mut c = PgUrl::parse(&url).unwrap().connect().unwrap();
            let mut out = Vec::new();
            for t in TABLES {
                // Each row as its bytea/text columns, whatever the table's shape.
                let rows = c
                    .query(
                        format!("SELECT convert_to(row_to_json(t)::text, 'UTF8') FROM {t} t")
                            .as_str(),
                        &[],
                    )
                    .unwrap();
                for r in rows {
                    out.push(r.get::<_, Vec<u8>>(0));
                }
                let raw = c.query(format!("SELECT * FROM {t}").as_str(), &[]).unwrap();
                for r in raw {
                    for (i, col) in r.columns().iter().enumerate() {
                        if col.type_() == &postgres::types::Type::BYTEA {
                            out.push(r.get::<_, Vec<u8>>(i));
                        }
                    }
                }
            }
            out
        })
        .join()
        .unwrap()
    }

    fn hits(values: &[Vec<u8>], needles: &[&[u8]]) -> Vec<String> {
        let mut hits = Vec::new();
        for v in values {
            for n in needles {
                if v.windows(n.len()).any(|w| w == *n) {
                    hits.push(format!("{:?}", String::from_utf8_lossy(n)));
                }
            }
        }
        hits
    }

    #[tokio::test]
    async fn nothing_of_a_case_is_readable_in_any_row() {
        let url = support::pg::fresh_database();
        let master = MasterKey::generate().unwrap();
        let s = open(&url, &master).await;
        let doc = DocumentId::random();
        s.apply(vec![
            chunk(doc, ChunkKind::Incremental, SECRETS[0].as_bytes()),
            chunk(doc, ChunkKind::Incremental, SECRETS[1].as_bytes()),
            sync_state(doc, "peer-1", SECRETS[3].as_bytes()),
        ])
        .await
        .unwrap();
        let snapshot = format!("{} / {}", SECRETS[0], SECRETS[2]);
        s.apply(vec![StorageOp::Compact {
            snapshot: ChunkKey::for_data(doc, ChunkKind::Snapshot, snapshot.as_bytes()),
            data: snapshot.clone().into_bytes(),
            replaces: vec![ChunkKey::for_data(
                doc,
                ChunkKind::Incremental,
                SECRETS[0].as_bytes(),
            )],
        }])
        .await
        .unwrap();
        let values = all_values(&url);
        assert!(values.len() >= 6, "the rows were read: {}", values.len());
        let needles: Vec<&[u8]> = SECRETS.iter().map(|s| s.as_bytes()).collect();
        assert_eq!(hits(&values, &needles), Vec::<String>::new());
        // …and yet the store reads it all back.
        let got = s.load(doc).await.unwrap().unwrap();
        let mut data: Vec<&[u8]> = got.chunks.iter().map(|(_, d)| d.as_slice()).collect();
        data.sort();
        let mut want = vec![SECRETS[1].as_bytes(), snapshot.as_bytes()];
        want.sort();
        assert_eq!(data, want);
        assert_eq!(got.sync_states["peer-1"], SECRETS[3].as_bytes());
    }

    /// The sealed rows and the wrapped key of `doc`, as `SELECT` returns them.
    fn sealed_of(url: &str, doc: DocumentId) -> (Vec<Vec<u8>>, Option<Vec<u8>>) {
        let (url, id) = (url.to_owned(), doc.to_string());
        std::thread::spawn(move || {
            let mut c = PgUrl::parse(&url).unwrap().connect().unwrap();
            let mut rows: Vec<Vec<u8>> = c
                .query("SELECT data FROM store_chunks WHERE doc_id = $1", &[&id])
                .unwrap()
                .into_iter()
                .map(|r| r.get(0))
                .collect();
            rows.extend(
                c.query(
                    "SELECT data FROM store_sync_states WHERE doc_id = $1",
                    &[&id],
                )
                .unwrap()
                .into_iter()
                .map(|r| r.get::<_, Vec<u8>>(0)),
            );
            let key = c
                .query_opt("SELECT wrapped FROM store_doc_keys WHERE doc = $1", &[&id])
                .unwrap()
                .map(|r| r.get(0));
            (rows, key)
        })
        .join()
        .unwrap()
    }

    #[tokio::test]
    async fn a_deleted_document_leaves_no_row_no_sealed_byte_and_no_key() {
        let url = support::pg::fresh_database();
        let master = MasterKey::generate().unwrap();
        let s = open(&url, &master).await;
        let (gone, kept) = (DocumentId::random(), DocumentId::random());
        s.apply(vec![
            chunk(gone, ChunkKind::Incremental, SECRETS[0].as_bytes()),
            sync_state(gone, "peer-1", SECRETS[3].as_bytes()),
            chunk(kept, ChunkKind::Incremental, SECRETS[1].as_bytes()),
        ])
        .await
        .unwrap();
        let (sealed, key) = sealed_of(&url, gone);
        assert_eq!(sealed.len(), 2);
        let key = key.expect("the document has a key");
        s.apply(vec![StorageOp::DeleteDocument { document: gone }])
            .await
            .unwrap();
        assert_eq!(sealed_of(&url, gone), (vec![], None));
        let mut wanted = sealed.clone();
        wanted.push(key);
        let windows: Vec<&[u8]> = wanted.iter().flat_map(|v| v.windows(WINDOW)).collect();
        assert_eq!(hits(&all_values(&url), &windows), Vec::<String>::new());
        assert!(s.load(gone).await.unwrap().is_none());
        assert_eq!(
            s.load(kept).await.unwrap().unwrap().chunks[0].1,
            SECRETS[1].as_bytes()
        );
    }

    #[tokio::test]
    async fn a_document_deleted_and_written_again_in_one_commit_keeps_a_working_key() {
        let url = support::pg::fresh_database();
        let master = MasterKey::generate().unwrap();
        let s = open(&url, &master).await;
        let doc = DocumentId::random();
        s.apply(vec![chunk(doc, ChunkKind::Incremental, b"before")])
            .await
            .unwrap();
        let (_, old_key) = sealed_of(&url, doc);
        s.apply(vec![
            StorageOp::DeleteDocument { document: doc },
            chunk(doc, ChunkKind::Incremental, b"afresh"),
        ])
        .await
        .unwrap();
        let (_, new_key) = sealed_of(&url, doc);
        assert!(new_key.is_some() && new_key != old_key, "a new key");
        let got = open(&url, &master).await.load(doc).await.unwrap().unwrap();
        assert_eq!(got.chunks.len(), 1);
        assert_eq!(got.chunks[0].1, b"afresh");
    }

    #[tokio::test]
    async fn a_row_whose_key_is_gone_or_that_was_changed_is_an_error_not_a_shorter_document() {
        let url = support::pg::fresh_database();
        let master = MasterKey::generate().unwrap();
        let s = open(&url, &master).await;
        let (tampered, keyless) = (DocumentId::random(), DocumentId::random());
        s.apply(vec![
            chunk(tampered, ChunkKind::Incremental, b"one"),
            chunk(tampered, ChunkKind::Incremental, b"two"),
            chunk(keyless, ChunkKind::Incremental, b"x"),
        ])
        .await
        .unwrap();
        let (t, k) = (tampered.to_string(), keyless.to_string());
        s.pool()
            .run_async(move |c| {
                c.execute(
                    "UPDATE store_chunks SET data = set_byte(data, 20, get_byte(data, 20) # 1)
                     WHERE doc_id = $1 AND hash = (SELECT MIN(hash) FROM store_chunks WHERE doc_id = $1)",
                    &[&t],
                )?;
                c.execute("DELETE FROM store_doc_keys WHERE doc = $1", &[&k])?;
                Ok(())
            })
            .await
            .unwrap();
        let err = s.load(tampered).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::InvalidRecord(m) if m.contains("does not open")),
            "{err:?}"
        );
        let err = s.load(keyless).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::InvalidRecord(m) if m.contains("no key")),
            "{err:?}"
        );
    }
}
