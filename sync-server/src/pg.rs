//! PostgreSQL connections for the store and the directory (`--database-url postgres://…`).
//!
//! The synchronous `postgres` client runs its own small runtime and must never be driven
//! from inside an async task, yet the directory is called from async handlers (through
//! `spawn_blocking`) and from the sync actor's thread. So every connection lives on a
//! dedicated pool thread: callers hand it a closure and wait for the answer, blocking
//! ([`PgPool::run`]) or awaiting ([`PgPool::run_async`]). A connection found closed is
//! reopened for the next job; a job that fails is never retried here (callers decide,
//! because only they know whether the work was committed).

use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

pub use postgres::Client;

/// Default for a URL without `connect_timeout`: how long one connection attempt may wait.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Default for a URL without `tcp_user_timeout`: how long sent data may go unacknowledged
/// before the connection counts as broken (a half-open socket to a database host that
/// vanished). A slow query is not affected: its request was acknowledged.
pub const TCP_USER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
use tokio_postgres_rustls::MakeRustlsConnect;

/// Why a PostgreSQL call failed. Messages never carry the URL (it may hold a password) or
/// query parameters (they may hold case content).
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("cannot connect to PostgreSQL: {0}")]
    Connect(String),
    #[error("PostgreSQL: {0}")]
    Db(#[from] postgres::Error),
    #[error("the PostgreSQL pool has stopped")]
    Stopped,
    #[error("{0}")]
    Other(String),
}

impl PgError {
    /// The SQLSTATE of a database error (`23505` is a unique violation), if there is one.
    pub fn code(&self) -> Option<&postgres::error::SqlState> {
        match self {
            PgError::Db(e) => e.code(),
            _ => None,
        }
    }
}

/// A parsed `postgres://` URL and how to encrypt its TCP connections. `Debug` shows where
/// it points, never the password.
///
/// Over TCP, unless the URL says `sslmode=disable`, the connection is TLS (rustls) and the
/// server's certificate must chain to `database_ca_file` or, without one, to the system's
/// trusted roots: a certificate nobody vouches for is refused, never silently accepted
/// (libpq's `prefer` would encrypt without checking, which a man in the middle defeats).
/// With the default `sslmode=prefer` a server that offers no TLS at all is still spoken to
/// in the clear; `sslmode=require` refuses it. Unix sockets never use TLS.
#[derive(Clone)]
pub struct PgUrl {
    config: Arc<postgres::Config>,
    tls: Option<MakeRustlsConnect>,
}

impl PgUrl {
    /// A URL whose TCP connections trust the system's roots.
    pub fn parse(url: &str) -> Result<Self, PgError> {
        Self::parse_with_ca(url, None)
    }

    /// A URL whose TCP connections trust only the certificate authorities in the PEM file
    /// `ca_file` (or, with `None`, the system's roots).
    pub fn parse_with_ca(url: &str, ca_file: Option<&Path>) -> Result<Self, PgError> {
        let mut config: postgres::Config = url.parse().map_err(|e: postgres::Error| {
            PgError::Connect(format!("the database URL is not valid: {e}"))
        })?;
        // A database host that goes silent (a dropped route, not a refusal) must not hold
        // start-up, or a pool connection's reconnect, until the kernel gives up minutes
        // later. What the URL says (`connect_timeout`, `tcp_user_timeout`) wins.
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(TCP_USER_TIMEOUT);
        }
        let tcp = config
            .get_hosts()
            .iter()
            .any(|h| matches!(h, postgres::config::Host::Tcp(_)));
        let tls = if tcp && config.get_ssl_mode() != postgres::config::SslMode::Disable {
            Some(MakeRustlsConnect::new(tls_config(ca_file)?))
        } else {
            None
        };
        Ok(PgUrl {
            config: Arc::new(config),
            tls,
        })
    }

    /// Where it points, for logs: hosts and database name, no user or password.
    pub fn describe(&self) -> String {
        let hosts: Vec<String> = self
            .config
            .get_hosts()
            .iter()
            .map(|h| match h {
                postgres::config::Host::Tcp(name) => name.clone(),
                postgres::config::Host::Unix(path) => path.display().to_string(),
            })
            .collect();
        format!(
            "postgres database {:?} on {}",
            self.config.get_dbname().unwrap_or("(default)"),
            hosts.join(",")
        )
    }

    /// A connection of its own (for a listener, a migration at start-up). Blocks: never call
    /// it inside an async task (the client starts its own runtime; use [`PgPool`] there).
    pub fn connect(&self) -> Result<Client, PgError> {
        match &self.tls {
            Some(tls) => self.config.connect(tls.clone()),
            None => self.config.connect(postgres::NoTls),
        }
        .map_err(|e| PgError::Connect(explain_connect_error(&e)))
    }
}

