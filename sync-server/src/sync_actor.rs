//! The one task that owns the sync engine and the store.
//!
//! Connections send it frames; it runs the engine, commits the resulting storage writes in
//! one transaction per batch (group commit), and only then hands replies to the
//! connections. A failed commit closes every connection in the batch and drops the
//! affected documents from memory, so nothing unsaved is ever acknowledged.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fieldbook_sync::{
    AllowAll, ConnId, Engine, EngineConfig, Event, Identity, Message, Output, PeerId, Role,
    StorageOp,
};
use tokio::sync::{mpsc, oneshot, watch, Notify, OwnedSemaphorePermit};

use crate::storage::Store;

/// What the actor tells a connection task.
#[derive(Debug)]
pub enum ToConn {
    Frame(Vec<u8>),
    /// Flush what was queued, then close with this reason.
    Close(String),
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
            ToConn::Close(_) => 0,
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
        identity: Identity,
        to_conn: ConnSender,
    },
    /// A decoded message. `budget` holds the message's share of the server-wide in-flight
    /// byte budget until the actor has handled it.
    Message {
        conn: ConnId,
        msg: Message,
        budget: Option<OwnedSemaphorePermit>,
    },
    Closed {
        conn: ConnId,
    },
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
}

/// Largest number of queued commands folded into one commit.
const MAX_BATCH: usize = 256;

/// Start the actor on its own thread (store futures need not be `Send`: IndexedDB's are
/// not, and the same trait serves both). The returned task ends when the actor does; if
/// that happens before shutdown, the caller must treat the server as dead.
pub fn spawn<S: Store + Send + 'static>(
    store: S,
    settings: ActorSettings,
) -> (ActorHandle, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(settings.inbox_capacity.max(1));
    let mut cfg = EngineConfig::new(
        Role::Server,
        PeerId::random("fieldbook-server"),
        Some(store.storage_id().clone()),
    );
    cfg.compact_after_chunks = settings.compact_after_chunks;
    cfg.evict_idle_after = Some(settings.evict_idle.as_millis() as u64);
    // Connection tasks (http.rs) answer heartbeats; the engine says so in `peer`.
    cfg.heartbeat = true;
    let (stats_tx, stats_rx) = watch::channel(Stats {
        loaded_documents: 0,
        connections: 0,
    });
    let actor = Actor {
        stats: stats_tx,
        engine: Engine::new(cfg, AllowAll),
        store,
        conns: Default::default(),
        started: Instant::now(),
        tick_every: (settings.evict_idle / 2).max(Duration::from_millis(100)),
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

struct Actor<S: Store> {
    stats: watch::Sender<Stats>,
    engine: Engine,
    store: S,
    conns: std::collections::HashMap<ConnId, ConnSender>,
    started: Instant,
    tick_every: Duration,
}

impl<S: Store> Actor<S> {
    fn now(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        let mut ticker = tokio::time::interval(self.tick_every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let first = tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(cmd) => cmd,
                    None => break, // every handle dropped: server is shutting down
                },
                _ = ticker.tick() => {
                    let out = self.engine.tick(self.now());
                    self.finish(out, Vec::new()).await;
                    continue;
                }
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(cmd) => batch.push(cmd),
                    Err(_) => break,
                }
            }
            let mut out = Output::default();
            let mut touched = Vec::new();
            for cmd in batch {
                let now = self.now();
                let step = match cmd {
                    Command::Open {
                        conn,
                        identity,
                        to_conn,
                    } => {
                        self.conns.insert(conn, to_conn);
                        self.engine.connect(conn, identity, now)
                    }
                    Command::Message { conn, msg, budget } => {
                        touched.push(conn);
                        let step = self.engine.receive_message(conn, msg, now);
                        drop(budget);
                        step
                    }
                    Command::Closed { conn } => {
                        self.conns.remove(&conn);
                        self.engine.disconnect(conn, now)
                    }
                    Command::Stats(reply) => {
                        let _ = reply.send(self.current_stats());
                        Output::default()
                    }
                };
                let step = self.resolve_loads(step).await;
                out.merge(step);
            }
            self.finish(out, touched).await;
        }
        tracing::info!("sync actor stopped");
    }

    fn current_stats(&self) -> Stats {
        Stats {
            loaded_documents: self.engine.loaded_count(),
            connections: self.engine.connection_count(),
        }
    }

    /// Answer every load the engine asks for, feeding results back until none are left.
    async fn resolve_loads(&mut self, mut out: Output) -> Output {
        while let Some(doc) = out.loads.pop() {
            let result = self.store.load(doc).await.inspect_err(|e| {
                tracing::error!(%doc, error = %e, "loading a document failed");
            });
            let more = self.engine.loaded(doc, result, self.now());
            out.merge(more);
        }
        out
    }

    /// Commit, then deliver. On a failed commit nothing from this batch is delivered.
    async fn finish(&mut self, out: Output, touched: Vec<ConnId>) {
        self.commit_and_deliver(out, touched).await;
        let stats = self.current_stats();
        self.stats
            .send_if_modified(|s| std::mem::replace(s, stats) != stats);
    }

    async fn commit_and_deliver(&mut self, out: Output, touched: Vec<ConnId>) {
        log_events(&out.events);
        if !out.storage.is_empty() {
            let written = out.documents_written();
            let ops: Vec<StorageOp> = out.storage;
            if let Err(e) = self.store.apply(ops).await {
                tracing::error!(error = %e, "storage commit failed; closing affected connections");
                let mut recovery = self.engine.storage_failed(written, self.now());
                // Connections that sent frames in this batch were not answered: close them too.
                for conn in touched {
                    if !recovery.close.iter().any(|(c, _)| *c == conn) {
                        recovery.send.push((
                            conn,
                            Message::Error {
                                sender_id: Some(self.engine.peer_id().clone()),
                                target_id: None,
                                message: fieldbook_sync::engine::STORAGE_ERROR.into(),
                            },
                        ));
                        recovery.close.push((conn, "storage error".into()));
                        let _ = self.engine.disconnect(conn, self.now());
                    }
                }
                log_events(&recovery.events);
                self.deliver(recovery.send, recovery.close);
                return;
            }
        }
        self.deliver(out.send, out.close);
    }

    /// Hand frames to connections without ever waiting: a connection whose queue is full
    /// is not reading, so it is closed (its task is notified) and forgotten.
    fn deliver(&mut self, send: Vec<(ConnId, Message)>, close: Vec<(ConnId, String)>) {
        let mut stalled = Vec::new();
        for (conn, msg) in send {
            if let Some(tx) = self.conns.get(&conn) {
                if !tx.try_send(ToConn::Frame(msg.encode())) {
                    self.conns.remove(&conn);
                    stalled.push(conn);
                }
            }
        }
        for conn in stalled {
            tracing::info!(
                conn = conn.0,
                "closing connection: not reading (outbound queue full)"
            );
            let _ = self.engine.disconnect(conn, self.now());
        }
        for (conn, reason) in close {
            if let Some(tx) = self.conns.remove(&conn) {
                let _ = tx.try_send(ToConn::Close(reason));
            }
        }
    }
}

fn log_events(events: &[Event]) {
    for e in events {
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
}
