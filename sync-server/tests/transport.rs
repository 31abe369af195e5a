//! The port as the network sees it: security headers on every response, HTTPS and WSS with a
//! real certificate (rcgen, self-signed) and a real rustls client, handshakes that cannot
//! hold each other up, and the settings the server refuses to start with.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fieldbook_sync::{Message, PeerId, PeerMetadata};
use fieldbook_sync_server::config::Config;
use fieldbook_sync_server::http::{start, RunningServer};
use fieldbook_sync_server::transport::{
    CONTENT_SECURITY_POLICY, HANDSHAKE_TIMEOUT, STRICT_TRANSPORT_SECURITY,
};
use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as Ws;

const T: Duration = Duration::from_secs(20);

/// Headers every response must carry, with their exact values.
const ALWAYS: [(&str, &str); 5] = [
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    (
        "permissions-policy",
        "camera=(), microphone=(), geolocation=()",
    ),
];

fn config(dir: &Path) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.join("data"),
        ..Config::default()
    }
}

/// Create a throwaway account with one device in `dir`'s store, before the server starts
/// (so its access model knows them): `/sync` is behind sign-in.
fn prepare_account(dir: &Path) {
    use fieldbook_sync_server::accounts::{Directory, NewUser, Password, Role};
    let d = Directory::open(&config(dir).database_path()).unwrap();
    let now = fieldbook_sync_server::api::now_ms();
    let user = d
        .add_user(
            NewUser {
                username: "transport-test".into(),
                display_name: "Transport Test (invented)".into(),
                role: Role::Practitioner,
                agency: "Invented Council".into(),
                team: None,
                password: Password::new("a-long-enough-password".into()),
            },
            now,
        )
        .unwrap();
    d.register_device(&user.id, "transport test", None, now)
        .unwrap();
}

/// A fresh single-use sync ticket for the account `prepare_account` made.
fn ticket(dir: &Path) -> String {
    use fieldbook_sync_server::accounts::Directory;
    let d = Directory::open(&config(dir).database_path()).unwrap();
    let now = fieldbook_sync_server::api::now_ms();
    let user = d.user_by_username("transport-test").unwrap().unwrap();
    let device = d.devices(Some(&user.id)).unwrap().remove(0);
    let (_, session) = d
        .create_session(&user.id, &device.id, now, 3_600_000)
        .unwrap();
    d.mint_ticket(&session, now, 60_000)
        .unwrap()
        .expose()
        .to_owned()
}

/// A self-signed certificate for `localhost`, written as PEM files in `dir`.
struct TestCert {
    cert: PathBuf,
    key: PathBuf,
    der: CertificateDer<'static>,
}

fn self_signed(dir: &Path, name: &str) -> TestCert {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = dir.join(format!("{name}-cert.pem"));
    let key = dir.join(format!("{name}-key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    TestCert {
        cert,
        key,
        der: made.cert.der().clone(),
    }
}

fn tls_config(dir: &Path, cert: &TestCert) -> Config {
    Config {
        tls_cert: Some(cert.cert.clone()),
        tls_key: Some(cert.key.clone()),
        ..config(dir)
    }
}

/// A rustls client that trusts only `cert`, through the ring provider.
fn connector(cert: &TestCert) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(client))
}

async fn tls_connect(
    server: &RunningServer,
    cert: &TestCert,
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    tokio::time::timeout(T, connector(cert).connect(name, tcp))
        .await
        .expect("TLS handshake in time")
        .expect("TLS handshake succeeds with the trusted certificate")
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn assert_security_headers(&self, what: &str, hsts: bool) {
        for (name, value) in ALWAYS {
            assert_eq!(self.header(name), Some(value), "{what}: {name}");
        }
        let want = hsts.then_some(STRICT_TRANSPORT_SECURITY);
        assert_eq!(
            self.header("strict-transport-security"),
            want,
            "{what}: HSTS"
        );
    }
}

