//! A simulated network of one server and several clients, all running the real engine.
//! Proptest drives random edits, random delivery order (also within a connection),
//! duplicated and dropped messages, partitions that heal, server restarts, eviction and
//! quarantined documents (as after a caught panic). Each node carries out its engine's
//! output with the real runner (`fieldbook_sync::runner`) only when it gets a turn
//! (`Op::Drain`), so engine steps pile up behind slow storage as they do in a browser.
//! After healing, every replica (and the server's storage) must hold every edit.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::sim::{client_conn, config, server_conn};
use fieldbook_sync::automerge::{ReadDoc, ROOT};
use fieldbook_sync::{DocumentId, Identity, Limits, MemoryStore, Role, StorageId};
use proptest::prelude::*;

type Node = common::sim::Node<MemoryStore>;

/// A simulated node. `sid: None` makes an ephemeral peer: no sync state is persisted or
/// resumed.
fn node(role: Role, name: &str, store: MemoryStore, sid: Option<StorageId>) -> Node {
    node_with_limits(role, name, store, sid, Limits::default())
}

fn node_with_limits(
    role: Role,
    name: &str,
    store: MemoryStore,
    sid: Option<StorageId>,
    limits: Limits,
) -> Node {
    let mut cfg = config(role, name, sid);
    cfg.limits = limits;
    Node::with_config(cfg, store)
}

fn store(name: &str) -> MemoryStore {
    MemoryStore::new(StorageId(format!("store-{name}")))
}

#[derive(Clone)]
struct Flight {
    link: usize,
    epoch: u64,
    to_server: bool,
    bytes: Vec<u8>,
}

struct Sim {
    server: Node,
    server_sid: StorageId,
    clients: Vec<Node>,
    /// Per client: current link epoch and whether it is up.
    links: Vec<(u64, bool)>,
    partitioned: Vec<bool>,
    flights: Vec<Flight>,
    now: u64,
    docs: Vec<DocumentId>,
    expected: BTreeMap<DocumentId, BTreeSet<String>>,
    next_edit: u64,
    /// Bytes and messages put on each client's link, both directions.
    wire: Vec<usize>,
    messages: Vec<usize>,
    /// Whether peers persist sync state (`false`: every peer is ephemeral).
    persist: bool,
}

#[derive(Debug, Clone)]
enum Op {
    Edit {
        client: usize,
        doc: usize,
    },
    EditText {
        client: usize,
        doc: usize,
        at: usize,
    },
    Deliver(usize),
    Duplicate(usize),
    Drop(usize),
    Partition(usize),
    Heal(usize),
    /// Every node's driver gets a turn to carry out what its engine queued.
    Drain,
    RestartServer,
    Tick,
    /// The server's step for this client's connection "panicked" on `doc`.
    Quarantine {
        client: usize,
        doc: usize,
    },
}

fn op_strategy(clients: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..clients, 0..2usize).prop_map(|(client, doc)| Op::Edit { client, doc }),
        2 => (0..clients, 0..2usize, 0..50usize).prop_map(|(client, doc, at)| Op::EditText { client, doc, at }),
        12 => any::<usize>().prop_map(Op::Deliver),
        1 => any::<usize>().prop_map(Op::Duplicate),
        1 => any::<usize>().prop_map(Op::Drop),
        1 => (0..clients).prop_map(Op::Partition),
        1 => (0..clients).prop_map(Op::Heal),
        4 => Just(Op::Drain),
        1 => Just(Op::RestartServer),
        1 => Just(Op::Tick),
        1 => (0..clients, 0..2usize).prop_map(|(client, doc)| Op::Quarantine { client, doc }),
    ]
}

impl Sim {
    fn new(n: usize) -> Sim {
        Sim::with_persistence(n, true)
    }

