//! The storage queue: every engine [`Output`] is carried out here, in order, its storage
//! operations committed to IndexedDB before its messages leave (the same rule as on the
//! server). Kept in one module on purpose: the engine runner replaces it wholesale.

use std::collections::{BTreeSet, VecDeque};

use fieldbook_browser_store::Store;
use fieldbook_case::caseload;
use fieldbook_sync::{DocumentId, Event, Output, StorageOp};
use leptos::prelude::*;
use web_sys::WebSocket;

use super::{now, remember_server, Driver};

/// Outputs waiting to be carried out, and whether a drain is running.
#[derive(Default)]
pub(super) struct Queue {
    pub(super) queue: VecDeque<Output>,
    pub(super) draining: bool,
}

impl Driver {
    pub(super) fn enqueue(&self, out: Output) {
        {
            let mut inner = self.inner.borrow_mut();
            if !out.storage.is_empty() {
                self.signals.unsaved.update(|n| *n += 1);
            }
            inner.q.queue.push_back(out);
            if inner.q.draining {
                return;
            }
            inner.q.draining = true;
        }
        let this = self.clone();
        leptos::task::spawn_local(async move { this.drain().await });
    }

    /// The one place outputs are carried out, in order: store, then send. Everything queued
    /// is stored in one IndexedDB transaction (group commit, as the server does), so a burst
    /// of keystrokes costs one commit, not one each, and a keystroke waits at most for the
    /// transaction already in flight. The first batch starts in a microtask of the task that
    /// queued it (the keystroke's `input` event): its write is issued before the browser
    /// renders or handles the next key.
    pub(super) async fn drain(&self) {
        loop {
            let mut batch = self.next_batch();
            if batch.is_empty() {
                break;
            }
            let changed = self.store_batch(&mut batch).await;
            for out in batch {
                self.carry_out(out).await;
            }
            // Acknowledgements alone change no document: nothing to re-render.
            self.inner.borrow_mut().settle.render |= changed;
        }
        self.settle();
    }

    /// Queued outputs, oldest first, up to and including the first that loads documents
    /// (what a load yields goes to the front of the queue, before anything queued later).
    pub(super) fn next_batch(&self) -> Vec<Output> {
        let mut inner = self.inner.borrow_mut();
        let mut batch = Vec::new();
        while let Some(out) = inner.q.queue.pop_front() {
            let loads = !out.loads.is_empty();
            batch.push(out);
            if loads {
                break;
            }
        }
        if batch.is_empty() {
            inner.q.draining = false;
        }
        batch
    }

    /// Commit every storage operation of `batch`, in order, in one transaction. On failure the
    /// batch's messages never leave, the engine forgets the unsaved state, and writes queued
    /// since (built on that state) are dropped. Returns whether any document may have changed.
    pub(super) async fn store_batch(&self, batch: &mut Vec<Output>) -> bool {
        let changed = batch.iter().any(|o| {
            !o.events.is_empty()
                || !o.loads.is_empty()
                || o.storage
                    .iter()
                    .any(|op| !matches!(op, StorageOp::PutSyncState { .. }))
        });
        let saving: Vec<bool> = batch.iter().map(|o| !o.storage.is_empty()).collect();
        let count = saving.iter().filter(|s| **s).count();
        if count == 0 {
            return changed;
        }
        let written: BTreeSet<DocumentId> =
            batch.iter().flat_map(|o| o.documents_written()).collect();
        let ops: Vec<StorageOp> = batch
            .iter_mut()
            .flat_map(|o| std::mem::take(&mut o.storage))
            .collect();
        let store = self.inner.borrow().store.clone();
        let result = store.apply(ops).await;
        self.signals
            .unsaved
            .update(|n| *n = n.saturating_sub(count));
        let Err(e) = result else {
            return changed;
        };
        // Nothing unsaved may be acknowledged: forget it and drop the connections.
        self.signals
            .error
            .set(Some(format!("Could not save on this device: {e}")));
        for (out, saved) in batch.iter_mut().zip(&saving) {
            if *saved {
                out.send.clear();
            }
        }
        let dropped = {
            let mut inner = self.inner.borrow_mut();
            let mut dropped = 0;
            for out in inner.q.queue.iter_mut() {
                if out.storage.iter().any(|op| written.contains(op.document())) {
                    out.storage.retain(|op| !written.contains(op.document()));
                    out.send.clear();
                    dropped += usize::from(out.storage.is_empty());
                }
            }
            dropped
        };
        self.signals
            .unsaved
            .update(|n| *n = n.saturating_sub(dropped));
        let recovery = self
            .inner
            .borrow_mut()
            .engine
            .storage_failed(written, now());
        // First, so the connections involved close before anything else is sent.
        batch.insert(0, recovery);
        true
    }

    /// One output whose storage is already committed: loads, events, then messages.
    pub(super) async fn carry_out(&self, mut out: Output) {
        let store = self.inner.borrow().store.clone();
        for doc in std::mem::take(&mut out.loads) {
            let result = store.load(doc).await;
            let more = self.inner.borrow_mut().engine.loaded(doc, result, now());
            self.inner.borrow_mut().q.queue.push_front(more);
        }
        for ev in &out.events {
            match ev {
                Event::PeerJoined {
                    storage_id,
                    heartbeat,
                    ..
                } => {
                    let mut inner = self.inner.borrow_mut();
                    inner.monitor.joined(now(), *heartbeat);
                    if let Some(s) = storage_id
                        .as_ref()
                        .filter(|s| inner.server_storage.as_ref() != Some(*s))
                    {
                        remember_server(inner.store.clone(), s.clone());
                    }
                    inner.server_storage = storage_id.clone();
                    if let Some(s) = storage_id {
                        // Ask for the caseload index every time: the server sends what changed.
                        let index = caseload::index_id(s);
                        inner.index = Some(index);
                        let more = inner.engine.find(index, now());
                        inner.q.queue.push_back(more);
                    }
                }
                Event::LoadFailed { reason, .. } => self.signals.error.set(Some(reason.clone())),
                _ => {}
            }
        }
        let inner = self.inner.borrow();
        if let Some((conn, ws)) = &inner.ws {
            for (c, msg) in &out.send {
                if c == conn && ws.ready_state() == WebSocket::OPEN {
                    // Throws only if the socket is closing: its close event and the monitor
                    // handle that, and the engine resends what the server has not confirmed.
                    let _ = ws.send_with_u8_array(&msg.encode());
                }
            }
            if out.close.iter().any(|(c, _)| c == conn) {
                // Closing a socket that is already closing is a no-op; nothing to report.
                let _ = ws.close();
            }
        }
    }
}
