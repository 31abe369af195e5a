//! The real server binary in a child process, watched from outside: its stderr, its memory
//! (from `/proc`), `/healthz`, and raw WebSocket clients that can misbehave.
#![allow(dead_code)] // each test binary uses a different part

pub mod pg;

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fieldbook_native_client::Client;
use fieldbook_sync::automerge::{transaction::Transactable, ObjType, ReadDoc, ROOT};
use fieldbook_sync::{DocumentId, Message, PeerId, PeerMetadata, StorageId};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message as Ws;

pub const T: Duration = Duration::from_secs(20);
/// A bystander's change must be acknowledged within this, whatever an attacker does.
pub const ROUND_TRIP_BOUND: Duration = Duration::from_secs(1);
/// Peak server memory allowed under any attack.
pub const RSS_BOUND_KB: u64 = 300 * 1024;
/// Address space the server may reserve: far above the RSS bound (thread stacks and malloc
/// arenas reserve much more than they touch), low enough that an attack the server fails to
/// stop cannot take the whole test machine with it.
const ADDRESS_SPACE_KB: u64 = 4 * 1024 * 1024;

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct ServerProcess {
    pub child: Child,
    pub pid: u32,
    pub addr: String,
    pub sync_url: String,
    /// Every stderr line so far; the watch ticks on each new line.
    stderr: Arc<Mutex<Vec<String>>>,
    lines: watch::Receiver<usize>,
    pub dir: tempfile::TempDir,
    /// Session cookie of the demo practitioner every connection signs in as.
    pub cookie: String,
    /// The PostgreSQL database it keeps everything in (`None`: SQLite in `dir`).
    pub database_url: Option<String>,
}

/// A raw HTTP/1.1 response.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    /// `name=value` of the session cookie this response sets.
    pub fn session_cookie(&self) -> Option<String> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .find_map(|(_, v)| {
                v.split(';')
                    .next()
                    .filter(|kv| kv.starts_with("fieldbook_session="))
            })
            .map(str::to_owned)
    }
}

