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

mod handshake;
mod loading;
mod output;
mod policy;
mod sync;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use automerge::{Automerge, ChangeHash, ReadDoc};

use crate::storage::ChunkKey;
use crate::wire::{Message, PeerMetadata};
use crate::{DocumentId, PeerId, StorageId};

pub use output::{EngineError, Event, Output, STORAGE_ERROR};
pub use policy::{AccessPolicy, AllowAll, Identity};

/// Milliseconds on the driver's clock. The engine never reads a clock itself.
pub type Millis = u64;

/// A transport connection, numbered by the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

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
    state: automerge::sync::State,
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
                .and_then(|b| automerge::sync::State::decode(b).ok())
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
