//! `fieldbook-bench`: the same sync workloads against two servers side by side (ours and the
//! reference automerge-repo Node server), printed as a Markdown table with ratios.
//! Run through `scripts/bench.sh`, which starts both servers on loopback.

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use fieldbook_native_client::synthetic::words;
use fieldbook_native_client::{Client, Connector, SignedIn};
use fieldbook_sync::automerge::{
    transaction::Transactable, AutomergeError, ObjType, ReadDoc, ROOT,
};
use fieldbook_sync::{DocumentId, StorageId};

#[derive(Parser)]
struct Cli {
    /// Our sync endpoint (ws://…/sync).
    #[arg(long)]
    ours: String,
    /// The reference server's endpoint.
    #[arg(long)]
    reference: String,
    /// Sign in to OUR server as this user (it lets no one sync without signing in; the
    /// reference has no sign-in). Each connection then uses a fresh ticket.
    #[arg(long, requires = "password_env")]
    username: Option<String>,
    /// Name of the environment variable holding that user's password.
    #[arg(long)]
    password_env: Option<String>,
    /// Acknowledged edits in the latency workload.
    #[arg(long, default_value_t = 200)]
    edits: usize,
    /// Documents in the bulk workload.
    #[arg(long, default_value_t = 200)]
    docs: usize,
}

const T: Duration = Duration::from_secs(120);

/// A case with `notes` contact notes, each typed in three sittings (as in the field).
fn case_with_notes(c: &Client, notes: usize) -> anyhow::Result<DocumentId> {
    let doc = c.create(|tx| {
        let name = tx.put_object(ROOT, "name", ObjType::Text)?;
        tx.splice_text(&name, 0, 0, "Benchmark Child")?;
        tx.put_object(ROOT, "notes", ObjType::List)?;
        Ok(())
    })?;
    for n in 0..notes {
        c.change(doc, |tx| add_note(tx, n as u64))?;
        for part in 1..3u64 {
            c.change(doc, |tx| {
                let list = tx.get(ROOT, "notes")?.expect("notes").1;
                let last = tx.length(&list) - 1;
                let note = tx.get(&list, last)?.expect("note").1;
                let text = tx.get(&note, "text")?.expect("text").1;
                let len = tx.length(&text);
                tx.splice_text(
                    &text,
                    len,
                    0,
                    &format!(" {}", words(n as u64 * 7 + part, 40)),
                )
            })?;
        }
    }
    Ok(doc)
}

fn add_note(tx: &mut impl Transactable, seed: u64) -> Result<(), AutomergeError> {
    let list = tx.get(ROOT, "notes")?.expect("notes").1;
    let i = tx.length(&list);
    let note = tx.insert_object(&list, i, ObjType::Map)?;
    tx.put(&note, "at", 1_760_000_000_000i64 + seed as i64 * 86_400_000)?;
    tx.put(&note, "type", "detached outreach")?;
    tx.put(&note, "place", "Example Park")?;
    let text = tx.put_object(&note, "text", ObjType::Text)?;
    tx.splice_text(&text, 0, 0, &words(seed, 40))
}

struct Results {
    first_sync_up: u64,
    first_fetch_down: u64,
    reconnect_persisted: u64,
    reconnect_ephemeral: u64,
    doc_bytes: usize,
    acked_edit: Duration,
    bulk: Duration,
}

fn delta(c: &Client, before: (u64, u64)) -> u64 {
    let (s, r) = c.wire_bytes();
    (s - before.0) + (r - before.1)
}

/// Connect anonymously, or with a ticket from `session`.
async fn connect(c: &Client, url: &str, session: Option<&SignedIn>) -> anyhow::Result<()> {
    match session {
        Some(s) => c.connect_signed_in(url, s).await?,
        None => c.connect(url).await?,
    }
    Ok(())
}

