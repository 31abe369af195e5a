//! `fieldbook-sync-server`: serves the PWA and the automerge-repo sync endpoint on one port.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use fieldbook_sync_server::config::Config;
use tracing_subscriber::EnvFilter;

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
    /// Seed invented demo cases (once per data directory).
    #[arg(long)]
    demo: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("FIELDBOOK_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
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
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await?;
    Ok(())
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
