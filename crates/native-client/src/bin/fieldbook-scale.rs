//! `fieldbook-scale`: server-side scale workloads against ONE server (ours or the reference
//! automerge-repo Node server), measuring the server process from outside through /proc.
//! `scripts/bench-scale.sh` runs each against every server variant side by side and prints
//! the tables (docs/PERFORMANCE.md, "Scale").
//!
//! - `seed`: one device writes N cases of M contact notes offline, syncs them, and writes
//!   their ids to a file.
//! - `pull`: a fresh device (empty store) fetches every case in the file; prints the server's
//!   CPU-seconds over the pull, its peak RSS (VmHWM of a process the script started fresh for
//!   the pull) and the wall time.
//! - `idle`: D devices connect and do the join/peer handshake, then nothing; prints the
//!   server's RSS before and after.
//! - `fanout`: D devices open one shared case, E of them edit it at a steady rate; prints
//!   p50/p99 from an edit on one device to its arrival on each other device. Devices are
//!   spread round-robin over every `--url` given (several nodes of one deployment).
//!
//! Output: `key value` lines, read by the script. The client side is Rust and holds
//! everything in memory so the server is what is measured.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use fieldbook_native_client::synthetic::words;
use fieldbook_native_client::{Client, ClientError, Connector, SignedIn};
use fieldbook_sync::automerge::{transaction::Transactable, ObjType, ReadDoc, ScalarValue, ROOT};
use fieldbook_sync::health::Policy;
use fieldbook_sync::{DocumentId, StorageId};

#[derive(Parser)]
struct Cli {
    /// Sync endpoint(s). Devices are spread over them round-robin.
    #[arg(long = "url", required = true)]
    urls: Vec<String>,
    /// Sign in as this user (our server); without it, connect anonymously (the reference).
    #[arg(long, requires = "password_env")]
    username: Option<String>,
    /// Name of the environment variable holding the password.
    #[arg(long)]
    password_env: Option<String>,
    /// The server process to measure (/proc/PID).
    #[arg(long)]
    pid: Option<u32>,
    /// Give a silent connection up after this many seconds (the app: 3.5). Long by default
    /// because these workloads measure server cost, not liveness: the reference's event loop
    /// stays busy for several seconds loading a caseload from its files, and a device that
    /// hung up then would never finish the pull on any server.
    #[arg(long, default_value_t = 120)]
    dead_after_secs: u64,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    Seed {
        #[arg(long, default_value_t = 500)]
        cases: usize,
        #[arg(long, default_value_t = 50)]
        notes: usize,
        /// Where to write the case ids, one a line.
        #[arg(long)]
        ids: PathBuf,
    },
    Pull {
        #[arg(long)]
        ids: PathBuf,
    },
    Idle {
        #[arg(long, default_value_t = 1000)]
        devices: usize,
        /// How long to hold them connected before the second reading (past a ping round).
        #[arg(long, default_value_t = 6)]
        hold_secs: u64,
        /// Devices connecting at once. Kept low: each sign-in check at the upgrade runs on
        /// a blocking thread, and a burst of them would count threads, not connections.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
    },
    Fanout {
        #[arg(long, default_value_t = 200)]
        devices: usize,
        #[arg(long, default_value_t = 20)]
        editors: usize,
        /// Edits per editor.
        #[arg(long, default_value_t = 20)]
        edits: usize,
        /// Time between one editor's edits (editors are staggered evenly across it).
        #[arg(long, default_value_t = 250)]
        interval_ms: u64,
    },
}

const T: Duration = Duration::from_secs(300);

/// How devices get onto a server: anonymously, or with a ticket from one session.
struct Access {
    urls: Vec<String>,
    session: Option<SignedIn>,
    liveness: Policy,
}

impl Access {
    async fn new(cli: &Cli) -> anyhow::Result<Access> {
        let session = match (&cli.username, &cli.password_env) {
            (Some(user), Some(var)) => {
                let password = std::env::var(var)
                    .with_context(|| format!("environment variable {var} (the password)"))?;
                Some(
                    Connector::new()
                        .sign_in(&cli.urls[0], user, &password, "scale bench", None)
                        .await
                        .context("signing in")?,
                )
            }
            _ => None,
        };
        let dead_after = cli.dead_after_secs.saturating_mul(1000);
        Ok(Access {
            urls: cli.urls.clone(),
            session,
            // Pinging stays as the app's: a device quiet for longer than the server's idle
            // timeout is closed by the server (a pull at 40 s between pings lost its
            // connection half-way on ours).
            liveness: Policy {
                dead_after,
                ..Policy::default()
            },
        })
    }

