//! Identifiers on the wire: document ids (bs58check of 16 random bytes, as in
//! automerge-repo's `automerge:` URLs), peer ids and storage ids.

use std::fmt;
use std::str::FromStr;

/// A document id: 16 random bytes, shown as bs58check (what follows `automerge:` in a URL).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocumentId([u8; 16]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidDocumentId {
    #[error("document id is not valid bs58check")]
    NotBs58Check,
    #[error("document id must decode to 16 bytes, got {0}")]
    WrongLength(usize),
    #[error("automerge URL must start with `automerge:`")]
    NotAnAutomergeUrl,
}

impl DocumentId {
    pub const URL_PREFIX: &'static str = "automerge:";

    /// A fresh random id.
    pub fn random() -> Self {
        DocumentId(rand::random())
    }

    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        DocumentId(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// `automerge:<id>`, the form automerge-repo users share.
    pub fn to_url(&self) -> String {
        format!("{}{}", Self::URL_PREFIX, self)
    }

    /// Parses `automerge:<id>` (a `#heads` suffix is not accepted: we only deal in whole docs).
    pub fn from_url(url: &str) -> Result<Self, InvalidDocumentId> {
        url.strip_prefix(Self::URL_PREFIX)
            .ok_or(InvalidDocumentId::NotAnAutomergeUrl)?
            .parse()
    }
}

impl FromStr for DocumentId {
    type Err = InvalidDocumentId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = bs58::decode(s)
            .with_check(None)
            .into_vec()
            .map_err(|_| InvalidDocumentId::NotBs58Check)?;
        let arr: [u8; 16] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| InvalidDocumentId::WrongLength(bytes.len()))?;
        Ok(DocumentId(arr))
    }
}

impl fmt::Display for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&bs58::encode(self.0).with_check().into_string())
    }
}

impl fmt::Debug for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocumentId({self})")
    }
}

/// A peer's self-chosen id for one connection session. Only a label: identity for access
/// decisions comes from the transport (see [`crate::Identity`]), never from this.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub String);

impl PeerId {
    pub fn random(prefix: &str) -> Self {
        let n: u64 = rand::random();
        PeerId(format!("{prefix}-{n:016x}"))
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PeerId({})", self.0)
    }
}

/// Names a peer's durable storage; sync state is remembered per (document, storage id) so a
/// device that reconnects resumes where it left off.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StorageId(pub String);

impl StorageId {
    pub fn random() -> Self {
        let b: [u8; 16] = rand::random();
        StorageId(hex::encode(b))
    }
}

impl fmt::Display for StorageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for StorageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StorageId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_text_and_url() {
        let id = DocumentId::random();
        assert_eq!(id.to_string().parse::<DocumentId>().unwrap(), id);
        assert_eq!(DocumentId::from_url(&id.to_url()).unwrap(), id);
    }

    #[test]
    fn rejects_bad_ids() {
        assert_eq!(
            "".parse::<DocumentId>().unwrap_err(),
            InvalidDocumentId::NotBs58Check
        );
        assert_eq!(
            "hello world".parse::<DocumentId>().unwrap_err(),
            InvalidDocumentId::NotBs58Check
        );
        // valid bs58check, wrong length
        let short = bs58::encode([1u8, 2, 3]).with_check().into_string();
        assert_eq!(
            short.parse::<DocumentId>().unwrap_err(),
            InvalidDocumentId::WrongLength(3)
        );
        // a flipped character breaks the checksum
        let mut s = DocumentId::random().to_string().into_bytes();
        s[3] = if s[3] == b'2' { b'3' } else { b'2' };
        assert!(String::from_utf8(s).unwrap().parse::<DocumentId>().is_err());
        assert_eq!(
            DocumentId::from_url("http://x").unwrap_err(),
            InvalidDocumentId::NotAnAutomergeUrl
        );
    }

    #[test]
    fn parses_an_id_made_by_automerge_repo_js() {
        // Produced by @automerge/automerge-repo 2.5.6 `repo.create().url`.
        let id: DocumentId = "2eEajaMdy958fRJ8WeyXUHj1P1WU".parse().unwrap();
        assert_eq!(id.to_string(), "2eEajaMdy958fRJ8WeyXUHj1P1WU");
    }
}
