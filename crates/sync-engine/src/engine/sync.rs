//! Sync: applying peers' sync messages, saving, fanning changes out, ephemeral relay.

use std::sync::Arc;

use automerge::sync::{self, SyncDoc};
use automerge::Automerge;

use crate::storage::{ChunkKey, ChunkKind, StorageOp};
use crate::wire::Message;
use crate::{DocumentId, PeerId};

use super::*;

/// An `ephemeral` message's payload, relayed as is.
pub(super) struct Ephemeral {
    pub(super) sender_id: PeerId,
    pub(super) session_id: String,
    pub(super) count: u64,
    pub(super) data: Vec<u8>,
}

impl<P: AccessPolicy> Engine<P> {
    /// Start tracking sync with `conn` for a loaded document, resuming persisted state.
    pub(super) fn ensure_peer(&mut self, conn: ConnId, doc_id: DocumentId, identity: &Identity) {
        let d = self.docs.get(&doc_id).expect("caller loaded it");
        if !d.peers.contains_key(&conn) {
            let ps = self.new_peer_sync(d, conn, identity, &doc_id);
            let used = self.next_use();
            let key = self.persisted_key(conn);
            let d = self.docs.get_mut(&doc_id).expect("present");
            if let Some(p) = key.and_then(|k| d.persisted_sync.get_mut(&k.0)) {
                p.used = used;
            }
            d.peers.insert(conn, ps);
            d.idle_since = None;
            // So `disconnect` finds it; documents we offer count too, but are never refused.
            if let Some(c) = self.conns.get_mut(&conn) {
                c.docs.insert(doc_id);
            }
        }
    }

    /// The storage id under which `conn`'s sync state is persisted, if it has durable storage.
    pub(super) fn persisted_key(&self, conn: ConnId) -> Option<StorageId> {
        self.remote(conn)
            .and_then(|(_, md)| md.storage_id.filter(|_| !md.is_ephemeral))
    }

    pub(super) fn new_peer_sync(
        &self,
        doc: &Doc,
        conn: ConnId,
        identity: &Identity,
        doc_id: &DocumentId,
    ) -> PeerSync {
        let mut state = self
            .persisted_key(conn)
            .and_then(|k| doc.persisted_sync.get(&k.0))
            .and_then(|p| sync::State::decode(&p.data).ok())
            .unwrap_or_default();
        state.read_only = !self.policy.may_write(identity, doc_id);
        let persisted = state.shared_heads.clone();
        PeerSync { state, persisted }
    }

