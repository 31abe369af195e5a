//! Serving a device that holds nothing of a document without loading it (server only).
//!
//! Loading a stored case into Automerge rebuilds every change to recompute its hash: about
//! 88% of the server's CPU while a new phone pulls its caseload (docs/PERFORMANCE.md). A
//! device that asks for a document it has none of would be sent the whole document anyway
//! (automerge's v2 sync message carries a saved document), and a document stored as one
//! snapshot *is* a saved document. So when every frame waiting for a document is either
//!   - such a first request (no heads, no changes, nothing needed, an empty Bloom filter,
//!     and the flags only a v2 peer sends), answered with the stored snapshot and its heads,
//!     or
//!   - the reply a device sends once it holds exactly those heads (nothing needed, no
//!     changes), recorded as its sync state as automerge would,
//!
//! the document is never loaded. Anything else (changes, other heads, a read-only peer, a
//! snapshot with incremental chunks beside it, no room for one more sync state) takes the
//! normal path, which loads. A device served this way is remembered (`Engine::cold`) so
//! that once the document is loaded for any reason it becomes a peer again and gets later
//! changes as if it had synced the ordinary way.

use std::collections::VecDeque;

use automerge::sync::{self, ChunkList, MessageFlags, MessageVersion};
use automerge::ChangeHash;

use crate::storage::{ChunkKey, ChunkKind, StorageOp, StoredDocument};
use crate::wire::Message;
use crate::DocumentId;

use super::*;

/// What one waiting frame is, for serving without a load.
enum Frame {
    /// A first request from a device with nothing: send it the snapshot.
    Fresh { conn: ConnId, remote: PeerId },
    /// The device now holds the snapshot's heads: remember that, send nothing.
    InSync { conn: ConnId },
}

impl<P: AccessPolicy> Engine<P> {
    /// Answer `queue` from `stored` without loading it, if every frame allows it (see the
    /// module docs). `false`: nothing was done, take the normal path.
    pub(super) fn answer_cold(
        &mut self,
        doc: DocumentId,
        stored: &StoredDocument,
        queue: &VecDeque<Pending>,
        out: &mut Output,
    ) -> bool {
        if self.cfg.role != Role::Server || !self.cfg.serve_cold || queue.is_empty() {
            return false;
        }
        let [(key, snapshot)] = stored.chunks.as_slice() else {
            return false;
        };
        // Our own bytes, but checked as if they were not: the key is their hash.
        if key.kind != ChunkKind::Snapshot
            || key.document != doc
            || *key != ChunkKey::for_data(doc, ChunkKind::Snapshot, snapshot)
        {
            return false;
        }
        let Some(heads) = snapshot_heads(snapshot) else {
            return false;
        };
        let mut frames = Vec::with_capacity(queue.len());
        for work in queue {
            let Pending::Sync { conn, data, .. } = work else {
                return false;
            };
            let Some(frame) = self.classify(doc, *conn, data, &heads) else {
                return false;
            };
            frames.push(frame);
        }
        let cap = self.cfg.limits.sync_states_per_document.max(1);
        let mut states = stored.sync_states.len();
        for frame in &frames {
            let Frame::InSync { conn } = frame else {
                continue;
            };
            let Some(sid) = self
                .persisted_key(*conn)
                .filter(|_| self.cfg.storage_id.is_some())
            else {
                continue;
            };
            if !stored.sync_states.contains_key(&sid.0) {
                // Trimming to the cap needs the document's sync states in memory.
                states += 1;
                if states > cap {
                    return false;
                }
            }
        }
        for frame in frames {
            match frame {
                Frame::Fresh { conn, remote } => {
                    let mut flags = MessageFlags::new();
                    flags.set(MessageFlags::SUPPORTS_SYNC_RESET);
                    // No Bloom filter: the device has nothing to send back.
                    let message = sync::Message {
                        heads: heads.clone(),
                        need: Vec::new(),
                        have: Vec::new(),
                        changes: ChunkList::from(snapshot.clone()),
                        flags: Some(flags),
                        version: MessageVersion::V2,
                    };
                    out.send.push((
                        conn,
                        Message::Sync {
                            sender_id: self.cfg.peer_id.clone(),
                            target_id: remote,
                            document_id: doc,
                            data: message.encode(),
                        },
                    ));
                    self.cold.entry(doc).or_default().insert(conn);
                }
                Frame::InSync { conn } => {
                    self.cold.entry(doc).or_default().insert(conn);
                    let Some(sid) = self
                        .persisted_key(conn)
                        .filter(|_| self.cfg.storage_id.is_some())
                    else {
                        continue;
                    };
                    let known = stored
                        .sync_states
                        .get(&sid.0)
                        .and_then(|s| sync::State::decode(s).ok())
                        .is_some_and(|s| s.shared_heads == heads);
                    if !known {
                        let mut state = sync::State::new();
                        state.shared_heads = heads.clone();
                        out.storage.push(StorageOp::PutSyncState {
                            document: doc,
                            peer_storage_id: sid.0,
                            data: state.encode(),
                        });
                    }
                }
            }
        }
        true
    }

