//! A native Fieldbook sync peer: the shared engine driven over a tokio WebSocket.
//!
//! Used by integration tests, benchmarks and command-line tools. Its document store is in
//! memory ([`MemoryStore`]) for the life of the process: it is a test and tool peer, not the
//! product's persistence (the server and the browser app have durable stores).
//!
//! Connection health follows [`fieldbook_sync::health`]: after 1.5 s with nothing received
//! the client sends a WebSocket Ping (every server answers Pong), and after 3.5 s
//! it declares the connection dead and closes it ([`Client::wait_disconnected`] reports
//! why). It reconnects only when told to ([`Client::connect`]): tests and tools decide.

pub mod auth;

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fieldbook_sync::automerge::{transaction::Transaction, Automerge, AutomergeError};
use fieldbook_sync::health::{Beat, Heartbeat, Policy};
use fieldbook_sync::runner::run_ready;
use fieldbook_sync::{
    drain, AllowAll, CloseReason, ConnId, DocumentId, Engine, EngineConfig, Event, Host, Identity,
    MemoryStore, Message, Output, PeerId, Role, Runner, StorageId,
};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, Notify};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::WebSocketStream;

pub use auth::{sign_in, AuthError, Connector, SignedIn};

/// Invented content for tests and benchmarks.
pub mod synthetic {
    const WORDS: &[&str] = &[
        "met",
        "at",
        "the",
        "park",
        "youth",
        "centre",
        "school",
        "bus",
        "station",
        "talked",
        "about",
        "football",
        "college",
        "mum",
        "worried",
        "phone",
        "new",
        "trainers",
        "late",
        "home",
        "agreed",
        "meet",
        "Tuesday",
        "seemed",
        "tired",
        "quiet",
        "laughed",
        "asked",
        "money",
        "friends",
        "older",
        "car",
        "music",
        "boxing",
        "gym",
        "food",
        "bank",
        "appointment",
        "nurse",
        "teacher",
        "plan",
        "safe",
        "word",
        "curfew",
        "check",
    ];

