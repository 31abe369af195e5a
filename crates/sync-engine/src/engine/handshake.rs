//! Connections: the join/peer handshake, inbound frames, protocol violations.

use crate::wire::{Message, PROTOCOL_V1};

use super::*;

impl<P: AccessPolicy> Engine<P> {
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

    pub(super) fn handle(&mut self, conn: ConnId, msg: Message, out: &mut Output) {
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

    pub(super) fn handle_ready(&mut self, conn: ConnId, msg: Message, out: &mut Output) {
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

    pub(super) fn violation(&mut self, conn: ConnId, reason: String, out: &mut Output) {
        out.events.push(Event::ProtocolViolation {
            conn,
            reason: reason.clone(),
        });
        self.fail_conn(conn, &reason, out);
    }

    pub(super) fn fail_conn(&mut self, conn: ConnId, reason: &str, out: &mut Output) {
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
}
