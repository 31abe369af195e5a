//! The shared storage story (`fieldbook_sync::story`, also run against IndexedDB in
//! Chromium) against SQLite and memory; plus the SQLite-specific failure cases (full disk,
//! corrupt file, newer schema).

use fieldbook_sync::story::{self, chunk};
use fieldbook_sync::{ChunkKind, DocumentId};
use fieldbook_sync_server::storage::{SqliteStore, Store, StoreError};

#[tokio::test]
async fn sqlite_story() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(&dir.path().join("sub/dir/store.sqlite3")).unwrap();
    story::run(&s).await;
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
