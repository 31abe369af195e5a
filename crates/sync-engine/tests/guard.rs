//! Hostile automerge sync messages and frames are refused with a typed error, quickly and
//! without large allocations; real traffic always passes (docs/AUTOMERGE-BUGS.md).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write;
use std::time::{Duration, Instant};

use fieldbook_sync::automerge::sync::{self, SyncDoc};
use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::{AutoCommit, Automerge, ObjType, ReadDoc, ROOT};
use fieldbook_sync::guard::{self, GuardError, GuardLimits};
use fieldbook_sync::{
    AllowAll, ConnId, DecodeError, DocumentId, Engine, EngineConfig, Event, Identity, MemoryStore,
    Message, Output, PeerId, PeerMetadata, Role,
};
use proptest::prelude::*;

// ---- a per-thread allocation meter (tests run on parallel threads) ----

struct Meter;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Meter {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let _ = LIVE.try_with(|live| {
            live.set(live.get() + l.size());
            let _ = PEAK.try_with(|p| p.set(p.get().max(live.get())));
        });
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(l.size())));
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static METER: Meter = Meter;

/// Peak bytes allocated (and not yet freed) on this thread while `f` runs.
fn peak_alloc<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let out = f();
    (out, PEAK.with(Cell::get) - base)
}

// ---- building sync messages by hand (automerge 0.12 layout) ----

fn leb(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// A v1 sync message with no heads or need, the given have entries (empty lastSync, raw
/// Bloom bytes) and change chunks.
fn message(blooms: &[Vec<u8>], changes: &[Vec<u8>]) -> Vec<u8> {
    let mut m = vec![0x42, 0, 0];
    leb(&mut m, blooms.len() as u64);
    for b in blooms {
        m.push(0); // lastSync
        leb(&mut m, b.len() as u64);
        m.extend(b);
    }
    leb(&mut m, changes.len() as u64);
    for c in changes {
        leb(&mut m, c.len() as u64);
        m.extend(c);
    }
    m
}

fn bloom(entries: u64, bits_per_entry: u64, probes: u64, bit_bytes: usize) -> Vec<u8> {
    let mut b = Vec::new();
    leb(&mut b, entries);
    leb(&mut b, bits_per_entry);
    leb(&mut b, probes);
    b.resize(b.len() + bit_bytes, 0xff);
    b
}

fn chunk(kind: u8, checksum: [u8; 4], body: &[u8]) -> Vec<u8> {
    let mut c = vec![0x85, 0x6f, 0x4a, 0x83];
    c.extend(checksum);
    c.push(kind);
    leb(&mut c, body.len() as u64);
    c.extend(body);
    c
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn deflate_zeros(n: usize) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    let block = vec![0u8; 1 << 20];
    for _ in 0..n / block.len() {
        e.write_all(&block).unwrap();
    }
    e.finish().unwrap()
}

/// Splits a real uncompressed change chunk into (checksum, body).
fn change_parts(raw: &[u8]) -> ([u8; 4], Vec<u8>) {
    assert_eq!(&raw[..4], &[0x85, 0x6f, 0x4a, 0x83]);
    assert_eq!(raw[8], 1, "a change chunk");
    let mut i = 9;
    let mut len = 0u64;
    let mut shift = 0;
    loop {
        let b = raw[i];
        i += 1;
        len |= u64::from(b & 0x7f) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            break;
        }
    }
    assert_eq!(raw.len() - i, len as usize);
    (raw[4..8].try_into().unwrap(), raw[i..].to_vec())
}

/// A document whose every change has been exchanged, and a peer state that has our heads:
/// what automerge consults when a Bloom filter arrives.
fn doc_with_changes(n: usize) -> AutoCommit {
    let mut d = AutoCommit::new();
    for i in 0..n {
        d.put(ROOT, format!("k{i}"), i as i64).unwrap();
        d.commit();
    }
    d
}

fn fast<T>(f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    // Generous for debug builds on a shared 2-core machine; an unguarded bomb takes seconds.
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    out
}

fn refused(data: &[u8]) -> GuardError {
    let (res, peak) = peak_alloc(|| fast(|| guard::decode_default(data)));
    assert!(peak < (1 << 20), "guard allocated {peak} bytes");
    res.expect_err("guard must refuse")
}

