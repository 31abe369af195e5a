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
            Pending::Request | Pending::Open | Pending::Refresh => false,
        }
    }

    /// Bytes it holds (counted against the connection's pending limit).
    pub(super) fn bytes(&self) -> usize {
        match self {
            Pending::Sync { data, .. } => data.len(),
            Pending::Request | Pending::Open | Pending::Resync { .. } | Pending::Refresh => 0,
        }
    }

    /// Work we asked for ourselves (not a peer's).
    fn is_local(&self) -> bool {
        match self {
            Pending::Request | Pending::Open => true,
            Pending::Sync { .. } | Pending::Resync { .. } | Pending::Refresh => false,
        }
    }
}

impl<P: AccessPolicy> Engine<P> {
    /// Run `work` on a document now if it is in memory (or known to be absent), else queue
    /// it behind a load.
    /// Work on a document being reloaded ([`Pending::Refresh`]) waits behind the reload, so
    /// it runs in order and on what storage holds.
    pub(super) fn with_doc(&mut self, doc: DocumentId, work: Pending, out: &mut Output) {
        if !self.loading.contains_key(&doc)
            && (self.docs.contains_key(&doc) || self.absent.contains_key(&doc))
        {
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
            // Done by `loaded` itself.
            Pending::Refresh => {}
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
        if let Some(n) = self.stale_loads.get_mut(&doc) {
            // Asked for before `forget`: answers come in the order loads were asked for, so
            // this is that one, and a later load (if any) is still waiting in `loading`.
            *n -= 1;
            if *n == 0 {
                self.stale_loads.remove(&doc);
            }
            return Output::default();
        }
        let again = self.reload_after.remove(&doc);
        let mut out = self.answer_load(doc, result);
        if again {
            out.merge(self.changed_elsewhere(doc, now));
        }
        out
    }

    fn answer_load(
        &mut self,
        doc: DocumentId,
        result: Result<Option<StoredDocument>, StoreError>,
    ) -> Output {
        let mut out = Output::default();
        let queue = self.loading.remove(&doc).unwrap_or_default();
        for p in &queue {
            self.unqueue(p);
        }
        if self.docs.contains_key(&doc) {
            // A reload (another writer committed to it), or created locally while the load
            // was in flight: merge what storage holds.
            let refresh = queue.iter().any(|p| matches!(p, Pending::Refresh));
            if !self.refreshed(doc, result, refresh, &mut out) {
                // Dropped from memory (erased elsewhere, or unreadable): peers' queued work
                // runs against what storage has now.
                for work in queue {
                    if !matches!(work, Pending::Refresh) {
                        self.with_doc(doc, work, &mut out);
                    }
                }
                return out;
            }
            for work in queue {
                self.run_pending(doc, work, &mut out);
            }
            return out;
        }
        if let Ok(Some(stored)) = &result {
            if self.answer_cold(doc, stored, &queue, &mut out) {
                return out;
            }
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

    /// Another writer sharing our store (another server node) committed changes to `doc`:
    /// if it is in memory, reload it and merge what we do not have yet (by chunk key), learn
    /// the chunks and sync states stored now (so our next compaction replaces exactly what
    /// exists, and peers resume from the latest sync state), then send what is new to every
    /// connected peer syncing it. If storage no longer has it (erased elsewhere) it leaves
    /// memory as with [`Engine::forget`] (nothing is deleted: storage already has nothing).
    /// A document only peers asked for while storage had nothing is looked up again, and one
    /// devices were sent without a load ([`Engine::answer_cold`]) is loaded for them. Any
    /// other document not in memory needs nothing: its next load reads storage.
    pub fn changed_elsewhere(&mut self, doc: DocumentId, now: Millis) -> Output {
        self.now = now;
        let mut out = Output::default();
        if self.loading.contains_key(&doc) {
            // The load in flight may have read storage before that commit: look again
            // once it is answered.
            self.reload_after.insert(doc);
            return out;
        }
        if self.docs.contains_key(&doc) {
            self.loading.insert(doc, VecDeque::from([Pending::Refresh]));
            out.loads.push(doc);
        } else {
            // Devices served without a load get what changed, as peers; peers that asked
            // while storage had nothing: look again for them.
            let conns: BTreeSet<ConnId> = [self.cold.remove(&doc), self.absent.remove(&doc)]
                .into_iter()
                .flatten()
                .flatten()
                .collect();
            let queue: VecDeque<Pending> = conns
                .into_iter()
                .filter(|c| self.conns.contains_key(c))
                .map(|conn| Pending::Resync { conn })
                .collect();
            if !queue.is_empty() {
                self.loading.insert(doc, queue);
                out.loads.push(doc);
            }
        }
        out
    }

    /// [`Engine::changed_elsewhere`] for every document in memory or waited for: after
    /// announcements may have been missed (the change feed reconnected).
    pub fn everything_changed_elsewhere(&mut self, now: Millis) -> Output {
        let mut ids: BTreeSet<DocumentId> = self.docs.keys().copied().collect();
        ids.extend(self.absent.keys().copied());
        ids.extend(self.cold.keys().copied());
        let mut out = Output::default();
        for doc in ids {
            out.merge(self.changed_elsewhere(doc, now));
        }
        out
    }

    /// Merge a reload's result into the document in memory. False if the document left
    /// memory (storage no longer has it, or could not be read).
    fn refreshed(
        &mut self,
        doc: DocumentId,
        result: Result<Option<StoredDocument>, StoreError>,
        refresh: bool,
        out: &mut Output,
    ) -> bool {
        let stored = match result {
            Ok(Some(stored)) => stored,
            Ok(None) => {
                let d = self.docs.get(&doc).expect("caller checked");
                if refresh && !d.saved_heads.is_empty() {
                    // It was stored and is not any more: erased by another node.
                    self.drop_from_memory(doc);
                    out.events
                        .push(Event::DocumentLoaded { doc, exists: false });
                    return false;
                }
                return true;
            }
            Err(e) if refresh => {
                // What another node wrote cannot be read: do not go on as if we had it.
                out.events.push(Event::LoadFailed {
                    doc,
                    reason: LoadFailure::Store(Arc::new(e)),
                });
                out.merge(self.storage_failed(BTreeSet::from([doc]), self.now));
                return false;
            }
            Err(_) => return true,
        };
        let d = self.docs.get(&doc).expect("caller checked");
        let known: BTreeSet<&ChunkKey> = d.chunks.iter().collect();
        let new = stored.chunks.iter().any(|(k, _)| !known.contains(k));
        let mut merged = None;
        if new {
            let loaded =
                if let Some((key, _)) = stored.chunks.iter().find(|(k, _)| k.document != doc) {
                    Err(LoadFailure::ForeignChunk {
                        doc,
                        hash: key.hash.clone(),
                    })
                } else {
                    // Strictly, all of it: a chunk we counted as merged but could not read
                    // would be deleted by our next compaction.
                    stored.to_automerge().map_err(|e| LoadFailure::Unreadable {
                        doc,
                        source: Arc::new(e),
                    })
                };
            match loaded {
                Ok(am) => merged = am,
                Err(reason) => {
                    out.events.push(Event::LoadFailed { doc, reason });
                    out.merge(self.storage_failed(BTreeSet::from([doc]), self.now));
                    return false;
                }
            }
        }
        let live: BTreeSet<String> = {
            let d = self.docs.get(&doc).expect("caller checked");
            d.peers
                .keys()
                .filter_map(|c| self.persisted_key(*c))
                .map(|s| s.0)
                .collect()
        };
        let d = self.docs.get_mut(&doc).expect("caller checked");
        let before = d.am.get_heads();
        if let Some(mut other) = merged {
            if let Err(e) = d.am.merge(&mut other) {
                out.events.push(Event::LoadFailed {
                    doc,
                    reason: LoadFailure::Unreadable {
                        doc,
                        source: Arc::new(e),
                    },
                });
                out.merge(self.storage_failed(BTreeSet::from([doc]), self.now));
                return false;
            }
        }
        // Everything stored is known to be stored; keep our own keys too (some may still
        // be in a commit queued behind this load): replacing a chunk that is gone is a no-op.
        for (k, data) in &stored.chunks {
            if !d.chunks.contains(k) {
                d.chunks.push(k.clone());
                d.count_chunk(k, data.len());
            }
        }
        if d.saved_heads == before {
            d.saved_heads = d.am.get_heads();
        }
        // The latest sync state of a peer not syncing here is the one in storage: it may
        // have synced through another node since we loaded it.
        for (peer, data) in stored.sync_states {
            if live.contains(&peer) {
                continue;
            }
            match d.persisted_sync.get_mut(&peer) {
                Some(p) => p.data = data,
                None => {
                    d.persisted_sync
                        .insert(peer, PersistedSync { data, used: 0 });
                }
            }
        }
        if d.am.get_heads() != before {
            out.events.push(Event::ChangedElsewhere { doc });
            self.after_change(doc, None, out);
        }
        true
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
        for (k, data) in &stored.chunks {
            d.count_chunk(k, data.len());
        }
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
            Pending::Request | Pending::Open | Pending::Refresh => None,
        }
    }
}