    fn with_persistence(n: usize, persist: bool) -> Sim {
        let sid = |s: &str| persist.then(|| StorageId(s.into()));
        // Client 0 creates two case documents; every client starts with a copy, as if each
        // device had synced once at the office and then went offline.
        let first = node(Role::Client, "c0", store("c0"), sid("c0"));
        let docs = first.create_cases(2);
        let seeded = first.store();
        let mut clients = vec![first];
        for i in 1..n {
            let name = format!("c{i}");
            clients.push(node(Role::Client, &name, seeded.clone(), sid(&name)));
        }
        let server_sid = StorageId("server".into());
        let mut sim = Sim {
            server: node(Role::Server, "server", store("server"), sid("server")),
            server_sid,
            clients,
            links: vec![(0, false); n],
            partitioned: vec![false; n],
            flights: Vec::new(),
            now: 0,
            expected: docs.iter().map(|d| (*d, BTreeSet::new())).collect(),
            docs,
            next_edit: 0,
            wire: vec![0; n],
            messages: vec![0; n],
            persist,
        };
        for c in 0..n {
            for d in sim.docs.clone() {
                sim.clients[c].step(|e| e.open(d));
            }
            sim.apply_client(c);
            sim.connect(c);
        }
        sim
    }

    /// Client `c` gets a turn: its queued output is carried out and put on its link.
    fn apply_client(&mut self, c: usize) {
        let out = self.clients[c].drain(self.now);
        let (epoch, up) = self.links[c];
        for (conn, msg) in out.sent {
            if up && conn == client_conn(epoch) {
                let bytes = msg.encode();
                self.wire[c] += bytes.len();
                self.messages[c] += 1;
                self.flights.push(Flight {
                    link: c,
                    epoch,
                    to_server: true,
                    bytes,
                });
            }
        }
        if out.closed.contains(&client_conn(epoch)) {
            self.break_link(c);
        }
    }

    /// The server gets a turn.
    fn apply_server(&mut self) {
        let out = self.server.drain(self.now);
        for (conn, msg) in out.sent {
            let link = (conn.0 / 1_000_000) as usize;
            let epoch = conn.0 % 1_000_000;
            if self.links[link] == (epoch, true) {
                let bytes = msg.encode();
                self.wire[link] += bytes.len();
                self.messages[link] += 1;
                self.flights.push(Flight {
                    link,
                    epoch,
                    to_server: false,
                    bytes,
                });
            }
        }
        for conn in out.closed {
            let link = (conn.0 / 1_000_000) as usize;
            if self.links[link].0 == conn.0 % 1_000_000 {
                self.break_link(link);
            }
        }
    }

    /// Every node gets a turn.
    fn drain_all(&mut self) {
        self.apply_server();
        for c in 0..self.clients.len() {
            self.apply_client(c);
        }
    }

    fn connect(&mut self, c: usize) {
        if self.links[c].1 || self.partitioned[c] {
            return;
        }
        self.links[c] = (self.links[c].0 + 1, true);
        let sc = server_conn(c, self.links[c].0);
        let now = self.now;
        self.server
            .step(|e| e.connect(sc, Identity::anonymous(), now));
        let cc = client_conn(self.links[c].0);
        self.clients[c].step(|e| e.connect(cc, Identity("server".into()), now));
    }

    fn break_link(&mut self, c: usize) {
        let (epoch, up) = self.links[c];
        if !up {
            return;
        }
        self.links[c].1 = false;
        self.flights.retain(|f| f.link != c);
        let now = self.now;
        self.server
            .step(|e| e.disconnect(server_conn(c, epoch), now));
        self.clients[c].step(|e| e.disconnect(client_conn(epoch), now));
    }

    fn deliver(&mut self, i: usize) {
        if self.flights.is_empty() {
            return;
        }
        let f = self.flights.remove(i % self.flights.len());
        if self.links[f.link] != (f.epoch, true) {
            return;
        }
        self.now += 1;
        let now = self.now;
        if f.to_server {
            self.server
                .step(|e| e.receive(server_conn(f.link, f.epoch), &f.bytes, now));
        } else {
            self.clients[f.link].step(|e| e.receive(client_conn(f.epoch), &f.bytes, now));
        }
    }

