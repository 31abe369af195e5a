//! Who is on a connection and what they may do.

use crate::DocumentId;

/// Who is on the other end of a connection, as established by the transport (e.g. an
/// authenticated session at the WebSocket upgrade). Never taken from what a peer claims.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identity(pub String);

impl Identity {
    pub fn anonymous() -> Self {
        Identity("anonymous".into())
    }
}

/// Per-document access decisions. A document a peer may not read is answered exactly as
/// an absent one (`doc-unavailable`), so its existence does not leak.
pub trait AccessPolicy {
    fn may_read(&self, who: &Identity, doc: &DocumentId) -> bool;
    fn may_write(&self, who: &Identity, doc: &DocumentId) -> bool;

    /// Whether [`AccessPolicy::check_changes`] needs to see changes (decoding them costs).
    fn inspects_changes(&self) -> bool {
        false
    }

    /// Inspect the changes a writer's message added; `Err` refuses the whole message: the
    /// connection is closed, the document is reloaded from storage without them, and the
    /// peer keeps its changes. The server uses it to refuse changes that name someone else
    /// as their author, or touch what only some roles may write. `after` is the document
    /// with the changes applied (in memory only), to see where each operation lands.
    fn check_changes(
        &self,
        _who: &Identity,
        _doc: &DocumentId,
        _changes: &[automerge::Change],
        _after: &automerge::Automerge,
    ) -> Result<(), &'static str> {
        Ok(())
    }
}

/// Everyone may read and write everything (single-user and test setups).
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl AccessPolicy for AllowAll {
    fn may_read(&self, _: &Identity, _: &DocumentId) -> bool {
        true
    }
    fn may_write(&self, _: &Identity, _: &DocumentId) -> bool {
        true
    }
}