// ---- Bloom filters ----

#[test]
fn a_zero_bit_bloom_filter_is_refused_and_would_crash_automerge() {
    let data = message(&[bloom(1, 0, 7, 0)], &[]);
    assert_eq!(
        refused(&data),
        GuardError::BadBloom("bits per entry out of range")
    );

    // Control: automerge alone accepts it and divides by zero once it checks a change
    // against the filter (the engine's reply to every sync message does exactly that).
    let msg = sync::Message::decode(&data).expect("automerge 0.12 accepts it");
    let mut doc = doc_with_changes(3);
    let crashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut state = sync::State::new();
        doc.sync().receive_sync_message(&mut state, msg).unwrap();
        doc.sync().generate_sync_message(&mut state)
    }));
    assert!(crashed.is_err(), "automerge 0.12 divides by zero");
}

#[test]
fn a_bloom_filter_with_huge_probe_counts_is_refused() {
    // 2^32 - 1 probes: automerge reserves a Vec of that many u32s (16 GiB) per lookup.
    let data = message(&[bloom(1, 10, u64::from(u32::MAX), 2)], &[]);
    assert_eq!(
        refused(&data),
        GuardError::BadBloom("probe count out of range")
    );
    let data = message(&[bloom(1, 10, 0, 2)], &[]);
    assert_eq!(
        refused(&data),
        GuardError::BadBloom("probe count out of range")
    );
    // The real parameters pass.
    guard::validate(
        &message(&[bloom(1, 10, 7, 2)], &[]),
        &GuardLimits::default(),
    )
    .unwrap();
}

#[test]
fn oversize_or_inconsistent_bloom_filters_are_refused() {
    let bad_len = GuardError::BadBloom("bit array length does not match its entries");
    // 1000 entries at 10 bits need 1250 bytes.
    assert_eq!(refused(&message(&[bloom(1000, 10, 7, 5)], &[])), bad_len);
    assert_eq!(refused(&message(&[bloom(1000, 10, 7, 1251)], &[])), bad_len);
    assert_eq!(
        refused(&message(&[bloom(1, 33, 7, 5)], &[])),
        GuardError::BadBloom("bits per entry out of range")
    );
    assert_eq!(
        refused(&message(&[bloom(0, 10, 7, 0)], &[])),
        GuardError::BadBloom("parameters without entries")
    );
    assert!(matches!(
        refused(&message(&[bloom(u64::from(u32::MAX), 10, 7, 0)], &[])),
        GuardError::TooMany {
            what: "Bloom filter entries",
            ..
        }
    ));
    // More have entries than the message could hold, or than we allow.
    let mut m = vec![0x42, 0, 0];
    leb(&mut m, 1 << 40);
    assert!(matches!(refused(&m), GuardError::TooMany { .. }));
    guard::validate(
        &message(&[bloom(1000, 10, 7, 1250)], &[]),
        &GuardLimits::default(),
    )
    .unwrap();
}

// ---- decompression ----

/// A real change carrying `text_len` bytes of text, re-encoded as a compressed chunk.
fn compressed_real_change(text_len: usize) -> (Vec<u8>, String) {
    let text = "Visited at home; Sam was calm. ".repeat(text_len / 31 + 1);
    let mut d = AutoCommit::new();
    d.put(ROOT, "note", text.as_str()).unwrap();
    d.commit();
    let raw = d.get_last_local_change().unwrap().raw_bytes().to_vec();
    let (checksum, body) = change_parts(&raw);
    (chunk(2, checksum, &deflate(&body)), text)
}

#[test]
fn a_real_compressed_change_passes_and_applies_within_the_limit() {
    let (c, text) = compressed_real_change(200_000);
    let data = message(&[], &[c]);
    let sum = guard::validate(&data, &GuardLimits::default()).unwrap();
    assert_eq!(sum.compressed_streams, 1);
    assert!(sum.inflated_bytes > 200_000, "{sum:?}");
    let msg = guard::decode_default(&data).unwrap();
    let mut doc = Automerge::new();
    doc.receive_sync_message(&mut sync::State::new(), msg)
        .unwrap();
    let (v, _) = doc.get(ROOT, "note").unwrap().unwrap();
    assert_eq!(v.into_string().unwrap(), text);
}