    /// Connect `c` as device number `i` (its server: `urls[i % n]`).
    async fn connect(&self, c: &Client, i: usize) -> anyhow::Result<()> {
        let url = &self.urls[i % self.urls.len()];
        c.set_heartbeat_policy(self.liveness);
        match &self.session {
            Some(s) => c.connect_signed_in(url, s).await?,
            None => c.connect(url).await?,
        }
        Ok(())
    }
}

/// What /proc says about the server.
struct Proc(Option<u32>);

impl Proc {
    fn status_kb(&self, key: &str) -> anyhow::Result<u64> {
        let Some(pid) = self.0 else {
            bail!("--pid is needed")
        };
        let s = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        s.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("{key} in /proc/{pid}/status"))
    }
    fn rss_kb(&self) -> anyhow::Result<u64> {
        self.status_kb("VmRSS")
    }
    fn hwm_kb(&self) -> anyhow::Result<u64> {
        self.status_kb("VmHWM")
    }
    /// utime + stime, in seconds.
    fn cpu_secs(&self) -> anyhow::Result<f64> {
        let Some(pid) = self.0 else {
            bail!("--pid is needed")
        };
        let s = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
        // Fields after the command name (which is in parentheses and may hold spaces).
        let rest = s.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
        let f: Vec<&str> = rest.split_whitespace().collect();
        // rest[0] is field 3 (state): utime is field 14, stime 15.
        let ticks = |i: usize| -> anyhow::Result<f64> {
            Ok(f.get(i - 3).context("short /proc stat")?.parse::<f64>()?)
        };
        Ok((ticks(14)? + ticks(15)?) / clock_ticks())
    }
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// A case with `notes` contact notes, each typed in three sittings (as `fieldbook-bench`):
/// created on the client, its 3 × `notes` later changes written on a plain copy and merged
/// in at once (the same history, without a store write per change on the client).
fn case_with_notes(c: &Client, notes: usize, seed: u64) -> anyhow::Result<DocumentId> {
    let doc = c.create(|tx| {
        let name = tx.put_object(ROOT, "name", ObjType::Text)?;
        tx.splice_text(&name, 0, 0, "Benchmark Child")?;
        tx.put_object(ROOT, "notes", ObjType::List)?;
        Ok(())
    })?;
    let mut am = c.document(&doc).context("the case just created")?;
    let base = am.get_heads();
    let list = am.get(ROOT, "notes")?.context("notes")?.1;
    for n in 0..notes as u64 {
        let s = seed * 1_000 + n;
        let mut tx = am.transaction();
        let note = tx.insert_object(&list, n as usize, ObjType::Map)?;
        tx.put(&note, "at", 1_760_000_000_000i64 + n as i64 * 86_400_000)?;
        tx.put(&note, "type", "detached outreach")?;
        tx.put(&note, "place", "Example Park")?;
        let text = tx.put_object(&note, "text", ObjType::Text)?;
        tx.splice_text(&text, 0, 0, &words(s, 40))?;
        tx.commit();
        for part in 1..3u64 {
            let mut tx = am.transaction();
            let len = tx.length(&text);
            tx.splice_text(&text, len, 0, &format!(" {}", words(s * 7 + part, 40)))?;
            tx.commit();
        }
    }
    c.merge(doc, &am.save_after(&base))?;
    Ok(doc)
}

async fn seed(access: &Access, cases: usize, notes: usize, ids: &PathBuf) -> anyhow::Result<()> {
    let c = Client::new(Some(StorageId::random()));
    let docs: Vec<DocumentId> = (0..cases)
        .map(|i| case_with_notes(&c, notes, i as u64))
        .collect::<Result<_, _>>()?;
    let start = Instant::now();
    access.connect(&c, 0).await?;
    for d in &docs {
        // The reference has, now and then, closed the seeding connection part-way
        // ("not connected"); as a device would, reconnect and carry on (at most a few times).
        let mut reconnects = 0;
        loop {
            match c.wait_synced(*d, T).await {
                Err(ClientError::NotConnected) if reconnects < 3 => {
                    reconnects += 1;
                    eprintln!("seed: the connection closed; reconnecting ({reconnects})");
                    access.connect(&c, 0).await?;
                }
                r => break r?,
            }
        }
    }
    println!("seed_secs {:.3}", start.elapsed().as_secs_f64());
    c.disconnect();
    let text: String = docs.iter().map(|d| format!("{d}\n")).collect();
    std::fs::write(ids, text)?;
    Ok(())
}