    fn edit(&mut self, c: usize, d: usize) {
        let doc = self.docs[d];
        let id = format!("note-{}-by-c{c}", self.next_edit);
        self.next_edit += 1;
        self.clients[c].add_note(doc, &id, self.now);
        self.expected.get_mut(&doc).unwrap().insert(id);
    }

    fn edit_text(&mut self, c: usize, d: usize, at: usize) {
        let doc = self.docs[d];
        let word = format!("w{}c{c} ", self.next_edit);
        self.next_edit += 1;
        self.clients[c].type_word(doc, at, &word, self.now);
    }

    fn restart_server(&mut self) {
        self.restart_server_with(Limits::default());
    }

    fn restart_server_with(&mut self, limits: Limits) {
        for c in 0..self.clients.len() {
            self.break_link(c);
        }
        // What the old server had queued but not stored dies with it (nothing of it was
        // acknowledged: messages leave only after their writes are stored).
        let store = self.server.store();
        let sid = self.persist.then(|| self.server_sid.clone());
        self.server = node_with_limits(Role::Server, "server", store, sid, limits);
        for c in 0..self.clients.len() {
            self.connect(c);
        }
    }

    fn step(&mut self, op: Op) {
        match op {
            Op::Edit { client, doc } => self.edit(client, doc),
            Op::EditText { client, doc, at } => self.edit_text(client, doc, at),
            Op::Deliver(i) => self.deliver(i),
            Op::Duplicate(i) => {
                if !self.flights.is_empty() {
                    let f = self.flights[i % self.flights.len()].clone();
                    self.flights.push(f);
                }
            }
            Op::Drop(i) => {
                if !self.flights.is_empty() {
                    self.flights.remove(i % self.flights.len());
                }
            }
            Op::Partition(c) => {
                self.partitioned[c] = true;
                self.break_link(c);
            }
            Op::Heal(c) => {
                self.partitioned[c] = false;
                self.connect(c);
            }
            Op::Drain => self.drain_all(),
            Op::RestartServer => self.restart_server(),
            Op::Tick => {
                self.now += 20;
                let now = self.now;
                self.server.step(|e| e.tick(now));
            }
            Op::Quarantine { client, doc } => {
                let (epoch, up) = self.links[client];
                if up {
                    let conn = server_conn(client, epoch);
                    let doc = self.docs[doc];
                    let now = self.now;
                    self.server.step(|e| e.quarantine(conn, Some(doc), now));
                }
            }
        }
    }

    fn settle_without_redial(&mut self) {
        let mut steps = 0;
        loop {
            self.drain_all();
            let idle = std::iter::once(&self.server)
                .chain(&self.clients)
                .all(|n| n.runner.borrow().queued() == 0);
            if self.flights.is_empty() && idle {
                break;
            }
            self.deliver(0);
            steps += 1;
            assert!(steps < 100_000, "sync did not quiesce");
        }
    }

    /// Heal everything and run reliable, in-order delivery until nothing moves.
    fn settle(&mut self) {
        for c in 0..self.clients.len() {
            self.partitioned[c] = false;
            // A stalled connection (lost message) is eventually timed out and redialled.
            self.break_link(c);
            self.connect(c);
        }
        self.settle_without_redial();
    }

