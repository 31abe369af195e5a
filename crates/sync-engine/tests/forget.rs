//! `Engine::forget`: a document no longer kept here (access lost, or erased) is deleted from
//! storage in one commit and left no trace in memory, so it behaves as one never seen.
//! Over the in-memory store, whose futures never wait, so `run_ready` drives the runner.

use std::cell::RefCell;

mod common;
use common::request;

use fieldbook_sync::automerge::{transaction::Transactable, ROOT};
use fieldbook_sync::runner::run_ready;
use fieldbook_sync::{
    drain, AllowAll, CloseReason, ConnId, DocumentId, Engine, EngineConfig, Event, Host, Identity,
    Limits, MemoryStore, Message, Millis, Output, PeerId, PeerMetadata, Role, Runner, StorageId,
    StorageOp, Store, Violation,
};

#[derive(Default)]
struct Recorder {
    sent: Vec<(ConnId, Message)>,
    closed: Vec<ConnId>,
    events: Vec<Event>,
}

impl Host for Recorder {
    fn now(&self) -> Millis {
        0
    }
    fn send(&mut self, conn: ConnId, msg: Message) {
        self.sent.push((conn, msg));
    }
    fn close(&mut self, conn: ConnId, _reason: CloseReason) {
        self.closed.push(conn);
    }
    fn event(&mut self, event: &Event) {
        self.events.push(event.clone());
    }
}

type Cell = RefCell<Runner<MemoryStore>>;

fn runner(role: Role, limits: Limits, store: MemoryStore) -> Cell {
    let mut cfg = EngineConfig::new(
        role,
        PeerId("server".into()),
        Some(store.storage_id().clone()),
    );
    cfg.limits = limits;
    RefCell::new(Runner::new(Engine::new(cfg, AllowAll), store))
}

/// Queue `out` and carry out everything; what was sent, in order.
fn run(cell: &Cell, out: Output) -> Vec<(ConnId, Message)> {
    cell.borrow_mut().push(out);
    let mut host = Recorder::default();
    run_ready(drain(cell, &mut host)).expect("memory store");
    assert!(host.closed.is_empty(), "nothing here closes a connection");
    host.sent
}

fn client(name: &str) -> Engine {
    Engine::new(
        EngineConfig::new(
            Role::Client,
            PeerId(name.into()),
            Some(StorageId(name.into())),
        ),
        AllowAll,
    )
}

/// A client engine holding one new case-like document; returns it and the document.
fn client_with_doc(name: &str) -> (Engine, DocumentId) {
    let mut c = client(name);
    let (doc, _) = c
        .create(|tx| tx.put(ROOT, "name", "Test Person").map(|_| ()), 0)
        .unwrap();
    (c, doc)
}

/// Connect `conn` as `name` (durable storage `name`) to the server runner, joined.
fn join(cell: &Cell, conn: ConnId, name: &str) {
    let out = cell
        .borrow_mut()
        .engine_mut()
        .connect(conn, Identity(name.into()), 0);
    run(cell, out);
    let join = Message::Join {
        sender_id: PeerId(name.into()),
        metadata: PeerMetadata {
            storage_id: Some(StorageId(name.into())),
            is_ephemeral: false,
        },
        supported_protocol_versions: vec!["1".into()],
    };
    let out = cell
        .borrow_mut()
        .engine_mut()
        .receive(conn, &join.encode(), 0);
    let sent = run(cell, out);
    assert!(matches!(sent.as_slice(), [(c, Message::Peer { .. })] if *c == conn));
}

/// Handshake the client's `ConnId(1)` with the server; returns what the client sends next.
fn client_handshake(c: &mut Engine, name: &str) -> Vec<Message> {
    let out = c.connect(ConnId(1), Identity("server".into()), 0);
    assert!(matches!(out.send.as_slice(), [(_, Message::Join { .. })]));
    let peer = Message::Peer {
        sender_id: PeerId("server".into()),
        target_id: PeerId(name.into()),
        metadata: PeerMetadata {
            storage_id: Some(StorageId("server-store".into())),
            is_ephemeral: false,
        },
        selected_protocol_version: "1".into(),
        heartbeat: false,
    };
    let out = c.receive(ConnId(1), &peer.encode(), 0);
    out.send.into_iter().map(|(_, m)| m).collect()
}

/// Deliver messages between the server connection `conn` and `client` until both are quiet.
fn converse(cell: &Cell, conn: ConnId, client: &mut Engine, mut to_server: Vec<Message>) {
    for _ in 0..50 {
        let mut to_client = Vec::new();
        for m in to_server.drain(..) {
            let out = cell.borrow_mut().engine_mut().receive(conn, &m.encode(), 0);
            to_client.extend(
                run(cell, out)
                    .into_iter()
                    .filter(|(c, _)| *c == conn)
                    .map(|(_, m)| m),
            );
        }
        for m in to_client {
            let out = client.receive(ConnId(1), &m.encode(), 0);
            to_server.extend(out.send.into_iter().map(|(_, m)| m));
        }
        if to_server.is_empty() {
            return;
        }
    }
    panic!("sync did not finish");
}

