//! The automerge-repo WebSocket protocol v1 wire format: one CBOR map per frame.
//!
//! **Stable**: these shapes are what stock `@automerge/automerge-repo-network-websocket`
//! peers send and expect (field names camelCase, `data` a CBOR byte string). Changing them
//! breaks interop; add new message types instead.

use std::borrow::Cow;

use ciborium::value::Value;
use minicbor::data::Type;
use minicbor::Decoder;

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
    /// Too long, or holds control characters (which could forge log lines).
    #[error("`{field}` is too long or contains control characters")]
    UnsafeText { field: &'static str },
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
        let kind = match self {
            // Gossip keeps the type it arrived with (we never originate it, but a relay or a
            // test may encode what it decoded).
            Message::Gossip { kind, .. } => kind.as_str(),
            other => other.type_name(),
        };
        put("type", text(kind));
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
            Message::Gossip { sender_id, .. } => put("senderId", text(&sender_id.0)),
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

    /// Decodes one frame straight into a [`Message`]: strings borrow from `bytes` and `data`
    /// is copied once, so memory stays O(frame) with a small constant (no generic value tree).
    /// Unknown keys are skipped with a nesting bound; malformed CBOR anywhere is `NotCbor`.
    pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
        let mut d = Decoder::new(bytes);
        let fields = match d.datatype().map_err(|_| DecodeError::NotCbor)? {
            Type::Map | Type::MapIndef => read_fields(&mut d).map_err(|_| DecodeError::NotCbor)?,
            _ => {
                skip(&mut d, 0).map_err(|_| DecodeError::NotCbor)?;
                return Err(DecodeError::NotAMap);
            }
        };
        let ty = match &fields.ty {
            Some(Val::Text(t)) => t.clone(),
            _ => return Err(DecodeError::NoType),
        };
        if !safe_text(&ty, MAX_ID_LEN) {
            return Err(DecodeError::UnsafeText { field: "type" });
        }
        let f = Fields { ty: "", fields };
        match &*ty {
            "join" => {
                let f = f.named("join");
                Ok(Message::Join {
                    sender_id: f.peer(&f.fields.sender_id, "senderId")?,
                    metadata: f.metadata()?,
                    supported_protocol_versions: match &f.fields.versions {
                        // automerge-repo treats a missing list as "1"
                        None | Some(Val::Null) => vec![PROTOCOL_V1.to_owned()],
                        Some(Val::TextList(Some(vs))) => vs
                            .iter()
                            .map(|v| safe_text(v, MAX_ID_LEN).then(|| v.to_string()))
                            .collect::<Option<Vec<_>>>()
                            .ok_or(f.bad("supportedProtocolVersions"))?,
                        Some(_) => return Err(f.bad("supportedProtocolVersions")),
                    },
                })
            }
            "peer" => {
                let f = f.named("peer");
                Ok(Message::Peer {
                    sender_id: f.peer(&f.fields.sender_id, "senderId")?,
                    target_id: f.peer(&f.fields.target_id, "targetId")?,
                    metadata: f.metadata()?,
                    selected_protocol_version: f
                        .text(&f.fields.selected_version, "selectedProtocolVersion")?,
                    heartbeat: matches!(f.fields.heartbeat, Some(Val::Bool(true))),
                })
            }
            "error" => {
                let f = f.named("error");
                Ok(Message::Error {
                    sender_id: f.peer(&f.fields.sender_id, "senderId").ok(),
                    target_id: f.peer(&f.fields.target_id, "targetId").ok(),
                    // Shown to operators: bounded, and never able to start a new log line.
                    message: match &f.fields.message {
                        Some(Val::Text(t)) => defang(t, MAX_ERROR_LEN),
                        _ => String::new(),
                    },
                })
            }
            "request" | "sync" => {
                let name = if &*ty == "sync" { "sync" } else { "request" };
                let f = f.named(name);
                let (sender_id, target_id, document_id, data) = (
                    f.peer(&f.fields.sender_id, "senderId")?,
                    f.peer(&f.fields.target_id, "targetId")?,
                    f.doc()?,
                    f.bytes()?,
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
                    sender_id: f.peer(&f.fields.sender_id, "senderId")?,
                    target_id: f.peer(&f.fields.target_id, "targetId")?,
                    document_id: f.doc()?,
                })
            }
            "ephemeral" => {
                let f = f.named("ephemeral");
                Ok(Message::Ephemeral {
                    sender_id: f.peer(&f.fields.sender_id, "senderId")?,
                    target_id: f.peer(&f.fields.target_id, "targetId")?,
                    document_id: f.doc()?,
                    session_id: f.text(&f.fields.session_id, "sessionId")?,
                    count: match f.fields.count {
                        Some(Val::Uint(n)) => n,
                        _ => return Err(f.bad("count")),
                    },
                    data: f.bytes()?,
                })
            }
            HEARTBEAT => Ok(Message::Heartbeat),
            "remote-heads-changed" | "remote-subscription-change" => {
                let f = f.named("gossip");
                Ok(Message::Gossip {
                    sender_id: f.peer(&f.fields.sender_id, "senderId")?,
                    kind: ty.into_owned(),
                })
            }
            _ => Err(DecodeError::UnknownType(truncate(&ty, 64))),
        }
    }
}

