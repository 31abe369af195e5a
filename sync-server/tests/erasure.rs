//! Issue 11 at the server's edge: an erased case stays erased (even against a stale device
//! offering it back), restriction of processing, the device policy in the session answer, a
//! revoked device being told so, and the device key. The real in-process server (on SQLite, or PostgreSQL when the test command asks)
//! with the invented `--demo` accounts (Ayo and Bea in North, Cal in South, Mo managing
//! both); erasure and restriction go through the real admin CLI binary, in another process,
//! while the server runs.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use fieldbook_case::{caseload, network};
use fieldbook_native_client::{Client, ClientError};
use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::ROOT;
use fieldbook_sync::{DocumentId, Store};
use fieldbook_sync_server::config::Config;
use fieldbook_sync_server::demo;
use fieldbook_sync_server::storage::SqliteStore;

#[path = "support/mod.rs"]
mod support;
use support::{demo_config, http, sign_in, Person, World, T};

fn config(dir: &Path) -> Config {
    demo_config(dir)
}

impl World {
    /// `admin --data-dir DIR <args>` as the real binary; expects success, returns stdout.
    fn admin(&self, args: &[&str]) -> String {
        let out = admin(self.data.path(), args);
        assert!(
            out.status.success(),
            "admin {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// The sealed bytes the server keeps for `docs`: every chunk and sync-state value and
    /// each wrapped document key (read raw, as someone with the files or the database would).
    fn sealed_bytes(&self, docs: &[DocumentId]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for doc in docs {
            let id = doc.to_string();
            let (rows, key) = match support::known_database(self.data.path()) {
                Some(url) => {
                    let rows = support::pg::bytes(
                        &url,
                        "SELECT data FROM store_chunks WHERE doc_id = $1 \
                         UNION ALL SELECT data FROM store_sync_states WHERE doc_id = $1",
                        std::slice::from_ref(&id),
                    );
                    let keys = support::pg::bytes(
                        &url,
                        "SELECT wrapped FROM store_doc_keys WHERE doc = $1",
                        std::slice::from_ref(&id),
                    );
                    (rows, keys.into_iter().next().expect("a wrapped key"))
                }
                None => sqlite_sealed_bytes(&config(self.data.path()).database_path(), &id),
            };
            assert!(!rows.is_empty(), "{id} is stored before");
            out.extend(rows);
            out.push(key);
        }
        out
    }

    /// Where the server's data (files of the data directory, and its PostgreSQL database)
    /// holds any 32-byte run of any of `values`.
    fn files_holding(&self, values: &[Vec<u8>]) -> Vec<String> {
        let wanted: std::collections::HashSet<&[u8]> =
            values.iter().flat_map(|v| v.windows(32)).collect();
        assert!(!wanted.is_empty());
        let mut hits = Vec::new();
        for entry in std::fs::read_dir(self.data.path()).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                // Read by another process: closing a descriptor of the file here would drop
                // this process's POSIX locks on it, which the in-process server's SQLite holds.
                let bytes = Command::new("cat").arg(&path).output().unwrap().stdout;
                if bytes.windows(32).any(|w| wanted.contains(w)) {
                    hits.push(path.display().to_string());
                }
            }
        }
        if let Some(url) = support::known_database(self.data.path()) {
            if support::pg::every_value(&url)
                .windows(32)
                .any(|w| wanted.contains(w))
            {
                hits.push("the PostgreSQL database".into());
            }
        }
        hits
    }

    /// Whether the server's store holds anything of `doc` (a second handle on it).
    async fn stored(&self, doc: DocumentId) -> bool {
        let store = support::store_at(self.data.path()).await;
        store.load(doc).await.unwrap().is_some()
    }
}

