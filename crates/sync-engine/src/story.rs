//! The storage story: one scenario every [`Store`] implementation must pass (memory here and
//! in the server's tests, SQLite in the server's tests, IndexedDB in Chromium in the browser
//! store's tests; PostgreSQL will join). Several server nodes may share one store, so
//! compaction must delete exactly what it names and loading must accept several snapshots. Test support only: enabled by the `story` feature.

use crate::{ChunkKey, ChunkKind, DocumentId, StorageOp, Store};

/// A `PutChunk` of `data` under its content key.
pub fn chunk(doc: DocumentId, kind: ChunkKind, data: &[u8]) -> StorageOp {
    StorageOp::PutChunk {
        key: ChunkKey::for_data(doc, kind, data),
        data: data.to_vec(),
    }
}

fn key(doc: DocumentId, kind: ChunkKind, data: &[u8]) -> ChunkKey {
    ChunkKey::for_data(doc, kind, data)
}

/// Run the story against an empty store. Panics on the first broken expectation.
pub async fn run<S: Store>(s: &S) {
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

    // Two nodes sharing the store compact the same document concurrently, each knowing
    // only what it loaded or wrote: node 2 wrote a4 and compacted {a1+a2, a3, a4} into its
    // own snapshot while node 1, which never saw a4 nor node 2's snapshot, folds
    // {a1+a2, a3, a5}. Each compaction deletes exactly what it names: a snapshot it did not
    // know, and chunks it did not fold in, stay; loading returns several snapshots.
    s.apply(vec![
        chunk(a, ChunkKind::Incremental, b"a4"),
        chunk(a, ChunkKind::Incremental, b"a5"),
    ])
    .await
    .unwrap();
    s.apply(vec![StorageOp::Compact {
        snapshot: key(a, ChunkKind::Snapshot, b"node2"),
        data: b"node2".to_vec(),
        replaces: vec![
            key(a, ChunkKind::Snapshot, b"a1+a2"),
            key(a, ChunkKind::Incremental, b"a3"),
            key(a, ChunkKind::Incremental, b"a4"),
        ],
    }])
    .await
    .unwrap();
    s.apply(vec![StorageOp::Compact {
        snapshot: key(a, ChunkKind::Snapshot, b"node1"),
        data: b"node1".to_vec(),
        replaces: vec![
            // Already deleted by node 2: deleting it again is not an error.
            key(a, ChunkKind::Snapshot, b"a1+a2"),
            key(a, ChunkKind::Incremental, b"a3"),
            key(a, ChunkKind::Incremental, b"a5"),
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
            (ChunkKind::Snapshot, b"node1".as_slice()),
            (ChunkKind::Snapshot, b"node2".as_slice()),
        ],
        "both nodes' snapshots stay; only what each folded in is gone"
    );
    // A node that then learns of both folds them (and a chunk written meanwhile stays).
    s.apply(vec![chunk(a, ChunkKind::Incremental, b"a6")])
        .await
        .unwrap();
    s.apply(vec![StorageOp::Compact {
        snapshot: key(a, ChunkKind::Snapshot, b"all"),
        data: b"all".to_vec(),
        replaces: vec![
            key(a, ChunkKind::Snapshot, b"node1"),
            key(a, ChunkKind::Snapshot, b"node2"),
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
            (ChunkKind::Snapshot, b"all".as_slice()),
            (ChunkKind::Incremental, b"a6"),
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

    // Deleting a document removes its chunks (snapshot too) and sync states, and nothing of
    // any other document. `a` has a snapshot and an incremental; give it a sync state too.
    s.apply(vec![StorageOp::PutSyncState {
        document: a,
        peer_storage_id: "peer-1".into(),
        data: b"sa".to_vec(),
    }])
    .await
    .unwrap();
    let b_before = s.load(b).await.unwrap();
    s.apply(vec![StorageOp::DeleteDocument { document: a }])
        .await
        .unwrap();
    assert!(
        s.load(a).await.unwrap().is_none(),
        "a deleted document is gone"
    );
    assert_eq!(s.load(b).await.unwrap(), b_before, "the other is untouched");
    assert_eq!(s.list_documents().await.unwrap(), vec![b]);

    // Deleting a document that is not there (again, or never stored) is not an error.
    s.apply(vec![
        StorageOp::DeleteDocument { document: a },
        StorageOp::DeleteDocument {
            document: DocumentId::random(),
        },
    ])
    .await
    .unwrap();

    // Ops apply in order within one commit: deleted then written again leaves only the new
    // content; written then deleted leaves nothing.
    let c = DocumentId::random();
    s.apply(vec![
        chunk(c, ChunkKind::Incremental, b"c-old"),
        StorageOp::PutSyncState {
            document: c,
            peer_storage_id: "peer-1".into(),
            data: b"sc-old".to_vec(),
        },
    ])
    .await
    .unwrap();
    s.apply(vec![
        StorageOp::DeleteDocument { document: c },
        chunk(c, ChunkKind::Incremental, b"c-new"),
    ])
    .await
    .unwrap();
    let got = s.load(c).await.unwrap().unwrap();
    let data: Vec<&[u8]> = got.chunks.iter().map(|(_, d)| d.as_slice()).collect();
    assert_eq!(data, vec![b"c-new".as_slice()], "only the new content");
    assert!(got.sync_states.is_empty(), "the old sync state went too");
    s.apply(vec![
        chunk(c, ChunkKind::Incremental, b"c-newer"),
        StorageOp::DeleteDocument { document: c },
    ])
    .await
    .unwrap();
    assert!(s.load(c).await.unwrap().is_none(), "written then deleted");
    assert_eq!(s.list_documents().await.unwrap(), vec![b]);

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
