//! The one way to carry out engine output, used by every driver (server actor, browser,
//! native client, server seeding, test harnesses).
//!
//! A driver puts engine work through [`Runner::step`] (or [`Runner::push`]) and then calls
//! [`drain`]. `drain` applies the rules in [`crate::engine`]'s module docs:
//! 1. queued outputs are taken in order, up to and including the first that asks for loads
//!    (with the outputs right behind it that do nothing but load), and all their storage
//!    operations are applied as **one** transaction (group commit);
//! 2. only then are their messages handed to the [`Host`] and their connections closed;
//! 3. if the transaction fails, nothing from those outputs is sent, later queued writes to
//!    the same documents (built on the unsaved state) are dropped, and the engine's
//!    [`Engine::storage_failed`] recovery is carried out first;
//! 4. the batch's loads are answered from the store, several at a time, and fed back in
//!    order with [`Engine::loaded`]; their output goes to the front of the queue, in order.
//!
//! The runner lives in a cell ([`RunnerCell`]: `RefCell` in the browser and single-threaded
//! actors, `Mutex` where tasks share it) that is never borrowed across an `await`, so the UI
//! or other tasks can queue more work while a commit is in flight.

use std::cell::RefCell;
use std::collections::{BTreeSet, VecDeque};
use std::future::Future;
use std::sync::Mutex;

use futures_util::StreamExt;

use crate::engine::{AccessPolicy, AllowAll, CloseReason, ConnId, Engine, Event, Millis, Output};
use crate::storage::{StorageOp, Store, StoreError};
use crate::wire::Message;
use crate::DocumentId;

/// The driver's side of the runner: its clock and its connections.
pub trait Host {
    /// Milliseconds on the driver's clock.
    fn now(&self) -> Millis;
    /// Hand `msg` to connection `conn`. Called only once what it acknowledges is durable.
    fn send(&mut self, conn: ConnId, msg: Message);
    /// Close `conn` after what was sent to it, for `reason`.
    fn close(&mut self, conn: ConnId, reason: CloseReason);
    /// An event from an output whose storage is durable, in order.
    fn event(&mut self, _event: &Event) {}
    /// A transaction finished (`Ok`: durable). Called after the runner's own bookkeeping,
    /// so [`Runner::unsaved`] is already current.
    fn committed(&mut self, _commit: &Commit, _result: Result<(), &StoreError>) {}
}

/// What one transaction held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Commit {
    /// Engine outputs whose writes it held.
    pub outputs: usize,
    /// Whether it wrote document content (not only sync progress): a UI re-renders then.
    pub content: bool,
}

/// An engine, the store its output is written to, and the outputs not yet carried out.
pub struct Runner<S, P: AccessPolicy = AllowAll> {
    engine: Engine<P>,
    store: S,
    queue: VecDeque<Output>,
    /// Outputs whose writes are in the transaction now in flight.
    in_flight: usize,
}

impl<S: Store + Clone, P: AccessPolicy> Runner<S, P> {
    pub fn new(engine: Engine<P>, store: S) -> Self {
        Runner {
            engine,
            store,
            queue: VecDeque::new(),
            in_flight: 0,
        }
    }

    pub fn engine(&self) -> &Engine<P> {
        &self.engine
    }