/// rustls with the ring provider (as the server's own TLS), trusting `ca_file` or the
/// system's roots.
fn tls_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, PgError> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let certs = rustls_pki_types::CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| {
                    PgError::Connect(format!(
                        "database_ca_file {}: cannot read certificates: {e}",
                        path.display()
                    ))
                })?;
            if certs.is_empty() {
                return Err(PgError::Connect(format!(
                    "database_ca_file {} holds no PEM certificate",
                    path.display()
                )));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| {
                    PgError::Connect(format!(
                        "database_ca_file {}: not a usable certificate authority: {e}",
                        path.display()
                    ))
                })?;
            }
        }
        None => {
            // Unreadable entries in the system store are skipped: the ones that parse still
            // decide, and a server nobody vouches for is refused with a message saying how
            // to trust it.
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
        }
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| PgError::Connect(format!("TLS set-up: {e}")))
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
}

/// A connection error with its causes, and what to do when the server's certificate is not
/// trusted (the usual first-day problem with a council's own certificate authority).
fn explain_connect_error(e: &postgres::Error) -> String {
    let mut text = e.to_string();
    let mut untrusted = false;
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        let rustls_error = cause.downcast_ref::<rustls::Error>().or_else(|| {
            cause
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        });
        if matches!(rustls_error, Some(rustls::Error::InvalidCertificate(_))) {
            untrusted = true;
        }
        source = cause.source();
    }
    if untrusted {
        text.push_str(
            " (the PostgreSQL server's TLS certificate is not trusted: set database_ca_file \
             to the PEM file of the certificate authority that signed it, or add that \
             authority to the system's trusted roots)",
        );
    }
    text
}

impl std::fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

type Job = Box<dyn FnOnce(&mut Option<Client>) + Send>;

/// A fixed set of threads, each owning at most one connection.
#[derive(Clone)]
pub struct PgPool {
    url: PgUrl,
    jobs: mpsc::Sender<Job>,
    _threads: Arc<Vec<std::thread::JoinHandle<()>>>,
}

impl std::fmt::Debug for PgPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgPool").field("url", &self.url).finish()
    }
}

impl PgPool {
    /// Start `size` connection threads (at least one) and open one connection now, so a
    /// wrong URL or an unreachable server is reported at start-up, not at the first save.
    pub fn open(url: &PgUrl, size: usize) -> Result<Self, PgError> {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let mut threads = Vec::new();
        let (first_tx, first_rx) = mpsc::sync_channel(1);
        let mut first_tx = Some(first_tx);
        for i in 0..size.max(1) {
            let rx = rx.clone();
            let url = url.clone();
            let report = first_tx.take();
            let thread = std::thread::Builder::new()
                .name(format!("fieldbook-pg-{i}"))
                .spawn(move || {
                    // Connected here, never on the caller's thread: that may be inside an
                    // async runtime, where the client's own runtime cannot start.
                    let mut conn = None;
                    if let Some(report) = report {
                        match url.connect() {
                            Ok(c) => {
                                conn = Some(c);
                                report.send(Ok(())).ok();
                            }
                            Err(e) => {
                                report.send(Err(e)).ok();
                                return;
                            }
                        }
                    }
                    loop {
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(&mut conn),
                            Err(_) => return,
                        }
                    }
                })
                .map_err(|e| PgError::Other(format!("cannot start a database thread: {e}")))?;
            threads.push(thread);
        }
        first_rx.recv().map_err(|_| PgError::Stopped)??;
        Ok(PgPool {
            url: url.clone(),
            jobs: tx,
            _threads: Arc::new(threads),
        })
    }

    pub fn url(&self) -> &PgUrl {
        &self.url
    }

    fn job<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, PgError> + Send + 'static,
        reply: impl FnOnce(Result<T, PgError>) + Send + 'static,
    ) -> Result<(), PgError> {
        let url = self.url.clone();
        let job: Job = Box::new(move |slot: &mut Option<Client>| {
            if slot.as_ref().is_some_and(|c| c.is_closed()) {
                *slot = None;
            }
            // `f` is always gone before `reply` wakes the caller: callers may lend it their
            // borrows for exactly as long as they wait (`accounts::sql::run_scoped`).
            if slot.is_none() {
                match url.connect() {
                    Ok(c) => *slot = Some(c),
                    Err(e) => {
                        drop(f);
                        return reply(Err(e));
                    }
                }
            }
            let Some(client) = slot.as_mut() else {
                drop(f);
                return reply(Err(PgError::Stopped));
            };
            let result = f(client);
            if client.is_closed() {
                *slot = None;
            }
            reply(result)
        });
        self.jobs.send(job).map_err(|_| PgError::Stopped)
    }

    /// Run `f` on a pool connection and wait for it (blocks this thread: call it from
    /// `spawn_blocking` or a thread of your own, never an async worker).
    pub fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, PgError> + Send + 'static,
    ) -> Result<T, PgError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.job(f, move |r| {
            // The caller is waiting on `rx`; if it has gone there is no one to tell.
            tx.send(r).ok();
        })?;
        rx.recv().map_err(|_| PgError::Stopped)?
    }

    /// Run `f` on a pool connection without blocking the async caller.
    pub async fn run_async<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, PgError> + Send + 'static,
    ) -> Result<T, PgError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.job(f, move |r| {
            tx.send(r).ok();
        })?;
        rx.await.map_err(|_| PgError::Stopped)?
    }
}

