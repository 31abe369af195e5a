//! The scaffolding the engine's simulations share (`simulation.rs`, `two_nodes.rs`): a node
//! running the real engine through the real runner, the wire it hands frames to, engine
//! settings seeded per node, connection numbering, and the edits devices make.

use std::cell::RefCell;
use std::collections::BTreeSet;

use fieldbook_sync::automerge::{transaction::Transactable, ObjType, ReadDoc, ScalarValue, ROOT};
use fieldbook_sync::runner::run_ready;
use fieldbook_sync::{
    drain, AllowAll, CloseReason, ConnId, DocumentId, Engine, EngineConfig, Host, Message, Output,
    PeerId, Role, Runner, StorageId, Store,
};

/// A node's side of the runner: what it sends and closes, collected for the network.
#[derive(Default)]
pub struct Wire {
    pub now: u64,
    pub sent: Vec<(ConnId, Message)>,
    pub closed: Vec<ConnId>,
}

impl Host for Wire {
    fn now(&self) -> u64 {
        self.now
    }
    fn send(&mut self, conn: ConnId, msg: Message) {
        self.sent.push((conn, msg));
    }
    fn close(&mut self, conn: ConnId, _: CloseReason) {
        self.closed.push(conn);
    }
}

/// The settings every simulated node starts from: compaction and eviction often, ids and
/// actor ids from a seed per node (so a proptest case replays exactly). `sid: None` makes an
/// ephemeral peer: no sync state is persisted or resumed.
pub fn config(role: Role, name: &str, sid: Option<StorageId>) -> EngineConfig {
    let mut cfg = EngineConfig::new(role, PeerId(name.into()), sid);
    cfg.compact_after_chunks = 4; // exercise compaction often
    cfg.evict_idle_after = Some(10);
    cfg.rng_seed = Some(seed(name));
    cfg
}

/// A node's seed from its name. FNV-1a: stable across runs and platforms.
pub fn seed(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// The server's connection for device `link`'s `epoch`th link.
pub fn server_conn(link: usize, epoch: u64) -> ConnId {
    ConnId(link as u64 * 1_000_000 + epoch)
}

/// A client numbers each connection afresh (as the browser does), so output queued for a
/// connection that has since broken is never sent on the next one.
pub fn client_conn(epoch: u64) -> ConnId {
    ConnId(epoch)
}

/// One engine (allowing everything) and its runner over `S`.
pub struct Node<S: Store + Clone> {
    pub runner: RefCell<Runner<S>>,
}

impl<S: Store + Clone> Node<S> {
    pub fn with_config(cfg: EngineConfig, store: S) -> Self {
        Node {
            runner: RefCell::new(Runner::new(Engine::new(cfg, AllowAll), store)),
        }
    }

    pub fn engine(&self) -> std::cell::Ref<'_, Engine> {
        std::cell::Ref::map(self.runner.borrow(), |r| r.engine())
    }

    pub fn store(&self) -> S {
        self.runner.borrow().store().clone()
    }

    /// Queue the output of one engine step (carried out at the node's next drain).
    pub fn step(&self, f: impl FnOnce(&mut Engine) -> Output) {
        self.runner.borrow_mut().step(f);
    }

    /// Carry out everything queued: store, then hand over messages and closes.
    pub fn drain(&self, now: u64) -> Wire {
        let mut wire = Wire {
            now,
            ..Wire::default()
        };
        run_ready(drain(&self.runner, &mut wire)).expect("the memory store does not fail");
        wire
    }

    /// The device creates `n` case documents (an empty list of notes and an empty summary)
    /// and stores them.
    pub fn create_cases(&self, n: usize) -> Vec<DocumentId> {
        let mut docs = Vec::new();
        for _ in 0..n {
            let (doc, out) = self
                .runner
                .borrow_mut()
                .engine_mut()
                .create(
                    |tx| {
                        tx.put_object(ROOT, "notes", ObjType::List)?;
                        tx.put_object(ROOT, "summary", ObjType::Text)?;
                        Ok(())
                    },
                    0,
                )
                .unwrap();
            self.runner.borrow_mut().push(out);
            docs.push(doc);
        }
        self.drain(0);
        docs
    }

    /// A device adds the note `id` at the top of `doc`'s notes (queued for its next drain).
    pub fn add_note(&self, doc: DocumentId, id: &str, now: u64) {
        self.edit(doc, now, |tx| {
            let notes = tx.get(ROOT, "notes")?.expect("seeded").1;
            tx.insert(&notes, 0, ScalarValue::Str(id.into()))?;
            Ok(())
        });
    }

    /// A device's edit of `doc`, queued for its next drain.
    fn edit(
        &self,
        doc: DocumentId,
        now: u64,
        f: impl FnOnce(
            &mut fieldbook_sync::automerge::transaction::Transaction<'_>,
        ) -> Result<(), fieldbook_sync::automerge::AutomergeError>,
    ) {
        let out = self
            .runner
            .borrow_mut()
            .engine_mut()
            .change(doc, f, now)
            .expect("client docs stay loaded");
        self.runner.borrow_mut().push(out);
    }

    /// A device types `word` into `doc`'s summary at `at` (or its end).
    pub fn type_word(&self, doc: DocumentId, at: usize, word: &str, now: u64) {
        self.edit(doc, now, |tx| {
            let text = tx.get(ROOT, "summary")?.expect("seeded").1;
            let len = tx.length(&text);
            tx.splice_text(&text, at.min(len), 0, word)?;
            Ok(())
        });
    }
}

/// The notes a replica of a simulated case holds.
pub fn notes(doc: &fieldbook_sync::automerge::Automerge) -> BTreeSet<String> {
    let (_, notes) = doc.get(ROOT, "notes").unwrap().unwrap();
    (0..doc.length(&notes))
        .map(|i| match doc.get(&notes, i).unwrap().unwrap().0 {
            fieldbook_sync::automerge::Value::Scalar(s) => s.as_str().unwrap().to_owned(),
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}
