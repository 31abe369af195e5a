//! The client's side of the sign-in API, against a tiny real server (a TCP listener, with TLS
//! where it matters) that answers canned HTTP/1.1: this checks the client's requests and its
//! reading of answers, not the Fieldbook server (tests of that live with the server).

use std::sync::Arc;

use fieldbook_sync::{Message, PeerId, PeerMetadata, StorageId};
use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message as Ws;

use super::*;
use crate::{Client, ClientError};

const PASSWORD: &str = "correct-horse-battery-staple";
const TOKEN: &str = "tok_Q2hhcmxpZSBCcm93bg-7f3a";

fn caseload_id() -> DocumentId {
    DocumentId::from_bytes([7; 16])
}

fn session_json() -> String {
    format!(
        r#"{{"user":{{"id":"u-1","username":"amara.okafor","display_name":"Amara Okafor",
        "role":"practitioner","agency":"Northshire Council","team":"north-cce"}},
        "device":{{"id":"d-9","name":"laptop"}},"caseload":"{}","expires_at":1790000000000}}"#,
        caseload_id()
    )
}

/// An HTTP/1.1 response with a JSON body and the given extra header lines.
fn response(status: &str, headers: &[&str], body: &str) -> String {
    let mut r = format!("HTTP/1.1 {status}\r\n");
    for h in headers {
        r.push_str(h);
        r.push_str("\r\n");
    }
    r.push_str("Content-Type: application/json\r\nCache-Control: no-store\r\n");
    r.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    r
}

/// What the scripted server does with each connection it accepts, in order.
enum Step {
    /// Read one request, answer with these bytes, close.
    Http(String),
    /// Accept a WebSocket, answer the automerge-repo `join` with a `peer`.
    Sync,
}

/// The server's record of one connection: the raw HTTP request, or the WebSocket's URI.
type Seen = Vec<String>;

struct Server {
    addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<Seen>,
}

impl Server {
    async fn start(steps: Vec<Step>, tls: Option<tokio_rustls::TlsAcceptor>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut seen = Vec::new();
            for step in steps {
                let (tcp, _) = listener.accept().await.unwrap();
                let io: Box<dyn Io> = match &tls {
                    Some(acceptor) => Box::new(acceptor.accept(tcp).await.unwrap()),
                    None => Box::new(tcp),
                };
                seen.push(match step {
                    Step::Http(answer) => answer_http(io, &answer).await,
                    Step::Sync => answer_sync(io).await,
                });
            }
            seen
        });
        Server { addr, task }
    }

    fn url(&self, scheme: &str) -> String {
        format!("{scheme}://{}/sync", self.addr)
    }

    async fn requests(self) -> Seen {
        self.task.await.unwrap()
    }
}

async fn answer_http(mut io: Box<dyn Io>, answer: &str) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = io.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the client closed before a whole request");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = io.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the client closed before the whole body");
        buf.extend_from_slice(&chunk[..n]);
    }
    io.write_all(answer.as_bytes()).await.unwrap();
    io.shutdown().await.unwrap();
    String::from_utf8(buf).unwrap()
}

// The header callback's Result type is tungstenite's, not ours to shrink.
#[allow(clippy::result_large_err)]
async fn answer_sync(io: Box<dyn Io>) -> String {
    let mut uri = String::new();
    let mut ws = tokio_tungstenite::accept_hdr_async(
        io,
        |req: &tokio_tungstenite::tungstenite::handshake::server::Request, resp| {
            uri = req.uri().to_string();
            Ok(resp)
        },
    )
    .await
    .unwrap();
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
        sender_id: PeerId("canned-server".into()),
        target_id: client,
        metadata: PeerMetadata {
            storage_id: Some(StorageId::random()),
            is_ephemeral: false,
        },
        selected_protocol_version: "1".into(),
        heartbeat: false,
    };
    ws.send(Ws::Binary(peer.encode().into())).await.unwrap();
    // Serve until the client hangs up, so the test sees it connected.
    while let Some(Ok(_)) = ws.next().await {}
    uri
}

fn signed_in_ok() -> Step {
    Step::Http(response(
        "200 OK",
        &[
            "Set-Cookie: theme=dark; Path=/",
            &format!(
                "Set-Cookie: {SESSION_COOKIE}={TOKEN}; HttpOnly; SameSite=Strict; Path=/; Max-Age=1209600"
            ),
        ],
        &session_json(),
    ))
}