/// One HTTP/1.1 request on `io`; reads the status line and headers.
async fn request<S: AsyncRead + AsyncWrite + Unpin>(io: S, method: &str, path: &str) -> Response {
    let mut io = BufReader::new(io);
    io.write_all(
        format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    io.flush().await.unwrap();
    let read = async {
        let mut line = String::new();
        io.read_line(&mut line).await.unwrap();
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP response: {line:?}"));
        let mut headers = Vec::new();
        loop {
            line.clear();
            io.read_line(&mut line).await.unwrap();
            let Some((name, value)) = line.trim_end().split_once(':') else {
                break;
            };
            headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
        }
        Response { status, headers }
    };
    tokio::time::timeout(T, read)
        .await
        .expect("HTTP answer in time")
}

async fn http(server: &RunningServer, method: &str, path: &str) -> Response {
    request(TcpStream::connect(server.addr).await.unwrap(), method, path).await
}

async fn https(server: &RunningServer, cert: &TestCert, path: &str) -> Response {
    request(tls_connect(server, cert).await, "GET", path).await
}

/// A built app directory with no inline script (as scripts/post-build.sh leaves it).
fn app_dir(dir: &Path) -> PathBuf {
    let app = dir.join("app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(
        app.join("index.html"),
        "<!doctype html><title>Fieldbook</title><script type=\"module\" src=\"/boot.js\"></script>",
    )
    .unwrap();
    std::fs::write(app.join("boot.js"), "console.log('invented')").unwrap();
    app
}

#[tokio::test]
async fn every_response_carries_the_security_headers_and_no_hsts_over_plain_http() {
    let dir = tempfile::tempdir().unwrap();
    let with_app = start(&Config {
        static_dir: Some(app_dir(dir.path())),
        ..config(dir.path())
    })
    .await
    .unwrap();
    assert!(with_app.url().starts_with("http://"));
    assert!(with_app.sync_url().starts_with("ws://"));
    for (method, path, status) in [
        ("GET", "/", 200),
        ("GET", "/boot.js", 200),
        ("GET", "/healthz", 200),
        ("GET", "/some/client/route", 200), // the app's index, for client-side routes
        ("POST", "/healthz", 405),
        ("GET", "/sync", 400), // not a WebSocket upgrade
    ] {
        let r = http(&with_app, method, path).await;
        assert_eq!(r.status, status, "{method} {path}");
        r.assert_security_headers(&format!("{method} {path}"), false);
    }
    with_app.shutdown().await.unwrap();

    // Without an app, unknown paths are the router's own 404.
    let bare_dir = tempfile::tempdir().unwrap();
    let bare = start(&config(bare_dir.path())).await.unwrap();
    let r = http(&bare, "GET", "/nothing-here").await;
    assert_eq!(r.status, 404);
    r.assert_security_headers("404", false);
    bare.shutdown().await.unwrap();
}

#[tokio::test]
async fn behind_a_tls_proxy_plain_http_responses_carry_hsts() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&Config {
        behind_tls_proxy: true,
        ..config(dir.path())
    })
    .await
    .unwrap();
    // The proxy speaks HTTPS to browsers; the server itself still speaks plain HTTP.
    assert!(server.url().starts_with("http://"));
    for path in ["/healthz", "/nothing-here"] {
        http(&server, "GET", path)
            .await
            .assert_security_headers(path, true);
    }
    server.shutdown().await.unwrap();
}

fn join(me: &PeerId) -> Message {
    Message::Join {
        sender_id: me.clone(),
        metadata: PeerMetadata {
            storage_id: None,
            is_ephemeral: true,
        },
        supported_protocol_versions: vec!["1".into()],
    }
}

