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
use support::{add_note, new_case, notes, ServerProcess};

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

/// `FIELDBOOK_LOG=info` nodes (the feed's reconnects are logged at info).
async fn chatty_node(database_url: &str, master_key: &str) -> ServerProcess {
    ServerProcess::start(&[
        ("FIELDBOOK_DATABASE_URL", database_url),
        ("FIELDBOOK_MASTER_KEY", master_key),
        ("FIELDBOOK_LOG", "info"),
    ])
    .await
}

/// A case created through `on1` by a new device, and a second device on `on2` holding it
/// (so node 2 keeps it in memory and listens for it).
async fn shared_case(on1: &ServerProcess, on2: &ServerProcess) -> (Client, Client, DocumentId) {
    let a = Client::new(Some(StorageId::random()));
    a.connect(&on1.ticket_url().await).await.unwrap();
    let doc = new_case(&a, "Feed Test Child");
    a.wait_synced(doc, T).await.unwrap();
    let b = Client::new(Some(StorageId::random()));
    b.connect(&on2.ticket_url().await).await.unwrap();
    b.find(doc, T).await.unwrap();
    (a, b, doc)
}

/// A note by `a` on one node reaches `b` on the other (through the feed).
async fn a_note_crosses(a: &Client, b: &Client, doc: DocumentId, text: &str) {
    add_note(a, doc, text);
    a.wait_synced(doc, T).await.unwrap();
    holds_all(b, doc, &[text.to_owned()], "the device on the other node").await;
}

