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

mod cold;
mod handshake;
mod loading;
mod output;
mod policy;
mod sync;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use automerge::{ActorId, Automerge, ChangeHash, ReadDoc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::storage::{ChunkKey, ChunkKind, StorageOp};
use crate::wire::PeerMetadata;
use crate::{DocumentId, PeerId, StorageId};

pub use output::{CloseReason, EngineError, Event, LoadFailure, Output, Violation, STORAGE_ERROR};
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

/// What peers can make the engine hold. Each limit protects the process from one connection
/// (or many) asking for more than the server can keep; defaults suit one team's server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Distinct documents one connection may sync or ask for (default 5,000, far above one
    /// worker's caseload). Beyond it the connection is closed as a protocol violation.
    pub documents_per_connection: usize,
    /// Frames from one connection waiting for documents to load (default 5,000: a client
    /// offers every document it holds at once after connecting).
    pub pending_frames_per_connection: usize,
    /// Bytes of those waiting frames (default 64 MiB).
    pub pending_bytes_per_connection: usize,
    /// Documents kept in memory (default 10,000). Beyond it the least recently used document
    /// that no connection is syncing is evicted; if none can be, the connection that asked
    /// is closed with "server busy". Local `open`/`find`/`create` are not refused.
    pub loaded_documents: usize,
    /// Persisted sync states kept per document (default 64, most recently used kept; older
    /// ones are deleted with [`crate::StorageOp::ForgetSyncState`]). A peer that reconnects after
    /// its state was dropped pays one full sync, nothing more.
    pub sync_states_per_document: usize,
    /// What one automerge sync message may contain, checked before automerge parses it
    /// ([`crate::guard`]).
    pub sync_message: crate::GuardLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            documents_per_connection: 5_000,
            pending_frames_per_connection: 5_000,
            pending_bytes_per_connection: 64 << 20,
            loaded_documents: 10_000,
            sync_states_per_document: 64,
            sync_message: crate::GuardLimits::default(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub role: Role,
    pub peer_id: PeerId,
    /// `None` for an ephemeral peer (nothing persisted, so peers need not remember us).
    pub storage_id: Option<StorageId>,
    /// Fold incremental chunks into a snapshot once a document has this many.
    pub compact_after_chunks: usize,
    /// ...or once its incremental chunks hold more bytes than this and than its snapshot.
    /// A history in change form loads several times slower than the same in a snapshot (a
    /// case of 150 changes: 56 KB loading in 33 ms against 7 KB in 13 ms), and one sync
    /// message can carry a whole case's history in a single chunk, which the chunk count
    /// alone would never fold. Against the snapshot's size, so a large case is not
    /// re-saved for every few keystrokes.
    pub compact_after_bytes: usize,
    /// Drop a document from memory after it has had no peers for this long (`None`: never).
    pub evict_idle_after: Option<Millis>,
    /// Other engines (other server nodes) write to the same store. Then a peer's first
    /// message about a document already in memory waits for the document to be reloaded
    /// ([`Engine::changed_elsewhere`]), so its sync resumes from the sync state stored by
    /// whichever node it last synced with, not a stale one held here. Costs one load per
    /// connection and document; `false` (the default) where this engine is the only writer.
    pub shared_store: bool,
    /// Server: a change from one peer is answered to that peer at once, but sent on to the
    /// document's other peers only by [`Engine::flush_fanout`], which the runner's `drain`
    /// calls before taking each batch to commit. So the changes of a whole batch go out as
    /// one sync message per peer (generating a message costs a walk of the change graph per
    /// peer: 20 editors on a case open on 200 devices spent the server's time there), and
    /// the busier the server, the more each message carries. The fan-out still leaves only
    /// after the commit that made the changes durable.
    pub coalesce_fanout: bool,
    /// Server: say in `peer` that this server's transport answers `fieldbook-heartbeat`
    /// messages (see [`crate::health`]). The engine itself never answers them.
    pub heartbeat: bool,
    /// Server: answer a device that holds nothing of a document stored as one snapshot with
    /// that snapshot, without loading it (see `engine/cold.rs`). Default OFF: a reconnecting
    /// device whose heads equal the snapshot's gets no reply on this path, where the ordinary
    /// path sends its heads, so its "everything sent" may never show (crash-burst e2e).
    pub serve_cold: bool,
    pub limits: Limits,
    /// Seed for new document ids and Automerge actor ids, so a simulation replays exactly.
    /// `None` (the default) seeds from the operating system. **Tests only**: two engines
    /// with one seed would write changes under the same actor id.
    pub rng_seed: Option<u64>,
}

impl EngineConfig {
    pub fn new(role: Role, peer_id: PeerId, storage_id: Option<StorageId>) -> Self {
        EngineConfig {
            role,
            peer_id,
            storage_id,
            compact_after_chunks: 32,
            compact_after_bytes: 32 * 1024,
            evict_idle_after: Some(30_000),
            shared_store: false,
            coalesce_fanout: false,
            heartbeat: false,
            serve_cold: false,
            limits: Limits::default(),
            rng_seed: None,
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
    /// Documents this connection syncs or asked about; what a peer asks for is bounded by
    /// `documents_per_connection`.
    docs: BTreeSet<DocumentId>,
    /// Its frames waiting in `Engine::loading`, and their bytes.
    pending_frames: usize,
    pending_bytes: usize,
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
    /// Bytes in those chunks: incremental, and snapshots (what decides compaction).
    incremental_bytes: usize,
    snapshot_bytes: usize,
    peers: BTreeMap<ConnId, PeerSync>,
    /// Peers that asked while we had nothing; they get the document when it arrives.
    wants: BTreeSet<ConnId>,
    /// Sync states in storage, by peer storage id.
    persisted_sync: BTreeMap<String, PersistedSync>,
    idle_since: Option<Millis>,
    /// Client side: we asked the server for it and are waiting for content.
    requested: bool,
    /// Position in `Engine::lru`.
    last_used: u64,
}

struct PersistedSync {
    data: Vec<u8>,
    /// `Engine::uses` when last written or resumed; 0 for states loaded from storage.
    used: u64,
}

impl Doc {
    /// A chunk found in storage, counted towards what decides the next compaction.
    fn count_chunk(&mut self, key: &ChunkKey, len: usize) {
        match key.kind {
            ChunkKind::Snapshot => self.snapshot_bytes += len,
            ChunkKind::Incremental => self.incremental_bytes += len,
        }
    }

    fn exists(&self) -> bool {
        !self.saved_heads.is_empty() || !self.am.get_heads().is_empty()
    }

    /// Nothing to keep it in memory: no connection is syncing or waiting for it, and
    /// everything it holds has been handed to storage.
    fn evictable(&self) -> bool {
        self.peers.is_empty()
            && self.wants.is_empty()
            && !self.requested
            && self.am.get_heads() == self.saved_heads
    }
}

/// Work waiting for a document to load.
enum Pending {
    /// A `request` or `sync` frame from a peer.
    Sync {
        conn: ConnId,
        data: Vec<u8>,
        is_request: bool,
    },
    /// Our own `find`.
    Request,
    /// Start syncing afresh with a peer whose in-memory state was dropped by `quarantine`.
    Resync { conn: ConnId },
    /// Our own `open`: nothing to do once loaded.
    Open,
    /// Merge what storage holds into the document in memory: another writer sharing the
    /// store committed to it ([`Engine::changed_elsewhere`]).
    Refresh,
}

pub struct Engine<P: AccessPolicy = AllowAll> {
    cfg: EngineConfig,
    policy: P,
    conns: BTreeMap<ConnId, Conn>,
    docs: BTreeMap<DocumentId, Doc>,
    loading: BTreeMap<DocumentId, VecDeque<Pending>>,
    /// Documents storage does not have that peers asked for, with who asked. Kept instead
    /// of an empty `Automerge` (about 11 KB each) so made-up ids cost next to nothing.
    absent: BTreeMap<DocumentId, BTreeSet<ConnId>>,
    /// Loads asked for before [`Engine::forget`] and not yet answered, per document: their
    /// answers may predate the deletion and are dropped.
    stale_loads: BTreeMap<DocumentId, usize>,
    /// Documents whose load in flight may predate a commit by another writer
    /// ([`Engine::changed_elsewhere`]): reloaded once it is answered.
    reload_after: BTreeSet<DocumentId>,
    /// Documents changed by a peer whose other peers have not been sent the change yet
    /// (`coalesce_fanout`).
    fanout_pending: BTreeSet<DocumentId>,
    /// Documents not in memory that connections were served without a load
    /// ([`Engine::answer_cold`]): they become its peers when it is loaded.
    cold: BTreeMap<DocumentId, BTreeSet<ConnId>>,
    /// Loaded documents by last use, oldest first.
    lru: BTreeSet<(u64, DocumentId)>,
    /// Use counter for `lru` and sync-state recency (a clock can stand still between steps).
    uses: u64,
    rng: StdRng,
    now: Millis,
}

impl<P: AccessPolicy> Engine<P> {
    pub fn new(cfg: EngineConfig, policy: P) -> Self {
        let rng = match cfg.rng_seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        Engine {
            cfg,
            policy,
            conns: BTreeMap::new(),
            docs: BTreeMap::new(),
            loading: BTreeMap::new(),
            absent: BTreeMap::new(),
            fanout_pending: BTreeSet::new(),
            stale_loads: BTreeMap::new(),
            reload_after: BTreeSet::new(),
            cold: BTreeMap::new(),
            lru: BTreeSet::new(),
            uses: 0,
            rng,
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

    /// Documents storage does not have that connected peers are waiting for (kept as ids).
    pub fn absent_count(&self) -> usize {
        self.absent.len()
    }

    /// Documents waiting for [`Engine::loaded`].
    pub fn loading_count(&self) -> usize {
        self.loading.len()
    }

    /// Connections with work queued behind the load of `doc` (what [`Engine::loaded`] will
    /// run for them): the suspects if that work panics.
    pub fn waiting_for(&self, doc: &DocumentId) -> BTreeSet<ConnId> {
        self.loading
            .get(doc)
            .map(|q| q.iter().filter_map(Pending::conn).collect())
            .unwrap_or_default()
    }

    /// Persisted sync states held for a loaded document.
    pub fn sync_state_count(&self, doc: &DocumentId) -> usize {
        self.docs.get(doc).map_or(0, |d| d.persisted_sync.len())
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
                crate::order::sort(&mut a);
                crate::order::sort(&mut b);
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
                .and_then(|p| automerge::sync::State::decode(&p.data).ok())
                .map(|s| s.shared_heads)
        });
        Some(
            shared
                .unwrap_or_default()
                .into_iter()
                .filter(|h| holds(&d.am, h))
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
        let doc = DocumentId::from_bytes(self.rng.random());
        self.create_with_id(doc, init, now).map(|out| (doc, out))
    }

    /// [`Engine::create`] with an id the caller chose (e.g. derived from something both
    /// sides know). Fails if the document is already in memory.
    pub fn create_with_id<F>(
        &mut self,
        doc: DocumentId,
        init: F,
        now: Millis,
    ) -> Result<Output, EngineError>
    where
        F: FnOnce(
            &mut automerge::transaction::Transaction<'_>,
        ) -> Result<(), automerge::AutomergeError>,
    {
        if self.docs.contains_key(&doc) {
            return Err(EngineError::AlreadyExists(doc));
        }
        let d = self.empty_doc(now);
        self.insert_doc(doc, d);
        match self.change(doc, init, now) {
            Ok(out) => Ok(out),
            Err(e) => {
                self.remove_doc(&doc);
                Err(e)
            }
        }
    }

    /// Load a document from local storage (if not in memory). `Event::DocumentLoaded` follows.
    pub fn open(&mut self, doc: DocumentId) -> Output {
        let mut out = Output::default();
        if self.docs.contains_key(&doc) {
            self.touch(&doc);
        } else {
            self.with_doc(doc, Pending::Open, &mut out);
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
            return Err(EngineError::Automerge(e));
        }
        tx.commit();
        self.touch(&doc);
        let mut out = Output::default();
        self.after_change(doc, None, &mut out);
        Ok(out)
    }

    /// Stop keeping `doc` here (access to it was lost, or it was erased): drop it from memory
    /// with every peer's sync state, the work waiting for its load and the peers waiting for
    /// it, and delete it from storage ([`StorageOp::DeleteDocument`], in this output's
    /// commit). Afterwards the engine knows no more of `doc` than of a document it never saw:
    /// a later `find`, `open` or peer message about it starts from storage (which has
    /// nothing). Peers are not told: whether they may still have it is their server's business.
    pub fn forget(&mut self, doc: DocumentId, now: Millis) -> Output {
        self.now = now;
        self.drop_from_memory(doc);
        Output {
            storage: vec![StorageOp::DeleteDocument { document: doc }],
            ..Output::default()
        }
    }

    /// Everything [`Engine::forget`] does in memory.
    fn drop_from_memory(&mut self, doc: DocumentId) {
        self.remove_doc(&doc);
        self.reload_after.remove(&doc);
        self.absent.remove(&doc);
        self.cold.remove(&doc);
        if let Some(queue) = self.loading.remove(&doc) {
            for p in &queue {
                self.unqueue(p);
            }
            // Its load is already asked for; what it returns may have been read before the
            // deletion commits.
            *self.stale_loads.entry(doc).or_default() += 1;
        }
        // Not counted against any connection any more: a peer asking again starts afresh.
        for c in self.conns.values_mut() {
            c.docs.remove(&doc);
        }
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
        d.am.load_incremental(bytes)?;
        self.touch(&doc);
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
            ConnState::AwaitingJoin | ConnState::AwaitingPeer => None,
        }
    }

    /// A fresh empty document whose actor id comes from our RNG.
    fn empty_doc(&mut self, now: Millis) -> Doc {
        let mut am = Automerge::new();
        am.set_actor(self.actor());
        Doc {
            am,
            saved_heads: Vec::new(),
            chunks: Vec::new(),
            incremental_bytes: 0,
            snapshot_bytes: 0,
            peers: BTreeMap::new(),
            wants: BTreeSet::new(),
            persisted_sync: BTreeMap::new(),
            idle_since: Some(now),
            requested: false,
            last_used: 0,
        }
    }

    fn actor(&mut self) -> ActorId {
        ActorId::from(self.rng.random::<[u8; 16]>())
    }

    fn next_use(&mut self) -> u64 {
        self.uses += 1;
        self.uses
    }

    /// Every document enters memory here, so `lru` always matches `docs`.
    fn insert_doc(&mut self, id: DocumentId, mut d: Doc) {
        d.last_used = self.next_use();
        self.lru.insert((d.last_used, id));
        if let Some(waiting) = self.absent.remove(&id) {
            d.wants.extend(waiting);
        }
        if let Some(old) = self.docs.insert(id, d) {
            self.lru.remove(&(old.last_used, id));
        }
        self.adopt_cold(id);
    }

    fn remove_doc(&mut self, id: &DocumentId) -> Option<Doc> {
        let d = self.docs.remove(id)?;
        self.lru.remove(&(d.last_used, *id));
        Some(d)
    }

    fn touch(&mut self, id: &DocumentId) {
        let now = self.next_use();
        if let Some(d) = self.docs.get_mut(id) {
            self.lru.remove(&(d.last_used, *id));
            d.last_used = now;
            self.lru.insert((now, *id));
        }
    }

    /// Evict least recently used idle documents until one more fits. `false` when every
    /// document in memory is in use.
    fn make_room(&mut self, out: &mut Output) -> bool {
        while self.docs.len() >= self.cfg.limits.loaded_documents.max(1) {
            let victim = self.lru.iter().map(|(_, id)| *id).find(|id| {
                !self.loading.contains_key(id) && self.docs.get(id).is_some_and(Doc::evictable)
            });
            let Some(victim) = victim else {
                return false;
            };
            self.remove_doc(&victim);
            out.events.push(Event::DocumentEvicted { doc: victim });
        }
        true
    }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Whether `am` holds (has applied) the change `hash`. Asked of the change graph: nothing is
/// missing behind a change that is applied, while a change still queued for its
/// dependencies always has one missing. `get_change_by_hash` would answer the same by
/// rebuilding the whole change from the document's columns (2 s of a new phone's 500-case
/// pull went there, counting what is waiting). The queue's own missing dependencies are in
/// the answer too, so while something is queued the change is rebuilt to be sure.
fn holds(am: &Automerge, hash: &ChangeHash) -> bool {
    let missing = am.get_missing_deps(std::slice::from_ref(hash));
    if missing.is_empty() {
        return true;
    }
    if missing.contains(hash) {
        return false;
    }
    am.get_change_by_hash(hash).is_some()
}

#[cfg(test)]
mod holds_tests {
    use super::holds;
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, Automerge, ReadDoc, ROOT};

    #[test]
    fn a_change_is_held_only_once_applied_even_while_another_waits_for_its_dependencies() {
        let mut theirs = AutoCommit::new();
        theirs.put(ROOT, "a", 1).unwrap();
        let first = theirs.get_heads()[0];
        theirs.put(ROOT, "a", 2).unwrap();
        let second = theirs.get_heads()[0];
        let second_change = theirs.get_change_by_hash(&second).unwrap().clone();

        let mut ours = Automerge::new();
        let mut tx = ours.transaction();
        tx.put(ROOT, "b", 1).unwrap();
        tx.commit();
        let own = ours.get_heads()[0];
        assert!(holds(&ours, &own));
        assert!(!holds(&ours, &first), "never seen");

        // The second change without the first: queued, not applied.
        ours.apply_changes([second_change]).unwrap();
        assert!(!holds(&ours, &second), "queued for its dependency");
        assert!(!holds(&ours, &first));
        assert!(holds(&ours, &own), "held, while another change waits");
    }
}
