//! Loading documents from storage: the load queue, `loaded`, storage failures, eviction.

use std::collections::BTreeSet;

use automerge::Automerge;

use crate::storage::{StoreError, StoredDocument};
use crate::wire::Message;
use crate::DocumentId;

use super::*;

impl<P: AccessPolicy> Engine<P> {
    pub(super) fn with_doc(&mut self, doc: DocumentId, work: Pending, out: &mut Output) {
        if self.docs.contains_key(&doc) {
            return self.run_pending(doc, work, out);
        }
        let q = self.loading.entry(doc).or_default();
        if q.is_empty() {
            out.loads.push(doc);
        }
        q.push_back(work);
    }

    pub(super) fn run_pending(&mut self, doc: DocumentId, work: Pending, out: &mut Output) {
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