/// Longest id-like string a peer may send (peer, storage, session and document ids, `type`).
pub const MAX_ID_LEN: usize = 256;
const MAX_ERROR_LEN: usize = 1024;
/// More protocol versions than any peer will ever list.
const MAX_VERSIONS: u64 = 64;

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Characters that let a peer forge or disguise log lines: C0/C1 controls (newline, ESC, DEL),
/// Unicode line separators and bidirectional overrides.
fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Whether a peer-supplied identifier is short and printable.
pub fn safe_text(s: &str, max_len: usize) -> bool {
    s.len() <= max_len && !s.chars().any(is_unsafe_char)
}

fn defang(s: &str, max_len: usize) -> String {
    s.chars()
        .take(max_len)
        .map(|c| if is_unsafe_char(c) { '\u{FFFD}' } else { c })
        .collect()
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

/// A decoded value of a field we know, kept only as far as we need it.
#[derive(Debug)]
enum Val<'a> {
    Text(Cow<'a, str>),
    Bytes(Cow<'a, [u8]>),
    Uint(u64),
    Bool(bool),
    Null,
    /// `peerMetadata` as a map: `Err` names the bad entry.
    Meta(Result<PeerMetadata, &'static str>),
    /// `supportedProtocolVersions` as an array; `None` if an element is not text.
    TextList(Option<Vec<Cow<'a, str>>>),
    /// Anything else (right key, wrong type).
    Other,
}

/// The keys of the automerge-repo envelope; a repeated key keeps its last value.
#[derive(Default)]
struct RawFields<'a> {
    ty: Option<Val<'a>>,
    sender_id: Option<Val<'a>>,
    target_id: Option<Val<'a>>,
    document_id: Option<Val<'a>>,
    session_id: Option<Val<'a>>,
    selected_version: Option<Val<'a>>,
    versions: Option<Val<'a>>,
    metadata: Option<Val<'a>>,
    message: Option<Val<'a>>,
    count: Option<Val<'a>>,
    data: Option<Val<'a>>,
    heartbeat: Option<Val<'a>>,
}

type CborResult<T> = Result<T, minicbor::decode::Error>;

fn bad_cbor(msg: &'static str) -> minicbor::decode::Error {
    minicbor::decode::Error::message(msg)
}

/// Calls `each` once per element of the array or map at the decoder's position (for a map,
/// once per key/value pair; `each` reads both), definite or indefinite length.
fn for_each<'a>(
    d: &mut Decoder<'a>,
    is_map: bool,
    mut each: impl FnMut(&mut Decoder<'a>) -> CborResult<()>,
) -> CborResult<()> {
    let len = if is_map { d.map()? } else { d.array()? };
    match len {
        Some(n) => {
            // Every element consumes at least one byte, so a hostile `n` just runs out of input.
            for _ in 0..n {
                each(d)?;
            }
        }
        None => loop {
            if d.datatype()? == Type::Break {
                d.set_position(d.position() + 1);
                break;
            }
            each(d)?;
        },
    }
    Ok(())
}

/// Skips one value, refusing nesting deeper than [`MAX_CBOR_DEPTH`].
fn skip(d: &mut Decoder<'_>, depth: usize) -> CborResult<()> {
    if depth > MAX_CBOR_DEPTH {
        return Err(bad_cbor("nested too deeply"));
    }
    match d.datatype()? {
        Type::Array | Type::ArrayIndef => for_each(d, false, |d| skip(d, depth + 1)),
        Type::Map | Type::MapIndef => for_each(d, true, |d| {
            skip(d, depth + 1)?;
            skip(d, depth + 1)
        }),
        Type::Tag => {
            d.tag()?;
            skip(d, depth + 1)
        }
        Type::Break => Err(bad_cbor("unexpected break")),
        // Scalars and (possibly chunked) strings: no nesting.
        _ => d.skip(),
    }
}

fn read_text<'a>(d: &mut Decoder<'a>) -> CborResult<Cow<'a, str>> {
    if d.datatype()? == Type::StringIndef {
        let mut s = String::new();
        for part in d.str_iter()? {
            s.push_str(part?);
        }
        Ok(Cow::Owned(s))
    } else {
        d.str().map(Cow::Borrowed)
    }
}

fn read_bytes<'a>(d: &mut Decoder<'a>) -> CborResult<Cow<'a, [u8]>> {
    if d.datatype()? == Type::BytesIndef {
        let mut b = Vec::new();
        for part in d.bytes_iter()? {
            b.extend_from_slice(part?);
        }
        Ok(Cow::Owned(b))
    } else {
        d.bytes().map(Cow::Borrowed)
    }
}

