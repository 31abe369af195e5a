//! Sign-in, access and audit at the server's edge (docs/ACCESS.md), against the real
//! in-process server on SQLite with the invented `--demo` accounts: Ayo and Bea in North,
//! Cal in South, Mo managing both. Administrator changes go through a second `Directory`
//! handle on the same file, exactly as the admin CLI does from another process.

use std::time::{Duration, Instant};

use fieldbook_case::{self as case, caseload};
use fieldbook_native_client::Client;
use fieldbook_sync::{DocumentId, Message, PeerId};
use fieldbook_sync_server::accounts::{Access, AuditKind, Grantee, UserId};
use fieldbook_sync_server::demo;
use fieldbook_sync_server::http::start;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[path = "support/mod.rs"]
mod support;
use support::{
    demo_config, http, next_message, send, sign_in, ticket, ticket_url, Person, Socket, World, T,
};

impl World {
    fn user(&self, username: &str) -> UserId {
        self.dir.user_by_username(username).unwrap().unwrap().id
    }
}

async fn person(w: &World, username: &str) -> Person {
    w.person(username).await
}

async fn url(w: &World, p: &Person) -> String {
    ticket_url(&w.server.sync_url(), &w.addr, p).await
}

async fn device(w: &World, p: &Person) -> Client {
    w.device(p).await
}

/// The cases `p`'s own caseload index lists, once it lists exactly `n`.
async fn caseload_of(c: &Client, p: &Person, n: usize) -> Vec<DocumentId> {
    c.find(p.caseload, T).await.expect("caseload index");
    let d = c
        .wait_for_document(p.caseload, T, |d| caseload::case_ids(d).len() == n)
        .await
        .unwrap_or_else(|_| {
            let now = c
                .document(&p.caseload)
                .map(|d| caseload::case_ids(&d).len());
            panic!("the caseload never listed {n} cases (it lists {now:?})")
        });
    assert!(caseload::is_caseload(&d));
    caseload::case_ids(&d)
}

