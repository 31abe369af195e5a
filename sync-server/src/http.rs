//! The one port: `/sync` (WebSocket, automerge-repo protocol), `/healthz`, and the PWA.
//!
//! Each connection task also keeps the connection honest (see `fieldbook_sync::health`): it
//! answers `fieldbook-heartbeat` messages itself, at once, without the sync actor; it sends
//! a WebSocket Ping every `ping_interval_secs`; and it closes a connection that has sent
//! nothing at all (no message, no Pong) for `idle_timeout_secs`, or that stops taking our
//! frames for as long, so half-open sockets do not live on.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use fieldbook_sync::{ConnId, Message};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{watch, Semaphore};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::access::CaseAccess;
use crate::api::{Auth, AuthSettings, Principal};
use crate::config::Config;
use crate::storage::Store;
use crate::sync_actor::{self, ActorHandle, ActorSettings, Command, Stats, ToConn};
use crate::watch_access::Accounts;

/// WebSocket close codes (RFC 6455).
const CLOSE_PROTOCOL_ERROR: u16 = 1002;
const CLOSE_UNSUPPORTED: u16 = 1003;
const CLOSE_TOO_BIG: u16 = 1009;
const CLOSE_GOING_AWAY: u16 = 1001;
const CLOSE_POLICY: u16 = 1008;
/// How long a close frame to an unresponsive peer may take before we just drop the socket.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// What each connection reads into. tungstenite's default is 128 KiB, zero-filled before
/// every read and so resident for every open connection: ≈137 KB an idle device, more than
/// the reference Node server's whole connection. Sync frames are mostly small; a bigger frame
/// still arrives whole, because tungstenite reserves a frame's full length once it has read
/// its header (and the frame limit, `max_frame_bytes`, is checked before that).
const READ_BUFFER_BYTES: usize = 4 * 1024;
/// Frames are written out as they are sent (every send is flushed anyway), so nothing
/// waits in a write buffer; tungstenite's default would gather up to 128 KiB first.
const WRITE_BUFFER_BYTES: usize = 0;

#[derive(Clone)]
struct AppState {
    actor: ActorHandle,
    next_conn: Arc<AtomicU64>,
    max_frame_bytes: usize,
    ping_interval: Duration,
    idle_timeout: Duration,
    shutdown: watch::Receiver<bool>,
    /// Server-wide bytes of received messages not yet handled by the actor.
    budget: Arc<Semaphore>,
    limits: Arc<ConnLimits>,
    outbound_frames: usize,
    outbound_bytes: usize,
    message_burst: u32,
    messages_per_sec: u32,
    join_timeout: Duration,
    /// Sign-in; None only for in-process tests of sync behaviour (`start_with`).
    auth: Option<Arc<Auth>>,
}

/// A started server. Dropping it does not stop it; call [`RunningServer::shutdown`].
pub struct RunningServer {
    pub addr: SocketAddr,
    /// Serving HTTPS and WSS (the server terminates TLS).
    tls: bool,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    actor_task: tokio::task::JoinHandle<()>,
    actor: ActorHandle,
    watcher: Option<tokio::task::JoinHandle<()>>,
    auth: Option<Arc<Auth>>,
}

impl RunningServer {
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}/", self.addr)
    }

    pub fn sync_url(&self) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        format!("{scheme}://{}/sync", self.addr)
    }

    /// Whether anyone can sign in (false for a new store, and without sign-in).
    pub fn has_accounts(&self) -> bool {
        self.auth
            .as_ref()
            .and_then(|a| a.model.read().ok().map(|m| m.users().next().is_some()))
            .unwrap_or(false)
    }

    pub async fn stats(&self) -> Option<Stats> {
        self.actor.stats().await
    }

    /// The caseload index document (see `fieldbook_case::caseload`).
    pub fn watch_stats(&self) -> tokio::sync::watch::Receiver<Stats> {
        self.actor.watch_stats()
    }

    /// Completes when the sync actor has ended. Before [`RunningServer::shutdown`] that
    /// means it died: nothing can sync, so the process should exit and be restarted.
    pub async fn actor_ended(&mut self) {
        let _ = (&mut self.actor_task).await;
    }

    /// Close every connection, let the actor commit what it has, and wait for both.
    pub async fn shutdown(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(true);
        let res = self
            .task
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        if let Some(w) = self.watcher {
            w.abort();
        }
        drop(self.actor);
        let _ = self.actor_task.await;
        res
    }
}

