//! Who is signed in, as far as the connection is concerned: dial only while someone is,
//! ask the server whether the session still holds when a connection fails before its
//! handshake, and stop (keeping everything on the device) when it does not. The decisions
//! are plain Rust in `fieldbook_case::account`.

use fieldbook_browser_store::Store;
use fieldbook_case::account::{self, Account, Session};
use fieldbook_case::route::Route;
use leptos::prelude::*;

use super::{now, Driver};
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
            this.session_said(answer.status, &answer.body);
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
            inner.reconcile_due = true;
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
        let unsent = engine
            .loaded_documents()
            .any(|doc| super::unconfirmed(engine, server, doc));
        Some(unsent)
    }

    /// Someone else has signed in and nothing of the last person's is unsent: delete the
    /// device's database and reload into a fresh app, where they sign in and choose a
    /// passcode (the last person's keys leave with the page).
    pub async fn hand_over(&self, _account: Account) -> Result<(), String> {
        self.inner.borrow_mut().may_dial = false;
        self.apply_network();
        self.delete_database().await?;
        let location = web_sys::window().expect("window").location();
        // Both throw only for a detached document, where there is nothing left to show.
        let _ = location.set_hash(&Route::Cases.to_hash());
        let _ = location.reload();
        Ok(())
    }

    /// Sign out of this device: refused while anything is unsent; otherwise end the
    /// session (if the server can be reached: offline, the device is still emptied) and
    /// delete the device's database. The caller reloads into the sign-in page.
    pub async fn sign_out_of_device(&self) -> Result<(), String> {
        self.settled().await;
        match self.unsent() {
            None => {
                return Err(
                    "Fieldbook is still opening or saving the cases on this device. Try again in a moment."
                        .to_owned(),
                )
            }
            Some(true) => {
                return Err("You cannot sign out yet: this device has changes that have not been sent. Connect to the internet and wait until everything is sent, then sign out.".to_owned())
            }
            Some(false) => {}
        }
        self.inner.borrow_mut().may_dial = false;
        self.apply_network();
        // Offline (no answer), the session ends on its own; the device is emptied anyway.
        if let Ok(answer) = http::call("DELETE", "/api/session", None).await {
            if !matches!(answer.status, 200 | 204 | 401) {
                return Err(format!(
                    "Fieldbook's server could not sign you out (error {}). Try again in a few minutes.",
                    answer.status
                ));
            }
        }
        self.delete_database().await
    }
}
