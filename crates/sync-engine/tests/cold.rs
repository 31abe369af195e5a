//! A new device pulling cases the server holds as one snapshot each: served without loading
//! them (`EngineConfig::serve_cold`), against the same with it off. The device must end with
//! exactly what the ordinary path gives it, the server must remember how far it got (cheap
//! reconnects), and a later change by someone else must still reach it.

mod common;

use common::sim::Node;
use fieldbook_sync::automerge::{transaction::Transactable, AutoCommit, ObjType, ReadDoc, ROOT};
use fieldbook_sync::{
    ChunkKey, ChunkKind, ConnId, DocumentId, Identity, MemoryStore, Role, StorageId, StorageOp,
    Store,
};

const CASES: usize = 12;

/// The server's store with `CASES` invented cases, each one snapshot (as compaction leaves
/// them), with a few notes typed in several sittings and one concurrent edit.
fn seeded_store() -> (MemoryStore, Vec<DocumentId>) {
    let store = MemoryStore::new(StorageId("server".into()));
    let mut docs = Vec::new();
    for i in 0..CASES {
        let mut d = AutoCommit::new();
        let notes = d.put_object(ROOT, "notes", ObjType::List).unwrap();
        d.put_object(ROOT, "summary", ObjType::Text).unwrap();
        for n in 0..5 {
            d.insert(&notes, 0, format!("invented note {n} of case {i}"))
                .unwrap();
            d.commit();
        }
        let mut other = d.fork();
        other.put(ROOT, "worker", "Invented Worker").unwrap();
        d.merge(&mut other).unwrap();
        let bytes = d.save();
        let doc = DocumentId::random();
        store
            .apply_now(vec![StorageOp::PutChunk {
                key: ChunkKey::for_data(doc, ChunkKind::Snapshot, &bytes),
                data: bytes,
            }])
            .unwrap();
        docs.push(doc);
    }
    (store, docs)
}

struct Net {
    server: Node<MemoryStore>,
    devices: Vec<Node<MemoryStore>>,
    now: u64,
    /// Bytes each device's link carried, both ways.
    wire: Vec<usize>,
    epoch: u64,
}

fn sconn(device: usize, epoch: u64) -> ConnId {
    ConnId(device as u64 * 1_000 + epoch)
}

impl Net {
    fn new(store: MemoryStore, serve_cold: bool, devices: usize) -> Self {
        let mut cfg = common::sim::config(Role::Server, "server", Some(store.storage_id().clone()));
        cfg.serve_cold = serve_cold;
        cfg.evict_idle_after = None;
        let devices = (0..devices)
            .map(|i| {
                let name = format!("device{i}");
                let store = MemoryStore::new(StorageId(name.clone()));
                let cfg =
                    common::sim::config(Role::Client, &name, Some(store.storage_id().clone()));
                Node::with_config(cfg, store)
            })
            .collect::<Vec<_>>();
        let wire = vec![0; devices.len()];
        Net {
            server: Node::with_config(cfg, store),
            devices,
            now: 1,
            wire,
            epoch: 1,
        }
    }

    fn connect(&mut self, d: usize) {
        let now = self.now;
        let (s, c) = (sconn(d, self.epoch), ConnId(self.epoch));
        self.server
            .step(|e| e.connect(s, Identity::anonymous(), now));
        self.devices[d].step(|e| e.connect(c, Identity("server".into()), now));
    }

    fn disconnect(&mut self, d: usize) {
        let now = self.now;
        let (s, c) = (sconn(d, self.epoch), ConnId(self.epoch));
        self.server.step(|e| e.disconnect(s, now));
        self.devices[d].step(|e| e.disconnect(c, now));
        self.settle();
        self.epoch += 1;
    }

