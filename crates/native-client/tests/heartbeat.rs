//! The native client notices a server that went silent (a half-open connection: no FIN, no
//! RST, just nothing) and gives the connection up after the heartbeat timeout, while a
//! server that answers its Pings keeps it open however idle it is.

use std::time::{Duration, Instant};

use fieldbook_native_client::Client;
use fieldbook_sync::health::Policy;
use fieldbook_sync::{Message, PeerId, PeerMetadata, StorageId};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message as Ws;

const T: Duration = Duration::from_secs(15);

/// A one-connection server that answers the handshake, then (if `answer_pings`) keeps
/// reading — which answers Pings — or else stops reading for good, keeping the socket open.
async fn fake_server(answer_pings: bool) -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/sync", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let client = loop {
            match ws.next().await {
                Some(Ok(Ws::Binary(b))) => match Message::decode(&b).unwrap() {
                    Message::Join { sender_id, .. } => break sender_id,
                    other => panic!("expected join, got {other:?}"),
                },
                Some(Ok(_)) => continue,
                other => panic!("client went away: {other:?}"),
            }
        };
        let peer = Message::Peer {
            sender_id: PeerId("fake-server".into()),
            target_id: client,
            metadata: PeerMetadata {
                storage_id: Some(StorageId::random()),
                is_ephemeral: false,
            },
            selected_protocol_version: "1".into(),
            heartbeat: false,
        };
        ws.send(Ws::Binary(peer.encode().into())).await.unwrap();
        if answer_pings {
            while let Some(Ok(_)) = ws.next().await {}
        } else {
            // Hold the socket without ever reading it again, until the test ends.
            std::future::pending::<()>().await;
            drop(ws);
        }
    });
    (url, task)
}

#[tokio::test]
async fn a_silent_server_is_given_up_after_the_heartbeat_timeout() {
    let policy = Policy::default();
    let (url, server) = fake_server(false).await;
    let c = Client::new(Some(StorageId::random()));
    c.connect(&url).await.unwrap();
    let joined = Instant::now();
    assert!(c.is_connected());
    let reason = c.wait_disconnected(T).await.unwrap();
    let after = joined.elapsed();
    assert!(reason.contains("no traffic"), "{reason}");
    assert!(!c.is_connected());
    let dead_after = Duration::from_millis(policy.dead_after);
    assert!(
        after >= dead_after - Duration::from_millis(100),
        "given up after {after:?}, before the timeout"
    );
    assert!(
        after <= dead_after + Duration::from_millis(1_000),
        "given up only after {after:?}"
    );
    server.abort();
}

#[tokio::test]
async fn an_idle_connection_to_a_server_that_answers_pings_stays_open() {
    let (url, server) = fake_server(true).await;
    let c = Client::new(Some(StorageId::random()));
    // Short timings so the test spans many heartbeat periods quickly.
    c.set_heartbeat_policy(Policy {
        ping_after: 100,
        dead_after: 300,
        ..Policy::default()
    });
    c.connect(&url).await.unwrap();
    // Ten dead-after periods with no application traffic at all: only Ping/Pong.
    let outcome = c.wait_disconnected(Duration::from_millis(3_000)).await;
    assert!(outcome.is_err(), "connection dropped: {outcome:?}");
    assert!(c.is_connected());
    server.abort();
}