#[test]
fn a_compressed_change_past_the_inflate_limit_is_refused() {
    let (c, _) = compressed_real_change(200_000);
    let data = message(&[], &[c]);
    let tight = GuardLimits {
        max_inflated_chunk: 100_000,
        ..GuardLimits::default()
    };
    assert_eq!(
        guard::decode(&data, &tight).unwrap_err(),
        GuardError::InflateLimit { limit: 100_000 }
    );
    // The per-message total counts every chunk: three 60 KB changes under a 150 KB total.
    let (small, _) = compressed_real_change(60_000);
    let data = message(&[], &[small.clone(), small.clone(), small]);
    let total = GuardLimits {
        max_inflated_bytes: 150_000,
        ..GuardLimits::default()
    };
    assert!(matches!(
        guard::decode(&data, &total).unwrap_err(),
        GuardError::InflateLimit { .. }
    ));
}

#[test]
fn a_decompression_bomb_is_refused_fast_without_inflating_it_into_memory() {
    // 96 MiB of zeros deflate to about 100 KB; automerge alone would inflate all of it
    // (the 4 MB variant reached 4.2 GB).
    let bomb = deflate_zeros(96 << 20);
    assert!(bomb.len() < 200_000, "{}", bomb.len());
    let data = message(&[], &[chunk(2, [0; 4], &bomb)]);
    let err = refused(&data);
    assert_eq!(
        err,
        GuardError::InflateLimit {
            limit: GuardLimits::default().max_inflated_chunk
        }
    );
    // The same stream as a deflated column of a document chunk (sync message v2).
    let mut doc = Vec::new();
    doc.extend([0, 0]); // no actors, no heads
    doc.push(1); // one change column
    leb(&mut doc, 0x0f); // a raw value column with the deflate bit
    leb(&mut doc, bomb.len() as u64);
    doc.push(0); // no op columns
    doc.extend(&bomb);
    let data = message(&[], &[chunk(0, [0; 4], &doc)]);
    assert!(matches!(refused(&data), GuardError::InflateLimit { .. }));
    // As a run-length column, the zeros are empty runs: refused at the first one.
    doc[3] = 0x08;
    let data = message(&[], &[chunk(0, [0; 4], &doc)]);
    assert_eq!(refused(&data), GuardError::BadColumn("empty run"));
}

// ---- run-length "op count" bombs ----

fn sleb(o: &mut Vec<u8>, mut v: i64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if (v == 0 && b & 0x40 == 0) || (v == -1 && b & 0x40 != 0) {
            o.push(b);
            return;
        }
        o.push(b | 0x80);
    }
}

/// The body of a change whose columns are single runs claiming `n` operations
/// (`put(ROOT, "k", null)` n times): about 50 bytes whatever `n` is.
fn run_length_change_body(n: i64) -> Vec<u8> {
    let mut cols: Vec<(u64, Vec<u8>)> = Vec::new();
    let run = |value: &[u8]| {
        let mut c = Vec::new();
        sleb(&mut c, n);
        c.extend(value);
        c
    };
    cols.push((0x15, run(&[1, b'k']))); // key string
    let mut insert = Vec::new();
    leb(&mut insert, n as u64); // n falses
    cols.push((0x34, insert));
    cols.push((0x42, run(&[1]))); // action: set
    cols.push((0x56, run(&[0]))); // value: null
    cols.push((0x70, run(&[0]))); // no predecessors
    let mut body = vec![0, 16];
    body.extend([9u8; 16]); // actor
    body.extend([1, 1, 0, 0, 0]); // seq, start op, time, message, other actors
    leb(&mut body, cols.len() as u64);
    for (spec, data) in &cols {
        leb(&mut body, *spec);
        leb(&mut body, data.len() as u64);
    }
    for (_, data) in &cols {
        body.extend(data);
    }
    body
}

