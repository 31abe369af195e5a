//! The sans-IO engine: inputs in, [`Output`] out. No sockets, files, clocks or threads.
//!
//! The driver (server actor, browser client, simulation) must, for every [`Output`]:
//! 1. apply `output.storage` as one durable transaction;
//! 2. only then send `output.send` and close `output.close`;
//! 3. if the transaction fails, call [`Engine::storage_failed`] and apply *its* output
//!    instead (it closes the affected connections and forgets the unsaved state);
//! 4. answer each id in `output.loads` with [`Engine::loaded`].
//!
//! Rule 2 is what makes an acknowledgement (a sync message reflecting a change) imply the
//! change is on disk.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use automerge::sync::{self, SyncDoc};
use automerge::{Automerge, ChangeHash, ReadDoc};

use crate::storage::{ChunkKey, ChunkKind, StorageOp, StoreError, StoredDocument};
use crate::wire::{Message, PeerMetadata, PROTOCOL_V1};
use crate::{DocumentId, PeerId, StorageId};

/// What a peer is told when its changes could not be stored; it keeps them and retries.
pub const STORAGE_ERROR: &str = "storage error on the server; try again later";

/// Milliseconds on the driver's clock. The engine never reads a clock itself.
pub type Millis = u64;

/// A transport connection, numbered by the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// Who is on the other end of a connection, as established by the transport (e.g. an
/// authenticated session at the WebSocket upgrade). Never taken from what a peer claims.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identity(pub String);

impl Identity {
    pub fn anonymous() -> Self {
        Identity("anonymous".into())
    }
}

/// Per-document access decisions. A document a peer may not read is answered exactly as
/// an absent one (`doc-unavailable`), so its existence does not leak.
pub trait AccessPolicy {
    fn may_read(&self, who: &Identity, doc: &DocumentId) -> bool;
    fn may_write(&self, who: &Identity, doc: &DocumentId) -> bool;
}

/// Everyone may read and write everything (single-user and test setups).
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl AccessPolicy for AllowAll {
    fn may_read(&self, _: &Identity, _: &DocumentId) -> bool {
        true
    }
    fn may_write(&self, _: &Identity, _: &DocumentId) -> bool {
        true
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Waits for `join`, answers `peer`; syncs a document only with peers that ask for it.
    Server,
    /// Sends `join`; after `peer`, offers every document it holds to the server.
    Client,
}

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub role: Role,
    pub peer_id: PeerId,
    /// `None` for an ephemeral peer (nothing persisted, so peers need not remember us).
    pub storage_id: Option<StorageId>,
    /// Fold incremental chunks into a snapshot once a document has this many.
    pub compact_after_chunks: usize,
    /// Drop a document from memory after it has had no peers for this long (`None`: never).
    pub evict_idle_after: Option<Millis>,
    /// Server: say in `peer` that this server's transport answers `fieldbook-heartbeat`
    /// messages (see [`crate::health`]). The engine itself never answers them.
    pub heartbeat: bool,
}

impl EngineConfig {
    pub fn new(role: Role, peer_id: PeerId, storage_id: Option<StorageId>) -> Self {
        EngineConfig {
            role,
            peer_id,
            storage_id,
            compact_after_chunks: 32,
            evict_idle_after: Some(30_000),
            heartbeat: false,
        }
    }
}

/// Something the driver or the UI may want to know about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    PeerJoined {
        conn: ConnId,
        peer: PeerId,
        storage_id: Option<StorageId>,
        /// Client side: the server answers `fieldbook-heartbeat` (always false on a server).
        heartbeat: bool,
    },
    /// A document's content changed because of a remote peer.
    DocumentChanged {
        doc: DocumentId,
        from: ConnId,
    },
    /// Loaded from storage (or found to be absent: `exists == false`).
    DocumentLoaded {
        doc: DocumentId,
        exists: bool,
    },
    /// The remote peer said it does not have (or will not share) the document.
    DocumentUnavailable {
        doc: DocumentId,
        conn: ConnId,
    },
    /// A peer without write access sent changes; they were not applied.
    WriteRejected {
        doc: DocumentId,
        conn: ConnId,
    },
    Ephemeral {
        doc: DocumentId,
        conn: ConnId,
        data: Vec<u8>,
    },
    /// The connection broke the protocol and is being closed.
    ProtocolViolation {
        conn: ConnId,
        reason: String,
    },
    /// Storage could not load a document; waiting peers are disconnected.
    LoadFailed {
        doc: DocumentId,
        reason: String,
    },
    DocumentEvicted {
        doc: DocumentId,
    },
}

