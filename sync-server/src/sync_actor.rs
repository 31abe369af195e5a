//! The one task that owns the sync engine and the store.
//!
//! Connection tasks send it decoded messages; it runs the engine and carries out its output
//! with the engine's runner (`fieldbook_sync::runner`): everything queued is committed in
//! one transaction (group commit) and only then are replies handed to the connections. A
//! failed commit closes the connections involved and drops the unsaved state, so nothing
//! unsaved is ever acknowledged. A panic in one connection's step closes only that
//! connection. The actor never waits on a client: a full outbound queue closes it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::cell::RefCell;

use fieldbook_sync::{
    drain, AccessPolicy, CloseReason, Commit, ConnId, Engine, EngineConfig, Event, Host, Identity,
    Message, PeerId, Role, Runner,
};
use tokio::sync::{mpsc, oneshot, watch, Notify, OwnedSemaphorePermit};

mod accounts;

use crate::api::Principal;
use crate::feed::{Announcing, ChangeFeed, FeedEvent, Written};
use crate::storage::{Store, StoreError};
use crate::watch_access::Accounts;
use accounts::Audit;

/// What the actor tells a connection task.
#[derive(Debug)]
pub enum ToConn {
    Frame(Vec<u8>),
    /// Flush what was queued, then close with this reason.
    Close(String),
    /// The connection's sign-in is no longer valid (device revoked, account disabled).
    SignedOut,
}

/// The actor's end of one connection's bounded outbound queue. The actor never waits on
/// it: a connection whose queue is full (by frames or bytes) is not reading, and is closed.
pub struct ConnSender {
    tx: mpsc::Sender<ToConn>,
    shared: Arc<QueueShared>,
}

/// The connection task's end of its outbound queue.
pub struct ConnReceiver {
    rx: mpsc::Receiver<ToConn>,
    shared: Arc<QueueShared>,
}

struct QueueShared {
    queued_bytes: AtomicUsize,
    max_bytes: usize,
    overflow: Notify,
}

/// A bounded outbound queue: at most `max_frames` frames and, unless it is empty,
/// `max_bytes` bytes (one frame larger than `max_bytes` still goes to an idle connection).
pub fn conn_queue(max_frames: usize, max_bytes: usize) -> (ConnSender, ConnReceiver) {
    let (tx, rx) = mpsc::channel(max_frames.max(1));
    let shared = Arc::new(QueueShared {
        queued_bytes: AtomicUsize::new(0),
        max_bytes,
        overflow: Notify::new(),
    });
    (
        ConnSender {
            tx,
            shared: shared.clone(),
        },
        ConnReceiver { rx, shared },
    )
}

impl ConnSender {
    /// Queue without waiting. False: the queue is full or gone, and the connection has been
    /// told to close at once (see [`ConnReceiver::overflow`]).
    pub fn try_send(&self, msg: ToConn) -> bool {
        let len = match &msg {
            ToConn::Frame(b) => b.len(),
            ToConn::Close(_) | ToConn::SignedOut => 0,
        };
        let queued = self.shared.queued_bytes.load(Ordering::Acquire);
        let over_bytes = queued > 0 && queued.saturating_add(len) > self.shared.max_bytes;
        if !over_bytes {
            self.shared.queued_bytes.fetch_add(len, Ordering::AcqRel);
            match self.tx.try_send(msg) {
                Ok(()) => return true,
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    self.shared.queued_bytes.fetch_sub(len, Ordering::AcqRel);
                    return false;
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    self.shared.queued_bytes.fetch_sub(len, Ordering::AcqRel);
                }
            }
        }
        self.shared.overflow.notify_one();
        false
    }
}

impl ConnReceiver {
    pub async fn recv(&mut self) -> Option<ToConn> {
        let msg = self.rx.recv().await?;
        if let ToConn::Frame(b) = &msg {
            self.shared
                .queued_bytes
                .fetch_sub(b.len(), Ordering::AcqRel);
        }
        Some(msg)
    }

    /// Completes once the actor has found this queue full: the peer is not reading.
    pub fn overflow(&self) -> Overflow {
        Overflow(self.shared.clone())
    }
}

pub struct Overflow(Arc<QueueShared>);

impl Overflow {
    pub async fn wait(&self) {
        self.0.overflow.notified().await
    }
}

