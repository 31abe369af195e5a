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
    pub max_frame_bytes: usize,
    /// Seconds a document with no connected peer stays in memory.
    pub evict_idle_secs: u64,
    /// Incremental chunks per document before they are compacted into a snapshot.
    pub compact_after_chunks: usize,
    /// Seed invented demo cases at start-up (once per store; never real people).
    pub demo: bool,
    /// Seconds between WebSocket Pings the server sends on every connection.
    pub ping_interval_secs: u64,
    /// Close a connection that has sent nothing (no message, no Pong) for this many seconds:
    /// reaps half-open sockets. Must be longer than `ping_interval_secs`.
    pub idle_timeout_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("fieldbook-data"),
            static_dir: None,
            max_frame_bytes: 16 * 1024 * 1024,
            evict_idle_secs: 30,
            compact_after_chunks: 32,
            demo: false,
            ping_interval_secs: 5,
            idle_timeout_secs: 15,
        }
    }
}

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
        fig.merge(Env::prefixed(Self::ENV_PREFIX).ignore(&["LOG"]))
            .extract()
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("fieldbook.sqlite3")
    }

    /// Settings that load but cannot work together.
    pub fn check(&self) -> Result<(), String> {
        if self.ping_interval_secs == 0 {
            return Err("ping_interval_secs must be at least 1".into());
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
