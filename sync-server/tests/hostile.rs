//! Hostile input against the real server binary. For each attack: the offending connection
//! is closed, a bystander keeps syncing a real document (its change acknowledged within
//! 1 s), the server's peak RSS stays under 300 MB and `/healthz` answers 200.
//!
//! The server runs under `ulimit -v` (see `support`) so an attack it fails to stop kills
//! only the server, not the test machine.

mod support;

use std::time::{Duration, Instant};

use fieldbook_native_client::{synthetic, Client};
use fieldbook_sync::automerge::sync::{self, BloomFilter, Have, SyncDoc};
use fieldbook_sync::automerge::{transaction::Transactable, AutoCommit, ROOT};
use fieldbook_sync::{DocumentId, Message, PeerId, StorageId};
use fieldbook_sync_server::config::Config;
use futures_util::SinkExt;
use support::*;
use tokio_tungstenite::tungstenite::Message as Ws;

/// A real first sync message from a peer holding one change: its `have` entry carries a
/// Bloom filter of that change, which the attacks below replace or add to.
fn real_sync_message() -> sync::Message {
    let mut doc = AutoCommit::new();
    doc.put(ROOT, "name", "Attacker Test Doc").unwrap();
    let mut state = sync::State::new();
    let msg = doc
        .sync()
        .generate_sync_message(&mut state)
        .expect("a first sync message");
    assert_eq!(msg.have.len(), 1, "a first message has one have entry");
    msg
}

/// The real message with its have-entry's Bloom filter replaced by `bloom` (encoded as
/// automerge encodes it: entries, bits per entry, probes, then the bit array).
fn with_bloom(bloom: &[u8]) -> Vec<u8> {
    let mut msg = real_sync_message();
    msg.have = vec![Have {
        last_sync: Vec::new(),
        bloom: BloomFilter::try_from(bloom).expect("automerge accepts the crafted filter"),
    }];
    msg.encode()
}

fn sync_for(me: &PeerId, server: &PeerId, doc: DocumentId, data: Vec<u8>) -> Message {
    Message::Sync {
        sender_id: me.clone(),
        target_id: server.clone(),
        document_id: doc,
        data,
    }
}

/// Send one crafted sync message for the bystander's document (which has changes the
/// server must filter through the attacker's Bloom filter) and expect to be closed.
async fn sync_attack(name: &str, data: Vec<u8>) {
    let server = ServerProcess::start(&[]).await;
    let by = Bystander::join(&server).await;
    let me = PeerId::random("attacker");
    let (mut ws, server_peer) = server.joined(&me).await;
    send(&mut ws, &sync_for(&me, &server_peer, by.doc, data)).await;
    let errors = match tokio::time::timeout(T, closed_by_server(&mut ws)).await {
        Ok(errors) => errors,
        Err(_) => panic!(
            "{name}: offender not closed within {T:?}; memory {:?} kB; stderr {:#?}",
            server.memory_kb(),
            server.stderr()
        ),
    };
    eprintln!("{name}: offender closed with {errors:?}");
    server.assert_serving(&by, name).await;
}

#[tokio::test]
async fn zero_bit_bloom_filter() {
    // One entry, zero bits per entry: no bit array, so every probe is taken modulo zero.
    sync_attack("zero-bit Bloom filter", with_bloom(&[1, 0, 7])).await;
}

#[tokio::test]
async fn huge_probe_bloom_filter() {
    // One entry, 10 bits, u32::MAX probes (LEB128): a 16 GiB probe list per change hash.
    let bloom = [1, 10, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0];
    sync_attack("huge-probe Bloom filter", with_bloom(&bloom)).await;
}

#[tokio::test]
async fn decompression_bomb() {
    use std::io::Write;
    const INFLATED: usize = 300 * 1024 * 1024;
    let mut deflate = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1024 * 1024];
    for _ in 0..INFLATED / zeros.len() {
        deflate.write_all(&zeros).unwrap();
    }
    let body = deflate.finish().unwrap();
    // A compressed change chunk: magic, checksum, type 2 (deflated change), LEB128 length.
    let mut chunk = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 2];
    let mut n = body.len();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            chunk.push(byte);
            break;
        }
        chunk.push(byte | 0x80);
    }
    chunk.extend(&body);
    eprintln!(
        "decompression bomb: {} KB inflating to {} MB",
        chunk.len() / 1024,
        INFLATED / (1024 * 1024)
    );
    let mut msg = real_sync_message();
    msg.changes = vec![chunk].into();
    sync_attack("decompression bomb", msg.encode()).await;
}