pub enum Command {
    Open {
        conn: ConnId,
        /// Who signed in (None only where the server runs without sign-in: in-process tests).
        principal: Option<Principal>,
        to_conn: ConnSender,
    },
    /// The directory changed (a grant, a revoked device, a disabled user...): close what may
    /// no longer connect and bring every caseload index up to date.
    AccessChanged,
    /// A decoded message. `budget` holds the message's share of the server-wide in-flight
    /// byte budget, and `turn` one of its connection's places in the inbox, until the actor
    /// has handled it.
    Message {
        conn: ConnId,
        msg: Message,
        budget: Option<OwnedSemaphorePermit>,
        turn: Option<OwnedSemaphorePermit>,
    },
    Closed {
        conn: ConnId,
    },
    /// Another node sharing the database committed changes (from the change feed,
    /// [`crate::feed`]): reload what is in memory and sync it.
    ChangedElsewhere(FeedEvent),
    Stats(oneshot::Sender<Stats>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub loaded_documents: usize,
    pub connections: usize,
}

#[derive(Clone)]
pub struct ActorHandle {
    tx: mpsc::Sender<Command>,
    stats: watch::Receiver<Stats>,
}

impl ActorHandle {
    /// Queue a command, waiting while the inbox is full (back-pressure on the caller only:
    /// the channel's waiters are served in order, so no sender is starved). False: the
    /// actor has stopped.
    pub async fn send(&self, cmd: Command) -> bool {
        self.tx.send(cmd).await.is_ok()
    }

    /// Stats as of the end of the last batch; `wait_for` on it instead of polling.
    pub fn watch_stats(&self) -> watch::Receiver<Stats> {
        self.stats.clone()
    }

    /// Current stats, answered by the actor itself (so it also proves the actor is alive).
    pub async fn stats(&self) -> Option<Stats> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Stats(tx)).await;
        rx.await.ok()
    }
}

pub struct ActorSettings {
    pub compact_after_chunks: usize,
    pub evict_idle: Duration,
    /// Commands queued for the actor before senders wait.
    pub inbox_capacity: usize,
    /// Operations one automerge sync message may expand to (`GuardLimits::max_ops`).
    pub max_ops_per_message: u64,
}

/// Largest number of queued commands folded into one commit.
const MAX_BATCH: usize = 256;

/// Start the actor on its own thread (store futures need not be `Send`: IndexedDB's are
/// not, and the same trait serves both). The returned task ends when the actor does; if
/// that happens before shutdown, the caller must treat the server as dead.
///
/// With a change `feed` (several nodes on one database, docs/SCALE-OUT.md) the actor
/// announces the documents each commit wrote, and other nodes' announcements reach it as
/// [`Command::ChangedElsewhere`].
pub fn spawn<S, P>(
    store: S,
    settings: ActorSettings,
    policy: P,
    accounts: Option<Accounts>,
    feed: Option<Arc<dyn ChangeFeed>>,
) -> (ActorHandle, tokio::task::JoinHandle<()>)
where
    S: Store + Clone + Send + 'static,
    P: AccessPolicy + Send + 'static,
{
    let (tx, rx) = mpsc::channel(settings.inbox_capacity.max(1));
    let written = Written::default();
    let store = Announcing::new(store, written.clone());
    if let Some(feed) = &feed {
        let mut events = feed.subscribe();
        // Weak: the actor stops when its handles are dropped, whatever the feed is doing.
        let inbox = tx.downgrade();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                let Some(inbox) = inbox.upgrade() else {
                    break; // the actor stopped
                };
                if inbox.send(Command::ChangedElsewhere(event)).await.is_err() {
                    break;
                }
            }
        });
    }
    let mut cfg = EngineConfig::new(
        Role::Server,
        PeerId::random("fieldbook-server"),
        Some(store.storage_id().clone()),
    );
    cfg.compact_after_chunks = settings.compact_after_chunks;
    cfg.evict_idle_after = Some(settings.evict_idle.as_millis() as u64);
    // Connection tasks (http.rs) answer heartbeats; the engine says so in `peer`.
    cfg.heartbeat = true;
    // Other nodes write to the same database: resume peers from the stored sync state.
    cfg.shared_store = feed.is_some();
    cfg.coalesce_fanout = true;
    cfg.limits.sync_message.max_ops = settings.max_ops_per_message;
    let (stats_tx, stats_rx) = watch::channel(Stats {
        loaded_documents: 0,
        connections: 0,
    });
    let actor = Actor {
        stats: stats_tx,
        runner: RefCell::new(Runner::new(Engine::new(cfg, policy), store)),
        conns: Conns {
            started: Instant::now(),
            to_conn: Default::default(),
            stalled: Vec::new(),
            outbox: Vec::new(),
            principals: Default::default(),
            audit: Audit::default(),
            accounts_on: accounts.is_some(),
        },
        tick_every: (settings.evict_idle / 2).max(Duration::from_millis(100)),
        accounts,
        // Every caseload index is checked once at start-up.
        access_changed: true,
        caseloads_stale: false,
        feed: feed.map(|feed| (feed, written)),
    };
    let thread = std::thread::Builder::new()
        .name("sync-actor".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("building the sync actor's runtime");
            rt.block_on(actor.run(rx));
        })
        .expect("starting the sync actor thread");
    let task = tokio::task::spawn_blocking(move || {
        if thread.join().is_err() {
            tracing::error!("the sync actor panicked");
        }
    });
    (
        ActorHandle {
            tx,
            stats: stats_rx,
        },
        task,
    )
}

