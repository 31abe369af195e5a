#![no_main]
//! Any frame: decoding never panics, and whatever decodes re-encodes to the same message.

use fieldbook_sync::Message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Message::is_heartbeat(data);
    if let Ok(m) = Message::decode(data) {
        // Gossip is received, never sent.
        if !matches!(m, Message::Gossip { .. }) {
            assert_eq!(Message::decode(&m.encode()).as_ref(), Ok(&m));
        }
    }
});
