//! Drives the shared sync engine in the browser: IndexedDB underneath, a WebSocket to the
//! server, and signals for the UI on top. Every engine [`Output`] goes through one queue so
//! its storage writes commit before its messages leave (the same rule as on the server).

use std::cell::RefCell;
use std::collections::{BTreeSet, VecDeque};
use std::rc::Rc;

use fieldbook_browser_store::{IdbStore, LocalStore};
use fieldbook_case::{self as case, caseload};
use fieldbook_sync::automerge::transaction::Transaction;
use fieldbook_sync::automerge::{Automerge, AutomergeError};
use fieldbook_sync::{
    AllowAll, ConnId, DocumentId, Engine, EngineConfig, Event, Identity, Output, PeerId, Role,
    StorageId,
};
use leptos::prelude::*;
use send_wrapper::SendWrapper;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Offline,
    Connecting,
    Syncing,
    UpToDate,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Offline => "Offline",
            Status::Connecting => "Connecting",
            Status::Syncing => "Syncing",
            Status::UpToDate => "Up to date",
        }
    }
}

/// What the UI watches.
#[derive(Clone, Copy)]
pub struct Signals {
    pub status: RwSignal<Status>,
    /// Bumped whenever any document changes, locally or from the server.
    pub revision: RwSignal<u64>,
    /// Changes on this device the server has not confirmed yet.
    pub unsent: RwSignal<usize>,
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
    server_storage: Option<StorageId>,
    /// The caseload index document, once known (from the server's storage id, or found locally).
    index: Option<DocumentId>,
    retry: u32,
    queue: VecDeque<Output>,
    draining: bool,
    url: String,
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
            revision: RwSignal::new(0),
            unsent: RwSignal::new(0),
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
        let driver = Driver {
            inner: SendWrapper::new(Rc::new(RefCell::new(Inner {
                engine: Engine::new(cfg, AllowAll),
                store: Rc::new(store),
                ws: None,
                next_conn: 1,
                server_storage: None,
                index: None,
                retry: 0,
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
        driver.connect();
        driver.watch_network();
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

    pub fn change<F>(&self, doc: DocumentId, f: F) -> Result<(), String>
    where
        F: FnOnce(&mut Transaction<'_>) -> Result<(), AutomergeError>,
    {
        let out = self
            .inner
            .borrow_mut()
            .engine
            .change(doc, f, now())
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

    /// The one place outputs are carried out, in order: store, then send.
    async fn drain(&self) {
        loop {
            let next = {
                let mut inner = self.inner.borrow_mut();
                match inner.queue.pop_front() {
                    Some(o) => o,
                    None => {
                        inner.draining = false;
                        break;
                    }
                }
            };
            self.carry_out(next).await;
        }
        self.refresh();
    }

    async fn carry_out(&self, mut out: Output) {
        let store = self.inner.borrow().store.clone();
        if !out.storage.is_empty() {
            let written = out.documents_written();
            let result = store.apply(std::mem::take(&mut out.storage)).await;
            self.signals.unsaved.update(|n| *n = n.saturating_sub(1));
            if let Err(e) = result {
                // Nothing unsaved may be acknowledged: forget it and drop the connection.
                self.signals
                    .error
                    .set(Some(format!("Could not save on this device: {e}")));
                let recovery = self
                    .inner
                    .borrow_mut()
                    .engine
                    .storage_failed(written, now());
                out = recovery;
            }
        }
        for doc in std::mem::take(&mut out.loads) {
            let result = store.load(doc).await.map_err(|e| e.to_string());
            let more = self.inner.borrow_mut().engine.loaded(doc, result, now());
            self.inner.borrow_mut().queue.push_front(more);
        }
        for ev in &out.events {
            match ev {
                Event::PeerJoined { storage_id, .. } => {
                    let mut inner = self.inner.borrow_mut();
                    inner.server_storage = storage_id.clone();
                    inner.retry = 0;
                    if let Some(s) = storage_id {
                        // Ask for the caseload index every time: the server sends what changed.
                        let index = caseload::index_id(s);
                        inner.index = Some(index);
                        let more = inner.engine.find(index, now());
                        inner.queue.push_back(more);
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
                    let _ = ws.send_with_u8_array(&msg.encode());
                }
            }
            if out.close.iter().any(|(c, _)| c == conn) {
                let _ = ws.close();
            }
        }
        drop(inner);
        self.signals.revision.update(|r| *r += 1);
    }

    /// After every batch: learn cases from the caseload index, list this device's own cases
    /// in it, and update progress and status.
    fn refresh(&self) {
        self.reconcile_caseload();
        let inner = self.inner.borrow();
        let docs: Vec<DocumentId> = inner.engine.loaded_documents().copied().collect();
        let unsent = match &inner.server_storage {
            Some(s) => docs
                .iter()
                .map(|d| inner.engine.unconfirmed_changes(d, s))
                .sum(),
            None => docs
                .iter()
                .filter_map(|d| inner.engine.document(d))
                .map(|d| d.get_changes(&[]).len())
                .sum(),
        };
        let (have, total) = self.signals.fetched.get_untracked();
        let fetching = have < total;
        let status = match &inner.ws {
            None => Status::Offline,
            Some((_, ws)) if ws.ready_state() != WebSocket::OPEN => Status::Connecting,
            Some(_) if inner.server_storage.is_none() => Status::Connecting,
            Some(_) if unsent > 0 => Status::Syncing,
            Some(_) if fetching => Status::Syncing,
            Some(_) => Status::UpToDate,
        };
        drop(inner);
        self.signals.unsent.set(unsent);
        self.signals.status.set(status);
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

    fn connect(&self) {
        let url = self.inner.borrow().url.clone();
        let ws = match WebSocket::new(&url) {
            Ok(ws) => ws,
            Err(_) => return self.schedule_reconnect(),
        };
        ws.set_binary_type(BinaryType::Arraybuffer);
        let conn = {
            let mut inner = self.inner.borrow_mut();
            let conn = ConnId(inner.next_conn);
            inner.next_conn += 1;
            inner.ws = Some((conn, ws.clone()));
            inner.server_storage = None;
            conn
        };
        self.signals.status.set(Status::Connecting);

        let this = self.clone();
        let onopen = Closure::<dyn FnMut()>::new(move || {
            let out =
                this.inner
                    .borrow_mut()
                    .engine
                    .connect(conn, Identity("server".into()), now());
            this.enqueue(out);
        });
        ws.set_onopen(Some(onopen.as_ref().unchecked_ref()));
        onopen.forget();

        let this = self.clone();
        let onmessage = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            if let Ok(buf) = e.data().dyn_into::<js_sys::ArrayBuffer>() {
                let bytes = js_sys::Uint8Array::new(&buf).to_vec();
                let out = this.inner.borrow_mut().engine.receive(conn, &bytes, now());
                this.enqueue(out);
            }
        });
        ws.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
        onmessage.forget();

        let this = self.clone();
        let onclose = Closure::<dyn FnMut(CloseEvent)>::new(move |_: CloseEvent| {
            let current = this.inner.borrow().ws.as_ref().map(|(c, _)| *c) == Some(conn);
            if current {
                this.inner.borrow_mut().ws = None;
                let out = this.inner.borrow_mut().engine.disconnect(conn, now());
                this.enqueue(out);
                this.schedule_reconnect();
            }
        });
        ws.set_onclose(Some(onclose.as_ref().unchecked_ref()));
        onclose.forget();
    }

    /// Exponential backoff (1 s … 30 s) with full jitter, so many phones regaining signal at
    /// once do not all dial in the same instant.
    fn schedule_reconnect(&self) {
        let delay = {
            let mut inner = self.inner.borrow_mut();
            inner.retry = (inner.retry + 1).min(6);
            let cap = (1000u32 << (inner.retry - 1)).min(30_000);
            (js_sys::Math::random() * cap as f64) as i32 + 250
        };
        self.signals.status.set(Status::Offline);
        let this = self.clone();
        let cb = Closure::once_into_js(move || {
            if this.inner.borrow().ws.is_none() {
                this.connect();
            }
        });
        let _ = web_sys::window()
            .expect("window")
            .set_timeout_with_callback_and_timeout_and_arguments_0(cb.unchecked_ref(), delay);
    }

    /// Dial at once when the phone says it is back online.
    fn watch_network(&self) {
        let this = self.clone();
        let cb = Closure::<dyn FnMut()>::new(move || {
            this.inner.borrow_mut().retry = 0;
            if this.inner.borrow().ws.is_none() {
                this.connect();
            }
        });
        let _ = web_sys::window()
            .expect("window")
            .add_event_listener_with_callback("online", cb.as_ref().unchecked_ref());
        cb.forget();
    }
}