async fn pull(access: &Access, proc: &Proc, ids: &PathBuf) -> anyhow::Result<()> {
    let docs: Vec<DocumentId> = std::fs::read_to_string(ids)?
        .lines()
        .map(|l| {
            l.parse()
                .map_err(|_| anyhow::anyhow!("bad document id in {ids:?}"))
        })
        .collect::<Result<_, _>>()?;
    let rss_start = proc.rss_kb()?;
    let cpu0 = proc.cpu_secs()?;
    let start = Instant::now();
    let c = Client::new(Some(StorageId::random()));
    access.connect(&c, 0).await?;
    for d in &docs {
        c.request(*d);
    }
    c.wait_held(&docs, T).await?;
    let wall = start.elapsed();
    let cpu = proc.cpu_secs()? - cpu0;
    c.disconnect();
    println!("docs {}", docs.len());
    println!("wall_secs {:.3}", wall.as_secs_f64());
    println!("cpu_secs {cpu:.3}");
    println!("rss_start_kb {rss_start}");
    println!("hwm_kb {}", proc.hwm_kb()?);
    Ok(())
}

async fn idle(
    access: &Access,
    proc: &Proc,
    devices: usize,
    hold: Duration,
    concurrency: usize,
) -> anyhow::Result<()> {
    let before = proc.rss_kb()?;
    let clients: Vec<Client> = (0..devices)
        .map(|_| Client::new(Some(StorageId::random())))
        .collect();
    let start = Instant::now();
    // A few at a time, as phones arrive: each a ticket (ours) and a handshake.
    let per = concurrency.max(1);
    for (chunk_no, chunk) in clients.chunks(per).enumerate() {
        let connects = chunk
            .iter()
            .enumerate()
            .map(|(k, c)| access.connect(c, chunk_no * per + k));
        for r in futures_util::future::join_all(connects).await {
            r?;
        }
    }
    let connect_secs = start.elapsed().as_secs_f64();
    let joined = proc.rss_kb()?;
    // The workload itself: devices sitting connected and silent for `hold` (heartbeats and
    // pings flow meanwhile), not a wait for anything; what is checked after is that all stayed.
    tokio::time::sleep(hold).await;
    let connected = clients.iter().filter(|c| c.is_connected()).count();
    if connected != devices {
        bail!("only {connected} of {devices} devices still connected after {hold:?}");
    }
    let after = proc.rss_kb()?;
    println!("devices {devices}");
    println!("connect_secs {connect_secs:.3}");
    println!("rss_before_kb {before}");
    println!("rss_joined_kb {joined}");
    println!("rss_after_kb {after}");
    println!(
        "per_device_kb {:.1}",
        after.saturating_sub(before) as f64 / devices as f64
    );
    for c in &clients {
        c.disconnect();
    }
    Ok(())
}

