//! Carrying out engine output in the browser: the engine's one runner
//! ([`fieldbook_sync::runner`], the same loop the server and the native client use) over
//! IndexedDB. This module is only the page's side of it: the WebSocket, the signals, and
//! what a joined server means for the caseload.

use std::cell::RefCell;
use std::rc::Rc;

use fieldbook_browser_store::IdbStore;
use fieldbook_sync::{
    drain, AllowAll, CloseReason, Commit, ConnId, DocumentId, Event, Host, Message, Output, Runner,
    RunnerCell, StoreError,
};
use leptos::prelude::*;
use web_sys::WebSocket;

use super::{now, remember_server, Driver, Inner};

/// The runner inside the driver's state, borrowed only between awaits.
struct Cell<'a>(&'a RefCell<Inner>);

impl RunnerCell for Cell<'_> {
    type Store = Rc<IdbStore>;
    type Policy = AllowAll;
    fn with<R>(&self, f: impl FnOnce(&mut Runner<Rc<IdbStore>>) -> R) -> R {
        f(&mut self.0.borrow_mut().runner)
    }
}

/// The page's side of the runner.
struct Page<'a> {
    driver: &'a Driver,
    /// A document may have changed (so the page re-renders once writes settle).
    changed: bool,
}

impl Host for Page<'_> {
    fn now(&self) -> u64 {
        now()
    }

    fn send(&mut self, conn: ConnId, msg: Message) {
        let inner = self.driver.inner.borrow();
        if let Some((c, ws)) = &inner.ws {
            if *c == conn && ws.ready_state() == WebSocket::OPEN {
                // Throws only if the socket is closing: its close event and the monitor
                // handle that, and the engine resends what the server has not confirmed.
                let _ = ws.send_with_u8_array(&msg.encode());
            }
        }
    }

    fn close(&mut self, conn: ConnId, _reason: CloseReason) {
        let inner = self.driver.inner.borrow();
        if let Some((c, ws)) = &inner.ws {
            if *c == conn {
                // Closing a socket that is already closing is a no-op; nothing to report.
                let _ = ws.close();
            }
        }
    }

    fn event(&mut self, event: &Event) {
        self.changed = true;
        if let Some(doc) = event_document(event) {
            let mut inner = self.driver.inner.borrow_mut();
            inner.touched.insert(doc);
            inner.reconcile_due = true;
        }
        match event {
            Event::PeerJoined {
                storage_id,
                heartbeat,
                ..
            } => {
                let mut inner = self.driver.inner.borrow_mut();
                // Another server (or the same one again): count everything afresh.
                inner.touch_all = true;
                inner.reconcile_due = true;
                inner.monitor.joined(now(), *heartbeat);
                inner.joined = true;
                let driver = self.driver.clone();
                // After this event's borrow: it records the contact and asks for the policy.
                leptos::task::spawn_local(async move { driver.reached_server() });
                if let Some(s) = storage_id
                    .as_ref()
                    .filter(|s| inner.server_storage.as_ref() != Some(*s))
                {
                    remember_server(inner.runner.store().clone(), s.clone());
                }
                inner.server_storage = storage_id.clone();
                // The signed-in person's own index (from their account). Asked for every
                // time: the server sends what changed.
                if let Some(index) = inner.index {
                    inner.runner.step(|e| e.find(index, now()));
                }
            }
            Event::LoadFailed { reason, .. } => {
                self.driver.inner.borrow_mut().load_failed = true;
                self.driver.signals.error.set(Some(reason.to_string()))
            }
            Event::DocumentUnavailable { doc, .. } => {
                let held = self
                    .driver
                    .inner
                    .borrow()
                    .runner
                    .engine()
                    .document(doc)
                    .is_some();
                let unavailable = self.driver.signals.unavailable;
                if !held && !unavailable.with_untracked(|u| u.contains(doc)) {
                    unavailable.update(|u| {
                        u.insert(*doc);
                    });
                }
            }
            Event::DocumentChanged { doc, .. } => {
                let unavailable = self.driver.signals.unavailable;
                if unavailable.with_untracked(|u| u.contains(doc)) {
                    unavailable.update(|u| {
                        u.remove(doc);
                    });
                }
            }
            _ => {}
        }
    }

    fn committed(&mut self, commit: &Commit, result: Result<(), &StoreError>) {
        self.changed |= commit.content;
        let unsaved = self.driver.inner.borrow().runner.unsaved();
        self.driver.signals.unsaved.set(unsaved);
        if let Err(e) = result {
            // The runner has already kept it from being acknowledged and closed the
            // connection; the person must know it is not on the device.
            self.changed = true;
            // What was unsaved was forgotten, in whichever documents: count them all.
            self.driver.inner.borrow_mut().touch_all = true;
            self.driver
                .signals
                .error
                .set(Some(format!("Could not save on this device: {e}")));
        }
    }
}

/// The document an event is about (loaded, arrived or changed from the server, gone).
fn event_document(event: &Event) -> Option<DocumentId> {
    match event {
        Event::DocumentChanged { doc, .. }
        | Event::DocumentLoaded { doc, .. }
        | Event::DocumentUnavailable { doc, .. }
        | Event::DocumentEvicted { doc }
        | Event::LoadFailed { doc, .. } => Some(*doc),
        _ => None,
    }
}

impl Driver {
    /// Queue an engine output; a drain starts in a microtask of the task that queued it (the
    /// keystroke's `input` event), so the write is issued before the browser renders or
    /// handles the next key. Everything queued meanwhile is stored in one IndexedDB
    /// transaction (group commit): a burst of keystrokes costs one commit, not one each.
    pub(super) fn enqueue(&self, out: Output) {
        {
            let mut inner = self.inner.borrow_mut();
            // Whatever moves a document's heads or what the server confirmed of it writes
            // to storage (a chunk, a sync state, a deletion): those documents are recounted.
            let written: Vec<DocumentId> = out.storage.iter().map(|op| *op.document()).collect();
            inner.touched.extend(written);
            inner.runner.push(out);
            self.signals.unsaved.set(inner.runner.unsaved());
            if inner.draining {
                return;
            }
            inner.draining = true;
        }
        let this = self.clone();
        leptos::task::spawn_local(async move { this.drain().await });
    }

    async fn drain(&self) {
        let mut page = Page {
            driver: self,
            changed: false,
        };
        // A failed commit is shown by `committed`; the runner carries on with the rest.
        let _ = drain(&Cell(&self.inner), &mut page).await;
        let changed = page.changed;
        {
            // No await since the runner found the queue empty: nothing was queued unseen.
            let mut inner = self.inner.borrow_mut();
            inner.draining = false;
            inner.settle.render |= changed;
        }
        self.settle();
    }
}