async fn upgrade_status(url: &str, origin: Option<&str>, cookie: Option<&str>) -> u16 {
    let mut req = url.into_client_request().unwrap();
    if let Some(o) = origin {
        req.headers_mut().insert("Origin", o.parse().unwrap());
    }
    if let Some(c) = cookie {
        req.headers_mut().insert("Cookie", c.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((mut ws, resp)) => {
            let _ = ws.close(None).await;
            resp.status().as_u16()
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("upgrade failed unexpectedly: {e}"),
    }
}

#[tokio::test]
async fn sync_needs_a_session_or_an_unspent_ticket_and_refuses_foreign_pages() {
    let w = World::start().await;
    let ayo = person(&w, "demo-ayo").await;
    let sync = w.server.sync_url();
    assert_eq!(
        upgrade_status(&sync, None, None).await,
        401,
        "no credentials"
    );
    assert_eq!(
        upgrade_status(&format!("{sync}?ticket=made-up"), None, None).await,
        401,
        "a made-up ticket"
    );
    // The cookie works (the PWA), from the server's own origin.
    let own = format!("http://{}", w.addr);
    assert_eq!(
        upgrade_status(&sync, Some(&own), Some(&ayo.cookie)).await,
        101
    );
    // A page on another site is refused even with the worker's cookie and a ticket.
    let t = ticket(&w.addr, &ayo.cookie).await;
    let with_ticket = format!("{sync}?ticket={t}");
    assert_eq!(
        upgrade_status(
            &with_ticket,
            Some("https://evil.example"),
            Some(&ayo.cookie)
        )
        .await,
        403
    );
    // A ticket opens one connection.
    let t = ticket(&w.addr, &ayo.cookie).await;
    let with_ticket = format!("{sync}?ticket={t}");
    assert_eq!(upgrade_status(&with_ticket, None, None).await, 101);
    assert_eq!(
        upgrade_status(&with_ticket, None, None).await,
        401,
        "reused ticket"
    );
    // An expired ticket (minted as the CLI's directory handle would, already past its life).
    let session = w
        .dir
        .session(
            &fieldbook_sync_server::accounts::SessionToken::new(
                ayo.cookie
                    .trim_start_matches("fieldbook_session=")
                    .to_owned(),
            ),
            fieldbook_sync_server::api::now_ms(),
        )
        .unwrap()
        .expect("the session is valid");
    let old = w
        .dir
        .mint_ticket(
            &session,
            fieldbook_sync_server::api::now_ms() - 120_000,
            60_000,
        )
        .unwrap();
    assert_eq!(
        upgrade_status(&format!("{sync}?ticket={}", old.expose()), None, None).await,
        401,
        "expired ticket"
    );
    // Signing out ends the cookie's power at once.
    let out = http(
        &w.addr,
        "DELETE",
        "/api/session",
        &[("Cookie", &ayo.cookie)],
        None,
    )
    .await;
    assert_eq!(out.status, 204);
    assert_eq!(upgrade_status(&sync, None, Some(&ayo.cookie)).await, 401);
    let me = http(
        &w.addr,
        "GET",
        "/api/session",
        &[("Cookie", &ayo.cookie)],
        None,
    )
    .await;
    assert_eq!(me.status, 401);
    w.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_session_cookie_is_http_only_strict_and_never_in_the_body() {
    let w = World::start().await;
    let (user, password) = ("demo-bea", "demo-only-bea-password");
    let r = sign_in(&w.addr, user, password).await;
    assert_eq!(r.status, 200);
    let set = r.header("set-cookie").unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="] {
        assert!(set.contains(attr), "{attr} missing from {set}");
    }
    let token = r.session_cookie().unwrap();
    let token = token.trim_start_matches("fieldbook_session=");
    assert!(token.len() >= 40, "a long random token");
    assert!(!r.body.contains(token), "the token is only in the cookie");
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let me = r.json();
    assert_eq!(me["user"]["username"], user);
    assert_eq!(me["user"]["role"], "practitioner");
    assert_eq!(me["user"]["team"], "north");
    w.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn repeated_wrong_passwords_lock_the_account_but_not_its_neighbours() {
    let w = World::start().await;
    let wrong = |_: usize| sign_in(&w.addr, "demo-ayo", "not-the-password-at-all");
    for i in 0..5 {
        assert_eq!(wrong(i).await.status, 401, "attempt {i}");
    }
    let locked = wrong(5).await;
    assert_eq!(locked.status, 429);
    let retry: u64 = locked.header("retry-after").unwrap().parse().unwrap();
    assert!(retry >= 1);
    // Even the right password waits now.
    let right = sign_in(&w.addr, "demo-ayo", "demo-only-ayo-password").await;
    assert_eq!(right.status, 429);
    // A colleague at the same address (one council NAT) still signs in.
    assert_eq!(
        sign_in(&w.addr, "demo-bea", "demo-only-bea-password")
            .await
            .status,
        200
    );
    // Every failure is audited against the account.
    let failures = w
        .dir
        .audit_for_user(&w.user("demo-ayo"))
        .unwrap()
        .into_iter()
        .filter(|r| r.kind == AuditKind::SignInFailed)
        .count();
    assert!(failures >= 5, "{failures} failures audited");
    w.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn each_worker_gets_only_their_cases_and_grants_come_and_go() {
    let w = World::start().await;
    let (ayo, bea, cal, mo) = (
        person(&w, "demo-ayo").await,
        person(&w, "demo-bea").await,
        person(&w, "demo-cal").await,
        person(&w, "demo-mo").await,
    );
    let north = demo::NORTH_CASES;
    let south = demo::PEOPLE_COUNT - north;
    let (a, b, c, m) = (
        device(&w, &ayo).await,
        device(&w, &bea).await,
        device(&w, &cal).await,
        device(&w, &mo).await,
    );
    let a_cases = caseload_of(&a, &ayo, north).await;
    assert_eq!(
        caseload_of(&b, &bea, north).await,
        a_cases,
        "same team, same cases"
    );
    let c_cases = caseload_of(&c, &cal, south).await;
    assert!(
        c_cases.iter().all(|x| !a_cases.contains(x)),
        "teams do not overlap"
    );
    let m_cases = caseload_of(&m, &mo, north + south).await;
    assert!(a_cases.iter().chain(&c_cases).all(|x| m_cases.contains(x)));

    // A case Ayo creates on her phone is hers and her team's, and her manager's.
    let profile = case::Profile {
        name: "Invented Person For Access".into(),
        ..Default::default()
    };
    let x = a.create(|tx| case::create(tx, &profile)).unwrap();
    a.wait_synced(x, T).await.unwrap();
    assert!(caseload_of(&a, &ayo, north + 1).await.contains(&x));
    assert!(caseload_of(&b, &bea, north + 1).await.contains(&x));
    assert!(caseload_of(&m, &mo, north + south + 1).await.contains(&x));
    assert!(!caseload_of(&c, &cal, south).await.contains(&x));
    let record = w
        .dir
        .cases()
        .unwrap()
        .into_iter()
        .find(|r| r.doc == x)
        .unwrap();
    assert_eq!(record.allocated, Some(w.user("demo-ayo")));
    assert_eq!(record.team.as_ref().map(|t| t.0.as_str()), Some("north"));

    // A grant to Cal lists it for Cal; removing it takes it away again.
    let cal_id = Grantee::User(w.user("demo-cal"));
    w.dir.add_grant(&x, &cal_id, Access::Read, None, 0).unwrap();
    assert!(caseload_of(&c, &cal, south + 1).await.contains(&x));
    assert_eq!(w.dir.remove_grant(&x, &cal_id).unwrap(), 1);
    assert!(!caseload_of(&c, &cal, south).await.contains(&x));
    for d in [a, b, c, m] {
        d.disconnect();
    }
    w.server.shutdown().await.unwrap();
}

/// Join as `p` on a raw socket; returns it with the server's peer id.
async fn raw_joined(w: &World, p: &Person) -> (Socket, PeerId, PeerId) {
    let (mut ws, _) = tokio_tungstenite::connect_async(url(w, p).await)
        .await
        .unwrap();
    let me = PeerId::random("raw");
    send(&mut ws, &support::join(&me)).await;
    match next_message(&mut ws).await {
        Some(Message::Peer { sender_id, .. }) => (ws, me, sender_id),
        other => panic!("expected peer, got {other:?}"),
    }
}

/// An empty automerge sync message: "I have nothing, what do you have?"
fn hello() -> Vec<u8> {
    use fieldbook_sync::automerge::sync::SyncDoc;
    let empty = fieldbook_sync::automerge::Automerge::new();
    let mut state = fieldbook_sync::automerge::sync::State::new();
    empty
        .generate_sync_message(&mut state)
        .expect("a first sync message")
        .encode()
}

#[tokio::test]
async fn another_teams_case_is_answered_exactly_like_an_unknown_one() {
    let w = World::start().await;
    let (ayo, cal) = (person(&w, "demo-ayo").await, person(&w, "demo-cal").await);
    let a = device(&w, &ayo).await;
    let north_case = caseload_of(&a, &ayo, demo::NORTH_CASES).await[0];
    let unknown = DocumentId::random();
    let (mut ws, me, server) = raw_joined(&w, &cal).await;
    let hello = hello();
    let mut answers = Vec::new();
    for doc in [north_case, unknown] {
        send(
            &mut ws,
            &Message::Request {
                sender_id: me.clone(),
                target_id: server.clone(),
                document_id: doc,
                data: hello.clone(),
            },
        )
        .await;
        let answer = support::next_frame(&mut ws).await.expect("an answer");
        answers.push((doc, answer));
    }
    // Same bytes once the document id itself is swapped.
    let (denied, unknown_answer) = (&answers[0].1, &answers[1].1);
    let swapped = match Message::decode(unknown_answer).unwrap() {
        Message::DocUnavailable {
            sender_id,
            target_id,
            ..
        } => Message::DocUnavailable {
            sender_id,
            target_id,
            document_id: north_case,
        }
        .encode(),
        other => panic!("unknown id answered with {other:?}"),
    };
    assert_eq!(
        denied, &swapped,
        "a denied case looks exactly like an absent one"
    );
    a.disconnect();
    w.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn relationships_reach_the_allocated_worker_and_managers_not_the_whole_team() {
    let w = World::start().await;
    let (ayo, bea, mo) = (
        person(&w, "demo-ayo").await,
        person(&w, "demo-bea").await,
        person(&w, "demo-mo").await,
    );
    let (a, b, m) = (
        device(&w, &ayo).await,
        device(&w, &bea).await,
        device(&w, &mo).await,
    );
    let x = caseload_of(&a, &ayo, demo::NORTH_CASES).await[0];
    let case_doc = b.find(x, T).await.expect("the team reads the case");
    let rel = fieldbook_case::network::linked(&case_doc).expect("a linked relationships document");
    assert!(fieldbook_case::network::case_of(&a.find(rel, T).await.unwrap()) == Some(x));
    m.find(rel, T)
        .await
        .expect("the manager reads relationships");
    match b.find(rel, T).await {
        Err(fieldbook_native_client::ClientError::Unavailable(_)) => {}
        other => panic!(
            "a team colleague must not get relationships: {:?}",
            other.map(|_| ())
        ),
    }
    // Bea's phone creating a relationships document that claims Ayo's case does not make
    // it part of that case: it stays Bea's own document.
    let claim = b
        .create(|tx| fieldbook_case::network::init(tx, &x))
        .unwrap();
    b.wait_synced(claim, T).await.unwrap();
    let record = w
        .dir
        .cases()
        .unwrap()
        .into_iter()
        .find(|c| c.doc == claim)
        .unwrap();
    assert_eq!(record.part_of, None);
    for d in [a, b, m] {
        d.disconnect();
    }
    w.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_read_only_grant_reads_but_its_changes_never_reach_the_server() {
    let w = World::start().await;
    let (ayo, cal) = (person(&w, "demo-ayo").await, person(&w, "demo-cal").await);
    let a = device(&w, &ayo).await;
    let x = caseload_of(&a, &ayo, demo::NORTH_CASES).await[0];
    w.dir
        .add_grant(
            &x,
            &Grantee::User(w.user("demo-cal")),
            Access::Read,
            None,
            0,
        )
        .unwrap();
    let c = device(&w, &cal).await;
    caseload_of(&c, &cal, demo::PEOPLE_COUNT - demo::NORTH_CASES + 1).await;
    // Her index marks it read-only (her phone makes no edit to it); Ayo's does not.
    let cal_index = c
        .wait_for_document(cal.caseload, T, |d| caseload::is_read_only(d, &x))
        .await
        .expect("Cal's index marks the lent case read-only");
    assert!(caseload::case_ids(&cal_index)
        .iter()
        .filter(|d| **d != x)
        .all(|d| !caseload::is_read_only(&cal_index, d)));
    let ayo_index = a.find(ayo.caseload, T).await.unwrap();
    assert!(!caseload::is_read_only(&ayo_index, &x));
    let before = c.find(x, T).await.expect("a read grant reads");
    // A well-behaved client sends nothing to a read-only server (automerge's read-only flag):
    // a hostile one sends its change anyway, on a raw socket.
    let change = {
        use fieldbook_sync::automerge::transaction::Transactable;
        let mut mine = fieldbook_sync::automerge::AutoCommit::load(&before.save()).unwrap();
        mine.put(fieldbook_sync::automerge::ROOT, "tampered", "by a reader")
            .unwrap();
        mine.get_last_local_change().unwrap().clone()
    };
    let push = fieldbook_sync::automerge::sync::Message {
        heads: vec![change.hash()],
        need: vec![],
        have: vec![],
        changes: vec![change.raw_bytes().to_vec()].into(),
        flags: None,
        version: fieldbook_sync::automerge::sync::MessageVersion::V1,
    }
    .encode();
    let (mut ws, me, server) = raw_joined(&w, &cal).await;
    send(
        &mut ws,
        &Message::Request {
            sender_id: me.clone(),
            target_id: server.clone(),
            document_id: x,
            data: push,
        },
    )
    .await;
    // A barrier: the server handles one connection's messages in order and writes a batch's
    // audit before its replies leave, so once a later request is answered the push has been
    // handled and audited.
    send(
        &mut ws,
        &Message::Request {
            sender_id: me,
            target_id: server,
            document_id: DocumentId::random(),
            data: hello(),
        },
    )
    .await;
    loop {
        match next_message(&mut ws).await {
            Some(Message::DocUnavailable { document_id, .. }) if document_id != x => break,
            Some(_) => continue,
            None => panic!("the server closed the reader's connection"),
        }
    }
    assert!(
        w.dir
            .audit_for_case(&x)
            .unwrap()
            .iter()
            .any(|r| r.kind == AuditKind::WriteRefused),
        "the refused write is audited"
    );
    // A fresh device of the allocated worker gets the server's copy: untouched.
    let fresh = device(&w, &ayo).await;
    let server_copy = fresh.find(x, T).await.unwrap();
    use fieldbook_sync::automerge::ReadDoc;
    assert!(server_copy
        .get(fieldbook_sync::automerge::ROOT, "tampered")
        .unwrap()
        .is_none());
    assert_eq!(server_copy.get_heads(), before.get_heads());
    for d in [a, c, fresh] {
        d.disconnect();
    }
    w.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_change_naming_someone_else_as_its_author_is_refused() {
    let w = World::start().await;
    let (ayo, bea) = (person(&w, "demo-ayo").await, person(&w, "demo-bea").await);
    let a = device(&w, &ayo).await;
    let x = caseload_of(&a, &ayo, demo::NORTH_CASES).await[0];
    let b = device(&w, &bea).await;
    b.find(x, T).await.unwrap();
    let set_by = |name: &'static str, key: &'static str| {
        move |tx: &mut fieldbook_sync::automerge::transaction::Transaction<'_>| {
            use fieldbook_sync::automerge::transaction::Transactable;
            let m = tx.put_object(
                fieldbook_sync::automerge::ROOT,
                key,
                fieldbook_sync::automerge::ObjType::Map,
            )?;
            tx.put(&m, "value", "high")?;
            tx.put(&m, "by", name)?;
            Ok(())
        }
    };
    // Her own name: accepted.
    b.change(x, set_by(demo::USERS[1].name, "own_claim"))
        .unwrap();
    b.wait_synced(x, T)
        .await
        .expect("her own authorship is accepted");
    // Ayo's name: refused, the connection closes, the server keeps nothing of it.
    b.change(x, set_by(demo::USERS[0].name, "forged_claim"))
        .unwrap();
    let reason = b
        .wait_disconnected(T)
        .await
        .expect("the server closes the connection");
    assert!(reason.contains("change refused"), "{reason}");
    let fresh = device(&w, &ayo).await;
    let server_copy = fresh.find(x, T).await.unwrap();
    use fieldbook_sync::automerge::ReadDoc;
    let root = fieldbook_sync::automerge::ROOT;
    assert!(server_copy
        .get(root.clone(), "own_claim")
        .unwrap()
        .is_some());
    assert!(server_copy.get(root, "forged_claim").unwrap().is_none());
    for d in [a, fresh] {
        d.disconnect();
    }
    w.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_revoked_device_is_disconnected_within_a_second_and_cannot_come_back() {
    let w = World::start().await;
    let cal = person(&w, "demo-cal").await;
    let c = device(&w, &cal).await;
    caseload_of(&c, &cal, demo::PEOPLE_COUNT - demo::NORTH_CASES).await;
    let revoked_at = Instant::now();
    w.dir
        .revoke_device(
            &fieldbook_sync_server::accounts::DeviceId(cal.device.clone()),
            fieldbook_sync_server::api::now_ms(),
        )
        .unwrap();
    c.wait_disconnected(Duration::from_secs(1))
        .await
        .expect("closed within a second of the revocation");
    let took = revoked_at.elapsed();
    assert!(took <= Duration::from_secs(1), "took {took:?}");
    // Its session is gone, and no new ticket is minted for it.
    let me = http(
        &w.addr,
        "GET",
        "/api/session",
        &[("Cookie", &cal.cookie)],
        None,
    )
    .await;
    assert_eq!(me.status, 401);
    let t = http(
        &w.addr,
        "POST",
        "/api/tickets",
        &[("Cookie", &cal.cookie)],
        None,
    )
    .await;
    assert_eq!(t.status, 401);
    w.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_audit_names_who_read_and_changed_a_case_from_which_device() {
    let w = World::start().await;
    let (ayo, bea, mo) = (
        person(&w, "demo-ayo").await,
        person(&w, "demo-bea").await,
        person(&w, "demo-mo").await,
    );
    let a = device(&w, &ayo).await;
    let x = caseload_of(&a, &ayo, demo::NORTH_CASES).await[0];
    a.find(x, T).await.unwrap();
    let b = device(&w, &bea).await;
    b.find(x, T).await.unwrap();
    b.change(x, |tx| {
        use fieldbook_sync::automerge::transaction::Transactable;
        tx.put(fieldbook_sync::automerge::ROOT, "touched_by_bea", true)?;
        Ok(())
    })
    .unwrap();
    b.wait_synced(x, T).await.unwrap();
    let rows = w.dir.audit_for_case(&x).unwrap();
    let has = |kind: AuditKind, user: &str, device: &str| {
        rows.iter().any(|r| {
            r.kind == kind
                && r.user.as_ref() == Some(&w.user(user))
                && r.device.as_ref().map(|d| d.0.as_str()) == Some(device)
        })
    };
    assert!(
        has(AuditKind::CaseRead, "demo-ayo", &ayo.device),
        "{rows:#?}"
    );
    assert!(
        has(AuditKind::CaseRead, "demo-bea", &bea.device),
        "{rows:#?}"
    );
    assert!(
        has(AuditKind::CaseChanged, "demo-bea", &bea.device),
        "{rows:#?}"
    );
    // The manager sees "who has opened this file"; a practitioner gets the same 404 as for
    // an unknown case.
    let path = format!("/api/cases/{x}/audit");
    let seen = http(&w.addr, "GET", &path, &[("Cookie", &mo.cookie)], None).await;
    assert_eq!(seen.status, 200, "{seen:?}");
    let names: Vec<String> = seen
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["user_name"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(names.iter().any(|n| n.starts_with("Bea Demo")), "{names:?}");
    let denied = http(&w.addr, "GET", &path, &[("Cookie", &ayo.cookie)], None).await;
    assert_eq!(denied.status, 404);
    for d in [a, b] {
        d.disconnect();
    }
    w.server.shutdown().await.unwrap();
}

/// `--demo --demo-cases N --demo-big-case-notes M` (for measuring a phone pulling a
/// caseload): cases past the eighth go to Ayo with invented names, case 0 gets M more notes.
#[tokio::test]
async fn a_larger_demo_gives_ayo_the_extra_cases_and_one_long_case() {
    let (cases, notes) = (20, 40);
    let w = World::start_in(tempfile::tempdir().unwrap(), |dir| {
        let mut c = demo_config(dir);
        c.demo_cases = cases;
        c.demo_big_case_notes = notes;
        c
    })
    .await;
    let whole = w.dir.cases().unwrap();
    assert_eq!(whole.iter().filter(|c| c.part_of.is_none()).count(), cases);
    let ayo = person(&w, "demo-ayo").await;
    let a = device(&w, &ayo).await;
    let mine = caseload_of(&a, &ayo, cases - (demo::PEOPLE_COUNT - demo::NORTH_CASES)).await;
    let mut names = std::collections::BTreeSet::new();
    let mut longest = 0;
    for id in &mine {
        a.find(*id, T).await.expect("case");
        let c = case::read(&a.document(id).expect("loaded"));
        assert!(c.profile.name.starts_with("Demo — "));
        names.insert(c.profile.name);
        longest = longest.max(c.notes.len());
    }
    assert_eq!(
        names.len(),
        mine.len(),
        "every case has its own invented name"
    );
    assert!(longest >= notes, "the long case has {longest} notes");
    a.disconnect();
    w.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn demo_accounts_are_seeded_once_and_never_into_a_real_store() {
    let data = tempfile::tempdir().unwrap();
    let s = start(&demo_config(data.path())).await.unwrap();
    s.shutdown().await.unwrap();
    // A second --demo start adds nothing.
    let s = start(&demo_config(data.path())).await.unwrap();
    let dir = support::directory(&demo_config(data.path()));
    assert_eq!(dir.snapshot().unwrap().users.len(), demo::USERS.len());
    let cases = dir.cases().unwrap();
    let whole = cases.iter().filter(|c| c.part_of.is_none()).count();
    assert_eq!(whole, demo::PEOPLE_COUNT);
    assert_eq!(
        cases.len(),
        2 * demo::PEOPLE_COUNT,
        "each with its relationships document"
    );
    s.shutdown().await.unwrap();
    // A store with real accounts refuses --demo.
    let real = tempfile::tempdir().unwrap();
    let mut cfg = demo_config(real.path());
    cfg.demo = false;
    let s = start(&cfg).await.unwrap();
    s.shutdown().await.unwrap();
    let dir = support::directory(&cfg);
    dir.add_user(
        fieldbook_sync_server::accounts::NewUser {
            username: "real.worker".into(),
            display_name: "Real Worker (invented)".into(),
            role: fieldbook_sync_server::accounts::Role::Practitioner,
            agency: "Invented Council".into(),
            team: None,
            password: fieldbook_sync_server::accounts::Password::new(
                "a-long-enough-password".into(),
            ),
        },
        0,
    )
    .unwrap();
    cfg.demo = true;
    let refused = start(&cfg).await.err().expect("--demo refused").to_string();
    assert!(refused.contains("empty data directory"), "{refused}");
}
