//! Integration tests against a real server on an ephemeral port with a temporary store (on
//! SQLite, or on PostgreSQL when the test command asks: `support::config`).

use std::time::Duration;

use fieldbook_native_client::synthetic::words;
use fieldbook_native_client::{Client, ClientError};
use fieldbook_sync::automerge::{ReadDoc, ROOT};
use fieldbook_sync::{DocumentId, StorageId};
use fieldbook_sync_server::config::Config;
use fieldbook_sync_server::http::start_without_sign_in as start;

mod support;
use support::{add_note, client, config, new_case, notes};

const T: Duration = Duration::from_secs(20);

#[tokio::test]
async fn two_clients_converge_through_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&config(dir.path())).await.unwrap();
    let a = client(&server).await;
    let b = client(&server).await;

    let doc = new_case(&a, "Test Child One");
    add_note(&a, doc, "note from A");
    a.wait_synced(doc, T).await.unwrap();

    b.find(doc, T).await.unwrap();
    add_note(&b, doc, "note from B");
    // A receives B's note through the server.
    let seen = a
        .wait_for_document(doc, T, |d| notes(d).len() == 2)
        .await
        .unwrap();
    let mut got = notes(&seen);
    got.sort();
    assert_eq!(got, vec!["note from A", "note from B"]);

    // Concurrent edits while both are offline merge when they reconnect.
    a.disconnect();
    b.disconnect();
    add_note(&a, doc, "offline A");
    add_note(&b, doc, "offline B");
    a.connect(&server.sync_url()).await.unwrap();
    b.connect(&server.sync_url()).await.unwrap();
    a.wait_synced(doc, T).await.unwrap();
    b.wait_synced(doc, T).await.unwrap();
    let da = a
        .wait_for_document(doc, T, |d| notes(d).len() == 4)
        .await
        .unwrap();
    let db = b
        .wait_for_document(doc, T, |d| notes(d).len() == 4)
        .await
        .unwrap();
    assert_eq!(notes(&da), notes(&db));
    assert_eq!(da.get_heads(), db.get_heads());
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn documents_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&config(dir.path())).await.unwrap();
    let a = client(&server).await;
    let mut docs = Vec::new();
    for i in 0..5 {
        let doc = new_case(&a, &format!("Restart Child {i}"));
        // Enough notes to force compaction (default after 32 chunks) on some documents.
        for n in 0..(i * 15) {
            add_note(&a, doc, &format!("note {n}"));
        }
        a.wait_synced(doc, T).await.unwrap();
        docs.push((doc, a.document(&doc).unwrap()));
    }
    server.shutdown().await.unwrap();

    let server = start(&config(dir.path())).await.unwrap();
    let fresh = client(&server).await;
    for (doc, original) in docs {
        let got = fresh.find(doc, T).await.unwrap();
        assert_eq!(got.get_heads(), original.get_heads());
        assert_eq!(notes(&got), notes(&original));
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn unknown_documents_are_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&config(dir.path())).await.unwrap();
    let a = client(&server).await;
    let missing = DocumentId::random();
    match a.find(missing, T).await {
        Err(ClientError::Unavailable(d)) => assert_eq!(d, missing),
        other => panic!("expected unavailable, got {:?}", other.map(|_| ())),
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn idle_documents_are_evicted_from_memory() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config {
        evict_idle_secs: 0,
        ..config(dir.path())
    };
    let server = start(&cfg).await.unwrap();
    let mut stats = server.watch_stats();
    let a = client(&server).await;
    let mut docs = Vec::new();
    for i in 0..40 {
        let doc = new_case(&a, &format!("Evict Child {i}"));
        a.wait_synced(doc, T).await.unwrap();
        docs.push(doc);
    }
    // While the client holds them, they are active and in memory.
    assert_eq!(server.stats().await.unwrap().loaded_documents, 40);
    a.disconnect();
    tokio::time::timeout(
        T,
        stats.wait_for(|s| s.loaded_documents == 0 && s.connections == 0),
    )
    .await
    .expect("documents were not evicted")
    .unwrap();
    // Evicted documents load again from storage on demand.
    let b = client(&server).await;
    let got = b.find(docs[7], T).await.unwrap();
    assert_eq!(
        got.get(ROOT, "name").unwrap().unwrap().0.as_str(),
        Some("Evict Child 7")
    );
    assert_eq!(server.stats().await.unwrap().loaded_documents, 1);
    server.shutdown().await.unwrap();
}

