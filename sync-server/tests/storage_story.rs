//! The shared storage story (`fieldbook_sync::story`, also run against IndexedDB in
//! Chromium) against SQLite, PostgreSQL (on the test command's throwaway cluster) and
//! memory; plus each store's own failure cases (full disk, corrupt file, newer schema, two
//! nodes writing at once).

mod support;

use fieldbook_sync::story::{self, chunk};
use fieldbook_sync::{ChunkKind, DocumentId, StorageOp};
use fieldbook_sync_server::pg::{PgPool, PgUrl};
use fieldbook_sync_server::storage::{MasterKey, PgStore, SqliteStore, Store, StoreError};

/// A store on a fresh database of the test cluster, and its URL.
async fn pg_store(master: &MasterKey) -> (PgStore, String) {
    let url = support::pg::fresh_database();
    (open_pg(&url, master).await.unwrap(), url)
}

/// Another node's store on the database at `url` (a pool of its own).
async fn open_pg(url: &str, master: &MasterKey) -> Result<PgStore, StoreError> {
    let pool = PgPool::open(&PgUrl::parse(url).unwrap(), 2).unwrap();
    PgStore::open(
        pool,
        MasterKey::from_base64(&master.to_base64(), "test").unwrap(),
    )
    .await
}

#[tokio::test]
async fn sqlite_story() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(&dir.path().join("sub/dir/store.sqlite3")).unwrap();
    story::run(&s).await;
}

#[tokio::test]
async fn postgres_story() {
    let (s, _) = pg_store(&MasterKey::generate().unwrap()).await;
    story::run(&s).await;
}

#[tokio::test]
async fn postgres_keeps_data_and_identity_across_reopen_and_nodes_share_it() {
    let master = MasterKey::generate().unwrap();
    let (first, url) = pg_store(&master).await;
    let doc = DocumentId::random();
    first.put_setting("kept", "yes").await.unwrap();
    first
        .apply(vec![chunk(doc, ChunkKind::Incremental, b"kept")])
        .await
        .unwrap();
    // A second node (or the first, restarted) on the same database: same storage id, so a
    // device moving between nodes keeps its sync states; same documents and settings.
    let second = open_pg(&url, &master).await.unwrap();
    assert_eq!(second.storage_id(), first.storage_id());
    assert_eq!(
        second.load(doc).await.unwrap().unwrap().chunks[0].1,
        b"kept"
    );
    assert_eq!(
        second.get_setting("kept").await.unwrap().as_deref(),
        Some("yes")
    );
    // A setting cannot overwrite the storage id.
    second.put_setting("storage_id", "mine").await.unwrap();
    assert_eq!(
        open_pg(&url, &master).await.unwrap().storage_id(),
        first.storage_id()
    );
}

#[tokio::test]
async fn postgres_nodes_writing_the_same_chunks_at_once_all_commit() {
    let master = MasterKey::generate().unwrap();
    let (a, url) = pg_store(&master).await;
    let b = open_pg(&url, &master).await.unwrap();
    let docs: Vec<DocumentId> = (0..4).map(|_| DocumentId::random()).collect();
    // The same batch (new documents, so new keys too) from two nodes at once, many times:
    // content-addressed chunks and upserted sync states never fail a commit.
    for round in 0..10u8 {
        let batch: Vec<StorageOp> = docs
            .iter()
            .flat_map(|d| {
                [
                    chunk(*d, ChunkKind::Incremental, &[round; 64]),
                    StorageOp::PutSyncState {
                        document: *d,
                        peer_storage_id: "peer".into(),
                        data: vec![round],
                    },
                ]
            })
            .collect();
        let (ra, rb) = tokio::join!(a.apply(batch.clone()), b.apply(batch));
        ra.unwrap();
        rb.unwrap();
    }
    for d in &docs {
        let got = a.load(*d).await.unwrap().unwrap();
        assert_eq!(got.chunks.len(), 10);
        assert_eq!(got.sync_states["peer"], vec![9]);
        assert_eq!(b.load(*d).await.unwrap().unwrap(), got);
    }
}