    fn classify(
        &self,
        doc: DocumentId,
        conn: ConnId,
        data: &[u8],
        heads: &[ChangeHash],
    ) -> Option<Frame> {
        let identity = &self.conns.get(&conn)?.identity;
        // Read-only peers get flags and checks of their own on the normal path.
        if !self.policy.may_read(identity, &doc) || !self.policy.may_write(identity, &doc) {
            return None;
        }
        let (remote, _) = self.remote(conn)?;
        // A frame the guard refuses is refused on the normal path, with its violation.
        let m = crate::guard::decode(data, &self.cfg.limits.sync_message).ok()?;
        if !m.changes.is_empty() || !m.need.is_empty() || m.flags.is_none() {
            return None;
        }
        if m.heads.is_empty()
            && m.have
                .iter()
                .all(|h| h.last_sync.is_empty() && h.bloom.to_bytes().is_empty())
        {
            return Some(Frame::Fresh { conn, remote });
        }
        (m.heads == heads).then_some(Frame::InSync { conn })
    }

    /// A document entered memory: the devices served without a load become its peers, so
    /// its later changes reach them.
    pub(super) fn adopt_cold(&mut self, doc: DocumentId) {
        let Some(conns) = self.cold.remove(&doc) else {
            return;
        };
        for conn in conns {
            let Some(identity) = self.conns.get(&conn).map(|c| c.identity.clone()) else {
                continue;
            };
            if self.policy.may_read(&identity, &doc) {
                self.ensure_peer(conn, doc, &identity);
            }
        }
    }
}

/// The heads a stored document chunk records, read from its header: the magic bytes, a
/// checksum, type 0 (document), the length, the actors, then the heads. `None` for anything
/// else or anything malformed.
pub(super) fn snapshot_heads(data: &[u8]) -> Option<Vec<ChangeHash>> {
    const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
    let rest = data.strip_prefix(&MAGIC)?;
    let rest = rest.get(4..)?; // checksum
    let (&kind, rest) = rest.split_first()?;
    if kind != 0 {
        return None;
    }
    let (len, rest) = uleb(rest)?;
    if usize::try_from(len).ok()? != rest.len() {
        return None;
    }
    let (actors, mut rest) = uleb(rest)?;
    for _ in 0..actors {
        let (n, r) = uleb(rest)?;
        rest = r.get(usize::try_from(n).ok()?..)?;
    }
    let (count, mut rest) = uleb(rest)?;
    if count == 0 || count > (rest.len() / 32) as u64 {
        return None;
    }
    let mut heads = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let (hash, r) = rest.split_at_checked(32)?;
        heads.push(ChangeHash::try_from(hash).ok()?);
        rest = r;
    }
    Some(heads)
}

/// An unsigned LEB128 number (at most 10 bytes) and what follows it.
fn uleb(data: &[u8]) -> Option<(u64, &[u8])> {
    let mut value = 0u64;
    for (i, &b) in data.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f).checked_shl(7 * i as u32)?;
        if b & 0x80 == 0 {
            return Some((value, &data[i + 1..]));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ObjType, ROOT};

    fn saved(edits: usize) -> (Vec<u8>, Vec<ChangeHash>) {
        let mut d = AutoCommit::new();
        let notes = d.put_object(ROOT, "notes", ObjType::List).unwrap();
        for i in 0..edits {
            d.insert(&notes, i, format!("invented note {i}")).unwrap();
            d.commit();
        }
        let mut other = d.fork();
        other.put(ROOT, "other", "concurrent").unwrap();
        d.put(ROOT, "mine", "concurrent").unwrap();
        d.merge(&mut other).unwrap();
        (d.save(), d.get_heads())
    }

    #[test]
    fn the_heads_read_from_a_saved_document_are_its_heads() {
        for edits in [1, 5, 200] {
            let (bytes, heads) = saved(edits);
            assert_eq!(heads.len(), 2, "two concurrent heads");
            assert_eq!(snapshot_heads(&bytes), Some(heads));
        }
    }

    #[test]
    fn anything_but_a_whole_document_chunk_has_no_heads() {
        let (bytes, _) = saved(3);
        assert_eq!(snapshot_heads(&[]), None);
        for cut in [1, 8, 9, 10, 40, bytes.len() - 1] {
            assert_eq!(snapshot_heads(&bytes[..cut]), None, "cut at {cut}");
        }
        let mut wrong = bytes.clone();
        wrong[0] ^= 1;
        assert_eq!(snapshot_heads(&wrong), None, "magic");
        let mut change = AutoCommit::new();
        change.put(ROOT, "a", 1).unwrap();
        let one = change.save_incremental();
        assert_eq!(snapshot_heads(&one), None, "a change chunk");
        let empty = AutoCommit::new().save();
        assert_eq!(snapshot_heads(&empty), None, "no heads");
    }
}