    /// `n` words of note-like text, different for each seed (repetitive text would
    /// compress to nothing and flatter size measurements).
    pub fn words(seed: u64, n: usize) -> String {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(7);
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                WORDS[(x % WORDS.len() as u64) as usize]
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("could not connect to {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: Box<tokio_tungstenite::tungstenite::Error>,
    },
    #[error("document {0} is unavailable (absent, or not shared with us)")]
    Unavailable(DocumentId),
    #[error("timed out after {0:?} waiting for {1}")]
    Timeout(Duration, &'static str),
    #[error("not connected")]
    NotConnected,
    #[error(transparent)]
    Engine(#[from] fieldbook_sync::EngineError),
    #[error("the server closed the connection: {0}")]
    Closed(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
}

pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    changed: Notify,
    started: Instant,
    bytes_sent: AtomicU64,
    bytes_received: AtomicU64,
}

struct State {
    runner: Runner<MemoryStore>,
    conn: Option<(ConnId, mpsc::UnboundedSender<WsMessage>)>,
    next_conn: u64,
    joined: bool,
    server_storage: Option<StorageId>,
    unavailable: Vec<DocumentId>,
    closed_reason: Option<String>,
    policy: Policy,
    /// Liveness of the current connection.
    heartbeat: Option<Heartbeat>,
    /// The current connection's reader and heartbeat tasks, stopped when it is given up.
    tasks: Vec<tokio::task::AbortHandle>,
}

impl Client {
    /// A peer with a stable storage id (so the server can remember sync progress).
    pub fn new(storage_id: Option<StorageId>) -> Client {
        let cfg = EngineConfig::new(Role::Client, PeerId::random("fieldbook-native"), storage_id);
        Client {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    runner: Runner::new(Engine::new(cfg, AllowAll), MemoryStore::default()),
                    conn: None,
                    next_conn: 1,
                    joined: false,
                    server_storage: None,
                    unavailable: Vec::new(),
                    closed_reason: None,
                    policy: Policy::default(),
                    heartbeat: None,
                    tasks: Vec::new(),
                }),
                changed: Notify::new(),
                started: Instant::now(),
                bytes_sent: AtomicU64::new(0),
                bytes_received: AtomicU64::new(0),
            }),
        }
    }

    /// Use other heartbeat timings (from the next [`Client::connect`]).
    pub fn set_heartbeat_policy(&self, policy: Policy) {
        self.inner.state.lock().unwrap().policy = policy;
    }

    /// Connect and wait for the handshake. Documents already held are offered to the server.
    pub async fn connect(&self, url: &str) -> Result<(), ClientError> {
        let (ws, _) =
            tokio_tungstenite::connect_async(url)
                .await
                .map_err(|e| ClientError::Connect {
                    url: without_query(url),
                    source: Box::new(e),
                })?;
        self.attach(ws).await
    }

    /// Mint a ticket for `signed_in` and connect to `sync_url` with it (`wss://` uses the
    /// sign-in's TLS settings). Each call needs a fresh ticket: they are single-use.
    pub async fn connect_signed_in(
        &self,
        sync_url: &str,
        signed_in: &SignedIn,
    ) -> Result<(), ClientError> {
        let ticket = signed_in.ticket().await?;
        let url = signed_in.sync_url_with_ticket(sync_url, &ticket);
        let parsed = url::Url::parse(&url).map_err(|_| AuthError::BadUrl(without_query(&url)))?;
        let io = signed_in
            .connector()
            .open(&parsed)
            .await
            .map_err(|e| match e {
                // The ticket is a credential: no error names it.
                AuthError::Unreachable { reason, .. } => AuthError::Unreachable {
                    url: without_query(&url),
                    reason,
                },
                _ => AuthError::BadUrl(without_query(&url)),
            })?;
        let (ws, _) = tokio_tungstenite::client_async(url.as_str(), io)
            .await
            .map_err(|e| ClientError::Connect {
                url: without_query(&url),
                source: Box::new(e),
            })?;
        self.attach(ws).await
    }

    /// Run the sync protocol over an open WebSocket and wait for the server's `peer` reply.
    async fn attach<S>(&self, ws: WebSocketStream<S>) -> Result<(), ClientError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (mut sink, mut stream) = ws.split();
        let (tx, mut rx) = mpsc::unbounded_channel::<WsMessage>();
        let conn = {
            let mut st = self.inner.state.lock().unwrap();
            let conn = ConnId(st.next_conn);
            st.next_conn += 1;
            st.conn = Some((conn, tx));
            st.joined = false;
            st.closed_reason = None;
            st.heartbeat = Some(Heartbeat::new(st.policy, self.inner.now()));
            let out =
                st.runner
                    .engine_mut()
                    .connect(conn, Identity("server".into()), self.inner.now());
            self.inner.apply(&mut st, out);
            conn
        };
        tokio::spawn(async move {
            while let Some(m) = rx.recv().await {
                let close = matches!(m, WsMessage::Close(_));
                if sink.send(m).await.is_err() || close {
                    break;
                }
            }
        });
        let inner = self.inner.clone();
        let reader = tokio::spawn(async move {
            while let Some(frame) = stream.next().await {
                if frame.is_ok() {
                    let mut st = inner.state.lock().unwrap();
                    if st.conn.as_ref().is_some_and(|(c, _)| *c == conn) {
                        let now = inner.now();
                        if let Some(hb) = st.heartbeat.as_mut() {
                            hb.received(now);
                        }
                    }
                }
                match frame {
                    Ok(WsMessage::Binary(bytes)) => {
                        inner
                            .bytes_received
                            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                        let mut st = inner.state.lock().unwrap();
                        let out = st.runner.engine_mut().receive(conn, &bytes, inner.now());
                        inner.apply(&mut st, out);
                        drop(st);
                        inner.changed.notify_waiters();
                    }
                    Ok(WsMessage::Close(frame)) => {
                        let mut st = inner.state.lock().unwrap();
                        let said = frame.map(|f| f.reason.to_string()).unwrap_or_default();
                        if !said.is_empty() || st.closed_reason.is_none() {
                            st.closed_reason = Some(said);
                        }
                        break;
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            let mut st = inner.state.lock().unwrap();
            if st.conn.as_ref().is_some_and(|(c, _)| *c == conn) {
                st.conn = None;
                st.joined = false;
                let out = st.runner.engine_mut().disconnect(conn, inner.now());
                inner.apply(&mut st, out);
            }
            drop(st);
            inner.changed.notify_waiters();
        });
        let watchdog = tokio::spawn(heartbeat(self.inner.clone(), conn));
        {
            let mut st = self.inner.state.lock().unwrap();
            st.tasks = vec![reader.abort_handle(), watchdog.abort_handle()];
        }
        self.wait_until("the server's `peer` reply", Duration::from_secs(10), |st| {
            if st.joined {
                Some(Ok(()))
            } else if st.conn.is_none() {
                Some(Err(ClientError::Closed(
                    st.closed_reason.clone().unwrap_or_default(),
                )))
            } else {
                None
            }
        })
        .await
    }

    /// Close the connection (like a phone losing signal). Local documents stay.
    pub fn disconnect(&self) {
        let mut st = self.inner.state.lock().unwrap();
        if let Some((conn, tx)) = st.conn.take() {
            let _ = tx.send(WsMessage::Close(None));
            st.joined = false;
            st.heartbeat = None;
            let out = st.runner.engine_mut().disconnect(conn, self.inner.now());
            self.inner.apply(&mut st, out);
        }
    }

    /// Whether a connection is open and past its handshake.
    pub fn is_connected(&self) -> bool {
        let st = self.inner.state.lock().unwrap();
        st.conn.is_some() && st.joined
    }

    /// Wait until the connection is gone (closed by the server, or given up as dead);
    /// returns the reason given, if any.
    pub async fn wait_disconnected(&self, timeout: Duration) -> Result<String, ClientError> {
        self.wait_until("the connection to end", timeout, |st| {
            st.conn
                .is_none()
                .then(|| Ok(st.closed_reason.clone().unwrap_or_default()))
        })
        .await
    }

    pub fn create<F>(&self, init: F) -> Result<DocumentId, ClientError>
    where
        F: FnOnce(&mut Transaction<'_>) -> Result<(), AutomergeError>,
    {
        let mut st = self.inner.state.lock().unwrap();
        let (doc, out) = st.runner.engine_mut().create(init, self.inner.now())?;
        self.inner.apply(&mut st, out);
        Ok(doc)
    }

    pub fn change<F>(&self, doc: DocumentId, f: F) -> Result<(), ClientError>
    where
        F: FnOnce(&mut Transaction<'_>) -> Result<(), AutomergeError>,
    {
        let mut st = self.inner.state.lock().unwrap();
        let out = st.runner.engine_mut().change(doc, f, self.inner.now())?;
        self.inner.apply(&mut st, out);
        Ok(())
    }

    /// Merge changes made elsewhere (saved Automerge bytes) into `doc`, as one local edit:
    /// a tool writes a long history on a plain document without a store write per change.
    pub fn merge(&self, doc: DocumentId, bytes: &[u8]) -> Result<(), ClientError> {
        let mut st = self.inner.state.lock().unwrap();
        let out = st
            .runner
            .engine_mut()
            .merge_bytes(doc, bytes, self.inner.now())?;
        self.inner.apply(&mut st, out);
        Ok(())
    }

    /// The storage id the server announced in its `peer` message (None before it joined).
    pub fn server_storage_id(&self) -> Option<StorageId> {
        self.inner.state.lock().unwrap().server_storage.clone()
    }

    /// A copy of the document as we hold it now.
    pub fn document(&self, doc: &DocumentId) -> Option<Automerge> {
        self.inner
            .state
            .lock()
            .unwrap()
            .runner
            .engine()
            .document(doc)
            .cloned()
    }

    /// Fetch a document from the server (or return ours).
    pub async fn find(&self, doc: DocumentId, timeout: Duration) -> Result<Automerge, ClientError> {
        {
            let mut st = self.inner.state.lock().unwrap();
            st.unavailable.retain(|d| *d != doc);
            let out = st.runner.engine_mut().find(doc, self.inner.now());
            self.inner.apply(&mut st, out);
        }
        self.wait_until("the document", timeout, |st| {
            if let Some(d) = st.runner.engine().document(&doc) {
                Some(Ok(d.clone()))
            } else if st.unavailable.contains(&doc) {
                Some(Err(ClientError::Unavailable(doc)))
            } else {
                None
            }
        })
        .await
    }

    /// Wait until the server has acknowledged every change we hold of `doc` (which, on a
    /// Fieldbook server, means it is on the server's disk).
    pub async fn wait_synced(&self, doc: DocumentId, timeout: Duration) -> Result<(), ClientError> {
        self.wait_until("the server's acknowledgement", timeout, |st| {
            match &st.conn {
                Some((conn, _)) if st.joined && st.runner.engine().is_synced_with(&doc, *conn) => {
                    Some(Ok(()))
                }
                None => Some(Err(ClientError::NotConnected)),
                _ => None,
            }
        })
        .await
    }

    /// Wait until `pred` holds for `doc` as we hold it (e.g. another peer's edit arrived).
    pub async fn wait_for_document<F>(
        &self,
        doc: DocumentId,
        timeout: Duration,
        pred: F,
    ) -> Result<Automerge, ClientError>
    where
        F: Fn(&Automerge) -> bool,
    {
        self.wait_until("the document to change", timeout, |st| {
            st.runner
                .engine()
                .document(&doc)
                .filter(|d| pred(d))
                .map(|d| Ok(d.clone()))
        })
        .await
    }

    /// Ask the server for `doc` without waiting for it (many at once, then
    /// [`Client::wait_held`]): how a fresh device pulls a caseload.
    pub fn request(&self, doc: DocumentId) {
        let mut st = self.inner.state.lock().unwrap();
        st.unavailable.retain(|d| *d != doc);
        let out = st.runner.engine_mut().find(doc, self.inner.now());
        self.inner.apply(&mut st, out);
    }

    /// Wait until every document in `docs` is held (fetched), or one is unavailable, or the
    /// connection ends (nothing more can arrive: the caller reconnects if it wants them).
    pub async fn wait_held(
        &self,
        docs: &[DocumentId],
        timeout: Duration,
    ) -> Result<(), ClientError> {
        // Documents arrive roughly in order: start each check where the last one stopped.
        let mut first_missing = 0;
        self.wait_until("the documents", timeout, |st| {
            while let Some(doc) = docs.get(first_missing) {
                if st.runner.engine().document(doc).is_some() {
                    first_missing += 1;
                } else if st.unavailable.contains(doc) {
                    return Some(Err(ClientError::Unavailable(*doc)));
                } else if st.conn.is_none() {
                    return Some(Err(ClientError::Closed(format!(
                        "{} (holding {first_missing} of {} documents)",
                        st.closed_reason.as_deref().unwrap_or("connection lost"),
                        docs.len()
                    ))));
                } else {
                    return None;
                }
            }
            Some(Ok(()))
        })
        .await
    }

    /// Wait until `look` finds something in `doc` as we hold it, without copying the
    /// document (many devices in one process watching one case).
    pub async fn wait_with<T, F>(
        &self,
        doc: DocumentId,
        timeout: Duration,
        mut look: F,
    ) -> Result<T, ClientError>
    where
        F: FnMut(&Automerge) -> Option<T>,
    {
        self.wait_until("the document to change", timeout, |st| {
            st.runner
                .engine()
                .document(&doc)
                .and_then(&mut look)
                .map(Ok)
        })
        .await
    }

    /// Changes of `doc` the server has not acknowledged yet.
    pub fn unacknowledged_changes(&self, doc: &DocumentId) -> usize {
        let st = self.inner.state.lock().unwrap();
        match &st.conn {
            Some((conn, _)) => st.runner.engine().unacknowledged_changes(doc, *conn),
            None => st
                .runner
                .engine()
                .document(doc)
                .map(|d| d.get_changes(&[]).len())
                .unwrap_or(0),
        }
    }

    /// Bytes (sent, received) on the wire since this client was created.
    pub fn wire_bytes(&self) -> (u64, u64) {
        (
            self.inner.bytes_sent.load(Ordering::Relaxed),
            self.inner.bytes_received.load(Ordering::Relaxed),
        )
    }

    async fn wait_until<T, F>(
        &self,
        what: &'static str,
        timeout: Duration,
        mut check: F,
    ) -> Result<T, ClientError>
    where
        F: FnMut(&State) -> Option<Result<T, ClientError>>,
    {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.inner.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(r) = check(&self.inner.state.lock().unwrap()) {
                return r;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(ClientError::Timeout(timeout, what));
            }
        }
    }
}

/// A URL fit for an error message: no query, where a ticket would be.
fn without_query(url: &str) -> String {
    url.split(['?', '#']).next().unwrap_or_default().to_owned()
}

/// Ping when the connection has been quiet, and give it up when it stays silent.
async fn heartbeat(inner: Arc<Inner>, conn: ConnId) {
    loop {
        let wake = {
            let st = inner.state.lock().unwrap();
            match (&st.conn, &st.heartbeat) {
                (Some((c, _)), Some(hb)) if *c == conn => hb.next_wakeup(),
                _ => return,
            }
        };
        tokio::time::sleep_until((inner.started + Duration::from_millis(wake)).into()).await;
        let mut guard = inner.state.lock().unwrap();
        let st = &mut *guard;
        let now = inner.now();
        let beat = match (&st.conn, st.heartbeat.as_mut()) {
            (Some((c, _)), Some(hb)) if *c == conn => hb.poll(now),
            _ => return,
        };
        match beat {
            Some(Beat::Ping) => {
                if let Some((_, tx)) = &st.conn {
                    let _ = tx.send(WsMessage::Ping(Vec::new().into()));
                }
            }
            Some(Beat::Dead) => {
                if let Some((_, tx)) = st.conn.take() {
                    let _ = tx.send(WsMessage::Close(None));
                }
                st.joined = false;
                st.heartbeat = None;
                st.closed_reason = Some(
                    fieldbook_sync::health::CloseReason::Silent
                        .describe()
                        .to_owned(),
                );
                // The reader may wait forever on a half-open socket: stop it (not us yet).
                for t in std::mem::take(&mut st.tasks) {
                    if t.id() != tokio::task::id() {
                        t.abort();
                    }
                }
                let out = st.runner.engine_mut().disconnect(conn, now);
                inner.apply(st, out);
                drop(guard);
                inner.changed.notify_waiters();
                return;
            }
            None => {}
        }
    }
}

impl Inner {
    fn now(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Carry out an engine output with the shared runner (the memory store never waits, so
    /// it completes here, under the state lock), then note what the client waits on.
    fn apply(&self, st: &mut State, out: Output) {
        let State {
            runner,
            conn,
            joined,
            server_storage,
            unavailable,
            closed_reason,
            ..
        } = st;
        runner.push(out);
        let mut host = Wire {
            inner: self,
            conn: conn.as_ref(),
            events: Vec::new(),
            peer_said: None,
        };
        run_ready(drain(&RefCell::new(runner), &mut host)).expect("the memory store never fails");
        if host.peer_said.is_some() {
            *closed_reason = host.peer_said;
        }
        for ev in host.events {
            match ev {
                Event::PeerJoined { storage_id, .. } => {
                    *joined = true;
                    *server_storage = storage_id;
                }
                Event::DocumentUnavailable { doc, .. } => unavailable.push(doc),
                _ => {}
            }
        }
        self.changed.notify_waiters();
    }
}

/// The client's side of the runner: its one WebSocket.
struct Wire<'a> {
    inner: &'a Inner,
    conn: Option<&'a (ConnId, mpsc::UnboundedSender<WsMessage>)>,
    events: Vec<Event>,
    /// Why the server said it is hanging up. Kept because the close frame carrying the same
    /// reason can lose the race with our own close in reply.
    peer_said: Option<String>,
}

impl Host for Wire<'_> {
    fn now(&self) -> u64 {
        self.inner.now()
    }

    fn send(&mut self, c: ConnId, msg: Message) {
        if let Some((_, tx)) = self.conn.filter(|(conn, _)| *conn == c) {
            let bytes = msg.encode();
            self.inner
                .bytes_sent
                .fetch_add(bytes.len() as u64, Ordering::Relaxed);
            // A closed socket is noticed by the reader task, which reports it.
            let _ = tx.send(WsMessage::Binary(bytes.into()));
        }
    }

    fn close(&mut self, c: ConnId, reason: CloseReason) {
        if let CloseReason::PeerError(said) = &reason {
            self.peer_said = Some(said.clone());
        }
        if let Some((_, tx)) = self.conn.filter(|(conn, _)| *conn == c) {
            let _ = tx.send(WsMessage::Close(None));
        }
    }

    fn event(&mut self, event: &Event) {
        self.events.push(event.clone());
    }
}
