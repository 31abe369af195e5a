//! Server settings: built-in defaults, then an optional TOML file, then `FIELDBOOK_*`
//! environment variables, then command-line flags (later wins).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address for HTTP, the PWA and the WebSocket sync endpoint (`/sync`). Port 0 picks a free port.
    pub listen: SocketAddr,
    /// Directory for the embedded SQLite store (`fieldbook.sqlite3`); created if missing.
    pub data_dir: PathBuf,
    /// Built PWA to serve at `/` (Trunk's `dist/`). Nothing is served at `/` when unset.
    pub static_dir: Option<PathBuf>,
    /// Largest WebSocket message accepted, in bytes. Larger frames close the connection.
    /// The WebSocket library buffers a whole message before the server sees it, so memory
    /// under attack grows with this times the number of connections sending at once.
    pub max_frame_bytes: usize,
    /// Bytes of received messages, server-wide, decoded or queued for the sync actor at
    /// once. A connection whose message does not fit waits (and stops reading its socket)
    /// until earlier ones are handled. At least `max_frame_bytes`.
    pub inflight_bytes: usize,
    /// Commands queued for the sync actor before connection tasks wait their turn.
    pub actor_inbox: usize,
    /// Frames queued for one connection before it is closed as "not reading".
    pub outbound_frames: usize,
    /// Bytes queued for one connection before it is closed as "not reading" (one larger
    /// frame still goes to a connection with nothing queued).
    pub outbound_bytes: usize,
    /// Open WebSocket connections, in total; more are refused with HTTP 503.
    pub max_connections: usize,
    /// Open WebSocket connections from one remote address; more are refused with HTTP 429.
    /// Generous: every phone behind one council NAT shares an address.
    pub max_connections_per_address: usize,
    /// Messages one connection may send in a burst (token bucket size). A fresh phone
    /// announces every case it holds at once.
    pub message_burst: u32,
    /// Messages per second one connection may send once its burst is spent; a connection
    /// over the limit is closed with an error.
    pub messages_per_sec: u32,
    /// Seconds a new connection has to send `join` before it is closed.
    pub join_timeout_secs: u64,
    /// Automerge operations one sync message may expand to (checked before automerge reads
    /// it). Applying them is the sync actor's work, which every connection waits behind:
    /// about 1.2 µs per operation here in a release build (500,000 ≈ 0.6 s). A case document
    /// syncing more history than this in one round is refused, so raise it for unusually
    /// large cases.
    pub max_ops_per_message: u64,
    /// Seconds a document with no connected peer stays in memory.
    pub evict_idle_secs: u64,
    /// Incremental chunks per document before they are compacted into a snapshot.
    pub compact_after_chunks: usize,
    /// Seed invented demo cases at start-up (once per store; never real people).
    pub demo: bool,
    /// With `demo`: how many invented cases to seed (1 to 10,000; default 8, the
    /// hand-written ones). Cases past the eighth get generated invented names, reuse the
    /// eight stories in turn and are all allocated to demo-ayo (North), so Ayo's caseload is
    /// `demo_cases - 3` once there are more than eight (e.g. `--demo --demo-cases 503` gives
    /// Ayo 500 cases). Only read when the store is first seeded.
    pub demo_cases: usize,
    /// With `demo`: extra contact notes on the first demo case (Ayo's "Kasey"), 0 to 20,000,
    /// for measuring a case with a long history (e.g. 1000).
    pub demo_big_case_notes: usize,
    /// Seconds between WebSocket Pings the server sends on every connection.
    pub ping_interval_secs: u64,
    /// Close a connection that has sent nothing (no message, no Pong) for this many seconds:
    /// reaps half-open sockets. Must be longer than `ping_interval_secs`.
    pub idle_timeout_secs: u64,
    /// Hours a sign-in lasts. A worker keeps working offline for this long; the session is
    /// checked whenever a connection opens.
    pub session_ttl_hours: u64,
    /// Seconds a sync ticket (`POST /api/tickets`, for stock automerge-repo clients and the
    /// CLI) stays redeemable. Each ticket opens one connection.
    pub ticket_ttl_secs: u64,
    /// Web origins (e.g. `https://fieldbook.example.gov.uk`) allowed to open `/sync` and
    /// call the API from a browser, besides the server's own origin. Requests without an
    /// `Origin` header (non-browser clients) are not affected.
    pub allowed_origins: Vec<String>,
    /// PEM file with the server's TLS certificate, then any intermediates. With `tls_key`
    /// the port speaks only HTTPS and WSS. Both or neither.
    pub tls_cert: Option<PathBuf>,
    /// PEM file with the private key for `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// A reverse proxy in front of the server terminates TLS, so browsers reach it over
    /// HTTPS even though this port speaks plain HTTP. Allows a non-loopback `listen` without
    /// `tls_cert`; the server then sends HSTS and marks cookies `Secure`. Only set it when the
    /// port is reachable through that proxy alone.
    pub behind_tls_proxy: bool,
    /// Days a closed case is kept before `admin retention` lists it for erasure. The default,
    /// 2555 days (7 years), is a common council retention schedule for children's social
    /// care records below the age thresholds; it is the council's policy choice, not a rule
    /// of Fieldbook: set it from your own records retention schedule.
    pub retention_days: u64,
    /// Device policy, sent to every signed-in device (session body `device_policy`):
    /// seconds without input before the app locks behind its passcode.
    pub device_idle_lock_secs: u64,
    /// Seconds the app may be hidden (another app in front) before it locks.
    pub device_hidden_grace_secs: u64,
    /// Wrong passcodes in a row before the app wipes its local data (unsent work is kept
    /// wrapped by the device key, recoverable by signing in again).
    pub device_unlock_attempts: u32,
    /// Days a device may go without reaching the server before the app locks it until it
    /// signs in again.
    pub device_lease_days: u64,
    /// Where the app's quick-exit button goes: a neutral page (relative to the app, or an
    /// absolute https URL).
    pub exit_url: String,
    /// File holding the master key that wraps every document's key (base64 of 32 bytes, or
    /// the raw bytes), created with 32 random bytes if missing. Default: `master.key` in
    /// `data_dir`; in production keep it outside the data directory and out of the data's
    /// backups (docs/AT-REST.md). The environment variable `FIELDBOOK_MASTER_KEY` (base64),
    /// when set, is used instead and no file is read.
    pub master_key_file: Option<PathBuf>,
    /// Deadlines the service sets rather than the guidance (session body `clock_settings`):
    /// days after an NRM referral with no decision at which its reminder escalates,
    /// ascending (environment: `FIELDBOOK_CLOCK_NRM_REMINDER_DAYS="[30, 60, 90]"`).
    pub clock_nrm_reminder_days: Vec<u32>,
    /// A deadline within this many hours shows as "due soon".
    pub clock_due_soon_hours: u32,
    /// Days before the 17th birthday the "transition worker allocated" deadline shows.
    pub clock_transition_notice_days: u32,
    /// Hours after a reachable moment (custody, A&E, …) by which the allocated worker
    /// follows it up (1 to 720; whole days keep London's time of day).
    pub clock_follow_up_hours: u32,
    /// Repeated reachable moments of one kind that raise a pattern flag on the case, e.g.
    /// `[{kind = "hospital", count = 3, days = 90}]`; `kind` is a moment id
    /// (`fieldbook_case::vocab::REACHABLE_MOMENTS`), `count` 2 to 100, `days` 1 to 3650.
    /// An empty list raises none.
    pub clock_patterns: Vec<fieldbook_case::reach::Pattern>,
    /// Lone working (docs/LONE-WORKING.md): seconds between the server's looks for
    /// check-ins whose expected time has passed without a check-out (each raises an alert
    /// to the worker's manager once). 1 to 3600.
    pub lone_working_scan_secs: u64,
    /// Days without a face-to-face contact after which lowering the level or closing a
    /// case needs a reason, and the case shows "Not seen face to face for N days".
    pub clock_not_seen_days: u32,
    /// PostgreSQL instead of the embedded SQLite file, for several server nodes sharing one
    /// database (docs/SCALE-OUT.md): `postgres://user:password@host:5432/fieldbook`, or a Unix
    /// socket, `postgres://user@/fieldbook?host=/run/postgresql`. Documents and the directory
    /// (accounts, sessions, grants, audit) then live there; `data_dir` keeps only the default
    /// master key file. Never logged: only its host and database name are.
    pub database_url: Option<DatabaseUrl>,
    /// Connections each node keeps open to PostgreSQL (1 to 64).
    pub database_pool_size: usize,
    /// PEM file of the certificate authority that signed the PostgreSQL server's TLS
    /// certificate. Connections over TCP are encrypted and the certificate is checked against
    /// this file, or against the system's trusted roots when it is unset (add
    /// `sslmode=disable` to the URL to speak in the clear on a network you trust).
    pub database_ca_file: Option<PathBuf>,
}

