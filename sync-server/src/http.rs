//! The one port: `/sync` (WebSocket, automerge-repo protocol), `/healthz`, and the PWA.
//!
//! Each connection task also keeps the connection honest (see `fieldbook_sync::health`): it
//! answers `fieldbook-heartbeat` messages itself, at once, without the sync actor; it sends
//! a WebSocket Ping every `ping_interval_secs`; and it closes a connection that has sent
//! nothing at all (no message, no Pong) for `idle_timeout_secs`, or that stops taking our
//! frames for as long, so half-open sockets do not live on.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use fieldbook_sync::{ConnId, DocumentId, Identity, Message};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, watch};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::config::Config;
use crate::storage::{SqliteStore, Store};
use crate::sync_actor::{self, ActorHandle, ActorSettings, Command, Stats, ToConn};

/// WebSocket close codes (RFC 6455).
const CLOSE_PROTOCOL_ERROR: u16 = 1002;
const CLOSE_UNSUPPORTED: u16 = 1003;
const CLOSE_TOO_BIG: u16 = 1009;
const CLOSE_GOING_AWAY: u16 = 1001;
/// How long a close frame to an unresponsive peer may take before we just drop the socket.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

#[derive(Clone)]
struct AppState {
    actor: ActorHandle,
    next_conn: Arc<AtomicU64>,
    max_frame_bytes: usize,
    ping_interval: Duration,
    idle_timeout: Duration,
    shutdown: watch::Receiver<bool>,
}

/// A started server. Dropping it does not stop it; call [`RunningServer::shutdown`].
pub struct RunningServer {
    pub addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    actor_task: tokio::task::JoinHandle<()>,
    actor: ActorHandle,
    caseload: DocumentId,
}

impl RunningServer {
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub fn sync_url(&self) -> String {
        format!("ws://{}/sync", self.addr)
    }

    pub async fn stats(&self) -> Option<Stats> {
        self.actor.stats().await
    }

    /// The caseload index document (see `fieldbook_case::caseload`).
    pub fn caseload_index(&self) -> DocumentId {
        self.caseload
    }

    pub fn watch_stats(&self) -> tokio::sync::watch::Receiver<Stats> {
        self.actor.watch_stats()
    }

    /// Close every connection, let the actor commit what it has, and wait for both.
    pub async fn shutdown(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(true);
        let res = self
            .task
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        drop(self.actor);
        let _ = self.actor_task.await;
        res
    }
}

/// Open the embedded store and start serving on `config.listen`.
pub async fn start(config: &Config) -> anyhow::Result<RunningServer> {
    let store = SqliteStore::open(&config.database_path()).map_err(|e| {
        anyhow::anyhow!(
            "cannot open the store at {}: {e}",
            config.database_path().display()
        )
    })?;
    start_with_store(config, store).await
}

pub async fn start_with_store<S: Store + Clone + Send + 'static>(
    config: &Config,
    store: S,
) -> anyhow::Result<RunningServer> {
    config
        .check()
        .map_err(|e| anyhow::anyhow!("invalid settings: {e}"))?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    let addr = listener.local_addr()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let index = crate::caseload::ensure_index(&store, now as u64)
        .await
        .map_err(|e| anyhow::anyhow!("cannot prepare the caseload index: {e}"))?;
    if config.demo {
        let added = crate::demo::seed(&store, index, now)
            .await
            .map_err(|e| anyhow::anyhow!("cannot seed demo cases: {e}"))?;
        tracing::info!(added, "demo cases (invented people) seeded");
    }
    let (actor, actor_task) = sync_actor::spawn(
        store,
        ActorSettings {
            compact_after_chunks: config.compact_after_chunks,
            evict_idle: Duration::from_secs(config.evict_idle_secs),
        },
    );
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let state = AppState {
        actor: actor.clone(),
        next_conn: Arc::new(AtomicU64::new(1)),
        max_frame_bytes: config.max_frame_bytes,
        ping_interval: Duration::from_secs(config.ping_interval_secs),
        idle_timeout: Duration::from_secs(config.idle_timeout_secs),
        shutdown: shutdown_rx.clone(),
    };
    let mut app = Router::new()
        .route("/sync", get(sync_upgrade))
        .route("/healthz", get(health))
        .with_state(state);
    if let Some(dir) = &config.static_dir {
        // Unknown paths get index.html so client-side routes survive a reload.
        // Brotli/gzip copies written at build time (scripts/post-build.sh) are sent to
        // browsers that accept them.
        let index = ServeFile::new(dir.join("index.html"))
            .precompressed_br()
            .precompressed_gzip();
        let spa = ServeDir::new(dir)
            .precompressed_br()
            .precompressed_gzip()
            .fallback(index);
        app = app
            .fallback_service(spa)
            .layer(SetResponseHeaderLayer::if_not_present(
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-cache"),
            ));
    }
    let mut shutdown = shutdown_rx;
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                stopping(&mut shutdown).await;
            })
            .await
    });
    Ok(RunningServer {
        addr,
        shutdown: shutdown_tx,
        task,
        actor_task,
        actor,
        caseload: index,
    })
}

async fn health(State(state): State<AppState>) -> Response {
    match state.actor.stats().await {
        Some(_) => Json(serde_json::json!({ "status": "ok" })).into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "status": "stopping" })),
        )
            .into_response(),
    }
}

