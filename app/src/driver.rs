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

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;

use fieldbook_browser_store::{IdbStore, Store};
use fieldbook_case::pending::{self, Waiting};
use fieldbook_case::{self as case, caseload};
use fieldbook_sync::automerge::transaction::Transaction;
use fieldbook_sync::automerge::{Automerge, AutomergeError, ChangeHash};
use fieldbook_sync::health::{self, Action, Monitor, Policy};
use fieldbook_sync::{
    AllowAll, ConnId, DocumentId, Engine, EngineConfig, Event, Identity, Message, Output, PeerId,
    Role, StorageId, StorageOp,
};
use leptos::prelude::*;
use send_wrapper::SendWrapper;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

/// The connection as the header shows it (see `fieldbook_sync::health::Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Offline,
    Connecting,
    Sending,
    EverythingSent,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Offline => "Offline",
            Status::Connecting => "Connecting…",
            Status::Sending => "Sending…",
            Status::EverythingSent => "Everything sent",
        }
    }

    pub fn class(self) -> &'static str {
        match self {
            Status::Offline => "fb-status fb-status-offline",
            Status::Connecting => "fb-status fb-status-connecting",
            Status::Sending => "fb-status fb-status-sending",
            Status::EverythingSent => "fb-status fb-status-uptodate",
        }
    }
}

/// The setting that remembers the server's storage id, so what is waiting can be counted
/// after a reload with no signal.
const SERVER_STORAGE: &str = "server-storage-id";
/// A document's "what is waiting" is recomputed at most this often while it keeps changing
/// (a diff over the whole document; typing must stay quick in a long case).
const RECOUNT_EVERY_MS: u64 = 1_000;
/// Re-rendering and `refresh` both walk whole documents: run after every keystroke's save,
/// they keep the page busy when the next key arrives (and its save starts late). So after
/// the first write following a pause they run at once, but while writes keep coming (a burst
/// of typing) they wait until writes pause this long…
const SETTLE_QUIET_MS: f64 = 250.0;
/// …or at most this long.
const SETTLE_AT_MOST_MS: f64 = 1_000.0;

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
}

struct Inner {
    engine: Engine,
    store: Rc<IdbStore>,
    ws: Option<(ConnId, WebSocket)>,
    next_conn: u64,
    /// The server's storage id: from its `peer` message, remembered on the device.
    server_storage: Option<StorageId>,
    /// The caseload index document, once known (from the server's storage id, or found locally).
    index: Option<DocumentId>,
    monitor: Monitor,
    /// The pending `setTimeout` for the monitor's next wakeup.
    timer: Option<i32>,
    /// Per document: what is waiting, and for which heads it was counted.
    counts: BTreeMap<DocumentId, Count>,
    recount_armed: bool,
    settle: Settle,
    queue: VecDeque<Output>,
    draining: bool,
    url: String,
}

/// Re-rendering and bookkeeping owed after writes (see [`SETTLE_QUIET_MS`]).
#[derive(Default)]
struct Settle {
    /// A document may have changed since the last re-render.
    render: bool,
    /// When the latest batch of writes was carried out (ms since the epoch).
    active: f64,
    /// When the oldest batch not yet settled was carried out.
    since: f64,
    /// A timer will settle; later batches join it.
    armed: bool,
}