#[tokio::test]
async fn https_and_wss_with_a_real_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert = self_signed(dir.path(), "server");
    prepare_account(dir.path());
    let server = start(&tls_config(dir.path(), &cert)).await.unwrap();
    let port = server.addr.port();
    assert_eq!(server.url(), format!("https://127.0.0.1:{port}/"));
    assert_eq!(server.sync_url(), format!("wss://127.0.0.1:{port}/sync"));

    let r = https(&server, &cert, "/healthz").await;
    assert_eq!(r.status, 200);
    r.assert_security_headers("/healthz over HTTPS", true);
    let r = https(&server, &cert, "/nothing-here").await;
    assert_eq!(r.status, 404);
    r.assert_security_headers("404 over HTTPS", true);

    // A client that does not trust the certificate is refused by its own TLS stack.
    let stranger = self_signed(dir.path(), "stranger");
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let refused = connector(&stranger)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await;
    assert!(refused.is_err(), "a certificate the client does not trust");

    // Plain HTTP to the TLS port gets no HTTP answer: the server only speaks TLS there.
    let mut plain = TcpStream::connect(server.addr).await.unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(T, plain.read_to_end(&mut answer))
        .await
        .expect("the server drops a plain-HTTP client");
    assert!(
        !answer.starts_with(b"HTTP/"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );

    // The sync endpoint over WSS, through the automerge-repo handshake.
    let tls = tls_connect(&server, &cert).await;
    let url = format!("wss://localhost:{port}/sync?ticket={}", ticket(dir.path()));
    let (mut ws, upgrade) = tokio::time::timeout(T, tokio_tungstenite::client_async(url, tls))
        .await
        .expect("upgrade in time")
        .expect("WebSocket upgrade over TLS");
    assert_eq!(
        upgrade
            .headers()
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok()),
        Some(CONTENT_SECURITY_POLICY)
    );
    let me = PeerId::random("transport-test");
    ws.send(Ws::Binary(join(&me).encode().into()))
        .await
        .unwrap();
    let answer = loop {
        match tokio::time::timeout(T, ws.next())
            .await
            .expect("server answers the join in time")
        {
            Some(Ok(Ws::Binary(b))) => break Message::decode(&b).unwrap(),
            Some(Ok(_)) => continue, // a Ping
            other => panic!("connection ended before the peer message: {other:?}"),
        }
    };
    match answer {
        Message::Peer {
            target_id,
            selected_protocol_version,
            ..
        } => {
            assert_eq!(target_id, me);
            assert_eq!(selected_protocol_version, "1");
        }
        other => panic!("expected peer, got {other:?}"),
    }
    ws.close(None).await.unwrap();
    server.shutdown().await.unwrap();
}

