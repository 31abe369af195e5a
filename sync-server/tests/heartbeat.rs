//! Dead connections do not live on: the server pings every connection and closes one that
//! has sent nothing (no message, no Pong) for its idle timeout — a half-open socket — while
//! live peers, busy or idle, keep syncing. And the Fieldbook heartbeat is answered at once,
//! but only to a peer that sends one.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fieldbook_native_client::Client;
use fieldbook_sync::automerge::{transaction::Transactable, ROOT};
use fieldbook_sync::{DocumentId, Message, PeerId, PeerMetadata, StorageId};
use fieldbook_sync_server::config::Config;
use fieldbook_sync_server::http::{start_without_sign_in as start, RunningServer};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as Ws;

const T: Duration = Duration::from_secs(15);
const PING_SECS: u64 = 1;
const IDLE_SECS: u64 = 2;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn server(dir: &std::path::Path) -> RunningServer {
    start(&Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.to_path_buf(),
        ping_interval_secs: PING_SECS,
        idle_timeout_secs: IDLE_SECS,
        ..Config::default()
    })
    .await
    .unwrap()
}

async fn client(server: &RunningServer) -> Client {
    let c = Client::new(Some(StorageId::random()));
    c.connect(&server.sync_url()).await.expect("connect");
    c
}

fn new_doc(c: &Client) -> DocumentId {
    c.create(|tx| {
        tx.put(ROOT, "title", "Heartbeat test")?;
        tx.put(ROOT, "edits", 0)?;
        Ok(())
    })
    .unwrap()
}

fn edit(c: &Client, doc: DocumentId, n: usize) {
    c.change(doc, |tx| {
        tx.put(ROOT, "edits", n as i64)?;
        Ok(())
    })
    .unwrap()
}

/// A raw WebSocket peer that joins and reads the server's `peer` reply.
async fn joined_raw(server: &RunningServer) -> (Socket, Message) {
    let (mut ws, _) = tokio_tungstenite::connect_async(server.sync_url())
        .await
        .unwrap();
    let join = Message::Join {
        sender_id: PeerId("raw-peer".into()),
        metadata: PeerMetadata::default(),
        supported_protocol_versions: vec!["1".into()],
    };
    ws.send(Ws::Binary(join.encode().into())).await.unwrap();
    loop {
        match tokio::time::timeout(T, ws.next())
            .await
            .expect("peer reply")
        {
            Some(Ok(Ws::Binary(b))) => return (ws, Message::decode(&b).unwrap()),
            Some(Ok(_)) => continue,
            other => panic!("connection ended before `peer`: {other:?}"),
        }
    }
}

async fn connections_become(server: &RunningServer, n: usize) {
    let mut stats = server.watch_stats();
    tokio::time::timeout(T, stats.wait_for(|s| s.connections == n))
        .await
        .unwrap_or_else(|_| panic!("connections never became {n}"))
        .unwrap();
}

#[tokio::test]
async fn a_half_open_peer_is_closed_within_the_idle_timeout_while_others_keep_syncing() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let idle = client(&server).await;
    let idle_doc = new_doc(&idle);
    idle.wait_synced(idle_doc, T).await.unwrap();
    let busy = Arc::new(client(&server).await);
    let busy_doc = new_doc(&busy);
    busy.wait_synced(busy_doc, T).await.unwrap();

    // Joins, then never reads again and never answers a Ping: to the server this looks
    // exactly like a phone whose network vanished without a FIN.
    let (mut silent, peer) = joined_raw(&server).await;
    let went_silent = Instant::now();
    assert!(matches!(
        peer,
        Message::Peer {
            heartbeat: true,
            ..
        }
    ));
    connections_become(&server, 3).await;

    // Meanwhile a busy peer keeps editing, each edit waiting for the server's acknowledgement.
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicUsize::new(0));
    let worker = {
        let (busy, stop, acked) = (busy.clone(), stop.clone(), acked.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                edit(&busy, busy_doc, n);
                busy.wait_synced(busy_doc, T)
                    .await
                    .expect("busy peer synced");
                acked.store(n, Ordering::Relaxed);
            }
        })
    };

    connections_become(&server, 2).await;
    let reaped_after = went_silent.elapsed();
    stop.store(true, Ordering::Relaxed);
    worker.await.unwrap();
    let idle_window = Duration::from_secs(IDLE_SECS);
    assert!(
        reaped_after >= idle_window - Duration::from_millis(100),
        "closed after {reaped_after:?}, before the idle timeout"
    );
    assert!(
        reaped_after <= idle_window + Duration::from_millis(1_500),
        "closed only after {reaped_after:?}"
    );
    assert!(
        acked.load(Ordering::Relaxed) > 0,
        "the busy peer synced meanwhile"
    );

    // What the silent peer would have read: Pings, perhaps the close frame (reading now
    // answers the Pings, which may meet the closed socket first), then the end. Never a
    // heartbeat (it sent none), nor anything else.
    let mut pings = 0;
    while let Some(frame) = tokio::time::timeout(T, silent.next())
        .await
        .expect("the socket ends")
    {
        match frame {
            Ok(Ws::Ping(_)) => pings += 1,
            Ok(Ws::Close(reason)) => {
                let reason = reason.map(|r| r.reason.to_string()).unwrap_or_default();
                assert!(reason.contains("no traffic"), "{reason}");
            }
            Ok(other) => panic!("unexpected frame to a silent peer: {other:?}"),
            Err(_) => break,
        }
    }
    assert!(pings >= 1, "the server pinged before giving up");

    // Both live peers are still connected: the idle one has been idle for longer than the
    // timeout and survived, because it answers Pings.
    assert_eq!(server.stats().await.unwrap().connections, 2);
    edit(&idle, idle_doc, 1);
    idle.wait_synced(idle_doc, T).await.unwrap();
    edit(&busy, busy_doc, 1_000_000);
    busy.wait_synced(busy_doc, T).await.unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_heartbeat_is_answered_at_once_even_before_the_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    for joined in [false, true] {
        let mut ws = if joined {
            joined_raw(&server).await.0
        } else {
            tokio_tungstenite::connect_async(server.sync_url())
                .await
                .unwrap()
                .0
        };
        ws.send(Ws::Binary(Message::Heartbeat.encode().into()))
            .await
            .unwrap();
        let answer = loop {
            match tokio::time::timeout(T, ws.next()).await.unwrap() {
                Some(Ok(Ws::Binary(b))) => break Message::decode(&b).unwrap(),
                Some(Ok(Ws::Ping(_))) => continue,
                other => panic!("expected the heartbeat answer, got {other:?}"),
            }
        };
        assert_eq!(answer, Message::Heartbeat);
    }
    server.shutdown().await.unwrap();
}
