//! The IndexedDB store in a real headless Chromium (wasm-bindgen-test + chromedriver).
#![cfg(target_arch = "wasm32")]

use fieldbook_browser_store::{IdbStore, LocalStore};
use fieldbook_sync::automerge::{transaction::Transactable, ObjType, ReadDoc, ROOT};
use fieldbook_sync::{
    AllowAll, DocumentId, Engine, EngineConfig, Output, PeerId, Role, StorageId, StorageOp,
    StoredDocument,
};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn db_name() -> String {
    format!("fieldbook-test-{}", StorageId::random())
}

fn engine() -> Engine {
    let mut cfg = EngineConfig::new(
        Role::Client,
        PeerId::random("test"),
        Some(StorageId::random()),
    );
    cfg.compact_after_chunks = 4;
    Engine::new(cfg, AllowAll)
}

fn add_note(e: &mut Engine, doc: DocumentId, text: &str) -> Output {
    e.change(
        doc,
        |tx| {
            let notes = tx.get(ROOT, "notes")?.unwrap().1;
            let n = tx.length(&notes);
            tx.insert(&notes, n, text)?;
            Ok(())
        },
        0,
    )
    .unwrap()
}

fn notes(e: &Engine, doc: &DocumentId) -> Vec<String> {
    let d = e.document(doc).unwrap();
    let notes = d.get(ROOT, "notes").unwrap().unwrap().1;
    (0..d.length(&notes))
        .map(|i| d.get(&notes, i).unwrap().unwrap().0.to_string())
        .collect()
}

/// A fresh engine reading `doc` back from the store, as after a reload.
async fn reload(store: &IdbStore, doc: DocumentId) -> Engine {
    let mut e = engine();
    let stored = store.load(doc).await.unwrap();
    let _ = e.loaded(doc, Ok(stored), 0);
    e
}

#[wasm_bindgen_test]
async fn save_and_load_a_document() {
    let name = db_name();
    let store = IdbStore::open(&name).await.unwrap();
    let mut e = engine();
    let (doc, out) = e
        .create(
            |tx| {
                tx.put(ROOT, "name", "Test Child")?;
                tx.put_object(ROOT, "notes", ObjType::List)?;
                Ok(())
            },
            0,
        )
        .unwrap();
    store.apply(out.storage).await.unwrap();
    assert!(store.load(DocumentId::random()).await.unwrap().is_none());
    let back = reload(&store, doc).await;
    assert_eq!(
        back.document(&doc).unwrap().get_heads(),
        e.document(&doc).unwrap().get_heads()
    );
    assert_eq!(store.list_documents().await.unwrap(), vec![doc]);
    store.delete().await.unwrap();
}

#[wasm_bindgen_test]
async fn incremental_appends_add_chunks_without_rewriting() {
    let name = db_name();
    let store = IdbStore::open(&name).await.unwrap();
    let mut e = engine();
    let (doc, out) = e
        .create(
            |tx| tx.put_object(ROOT, "notes", ObjType::List).map(|_| ()),
            0,
        )
        .unwrap();
    store.apply(out.storage).await.unwrap();
    let out = add_note(&mut e, doc, "first keystrokes");
    assert!(
        matches!(out.storage.as_slice(), [StorageOp::PutChunk { .. }]),
        "one small chunk per change"
    );
    store.apply(out.storage).await.unwrap();
    let stored: StoredDocument = store.load(doc).await.unwrap().unwrap();
    assert_eq!(
        stored.chunks.len(),
        2,
        "the first chunk was appended to, not rewritten"
    );
    assert_eq!(
        notes(&reload(&store, doc).await, &doc),
        vec!["\"first keystrokes\""]
    );
    store.delete().await.unwrap();
}

#[wasm_bindgen_test]
async fn compaction_keeps_every_change() {
    let name = db_name();
    let store = IdbStore::open(&name).await.unwrap();
    let mut e = engine();
    let (doc, out) = e
        .create(
            |tx| tx.put_object(ROOT, "notes", ObjType::List).map(|_| ()),
            0,
        )
        .unwrap();
    store.apply(out.storage).await.unwrap();
    let mut compacted = false;
    for i in 0..10 {
        let out = add_note(&mut e, doc, &format!("note {i}"));
        compacted |= out
            .storage
            .iter()
            .any(|op| matches!(op, StorageOp::Compact { .. }));
        store.apply(out.storage).await.unwrap();
    }
    assert!(compacted, "compaction ran");
    let stored = store.load(doc).await.unwrap().unwrap();
    assert!(
        stored.chunks.len() < 11,
        "compaction removed folded chunks ({} left)",
        stored.chunks.len()
    );
    let back = reload(&store, doc).await;
    assert_eq!(notes(&back, &doc), notes(&e, &doc));
    assert_eq!(notes(&back, &doc).len(), 10);
    store.delete().await.unwrap();
}

#[wasm_bindgen_test]
async fn storage_id_and_sync_state_persist_across_reopen() {
    let name = db_name();
    let doc = DocumentId::random();
    let id = {
        let store = IdbStore::open(&name).await.unwrap();
        store
            .apply(vec![StorageOp::PutSyncState {
                document: doc,
                peer_storage_id: "server".into(),
                data: vec![1, 2, 3],
            }])
            .await
            .unwrap();
        let id = store.storage_id().clone();
        store.close();
        id
    };
    let store = IdbStore::open(&name).await.unwrap();
    assert_eq!(store.storage_id(), &id);
    let stored = store.load(doc).await.unwrap().unwrap();
    assert_eq!(stored.sync_states.get("server"), Some(&vec![1, 2, 3]));
    store.delete().await.unwrap();
}

#[wasm_bindgen_test]
async fn settings_persist_and_never_touch_the_storage_id() {
    let name = db_name();
    let id = {
        let store = IdbStore::open(&name).await.unwrap();
        assert_eq!(store.get_setting("author").await.unwrap(), None);
        store.put_setting("author", "Test Worker").await.unwrap();
        store.put_setting("storage_id", "hijack").await.unwrap();
        let id = store.storage_id().clone();
        store.close();
        id
    };
    let store = IdbStore::open(&name).await.unwrap();
    assert_eq!(store.storage_id(), &id);
    assert_eq!(
        store.get_setting("author").await.unwrap().as_deref(),
        Some("Test Worker")
    );
    store.delete().await.unwrap();
}