#[tokio::test]
async fn hundred_thousand_made_up_ids() {
    let server = ServerProcess::start(&[]).await;
    let by = Bystander::join(&server).await;
    let me = PeerId::random("attacker");
    let (mut ws, server_peer) = server.joined(&me).await;
    let empty = AutoCommit::new()
        .sync()
        .generate_sync_message(&mut sync::State::new())
        .unwrap()
        .encode();
    let flood = async {
        let mut sent = 0;
        for _ in 0..100_000 {
            let req = Message::Request {
                sender_id: me.clone(),
                target_id: server_peer.clone(),
                document_id: DocumentId::random(),
                data: empty.clone(),
            };
            if ws.feed(Ws::Binary(req.encode().into())).await.is_err() {
                break;
            }
            sent += 1;
            if sent % 1000 == 0 && ws.flush().await.is_err() {
                break;
            }
        }
        let _ = ws.flush().await;
        sent
    };
    let (sent, rtt) = tokio::join!(flood, by.round_trip("during the id flood"));
    eprintln!("made-up ids: bystander round trip during the flood {rtt:?}");
    assert!(
        rtt < ROUND_TRIP_BOUND,
        "round trip during the flood: {rtt:?}"
    );
    let errors = closed_by_server(&mut ws).await;
    // The error may be lost: a flooder still writing when closed gets a TCP reset.
    eprintln!("made-up ids: {sent} requests written before the server closed us: {errors:?}");
    server.assert_serving(&by, "100,000 made-up ids").await;
}

#[tokio::test]
async fn client_that_never_reads() {
    // Small outbound queue so the test fills it quickly; the mechanism is the default one.
    let server = ServerProcess::start(&[
        ("FIELDBOOK_OUTBOUND_BYTES", "1048576"),
        ("FIELDBOOK_OUTBOUND_FRAMES", "64"),
    ])
    .await;
    let by = Bystander::join(&server).await;
    // The attacker opens the bystander's document, then never reads again, with a small
    // receive buffer so the kernel does not absorb much of the fan-out for it.
    let me = PeerId::random("attacker");
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(server.addr.parse().unwrap()).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(
        server.ticket_url().await.as_str(),
        tokio_tungstenite::MaybeTlsStream::Plain(tcp),
    )
    .await
    .unwrap();
    send(&mut ws, &join(&me)).await;
    let server_peer = match next_message(&mut ws).await {
        Some(Message::Peer { sender_id, .. }) => sender_id,
        other => panic!("expected peer, got {other:?}"),
    };
    let empty = AutoCommit::new()
        .sync()
        .generate_sync_message(&mut sync::State::new())
        .unwrap()
        .encode();
    send(
        &mut ws,
        &Message::Request {
            sender_id: me.clone(),
            target_id: server_peer,
            document_id: by.doc,
            data: empty,
        },
    )
    .await;
    // The bystander edits; every edit fans out to the attacker, who reads nothing.
    let mut worst = Duration::ZERO;
    let mut edits = 0;
    while !server
        .stderr()
        .iter()
        .any(|l| l.contains("not reading (outbound queue full)"))
    {
        assert!(edits < 1000, "the non-reader was never closed");
        let note = synthetic::words(edits, 8_000);
        worst = worst.max(by.round_trip_with("edit fanned out", &note).await);
        edits += 1;
    }
    eprintln!("never-reads: closed after {edits} edits of ~50 KB; worst round trip {worst:?}");
    assert!(worst < ROUND_TRIP_BOUND, "worst round trip {worst:?}");
    // Drain what the kernel held for the attacker: then the connection ends.
    closed_by_server(&mut ws).await;
    server.assert_serving(&by, "client that never reads").await;
}

