//! Two real server processes ("nodes") on one PostgreSQL database (docs/SCALE-OUT.md), on the
//! test command's throwaway cluster: devices on different nodes editing one case converge
//! (a change committed through one node reaches a device connected to the other, through
//! `LISTEN/NOTIFY`); node 1 is SIGKILLed while a device writes through it, and every change it
//! had acknowledged is on node 2, where that device reconnects and catches up with a few
//! kilobytes rather than the document (its sync state lives in the database).

mod support;

use std::time::Duration;

use fieldbook_native_client::{synthetic, Client};
use fieldbook_sync::automerge::{transaction::Transactable, Automerge, ObjType, ReadDoc, ROOT};
use fieldbook_sync::{DocumentId, StorageId};
use support::ServerProcess;

const T: Duration = Duration::from_secs(30);

/// Both nodes need the same master key (it unwraps every document's key).
fn shared_master_key() -> String {
    use base64::Engine as _;
    let key: [u8; 32] = rand::random();
    base64::engine::general_purpose::STANDARD.encode(key)
}

async fn node(database_url: &str, master_key: &str) -> ServerProcess {
    ServerProcess::start(&[
        ("FIELDBOOK_DATABASE_URL", database_url),
        ("FIELDBOOK_MASTER_KEY", master_key),
        ("FIELDBOOK_LOG", "warn"),
    ])
    .await
}

fn notes(d: &Automerge) -> Vec<String> {
    let Some((_, list)) = d.get(ROOT, "notes").unwrap() else {
        return Vec::new();
    };
    (0..d.length(&list))
        .filter_map(|i| d.get(&list, i).ok()??.0.into_string().ok())
        .collect()
}

fn add_note(c: &Client, doc: DocumentId, text: &str) {
    c.change(doc, |tx| {
        let list = tx.get(ROOT, "notes")?.unwrap().1;
        let len = tx.length(&list);
        tx.insert(&list, len, text)?;
        Ok(())
    })
    .unwrap();
}

async fn holds_all(c: &Client, doc: DocumentId, wanted: &[String], who: &str) {
    let wanted = wanted.to_vec();
    c.wait_with(doc, T, |d| {
        let have = notes(d);
        wanted.iter().all(|w| have.contains(w)).then_some(())
    })
    .await
    .unwrap_or_else(|e| panic!("{who} never held every note: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_converge_and_a_node_killed_mid_write_loses_nothing_acknowledged() {
    let database = support::pg::fresh_database();
    let key = shared_master_key();
    let mut node1 = node(&database, &key).await;
    let node2 = node(&database, &key).await;

    // A case created through node 1, with some history, found by a device on node 2.
    let a = Client::new(Some(StorageId::random()));
    a.connect(&node1.ticket_url().await).await.unwrap();
    let doc = a
        .create(|tx| {
            tx.put(ROOT, "name", "Scale Out Test Child")?;
            let list = tx.put_object(ROOT, "notes", ObjType::List)?;
            for i in 0..300 {
                let text = synthetic::words(i as u64, 40);
                tx.insert(&list, i, text.as_str())?;
            }
            Ok(())
        })
        .unwrap();
    a.wait_synced(doc, T).await.unwrap();
    let b = Client::new(Some(StorageId::random()));
    b.connect(&node2.ticket_url().await).await.unwrap();
    b.find(doc, T)
        .await
        .expect("node 2 serves what node 1 stored");

    // Both devices type at once, each through its own node, and each ends with both.
    let mut both = Vec::new();
    for i in 0..10 {
        let (from_a, from_b) = (format!("from A {i}"), format!("from B {i}"));
        add_note(&a, doc, &from_a);
        add_note(&b, doc, &from_b);
        both.extend([from_a, from_b]);
    }
    holds_all(&a, doc, &both, "the device on node 1").await;
    holds_all(&b, doc, &both, "the device on node 2").await;

    // Node 1 is killed while A writes through it; note what it had acknowledged.
    let mut acknowledged = Vec::new();
    for i in 0.. {
        let text = format!("burst note {i}");
        add_note(&a, doc, &text);
        if i % 2 == 0 {
            // Every other note waits for the acknowledgement; the rest are in flight.
            a.wait_synced(doc, T).await.unwrap();
            acknowledged.push(text);
            if acknowledged.len() == 8 {
                break;
            }
        }
    }
    add_note(&a, doc, "written as the node died");
    node1.child.start_kill().unwrap(); // SIGKILL: no shutdown path runs
    node1.child.wait().await.unwrap();
    a.wait_disconnected(T)
        .await
        .expect("A notices its node is gone");

    // B, on node 2 all along, has everything node 1 acknowledged (it was notified on commit).
    holds_all(&b, doc, &acknowledged, "the device on node 2").await;

    // A moves to node 2 and catches up cheaply: compare with a new device fetching the case.
    let (sent0, received0) = a.wire_bytes();
    a.connect(&node2.ticket_url().await).await.unwrap();
    a.wait_synced(doc, T).await.unwrap();
    let (sent1, received1) = a.wire_bytes();
    let moved = (sent1 - sent0) + (received1 - received0);
    let fresh = Client::new(Some(StorageId::random()));
    fresh.connect(&node2.ticket_url().await).await.unwrap();
    let fetched = fresh.find(doc, T).await.unwrap();
    let (fs, fr) = fresh.wire_bytes();
    let whole = fs + fr;
    for n in acknowledged.iter().chain(&both) {
        assert!(notes(&fetched).contains(n), "{n:?} was lost");
    }
    eprintln!("moving to node 2: {moved} bytes; a new device fetching the case: {whole} bytes");
    // With stored sync state the move costs a few KB; the case itself is tens of KB.
    assert!(
        moved * 3 < whole,
        "moving to node 2 cost {moved} bytes, a new device fetching the case {whole}"
    );
    // And what A wrote as node 1 died reaches node 2's devices now that A has resent it.
    holds_all(
        &b,
        doc,
        &["written as the node died".to_owned()],
        "the device on node 2",
    )
    .await;
}
