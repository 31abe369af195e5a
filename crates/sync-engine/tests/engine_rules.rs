//! Engine rules a server relies on: access policy (denied == absent), read-only peers,
//! ephemeral relay, and storage failures surfacing as closed connections.

use std::cell::RefCell;
use std::collections::BTreeSet;

mod common;
use common::request;

use fieldbook_sync::automerge::{transaction::Transactable, ReadDoc, ROOT};
use fieldbook_sync::runner::run_ready;
use fieldbook_sync::{
    drain, AccessPolicy, CloseReason, ConnId, DocumentId, Engine, EngineConfig, Event, Host,
    Identity, Limits, MemoryStore, Message, Output, PeerId, PeerMetadata, Role, Runner, StorageId,
    StorageOp, Violation,
};

/// Alice may read and write everything; Bob may read only `readable`; Eve nothing.
struct Caseload {
    readable: BTreeSet<DocumentId>,
}

impl AccessPolicy for Caseload {
    fn may_read(&self, who: &Identity, doc: &DocumentId) -> bool {
        who.0 == "alice" || (who.0 == "bob" && self.readable.contains(doc))
    }
    fn may_write(&self, who: &Identity, _: &DocumentId) -> bool {
        who.0 == "alice"
    }
}

struct Harness {
    runner: Runner<MemoryStore, Caseload>,
    /// Shares the runner's map.
    store: MemoryStore,
}

/// Collects what the runner hands over.
#[derive(Default)]
struct Recorder {
    sent: Vec<(ConnId, Message)>,
    events: Vec<Event>,
    closed: Vec<ConnId>,
}

impl Host for Recorder {
    fn now(&self) -> u64 {
        0
    }
    fn send(&mut self, conn: ConnId, msg: Message) {
        self.sent.push((conn, msg));
    }
    fn close(&mut self, conn: ConnId, _: CloseReason) {
        self.closed.push(conn);
    }
    fn event(&mut self, event: &Event) {
        self.events.push(event.clone());
    }
}

impl Harness {
    fn new(readable: BTreeSet<DocumentId>) -> Self {
        harness_with(Limits::default(), readable)
    }

    fn server(&mut self) -> &mut Engine<Caseload> {
        self.runner.engine_mut()
    }

    /// Carry out an output with the runner: store, answer loads, collect messages.
    fn run(&mut self, out: Output) -> Vec<(ConnId, Message)> {
        self.run_full(out).0
    }

    /// [`Harness::run`], also returning every event and closed connection along the way.
    fn run_full(&mut self, out: Output) -> (Vec<(ConnId, Message)>, Vec<Event>, Vec<ConnId>) {
        self.runner.push(out);
        let mut rec = Recorder::default();
        run_ready(drain(&RefCell::new(&mut self.runner), &mut rec)).expect("memory store");
        (rec.sent, rec.events, rec.closed)
    }

    fn join(&mut self, conn: u64, who: &str) -> ConnId {
        let c = ConnId(conn);
        let out = self.server().connect(c, Identity(who.into()), 0);
        self.run(out);
        let join = Message::Join {
            sender_id: PeerId(who.into()),
            metadata: PeerMetadata::default(),
            supported_protocol_versions: vec!["1".into()],
        };
        let out = self.server().receive(c, &join.encode(), 0);
        assert!(matches!(
            self.run(out).as_slice(),
            [(_, Message::Peer { .. })]
        ));
        c
    }

    fn send(
        &mut self,
        conn: ConnId,
        msg: Message,
    ) -> (Vec<(ConnId, Message)>, Vec<Event>, Vec<ConnId>) {
        let out = self.server().receive(conn, &msg.encode(), 0);
        self.run_full(out)
    }
}

/// A client engine holding one document with a note, and its first sync message.
fn client_with_doc(name: &str) -> (Engine, DocumentId, Vec<u8>) {
    client_with(name, "from a client")
}

fn client_engine(name: &str) -> Engine {
    Engine::new(
        EngineConfig::new(Role::Client, PeerId(name.into()), None),
        fieldbook_sync::AllowAll,
    )
}

/// A client engine that has completed the handshake on its `ConnId(1)`.
fn handshaken_client(name: &str) -> Engine {
    let mut c = client_engine(name);
    let _ = handshake(&mut c, name);
    c
}

/// Join on `ConnId(1)` and receive the server's `peer`; returns what the client sends next.
fn handshake(c: &mut Engine, name: &str) -> Output {
    let out = c.connect(ConnId(1), Identity("server".into()), 0);
    assert!(matches!(out.send.as_slice(), [(_, Message::Join { .. })]));
    let peer = Message::Peer {
        sender_id: PeerId("server".into()),
        target_id: PeerId(name.into()),
        metadata: PeerMetadata::default(),
        selected_protocol_version: "1".into(),
        heartbeat: false,
    };
    c.receive(ConnId(1), &peer.encode(), 0)
}