    /// For reads and configuration. Engine calls that return an [`Output`] go through
    /// [`Runner::step`] so their output is carried out.
    pub fn engine_mut(&mut self) -> &mut Engine<P> {
        &mut self.engine
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// Run one engine step and queue its output.
    pub fn step(&mut self, f: impl FnOnce(&mut Engine<P>) -> Output) {
        let out = f(&mut self.engine);
        self.push(out);
    }

    /// Run one engine step for connection `conn`, about `doc` if it names one, and queue its
    /// output. If the step panics (a bug, ours or automerge's, reached by what the peer sent)
    /// only `conn` is closed and `doc` is dropped from memory to be reloaded from storage
    /// ([`Engine::quarantine`]): everyone else carries on. Returns false if it panicked.
    ///
    /// Unwinding needs `panic = "unwind"` (native builds); the browser build aborts instead.
    pub fn step_for(
        &mut self,
        conn: ConnId,
        doc: Option<DocumentId>,
        now: Millis,
        f: impl FnOnce(&mut Engine<P>) -> Output,
    ) -> bool {
        // The engine is left mid-step, but quarantine forgets everything the step could
        // have touched: the connection's state and the one document it was about.
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut self.engine))) {
            Ok(out) => {
                self.push(out);
                true
            }
            Err(_) => {
                let out = self.engine.quarantine(conn, doc, now);
                self.push(out);
                false
            }
        }
    }

    /// Queue an output produced by the engine (e.g. by a fallible call such as `change`).
    pub fn push(&mut self, out: Output) {
        if !out.is_empty() {
            self.queue.push_back(out);
        }
    }

    /// Outputs queued and not yet carried out.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Outputs whose writes are not yet on disk (queued, or in the transaction in flight).
    pub fn unsaved(&self) -> usize {
        self.in_flight + self.queue.iter().filter(|o| !o.storage.is_empty()).count()
    }

    /// Outputs in order, up to and including the first that loads documents (what a load
    /// yields must go before anything queued later), and then any outputs right behind it
    /// that only load: nothing of theirs can go out before the loads ahead of them are
    /// answered, so their loads join the same concurrent round.
    fn next_batch(&mut self) -> Vec<Output> {
        let mut batch = Vec::new();
        while let Some(out) = self.queue.pop_front() {
            let loads = !out.loads.is_empty();
            batch.push(out);
            if loads {
                while batch.len() < MAX_GATHERED && self.queue.front().is_some_and(only_loads) {
                    batch.extend(self.queue.pop_front());
                }
                break;
            }
        }
        batch
    }

    /// [`Engine::loaded`], which also runs the work peers queued behind the load. If that
    /// panics, every connection that queued work for `doc` is a suspect: each is closed and
    /// the document dropped ([`Engine::quarantine`]). Our own work panicking is a bug in
    /// this program, not an attack: that panic continues.
    fn loaded(
        &mut self,
        doc: DocumentId,
        result: Result<Option<crate::StoredDocument>, StoreError>,
        now: Millis,
    ) -> Output {
        let suspects = self.engine.waiting_for(&doc);
        let engine = &mut self.engine;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            engine.loaded(doc, result, now)
        })) {
            Ok(out) => out,
            Err(panic) if suspects.is_empty() => std::panic::resume_unwind(panic),
            Err(_) => {
                let mut out = Output::default();
                for conn in suspects {
                    out.merge(self.engine.quarantine(conn, Some(doc), now));
                }
                out
            }
        }
    }

    /// After a failed commit of `written`: queued writes to those documents were built on
    /// state the engine is about to forget; drop them and what they would have sent.
    /// Deletions stay: they depend on no state, and dropping one would keep on this store a
    /// document the engine has already let go of ([`Engine::forget`]).
    fn drop_writes_to(&mut self, written: &BTreeSet<DocumentId>) {
        let stale = |op: &StorageOp| {
            written.contains(op.document()) && !matches!(op, StorageOp::DeleteDocument { .. })
        };
        for out in self.queue.iter_mut() {
            if out.storage.iter().any(stale) {
                out.storage.retain(|op| !stale(op));
                out.send.clear();
            }
        }
    }
}

/// Loads in flight at once within one batch: a request for a document not in memory (or a
/// flood of made-up ids) costs a database round trip, and one at a time a server on
/// PostgreSQL answered everyone else only after all of them. Eight is the default pool.
const CONCURRENT_LOADS: usize = 8;
/// Load-only outputs gathered into one batch (bounds what one round holds in memory).
const MAX_GATHERED: usize = 64;

fn only_loads(out: &Output) -> bool {
    !out.loads.is_empty()
        && out.storage.is_empty()
        && out.send.is_empty()
        && out.close.is_empty()
        && out.events.is_empty()
}

/// Shared access to a [`Runner`] that is never held across an `await`.
pub trait RunnerCell {
    type Store: Store + Clone;
    type Policy: AccessPolicy;
    fn with<R>(&self, f: impl FnOnce(&mut Runner<Self::Store, Self::Policy>) -> R) -> R;
}

impl<S: Store + Clone, P: AccessPolicy> RunnerCell for RefCell<Runner<S, P>> {
    type Store = S;
    type Policy = P;
    fn with<R>(&self, f: impl FnOnce(&mut Runner<S, P>) -> R) -> R {
        f(&mut self.borrow_mut())
    }
}