fn ticket_ok(ticket: &str) -> Step {
    Step::Http(response(
        "200 OK",
        &[],
        &format!(r#"{{"ticket":"{ticket}","expires_in_secs":60}}"#),
    ))
}

async fn sign_in_against(step: Step) -> (Result<SignedIn, AuthError>, String) {
    let server = Server::start(vec![step], None).await;
    let result = sign_in(&server.url("ws"), "amara.okafor", PASSWORD, "laptop").await;
    let seen = server.requests().await;
    (result, seen.into_iter().next().unwrap())
}

/// Nothing secret in what an error shows.
fn assert_no_secrets(e: &AuthError) {
    for text in [e.to_string(), format!("{e:?}")] {
        assert!(!text.contains(PASSWORD), "password shown: {text}");
        assert!(!text.contains(TOKEN), "session token shown: {text}");
    }
}

#[test]
fn the_http_base_follows_from_the_sync_url() {
    let base = |u: &str| http_base(u).map(|b| b.to_string());
    assert_eq!(
        base("ws://127.0.0.1:8080/sync").unwrap(),
        "http://127.0.0.1:8080/"
    );
    assert_eq!(
        base("wss://fieldbook.example.org/sync").unwrap(),
        "https://fieldbook.example.org/"
    );
    assert_eq!(
        base("wss://h.example:8443/sync?x=1").unwrap(),
        "https://h.example:8443/"
    );
    assert_eq!(base("ws://[::1]:9000/sync").unwrap(), "http://[::1]:9000/");
    // A default port is the scheme's, in both worlds.
    assert_eq!(base("ws://h.example:80/sync").unwrap(), "http://h.example/");
    assert_eq!(
        base("http://h.example:8080/").unwrap(),
        "http://h.example:8080/"
    );
    for bad in [
        "ftp://h/sync",
        "not a url",
        "ws://:8080/sync",
        "file:///tmp/sync",
    ] {
        assert!(matches!(http_base(bad), Err(AuthError::BadUrl(_))), "{bad}");
    }
}

#[test]
fn the_ticket_goes_in_the_query_encoded_and_only_once() {
    assert_eq!(
        with_ticket("ws://h:1/sync", "a+b/c=="),
        "ws://h:1/sync?ticket=a%2Bb%2Fc%3D%3D"
    );
    assert_eq!(
        with_ticket("ws://h:1/sync?ticket=old&v=2", "new-one_x"),
        "ws://h:1/sync?v=2&ticket=new-one_x"
    );
}

#[test]
fn the_session_cookie_is_found_among_several_and_without_its_attributes() {
    let mut h = HeaderMap::new();
    assert_eq!(session_cookie(&h), None);
    h.append(header::SET_COOKIE, "theme=dark; Path=/".parse().unwrap());
    h.append(
        header::SET_COOKIE,
        "fieldbook_session_old=zzz; Path=/".parse().unwrap(),
    );
    assert_eq!(session_cookie(&h), None, "a longer name is another cookie");
    h.append(
        header::SET_COOKIE,
        format!(
            "fieldbook_session={TOKEN}; HttpOnly; SameSite=Strict; Path=/; Max-Age=1209600; Secure"
        )
        .parse()
        .unwrap(),
    );
    h.append(header::SET_COOKIE, "lang=en".parse().unwrap());
    assert_eq!(session_cookie(&h), Some(SessionCookie(TOKEN.into())));

    // The server clearing the cookie is not a session.
    let mut cleared = HeaderMap::new();
    cleared.append(
        header::SET_COOKIE,
        "fieldbook_session=; Path=/; Max-Age=0".parse().unwrap(),
    );
    assert_eq!(session_cookie(&cleared), None);
}

#[test]
fn the_session_body_is_read_with_optional_team_and_agency() {
    let s = parse_session(session_json().as_bytes()).unwrap();
    assert_eq!(s.user.id, "u-1");
    assert_eq!(s.user.display_name, "Amara Okafor");
    assert_eq!(s.user.team.as_deref(), Some("north-cce"));
    assert_eq!(s.caseload, caseload_id());
    assert_eq!(s.expires_at, 1_790_000_000_000);

    // An administrator has no team; `automerge:` URLs are accepted for the index.
    let admin = format!(
        r#"{{"user":{{"id":"u-2","username":"root","display_name":"Rowan Hale","role":"administrator","team":null}},
        "device":{{"id":"d-1","name":"cli"}},"caseload":"{}","expires_at":1}}"#,
        caseload_id().to_url()
    );
    let s = parse_session(admin.as_bytes()).unwrap();
    assert_eq!(s.user.team, None);
    assert_eq!(s.user.agency, None);
    assert_eq!(s.user.role, "administrator");
    assert_eq!(s.caseload, caseload_id());

    let bad_id = session_json().replace(&caseload_id().to_string(), "not-a-document-id");
    let e = parse_session(bad_id.as_bytes()).err().unwrap();
    assert!(e.contains("caseload"), "{e}");
    assert!(parse_session(br#"{"user":{}}"#).is_err());
}

#[tokio::test]
async fn sign_in_sends_the_credentials_and_reads_the_session() {
    let server = Server::start(vec![signed_in_ok(), ticket_ok("t+/k=")], None).await;
    let addr = server.addr;
    let url = server.url("ws");
    let s = sign_in(&url, "amara.okafor", PASSWORD, "laptop")
        .await
        .unwrap();
    assert_eq!(s.base.as_str(), format!("http://{addr}/"));
    assert_eq!(s.user_id, "u-1");
    assert_eq!(s.username, "amara.okafor");
    assert_eq!(s.display_name, "Amara Okafor");
    assert_eq!(s.role, "practitioner");
    assert_eq!(s.agency.as_deref(), Some("Northshire Council"));
    assert_eq!(s.team.as_deref(), Some("north-cce"));
    assert_eq!(s.device_id, "d-9");
    assert_eq!(s.caseload, caseload_id());
    assert_eq!(s.expires_at, 1_790_000_000_000);

    let debug = format!("{s:?}");
    assert!(!debug.contains(TOKEN), "cookie in Debug: {debug}");
    assert!(debug.contains("<redacted>"), "{debug}");

    let ticket = s.ticket().await.unwrap();
    assert_eq!(ticket, "t+/k=");
    assert_eq!(
        s.sync_url_with_ticket(&url, &ticket),
        format!("{url}?ticket=t%2B%2Fk%3D")
    );

    let seen = server.requests().await;
    let (head, body) = seen[0].split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("POST /api/session HTTP/1.1\r\n"), "{head}");
    let head_lc = head.to_ascii_lowercase();
    assert!(head_lc.contains(&format!("\r\nhost: {addr}\r\n")), "{head}");
    assert!(
        head_lc.contains("\r\ncontent-type: application/json\r\n"),
        "{head}"
    );
    assert!(
        !head_lc.contains("cookie"),
        "no cookie before signing in: {head}"
    );
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"username": "amara.okafor", "password": PASSWORD, "device_name": "laptop"}),
        "no device_id for a new device"
    );
    assert!(
        seen[1].starts_with("POST /api/tickets HTTP/1.1\r\n"),
        "{}",
        seen[1]
    );
    assert!(
        seen[1].to_ascii_lowercase().contains(&format!(
            "\r\ncookie: fieldbook_session={}\r\n",
            TOKEN.to_ascii_lowercase()
        )),
        "{}",
        seen[1]
    );
}

