//! Once writes settle: what the banner says is waiting, and the caseload index (learn cases
//! from it, list this device's own). The decisions are plain Rust in `fieldbook_case`
//! (`status`, `caseload::reconcile`); this only feeds them and applies the result.

use fieldbook_case::caseload;
use fieldbook_case::status::RECOUNT_EVERY_MS;
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::{now, Driver};

impl Driver {
    /// Once writes settle (see `settle`): learn cases from the caseload index, list this
    /// device's own cases in it, and update progress, what is waiting, and the connection
    /// status.
    pub(super) fn refresh(&self) {
        self.reconcile_caseload();
        let t = now();
        let summary = {
            let mut guard = self.inner.borrow_mut();
            let inner = &mut *guard;
            let engine = inner.runner.engine();
            let server = inner.server_storage.as_ref();
            let docs = engine.loaded_documents().filter_map(|doc| {
                let am = engine.document(doc)?;
                // Unknown server (never connected): everything here is new to it.
                let confirmed = server
                    .and_then(|s| engine.confirmed_heads(doc, s))
                    .unwrap_or_default();
                Some((*doc, am, confirmed))
            });
            inner.waiting.update(docs, t)
        };
        if summary.stale {
            self.recount_later();
        }
        let (have, total) = self.signals.fetched.get_untracked();
        let fetching = have < total;
        self.inner
            .borrow_mut()
            .monitor
            .set_pending(summary.unconfirmed || fetching, t);
        let description = summary.description();
        if self.signals.waiting.get_untracked() != description {
            self.signals.waiting.set(description);
        }
        self.arm();
    }

    /// Count again once the throttle allows, so the last keystroke's count is not stale.
    pub(super) fn recount_later(&self) {
        if std::mem::replace(&mut self.inner.borrow_mut().recount_armed, true) {
            return;
        }
        let this = self.clone();
        let cb = Closure::once_into_js(move || {
            this.inner.borrow_mut().recount_armed = false;
            this.refresh();
        });
        // Fails only without a window (page unloading): nothing left to count for.
        let _ = web_sys::window()
            .expect("window")
            .set_timeout_with_callback_and_timeout_and_arguments_0(
                cb.unchecked_ref(),
                RECOUNT_EVERY_MS as i32,
            );
    }

    pub(super) fn reconcile_caseload(&self) {
        let plan = {
            let mut guard = self.inner.borrow_mut();
            let inner = &mut *guard;
            let loaded: Vec<_> = inner.runner.engine().loaded_documents().copied().collect();
            let known = self.signals.cases.get_untracked();
            let engine = inner.runner.engine();
            let plan = caseload::reconcile(inner.index, &loaded, &known, |d| engine.document(d));
            if let Some(p) = &plan {
                inner.index = Some(p.index);
            }
            plan
        };
        let Some(plan) = plan else { return };
        if self.signals.fetched.get_untracked() != plan.progress {
            self.signals.fetched.set(plan.progress);
        }
        for doc in plan.to_find {
            self.find(doc);
        }
        if !plan.to_list.is_empty() {
            let at = now() as i64;
            let listed = self.change(plan.index, |tx| {
                for doc in &plan.to_list {
                    caseload::add(tx, doc, at)?;
                }
                Ok(())
            });
            // Not the person's own action, but a case missing from the index is one a
            // colleague's new device will not find: say so rather than drop it.
            if let Err(e) = listed {
                self.signals.error.set(Some(format!(
                    "Could not add your new cases to the server's case list: {e}"
                )));
            }
        }
    }
}
