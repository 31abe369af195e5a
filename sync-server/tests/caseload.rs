//! The caseload index and `--demo`: a device that knows nothing but the server learns every
//! case; seeding is once per store; devices adding cases concurrently all appear.

use std::time::Duration;

use fieldbook_case::{self as case, caseload};
use fieldbook_native_client::Client;
use fieldbook_sync::StorageId;
use fieldbook_sync_server::config::Config;
use fieldbook_sync_server::http::{start, RunningServer};

const T: Duration = Duration::from_secs(20);

fn config(dir: &std::path::Path, demo: bool) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.to_path_buf(),
        demo,
        ..Config::default()
    }
}

async fn device(server: &RunningServer) -> Client {
    let c = Client::new(Some(StorageId::random()));
    c.connect(&server.sync_url()).await.expect("connect");
    c
}

/// What a brand-new device does: derive the index id from the server's storage id, fetch it.
async fn listed(c: &Client) -> Vec<fieldbook_sync::DocumentId> {
    let index = caseload::index_id(&c.server_storage_id().expect("server storage id"));
    let doc = c.find(index, T).await.expect("caseload index");
    assert!(caseload::is_caseload(&doc));
    caseload::case_ids(&doc)
}

#[tokio::test]
async fn demo_cases_are_invented_listed_and_seeded_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&config(dir.path(), true)).await.unwrap();
    let index = server.caseload_index();
    let c = device(&server).await;
    let ids = listed(&c).await;
    assert_eq!(ids.len(), 8, "demo caseload size");
    for id in &ids {
        let doc = c.find(*id, T).await.unwrap();
        assert!(case::is_case(&doc));
        let read = case::read(&doc);
        assert!(
            read.profile.name.starts_with("Demo — "),
            "demo people are marked as invented: {:?}",
            read.profile.name
        );
        assert!(!read.notes.is_empty(), "{} has no notes", read.profile.name);
        assert!(read.notes.iter().all(|n| !n.text.is_empty()));
    }
    c.disconnect();
    server.shutdown().await.unwrap();

    // Restarting with --demo again adds nothing, and the index keeps its id.
    let server = start(&config(dir.path(), true)).await.unwrap();
    assert_eq!(server.caseload_index(), index);
    let c = device(&server).await;
    assert_eq!(listed(&c).await, ids);
    c.disconnect();
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn without_demo_the_index_exists_and_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&config(dir.path(), false)).await.unwrap();
    let c = device(&server).await;
    assert!(listed(&c).await.is_empty());
    c.disconnect();
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn cases_two_devices_add_while_apart_are_all_listed_for_a_third() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&config(dir.path(), false)).await.unwrap();
    let (a, b) = (device(&server).await, device(&server).await);
    let index = server.caseload_index();
    assert!(listed(&a).await.is_empty() && listed(&b).await.is_empty());
    a.disconnect();
    b.disconnect();
    let mut made = Vec::new();
    for (c, name) in [(&a, "Test Person A"), (&b, "Test Person B")] {
        let profile = case::Profile {
            name: name.into(),
            ..Default::default()
        };
        let doc = c.create(|tx| case::create(tx, &profile)).unwrap();
        c.change(index, |tx| caseload::add(tx, &doc, 1).map(|_| ()))
            .unwrap();
        made.push(doc);
    }
    for c in [&a, &b] {
        c.connect(&server.sync_url()).await.unwrap();
    }
    for (c, doc) in [(&a, made[0]), (&b, made[1])] {
        c.wait_synced(doc, T).await.unwrap();
        c.wait_synced(index, T).await.unwrap();
    }
    let third = device(&server).await;
    let mut got = listed(&third).await;
    got.sort();
    made.sort();
    assert_eq!(got, made);
    for c in [a, b, third] {
        c.disconnect();
    }
    server.shutdown().await.unwrap();
}
