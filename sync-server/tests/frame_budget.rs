//! The frame limit against the largest real frame: a heavily used case, typed one keystroke
//! per change, synced from scratch to a fresh peer. Measured numbers are in the README's
//! `max_frame_bytes` row.

use fieldbook_native_client::synthetic;
use fieldbook_sync::automerge::sync::{self, SyncDoc};
use fieldbook_sync::automerge::{transaction::Transactable, AutoCommit, ObjType, ReadDoc, ROOT};
use fieldbook_sync_server::config::Config;

#[test]
fn a_heavily_typed_case_fits_the_frame_limit() {
    let max = Config::default().max_frame_bytes;
    // 100 notes of 600 characters, one change per keystroke: 60,000 changes.
    let mut doc = AutoCommit::new();
    let notes = doc.put_object(ROOT, "notes", ObjType::List).unwrap();
    for n in 0..100usize {
        let text_obj = doc.insert_object(&notes, n, ObjType::Text).unwrap();
        doc.commit();
        let text = synthetic::words(n as u64, 150);
        for (i, c) in text.chars().take(600).enumerate() {
            doc.splice_text(&text_obj, i, 0, c.encode_utf8(&mut [0; 4]))
                .unwrap();
            doc.commit();
        }
    }
    // Sent as individual changes (a peer without automerge's whole-document messages).
    let as_changes: usize = doc
        .get_changes(&[])
        .iter()
        .map(|c| c.raw_bytes().len())
        .sum();
    // Synced from scratch to a fresh automerge peer: the largest message either way.
    let mut fresh = AutoCommit::new();
    let (mut ours, mut theirs) = (sync::State::new(), sync::State::new());
    let mut largest = 0;
    for _ in 0..10 {
        if let Some(m) = doc.sync().generate_sync_message(&mut ours) {
            let bytes = m.encode();
            largest = largest.max(bytes.len());
            let m = sync::Message::decode(&bytes).unwrap();
            fresh.sync().receive_sync_message(&mut theirs, m).unwrap();
        }
        if let Some(m) = fresh.sync().generate_sync_message(&mut theirs) {
            let bytes = m.encode();
            largest = largest.max(bytes.len());
            let m = sync::Message::decode(&bytes).unwrap();
            doc.sync().receive_sync_message(&mut ours, m).unwrap();
        }
    }
    assert_eq!(
        fresh.length(&notes),
        100,
        "the fresh peer has the whole case"
    );
    eprintln!(
        "60,000 keystroke changes: largest first-sync message {} KB; as individual changes {} KB; limit {} KB",
        largest / 1024,
        as_changes / 1024,
        max / 1024
    );
    assert!(
        largest * 16 < max,
        "{largest} bytes against a limit of {max}"
    );
    assert!(
        as_changes < max,
        "{as_changes} bytes against a limit of {max}"
    );
}
