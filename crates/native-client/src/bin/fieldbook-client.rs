//! `fieldbook-client`: a small command-line sync peer, used by interop tests and for poking
//! at a server by hand. It keeps nothing on disk.

use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use fieldbook_native_client::{Client, ClientError};
use fieldbook_sync::automerge::{
    transaction::Transactable, AutoSerde, AutomergeError, ObjType, ROOT,
};
use fieldbook_sync::{DocumentId, StorageId};

#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Sync endpoint, e.g. ws://127.0.0.1:8080/sync
    #[arg(long)]
    server: String,
    /// Seconds to wait for the server.
    #[arg(long, default_value_t = 20)]
    timeout: u64,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create a document `{ "title": TITLE }`; prints its automerge: URL once the server has it.
    Create {
        #[arg(long)]
        title: String,
    },
    /// Create a case (invented data only) and list it in the server's caseload index;
    /// prints the case's automerge: URL once the server has both.
    CreateCase {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        known_as: String,
        /// YYYY-MM-DD
        #[arg(long, default_value = "")]
        dob: String,
    },
    /// Print the automerge: URL of every case in the server's caseload index, one per line.
    Cases,
    /// Remove a case from the server's caseload index (as the server does when access to
    /// it is lost) and wait until the server has the change. Devices then delete their copy.
    Unlist { url: String },
    /// Print a document as JSON. Exits with status 3 if the server does not have it.
    Get { url: String },
    /// Set a top-level text field of a document and wait until the server has it.
    Set {
        url: String,
        key: String,
        value: String,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let timeout = Duration::from_secs(cli.timeout);
    let client = Client::new(Some(StorageId::random()));
    client.connect(&cli.server).await?;
    match cli.cmd {
        Cmd::Create { title } => {
            let doc = client.create(|tx| put_text(tx, "title", &title))?;
            client.wait_synced(doc, timeout).await?;
            println!("{}", doc.to_url());
        }
        Cmd::CreateCase {
            name,
            known_as,
            dob,
        } => {
            let index = caseload_index(&client, timeout).await?;
            let profile = fieldbook_case::Profile {
                name,
                known_as,
                dob,
                ..Default::default()
            };
            let doc = client.create(|tx| fieldbook_case::create(tx, &profile))?;
            client.change(index, |tx| {
                fieldbook_case::caseload::add(tx, &doc, now_ms()).map(|_| ())
            })?;
            client.wait_synced(doc, timeout).await?;
            client.wait_synced(index, timeout).await?;
            println!("{}", doc.to_url());
        }
        Cmd::Cases => {
            let index = caseload_index(&client, timeout).await?;
            let doc = client.document(&index).context("caseload index vanished")?;
            for id in fieldbook_case::caseload::case_ids(&doc) {
                println!("{}", id.to_url());
            }
        }
        Cmd::Unlist { url } => {
            let doc = DocumentId::from_url(&url).context("not an automerge: URL")?;
            let index = caseload_index(&client, timeout).await?;
            let mut listed = false;
            client.change(index, |tx| {
                listed = fieldbook_case::caseload::remove(tx, &doc)?;
                Ok(())
            })?;
            anyhow::ensure!(listed, "{url} is not in the server's caseload index");
            client.wait_synced(index, timeout).await?;
        }
        Cmd::Get { url } => {
            let doc = DocumentId::from_url(&url).context("not an automerge: URL")?;
            match client.find(doc, timeout).await {
                Ok(d) => println!("{}", serde_json::to_string(&AutoSerde::from(&d))?),
                Err(ClientError::Unavailable(_)) => {
                    eprintln!("document {url} is unavailable");
                    std::process::exit(3);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Cmd::Set { url, key, value } => {
            let doc = DocumentId::from_url(&url).context("not an automerge: URL")?;
            client.find(doc, timeout).await?;
            client.change(doc, |tx| put_text(tx, &key, &value))?;
            client.wait_synced(doc, timeout).await?;
        }
    }
    client.disconnect();
    Ok(())
}

/// Fetch the server's caseload index (its id follows from the server's storage id).
async fn caseload_index(client: &Client, timeout: Duration) -> anyhow::Result<DocumentId> {
    let server = client
        .server_storage_id()
        .context("the server did not announce a storage id, so it has no caseload index")?;
    let index = fieldbook_case::caseload::index_id(&server);
    client
        .find(index, timeout)
        .await
        .context("fetching the caseload index")?;
    Ok(index)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Strings as collaborative text, which is what automerge-repo JS peers write and expect.
fn put_text(tx: &mut impl Transactable, key: &str, value: &str) -> Result<(), AutomergeError> {
    let text = tx.put_object(ROOT, key, ObjType::Text)?;
    tx.splice_text(&text, 0, 0, value)
}