#[tokio::test]
async fn postgres_nodes_writing_the_same_documents_in_opposite_orders_all_commit() {
    // Two nodes with devices on one case each write its chunks and sync states in whatever
    // order their batches hold them (the fan-out bench's two nodes hit PostgreSQL's deadlock
    // detector this way until a commit failed after its retries). Commits lock their
    // documents in one order first, so none waits on the other in a cycle.
    let master = MasterKey::generate().unwrap();
    let (a, url) = pg_store(&master).await;
    let b = open_pg(&url, &master).await.unwrap();
    let docs: Vec<DocumentId> = (0..8).map(|_| DocumentId::random()).collect();
    let batch = |round: u8, reverse: bool| -> Vec<StorageOp> {
        let mut order: Vec<&DocumentId> = docs.iter().collect();
        if reverse {
            order.reverse();
        }
        order
            .into_iter()
            .flat_map(|d| {
                [
                    StorageOp::PutSyncState {
                        document: *d,
                        peer_storage_id: "shared-peer".into(),
                        data: vec![round],
                    },
                    chunk(*d, ChunkKind::Incremental, &[round, reverse as u8]),
                ]
            })
            .collect()
    };
    for round in 0..40u8 {
        let (ra, rb) = tokio::join!(a.apply(batch(round, false)), b.apply(batch(round, true)));
        ra.unwrap();
        rb.unwrap();
    }
    for d in &docs {
        assert_eq!(a.load(*d).await.unwrap().unwrap().chunks.len(), 80);
    }
}

#[tokio::test]
async fn postgres_refuses_another_master_key_and_a_newer_schema() {
    let master = MasterKey::generate().unwrap();
    let (s, url) = pg_store(&master).await;
    let doc = DocumentId::random();
    s.apply(vec![chunk(doc, ChunkKind::Incremental, b"x")])
        .await
        .unwrap();
    let err = open_pg(&url, &MasterKey::generate().unwrap())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("master key is not the one"), "{err}");
    // Still readable with the right key: the refusal changed nothing.
    assert_eq!(s.load(doc).await.unwrap().unwrap().chunks[0].1, b"x");
    s.pool()
        .run_async(|c| {
            c.execute(
                "INSERT INTO schema_migrations (scope, version) VALUES ('store', 99)",
                &[],
            )?;
            Ok(())
        })
        .await
        .unwrap();
    let err = open_pg(&url, &master).await.unwrap_err().to_string();
    assert!(err.contains("newer than this server"), "{err}");
}

#[tokio::test]
async fn memory_story() {
    story::run(&fieldbook_sync::MemoryStore::default()).await;
}

#[tokio::test]
async fn sqlite_keeps_data_and_identity_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite3");
    let doc = DocumentId::random();
    let id = {
        let s = SqliteStore::open(&path).unwrap();
        s.put_setting("kept", "yes").await.unwrap();
        s.apply(vec![chunk(doc, ChunkKind::Incremental, b"kept")])
            .await
            .unwrap();
        s.storage_id().clone()
    };
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.storage_id(), &id);
    assert_eq!(s.load(doc).await.unwrap().unwrap().chunks[0].1, b"kept");
    assert_eq!(s.get_setting("kept").await.unwrap().as_deref(), Some("yes"));
}

#[tokio::test]
async fn a_full_disk_is_an_error_and_keeps_what_was_stored() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open_with_max_pages(&dir.path().join("full.sqlite3"), 16).unwrap();
    let doc = DocumentId::random();
    s.apply(vec![chunk(doc, ChunkKind::Incremental, b"small")])
        .await
        .unwrap();
    let big = vec![7u8; 512 * 1024];
    let err = s
        .apply(vec![
            chunk(doc, ChunkKind::Incremental, b"also"),
            chunk(doc, ChunkKind::Incremental, &big),
        ])
        .await;
    assert!(matches!(err, Err(StoreError::Full)), "got {err:?}");
    // All or nothing: the small chunk in the failed batch was not applied either.
    let got = s.load(doc).await.unwrap().unwrap();
    assert_eq!(got.chunks.len(), 1);
    assert_eq!(got.chunks[0].1, b"small");
}

#[tokio::test]
async fn a_corrupt_file_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junk.sqlite3");
    std::fs::write(
        &path,
        b"this is not a database, it is a shopping list: milk, eggs, bread. ".repeat(100),
    )
    .unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "got {err:?}");
    assert!(err.to_string().contains("junk.sqlite3"));
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite3");
    drop(SqliteStore::open(&path).unwrap());
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute(
        "UPDATE meta SET value = '99' WHERE key = 'schema_version'",
        [],
    )
    .unwrap();
    drop(c);
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(
        matches!(err, StoreError::NewerSchema { found: 99, .. }),
        "got {err:?}"
    );
}