/// Open the embedded store and its directory of accounts, and start serving on
/// `config.listen`. Every connection must sign in (docs/ACCESS.md).
pub async fn start(config: &Config) -> anyhow::Result<RunningServer> {
    let path = config.database_path();
    // The data directory is the owner's alone whatever the store: on PostgreSQL it still
    // holds the default master key file (opening the SQLite store does the same).
    crate::storage::files::restrict_dir(&config.data_dir)
        .map_err(|e| anyhow::anyhow!("data directory: {e}"))?;
    // Read once: it seals the documents' keys and the directory's device keys.
    let master = crate::storage::MasterKey::resolve(&config.master_key_path())
        .map_err(|e| anyhow::anyhow!("master key: {e}"))?;
    let device_key_wrap = Arc::new(
        master
            .cipher()
            .map_err(|e| anyhow::anyhow!("master key: {e}"))?,
    );
    // PostgreSQL when `database_url` is set (one pool, for the store and the directory),
    // else the SQLite file in the data directory.
    let pool = crate::storage::open_pool(config)
        .map_err(|e| anyhow::anyhow!("cannot reach the database: {e}"))?;
    let mut store = crate::storage::open_with(config, master, pool.as_ref())
        .await
        .map_err(|e| match &pool {
            Some(p) => anyhow::anyhow!("cannot open the store in the {}: {e}", p.url().describe()),
            None => anyhow::anyhow!("cannot open the store at {}: {e}", path.display()),
        })?;
    // Nodes sharing PostgreSQL tell each other what they wrote (docs/SCALE-OUT.md).
    let mut feed: Option<Arc<dyn crate::feed::ChangeFeed>> = None;
    if let Some(p) = &pool {
        tracing::info!(database = %p.url().describe(), "documents are kept in PostgreSQL");
        let pg_feed = crate::feed::PgFeed::new(p.url().clone());
        if let crate::storage::ServerStore::Postgres(pg) = &mut store {
            pg.notify_as(crate::feed::ChangeFeed::node(&pg_feed));
        }
        feed = Some(Arc::new(pg_feed));
    }
    // Blocking (migrations): on a blocking thread, not this async task's worker.
    let dir = {
        let (config, pool) = (config.clone(), pool.clone());
        tokio::task::spawn_blocking(move || crate::accounts::open(&config, pool.as_ref()))
            .await
            .map_err(|e| anyhow::anyhow!("opening the directory stopped: {e}"))?
            .map_err(|e| anyhow::anyhow!("cannot open the directory: {e}"))?
    };
    let now = crate::api::now_ms();
    crate::caseload::adopt_unregistered(&store, &dir, now)
        .await
        .map_err(|e| anyhow::anyhow!("cannot register existing documents: {e}"))?;
    if config.demo {
        let added = crate::demo::seed(&store, &dir, now, &crate::demo::Size::of(config))
            .await
            .map_err(|e| anyhow::anyhow!("cannot seed the demo: {e}"))?;
        tracing::info!(added, "demo cases and accounts (invented people) seeded");
    }
    let (accounts, version) =
        Accounts::load(dir).map_err(|e| anyhow::anyhow!("cannot read the directory: {e}"))?;
    let policy = CaseAccess::new(accounts.model.clone());
    serve(
        config,
        store,
        policy,
        Some((accounts, version, device_key_wrap)),
        feed,
    )
    .await
}

/// The embedded store WITHOUT sign-in: only for in-process tests of sync behaviour (the
/// binary always uses [`start`]).
#[doc(hidden)]
pub async fn start_without_sign_in(config: &Config) -> anyhow::Result<RunningServer> {
    let store = crate::storage::open(config)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the store: {e}"))?;
    start_with_store(config, store).await
}

