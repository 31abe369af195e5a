//! Loading documents from storage: the load queue, `loaded`, storage failures, eviction.

use std::collections::btree_map::Entry;
use std::collections::BTreeSet;
use std::sync::Arc;

use crate::storage::{StoreError, StoredDocument};
use crate::DocumentId;

use super::*;

impl Pending {
    pub(super) fn is_for(&self, conn: ConnId) -> bool {
        match self {
            Pending::Sync { conn: c, .. } | Pending::Resync { conn: c } => *c == conn,
            Pending::Request | Pending::Open => false,
        }
    }

    /// Bytes it holds (counted against the connection's pending limit).
    pub(super) fn bytes(&self) -> usize {
        match self {
            Pending::Sync { data, .. } => data.len(),
            Pending::Request | Pending::Open | Pending::Resync { .. } => 0,
        }
    }

    /// Work we asked for ourselves (not a peer's).
    fn is_local(&self) -> bool {
        match self {
            Pending::Request | Pending::Open => true,
            Pending::Sync { .. } | Pending::Resync { .. } => false,
        }
    }
}

impl<P: AccessPolicy> Engine<P> {
    /// Run `work` on a document now if it is in memory (or known to be absent), else queue
    /// it behind a load.
    pub(super) fn with_doc(&mut self, doc: DocumentId, work: Pending, out: &mut Output) {
        if self.docs.contains_key(&doc) || self.absent.contains_key(&doc) {
            self.touch(&doc);
            return self.run_pending(doc, work, out);
        }
        match self.loading.entry(doc) {
            Entry::Vacant(v) => {
                v.insert(VecDeque::from([work]));
                out.loads.push(doc);
            }
            Entry::Occupied(mut o) => o.get_mut().push_back(work),
        }
    }

    /// A queued frame leaves the queue: release what it counted against its connection.
    pub(super) fn unqueue(&mut self, p: &Pending) {
        if let Pending::Sync { conn, data, .. } = p {
            if let Some(c) = self.conns.get_mut(conn) {
                c.pending_frames = c.pending_frames.saturating_sub(1);
                c.pending_bytes = c.pending_bytes.saturating_sub(data.len());
            }
        }
    }

    /// Run work on a document that is in memory, or (for peers' work only) known absent.
    pub(super) fn run_pending(&mut self, doc: DocumentId, work: Pending, out: &mut Output) {
        match work {
            Pending::Open => {
                if !self.docs.contains_key(&doc) {
                    let d = self.empty_doc(self.now);
                    self.insert_doc(doc, d);
                }
            }
            Pending::Sync {
                conn,
                data,
                is_request,
            } => {
                if self.conns.contains_key(&conn) {
                    self.sync_in(conn, doc, &data, is_request, out);
                }
            }
            Pending::Request => {
                if !self.docs.contains_key(&doc) {
                    let d = self.empty_doc(self.now);
                    self.insert_doc(doc, d);
                }
                let d = self.docs.get_mut(&doc).expect("inserted above");
                if d.exists() {
                    return;
                }
                d.requested = true;
                let ready: Vec<ConnId> = self.ready_conns().collect();
                for conn in ready {
                    self.sync_out(conn, doc, out);
                }
            }
            Pending::Resync { conn } => {
                if !self.conns.contains_key(&conn) {
                    return;
                }
                match self.docs.get_mut(&doc) {
                    Some(d) if d.exists() => self.sync_out(conn, doc, out),
                    Some(d) => {
                        d.wants.insert(conn);
                    }
                    None => {
                        self.absent.entry(doc).or_default().insert(conn);
                    }
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
        if let Some(n) = self.stale_loads.get_mut(&doc) {
            // Asked for before `forget`: answers come in the order loads were asked for, so
            // this is that one, and a later load (if any) is still waiting in `loading`.
            *n -= 1;
            if *n == 0 {
                self.stale_loads.remove(&doc);
            }
            return out;
        }
        let queue = self.loading.remove(&doc).unwrap_or_default();
        for p in &queue {
            self.unqueue(p);
        }
        if self.docs.contains_key(&doc) {
            // Created locally while the load was in flight: storage had nothing newer.
            for work in queue {
                self.run_pending(doc, work, &mut out);
            }
            return out;
        }
        let local = queue.iter().any(Pending::is_local);
        let built = match result {
            Err(e) => Err(LoadFailure::Store(Arc::new(e))),
            Ok(None) if !local => {
                // Absent, and only peers want it: they wait as ids, not as empty documents.
                out.events
                    .push(Event::DocumentLoaded { doc, exists: false });
                self.absent.entry(doc).or_default();
                for work in queue {
                    self.run_pending(doc, work, &mut out);
                }
                if self.absent.get(&doc).is_some_and(BTreeSet::is_empty) {
                    self.absent.remove(&doc);
                }
                return out;
            }
            Ok(stored) => self.build_doc(doc, stored),
        };
        match built {
            Ok(d) => {
                out.events.push(Event::DocumentLoaded {
                    doc,
                    exists: d.exists(),
                });
                // Our own work is never refused; peers' work waits for room.
                if !self.make_room(&mut out) && !local {
                    let conns: BTreeSet<ConnId> = queue.iter().filter_map(Pending::conn).collect();
                    for conn in conns {
                        self.fail_conn(conn, CloseReason::Busy, &mut out);
                    }
                    return out;
                }
                self.insert_doc(doc, d);
                for work in queue {
                    self.run_pending(doc, work, &mut out);
                }
            }
            Err(reason) => {
                out.events.push(Event::LoadFailed { doc, reason });
                let conns: BTreeSet<ConnId> = queue.iter().filter_map(Pending::conn).collect();
                for conn in conns {
                    self.fail_conn(conn, CloseReason::Storage, &mut out);
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
            if let Some(d) = self.remove_doc(&doc) {
                conns.extend(d.peers.keys().copied());
                conns.extend(d.wants.iter().copied());
            }
        }
        for conn in conns {
            self.fail_conn(conn, CloseReason::Storage, &mut out);
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
            self.remove_doc(&doc);
            out.events.push(Event::DocumentEvicted { doc });
        }
        out
    }

    /// The in-memory form of what storage returned. `None` is an empty document.
    fn build_doc(
        &mut self,
        doc: DocumentId,
        stored: Option<StoredDocument>,
    ) -> Result<Doc, LoadFailure> {
        let mut d = self.empty_doc(0);
        let Some(stored) = stored else { return Ok(d) };
        if let Some((key, _)) = stored.chunks.iter().find(|(k, _)| k.document != doc) {
            return Err(LoadFailure::ForeignChunk {
                doc,
                hash: key.hash.clone(),
            });
        }
        if let Some(am) = stored.to_automerge().map_err(|e| LoadFailure::Unreadable {
            doc,
            source: Arc::new(e),
        })? {
            d.am = am;
            d.am.set_actor(self.actor());
        }
        d.saved_heads = d.am.get_heads();
        d.chunks = stored.chunks.into_iter().map(|(k, _)| k).collect();
        d.persisted_sync = stored
            .sync_states
            .into_iter()
            .map(|(k, data)| (k, PersistedSync { data, used: 0 }))
            .collect();
        Ok(d)
    }
}

impl Pending {
    pub(super) fn conn(&self) -> Option<ConnId> {
        match self {
            Pending::Sync { conn, .. } | Pending::Resync { conn } => Some(*conn),
            Pending::Request | Pending::Open => None,
        }
    }
}