/// A scalar value; containers (other than a uint8-array tag) become [`Val::Other`].
fn read_val<'a>(d: &mut Decoder<'a>) -> CborResult<Val<'a>> {
    Ok(match d.datatype()? {
        Type::String | Type::StringIndef => Val::Text(read_text(d)?),
        Type::Bytes | Type::BytesIndef => Val::Bytes(read_bytes(d)?),
        Type::U8 | Type::U16 | Type::U32 | Type::U64 => Val::Uint(d.u64()?),
        Type::Bool => Val::Bool(d.bool()?),
        // cbor-x writes JavaScript `undefined` (e.g. a peer without storage's `storageId`).
        Type::Null | Type::Undefined => {
            d.skip()?;
            Val::Null
        }
        Type::Tag => {
            let start = d.position();
            // Some encoders tag typed arrays (RFC 8746 tag 64 = uint8 array).
            if u64::from(d.tag()?) == 64 && matches!(d.datatype()?, Type::Bytes | Type::BytesIndef)
            {
                Val::Bytes(read_bytes(d)?)
            } else {
                d.set_position(start);
                skip(d, 1)?;
                Val::Other
            }
        }
        _ => {
            skip(d, 1)?;
            Val::Other
        }
    })
}

fn read_metadata(d: &mut Decoder<'_>) -> CborResult<Val<'static>> {
    if !matches!(d.datatype()?, Type::Map | Type::MapIndef) {
        return Ok(match read_val(d)? {
            Val::Null => Val::Null,
            _ => Val::Other,
        });
    }
    let mut md = PeerMetadata::default();
    let mut bad = None;
    for_each(d, true, |d| {
        let key = match d.datatype()? {
            Type::String | Type::StringIndef => Some(read_text(d)?),
            _ => {
                skip(d, 2)?;
                None
            }
        };
        match key.as_deref() {
            Some("storageId") => match read_val(d)? {
                Val::Text(s) if !s.is_empty() && safe_text(&s, MAX_ID_LEN) => {
                    md.storage_id = Some(StorageId(s.into_owned()))
                }
                Val::Null => {}
                _ => bad = Some("peerMetadata.storageId"),
            },
            Some("isEphemeral") => {
                if let Val::Bool(b) = read_val(d)? {
                    md.is_ephemeral = b
                }
            }
            _ => skip(d, 2)?,
        }
        Ok(())
    })?;
    Ok(Val::Meta(bad.map_or(Ok(md), Err)))
}

fn read_versions<'a>(d: &mut Decoder<'a>) -> CborResult<Val<'a>> {
    if !matches!(d.datatype()?, Type::Array | Type::ArrayIndef) {
        return read_val(d);
    }
    let mut out = Some(Vec::new());
    let mut n = 0u64;
    for_each(d, false, |d| {
        n += 1;
        match read_val(d)? {
            Val::Text(t) if n <= MAX_VERSIONS => {
                if let Some(v) = out.as_mut() {
                    v.push(t)
                }
            }
            _ => out = None,
        }
        Ok(())
    })?;
    Ok(Val::TextList(out))
}