/// True while the server keeps `socket` open without sending anything on it.
fn still_open(socket: &TcpStream) -> bool {
    let mut buf = [0u8; 1];
    matches!(socket.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

#[tokio::test]
async fn clients_that_never_finish_the_handshake_do_not_hold_up_others() {
    let dir = tempfile::tempdir().unwrap();
    let cert = self_signed(dir.path(), "server");
    prepare_account(dir.path());
    let server = start(&tls_config(dir.path(), &cert)).await.unwrap();

    // Connected (so queued for accept ahead of the good client) and then silent: some send
    // nothing, one sends the first bytes of a TLS record and stops.
    let mut stalled = Vec::new();
    for _ in 0..3 {
        stalled.push(TcpStream::connect(server.addr).await.unwrap());
    }
    let mut partial = TcpStream::connect(server.addr).await.unwrap();
    partial.write_all(&[0x16, 0x03, 0x01, 0x02]).await.unwrap();
    stalled.push(partial);

    // Served while every stalled handshake is still pending: were handshakes done one after
    // another in the accept loop, this would wait for the first stalled one to time out.
    let r = https(&server, &cert, "/healthz").await;
    assert_eq!(r.status, 200);
    for (i, s) in stalled.iter().enumerate() {
        assert!(
            still_open(s),
            "stalled client {i} still pending when the good one was served"
        );
    }
    // And a WebSocket too.
    let tls = tls_connect(&server, &cert).await;
    let url = format!(
        "wss://localhost:{}/sync?ticket={}",
        server.addr.port(),
        ticket(dir.path())
    );
    let (mut ws, _) = tokio_tungstenite::client_async(url, tls).await.unwrap();
    ws.close(None).await.unwrap();

    // The stalled ones are dropped once the handshake timeout passes.
    let started = Instant::now();
    for mut s in stalled {
        let mut buf = Vec::new();
        let end = tokio::time::timeout(HANDSHAKE_TIMEOUT + T, s.read_to_end(&mut buf))
            .await
            .expect("the server drops a client that never completes the handshake");
        // A reset or an orderly close: either way, gone.
        if let Ok(n) = end {
            assert_eq!(n, 0, "nothing sent to a client that never said hello");
        }
    }
    assert!(started.elapsed() < HANDSHAKE_TIMEOUT + T);
    assert_eq!(https(&server, &cert, "/healthz").await.status, 200);
    server.shutdown().await.unwrap();
}

async fn refused(config: &Config) -> String {
    match start(config).await {
        Ok(_) => panic!("the server started with settings it should refuse"),
        Err(e) => format!("{e:#}"),
    }
}

#[tokio::test]
async fn settings_the_server_refuses_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cert = self_signed(d, "server");
    let other = self_signed(d, "other");

    let e = refused(&Config {
        listen: "0.0.0.0:0".parse().unwrap(),
        ..config(d)
    })
    .await;
    assert!(
        e.contains("refusing to serve plain HTTP on 0.0.0.0:0")
            && e.contains("--tls-cert FILE --tls-key FILE")
            && e.contains("--behind-tls-proxy")
            && e.contains("127.0.0.1"),
        "{e}"
    );
    // With TLS, any address will do.
    let open = start(&Config {
        listen: "0.0.0.0:0".parse().unwrap(),
        ..tls_config(d, &cert)
    })
    .await
    .expect("HTTPS on every interface");
    open.shutdown().await.unwrap();

    let e = refused(&Config {
        tls_key: None,
        ..tls_config(d, &cert)
    })
    .await;
    assert!(e.contains("tls_cert is set but tls_key is not"), "{e}");

    let garbage = d.join("garbage.pem");
    std::fs::write(&garbage, "this is not a certificate\n").unwrap();
    let e = refused(&Config {
        tls_cert: Some(garbage.clone()),
        ..tls_config(d, &cert)
    })
    .await;
    assert!(e.contains("holds no certificate"), "{e}");
    assert!(
        e.contains(&garbage.display().to_string()),
        "names the file: {e}"
    );

    let damaged = d.join("damaged.pem");
    std::fs::write(
        &damaged,
        "-----BEGIN CERTIFICATE-----\nnot*base64*at*all\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let e = refused(&Config {
        tls_cert: Some(damaged.clone()),
        ..tls_config(d, &cert)
    })
    .await;
    assert!(
        e.contains("is not valid PEM") && e.contains("base64"),
        "{e}"
    );

    // The certificate given as the key, and the key given as the certificate.
    let e = refused(&Config {
        tls_key: Some(cert.cert.clone()),
        ..tls_config(d, &cert)
    })
    .await;
    assert!(e.contains("holds no private key"), "{e}");
    let e = refused(&Config {
        tls_cert: Some(cert.key.clone()),
        ..tls_config(d, &cert)
    })
    .await;
    assert!(e.contains("holds no certificate"), "{e}");

    let e = refused(&Config {
        tls_key: Some(other.key.clone()),
        ..tls_config(d, &cert)
    })
    .await;
    assert!(e.contains("does not match the certificate"), "{e}");

    let missing = d.join("missing-key.pem");
    let e = refused(&Config {
        tls_key: Some(missing.clone()),
        ..tls_config(d, &cert)
    })
    .await;
    assert!(
        e.contains(&format!("cannot read tls_key file {}", missing.display())),
        "{e}"
    );
    // No key material in any message.
    let key_pem = std::fs::read_to_string(&other.key).unwrap();
    let key_line = key_pem.lines().nth(1).unwrap();
    assert!(!e.contains(key_line));
}

/// The binary, as an administrator runs it: flags, the printed line, and the refusal.
#[tokio::test]
async fn the_binary_prints_https_urls_and_refuses_plain_http_on_the_network() {
    let dir = tempfile::tempdir().unwrap();
    let cert = self_signed(dir.path(), "server");
    let bin = env!("CARGO_BIN_EXE_fieldbook-sync-server");

    let out = tokio::process::Command::new(bin)
        .args(["--listen", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .env("FIELDBOOK_LOG", "warn")
        .output();
    let out = tokio::time::timeout(T, out).await.unwrap().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refusing to serve plain HTTP on 0.0.0.0:0")
            && stderr.contains("--behind-tls-proxy"),
        "{stderr}"
    );

    let mut child = tokio::process::Command::new(bin)
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--tls-cert")
        .arg(&cert.cert)
        .arg("--tls-key")
        .arg(&cert.key)
        .env("FIELDBOOK_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(T, lines.next_line())
        .await
        .expect("startup line in time")
        .unwrap()
        .expect("the server printed its address");
    let rest = line
        .strip_prefix("Fieldbook is running at https://127.0.0.1:")
        .unwrap_or_else(|| panic!("{line}"));
    let (port, tail) = rest.split_once('/').unwrap();
    assert_eq!(
        tail,
        format!(" (sync endpoint wss://127.0.0.1:{port}/sync)"),
        "{line}"
    );
    child.kill().await.unwrap();
}
