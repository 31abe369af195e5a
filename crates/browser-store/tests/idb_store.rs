//! The IndexedDB store in a real headless Chromium (wasm-bindgen-test + chromedriver).
#![cfg(target_arch = "wasm32")]

use fieldbook_browser_store::{IdbStore, LockFacts, Locked, Store, StoreError, UnlockError};
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

const PASSCODE: &str = "test-passcode-4711";
/// The key the server would hold for the test device.
const SERVER_KEY: [u8; 32] = [7; 32];

/// A new sealed store (a new data key, wrapped under [`PASSCODE`]).
async fn create(name: &str) -> IdbStore {
    Locked::open(name)
        .await
        .unwrap()
        .create(PASSCODE, &SERVER_KEY)
        .await
        .unwrap()
}

/// The store `name` as after a reload: opened locked, then unlocked with the passcode.
async fn unlock(name: &str) -> IdbStore {
    Locked::open(name)
        .await
        .unwrap()
        .unlock(PASSCODE)
        .await
        .unwrap()
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
    let store = create(&name).await;
    fieldbook_sync::story::run(&store).await;
    store.delete().await.unwrap();
}

#[wasm_bindgen_test]
async fn save_and_load_a_document() {
    let name = db_name();
    let store = create(&name).await;
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
    let store = create(&name).await;
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
    let store = create(&name).await;
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
        let store = create(&name).await;
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
    let store = unlock(&name).await;
    assert_eq!(store.storage_id(), &id);
    let stored = store.load(doc).await.unwrap().unwrap();
    assert_eq!(stored.sync_states.get("server"), Some(&vec![1, 2, 3]));
    store.delete().await.unwrap();
}

#[wasm_bindgen_test]
async fn settings_persist_and_never_touch_the_storage_id() {
    let name = db_name();
    let id = {
        let store = create(&name).await;
        assert_eq!(store.get_setting("author").await.unwrap(), None);
        store.put_setting("author", "Test Worker").await.unwrap();
        store.put_setting("storage_id", "hijack").await.unwrap();
        let id = store.storage_id().clone();
        store.close();
        id
    };
    let store = unlock(&name).await;
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
    let (batched, one_by_one) = (create(&db_name()).await, create(&db_name()).await);
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

    let store = create(&db_name()).await;
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
    let store = create(&name).await;
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

    let again = create(&name).await;
    assert!(again.list_documents().await.unwrap().is_empty());
    assert_eq!(again.get_setting("account").await.unwrap(), None);
    assert_ne!(again.storage_id(), &before);
    again.delete().await.unwrap();
}

// ---- Encryption at rest ------------------------------------------------------------------

use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use indexed_db_futures::typed_array::Uint8Array;
use wasm_bindgen::{JsCast, JsValue};

const STORES: [&str; 3] = ["chunks", "sync_states", "meta"];