/// A database URL. It may carry a password, so `Debug` shows `[redacted]`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(pub String);

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatabaseUrl([redacted])")
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("fieldbook-data"),
            static_dir: None,
            max_frame_bytes: 8 * 1024 * 1024,
            inflight_bytes: 64 * 1024 * 1024,
            actor_inbox: 1024,
            outbound_frames: 4096,
            outbound_bytes: 32 * 1024 * 1024,
            max_connections: 2048,
            max_connections_per_address: 256,
            max_ops_per_message: 500_000,
            message_burst: 2000,
            messages_per_sec: 500,
            join_timeout_secs: 10,
            evict_idle_secs: 30,
            compact_after_chunks: 32,
            demo: false,
            demo_cases: DEMO_CASES,
            demo_big_case_notes: 0,
            ping_interval_secs: 5,
            idle_timeout_secs: 15,
            session_ttl_hours: 14 * 24,
            ticket_ttl_secs: 60,
            allowed_origins: Vec::new(),
            tls_cert: None,
            tls_key: None,
            behind_tls_proxy: false,
            retention_days: 2555,
            device_idle_lock_secs: 300,
            device_hidden_grace_secs: 30,
            device_unlock_attempts: 5,
            device_lease_days: 14,
            exit_url: "exit.html".into(),
            clock_nrm_reminder_days: vec![30, 60, 90],
            clock_due_soon_hours: 48,
            clock_transition_notice_days: 183,
            clock_follow_up_hours: 24,
            clock_patterns: fieldbook_case::reach::default_patterns(),
            clock_not_seen_days: 28,
            master_key_file: None,
            database_url: None,
            database_pool_size: 8,
            database_ca_file: None,
            lone_working_scan_secs: 30,
        }
    }
}

