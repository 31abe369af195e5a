//! SIGKILL the real server binary while a client writes; after each restart every change
//! the server had acknowledged must still be there. The same story with the documents in
//! SQLite and in PostgreSQL (`--database-url`, on the test command's throwaway cluster).

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fieldbook_native_client::Client;
use fieldbook_sync::automerge::{transaction::Transactable, ObjType, ReadDoc, ROOT};
use fieldbook_sync::StorageId;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const T: Duration = Duration::from_secs(20);

#[path = "support/mod.rs"]
mod support;

struct ServerProcess {
    child: Child,
    sync_url: String,
    addr: String,
    cookie: String,
}

impl ServerProcess {
    /// The sync URL with a fresh single-use ticket for the demo practitioner.
    async fn url(&self) -> String {
        format!(
            "{}?ticket={}",
            self.sync_url,
            support::ticket(&self.addr, &self.cookie).await
        )
    }
}

async fn spawn_server(data_dir: &std::path::Path, database_url: Option<&str>) -> ServerProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fieldbook-sync-server"));
    command
        .args(["--listen", "127.0.0.1:0", "--demo", "--data-dir"])
        .arg(data_dir);
    if let Some(url) = database_url {
        command.args(["--database-url", url]);
    }
    let mut child = command
        .env("FIELDBOOK_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("server binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(T, lines.next_line())
        .await
        .expect("server printed its address in time")
        .unwrap()
        .expect("server printed a line");
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
    let (user, password) = support::DEMO_USER;
    let cookie = support::sign_in(&addr, user, password)
        .await
        .session_cookie()
        .expect("demo sign-in");
    ServerProcess {
        child,
        sync_url,
        addr,
        cookie,
    }
}

fn notes(d: &fieldbook_sync::automerge::Automerge) -> Vec<String> {
    let notes = d.get(ROOT, "notes").unwrap().expect("notes list").1;
    (0..d.length(&notes))
        .map(|i| {
            d.get(&notes, i)
                .unwrap()
                .unwrap()
                .0
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_writes_loses_no_acknowledged_change() {
    kill_while_writing(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_writes_loses_no_acknowledged_change_on_postgres() {
    kill_while_writing(Some(support::pg::fresh_database())).await;
}

async fn kill_while_writing(database_url: Option<String>) {
    let database_url = database_url.as_deref();
    let dir = tempfile::tempdir().unwrap();
    let writer = Arc::new(Client::new(Some(StorageId::random())));
    let mut server = spawn_server(dir.path(), database_url).await;
    writer.connect(&server.url().await).await.unwrap();
    let doc = writer
        .create(|tx| {
            tx.put(ROOT, "name", "Crash Test Child")?;
            tx.put_object(ROOT, "notes", ObjType::List)?;
            Ok(())
        })
        .unwrap();
    writer.wait_synced(doc, T).await.unwrap();

    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut next_note = 0usize;
    for round in 0..6 {
        // Kill after a round-dependent number of acknowledged writes, mid-stream.
        let kill_after = acknowledged.lock().unwrap().len() + 3 + round * 4;
        let (acked_tx, mut acked_rx) =
            tokio::sync::watch::channel(acknowledged.lock().unwrap().len());
        let w = writer.clone();
        let acks = acknowledged.clone();
        let start = next_note;
        let writing = tokio::spawn(async move {
            let mut n = start;
            loop {
                let text = format!("round {round} note {n}");
                n += 1;
                if w.change(doc, |tx| {
                    let list = tx.get(ROOT, "notes")?.unwrap().1;
                    let len = tx.length(&list);
                    tx.insert(&list, len, text.as_str())?;
                    Ok(())
                })
                .is_err()
                {
                    break;
                }
                match w.wait_synced(doc, T).await {
                    Ok(()) => {
                        let mut a = acks.lock().unwrap();
                        a.push(text);
                        let _ = acked_tx.send(a.len());
                    }
                    Err(_) => break, // connection gone: this note is not acknowledged
                }
            }
            n
        });
        tokio::time::timeout(T, acked_rx.wait_for(|n| *n >= kill_after))
            .await
            .expect("writes were acknowledged")
            .unwrap();
        server.child.start_kill().unwrap(); // SIGKILL: no shutdown path runs
        server.child.wait().await.unwrap();
        next_note = tokio::time::timeout(T, writing)
            .await
            .expect("writer noticed the kill")
            .unwrap();

        server = spawn_server(dir.path(), database_url).await;
        let checker = Client::new(None);
        checker.connect(&server.url().await).await.unwrap();
        let stored = notes(&checker.find(doc, T).await.unwrap());
        for a in acknowledged.lock().unwrap().iter() {
            assert!(
                stored.contains(a),
                "round {round}: acknowledged {a:?} was lost"
            );
        }
        checker.disconnect();
        writer.connect(&server.url().await).await.unwrap();
    }
    assert!(acknowledged.lock().unwrap().len() >= 6 * 3);
    server.child.start_kill().unwrap();
    if let Some(url) = database_url {
        // The documents really were in PostgreSQL, not in a file in the data directory.
        let url = url.to_owned();
        let chunks: i64 = std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            c.query_one("SELECT COUNT(*) FROM store_chunks", &[])
                .unwrap()
                .get(0)
        })
        .join()
        .unwrap();
        assert!(chunks > 0, "no chunk in PostgreSQL");
    }
}