/// One HTTP/1.1 request to `addr` over a fresh TCP connection.
pub async fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> HttpResponse {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body.unwrap_or_default());
    s.write_all(req.as_bytes()).await.unwrap();
    let mut resp = Vec::new();
    tokio::time::timeout(T, s.read_to_end(&mut resp))
        .await
        .expect("HTTP answer in time")
        .unwrap();
    let text = String::from_utf8_lossy(&resp).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    HttpResponse {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// Sign in over HTTP; the whole response (cookie in `Set-Cookie`).
pub async fn sign_in(addr: &str, username: &str, password: &str) -> HttpResponse {
    let body = serde_json::json!({
        "username": username,
        "password": password,
        "device_name": "test device",
    })
    .to_string();
    http(addr, "POST", "/api/session", &[], Some(&body)).await
}

/// A fresh single-use sync ticket for the session `cookie`.
pub async fn ticket(addr: &str, cookie: &str) -> String {
    let r = http(addr, "POST", "/api/tickets", &[("Cookie", cookie)], None).await;
    assert_eq!(r.status, 200, "minting a ticket: {r:?}");
    r.json()["ticket"].as_str().expect("ticket").to_owned()
}

/// A demo person signed in over HTTP: their session cookie, caseload index and device.
pub struct Person {
    pub cookie: String,
    pub caseload: DocumentId,
    pub device: String,
}

/// Sign the demo person `username` in on the server at `addr`.
pub async fn demo_person(addr: &str, username: &str) -> Person {
    let password = fieldbook_sync_server::demo::USERS
        .iter()
        .find(|u| u.username == username)
        .unwrap_or_else(|| panic!("{username} is not a demo person"))
        .password;
    let r = sign_in(addr, username, password).await;
    assert_eq!(r.status, 200, "{r:?}");
    let body = r.json();
    Person {
        cookie: r.session_cookie().expect("session cookie"),
        caseload: body["caseload"].as_str().unwrap().parse().unwrap(),
        device: body["device"]["id"].as_str().unwrap().to_owned(),
    }
}

/// `sync_url` with a fresh ticket for `p`'s session.
pub async fn ticket_url(sync_url: &str, addr: &str, p: &Person) -> String {
    format!("{sync_url}?ticket={}", ticket(addr, &p.cookie).await)
}

/// The demo practitioner every `ServerProcess` connection signs in as.
pub const DEMO_USER: (&str, &str) = ("demo-ayo", "demo-only-ayo-password");

impl ServerProcess {
    /// Start the binary on port 0 with a fresh data directory and `FIELDBOOK_*` settings.
    pub async fn start(env: &[(&str, &str)]) -> ServerProcess {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!(
                "ulimit -v {ADDRESS_SPACE_KB} && exec \"$0\" \"$@\""
            ))
            .arg(env!("CARGO_BIN_EXE_fieldbook-sync-server"))
            .args(["--listen", "127.0.0.1:0", "--demo", "--data-dir"])
            .arg(dir.path())
            .env("FIELDBOOK_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        // The same tests on PostgreSQL when the test command asks (`pg::on_postgres`): one
        // database per data directory, which `admin_command` finds again.
        let database_url = match env.iter().find(|(k, _)| *k == "FIELDBOOK_DATABASE_URL") {
            Some((_, url)) => {
                DATABASES
                    .lock()
                    .unwrap()
                    .insert(dir.path().to_path_buf(), (*url).to_owned());
                Some((*url).to_owned())
            }
            None => database_for(dir.path()),
        };
        if let Some(url) = &database_url {
            cmd.env("FIELDBOOK_DATABASE_URL", url);
        }
        let mut child = cmd.spawn().expect("server binary starts");
        let pid = child.id().unwrap();
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (tick, lines) = watch::channel(0);
        let mut err = BufReader::new(child.stderr.take().unwrap()).lines();
        let sink = stderr.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = err.next_line().await {
                let mut s = sink.lock().unwrap();
                s.push(line);
                let _ = tick.send(s.len());
            }
        });
        let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(T, out.next_line())
            .await
            .expect("server printed its address in time")
            .unwrap()
            .unwrap_or_else(|| panic!("server exited: {:?}", stderr.lock().unwrap()));
        let sync_url = line
            .split("sync endpoint ")
            .nth(1)
            .and_then(|s| s.strip_suffix(')'))
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        let addr = sync_url
            .trim_start_matches("ws://")
            .trim_end_matches("/sync")
            .to_owned();
        let signed_in = sign_in(&addr, DEMO_USER.0, DEMO_USER.1).await;
        let cookie = signed_in
            .session_cookie()
            .unwrap_or_else(|| panic!("demo sign-in failed: {signed_in:?}"));
        ServerProcess {
            child,
            pid,
            addr,
            sync_url,
            stderr,
            lines,
            dir,
            cookie,
            database_url,
        }
    }

    /// The sync URL with a fresh ticket for the demo practitioner.
    pub async fn ticket_url(&self) -> String {
        format!(
            "{}?ticket={}",
            self.sync_url,
            ticket(&self.addr, &self.cookie).await
        )
    }

    pub fn stderr(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// Wait until a stderr line contains `needle`.
    pub async fn wait_for_log(&self, needle: &str, timeout: Duration) -> String {
        let mut lines = self.lines.clone();
        let found = tokio::time::timeout(timeout, async {
            loop {
                if let Some(l) = self.stderr().into_iter().find(|l| l.contains(needle)) {
                    return l;
                }
                if lines.changed().await.is_err() {
                    // stderr closed: the process is gone.
                    return self
                        .stderr()
                        .into_iter()
                        .find(|l| l.contains(needle))
                        .unwrap_or_default();
                }
            }
        })
        .await;
        match found {
            Ok(l) if !l.is_empty() => l,
            _ => panic!(
                "no log line with {needle:?} within {timeout:?}; stderr: {:#?}",
                self.stderr()
            ),
        }
    }

    /// (VmRSS, VmHWM) in kB. VmHWM is the peak resident size since the process started.
    pub fn memory_kb(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .unwrap_or_else(|e| panic!("server process is gone ({e}): {:#?}", self.stderr()));
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| {
                    v.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .unwrap()
                })
                .unwrap_or_else(|| panic!("{name} missing from /proc status"))
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// Status code of `GET path`.
    pub async fn get(&self, path: &str) -> u16 {
        let mut s = tokio::net::TcpStream::connect(&self.addr).await.unwrap();
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
        let mut resp = Vec::new();
        tokio::time::timeout(T, s.read_to_end(&mut resp))
            .await
            .expect("HTTP answer in time")
            .unwrap();
        let text = String::from_utf8_lossy(&resp);
        text.split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"))
    }

    /// Upgrade to a WebSocket (signed in), or the HTTP status the server refused with.
    pub async fn try_connect(&self) -> Result<Socket, u16> {
        self.try_connect_to(&self.ticket_url().await).await
    }

    /// Upgrade at exactly `url` (with or without a ticket).
    pub async fn try_connect_to(&self, url: &str) -> Result<Socket, u16> {
        match tokio_tungstenite::connect_async(url).await {
            Ok((ws, _)) => Ok(ws),
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
            Err(e) => panic!("connecting failed unexpectedly: {e}"),
        }
    }

    pub async fn raw(&self) -> Socket {
        self.try_connect().await.expect("upgrade accepted")
    }

    /// A raw connection past the handshake; returns the server's peer id.
    pub async fn joined(&self, me: &PeerId) -> (Socket, PeerId) {
        let mut ws = self.raw().await;
        send(&mut ws, &join(me)).await;
        match next_message(&mut ws).await {
            Some(Message::Peer { sender_id, .. }) => (ws, sender_id),
            other => panic!("expected peer, got {other:?}"),
        }
    }

    /// Everyone else is still served: the bystander's round trip is fast, memory stayed
    /// under the bound, and `/healthz` answers 200.
    pub async fn assert_serving(&self, bystander: &Bystander, label: &str) {
        let rtt = bystander.round_trip(label).await;
        assert!(
            rtt < ROUND_TRIP_BOUND,
            "{label}: bystander round trip {rtt:?} over {ROUND_TRIP_BOUND:?}"
        );
        let (rss, peak) = self.memory_kb();
        assert!(
            peak < RSS_BOUND_KB,
            "{label}: server peak RSS {peak} kB over {RSS_BOUND_KB} kB"
        );
        assert_eq!(self.get("/healthz").await, 200, "{label}: /healthz");
        eprintln!(
            "{label}: bystander round trip {rtt:?}, server RSS {} MB (peak {} MB)",
            rss / 1024,
            peak / 1024
        );
    }
}

