//! The one task that owns the sync engine and the store.
//!
//! Connections send it frames; it runs the engine, commits the resulting storage writes in
//! one transaction per batch (group commit), and only then hands replies to the
//! connections. A failed commit closes every connection in the batch and drops the
//! affected documents from memory, so nothing unsaved is ever acknowledged.

use std::time::{Duration, Instant};

use fieldbook_sync::{
    AllowAll, CloseReason, ConnId, Engine, EngineConfig, Event, Identity, Message, Output, PeerId,
    Role, StorageOp,
};
use tokio::sync::{mpsc, oneshot, watch};

use crate::storage::Store;

/// What the actor tells a connection task.
#[derive(Debug)]
pub enum ToConn {
    Frame(Vec<u8>),
    /// Flush what was queued, then close with this reason.
    Close(String),
}

pub enum Command {
    Open {
        conn: ConnId,
        identity: Identity,
        to_conn: mpsc::UnboundedSender<ToConn>,
    },
    Frame {
        conn: ConnId,
        bytes: Vec<u8>,
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
    tx: mpsc::UnboundedSender<Command>,
    stats: watch::Receiver<Stats>,
}

impl ActorHandle {
    pub fn send(&self, cmd: Command) -> bool {
        self.tx.send(cmd).is_ok()
    }

    /// Stats as of the end of the last batch; `wait_for` on it instead of polling.
    pub fn watch_stats(&self) -> watch::Receiver<Stats> {
        self.stats.clone()
    }

    /// Current stats, answered by the actor itself (so it also proves the actor is alive).
    pub async fn stats(&self) -> Option<Stats> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Stats(tx));
        rx.await.ok()
    }
}

pub struct ActorSettings {
    pub compact_after_chunks: usize,
    pub evict_idle: Duration,
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
    let (tx, rx) = mpsc::unbounded_channel();
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
    conns: std::collections::HashMap<ConnId, mpsc::UnboundedSender<ToConn>>,
    started: Instant,
    tick_every: Duration,
}

impl<S: Store> Actor<S> {
    fn now(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Command>) {
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
                    Command::Frame { conn, bytes } => {
                        touched.push(conn);
                        self.engine.receive(conn, &bytes, now)
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
                        recovery.close.push((conn, CloseReason::Storage));
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

    fn deliver(&mut self, send: Vec<(ConnId, Message)>, close: Vec<(ConnId, CloseReason)>) {
        for (conn, msg) in send {
            if let Some(tx) = self.conns.get(&conn) {
                let _ = tx.send(ToConn::Frame(msg.encode()));
            }
        }
        for (conn, reason) in close {
            if let Some(tx) = self.conns.remove(&conn) {
                let _ = tx.send(ToConn::Close(reason.to_string()));
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