/// Start WITHOUT sign-in, every connection anonymous and allowed everything: only for
/// in-process tests of sync behaviour. The binary always uses [`start`].
pub async fn start_with_store<S: Store + Clone + Send + 'static>(
    config: &Config,
    store: S,
) -> anyhow::Result<RunningServer> {
    start_with(config, store, fieldbook_sync::AllowAll).await
}

/// Like [`start_with_store`] (no sign-in) with a given access policy, for tests that need
/// to reach engine paths.
pub async fn start_with<S, P>(config: &Config, store: S, policy: P) -> anyhow::Result<RunningServer>
where
    S: Store + Clone + Send + 'static,
    P: fieldbook_sync::AccessPolicy + Send + 'static,
{
    serve(config, store, policy, None, None).await
}

/// Like [`start_with`], as one of several nodes sharing `store`, told of each other's
/// commits by `feed` (docs/SCALE-OUT.md): for in-process tests of several nodes.
pub async fn start_with_feed<S, P>(
    config: &Config,
    store: S,
    policy: P,
    feed: Arc<dyn crate::feed::ChangeFeed>,
) -> anyhow::Result<RunningServer>
where
    S: Store + Clone + Send + 'static,
    P: fieldbook_sync::AccessPolicy + Send + 'static,
{
    serve(config, store, policy, None, Some(feed)).await
}

async fn serve<S, P>(
    config: &Config,
    store: S,
    policy: P,
    accounts: Option<(Accounts, i64, Arc<crate::storage::keys::Sealer>)>,
    feed: Option<Arc<dyn crate::feed::ChangeFeed>>,
) -> anyhow::Result<RunningServer>
where
    S: Store + Clone + Send + 'static,
    P: fieldbook_sync::AccessPolicy + Send + 'static,
{
    config
        .check()
        .map_err(|e| anyhow::anyhow!("invalid settings: {e}"))?;
    let listener = crate::transport::bind(config).await?;
    let addr = axum::serve::Listener::local_addr(&listener)?;
    let tls = config.tls_enabled();
    let (actor, actor_task) = sync_actor::spawn(
        store,
        ActorSettings {
            compact_after_chunks: config.compact_after_chunks,
            evict_idle: Duration::from_secs(config.evict_idle_secs),
            inbox_capacity: config.actor_inbox,
            max_ops_per_message: config.max_ops_per_message,
        },
        policy,
        accounts.as_ref().map(|(a, _, _)| a.clone()),
        feed,
    );
    let auth = accounts.as_ref().map(|(a, _, wrap)| {
        Arc::new(Auth::new(
            a.dir.clone(),
            a.model.clone(),
            AuthSettings {
                session_ttl_ms: (config.session_ttl_hours as i64).saturating_mul(3_600_000),
                ticket_ttl_ms: (config.ticket_ttl_secs as i64).saturating_mul(1000),
                secure_cookies: config.serves_https(),
                allowed_origins: config.allowed_origins.clone(),
                device_policy: crate::api::DevicePolicy::from_config(config),
                clock_settings: crate::api::ClockSettings::from_config(config),
                device_key_wrap: wrap.clone(),
            },
        ))
    });
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    // Lone working alerts: stops when the server is told to stop.
    if let Some((a, _, _)) = &accounts {
        crate::lone::spawn_scanner(
            a.dir.clone(),
            Duration::from_secs(config.lone_working_scan_secs),
            shutdown_rx.clone(),
        );
    }
    let watcher =
        accounts.map(|(a, version, _)| crate::watch_access::spawn(a, version, actor.clone()));
    let state = AppState {
        actor: actor.clone(),
        next_conn: Arc::new(AtomicU64::new(1)),
        max_frame_bytes: config.max_frame_bytes,
        ping_interval: Duration::from_secs(config.ping_interval_secs),
        idle_timeout: Duration::from_secs(config.idle_timeout_secs),
        shutdown: shutdown_rx.clone(),
        budget: Arc::new(Semaphore::new(config.inflight_bytes)),
        limits: Arc::new(ConnLimits {
            max_total: config.max_connections,
            max_per_address: config.max_connections_per_address,
            open: Mutex::new((0, HashMap::new())),
            refusing: AtomicBool::new(false),
        }),
        outbound_frames: config.outbound_frames,
        outbound_bytes: config.outbound_bytes,
        message_burst: config.message_burst,
        messages_per_sec: config.messages_per_sec,
        join_timeout: Duration::from_secs(config.join_timeout_secs),
        auth: auth.clone(),
    };
    let state_auth = state.auth.clone();
    let mut app = Router::new()
        .route("/sync", get(sync_upgrade))
        .route("/healthz", get(health))
        .with_state(state);
    if let Some(auth) = auth {
        app = app.merge(crate::api::routes(auth));
    }
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
    let app = crate::transport::security_headers(app, config);
    let mut shutdown = shutdown_rx;
    let task = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            stopping(&mut shutdown).await;
        })
        .await
    });
    Ok(RunningServer {
        addr,
        tls,
        shutdown: shutdown_tx,
        task,
        actor_task,
        actor,
        watcher,
        auth: state_auth,
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

/// Open connections, in total and per remote address. A slot is held by each connection
/// task and given back when it ends.
struct ConnLimits {
    max_total: usize,
    max_per_address: usize,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
    /// Set while refusing, so a flood of refused upgrades is logged once, not per attempt.
    refusing: AtomicBool,
}

struct ConnSlot {
    limits: Arc<ConnLimits>,
    ip: IpAddr,
}

impl ConnLimits {
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<ConnSlot, (StatusCode, &'static str)> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let refusal = if open.0 >= self.max_total {
            Some((
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is at its connection limit",
            ))
        } else if open.1.get(&ip).copied().unwrap_or(0) >= self.max_per_address {
            Some((
                StatusCode::TOO_MANY_REQUESTS,
                "too many connections from this address",
            ))
        } else {
            None
        };
        if let Some((status, why)) = refusal {
            drop(open);
            if !self.refusing.swap(true, Ordering::Relaxed) {
                // The address is not logged: it identifies a worker's network.
                tracing::warn!(
                    status = status.as_u16(),
                    reason = why,
                    "refusing new connections (logged once until one is accepted again)"
                );
            }
            return Err((status, why));
        }
        open.0 += 1;
        *open.1.entry(ip).or_insert(0) += 1;
        drop(open);
        self.refusing.store(false, Ordering::Relaxed);
        Ok(ConnSlot {
            limits: self.clone(),
            ip,
        })
    }
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        let mut open = self.limits.open.lock().unwrap_or_else(|e| e.into_inner());
        open.0 -= 1;
        if let Some(n) = open.1.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.1.remove(&self.ip);
            }
        }
    }
}

