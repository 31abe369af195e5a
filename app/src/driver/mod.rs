//! Drives the shared sync engine in the browser: IndexedDB underneath, a WebSocket to the
//! server, and signals for the UI on top. Every engine [`Output`] goes through one queue so
//! its storage writes commit before its messages leave (the same rule as on the server).
//!
//! The connection is run by [`Monitor`] (`fieldbook_sync::health`): it dials, heartbeats
//! (`fieldbook-heartbeat` after 1.5 idle seconds, to a server that advertises it), declares
//! a silent connection dead after 3.5, reconnects with backoff, and follows the browser's
//! `online`/`offline` events. What is waiting to send is counted in records
//! (`fieldbook_case::pending`) against the heads the server is known to have, which works
//! offline because the server's storage id is remembered on the device.

mod connection;
mod queue;
mod refresh;
mod settle;

use std::cell::RefCell;
use std::rc::Rc;

use fieldbook_browser_store::{IdbStore, Store};
use fieldbook_case::status::Tracker;
use fieldbook_case::{self as case, caseload};
use fieldbook_sync::automerge::transaction::Transaction;
use fieldbook_sync::automerge::{Automerge, AutomergeError};
use fieldbook_sync::health::{Monitor, Policy};
use fieldbook_sync::{
    AllowAll, ConnId, DocumentId, Engine, EngineConfig, PeerId, Role, Runner, StorageId,
};
use leptos::prelude::*;
use send_wrapper::SendWrapper;
use web_sys::WebSocket;

pub use fieldbook_case::status::Status;
use settle::Settle;

/// The setting that remembers the server's storage id, so what is waiting can be counted
/// after a reload with no signal.
const SERVER_STORAGE: &str = "server-storage-id";

/// What the UI watches.
#[derive(Clone, Copy)]
pub struct Signals {
    pub status: RwSignal<Status>,
    /// When the server last confirmed everything (shown with `Status::EverythingSent`).
    pub sent_at: RwSignal<Option<u64>>,
    /// What on this device the server has not confirmed, in records ("1 note"); `None` if
    /// nothing is waiting.
    pub waiting: RwSignal<Option<String>>,
    /// Bumped whenever any document changes, locally or from the server.
    pub revision: RwSignal<u64>,
    /// Writes queued but not yet committed to IndexedDB (0 = everything is on the device).
    pub unsaved: RwSignal<usize>,
    pub cases: RwSignal<Vec<DocumentId>>,
    /// Cases in the server's caseload index that are on this device, and how many it lists.
    pub fetched: RwSignal<(usize, usize)>,
    /// The practitioner's name on this device, recorded with safety-critical changes.
    pub author: RwSignal<String>,
    pub error: RwSignal<Option<String>>,
    /// Cases deleted from this device since it started because the caseload index stopped
    /// listing them (see `refresh`): their pages say so.
    pub removed: RwSignal<Vec<DocumentId>>,
}

struct Inner {
    /// The engine, the store and the outputs not yet carried out (see `queue`).
    runner: Runner<Rc<IdbStore>>,
    /// A drain of the runner's queue is running (see `queue`).
    draining: bool,
    ws: Option<(ConnId, WebSocket)>,
    next_conn: u64,
    /// The server's storage id: from its `peer` message, remembered on the device.
    server_storage: Option<StorageId>,
    /// The caseload index document, once known (from the server's storage id, or found locally).
    index: Option<DocumentId>,
    monitor: Monitor,
    /// The pending `setTimeout` for the monitor's next wakeup.
    timer: Option<i32>,
    /// What is waiting, per document, and for which heads it was counted.
    waiting: Tracker,
    recount_armed: bool,
    settle: Settle,
    url: String,
    /// What the caseload index has been seen to list (see `refresh`).
    listed: refresh::ListedCases,
}

/// Cheap to clone. `SendWrapper` satisfies the UI framework's `Send` bounds; the browser
/// runs all of this on one thread, and touching it from another would panic loudly.
#[derive(Clone)]
pub struct Driver {
    inner: SendWrapper<Rc<RefCell<Inner>>>,
    pub signals: Signals,
}

fn now() -> u64 {
    js_sys::Date::now() as u64
}

