//! Once writes settle: what the banner says is waiting, and the caseload index (fetch the
//! cases it lists, delete the ones it stopped listing). The decisions are plain Rust in
//! `fieldbook_case` (`status`, `caseload::reconcile`); this only feeds them and applies the
//! result. Devices never write the index: the server does (docs/ACCESS.md).

use fieldbook_browser_store::{IdbStore, Store};
use fieldbook_case::caseload::{self, Listed};
use fieldbook_case::status::RECOUNT_EVERY_MS;
use fieldbook_sync::{DocumentId, Output};
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::{now, Driver};

/// What this device has seen its caseload index list ([`Listed`]), and whether the store
/// has it yet.
#[derive(Default)]
pub(super) struct ListedCases {
    record: Listed,
    unsaved: bool,
}

impl ListedCases {
    /// Read from the store at start-up. A record that cannot be read counts as nothing seen:
    /// nothing is deleted until the index has been seen listing it again, which fails safe
    /// (a case kept too long, never one deleted wrongly).
    pub(super) async fn load(store: &IdbStore) -> ListedCases {
        let record = match store.get_setting(Listed::SETTING).await {
            Ok(Some(json)) => Listed::from_json(&json).unwrap_or_default(),
            Ok(None) | Err(_) => Listed::default(),
        };
        ListedCases {
            record,
            unsaved: false,
        }
    }
}

impl Driver {
    /// Once writes settle (see `settle`): fetch the cases the caseload index lists, delete
    /// the ones it stopped listing, and update progress, what is waiting, and the connection
    /// status.
    pub(super) fn refresh(&self) {
        if std::mem::take(&mut self.inner.borrow_mut().reconcile_due) {
            self.reconcile_caseload();
        } else {
            // A failed write of the listed record is retried after the next batch.
            self.save_listed();
        }
        let t = now();
        let summary = self.count_waiting(t);
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
        self.note_unsent();
        self.arm();
    }

    /// Count what is waiting in the documents touched since the last count (every document
    /// after a connection opened or closed), see `Inner::touched`.
    pub(super) fn count_waiting(&self, t: u64) -> fieldbook_case::status::Summary {
        let mut guard = self.inner.borrow_mut();
        let inner = &mut *guard;
        let engine = inner.runner.engine();
        let server = inner.server_storage.as_ref();
        // Unknown server (never connected): everything here is new to it.
        let confirmed = |doc: &DocumentId| {
            server
                .and_then(|s| engine.confirmed_heads(doc, s))
                .unwrap_or_default()
        };
        let touched = std::mem::take(&mut inner.touched);
        if std::mem::take(&mut inner.touch_all) {
            let docs = engine
                .loaded_documents()
                .filter_map(|doc| Some((*doc, engine.document(doc)?, confirmed(doc))));
            inner.waiting.update(docs, t)
        } else {
            let get = |doc: &DocumentId| engine.document(doc).map(|am| (am, confirmed(doc)));
            inner.waiting.recount(touched, get, t)
        }
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
            let plan =
                caseload::reconcile(inner.index, &loaded, &known, &inner.listed.record, |d| {
                    engine.document(d)
                });
            if let Some(p) = &plan {
                inner.index = Some(p.index);
                if inner.listed.record.index != Some(p.index) || !p.newly_listed.is_empty() {
                    inner.listed.record.record(p.index, &p.newly_listed);
                    inner.listed.unsaved = true;
                }
            }
            plan
        };
        let Some(plan) = plan else { return };
        if self.signals.fetched.get_untracked() != plan.progress {
            self.signals.fetched.set(plan.progress);
        }
        if !plan.to_find.is_empty() && !self.signals.removed.with_untracked(Vec::is_empty) {
            // Listed again: it is being fetched, not gone.
            self.signals
                .removed
                .update(|r| r.retain(|d| !plan.to_find.contains(d)));
        }
        for doc in plan.to_find {
            self.find(doc);
        }
        if !plan.to_delete.is_empty() {
            self.delete_cases(&plan.to_delete);
        }
        self.save_listed();
    }

    /// Delete cases (and their relationships documents) from this device: out of memory at
    /// once, out of IndexedDB in one commit (the runner's), off the case list. A page showing one says it is no longer here.
    fn delete_cases(&self, docs: &[DocumentId]) {
        let out = {
            let mut inner = self.inner.borrow_mut();
            let t = now();
            let mut out = Output::default();
            for doc in docs {
                // Its relationships-and-places document goes with it.
                let part = inner
                    .runner
                    .engine()
                    .document(doc)
                    .and_then(fieldbook_case::network::linked);
                out.merge(inner.runner.engine_mut().forget(*doc, t));
                if let Some(part) = part {
                    out.merge(inner.runner.engine_mut().forget(part, t));
                }
            }
            out
        };
        self.enqueue(out);
        self.signals
            .cases
            .update(|c| c.retain(|d| !docs.contains(d)));
        self.signals.removed.update(|r| {
            for doc in docs {
                if !r.contains(doc) {
                    r.push(*doc);
                }
            }
        });
    }

    /// Write the listed record if it changed. A failed write is retried after the next
    /// batch; until it succeeds, a case listed since the last write and unlisted before the
    /// app restarts would be kept (the safe way to be wrong).
    fn save_listed(&self) {
        let (store, json) = {
            let mut inner = self.inner.borrow_mut();
            if !std::mem::take(&mut inner.listed.unsaved) {
                return;
            }
            (inner.runner.store().clone(), inner.listed.record.to_json())
        };
        let this = self.clone();
        leptos::task::spawn_local(async move {
            if store.put_setting(Listed::SETTING, &json).await.is_err() {
                this.inner.borrow_mut().listed.unsaved = true;
            }
        });
    }
}
