//! Issue 12's server side: the child protection chair role, who a case is allocated to in
//! each caseload index entry (the manager view groups by it), and the deadline settings in
//! the session answer. Against the in-process demo server (`support::World`).

use fieldbook_case::caseload;
use fieldbook_native_client::ClientError;
use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::ROOT;
use fieldbook_sync_server::config::Config;
use fieldbook_sync_server::demo;

mod support;
use support::{demo_config, http, sign_in, World, T};

#[tokio::test]
async fn the_chair_reads_the_cases_granted_and_opens_no_new_ones() {
    let w = World::start().await;
    let cy = w.person("demo-cy").await;
    let r = sign_in(&w.addr, "demo-cy", "demo-only-cy-password").await;
    assert_eq!(r.json()["user"]["role"], "chair");
    let c = w.device(&cy).await;
    c.find(cy.caseload, T)
        .await
        .expect("the chair's caseload index");
    let index = c
        .wait_for_document(cy.caseload, T, |d| {
            caseload::case_ids(d).len() == demo::PEOPLE_COUNT
        })
        .await
        .expect("the chair's index lists every demo case (each is granted)");
    let cases = caseload::case_ids(&index);
    assert!(
        cases.iter().all(|d| !caseload::is_read_only(&index, d)),
        "an edit grant: the chair can record a review"
    );
    c.find(cases[0], T).await.expect("a granted case opens");

    // A new document from the chair is refused: it never becomes readable to anyone, the
    // chair included, from another device. The acknowledged change to a granted case, sent
    // after it on the same connection, shows the server has handled it.
    let x = c
        .create(|tx| tx.put(ROOT, "name", "Chair Testcase").map(|_| ()))
        .unwrap();
    c.change(cases[0], |tx| {
        tx.put(ROOT, "chairWasHere", true).map(|_| ())
    })
    .unwrap();
    c.wait_synced(cases[0], T)
        .await
        .expect("a granted case takes the chair's change");
    let other = w.device(&cy).await;
    assert!(matches!(
        other.find(x, T).await,
        Err(ClientError::Unavailable(_))
    ));
    w.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn index_entries_say_who_each_case_is_allocated_to() {
    let w = World::start().await;
    let mo = w.person("demo-mo").await;
    let c = w.device(&mo).await;
    c.find(mo.caseload, T).await.expect("caseload index");
    let index = c
        .wait_for_document(mo.caseload, T, |d| {
            let ids = caseload::case_ids(d);
            ids.len() == demo::PEOPLE_COUNT
                && ids.iter().all(|x| caseload::allocation(d, x).is_some())
        })
        .await
        .expect("the manager's index lists every case with its allocation");
    let mut by_worker: Vec<(String, String)> = caseload::case_ids(&index)
        .iter()
        .map(|x| {
            let a = caseload::allocation(&index, x).unwrap();
            (a.worker, a.team)
        })
        .collect();
    by_worker.sort();
    by_worker.dedup();
    assert_eq!(
        by_worker,
        vec![
            (demo::USERS[0].name.to_owned(), "north".to_owned()),
            (demo::USERS[2].name.to_owned(), "south".to_owned()),
        ]
    );
    w.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_session_answer_carries_the_clock_settings_from_the_configuration() {
    let w = World::start().await;
    let r = sign_in(&w.addr, "demo-ayo", "demo-only-ayo-password").await;
    assert_eq!(
        r.json()["clock_settings"],
        serde_json::json!({"nrm_reminder_days": [30, 60, 90], "due_soon_hours": 48,
                           "transition_notice_days": 183, "follow_up_hours": 24, "not_seen_days": 28,
                           "patterns": [{"kind": "hospital", "count": 3, "days": 90},
                                        {"kind": "arrest", "count": 2, "days": 90}]})
    );
    w.server.shutdown().await.unwrap();

    let w = World::start_in(tempfile::tempdir().unwrap(), |dir| Config {
        clock_nrm_reminder_days: vec![14, 28],
        clock_due_soon_hours: 24,
        clock_transition_notice_days: 90,
        clock_follow_up_hours: 12,
        clock_not_seen_days: 42,
        clock_patterns: vec![fieldbook_case::reach::Pattern {
            kind: "exclusion".into(),
            count: 2,
            days: 30,
        }],
        ..demo_config(dir)
    })
    .await;
    let r = sign_in(&w.addr, "demo-bea", "demo-only-bea-password").await;
    let want = serde_json::json!({"nrm_reminder_days": [14, 28], "due_soon_hours": 24,
                                  "transition_notice_days": 90, "follow_up_hours": 12, "not_seen_days": 42,
                                  "patterns": [{"kind": "exclusion", "count": 2, "days": 30}]});
    assert_eq!(r.json()["clock_settings"], want);
    let cookie = r.session_cookie().unwrap();
    let got = http(&w.addr, "GET", "/api/session", &[("Cookie", &cookie)], None).await;
    assert_eq!(got.json()["clock_settings"], want);
    w.server.shutdown().await.unwrap();
}

/// A practitioner's device cannot mark an assessment as reviewed by a child protection
/// chair: the change is refused and the connection closed; the chair's own review is kept.
#[tokio::test]
async fn only_a_chair_can_record_a_chairs_review() {
    use fieldbook_case::assessment::{self, Review};
    let w = World::start().await;
    let (ayo, cy) = (w.person("demo-ayo").await, w.person("demo-cy").await);
    let a = w.device(&ayo).await;
    a.find(ayo.caseload, T).await.unwrap();
    let index = a
        .wait_for_document(ayo.caseload, T, |d| {
            caseload::case_ids(d).len() == demo::NORTH_CASES
        })
        .await
        .unwrap();
    // A North case whose demo assessment is High (demo case 2 is; any High one will do).
    let mut target = None;
    for x in caseload::case_ids(&index) {
        let doc = a.find(x, T).await.unwrap();
        let case = fieldbook_case::read(&doc);
        if let Some(v) = case
            .assessments
            .iter()
            .find(|v| v.submitted.is_some() && v.overall.value() == Some("high"))
        {
            target = Some((x, v.id.clone()));
            break;
        }
    }
    let (x, version) = target.expect("a demo case with a submitted High assessment");
    let review = |by: &str| Review {
        by: by.into(),
        role: "chair".into(),
        at: 1_790_000_000_000,
        level: "high".into(),
        meeting_needed: "yes".into(),
        meeting_chair: "chair".into(),
        note: String::new(),
    };
    let forged = review(demo::USERS[0].name);
    let wrote = std::cell::Cell::new(false);
    a.change(x, |tx| {
        wrote.set(assessment::review(tx, &version, &forged)?);
        Ok(())
    })
    .unwrap();
    assert!(wrote.get(), "the forged review was written on the device");
    let reason = a
        .wait_disconnected(T)
        .await
        .expect("the server closes the practitioner's connection");
    assert!(reason.contains("change refused"), "{reason}");

    let c = w.device(&cy).await;
    c.find(x, T).await.unwrap();
    let own = review(demo::USERS[4].name);
    c.change(x, |tx| assessment::review(tx, &version, &own).map(|_| ()))
        .unwrap();
    c.wait_synced(x, T)
        .await
        .expect("the chair's review is accepted");
    let fresh = w.device(&ayo).await;
    let doc = fresh.find(x, T).await.unwrap();
    let reviewed = fieldbook_case::read(&doc)
        .assessments
        .into_iter()
        .find(|v| v.id == version)
        .and_then(|v| v.review)
        .expect("the server's copy holds the chair's review");
    assert_eq!(reviewed.by, demo::USERS[4].name);
    w.server.shutdown().await.unwrap();
}

/// A chair sees only the cases granted to them: a case a worker opens afterwards is not
/// theirs to read, and answers exactly like an absent one.
#[tokio::test]
async fn a_chair_cannot_read_a_case_not_granted_to_them() {
    let w = World::start().await;
    let (ayo, cy) = (w.person("demo-ayo").await, w.person("demo-cy").await);
    let a = w.device(&ayo).await;
    let x = a
        .create(|tx| tx.put(ROOT, "name", "Ungranted Testcase").map(|_| ()))
        .unwrap();
    a.wait_synced(x, T)
        .await
        .expect("the worker's new case is stored");
    let c = w.device(&cy).await;
    assert!(matches!(
        c.find(x, T).await,
        Err(ClientError::Unavailable(_))
    ));
    w.server.shutdown().await.unwrap();
}
