//! When a document's chunks are folded into a snapshot: after many chunks, and after many
//! bytes of history in change form (one sync message can carry a whole case's history in a
//! single chunk, which loads several times slower than the same history in a snapshot).

use fieldbook_sync::automerge::{transaction::Transactable, ObjType, ReadDoc, ROOT};
use fieldbook_sync::{
    AllowAll, DocumentId, Engine, EngineConfig, Output, PeerId, Role, StorageId, StorageOp,
};

fn device() -> Engine {
    Engine::new(
        EngineConfig::new(
            Role::Client,
            PeerId("phone".into()),
            Some(StorageId("phone".into())),
        ),
        AllowAll,
    )
}

/// `words` words of invented text.
fn text(words: usize, seed: usize) -> String {
    const W: [&str; 8] = [
        "met", "park", "school", "bus", "late", "safe", "phone", "plan",
    ];
    (0..words)
        .map(|i| W[(i * 7 + seed * 3) % W.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

/// A case with an empty list of notes; the create's output.
fn new_case(e: &mut Engine) -> (DocumentId, Output) {
    e.create(
        |tx| {
            tx.put_object(ROOT, "notes", ObjType::List)?;
            Ok(())
        },
        0,
    )
    .unwrap()
}

/// One change carrying a long history: 400 notes of 40 words, far more than 32 KiB in
/// change form (the server's case: one sync message with a whole case).
fn write_long_history(e: &mut Engine, doc: DocumentId) -> Output {
    e.change(
        doc,
        |tx| {
            let notes = tx.get(ROOT, "notes")?.expect("notes").1;
            for n in 0..400 {
                let note = tx.insert_object(&notes, n, ObjType::Text)?;
                tx.splice_text(&note, 0, 0, &text(40, n))?;
            }
            Ok(())
        },
        1,
    )
    .unwrap()
}

fn compactions(ops: &[StorageOp]) -> usize {
    ops.iter()
        .filter(|op| matches!(op, StorageOp::Compact { .. }))
        .count()
}

#[test]
fn a_large_history_in_one_chunk_is_folded_into_a_snapshot_and_small_edits_are_not() {
    let mut e = device();
    let (doc, out) = new_case(&mut e);
    assert_eq!(compactions(&out.storage), 0, "a new, small document");
    let out = write_long_history(&mut e, doc);
    let chunk = out
        .storage
        .iter()
        .find_map(|op| match op {
            StorageOp::PutChunk { data, .. } => Some(data.len()),
            _ => None,
        })
        .expect("the change is written");
    assert!(chunk > 32 * 1024, "the history is large: {chunk} bytes");
    assert_eq!(
        compactions(&out.storage),
        1,
        "folded at once, not after 32 chunks"
    );
    // A few small edits after it add far fewer bytes than the snapshot holds: no re-save.
    for k in 0..5u64 {
        let out = e
            .change(
                doc,
                |tx| {
                    tx.put(ROOT, "reviewed", k as i64)?;
                    Ok(())
                },
                2 + k,
            )
            .unwrap();
        assert_eq!(compactions(&out.storage), 0, "edit {k}");
    }
}

#[test]
fn control_with_the_byte_rule_off_only_the_chunk_count_folds() {
    let mut cfg = EngineConfig::new(
        Role::Client,
        PeerId("phone".into()),
        Some(StorageId("phone".into())),
    );
    cfg.compact_after_bytes = usize::MAX;
    let mut e = Engine::new(cfg, AllowAll);
    let (doc, _) = new_case(&mut e);
    let out = write_long_history(&mut e, doc);
    assert_eq!(compactions(&out.storage), 0);
}