#[tokio::test]
async fn connection_that_never_joins() {
    let server = ServerProcess::start(&[("FIELDBOOK_JOIN_TIMEOUT_SECS", "2")]).await;
    let by = Bystander::join(&server).await;
    let started = Instant::now();
    let mut idle = Vec::new();
    for _ in 0..50 {
        idle.push(server.raw().await);
    }
    // Heartbeats are answered but do not stand in for `join`.
    let mut chatty = server.raw().await;
    for _ in 0..3 {
        send(&mut chatty, &Message::Heartbeat).await;
        assert!(matches!(
            next_message(&mut chatty).await,
            Some(Message::Heartbeat)
        ));
    }
    let errors = closed_by_server(&mut chatty).await;
    assert!(
        errors.iter().any(|e| e.contains("no join")),
        "errors: {errors:?}"
    );
    for ws in &mut idle {
        closed_by_server(ws).await;
    }
    let took = started.elapsed();
    // Closed by the join timeout (2 s), not the idle timeout (15 s).
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(8),
        "{took:?}"
    );
    server
        .assert_serving(&by, "connections that never join")
        .await;
}

#[tokio::test]
async fn twenty_concurrent_maximum_size_frames() {
    let max = Config::default().max_frame_bytes;
    let server = ServerProcess::start(&[]).await;
    let by = Bystander::join(&server).await;
    let mut attackers = Vec::new();
    for i in 0..20 {
        let me = PeerId(format!("attacker-{i}"));
        let (ws, server_peer) = server.joined(&me).await;
        // Incompressible junk as the sync payload, the envelope filling the limit exactly.
        let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ i;
        let junk: Vec<u8> = (0..max - 256)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let frame = sync_for(&me, &server_peer, DocumentId::random(), junk).encode();
        assert!(frame.len() <= max, "{} > {max}", frame.len());
        attackers.push((ws, frame));
    }
    let sends = attackers.into_iter().map(|(mut ws, frame)| {
        tokio::spawn(async move {
            assert!(frame.len() > max - 512);
            ws.send(Ws::Binary(frame.into())).await.unwrap();
            closed_by_server(&mut ws).await
        })
    });
    let sends: Vec<_> = sends.collect();
    let rtt = by.round_trip("during 20 maximum-size frames").await;
    for s in sends {
        let errors = s.await.unwrap();
        assert!(
            !errors.is_empty(),
            "each junk frame is answered with an error"
        );
    }
    eprintln!(
        "20 x {} MB frames: round trip during the attack {rtt:?}",
        max >> 20
    );
    assert!(rtt < ROUND_TRIP_BOUND, "{rtt:?}");
    server
        .assert_serving(&by, "20 concurrent maximum-size frames")
        .await;
}

