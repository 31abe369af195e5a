//! The automerge-repo WebSocket protocol v1 wire format: one CBOR map per frame.
//!
//! **Stable**: these shapes are what stock `@automerge/automerge-repo-network-websocket`
//! peers send and expect (field names camelCase, `data` a CBOR byte string). Changing them
//! breaks interop; add new message types instead.

use std::collections::BTreeMap;

use ciborium::value::Value;

use crate::{DocumentId, PeerId, StorageId};

pub const PROTOCOL_V1: &str = "1";
/// The `type` of [`Message::Heartbeat`].
pub const HEARTBEAT: &str = "fieldbook-heartbeat";
/// The key in `peer` by which a server says it answers heartbeats.
const HEARTBEAT_ADVERT: &str = "fieldbookHeartbeat";
/// Recursion guard for hostile input; real messages nest three levels at most.
const MAX_CBOR_DEPTH: usize = 16;

/// What a peer says about itself in `join`/`peer`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PeerMetadata {
    pub storage_id: Option<StorageId>,
    pub is_ephemeral: bool,
}

#[derive(Clone, PartialEq, Eq)]
pub enum Message {
    Join {
        sender_id: PeerId,
        metadata: PeerMetadata,
        supported_protocol_versions: Vec<String>,
    },
    Peer {
        sender_id: PeerId,
        target_id: PeerId,
        metadata: PeerMetadata,
        selected_protocol_version: String,
        /// Fieldbook extension, sent as `fieldbookHeartbeat: true` (a top-level key stock
        /// peers ignore): this server answers [`Message::Heartbeat`].
        heartbeat: bool,
    },
    Error {
        sender_id: Option<PeerId>,
        target_id: Option<PeerId>,
        message: String,
    },
    /// "I don't have this document; please send it" (an automerge sync message from an empty doc).
    Request {
        sender_id: PeerId,
        target_id: PeerId,
        document_id: DocumentId,
        data: Vec<u8>,
    },
    Sync {
        sender_id: PeerId,
        target_id: PeerId,
        document_id: DocumentId,
        data: Vec<u8>,
    },
    DocUnavailable {
        sender_id: PeerId,
        target_id: PeerId,
        document_id: DocumentId,
    },
    /// Presence and other transient data; relayed, never stored.
    Ephemeral {
        sender_id: PeerId,
        target_id: PeerId,
        document_id: DocumentId,
        session_id: String,
        count: u64,
        data: Vec<u8>,
    },
    /// `remote-heads-changed` / `remote-subscription-change`: known gossip we don't act on.
    Gossip { sender_id: PeerId, kind: String },
    /// Fieldbook extension, `{"type": "fieldbook-heartbeat"}`: a client asks "are you still
    /// there?" and a Fieldbook server answers with the same message at once. Only sent to a
    /// server that advertised it in `peer`, and only answered to a peer that sent one, so
    /// stock automerge-repo peers never receive it. See [`crate::health`].
    Heartbeat,
}