fn run_length_change(n: i64) -> Vec<u8> {
    let body = run_length_change_body(n);
    let mut h = vec![1u8];
    leb(&mut h, body.len() as u64);
    use sha2::Digest;
    let hash = sha2::Sha256::new()
        .chain_update(&h)
        .chain_update(&body)
        .finalize();
    chunk(1, hash[..4].try_into().unwrap(), &body)
}

#[test]
fn a_run_length_op_count_bomb_is_refused() {
    // Control: automerge expands a 59-byte change into 20,000 operations (and would try
    // 2^62 just as readily).
    let small = run_length_change(20_000);
    assert!(small.len() < 80, "{}", small.len());
    let mut doc = Automerge::new();
    doc.load_incremental(&small).unwrap();
    assert_eq!(doc.get_changes(&[])[0].len(), 20_000);
    // It passes the guard under the default limit and is refused under a tighter one.
    let data = message(&[], &[small]);
    assert_eq!(
        guard::validate(&data, &GuardLimits::default()).unwrap().ops,
        20_000
    );
    let tight = GuardLimits {
        max_ops: 10_000,
        ..GuardLimits::default()
    };
    assert!(matches!(
        guard::validate(&data, &tight),
        Err(GuardError::TooMany {
            what: "operations",
            ..
        })
    ));

    let huge = 1i64 << 62;
    let err = refused(&message(&[], &[run_length_change(huge)]));
    assert!(
        matches!(
            err,
            GuardError::TooMany {
                what: "operations",
                ..
            }
        ),
        "{err:?}"
    );
    // The same inside a compressed chunk, and spread over many small changes.
    let compressed = chunk(2, [0; 4], &deflate(&run_length_change_body(huge)));
    let err = refused(&message(&[], &[compressed]));
    assert!(
        matches!(
            err,
            GuardError::TooMany {
                what: "operations",
                ..
            }
        ),
        "{err:?}"
    );
    let many = vec![run_length_change(1_000_000); 3];
    let err = refused(&message(&[], &many));
    assert!(
        matches!(
            err,
            GuardError::TooMany {
                what: "operations",
                ..
            }
        ),
        "{err:?}"
    );
    // Literal and null runs count too.
    let mut body = run_length_change_body(1);
    body.truncate(body.len() - 2); // drop the predecessor column's run
    body.extend([0x00, 0xff, 0xff, 0xff, 0xff, 0x0f]); // 2^32 - 1 nulls
    let nulls = chunk(1, [0; 4], &body);
    assert!(matches!(
        refused(&message(&[], &[nulls])),
        GuardError::TooMany { .. } | GuardError::Truncated
    ));
}

// ---- fuzzing finding: a repeated hash in `need` ----

/// A v1 message asking for `need` (no heads, no have entries, no changes).
fn needing(need: &[fieldbook_sync::automerge::ChangeHash]) -> Vec<u8> {
    let mut m = vec![0x42, 0];
    leb(&mut m, need.len() as u64);
    for h in need {
        m.extend(h.0);
    }
    m.extend([0, 0]);
    m
}

#[test]
fn a_repeated_hash_in_need_is_refused_and_would_crash_automerge() {
    // Found by the sync_guard fuzz target (docs/RELIABILITY.md).
    let mut doc = doc_with_changes(5);
    let h = doc.get_changes(&[])[1].hash();
    let data = needing(&[h, h]);
    assert_eq!(refused(&data), GuardError::DuplicateHash { what: "need" });

    // Control: automerge alone accepts the message and panics building its reply.
    let msg = sync::Message::decode(&data).expect("automerge 0.12 accepts it");
    let crashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut state = sync::State::new();
        doc.sync().receive_sync_message(&mut state, msg).unwrap();
        doc.sync().generate_sync_message(&mut state)
    }));
    assert!(crashed.is_err(), "automerge 0.12 panics (MissingOps)");

    // The same hashes once each, in any order, are fine.
    let mut all: Vec<_> = doc.get_changes(&[]).iter().map(|c| c.hash()).collect();
    all.reverse();
    guard::validate(&needing(&all), &GuardLimits::default()).unwrap();
    // Heads and lastSync lists are held to the same rule.
    let mut m = vec![0x42, 2];
    m.extend(h.0);
    m.extend(h.0);
    m.extend([0, 0, 0]);
    assert_eq!(refused(&m), GuardError::DuplicateHash { what: "heads" });
}

