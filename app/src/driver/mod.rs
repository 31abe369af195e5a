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
//!
//! Sign-in (`docs/ACCESS.md`): the driver always opens the device's cases (so it can tell
//! whether any change is unsent), but dials only while someone is signed in. A connection
//! that fails before the server's `peer` message may be a refused session (the browser does
//! not show a WebSocket's HTTP 401), so the driver asks `GET /api/session` once per failed
//! attempt; a 401 stops dialling and tells the person to sign in again. Nothing on the
//! device is touched.

mod connection;
mod lockfacts;
mod queue;
mod refresh;
mod session;
mod settle;

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

use fieldbook_browser_store::{IdbStore, LockFacts, Store};
use fieldbook_case as case;
use fieldbook_case::account::{self, Account};
use fieldbook_case::status::Tracker;
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

/// The device's IndexedDB database, sealed (deleted when someone else takes the device
/// over, on signing out, and when an administrator removes the device).
pub const DATABASE: &str = "fieldbook-v2";

/// The unsealed database of earlier versions: deleted at start.
pub const OLD_DATABASE: &str = "fieldbook";

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
    /// Who is signed in on this device (the stored record; `signed_out` when they signed
    /// out on purpose). `None` before anyone has signed in here.
    pub account: RwSignal<Option<Account>>,
    /// The server ended this device's session (expired, ended elsewhere, device revoked):
    /// the person must sign in again to send their changes. Work on the device is kept.
    pub signed_out: RwSignal<bool>,
    /// Cases the server said are not available (absent, or not this person's) that the
    /// device does not hold.
    pub unavailable: RwSignal<BTreeSet<DocumentId>>,
    pub error: RwSignal<Option<String>>,
    /// Cases deleted from this device since it started because the caseload index stopped
    /// listing them (see `refresh`): their pages say so.
    pub removed: RwSignal<Vec<DocumentId>>,
    /// An administrator removed this device: its database has been deleted.
    pub device_removed: RwSignal<bool>,
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
    /// The signed-in person's caseload index document (from their account).
    index: Option<DocumentId>,
    monitor: Monitor,
    /// The pending `setTimeout` for the monitor's next wakeup.
    timer: Option<i32>,
    /// What is waiting, per document, and for which heads it was counted.
    waiting: Tracker,
    /// Documents a batch touched since they were last counted (written, loaded, or what the
    /// server confirmed of them moved: every such step writes to storage): only these are
    /// counted again, so a keystroke costs one document's count, not the caseload's.
    touched: BTreeSet<DocumentId>,
    /// Count every document at the next refresh (a connection opened or closed, a failed
    /// commit: what the server is known to have may have moved anywhere).
    touch_all: bool,
    /// The caseload index, or which cases are on the device, may have changed since the
    /// last reconcile (a document loaded, arrived or changed from the server): a local edit
    /// alone does not reconcile again.
    reconcile_due: bool,
    recount_armed: bool,
    settle: Settle,
    url: String,
    /// The browser's view of the network (its `online`/`offline` events).
    online: bool,
    /// Someone is signed in and the server has not said their session ended: the monitor
    /// dials only while this holds.
    may_dial: bool,
    /// The current connection has finished its handshake (the server's `peer` arrived).
    joined: bool,
    /// A `GET /api/session` is on its way.
    checking: bool,
    /// Sign-ins since start: a session check that was sent before the latest sign-in says
    /// nothing about it.
    sign_ins: u64,
    /// A document on the device could not be loaded, so whether it holds unsent changes is
    /// not known.
    load_failed: bool,
    /// What the caseload index has been seen to list (see `refresh`).
    listed: refresh::ListedCases,
    /// The plain facts kept readable while locked (ids and counters, see `device`).
    facts: LockFacts,
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

/// Whether `doc` holds changes `server` has not confirmed: its heads differ from the last
/// heads the server's sync state showed (no server known yet: any content is unsent).
fn unconfirmed(engine: &Engine, server: Option<&StorageId>, doc: &DocumentId) -> bool {
    let Some(am) = engine.document(doc) else {
        return false;
    };
    let confirmed = server
        .and_then(|s| engine.confirmed_heads(doc, s))
        .unwrap_or_default();
    !case::status::same_heads(&am.get_heads(), &confirmed)
}

