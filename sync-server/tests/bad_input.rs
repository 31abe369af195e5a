//! Hostile or malformed input closes that one connection with a protocol `error`; the
//! server keeps serving everyone else. On SQLite, or on PostgreSQL when the test command
//! asks (`support::config`): what gets past the edge reaches the store.

mod support;

use std::time::Duration;

use fieldbook_native_client::Client;
use fieldbook_sync::automerge::{transaction::Transactable, ROOT};
use fieldbook_sync::{DocumentId, Message, PeerId, PeerMetadata, StorageId};
use fieldbook_sync_server::config::Config;
use fieldbook_sync_server::http::{start_without_sign_in as start, RunningServer};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as Ws;

const T: Duration = Duration::from_secs(10);

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn raw(server: &RunningServer) -> Socket {
    tokio_tungstenite::connect_async(server.sync_url())
        .await
        .unwrap()
        .0
}

async fn joined(server: &RunningServer) -> (Socket, PeerId) {
    let mut ws = raw(server).await;
    let join = Message::Join {
        sender_id: PeerId("raw-peer".into()),
        metadata: PeerMetadata::default(),
        supported_protocol_versions: vec!["1".into()],
    };
    ws.send(Ws::Binary(join.encode().into())).await.unwrap();
    let server_peer = match next_message(&mut ws).await {
        Some(Message::Peer { sender_id, .. }) => sender_id,
        other => panic!("expected peer, got {other:?}"),
    };
    (ws, server_peer)
}