struct Actor<S: Store + Clone, P: AccessPolicy> {
    stats: watch::Sender<Stats>,
    runner: RefCell<Runner<Announcing<S>, P>>,
    conns: Conns,
    tick_every: Duration,
    accounts: Option<Accounts>,
    /// Set by `AccessChanged`; handled once the batch is committed.
    access_changed: bool,
    /// A case was registered: caseload indexes need refreshing after the batch.
    caseloads_stale: bool,
    /// The change feed, and the documents committed since the last announcement.
    feed: Option<(Arc<dyn ChangeFeed>, Written)>,
}

/// The actor's side of the runner: its clock, its connections' queues, and its logs.
struct Conns {
    started: Instant,
    to_conn: std::collections::HashMap<ConnId, ConnSender>,
    /// Connections found not reading (outbound queue full) during a drain.
    stalled: Vec<ConnId>,
    /// Frames and closes of the current drain, in order.
    outbox: Vec<(ConnId, ToConn)>,
    /// Who signed in on each connection.
    principals: std::collections::HashMap<ConnId, Principal>,
    /// What happened to cases, for the audit log and for registering new cases.
    audit: Audit,
    accounts_on: bool,
}

impl Conns {
    /// Hand the drain's frames to their connections. Never waits: a connection whose queue
    /// is full is not reading; its task has been told to close, and the engine forgets it.
    fn flush(&mut self) {
        for (conn, msg) in std::mem::take(&mut self.outbox) {
            match msg {
                ToConn::Close(_) => {
                    if let Some(tx) = self.to_conn.remove(&conn) {
                        // A full queue already made the task close; nothing more to do.
                        let _ = tx.try_send(msg);
                    }
                }
                frame => {
                    if let Some(tx) = self.to_conn.get(&conn) {
                        if !tx.try_send(frame) {
                            self.to_conn.remove(&conn);
                            self.stalled.push(conn);
                        }
                    }
                }
            }
        }
    }
}