/// Bytes on the wire when a client reconnects after one small edit to a case with 200
/// earlier changes, after a server restart; and the document's saved size. `persist`:
/// whether the client has a storage id (so both sides keep sync state) or is ephemeral.
async fn reconnect_cost(persist: bool) -> (u64, usize) {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&config(dir.path())).await.unwrap();
    let a = Client::new(persist.then(StorageId::random));
    a.connect(&server.sync_url()).await.expect("connect");
    let doc = new_case(&a, "Bytes Child");
    for n in 0..50 {
        // A note is typed in several sittings: several changes per note.
        for part in 0..4 {
            add_note(&a, doc, &words(n * 10 + part, 50));
        }
    }
    a.wait_synced(doc, T).await.unwrap();
    let full = a.document(&doc).unwrap().save().len();

    // The server restarts, so its sync state for this client comes from its database.
    server.shutdown().await.unwrap();
    let server = start(&config(dir.path())).await.unwrap();
    a.disconnect();
    add_note(&a, doc, "one more short note");
    let (s0, r0) = a.wire_bytes();
    a.connect(&server.sync_url()).await.unwrap();
    a.wait_synced(doc, T).await.unwrap();
    let (s1, r1) = a.wire_bytes();
    server.shutdown().await.unwrap();
    ((s1 - s0) + (r1 - r0), full)
}

#[tokio::test]
async fn reconnect_with_persisted_sync_state_is_small() {
    let (reconnect, full) = reconnect_cost(true).await;
    // Control: an ephemeral client, so no sync state is kept on either side.
    let (control, _) = reconnect_cost(false).await;
    eprintln!(
        "document {full} bytes saved; reconnect after one small edit {reconnect} bytes on the \
         wire with persisted sync state, {control} without"
    );
    assert!(reconnect < 2048, "reconnect cost {reconnect} bytes");
    assert!(
        reconnect * 4 < full as u64,
        "reconnect {reconnect} vs document {full}"
    );
    assert!(
        reconnect < control,
        "persisted sync state saved nothing: {reconnect} vs {control} bytes"
    );
}

#[tokio::test]
async fn a_full_disk_closes_the_writer_and_acknowledges_nothing() {
    use fieldbook_sync_server::http::start_with_store;
    use fieldbook_sync_server::storage::SqliteStore;
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_with_max_pages(&dir.path().join("small.sqlite3"), 24).unwrap();
    let server = start_with_store(&config(dir.path()), store).await.unwrap();
    let a = client(&server).await;
    let doc = new_case(&a, "Full Disk Child");
    add_note(&a, doc, "fits");
    a.wait_synced(doc, T).await.unwrap();

    add_note(&a, doc, &words(99, 40_000)); // far more than the store has room for
    let err = a.wait_synced(doc, T).await.unwrap_err();
    assert!(matches!(err, ClientError::NotConnected), "got {err}");
    assert_eq!(
        notes(&a.document(&doc).unwrap()).len(),
        2,
        "the writer keeps its unsaved note to resend"
    );

    // Everyone else is still served, from what is durably stored.
    let b = client(&server).await;
    let got = b.find(doc, T).await.unwrap();
    assert_eq!(notes(&got), vec!["fits"]);
    server.shutdown().await.unwrap();
}

/// Test-only hook: the next read of the armed document panics inside the engine, as a bug
/// reached by one peer's crafted input would (once: other peers' reads are fine).
#[derive(Clone, Default)]
struct Tripwire(std::sync::Arc<std::sync::Mutex<Option<DocumentId>>>);

impl fieldbook_sync::AccessPolicy for Tripwire {
    fn may_read(&self, _: &fieldbook_sync::Identity, doc: &DocumentId) -> bool {
        let mut armed = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if *armed == Some(*doc) {
            *armed = None;
            drop(armed);
            panic!("injected panic");
        }
        true
    }
    fn may_write(&self, _: &fieldbook_sync::Identity, _: &DocumentId) -> bool {
        true
    }
}

#[tokio::test]
async fn a_panic_in_one_engine_step_closes_only_that_connection() {
    use fieldbook_sync_server::http::start_with;
    let dir = tempfile::tempdir().unwrap();
    let store = support::store_at(dir.path()).await;
    let trip = Tripwire::default();
    let server = start_with(&config(dir.path()), store, trip.clone())
        .await
        .unwrap();
    let alice = client(&server).await;
    let safe = new_case(&alice, "Safe Child");
    let trap = new_case(&alice, "Trap Child");
    alice.wait_synced(safe, T).await.unwrap();
    alice.wait_synced(trap, T).await.unwrap();
    *trip.0.lock().unwrap() = Some(trap);

    // Bob asks for the trapped document: his step panics; he alone is disconnected.
    let bob = client(&server).await;
    tokio::select! {
        found = bob.find(trap, T) => assert!(found.is_err(), "bob got nothing"),
        gone = bob.wait_disconnected(T) => { gone.unwrap(); }
    }
    assert!(!bob.is_connected());
    assert!(trip.0.lock().unwrap().is_none(), "the panic did happen");

    // Alice keeps syncing through the same actor, and a newcomer is served.
    add_note(&alice, safe, "still syncing after the panic");
    alice.wait_synced(safe, T).await.unwrap();
    assert!(alice.is_connected());
    let carol = client(&server).await;
    let got = carol.find(safe, T).await.unwrap();
    assert_eq!(notes(&got), vec!["still syncing after the panic"]);
    assert!(server.stats().await.is_some(), "the actor is alive");
    server.shutdown().await.unwrap();
}
