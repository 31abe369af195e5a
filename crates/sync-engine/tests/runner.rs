//! The one runner: group commit, acknowledgement only after a durable commit, recovery when a
//! commit fails, and loads answered in order. Over the in-memory store, whose futures never
//! wait, so `run_ready` drives it synchronously.

use std::cell::RefCell;
use std::future::Future;

use fieldbook_sync::automerge::{transaction::Transactable, ReadDoc, ROOT};
use fieldbook_sync::runner::run_ready;
use fieldbook_sync::{
    drain, AllowAll, CloseReason, Commit, ConnId, DocumentId, Engine, EngineConfig, Event, Host,
    Identity, MemoryStore, Message, Millis, PeerId, PeerMetadata, Role, Runner, StorageId, Store,
    StoreError,
};

#[derive(Default)]
struct Recorder {
    sent: Vec<(ConnId, Message)>,
    closed: Vec<ConnId>,
    events: Vec<Event>,
    commits: Vec<(usize, bool)>,
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
    fn committed(&mut self, commit: &Commit, result: Result<(), &StoreError>) {
        self.commits.push((commit.outputs, result.is_ok()));
    }
}

type Cell = RefCell<Runner<MemoryStore>>;

fn server(store: MemoryStore) -> Cell {
    let cfg = EngineConfig::new(
        Role::Server,
        PeerId("server".into()),
        Some(store.storage_id().clone()),
    );
    RefCell::new(Runner::new(Engine::new(cfg, AllowAll), store))
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

/// Connect `conn` as peer `name` to the server runner and complete the join.
fn join(cell: &Cell, host: &mut Recorder, conn: ConnId, name: &str) {
    cell.borrow_mut()
        .step(|e| e.connect(conn, Identity(name.into()), 0));
    let join = Message::Join {
        sender_id: PeerId(name.into()),
        metadata: PeerMetadata {
            storage_id: Some(StorageId(name.into())),
            is_ephemeral: false,
        },
        supported_protocol_versions: vec!["1".into()],
    };
    cell.borrow_mut()
        .step(|e| e.receive(conn, &join.encode(), 0));
    run_ready(drain(cell, host)).unwrap();
    let peer = host.sent.pop();
    assert!(matches!(peer, Some((c, Message::Peer { .. })) if c == conn));
}

/// A client engine that has created a document and joined the server on `ConnId(1)`;
/// returns the client, the document, and its first sync message for the server.
fn client_with_doc(name: &str, text: &str) -> (Engine, DocumentId, Message) {
    let mut c = client(name);
    let (doc, _) = c
        .create(
            |tx| {
                tx.put(ROOT, "summary", text)?;
                Ok(())
            },
            0,
        )
        .unwrap();
    let _ = c.connect(ConnId(1), Identity("server".into()), 0);
    let peer = Message::Peer {
        sender_id: PeerId("server".into()),
        target_id: PeerId(name.into()),
        metadata: PeerMetadata::default(),
        selected_protocol_version: "1".into(),
        heartbeat: false,
    };
    let out = c.receive(ConnId(1), &peer.encode(), 0);
    let first = out
        .send
        .into_iter()
        .next()
        .expect("client offers its doc")
        .1;
    (c, doc, first)
}

/// Exchange messages between the client (on its `ConnId(1)`) and the server runner (on
/// `conn`) until both are quiet.
fn converse(c: &mut Engine, cell: &Cell, host: &mut Recorder, conn: ConnId, first: Message) {
    let mut to_server = vec![first];
    while !to_server.is_empty() {
        for m in to_server.drain(..) {
            cell.borrow_mut().step(|e| e.receive(conn, &m.encode(), 0));
        }
        run_ready(drain(cell, host)).unwrap();
        let replies: Vec<Message> = host
            .sent
            .drain(..)
            .filter(|(k, _)| *k == conn)
            .map(|(_, m)| m)
            .collect();
        for m in replies {
            let out = c.receive(ConnId(1), &m.encode(), 0);
            to_server.extend(out.send.into_iter().map(|(_, m)| m));
        }
    }
}

fn summary(e: &Engine, doc: &DocumentId) -> Option<String> {
    let d = e.document(doc)?;
    d.get(ROOT, "summary").ok()??.0.as_str().map(String::from)
}

#[test]
fn a_document_from_a_client_is_stored_before_it_is_acknowledged() {
    let store = MemoryStore::default();
    let cell = server(store.clone());
    let mut host = Recorder::default();
    join(&cell, &mut host, ConnId(1), "phone");
    let (mut c, doc, first) = client_with_doc("phone", "met at the youth centre");
    converse(&mut c, &cell, &mut host, ConnId(1), first);
    assert!(c.is_synced_with(&doc, ConnId(1)), "server acknowledged");
    assert!(store.snapshot(&doc).is_some(), "and it is in the store");
    assert!(host.commits.iter().all(|(_, ok)| *ok));
    // A fresh server over the same store reads it back.
    let again = server(store.clone());
    again.borrow_mut().step(|e| e.open(doc));
    run_ready(drain(&again, &mut host)).unwrap();
    assert_eq!(
        summary(again.borrow().engine(), &doc).as_deref(),
        Some("met at the youth centre")
    );
}

#[test]
fn a_failed_commit_sends_nothing_it_would_have_acknowledged_and_closes_the_peer() {
    let store = MemoryStore::default();
    let cell = server(store.clone());
    let mut host = Recorder::default();
    join(&cell, &mut host, ConnId(1), "phone");
    let (mut c, doc, first) = client_with_doc("phone", "saw him at the station");
    // The server first asks for the changes (no write), then receives them (a write).
    cell.borrow_mut()
        .step(|e| e.receive(ConnId(1), &first.encode(), 0));
    run_ready(drain(&cell, &mut host)).unwrap();
    let ask: Vec<Message> = host.sent.drain(..).map(|(_, m)| m).collect();
    let mut carrying = Vec::new();
    for m in ask {
        carrying.extend(c.receive(ConnId(1), &m.encode(), 0).send);
    }
    assert!(!carrying.is_empty(), "client sends its changes");
    store.fail_next_applies(1);
    for (_, m) in carrying {
        cell.borrow_mut()
            .step(|e| e.receive(ConnId(1), &m.encode(), 0));
    }
    let result = run_ready(drain(&cell, &mut host));
    assert!(result.is_err(), "the storage error is reported");
    assert_eq!(host.commits.last(), Some(&(1, false)));
    assert!(
        host.sent
            .iter()
            .all(|(_, m)| matches!(m, Message::Error { .. })),
        "only the error is sent, no acknowledgement: {:?}",
        host.sent
    );
    assert_eq!(host.closed, vec![ConnId(1)]);
    assert!(store.snapshot(&doc).is_none(), "nothing was stored");
    assert!(
        cell.borrow().engine().document(&doc).is_none(),
        "the unsaved document was forgotten"
    );
    assert!(!c.is_synced_with(&doc, ConnId(1)));
}

#[test]
fn queued_outputs_commit_together_and_a_failure_drops_later_writes_built_on_it() {
    // Control: three local edits queued before one drain are one transaction.
    let store = MemoryStore::default();
    let cell = server(store.clone());
    let mut host = Recorder::default();
    let (doc, out) = cell
        .borrow_mut()
        .engine_mut()
        .create(|tx| tx.put(ROOT, "summary", "v1").map(|_| ()), 0)
        .unwrap();
    cell.borrow_mut().push(out);
    for v in ["v2", "v3"] {
        let out = cell
            .borrow_mut()
            .engine_mut()
            .change(doc, |tx| tx.put(ROOT, "summary", v).map(|_| ()), 0)
            .unwrap();
        cell.borrow_mut().push(out);
    }
    assert_eq!(cell.borrow().unsaved(), 3);
    run_ready(drain(&cell, &mut host)).unwrap();
    assert_eq!(
        host.commits,
        vec![(3, true)],
        "one transaction for three outputs"
    );
    assert_eq!(cell.borrow().unsaved(), 0);

    // A failing commit forgets the unsaved state; the edit queued behind it (built on that
    // state) is dropped rather than stored on top of a hole.
    let out = cell
        .borrow_mut()
        .engine_mut()
        .change(doc, |tx| tx.put(ROOT, "summary", "v4").map(|_| ()), 0)
        .unwrap();
    cell.borrow_mut().push(out);
    // Loads end a batch, so v5 (a chunk that needs v4) lands in the next transaction.
    let other = DocumentId::random();
    cell.borrow_mut().step(|e| e.open(other));
    let out = cell
        .borrow_mut()
        .engine_mut()
        .change(doc, |tx| tx.put(ROOT, "summary", "v5").map(|_| ()), 0)
        .unwrap();
    cell.borrow_mut().push(out);
    store.fail_next_applies(1);
    run_ready(drain(&cell, &mut host)).unwrap_err();
    let stored = store.snapshot(&doc).unwrap();
    let reread = server(store.clone());
    reread.borrow_mut().step(|e| e.open(doc));
    run_ready(drain(&reread, &mut Recorder::default())).unwrap();
    assert_eq!(
        summary(reread.borrow().engine(), &doc).as_deref(),
        Some("v3"),
        "storage holds the last committed value and still loads strictly ({} chunks)",
        stored.chunks.len()
    );
}

#[test]
fn what_a_load_yields_is_carried_out_before_work_queued_after_it() {
    let store = MemoryStore::default();
    let cell = server(store.clone());
    let mut host = Recorder::default();
    let docs: Vec<DocumentId> = (0..3).map(|_| DocumentId::random()).collect();
    for d in &docs {
        cell.borrow_mut().step(|e| e.open(*d));
    }
    run_ready(drain(&cell, &mut host)).unwrap();
    let loaded: Vec<DocumentId> = host
        .events
        .iter()
        .filter_map(|e| match e {
            Event::DocumentLoaded { doc, exists } => {
                assert!(!exists);
                Some(*doc)
            }
            _ => None,
        })
        .collect();
    assert_eq!(loaded, docs, "each load answered, in the order asked");
}

/// Reads of one document panic, as a bug reached by crafted input would.
struct Booby(DocumentId);

impl fieldbook_sync::AccessPolicy for Booby {
    fn may_read(&self, _: &Identity, doc: &DocumentId) -> bool {
        assert!(*doc != self.0, "injected panic");
        true
    }
    fn may_write(&self, _: &Identity, _: &DocumentId) -> bool {
        true
    }
}

#[test]
fn a_panic_in_one_step_closes_only_that_connection() {
    let (mut alice, doc, first) = client_with_doc("alice", "met at the library");
    let (mut bob, trap, bobs_first) = client_with_doc("bob", "met at the bus station");
    let store = MemoryStore::default();
    let cfg = EngineConfig::new(
        Role::Server,
        PeerId("server".into()),
        Some(store.storage_id().clone()),
    );
    let cell = RefCell::new(Runner::new(Engine::new(cfg, Booby(trap)), store.clone()));
    let mut host = Recorder::default();
    for (conn, name) in [(ConnId(1), "alice"), (ConnId(2), "bob")] {
        let join = Message::Join {
            sender_id: PeerId(name.into()),
            metadata: PeerMetadata::default(),
            supported_protocol_versions: vec!["1".into()],
        };
        let mut r = cell.borrow_mut();
        r.step(|e| e.connect(conn, Identity(name.into()), 0));
        assert!(r.step_for(conn, None, 0, |e| e.receive(conn, &join.encode(), 0)));
    }
    run_ready(drain(&cell, &mut host)).unwrap();
    host.sent.clear();
    // Bob's message reaches the trap once the document is loaded, in `drain`: the panic
    // is caught there.
    let stepped = cell.borrow_mut().step_for(ConnId(2), Some(trap), 0, |e| {
        e.receive(ConnId(2), &bobs_first.encode(), 0)
    });
    assert!(stepped, "queued behind the load");
    run_ready(drain(&cell, &mut host)).unwrap();
    assert_eq!(host.closed, vec![ConnId(2)], "only bob is closed");
    assert!(matches!(
        host.sent.as_slice(),
        [(ConnId(2), Message::Error { .. })]
    ));
    host.sent.clear();
    // Alice still syncs, through the same engine.
    let mut to_server = vec![first];
    while !to_server.is_empty() {
        for m in to_server.drain(..) {
            assert!(cell
                .borrow_mut()
                .step_for(ConnId(1), Some(doc), 0, |e| e.receive(
                    ConnId(1),
                    &m.encode(),
                    0
                )));
        }
        run_ready(drain(&cell, &mut host)).unwrap();
        for (_, m) in host.sent.drain(..) {
            to_server.extend(
                alice
                    .receive(ConnId(1), &m.encode(), 0)
                    .send
                    .into_iter()
                    .map(|(_, m)| m),
            );
        }
    }
    assert!(alice.is_synced_with(&doc, ConnId(1)));
    assert!(store.snapshot(&doc).is_some());
    assert_eq!(cell.borrow().engine().connection_count(), 1);
    let _ = bob.disconnect(ConnId(1), 0);

    // The trap again, now that the document is in memory: the step itself panics.
    cell.borrow_mut().step(|e| e.open(trap));
    run_ready(drain(&cell, &mut host)).unwrap();
    cell.borrow_mut()
        .step(|e| e.connect(ConnId(3), Identity("bob".into()), 0));
    let join = Message::Join {
        sender_id: PeerId("bob".into()),
        metadata: PeerMetadata::default(),
        supported_protocol_versions: vec!["1".into()],
    };
    let mut r = cell.borrow_mut();
    assert!(r.step_for(ConnId(3), None, 0, |e| e.receive(
        ConnId(3),
        &join.encode(),
        0
    )));
    let (_, _, again) = client_with_doc("bob", "x");
    let again = match again {
        Message::Request { data, .. } | Message::Sync { data, .. } => Message::Request {
            sender_id: PeerId("bob".into()),
            target_id: PeerId("server".into()),
            document_id: trap,
            data,
        },
        other => panic!("unexpected {other:?}"),
    };
    let caught = !r.step_for(ConnId(3), Some(trap), 0, |e| {
        e.receive(ConnId(3), &again.encode(), 0)
    });
    drop(r);
    assert!(caught, "this time the step itself panicked, and was caught");
    host.closed.clear();
    run_ready(drain(&cell, &mut host)).unwrap();
    assert_eq!(host.closed, vec![ConnId(3)]);
    assert_eq!(
        cell.borrow().engine().connection_count(),
        1,
        "alice is still connected"
    );
}

/// A store whose loads wait at a gate until the test opens it, counting how many wait at once.
#[derive(Clone, Default)]
struct Gated {
    inner: MemoryStore,
    open: std::rc::Rc<std::cell::Cell<bool>>,
    waiting: std::rc::Rc<RefCell<Vec<std::task::Waker>>>,
    in_flight: std::rc::Rc<std::cell::Cell<usize>>,
    most_at_once: std::rc::Rc<std::cell::Cell<usize>>,
}

impl Gated {
    fn release(&self) {
        self.open.set(true);
        for w in self.waiting.borrow_mut().drain(..) {
            w.wake();
        }
    }
}

impl Store for Gated {
    fn storage_id(&self) -> &StorageId {
        self.inner.storage_id()
    }
    async fn load(
        &self,
        doc: DocumentId,
    ) -> Result<Option<fieldbook_sync::StoredDocument>, StoreError> {
        self.in_flight.set(self.in_flight.get() + 1);
        self.most_at_once
            .set(self.most_at_once.get().max(self.in_flight.get()));
        std::future::poll_fn(|cx| {
            if self.open.get() {
                std::task::Poll::Ready(())
            } else {
                self.waiting.borrow_mut().push(cx.waker().clone());
                std::task::Poll::Pending
            }
        })
        .await;
        self.in_flight.set(self.in_flight.get() - 1);
        self.inner.load(doc).await
    }
    async fn apply(&self, ops: Vec<fieldbook_sync::StorageOp>) -> Result<(), StoreError> {
        self.inner.apply(ops).await
    }
    async fn list_documents(&self) -> Result<Vec<DocumentId>, StoreError> {
        self.inner.list_documents().await
    }
    async fn get_setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.inner.get_setting(key).await
    }
    async fn put_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.inner.put_setting(key, value).await
    }
}