async fn sync_upgrade(State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    // Leave tungstenite a little headroom so an oversized frame reaches our own check and
    // the peer gets a protocol error, not just a dropped socket.
    let limit = state.max_frame_bytes;
    ws.max_message_size(limit.saturating_add(1))
        .max_frame_size(limit.saturating_add(1))
        .on_upgrade(move |socket| connection(socket, state))
}

async fn connection(socket: WebSocket, state: AppState) {
    let conn = ConnId(state.next_conn.fetch_add(1, Ordering::Relaxed));
    let (to_conn_tx, mut to_conn) = mpsc::unbounded_channel();
    // Identity comes from the transport; authentication at the upgrade arrives in a later issue.
    if !state.actor.send(Command::Open {
        conn,
        identity: Identity::anonymous(),
        to_conn: to_conn_tx,
    }) {
        return;
    }
    let (mut sink, mut stream) = socket.split();
    let mut shutdown = state.shutdown.clone();
    let close = |code: u16, reason: &str| {
        WsMessage::Close(Some(CloseFrame {
            code,
            reason: reason.chars().take(120).collect::<String>().into(),
        }))
    };
    let refuse = |text: &str| {
        WsMessage::Binary(
            Message::Error {
                sender_id: None,
                target_id: None,
                message: text.into(),
            }
            .encode()
            .into(),
        )
    };
    let heartbeat: axum::body::Bytes = Message::Heartbeat.encode().into();
    let idle = state.idle_timeout;
    let mut last_inbound = Instant::now();
    let mut pings =
        tokio::time::interval_at(last_inbound + state.ping_interval, state.ping_interval);
    pings.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let silent_until = last_inbound + idle;
        tokio::select! {
            out = to_conn.recv() => match out {
                Some(ToConn::Frame(bytes)) => {
                    if !send_bounded(&mut sink, WsMessage::Binary(bytes.into()), idle, conn).await { break; }
                }
                Some(ToConn::Close(reason)) => {
                    let _ = tokio::time::timeout(CLOSE_GRACE, sink.send(close(CLOSE_PROTOCOL_ERROR, &reason))).await;
                    break;
                }
                None => break,
            },
            _ = pings.tick() => {
                if !send_bounded(&mut sink, WsMessage::Ping(axum::body::Bytes::new()), idle, conn).await { break; }
            }
            _ = tokio::time::sleep_until(silent_until) => {
                tracing::info!(conn = conn.0, secs = idle.as_secs(), "closing connection: nothing received (not even a Pong) within the idle timeout");
                let _ = tokio::time::timeout(CLOSE_GRACE, sink.send(close(CLOSE_GOING_AWAY, "no traffic: connection presumed dead"))).await;
                break;
            }
            inbound = stream.next() => {
                if matches!(inbound, Some(Ok(_))) {
                    last_inbound = Instant::now();
                }
                match inbound {
                    Some(Ok(WsMessage::Binary(bytes))) if Message::is_heartbeat(&bytes) => {
                        // Answered here, not by the actor: it measures the link, not the disk.
                        if !send_bounded(&mut sink, WsMessage::Binary(heartbeat.clone()), idle, conn).await { break; }
                    }
                    Some(Ok(WsMessage::Binary(bytes))) => {
                        if bytes.len() > state.max_frame_bytes {
                            tracing::warn!(conn = conn.0, bytes = bytes.len(), "closing connection: frame over the size limit");
                            let _ = sink.send(refuse("message too large")).await;
                            let _ = sink.send(close(CLOSE_TOO_BIG, "message too large")).await;
                            break;
                        }
                        state.actor.send(Command::Frame { conn, bytes: bytes.into() });
                    }
                    Some(Ok(WsMessage::Text(_))) => {
                        tracing::warn!(conn = conn.0, "closing connection: text frame (the protocol is binary CBOR)");
                        let _ = sink.send(refuse("text frames are not part of the protocol")).await;
                        let _ = sink.send(close(CLOSE_UNSUPPORTED, "binary frames only")).await;
                        break;
                    }
                    Some(Ok(WsMessage::Close(_))) | None => break,
                    Some(Ok(_)) => {} // ping/pong: answered by the library, counted above
                    Some(Err(e)) => {
                        tracing::warn!(conn = conn.0, error = %e, "closing connection: transport error");
                        let _ = sink.send(refuse("message too large or malformed")).await;
                        let _ = sink.send(close(CLOSE_TOO_BIG, "message too large or malformed")).await;
                        break;
                    }
                }
            },
            _ = stopping(&mut shutdown) => {
                let _ = tokio::time::timeout(CLOSE_GRACE, sink.send(close(CLOSE_GOING_AWAY, "server shutting down"))).await;
                break;
            }
        }
    }
    state.actor.send(Command::Closed { conn });
}

/// Send, giving up after `limit`: a peer that stops reading would otherwise keep the send
/// waiting for buffer space forever. False: the connection is finished.
async fn send_bounded<S>(sink: &mut S, msg: WsMessage, limit: Duration, conn: ConnId) -> bool
where
    S: futures_util::Sink<WsMessage> + Unpin,
{
    match tokio::time::timeout(limit, sink.send(msg)).await {
        Ok(Ok(())) => true,
        Ok(Err(_)) => false,
        Err(_) => {
            tracing::info!(
                conn = conn.0,
                secs = limit.as_secs(),
                "closing connection: the peer stopped taking our frames"
            );
            false
        }
    }
}

async fn stopping(rx: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not Send: drop it before anything else awaits.
    let _ = rx.wait_for(|stop| *stop).await.map(|_| ());
}