/// The server's reply to `msg` on `conn`, with the document id blanked out, so replies about
/// two documents can be compared byte for byte.
fn reply_without_id(cell: &Cell, conn: ConnId, msg: &Message) -> Vec<Vec<u8>> {
    let out = cell
        .borrow_mut()
        .engine_mut()
        .receive(conn, &msg.encode(), 0);
    let blank = DocumentId::from_bytes([0; 16]);
    run(cell, out)
        .into_iter()
        .map(|(_, m)| match m {
            Message::DocUnavailable {
                sender_id,
                target_id,
                ..
            } => Message::DocUnavailable {
                sender_id,
                target_id,
                document_id: blank,
            }
            .encode(),
            other => panic!("expected doc-unavailable, got {other:?}"),
        })
        .collect()
}

#[test]
fn forget_deletes_the_document_in_one_commit_and_leaves_the_others() {
    let store = MemoryStore::default();
    let cell = runner(Role::Client, Limits::default(), store.clone());
    let mut docs = Vec::new();
    for name in ["Test Person One", "Test Person Two"] {
        let (doc, out) = cell
            .borrow_mut()
            .engine_mut()
            .create(|tx| tx.put(ROOT, "name", name).map(|_| ()), 0)
            .unwrap();
        run(&cell, out);
        docs.push(doc);
    }
    let (gone, kept) = (docs[0], docs[1]);
    let kept_before = store.snapshot(&kept);
    assert!(store.snapshot(&gone).is_some());

    let out = cell.borrow_mut().engine_mut().forget(gone, 0);
    assert_eq!(
        out.storage,
        vec![StorageOp::DeleteDocument { document: gone }]
    );
    assert!(out.send.is_empty() && out.close.is_empty() && out.loads.is_empty());
    assert!(
        cell.borrow().engine().document(&gone).is_none(),
        "dropped from memory at once"
    );
    run(&cell, out);
    assert_eq!(store.snapshot(&gone), None, "deleted from storage");
    assert_eq!(store.snapshot(&kept), kept_before, "the other is untouched");
    assert!(cell.borrow().engine().document(&kept).is_some());
    // Editing it now is refused like any document that is not here.
    let edit = cell.borrow_mut().engine_mut().change(
        gone,
        |tx| tx.put(ROOT, "name", "late").map(|_| ()),
        0,
    );
    assert!(matches!(edit, Err(fieldbook_sync::EngineError::NotLoaded(d)) if d == gone));
}

#[test]
fn forget_while_a_load_is_pending_ignores_what_that_load_read() {
    // What storage held before the deletion: the answer to a load already asked for.
    let (_, doc, before_delete) = {
        let mut a = client("alice");
        let (doc, out) = a
            .create(|tx| tx.put(ROOT, "name", "Test Person").map(|_| ()), 0)
            .unwrap();
        let store = MemoryStore::default();
        store.apply_now(out.storage).unwrap();
        (a, doc, store.snapshot(&doc).unwrap())
    };

    let mut e = client("bob");
    let out = e.find(doc, 0);
    assert_eq!(out.loads, vec![doc]);
    assert_eq!(e.loading_count(), 1);
    let out = e.forget(doc, 0);
    assert_eq!(
        out.storage,
        vec![StorageOp::DeleteDocument { document: doc }]
    );
    assert_eq!(e.loading_count(), 0, "the pending find is dropped");

    // The load was read before the deletion committed: its answer must not bring it back.
    let out = e.loaded(doc, Ok(Some(before_delete.clone())), 0);
    assert!(out.is_empty(), "{out:?}");
    assert!(e.document(&doc).is_none());
    assert_eq!(e.loaded_count(), 0);

    // A new find after the forget is a fresh one: its own load is answered normally, even
    // when a stale answer was still outstanding when it was asked for.
    let out = e.find(doc, 0);
    assert_eq!(out.loads, vec![doc]);
    let _ = e.forget(doc, 0);
    let out = e.find(doc, 0);
    assert_eq!(out.loads, vec![doc], "asked for again");
    assert!(e.loaded(doc, Ok(Some(before_delete)), 0).is_empty());
    let out = e.loaded(doc, Ok(None), 0);
    assert!(
        out.events
            .iter()
            .any(|ev| matches!(ev, Event::DocumentLoaded { doc: d, exists: false } if *d == doc)),
        "{out:?}"
    );
    assert_eq!(e.loading_count(), 0);
    assert!(
        e.document(&doc).is_none(),
        "storage has nothing: still absent"
    );
}

