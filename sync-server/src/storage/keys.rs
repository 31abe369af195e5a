//! The keys that seal the store at rest (docs/AT-REST.md).
//!
//! Every stored value (chunk, snapshot, sync state) is sealed with AES-256-GCM under its
//! document's own random key. Document keys live in a separate SQLite file next to the data
//! file (`<name>-keys.sqlite3`), each wrapped (AES-256-GCM) by the server's master key, which
//! is never written to any database. Deleting a document deletes its key: every copy of its
//! sealed rows (a backup of the data file, a stale page) becomes unreadable.
//!
//! Sealed format: `[1][96-bit random nonce][ciphertext + 128-bit tag]`; the associated data
//! names what the value is (document, record kind, record key), so a sealed value moved to
//! another row or document does not open.

use std::io::Write;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, Generate, KeyInit, Payload};

use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use zeroize::Zeroizing;

/// First byte of every sealed value: the format version.
pub const SEALED_V1: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Bytes a sealed value adds to its plaintext.
pub const SEAL_OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;
const KEY_LEN: usize = 32;
/// The environment variable that carries the master key (base64 of 32 bytes).
pub const MASTER_KEY_ENV: &str = "FIELDBOOK_MASTER_KEY";

/// Why a key could not be made, read or used. Messages never contain key material or data.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
    #[error("cannot read or create the master key file {path}: {source}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the master key from {source_name} is not valid: {reason} (it must be 32 random bytes, base64-encoded)")]
    Format {
        source_name: String,
        reason: &'static str,
    },
    #[error("a sealed value could not be opened: wrong key, or the stored bytes were changed")]
    Unseal,
    #[error("a value could not be sealed")]
    Seal,
}

/// The server's master key: 32 bytes that wrap every document key. Zeroed when dropped;
/// `Debug` never shows it.
pub struct MasterKey(Zeroizing<[u8; KEY_LEN]>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(redacted)")
    }
}

impl MasterKey {
    /// A new random master key.
    pub fn generate() -> Result<Self, KeyError> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        random(&mut bytes[..])?;
        Ok(MasterKey(bytes))
    }

    /// The key from its base64 text (standard alphabet, padding optional, whitespace around
    /// it ignored). `source_name` says where it came from, for the error.
    pub fn from_base64(text: &str, source_name: &str) -> Result<Self, KeyError> {
        let bad = |reason| KeyError::Format {
            source_name: source_name.to_owned(),
            reason,
        };
        let decoded = Zeroizing::new(
            base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(text.trim().trim_end_matches('='))
                .map_err(|_| bad("not base64"))?,
        );
        if decoded.len() != KEY_LEN {
            return Err(bad("not 32 bytes"));
        }
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        bytes.copy_from_slice(&decoded);
        Ok(MasterKey(bytes))
    }

    /// The key as base64 text (to hand to an operator who moves it out of the data directory).
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&self.0[..]))
    }

    /// The key in `path` (base64 text, or 32 raw bytes), or a new one written there with
    /// mode 0600 if there is no file. Returns whether it was created.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), KeyError> {
        let shown = path.display().to_string();
        let io = |source| KeyError::File {
            path: shown.clone(),
            source,
        };
        match std::fs::read(path) {
            Ok(bytes) => {
                let bytes = Zeroizing::new(bytes);
                if bytes.len() == KEY_LEN {
                    let mut key = Zeroizing::new([0u8; KEY_LEN]);
                    key.copy_from_slice(&bytes);
                    return Ok((MasterKey(key), false));
                }
                let text = std::str::from_utf8(&bytes).map_err(|_| KeyError::Format {
                    source_name: shown.clone(),
                    reason: "neither 32 bytes nor base64 text",
                })?;
                Ok((MasterKey::from_base64(text, &shown)?, false))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(io)?;
                }
                let key = MasterKey::generate()?;
                let mut text = key.to_base64();
                text.push('\n');
                use std::os::unix::fs::OpenOptionsExt;
                let written = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .and_then(|mut f| {
                        f.write_all(text.as_bytes())?;
                        f.sync_all()
                    });
                match written {
                    Ok(()) => {
                        sync_parent(path).map_err(io)?;
                        Ok((key, true))
                    }
                    // Another process made it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        Self::load_or_create(path)
                    }
                    Err(e) => Err(io(e)),
                }
            }
            Err(e) => Err(io(e)),
        }
    }

    /// The master key from `FIELDBOOK_MASTER_KEY` if set, else from `file` (created on first
    /// start). Logs (without the key) where it came from.
    pub fn resolve(file: &Path) -> Result<Self, KeyError> {
        match std::env::var(MASTER_KEY_ENV) {
            Ok(text) => {
                let text = Zeroizing::new(text);
                tracing::info!(
                    source = MASTER_KEY_ENV,
                    "master key for the data at rest read"
                );
                MasterKey::from_base64(&text, MASTER_KEY_ENV)
            }
            Err(std::env::VarError::NotUnicode(_)) => Err(KeyError::Format {
                source_name: MASTER_KEY_ENV.to_owned(),
                reason: "not text",
            }),
            Err(std::env::VarError::NotPresent) => {
                let (key, created) = MasterKey::load_or_create(file)?;
                if created {
                    tracing::warn!(
                        file = %file.display(),
                        "created a new master key for the data at rest. In production keep it \
                         outside the data directory (FIELDBOOK_MASTER_KEY or master_key_file) and \
                         never in the same backup as the data, or erased cases can be read back"
                    );
                } else {
                    tracing::info!(file = %file.display(), "master key for the data at rest read");
                }
                Ok(key)
            }
        }
    }

    pub fn cipher(&self) -> Result<Sealer, KeyError> {
        Sealer::from_raw(&self.0[..])
    }
}