/// Default `demo_cases`: the hand-written invented cases.
const DEMO_CASES: usize = fieldbook_case::demo::PEOPLE.len();

impl Config {
    pub const ENV_PREFIX: &'static str = "FIELDBOOK_";

    /// Defaults, then `file` (if given), then environment variables.
    // figment's own error type, returned once at start-up: its size does not matter.
    #[allow(clippy::result_large_err)]
    pub fn load(file: Option<&Path>) -> Result<Config, figment::Error> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(f) = file {
            if !f.exists() {
                return Err(figment::Error::from(format!(
                    "config file {} does not exist",
                    f.display()
                )));
            }
            fig = fig.merge(Toml::file(f));
        }
        // Logging is set up from its own variables before the configuration loads; the
        // master key is read by the store itself and never kept in the configuration.
        fig.merge(Env::prefixed(Self::ENV_PREFIX).ignore(&["LOG", "LOG_FORMAT", "MASTER_KEY"]))
            .extract()
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("fieldbook.sqlite3")
    }

    /// The master key file: `master_key_file`, or `master.key` in the data directory.
    pub fn master_key_path(&self) -> PathBuf {
        self.master_key_file
            .clone()
            .unwrap_or_else(|| crate::storage::keys::default_master_key_path(&self.database_path()))
    }

    /// The server terminates TLS itself (`tls_cert` and `tls_key` are set).
    pub fn tls_enabled(&self) -> bool {
        self.tls_cert.is_some() && self.tls_key.is_some()
    }

    /// Browsers reach the server over HTTPS: it terminates TLS, or a TLS proxy in front does.
    /// Cookies are then `Secure` and responses carry `Strict-Transport-Security`.
    pub fn serves_https(&self) -> bool {
        self.tls_enabled() || self.behind_tls_proxy
    }

    /// Settings that load but cannot work together.
    /// The database settings alone (what `admin` commands need; they listen on nothing).
    pub fn check_database(&self) -> Result<(), String> {
        if let Some(DatabaseUrl(url)) = &self.database_url {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err(
                    "database_url must be a PostgreSQL URL (postgres://…); leave it unset for the embedded SQLite store".into(),
                );
            }
        }
        if let Some(ca) = &self.database_ca_file {
            if self.database_url.is_none() {
                return Err(
                    "database_ca_file is set but database_url is not: the certificate authority \
                     is for TLS to PostgreSQL"
                        .into(),
                );
            }
            if !ca.is_file() {
                return Err(format!(
                    "database_ca_file {} is not a readable file",
                    ca.display()
                ));
            }
        }
        if !(1..=64).contains(&self.database_pool_size) {
            return Err("database_pool_size must be between 1 and 64".into());
        }
        Ok(())
    }

    pub fn check(&self) -> Result<(), String> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) => {
                return Err(
                    "tls_cert is set but tls_key is not: give both the certificate \
                            and its private key (--tls-cert FILE --tls-key FILE), or neither"
                        .into(),
                )
            }
            (None, Some(_)) => {
                return Err(
                    "tls_key is set but tls_cert is not: give both the certificate \
                            and its private key (--tls-cert FILE --tls-key FILE), or neither"
                        .into(),
                )
            }
            _ => {}
        }
        if !self.listen.ip().to_canonical().is_loopback() && !self.serves_https() {
            return Err(format!(
                "refusing to serve plain HTTP on {}, which other machines can reach: sign-in \
                 and case files would cross the network unencrypted. Give the server a \
                 certificate (--tls-cert FILE --tls-key FILE, or tls_cert and tls_key) so it \
                 speaks HTTPS; or, only if a reverse proxy in front of it terminates TLS and \
                 this port is reachable through that proxy alone, set --behind-tls-proxy \
                 (behind_tls_proxy = true); or listen on 127.0.0.1 to serve this machine only",
                self.listen
            ));
        }
        if self.ping_interval_secs == 0 {
            return Err("ping_interval_secs must be at least 1".into());
        }
        self.check_database()?;
        let at_least_one = [
            ("max_frame_bytes", self.max_frame_bytes as u64),
            ("actor_inbox", self.actor_inbox as u64),
            ("outbound_frames", self.outbound_frames as u64),
            ("outbound_bytes", self.outbound_bytes as u64),
            ("max_connections", self.max_connections as u64),
            (
                "max_connections_per_address",
                self.max_connections_per_address as u64,
            ),
            ("message_burst", self.message_burst.into()),
            ("messages_per_sec", self.messages_per_sec.into()),
            ("join_timeout_secs", self.join_timeout_secs),
            ("max_ops_per_message", self.max_ops_per_message),
            ("session_ttl_hours", self.session_ttl_hours),
            ("ticket_ttl_secs", self.ticket_ttl_secs),
            ("retention_days", self.retention_days),
            ("device_idle_lock_secs", self.device_idle_lock_secs),
            ("device_unlock_attempts", self.device_unlock_attempts.into()),
            ("device_lease_days", self.device_lease_days),
        ];
        for (name, v) in at_least_one {
            if v == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        // Channel and semaphore sizes: larger values would make tokio panic at start-up.
        let max_permits = tokio::sync::Semaphore::MAX_PERMITS;
        for (name, v) in [
            ("inflight_bytes", self.inflight_bytes),
            ("actor_inbox", self.actor_inbox),
            ("outbound_frames", self.outbound_frames),
        ] {
            if v > max_permits {
                return Err(format!("{name} must be at most {max_permits}"));
            }
        }
        let exit = self.exit_url.trim();
        let relative = !exit.is_empty()
            && !exit.contains(':')
            && !exit.starts_with("//")
            && !exit.chars().any(|c| c.is_control() || c.is_whitespace());
        let https = exit.starts_with("https://")
            && !exit.chars().any(|c| c.is_control() || c.is_whitespace());
        if !(relative || https) {
            return Err(format!(
                "exit_url {:?} must be a page of the app (e.g. exit.html) or an https:// URL",
                self.exit_url
            ));
        }
        let days = &self.clock_nrm_reminder_days;
        if days.is_empty()
            || days.windows(2).any(|w| w[0] >= w[1])
            || days.iter().any(|d| !(1..=3650).contains(d))
        {
            return Err(format!(
                "clock_nrm_reminder_days {days:?} must list 1 to 3650 days in ascending order, e.g. [30, 60, 90]"
            ));
        }
        if !(1..=720).contains(&self.clock_due_soon_hours) {
            return Err("clock_due_soon_hours must be between 1 and 720".into());
        }
        if self.clock_transition_notice_days > 730 {
            return Err("clock_transition_notice_days must be at most 730".into());
        }
        if !(1..=720).contains(&self.clock_follow_up_hours) {
            return Err("clock_follow_up_hours must be between 1 and 720".into());
        }
        for p in &self.clock_patterns {
            let known = fieldbook_case::vocab::REACHABLE_MOMENTS
                .iter()
                .any(|(id, _)| *id == p.kind);
            if !known || !(2..=100).contains(&p.count) || !(1..=3650).contains(&p.days) {
                let kinds: Vec<&str> = fieldbook_case::vocab::REACHABLE_MOMENTS
                    .iter()
                    .map(|(id, _)| *id)
                    .collect();
                return Err(format!(
                    "clock_patterns: {{kind = {:?}, count = {}, days = {}}} needs a kind from {kinds:?}, \
                     a count from 2 to 100 and days from 1 to 3650",
                    p.kind, p.count, p.days
                ));
            }
        }
        if !(1..=10_000).contains(&self.demo_cases) {
            return Err("demo_cases must be between 1 and 10000".into());
        }
        if self.demo_big_case_notes > 20_000 {
            return Err("demo_big_case_notes must be at most 20000".into());
        }
        if !self.demo && (self.demo_cases != DEMO_CASES || self.demo_big_case_notes != 0) {
            return Err(
                "demo_cases and demo_big_case_notes only apply to the demo: add --demo \
                 (demo = true), on an empty data directory"
                    .into(),
            );
        }
        if !(1..=3600).contains(&self.lone_working_scan_secs) {
            return Err("lone_working_scan_secs must be between 1 and 3600".into());
        }
        if !(1..=365).contains(&self.clock_not_seen_days) {
            return Err("clock_not_seen_days must be between 1 and 365".into());
        }
        if self.max_frame_bytes > u32::MAX as usize {
            return Err("max_frame_bytes must be below 4 GiB".into());
        }
        if self.inflight_bytes < self.max_frame_bytes {
            return Err(format!(
                "inflight_bytes ({}) must be at least max_frame_bytes ({}), or a maximum-size \
                 message could never be handled",
                self.inflight_bytes, self.max_frame_bytes
            ));
        }
        if self.max_connections_per_address > self.max_connections {
            return Err(format!(
                "max_connections_per_address ({}) must not exceed max_connections ({})",
                self.max_connections_per_address, self.max_connections
            ));
        }
        if self.idle_timeout_secs <= self.ping_interval_secs {
            return Err(format!(
                "idle_timeout_secs ({}) must be longer than ping_interval_secs ({}), or healthy \
                 idle connections would be closed",
                self.idle_timeout_secs, self.ping_interval_secs
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail closures return figment's error type
mod tests {
    use super::*;

    #[test]
    fn file_and_env_override_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("fb.toml", "max_frame_bytes = 1024\nevict_idle_secs = 5")?;
            jail.set_env("FIELDBOOK_EVICT_IDLE_SECS", "7");
            jail.set_env("FIELDBOOK_LISTEN", "127.0.0.1:0");
            let c = Config::load(Some(Path::new("fb.toml")))?;
            assert_eq!(c.max_frame_bytes, 1024);
            assert_eq!(c.evict_idle_secs, 7);
            assert_eq!(c.listen.port(), 0);
            assert_eq!(
                c.compact_after_chunks,
                Config::default().compact_after_chunks
            );
            Ok(())
        });
    }

    #[test]
    fn the_master_key_file_is_a_setting_and_the_key_itself_never_is() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("FIELDBOOK_DATA_DIR", "/srv/fieldbook");
            // Read by the store, not the configuration: it must not be an unknown key here,
            // nor end up in the configuration (which is Debug-printable).
            jail.set_env("FIELDBOOK_MASTER_KEY", "c2VjcmV0");
            let c = Config::load(None)?;
            assert_eq!(c.master_key_path(), Path::new("/srv/fieldbook/master.key"));
            assert!(!format!("{c:?}").contains("c2VjcmV0"));
            jail.set_env("FIELDBOOK_MASTER_KEY_FILE", "/etc/fieldbook/master.key");
            let c = Config::load(None)?;
            assert_eq!(c.master_key_path(), Path::new("/etc/fieldbook/master.key"));
            Ok(())
        });
    }

    #[test]
    fn heartbeat_settings_load_and_must_fit_together() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("fb.toml", "ping_interval_secs = 2\nidle_timeout_secs = 9")?;
            jail.set_env("FIELDBOOK_IDLE_TIMEOUT_SECS", "7");
            let c = Config::load(Some(Path::new("fb.toml")))?;
            assert_eq!((c.ping_interval_secs, c.idle_timeout_secs), (2, 7));
            assert_eq!(c.check(), Ok(()));
            Ok(())
        });
        assert_eq!(Config::default().check(), Ok(()));
        let bad = Config {
            ping_interval_secs: 5,
            idle_timeout_secs: 5,
            ..Config::default()
        };
        assert!(bad.check().unwrap_err().contains("idle_timeout_secs"));
        let bad = Config {
            ping_interval_secs: 0,
            ..Config::default()
        };
        assert!(bad.check().is_err());
    }

    #[test]
    fn limits_load_and_invalid_ones_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "fb.toml",
                "max_connections = 10\nmax_connections_per_address = 3\nmessage_burst = 50",
            )?;
            jail.set_env("FIELDBOOK_MESSAGES_PER_SEC", "20");
            jail.set_env("FIELDBOOK_JOIN_TIMEOUT_SECS", "4");
            jail.set_env("FIELDBOOK_LOG_FORMAT", "json");
            let c = Config::load(Some(Path::new("fb.toml")))?;
            assert_eq!(
                (
                    c.max_connections,
                    c.max_connections_per_address,
                    c.message_burst,
                    c.messages_per_sec,
                    c.join_timeout_secs
                ),
                (10, 3, 50, 20, 4)
            );
            assert_eq!(c.check(), Ok(()));
            Ok(())
        });
        let bad = |c: Config, needle: &str| {
            let e = c.check().unwrap_err();
            assert!(e.contains(needle), "{e}");
        };
        let d = Config::default;
        bad(
            Config {
                inflight_bytes: 1024,
                max_frame_bytes: 2048,
                ..d()
            },
            "inflight_bytes",
        );
        bad(
            Config {
                max_connections: 5,
                max_connections_per_address: 6,
                ..d()
            },
            "max_connections_per_address",
        );
        bad(
            Config {
                messages_per_sec: 0,
                ..d()
            },
            "messages_per_sec",
        );
        bad(
            Config {
                outbound_frames: 0,
                ..d()
            },
            "outbound_frames",
        );
        bad(
            Config {
                join_timeout_secs: 0,
                ..d()
            },
            "join_timeout_secs",
        );
        bad(
            Config {
                actor_inbox: usize::MAX,
                ..d()
            },
            "actor_inbox",
        );
    }

    #[test]
    fn plain_http_is_refused_off_loopback_and_tls_needs_both_files() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "fb.toml",
                "listen = \"0.0.0.0:443\"\ntls_cert = \"/etc/fb/cert.pem\"",
            )?;
            jail.set_env("FIELDBOOK_TLS_KEY", "/etc/fb/key.pem");
            let c = Config::load(Some(Path::new("fb.toml")))?;
            assert_eq!(c.tls_key.as_deref(), Some(Path::new("/etc/fb/key.pem")));
            assert!(c.tls_enabled() && c.serves_https());
            assert_eq!(c.check(), Ok(()));
            Ok(())
        });
        let d = Config::default;
        let ca_alone = Config {
            database_ca_file: Some("/etc/fb/pg-ca.pem".into()),
            ..d()
        };
        let e = ca_alone.check().unwrap_err();
        assert!(
            e.starts_with("database_ca_file is set but database_url is not"),
            "{e}"
        );
        let missing_ca = Config {
            database_url: Some(DatabaseUrl("postgres://fb@db.example/fieldbook".into())),
            database_ca_file: Some("/nonexistent/pg-ca.pem".into()),
            ..d()
        };
        let e = missing_ca.check_database().unwrap_err();
        assert!(
            e.contains("/nonexistent/pg-ca.pem") && e.contains("not a readable file"),
            "{e}"
        );
        assert!(!d().serves_https(), "plain HTTP on loopback by default");
        assert_eq!(d().check(), Ok(()));
        for listen in ["0.0.0.0:8080", "192.168.1.20:8080", "[::]:8080"] {
            let open = Config {
                listen: listen.parse().unwrap(),
                ..d()
            };
            let e = open.check().unwrap_err();
            assert!(e.contains(&format!("plain HTTP on {listen}")), "{e}");
            assert!(
                e.contains("--tls-cert FILE --tls-key FILE") && e.contains("--behind-tls-proxy"),
                "says what to do: {e}"
            );
            let proxied = Config {
                behind_tls_proxy: true,
                ..open
            };
            assert_eq!(proxied.check(), Ok(()));
            assert!(proxied.serves_https() && !proxied.tls_enabled());
        }
        for loopback in ["127.0.0.1:0", "[::1]:0", "[::ffff:127.0.0.1]:0"] {
            let local = Config {
                listen: loopback.parse().unwrap(),
                ..d()
            };
            assert_eq!(local.check(), Ok(()), "{loopback}");
        }
        let half = Config {
            tls_cert: Some("cert.pem".into()),
            ..d()
        };
        let e = half.check().unwrap_err();
        assert!(e.starts_with("tls_cert is set but tls_key is not"), "{e}");
        assert!(!half.serves_https(), "half a TLS configuration is not TLS");
        let half = Config {
            tls_key: Some("key.pem".into()),
            listen: "0.0.0.0:443".parse().unwrap(),
            ..d()
        };
        let e = half.check().unwrap_err();
        assert!(e.starts_with("tls_key is set but tls_cert is not"), "{e}");
    }

    #[test]
    fn retention_and_device_policy_load_from_file_and_env() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "fb.toml",
                "retention_days = 3650\ndevice_idle_lock_secs = 120\nexit_url = \"https://www.bbc.co.uk/weather\"",
            )?;
            jail.set_env("FIELDBOOK_DEVICE_HIDDEN_GRACE_SECS", "10");
            jail.set_env("FIELDBOOK_DEVICE_UNLOCK_ATTEMPTS", "3");
            jail.set_env("FIELDBOOK_DEVICE_LEASE_DAYS", "7");
            let c = Config::load(Some(Path::new("fb.toml")))?;
            assert_eq!(c.retention_days, 3650);
            assert_eq!(
                (
                    c.device_idle_lock_secs,
                    c.device_hidden_grace_secs,
                    c.device_unlock_attempts,
                    c.device_lease_days
                ),
                (120, 10, 3, 7)
            );
            assert_eq!(c.exit_url, "https://www.bbc.co.uk/weather");
            assert_eq!(c.check(), Ok(()));
            Ok(())
        });
        let d = Config::default();
        assert_eq!((d.retention_days, d.exit_url.as_str()), (2555, "exit.html"));
        for bad in [
            "javascript:alert(1)",
            "",
            "http://example.com",
            "//evil.example",
            "a b",
        ] {
            let c = Config {
                exit_url: bad.into(),
                ..Config::default()
            };
            assert!(c.check().unwrap_err().contains("exit_url"), "{bad:?}");
        }
        let c = Config {
            device_unlock_attempts: 0,
            ..Config::default()
        };
        assert!(c.check().unwrap_err().contains("device_unlock_attempts"));
    }

    #[test]
    fn clock_settings_load_from_file_and_env_and_are_checked() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("fb.toml", "clock_due_soon_hours = 24")?;
            jail.set_env("FIELDBOOK_CLOCK_NRM_REMINDER_DAYS", "[14, 28]");
            jail.set_env("FIELDBOOK_CLOCK_NOT_SEEN_DAYS", "40");
            let c = Config::load(Some(Path::new("fb.toml")))?;
            assert_eq!(c.clock_nrm_reminder_days, vec![14, 28]);
            assert_eq!(c.clock_due_soon_hours, 24);
            assert_eq!(c.clock_transition_notice_days, 183);
            assert_eq!(c.clock_not_seen_days, 40);
            assert_eq!(c.check(), Ok(()));
            Ok(())
        });
        for bad in [vec![], vec![60, 30], vec![30, 30], vec![0], vec![4000]] {
            let c = Config {
                clock_nrm_reminder_days: bad.clone(),
                ..Config::default()
            };
            assert!(
                c.check().unwrap_err().contains("clock_nrm_reminder_days"),
                "{bad:?}"
            );
        }
        let c = Config {
            clock_due_soon_hours: 0,
            ..Config::default()
        };
        assert!(c.check().unwrap_err().contains("clock_due_soon_hours"));
        for bad in [0, 366] {
            let c = Config {
                clock_not_seen_days: bad,
                ..Config::default()
            };
            assert!(c.check().unwrap_err().contains("clock_not_seen_days"));
        }
    }

    #[test]
    fn follow_up_hours_and_patterns_load_from_file_and_env_and_are_checked() {
        use fieldbook_case::reach::Pattern;
        let p = |kind: &str, count: usize, days: u32| Pattern {
            kind: kind.into(),
            count,
            days,
        };
        assert_eq!(Config::default().clock_follow_up_hours, 24);
        assert_eq!(
            Config::default().clock_patterns,
            fieldbook_case::reach::default_patterns()
        );
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "fb.toml",
                "clock_follow_up_hours = 48\n\
                 clock_patterns = [{kind = \"hospital\", count = 4, days = 60}]",
            )?;
            let c = Config::load(Some(Path::new("fb.toml")))?;
            assert_eq!(c.clock_follow_up_hours, 48);
            assert_eq!(c.clock_patterns, vec![p("hospital", 4, 60)]);
            assert_eq!(c.check(), Ok(()));
            jail.set_env(
                "FIELDBOOK_CLOCK_PATTERNS",
                r#"[{kind="arrest", count=2, days=30}, {kind="exclusion", count=3, days=365}]"#,
            );
            jail.set_env("FIELDBOOK_CLOCK_FOLLOW_UP_HOURS", "12");
            let c = Config::load(Some(Path::new("fb.toml")))?;
            assert_eq!(c.clock_follow_up_hours, 12);
            assert_eq!(
                c.clock_patterns,
                vec![p("arrest", 2, 30), p("exclusion", 3, 365)]
            );
            assert_eq!(c.check(), Ok(()));
            Ok(())
        });
        for hours in [0, 721] {
            let c = Config {
                clock_follow_up_hours: hours,
                ..Config::default()
            };
            assert!(c.check().unwrap_err().contains("clock_follow_up_hours"));
        }
        for bad in [
            p("a-and-e", 3, 90),
            p("", 3, 90),
            p("hospital", 1, 90),
            p("hospital", 101, 90),
            p("hospital", 3, 0),
            p("hospital", 3, 3651),
        ] {
            let c = Config {
                clock_patterns: vec![p("arrest", 2, 90), bad.clone()],
                ..Config::default()
            };
            assert!(c.check().unwrap_err().contains("clock_patterns"), "{bad:?}");
        }
        let none = Config {
            clock_patterns: Vec::new(),
            ..Config::default()
        };
        assert_eq!(none.check(), Ok(()));
    }

    #[test]
    fn the_lone_working_scan_interval_loads_and_is_checked() {
        assert_eq!(Config::default().lone_working_scan_secs, 30);
        figment::Jail::expect_with(|jail| {
            jail.set_env("FIELDBOOK_LONE_WORKING_SCAN_SECS", "5");
            let c = Config::load(None)?;
            assert_eq!(c.lone_working_scan_secs, 5);
            assert_eq!(c.check(), Ok(()));
            Ok(())
        });
        for bad in [0, 3601] {
            let c = Config {
                lone_working_scan_secs: bad,
                ..Config::default()
            };
            assert!(
                c.check().unwrap_err().contains("lone_working_scan_secs"),
                "{bad}"
            );
        }
    }

    #[test]
    fn demo_size_settings_load_and_only_apply_to_the_demo() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("FIELDBOOK_DEMO", "true");
            jail.set_env("FIELDBOOK_DEMO_CASES", "503");
            jail.set_env("FIELDBOOK_DEMO_BIG_CASE_NOTES", "1000");
            let c = Config::load(None)?;
            assert_eq!((c.demo_cases, c.demo_big_case_notes), (503, 1000));
            assert_eq!(c.check(), Ok(()));
            Ok(())
        });
        let demo = Config {
            demo: true,
            ..Config::default()
        };
        for (cases, notes, wrong) in [
            (0, 0, "demo_cases"),
            (10_001, 0, "demo_cases"),
            (8, 20_001, "demo_big_case_notes"),
        ] {
            let c = Config {
                demo_cases: cases,
                demo_big_case_notes: notes,
                ..demo.clone()
            };
            assert!(c.check().unwrap_err().contains(wrong), "{cases} {notes}");
        }
        let not_demo = Config {
            demo_cases: 500,
            ..Config::default()
        };
        assert!(not_demo.check().unwrap_err().contains("--demo"));
    }

    #[test]
    fn unknown_keys_and_missing_files_are_errors() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("fb.toml", "max_frame_byte = 1024")?;
            let e = Config::load(Some(Path::new("fb.toml"))).unwrap_err();
            assert!(e.to_string().contains("max_frame_byte"), "{e}");
            assert!(Config::load(Some(Path::new("nope.toml"))).is_err());
            Ok(())
        });
    }
}
