//! `samod` (crates.io), an independent Rust implementation of automerge-repo, syncs through
//! our server with our native client.

use std::time::Duration;

use fieldbook_native_client::Client;
use fieldbook_sync::automerge::{transaction::Transactable, Automerge, ObjType, ReadDoc, ROOT};
use fieldbook_sync::{DocumentId, StorageId};
use fieldbook_sync_server::config::Config;
use fieldbook_sync_server::http::start_without_sign_in as start;

const T: Duration = Duration::from_secs(20);

fn title(d: &Automerge) -> String {
    let (_, text) = d.get(ROOT, "title").unwrap().expect("title");
    d.text(&text).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samod_and_our_client_find_each_others_documents() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    let server = start(&cfg).await.unwrap();

    let repo = samod::Repo::build_tokio().load().await;
    let dialer = repo
        .dial_websocket(
            samod::Url::parse(&server.sync_url()).unwrap(),
            samod::BackoffConfig::default(),
        )
        .unwrap();
    tokio::time::timeout(T, dialer.established())
        .await
        .expect("samod connected")
        .expect("handshake");
    let conn = dialer.connection_id().expect("connected");

    // samod creates; the server acknowledges; our client finds it.
    let mut initial = Automerge::new();
    initial
        .transact::<_, _, fieldbook_sync::automerge::AutomergeError>(|tx| {
            let t = tx.put_object(ROOT, "title", ObjType::Text)?;
            tx.splice_text(&t, 0, 0, "Made by samod")?;
            Ok(())
        })
        .unwrap();
    let handle = repo.create(initial).await.unwrap();
    tokio::time::timeout(T, handle.they_have_our_changes(conn))
        .await
        .expect("server acknowledged samod's doc");
    let ours = Client::new(Some(StorageId::random()));
    ours.connect(&server.sync_url()).await.unwrap();
    let id: DocumentId = handle.document_id().to_string().parse().unwrap();
    assert_eq!(title(&ours.find(id, T).await.unwrap()), "Made by samod");

    // Our client creates; samod finds it.
    let mine = ours
        .create(|tx| {
            let t = tx.put_object(ROOT, "title", ObjType::Text)?;
            tx.splice_text(&t, 0, 0, "Made by Fieldbook")
        })
        .unwrap();
    ours.wait_synced(mine, T).await.unwrap();
    let samod_id: samod::DocumentId = mine.to_string().parse().unwrap();
    let found = tokio::time::timeout(T, repo.find(samod_id))
        .await
        .expect("samod find finished")
        .unwrap();
    let found = found.expect("samod found our document");
    assert_eq!(found.with_document(|d| title(d)), "Made by Fieldbook");

    repo.stop().await;
    server.shutdown().await.unwrap();
}
