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
        }
    }
}

impl Config {
    pub const ENV_PREFIX: &'static str = "FIELDBOOK_";

    /// Defaults, then `file` (if given), then environment variables.
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
}

#[cfg(test)]
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