#[test]
fn a_peers_frames_waiting_for_the_load_are_released() {
    // One frame may wait behind loads per connection: if forget did not release the
    // waiting frame, the next request would be a protocol violation.
    let limits = Limits {
        pending_frames_per_connection: 1,
        ..Limits::default()
    };
    let cell = runner(Role::Server, limits, MemoryStore::default());
    let alice = ConnId(1);
    join(&cell, alice, "alice");
    let (first, second) = (DocumentId::random(), DocumentId::random());
    let out = cell
        .borrow_mut()
        .engine_mut()
        .receive(alice, &request("alice", first).encode(), 0);
    assert_eq!(out.loads, vec![first], "alice's frame waits for the load");
    let forget = cell.borrow_mut().engine_mut().forget(first, 0);
    let out2 = cell
        .borrow_mut()
        .engine_mut()
        .receive(alice, &request("alice", second).encode(), 0);
    assert!(
        !out2.events.iter().any(|e| matches!(
            e,
            Event::ProtocolViolation {
                reason: Violation::TooManyPending,
                ..
            }
        )),
        "{out2:?}"
    );
    assert_eq!(out2.loads, vec![second]);
    let mut all = out;
    all.merge(forget);
    all.merge(out2);
    let sent = run(&cell, all);
    // The dropped frame gets no answer; the second one is answered as absent.
    assert!(
        matches!(sent.as_slice(), [(c, Message::DocUnavailable { document_id, .. })] if *c == alice && *document_id == second),
        "{sent:?}"
    );
}

#[test]
fn after_forget_a_connected_peers_messages_are_treated_as_for_an_unknown_document() {
    let store = MemoryStore::default();
    let cell = runner(Role::Server, Limits::default(), store.clone());
    let alice = ConnId(1);
    join(&cell, alice, "alice");
    let (mut alices, doc) = client_with_doc("alice");
    let first = client_handshake(&mut alices, "alice");
    converse(&cell, alice, &mut alices, first);
    let stored = store
        .snapshot(&doc)
        .expect("the server stored alice's case");
    assert!(!stored.chunks.is_empty() && stored.sync_states.contains_key("alice"));
    assert_eq!(cell.borrow().engine().sync_state_count(&doc), 1);
    assert!(cell.borrow().engine().is_synced_with(&doc, alice));

    let out = cell.borrow_mut().engine_mut().forget(doc, 0);
    assert!(run(&cell, out).is_empty(), "peers are not told");
    assert_eq!(store.snapshot(&doc), None, "chunks and sync states deleted");
    let engine_forgot = {
        let r = cell.borrow();
        let e = r.engine();
        e.document(&doc).is_none()
            && e.sync_state_count(&doc) == 0
            && !e.is_synced_with(&doc, alice)
            && e.loaded_documents().all(|d| *d != doc)
    };
    assert!(engine_forgot);
    assert_eq!(
        cell.borrow().engine().connection_count(),
        1,
        "still connected"
    );

    // Asking for it is answered exactly as for a document never seen.
    let never_seen = DocumentId::random();
    assert_eq!(
        reply_without_id(&cell, alice, &request("alice", doc)),
        reply_without_id(&cell, alice, &request("alice", never_seen)),
    );

    // Alice's device still has it and offers an edit: the server starts from nothing, as
    // with any document it has never seen (whether it may take it is the access policy's
    // call, here allow-all), and stores it afresh.
    let out = alices
        .change(doc, |tx| tx.put(ROOT, "note", "after").map(|_| ()), 0)
        .unwrap();
    let offer: Vec<Message> = out.send.into_iter().map(|(_, m)| m).collect();
    assert!(!offer.is_empty());
    converse(&cell, alice, &mut alices, offer);
    let heads = alices.document(&doc).unwrap().get_heads();
    assert_eq!(
        cell.borrow().engine().document(&doc).unwrap().get_heads(),
        heads
    );
    assert!(store.snapshot(&doc).is_some());
}

#[test]
fn a_failed_commit_before_a_forget_does_not_drop_the_deletion() {
    let store = MemoryStore::default();
    let cell = runner(Role::Client, Limits::default(), store.clone());
    let (doc, out) = cell
        .borrow_mut()
        .engine_mut()
        .create(|tx| tx.put(ROOT, "name", "Test Person").map(|_| ()), 0)
        .unwrap();
    run(&cell, out);
    assert!(store.snapshot(&doc).is_some());

    // An edit and a load in one commit (a load ends a batch), then the forget in the next.
    // The first commit fails: queued writes to the document are dropped as built on unsaved
    // state, but the deletion depends on no state and must still be carried out.
    let edit = cell
        .borrow_mut()
        .engine_mut()
        .change(doc, |tx| tx.put(ROOT, "name", "edited").map(|_| ()), 0)
        .unwrap();
    let find = cell.borrow_mut().engine_mut().find(DocumentId::random(), 0);
    assert!(!find.loads.is_empty());
    let forget = cell.borrow_mut().engine_mut().forget(doc, 0);
    {
        let mut r = cell.borrow_mut();
        r.push(edit);
        r.push(find);
        r.push(forget);
    }
    store.fail_next_applies(1);
    let mut host = Recorder::default();
    let result = run_ready(drain(&cell, &mut host));
    assert!(result.is_err(), "the first commit failed");
    assert_eq!(
        store.snapshot(&doc),
        None,
        "the deletion was still committed"
    );
    assert!(cell.borrow().engine().document(&doc).is_none());
}