// Sync payloads are case data: Debug names the message, never its bytes.
impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Message::Request {
                document_id, data, ..
            }
            | Message::Sync {
                document_id, data, ..
            } => {
                write!(
                    f,
                    "{}({document_id}, {} bytes)",
                    self.type_name(),
                    data.len()
                )
            }
            Message::DocUnavailable { document_id, .. } => {
                write!(f, "doc-unavailable({document_id})")
            }
            Message::Ephemeral {
                document_id, data, ..
            } => {
                write!(f, "ephemeral({document_id}, {} bytes)", data.len())
            }
            Message::Join { sender_id, .. } => write!(f, "join({sender_id})"),
            Message::Peer { sender_id, .. } => write!(f, "peer({sender_id})"),
            Message::Error { message, .. } => write!(f, "error({message:?})"),
            Message::Gossip { kind, .. } => write!(f, "{kind}"),
            Message::Heartbeat => write!(f, "{HEARTBEAT}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("frame is not valid CBOR")]
    NotCbor,
    #[error("frame is not a CBOR map")]
    NotAMap,
    #[error("message has no `type`")]
    NoType,
    #[error("unknown message type `{0}`")]
    UnknownType(String),
    #[error("`{field}` is missing or has the wrong type in a `{ty}` message")]
    BadField {
        ty: &'static str,
        field: &'static str,
    },
    #[error("invalid document id in a `{ty}` message")]
    BadDocumentId { ty: &'static str },
}

impl Message {
    pub fn type_name(&self) -> &'static str {
        match self {
            Message::Join { .. } => "join",
            Message::Peer { .. } => "peer",
            Message::Error { .. } => "error",
            Message::Request { .. } => "request",
            Message::Sync { .. } => "sync",
            Message::DocUnavailable { .. } => "doc-unavailable",
            Message::Ephemeral { .. } => "ephemeral",
            Message::Gossip { .. } => "gossip",
            Message::Heartbeat => HEARTBEAT,
        }
    }

    pub fn document_id(&self) -> Option<DocumentId> {
        match self {
            Message::Request { document_id, .. }
            | Message::Sync { document_id, .. }
            | Message::DocUnavailable { document_id, .. }
            | Message::Ephemeral { document_id, .. } => Some(*document_id),
            _ => None,
        }
    }

    pub fn sender_id(&self) -> Option<&PeerId> {
        match self {
            Message::Join { sender_id, .. }
            | Message::Peer { sender_id, .. }
            | Message::Request { sender_id, .. }
            | Message::Sync { sender_id, .. }
            | Message::DocUnavailable { sender_id, .. }
            | Message::Ephemeral { sender_id, .. }
            | Message::Gossip { sender_id, .. } => Some(sender_id),
            Message::Error { sender_id, .. } => sender_id.as_ref(),
            Message::Heartbeat => None,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut m: Vec<(Value, Value)> = Vec::with_capacity(7);
        let mut put = |k: &str, v: Value| m.push((Value::Text(k.into()), v));
        let text = |s: &str| Value::Text(s.to_owned());
        put("type", text(self.type_name()));
        match self {
            Message::Join {
                sender_id,
                metadata,
                supported_protocol_versions,
            } => {
                put("senderId", text(&sender_id.0));
                put("peerMetadata", metadata.to_value());
                put(
                    "supportedProtocolVersions",
                    Value::Array(
                        supported_protocol_versions
                            .iter()
                            .map(|v| text(v))
                            .collect(),
                    ),
                );
            }
            Message::Peer {
                sender_id,
                target_id,
                metadata,
                selected_protocol_version,
                heartbeat,
            } => {
                put("senderId", text(&sender_id.0));
                put("targetId", text(&target_id.0));
                put("peerMetadata", metadata.to_value());
                put("selectedProtocolVersion", text(selected_protocol_version));
                if *heartbeat {
                    put(HEARTBEAT_ADVERT, Value::Bool(true));
                }
            }
            Message::Error {
                sender_id,
                target_id,
                message,
            } => {
                if let Some(s) = sender_id {
                    put("senderId", text(&s.0));
                }
                if let Some(t) = target_id {
                    put("targetId", text(&t.0));
                }
                put("message", text(message));
            }
            Message::Request {
                sender_id,
                target_id,
                document_id,
                data,
            }
            | Message::Sync {
                sender_id,
                target_id,
                document_id,
                data,
            } => {
                put("senderId", text(&sender_id.0));
                put("targetId", text(&target_id.0));
                put("documentId", text(&document_id.to_string()));
                put("data", Value::Bytes(data.clone()));
            }
            Message::DocUnavailable {
                sender_id,
                target_id,
                document_id,
            } => {
                put("senderId", text(&sender_id.0));
                put("targetId", text(&target_id.0));
                put("documentId", text(&document_id.to_string()));
            }
            Message::Ephemeral {
                sender_id,
                target_id,
                document_id,
                session_id,
                count,
                data,
            } => {
                put("senderId", text(&sender_id.0));
                put("targetId", text(&target_id.0));
                put("documentId", text(&document_id.to_string()));
                put("sessionId", text(session_id));
                put("count", Value::Integer((*count).into()));
                put("data", Value::Bytes(data.clone()));
            }
            Message::Gossip { .. } => unreachable!("gossip is never sent"),
            Message::Heartbeat => {}
        }
        let mut out = Vec::new();
        ciborium::into_writer(&Value::Map(m), &mut out).expect("writing CBOR to a Vec cannot fail");
        out
    }

    /// Whether `frame` is a [`Message::Heartbeat`], checked without decoding anything large,
    /// so a connection can answer it before (and without) the sync engine.
    pub fn is_heartbeat(frame: &[u8]) -> bool {
        frame.len() <= 64 && matches!(Message::decode(frame), Ok(Message::Heartbeat))
    }

    pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
        let value: Value = ciborium::de::from_reader_with_recursion_limit(bytes, MAX_CBOR_DEPTH)
            .map_err(|_| DecodeError::NotCbor)?;
        let Value::Map(entries) = value else {
            return Err(DecodeError::NotAMap);
        };
        let mut fields: BTreeMap<String, Value> = BTreeMap::new();
        for (k, v) in entries {
            if let Value::Text(k) = k {
                fields.insert(k, v);
            }
        }
        let ty = match fields.get("type") {
            Some(Value::Text(t)) => t.clone(),
            _ => return Err(DecodeError::NoType),
        };
        let f = Fields { ty: "", fields };
        match ty.as_str() {
            "join" => {
                let f = f.named("join");
                Ok(Message::Join {
                    sender_id: f.peer("senderId")?,
                    metadata: f.metadata()?,
                    supported_protocol_versions: match f.fields.get("supportedProtocolVersions") {
                        // automerge-repo treats a missing list as "1"
                        None | Some(Value::Null) => vec![PROTOCOL_V1.to_owned()],
                        Some(Value::Array(vs)) => vs
                            .iter()
                            .map(|v| v.as_text().map(str::to_owned))
                            .collect::<Option<Vec<_>>>()
                            .ok_or(f.bad("supportedProtocolVersions"))?,
                        Some(_) => return Err(f.bad("supportedProtocolVersions")),
                    },
                })
            }
            "peer" => {
                let f = f.named("peer");
                Ok(Message::Peer {
                    sender_id: f.peer("senderId")?,
                    target_id: f.peer("targetId")?,
                    metadata: f.metadata()?,
                    selected_protocol_version: f.text("selectedProtocolVersion")?,
                    heartbeat: matches!(f.fields.get(HEARTBEAT_ADVERT), Some(Value::Bool(true))),
                })
            }
            "error" => {
                let f = f.named("error");
                Ok(Message::Error {
                    sender_id: f.peer("senderId").ok(),
                    target_id: f.peer("targetId").ok(),
                    message: f.text("message").unwrap_or_default(),
                })
            }
            "request" | "sync" => {
                let name = if ty == "sync" { "sync" } else { "request" };
                let f = f.named(name);
                let (sender_id, target_id, document_id, data) = (
                    f.peer("senderId")?,
                    f.peer("targetId")?,
                    f.doc()?,
                    f.bytes("data")?,
                );
                Ok(if name == "sync" {
                    Message::Sync {
                        sender_id,
                        target_id,
                        document_id,
                        data,
                    }
                } else {
                    Message::Request {
                        sender_id,
                        target_id,
                        document_id,
                        data,
                    }
                })
            }
            "doc-unavailable" => {
                let f = f.named("doc-unavailable");
                Ok(Message::DocUnavailable {
                    sender_id: f.peer("senderId")?,
                    target_id: f.peer("targetId")?,
                    document_id: f.doc()?,
                })
            }
            "ephemeral" => {
                let f = f.named("ephemeral");
                Ok(Message::Ephemeral {
                    sender_id: f.peer("senderId")?,
                    target_id: f.peer("targetId")?,
                    document_id: f.doc()?,
                    session_id: f.text("sessionId")?,
                    count: match f.fields.get("count") {
                        Some(Value::Integer(i)) => u64::try_from(*i).map_err(|_| f.bad("count"))?,
                        _ => return Err(f.bad("count")),
                    },
                    data: f.bytes("data")?,
                })
            }
            HEARTBEAT => Ok(Message::Heartbeat),
            "remote-heads-changed" | "remote-subscription-change" => Ok(Message::Gossip {
                sender_id: f.named("gossip").peer("senderId")?,
                kind: ty,
            }),
            _ => Err(DecodeError::UnknownType(truncate(&ty, 64))),
        }
    }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

impl PeerMetadata {
    fn to_value(&self) -> Value {
        let mut m = Vec::new();
        if let Some(s) = &self.storage_id {
            m.push((Value::Text("storageId".into()), Value::Text(s.0.clone())));
        }
        m.push((
            Value::Text("isEphemeral".into()),
            Value::Bool(self.is_ephemeral),
        ));
        Value::Map(m)
    }
}

struct Fields {
    ty: &'static str,
    fields: BTreeMap<String, Value>,
}

impl Fields {
    fn named(self, ty: &'static str) -> Self {
        Fields { ty, ..self }
    }
    fn bad(&self, field: &'static str) -> DecodeError {
        DecodeError::BadField { ty: self.ty, field }
    }
    fn text(&self, field: &'static str) -> Result<String, DecodeError> {
        match self.fields.get(field) {
            Some(Value::Text(t)) => Ok(t.clone()),
            _ => Err(self.bad(field)),
        }
    }
    fn peer(&self, field: &'static str) -> Result<PeerId, DecodeError> {
        let t = self.text(field)?;
        if t.is_empty() || t.len() > 256 {
            return Err(self.bad(field));
        }
        Ok(PeerId(t))
    }
    fn doc(&self) -> Result<DocumentId, DecodeError> {
        self.text("documentId")?
            .parse()
            .map_err(|_| DecodeError::BadDocumentId { ty: self.ty })
    }
    fn bytes(&self, field: &'static str) -> Result<Vec<u8>, DecodeError> {
        match self.fields.get(field) {
            Some(Value::Bytes(b)) => Ok(b.clone()),
            // Some encoders tag typed arrays (RFC 8746 tag 64 = uint8 array).
            Some(Value::Tag(64, inner)) => match inner.as_ref() {
                Value::Bytes(b) => Ok(b.clone()),
                _ => Err(self.bad(field)),
            },
            _ => Err(self.bad(field)),
        }
    }
    fn metadata(&self) -> Result<PeerMetadata, DecodeError> {
        match self.fields.get("peerMetadata") {
            None | Some(Value::Null) => Ok(PeerMetadata::default()),
            Some(Value::Map(entries)) => {
                let mut md = PeerMetadata::default();
                for (k, v) in entries {
                    match (k.as_text(), v) {
                        (Some("storageId"), Value::Text(s)) if !s.is_empty() && s.len() <= 256 => {
                            md.storage_id = Some(StorageId(s.clone()))
                        }
                        (Some("storageId"), Value::Null) => {}
                        (Some("storageId"), _) => return Err(self.bad("peerMetadata.storageId")),
                        (Some("isEphemeral"), Value::Bool(b)) => md.is_ephemeral = *b,
                        _ => {}
                    }
                }
                Ok(md)
            }
            Some(_) => Err(self.bad("peerMetadata")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> DocumentId {
        DocumentId::random()
    }

    #[test]
    fn every_sendable_message_round_trips() {
        let p = |s: &str| PeerId(s.into());
        let md = PeerMetadata {
            storage_id: Some(StorageId("abc".into())),
            is_ephemeral: false,
        };
        let msgs = vec![
            Message::Join {
                sender_id: p("a"),
                metadata: md.clone(),
                supported_protocol_versions: vec!["1".into()],
            },
            Message::Peer {
                sender_id: p("s"),
                target_id: p("a"),
                metadata: md.clone(),
                selected_protocol_version: "1".into(),
                heartbeat: false,
            },
            Message::Peer {
                sender_id: p("s"),
                target_id: p("a"),
                metadata: md,
                selected_protocol_version: "1".into(),
                heartbeat: true,
            },
            Message::Heartbeat,
            Message::Error {
                sender_id: Some(p("s")),
                target_id: None,
                message: "nope".into(),
            },
            Message::Request {
                sender_id: p("a"),
                target_id: p("s"),
                document_id: doc(),
                data: vec![1, 2],
            },
            Message::Sync {
                sender_id: p("a"),
                target_id: p("s"),
                document_id: doc(),
                data: vec![3],
            },
            Message::DocUnavailable {
                sender_id: p("s"),
                target_id: p("a"),
                document_id: doc(),
            },
            Message::Ephemeral {
                sender_id: p("a"),
                target_id: p("s"),
                document_id: doc(),
                session_id: "x".into(),
                count: 7,
                data: vec![9],
            },
        ];
        for m in msgs {
            assert_eq!(Message::decode(&m.encode()).unwrap(), m);
        }
    }

    fn cbor(v: Value) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::into_writer(&v, &mut out).unwrap();
        out
    }

    fn map(pairs: &[(&str, Value)]) -> Value {
        Value::Map(
            pairs
                .iter()
                .map(|(k, v)| (Value::Text((*k).into()), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn rejects_malformed_frames_with_a_reason() {
        assert_eq!(
            Message::decode(&[0xff, 0x00, 0x13]),
            Err(DecodeError::NotCbor)
        );
        assert_eq!(Message::decode(&[]), Err(DecodeError::NotCbor));
        assert_eq!(
            Message::decode(&cbor(Value::Array(vec![]))),
            Err(DecodeError::NotAMap)
        );
        assert_eq!(Message::decode(&cbor(map(&[]))), Err(DecodeError::NoType));
        assert_eq!(
            Message::decode(&cbor(map(&[(
                "type",
                Value::Text("launch-missiles".into())
            )]))),
            Err(DecodeError::UnknownType("launch-missiles".into()))
        );
        let bad_doc = map(&[
            ("type", Value::Text("sync".into())),
            ("senderId", Value::Text("a".into())),
            ("targetId", Value::Text("b".into())),
            ("documentId", Value::Text("not-a-doc-id".into())),
            ("data", Value::Bytes(vec![1])),
        ]);
        assert_eq!(
            Message::decode(&cbor(bad_doc)),
            Err(DecodeError::BadDocumentId { ty: "sync" })
        );
        let no_data = map(&[
            ("type", Value::Text("request".into())),
            ("senderId", Value::Text("a".into())),
            ("targetId", Value::Text("b".into())),
            ("documentId", Value::Text(doc().to_string())),
        ]);
        assert_eq!(
            Message::decode(&cbor(no_data)),
            Err(DecodeError::BadField {
                ty: "request",
                field: "data"
            })
        );
    }

    #[test]
    fn heartbeats_are_tiny_and_recognised_without_the_engine() {
        let beat = Message::Heartbeat.encode();
        assert!(beat.len() < 32, "{} bytes", beat.len());
        assert!(Message::is_heartbeat(&beat));
        let sync = Message::Sync {
            sender_id: PeerId("a".into()),
            target_id: PeerId("b".into()),
            document_id: doc(),
            data: vec![],
        };
        assert!(!Message::is_heartbeat(&sync.encode()));
        assert!(!Message::is_heartbeat(&[0xff]));
        // A stock peer's `peer` (no advert) means "do not send heartbeats".
        let stock_peer = map(&[
            ("type", Value::Text("peer".into())),
            ("senderId", Value::Text("s".into())),
            ("targetId", Value::Text("a".into())),
            ("selectedProtocolVersion", Value::Text("1".into())),
        ]);
        match Message::decode(&cbor(stock_peer)).unwrap() {
            Message::Peer { heartbeat, .. } => assert!(!heartbeat),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn deeply_nested_input_is_refused_not_overflowed() {
        let mut bytes = vec![0x81u8; 100_000]; // array of array of ...
        bytes.push(0x00);
        assert_eq!(Message::decode(&bytes), Err(DecodeError::NotCbor));
    }

    #[test]
    fn accepts_tagged_byte_strings_and_missing_versions() {
        let m = map(&[
            ("type", Value::Text("sync".into())),
            ("senderId", Value::Text("a".into())),
            ("targetId", Value::Text("b".into())),
            ("documentId", Value::Text(doc().to_string())),
            ("data", Value::Tag(64, Box::new(Value::Bytes(vec![5, 6])))),
        ]);
        match Message::decode(&cbor(m)).unwrap() {
            Message::Sync { data, .. } => assert_eq!(data, vec![5, 6]),
            other => panic!("{other:?}"),
        }
        let join = map(&[
            ("type", Value::Text("join".into())),
            ("senderId", Value::Text("a".into())),
        ]);
        match Message::decode(&cbor(join)).unwrap() {
            Message::Join {
                supported_protocol_versions,
                ..
            } => {
                assert_eq!(supported_protocol_versions, vec!["1".to_string()])
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn debug_never_shows_payload_bytes() {
        let m = Message::Sync {
            sender_id: PeerId("a".into()),
            target_id: PeerId("b".into()),
            document_id: doc(),
            data: b"Jordan lives at 12 Example Road".to_vec(),
        };
        let s = format!("{m:?}");
        assert!(!s.contains("Example") && !s.contains("74,"), "{s}");
    }
}
