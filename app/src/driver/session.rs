//! Who is signed in, as far as the connection is concerned: dial only while someone is,
//! ask the server whether the session still holds when a connection fails before its
//! handshake, and stop (keeping everything on the device) when it does not. The decisions
//! are plain Rust in `fieldbook_case::account`.

use fieldbook_browser_store::{IdbStore, Store};
use fieldbook_case::account::{self, Account, Session};
use fieldbook_case::route::Route;
use leptos::prelude::*;

use super::{now, Driver, DATABASE};
use crate::http;

impl Driver {
    /// Tell the monitor whether it may be online: the browser is, and someone is signed in.
    pub(super) fn apply_network(&self) {
        let actions = {
            let mut inner = self.inner.borrow_mut();
            let up = inner.online && inner.may_dial;
            inner.monitor.set_online(up, now())
        };
        self.perform(actions);
        self.arm();
    }

    /// A connection failed before the server's `peer` (or could not open): if the reason is
    /// an ended session, only `GET /api/session` can say so. At most one check is under way,
    /// and each failed attempt asks at most once, so backoff paces the checks too.
    pub(super) fn check_session(&self) {
        let asked_at = {
            let mut inner = self.inner.borrow_mut();
            if !inner.may_dial || std::mem::replace(&mut inner.checking, true) {
                return;
            }
            inner.sign_ins
        };
        let this = self.clone();
        leptos::task::spawn_local(async move {
            let answer = http::call("GET", "/api/session", None).await;
            let current = {
                let mut inner = this.inner.borrow_mut();
                inner.checking = false;
                inner.sign_ins == asked_at && inner.may_dial
            };
            // No answer is just offline, as before sign-in existed: the monitor retries.
            let Ok(answer) = answer else { return };
            if current && account::session_answer(answer.status, &answer.body) == Session::Ended {
                this.session_ended();
            }
        });
    }

    /// The server no longer accepts this device's session: stop dialling and say so. The
    /// cases stay on screen and every unsent change stays on the device.
    fn session_ended(&self) {
        self.inner.borrow_mut().may_dial = false;
        self.signals.signed_out.set(true);
        self.apply_network();
    }

    /// `account` has just signed in (the server said so): remember them on the device,
    /// follow their caseload, and dial at once so unsent changes go.
    pub async fn signed_in(&self, mut account: Account) -> Result<(), String> {
        account.signed_out = false;
        let store = self.inner.borrow().runner.store().clone();
        store
            .put_setting(account::SETTING, &account.to_stored())
            .await
            .map_err(|e| e.to_string())?;
        let redial = {
            let mut inner = self.inner.borrow_mut();
            inner.may_dial = true;
            inner.sign_ins += 1;
            inner.index = Some(account.caseload);
            !inner.monitor.is_connected()
        };
        self.signals.account.set(Some(account));
        self.signals.signed_out.set(false);
        if redial {
            // Down with backoff, or dialling with the old session: start over now.
            let actions = self.inner.borrow_mut().monitor.set_online(false, now());
            self.perform(actions);
        }
        self.apply_network();
        Ok(())
    }

    /// The person signed out (the server has ended the session): keep everything on the
    /// device, stop connecting, and show no case until they sign in again.
    pub async fn signed_out_on_purpose(&self) -> Result<(), String> {
        let Some(mut account) = self.signals.account.get_untracked() else {
            return Ok(());
        };
        account.signed_out = true;
        self.inner.borrow_mut().may_dial = false;
        self.apply_network();
        let store = self.inner.borrow().runner.store().clone();
        store
            .put_setting(account::SETTING, &account.to_stored())
            .await
            .map_err(|e| e.to_string())?;
        self.signals.account.set(Some(account));
        self.signals.signed_out.set(false);
        Ok(())
    }

    /// Whether the device holds changes the server has not confirmed (what the banner
    /// counts as waiting, over every document). `None` while documents are still being
    /// opened or saved, when it cannot tell yet.
    pub fn unsent(&self) -> Option<bool> {
        let inner = self.inner.borrow();
        let engine = inner.runner.engine();
        if engine.loading_count() > 0 || inner.runner.queued() > 0 || inner.draining {
            return None;
        }
        if inner.load_failed {
            return Some(true);
        }
        let server = inner.server_storage.as_ref();
        let unsent = engine.loaded_documents().any(|doc| {
            let Some(am) = engine.document(doc) else {
                return false;
            };
            let mut confirmed = server
                .and_then(|s| engine.confirmed_heads(doc, s))
                .unwrap_or_default();
            let mut heads = am.get_heads();
            heads.sort();
            confirmed.sort();
            heads != confirmed
        });
        Some(unsent)
    }

    /// Someone else has signed in and nothing of the last person's is unsent: delete the
    /// device's database, keep only the new person's account, and reload into a fresh app.
    pub async fn hand_over(&self, mut account: Account) -> Result<(), String> {
        account.signed_out = false;
        self.inner.borrow_mut().may_dial = false;
        self.apply_network();
        let store = self.inner.borrow().runner.store().clone();
        // The deletion waits for every connection to close, this page's included.
        store.close_connection();
        IdbStore::delete_database(DATABASE)
            .await
            .map_err(|e| e.to_string())?;
        let fresh = IdbStore::open(DATABASE).await.map_err(|e| e.to_string())?;
        fresh
            .put_setting(account::SETTING, &account.to_stored())
            .await
            .map_err(|e| e.to_string())?;
        fresh.close();
        let location = web_sys::window().expect("window").location();
        // Both throw only for a detached document, where there is nothing left to show.
        let _ = location.set_hash(&Route::Cases.to_hash());
        let _ = location.reload();
        Ok(())
    }
}