#[tokio::test]
async fn a_known_device_sends_its_id() {
    let server = Server::start(vec![signed_in_ok()], None).await;
    Connector::new()
        .sign_in(
            &server.url("ws"),
            "amara.okafor",
            PASSWORD,
            "laptop",
            Some("d-9"),
        )
        .await
        .unwrap();
    let seen = server.requests().await;
    let body = seen[0].split_once("\r\n\r\n").unwrap().1;
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(json["device_id"], "d-9");
}

#[tokio::test]
async fn wrong_credentials_carry_the_servers_words_and_not_the_password() {
    let (r, _) = sign_in_against(Step::Http(response(
        "401 Unauthorized",
        &[],
        r#"{"error":"Enter a correct username and password"}"#,
    )))
    .await;
    let e = r.unwrap_err();
    match &e {
        AuthError::WrongCredentials { message } => {
            assert_eq!(message, "Enter a correct username and password")
        }
        other => panic!("expected WrongCredentials, got {other:?}"),
    }
    assert_no_secrets(&e);
}

#[tokio::test]
async fn throttling_reports_when_to_try_again() {
    let (r, _) = sign_in_against(Step::Http(response(
        "429 Too Many Requests",
        &["Retry-After: 30"],
        r#"{"error":"Too many attempts"}"#,
    )))
    .await;
    let e = r.unwrap_err();
    assert!(
        matches!(
            e,
            AuthError::Throttled {
                retry_after_secs: Some(30)
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("try again in 30 seconds"), "{e}");
    assert_no_secrets(&e);
}

#[tokio::test]
async fn a_refused_origin_is_forbidden() {
    let (r, _) = sign_in_against(Step::Http(response(
        "403 Forbidden",
        &[],
        r#"{"error":"Requests from another site are refused"}"#,
    )))
    .await;
    let e = r.unwrap_err();
    match &e {
        AuthError::Forbidden { message } => {
            assert_eq!(message, "Requests from another site are refused")
        }
        other => panic!("expected Forbidden, got {other:?}"),
    }
}

#[tokio::test]
async fn a_server_error_is_a_bad_response_with_its_status() {
    let (r, _) = sign_in_against(Step::Http(response(
        "500 Internal Server Error",
        &[],
        "{\"error\":\"The directory is\\u001b[31m unavailable\"}",
    )))
    .await;
    let e = r.unwrap_err();
    match &e {
        AuthError::BadResponse { status, reason, .. } => {
            assert_eq!(*status, Some(500));
            // Control characters from the network are not passed to a terminal.
            assert_eq!(reason, "The directory is [31m unavailable");
        }
        other => panic!("expected BadResponse, got {other:?}"),
    }
    assert!(e.to_string().contains("HTTP 500"), "{e}");
    assert_no_secrets(&e);
}

#[tokio::test]
async fn a_session_without_its_cookie_or_with_a_broken_body_is_a_bad_response() {
    let (r, _) = sign_in_against(Step::Http(response(
        "200 OK",
        &["Set-Cookie: theme=dark"],
        &session_json(),
    )))
    .await;
    let e = r.unwrap_err();
    assert!(
        matches!(&e, AuthError::BadResponse { reason, .. } if reason.contains("fieldbook_session")),
        "{e:?}"
    );

    let (r, _) = sign_in_against(Step::Http(response(
        "200 OK",
        &[&format!("Set-Cookie: {SESSION_COOKIE}={TOKEN}; Path=/")],
        "<html>a captive portal</html>",
    )))
    .await;
    let e = r.unwrap_err();
    assert!(
        matches!(
            e,
            AuthError::BadResponse {
                status: Some(200),
                ..
            }
        ),
        "{e:?}"
    );
    assert_no_secrets(&e);
}

#[tokio::test]
async fn an_ended_session_cannot_mint_tickets() {
    let server = Server::start(
        vec![
            signed_in_ok(),
            Step::Http(response(
                "401 Unauthorized",
                &[],
                r#"{"error":"Sign in again"}"#,
            )),
        ],
        None,
    )
    .await;
    let s = sign_in(&server.url("ws"), "amara.okafor", PASSWORD, "laptop")
        .await
        .unwrap();
    let e = s.ticket().await.unwrap_err();
    assert!(matches!(e, AuthError::SessionEnded), "{e:?}");
    assert_no_secrets(&e);
    server.requests().await;
}

#[tokio::test]
async fn a_closed_port_is_unreachable() {
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    let e = sign_in(
        &format!("ws://{addr}/sync"),
        "amara.okafor",
        PASSWORD,
        "laptop",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&e, AuthError::Unreachable { url, .. } if url == &format!("http://{addr}/api/session")),
        "{e:?}"
    );
    assert_no_secrets(&e);
}

#[tokio::test]
async fn a_server_that_never_answers_is_unreachable_after_the_timeout() {
    // The kernel completes the TCP handshake from the backlog; nobody ever reads.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/sync", listener.local_addr().unwrap());
    let e = Connector::new()
        .with_timeout(Duration::from_millis(300))
        .sign_in(&url, "amara.okafor", PASSWORD, "laptop", None)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, AuthError::Unreachable { reason, .. } if reason.contains("no answer within")),
        "{e:?}"
    );
    drop(listener);
}

