//! Two server nodes over ONE shared store, with a change feed between them (what
//! PostgreSQL `LISTEN/NOTIFY` is in production), and devices on each. Proptest drives random
//! edits, delivery order, partitions, devices moving between nodes, and nodes killed between
//! their commit and their sends. After healing, every device, both nodes and the store hold
//! every edit; what a device saw acknowledged is in the store the moment its node dies.

mod common;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use common::sim::{client_conn, server_conn, Node};
use fieldbook_sync::automerge::{transaction::Transactable, ObjType, ReadDoc, ROOT};
use fieldbook_sync::{
    ChunkKind, DocumentId, Identity, MemoryStore, Role, StorageId, StorageOp, Store, StoreError,
    StoredDocument,
};
use proptest::prelude::*;

/// The shared store as one node sees it: every commit's documents with content changes are
/// announced on the feed once the commit succeeded (PostgreSQL: `NOTIFY` in the commit).
#[derive(Clone)]
struct NodeStore {
    inner: MemoryStore,
    written: Rc<RefCell<BTreeSet<DocumentId>>>,
}

impl Store for NodeStore {
    fn storage_id(&self) -> &StorageId {
        self.inner.storage_id()
    }
    async fn load(&self, doc: DocumentId) -> Result<Option<StoredDocument>, StoreError> {
        self.inner.load(doc).await
    }
    async fn apply(&self, ops: Vec<StorageOp>) -> Result<(), StoreError> {
        let docs: Vec<DocumentId> = ops
            .iter()
            .filter(|op| !op.is_sync_progress())
            .map(|op| *op.document())
            .collect();
        self.inner.apply(ops).await?;
        self.written.borrow_mut().extend(docs);
        Ok(())
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

/// A node over `store`; `shared`: several nodes share it (`EngineConfig::shared_store`).
fn node<S: Store + Clone>(role: Role, name: &str, store: S, shared: bool) -> Node<S> {
    let mut cfg = common::sim::config(role, name, Some(store.storage_id().clone()));
    cfg.shared_store = shared;
    Node::with_config(cfg, store)
}

#[derive(Clone)]
enum Flight {
    /// A frame between device `link` and its node.
    Frame {
        link: usize,
        epoch: u64,
        to_server: bool,
        bytes: Vec<u8>,
    },
    /// An announcement from the feed for node `to`.
    Feed { to: usize, doc: DocumentId },
}

const NODES: usize = 2;

struct Sim {
    shared: MemoryStore,
    nodes: Vec<Node<NodeStore>>,
    /// Each node's lifetime, so a killed node's connections are never confused with its
    /// successor's.
    generation: [u64; NODES],
    shared_store: bool,
    clients: Vec<Node<MemoryStore>>,
    /// Per device: the node it connects to, its link epoch, whether the link is up.
    home: Vec<usize>,
    links: Vec<(u64, bool)>,
    partitioned: Vec<bool>,
    flights: Vec<Flight>,
    now: u64,
    docs: Vec<DocumentId>,
    expected: BTreeMap<DocumentId, BTreeSet<String>>,
    next_edit: u64,
    wire: Vec<usize>,
}

fn server_sid() -> StorageId {
    StorageId("cluster".into())
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
    Drain,
    /// The device's next connection goes to the other node (a load balancer's choice).
    Move(usize),
    /// The node commits what it has queued, then dies before sending any of it.
    Kill(usize),
    Tick,
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
        1 => (0..clients).prop_map(Op::Move),
        1 => (0..NODES).prop_map(Op::Kill),
        1 => Just(Op::Tick),
    ]
}

impl Sim {
    fn new(n: usize, shared_store: bool) -> Sim {
        let first = node(
            Role::Client,
            "c0",
            MemoryStore::new(StorageId("c0".into())),
            false,
        );
        let docs = first.create_cases(2);
        let seeded = first.runner.borrow().store().clone();
        let mut clients = vec![first];
        for i in 1..n {
            let name = format!("c{i}");
            // Each device its own store, starting from a copy of c0's documents.
            let own = MemoryStore::new(StorageId(name.clone()));
            for d in &docs {
                let stored = seeded.snapshot(d).unwrap();
                own.apply_now(
                    stored
                        .chunks
                        .into_iter()
                        .map(|(key, data)| StorageOp::PutChunk { key, data })
                        .collect(),
                )
                .unwrap();
            }
            clients.push(node(Role::Client, &name, own, false));
        }
        let shared = MemoryStore::new(server_sid());
        let mut sim = Sim {
            nodes: Vec::new(),
            generation: [0; NODES],
            shared_store,
            shared,
            clients,
            home: (0..n).map(|c| c % NODES).collect(),
            links: vec![(0, false); n],
            partitioned: vec![false; n],
            flights: Vec::new(),
            now: 0,
            expected: docs.iter().map(|d| (*d, BTreeSet::new())).collect(),
            docs,
            next_edit: 0,
            wire: vec![0; n],
        };
        sim.nodes = (0..NODES).map(|i| sim.fresh_node(i)).collect();
        for c in 0..n {
            for d in sim.docs.clone() {
                sim.clients[c].step(|e| e.open(d));
            }
            sim.apply_client(c);
            sim.connect(c);
        }
        sim
    }