/// The effects of one engine step. See the module docs for the order a driver applies them.
#[derive(Debug, Default)]
#[must_use = "an Output's storage writes and messages must be carried out"]
pub struct Output {
    pub storage: Vec<StorageOp>,
    pub loads: Vec<DocumentId>,
    pub send: Vec<(ConnId, Message)>,
    /// Connections to close once their pending `send`s are flushed, with the reason.
    pub close: Vec<(ConnId, String)>,
    pub events: Vec<Event>,
}

impl Output {
    pub fn merge(&mut self, other: Output) {
        self.storage.extend(other.storage);
        self.loads.extend(other.loads);
        self.send.extend(other.send);
        self.close.extend(other.close);
        self.events.extend(other.events);
    }

    /// Documents this output's storage operations write, for [`Engine::storage_failed`]
    /// (taken before the operations are handed to storage, so no bytes are copied).
    pub fn documents_written(&self) -> BTreeSet<DocumentId> {
        self.storage.iter().map(|op| *op.document()).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.storage.is_empty()
            && self.loads.is_empty()
            && self.send.is_empty()
            && self.close.is_empty()
            && self.events.is_empty()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EngineError {
    #[error("document {0} is not loaded")]
    NotLoaded(DocumentId),
    #[error("automerge: {0}")]
    Automerge(String),
}

enum ConnState {
    AwaitingJoin,
    AwaitingPeer,
    Ready {
        remote: PeerId,
        metadata: PeerMetadata,
    },
}

struct Conn {
    identity: Identity,
    state: ConnState,
}

struct PeerSync {
    state: sync::State,
    /// Shared heads last written to storage, to skip redundant writes.
    persisted: Vec<ChangeHash>,
}

struct Doc {
    am: Automerge,
    saved_heads: Vec<ChangeHash>,
    /// Chunks currently in storage, so compaction can name exactly what it replaces.
    chunks: Vec<ChunkKey>,
    peers: BTreeMap<ConnId, PeerSync>,
    /// Peers that asked while we had nothing; they get the document when it arrives.
    wants: BTreeSet<ConnId>,
    persisted_sync: BTreeMap<String, Vec<u8>>,
    idle_since: Option<Millis>,
    /// Client side: we asked the server for it and are waiting for content.
    requested: bool,
}

impl Doc {
    fn exists(&self) -> bool {
        !self.saved_heads.is_empty() || !self.am.get_heads().is_empty()
    }
}

enum Pending {
    Frame { conn: ConnId, msg: Message },
    Request,
}

pub struct Engine<P: AccessPolicy = AllowAll> {
    cfg: EngineConfig,
    policy: P,
    conns: BTreeMap<ConnId, Conn>,
    docs: BTreeMap<DocumentId, Doc>,
    loading: BTreeMap<DocumentId, VecDeque<Pending>>,
    now: Millis,
}

impl<P: AccessPolicy> Engine<P> {
    pub fn new(cfg: EngineConfig, policy: P) -> Self {
        Engine {
            cfg,
            policy,
            conns: BTreeMap::new(),
            docs: BTreeMap::new(),
            loading: BTreeMap::new(),
            now: 0,
        }
    }

    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    pub fn peer_id(&self) -> &PeerId {
        &self.cfg.peer_id
    }

    pub fn policy_mut(&mut self) -> &mut P {
        &mut self.policy
    }

    /// The in-memory document, if loaded and non-empty.
    pub fn document(&self, doc: &DocumentId) -> Option<&Automerge> {
        self.docs.get(doc).filter(|d| d.exists()).map(|d| &d.am)
    }

    pub fn loaded_documents(&self) -> impl Iterator<Item = &DocumentId> {
        self.docs.keys()
    }

    pub fn loaded_count(&self) -> usize {
        self.docs.len()
    }

    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// Whether the peer on `conn` has acknowledged everything we have of `doc`: its last
    /// advertised heads equal ours (e.g. a client waiting for the server's acknowledgement).
    pub fn is_synced_with(&self, doc: &DocumentId, conn: ConnId) -> bool {
        let Some(d) = self.docs.get(doc) else {
            return false;
        };
        let ours = d.am.get_heads();
        d.peers
            .get(&conn)
            .and_then(|p| p.state.their_heads.as_ref())
            .is_some_and(|theirs| {
                let mut a = theirs.clone();
                let mut b = ours.clone();
                a.sort();
                b.sort();
                a == b
            })
    }

    /// Changes we have that the peer on `conn` has not acknowledged.
    pub fn unacknowledged_changes(&self, doc: &DocumentId, conn: ConnId) -> usize {
        let Some(d) = self.docs.get(doc) else {
            return 0;
        };
        let theirs = d
            .peers
            .get(&conn)
            .and_then(|p| p.state.their_heads.clone())
            .unwrap_or_default();
        let known: Vec<ChangeHash> = theirs
            .into_iter()
            .filter(|h| d.am.get_change_by_hash(h).is_some())
            .collect();
        d.am.get_changes(&known).len()
    }

    /// The heads of `doc` the peer with durable storage `peer` is known to have (the live
    /// connection's view if there is one, else the persisted sync state), keeping only hashes
    /// we hold. Empty when it has confirmed nothing. Works offline. `None` if `doc` is not
    /// loaded.
    pub fn confirmed_heads(&self, doc: &DocumentId, peer: &StorageId) -> Option<Vec<ChangeHash>> {
        let d = self.docs.get(doc)?;
        let live = d.peers.iter().find_map(|(conn, ps)| {
            let (_, md) = self.remote(*conn)?;
            (md.storage_id.as_ref() == Some(peer)).then(|| ps.state.shared_heads.clone())
        });
        let shared = live.or_else(|| {
            d.persisted_sync
                .get(&peer.0)
                .and_then(|b| sync::State::decode(b).ok())
                .map(|s| s.shared_heads)
        });
        Some(
            shared
                .unwrap_or_default()
                .into_iter()
                .filter(|h| d.am.get_change_by_hash(h).is_some())
                .collect(),
        )
    }

    /// Changes of `doc` the peer with durable storage `peer` has not confirmed, using the
    /// live connection's view if there is one, else the persisted sync state. Works offline:
    /// what a device shows is counted in records from [`Engine::confirmed_heads`] instead.
    pub fn unconfirmed_changes(&self, doc: &DocumentId, peer: &StorageId) -> usize {
        match (self.docs.get(doc), self.confirmed_heads(doc, peer)) {
            (Some(d), Some(known)) => d.am.get_changes(&known).len(),
            _ => 0,
        }
    }

    // ----- connections -------------------------------------------------------------------

    /// A transport connection opened. Clients send `join` at once.
    pub fn connect(&mut self, conn: ConnId, identity: Identity, now: Millis) -> Output {
        self.now = now;
        let mut out = Output::default();
        let state = match self.cfg.role {
            Role::Server => ConnState::AwaitingJoin,
            Role::Client => {
                out.send.push((
                    conn,
                    Message::Join {
                        sender_id: self.cfg.peer_id.clone(),
                        metadata: self.metadata(),
                        supported_protocol_versions: vec![PROTOCOL_V1.into()],
                    },
                ));
                ConnState::AwaitingPeer
            }
        };
        self.conns.insert(conn, Conn { identity, state });
        out
    }

    /// The transport closed (either side). Forget per-connection sync state.
    pub fn disconnect(&mut self, conn: ConnId, now: Millis) -> Output {
        self.now = now;
        self.conns.remove(&conn);
        for d in self.docs.values_mut() {
            d.wants.remove(&conn);
            if d.peers.remove(&conn).is_some() && d.peers.is_empty() {
                d.idle_since = Some(now);
            }
        }
        for q in self.loading.values_mut() {
            q.retain(|p| !matches!(p, Pending::Frame { conn: c, .. } if *c == conn));
        }
        Output::default()
    }

    /// One inbound frame from `conn`.
    pub fn receive(&mut self, conn: ConnId, frame: &[u8], now: Millis) -> Output {
        self.now = now;
        let mut out = Output::default();
        if !self.conns.contains_key(&conn) {
            return out;
        }
        match Message::decode(frame) {
            Ok(msg) => self.handle(conn, msg, &mut out),
            Err(e) => self.violation(conn, e.to_string(), &mut out),
        }
        out
    }

    fn handle(&mut self, conn: ConnId, msg: Message, out: &mut Output) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        match (&c.state, msg) {
            // Liveness only: the transport answers (server) or notes (client) it.
            (_, Message::Heartbeat) => {}
            (
                ConnState::AwaitingJoin,
                Message::Join {
                    sender_id,
                    metadata,
                    supported_protocol_versions,
                },
            ) => {
                if !supported_protocol_versions.iter().any(|v| v == PROTOCOL_V1) {
                    return self.violation(conn, "unsupported protocol version".into(), out);
                }
                c.state = ConnState::Ready {
                    remote: sender_id.clone(),
                    metadata: metadata.clone(),
                };
                out.send.push((
                    conn,
                    Message::Peer {
                        sender_id: self.cfg.peer_id.clone(),
                        target_id: sender_id.clone(),
                        metadata: self.metadata(),
                        selected_protocol_version: PROTOCOL_V1.into(),
                        heartbeat: self.cfg.heartbeat,
                    },
                ));
                out.events.push(Event::PeerJoined {
                    conn,
                    peer: sender_id,
                    storage_id: metadata.storage_id,
                    heartbeat: false,
                });
            }
            (
                ConnState::AwaitingPeer,
                Message::Peer {
                    sender_id,
                    metadata,
                    selected_protocol_version,
                    heartbeat,
                    ..
                },
            ) => {
                if selected_protocol_version != PROTOCOL_V1 {
                    return self.violation(conn, "unsupported protocol version".into(), out);
                }
                c.state = ConnState::Ready {
                    remote: sender_id.clone(),
                    metadata: metadata.clone(),
                };
                out.events.push(Event::PeerJoined {
                    conn,
                    peer: sender_id,
                    storage_id: metadata.storage_id,
                    heartbeat,
                });
                self.announce(conn, out);
            }
            (_, Message::Error { message, .. }) => {
                // The peer is about to hang up; no reply is allowed.
                out.close.push((
                    conn,
                    format!("peer reported error: {}", truncate(&message, 200)),
                ));
                self.disconnect(conn, self.now).drop_empty();
            }
            (ConnState::Ready { remote, .. }, msg) => {
                let remote = remote.clone();
                if let Message::Join { .. } | Message::Peer { .. } = msg {
                    return self.violation(
                        conn,
                        format!("unexpected `{}` after handshake", msg.type_name()),
                        out,
                    );
                }
                if msg.sender_id() != Some(&remote) {
                    return self.violation(
                        conn,
                        "senderId does not match the joined peer".into(),
                        out,
                    );
                }
                self.handle_ready(conn, msg, out);
            }
            (_, msg) => {
                let reason = format!("expected handshake, got `{}`", msg.type_name());
                self.violation(conn, reason, out)
            }
        }
    }

    fn handle_ready(&mut self, conn: ConnId, msg: Message, out: &mut Output) {
        match msg {
            Message::Request {
                ref target_id,
                document_id,
                ..
            }
            | Message::Sync {
                ref target_id,
                document_id,
                ..
            }
            | Message::DocUnavailable {
                ref target_id,
                document_id,
                ..
            } => {
                if *target_id != self.cfg.peer_id {
                    return self.violation(conn, "targetId is not this peer".into(), out);
                }
                self.with_doc(document_id, Pending::Frame { conn, msg }, out);
            }
            Message::Ephemeral { document_id, .. } => {
                self.relay_ephemeral(conn, document_id, msg, out)
            }
            Message::Gossip { .. } => {}
            _ => unreachable!("handshake messages are handled by the caller"),
        }
    }

    /// Run `work` on a document now if it is in memory, else queue it behind a load.
    fn with_doc(&mut self, doc: DocumentId, work: Pending, out: &mut Output) {
        if self.docs.contains_key(&doc) {
            return self.run_pending(doc, work, out);
        }
        let q = self.loading.entry(doc).or_default();
        if q.is_empty() {
            out.loads.push(doc);
        }
        q.push_back(work);
    }

    fn run_pending(&mut self, doc: DocumentId, work: Pending, out: &mut Output) {
        match work {
            Pending::Frame { conn, msg } => {
                if !self.conns.contains_key(&conn) {
                    return;
                }
                match msg {
                    Message::DocUnavailable { .. } => {
                        out.events.push(Event::DocumentUnavailable { doc, conn });
                    }
                    Message::Request { data, .. } => self.sync_in(conn, doc, &data, true, out),
                    Message::Sync { data, .. } => self.sync_in(conn, doc, &data, false, out),
                    _ => {}
                }
            }
            Pending::Request => {
                let d = self.docs.get_mut(&doc).expect("caller loaded it");
                if d.exists() {
                    return;
                }
                d.requested = true;
                let ready: Vec<ConnId> = self.ready_conns().collect();
                for conn in ready {
                    self.sync_out(conn, doc, out);
                }
            }
        }
    }

    /// The answer to a `loads` entry. `Err` is a storage failure, not absence.
    pub fn loaded(
        &mut self,
        doc: DocumentId,
        result: Result<Option<StoredDocument>, StoreError>,
        now: Millis,
    ) -> Output {
        self.now = now;
        let mut out = Output::default();
        let queue = self.loading.remove(&doc).unwrap_or_default();
        if self.docs.contains_key(&doc) {
            // Created locally while the load was in flight: storage had nothing newer.
            for work in queue {
                self.run_pending(doc, work, &mut out);
            }
            return out;
        }
        let built = result
            .map_err(|e| e.to_string())
            .and_then(|stored| build_doc(doc, stored));
        match built {
            Ok(d) => {
                out.events.push(Event::DocumentLoaded {
                    doc,
                    exists: d.exists(),
                });
                self.docs.insert(doc, d);
                for work in queue {
                    self.run_pending(doc, work, &mut out);
                }
            }
            Err(reason) => {
                out.events.push(Event::LoadFailed {
                    doc,
                    reason: reason.clone(),
                });
                let conns: BTreeSet<ConnId> = queue
                    .iter()
                    .filter_map(|p| match p {
                        Pending::Frame { conn, .. } => Some(*conn),
                        Pending::Request => None,
                    })
                    .collect();
                for conn in conns {
                    self.fail_conn(conn, STORAGE_ERROR, &mut out);
                }
            }
        }
        out
    }

    /// A storage transaction from a previous [`Output`] failed. Everything not yet durable is
    /// forgotten: the documents are dropped from memory (they reload from storage) and every
    /// connection syncing them is closed so peers resend what was not acknowledged.
    /// `docs` are the documents the failed operations touched ([`Output::documents_written`]).
    pub fn storage_failed(&mut self, docs: BTreeSet<DocumentId>, now: Millis) -> Output {
        self.now = now;
        let mut out = Output::default();
        let mut conns = BTreeSet::new();
        for doc in docs {
            if let Some(d) = self.docs.remove(&doc) {
                conns.extend(d.peers.keys().copied());
                conns.extend(d.wants.iter().copied());
            }
        }
        for conn in conns {
            self.fail_conn(conn, STORAGE_ERROR, &mut out);
        }
        out
    }

    /// Advance the clock: evicts documents idle longer than configured.
    pub fn tick(&mut self, now: Millis) -> Output {
        self.now = now;
        let mut out = Output::default();
        let Some(limit) = self.cfg.evict_idle_after else {
            return out;
        };
        let idle: Vec<DocumentId> = self
            .docs
            .iter()
            .filter(|(id, d)| {
                d.peers.is_empty()
                    && d.wants.is_empty()
                    && !d.requested
                    && !self.loading.contains_key(id)
                    && d.idle_since.is_some_and(|t| now.saturating_sub(t) >= limit)
            })
            .map(|(id, _)| *id)
            .collect();
        for doc in idle {
            self.docs.remove(&doc);
            out.events.push(Event::DocumentEvicted { doc });
        }
        out
    }

    // ----- local API (the app's own edits) ----------------------------------------------

    /// Create a new document with an initial change, store it, offer it to connected peers.
    pub fn create<F>(&mut self, init: F, now: Millis) -> Result<(DocumentId, Output), EngineError>
    where
        F: FnOnce(
            &mut automerge::transaction::Transaction<'_>,
        ) -> Result<(), automerge::AutomergeError>,
    {
        let doc = DocumentId::random();
        self.docs.insert(doc, empty_doc(now));
        let out = self.change(doc, init, now)?;
        Ok((doc, out))
    }

    /// Load a document from local storage (if not in memory). `Event::DocumentLoaded` follows.
    pub fn open(&mut self, doc: DocumentId) -> Output {
        let mut out = Output::default();
        if !self.docs.contains_key(&doc) && !self.loading.contains_key(&doc) {
            self.loading.insert(doc, VecDeque::new());
            out.loads.push(doc);
        }
        out
    }

    /// Make sure we have the document: load it locally and, if absent, ask connected peers.
    pub fn find(&mut self, doc: DocumentId, now: Millis) -> Output {
        self.now = now;
        let mut out = Output::default();
        self.with_doc(doc, Pending::Request, &mut out);
        out
    }

    /// Apply a local edit. The chunk is written and connected peers are sent the change.
    pub fn change<F>(&mut self, doc: DocumentId, f: F, now: Millis) -> Result<Output, EngineError>
    where
        F: FnOnce(
            &mut automerge::transaction::Transaction<'_>,
        ) -> Result<(), automerge::AutomergeError>,
    {
        self.now = now;
        let d = self.docs.get_mut(&doc).ok_or(EngineError::NotLoaded(doc))?;
        let mut tx = d.am.transaction();
        if let Err(e) = f(&mut tx) {
            tx.rollback();
            return Err(EngineError::Automerge(e.to_string()));
        }
        tx.commit();
        let mut out = Output::default();
        self.after_change(doc, None, &mut out);
        Ok(out)
    }

    /// Merge changes obtained out of band (e.g. an import) into a loaded document.
    pub fn merge_bytes(
        &mut self,
        doc: DocumentId,
        bytes: &[u8],
        now: Millis,
    ) -> Result<Output, EngineError> {
        self.now = now;
        let d = self.docs.get_mut(&doc).ok_or(EngineError::NotLoaded(doc))?;
        d.am.load_incremental(bytes)
            .map_err(|e| EngineError::Automerge(e.to_string()))?;
        let mut out = Output::default();
        self.after_change(doc, None, &mut out);
        Ok(out)
    }

    // ----- internals ---------------------------------------------------------------------

    fn metadata(&self) -> PeerMetadata {
        PeerMetadata {
            storage_id: self.cfg.storage_id.clone(),
            is_ephemeral: self.cfg.storage_id.is_none(),
        }
    }

    fn ready_conns(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.conns
            .iter()
            .filter(|(_, c)| matches!(c.state, ConnState::Ready { .. }))
            .map(|(id, _)| *id)
    }

    fn remote(&self, conn: ConnId) -> Option<(PeerId, PeerMetadata)> {
        match &self.conns.get(&conn)?.state {
            ConnState::Ready { remote, metadata } => Some((remote.clone(), metadata.clone())),
            _ => None,
        }
    }

    /// Client: offer every document we hold (or are looking for) to a freshly joined server.
    fn announce(&mut self, conn: ConnId, out: &mut Output) {
        let ids: Vec<DocumentId> = self
            .docs
            .iter()
            .filter(|(_, d)| d.exists() || d.requested)
            .map(|(id, _)| *id)
            .collect();
        for doc in ids {
            self.sync_out(conn, doc, out);
        }
    }

    fn violation(&mut self, conn: ConnId, reason: String, out: &mut Output) {
        out.events.push(Event::ProtocolViolation {
            conn,
            reason: reason.clone(),
        });
        self.fail_conn(conn, &reason, out);
    }

    fn fail_conn(&mut self, conn: ConnId, reason: &str, out: &mut Output) {
        if !self.conns.contains_key(&conn) {
            return;
        }
        let target_id = self.remote(conn).map(|(p, _)| p);
        out.send.push((
            conn,
            Message::Error {
                sender_id: Some(self.cfg.peer_id.clone()),
                target_id,
                message: reason.to_owned(),
            },
        ));
        out.close.push((conn, reason.to_owned()));
        self.disconnect(conn, self.now).drop_empty();
    }

    /// Start tracking sync with `conn` for a loaded document, resuming persisted state.
    fn ensure_peer(&mut self, conn: ConnId, doc_id: DocumentId, identity: &Identity) {
        let d = self.docs.get(&doc_id).expect("caller loaded it");
        if !d.peers.contains_key(&conn) {
            let ps = self.new_peer_sync(d, conn, identity, &doc_id);
            let d = self.docs.get_mut(&doc_id).expect("present");
            d.peers.insert(conn, ps);
            d.idle_since = None;
        }
    }

    fn new_peer_sync(
        &self,
        doc: &Doc,
        conn: ConnId,
        identity: &Identity,
        doc_id: &DocumentId,
    ) -> PeerSync {
        let persisted_key = self
            .remote(conn)
            .and_then(|(_, md)| md.storage_id.filter(|_| !md.is_ephemeral));
        let mut state = persisted_key
            .and_then(|k| doc.persisted_sync.get(&k.0))
            .and_then(|bytes| sync::State::decode(bytes).ok())
            .unwrap_or_default();
        state.read_only = !self.policy.may_write(identity, doc_id);
        let persisted = state.shared_heads.clone();
        PeerSync { state, persisted }
    }

    fn sync_in(
        &mut self,
        conn: ConnId,
        doc_id: DocumentId,
        data: &[u8],
        is_request: bool,
        out: &mut Output,
    ) {
        let Some(identity) = self.conns.get(&conn).map(|c| c.identity.clone()) else {
            return;
        };
        let (remote, _) = self.remote(conn).expect("only ready connections sync");
        if !self.policy.may_read(&identity, &doc_id) {
            // Indistinguishable from a document we do not have.
            out.send.push((conn, self.unavailable(remote, doc_id)));
            return;
        }
        let message = match crate::guard::decode_default(data) {
            Ok(m) => m,
            Err(e) => {
                return self.violation(conn, format!("invalid automerge sync message: {e}"), out)
            }
        };
        let sends_changes = !message.changes.is_empty();
        let d = self.docs.get(&doc_id).expect("caller loaded it");
        if is_request && !d.exists() && !sends_changes {
            let d = self.docs.get_mut(&doc_id).expect("present");
            d.wants.insert(conn);
            out.send.push((conn, self.unavailable(remote, doc_id)));
            return;
        }
        self.ensure_peer(conn, doc_id, &identity);
        let d = self.docs.get_mut(&doc_id).expect("present");
        d.wants.remove(&conn);
        let ps = d.peers.get_mut(&conn).expect("inserted above");
        if sends_changes && ps.state.read_only {
            out.events.push(Event::WriteRejected { doc: doc_id, conn });
        }
        let before = d.am.get_heads();
        if let Err(e) = d.am.receive_sync_message(&mut ps.state, message) {
            return self.violation(conn, format!("sync message could not be applied: {e}"), out);
        }
        let changed = d.am.get_heads() != before;
        if changed {
            out.events.push(Event::DocumentChanged {
                doc: doc_id,
                from: conn,
            });
            if d.requested && d.exists() {
                d.requested = false;
            }
            self.after_change(doc_id, Some(conn), out);
        } else {
            self.sync_out(conn, doc_id, out);
        }
    }

    /// New content in `doc` (local edit or from `origin`): save it, then tell every peer.
    fn after_change(&mut self, doc_id: DocumentId, origin: Option<ConnId>, out: &mut Output) {
        let compact_after = self.cfg.compact_after_chunks;
        let d = self.docs.get_mut(&doc_id).expect("caller checked");
        let heads = d.am.get_heads();
        if heads != d.saved_heads {
            let data = d.am.save_after(&d.saved_heads);
            let key = ChunkKey::for_data(doc_id, ChunkKind::Incremental, &data);
            d.saved_heads = heads;
            d.chunks.push(key.clone());
            out.storage.push(StorageOp::PutChunk { key, data });
            if d.chunks.len() > compact_after {
                let data = d.am.save();
                let snapshot = ChunkKey::for_data(doc_id, ChunkKind::Snapshot, &data);
                let replaces = std::mem::replace(&mut d.chunks, vec![snapshot.clone()]);
                out.storage.push(StorageOp::Compact {
                    snapshot,
                    data,
                    replaces,
                });
            }
        }
        // Peers that asked for it before it existed get it now.
        let wanting: Vec<ConnId> = std::mem::take(&mut d.wants).into_iter().collect();
        let mut targets: Vec<ConnId> = d.peers.keys().copied().collect();
        targets.extend(wanting);
        if self.cfg.role == Role::Client {
            // A client offers local edits to every server it is connected to.
            targets.extend(self.ready_conns());
        }
        targets.sort();
        targets.dedup();
        // The origin goes first: its acknowledgement should not wait behind fan-out.
        if let Some(o) = origin {
            targets.retain(|c| *c != o);
            targets.insert(0, o);
        }
        for conn in targets {
            self.sync_out(conn, doc_id, out);
        }
    }

    /// Generate (if needed) the next sync message for `conn` about `doc`, and persist the
    /// peer's sync state when its shared heads moved.
    fn sync_out(&mut self, conn: ConnId, doc_id: DocumentId, out: &mut Output) {
        let Some(identity) = self.conns.get(&conn).map(|c| c.identity.clone()) else {
            return;
        };
        let Some((remote, md)) = self.remote(conn) else {
            return;
        };
        if !self.policy.may_read(&identity, &doc_id) {
            return;
        }
        if !self.docs.contains_key(&doc_id) {
            return;
        }
        self.ensure_peer(conn, doc_id, &identity);
        let d = self.docs.get_mut(&doc_id).expect("present");
        let exists = d.exists();
        let ps = d.peers.get_mut(&conn).expect("inserted above");
        if let Some(msg) = d.am.generate_sync_message(&mut ps.state) {
            let data = msg.encode();
            let m = if !exists {
                Message::Request {
                    sender_id: self.cfg.peer_id.clone(),
                    target_id: remote,
                    document_id: doc_id,
                    data,
                }
            } else {
                Message::Sync {
                    sender_id: self.cfg.peer_id.clone(),
                    target_id: remote,
                    document_id: doc_id,
                    data,
                }
            };
            out.send.push((conn, m));
        }
        if let Some(sid) = md.storage_id.filter(|_| !md.is_ephemeral) {
            if ps.state.shared_heads != ps.persisted && self.cfg.storage_id.is_some() {
                ps.persisted = ps.state.shared_heads.clone();
                let data = ps.state.encode();
                d.persisted_sync.insert(sid.0.clone(), data.clone());
                out.storage.push(StorageOp::PutSyncState {
                    document: doc_id,
                    peer_storage_id: sid.0,
                    data,
                });
            }
        }
    }

    fn unavailable(&self, remote: PeerId, doc: DocumentId) -> Message {
        Message::DocUnavailable {
            sender_id: self.cfg.peer_id.clone(),
            target_id: remote,
            document_id: doc,
        }
    }

    fn relay_ephemeral(
        &mut self,
        conn: ConnId,
        doc_id: DocumentId,
        msg: Message,
        out: &mut Output,
    ) {
        let Message::Ephemeral {
            sender_id,
            session_id,
            count,
            data,
            ..
        } = msg
        else {
            return;
        };
        let Some(identity) = self.conns.get(&conn).map(|c| c.identity.clone()) else {
            return;
        };
        if !self.policy.may_read(&identity, &doc_id) {
            return;
        }
        out.events.push(Event::Ephemeral {
            doc: doc_id,
            conn,
            data: data.clone(),
        });
        let Some(d) = self.docs.get(&doc_id) else {
            return;
        };
        let others: Vec<ConnId> = d.peers.keys().copied().filter(|c| *c != conn).collect();
        for other in others {
            let Some((remote, _)) = self.remote(other) else {
                continue;
            };
            let allowed = self
                .conns
                .get(&other)
                .is_some_and(|c| self.policy.may_read(&c.identity, &doc_id));
            if allowed {
                out.send.push((
                    other,
                    Message::Ephemeral {
                        sender_id: sender_id.clone(),
                        target_id: remote,
                        document_id: doc_id,
                        session_id: session_id.clone(),
                        count,
                        data: data.clone(),
                    },
                ));
            }
        }
    }
}

impl Output {
    fn drop_empty(self) {
        debug_assert!(self.is_empty());
    }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

fn empty_doc(now: Millis) -> Doc {
    Doc {
        am: Automerge::new(),
        saved_heads: Vec::new(),
        chunks: Vec::new(),
        peers: BTreeMap::new(),
        wants: BTreeSet::new(),
        persisted_sync: BTreeMap::new(),
        idle_since: Some(now),
        requested: false,
    }
}

fn build_doc(doc: DocumentId, stored: Option<StoredDocument>) -> Result<Doc, String> {
    let mut d = empty_doc(0);
    let Some(stored) = stored else { return Ok(d) };
    let mut chunks = stored.chunks;
    if let Some((key, _)) = chunks.iter().find(|(k, _)| k.document != doc) {
        return Err(format!(
            "storage returned chunk {} of another document for {doc}",
            key.hash
        ));
    }
    // Snapshot first, then incrementals, loaded in one strict pass: a damaged chunk is an
    // error here, where `load_incremental` would skip it with only a warning.
    chunks.sort_by_key(|(k, _)| k.kind);
    let all: Vec<u8> = chunks
        .iter()
        .flat_map(|(_, data)| data.iter().copied())
        .collect();
    if !all.is_empty() {
        let opts = automerge::LoadOptions::new().on_partial_load(automerge::OnPartialLoad::Error);
        d.am = Automerge::load_with_options(&all, opts)
            .map_err(|e| format!("stored data of {doc} is unreadable: {e}"))?;
    }
    d.saved_heads = d.am.get_heads();
    d.chunks = chunks.into_iter().map(|(k, _)| k).collect();
    d.persisted_sync = stored.sync_states;
    Ok(d)
}