/// Loads queued one behind another (a peer asking for many documents the server does not
/// hold in memory, e.g. a flood of made-up ids) go to the store several at a time, not one
/// round trip after another, and are still answered in the order asked.
#[test]
fn loads_queued_together_go_to_the_store_together_and_are_answered_in_order() {
    let store = Gated::default();
    let cfg = EngineConfig::new(
        Role::Server,
        PeerId("server".into()),
        Some(store.storage_id().clone()),
    );
    let cell = RefCell::new(Runner::new(Engine::new(cfg, AllowAll), store.clone()));
    let mut host = Recorder::default();
    let docs: Vec<DocumentId> = (0..20).map(|_| DocumentId::random()).collect();
    for d in &docs {
        cell.borrow_mut().step(|e| e.open(*d));
    }
    {
        let mut drained = std::pin::pin!(drain(&cell, &mut host));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(drained.as_mut().poll(&mut cx).is_pending());
        assert_eq!(
            store.most_at_once.get(),
            8,
            "the first loads wait at the store together, up to the limit"
        );
        store.release();
        assert!(matches!(
            drained.as_mut().poll(&mut cx),
            std::task::Poll::Ready(Ok(()))
        ));
    }
    let loaded: Vec<DocumentId> = host
        .events
        .iter()
        .filter_map(|e| match e {
            Event::DocumentLoaded { doc, exists: false } => Some(*doc),
            _ => None,
        })
        .collect();
    assert_eq!(loaded, docs, "every load answered, in the order asked");
}