pub fn join(me: &PeerId) -> Message {
    Message::Join {
        sender_id: me.clone(),
        metadata: PeerMetadata {
            storage_id: None,
            is_ephemeral: true,
        },
        supported_protocol_versions: vec!["1".into()],
    }
}

pub async fn send(ws: &mut Socket, msg: &Message) {
    ws.send(Ws::Binary(msg.encode().into())).await.unwrap();
}

/// The next protocol message, or None once the server has closed the connection.
pub async fn next_message(ws: &mut Socket) -> Option<Message> {
    // One deadline for the whole wait: Pings arriving meanwhile do not extend it.
    let deadline = tokio::time::Instant::now() + T;
    loop {
        match tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("server neither answered nor closed in time")
        {
            Some(Ok(Ws::Binary(b))) => {
                return Some(Message::decode(&b).expect("server sent a valid message"))
            }
            Some(Ok(Ws::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => continue,
        }
    }
}

/// The next binary frame as sent (None once closed).
pub async fn next_frame(ws: &mut Socket) -> Option<Vec<u8>> {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        match tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("server neither answered nor closed in time")
        {
            Some(Ok(Ws::Binary(b))) => return Some(b.to_vec()),
            Some(Ok(Ws::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => continue,
        }
    }
}

/// Read until the server closes; returns the text of any `error` it sent first.
pub async fn closed_by_server(ws: &mut Socket) -> Vec<String> {
    let mut errors = Vec::new();
    while let Some(m) = next_message(ws).await {
        if let Message::Error { message, .. } = m {
            errors.push(message);
        }
    }
    errors
}

/// A well-behaved client with a real case document, syncing through the attack.
pub struct Bystander {
    pub client: Client,
    pub doc: DocumentId,
}

impl Bystander {
    pub async fn join(server: &ServerProcess) -> Bystander {
        let client = Client::new(Some(StorageId::random()));
        client.connect(&server.ticket_url().await).await.unwrap();
        let doc = client
            .create(|tx| {
                tx.put(ROOT, "name", "Bystander Test Child")?;
                tx.put_object(ROOT, "notes", ObjType::List)?;
                Ok(())
            })
            .unwrap();
        client.wait_synced(doc, T).await.unwrap();
        Bystander { client, doc }
    }

    /// Add a note and wait for the server's acknowledgement (it is on disk).
    pub async fn round_trip(&self, label: &str) -> Duration {
        self.round_trip_with(label, "a short synthetic note").await
    }

    pub async fn round_trip_with(&self, label: &str, text: &str) -> Duration {
        let started = Instant::now();
        self.client
            .change(self.doc, |tx| {
                let notes = tx.get(ROOT, "notes")?.unwrap().1;
                let at = tx.length(&notes);
                tx.insert(&notes, at, text)?;
                Ok(())
            })
            .unwrap();
        self.client
            .wait_synced(self.doc, T)
            .await
            .unwrap_or_else(|e| panic!("{label}: bystander's change not acknowledged: {e}"));
        started.elapsed()
    }
}

/// The real server in this process on a fresh data directory with the invented `--demo`
/// accounts and cases, and a second handle on its directory.
pub struct World {
    pub server: fieldbook_sync_server::http::RunningServer,
    pub addr: String,
    pub dir: fieldbook_sync_server::accounts::Directory,
    pub data: tempfile::TempDir,
}

static DATABASES: std::sync::LazyLock<
    Mutex<std::collections::HashMap<std::path::PathBuf, String>>,
> = std::sync::LazyLock::new(Default::default);

/// The directory a server started with `config` uses (SQLite file or PostgreSQL), opened
/// alongside it as the admin CLI would.
pub fn directory(
    config: &fieldbook_sync_server::config::Config,
) -> fieldbook_sync_server::accounts::Directory {
    let pool = fieldbook_sync_server::pg::pool_for(config).unwrap();
    fieldbook_sync_server::accounts::open(config, pool.as_ref()).unwrap()
}

/// The PostgreSQL database of the data directory `dir` when the test command asks for
/// PostgreSQL (`pg::on_postgres`): one per directory, so a restart, the admin CLI or a second
/// handle on the same directory finds the same data. `None` on SQLite.
pub fn database_for(dir: &std::path::Path) -> Option<String> {
    pg::on_postgres().then(|| {
        DATABASES
            .lock()
            .unwrap()
            .entry(dir.to_path_buf())
            .or_insert_with(pg::fresh_database)
            .clone()
    })
}

/// A server's settings for `dir` (port 0, no demo data), on the back end the test command
/// asks for.
pub fn config(dir: &std::path::Path) -> fieldbook_sync_server::config::Config {
    fieldbook_sync_server::config::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.to_path_buf(),
        database_url: database_for(dir).map(fieldbook_sync_server::config::DatabaseUrl),
        ..Default::default()
    }
}

/// The settings [`World::start`] uses for `dir`: [`config`] with the invented demo data.
pub fn demo_config(dir: &std::path::Path) -> fieldbook_sync_server::config::Config {
    fieldbook_sync_server::config::Config {
        demo: true,
        ..config(dir)
    }
}

/// The PostgreSQL database a server on data directory `dir` was given, if any: a lookup
/// that never makes one (`None` on SQLite, and for a directory no server used).
pub fn known_database(dir: &std::path::Path) -> Option<String> {
    DATABASES.lock().unwrap().get(dir).cloned()
}

/// `fieldbook-sync-server admin --data-dir DIR` (arguments to follow) as an administrator
/// on the server's machine runs it: on the database of `dir` (`FIELDBOOK_DATABASE_URL` when
/// on PostgreSQL), never a data directory or database from the test's own environment.
pub fn admin_command(dir: &std::path::Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_fieldbook-sync-server"));
    cmd.env_remove("FIELDBOOK_DATA_DIR")
        .env_remove("FIELDBOOK_DATABASE_URL");
    if let Some(url) = database_for(dir) {
        cmd.env("FIELDBOOK_DATABASE_URL", url);
    }
    cmd.arg("admin").arg("--data-dir").arg(dir);
    cmd
}

/// The directory of the server on data directory `dir`, opened alongside it.
pub fn directory_at(dir: &std::path::Path) -> fieldbook_sync_server::accounts::Directory {
    directory(&config(dir))
}

/// The document store of the server on data directory `dir`, opened alongside it (a second
/// handle, as `admin` opens it) with the master key from the data directory.
pub async fn store_at(dir: &std::path::Path) -> fieldbook_sync_server::storage::ServerStore {
    fieldbook_sync_server::storage::open(&config(dir))
        .await
        .unwrap()
}

/// What someone holding the server's data reads: every byte of every file in `dir` (read
/// by `cat` in another process, so this process's SQLite locks stay), and on PostgreSQL
/// every value of every table of its database.
pub fn data_as_stolen(dir: &std::path::Path) -> Vec<u8> {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("cat \"$0\"/* 2>/dev/null; true")
        .arg(dir)
        .output()
        .unwrap();
    let mut bytes = out.stdout;
    if let Some(url) = known_database(dir) {
        bytes.extend(pg::every_value(&url));
    }
    bytes
}

impl World {
    pub async fn start() -> World {
        World::start_in(tempfile::tempdir().unwrap(), demo_config).await
    }

    /// Start (or restart) on `data` with the settings `cfg` gives for it.
    pub async fn start_in(
        data: tempfile::TempDir,
        cfg: impl Fn(&std::path::Path) -> fieldbook_sync_server::config::Config,
    ) -> World {
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter(std::env::var("TEST_LOG").unwrap_or("info".into()))
            .try_init();
        let server = fieldbook_sync_server::http::start(&cfg(data.path()))
            .await
            .unwrap();
        let addr = server.addr.to_string();
        let dir = directory(&cfg(data.path()));
        World {
            server,
            addr,
            dir,
            data,
        }
    }

    /// The demo person `username`, signed in over HTTP.
    pub async fn person(&self, username: &str) -> Person {
        demo_person(&self.addr, username).await
    }

    /// Connect `c` as `p` (with a fresh ticket).
    pub async fn connect(&self, p: &Person, c: &Client) {
        let url = ticket_url(&self.server.sync_url(), &self.addr, p).await;
        c.connect(&url).await.expect("connect");
    }

    /// A new device of `p`'s, connected.
    pub async fn device(&self, p: &Person) -> Client {
        let c = Client::new(Some(StorageId::random()));
        self.connect(p, &c).await;
        c
    }
}

/// A client with a storage id of its own, connected to `server` (no sign-in: the
/// `start_without_sign_in` family).
pub async fn client(server: &fieldbook_sync_server::http::RunningServer) -> Client {
    let c = Client::new(Some(StorageId::random()));
    c.connect(&server.sync_url()).await.expect("connect");
    c
}

/// A new case document named `name` with an empty list of notes.
pub fn new_case(c: &Client, name: &str) -> DocumentId {
    c.create(|tx| {
        tx.put(ROOT, "name", name)?;
        tx.put_object(ROOT, "notes", ObjType::List)?;
        Ok(())
    })
    .unwrap()
}

/// Append the note `text` to `doc`'s list of notes.
pub fn add_note(c: &Client, doc: DocumentId, text: &str) {
    c.change(doc, |tx| {
        let notes = tx.get(ROOT, "notes")?.expect("notes list").1;
        let n = tx.length(&notes);
        tx.insert(&notes, n, text)?;
        Ok(())
    })
    .unwrap()
}

/// The notes of a case document, in list order.
pub fn notes(d: &fieldbook_sync::automerge::Automerge) -> Vec<String> {
    use fieldbook_sync::automerge::{ScalarValue, Value};
    let notes = d.get(ROOT, "notes").unwrap().expect("notes list").1;
    (0..d.length(&notes))
        .map(|i| match d.get(&notes, i).unwrap().unwrap().0 {
            Value::Scalar(s) => match s.as_ref() {
                ScalarValue::Str(s) => s.to_string(),
                other => panic!("unexpected {other:?}"),
            },
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}
