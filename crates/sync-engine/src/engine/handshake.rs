//! Connections: the join/peer handshake, inbound frames, protocol violations, quarantine.

use crate::wire::{Message, PROTOCOL_V1};

use super::sync::Ephemeral;
use super::*;

impl<P: AccessPolicy> Engine<P> {
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
        self.conns.insert(
            conn,
            Conn {
                identity,
                state,
                docs: BTreeSet::new(),
                pending_frames: 0,
                pending_bytes: 0,
            },
        );
        out
    }

    /// The transport closed (either side). Forget per-connection sync state.
    pub fn disconnect(&mut self, conn: ConnId, now: Millis) -> Output {
        self.now = now;
        let Some(c) = self.conns.remove(&conn) else {
            return Output::default();
        };
        // Only documents in `c.docs` can hold state for it (see `ensure_peer`).
        for id in &c.docs {
            if let Some(d) = self.docs.get_mut(id) {
                d.wants.remove(&conn);
                if d.peers.remove(&conn).is_some() && d.peers.is_empty() {
                    d.idle_since = Some(now);
                }
            }
            if let Some(waiting) = self.absent.get_mut(id) {
                waiting.remove(&conn);
                if waiting.is_empty() {
                    self.absent.remove(id);
                }
            }
            if let Some(served) = self.cold.get_mut(id) {
                served.remove(&conn);
                if served.is_empty() {
                    self.cold.remove(id);
                }
            }
            if let Some(q) = self.loading.get_mut(id) {
                q.retain(|p| !p.is_for(conn));
            }
        }
        Output::default()
    }

    /// One inbound frame from `conn`: decoded, then [`Engine::receive_message`].
    pub fn receive(&mut self, conn: ConnId, frame: &[u8], now: Millis) -> Output {
        match Message::decode(frame) {
            Ok(msg) => self.receive_message(conn, msg, now),
            Err(e) => {
                self.now = now;
                let mut out = Output::default();
                if self.conns.contains_key(&conn) {
                    self.violation(conn, e.into(), &mut out);
                }
                out
            }
        }
    }

    /// One message from `conn`, already decoded by the driver.
    pub fn receive_message(&mut self, conn: ConnId, msg: Message, now: Millis) -> Output {
        self.now = now;
        let mut out = Output::default();
        if self.conns.contains_key(&conn) {
            self.handle(conn, msg, &mut out);
        }
        out
    }

    /// After an engine step for `conn` panicked (the driver caught it): close `conn` with
    /// "internal error" and drop `doc` from memory with every peer's sync state and queued
    /// work for it, so it is reloaded from storage. Other connections syncing `doc` stay
    /// open and start syncing it afresh once it is reloaded.
    pub fn quarantine(&mut self, conn: ConnId, doc: Option<DocumentId>, now: Millis) -> Output {
        self.now = now;
        let mut out = Output::default();
        self.fail_conn(conn, CloseReason::Internal, &mut out);
        let Some(doc) = doc else { return out };
        let mut resync = BTreeSet::new();
        let mut queue = VecDeque::new();
        if let Some(d) = self.remove_doc(&doc) {
            resync.extend(d.peers.keys().copied());
            resync.extend(d.wants.iter().copied());
            if d.requested {
                // Still looking for it: ask again once reloaded.
                queue.push_back(Pending::Request);
            }
        }
        for p in self.loading.remove(&doc).unwrap_or_default() {
            match p {
                Pending::Sync { conn: c, .. } | Pending::Resync { conn: c } => {
                    self.unqueue(&p);
                    resync.insert(c);
                }
                Pending::Request | Pending::Open => queue.push_back(p),
                // The document is reloaded whole anyway.
                Pending::Refresh => {}
            }
        }
        resync.retain(|c| self.conns.contains_key(c));
        queue.extend(resync.into_iter().map(|conn| Pending::Resync { conn }));
        if !queue.is_empty() {
            self.loading.insert(doc, queue);
            out.loads.push(doc);
        }
        out
    }

    fn handle(&mut self, conn: ConnId, msg: Message, out: &mut Output) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        // After the handshake, every message naming a sender must name the joined peer.
        if let ConnState::Ready { remote, .. } = &c.state {
            let named = match &msg {
                Message::Request { sender_id, .. }
                | Message::Sync { sender_id, .. }
                | Message::DocUnavailable { sender_id, .. }
                | Message::Ephemeral { sender_id, .. }
                | Message::Gossip { sender_id, .. } => Some(sender_id),
                Message::Join { .. }
                | Message::Peer { .. }
                | Message::Error { .. }
                | Message::Heartbeat => None,
            };
            if named.is_some_and(|s| s != remote) {
                return self.violation(conn, Violation::WrongSender, out);
            }
        }
        // Every message type meets every connection state here, so a new type or state
        // has to be decided on.
        match (&c.state, msg) {
            // Liveness only: the transport answers (server) or notes (client) it.
            (_, Message::Heartbeat) => {}
            (_, Message::Error { message, .. }) => {
                // The peer is about to hang up; no reply is allowed.
                out.close
                    .push((conn, CloseReason::PeerError(truncate(&message, 200))));
                self.disconnect(conn, self.now).drop_empty();
            }
            (
                ConnState::AwaitingJoin,
                Message::Join {
                    sender_id,
                    metadata,
                    supported_protocol_versions,
                },
            ) => {
                if !supported_protocol_versions.iter().any(|v| v == PROTOCOL_V1) {
                    return self.violation(conn, Violation::UnsupportedProtocol, out);
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
                    return self.violation(conn, Violation::UnsupportedProtocol, out);
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
            (
                ConnState::AwaitingJoin | ConnState::AwaitingPeer,
                msg @ (Message::Join { .. }
                | Message::Peer { .. }
                | Message::Request { .. }
                | Message::Sync { .. }
                | Message::DocUnavailable { .. }
                | Message::Ephemeral { .. }
                | Message::Gossip { .. }),
            ) => self.violation(conn, Violation::ExpectedHandshake(msg.type_name()), out),
            (ConnState::Ready { .. }, msg @ (Message::Join { .. } | Message::Peer { .. })) => self
                .violation(
                    conn,
                    Violation::UnexpectedAfterHandshake(msg.type_name()),
                    out,
                ),
            (
                ConnState::Ready { .. },
                Message::Request {
                    target_id,
                    document_id,
                    data,
                    ..
                },
            ) => {
                let work = Pending::Sync {
                    conn,
                    data,
                    is_request: true,
                };
                self.doc_frame(conn, target_id, document_id, work, out)
            }
            (
                ConnState::Ready { .. },
                Message::Sync {
                    target_id,
                    document_id,
                    data,
                    ..
                },
            ) => {
                let work = Pending::Sync {
                    conn,
                    data,
                    is_request: false,
                };
                self.doc_frame(conn, target_id, document_id, work, out)
            }
            (
                ConnState::Ready { .. },
                Message::DocUnavailable {
                    target_id,
                    document_id,
                    ..
                },
            ) => {
                if target_id != self.cfg.peer_id {
                    return self.violation(conn, Violation::WrongTarget, out);
                }
                // Nothing to load: the peer only says it has nothing.
                out.events.push(Event::DocumentUnavailable {
                    doc: document_id,
                    conn,
                });
            }
            (
                ConnState::Ready { .. },
                Message::Ephemeral {
                    sender_id,
                    target_id: _,
                    document_id,
                    session_id,
                    count,
                    data,
                },
            ) => {
                let e = Ephemeral {
                    sender_id,
                    session_id,
                    count,
                    data,
                };
                self.relay_ephemeral(conn, document_id, e, out)
            }
            // Known gossip we do not act on (its sender was checked above).
            (ConnState::Ready { .. }, Message::Gossip { .. }) => {}
        }
    }

    /// A `request` or `sync` frame about `doc`: checked, counted, then run or queued.
    fn doc_frame(
        &mut self,
        conn: ConnId,
        target_id: PeerId,
        doc: DocumentId,
        work: Pending,
        out: &mut Output,
    ) {
        if target_id != self.cfg.peer_id {
            return self.violation(conn, Violation::WrongTarget, out);
        }
        if self.cfg.shared_store
            && !self.loading.contains_key(&doc)
            && self.persisted_key(conn).is_some()
            && self
                .docs
                .get(&doc)
                .is_some_and(|d| !d.peers.contains_key(&conn))
        {
            // The peer may have synced this document through another node since we loaded
            // it: resume from the sync state stored now, not the one we hold.
            self.loading.insert(doc, VecDeque::from([Pending::Refresh]));
            out.loads.push(doc);
        }
        if let Err(v) = self.admit(conn, doc, &work) {
            return self.violation(conn, v, out);
        }
        self.with_doc(doc, work, out);
    }

    /// Count `doc` against `conn`'s limits before doing any work for it.
    fn admit(&mut self, conn: ConnId, doc: DocumentId, work: &Pending) -> Result<(), Violation> {
        let limits = &self.cfg.limits;
        let queued = self.loading.contains_key(&doc)
            || (!self.docs.contains_key(&doc) && !self.absent.contains_key(&doc));
        let c = self.conns.get_mut(&conn).expect("caller checked");
        if !c.docs.contains(&doc) {
            if c.docs.len() >= limits.documents_per_connection {
                return Err(Violation::TooManyDocuments {
                    limit: limits.documents_per_connection,
                });
            }
            c.docs.insert(doc);
        }
        if queued {
            let bytes = work.bytes();
            if c.pending_frames >= limits.pending_frames_per_connection
                || c.pending_bytes + bytes > limits.pending_bytes_per_connection
            {
                return Err(Violation::TooManyPending);
            }
            c.pending_frames += 1;
            c.pending_bytes += bytes;
        }
        Ok(())
    }

    /// Client: offer every document we hold (or are looking for) to a freshly joined server.
    pub(super) fn announce(&mut self, conn: ConnId, out: &mut Output) {
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

    pub(super) fn violation(&mut self, conn: ConnId, reason: Violation, out: &mut Output) {
        out.events.push(Event::ProtocolViolation {
            conn,
            reason: reason.clone(),
        });
        self.fail_conn(conn, reason.into(), out);
    }

    /// Tell the peer why, then close: its unacknowledged changes stay on its side.
    pub(super) fn fail_conn(&mut self, conn: ConnId, reason: CloseReason, out: &mut Output) {
        if !self.conns.contains_key(&conn) {
            return;
        }
        let target_id = self.remote(conn).map(|(p, _)| p);
        out.send.push((
            conn,
            Message::Error {
                sender_id: Some(self.cfg.peer_id.clone()),
                target_id,
                message: reason.to_string(),
            },
        ));
        out.close.push((conn, reason));
        self.disconnect(conn, self.now).drop_empty();
    }
}