/// Versioned migrations, applied in order inside one transaction each, recorded in
/// `schema_migrations (scope, version)`. `scope` keeps the store's and the directory's
/// histories apart in one database. A database newer than this build is refused.
pub fn migrate(client: &mut Client, scope: &str, steps: &[&str]) -> Result<i32, PgError> {
    let mut tx = client.transaction()?;
    // Two nodes starting at once: one migrates, the other waits here and then sees it done.
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('fieldbook-migrate'))",
        &[],
    )?;
    // "relation already exists, skipping" is a NOTICE on every start after the first; the
    // client logs notices at info, where an operator would read it as something to act on.
    tx.batch_execute("SET LOCAL client_min_messages = warning")?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             scope TEXT NOT NULL, version INTEGER NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
             PRIMARY KEY (scope, version))",
    )?;
    let current: i32 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE scope = $1",
            &[&scope],
        )?
        .get(0);
    let known = steps.len() as i32;
    if current > known {
        return Err(PgError::Other(format!(
            "the database's {scope} schema is version {current}, newer than this server knows ({known}); \
             run the newer server or restore a backup"
        )));
    }
    for (i, sql) in steps.iter().enumerate().skip(current as usize) {
        tx.batch_execute(sql)?;
        let v = i as i32 + 1;
        tx.execute(
            "INSERT INTO schema_migrations (scope, version) VALUES ($1, $2)",
            &[&scope, &v],
        )?;
    }
    tx.commit()?;
    Ok(known)
}

/// The process's one pool for `config.database_url` (`None` without one: the embedded
/// SQLite file). Connects on a pool thread, so it is safe to call from async start-up code;
/// call it once and hand the pool to the directory and the store.
pub fn pool_for(config: &crate::config::Config) -> Result<Option<PgPool>, PgError> {
    let Some(url) = &config.database_url else {
        return Ok(None);
    };
    let url = PgUrl::parse_with_ca(&url.0, config.database_ca_file.as_deref())?;
    PgPool::open(&url, config.database_pool_size)
        .map(Some)
        .map_err(|e| PgError::Connect(format!("{}: {e}", url.describe())))
}

/// `url` with its database name replaced by `name` (tests and benchmarks make one database
/// per run on a throwaway cluster).
pub fn with_database(url: &str, name: &str) -> String {
    let (before, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = before.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match before[scheme_end..].find('/') {
        Some(i) => &before[..scheme_end + i],
        None => before,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_url_without_timeouts_gets_the_defaults_and_one_with_them_keeps_its_own() {
        let plain = PgUrl::parse("host=/tmp/nowhere dbname=fieldbook user=fb").unwrap();
        assert_eq!(plain.config.get_connect_timeout(), Some(&CONNECT_TIMEOUT));
        assert_eq!(plain.config.get_tcp_user_timeout(), Some(&TCP_USER_TIMEOUT));
        let own = PgUrl::parse(
            "postgres://fb@db.example.invalid/fieldbook?sslmode=disable&connect_timeout=3&tcp_user_timeout=5",
        )
        .unwrap();
        assert_eq!(
            own.config.get_connect_timeout(),
            Some(&Duration::from_secs(3))
        );
        assert_eq!(
            own.config.get_tcp_user_timeout(),
            Some(&Duration::from_secs(5))
        );
    }
}
