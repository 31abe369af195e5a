//! `fieldbook-sync-server`: serves the PWA and the automerge-repo sync endpoint on one port.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use fieldbook_sync_server::config::Config;
use tracing_subscriber::filter::{filter_fn, FilterExt};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

mod admin;

/// Exit code when the sync actor dies: EX_SOFTWARE, so a supervisor restarts the server.
const EXIT_ACTOR_DIED: i32 = 70;

/// Fieldbook sync server. Settings come from defaults, then --config FILE, then FIELDBOOK_*
/// environment variables (e.g. FIELDBOOK_LISTEN, FIELDBOOK_DATA_DIR), then these flags.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// TOML file with settings (keys as in README: listen, data_dir, static_dir, ...).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free port).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Directory for the embedded database.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Built PWA (Trunk's dist/) to serve at /.
    #[arg(long)]
    static_dir: Option<PathBuf>,
    /// Largest WebSocket message accepted, in bytes.
    #[arg(long)]
    max_frame_bytes: Option<usize>,
    /// Seed invented demo cases and demo accounts (once; only in an empty data directory).
    #[arg(long)]
    demo: bool,
    /// With --demo: how many invented cases to seed (default 8; past 8 they go to demo-ayo,
    /// whose caseload is then N - 3).
    #[arg(long, value_name = "N")]
    demo_cases: Option<usize>,
    /// With --demo: this many extra contact notes on the first demo case (e.g. 1000).
    #[arg(long, value_name = "N")]
    demo_big_case_notes: Option<usize>,
    /// PEM file with the TLS certificate (then any intermediates): serve HTTPS and WSS.
    /// Needs --tls-key.
    #[arg(long, value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// PEM file with the private key for --tls-cert.
    #[arg(long, value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// A reverse proxy in front terminates TLS: allow plain HTTP on a non-loopback --listen
    /// address, and send HSTS and Secure cookies.
    #[arg(long)]
    behind_tls_proxy: bool,
    /// PostgreSQL URL (postgres://…) instead of the embedded store: several nodes can share
    /// one database. Prefer FIELDBOOK_DATABASE_URL or the config file when it has a password.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// PEM file of the certificate authority that signed PostgreSQL's TLS certificate
    /// (default: the system's trusted roots).
    #[arg(long, value_name = "FILE")]
    database_ca_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Manage teams, users, case allocation, grants and devices, and read the audit log,
    /// in the server's data directory (safe while the server runs).
    Admin(admin::AdminArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Before any file is made: the data directory's files are the owner's alone
    // (docs/AT-REST.md). The store also fixes modes an older install left wider.
    fieldbook_sync_server::storage::files::restrict_umask();
    init_logging()?;
    log_panics();
    let cli = Cli::parse();
    // Where the data lives is the same for `admin` as for serving: a node's admin commands
    // given `--database-url` must reach PostgreSQL, not a SQLite file in the data directory.
    let database = |config: &mut Config| {
        if let Some(v) = &cli.database_url {
            config.database_url = Some(fieldbook_sync_server::config::DatabaseUrl(v.clone()));
        }
        if let Some(v) = &cli.database_ca_file {
            config.database_ca_file = Some(v.clone());
        }
    };
    if let Some(Command::Admin(args)) = cli.command {
        std::process::exit(admin::main(
            args,
            cli.config.as_deref(),
            cli.data_dir,
            &database,
        ));
    }
    let mut config = Config::load(cli.config.as_deref()).context("invalid configuration")?;
    if let Some(v) = cli.listen {
        config.listen = v;
    }
    if let Some(v) = cli.data_dir {
        config.data_dir = v;
    }
    if let Some(v) = cli.static_dir {
        config.static_dir = Some(v);
    }
    if let Some(v) = cli.max_frame_bytes {
        config.max_frame_bytes = v;
    }
    if cli.demo {
        config.demo = true;
    }
    if let Some(v) = cli.demo_cases {
        config.demo_cases = v;
    }
    if let Some(v) = cli.demo_big_case_notes {
        config.demo_big_case_notes = v;
    }
    if let Some(v) = cli.tls_cert {
        config.tls_cert = Some(v);
    }
    if let Some(v) = cli.tls_key {
        config.tls_key = Some(v);
    }
    if cli.behind_tls_proxy {
        config.behind_tls_proxy = true;
    }
    database(&mut config);
    if let Some(dir) = &config.static_dir {
        anyhow::ensure!(
            dir.join("index.html").is_file(),
            "static_dir {} has no index.html: build the app first (scripts/run.sh does)",
            dir.display()
        );
    }
    let server = fieldbook_sync_server::http::start(&config).await?;
    tracing::info!(data = %config.database_path().display(), "store opened");
    // Scripts and tests read this line: keep its shape.
    println!(
        "Fieldbook is running at {} (sync endpoint {})",
        server.url(),
        server.sync_url()
    );
    if config.demo {
        print!("{}", fieldbook_sync_server::demo::sign_in_help());
    } else if !server.has_accounts() {
        let exe = std::env::args()
            .next()
            .unwrap_or_else(|| "fieldbook-sync-server".into());
        println!(
            "No accounts yet. Create a team and the first person, then sign in at the URL above:\n  \
             {exe} admin --data-dir {dir} teams add <team-id> --name \"<team name>\" --agency \"<agency>\"\n  \
             {exe} admin --data-dir {dir} users add <username> --name \"<display name>\" --role practitioner --agency \"<agency>\" --team <team-id>\n\
             (or start with --demo on an empty data directory for invented demo accounts)",
            dir = config.data_dir.display()
        );
    }
    let mut server = server;
    tokio::select! {
        _ = shutdown_signal() => {}
        _ = server.actor_ended() => {
            tracing::error!(code = EXIT_ACTOR_DIED, "the sync actor stopped: exiting so the server can be restarted");
            std::process::exit(EXIT_ACTOR_DIED);
        }
    }
    tracing::info!("shutting down");
    server.shutdown().await?;
    Ok(())
}