// ---- truncated, garbage and oversized messages ----

#[test]
fn truncated_and_garbage_sync_messages_are_refused_with_typed_errors() {
    let mut a = doc_with_changes(5);
    let mut b = AutoCommit::new();
    let (mut sa, mut sb) = (sync::State::new(), sync::State::new());
    let first = a.sync().generate_sync_message(&mut sa).unwrap();
    b.sync().receive_sync_message(&mut sb, first).unwrap();
    let reply = b.sync().generate_sync_message(&mut sb).unwrap();
    a.sync().receive_sync_message(&mut sa, reply).unwrap();
    let full = a.sync().generate_sync_message(&mut sa).unwrap().encode();
    assert!(guard::decode_default(&full).is_ok());
    for cut in 0..full.len() {
        // Every prefix is refused by the guard or (flags only) by nothing at all; never a panic.
        let _ = fast(|| guard::decode_default(&full[..cut]));
    }
    assert_eq!(refused(&[]), GuardError::Truncated);
    assert_eq!(refused(&[0x00, 1, 2]), GuardError::WrongType(0));
    assert_eq!(refused(&[0x42, 0xff, 0xff, 0xff]), GuardError::Truncated);
    assert_eq!(
        refused(&[0x42, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f]),
        GuardError::BadLeb128
    );
    // Chunks that are not chunks, or not allowed here.
    let bad = |c: Vec<u8>| refused(&message(&[], &[c]));
    assert!(matches!(
        bad(vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 0]),
        GuardError::BadChunk {
            reason: "bad magic bytes",
            ..
        }
    ));
    assert!(matches!(
        bad(chunk(3, [0; 4], &[])),
        GuardError::BadChunk { .. }
    ));
    assert!(matches!(
        bad(chunk(9, [0; 4], &[])),
        GuardError::BadChunk { .. }
    ));
    assert_eq!(bad(chunk(2, [0; 4], &[0xff; 40])), GuardError::BadDeflate);
    // A chunk claiming 2^62 bytes.
    let mut c = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 1];
    leb(&mut c, 1 << 62);
    assert!(matches!(bad(c), GuardError::BadChunk { .. }));
    // Counts far beyond the input.
    let mut m = vec![0x42];
    leb(&mut m, 1 << 40);
    assert!(matches!(
        refused(&m),
        GuardError::TooMany { what: "heads", .. }
    ));
    let mut m = vec![0x42, 0, 0, 0];
    leb(&mut m, 1 << 60);
    assert!(matches!(
        refused(&m),
        GuardError::TooMany {
            what: "changes",
            ..
        }
    ));
}

// ---- the engine turns a refusal into a closed connection ----

fn run(server: &mut Engine, store: &MemoryStore, mut out: Output) -> Output {
    let mut all = Output::default();
    loop {
        store.apply_now(std::mem::take(&mut out.storage)).unwrap();
        let doc = out.loads.pop();
        all.merge(out);
        let Some(doc) = doc else { break };
        out = server.loaded(doc, Ok(store.snapshot(&doc)), 0);
    }
    all
}

fn joined_server() -> (Engine, MemoryStore) {
    let mut server = Engine::new(
        EngineConfig::new(Role::Server, PeerId("server".into()), None),
        AllowAll,
    );
    let store = MemoryStore::default();
    for (conn, who) in [(1, "mallory"), (2, "alice")] {
        let out = server.connect(ConnId(conn), Identity(who.into()), 0);
        let _ = run(&mut server, &store, out);
        let join = Message::Join {
            sender_id: PeerId(who.into()),
            metadata: PeerMetadata::default(),
            supported_protocol_versions: vec!["1".into()],
        };
        let out = server.receive(ConnId(conn), &join.encode(), 0);
        let _ = run(&mut server, &store, out);
    }
    (server, store)
}