/// An AES-256-GCM key ready to seal and open values. `Debug` never shows it; the cipher
/// state is zeroed when dropped (`aes-gcm`'s `zeroize` feature).
pub struct Sealer(Aes256Gcm);

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(redacted)")
    }
}

impl Sealer {
    /// A new random document key: the cipher, and the raw key to wrap.
    pub fn generate() -> Result<(Self, Zeroizing<[u8; KEY_LEN]>), KeyError> {
        let mut raw = Zeroizing::new([0u8; KEY_LEN]);
        random(&mut raw[..])?;
        Ok((Sealer::from_raw(&raw[..])?, raw))
    }

    fn from_raw(raw: &[u8]) -> Result<Self, KeyError> {
        Aes256Gcm::new_from_slice(raw)
            .map(Sealer)
            .map_err(|_| KeyError::Unseal)
    }

    /// `[1][nonce][ciphertext + tag]` of `plain`, bound to `aad`.
    pub fn seal(&self, aad: &[u8], plain: &[u8]) -> Result<Vec<u8>, KeyError> {
        let nonce = Nonce::try_generate().map_err(|e| KeyError::Random(e.to_string()))?;
        let ct = self
            .0
            .encrypt(&nonce, Payload { msg: plain, aad })
            .map_err(|_| KeyError::Seal)?;
        let mut out = Vec::with_capacity(SEAL_OVERHEAD + plain.len());
        out.push(SEALED_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// The plaintext of a value sealed by [`Sealer::seal`] with the same `aad`.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, KeyError> {
        if sealed.len() < SEAL_OVERHEAD || sealed[0] != SEALED_V1 {
            return Err(KeyError::Unseal);
        }
        let nonce = Nonce::try_from(&sealed[1..1 + NONCE_LEN]).map_err(|_| KeyError::Unseal)?;
        self.0
            .decrypt(
                &nonce,
                Payload {
                    msg: &sealed[1 + NONCE_LEN..],
                    aad,
                },
            )
            .map_err(|_| KeyError::Unseal)
    }

    /// Wrap a raw document key under this (master) key.
    pub fn wrap(&self, doc: &str, raw: &[u8; KEY_LEN]) -> Result<Vec<u8>, KeyError> {
        self.seal(&aad(&[doc.as_bytes(), b"doc-key"]), raw)
    }

    /// The document key `wrapped` under this (master) key.
    pub fn unwrap_key(&self, doc: &str, wrapped: &[u8]) -> Result<Sealer, KeyError> {
        let raw = Zeroizing::new(self.open(&aad(&[doc.as_bytes(), b"doc-key"]), wrapped)?);
        Sealer::from_raw(&raw)
    }
}

/// Associated data naming what a sealed value is: a fixed prefix, then each part with its
/// length, so no two different lists of parts give the same bytes.
pub fn aad(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = b"fieldbook-at-rest/1".to_vec();
    for p in parts {
        out.extend_from_slice(&(p.len() as u32).to_be_bytes());
        out.extend_from_slice(p);
    }
    out
}

/// The associated data of a chunk (incremental or snapshot) of `doc`.
pub fn chunk_aad(doc: &str, kind: &str, hash: &str) -> Vec<u8> {
    aad(&[doc.as_bytes(), b"chunk", kind.as_bytes(), hash.as_bytes()])
}

/// The associated data of `doc`'s sync state with the peer whose storage is `peer`.
pub fn sync_state_aad(doc: &str, peer: &str) -> Vec<u8> {
    aad(&[doc.as_bytes(), b"sync-state", peer.as_bytes()])
}

/// What the keys file seals to prove the master key is the one its keys were made with.
pub fn master_check_aad() -> Vec<u8> {
    aad(&[b"master-key-check"])
}

fn random(buf: &mut [u8]) -> Result<(), KeyError> {
    use rand::TryRngCore;
    rand::rngs::OsRng
        .try_fill_bytes(buf)
        .map_err(|e| KeyError::Random(e.to_string()))
}

/// Make a new directory entry durable.
fn sync_parent(path: &Path) -> std::io::Result<()> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => std::fs::File::open(dir)?.sync_all(),
        None => Ok(()),
    }
}

