//! Helpers shared by the engine's test binaries.
#![allow(dead_code)] // each test binary uses a different part

use fieldbook_sync::{DocumentId, Message, PeerId};

/// What automerge-repo sends for a document it does not have: a `request` carrying the
/// sync message of an empty document, from `from` to the peer named "server".
pub fn request(from: &str, doc: DocumentId) -> Message {
    let empty = fieldbook_sync::automerge::Automerge::new();
    let data = fieldbook_sync::automerge::sync::SyncDoc::generate_sync_message(
        &empty,
        &mut fieldbook_sync::automerge::sync::State::new(),
    )
    .unwrap()
    .encode();
    Message::Request {
        sender_id: PeerId(from.into()),
        target_id: PeerId("server".into()),
        document_id: doc,
        data,
    }
}

pub mod sim;