#[test]
fn the_engine_closes_a_connection_that_sends_a_hostile_sync_message_and_serves_others() {
    let doc = DocumentId::random();
    for (i, data) in [
        message(&[bloom(1, 0, 7, 0)], &[]),
        message(&[bloom(1, 10, u64::from(u32::MAX), 2)], &[]),
        message(&[], &[chunk(2, [0; 4], &deflate_zeros(40 << 20))]),
    ]
    .into_iter()
    .enumerate()
    {
        let (mut server, store) = joined_server();
        let frame = Message::Request {
            sender_id: PeerId("mallory".into()),
            target_id: PeerId("server".into()),
            document_id: doc,
            data,
        }
        .encode();
        let out = fast(|| {
            let out = server.receive(ConnId(1), &frame, 0);
            run(&mut server, &store, out)
        });
        assert!(
            out.events.iter().any(|e| matches!(
                e,
                Event::ProtocolViolation {
                    conn: ConnId(1),
                    ..
                }
            )),
            "case {i}: {:?}",
            out.events
        );
        assert!(out.close.iter().any(|(c, _)| *c == ConnId(1)), "case {i}");
        // Alice, on the same server, still syncs a real document.
        let mut a = doc_with_changes(2);
        let data = a
            .sync()
            .generate_sync_message(&mut sync::State::new())
            .unwrap()
            .encode();
        let frame = Message::Sync {
            sender_id: PeerId("alice".into()),
            target_id: PeerId("server".into()),
            document_id: doc,
            data,
        }
        .encode();
        let out = server.receive(ConnId(2), &frame, 0);
        let out = run(&mut server, &store, out);
        assert!(out.close.is_empty(), "case {i}");
        assert!(
            out.send.iter().any(|(c, m)| *c == ConnId(2)
                && matches!(m, Message::Sync { .. } | Message::Request { .. })),
            "case {i}: {:?}",
            out.send
        );
    }
}

// ---- frames ----

fn cbor_text(out: &mut Vec<u8>, s: &str) {
    cbor_head(out, 3, s.len() as u64);
    out.extend(s.as_bytes());
}

fn cbor_head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend([m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend((n as u16).to_be_bytes())
        }
        0x1_0000..=0xffff_ffff => {
            out.push(m | 26);
            out.extend((n as u32).to_be_bytes())
        }
        _ => {
            out.push(m | 27);
            out.extend(n.to_be_bytes())
        }
    }
}

/// A join frame whose senderId is `sender`.
fn join_from(sender: &str) -> Vec<u8> {
    let mut f = Vec::new();
    cbor_head(&mut f, 5, 2);
    cbor_text(&mut f, "type");
    cbor_text(&mut f, "join");
    cbor_text(&mut f, "senderId");
    cbor_text(&mut f, sender);
    f
}

#[test]
fn ids_that_could_forge_log_lines_are_refused() {
    assert!(matches!(
        Message::decode(&join_from("phone-1")),
        Ok(Message::Join { .. })
    ));
    for forged in [
        "a\nINFO admin logged in",
        "a\r",
        "\u{1b}[31mred",
        "tab\there",
        "nul\0",
        "del\u{7f}",
        "c1\u{85}",
        "rtl\u{202e}txt.exe",
        "line\u{2028}sep",
    ] {
        assert_eq!(
            Message::decode(&join_from(forged)),
            Err(DecodeError::UnsafeText { field: "senderId" }),
            "{forged:?}"
        );
    }
    assert_eq!(
        Message::decode(&join_from(&"x".repeat(257))),
        Err(DecodeError::UnsafeText { field: "senderId" })
    );
    assert!(Message::decode(&join_from(&"x".repeat(256))).is_ok());
    // An unknown `type` with a newline is refused before it can reach an error message.
    let mut f = Vec::new();
    cbor_head(&mut f, 5, 1);
    cbor_text(&mut f, "type");
    cbor_text(&mut f, "x\ny");
    assert_eq!(
        Message::decode(&f),
        Err(DecodeError::UnsafeText { field: "type" })
    );

    // The engine closes the connection, and the reason it reports is a single clean line.
    let mut server = Engine::new(
        EngineConfig::new(Role::Server, PeerId("server".into()), None),
        AllowAll,
    );
    let _ = server.connect(ConnId(1), Identity("x".into()), 0);
    let out = server.receive(ConnId(1), &join_from("evil\n2026-01-01 INFO forged"), 0);
    let reason = out
        .events
        .iter()
        .find_map(|e| match e {
            Event::ProtocolViolation { reason, .. } => Some(reason.to_string()),
            _ => None,
        })
        .expect("violation");
    assert!(!reason.chars().any(char::is_control), "{reason:?}");
    assert!(!reason.contains("forged"), "{reason:?}");
}