/// Every record of every object store of `name`, read raw (no key): (store, key, value bytes).
/// Strings are taken as their UTF-8 bytes, byte arrays as they are.
async fn raw_records(name: &str) -> Vec<(String, String, Vec<u8>)> {
    let db = Database::open(name).await.unwrap();
    let mut out = Vec::new();
    for store_name in STORES {
        let tx = db.transaction(store_name).build().unwrap();
        let store = tx.object_store(store_name).unwrap();
        let keys: Vec<String> = store
            .get_all_keys()
            .primitive()
            .unwrap()
            .await
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let values: Vec<JsValue> = store
            .get_all()
            .primitive()
            .unwrap()
            .await
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(keys.len(), values.len());
        for (k, v) in keys.into_iter().zip(values) {
            let bytes = match v.as_string() {
                Some(text) => text.into_bytes(),
                None => {
                    assert!(v.is_instance_of::<js_sys::Uint8Array>(), "{store_name}/{k}");
                    js_sys::Uint8Array::new(&v).to_vec()
                }
            };
            out.push((store_name.to_owned(), k, bytes));
        }
    }
    db.close();
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn utf16le(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// Invented words that appear nowhere else.
const FIXTURES: [&str; 4] = [
    "Zorbulon",
    "Quagmirette",
    "marmalade heron",
    "Yselda Brightwater",
];

/// The acceptance check at the store's level: after a document with distinctive words, its
/// compaction, a sync state and a setting naming a person are written, no record of any
/// object store (key or value) holds any of them, in UTF-8 or UTF-16.
#[wasm_bindgen_test]
async fn nothing_readable_is_left_in_indexeddb() {
    let name = db_name();
    let store = create(&name).await;
    let mut e = engine();
    let (doc, out) = e
        .create(
            |tx| {
                tx.put(ROOT, "name", "Zorbulon Quagmirette")?;
                tx.put_object(ROOT, "notes", ObjType::List)?;
                Ok(())
            },
            0,
        )
        .unwrap();
    let mut plain: Vec<u8> = Vec::new();
    let mut ops = out.storage;
    for i in 0..6 {
        ops.extend(add_note(&mut e, doc, &format!("the marmalade heron, visit {i}")).storage);
    }
    ops.push(StorageOp::PutSyncState {
        document: doc,
        peer_storage_id: "server".into(),
        data: b"sync state naming Zorbulon".to_vec(),
    });
    for op in &ops {
        match op {
            StorageOp::PutChunk { data, .. }
            | StorageOp::Compact { data, .. }
            | StorageOp::PutSyncState { data, .. } => plain.extend_from_slice(data),
            _ => {}
        }
    }
    // The check below could fail: unsealed, these bytes would hold the words.
    for word in ["Zorbulon", "Quagmirette", "marmalade heron"] {
        assert!(
            contains(&plain, word.as_bytes()),
            "{word} is in the plain ops"
        );
    }
    assert!(
        ops.iter().any(|op| matches!(op, StorageOp::Compact { .. })),
        "a snapshot is among them"
    );
    store.apply(ops).await.unwrap();
    store
        .put_setting(
            "account",
            "{\"user_id\":\"u-1\",\"display_name\":\"Yselda Brightwater\"}",
        )
        .await
        .unwrap();
    store
        .put_facts(&LockFacts {
            unsent: vec![doc],
            ..LockFacts::default()
        })
        .await
        .unwrap();

    let raw = raw_records(&name).await;
    let stores: Vec<&str> = raw.iter().map(|(s, _, _)| s.as_str()).collect();
    for s in STORES {
        assert!(stores.contains(&s), "{s} has records");
    }
    for (s, k, v) in &raw {
        for word in FIXTURES {
            for needle in [word.as_bytes().to_vec(), utf16le(word)] {
                assert!(!contains(v, &needle), "{word} in the value of {s}/{k}");
                assert!(!contains(k.as_bytes(), &needle), "{word} in key {s}/{k}");
            }
        }
    }
    let plain_meta: Vec<&str> = raw
        .iter()
        .filter(|(s, _, v)| s == "meta" && std::str::from_utf8(v).is_ok())
        .map(|(_, k, _)| k.as_str())
        .collect();
    assert_eq!(
        plain_meta,
        vec!["keyring", "lock_facts", "storage_id"],
        "only these are readable"
    );

    // With the passcode, everything is there again.
    store.close();
    let back = unlock(&name).await;
    assert_eq!(notes(&reload(&back, doc).await, &doc), notes(&e, &doc));
    assert_eq!(
        back.get_setting("account").await.unwrap().as_deref(),
        Some("{\"user_id\":\"u-1\",\"display_name\":\"Yselda Brightwater\"}")
    );
    assert_eq!(
        back.load(doc).await.unwrap().unwrap().sync_states["server"],
        b"sync state naming Zorbulon".to_vec()
    );
    assert_eq!(back.facts().await.unwrap().unsent, vec![doc]);
    back.delete().await.unwrap();
}

#[wasm_bindgen_test]
async fn wrong_passcodes_are_counted_persistently_and_the_right_one_resets() {
    let name = db_name();
    let store = create(&name).await;
    store.put_setting("author", "Test Worker").await.unwrap();
    store.close();

    let mut locked = Locked::open(&name).await.unwrap();
    assert!(locked.has_keyring());
    assert_eq!(locked.facts().failed_attempts, 0);
    for expected in 1..=2 {
        let (back, err) = locked.unlock("not-the-passcode").await.unwrap_err();
        assert!(
            matches!(err, UnlockError::WrongPasscode { failed_attempts } if failed_attempts == expected),
            "{err:?}"
        );
        assert_eq!(back.facts().failed_attempts, expected);
        locked = back;
    }
    locked.close();

    // The count was written before each answer: a reload still sees it.
    let locked = Locked::open(&name).await.unwrap();
    assert_eq!(locked.facts().failed_attempts, 2);
    let store = locked.unlock(PASSCODE).await.unwrap();
    assert_eq!(store.facts().await.unwrap().failed_attempts, 0);
    assert_eq!(
        store.get_setting("author").await.unwrap().as_deref(),
        Some("Test Worker")
    );
    store.close();
    let locked = Locked::open(&name).await.unwrap();
    assert_eq!(locked.facts().failed_attempts, 0);
    locked.delete().await.unwrap();
}

#[wasm_bindgen_test]
async fn lock_facts_are_readable_and_writable_while_locked() {
    let name = db_name();
    let locked = Locked::open(&name).await.unwrap();
    assert!(!locked.has_keyring());
    let (locked, err) = locked.unlock(PASSCODE).await.unwrap_err();
    assert!(matches!(err, UnlockError::NoKeyring), "{err:?}");
    let facts = LockFacts {
        failed_attempts: 0,
        last_contact_ms: Some(1_700_000_000_000.0),
        unsent: vec![DocumentId::random()],
        policy: Some("{\"idle_lock_s\":300}".into()),
    };
    locked.put_facts(&facts).await.unwrap();
    assert_eq!(locked.facts(), facts);
    let store = locked.create(PASSCODE, &SERVER_KEY).await.unwrap();
    assert_eq!(store.facts().await.unwrap(), facts);
    store.close();
    let locked = Locked::open(&name).await.unwrap();
    assert_eq!(locked.facts(), facts);
    assert!(
        matches!(
            locked.create("another", &SERVER_KEY).await,
            Err(StoreError::InvalidRecord(_))
        ),
        "a second keyring would orphan the data"
    );
    unlock(&name).await.delete().await.unwrap();
}

/// Too many wrong passcodes: the device keeps only what has not reached the server, sealed,
/// and only the server's key for this device opens it again.
#[wasm_bindgen_test]
async fn wipe_except_keeps_exactly_the_unsent_documents_for_the_server_key() {
    let name = db_name();
    let server_key = [0x42u8; 32];
    let store = create(&name).await;
    store.set_server_key(&server_key).await.unwrap();
    let mut e = engine();
    let mut docs = Vec::new();
    for child in ["Test Child Kept", "Test Child Sent"] {
        let (doc, out) = e
            .create(
                |tx| {
                    tx.put(ROOT, "name", child)?;
                    tx.put_object(ROOT, "notes", ObjType::List)?;
                    Ok(())
                },
                0,
            )
            .unwrap();
        store.apply(out.storage).await.unwrap();
        store
            .apply(add_note(&mut e, doc, &format!("note on {child}")).storage)
            .await
            .unwrap();
        store
            .apply(vec![StorageOp::PutSyncState {
                document: doc,
                peer_storage_id: "server".into(),
                data: vec![9],
            }])
            .await
            .unwrap();
        docs.push(doc);
    }
    let (kept, sent) = (docs[0], docs[1]);
    store
        .put_setting("account", "{\"user_id\":\"u-1\"}")
        .await
        .unwrap();
    let storage_id = store.storage_id().clone();
    store.close();

    let locked = Locked::open(&name).await.unwrap();
    locked
        .put_facts(&LockFacts {
            failed_attempts: 5,
            unsent: vec![kept],
            ..LockFacts::default()
        })
        .await
        .unwrap();
    locked.wipe_except(&[kept]).await.unwrap();
    assert!(locked.has_keyring() && !locked.has_passcode());
    let (locked, err) = locked.unlock(PASSCODE).await.unwrap_err();
    assert!(matches!(err, UnlockError::NoPasscode), "{err:?}");
    locked.close();

    let raw = raw_records(&name).await;
    for (s, k, _) in &raw {
        match s.as_str() {
            "chunks" | "sync_states" => {
                assert!(k.starts_with(&format!("{kept}/")), "{s}/{k} survived")
            }
            _ => assert!(
                ["keyring", "lock_facts", "storage_id"].contains(&k.as_str()),
                "meta/{k} survived"
            ),
        }
    }
    let count = |s: &str| raw.iter().filter(|(st, _, _)| st == s).count();
    assert_eq!(count("chunks"), 2, "both of the kept document's chunks");
    assert_eq!(count("sync_states"), 1);

    let locked = Locked::open(&name).await.unwrap();
    assert_eq!(locked.facts().failed_attempts, 5, "the facts are kept");
    let (locked, err) = locked
        .unlock_with_server_key(&[0x43u8; 32])
        .await
        .unwrap_err();
    assert!(matches!(err, UnlockError::WrongServerKey), "{err:?}");
    let store = locked.unlock_with_server_key(&server_key).await.unwrap();
    assert_eq!(store.storage_id(), &storage_id);
    assert_eq!(store.list_documents().await.unwrap(), vec![kept]);
    assert_eq!(
        notes(&reload(&store, kept).await, &kept),
        vec!["\"note on Test Child Kept\""]
    );
    assert!(store.load(sent).await.unwrap().is_none());
    assert_eq!(store.get_setting("account").await.unwrap(), None);

    // A new passcode, set once the server has let the worker back in.
    store.set_passcode("new-passcode-2468").await.unwrap();
    store.close();
    let store = Locked::open(&name)
        .await
        .unwrap()
        .unlock("new-passcode-2468")
        .await
        .unwrap();
    assert_eq!(store.list_documents().await.unwrap(), vec![kept]);
    store.delete().await.unwrap();
}

/// A sealed value is bound to its record: copied raw under another key, it does not open.
#[wasm_bindgen_test]
async fn a_value_moved_to_another_record_does_not_open() {
    let name = db_name();
    let store = create(&name).await;
    let doc = DocumentId::random();
    store
        .apply(vec![StorageOp::PutSyncState {
            document: doc,
            peer_storage_id: "server".into(),
            data: vec![1, 2, 3],
        }])
        .await
        .unwrap();
    let (_, _, sealed) = raw_records(&name)
        .await
        .into_iter()
        .find(|(s, _, _)| s == "sync_states")
        .unwrap();
    {
        let db = Database::open(&name).await.unwrap();
        let tx = db
            .transaction("sync_states")
            .with_mode(indexed_db_futures::transaction::TransactionMode::Readwrite)
            .build()
            .unwrap();
        tx.object_store("sync_states")
            .unwrap()
            .put(Uint8Array::from(sealed))
            .with_key(format!("{doc}/another-peer"))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        db.close();
    }
    assert!(matches!(
        store.load(doc).await,
        Err(StoreError::InvalidRecord(_))
    ));
    store.delete().await.unwrap();
}

/// A database written before encryption (plain records, no keyring) is not adopted.
#[wasm_bindgen_test]
async fn an_unsealed_database_is_refused() {
    let name = db_name();
    Locked::open(&name).await.unwrap().close();
    {
        let db = Database::open(&name).await.unwrap();
        let tx = db
            .transaction("chunks")
            .with_mode(indexed_db_futures::transaction::TransactionMode::Readwrite)
            .build()
            .unwrap();
        tx.object_store("chunks")
            .unwrap()
            .put(Uint8Array::from(b"plain automerge bytes".to_vec()))
            .with_key(format!("{}/incremental/abc", DocumentId::random()))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        db.close();
    }
    let locked = Locked::open(&name).await.unwrap();
    assert!(!locked.has_keyring());
    assert!(matches!(
        locked.create(PASSCODE, &SERVER_KEY).await,
        Err(StoreError::InvalidRecord(_))
    ));
    Locked::open(&name).await.unwrap().delete().await.unwrap();
}

/// A damaged keyring is reported, not taken for a new device (which would orphan the data),
/// and the failed open leaves no connection behind: the database can still be deleted.
#[wasm_bindgen_test]
async fn a_damaged_keyring_is_an_error_and_leaves_the_database_deletable() {
    let name = db_name();
    create(&name).await.close();
    {
        let db = Database::open(&name).await.unwrap();
        let tx = db
            .transaction("meta")
            .with_mode(indexed_db_futures::transaction::TransactionMode::Readwrite)
            .build()
            .unwrap();
        tx.object_store("meta")
            .unwrap()
            .put("{\"version\":1,".to_owned())
            .with_key("keyring")
            .await
            .unwrap();
        tx.commit().await.unwrap();
        db.close();
    }
    assert!(matches!(
        Locked::open(&name).await,
        Err(StoreError::InvalidRecord(_))
    ));
    // Waits for every connection to close: it would hang if the failed open kept one.
    IdbStore::delete_database(&name).await.unwrap();
    assert!(!Locked::open(&name).await.unwrap().has_keyring());
    Locked::open(&name).await.unwrap().delete().await.unwrap();
}

/// Delete the database `name` raw, answering how the request ended: "success", or "blocked"
/// when some connection to it is still open (the browser then holds the deletion).
async fn raw_delete_outcome(name: &str) -> String {
    let factory = web_sys::window().unwrap().indexed_db().unwrap().unwrap();
    let request = factory.delete_database(name).unwrap();
    let outcome = js_sys::Promise::new(&mut |resolve, _| {
        for event in ["success", "blocked", "error"] {
            let resolve = resolve.clone();
            let on = wasm_bindgen::closure::Closure::once_into_js(move || {
                resolve.call1(&JsValue::NULL, &event.into()).unwrap();
            });
            match event {
                "success" => request.set_onsuccess(Some(on.unchecked_ref())),
                "blocked" => request.set_onblocked(Some(on.unchecked_ref())),
                _ => request.set_onerror(Some(on.unchecked_ref())),
            }
        }
    });
    wasm_bindgen_futures::JsFuture::from(outcome)
        .await
        .unwrap()
        .as_string()
        .unwrap()
}

/// Locking is dropping the store: its connection closes at once, so deleting the database
/// (wipe, sign-out) is not held until the garbage collector comes by.
#[wasm_bindgen_test]
async fn dropping_a_store_or_a_locked_database_closes_its_connection() {
    let name = db_name();
    let store = create(&name).await;
    store.put_setting("author", "Test Worker").await.unwrap();
    drop(store);
    let locked = Locked::open(&name).await.unwrap();
    let (locked, _) = locked.unlock("wrong").await.unwrap_err();
    drop(locked);
    drop(unlock(&name).await);
    assert_eq!(raw_delete_outcome(&name).await, "success");
    let fresh = Locked::open(&name).await.unwrap();
    assert!(!fresh.has_keyring(), "the database was deleted");
    fresh.delete().await.unwrap();
}

/// The keyring is born with both wraps in one transaction: a browser killed right after
/// `create` still leaves a device whose kept work the server's key opens.
#[wasm_bindgen_test]
async fn a_new_keyring_already_opens_with_the_server_key() {
    let name = db_name();
    create(&name).await.close();
    let store = Locked::open(&name)
        .await
        .unwrap()
        .unlock_with_server_key(&SERVER_KEY)
        .await
        .map_err(|(_, e)| e)
        .expect("the server's key opens a keyring fresh from create");
    store.delete().await.unwrap();
}
