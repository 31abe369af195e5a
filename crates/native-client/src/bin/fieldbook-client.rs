//! `fieldbook-client`: a small command-line sync peer, used by interop tests and for poking
//! at a server by hand. It keeps nothing on disk.
//!
//! With `--username U --password-env VAR` it signs in (docs/ACCESS.md), opens the sync
//! socket with a single-use ticket, and ends the session when done. The password is read
//! from the environment variable VAR so that it never sits on a command line (visible to
//! every user of the machine in `ps`) or in shell history.

use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use fieldbook_native_client::{Client, ClientError, Connector, SignedIn};
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
    /// Sign in as this user (with --password-env).
    #[arg(long, requires = "password_env")]
    username: Option<String>,
    /// Name of the environment variable that holds the password (never the password itself).
    #[arg(long, value_name = "VAR", requires = "username")]
    password_env: Option<String>,
    /// The device name the server records for this sign-in.
    #[arg(long, default_value = "fieldbook-client")]
    device_name: String,
    /// Also trust the CA certificate(s) in this PEM file for https/wss (a private CA, or a
    /// test server's self-signed certificate).
    #[arg(long, value_name = "PEM")]
    ca_cert: Option<std::path::PathBuf>,
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
    /// Create a case (invented data only; needs sign-in); prints the case's automerge: URL
    /// once the server has it and lists it in the signed-in user's caseload index.
    CreateCase {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        known_as: String,
        /// YYYY-MM-DD
        #[arg(long, default_value = "")]
        dob: String,
    },
    /// Print the automerge: URL of every case in the signed-in user's caseload index, one per
    /// line (needs sign-in).
    Cases,
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
    if cli.cmd.needs_sign_in() && cli.username.is_none() {
        anyhow::bail!(NEEDS_SIGN_IN);
    }
    let client = Client::new(Some(StorageId::random()));
    let signed_in = sign_in(&cli, timeout).await?;
    let connected = match &signed_in {
        Some(s) => client.connect_signed_in(&cli.server, s).await,
        None => client.connect(&cli.server).await,
    };
    let result = match connected {
        Ok(()) => run(&client, cli.cmd, signed_in.as_ref(), timeout).await,
        Err(e) => Err(e.into()),
    };
    client.disconnect();
    if let Some(s) = &signed_in {
        // A tool's session is not reused (nothing is kept on disk): end it rather than leave
        // a live token behind for two weeks.
        if let Err(e) = s.sign_out().await {
            eprintln!("warning: could not end the session: {e}");
        }
    }
    match result? {
        Outcome::Done => Ok(()),
        Outcome::Unavailable(url) => {
            eprintln!("document {url} is unavailable");
            std::process::exit(3);
        }
    }
}

enum Outcome {
    Done,
    /// `get` of a document the server does not have (or will not share): exit status 3.
    Unavailable(String),
}

async fn sign_in(cli: &Cli, timeout: Duration) -> anyhow::Result<Option<SignedIn>> {
    let (Some(username), Some(var)) = (&cli.username, &cli.password_env) else {
        return Ok(None);
    };
    let password = std::env::var(var).with_context(|| {
        format!("--password-env {var}: the environment variable {var} is not set (or not UTF-8)")
    })?;
    let connector = match &cli.ca_cert {
        Some(path) => {
            let pem = std::fs::read(path)
                .with_context(|| format!("reading --ca-cert {}", path.display()))?;
            Connector::with_ca_pem(&pem).with_context(|| format!("--ca-cert {}", path.display()))?
        }
        None => Connector::new(),
    }
    .with_timeout(timeout);
    let signed_in = connector
        .sign_in(&cli.server, username, &password, &cli.device_name, None)
        .await
        .with_context(|| format!("signing in as {username}"))?;
    Ok(Some(signed_in))
}

const NEEDS_SIGN_IN: &str =
    "this command acts as a user: sign in with --username and --password-env";

impl Cmd {
    /// Commands about a user's own caseload (the index id comes with the session).
    fn needs_sign_in(&self) -> bool {
        matches!(self, Cmd::Cases | Cmd::CreateCase { .. })
    }
}

fn need_sign_in(signed_in: Option<&SignedIn>) -> anyhow::Result<&SignedIn> {
    signed_in.context(NEEDS_SIGN_IN)
}

async fn run(
    client: &Client,
    cmd: Cmd,
    signed_in: Option<&SignedIn>,
    timeout: Duration,
) -> anyhow::Result<Outcome> {
    match cmd {
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
            let index = need_sign_in(signed_in)?.caseload;
            let profile = fieldbook_case::Profile {
                name,
                known_as,
                dob,
                ..Default::default()
            };
            // The server registers the new case to us and lists it in our index: devices
            // never write the index.
            let doc = client.create(|tx| fieldbook_case::create(tx, &profile))?;
            client
                .wait_synced(doc, timeout)
                .await
                .context("waiting for the server to store the case")?;
            find_index(client, index, timeout).await?;
            client
                .wait_for_document(index, timeout, |d| {
                    fieldbook_case::caseload::case_ids(d).contains(&doc)
                })
                .await
                .context("waiting for the case to appear in the caseload index")?;
            println!("{}", doc.to_url());
        }
        Cmd::Cases => {
            let index = need_sign_in(signed_in)?.caseload;
            let doc = find_index(client, index, timeout).await?;
            for id in fieldbook_case::caseload::case_ids(&doc) {
                println!("{}", id.to_url());
            }
        }
        Cmd::Get { url } => {
            let doc = DocumentId::from_url(&url).context("not an automerge: URL")?;
            match client.find(doc, timeout).await {
                Ok(d) => println!("{}", serde_json::to_string(&AutoSerde::from(&d))?),
                Err(ClientError::Unavailable(_)) => return Ok(Outcome::Unavailable(url)),
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
    Ok(Outcome::Done)
}

/// Fetch the signed-in user's caseload index (its id came with the session).
async fn find_index(
    client: &Client,
    index: DocumentId,
    timeout: Duration,
) -> anyhow::Result<fieldbook_sync::automerge::Automerge> {
    client
        .find(index, timeout)
        .await
        .with_context(|| format!("fetching your caseload index {}", index.to_url()))
}

/// Strings as collaborative text, which is what automerge-repo JS peers write and expect.
fn put_text(tx: &mut impl Transactable, key: &str, value: &str) -> Result<(), AutomergeError> {
    let text = tx.put_object(ROOT, key, ObjType::Text)?;
    tx.splice_text(&text, 0, 0, value)
}