/// The sealed chunk and sync-state values of `id` in the SQLite store at `path`, and its
/// wrapped key from the keys file.
fn sqlite_sealed_bytes(path: &Path, id: &str) -> (Vec<Vec<u8>>, Vec<u8>) {
    // Read-only: a reader must not checkpoint or clean up the server's WAL on closing.
    let ro = |p: &Path| {
        rusqlite::Connection::open_with_flags(p, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap()
    };
    let (data, keys) = (ro(path), ro(&SqliteStore::keys_path(path)));
    let rows: Vec<Vec<u8>> = data
        .prepare("SELECT data FROM chunks WHERE doc_id = ?1 UNION ALL SELECT data FROM sync_states WHERE doc_id = ?1")
        .unwrap()
        .query_map([id], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = keys
        .query_row("SELECT wrapped FROM doc_keys WHERE doc = ?1", [id], |r| {
            r.get(0)
        })
        .unwrap();
    (rows, key)
}

fn admin(data: &Path, args: &[&str]) -> Output {
    support::admin_command(data)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

async fn person(w: &World, username: &str) -> Person {
    w.person(username).await
}

async fn connect(w: &World, p: &Person, c: &Client) {
    w.connect(p, c).await
}

async fn device(w: &World, p: &Person) -> Client {
    w.device(p).await
}

/// `p`'s caseload index as `c` holds it, once `pred` holds for it.
async fn index_when(
    c: &Client,
    p: &Person,
    what: &str,
    pred: impl Fn(&fieldbook_sync::automerge::Automerge) -> bool,
) -> fieldbook_sync::automerge::Automerge {
    c.find(p.caseload, T).await.expect("caseload index");
    c.wait_for_document(p.caseload, T, pred)
        .await
        .unwrap_or_else(|_| panic!("the caseload index never {what}"))
}

fn unavailable(r: Result<fieldbook_sync::automerge::Automerge, ClientError>) -> bool {
    matches!(r, Err(ClientError::Unavailable(_)))
}

/// A round trip through the actor: a fresh case, changed twice, each acknowledged. Once
/// the second change is acknowledged the actor has also finished the work that followed
/// the batch the first one was in (it handles commands one batch after another).
async fn round_trip(c: &Client) -> DocumentId {
    let y = c
        .create(|tx| tx.put(ROOT, "name", "Round Trip Testchild").map(|_| ()))
        .unwrap();
    c.wait_synced(y, T).await.unwrap();
    c.change(y, |tx| tx.put(ROOT, "touched", 1)).unwrap();
    c.wait_synced(y, T).await.unwrap();
    y
}

#[tokio::test]
async fn an_erased_case_stays_erased_against_stale_devices_restarts_and_late_parts() {
    let w = World::start().await;
    let (ayo, bea) = (person(&w, "demo-ayo").await, person(&w, "demo-bea").await);
    let (a, b) = (device(&w, &ayo).await, device(&w, &bea).await);
    // X: one of Ayo's demo cases, with its relationships document.
    let listed = index_when(&a, &ayo, "listed the demo cases", |d| {
        caseload::case_ids(d).len() == demo::NORTH_CASES
    })
    .await;
    let x = caseload::case_ids(&listed)[0];
    let x_doc = a.find(x, T).await.unwrap();
    let rel = network::linked(&x_doc).expect("a relationships document");
    a.find(rel, T).await.unwrap();
    b.find(x, T).await.expect("the team reads X");
    assert!(w.stored(x).await && w.stored(rel).await);

    // A goes offline and keeps working on X; it also starts a new relationships document
    // for X (offline, so the server has never seen it).
    a.disconnect();
    a.change(x, |tx| tx.put(ROOT, "offline_edit", "made while offline"))
        .unwrap();
    let late = a.create(|tx| network::init(tx, &x)).unwrap();

    // What the files hold of X and its part, sealed; the scan sees it before the erasure.
    let sealed = w.sealed_bytes(&[x, rel]);
    assert!(
        !w.files_holding(&sealed).is_empty(),
        "the scan finds stored bytes"
    );

    // The administrator erases X through the CLI while the server runs.
    let said = w.admin(&[
        "erase-case",
        &x.to_string(),
        "--reason",
        "Erasure request ref E-1 (synthetic)",
        "--by",
        "test-admin",
    ]);
    assert!(said.contains("and 1 part"), "{said}");

    // B, online with X open, is told: its index drops X and lists it under `erased`.
    let index = index_when(&b, &bea, "recorded X as erased", |d| {
        caseload::erased_ids(d).contains(&x) && !caseload::case_ids(d).contains(&x)
    })
    .await;
    let known = [bea.caseload, x];
    let r = caseload::reconcile(
        Some(bea.caseload),
        &known,
        &known,
        &caseload::Listed::default(),
        |d| {
            if *d == bea.caseload {
                Some(&index)
            } else {
                None
            }
        },
    )
    .unwrap();
    assert_eq!(
        r.to_delete,
        vec![x],
        "B deletes X though it never recorded it listed"
    );
    // The index was rewritten after the content was removed: nothing of X or its part.
    assert!(!w.stored(x).await, "X's content is gone from the server");
    assert!(!w.stored(rel).await, "and its relationships document's");
    assert_eq!(
        w.files_holding(&sealed),
        Vec::<String>::new(),
        "no byte of X, its part or their keys is left in the database, its WAL or the keys file"
    );
    let erasures = w.dir.erasures().unwrap();
    assert_eq!(erasures.len(), 2);
    assert!(erasures.iter().all(|e| e.content_removed_at.is_some()));
    assert_eq!(erasures[0].erased_by, "test-admin");
    // B asking again is answered as for an absent document.
    let b2 = device(&w, &bea).await;
    assert!(
        unavailable(b2.find(x, T).await),
        "a fresh device never gets X"
    );

    // A comes back holding X (with an unsent change), its part, and the new late part.
    connect(&w, &ayo, &a).await;
    round_trip(&a).await;
    assert!(!w.stored(x).await, "the stale device did not bring X back");
    assert!(!w.stored(rel).await);
    assert!(
        !w.stored(late).await,
        "a late part of an erased case is erased too"
    );
    assert!(
        a.unacknowledged_changes(&x) > 0,
        "X's offline change was refused"
    );
    let erasures = w.dir.erasures().unwrap();
    let late_row = erasures
        .iter()
        .find(|e| e.doc == late)
        .expect("the late part has a tombstone");
    assert_eq!(
        (late_row.part_of, late_row.erased_by.as_str()),
        (Some(x), "server")
    );
    assert!(late_row.content_removed_at.is_some());
    let a_index = index_when(&a, &ayo, "recorded X as erased", |d| {
        caseload::erased_ids(d).contains(&x)
    })
    .await;
    assert!(!caseload::case_ids(&a_index).contains(&x));
    // Ayo changing X again is still refused; nothing is stored.
    a.change(x, |tx| tx.put(ROOT, "again", 2)).unwrap();
    round_trip(&a).await;
    assert!(!w.stored(x).await);

    // The audit says who erased it and that the content went.
    let audit = w.admin(&["audit", "--case", &x.to_string()]);
    assert!(
        audit.contains("case-erased") && audit.contains("content-removed"),
        "{audit}"
    );
    let table = w.admin(&["erasures"]);
    assert!(
        table.contains(&x.to_string()) && table.contains("yes"),
        "{table}"
    );
    assert!(table.contains("Erasure request ref E-1"), "{table}");
    let json = w.admin(&["erasures", "--json"]);
    let first: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(first["doc"], x.to_string());
    assert_eq!(first["content_removed"], true);

    a.disconnect();
    b.disconnect();
    b2.disconnect();

    // The tombstone survives a restart, and an erasure made while the server was stopped is
    // carried out when it starts, before any connection is served.
    let z = caseload::case_ids(&listed)[1];
    assert!(w.stored(z).await);
    w.server.shutdown().await.unwrap();
    let out = admin(
        w.data.path(),
        &[
            "erase-case",
            &z.to_string(),
            "--reason",
            "erased while stopped",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8(admin(w.data.path(), &["erasures"]).stdout).unwrap();
    assert!(table.contains(" no "), "not removed while stopped: {table}");
    let w = World::start_in(w.data, config).await;
    let bea = person(&w, "demo-bea").await;
    let c = device(&w, &bea).await;
    round_trip(&c).await;
    assert!(!w.stored(z).await, "erased at start-up");
    assert!(!w.stored(x).await);
    assert!(unavailable(c.find(x, T).await));
    assert!(unavailable(c.find(z, T).await));
    assert!(w
        .dir
        .erasures()
        .unwrap()
        .iter()
        .all(|e| e.content_removed_at.is_some()));
    c.disconnect();
    w.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_restricted_case_is_read_only_for_the_people_named_and_nothing_for_its_team() {
    let w = World::start().await;
    let (ayo, bea) = (person(&w, "demo-ayo").await, person(&w, "demo-bea").await);
    let a = device(&w, &ayo).await;
    let listed = index_when(&a, &ayo, "listed the demo cases", |d| {
        caseload::case_ids(d).len() == demo::NORTH_CASES
    })
    .await;
    let x = caseload::case_ids(&listed)[0];
    let said = w.admin(&[
        "restrict-case",
        &x.to_string(),
        "--reason",
        "Art. 18 request (synthetic)",
        "--allow",
        "demo-bea",
    ]);
    assert!(said.contains("readable by demo-bea only"), "{said}");
    // Bea's index lists it, marked restricted; Ayo's (allocated, same team) does not.
    let b = device(&w, &bea).await;
    index_when(&b, &bea, "marked X restricted", |d| {
        caseload::case_ids(d).contains(&x) && caseload::is_restricted(d, &x)
    })
    .await;
    index_when(&a, &ayo, "dropped X", |d| {
        !caseload::case_ids(d).contains(&x)
    })
    .await;
    let read = b.find(x, T).await.expect("the named person reads it");
    assert!(!read.get_heads().is_empty(), "with its content");
    let fresh_ayo = device(&w, &ayo).await;
    assert!(
        unavailable(fresh_ayo.find(x, T).await),
        "the allocated worker is refused"
    );
    let mo = person(&w, "demo-mo").await;
    let m = device(&w, &mo).await;
    assert!(
        unavailable(m.find(x, T).await),
        "the manager, not named, is refused"
    );
    // Nobody may change it: Bea's change is not applied (the server holds what it had).
    b.change(x, |tx| tx.put(ROOT, "restricted_edit", "should not land"))
        .unwrap();
    round_trip(&b).await;
    assert!(
        b.unacknowledged_changes(&x) > 0,
        "a change to a restricted case is refused"
    );
    // Lifting it gives the team its access back.
    w.admin(&["unrestrict-case", &x.to_string()]);
    index_when(&a, &ayo, "listed X again", |d| {
        caseload::case_ids(d).contains(&x)
    })
    .await;
    let again = device(&w, &ayo).await;
    again.find(x, T).await.expect("readable again");
    let audit = w.admin(&["audit", "--case", &x.to_string()]);
    assert!(
        audit.contains("case-restricted") && audit.contains("case-unrestricted"),
        "{audit}"
    );
    for c in [a, b, fresh_ayo, m, again] {
        c.disconnect();
    }
    w.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_session_answer_carries_the_device_policy_from_the_configuration() {
    let data = tempfile::tempdir().unwrap();
    let w = World::start_in(data, |dir| Config {
        device_idle_lock_secs: 120,
        device_hidden_grace_secs: 10,
        device_unlock_attempts: 3,
        device_lease_days: 7,
        exit_url: "https://www.example.org/weather".into(),
        ..config(dir)
    })
    .await;
    let r = sign_in(&w.addr, "demo-ayo", "demo-only-ayo-password").await;
    assert_eq!(r.status, 200);
    let want = serde_json::json!({
        "idle_lock_secs": 120,
        "hidden_grace_secs": 10,
        "unlock_attempts": 3,
        "lease_days": 7,
        "exit_url": "https://www.example.org/weather",
    });
    assert_eq!(r.json()["device_policy"], want);
    let cookie = r.session_cookie().unwrap();
    let got = http(&w.addr, "GET", "/api/session", &[("Cookie", &cookie)], None).await;
    assert_eq!(got.json()["device_policy"], want);
    w.server.shutdown().await.unwrap();

    let w = World::start().await;
    let r = sign_in(&w.addr, "demo-ayo", "demo-only-ayo-password").await;
    assert_eq!(
        r.json()["device_policy"],
        serde_json::json!({
            "idle_lock_secs": 300,
            "hidden_grace_secs": 30,
            "unlock_attempts": 5,
            "lease_days": 14,
            "exit_url": "exit.html",
        })
    );
    w.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_revoked_device_is_told_so_and_its_key_is_gone() {
    let w = World::start().await;
    let r = sign_in(&w.addr, "demo-ayo", "demo-only-ayo-password").await;
    let cookie = r.session_cookie().unwrap();
    let device = r.json()["device"]["id"].as_str().unwrap().to_owned();
    let key_of = |password: &str| {
        let body = serde_json::json!({ "password": password }).to_string();
        let cookie = cookie.clone();
        let addr = w.addr.clone();
        async move {
            http(
                &addr,
                "POST",
                "/api/device-key",
                &[("Cookie", &cookie)],
                Some(&body),
            )
            .await
        }
    };

    // The device key needs the password again, and is the same each time for this device.
    let wrong = key_of("not the password").await;
    assert_eq!(wrong.status, 401, "{wrong:?}");
    assert!(wrong.json()["error"].is_string());
    assert!(wrong.json().get("key").is_none());
    let k1 = key_of("demo-only-ayo-password").await;
    assert_eq!(k1.status, 200, "{k1:?}");
    let k1 = k1.json()["key"].as_str().unwrap().to_owned();
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&k1)
        .expect("base64");
    assert_eq!(bytes.len(), 32);
    let k2 = key_of("demo-only-ayo-password").await.json()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(k1, k2, "stable per device");
    // Another device of the same person has another key.
    let other = sign_in(&w.addr, "demo-ayo", "demo-only-ayo-password").await;
    let body = serde_json::json!({ "password": "demo-only-ayo-password" }).to_string();
    let k3 = http(
        &w.addr,
        "POST",
        "/api/device-key",
        &[("Cookie", &other.session_cookie().unwrap())],
        Some(&body),
    )
    .await;
    assert_ne!(k3.json()["key"].as_str().unwrap(), k1);
    // Without a session: signed out.
    let none = http(&w.addr, "POST", "/api/device-key", &[], Some(&body)).await;
    assert_eq!(none.status, 401);
    assert_eq!(none.json()["reason"], "signed-out");

    // Revoked: every door says device-revoked, and the key is gone.
    let out = w.admin(&["devices", "revoke", &device]);
    assert!(out.contains("Revoked device"), "{out}");
    let s = http(&w.addr, "GET", "/api/session", &[("Cookie", &cookie)], None).await;
    assert_eq!(s.status, 401);
    assert_eq!(s.json()["reason"], "device-revoked", "{s:?}");
    assert!(s.json()["error"].is_string());
    let t = http(
        &w.addr,
        "POST",
        "/api/tickets",
        &[("Cookie", &cookie)],
        None,
    )
    .await;
    assert_eq!(
        (t.status, t.json()["reason"].as_str()),
        (401, Some("device-revoked"))
    );
    let k = key_of("demo-only-ayo-password").await;
    assert_eq!(
        (k.status, k.json()["reason"].as_str()),
        (401, Some("device-revoked"))
    );
    assert!(k.json().get("key").is_none());
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = w.server.sync_url().into_client_request().unwrap();
    req.headers_mut().insert("Cookie", cookie.parse().unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 401);
            let body: serde_json::Value =
                serde_json::from_slice(resp.body().as_deref().unwrap_or_default()).unwrap();
            assert_eq!(body["reason"], "device-revoked");
        }
        other => panic!("the upgrade should be refused: {:?}", other.map(|_| ())),
    }
    // Still no way in for that device: signing in again makes a new device.
    let again = sign_in(&w.addr, "demo-ayo", "demo-only-ayo-password").await;
    assert_ne!(again.json()["device"]["id"].as_str().unwrap(), device);

    // A signed-out session is just signed out.
    let out = http(
        &w.addr,
        "DELETE",
        "/api/session",
        &[("Cookie", &again.session_cookie().unwrap())],
        None,
    )
    .await;
    assert_eq!(out.status, 204);
    let s = http(
        &w.addr,
        "GET",
        "/api/session",
        &[("Cookie", &again.session_cookie().unwrap())],
        None,
    )
    .await;
    assert_eq!(
        (s.status, s.json()["reason"].as_str()),
        (401, Some("signed-out"))
    );
    w.server.shutdown().await.unwrap();
}

/// Someone holding a stolen session cookie cannot guess the password through the device
/// key: wrong guesses there count like wrong sign-ins, lock the account (429 with
/// `Retry-After`, even for the right password), and lock signing in too.
#[tokio::test]
async fn guessing_the_password_for_the_device_key_is_throttled_like_signing_in() {
    let w = World::start().await;
    let ayo = w.person("demo-ayo").await;
    let ask = |password: &str| {
        let body = serde_json::json!({ "password": password }).to_string();
        let (addr, cookie) = (w.addr.clone(), ayo.cookie.clone());
        async move {
            http(
                &addr,
                "POST",
                "/api/device-key",
                &[("Cookie", &cookie)],
                Some(&body),
            )
            .await
        }
    };
    assert_eq!(
        ask("demo-only-ayo-password").await.status,
        200,
        "the right one works"
    );
    for guess in 0..5 {
        let r = ask(&format!("guess number {guess}")).await;
        assert_eq!(r.status, 401, "{r:?}");
    }
    let r = ask("demo-only-ayo-password").await;
    assert_eq!(r.status, 429, "{r:?}");
    assert!(r.header("retry-after").is_some(), "{r:?}");
    let s = sign_in(&w.addr, "demo-ayo", "demo-only-ayo-password").await;
    assert_eq!(s.status, 429, "signing in is locked too: {s:?}");
    let failed = w
        .dir
        .audit_for_user(&w.dir.user_by_username("demo-ayo").unwrap().unwrap().id)
        .unwrap()
        .iter()
        .filter(|r| r.kind == fieldbook_sync_server::accounts::AuditKind::SignInFailed)
        .count();
    assert_eq!(failed, 5, "every wrong guess is audited");
}