/// A runner borrowed for the duration of one synchronous drain (e.g. under a lock the
/// caller already holds, with a store whose futures never wait: see [`run_ready`]).
impl<S: Store + Clone, P: AccessPolicy> RunnerCell for RefCell<&mut Runner<S, P>> {
    type Store = S;
    type Policy = P;
    fn with<R>(&self, f: impl FnOnce(&mut Runner<S, P>) -> R) -> R {
        f(&mut self.borrow_mut())
    }
}

impl<S: Store + Clone, P: AccessPolicy> RunnerCell for Mutex<Runner<S, P>> {
    type Store = S;
    type Policy = P;
    fn with<R>(&self, f: impl FnOnce(&mut Runner<S, P>) -> R) -> R {
        // Each access leaves the runner between whole operations, so a panic elsewhere
        // while holding the lock does not leave it half-changed.
        f(&mut self.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Carry out everything queued (and everything that yields) until the queue is empty.
/// Returns the first storage error met, if any; work continues after it (the engine has
/// forgotten the unsaved state and closed the connections involved).
pub async fn drain<C: RunnerCell>(cell: &C, host: &mut impl Host) -> Result<(), StoreError> {
    let mut first_error = None;
    loop {
        let now = host.now();
        let (mut batch, store) = cell.with(|r| {
            // Changes from peers go on to the other peers once per batch (`coalesce_fanout`),
            // committed with it and sent after it.
            let fanout = r.engine.flush_fanout(now);
            r.push(fanout);
            (r.next_batch(), r.store.clone())
        });
        if batch.is_empty() {
            break;
        }
        let saving: Vec<bool> = batch.iter().map(|o| !o.storage.is_empty()).collect();
        let outputs = saving.iter().filter(|s| **s).count();
        if outputs > 0 {
            let written: BTreeSet<DocumentId> =
                batch.iter().flat_map(|o| o.documents_written()).collect();
            let ops: Vec<StorageOp> = batch
                .iter_mut()
                .flat_map(|o| std::mem::take(&mut o.storage))
                .collect();
            let commit = Commit {
                outputs,
                content: ops.iter().any(|op| !op.is_sync_progress()),
            };
            cell.with(|r| r.in_flight = outputs);
            let result = store.apply(ops).await;
            let now = host.now();
            let recovery = cell.with(|r| {
                r.in_flight = 0;
                result.is_err().then(|| {
                    r.drop_writes_to(&written);
                    r.engine.storage_failed(written, now)
                })
            });
            host.committed(&commit, result.as_ref().map(|_| ()));
            if let Err(e) = result {
                for (out, saved) in batch.iter_mut().zip(&saving) {
                    if *saved {
                        out.send.clear();
                    }
                }
                // First, so the connections involved close before anything else is sent.
                if let Some(recovery) = recovery {
                    batch.insert(0, recovery);
                }
                first_error.get_or_insert(e);
            }
        }
        let mut loads = Vec::new();
        for mut out in batch {
            loads.append(&mut out.loads);
            carry_out(out, host);
        }
        if loads.is_empty() {
            continue;
        }
        let store = &store;
        let results: Vec<_> = futures_util::stream::iter(loads)
            .map(|doc| async move { (doc, store.load(doc).await) })
            .buffered(CONCURRENT_LOADS)
            .collect()
            .await;
        let mut yielded = Vec::with_capacity(results.len());
        for (doc, result) in results {
            let now = host.now();
            yielded.push(cell.with(|r| r.loaded(doc, result, now)));
        }
        cell.with(|r| {
            for out in yielded.into_iter().rev() {
                if !out.is_empty() {
                    r.queue.push_front(out);
                }
            }
        });
    }
    first_error.map_or(Ok(()), Err)
}

/// Events, then messages, then closes, of an output whose storage is durable.
fn carry_out(out: Output, host: &mut impl Host) {
    for ev in &out.events {
        host.event(ev);
    }
    for (conn, msg) in out.send {
        host.send(conn, msg);
    }
    for (conn, reason) in out.close {
        host.close(conn, reason);
    }
}

/// Run a future that never waits (e.g. [`drain`] over a [`crate::MemoryStore`]) to
/// completion, for synchronous simulations and tests. Panics if it would wait.
pub fn run_ready<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("run_ready: the future waited"),
    }
}