    fn fresh_node(&mut self, i: usize) -> Node<NodeStore> {
        self.generation[i] += 1;
        let store = NodeStore {
            inner: self.shared.clone(),
            written: Rc::default(),
        };
        node(
            Role::Server,
            &format!("node{i}-gen{}", self.generation[i]),
            store,
            self.shared_store,
        )
    }

    fn apply_client(&mut self, c: usize) {
        let out = self.clients[c].drain(self.now);
        let (epoch, up) = self.links[c];
        for (conn, msg) in out.sent {
            if up && conn == client_conn(epoch) {
                let bytes = msg.encode();
                self.wire[c] += bytes.len();
                self.flights.push(Flight::Frame {
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

    /// Node `i` gets a turn: commit, announce what it wrote to the other node, send.
    fn apply_server(&mut self, i: usize) {
        let out = self.nodes[i].drain(self.now);
        self.announce(i);
        for (conn, msg) in out.sent {
            let link = (conn.0 / 1_000_000) as usize;
            let epoch = conn.0 % 1_000_000;
            if self.home[link] == i && self.links[link] == (epoch, true) {
                let bytes = msg.encode();
                self.wire[link] += bytes.len();
                self.flights.push(Flight::Frame {
                    link,
                    epoch,
                    to_server: false,
                    bytes,
                });
            }
        }
        for conn in out.closed {
            let link = (conn.0 / 1_000_000) as usize;
            if self.home[link] == i && self.links[link].0 == conn.0 % 1_000_000 {
                self.break_link(link);
            }
        }
    }

    /// What node `i` committed goes on the feed to every other node (its own is skipped).
    fn announce(&mut self, i: usize) {
        let written =
            std::mem::take(&mut *self.nodes[i].runner.borrow().store().written.borrow_mut());
        for doc in written {
            for to in (0..NODES).filter(|to| *to != i) {
                self.flights.push(Flight::Feed { to, doc });
            }
        }
    }

    fn drain_all(&mut self) {
        for i in 0..NODES {
            self.apply_server(i);
        }
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
        self.nodes[self.home[c]].step(|e| e.connect(sc, Identity::anonymous(), now));
        let cc = client_conn(self.links[c].0);
        self.clients[c].step(|e| e.connect(cc, Identity("server".into()), now));
    }

    fn break_link(&mut self, c: usize) {
        let (epoch, up) = self.links[c];
        if !up {
            return;
        }
        self.links[c].1 = false;
        self.flights
            .retain(|f| !matches!(f, Flight::Frame { link, .. } if *link == c));
        let now = self.now;
        self.nodes[self.home[c]].step(|e| e.disconnect(server_conn(c, epoch), now));
        self.clients[c].step(|e| e.disconnect(client_conn(epoch), now));
    }

    fn deliver(&mut self, i: usize) {
        if self.flights.is_empty() {
            return;
        }
        let f = self.flights.remove(i % self.flights.len());
        self.now += 1;
        let now = self.now;
        match f {
            Flight::Frame {
                link,
                epoch,
                to_server,
                bytes,
            } => {
                if self.links[link] != (epoch, true) {
                    return;
                }
                if to_server {
                    self.nodes[self.home[link]]
                        .step(|e| e.receive(server_conn(link, epoch), &bytes, now));
                } else {
                    self.clients[link].step(|e| e.receive(client_conn(epoch), &bytes, now));
                }
            }
            Flight::Feed { to, doc } => self.nodes[to].step(|e| e.changed_elsewhere(doc, now)),
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

    fn move_client(&mut self, c: usize) {
        self.break_link(c);
        self.home[c] = (self.home[c] + 1) % NODES;
        self.connect(c);
    }

    /// Node `i` commits everything queued, then dies before any of it is sent (SIGKILL
    /// between commit and send). Its devices' links break; they reconnect to the other node.
    fn kill(&mut self, i: usize) {
        // Committed; what it would have sent dies with it.
        self.nodes[i].drain(self.now);
        // The commit's notifications are part of it (PostgreSQL NOTIFY in the transaction).
        self.announce(i);
        // What a device saw acknowledged must be in storage now, before anyone resends.
        self.check_acknowledged_is_stored();
        let victims: Vec<usize> = (0..self.clients.len())
            .filter(|c| self.home[*c] == i)
            .collect();
        for c in &victims {
            let (epoch, up) = self.links[*c];
            if up {
                self.links[*c].1 = false;
                self.flights
                    .retain(|f| !matches!(f, Flight::Frame { link, .. } if link == c));
                let now = self.now;
                self.clients[*c].step(|e| e.disconnect(client_conn(epoch), now));
            }
        }
        self.flights
            .retain(|f| !matches!(f, Flight::Feed { to, .. } if *to == i));
        self.nodes[i] = self.fresh_node(i);
        for c in victims {
            self.home[c] = (i + 1) % NODES;
            self.connect(c);
        }
    }

    /// Every change a device believes the cluster has (its confirmed heads) loads from the
    /// shared store.
    fn check_acknowledged_is_stored(&self) {
        for doc in &self.docs {
            let stored = self
                .shared
                .snapshot(doc)
                .and_then(|s| s.to_automerge().expect("store loads strictly"));
            for (c, client) in self.clients.iter().enumerate() {
                let e = client.engine();
                let confirmed = e.confirmed_heads(doc, &server_sid()).unwrap_or_default();
                for h in confirmed {
                    let ok = stored
                        .as_ref()
                        .is_some_and(|s| s.get_change_by_hash(&h).is_some());
                    assert!(
                        ok,
                        "device {c} saw a change acknowledged that is not stored"
                    );
                }
            }
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
                // The network loses frames; the feed is a database connection (its losses
                // are covered by `everything_changed_elsewhere` on reconnect).
                let frames: Vec<usize> = (0..self.flights.len())
                    .filter(|j| matches!(self.flights[*j], Flight::Frame { .. }))
                    .collect();
                if !frames.is_empty() {
                    self.flights.remove(frames[i % frames.len()]);
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
            Op::Move(c) => self.move_client(c),
            Op::Kill(i) => self.kill(i),
            Op::Tick => {
                self.now += 20;
                let now = self.now;
                for n in &self.nodes {
                    n.step(|e| e.tick(now));
                }
            }
        }
    }

    fn settle_without_redial(&mut self) {
        let mut steps = 0;
        loop {
            self.drain_all();
            let idle = self.nodes.iter().all(|n| n.runner.borrow().queued() == 0)
                && self.clients.iter().all(|n| n.runner.borrow().queued() == 0);
            if self.flights.is_empty() && idle {
                break;
            }
            self.deliver(0);
            steps += 1;
            assert!(steps < 100_000, "sync did not quiesce");
        }
    }

    fn settle(&mut self) {
        for c in 0..self.clients.len() {
            self.partitioned[c] = false;
            self.break_link(c);
            self.connect(c);
        }
        self.settle_without_redial();
    }

    fn check_converged(&self) {
        for doc in &self.docs {
            let expected = &self.expected[doc];
            let first = self.clients[0].engine();
            let heads = first.document(doc).unwrap().get_heads();
            for (i, c) in self.clients.iter().enumerate() {
                let e = c.engine();
                let d = e.document(doc).unwrap();
                assert_eq!(
                    &common::sim::notes(d),
                    expected,
                    "device {i} lost or invented notes"
                );
                assert_eq!(d.get_heads(), heads, "device {i} did not converge");
            }
            // Both nodes' memory (where loaded) and the shared store agree.
            for (i, n) in self.nodes.iter().enumerate() {
                if let Some(d) = n.engine().document(doc) {
                    assert_eq!(d.get_heads(), heads, "node {i} is behind");
                }
            }
            let stored = self.shared.snapshot(doc).expect("stored");
            let am = stored.to_automerge().unwrap().expect("has content");
            assert_eq!(&common::sim::notes(&am), expected, "the store lost notes");
            assert_eq!(am.get_heads(), heads);
        }
    }
}

fn run(n: usize, ops: &[Op], shared_store: bool) -> Sim {
    let mut sim = Sim::new(n, shared_store);
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
            Op::Move(c) => Op::Move(c % n),
            other => other,
        };
        sim.step(op);
    }
    sim.settle();
    sim
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn devices_on_two_nodes_converge_without_losing_edits(
        n in 2..5usize,
        ops in prop::collection::vec(op_strategy(4), 1..200),
        shared_store in any::<bool>(),
    ) {
        let sim = run(n, &ops, shared_store);
        sim.check_converged();
    }
}

/// Two devices, one on each node, edit one case concurrently; node 0 is killed after a
/// commit and before its sends; the device on it moves to node 1. Deterministic version of
/// the acceptance scenario.
#[test]
fn concurrent_edits_on_two_nodes_converge_and_a_killed_node_loses_nothing_acknowledged() {
    let mut sim = Sim::new(2, true);
    sim.settle();
    for round in 0..10 {
        sim.edit(0, 0);
        sim.edit_text(1, 0, round);
        sim.edit(1, 0);
        // Interleave: half-deliver, then let both nodes commit concurrently.
        for _ in 0..3 {
            sim.drain_all();
            sim.deliver(round);
        }
    }
    sim.kill(0);
    assert_eq!(sim.home[0], 1, "the device moved to the surviving node");
    sim.settle_without_redial();
    sim.check_converged();
}

/// Node 0 compacts a document while node 1 writes to it, without hearing of node 1's chunks
/// (its feed is slow): node 0's compaction must delete only what it folded in.
#[test]
fn compaction_on_one_node_keeps_what_the_other_wrote() {
    let mut sim = Sim::new(2, false);
    sim.settle();
    let doc = sim.docs[0];
    for _ in 0..12 {
        // Device 1 (on node 1) writes; node 0 is not told.
        sim.edit(1, 0);
        sim.settle_node_link(1);
        // Device 0 (on node 0) writes faster, so node 0 compacts while node 1 has chunks
        // of its own not yet folded into a snapshot.
        for _ in 0..3 {
            sim.edit(0, 0);
            sim.settle_node_link(0);
        }
        // Checked after every step: a wrong deletion may be repaired by the other node's
        // next compaction, but in between the store has lost a change.
        let am = sim
            .shared
            .snapshot(&doc)
            .unwrap()
            .to_automerge()
            .unwrap()
            .unwrap();
        assert_eq!(
            common::sim::notes(&am),
            sim.expected[&doc],
            "a compaction deleted another node's chunk"
        );
    }
    let stored = sim.shared.snapshot(&doc).unwrap();
    let snapshots = stored
        .chunks
        .iter()
        .filter(|(k, _)| k.kind == ChunkKind::Snapshot)
        .count();
    assert!(
        snapshots >= 2,
        "both nodes compacted on their own ({snapshots})"
    );
    let am = stored.to_automerge().unwrap().unwrap();
    assert_eq!(
        common::sim::notes(&am),
        sim.expected[&doc],
        "a compaction deleted another node's chunk"
    );
    sim.settle_without_redial();
    sim.check_converged();
}

impl Sim {
    /// Run device `c` and its node until their link is quiet, leaving feed announcements
    /// undelivered.
    fn settle_node_link(&mut self, c: usize) {
        loop {
            self.apply_server(self.home[c]);
            self.apply_client(c);
            let Some(j) = self
                .flights
                .iter()
                .position(|f| matches!(f, Flight::Frame { link, .. } if *link == c))
            else {
                break;
            };
            self.deliver(j);
        }
    }
}

/// Bytes on device 0's link when it reconnects after one small edit: to the same node, or
/// to the other node (which has the document loaded since before the device first synced).
fn reconnect_bytes(history: usize, moved: bool, shared_store: bool, keep_state: bool) -> usize {
    let mut sim = Sim::new(2, shared_store);
    sim.settle();
    // Device 1 lives on node 1, so node 1 holds the document in memory throughout.
    for _ in 0..history {
        sim.edit(0, 0);
    }
    sim.settle_without_redial();
    sim.edit(1, 0);
    sim.settle_without_redial();
    sim.edit(0, 0);
    sim.break_link(0);
    if !keep_state {
        // Control: the cluster keeps no sync state for the device, in storage or in the
        // memory of the node it moves to (restarted; device 1 reconnects to it).
        sim.shared
            .apply_now(vec![StorageOp::ForgetSyncState {
                document: sim.docs[0],
                peer_storage_id: "c0".into(),
            }])
            .unwrap();
        sim.nodes[1] = sim.fresh_node(1);
        sim.break_link(1);
        sim.connect(1);
        sim.settle_without_redial();
    }
    if moved {
        sim.home[0] = 1;
    }
    let before = sim.wire[0];
    sim.connect(0);
    sim.settle_without_redial();
    sim.check_converged();
    sim.wire[0] - before
}

#[test]
fn a_device_moving_to_another_node_reconnects_as_cheaply_as_to_the_same_node() {
    for history in [50, 500] {
        let same = reconnect_bytes(history, false, true, true);
        let moved = reconnect_bytes(history, true, true, true);
        let moved_stale = reconnect_bytes(history, true, false, true);
        let control = reconnect_bytes(history, true, true, false);
        eprintln!(
            "reconnect after one edit, {history} earlier changes: same node {same} bytes, \
             other node {moved} bytes (shared_store: stored sync state), {moved_stale} bytes \
             (shared_store off: the node's in-memory state), control without any stored sync \
             state {control} bytes"
        );
        assert!(
            moved <= same + same / 4 + 64,
            "moving node cost {moved} bytes vs {same}"
        );
        assert!(moved < control, "{moved} vs control {control}");
    }
}

/// After concurrent compactions the store holds several snapshots (and chunks): loading
/// reads them all, strictly.
#[test]
fn a_document_stored_as_several_snapshots_loads_whole() {
    use fieldbook_sync::automerge::Automerge;
    use fieldbook_sync::ChunkKey;
    let doc = DocumentId::random();
    let mut base = Automerge::new();
    let mut tx = base.transaction();
    tx.put_object(ROOT, "notes", ObjType::List).unwrap();
    tx.commit();
    let note = |am: &mut Automerge, text: &str| {
        let mut tx = am.transaction();
        let notes = tx.get(ROOT, "notes").unwrap().unwrap().1;
        tx.insert(&notes, 0, text).unwrap();
        tx.commit();
    };
    let mut node1 = base.fork();
    note(&mut node1, "one");
    let mut node2 = base.fork();
    let before = node2.get_heads();
    note(&mut node2, "two");
    let incremental = node2.save_after(&before);
    note(&mut node2, "three");
    let snap = |am: &mut Automerge| {
        let data = am.save();
        (ChunkKey::for_data(doc, ChunkKind::Snapshot, &data), data)
    };
    let stored = StoredDocument {
        chunks: vec![
            (
                ChunkKey::for_data(doc, ChunkKind::Incremental, &incremental),
                incremental,
            ),
            snap(&mut node1),
            snap(&mut base),
        ],
        sync_states: BTreeMap::new(),
    };
    let am = stored.to_automerge().unwrap().unwrap();
    let mut want = BTreeSet::from(["one".to_owned(), "two".to_owned()]);
    assert_eq!(
        common::sim::notes(&am),
        want,
        "two snapshots and a chunk, all read"
    );
    // With node 2's snapshot too, nothing is read twice.
    let mut all = stored.clone();
    all.chunks.push(snap(&mut node2));
    let am = all.to_automerge().unwrap().unwrap();
    want.insert("three".into());
    assert_eq!(common::sim::notes(&am), want);
    // A chunk whose history is in no stored chunk (a compaction deleted what it needed) is
    // an error, never a silently shorter document.
    let mut broken = stored.clone();
    broken.chunks.retain(|(k, _)| k.kind == ChunkKind::Snapshot);
    let mut orphan = base.fork();
    note(&mut orphan, "four");
    let mid = orphan.get_heads();
    note(&mut orphan, "five");
    let tail = orphan.save_after(&mid);
    broken
        .chunks
        .push((ChunkKey::for_data(doc, ChunkKind::Incremental, &tail), tail));
    assert!(
        broken.to_automerge().is_err(),
        "missing history must not load"
    );
}