impl Driver {
    /// Run over `store`, just unlocked (the only way to one: `Locked::create`/`unlock`).
    pub async fn start(store: IdbStore, sync_url: String) -> Result<Driver, String> {
        let facts = store.facts().await.map_err(|e| e.to_string())?;
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
            account: RwSignal::new(None),
            signed_out: RwSignal::new(false),
            unavailable: RwSignal::new(BTreeSet::new()),
            error: RwSignal::new(None),
            removed: RwSignal::new(Vec::new()),
            device_removed: RwSignal::new(false),
        };
        // A record this app cannot read (damaged, or written by a newer app) counts as no
        // record: the person signs in again, and the cases on the device are kept for them.
        let account = store
            .get_setting(account::SETTING)
            .await
            .map_err(|e| e.to_string())?
            .and_then(|json| Account::from_stored(&json).ok());
        let may_dial = account.as_ref().is_some_and(Account::is_signed_in);
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
        let _ = monitor.set_online(online && may_dial, now());
        let driver = Driver {
            inner: SendWrapper::new(Rc::new(RefCell::new(Inner {
                runner: Runner::new(Engine::new(cfg, AllowAll), Rc::new(store)),
                draining: false,
                ws: None,
                next_conn: 1,
                index: account.as_ref().map(|a| a.caseload),
                server_storage,
                monitor,
                timer: None,
                waiting: Tracker::default(),
                touched: BTreeSet::new(),
                touch_all: true,
                reconcile_due: true,
                recount_armed: false,
                settle: Settle::default(),
                url: sync_url,
                online,
                may_dial,
                joined: false,
                checking: false,
                sign_ins: 0,
                load_failed: false,
                listed,
                facts,
            }))),
            signals,
        };
        signals.account.set(account);
        signals.cases.set(docs.clone());
        for doc in docs {
            let out = driver.inner.borrow_mut().runner.engine_mut().open(doc);
            driver.enqueue(out);
        }
        driver.watch_network();
        driver.tick();
        Ok(driver)
    }

    /// Who to record as the author of a change made on this device: the signed-in
    /// person's display name (changes are made only while someone is signed in).
    pub fn author(&self) -> String {
        self.signals
            .account
            .with_untracked(|a| a.as_ref().map(|a| a.display_name.trim().to_owned()))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "Unnamed worker".to_owned())
    }

    /// Whether this person's caseload index marks `case` restricted (GDPR Art. 18: kept, read
    /// by named people only, changed by no one). Re-read on every revision.
    pub fn restricted(&self, case: &DocumentId) -> bool {
        self.index_says(|d| fieldbook_case::caseload::is_restricted(d, case))
    }

    /// Why this person may not change `case`, if the caseload index says they may not
    /// (restricted, or read-only access): the server would refuse the change.
    pub fn read_only(&self, case: &DocumentId) -> Option<&'static str> {
        if self.restricted(case) {
            Some("this case is restricted: nobody can change it while it is restricted")
        } else if self.index_says(|d| fieldbook_case::caseload::is_read_only(d, case)) {
            Some("you can read this case but not change it; ask its team manager for edit access")
        } else {
            None
        }
    }

    fn index_says(&self, f: impl FnOnce(&Automerge) -> bool) -> bool {
        self.with_index(f).unwrap_or(false)
    }

    /// Read the signed-in person's caseload index (None until it is on the device), e.g.
    /// who each case is allocated to (`fieldbook_case::caseload::allocation`).
    pub fn with_index<R>(&self, f: impl FnOnce(&Automerge) -> R) -> Option<R> {
        let index = self.inner.borrow().index?;
        self.with_doc(&index, f)
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
        // The server refuses changes to a case this person may only read (or nobody may
        // change: restricted); refusing here keeps such an edit from waiting for ever (and
        // blocking sign-out).
        let case_id = self
            .with_doc(&doc, case::network::case_of)
            .flatten()
            .unwrap_or(doc);
        if let Some(why) = self.read_only(&case_id) {
            return Err(why.to_owned());
        }
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

    /// Create a case and its relationships-and-places document (docs/ACCESS.md: a document
    /// of its own, so the server can keep it from colleagues who may read the case).
    pub fn create_case(&self, profile: &case::Profile) -> Result<DocumentId, String> {
        let (id, relationships) = (DocumentId::random(), DocumentId::random());
        let mut inner = self.inner.borrow_mut();
        let engine = inner.runner.engine_mut();
        let rel = engine
            .create_with_id(relationships, |tx| case::network::init(tx, &id), now())
            .map_err(|e| e.to_string())?;
        let made = engine
            .create_with_id(
                id,
                |tx| {
                    case::create(tx, profile)?;
                    case::network::link(tx, &relationships)
                },
                now(),
            )
            .map_err(|e| e.to_string())?;
        drop(inner);
        self.signals.cases.update(|c| c.push(id));
        self.enqueue(rel);
        self.enqueue(made);
        Ok(id)
    }

    /// Open a document this device may not have yet (e.g. a case from a link, or a case's
    /// relationships): local first, then the server. Only cases join the case list.
    pub fn fetch(&self, doc: DocumentId) {
        let out = self.inner.borrow_mut().runner.engine_mut().find(doc, now());
        self.enqueue(out);
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