/// Panics are logged like everything else, never printed raw: a panic caught in one
/// connection's engine step (see `sync_actor`) could otherwise put a formatted message built
/// from case data on stderr. Only compile-time text (`&'static str` payloads) is shown.
fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&'static str>()
            .copied()
            .unwrap_or("(message withheld: it may contain data)");
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(%location, message, "panic");
    }));
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}

/// Logs go to stderr as text, or JSON lines with `FIELDBOOK_LOG_FORMAT=json`; the level
/// comes from `FIELDBOOK_LOG` (default `info`). Invalid values stop the server.
fn init_logging() -> anyhow::Result<()> {
    let filter = match std::env::var("FIELDBOOK_LOG") {
        Ok(v) => EnvFilter::builder().parse(&v).with_context(|| {
            format!("FIELDBOOK_LOG={v:?} is not a valid log filter (try info, debug or warn)")
        })?,
        Err(std::env::VarError::NotPresent) => EnvFilter::new("info"),
        Err(e) => anyhow::bail!("FIELDBOOK_LOG: {e}"),
    };
    // At debug and trace the WebSocket library logs frame payloads (case content) in hex:
    // keep it at info whatever the filter asks for, including more specific targets.
    let quiet_ws = filter_fn(|meta| {
        let t = meta.target();
        !(t.starts_with("tungstenite") || t.starts_with("tokio_tungstenite"))
            || *meta.level() <= tracing::Level::INFO
    });
    let json = match std::env::var("FIELDBOOK_LOG_FORMAT").as_deref() {
        Ok("json") => true,
        Ok("text") | Err(std::env::VarError::NotPresent) => false,
        Ok(other) => anyhow::bail!("FIELDBOOK_LOG_FORMAT={other:?} is not valid: use text or json"),
        Err(e) => anyhow::bail!("FIELDBOOK_LOG_FORMAT: {e}"),
    };
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(EscapedStderr)
        .with_ansi(false);
    let layer = if json {
        fmt.json().with_filter(filter.and(quiet_ws)).boxed()
    } else {
        fmt.with_filter(filter.and(quiet_ws)).boxed()
    };
    tracing_subscriber::registry().with(layer).try_init()?;
    Ok(())
}

/// Stderr that escapes control characters inside each log line. Peer-supplied text (ids,
/// error messages) can reach a log; a newline or ESC in it must not forge a line or drive
/// the terminal. The formatter writes one whole event per `write` call.
struct EscapedStderr;

impl<'a> MakeWriter<'a> for EscapedStderr {
    type Writer = EscapedStderr;
    fn make_writer(&'a self) -> Self::Writer {
        EscapedStderr
    }
}

impl std::io::Write for EscapedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let line = escape_controls(&String::from_utf8_lossy(buf));
        std::io::stderr().lock().write_all(line.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// `text` with every control character escaped, except one final newline.
fn escape_controls(text: &str) -> String {
    let (body, newline) = match text.strip_suffix('\n') {
        Some(body) => (body, "\n"),
        None => (text, ""),
    };
    let mut line = String::with_capacity(text.len() + 1);
    for c in body.chars() {
        if c.is_control() {
            line.extend(c.escape_default());
        } else {
            line.push(c);
        }
    }
    line.push_str(newline);
    line
}

#[cfg(test)]
mod tests {
    use super::escape_controls;

    #[test]
    fn log_lines_cannot_be_forged() {
        let peer = "evil\n2026-01-01T00:00:00Z INFO forged\x1b[2J\r\u{85}";
        let line = escape_controls(&format!("WARN peer={peer}\n"));
        assert_eq!(line.matches('\n').count(), 1);
        assert!(line.ends_with('\n'));
        assert!(!line.contains('\x1b') && !line.contains('\r') && !line.contains('\u{85}'));
        assert!(line.contains("evil\\n2026"), "{line:?}");
        assert_eq!(escape_controls("plain text é\n"), "plain text é\n");
    }
}