#[test]
fn a_ca_file_must_hold_a_certificate() {
    let e = Connector::with_ca_pem(b"").unwrap_err();
    assert!(
        matches!(&e, AuthError::Tls(m) if m.contains("no certificate")),
        "{e:?}"
    );
    let e =
        Connector::with_ca_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
            .unwrap_err();
    assert!(matches!(e, AuthError::Tls(_)), "{e:?}");
}

/// A private CA and a certificate it issued for `localhost` (as an organisation's own CA would).
fn private_ca() -> (String, tokio_rustls::TlsAcceptor) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Northshire Test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .unwrap();
    (
        ca_cert.pem(),
        tokio_rustls::TlsAcceptor::from(Arc::new(server)),
    )
}

#[tokio::test]
async fn over_tls_a_private_ca_is_trusted_only_when_given() {
    let (ca_pem, acceptor) = private_ca();

    // Without the CA the handshake fails (the server sees a failed accept: no steps).
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let refusing = tokio::spawn({
        let acceptor = acceptor.clone();
        async move {
            let (tcp, _) = listener.accept().await.unwrap();
            acceptor.accept(tcp).await.is_err()
        }
    });
    let e = sign_in(
        &format!("wss://localhost:{port}/sync"),
        "amara.okafor",
        PASSWORD,
        "laptop",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&e, AuthError::Unreachable { reason, .. } if reason.contains("TLS")),
        "{e:?}"
    );
    assert!(refusing.await.unwrap(), "the server saw the handshake fail");

    // With it: sign in, mint a ticket and open the sync socket, all over TLS.
    let server = Server::start(
        vec![signed_in_ok(), ticket_ok("tls-ticket"), Step::Sync],
        Some(acceptor),
    )
    .await;
    let sync_url = format!("wss://localhost:{}/sync", server.addr.port());
    let s = Connector::with_ca_pem(ca_pem.as_bytes())
        .unwrap()
        .sign_in(&sync_url, "amara.okafor", PASSWORD, "laptop", None)
        .await
        .unwrap();
    assert_eq!(
        s.base.as_str(),
        format!("https://localhost:{}/", server.addr.port())
    );
    let client = Client::new(Some(StorageId::random()));
    client.connect_signed_in(&sync_url, &s).await.unwrap();
    assert!(client.is_connected());
    client.disconnect();
    let seen = server.requests().await;
    assert_eq!(seen[2], "/sync?ticket=tls-ticket");
}