    /// Deliver everything until nobody has anything to send.
    fn settle(&mut self) {
        loop {
            self.now += 1;
            let mut moved = false;
            for d in 0..self.devices.len() {
                let out = self.devices[d].drain(self.now);
                for (conn, msg) in out.sent {
                    if conn == ConnId(self.epoch) {
                        let bytes = msg.encode();
                        self.wire[d] += bytes.len();
                        let now = self.now;
                        self.server
                            .step(|e| e.receive(sconn(d, conn.0), &bytes, now));
                        moved = true;
                    }
                }
            }
            let out = self.server.drain(self.now);
            for (conn, msg) in out.sent {
                let (d, epoch) = ((conn.0 / 1_000) as usize, conn.0 % 1_000);
                if epoch == self.epoch {
                    let bytes = msg.encode();
                    self.wire[d] += bytes.len();
                    let now = self.now;
                    self.devices[d].step(|e| e.receive(ConnId(epoch), &bytes, now));
                    moved = true;
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn pull(&mut self, d: usize, docs: &[DocumentId]) {
        self.connect(d);
        self.settle();
        let now = self.now;
        for doc in docs {
            self.devices[d].step(|e| e.find(*doc, now));
        }
        self.settle();
    }
}

/// Another store holding the same chunks (the same cases, for a side-by-side run).
fn copy_of(store: &MemoryStore, docs: &[DocumentId]) -> MemoryStore {
    let copy = MemoryStore::new(store.storage_id().clone());
    for doc in docs {
        let ops = store
            .snapshot(doc)
            .unwrap()
            .chunks
            .into_iter()
            .map(|(key, data)| StorageOp::PutChunk { key, data })
            .collect();
        copy.apply_now(ops).unwrap();
    }
    copy
}

/// Device 0 pulls every case from a server over `store`.
fn pulled(store: MemoryStore, docs: &[DocumentId], serve_cold: bool) -> Net {
    let mut net = Net::new(store, serve_cold, 2);
    net.pull(0, docs);
    net
}

#[test]
fn a_new_device_gets_every_case_without_the_server_loading_one() {
    let (store, docs) = seeded_store();
    let warm = pulled(copy_of(&store, &docs), &docs, false);
    let cold = pulled(store, &docs, true);
    for doc in &docs {
        let stored = cold
            .server
            .store()
            .snapshot(doc)
            .unwrap()
            .to_automerge()
            .unwrap()
            .unwrap();
        for (net, how) in [(&cold, "cold"), (&warm, "ordinary")] {
            let held = net.devices[0].engine();
            let held = held
                .document(doc)
                .unwrap_or_else(|| panic!("{how}: the device has it"));
            assert_eq!(held.get_heads(), stored.get_heads(), "{how}: same heads");
            assert_eq!(
                held.get(ROOT, "worker")
                    .unwrap()
                    .map(|(v, _)| v.to_string()),
                stored
                    .get(ROOT, "worker")
                    .unwrap()
                    .map(|(v, _)| v.to_string()),
                "{how}: same content"
            );
            let (_, notes) = held.get(ROOT, "notes").unwrap().unwrap();
            assert_eq!(held.length(&notes), 5, "{how}: every note");
        }
        assert!(
            cold.server.engine().document(doc).is_none(),
            "served without a load"
        );
        assert!(
            warm.server.engine().document(doc).is_some(),
            "control: the ordinary path loads"
        );
        // The server remembers how far the device got, as the ordinary path does.
        for (net, how) in [(&cold, "cold"), (&warm, "ordinary")] {
            let states = net.server.store().snapshot(doc).unwrap().sync_states;
            let state = states
                .get("device0")
                .unwrap_or_else(|| panic!("{how}: sync state kept"));
            let state = fieldbook_sync::automerge::sync::State::decode(state).unwrap();
            assert_eq!(
                state.shared_heads,
                stored.get_heads(),
                "{how}: shared heads"
            );
        }
    }
    // Not a byte more on the wire: the snapshot is what automerge would have sent.
    let (c, w) = (cold.wire[0], warm.wire[0]);
    assert!(c <= w + w / 20, "cold {c} bytes against ordinary {w}");
}

#[test]
fn a_change_made_later_reaches_a_device_served_without_a_load() {
    let (store, docs) = seeded_store();
    let mut net = pulled(store, &docs, true);
    // Another device opens the first case and adds a note; the first device, still
    // connected, gets it as any peer would.
    net.connect(1);
    net.settle();
    let now = net.now;
    net.devices[1].step(|e| e.find(docs[0], now));
    net.settle();
    net.devices[1].add_note(docs[0], "a note added later", net.now);
    net.settle();
    let e = net.devices[0].engine();
    let held = e.document(&docs[0]).unwrap();
    assert_eq!(
        held.get_heads(),
        net.devices[1]
            .engine()
            .document(&docs[0])
            .unwrap()
            .get_heads()
    );
    let (_, notes) = held.get(ROOT, "notes").unwrap().unwrap();
    assert_eq!(held.length(&notes), 6, "the later note arrived");
}

#[test]
fn a_device_served_without_a_load_reconnects_as_cheaply_as_one_served_the_ordinary_way() {
    let mut cost = Vec::new();
    for serve_cold in [true, false] {
        let (store, docs) = seeded_store();
        let mut net = Net::new(store, serve_cold, 1);
        net.pull(0, &docs);
        net.disconnect(0);
        // A fresh server process (nothing in memory) over the same store.
        let store = net.server.store();
        let mut cfg =
            common::sim::config(Role::Server, "server2", Some(store.storage_id().clone()));
        cfg.serve_cold = serve_cold;
        net.server = Node::with_config(cfg, store);
        let before = net.wire[0];
        net.connect(0);
        net.settle();
        cost.push(net.wire[0] - before);
    }
    let (cold, ordinary) = (cost[0], cost[1]);
    assert!(
        cold <= ordinary + ordinary / 10,
        "reconnect: cold {cold} bytes, ordinary {ordinary}"
    );
}
