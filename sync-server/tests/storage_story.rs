//! One story, generic over the `Store` trait, run against every implementation; plus the
//! SQLite-specific failure cases (full disk, corrupt file, newer schema).

use fieldbook_sync::{ChunkKey, ChunkKind, DocumentId, StorageOp};
use fieldbook_sync_server::storage::{SqliteStore, Store, StoreError};

fn chunk(doc: DocumentId, kind: ChunkKind, data: &[u8]) -> StorageOp {
    StorageOp::PutChunk {
        key: ChunkKey::for_data(doc, kind, data),
        data: data.to_vec(),
    }
}

fn key(doc: DocumentId, kind: ChunkKind, data: &[u8]) -> ChunkKey {
    ChunkKey::for_data(doc, kind, data)
}

async fn story<S: Store>(s: &S) {
    let a = DocumentId::random();
    let b = DocumentId::random();
    assert!(
        s.load(a).await.unwrap().is_none(),
        "empty store has nothing"
    );

    s.apply(vec![
        chunk(a, ChunkKind::Incremental, b"a1"),
        chunk(a, ChunkKind::Incremental, b"a2"),
        chunk(b, ChunkKind::Incremental, b"b1"),
    ])
    .await
    .unwrap();
    // Re-putting the same chunk is harmless (a replayed batch after a crash).
    s.apply(vec![chunk(a, ChunkKind::Incremental, b"a1")])
        .await
        .unwrap();
    let got = s.load(a).await.unwrap().unwrap();
    let mut data: Vec<&[u8]> = got.chunks.iter().map(|(_, d)| d.as_slice()).collect();
    data.sort();
    assert_eq!(data, vec![b"a1".as_slice(), b"a2"]);
    assert!(got.chunks.iter().all(|(k, _)| k.document == a));

    // Compaction removes exactly what it names: a3 arrived after it was planned and stays.
    s.apply(vec![chunk(a, ChunkKind::Incremental, b"a3")])
        .await
        .unwrap();
    s.apply(vec![StorageOp::Compact {
        snapshot: key(a, ChunkKind::Snapshot, b"a1+a2"),
        data: b"a1+a2".to_vec(),
        replaces: vec![
            key(a, ChunkKind::Incremental, b"a1"),
            key(a, ChunkKind::Incremental, b"a2"),
        ],
    }])
    .await
    .unwrap();
    let got = s.load(a).await.unwrap().unwrap();
    let mut kinds: Vec<(ChunkKind, &[u8])> = got
        .chunks
        .iter()
        .map(|(k, d)| (k.kind, d.as_slice()))
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        vec![
            (ChunkKind::Snapshot, b"a1+a2".as_slice()),
            (ChunkKind::Incremental, b"a3")
        ]
    );

    // Sync state is an upsert per (document, peer storage id).
    for v in [b"s1".as_slice(), b"s2"] {
        s.apply(vec![StorageOp::PutSyncState {
            document: b,
            peer_storage_id: "peer-1".into(),
            data: v.to_vec(),
        }])
        .await
        .unwrap();
    }
    let got = s.load(b).await.unwrap().unwrap();
    assert_eq!(
        got.sync_states.get("peer-1").map(Vec::as_slice),
        Some(b"s2".as_slice())
    );
    assert_eq!(got.chunks.len(), 1);

    let mut docs = s.list_documents().await.unwrap();
    docs.sort();
    let mut want = vec![a, b];
    want.sort();
    assert_eq!(docs, want);

    // Settings: absent until set, last write wins, and they never touch the store's identity.
    let id = s.storage_id().clone();
    assert_eq!(s.get_setting("caseload").await.unwrap(), None);
    s.put_setting("caseload", "one").await.unwrap();
    s.put_setting("caseload", "two").await.unwrap();
    s.put_setting("storage_id", "hijack").await.unwrap();
    assert_eq!(
        s.get_setting("caseload").await.unwrap().as_deref(),
        Some("two")
    );
    assert_eq!(s.storage_id(), &id);
}

#[tokio::test]
async fn sqlite_story() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(&dir.path().join("sub/dir/store.sqlite3")).unwrap();
    story(&s).await;
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
