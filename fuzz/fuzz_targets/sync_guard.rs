#![no_main]
//! Any automerge sync message: the guard, then automerge's decoder, then applying it to a
//! real case document and generating the reply (which consults the peer's Bloom filters).

use std::sync::OnceLock;

use fieldbook_sync::automerge::sync::{self, SyncDoc};
use fieldbook_sync::automerge::Automerge;
use fieldbook_sync::guard;
use libfuzzer_sys::fuzz_target;

static BASE: OnceLock<Automerge> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = guard::decode_default(data) else {
        return;
    };
    let mut doc = BASE
        .get_or_init(|| fieldbook_sync_fuzz::case_doc(5, 1))
        .clone();
    let mut state = sync::State::new();
    // Our reply first (as a server that speaks first would), then theirs applied.
    let _ = doc.generate_sync_message(&mut state);
    if doc.receive_sync_message(&mut state, msg).is_ok() {
        let _ = doc.generate_sync_message(&mut state);
    }
});