#[tokio::test]
async fn flood_of_new_storage_ids() {
    /// Sync-state rows the server may keep for one document, however many peers come.
    const ROWS_PER_DOC_BOUND: i64 = 100;
    const PEERS: usize = 150;
    let server = ServerProcess::start(&[]).await;
    let by = Bystander::join(&server).await;
    for batch in 0..PEERS / 25 {
        let mut urls = Vec::new();
        for _ in 0..25 {
            urls.push(server.ticket_url().await);
        }
        let wave = urls.into_iter().map(|url| {
            let doc = by.doc;
            tokio::spawn(async move {
                let c = Client::new(Some(StorageId::random()));
                c.connect(&url).await.unwrap();
                c.find(doc, T).await.unwrap();
                c.change(doc, |tx| {
                    tx.put(ROOT, "touched", 1)?;
                    Ok(())
                })
                .unwrap();
                c.wait_synced(doc, T).await.unwrap();
                c.disconnect();
            })
        });
        for w in wave.collect::<Vec<_>>() {
            w.await.unwrap();
        }
        let rtt = by.round_trip("storage-id flood").await;
        assert!(rtt < ROUND_TRIP_BOUND, "batch {batch}: {rtt:?}");
    }
    let rows: i64 = match &server.database_url {
        Some(url) => support::pg::with_client(url, |c| {
            c.query_one(
                "SELECT COUNT(*) FROM store_sync_states GROUP BY doc_id ORDER BY COUNT(*) DESC \
                 LIMIT 1",
                &[],
            )
            .unwrap()
            .get(0)
        }),
        None => rusqlite::Connection::open_with_flags(
            server.dir.path().join("fieldbook.sqlite3"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM sync_states WHERE doc_id = (SELECT doc_id FROM sync_states \
             GROUP BY doc_id ORDER BY COUNT(*) DESC LIMIT 1)",
            [],
            |r| r.get(0),
        )
        .unwrap(),
    };
    eprintln!(
        "storage-id flood: {PEERS} new storage ids left {rows} sync-state rows for one document"
    );
    assert!(
        rows <= ROWS_PER_DOC_BOUND,
        "{rows} sync-state rows for one document after {PEERS} new storage ids"
    );
    server.assert_serving(&by, "flood of new storage ids").await;
}

/// Peer text with a newline and ESC must not start a line of its own or reach the terminal.
fn assert_no_forged_line(server: &ServerProcess, marker: &str) {
    for line in server.stderr() {
        assert!(
            !line.trim_start().starts_with(marker),
            "forged log line: {line:?}"
        );
        assert!(!line.contains('\x1b'), "raw ESC in log line: {line:?}");
    }
}

#[tokio::test]
async fn log_forging_message_type() {
    let server = ServerProcess::start(&[("FIELDBOOK_LOG", "debug")]).await;
    let by = Bystander::join(&server).await;
    let me = PeerId::random("attacker");
    let (mut ws, _) = server.joined(&me).await;
    let evil = "x\nFORGED-TYPE 2026-01-01T00:00:00Z ERROR admin logged in\x1b[2J";
    let mut frame = Vec::new();
    ciborium::into_writer(
        &ciborium::Value::Map(vec![("type".into(), evil.into())]),
        &mut frame,
    )
    .unwrap();
    ws.send(Ws::Binary(frame.into())).await.unwrap();
    let errors = closed_by_server(&mut ws).await;
    assert!(!errors.is_empty());
    // The refusal is logged (so the check below looks at the lines this message caused);
    // the decoder refuses control characters, so the text is not even echoed.
    let line = server
        .wait_for_log("closing connection: malformed message", T)
        .await;
    eprintln!("logged: {line}");
    assert_no_forged_line(&server, "FORGED-TYPE");
    server.assert_serving(&by, "log-forging message type").await;
}

#[tokio::test]
async fn log_forging_sender_id() {
    let server = ServerProcess::start(&[("FIELDBOOK_LOG", "debug")]).await;
    let by = Bystander::join(&server).await;
    let me = PeerId("evil\nFORGED-ID 2026-01-01T00:00:00Z INFO all clear\x1b[31m".into());
    let mut ws = server.raw().await;
    send(&mut ws, &join(&me)).await;
    let answer = next_message(&mut ws).await;
    if matches!(answer, Some(Message::Peer { .. })) {
        // Accepted: at least the log line it produced must be escaped.
        server.wait_for_log("peer joined", T).await;
        assert_no_forged_line(&server, "FORGED-ID");
        panic!("a senderId with control characters was accepted");
    }
    closed_by_server(&mut ws).await;
    assert_no_forged_line(&server, "FORGED-ID");
    server.assert_serving(&by, "log-forging senderId").await;
}

#[tokio::test]
async fn trace_logs_carry_no_frame_payloads() {
    let server = ServerProcess::start(&[("FIELDBOOK_LOG", "trace")]).await;
    let by = Bystander::join(&server).await;
    let marker = "PAYLOADMARKERSYNTHETIC";
    by.round_trip_with("trace", marker).await;
    let me = PeerId::random("attacker");
    let (mut ws, server_peer) = server.joined(&me).await;
    let beef: Vec<u8> = [0xde, 0xad, 0xbe, 0xef].repeat(16);
    send(&mut ws, &sync_for(&me, &server_peer, by.doc, beef)).await;
    closed_by_server(&mut ws).await;
    // A line logged after both frames were handled, so they had every chance to appear.
    server.assert_serving(&by, "trace logging").await;
    let hex: String = marker.bytes().map(|b| format!("{b:02x}")).collect();
    let stderr = server.stderr();
    assert!(
        stderr.iter().any(|l| l.contains("TRACE")),
        "trace level was really on"
    );
    for line in &stderr {
        let lower = line.to_lowercase();
        for needle in [hex.as_str(), "deadbeefdeadbeef", "de ad be ef", marker] {
            assert!(
                !lower.contains(&needle.to_lowercase()),
                "payload in log: {line}"
            );
        }
    }
}

#[tokio::test]
async fn json_log_lines_and_invalid_log_settings() {
    let server = ServerProcess::start(&[("FIELDBOOK_LOG_FORMAT", "json")]).await;
    let by = Bystander::join(&server).await;
    server.assert_serving(&by, "json logs").await;
    let line = server.wait_for_log("peer joined", T).await;
    for line in server.stderr() {
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        assert!(v.get("level").is_some(), "{line}");
    }
    eprintln!("json: {line}");

    for (var, value) in [
        ("FIELDBOOK_LOG_FORMAT", "xml"),
        ("FIELDBOOK_LOG", "info,[unclosed"),
    ] {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_fieldbook-sync-server"))
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(server.dir.path().join("unused"))
            .env(var, value)
            .output()
            .await
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{var}={value} was accepted");
        assert!(err.contains(var), "{var}={value}: {err}");
        assert!(out.stdout.is_empty(), "{var}={value} started serving");
    }
}

#[tokio::test]
async fn connection_limits_refuse_at_upgrade() {
    let per_address = ServerProcess::start(&[
        ("FIELDBOOK_MAX_CONNECTIONS", "10"),
        ("FIELDBOOK_MAX_CONNECTIONS_PER_ADDRESS", "2"),
    ])
    .await;
    let mut first = per_address.raw().await;
    let _second = per_address.raw().await;
    for _ in 0..3 {
        assert_eq!(per_address.try_connect().await.err(), Some(429));
    }
    let refusals = per_address.stderr();
    let logged = refusals.iter().filter(|l| l.contains("refusing")).count();
    assert_eq!(logged, 1, "refusals are logged once: {refusals:#?}");
    assert_eq!(per_address.get("/healthz").await, 200);
    // A closed connection gives its place back.
    first.close(None).await.unwrap();
    closed_by_server(&mut first).await;
    let deadline = Instant::now() + T;
    let mut ticks = tokio::time::interval(Duration::from_millis(20));
    loop {
        ticks.tick().await;
        match per_address.try_connect().await {
            Ok(_) => break,
            Err(429) if Instant::now() < deadline => continue,
            Err(s) => panic!("place not given back: {s}"),
        }
    }

    let total = ServerProcess::start(&[
        ("FIELDBOOK_MAX_CONNECTIONS", "2"),
        ("FIELDBOOK_MAX_CONNECTIONS_PER_ADDRESS", "2"),
    ])
    .await;
    let _a = total.raw().await;
    let _b = total.raw().await;
    assert_eq!(total.try_connect().await.err(), Some(503));
}

#[tokio::test]
async fn message_rate_limit_closes_only_the_flooder() {
    let server = ServerProcess::start(&[
        ("FIELDBOOK_MESSAGE_BURST", "50"),
        ("FIELDBOOK_MESSAGES_PER_SEC", "10"),
    ])
    .await;
    let by = Bystander::join(&server).await;
    let me = PeerId::random("flooder");
    let (mut ws, _) = server.joined(&me).await;
    // Control: within the burst, every message is answered.
    for _ in 0..40 {
        send(&mut ws, &Message::Heartbeat).await;
        assert!(matches!(
            next_message(&mut ws).await,
            Some(Message::Heartbeat)
        ));
    }
    for _ in 0..100 {
        if ws
            .send(Ws::Binary(Message::Heartbeat.encode().into()))
            .await
            .is_err()
        {
            break;
        }
    }
    let errors = closed_by_server(&mut ws).await;
    assert!(
        errors.iter().any(|e| e.contains("rate limit")),
        "errors: {errors:?}"
    );
    server.assert_serving(&by, "message flood").await;
}