fn counter(d: &fieldbook_sync::automerge::Automerge, editor: usize) -> u64 {
    match d.get(ROOT, format!("e{editor}")) {
        Ok(Some((fieldbook_sync::automerge::Value::Scalar(s), _))) => match s.as_ref() {
            ScalarValue::Uint(n) => *n,
            ScalarValue::Int(n) => *n as u64,
            _ => 0,
        },
        _ => 0,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

async fn fanout(
    access: Arc<Access>,
    devices: usize,
    editors: usize,
    edits: usize,
    interval: Duration,
) -> anyhow::Result<()> {
    anyhow::ensure!(editors <= devices, "more editors than devices");
    // The shared case, with one counter per editor.
    let owner = Client::new(Some(StorageId::random()));
    let doc = owner.create(|tx| {
        let name = tx.put_object(ROOT, "name", ObjType::Text)?;
        tx.splice_text(&name, 0, 0, "Shared Benchmark Case")?;
        for e in 0..editors {
            tx.put(ROOT, format!("e{e}"), 0u64)?;
        }
        Ok(())
    })?;
    access.connect(&owner, 0).await?;
    owner.wait_synced(doc, T).await?;
    owner.disconnect();

    let clients: Arc<Vec<Client>> = Arc::new(
        (0..devices)
            .map(|_| Client::new(Some(StorageId::random())))
            .collect(),
    );
    for chunk in (0..devices).collect::<Vec<_>>().chunks(25) {
        let opens = chunk.iter().map(|&i| {
            let access = access.clone();
            let clients = clients.clone();
            async move {
                access.connect(&clients[i], i).await?;
                clients[i].find(doc, T).await?;
                anyhow::Ok(())
            }
        });
        for r in futures_util::future::join_all(opens).await {
            r?;
        }
    }
    // sent[e][n-1]: when editor e made its n-th edit.
    let sent: Arc<Mutex<Vec<Vec<Option<Instant>>>>> =
        Arc::new(Mutex::new(vec![vec![None; edits]; editors]));
    let latencies: Arc<Mutex<Vec<Duration>>> = Arc::new(Mutex::new(Vec::new()));
    let mut watchers = Vec::new();
    for i in 0..devices {
        let clients = clients.clone();
        let sent = sent.clone();
        let latencies = latencies.clone();
        watchers.push(tokio::spawn(async move {
            let mut seen = vec![0u64; editors];
            let done = |seen: &[u64]| seen.iter().all(|&n| n >= edits as u64);
            while !done(&seen) {
                let now_seen = clients[i]
                    .wait_with(doc, T, |d| {
                        let v: Vec<u64> = (0..editors).map(|e| counter(d, e)).collect();
                        v.iter().zip(&seen).any(|(a, b)| a > b).then_some(v)
                    })
                    .await?;
                let arrived = Instant::now();
                let sent = sent.lock().unwrap();
                let mut lat = latencies.lock().unwrap();
                for (e, (&now_n, old)) in now_seen.iter().zip(seen.iter_mut()).enumerate() {
                    for n in *old + 1..=now_n {
                        // An editor's own edits are not a fan-out.
                        if e != i {
                            let at = sent[e][n as usize - 1]
                                .context("an edit arrived before it was made")?;
                            lat.push(arrived - at);
                        }
                    }
                    *old = now_n;
                }
            }
            anyhow::Ok(())
        }));
    }
    let start = Instant::now();
    let mut typing = Vec::new();
    for e in 0..editors {
        let clients = clients.clone();
        let sent = sent.clone();
        typing.push(tokio::spawn(async move {
            let offset = interval * e as u32 / editors as u32;
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + offset, interval);
            for n in 1..=edits {
                tick.tick().await;
                sent.lock().unwrap()[e][n - 1] = Some(Instant::now());
                clients[e].change(doc, |tx| tx.put(ROOT, format!("e{e}"), n as u64))?;
            }
            anyhow::Ok(())
        }));
    }
    for t in typing {
        t.await??;
    }
    for w in watchers {
        w.await??;
    }
    let elapsed = start.elapsed();
    let mut lat = std::mem::take(&mut *latencies.lock().unwrap());
    lat.sort();
    let expected = editors * edits * (devices - 1);
    anyhow::ensure!(
        lat.len() == expected,
        "{} arrivals, expected {expected}",
        lat.len()
    );
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("devices {devices}");
    println!("editors {editors}");
    println!("arrivals {}", lat.len());
    println!("secs {:.3}", elapsed.as_secs_f64());
    println!("p50_ms {:.2}", ms(percentile(&lat, 0.50)));
    println!("p99_ms {:.2}", ms(percentile(&lat, 0.99)));
    println!("max_ms {:.2}", ms(*lat.last().unwrap_or(&Duration::ZERO)));
    for c in clients.iter() {
        c.disconnect();
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let access = Access::new(&cli).await?;
    let proc = Proc(cli.pid);
    match cli.cmd {
        Cmd::Seed { cases, notes, ids } => seed(&access, cases, notes, &ids).await,
        Cmd::Pull { ids } => pull(&access, &proc, &ids).await,
        Cmd::Idle {
            devices,
            hold_secs,
            concurrency,
        } => {
            idle(
                &access,
                &proc,
                devices,
                Duration::from_secs(hold_secs),
                concurrency,
            )
            .await
        }
        Cmd::Fanout {
            devices,
            editors,
            edits,
            interval_ms,
        } => {
            fanout(
                Arc::new(access),
                devices,
                editors,
                edits,
                Duration::from_millis(interval_ms),
            )
            .await
        }
    }
}