    fn check_converged(&mut self) {
        for doc in self.docs.clone() {
            let expected = &self.expected[&doc];
            let first = self.clients[0].engine();
            let first = first.document(&doc).unwrap();
            let heads = first.get_heads();
            let text = first
                .text(first.get(ROOT, "summary").unwrap().unwrap().1)
                .unwrap();
            for (i, c) in self.clients.iter().enumerate() {
                let e = c.engine();
                let d = e.document(&doc).unwrap();
                assert_eq!(
                    &common::sim::notes(d),
                    expected,
                    "client {i} lost or invented notes"
                );
                assert_eq!(d.get_heads(), heads, "client {i} did not converge");
                assert_eq!(
                    d.text(d.get(ROOT, "summary").unwrap().unwrap().1).unwrap(),
                    text
                );
            }
            // The server's *storage* (not just its memory) holds every edit.
            let stored = self
                .server
                .store()
                .snapshot(&doc)
                .expect("server stored the doc");
            let fresh = node(
                Role::Server,
                "fresh",
                store("fresh"),
                Some(StorageId("fresh".into())),
            );
            let out = fresh
                .runner
                .borrow_mut()
                .engine_mut()
                .loaded(doc, Ok(Some(stored)), 0);
            assert!(out.send.is_empty());
            let fresh_engine = fresh.engine();
            let fresh_doc = fresh_engine.document(&doc).expect("stored doc loads");
            assert_eq!(
                &common::sim::notes(fresh_doc),
                expected,
                "server storage lost notes"
            );
            assert_eq!(fresh_doc.get_heads(), heads);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn replicas_converge_without_losing_edits(
        n in 3..5usize,
        ops in prop::collection::vec(op_strategy(4), 1..200),
    ) {
        let mut sim = run(n, &ops);
        sim.check_converged();
    }
}

/// Run `ops` on a fresh network of `n` clients, then heal it and let it settle.
fn run(n: usize, ops: &[Op]) -> Sim {
    let mut sim = Sim::new(n);
    for op in ops.iter().cloned() {
        let op = match op {
            Op::Edit { client, doc } => Op::Edit {
                client: client % n,
                doc,
            },
            Op::EditText { client, doc, at } => Op::EditText {
                client: client % n,
                doc,
                at,
            },
            Op::Partition(c) => Op::Partition(c % n),
            Op::Heal(c) => Op::Heal(c % n),
            Op::Quarantine { client, doc } => Op::Quarantine {
                client: client % n,
                doc,
            },
            other => other,
        };
        sim.step(op);
    }
    sim.settle();
    sim
}

/// Everything observable about a finished run: document ids, every replica's heads and
/// text, the server's stored bytes, and what crossed each link.
fn fingerprint(sim: &Sim) -> String {
    let mut f = format!("{:?} {:?} {:?}\n", sim.docs, sim.wire, sim.messages);
    for doc in &sim.docs {
        for c in &sim.clients {
            let e = c.engine();
            let d = e.document(doc).unwrap();
            let text = d.text(d.get(ROOT, "summary").unwrap().unwrap().1).unwrap();
            f += &format!("{:?} {text:?}\n", d.get_heads());
        }
        let stored = sim.server.store().snapshot(doc).unwrap();
        let mut chunks: Vec<_> = stored.chunks.iter().map(|(k, _)| k.hash.clone()).collect();
        chunks.sort();
        f += &format!("{chunks:?} {:?}\n", stored.sync_states);
    }
    f
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    /// A failing case must replay exactly: no randomness outside the proptest seed.
    #[test]
    fn a_run_replays_exactly(
        n in 3..5usize,
        ops in prop::collection::vec(op_strategy(4), 1..100),
    ) {
        let first = fingerprint(&run(n, &ops));
        let second = fingerprint(&run(n, &ops));
        prop_assert_eq!(first, second);
    }
}

/// Bytes and messages on client 1's link when it reconnects after one small edit to a
/// document with `history` earlier changes, after a server restart.
fn reconnect_after_small_edit(persist: bool, history: usize) -> (usize, usize) {
    let mut sim = Sim::with_persistence(3, persist);
    for _ in 0..history {
        sim.edit(0, 0);
    }
    sim.settle();
    // Server restarts (sync state, if any, comes from its storage); client 1 makes one edit.
    sim.restart_server();
    sim.settle();
    sim.edit(1, 0);
    sim.break_link(1);
    let (bytes, messages) = (sim.wire[1], sim.messages[1]);
    sim.connect(1);
    sim.settle_without_redial();
    sim.check_converged();
    (sim.wire[1] - bytes, sim.messages[1] - messages)
}

#[test]
fn reconnect_after_small_edit_is_cheap_with_persisted_sync_state() {
    let mut last = (0, 0);
    for history in [50, 1000] {
        let (bytes, messages) = reconnect_after_small_edit(true, history);
        // Control: the same scenario with every peer ephemeral (no sync state kept), so the
        // peers rediscover what they share (a Bloom filter over the whole history).
        let (control_bytes, control_messages) = reconnect_after_small_edit(false, history);
        eprintln!(
            "reconnect after one edit, {history} earlier changes: {bytes} bytes in {messages} \
             messages with persisted sync state, {control_bytes} bytes in {control_messages} \
             without"
        );
        assert!(bytes < 2048, "reconnect cost {bytes} bytes");
        assert!(
            bytes < control_bytes,
            "persisted sync state saved nothing: {bytes} vs {control_bytes} bytes"
        );
        assert!(messages <= control_messages);
        last = (bytes, control_bytes);
    }
    // The saving grows with the history; with persisted state the cost does not.
    let (bytes, control_bytes) = last;
    assert!(control_bytes > 2 * bytes, "{control_bytes} vs {bytes}");
}

#[test]
fn unconfirmed_changes_count_down_to_zero_and_survive_going_offline() {
    let mut sim = Sim::new(3);
    let server = sim.server_sid.clone();
    let doc = sim.docs[0];
    sim.settle();
    assert_eq!(
        sim.clients[1].engine().unconfirmed_changes(&doc, &server),
        0
    );
    sim.partitioned[1] = true;
    sim.break_link(1);
    sim.edit(1, 0);
    sim.edit(1, 0);
    // Offline, from the persisted sync state: two changes are not on the server.
    assert_eq!(
        sim.clients[1].engine().unconfirmed_changes(&doc, &server),
        2
    );
    sim.partitioned[1] = false;
    sim.connect(1);
    sim.settle_without_redial();
    assert_eq!(
        sim.clients[1].engine().unconfirmed_changes(&doc, &server),
        0
    );
}

/// A phone away for weeks: while it was offline the server's cap on sync states per
/// document pushed its state out (other phones synced since), but the phone still has its
/// own half, which says the server holds what it last sent. Its offline edits must still
/// arrive, and it must still get everyone else's.
#[test]
fn a_stale_phone_whose_server_side_sync_state_was_dropped_still_converges() {
    let mut sim = Sim::new(3);
    sim.restart_server_with(Limits {
        sync_states_per_document: 1,
        ..Limits::default()
    });
    sim.settle();
    let doc = sim.docs[0];
    sim.partitioned[1] = true;
    sim.break_link(1);
    sim.edit(1, 0);
    sim.edit_text(1, 0, 0);
    // Others keep working; each sync leaves only the latest peer's state on the server.
    for _ in 0..3 {
        sim.edit(0, 0);
        sim.edit(2, 0);
        sim.settle_without_redial();
    }
    // The server restarts too, so nothing of the phone's state is even in its memory.
    sim.restart_server_with(Limits {
        sync_states_per_document: 1,
        ..Limits::default()
    });
    sim.settle_without_redial();
    let kept = sim.server.store().snapshot(&doc).unwrap().sync_states;
    assert!(
        !kept.contains_key("c1"),
        "the scenario needs the phone's state gone: {:?}",
        kept.keys()
    );
    // The phone still holds its half.
    assert!(sim.clients[1]
        .store()
        .snapshot(&doc)
        .unwrap()
        .sync_states
        .contains_key("server"));
    sim.partitioned[1] = false;
    sim.connect(1);
    sim.settle_without_redial();
    sim.check_converged();
}