async fn run(
    url: &str,
    session: Option<&SignedIn>,
    edits: usize,
    docs: usize,
) -> anyhow::Result<Results> {
    // (a) first sync of a case with 50 contact notes, written offline.
    let a = Client::new(Some(StorageId::random()));
    let doc = case_with_notes(&a, 50)?;
    let doc_bytes = a.document(&doc).unwrap().save().len();
    let before = a.wire_bytes();
    connect(&a, url, session).await?;
    a.wait_synced(doc, T).await?;
    let first_sync_up = delta(&a, before);

    let b = Client::new(Some(StorageId::random()));
    let before = b.wire_bytes();
    connect(&b, url, session).await?;
    b.find(doc, T).await?;
    let first_fetch_down = delta(&b, before);

    // (b) reconnect after one small edit, with sync state persisted on both sides.
    a.disconnect();
    a.change(doc, |tx| add_note(tx, 999))?;
    let before = a.wire_bytes();
    connect(&a, url, session).await?;
    a.wait_synced(doc, T).await?;
    let reconnect_persisted = delta(&a, before);

    // The same without persisted sync state (an ephemeral peer, as a fresh device).
    let e = Client::new(None);
    connect(&e, url, session).await?;
    e.find(doc, T).await?;
    e.disconnect();
    e.change(doc, |tx| add_note(tx, 1000))?;
    let before = e.wire_bytes();
    connect(&e, url, session).await?;
    e.wait_synced(doc, T).await?;
    let reconnect_ephemeral = delta(&e, before);

    // Latency: sequential edits, each waited for until the server acknowledges it.
    let start = Instant::now();
    for n in 0..edits {
        a.change(doc, |tx| {
            let list = tx.get(ROOT, "notes")?.expect("notes").1;
            let note = tx.get(&list, 0)?.expect("note").1;
            tx.put(&note, "reviewed", n as i64)
        })?;
        a.wait_synced(doc, T).await?;
    }
    let acked_edit = start.elapsed() / edits as u32;

    // Bulk: a device comes online holding `docs` new small cases.
    let bulk_client = Client::new(Some(StorageId::random()));
    let ids: Vec<DocumentId> = (0..docs)
        .map(|_| case_with_notes(&bulk_client, 2))
        .collect::<Result<_, _>>()?;
    let start = Instant::now();
    connect(&bulk_client, url, session).await?;
    for id in &ids {
        bulk_client.wait_synced(*id, T).await?;
    }
    let bulk = start.elapsed();
    for c in [&a, &b, &e, &bulk_client] {
        c.disconnect();
    }
    Ok(Results {
        first_sync_up,
        first_fetch_down,
        reconnect_persisted,
        reconnect_ephemeral,
        doc_bytes,
        acked_edit,
        bulk,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let session = match (&cli.username, &cli.password_env) {
        (Some(user), Some(var)) => {
            let password = std::env::var(var)
                .with_context(|| format!("environment variable {var} (the password)"))?;
            Some(
                Connector::new()
                    .sign_in(&cli.ours, user, &password, "bench", None)
                    .await
                    .context("signing in to our server")?,
            )
        }
        _ => None,
    };
    let ours = run(&cli.ours, session.as_ref(), cli.edits, cli.docs)
        .await
        .context("workload against our server")?;
    let refr = run(&cli.reference, None, cli.edits, cli.docs)
        .await
        .context("workload against the reference server")?;
    let ratio = |a: f64, b: f64| {
        if b > 0.0 {
            format!("{:.2}", a / b)
        } else {
            "-".into()
        }
    };
    println!("| measure | Fieldbook | reference (automerge-repo, Node) | ours / reference |");
    println!("|---|---|---|---|");
    let bytes = |name: &str, a: u64, b: u64| {
        println!("| {name} | {a} B | {b} B | {} |", ratio(a as f64, b as f64))
    };
    println!(
        "| saved size of the 50-note case | {} B | {} B | - |",
        ours.doc_bytes, refr.doc_bytes
    );
    bytes(
        "(a) first sync of the 50-note case, device → server",
        ours.first_sync_up,
        refr.first_sync_up,
    );
    bytes(
        "(a) first fetch of it by a second device",
        ours.first_fetch_down,
        refr.first_fetch_down,
    );
    bytes(
        "(b) reconnect after one small edit, sync state persisted",
        ours.reconnect_persisted,
        refr.reconnect_persisted,
    );
    bytes(
        "(b') same, ephemeral peer (no persisted sync state)",
        ours.reconnect_ephemeral,
        refr.reconnect_ephemeral,
    );
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "| one edit until acknowledged ({} sequential) | {:.2} ms | {:.2} ms | {} |",
        cli.edits,
        ms(ours.acked_edit),
        ms(refr.acked_edit),
        ratio(ms(ours.acked_edit), ms(refr.acked_edit))
    );
    println!(
        "| {} new cases synced on connect | {:.0} ms | {:.0} ms | {} |",
        cli.docs,
        ms(ours.bulk),
        ms(refr.bulk),
        ratio(ms(ours.bulk), ms(refr.bulk))
    );
    Ok(())
}
