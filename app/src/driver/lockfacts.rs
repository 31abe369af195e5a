//! The driver's side of the lock (see `crate::device`): which cases hold unsent changes
//! (ids only) and when the server was last reached, kept in the plain lock facts; waiting
//! for writes before locking; and deleting the device's database.

use fieldbook_browser_store::{IdbStore, LockFacts};
use fieldbook_sync::DocumentId;
use leptos::prelude::*;

use super::{Driver, DATABASE};
use crate::device::Record;
use crate::http;

impl Driver {
    /// Change the lock facts and store them (in the order changed).
    pub(super) fn update_facts(&self, f: impl FnOnce(&mut LockFacts) -> bool) {
        let (store, facts) = {
            let mut inner = self.inner.borrow_mut();
            if !f(&mut inner.facts) {
                return;
            }
            (inner.runner.store().clone(), inner.facts.clone())
        };
        let error = self.signals.error;
        leptos::task::spawn_local(async move {
            if let Err(e) = store.put_facts(&facts).await {
                error.set(Some(format!("Could not save on this device: {e}")));
            }
        });
    }

    /// Documents whose heads the server has not confirmed (as last counted: call after
    /// `count_waiting`), plus those still recorded as unsent that are not loaded yet (so
    /// opening the device never forgets one).
    fn unsent_ids(&self) -> Vec<DocumentId> {
        let inner = self.inner.borrow();
        let engine = inner.runner.engine();
        let mut ids: Vec<DocumentId> = inner.waiting.unconfirmed().copied().collect();
        ids.extend(
            inner
                .facts
                .unsent
                .iter()
                .filter(|d| engine.document(d).is_none()),
        );
        fieldbook_sync::order::sort(&mut ids);
        ids.dedup();
        ids
    }

    /// Record which cases hold unsent changes, if that changed (after writes settle).
    pub(super) fn note_unsent(&self) {
        let ids = self.unsent_ids();
        self.update_facts(|f| {
            let changed = f.unsent != ids;
            f.unsent = ids;
            changed
        });
    }

    /// Record the unsent cases now and wait until stored (before locking).
    pub async fn save_unsent(&self) {
        // Up to date with every write so far, whatever the throttle of the banner's count.
        self.count_waiting(super::now());
        let ids = self.unsent_ids();
        let (store, facts) = {
            let mut inner = self.inner.borrow_mut();
            inner.facts.unsent = ids;
            (inner.runner.store().clone(), inner.facts.clone())
        };
        if let Err(e) = store.put_facts(&facts).await {
            self.signals
                .error
                .set(Some(format!("Could not save on this device: {e}")));
        }
    }

    /// Resolves once every queued write has committed to IndexedDB.
    pub async fn settled(&self) {
        loop {
            let busy = {
                let inner = self.inner.borrow();
                inner.draining || inner.runner.queued() > 0
            };
            if !busy {
                return;
            }
            next_turn(10).await;
        }
    }

    /// The server's handshake arrived: the lease starts again; refresh the device policy
    /// (and learn at once if this device was removed).
    pub(super) fn reached_server(&self) {
        let t = js_sys::Date::now();
        self.update_facts(|f| {
            f.last_contact_ms = Some(t);
            true
        });
        let this = self.clone();
        leptos::task::spawn_local(async move {
            // No answer: the policy stays as stored; the next connection asks again.
            if let Ok(answer) = http::call("GET", "/api/session", None).await {
                this.session_said(answer.status, &answer.body);
            }
        });
    }

    /// Act on a `GET /api/session` answer: keep the policy current, wipe a removed device.
    /// True if the session has ended (for any reason).
    pub(super) fn session_said(&self, status: u16, body: &str) -> bool {
        match status {
            200 => {
                let record = Record::from_session_body(body).to_json();
                self.update_facts(|f| {
                    let changed = f.policy.as_deref() != Some(&record);
                    f.policy = Some(record);
                    changed
                });
                false
            }
            401 => {
                let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
                if v["reason"] == fieldbook_case::account::REASON_DEVICE_REVOKED {
                    self.device_removed();
                }
                true
            }
            _ => false,
        }
    }

    /// An administrator removed this device: delete everything on it, unsent changes too
    /// (the device is presumed lost), and say so.
    fn device_removed(&self) {
        if self.signals.device_removed.get_untracked() {
            return;
        }
        self.inner.borrow_mut().may_dial = false;
        self.apply_network();
        let this = self.clone();
        leptos::task::spawn_local(async move {
            if let Err(e) = this.delete_database().await {
                this.signals.error.set(Some(e));
            }
            this.signals.device_removed.set(true);
        });
    }

    /// Close this page's connection and delete the device's database.
    pub async fn delete_database(&self) -> Result<(), String> {
        self.settled().await;
        let store = self.inner.borrow().runner.store().clone();
        // The deletion waits for every connection to close, this page's included.
        store.close_connection();
        IdbStore::delete_database(DATABASE)
            .await
            .map_err(|e| format!("Could not delete this device's copy: {e}"))
    }

    /// Set a new passcode (after signing in again with a forgotten or erased one).
    pub async fn set_passcode(&self, passcode: &str) -> Result<(), String> {
        let store = self.inner.borrow().runner.store().clone();
        store
            .set_passcode(passcode)
            .await
            .map_err(|e| e.to_string())?;
        self.update_facts(|f| {
            f.failed_attempts = 0;
            true
        });
        Ok(())
    }

    /// The device policy as last stored.
    pub fn record(&self) -> Record {
        Record::of(&self.inner.borrow().facts)
    }
}

/// A promise resolved after `ms` (waiting between checks of the write queue).
pub async fn next_turn(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        // Fails only without a window (page unloading): the promise then never resolves.
        let _ = web_sys::window()
            .expect("window")
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
    });
    // A timeout's promise only resolves.
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}