impl Driver {
    pub async fn start(sync_url: String) -> Result<Driver, String> {
        let store = IdbStore::open("fieldbook")
            .await
            .map_err(|e| e.to_string())?;
        let cfg = EngineConfig::new(
            Role::Client,
            PeerId::random("fieldbook-pwa"),
            Some(store.storage_id().clone()),
        );
        let signals = Signals {
            status: RwSignal::new(Status::Offline),
            sent_at: RwSignal::new(None),
            waiting: RwSignal::new(None),
            revision: RwSignal::new(0),
            unsaved: RwSignal::new(0),
            cases: RwSignal::new(Vec::new()),
            fetched: RwSignal::new((0, 0)),
            author: RwSignal::new(
                store
                    .get_setting("author")
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or_default(),
            ),
            error: RwSignal::new(None),
            removed: RwSignal::new(Vec::new()),
        };
        let docs = store.list_documents().await.map_err(|e| e.to_string())?;
        let server_storage = store
            .get_setting(SERVER_STORAGE)
            .await
            .ok()
            .flatten()
            .filter(|s| !s.is_empty())
            .map(StorageId);
        let listed = refresh::ListedCases::load(&store).await;
        let seed = (js_sys::Math::random() * u32::MAX as f64) as u64;
        let mut monitor = Monitor::new(Policy::default(), seed);
        let online = web_sys::window().is_none_or(|w| w.navigator().on_line());
        // A new monitor has no connection to close, and `tick` below dials: nothing to do.
        let _ = monitor.set_online(online, now());
        let driver = Driver {
            inner: SendWrapper::new(Rc::new(RefCell::new(Inner {
                runner: Runner::new(Engine::new(cfg, AllowAll), Rc::new(store)),
                draining: false,
                ws: None,
                next_conn: 1,
                index: server_storage.as_ref().map(caseload::index_id),
                server_storage,
                monitor,
                timer: None,
                waiting: Tracker::default(),
                recount_armed: false,
                settle: Settle::default(),
                url: sync_url,
                listed,
            }))),
            signals,
        };
        signals.cases.set(docs.clone());
        for doc in docs {
            let out = driver.inner.borrow_mut().runner.engine_mut().open(doc);
            driver.enqueue(out);
        }
        driver.watch_network();
        driver.tick();
        Ok(driver)
    }

    /// Who to record as the author of a change made on this device.
    pub fn author(&self) -> String {
        let name = self.signals.author.get_untracked();
        if name.trim().is_empty() {
            "Unnamed worker".to_owned()
        } else {
            name.trim().to_owned()
        }
    }

    /// Remember the practitioner's name on this device.
    pub async fn set_author(&self, name: String) -> Result<(), String> {
        let store = self.inner.borrow().runner.store().clone();
        store
            .put_setting("author", name.trim())
            .await
            .map_err(|e| e.to_string())?;
        self.signals.author.set(name.trim().to_owned());
        Ok(())
    }

    /// Read a document (None until loaded).
    pub fn with_doc<R>(&self, doc: &DocumentId, f: impl FnOnce(&Automerge) -> R) -> Option<R> {
        self.inner.borrow().runner.engine().document(doc).map(f)
    }

    pub fn create<F>(&self, init: F) -> Result<DocumentId, String>
    where
        F: FnOnce(&mut Transaction<'_>) -> Result<(), AutomergeError>,
    {
        let (doc, out) = self
            .inner
            .borrow_mut()
            .runner
            .engine_mut()
            .create(init, now())
            .map_err(|e| e.to_string())?;
        self.signals.cases.update(|c| c.push(doc));
        self.enqueue(out);
        Ok(doc)
    }

    /// Apply one user action. An older case gets this schema's version number in the same
    /// change: opening or reading a document never writes to it.
    pub fn change<F>(&self, doc: DocumentId, f: F) -> Result<(), String>
    where
        F: FnOnce(&mut Transaction<'_>) -> Result<(), AutomergeError>,
    {
        let edit = |tx: &mut Transaction<'_>| {
            if case::is_case(tx) {
                case::migrate(tx)?;
            }
            f(tx)
        };
        let out = self
            .inner
            .borrow_mut()
            .runner
            .engine_mut()
            .change(doc, edit, now())
            .map_err(|e| e.to_string())?;
        self.enqueue(out);
        Ok(())
    }

    /// Open a case this device may not have yet (e.g. from a link): local first, then the server.
    pub fn find(&self, doc: DocumentId) {
        let out = self.inner.borrow_mut().runner.engine_mut().find(doc, now());
        if !self.signals.cases.get_untracked().contains(&doc) {
            self.signals.cases.update(|c| c.push(doc));
        }
        self.enqueue(out);
    }

    /// Apply one user action and tell the person if it could not be saved. True if applied.
    pub fn act<F>(&self, doc: DocumentId, f: F) -> bool
    where
        F: FnOnce(&mut Transaction<'_>) -> Result<(), AutomergeError>,
    {
        match self.change(doc, f) {
            Ok(()) => true,
            Err(e) => {
                self.signals
                    .error
                    .set(Some(format!("Could not save this change: {e}")));
                false
            }
        }
    }

    /// Apply a user action on one item (a writer that returns false when the item is not
    /// there: removed on another device, a stale link, a version already submitted). If it
    /// is not, the person is told `gone` rather than seeing their change silently vanish.
    /// True only if the item was changed.
    pub fn act_on<F>(&self, doc: DocumentId, gone: &str, f: F) -> bool
    where
        F: FnOnce(&mut Transaction<'_>) -> Result<bool, AutomergeError>,
    {
        let mut found = false;
        let applied = self.act(doc, |tx| {
            found = f(tx)?;
            Ok(())
        });
        if applied && !found {
            self.signals.error.set(Some(gone.to_owned()));
        }
        applied && found
    }
}

/// Remember the server's storage id on the device (best effort: it is learnt again at the
/// next connection).
fn remember_server(store: Rc<IdbStore>, id: StorageId) {
    leptos::task::spawn_local(async move {
        // Best effort (see above): a failure costs only the offline count after a reload.
        let _ = store.put_setting(SERVER_STORAGE, &id.0).await;
    });
}