fn read_fields<'a>(d: &mut Decoder<'a>) -> CborResult<RawFields<'a>> {
    let mut f = RawFields::default();
    for_each(d, true, |d| {
        let key = match d.datatype()? {
            Type::String | Type::StringIndef => Some(read_text(d)?),
            _ => {
                skip(d, 1)?;
                None
            }
        };
        let Some(key) = key else {
            return skip(d, 1);
        };
        let slot = match &*key {
            "type" => &mut f.ty,
            "senderId" => &mut f.sender_id,
            "targetId" => &mut f.target_id,
            "documentId" => &mut f.document_id,
            "sessionId" => &mut f.session_id,
            "selectedProtocolVersion" => &mut f.selected_version,
            "message" => &mut f.message,
            "count" => &mut f.count,
            "data" => &mut f.data,
            HEARTBEAT_ADVERT => &mut f.heartbeat,
            "peerMetadata" => {
                f.metadata = Some(read_metadata(d)?);
                return Ok(());
            }
            "supportedProtocolVersions" => {
                f.versions = Some(read_versions(d)?);
                return Ok(());
            }
            _ => return skip(d, 1),
        };
        *slot = Some(read_val(d)?);
        Ok(())
    })?;
    Ok(f)
}

struct Fields<'a> {
    ty: &'static str,
    fields: RawFields<'a>,
}

impl<'a> Fields<'a> {
    fn named(self, ty: &'static str) -> Self {
        Fields { ty, ..self }
    }
    fn bad(&self, field: &'static str) -> DecodeError {
        DecodeError::BadField { ty: self.ty, field }
    }
    /// A peer-supplied id: present, text, at most [`MAX_ID_LEN`] bytes, printable.
    fn text(&self, v: &Option<Val<'a>>, field: &'static str) -> Result<String, DecodeError> {
        match v {
            Some(Val::Text(t)) if safe_text(t, MAX_ID_LEN) => Ok(t.to_string()),
            Some(Val::Text(_)) => Err(DecodeError::UnsafeText { field }),
            _ => Err(self.bad(field)),
        }
    }
    fn peer(&self, v: &Option<Val<'a>>, field: &'static str) -> Result<PeerId, DecodeError> {
        let t = self.text(v, field)?;
        if t.is_empty() {
            return Err(self.bad(field));
        }
        Ok(PeerId(t))
    }
    fn doc(&self) -> Result<DocumentId, DecodeError> {
        self.text(&self.fields.document_id, "documentId")?
            .parse()
            .map_err(|_| DecodeError::BadDocumentId { ty: self.ty })
    }
    fn bytes(&self) -> Result<Vec<u8>, DecodeError> {
        match &self.fields.data {
            Some(Val::Bytes(b)) => Ok(b.to_vec()),
            _ => Err(self.bad("data")),
        }
    }
    fn metadata(&self) -> Result<PeerMetadata, DecodeError> {
        match &self.fields.metadata {
            None | Some(Val::Null) => Ok(PeerMetadata::default()),
            Some(Val::Meta(Ok(md))) => Ok(md.clone()),
            Some(Val::Meta(Err(field))) => Err(self.bad(field)),
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
    fn gossip_encodes_back_to_what_was_received() {
        let g = Message::Gossip {
            sender_id: PeerId("peer-1".into()),
            kind: "remote-heads-changed".into(),
        };
        assert_eq!(Message::decode(&g.encode()).unwrap(), g);
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
    fn a_stock_js_join_without_storage_decodes() {
        // What automerge-repo 2.5.6 (cbor-x) sends from a repo with no storage adapter:
        // {type, senderId, supportedProtocolVersions, peerMetadata: {storageId: undefined, isEphemeral: true}}
        let mut f = vec![0xa4];
        for (k, v) in [("type", "join"), ("senderId", "phone")] {
            f.extend(cbor(Value::Text(k.into())));
            f.extend(cbor(Value::Text(v.into())));
        }
        f.extend(cbor(Value::Text("supportedProtocolVersions".into())));
        f.extend(cbor(Value::Array(vec![Value::Text("1".into())])));
        f.extend(cbor(Value::Text("peerMetadata".into())));
        f.push(0xa2);
        f.extend(cbor(Value::Text("storageId".into())));
        f.push(0xf7); // undefined
        f.extend(cbor(Value::Text("isEphemeral".into())));
        f.push(0xf5);
        match Message::decode(&f).unwrap() {
            Message::Join { metadata, .. } => {
                assert_eq!(metadata.storage_id, None);
                assert!(metadata.is_ephemeral);
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