impl Host for Conns {
    fn now(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Held until the drain ends ([`Conns::flush`]), so the audit and case registrations
    /// of a batch are written before anything it acknowledges leaves.
    fn send(&mut self, conn: ConnId, msg: Message) {
        self.outbox.push((conn, ToConn::Frame(msg.encode())));
    }

    fn close(&mut self, conn: ConnId, reason: CloseReason) {
        self.outbox.push((conn, ToConn::Close(reason.to_string())));
    }

    fn event(&mut self, event: &Event) {
        log_event(event);
        if !self.accounts_on {
            return;
        }
        match event {
            Event::DocumentChanged { doc, from } => {
                if let Some(p) = self.principals.get(from) {
                    self.audit.changed.push((*from, p.clone(), *doc));
                }
            }
            Event::WriteRejected { doc, conn } => {
                if let Some(p) = self.principals.get(conn) {
                    self.audit.refused.push((p.clone(), *doc));
                }
            }
            _ => {}
        }
    }

    fn committed(&mut self, commit: &Commit, result: Result<(), &StoreError>) {
        if let Err(e) = result {
            tracing::error!(error = %e, outputs = commit.outputs, "storage commit failed; closing affected connections");
        }
    }
}

impl<S: Store + Clone, P: AccessPolicy> Actor<S, P> {
    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        let mut ticker = tokio::time::interval(self.tick_every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        if self.accounts.is_some() {
            self.after_batch().await;
        }
        loop {
            let first = tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(cmd) => cmd,
                    None => break, // every handle dropped: server is shutting down
                },
                _ = ticker.tick() => {
                    let now = self.conns.now();
                    self.runner.get_mut().step(|e| e.tick(now));
                    self.finish().await;
                    continue;
                }
            };
            // Everything already waiting is folded into one commit (group commit).
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(cmd) => batch.push(cmd),
                    Err(_) => break,
                }
            }
            for cmd in batch {
                self.command(cmd);
            }
            self.finish().await;
            if self.accounts.is_some() {
                self.after_batch().await;
            }
        }
        tracing::info!("sync actor stopped");
    }

    fn command(&mut self, cmd: Command) {
        let now = self.conns.now();
        let runner = self.runner.get_mut();
        match cmd {
            Command::Open {
                conn,
                principal,
                to_conn,
            } => {
                self.conns.to_conn.insert(conn, to_conn);
                let identity = principal
                    .as_ref()
                    .map(|p| Identity(p.user.0.clone()))
                    .unwrap_or_else(Identity::anonymous);
                if let Some(p) = principal {
                    self.conns.principals.insert(conn, p);
                }
                runner.step(|e| e.connect(conn, identity, now));
            }
            Command::AccessChanged => self.access_changed = true,
            Command::Message {
                conn,
                msg,
                budget,
                turn,
            } => {
                let doc = msg.document_id();
                if let (Some(d), Message::Request { .. } | Message::Sync { .. }) = (doc, &msg) {
                    self.conns.note_read(conn, d);
                }
                if !runner.step_for(conn, doc, now, |e| e.receive_message(conn, msg, now)) {
                    tracing::error!(
                        conn = conn.0,
                        "an engine step panicked: closed that connection, reloading its document"
                    );
                }
                // The message is handled: its bytes no longer count against the budget,
                // and its connection may queue another.
                drop((budget, turn));
            }
            Command::Closed { conn } => {
                self.conns.to_conn.remove(&conn);
                self.conns.forget(conn);
                runner.step(|e| e.disconnect(conn, now));
            }
            Command::ChangedElsewhere(FeedEvent::Changed(docs)) => {
                for doc in docs {
                    runner.step(|e| e.changed_elsewhere(doc, now));
                }
            }
            Command::ChangedElsewhere(FeedEvent::Missed) => {
                tracing::warn!(
                    "change feed may have missed announcements: reloading every document in memory"
                );
                runner.step(|e| e.everything_changed_elsewhere(now));
            }
            Command::Stats(reply) => {
                // The asker may have given up waiting; nothing to do then.
                let _ = reply.send(current_stats(runner.engine()));
            }
        }
    }

    /// Tell other nodes what the drain committed, before anything it acknowledges is sent.
    fn announce(&self) {
        let Some((feed, written)) = &self.feed else {
            return;
        };
        let docs = written.take();
        if docs.is_empty() {
            return;
        }
        if let Err(e) = feed.announce(&docs) {
            // The data is committed; other nodes see it when they next load the document.
            tracing::error!(error = %e, documents = docs.len(), "could not announce committed changes to other nodes");
        }
    }

    fn current_stats(&self) -> Stats {
        current_stats(self.runner.borrow().engine())
    }

    /// Commit, then deliver (the runner's rules); then publish stats.
    async fn finish(&mut self) {
        loop {
            // A storage error is logged by `committed` and handled by the runner.
            let _ = drain(&self.runner, &mut self.conns).await;
            self.announce();
            if self.accounts.is_some() {
                self.record_batch();
            }
            self.conns.flush();
            let stalled = std::mem::take(&mut self.conns.stalled);
            if stalled.is_empty() {
                break;
            }
            let now = self.conns.now();
            for conn in stalled {
                tracing::info!(
                    conn = conn.0,
                    "closing connection: not reading (outbound queue full)"
                );
                self.runner.get_mut().step(|e| e.disconnect(conn, now));
            }
        }
        let stats = self.current_stats();
        self.stats
            .send_if_modified(|s| std::mem::replace(s, stats) != stats);
    }
}

fn current_stats<P: AccessPolicy>(engine: &Engine<P>) -> Stats {
    Stats {
        loaded_documents: engine.loaded_count(),
        connections: engine.connection_count(),
    }
}

fn log_event(e: &Event) {
    match e {
        Event::ProtocolViolation { conn, reason } => {
            tracing::warn!(conn = conn.0, %reason, "closing connection: protocol violation")
        }
        Event::LoadFailed { doc, reason } => {
            tracing::error!(%doc, %reason, "document could not be loaded")
        }
        Event::WriteRejected { doc, conn } => {
            tracing::warn!(%doc, conn = conn.0, "changes from a peer without write access were not applied")
        }
        Event::PeerJoined { conn, peer, .. } => {
            tracing::info!(conn = conn.0, %peer, "peer joined")
        }
        Event::DocumentEvicted { doc } => tracing::debug!(%doc, "document evicted from memory"),
        Event::DocumentChanged { doc, from } => {
            tracing::debug!(%doc, conn = from.0, "document changed")
        }
        _ => {}
    }
}