/// The keys file that belongs to the data file at `data`: `<stem>-keys.sqlite3` beside it
/// (`fieldbook.sqlite3` → `fieldbook-keys.sqlite3`).
pub fn keys_path(data: &Path) -> PathBuf {
    let stem = data
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "fieldbook".into());
    data.with_file_name(format!("{stem}-keys.sqlite3"))
}

/// The default master key file for the data file at `data`: `master.key` beside it.
pub fn default_master_key_path(data: &Path) -> PathBuf {
    data.with_file_name("master.key")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_their_name() {
        let (k, _) = Sealer::generate().unwrap();
        let (other, _) = Sealer::generate().unwrap();
        let a = chunk_aad("doc", "incremental", "abc");
        let sealed = k.seal(&a, b"hello").unwrap();
        assert_eq!(sealed.len(), 5 + SEAL_OVERHEAD);
        assert_eq!(sealed[0], SEALED_V1);
        assert_eq!(k.open(&a, &sealed).unwrap(), b"hello");
        assert!(other.open(&a, &sealed).is_err());
        assert!(k
            .open(&chunk_aad("doc", "snapshot", "abc"), &sealed)
            .is_err());
        assert!(k.open(&sync_state_aad("doc", "abc"), &sealed).is_err());
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(k.open(&a, &flipped).is_err());
        // Two seals of the same value differ (random nonce).
        assert_ne!(k.seal(&a, b"hello").unwrap(), sealed);
        // Length-prefixed parts: moving a byte between parts changes the AAD.
        assert_ne!(aad(&[b"ab", b"c"]), aad(&[b"a", b"bc"]));
    }

    #[test]
    fn keys_are_wrapped_per_document_and_never_shown() {
        let master = MasterKey::generate().unwrap();
        let m = master.cipher().unwrap();
        let (doc_key, raw) = Sealer::generate().unwrap();
        let wrapped = m.wrap("doc-a", &raw).unwrap();
        assert!(m.unwrap_key("doc-b", &wrapped).is_err());
        let again = m.unwrap_key("doc-a", &wrapped).unwrap();
        let sealed = doc_key.seal(b"x", b"v").unwrap();
        assert_eq!(again.open(b"x", &sealed).unwrap(), b"v");
        let shown = format!("{master:?} {doc_key:?}");
        assert!(!shown.contains(master.to_base64().as_str()));
        assert_eq!(shown, "MasterKey(redacted) Sealer(redacted)");
    }

    #[test]
    fn a_master_key_file_is_made_once_owner_only_and_read_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/master.key");
        let (made, created) = MasterKey::load_or_create(&path).unwrap();
        assert!(created);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (read, created) = MasterKey::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(*made.to_base64(), *read.to_base64());
        std::fs::write(&path, b"not a key").unwrap();
        let err = MasterKey::load_or_create(&path).unwrap_err().to_string();
        assert!(err.contains("not valid"), "{err}");
        assert!(MasterKey::from_base64("c2hvcnQ=", "test").is_err());
    }
}
