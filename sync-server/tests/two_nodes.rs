//! Two sync nodes in one process sharing one store, told of each other's commits by an
//! in-process change feed (PostgreSQL `LISTEN/NOTIFY` in production, docs/SCALE-OUT.md).

use std::sync::Arc;
use std::time::Duration;

use fieldbook_native_client::Client;
use fieldbook_sync::automerge::{transaction::Transactable, ObjType, ROOT};
use fieldbook_sync::{AllowAll, StorageId};
use fieldbook_sync_server::feed::InProcessFeed;
use fieldbook_sync_server::http::{start_with_feed, RunningServer};

mod support;
use support::{add_note, client, config};

const T: Duration = Duration::from_secs(20);

fn notes(d: &fieldbook_sync::automerge::Automerge) -> Vec<String> {
    let mut all = support::notes(d);
    all.sort();
    all
}

/// Two nodes on one store (SQLite, or PostgreSQL when the test command asks) with a feed
/// between them.
async fn two_nodes(dir: &std::path::Path) -> (RunningServer, RunningServer) {
    let store = support::store_at(dir).await;
    let bus = InProcessFeed::bus(1024);
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let feed = Arc::new(InProcessFeed::join(&bus));
        nodes.push(
            start_with_feed(&config(dir), store.clone(), AllowAll, feed)
                .await
                .unwrap(),
        );
    }
    let second = nodes.pop().unwrap();
    (nodes.pop().unwrap(), second)
}

#[tokio::test]
async fn an_edit_through_one_node_reaches_a_device_on_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = two_nodes(dir.path()).await;
    let a = client(&one).await;
    let b = client(&two).await;

    let doc = a
        .create(|tx| {
            tx.put(ROOT, "name", "Test Child Two Nodes")?;
            tx.put_object(ROOT, "notes", ObjType::List)?;
            Ok(())
        })
        .unwrap();
    add_note(&a, doc, "first, through node one");
    a.wait_synced(doc, T).await.unwrap();
    // Node two loads it from the shared store and now holds it in memory for b.
    b.find(doc, T).await.unwrap();

    // A live edit on node one reaches b, connected to node two, without b asking.
    add_note(&a, doc, "live, through node one");
    let seen = b
        .wait_for_document(doc, T, |d| notes(d).len() == 2)
        .await
        .unwrap();
    assert_eq!(
        notes(&seen),
        vec!["first, through node one", "live, through node one"]
    );

    // Both edit at once, each through its own node: both converge on all four notes.
    add_note(&a, doc, "concurrent from a");
    add_note(&b, doc, "concurrent from b");
    let want = 4;
    let da = a
        .wait_for_document(doc, T, |d| notes(d).len() == want)
        .await
        .unwrap();
    let db = b
        .wait_for_document(doc, T, |d| notes(d).len() == want)
        .await
        .unwrap();
    assert_eq!(notes(&da), notes(&db));
    a.wait_synced(doc, T).await.unwrap();
    b.wait_synced(doc, T).await.unwrap();
    assert_eq!(
        a.document(&doc).unwrap().get_heads(),
        b.document(&doc).unwrap().get_heads()
    );

    // A device that moves from node one to node two finds everything there.
    a.disconnect();
    let a2 = Client::new(Some(StorageId::random()));
    a2.connect(&two.sync_url()).await.unwrap();
    let got = a2.find(doc, T).await.unwrap();
    assert_eq!(notes(&got).len(), want);

    one.shutdown().await.unwrap();
    two.shutdown().await.unwrap();
}