    pub(super) fn sync_in(
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
        let Some((remote, _)) = self.remote(conn) else {
            return;
        };
        if !self.policy.may_read(&identity, &doc_id) {
            // Indistinguishable from a document we do not have.
            out.send.push((conn, self.unavailable(remote, doc_id)));
            return;
        }
        let message = match crate::guard::decode(data, &self.cfg.limits.sync_message) {
            Ok(m) => m,
            Err(e) => return self.violation(conn, Violation::invalid_sync_message(e), out),
        };
        let sends_changes = !message.changes.is_empty();
        if !self.docs.contains_key(&doc_id) {
            // Known absent: only changes we would accept make it a document in memory.
            if !sends_changes || !self.policy.may_write(&identity, &doc_id) {
                if sends_changes {
                    out.events.push(Event::WriteRejected { doc: doc_id, conn });
                }
                return self.reply_absent(conn, remote, doc_id, message, is_request, out);
            }
            if !self.make_room(out) {
                return self.fail_conn(conn, CloseReason::Busy, out);
            }
            let d = self.empty_doc(self.now);
            self.insert_doc(doc_id, d);
        }
        let d = self.docs.get(&doc_id).expect("present");
        if is_request && !d.exists() && !sends_changes {
            let d = self.docs.get_mut(&doc_id).expect("present");
            d.wants.insert(conn);
            out.send.push((conn, self.unavailable(remote, doc_id)));
            return;
        }
        self.ensure_peer(conn, doc_id, &identity);
        let d = self.docs.get(&doc_id).expect("present");
        let read_only = d.peers.get(&conn).is_some_and(|ps| ps.state.read_only);
        if sends_changes && read_only {
            out.events.push(Event::WriteRejected { doc: doc_id, conn });
        }
        let d = self.docs.get_mut(&doc_id).expect("present");
        d.wants.remove(&conn);
        let ps = d.peers.get_mut(&conn).expect("inserted above");
        let before = d.am.get_heads();
        if let Err(e) = d.am.receive_sync_message(&mut ps.state, message) {
            return self.violation(conn, Violation::SyncNotApplied(Arc::new(e)), out);
        }
        let changed = d.am.get_heads() != before;
        if changed && self.policy.inspects_changes() {
            // Checked once applied: automerge-repo's v2 messages carry changes as a partial
            // document that only decodes against the document's own history. Refused
            // changes are in memory only (nothing is saved before this point), so the
            // document is dropped and reloaded from storage, as after a panic.
            let new: Vec<automerge::Change> = d.am.get_changes(&before);
            if let Err(why) = self.policy.check_changes(&identity, &doc_id, &new, &d.am) {
                self.violation(conn, Violation::ChangeRefused(why), out);
                let reload = self.quarantine(conn, Some(doc_id), self.now);
                out.merge(reload);
                return;
            }
        }
        let d = self.docs.get_mut(&doc_id).expect("present");
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

    /// A peer asks for (or offers without changes) a document storage does not have. Nothing
    /// is kept but the ids of the document and the connection.
    fn reply_absent(
        &mut self,
        conn: ConnId,
        remote: PeerId,
        doc_id: DocumentId,
        message: sync::Message,
        is_request: bool,
        out: &mut Output,
    ) {
        // Remembered either way, so its next frame needs no load.
        self.absent.entry(doc_id).or_default().insert(conn);
        if is_request {
            out.send.push((conn, self.unavailable(remote, doc_id)));
            return;
        }
        // An offer: answer from a throwaway empty document, so the peer sends its changes.
        let mut empty = Automerge::new();
        let mut state = sync::State::new();
        if let Err(e) = empty.receive_sync_message(&mut state, message) {
            return self.violation(conn, Violation::SyncNotApplied(Arc::new(e)), out);
        }
        if let Some(reply) = empty.generate_sync_message(&mut state) {
            out.send.push((
                conn,
                Message::Request {
                    sender_id: self.cfg.peer_id.clone(),
                    target_id: remote,
                    document_id: doc_id,
                    data: reply.encode(),
                },
            ));
        }
    }

    /// New content in `doc` (local edit or from `origin`): save it, then tell every peer.
    pub(super) fn after_change(
        &mut self,
        doc_id: DocumentId,
        origin: Option<ConnId>,
        out: &mut Output,
    ) {
        let compact_after = self.cfg.compact_after_chunks;
        let compact_bytes = self.cfg.compact_after_bytes;
        let d = self.docs.get_mut(&doc_id).expect("caller checked");
        let heads = d.am.get_heads();
        if heads != d.saved_heads {
            let data = d.am.save_after(&d.saved_heads);
            let key = ChunkKey::for_data(doc_id, ChunkKind::Incremental, &data);
            d.saved_heads = heads;
            d.chunks.push(key.clone());
            d.incremental_bytes += data.len();
            out.storage.push(StorageOp::PutChunk { key, data });
            if d.chunks.len() > compact_after
                || d.incremental_bytes > compact_bytes.max(d.snapshot_bytes)
            {
                let data = d.am.save();
                let snapshot = ChunkKey::for_data(doc_id, ChunkKind::Snapshot, &data);
                d.incremental_bytes = 0;
                d.snapshot_bytes = data.len();
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
        if let Some(o) = origin.filter(|_| self.cfg.coalesce_fanout) {
            // The rest at the next flush, with whatever else the batch brings.
            d.wants.extend(wanting);
            self.fanout_pending.insert(doc_id);
            self.sync_out(o, doc_id, out);
            return;
        }
        let mut targets: Vec<ConnId> = d.peers.keys().copied().collect();
        targets.extend(wanting);
        if self.cfg.role == Role::Client {
            // A client offers local edits to every server it is connected to.
            targets.extend(self.ready_conns());
        }
        crate::order::sort(&mut targets);
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

    /// Send every document changed by a peer since the last flush to its other peers, one
    /// sync message each carrying everything new (`coalesce_fanout`; a no-op otherwise).
    pub fn flush_fanout(&mut self, now: Millis) -> Output {
        self.now = now;
        let mut out = Output::default();
        for doc_id in std::mem::take(&mut self.fanout_pending) {
            let Some(d) = self.docs.get_mut(&doc_id) else {
                continue;
            };
            let wanting = std::mem::take(&mut d.wants);
            let targets: BTreeSet<ConnId> = d.peers.keys().copied().chain(wanting).collect();
            for conn in targets {
                self.sync_out(conn, doc_id, &mut out);
            }
        }
        out
    }

    /// Generate (if needed) the next sync message for `conn` about `doc`, and persist the
    /// peer's sync state when its shared heads moved.
    pub(super) fn sync_out(&mut self, conn: ConnId, doc_id: DocumentId, out: &mut Output) {
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
        let used = self.next_use();
        let cap = self.cfg.limits.sync_states_per_document.max(1);
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
                d.persisted_sync.insert(
                    sid.0.clone(),
                    PersistedSync {
                        data: data.clone(),
                        used,
                    },
                );
                out.storage.push(StorageOp::PutSyncState {
                    document: doc_id,
                    peer_storage_id: sid.0.clone(),
                    data,
                });
                // Any peer can claim a new storage id: keep the most recently used only.
                while d.persisted_sync.len() > cap {
                    let oldest = d
                        .persisted_sync
                        .iter()
                        .filter(|(k, _)| **k != sid.0)
                        .min_by_key(|(k, p)| (p.used, (*k).clone()))
                        .map(|(k, _)| k.clone())
                        .expect("more than one state");
                    d.persisted_sync.remove(&oldest);
                    out.storage.push(StorageOp::ForgetSyncState {
                        document: doc_id,
                        peer_storage_id: oldest,
                    });
                }
            }
        }
    }

    pub(super) fn unavailable(&self, remote: PeerId, doc: DocumentId) -> Message {
        Message::DocUnavailable {
            sender_id: self.cfg.peer_id.clone(),
            target_id: remote,
            document_id: doc,
        }
    }

    pub(super) fn relay_ephemeral(
        &mut self,
        conn: ConnId,
        doc_id: DocumentId,
        msg: Ephemeral,
        out: &mut Output,
    ) {
        let Ephemeral {
            sender_id,
            session_id,
            count,
            data,
        } = msg;
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