fn client_with(name: &str, note: &str) -> (Engine, DocumentId, Vec<u8>) {
    let mut c = client_engine(name);
    let (doc, _) = c
        .create(
            |tx| {
                tx.put(ROOT, "note", note)?;
                Ok(())
            },
            0,
        )
        .unwrap();
    let out = handshake(&mut c, name);
    let data = out
        .send
        .iter()
        .find_map(|(_, m)| match m {
            Message::Sync { data, .. } => Some(data.clone()),
            _ => None,
        })
        .expect("client offers its document");
    (c, doc, data)
}

/// Run the sync exchange between `client` (its side of the connection is `ConnId(1)`) and
/// the server connection `conn` until neither has anything more to say.
fn converse(h: &mut Harness, conn: ConnId, client: &mut Engine, first: Message) {
    let mut to_server = vec![first];
    for _ in 0..50 {
        let mut to_client = Vec::new();
        for m in to_server.drain(..) {
            let (sent, _, _) = h.send(conn, m);
            to_client.extend(sent.into_iter().filter(|(c, _)| *c == conn).map(|(_, m)| m));
        }
        if to_client.is_empty() {
            return;
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

/// Deliver messages between the server and several clients (each on `ConnId(1)` of its
/// own engine, `conn` on the server) until nobody has anything to say.
fn relay(
    h: &mut Harness,
    clients: &mut [(ConnId, &mut Engine)],
    mut to_server: Vec<(ConnId, Message)>,
) {
    for _ in 0..50 {
        let mut to_clients = Vec::new();
        for (conn, m) in to_server.drain(..) {
            let (sent, _, _) = h.send(conn, m);
            to_clients.extend(sent);
        }
        for (conn, m) in to_clients {
            if let Some((_, client)) = clients.iter_mut().find(|(c, _)| *c == conn) {
                let out = client.receive(ConnId(1), &m.encode(), 0);
                to_server.extend(out.send.into_iter().map(|(_, m)| (conn, m)));
            }
        }
        if to_server.is_empty() {
            return;
        }
    }
    panic!("sync did not finish");
}

fn sync(from: &str, doc: DocumentId, data: Vec<u8>) -> Message {
    Message::Sync {
        sender_id: PeerId(from.into()),
        target_id: PeerId("server".into()),
        document_id: doc,
        data,
    }
}

#[test]
fn a_denied_document_is_answered_exactly_like_an_absent_one() {
    let (mut client, doc, data) = client_with_doc("alice");
    let mut h = Harness::new(BTreeSet::new());
    let alice = h.join(1, "alice");
    converse(&mut h, alice, &mut client, sync("alice", doc, data));
    assert!(
        h.server().document(&doc).is_some(),
        "alice's document reached the server"
    );

    let eve = h.join(2, "eve");
    let (denied, _, closed) = h.send(eve, request("eve", doc));
    let absent_doc = DocumentId::random();
    let (absent, _, _) = h.send(eve, request("eve", absent_doc));
    assert!(closed.is_empty());
    // Same message type, same fields, only the id differs.
    let strip = |v: &[(ConnId, Message)], id: DocumentId| -> Vec<Vec<u8>> {
        v.iter()
            .map(|(_, m)| match m {
                Message::DocUnavailable {
                    sender_id,
                    target_id,
                    ..
                } => Message::DocUnavailable {
                    sender_id: sender_id.clone(),
                    target_id: target_id.clone(),
                    document_id: id,
                }
                .encode(),
                other => panic!("expected doc-unavailable, got {other:?}"),
            })
            .collect()
    };
    assert_eq!(strip(&denied, absent_doc), strip(&absent, absent_doc));
    assert_eq!(denied.len(), 1);

    // A denied peer also cannot push changes into the document.
    let (_, _, data2) = client_with("eve", "vandalism");
    let (sent, _, _) = h.send(eve, sync("eve", doc, data2));
    assert!(matches!(
        sent.as_slice(),
        [(_, Message::DocUnavailable { .. })]
    ));
    let d = h.server().document(&doc).unwrap();
    assert_eq!(d.get_changes(&[]).len(), 1, "eve's change was not applied");
}

#[test]
fn a_read_only_peer_gets_the_document_but_its_changes_are_not_applied() {
    let (mut client, doc, data) = client_with_doc("alice");
    let mut h = Harness::new([doc].into());
    let alice = h.join(1, "alice");
    converse(&mut h, alice, &mut client, sync("alice", doc, data));

    let bob = h.join(2, "bob");
    let (sent, _, _) = h.send(bob, request("bob", doc));
    assert!(
        matches!(sent.as_slice(), [(_, Message::Sync { .. })]),
        "bob can read"
    );

    // Bob's device fetches the case, edits its copy and syncs the edit.
    let mut bobs = handshaken_client("bob");
    let out = bobs.find(doc, 0);
    assert_eq!(out.loads, vec![doc]);
    let out = bobs.loaded(doc, Ok(None), 0);
    let req = out
        .send
        .into_iter()
        .next()
        .expect("bob requests the document")
        .1;
    converse(&mut h, bob, &mut bobs, req);
    assert!(bobs.document(&doc).is_some(), "bob received the case");
    let out = bobs
        .change(doc, |tx| tx.put(ROOT, "note", "edited by bob"), 0)
        .unwrap();
    let first = out
        .send
        .into_iter()
        .next()
        .expect("bob's device offers the edit")
        .1;
    let before = h.server().document(&doc).unwrap().get_heads();
    converse(&mut h, bob, &mut bobs, first);
    // The server's sync state for bob is read-only: the change is neither requested nor
    // applied, and bob's device keeps it (nothing lost, just not accepted here).
    assert_eq!(h.server().document(&doc).unwrap().get_heads(), before);
    assert_ne!(bobs.document(&doc).unwrap().get_heads(), before);
}

#[test]
fn ephemeral_messages_are_relayed_to_other_readers_only() {
    let (mut client, doc, data) = client_with_doc("alice");
    let mut h = Harness::new([doc].into());
    let alice = h.join(1, "alice");
    converse(&mut h, alice, &mut client, sync("alice", doc, data));
    let bob = h.join(2, "bob");
    h.send(bob, request("bob", doc));
    let eve = h.join(3, "eve");
    h.send(eve, request("eve", doc));

    let presence = Message::Ephemeral {
        sender_id: PeerId("alice".into()),
        target_id: PeerId("server".into()),
        document_id: doc,
        session_id: "s1".into(),
        count: 1,
        data: vec![0xa0],
    };
    let (sent, _, _) = h.send(alice, presence);
    let to: Vec<ConnId> = sent.iter().map(|(c, _)| *c).collect();
    assert_eq!(
        to,
        vec![bob],
        "relayed to bob, not back to alice, not to eve"
    );
    match &sent[0].1 {
        Message::Ephemeral {
            sender_id,
            target_id,
            data,
            ..
        } => {
            assert_eq!(sender_id.0, "alice");
            assert_eq!(target_id.0, "bob");
            assert_eq!(data, &vec![0xa0]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_storage_failure_on_load_closes_the_waiting_peer_with_an_error() {
    let mut h = Harness::new(BTreeSet::new());
    let alice = h.join(1, "alice");
    let doc = DocumentId::random();
    let out = h
        .server()
        .receive(alice, &request("alice", doc).encode(), 0);
    assert_eq!(out.loads, vec![doc]);
    let out = h.server().loaded(
        doc,
        Err(fieldbook_sync::StoreError::Backend("disk I/O error".into())),
        0,
    );
    assert!(out
        .events
        .iter()
        .any(|e| matches!(e, Event::LoadFailed { .. })));
    assert!(matches!(out.send.as_slice(), [(c, Message::Error { .. })] if *c == alice));
    assert_eq!(out.close.len(), 1);
    assert!(
        h.server().document(&doc).is_none(),
        "a failed load is not mistaken for an empty document"
    );
}

#[test]
fn a_failed_commit_forgets_unsaved_changes_and_closes_their_peers() {
    let (mut client, doc, data) = client_with_doc("alice");
    let mut h = Harness::new(BTreeSet::new());
    let alice = h.join(1, "alice");
    // First round: the server answers with what it needs; the client's reply carries the change.
    let (reply, _, _) = h.send(alice, sync("alice", doc, data));
    let out = client.receive(ConnId(1), &reply[0].1.encode(), 0);
    let carrying = out
        .send
        .into_iter()
        .next()
        .expect("client sends its changes")
        .1;
    let out = h.server().receive(alice, &carrying.encode(), 0);
    assert!(out
        .storage
        .iter()
        .any(|op| matches!(op, fieldbook_sync::StorageOp::PutChunk { .. })));
    // The driver's commit fails: it must not send `out.send`, and tells the engine instead.
    let recovery = h.server().storage_failed(out.documents_written(), 0);
    assert!(matches!(recovery.send.as_slice(), [(c, Message::Error { .. })] if *c == alice));
    assert!(recovery.close.iter().any(|(c, _)| *c == alice));
    assert!(
        h.server().document(&doc).is_none(),
        "unsaved document dropped from memory"
    );
}

#[test]
fn a_server_advertises_heartbeats_and_the_engine_never_treats_one_as_a_violation() {
    let mut cfg = EngineConfig::new(
        Role::Server,
        PeerId("server".into()),
        Some(StorageId("srv".into())),
    );
    cfg.heartbeat = true;
    let mut server: Engine = Engine::new(cfg, fieldbook_sync::AllowAll);
    let conn = ConnId(7);
    let _ = server.connect(conn, Identity("alice".into()), 0);
    // Before the handshake, and after it: ignored, no reply, no close.
    let out = server.receive(conn, &Message::Heartbeat.encode(), 0);
    assert!(out.is_empty(), "{out:?}");
    let join = Message::Join {
        sender_id: PeerId("alice".into()),
        metadata: PeerMetadata::default(),
        supported_protocol_versions: vec!["1".into()],
    };
    let out = server.receive(conn, &join.encode(), 0);
    let peer = match out.send.as_slice() {
        [(
            _,
            m @ Message::Peer {
                heartbeat: true, ..
            },
        )] => m.clone(),
        other => panic!("expected a peer advertising heartbeats, got {other:?}"),
    };
    let out = server.receive(conn, &Message::Heartbeat.encode(), 0);
    assert!(out.is_empty(), "{out:?}");

    // The client learns it from the `peer` message.
    let mut client = client_engine("alice");
    let _ = client.connect(ConnId(1), Identity("server".into()), 0);
    let out = client.receive(ConnId(1), &peer.encode(), 0);
    assert!(out.events.iter().any(|e| matches!(
        e,
        Event::PeerJoined {
            heartbeat: true,
            ..
        }
    )));
    let out = client.receive(ConnId(1), &Message::Heartbeat.encode(), 0);
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn confirmed_heads_follow_the_servers_acknowledgements_and_survive_a_disconnect() {
    let mut client = Engine::new(
        EngineConfig::new(
            Role::Client,
            PeerId("alice".into()),
            Some(StorageId("device".into())),
        ),
        fieldbook_sync::AllowAll,
    );
    let srv = StorageId("srv".into());
    let (doc, _) = client
        .create(
            |tx| {
                tx.put(ROOT, "note", "first")?;
                Ok(())
            },
            0,
        )
        .unwrap();
    assert_eq!(client.confirmed_heads(&doc, &srv), Some(vec![]));
    assert_eq!(client.unconfirmed_changes(&doc, &srv), 1);

    let mut h = Harness::new(BTreeSet::new());
    let alice = h.join(1, "alice");
    let _ = client.connect(ConnId(1), Identity("server".into()), 0);
    let peer = Message::Peer {
        sender_id: PeerId("server".into()),
        target_id: PeerId("alice".into()),
        metadata: PeerMetadata {
            storage_id: Some(srv.clone()),
            is_ephemeral: false,
        },
        selected_protocol_version: "1".into(),
        heartbeat: false,
    };
    let out = client.receive(ConnId(1), &peer.encode(), 0);
    let first = out
        .send
        .into_iter()
        .next()
        .expect("client offers its document")
        .1;
    converse(&mut h, alice, &mut client, first);
    let heads = client.document(&doc).unwrap().get_heads();
    assert_eq!(client.confirmed_heads(&doc, &srv), Some(heads.clone()));
    assert_eq!(client.unconfirmed_changes(&doc, &srv), 0);

    // A local edit is not confirmed until the server answers; offline, the persisted
    // state still knows what the server had.
    let _ = client
        .change(doc, |tx| tx.put(ROOT, "note", "second"), 1)
        .unwrap();
    let _ = client.disconnect(ConnId(1), 2);
    assert_eq!(client.confirmed_heads(&doc, &srv), Some(heads));
    assert_eq!(client.unconfirmed_changes(&doc, &srv), 1);
    assert_eq!(client.confirmed_heads(&DocumentId::random(), &srv), None);
}

// ----- limits on what a peer can make the engine hold -----------------------------------

fn harness_with(limits: Limits, readable: BTreeSet<DocumentId>) -> Harness {
    harness_configured(readable, |cfg| cfg.limits = limits)
}

fn harness_configured(
    readable: BTreeSet<DocumentId>,
    configure: impl FnOnce(&mut EngineConfig),
) -> Harness {
    let mut cfg = EngineConfig::new(
        Role::Server,
        PeerId("server".into()),
        Some(StorageId("srv".into())),
    );
    configure(&mut cfg);
    let store = MemoryStore::default();
    Harness {
        runner: Runner::new(Engine::new(cfg, Caseload { readable }), store.clone()),
        store,
    }
}

fn made_up(i: u32) -> DocumentId {
    let mut b = [0xee; 16];
    b[..4].copy_from_slice(&i.to_be_bytes());
    DocumentId::from_bytes(b)
}

/// Sends `n` requests for made-up ids on `conn`, answering every load; returns the close
/// reason if the connection was closed, and the most ids held while it ran.
fn request_made_up(h: &mut Harness, conn: ConnId, n: u32) -> (Option<CloseReason>, usize) {
    let req = request("alice", made_up(0));
    let mut closed = None;
    let mut most_absent = 0;
    for i in 0..n {
        let msg = match &req {
            Message::Request { data, .. } => Message::Request {
                sender_id: PeerId("alice".into()),
                target_id: PeerId("server".into()),
                document_id: made_up(i),
                data: data.clone(),
            },
            _ => unreachable!(),
        };
        let mut out = h.server().receive_message(conn, msg, 0);
        if let Some((_, reason)) = out.close.pop() {
            closed.get_or_insert(reason);
        }
        h.run(out);
        most_absent = most_absent.max(h.server().absent_count());
        assert_eq!(h.server().loaded_count(), 0, "no empty document is kept");
    }
    (closed, most_absent)
}

#[test]
fn requests_for_made_up_ids_keep_memory_bounded() {
    // Limit raised above the flood: each absent document costs an id, not an Automerge doc.
    let limits = Limits {
        documents_per_connection: 200_000,
        ..Limits::default()
    };
    let mut h = harness_with(limits, BTreeSet::new());
    let alice = h.join(1, "alice");
    let (closed, most) = request_made_up(&mut h, alice, 100_000);
    assert!(closed.is_none());
    assert_eq!(most, 100_000);
    assert_eq!(h.server().loaded_count(), 0);
    assert_eq!(h.server().loading_count(), 0);
    let _ = h.server().disconnect(alice, 0);
    assert_eq!(
        h.server().absent_count(),
        0,
        "forgotten with the connection"
    );

    // Default limit: the connection is closed at 5,000 documents and everything goes.
    let mut h = harness_with(Limits::default(), BTreeSet::new());
    let alice = h.join(1, "alice");
    let (closed, most) = request_made_up(&mut h, alice, 100_000);
    match closed {
        Some(CloseReason::Violation(Violation::TooManyDocuments { limit: 5_000 })) => {}
        other => panic!("expected too many documents, got {other:?}"),
    }
    assert_eq!(most, 5_000);
    assert_eq!(h.server().absent_count(), 0);
    assert_eq!(h.server().connection_count(), 0);
}

#[test]
fn a_connection_may_not_queue_unbounded_work_behind_loads() {
    let limits = Limits {
        pending_frames_per_connection: 3,
        ..Limits::default()
    };
    let mut h = harness_with(limits, BTreeSet::new());
    let alice = h.join(1, "alice");
    // Loads are never answered: frames wait.
    for i in 0..3 {
        let out = h
            .server()
            .receive(alice, &request("alice", made_up(i)).encode(), 0);
        assert!(out.close.is_empty());
        assert_eq!(out.loads.len(), 1);
    }
    let out = h
        .server()
        .receive(alice, &request("alice", made_up(3)).encode(), 0);
    assert!(matches!(
        out.close.as_slice(),
        [(c, CloseReason::Violation(Violation::TooManyPending))] if *c == alice
    ));
    let message = out.send.iter().find_map(|(_, m)| match m {
        Message::Error { message, .. } => Some(message.clone()),
        _ => None,
    });
    assert_eq!(
        message.as_deref(),
        Some("too many messages waiting for documents to load on one connection")
    );
    // Answering the loads later finds nobody waiting.
    for i in 0..3 {
        let out = h.server().loaded(made_up(i), Ok(None), 0);
        assert!(out.send.is_empty());
    }
    assert_eq!(h.server().absent_count(), 0);

    // Answered loads release the count: the same connection can go on.
    let limits = Limits {
        pending_frames_per_connection: 3,
        ..Limits::default()
    };
    let mut h = harness_with(limits, BTreeSet::new());
    let alice = h.join(1, "alice");
    for i in 0..10 {
        let (_, _, closed) = h.send(alice, request("alice", made_up(i)));
        assert!(closed.is_empty());
    }
}

/// Store `n` documents (written by a client engine) into the harness's store.
fn stored_docs(h: &Harness, n: usize) -> Vec<DocumentId> {
    let mut c = client_engine("writer");
    (0..n)
        .map(|i| {
            let (doc, out) = c
                .create(
                    |tx| tx.put(ROOT, "note", format!("case {i}")).map(|_| ()),
                    0,
                )
                .unwrap();
            h.store.apply_now(out.storage).unwrap();
            doc
        })
        .collect()
}

fn loaded(h: &Harness) -> BTreeSet<DocumentId> {
    h.runner.engine().loaded_documents().copied().collect()
}

#[test]
fn loaded_documents_are_capped_least_recently_used_first() {
    let limits = Limits {
        loaded_documents: 3,
        ..Limits::default()
    };
    let mut h = harness_with(limits, BTreeSet::new());
    let d = stored_docs(&h, 4);
    let a = h.join(1, "alice");
    for doc in &d[..3] {
        let (sent, _, _) = h.send(a, request("alice", *doc));
        assert!(matches!(sent.as_slice(), [(_, Message::Sync { .. })]));
    }
    let _ = h.server().disconnect(a, 0);
    assert_eq!(loaded(&h), d[..3].iter().copied().collect());

    // d0 is used again, so d1 is now the least recently used.
    let b = h.join(2, "alice");
    h.send(b, request("alice", d[0]));
    let (sent, events, closed) = h.send(b, request("alice", d[3]));
    assert!(closed.is_empty());
    assert!(matches!(sent.as_slice(), [(_, Message::Sync { .. })]));
    let evicted: Vec<DocumentId> = events
        .iter()
        .filter_map(|e| match e {
            Event::DocumentEvicted { doc } => Some(*doc),
            _ => None,
        })
        .collect();
    assert_eq!(evicted, vec![d[1]]);
    assert_eq!(loaded(&h), [d[0], d[2], d[3]].into());

    // Asking for d1 again evicts d2, the only document nobody is syncing.
    let (_, events, _) = h.send(b, request("alice", d[1]));
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::DocumentEvicted { doc } if *doc == d[2])));
    assert_eq!(loaded(&h), [d[0], d[1], d[3]].into());

    // Every loaded document is in use: a new one is refused, the asker closed, others kept.
    let c = h.join(3, "alice");
    let (sent, _, closed) = h.send(c, request("alice", d[2]));
    assert_eq!(closed, vec![c]);
    match sent.as_slice() {
        [(to, Message::Error { message, .. })] if *to == c => {
            assert!(message.starts_with("server busy"), "{message}")
        }
        other => panic!("expected a busy error, got {other:?}"),
    }
    assert_eq!(loaded(&h), [d[0], d[1], d[3]].into());
    assert_eq!(h.server().connection_count(), 1, "b stays connected");
}

/// Join as `who` with durable storage `sid` and fetch `doc` to the end; returns the client.
fn fetch_with_storage(h: &mut Harness, conn: u64, who: &str, sid: &str, doc: DocumentId) {
    let c = ConnId(conn);
    let _ = h.server().connect(c, Identity(who.into()), 0);
    let join = Message::Join {
        sender_id: PeerId(who.into()),
        metadata: PeerMetadata {
            storage_id: Some(StorageId(sid.into())),
            is_ephemeral: false,
        },
        supported_protocol_versions: vec!["1".into()],
    };
    h.send(c, join);
    let mut client = handshaken_client(who);
    let out = client.find(doc, 0);
    assert_eq!(out.loads, vec![doc]);
    let out = client.loaded(doc, Ok(None), 0);
    let req = out.send.into_iter().next().expect("client requests").1;
    converse(h, c, &mut client, req);
    assert!(client.document(&doc).is_some());
    let _ = h.server().disconnect(c, 0);
}

fn forgotten(ops: &[StorageOp]) -> Vec<String> {
    ops.iter()
        .filter_map(|op| match op {
            StorageOp::ForgetSyncState {
                peer_storage_id, ..
            } => Some(peer_storage_id.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn persisted_sync_states_per_document_are_capped_most_recently_used_kept() {
    let limits = Limits {
        sync_states_per_document: 2,
        ..Limits::default()
    };
    let mut h = harness_with(limits, BTreeSet::new());
    let doc = stored_docs(&h, 1)[0];
    let stored_states = |h: &Harness| -> Vec<String> {
        h.store
            .snapshot(&doc)
            .unwrap()
            .sync_states
            .into_keys()
            .collect()
    };
    fetch_with_storage(&mut h, 1, "alice", "s1", doc);
    fetch_with_storage(&mut h, 2, "alice", "s2", doc);
    assert_eq!(stored_states(&h), ["s1", "s2"]);
    assert_eq!(h.server().sync_state_count(&doc), 2);
    // s1 comes back (its state is resumed, so it is the most recently used) ...
    fetch_with_storage(&mut h, 3, "alice", "s1", doc);
    // ... so a third storage id pushes out s2. Watch the operations of that exchange.
    let c = ConnId(4);
    let _ = h.server().connect(c, Identity("alice".into()), 0);
    let join = Message::Join {
        sender_id: PeerId("alice".into()),
        metadata: PeerMetadata {
            storage_id: Some(StorageId("s3".into())),
            is_ephemeral: false,
        },
        supported_protocol_versions: vec!["1".into()],
    };
    h.send(c, join);
    let mut client = handshaken_client("alice");
    let _ = client.find(doc, 0);
    let out = client.loaded(doc, Ok(None), 0);
    let mut to_server = vec![out.send.into_iter().next().unwrap().1];
    let mut ops = Vec::new();
    while let Some(m) = to_server.pop() {
        let out = h.server().receive(c, &m.encode(), 0);
        ops.extend(out.storage.iter().cloned());
        for (_, m) in h.run(out) {
            to_server.extend(
                client
                    .receive(ConnId(1), &m.encode(), 0)
                    .send
                    .into_iter()
                    .map(|(_, m)| m),
            );
        }
    }
    assert_eq!(forgotten(&ops), ["s2"]);
    assert_eq!(stored_states(&h), ["s1", "s3"]);
    assert_eq!(h.server().sync_state_count(&doc), 2);
}

#[test]
fn quarantine_closes_one_connection_and_the_others_resync_from_storage() {
    let (mut alices, doc, data) = client_with_doc("alice");
    let mut h = Harness::new([doc].into());
    let alice = h.join(1, "alice");
    converse(&mut h, alice, &mut alices, sync("alice", doc, data));
    // Bob reads the document too (read-only, so he only receives).
    let bob = h.join(2, "bob");
    let mut bobs = handshaken_client("bob");
    let _ = bobs.find(doc, 0);
    let out = bobs.loaded(doc, Ok(None), 0);
    converse(
        &mut h,
        bob,
        &mut bobs,
        out.send.into_iter().next().unwrap().1,
    );
    let synced = h.server().document(&doc).unwrap().get_heads();
    assert_eq!(bobs.document(&doc).unwrap().get_heads(), synced);

    // Alice edits; the server's step for her frame "panics": its output is never carried
    // out, so the change is in server memory but not in storage.
    let out = alices
        .change(doc, |tx| tx.put(ROOT, "note", "lost in a panic"), 0)
        .unwrap();
    let mut to_server = out.send.into_iter().map(|(_, m)| m).collect::<Vec<_>>();
    let mut applied = false;
    while let Some(m) = to_server.pop() {
        let out = h.server().receive(alice, &m.encode(), 0);
        if out
            .storage
            .iter()
            .any(|op| matches!(op, StorageOp::PutChunk { .. }))
        {
            applied = true;
            break; // the step that panicked: output dropped
        }
        for (_, m) in h.run(out) {
            to_server.extend(
                alices
                    .receive(ConnId(1), &m.encode(), 0)
                    .send
                    .into_iter()
                    .map(|(_, m)| m),
            );
        }
    }
    assert!(applied);
    assert_ne!(h.server().document(&doc).unwrap().get_heads(), synced);

    let mut out = h.server().quarantine(alice, Some(doc), 0);
    assert!(matches!(out.close.as_slice(), [(c, CloseReason::Internal)] if *c == alice));
    assert!(matches!(
        out.send.as_slice(),
        [(c, Message::Error { message, .. })] if *c == alice && message == "internal error"
    ));
    assert!(h.server().document(&doc).is_none(), "dropped from memory");
    assert_eq!(out.loads, vec![doc], "reloaded for bob");
    out.close.clear();
    let sent = h.run(out);
    assert_eq!(h.server().connection_count(), 1, "bob stays connected");
    assert_eq!(
        h.server().document(&doc).unwrap().get_heads(),
        synced,
        "reloaded from storage, without the unsaved change"
    );
    // Bob is offered the document afresh and the two converge again.
    let first = sent
        .into_iter()
        .find(|(c, _)| *c == bob)
        .expect("the server restarts syncing with bob")
        .1;
    let out = bobs.receive(ConnId(1), &first.encode(), 0);
    let mut net = vec![(bob, &mut bobs)];
    relay(
        &mut h,
        &mut net,
        out.send.into_iter().map(|(_, m)| (bob, m)).collect(),
    );
    assert_eq!(bobs.document(&doc).unwrap().get_heads(), synced);

    // Alice reconnects: her change reaches the server and, through its fresh sync state
    // for bob, bob.
    let alice2 = h.join(3, "alice");
    let _ = alices.disconnect(ConnId(1), 0);
    let out = handshake(&mut alices, "alice");
    let first: Vec<_> = out.send.into_iter().map(|(_, m)| (alice2, m)).collect();
    let mut net = vec![(bob, &mut bobs), (alice2, &mut alices)];
    relay(&mut h, &mut net, first);
    let heads = alices.document(&doc).unwrap().get_heads();
    assert_ne!(heads, synced);
    assert_eq!(h.server().document(&doc).unwrap().get_heads(), heads);
    assert_eq!(
        bobs.document(&doc).unwrap().get_heads(),
        heads,
        "bob converged"
    );
    assert!(
        h.store.snapshot(&doc).unwrap().chunks.len() >= 2,
        "now stored"
    );
}

#[test]
fn new_document_ids_come_from_the_seed_or_the_caller() {
    let seeded = |seed| {
        let mut cfg = EngineConfig::new(Role::Client, PeerId("c".into()), None);
        cfg.rng_seed = Some(seed);
        let mut e: Engine = Engine::new(cfg, fieldbook_sync::AllowAll);
        let (doc, _) = e.create(|tx| tx.put(ROOT, "n", 1).map(|_| ()), 0).unwrap();
        let actor = e.document(&doc).unwrap().get_actor().clone();
        (doc, actor, e)
    };
    let (a, actor_a, mut e) = seeded(7);
    let (b, actor_b, _) = seeded(7);
    let (c, actor_c, _) = seeded(8);
    assert_eq!((a, &actor_a), (b, &actor_b), "same seed, same ids");
    assert_ne!(a, c);
    assert_ne!(actor_a, actor_c);

    let chosen = made_up(42);
    let _ = e
        .create_with_id(chosen, |tx| tx.put(ROOT, "n", 2).map(|_| ()), 0)
        .unwrap();
    assert!(e.document(&chosen).is_some());
    assert!(matches!(
        e.create_with_id(chosen, |_| Ok(()), 0),
        Err(fieldbook_sync::EngineError::AlreadyExists(d)) if d == chosen
    ));
    // A failed initial change leaves nothing behind.
    let failed = made_up(43);
    let err = e.create_with_id(
        failed,
        |tx| tx.put(ROOT, "n", 1).and_then(|_| tx.delete(ROOT, 99usize)),
        0,
    );
    assert!(matches!(
        err,
        Err(fieldbook_sync::EngineError::Automerge(_))
    ));
    assert_eq!(e.loaded_count(), 2);
}

/// Alice (on the server's `alice` connection) and Bob both sync `doc`; then Alice makes two
/// edits whose messages the server takes in one batch (stepped, then one drain). Returns the
/// sync messages Bob is sent for them, and Bob's engine after receiving them.
fn two_edits_in_one_batch(coalesce: bool) -> (usize, Engine, DocumentId) {
    let (mut alice_engine, doc, data) = client_with_doc("alice");
    let mut h = harness_configured([doc].into(), |cfg| cfg.coalesce_fanout = coalesce);
    let alice = h.join(1, "alice");
    converse(&mut h, alice, &mut alice_engine, sync("alice", doc, data));
    let bob = h.join(2, "bob");
    let mut bob_engine = handshaken_client("bob");
    let asked = bob_engine.find(doc, 0);
    assert_eq!(asked.loads, vec![doc], "Bob looks in his storage first");
    let first = bob_engine.loaded(doc, Ok(None), 0).send.remove(0).1;
    converse(&mut h, bob, &mut bob_engine, first);
    let mut frames = Vec::new();
    for n in 0..2i64 {
        let out = alice_engine
            .change(doc, |tx| tx.put(ROOT, format!("edit{n}"), n).map(|_| ()), 0)
            .unwrap();
        frames.extend(out.send.into_iter().map(|(_, m)| m));
    }
    assert_eq!(frames.len(), 2, "one message per edit from Alice");
    for m in frames {
        let out = h.server().receive(alice, &m.encode(), 0);
        h.runner.push(out);
    }
    let sent = h.run(Output::default());
    let to_bob: Vec<Message> = sent
        .into_iter()
        .filter(|(c, _)| *c == bob)
        .map(|(_, m)| m)
        .collect();
    for m in &to_bob {
        let out = bob_engine.receive(ConnId(1), &m.encode(), 0);
        assert!(out.close.is_empty(), "Bob takes the server's message");
    }
    (to_bob.len(), bob_engine, doc)
}

#[test]
fn a_batch_of_changes_goes_on_to_other_peers_as_one_message_each() {
    let (messages, bob, doc) = two_edits_in_one_batch(true);
    assert_eq!(messages, 1, "both edits in one message to Bob");
    let d = bob.document(&doc).expect("Bob holds the case");
    assert!(d.get(ROOT, "edit0").unwrap().is_some() && d.get(ROOT, "edit1").unwrap().is_some());
    // Control: without coalescing, one message per edit.
    let (messages, bob, doc) = two_edits_in_one_batch(false);
    assert_eq!(messages, 2);
    let d = bob.document(&doc).expect("Bob holds the case");
    assert!(d.get(ROOT, "edit1").unwrap().is_some());
}

/// A case the server holds as one snapshot and has not loaded: the path that sends it
/// without a load (`EngineConfig::serve_cold`) must refuse exactly whom the ordinary path
/// refuses, and a read-only peer still gets it (the ordinary way).
#[test]
fn a_case_sent_without_a_load_is_refused_to_a_person_without_the_right_to_see_it() {
    use fieldbook_sync::automerge::{AutoCommit, ObjType};
    use fieldbook_sync::{ChunkKey, ChunkKind};
    let mut d = AutoCommit::new();
    let notes = d.put_object(ROOT, "notes", ObjType::List).unwrap();
    d.insert(&notes, 0, "an invented note").unwrap();
    let bytes = d.save();
    let doc = DocumentId::random();
    let mut h = harness_configured(BTreeSet::from([doc]), |cfg| cfg.serve_cold = true);
    h.store
        .apply_now(vec![StorageOp::PutChunk {
            key: ChunkKey::for_data(doc, ChunkKind::Snapshot, &bytes),
            data: bytes,
        }])
        .unwrap();

    let alice = h.join(2, "alice");
    let (sent, _, _) = h.send(alice, request("alice", doc));
    assert!(matches!(sent.as_slice(), [(_, Message::Sync { .. })]));
    assert!(
        h.server().document(&doc).is_none(),
        "alice was sent it without a load"
    );

    // Still not in memory: eve's request meets the path that sends without a load first.
    let eve = h.join(1, "eve");
    let (sent, _, closed) = h.send(eve, request("eve", doc));
    assert!(closed.is_empty());
    assert!(
        matches!(sent.as_slice(), [(_, Message::DocUnavailable { .. })]),
        "eve may not read it: {sent:?}"
    );

    let bob = h.join(3, "bob");
    let (sent, _, _) = h.send(bob, request("bob", doc));
    assert!(
        matches!(sent.as_slice(), [(_, Message::Sync { .. })]),
        "bob reads it"
    );
    assert!(
        h.server().document(&doc).is_some(),
        "a read-only peer takes the ordinary path"
    );
}