/// `NOTIFY` on the feed's channel as anyone who can connect to the database, in one
/// transaction: PostgreSQL delivers them all at once, on commit.
fn notify(database: &str, payloads: Vec<String>) {
    support::pg::with_client(database, move |c| {
        let mut tx = c.transaction().unwrap();
        for p in payloads {
            tx.execute("SELECT pg_notify('fieldbook_changes', $1)", &[&p])
                .unwrap();
        }
        tx.commit().unwrap();
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crafted_notifications_neither_crash_nor_stall_a_node_and_are_not_logged() {
    let database = support::pg::fresh_database();
    let key = shared_master_key();
    let node1 = chatty_node(&database, &key).await;
    let node2 = chatty_node(&database, &key).await;
    let (a, b, doc) = shared_case(&node1, &node2).await;
    a_note_crosses(&a, &b, doc, "before the crafted notifications").await;

    // Garbage (control characters, a marker that must never reach a log), the largest
    // payload PostgreSQL takes, made-up ids, ids of another kind, a node no one runs naming
    // the real case, and a flood of notifications naming thousands of unknown documents.
    const MARKER: &str = "CRAFTED-FEED-PAYLOAD";
    let mut crafted = vec![
        String::new(),
        " ".into(),
        format!("{MARKER}\u{1b}[31m\n\r-ish"),
        format!("x {MARKER} {}", "\u{7}".repeat(100)),
        format!("x {}", "z".repeat(7_990)),
        format!("no-such-node {doc}"),
        format!("no-such-node {MARKER} {doc} {doc} {doc}"),
    ];
    for _ in 0..2_000 {
        let ids: Vec<String> = (0..250).map(|_| DocumentId::random().to_string()).collect();
        crafted.push(format!("flood {}", ids.join(" ")));
    }
    // PostgreSQL itself refuses a payload of 8,000 bytes or more.
    let refused = support::pg::with_client(&database, |c| {
        c.execute(
            "SELECT pg_notify('fieldbook_changes', $1)",
            &[&"y".repeat(8_000)],
        )
        .is_err()
    });
    assert!(refused, "PostgreSQL took an 8,000-byte payload");
    let sender = {
        let database = database.clone();
        tokio::task::spawn_blocking(move || notify(&database, crafted))
    };
    // Meanwhile, and after, both nodes keep serving: a device's change is acknowledged and
    // crosses to the other node.
    let (mut crossed, mut slowest) = (0, Duration::ZERO);
    while crossed == 0 || !sender.is_finished() {
        let started = std::time::Instant::now();
        a_note_crosses(
            &a,
            &b,
            doc,
            &format!("during the crafted notifications {crossed}"),
        )
        .await;
        slowest = slowest.max(started.elapsed());
        crossed += 1;
    }
    sender.await.unwrap();
    for (from, to, way) in [(&a, &b, "1 to 2"), (&b, &a, "2 to 1")] {
        let started = std::time::Instant::now();
        a_note_crosses(
            from,
            to,
            doc,
            &format!("after the crafted notifications, {way}"),
        )
        .await;
        slowest = slowest.max(started.elapsed());
    }
    eprintln!(
        "crafted notifications: {crossed} notes crossed nodes while they were sent, then one \
         each way; the slowest took {slowest:?}"
    );
    for n in [&node1, &node2] {
        assert_eq!(n.get("/healthz").await, 200);
        n.wait_for_log("ignored notification parts that name no document", T)
            .await;
        let logs = n.stderr().join("\n");
        assert!(
            !logs.contains(MARKER) && !logs.contains('\u{1b}') && !logs.contains("zzzz"),
            "a crafted payload reached the log"
        );
    }
}

/// Rows for `doc` written straight into the database with the nodes' master key, as another
/// node would write them but without telling anyone: only a reload finds them.
async fn write_unannounced(database: &str, key: &str, doc: DocumentId, from: &Automerge) {
    use fieldbook_sync::Store;
    use fieldbook_sync_server::pg::{PgPool, PgUrl};
    let mut d = from.fork();
    let before = d.get_heads();
    let mut tx = d.transaction();
    let list = tx.get(ROOT, "notes").unwrap().unwrap().1;
    let len = tx.length(&list);
    tx.insert(&list, len, "written past the feed").unwrap();
    tx.commit();
    let change = d.save_after(&before);
    let pool = PgPool::open(&PgUrl::parse(database).unwrap(), 1).unwrap();
    let master = fieldbook_sync_server::storage::MasterKey::from_base64(key, "test").unwrap();
    let store = fieldbook_sync_server::storage::PgStore::open(pool, master)
        .await
        .unwrap();
    store
        .apply(vec![fieldbook_sync::story::chunk(
            doc,
            fieldbook_sync::ChunkKind::Incremental,
            &change,
        )])
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_killed_by_the_database_reloads_what_it_holds_and_hears_again() {
    let database = support::pg::fresh_database();
    let key = shared_master_key();
    let node1 = chatty_node(&database, &key).await;
    let node2 = chatty_node(&database, &key).await;
    let (a, b, doc) = shared_case(&node1, &node2).await;
    a_note_crosses(&a, &b, doc, "before the listener died").await;

    // A change no notification announces: node 2 finds it only by reloading.
    write_unannounced(&database, &key, doc, &b.document(&doc).unwrap()).await;
    let unannounced = "written past the feed".to_owned();
    assert!(!notes(&b.document(&doc).unwrap()).contains(&unannounced));

    // The database ends every listening connection (an administrator, a failover).
    let ended: i64 = support::pg::with_client(&database, |c| {
        c.query_one(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = $1) t",
            &[&fieldbook_sync_server::feed::PG_LISTENER_NAME],
        )
        .unwrap()
        .get(0)
    });
    assert_eq!(ended, 2, "one listening connection per node");

    // Each node listens again, reloads everything it holds (so node 2's device gets the
    // change nobody announced), and hears the other node's changes as before.
    for n in [&node1, &node2] {
        n.wait_for_log("listening again", T).await;
        n.wait_for_log("reloading every document in memory", T)
            .await;
    }
    holds_all(&b, doc, &[unannounced], "the device on node 2").await;
    a_note_crosses(&a, &b, doc, "after the listener came back").await;
    a_note_crosses(&b, &a, doc, "and the other way").await;
}
