//! The one task that owns the sync engine and the store.
//!
//! Connections send it frames; it runs the engine, commits the resulting storage writes in
//! one transaction per batch (group commit), and only then hands replies to the
//! connections. A failed commit closes every connection in the batch and drops the
//! affected documents from memory, so nothing unsaved is ever acknowledged.

use std::time::{Duration, Instant};

use std::cell::RefCell;

use fieldbook_sync::{
    drain, AllowAll, CloseReason, Commit, ConnId, Engine, EngineConfig, Event, Host, Identity,
    Message, PeerId, Role, Runner,
};
use tokio::sync::{mpsc, oneshot, watch};

use crate::storage::{Store, StoreError};

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
pub fn spawn<S: Store + Clone + Send + 'static>(
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
        runner: RefCell::new(Runner::new(Engine::new(cfg, AllowAll), store)),
        conns: Conns {
            started: Instant::now(),
            to_conn: Default::default(),
        },
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

struct Actor<S: Store + Clone> {
    stats: watch::Sender<Stats>,
    runner: RefCell<Runner<S>>,
    conns: Conns,
    tick_every: Duration,
}

/// The actor's side of the runner: its clock, its connections' queues, and its logs.
struct Conns {
    started: Instant,
    to_conn: std::collections::HashMap<ConnId, mpsc::UnboundedSender<ToConn>>,
}

impl Host for Conns {
    fn now(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn send(&mut self, conn: ConnId, msg: Message) {
        if let Some(tx) = self.to_conn.get(&conn) {
            let _ = tx.send(ToConn::Frame(msg.encode()));
        }
    }

    fn close(&mut self, conn: ConnId, reason: CloseReason) {
        if let Some(tx) = self.to_conn.remove(&conn) {
            let _ = tx.send(ToConn::Close(reason.to_string()));
        }
    }

    fn event(&mut self, event: &Event) {
        log_event(event);
    }

    fn committed(&mut self, commit: &Commit, result: Result<(), &StoreError>) {
        if let Err(e) = result {
            tracing::error!(error = %e, outputs = commit.outputs, "storage commit failed; closing affected connections");
        }
    }
}

impl<S: Store + Clone> Actor<S> {
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
        }
        tracing::info!("sync actor stopped");
    }

    fn command(&mut self, cmd: Command) {
        let now = self.conns.now();
        let runner = self.runner.get_mut();
        match cmd {
            Command::Open {
                conn,
                identity,
                to_conn,
            } => {
                self.conns.to_conn.insert(conn, to_conn);
                runner.step(|e| e.connect(conn, identity, now));
            }
            Command::Frame { conn, bytes } => runner.step(|e| e.receive(conn, &bytes, now)),
            Command::Closed { conn } => {
                self.conns.to_conn.remove(&conn);
                runner.step(|e| e.disconnect(conn, now));
            }
            Command::Stats(reply) => {
                // The asker may have given up waiting; nothing to do then.
                let _ = reply.send(current_stats(runner.engine()));
            }
        }
    }

    fn current_stats(&self) -> Stats {
        current_stats(self.runner.borrow().engine())
    }

    /// Commit, then deliver (the runner's rules); then publish stats.
    async fn finish(&mut self) {
        // A storage error is logged by `committed` and handled by the runner.
        let _ = drain(&self.runner, &mut self.conns).await;
        let stats = self.current_stats();
        self.stats
            .send_if_modified(|s| std::mem::replace(s, stats) != stats);
    }
}

fn current_stats(engine: &Engine) -> Stats {
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