async fn next_message(ws: &mut Socket) -> Option<Message> {
    loop {
        match tokio::time::timeout(T, ws.next())
            .await
            .expect("server did not answer")
        {
            Some(Ok(Ws::Binary(b))) => {
                return Some(Message::decode(&b).expect("server sent valid CBOR"))
            }
            Some(Ok(Ws::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => continue,
        }
    }
}

/// The server answers with a protocol error naming the problem, then closes.
async fn expect_error_then_close(ws: &mut Socket, needle: &str) {
    match next_message(ws).await {
        Some(Message::Error { message, .. }) => {
            assert!(
                message.contains(needle),
                "error {message:?} should mention {needle:?}"
            )
        }
        other => panic!("expected an error message, got {other:?}"),
    }
    assert!(
        next_message(ws).await.is_none(),
        "connection should be closed after the error"
    );
}

/// Everyone else is still served: a normal client can create and sync a document.
async fn server_still_serves(server: &RunningServer) {
    let c = Client::new(Some(StorageId::random()));
    c.connect(&server.sync_url()).await.unwrap();
    let doc = c
        .create(|tx| {
            tx.put(ROOT, "name", "Still Served")?;
            Ok(())
        })
        .unwrap();
    c.wait_synced(doc, T).await.unwrap();
    c.disconnect();
}

async fn server(max_frame: usize) -> (tempfile::TempDir, RunningServer) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config {
        max_frame_bytes: max_frame,
        ..support::config(dir.path())
    };
    let s = start(&cfg).await.unwrap();
    (dir, s)
}

fn sync_frame(sender: &str, target: &PeerId, doc: &str, data: Vec<u8>) -> Vec<u8> {
    use ciborium::value::Value;
    let m = Value::Map(vec![
        (Value::Text("type".into()), Value::Text("sync".into())),
        (Value::Text("senderId".into()), Value::Text(sender.into())),
        (
            Value::Text("targetId".into()),
            Value::Text(target.0.clone()),
        ),
        (Value::Text("documentId".into()), Value::Text(doc.into())),
        (Value::Text("data".into()), Value::Bytes(data)),
    ]);
    let mut out = Vec::new();
    ciborium::into_writer(&m, &mut out).unwrap();
    out
}

#[tokio::test]
async fn malformed_cbor_closes_only_that_connection() {
    let (_d, s) = server(16 << 20).await;
    let (mut bystander, _) = joined(&s).await;
    let mut ws = raw(&s).await;
    ws.send(Ws::Binary(vec![0xff, 0x13, 0x37].into()))
        .await
        .unwrap();
    expect_error_then_close(&mut ws, "CBOR").await;
    server_still_serves(&s).await;
    // An established connection on the side is untouched.
    bystander.send(Ws::Ping(vec![1].into())).await.unwrap();
    assert!(matches!(
        tokio::time::timeout(T, bystander.next()).await.unwrap(),
        Some(Ok(Ws::Pong(_)))
    ));
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn unknown_message_type_is_refused() {
    let (_d, s) = server(16 << 20).await;
    let (mut ws, _) = joined(&s).await;
    let mut frame = Vec::new();
    ciborium::into_writer(
        &ciborium::value::Value::Map(vec![
            ("type".into(), "make-coffee".into()),
            ("senderId".into(), "raw-peer".into()),
        ]),
        &mut frame,
    )
    .unwrap();
    ws.send(Ws::Binary(frame.into())).await.unwrap();
    expect_error_then_close(&mut ws, "unknown message type").await;
    server_still_serves(&s).await;
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn wrong_protocol_version_is_refused() {
    let (_d, s) = server(16 << 20).await;
    let mut ws = raw(&s).await;
    let join = Message::Join {
        sender_id: PeerId("future-peer".into()),
        metadata: PeerMetadata::default(),
        supported_protocol_versions: vec!["7".into()],
    };
    ws.send(Ws::Binary(join.encode().into())).await.unwrap();
    expect_error_then_close(&mut ws, "unsupported protocol version").await;
    server_still_serves(&s).await;
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn invalid_document_id_is_refused() {
    let (_d, s) = server(16 << 20).await;
    let (mut ws, server_peer) = joined(&s).await;
    ws.send(Ws::Binary(
        sync_frame("raw-peer", &server_peer, "../../etc/passwd", vec![0x42]).into(),
    ))
    .await
    .unwrap();
    expect_error_then_close(&mut ws, "invalid document id").await;
    server_still_serves(&s).await;
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn garbage_sync_payload_is_refused() {
    let (_d, s) = server(16 << 20).await;
    let (mut ws, server_peer) = joined(&s).await;
    let doc = DocumentId::random().to_string();
    ws.send(Ws::Binary(
        sync_frame("raw-peer", &server_peer, &doc, vec![0x42, 0x00, 0x01]).into(),
    ))
    .await
    .unwrap();
    expect_error_then_close(&mut ws, "invalid automerge sync message").await;
    server_still_serves(&s).await;
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn oversized_frame_is_refused() {
    let (_d, s) = server(64 * 1024).await;
    let (mut ws, server_peer) = joined(&s).await;
    let doc = DocumentId::random().to_string();
    ws.send(Ws::Binary(
        sync_frame("raw-peer", &server_peer, &doc, vec![0u8; 200 * 1024]).into(),
    ))
    .await
    .unwrap();
    expect_error_then_close(&mut ws, "too large").await;
    server_still_serves(&s).await;
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn messages_before_join_and_spoofed_senders_are_refused() {
    let (_d, s) = server(16 << 20).await;
    let mut ws = raw(&s).await;
    let doc = DocumentId::random().to_string();
    ws.send(Ws::Binary(
        sync_frame("raw-peer", &PeerId("x".into()), &doc, vec![]).into(),
    ))
    .await
    .unwrap();
    expect_error_then_close(&mut ws, "expected handshake").await;

    let (mut ws, server_peer) = joined(&s).await;
    ws.send(Ws::Binary(
        sync_frame("someone-else", &server_peer, &doc, vec![]).into(),
    ))
    .await
    .unwrap();
    expect_error_then_close(&mut ws, "senderId").await;

    let mut ws = raw(&s).await;
    ws.send(Ws::Text("{\"type\":\"join\"}".into()))
        .await
        .unwrap();
    expect_error_then_close(&mut ws, "text frames").await;
    server_still_serves(&s).await;
    s.shutdown().await.unwrap();
}

/// Frames far bigger than what a connection reads into (4 KiB, `http.rs`) arrive whole:
/// a case with a few hundred kilobytes of hard-to-compress notes goes up in one frame and
/// comes down to a second device intact.
#[tokio::test]
async fn a_frame_many_times_the_read_buffer_arrives_whole() {
    use fieldbook_sync::automerge::{ObjType, ReadDoc};
    let (_d, s) = server(Config::default().max_frame_bytes).await;
    let a = Client::new(Some(StorageId::random()));
    a.connect(&s.sync_url()).await.unwrap();
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let text: String = (0..400_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(
                b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ."
                    [(x % 64) as usize],
            )
        })
        .collect();
    let doc = a
        .create(|tx| {
            let notes = tx.put_object(ROOT, "notes", ObjType::Text)?;
            tx.splice_text(&notes, 0, 0, &text)
        })
        .unwrap();
    a.wait_synced(doc, T).await.unwrap();
    assert!(
        a.wire_bytes().0 > 200_000,
        "the case (one change, so one sync frame) should be hundreds of KB, not {} bytes",
        a.wire_bytes().0
    );
    let b = Client::new(Some(StorageId::random()));
    b.connect(&s.sync_url()).await.unwrap();
    let got = b.find(doc, T).await.unwrap();
    let notes = got.get(ROOT, "notes").unwrap().expect("notes").1;
    assert_eq!(got.text(&notes).unwrap(), text);
    a.disconnect();
    b.disconnect();
    server_still_serves(&s).await;
    s.shutdown().await.unwrap();
}