#[test]
fn deep_nesting_in_unknown_keys_is_refused_fast() {
    for opener in [0x81u8, 0x9f, 0xa1, 0xc6] {
        let mut f = Vec::new();
        cbor_head(&mut f, 5, 2);
        cbor_text(&mut f, "type");
        cbor_text(&mut f, "join");
        cbor_text(&mut f, "junk");
        for _ in 0..100_000 {
            f.push(opener);
            if opener == 0xa1 {
                f.push(0x00); // key
            }
        }
        f.push(0x00);
        let (res, peak) = peak_alloc(|| fast(|| Message::decode(&f)));
        assert_eq!(res, Err(DecodeError::NotCbor), "opener {opener:#x}");
        assert!(peak < 64 << 10, "opener {opener:#x}: {peak} bytes");
    }
    // Moderate nesting in an unknown key is skipped.
    let mut f = join_from("a");
    f[0] = 0xa3;
    cbor_text(&mut f, "extra");
    f.extend([0x81; 10]);
    f.push(0);
    assert!(matches!(Message::decode(&f), Ok(Message::Join { .. })));
}

#[test]
fn huge_declared_lengths_do_not_allocate() {
    for head in [
        vec![0x5b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // bytes, 2^63 long
        vec![0x7b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // text
        vec![0x9b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // array
        vec![0xbb, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // map
    ] {
        // As the `data` field and as an unknown key's value.
        for key in ["data", "junk"] {
            let mut f = Vec::new();
            cbor_head(&mut f, 5, 2);
            cbor_text(&mut f, "type");
            cbor_text(&mut f, "sync");
            cbor_text(&mut f, key);
            f.extend(&head);
            f.extend([0; 16]);
            let (res, peak) = peak_alloc(|| fast(|| Message::decode(&f)));
            assert_eq!(res, Err(DecodeError::NotCbor));
            assert!(peak < 64 << 10, "{peak} bytes");
        }
    }
    // The top-level map itself claiming 2^63 entries.
    let f = [0xbb, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00];
    assert_eq!(Message::decode(&f), Err(DecodeError::NotCbor));
}

#[test]
fn decoding_a_frame_allocates_about_its_data_once_unlike_a_value_tree() {
    // A sync frame with 1 MB of data and an unknown key holding 200,000 small integers.
    let doc = DocumentId::random();
    let data = vec![7u8; 1 << 20];
    let mut f = Vec::new();
    cbor_head(&mut f, 5, 6);
    for (k, v) in [("type", "sync"), ("senderId", "a"), ("targetId", "b")] {
        cbor_text(&mut f, k);
        cbor_text(&mut f, v);
    }
    cbor_text(&mut f, "documentId");
    cbor_text(&mut f, &doc.to_string());
    cbor_text(&mut f, "data");
    cbor_head(&mut f, 2, data.len() as u64);
    f.extend(&data);
    cbor_text(&mut f, "future");
    cbor_head(&mut f, 4, 200_000);
    f.resize(f.len() + 200_000, 0x01);
    let (msg, peak) = peak_alloc(|| Message::decode(&f).unwrap());
    assert!(matches!(&msg, Message::Sync { data: d, .. } if *d == data));
    assert!(
        peak <= data.len() + 4096,
        "{peak} bytes for a {} byte frame",
        f.len()
    );
    // Control: the generic value tree the old decoder built first.
    let (_, tree) = peak_alloc(|| {
        let v: ciborium::value::Value = ciborium::de::from_reader(&f[..]).unwrap();
        v
    });
    assert!(tree > 5 * peak, "value tree {tree} vs typed {peak}");
}

// ---- real traffic passes ----

/// Syncs `a` and `b` until quiescent; returns every message exchanged.
fn sync_pair(
    a: &mut AutoCommit,
    b: &mut AutoCommit,
    sa: &mut sync::State,
    sb: &mut sync::State,
) -> Vec<Vec<u8>> {
    let mut seen = Vec::new();
    for _ in 0..100 {
        let mut quiet = true;
        if let Some(m) = a.sync().generate_sync_message(sa) {
            quiet = false;
            let bytes = m.encode();
            let checked = guard::decode_default(&bytes).expect("real message passes the guard");
            b.sync().receive_sync_message(sb, checked).unwrap();
            seen.push(bytes);
        }
        if let Some(m) = b.sync().generate_sync_message(sb) {
            quiet = false;
            let bytes = m.encode();
            let checked = guard::decode_default(&bytes).expect("real message passes the guard");
            a.sync().receive_sync_message(sa, checked).unwrap();
            seen.push(bytes);
        }
        if quiet {
            return seen;
        }
    }
    panic!("sync did not converge");
}

#[test]
fn a_large_case_document_syncs_through_the_guard() {
    // 300 notes, each typed one keystroke per change: 12,000+ changes.
    let mut a = AutoCommit::new();
    let notes = a.put_object(ROOT, "notes", ObjType::List).unwrap();
    for n in 0..300 {
        let note = a.insert_object(&notes, n, ObjType::Map).unwrap();
        let text = a.put_object(&note, "text", ObjType::Text).unwrap();
        a.commit();
        for (i, ch) in "Met at school gate; calm.".chars().enumerate().take(40) {
            a.splice_text(&text, i, 0, &ch.to_string()).unwrap();
            a.commit();
        }
    }
    let mut b = AutoCommit::new();
    let seen = sync_pair(
        &mut a,
        &mut b,
        &mut sync::State::new(),
        &mut sync::State::new(),
    );
    assert_eq!(a.get_heads(), b.get_heads());
    let biggest = seen.iter().map(Vec::len).max().unwrap();
    assert!(biggest > 10_000, "{biggest}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn messages_from_real_documents_always_pass_the_guard(
        edits in prop::collection::vec(
            (any::<bool>(), 0u8..6, 0usize..6, "[a-z ]{0,12}", any::<bool>()),
            1..50,
        ),
    ) {
        let mut a = AutoCommit::new();
        let text = a.put_object(ROOT, "text", ObjType::Text).unwrap();
        let list = a.put_object(ROOT, "list", ObjType::List).unwrap();
        a.put(ROOT, "count", fieldbook_sync::automerge::ScalarValue::counter(0)).unwrap();
        a.commit();
        let mut b = a.fork();
        let (mut sa, mut sb) = (sync::State::new(), sync::State::new());
        for (on_a, kind, at, s, sync_now) in edits {
            let d = if on_a { &mut a } else { &mut b };
            match kind {
                0 => d.put(ROOT, format!("k{at}"), s.as_str()).unwrap(),
                1 => {
                    let pos = at.min(d.length(&text));
                    d.splice_text(&text, pos, 0, &s).unwrap();
                }
                2 => {
                    let len = d.length(&text);
                    if len > 0 {
                        let pos = at.min(len - 1);
                        d.splice_text(&text, pos, (len - pos).min(3) as isize, "").unwrap();
                    }
                }
                3 => {
                    let pos = at.min(d.length(&list));
                    d.insert(&list, pos, s.as_str()).unwrap();
                }
                4 => d.increment(ROOT, "count", at as i64 + 1).unwrap(),
                _ => {
                    let _ = d.delete(ROOT, format!("k{at}"));
                }
            }
            d.commit();
            if sync_now {
                // sync_pair fails the test if the guard refuses any message.
                sync_pair(&mut a, &mut b, &mut sa, &mut sb);
            }
        }
        sync_pair(&mut a, &mut b, &mut sa, &mut sb);
        prop_assert_eq!(a.get_heads(), b.get_heads());
        // A fresh peer (sync message v2 may carry a whole document chunk).
        let mut c = AutoCommit::new();
        sync_pair(&mut a, &mut c, &mut sync::State::new(), &mut sync::State::new());
        prop_assert_eq!(a.get_heads(), c.get_heads());
    }
}