/// Messages a connection may send: `burst` at once, then `per_sec`.
struct TokenBucket {
    tokens: f64,
    burst: f64,
    per_sec: f64,
    last: Instant,
}

impl TokenBucket {
    fn new(burst: u32, per_sec: u32, now: Instant) -> Self {
        TokenBucket {
            tokens: burst.into(),
            burst: burst.into(),
            per_sec: per_sec.into(),
            last: now,
        }
    }

    fn take(&mut self, now: Instant) -> bool {
        let secs = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + secs * self.per_sec).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[derive(serde::Deserialize)]
struct SyncQuery {
    ticket: Option<String>,
}

async fn sync_upgrade(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<SyncQuery>,
    ws: WebSocketUpgrade,
) -> Response {
    let principal = match &state.auth {
        None => None,
        Some(auth) => {
            let ticket = query.ticket;
            match auth.admit(&headers, ticket).await {
                Ok(p) => Some(p),
                Err(refused) => return refused,
            }
        }
    };
    let slot = match state.limits.admit(peer.ip()) {
        Ok(slot) => slot,
        Err(refused) => return refused.into_response(),
    };
    // Leave tungstenite a little headroom so an oversized frame reaches our own check and
    // the peer gets a protocol error, not just a dropped socket.
    let limit = state.max_frame_bytes;
    ws.max_message_size(limit.saturating_add(1))
        .max_frame_size(limit.saturating_add(1))
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .on_upgrade(move |socket| connection(socket, state, slot, principal))
}

async fn connection(
    socket: WebSocket,
    state: AppState,
    _slot: ConnSlot,
    principal: Option<Principal>,
) {
    let conn = ConnId(state.next_conn.fetch_add(1, Ordering::Relaxed));
    let (to_conn_tx, mut to_conn) =
        sync_actor::conn_queue(state.outbound_frames, state.outbound_bytes);
    // Identity comes from the sign-in checked at the upgrade, never from what the peer says.
    if !state
        .actor
        .send(Command::Open {
            conn,
            principal,
            to_conn: to_conn_tx,
        })
        .await
    {
        return;
    }
    let overflow = to_conn.overflow();
    let (mut sink, mut stream) = socket.split();
    let mut shutdown = state.shutdown.clone();
    let close = |code: u16, reason: &str| {
        WsMessage::Close(Some(CloseFrame {
            code,
            // A close reason may hold at most 123 bytes; cut at a character boundary.
            reason: {
                let mut end = reason.len().min(120);
                while !reason.is_char_boundary(end) {
                    end -= 1;
                }
                reason[..end].to_owned().into()
            },
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
    let join_deadline = last_inbound + state.join_timeout;
    let mut joined = false;
    let turns = Arc::new(Semaphore::new(QUEUED_PER_CONNECTION));
    let mut rate = TokenBucket::new(state.message_burst, state.messages_per_sec, last_inbound);
    let mut pings =
        tokio::time::interval_at(last_inbound + state.ping_interval, state.ping_interval);
    pings.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let silent_until = last_inbound + idle;
        tokio::select! {
            out = to_conn.recv() => if !deliver(&mut sink, out, &overflow, idle, conn, &close).await { break },
            // The actor found our queue full and has forgotten us (it logged why).
            _ = overflow.wait() => break,
            _ = pings.tick() => {
                if !send_bounded(&mut sink, WsMessage::Ping(axum::body::Bytes::new()), idle, conn).await { break; }
            }
            _ = tokio::time::sleep_until(silent_until) => {
                tracing::info!(conn = conn.0, secs = idle.as_secs(), "closing connection: nothing received (not even a Pong) within the idle timeout");
                let _ = tokio::time::timeout(CLOSE_GRACE, sink.send(close(CLOSE_GOING_AWAY, "no traffic: connection presumed dead"))).await;
                break;
            }
            _ = tokio::time::sleep_until(join_deadline), if !joined => {
                tracing::info!(conn = conn.0, secs = state.join_timeout.as_secs(), "closing connection: no join within the handshake timeout");
                let _ = tokio::time::timeout(CLOSE_GRACE, sink.send(refuse("no join within the handshake timeout"))).await;
                let _ = tokio::time::timeout(CLOSE_GRACE, sink.send(close(CLOSE_POLICY, "no join"))).await;
                break;
            }
            inbound = stream.next() => {
                if matches!(inbound, Some(Ok(_))) {
                    let now = Instant::now();
                    last_inbound = now;
                    if !rate.take(now) {
                        tracing::warn!(conn = conn.0, "closing connection: over the message rate limit");
                        let _ = tokio::time::timeout(CLOSE_GRACE, sink.send(refuse("too many messages: over the rate limit"))).await;
                        let _ = tokio::time::timeout(CLOSE_GRACE, sink.send(close(CLOSE_POLICY, "over the rate limit"))).await;
                        break;
                    }
                }
                match inbound {
                    Some(Ok(WsMessage::Binary(bytes))) if Message::is_heartbeat(&bytes) => {
                        // Answered here, not by the actor: it measures the link, not the disk.
                        if !send_bounded(&mut sink, WsMessage::Binary(heartbeat.clone()), idle, conn).await { break; }
                    }
                    Some(Ok(WsMessage::Binary(bytes))) => {
                        if bytes.len() > state.max_frame_bytes {
                            tracing::warn!(conn = conn.0, bytes = bytes.len(), "closing connection: frame over the size limit");
                            let _ = tokio::time::timeout(CLOSE_GRACE, sink.send(refuse("message too large"))).await;
                            let _ = tokio::time::timeout(CLOSE_GRACE, sink.send(close(CLOSE_TOO_BIG, "message too large"))).await;
                            break;
                        }
                        // Wait for room in the server-wide budget before decoding (which copies
                        // the payload): this connection stops reading meanwhile, others go on.
                        // Fits in u32: `Config::check` caps max_frame_bytes.
                        let want = bytes.len().max(1) as u32;
                        let budget = tokio::select! {
                            p = state.budget.clone().acquire_many_owned(want) => match p {
                                Ok(p) => p,
                                Err(_) => break,
                            },
                            _ = stopping(&mut shutdown) => break,
                        };
                        let msg = match Message::decode(&bytes) {
                            Ok(msg) => msg,
                            Err(e) => {
                                let reason = e.to_string();
                                tracing::warn!(conn = conn.0, reason = ?reason, "closing connection: malformed message");
                                let _ = tokio::time::timeout(CLOSE_GRACE, sink.send(refuse(&reason))).await;
                                let _ = tokio::time::timeout(CLOSE_GRACE, sink.send(close(CLOSE_PROTOCOL_ERROR, &reason))).await;
                                break;
                            }
                        };
                        drop(bytes);
                        joined |= matches!(msg, Message::Join { .. });
                        // One of this connection's places in the actor's inbox: a peer
                        // sending faster than the actor answers (a flood of requests for
                        // documents that must be loaded) waits here, unread, and never
                        // stands more than a few messages ahead of anyone else's.
                        // Frames for it still go out meanwhile.
                        let turn = loop {
                            tokio::select! {
                                t = turns.clone().acquire_owned() => break t.ok(),
                                out = to_conn.recv() => if !deliver(&mut sink, out, &overflow, idle, conn, &close).await { break None },
                                _ = overflow.wait() => break None,
                                _ = stopping(&mut shutdown) => break None,
                            }
                        };
                        let Some(turn) = turn else { break };
                        let cmd = Command::Message { conn, msg, budget: Some(budget), turn: Some(turn) };
                        let queued = tokio::select! {
                            ok = state.actor.send(cmd) => ok,
                            _ = stopping(&mut shutdown) => false,
                        };
                        if !queued { break; }
                    }
                    Some(Ok(WsMessage::Text(_))) => {
                        tracing::warn!(conn = conn.0, "closing connection: text frame (the protocol is binary CBOR)");
                        let _ = tokio::time::timeout(CLOSE_GRACE, sink.send(refuse("text frames are not part of the protocol"))).await;
                        let _ = tokio::time::timeout(CLOSE_GRACE, sink.send(close(CLOSE_UNSUPPORTED, "binary frames only"))).await;
                        break;
                    }
                    Some(Ok(WsMessage::Close(_))) | None => break,
                    Some(Ok(_)) => {} // ping/pong: answered by the library, counted above
                    Some(Err(e)) => {
                        tracing::warn!(conn = conn.0, error = ?e.to_string(), "closing connection: transport error");
                        let _ = tokio::time::timeout(CLOSE_GRACE, sink.send(refuse("message too large or malformed"))).await;
                        let _ = tokio::time::timeout(CLOSE_GRACE, sink.send(close(CLOSE_TOO_BIG, "message too large or malformed"))).await;
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
    state.actor.send(Command::Closed { conn }).await;
    // The close handshake: read and discard until the peer's Close (briefly, a bounded number
    // of frames). Closing with the peer's frames unread in the kernel makes it reset the
    // connection, which throws away the reason we just sent (with a small read buffer there
    // usually are some: a flooder's).
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        for _ in 0..LINGER_FRAMES {
            match stream.next().await {
                Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
}

/// Frames read and discarded after we close, waiting for the peer's Close.
const LINGER_FRAMES: usize = 10_000;
/// Messages one connection may have waiting in the actor's inbox (which holds
/// `actor_inbox`, 1,024 by default, from everyone): the rest wait unread in its socket.
const QUEUED_PER_CONNECTION: usize = 64;

/// Send, giving up after `limit`: a peer that stops reading would otherwise keep the send
/// waiting for buffer space forever. False: the connection is finished.
/// Hand one item of the actor's outbound queue to the peer. False: the connection ends
/// (closed as asked, the peer not reading, or the actor gone).
async fn deliver<S>(
    sink: &mut S,
    out: Option<ToConn>,
    overflow: &crate::sync_actor::Overflow,
    idle: Duration,
    conn: ConnId,
    close: &impl Fn(u16, &str) -> WsMessage,
) -> bool
where
    S: futures_util::Sink<WsMessage> + Unpin,
{
    match out {
        Some(ToConn::Frame(bytes)) => tokio::select! {
            ok = send_bounded(sink, WsMessage::Binary(bytes.into()), idle, conn) => ok,
            _ = overflow.wait() => false,
        },
        Some(ToConn::Close(reason)) => {
            let _ =
                tokio::time::timeout(CLOSE_GRACE, sink.send(close(CLOSE_PROTOCOL_ERROR, &reason)))
                    .await;
            false
        }
        Some(ToConn::SignedOut) => {
            let _ = tokio::time::timeout(
                CLOSE_GRACE,
                sink.send(close(CLOSE_POLICY, "signed out: sign in again")),
            )
            .await;
            false
        }
        None => false,
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync_actor::conn_queue;

    #[test]
    fn token_bucket_allows_the_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(5, 10, t0);
        assert!((0..5).all(|_| b.take(t0)));
        assert!(!b.take(t0), "burst spent");
        // 10 per second: one token every 100 ms, never more than the burst.
        assert!(b.take(t0 + Duration::from_millis(100)));
        assert!(!b.take(t0 + Duration::from_millis(100)));
        let later = t0 + Duration::from_secs(60);
        assert_eq!((0..10).filter(|_| b.take(later)).count(), 5);
    }

    #[test]
    fn connection_slots_are_counted_and_given_back() {
        let limits = Arc::new(ConnLimits {
            max_total: 3,
            max_per_address: 2,
            open: Mutex::new((0, HashMap::new())),
            refusing: AtomicBool::new(false),
        });
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let a1 = limits.admit(a).unwrap();
        let _a2 = limits.admit(a).unwrap();
        assert_eq!(
            limits.admit(a).err().map(|e| e.0),
            Some(StatusCode::TOO_MANY_REQUESTS)
        );
        let _b1 = limits.admit(b).unwrap();
        assert_eq!(
            limits.admit(b).err().map(|e| e.0),
            Some(StatusCode::SERVICE_UNAVAILABLE)
        );
        drop(a1);
        let _a3 = limits.admit(a).unwrap();
        drop(_a3);
        drop(_a2);
        assert!(
            !limits.open.lock().unwrap().1.contains_key(&a),
            "no entry left for a gone address"
        );
    }

    #[tokio::test]
    async fn outbound_queue_is_bounded_by_frames_and_bytes() {
        use crate::sync_actor::ToConn;
        // By frames.
        let (tx, mut rx) = conn_queue(2, 1 << 20);
        assert!(tx.try_send(ToConn::Frame(vec![0; 10])));
        assert!(tx.try_send(ToConn::Frame(vec![0; 10])));
        assert!(
            !tx.try_send(ToConn::Frame(vec![0; 10])),
            "third frame refused"
        );
        let overflow = rx.overflow();
        tokio::time::timeout(Duration::from_secs(1), overflow.wait())
            .await
            .expect("the connection is told it overflowed");
        assert!(matches!(rx.recv().await, Some(ToConn::Frame(_))));

        // By bytes: one oversized frame goes to an empty queue, nothing after it.
        let (tx, mut rx) = conn_queue(100, 1000);
        assert!(tx.try_send(ToConn::Frame(vec![0; 5000])));
        assert!(!tx.try_send(ToConn::Frame(vec![0; 1])));
        rx.recv().await.unwrap();
        // Drained: room again.
        assert!(tx.try_send(ToConn::Frame(vec![0; 600])));
        assert!(tx.try_send(ToConn::Frame(vec![0; 400])));
        assert!(!tx.try_send(ToConn::Frame(vec![0; 1])), "1000 bytes queued");
    }
}