#[tokio::test]
async fn connecting_signed_in_uses_a_fresh_ticket_and_never_shows_it() {
    let server = Server::start(
        vec![
            signed_in_ok(),
            ticket_ok("first-ticket"),
            Step::Sync,
            ticket_ok("second-ticket"),
        ],
        None,
    )
    .await;
    let sync_url = server.url("ws");
    let s = sign_in(&sync_url, "amara.okafor", PASSWORD, "laptop")
        .await
        .unwrap();
    let client = Client::new(Some(StorageId::random()));
    client.connect_signed_in(&sync_url, &s).await.unwrap();
    assert!(client.is_connected());
    client.disconnect();

    // Connecting again mints another ticket. This socket is refused with 401, as a server
    // refuses a used or expired ticket: the error says so without showing the ticket.
    let refusing = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let refusing_url = format!("ws://{}/sync", refusing.local_addr().unwrap());
    let answer = tokio::spawn(async move {
        let (tcp, _) = refusing.accept().await.unwrap();
        answer_http(
            Box::new(tcp),
            &response("401 Unauthorized", &[], r#"{"error":"Sign in again"}"#),
        )
        .await
    });
    let e = client
        .connect_signed_in(&refusing_url, &s)
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Connect { .. }), "{e:?}");
    for text in [e.to_string(), format!("{e:?}")] {
        assert!(!text.contains("second-ticket"), "ticket shown: {text}");
        assert!(text.contains("401"), "{text}");
    }
    let upgrade = answer.await.unwrap();
    assert!(
        upgrade.starts_with("GET /sync?ticket=second-ticket HTTP/1.1\r\n"),
        "{upgrade}"
    );

    let seen = server.requests().await;
    assert_eq!(seen[2], "/sync?ticket=first-ticket");
    assert!(seen[3].starts_with("POST /api/tickets "), "{}", seen[3]);
}
