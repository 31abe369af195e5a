//! The IndexedDB store in a real headless Chromium (wasm-bindgen-test + chromedriver).
#![cfg(target_arch = "wasm32")]

use fieldbook_browser_store::{IdbStore, Store};
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

/// The storage story every store passes (memory and SQLite run it natively).
#[wasm_bindgen_test]
async fn indexeddb_story() {
    let name = db_name();
    let store = IdbStore::open(&name).await.unwrap();
    fieldbook_sync::story::run(&store).await;
    store.delete().await.unwrap();
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

/// What the app does with a burst of keystrokes: the storage operations of many engine
/// outputs (chunks, compactions that delete chunks written earlier in the same batch, sync
/// states, two documents) committed by one `apply`, in order. The store must end up exactly
/// as if each output had been applied on its own.
#[wasm_bindgen_test]
async fn one_apply_holds_many_outputs_in_order() {
    let (batched, one_by_one) = (
        IdbStore::open(&db_name()).await.unwrap(),
        IdbStore::open(&db_name()).await.unwrap(),
    );
    let mut e = engine();
    let mut outputs = Vec::new();
    let mut docs = Vec::new();
    for name in ["Test Child A", "Test Child B"] {
        let (doc, out) = e
            .create(
                |tx| {
                    tx.put(ROOT, "name", name)?;
                    tx.put_object(ROOT, "notes", ObjType::List)?;
                    Ok(())
                },
                0,
            )
            .unwrap();
        outputs.push(out.storage);
        docs.push(doc);
    }
    for i in 0..11 {
        outputs.push(add_note(&mut e, docs[i % 2], &format!("keystroke {i}")).storage);
    }
    outputs.push(vec![StorageOp::PutSyncState {
        document: docs[0],
        peer_storage_id: "server".into(),
        data: vec![7],
    }]);
    let compactions = outputs
        .iter()
        .flatten()
        .filter(|op| matches!(op, StorageOp::Compact { .. }))
        .count();
    assert!(compactions >= 2, "the batch folds chunks it also wrote");

    batched
        .apply(outputs.iter().flatten().cloned().collect())
        .await
        .unwrap();
    for ops in outputs {
        one_by_one.apply(ops).await.unwrap();
    }
    for doc in &docs {
        let (mut a, mut b) = (
            batched.load(*doc).await.unwrap().unwrap(),
            one_by_one.load(*doc).await.unwrap().unwrap(),
        );
        a.chunks.sort();
        b.chunks.sort();
        assert_eq!(a, b, "same records as one transaction per output");
        assert_eq!(
            notes(&reload(&batched, *doc).await, doc),
            notes(&e, doc),
            "every keystroke is there"
        );
    }
    assert_eq!(
        batched.load(docs[0]).await.unwrap().unwrap().sync_states["server"],
        vec![7]
    );
    batched.delete().await.unwrap();
    one_by_one.delete().await.unwrap();
}

/// The app starts a keystroke's save in the keystroke's own task: `apply` must have issued
/// every write and asked for the commit by the time its first poll returns, with no round
/// trip to the page in between. Polled once and then dropped, the write still lands.
#[wasm_bindgen_test]
async fn apply_issues_the_whole_write_on_its_first_poll() {
    use std::future::Future;
    use std::task::{Context, Waker};

    let store = IdbStore::open(&db_name()).await.unwrap();
    let mut e = engine();
    let (doc, out) = e
        .create(
            |tx| tx.put_object(ROOT, "notes", ObjType::List).map(|_| ()),
            0,
        )
        .unwrap();
    let mut ops = out.storage;
    ops.extend(add_note(&mut e, doc, "typed just before the crash").storage);
    {
        let mut write = Box::pin(store.apply(ops));
        let first = write.as_mut().poll(&mut Context::from_waker(Waker::noop()));
        assert!(
            first.is_pending(),
            "waits for the commit, not for each request"
        );
    }
    // A transaction started later sees everything an earlier, committed one wrote.
    assert_eq!(
        notes(&reload(&store, doc).await, &doc),
        vec!["\"typed just before the crash\""]
    );
    store.delete().await.unwrap();
}

/// Someone else signing in on a device whose changes were all sent: the app closes its
/// shared connection and deletes the database; opening it again finds nothing of before.
#[wasm_bindgen_test]
async fn a_deleted_database_opens_empty_with_a_new_storage_id() {
    let name = db_name();
    let store = IdbStore::open(&name).await.unwrap();
    store
        .put_setting("account", "{\"user_id\":\"u-1\"}")
        .await
        .unwrap();
    let mut e = engine();
    let (_, out) = e
        .create(|tx| tx.put(ROOT, "name", "Test Child").map(|_| ()), 0)
        .unwrap();
    store.apply(out.storage).await.unwrap();
    assert_eq!(store.list_documents().await.unwrap().len(), 1);
    let before = store.storage_id().clone();

    store.close_connection();
    assert!(
        store.get_setting("account").await.is_err(),
        "a closed connection refuses requests"
    );
    IdbStore::delete_database(&name).await.unwrap();

    let again = IdbStore::open(&name).await.unwrap();
    assert!(again.list_documents().await.unwrap().is_empty());
    assert_eq!(again.get_setting("account").await.unwrap(), None);
    assert_ne!(again.storage_id(), &before);
    again.delete().await.unwrap();
}
