#![no_main]
//! Any frame, twice, from a joined connection to a server engine holding a real document.

use std::sync::OnceLock;

use fieldbook_sync::automerge::Automerge;
use fieldbook_sync::ConnId;
use fieldbook_sync_fuzz::{case_doc, run, server_with};
use libfuzzer_sys::fuzz_target;

static BASE: OnceLock<Automerge> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let mut doc = BASE.get_or_init(|| case_doc(5, 1)).clone();
    let mut server = server_with(&mut doc);
    for _ in 0..2 {
        server.step(|e| e.receive(ConnId(1), data, 0));
        run(&mut server);
    }
});