struct Count {
    heads: Vec<ChangeHash>,
    confirmed: Vec<ChangeHash>,
    waiting: Waiting,
    at: u64,
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
        };
        let docs = store.list_documents().await.map_err(|e| e.to_string())?;
        let server_storage = store
            .get_setting(SERVER_STORAGE)
            .await
            .ok()
            .flatten()
            .filter(|s| !s.is_empty())
            .map(StorageId);
        let seed = (js_sys::Math::random() * u32::MAX as f64) as u64;
        let mut monitor = Monitor::new(Policy::default(), seed);
        let online = web_sys::window().is_none_or(|w| w.navigator().on_line());
        let _ = monitor.set_online(online, now());
        let driver = Driver {
            inner: SendWrapper::new(Rc::new(RefCell::new(Inner {
                engine: Engine::new(cfg, AllowAll),
                store: Rc::new(store),
                ws: None,
                next_conn: 1,
                index: server_storage.as_ref().map(caseload::index_id),
                server_storage,
                monitor,
                timer: None,
                counts: BTreeMap::new(),
                recount_armed: false,
                settle: Settle::default(),
                queue: VecDeque::new(),
                draining: false,
                url: sync_url,
            }))),
            signals,
        };
        signals.cases.set(docs.clone());
        for doc in docs {
            let out = driver.inner.borrow_mut().engine.open(doc);
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
        let store = self.inner.borrow().store.clone();
        store
            .put_setting("author", name.trim())
            .await
            .map_err(|e| e.to_string())?;
        self.signals.author.set(name.trim().to_owned());
        Ok(())
    }

    /// Read a document (None until loaded).
    pub fn with_doc<R>(&self, doc: &DocumentId, f: impl FnOnce(&Automerge) -> R) -> Option<R> {
        self.inner.borrow().engine.document(doc).map(f)
    }

    pub fn create<F>(&self, init: F) -> Result<DocumentId, String>
    where
        F: FnOnce(&mut Transaction<'_>) -> Result<(), AutomergeError>,
    {
        let (doc, out) = self
            .inner
            .borrow_mut()
            .engine
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
            .engine
            .change(doc, edit, now())
            .map_err(|e| e.to_string())?;
        self.enqueue(out);
        Ok(())
    }

    /// Open a case this device may not have yet (e.g. from a link): local first, then the server.
    pub fn find(&self, doc: DocumentId) {
        let out = self.inner.borrow_mut().engine.find(doc, now());
        if !self.signals.cases.get_untracked().contains(&doc) {
            self.signals.cases.update(|c| c.push(doc));
        }
        self.enqueue(out);
    }

    fn enqueue(&self, out: Output) {
        {
            let mut inner = self.inner.borrow_mut();
            if !out.storage.is_empty() {
                self.signals.unsaved.update(|n| *n += 1);
            }
            inner.queue.push_back(out);
            if inner.draining {
                return;
            }
            inner.draining = true;
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
    async fn drain(&self) {
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

    /// After a batch: re-render (if a document changed) and refresh now if writes had paused,
    /// else once they pause (see [`SETTLE_QUIET_MS`]). A lone click shows at once; a burst of
    /// keystrokes is saved key by key and re-rendered when it ends.
    fn settle(&self) {
        let t = js_sys::Date::now();
        let now_too = {
            let mut inner = self.inner.borrow_mut();
            let s = &mut inner.settle;
            let paused = t - s.active >= SETTLE_QUIET_MS;
            s.active = t;
            if s.armed {
                return;
            }
            if !paused {
                s.since = t;
                s.armed = true;
            }
            paused
        };
        if now_too {
            self.settle_now();
        } else {
            self.settle_after(SETTLE_QUIET_MS);
        }
    }

    fn settle_after(&self, delay: f64) {
        let this = self.clone();
        let cb = Closure::once_into_js(move || {
            let t = js_sys::Date::now();
            let due = {
                let s = &this.inner.borrow().settle;
                (s.active + SETTLE_QUIET_MS).min(s.since + SETTLE_AT_MOST_MS)
            };
            if t + 1.0 < due {
                return this.settle_after(due - t);
            }
            this.inner.borrow_mut().settle.armed = false;
            this.settle_now();
        });
        let _ = web_sys::window()
            .expect("window")
            .set_timeout_with_callback_and_timeout_and_arguments_0(
                cb.unchecked_ref(),
                delay.ceil() as i32,
            );
    }

    fn settle_now(&self) {
        let render = std::mem::take(&mut self.inner.borrow_mut().settle.render);
        if render {
            self.signals.revision.update(|r| *r += 1);
        }
        self.refresh();
    }

    /// Queued outputs, oldest first, up to and including the first that loads documents
    /// (what a load yields goes to the front of the queue, before anything queued later).
    fn next_batch(&self) -> Vec<Output> {
        let mut inner = self.inner.borrow_mut();
        let mut batch = Vec::new();
        while let Some(out) = inner.queue.pop_front() {
            let loads = !out.loads.is_empty();
            batch.push(out);
            if loads {
                break;
            }
        }
        if batch.is_empty() {
            inner.draining = false;
        }
        batch
    }

    /// Commit every storage operation of `batch`, in order, in one transaction. On failure the
    /// batch's messages never leave, the engine forgets the unsaved state, and writes queued
    /// since (built on that state) are dropped. Returns whether any document may have changed.
    async fn store_batch(&self, batch: &mut Vec<Output>) -> bool {
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
            for out in inner.queue.iter_mut() {
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
    async fn carry_out(&self, mut out: Output) {
        let store = self.inner.borrow().store.clone();
        for doc in std::mem::take(&mut out.loads) {
            let result = store.load(doc).await;
            let more = self.inner.borrow_mut().engine.loaded(doc, result, now());
            self.inner.borrow_mut().queue.push_front(more);
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
                        inner.queue.push_back(more);
                    }
                }
                Event::LoadFailed { reason, .. } => {
                    self.signals.error.set(Some(reason.to_string()))
                }
                _ => {}
            }
        }
        let inner = self.inner.borrow();
        if let Some((conn, ws)) = &inner.ws {
            for (c, msg) in &out.send {
                if c == conn && ws.ready_state() == WebSocket::OPEN {
                    let _ = ws.send_with_u8_array(&msg.encode());
                }
            }
            if out.close.iter().any(|(c, _)| c == conn) {
                let _ = ws.close();
            }
        }
    }

    /// Once writes settle (see `settle`): learn cases from the caseload index, list this
    /// device's own cases in it, and update progress, what is waiting, and the connection
    /// status.
    fn refresh(&self) {
        self.reconcile_caseload();
        let t = now();
        let (waiting, unconfirmed, stale) = {
            let mut guard = self.inner.borrow_mut();
            let inner = &mut *guard;
            let mut total = Waiting::default();
            let mut unconfirmed = false;
            let mut stale = false;
            let docs: Vec<DocumentId> = inner.engine.loaded_documents().copied().collect();
            inner.counts.retain(|d, _| docs.contains(d));
            for doc in docs {
                let Some(am) = inner.engine.document(&doc) else {
                    continue;
                };
                let heads = am.get_heads();
                // Unknown server (never connected): everything here is new to it.
                let confirmed = match &inner.server_storage {
                    Some(s) => inner.engine.confirmed_heads(&doc, s).unwrap_or_default(),
                    None => Vec::new(),
                };
                if same_heads(&heads, &confirmed) {
                    inner.counts.remove(&doc);
                    continue;
                }
                unconfirmed = true;
                let fresh = inner
                    .counts
                    .get(&doc)
                    .is_some_and(|c| c.heads == heads && c.confirmed == confirmed);
                let recent = inner
                    .counts
                    .get(&doc)
                    .is_some_and(|c| t.saturating_sub(c.at) < RECOUNT_EVERY_MS);
                if !fresh && !recent {
                    let waiting = pending::waiting(am, &confirmed);
                    inner.counts.insert(
                        doc,
                        Count {
                            heads,
                            confirmed,
                            waiting,
                            at: t,
                        },
                    );
                } else if !fresh {
                    stale = true;
                }
                if let Some(c) = inner.counts.get(&doc) {
                    total.add(&c.waiting);
                }
            }
            (total, unconfirmed, stale)
        };
        if stale {
            self.recount_later();
        }
        let (have, total) = self.signals.fetched.get_untracked();
        let fetching = have < total;
        self.inner
            .borrow_mut()
            .monitor
            .set_pending(unconfirmed || fetching, t);
        let description = waiting.describe().or_else(|| {
            // Changes that are not records (e.g. a newer app's schema number) still wait.
            unconfirmed.then(|| "Changes".to_owned())
        });
        if self.signals.waiting.get_untracked() != description {
            self.signals.waiting.set(description);
        }
        self.arm();
    }

    /// Count again once the throttle allows, so the last keystroke's count is not stale.
    fn recount_later(&self) {
        if std::mem::replace(&mut self.inner.borrow_mut().recount_armed, true) {
            return;
        }
        let this = self.clone();
        let cb = Closure::once_into_js(move || {
            this.inner.borrow_mut().recount_armed = false;
            this.refresh();
        });
        let _ = web_sys::window()
            .expect("window")
            .set_timeout_with_callback_and_timeout_and_arguments_0(
                cb.unchecked_ref(),
                RECOUNT_EVERY_MS as i32,
            );
    }

    fn reconcile_caseload(&self) {
        let (to_find, to_list, index) = {
            let mut inner = self.inner.borrow_mut();
            if inner.index.is_none() {
                // Offline since install: the index is whichever local document is one.
                let found = inner
                    .engine
                    .loaded_documents()
                    .copied()
                    .find(|d| inner.engine.document(d).is_some_and(caseload::is_caseload));
                inner.index = found;
            }
            let Some(index) = inner.index else { return };
            // Only edit an index that came from the server: never start a competing one.
            let Some(listed) = inner
                .engine
                .document(&index)
                .filter(|d| caseload::is_caseload(*d))
                .map(caseload::case_ids)
            else {
                return;
            };
            // Runs after every batch (each keystroke): sets keep it linear in the caseload.
            let known: BTreeSet<DocumentId> =
                self.signals.cases.get_untracked().into_iter().collect();
            let listed_set: BTreeSet<DocumentId> = listed.iter().copied().collect();
            let has_content = |d: &DocumentId| {
                inner
                    .engine
                    .document(d)
                    .is_some_and(|a| !a.get_heads().is_empty())
            };
            let have = listed.iter().filter(|d| has_content(d)).count();
            let progress = (have, listed.len());
            if self.signals.fetched.get_untracked() != progress {
                self.signals.fetched.set(progress);
            }
            let to_find: Vec<DocumentId> = listed
                .iter()
                .filter(|d| !known.contains(d))
                .copied()
                .collect();
            let to_list: Vec<DocumentId> = known
                .iter()
                .filter(|d| !listed_set.contains(d) && **d != index)
                .filter(|d| inner.engine.document(d).is_some_and(case::is_case))
                .copied()
                .collect();
            (to_find, to_list, index)
        };
        for doc in to_find {
            self.find(doc);
        }
        if !to_list.is_empty() {
            let at = now() as i64;
            let _ = self.change(index, |tx| {
                for doc in &to_list {
                    caseload::add(tx, doc, at)?;
                }
                Ok(())
            });
        }
    }

    /// Run the monitor: carry out what is due, show the status, and wake up when it next
    /// has something to do.
    fn tick(&self) {
        let actions = self.inner.borrow_mut().monitor.tick(now());
        self.perform(actions);
        self.arm();
    }

    fn perform(&self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Dial => self.dial(),
                Action::Ping => {
                    let inner = self.inner.borrow();
                    if let Some((_, ws)) = &inner.ws {
                        if ws.ready_state() == WebSocket::OPEN {
                            let _ = ws.send_with_u8_array(&Message::Heartbeat.encode());
                        }
                    }
                }
                Action::Close(reason) => {
                    // The monitor already counts it as closed: forget the socket first, so
                    // its close event is not reported again.
                    let Some((conn, ws)) = self.inner.borrow_mut().ws.take() else {
                        continue;
                    };
                    let _ = ws.close_with_code_and_reason(1000, reason.describe());
                    let out = self.inner.borrow_mut().engine.disconnect(conn, now());
                    self.enqueue(out);
                }
            }
        }
    }

    /// (Re)arm the one timer for the monitor's next wakeup, and show the current status.
    fn arm(&self) {
        let window = web_sys::window().expect("window");
        let (wake, old) = {
            let mut inner = self.inner.borrow_mut();
            (inner.monitor.next_wakeup(), inner.timer.take())
        };
        if let Some(old) = old {
            window.clear_timeout_with_handle(old);
        }
        if let Some(at) = wake {
            let this = self.clone();
            let cb = Closure::once_into_js(move || {
                this.inner.borrow_mut().timer = None;
                this.tick();
            });
            let delay = at.saturating_sub(now()).min(i32::MAX as u64) as i32;
            self.inner.borrow_mut().timer = window
                .set_timeout_with_callback_and_timeout_and_arguments_0(cb.unchecked_ref(), delay)
                .ok();
        }
        self.show_status();
    }

    fn show_status(&self) {
        let (status, sent_at) = match self.inner.borrow().monitor.status() {
            health::Status::Offline => (Status::Offline, None),
            health::Status::Connecting => (Status::Connecting, None),
            health::Status::Sending => (Status::Sending, None),
            health::Status::EverythingSent { at } => (Status::EverythingSent, Some(at)),
        };
        if self.signals.status.get_untracked() != status {
            self.signals.status.set(status);
        }
        if self.signals.sent_at.get_untracked() != sent_at {
            self.signals.sent_at.set(sent_at);
        }
    }

    /// Open a WebSocket to the server (the monitor said to).
    fn dial(&self) {
        let url = self.inner.borrow().url.clone();
        let ws = match WebSocket::new(&url) {
            Ok(ws) => ws,
            Err(_) => {
                self.inner.borrow_mut().monitor.closed(now());
                return;
            }
        };
        ws.set_binary_type(BinaryType::Arraybuffer);
        let conn = {
            let mut inner = self.inner.borrow_mut();
            let conn = ConnId(inner.next_conn);
            inner.next_conn += 1;
            inner.ws = Some((conn, ws.clone()));
            conn
        };
        let current = {
            let this = self.clone();
            move || this.inner.borrow().ws.as_ref().map(|(c, _)| *c) == Some(conn)
        };

        let this = self.clone();
        let is_current = current.clone();
        let onopen = Closure::<dyn FnMut()>::new(move || {
            if !is_current() {
                return;
            }
            let out = {
                let mut inner = this.inner.borrow_mut();
                inner.monitor.opened(now());
                inner.engine.connect(conn, Identity("server".into()), now())
            };
            this.enqueue(out);
            this.arm();
        });
        ws.set_onopen(Some(onopen.as_ref().unchecked_ref()));
        onopen.forget();

        let this = self.clone();
        let is_current = current.clone();
        let onmessage = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            if !is_current() {
                return;
            }
            if let Ok(buf) = e.data().dyn_into::<js_sys::ArrayBuffer>() {
                let bytes = js_sys::Uint8Array::new(&buf).to_vec();
                this.inner.borrow_mut().monitor.received(now());
                if Message::is_heartbeat(&bytes) {
                    // Alive; nothing for the engine. The next wakeup moved: re-arm.
                    return this.arm();
                }
                let out = this.inner.borrow_mut().engine.receive(conn, &bytes, now());
                this.enqueue(out);
            }
        });
        ws.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
        onmessage.forget();

        let this = self.clone();
        let onclose = Closure::<dyn FnMut(CloseEvent)>::new(move |_: CloseEvent| {
            if !current() {
                return;
            }
            let out = {
                let mut inner = this.inner.borrow_mut();
                inner.ws = None;
                inner.monitor.closed(now());
                inner.engine.disconnect(conn, now())
            };
            this.enqueue(out);
            this.arm();
        });
        ws.set_onclose(Some(onclose.as_ref().unchecked_ref()));
        onclose.forget();
    }

    /// Follow the browser's view of the network: `offline` shows Offline and closes the
    /// connection at once; `online` dials at once.
    fn watch_network(&self) {
        let window = web_sys::window().expect("window");
        for (event, online) in [("online", true), ("offline", false)] {
            let this = self.clone();
            let cb = Closure::<dyn FnMut()>::new(move || {
                let actions = this.inner.borrow_mut().monitor.set_online(online, now());
                this.perform(actions);
                this.arm();
            });
            let _ = window.add_event_listener_with_callback(event, cb.as_ref().unchecked_ref());
            cb.forget();
        }
    }
}

fn same_heads(a: &[ChangeHash], b: &[ChangeHash]) -> bool {
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort();
    b.sort();
    a == b
}

/// Remember the server's storage id on the device (best effort: it is learnt again at the
/// next connection).
fn remember_server(store: Rc<IdbStore>, id: StorageId) {
    leptos::task::spawn_local(async move {
        let _ = store.put_setting(SERVER_STORAGE, &id.0).await;
    });
}
