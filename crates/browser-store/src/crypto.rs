//! Encryption at rest for the device's store: AES-256-GCM (RustCrypto) under a random data
//! key, and the [`Keyring`] that keeps that key wrapped by a key derived from the worker's
//! passcode (Argon2id) and/or by a key the server holds for this device.
//!
//! Plain Rust (no browser APIs), so it is unit-tested natively as well as used in wasm32.
//! Nothing here logs or prints a key: [`DataKey`]'s `Debug` is redacted.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::CryptoRng;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

/// The first byte of every sealed value: the format (AES-256-GCM, 12-byte nonce, 16-byte tag).
pub const SEAL_VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Bytes a sealed value adds to its plaintext.
pub const SEAL_OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;
/// The keyring format this build writes and reads.
pub const KEYRING_VERSION: u32 = 1;
const SALT_LEN: usize = 16;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    /// The value is not a sealed value of a format this build knows (too short, other version).
    #[error("sealed value is malformed or of an unknown format")]
    Malformed,
    /// Authentication failed: wrong key, a record moved to another key (AAD), or tampering.
    #[error("sealed value does not open with this key (wrong key, moved or altered)")]
    Open,
    #[error("wrong passcode")]
    WrongPasscode,
    #[error("the passcode was forgotten on this device: unlock through the server")]
    NoPasscode,
    #[error("this device has no server-held key")]
    NoServerKey,
    #[error("the server's key for this device does not open the keyring")]
    WrongServerKey,
    #[error("keyring version {0} is not known to this build")]
    KeyringVersion(u32),
    #[error("key derivation failed: {0}")]
    Kdf(String),
}

/// The device's data key: 32 random bytes, zeroized on drop, never printed.
#[derive(Clone)]
pub struct DataKey([u8; 32]);

impl Drop for DataKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl DataKey {
    pub fn random<R: CryptoRng + ?Sized>(rng: &mut R) -> DataKey {
        let mut k = [0u8; 32];
        rng.fill_bytes(&mut k);
        DataKey(k)
    }

    pub fn from_bytes(bytes: [u8; 32]) -> DataKey {
        DataKey(bytes)
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&self.0.into())
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

/// The associated data binding a sealed record to where it is stored: `store` and `key`
/// (a NUL between them; neither contains one), so a value copied to another record fails to open.
pub fn record_aad(store: &str, key: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(store.len() + 1 + key.len());
    aad.extend_from_slice(store.as_bytes());
    aad.push(0);
    aad.extend_from_slice(key.as_bytes());
    aad
}

/// `[SEAL_VERSION][12-byte random nonce][ciphertext + 16-byte tag]`.
pub fn seal<R: CryptoRng + ?Sized>(
    key: &DataKey,
    aad: &[u8],
    plaintext: &[u8],
    rng: &mut R,
) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    let sealed = key
        .cipher()
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        // Only fails past GCM's length limits (64 GiB of plaintext, 2^61 bytes of AAD).
        .expect("AES-GCM input within its length limits");
    let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
    out.push(SEAL_VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    out
}

pub fn open(key: &DataKey, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if sealed.len() < SEAL_OVERHEAD || sealed[0] != SEAL_VERSION {
        return Err(CryptoError::Malformed);
    }
    let nonce: [u8; NONCE_LEN] = sealed[1..1 + NONCE_LEN]
        .try_into()
        .map_err(|_| CryptoError::Malformed)?;
    key.cipher()
        .decrypt(
            &Nonce::from(nonce),
            Payload {
                msg: &sealed[1 + NONCE_LEN..],
                aad,
            },
        )
        .map_err(|_| CryptoError::Open)
}

/// Argon2id cost: memory in KiB, passes, lanes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    pub m_kib: u32,
    pub t: u32,
    pub p: u32,
}

impl KdfParams {
    /// Chosen by measuring unlock time in headless Chromium on the project's machine
    /// (docs/PERFORMANCE.md, "Device encryption", `scripts/bench-device.sh`): the strongest
    /// measured set with p95 unlock ≤ 1 s and at most 64 MiB (a WASM page never gives memory
    /// back); p50 265 ms, p95 283 ms there, RFC 9106's second recommended option.
    pub const DEVICE: KdfParams = KdfParams {
        m_kib: 65536,
        t: 3,
        p: 1,
    };

    /// Derive a 32-byte key from `passcode` and `salt` (Argon2id, version 0x13).
    pub fn derive(&self, passcode: &str, salt: &[u8]) -> Result<DataKey, CryptoError> {
        let params = Params::new(self.m_kib, self.t, self.p, Some(32))
            .map_err(|e| CryptoError::Kdf(e.to_string()))?;
        let mut out = Zeroizing::new([0u8; 32]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(passcode.as_bytes(), salt, out.as_mut())
            .map_err(|e| CryptoError::Kdf(e.to_string()))?;
        Ok(DataKey::from_bytes(*out))
    }
}

/// What unlocks the data key, stored in plain form (it is needed while locked). It holds no
/// secret in the clear: the data key appears only sealed, under the passcode-derived key
/// (`by_passcode`) and under the server-held device key (`by_server`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keyring {
    pub version: u32,
    pub kdf: KdfParams,
    #[serde(with = "b64")]
    pub salt: Vec<u8>,
    #[serde(with = "b64_opt", default)]
    pub by_passcode: Option<Vec<u8>>,
    #[serde(with = "b64_opt", default)]
    pub by_server: Option<Vec<u8>>,
}

impl Keyring {
    /// A new random data key, wrapped under `passcode`.
    pub fn create<R: CryptoRng + ?Sized>(
        passcode: &str,
        params: KdfParams,
        rng: &mut R,
    ) -> Result<(Keyring, DataKey), CryptoError> {
        let key = DataKey::random(rng);
        let mut ring = Keyring {
            version: KEYRING_VERSION,
            kdf: params,
            salt: Vec::new(),
            by_passcode: None,
            by_server: None,
        };
        ring.set_passcode(&key, passcode, rng)?;
        Ok((ring, key))
    }

    /// The AAD of the passcode wrap binds the KDF parameters and salt it was made with.
    fn passcode_aad(&self) -> Vec<u8> {
        let KdfParams { m_kib, t, p } = self.kdf;
        let mut aad = format!(
            "fieldbook keyring v{} passcode argon2id m={m_kib} t={t} p={p} salt=",
            self.version
        )
        .into_bytes();
        aad.extend_from_slice(&self.salt);
        aad
    }

    fn server_aad(&self) -> Vec<u8> {
        format!("fieldbook keyring v{} server", self.version).into_bytes()
    }

    fn check_version(&self) -> Result<(), CryptoError> {
        if self.version == KEYRING_VERSION {
            Ok(())
        } else {
            Err(CryptoError::KeyringVersion(self.version))
        }
    }

    fn unwrap_key(kek: &DataKey, aad: &[u8], wrapped: &[u8]) -> Result<DataKey, CryptoError> {
        let mut bytes = open(kek, aad, wrapped)?;
        let key: Result<[u8; 32], _> = bytes.as_slice().try_into();
        bytes.zeroize();
        key.map(DataKey::from_bytes)
            .map_err(|_| CryptoError::Malformed)
    }

    /// The data key, from the passcode. [`CryptoError::WrongPasscode`] when it does not open.
    pub fn unlock(&self, passcode: &str) -> Result<DataKey, CryptoError> {
        self.check_version()?;
        let wrapped = self.by_passcode.as_ref().ok_or(CryptoError::NoPasscode)?;
        let kek = self.kdf.derive(passcode, &self.salt)?;
        Self::unwrap_key(&kek, &self.passcode_aad(), wrapped).map_err(|e| match e {
            CryptoError::Open => CryptoError::WrongPasscode,
            other => other,
        })
    }

    /// The data key, from the key the server holds for this device.
    pub fn unlock_with_server_key(&self, server_key: &[u8; 32]) -> Result<DataKey, CryptoError> {
        self.check_version()?;
        let wrapped = self.by_server.as_ref().ok_or(CryptoError::NoServerKey)?;
        let kek = DataKey::from_bytes(*server_key);
        Self::unwrap_key(&kek, &self.server_aad(), wrapped).map_err(|e| match e {
            CryptoError::Open => CryptoError::WrongServerKey,
            other => other,
        })
    }

    /// Wrap `key` under the server-held device key (replacing any earlier server wrap).
    pub fn set_server_key<R: CryptoRng + ?Sized>(
        &mut self,
        key: &DataKey,
        server_key: &[u8; 32],
        rng: &mut R,
    ) {
        let kek = DataKey::from_bytes(*server_key);
        self.by_server = Some(seal(&kek, &self.server_aad(), &key.0, rng));
    }

    /// Wrap `key` under a (new) passcode, with a fresh salt and this keyring's KDF parameters.
    pub fn set_passcode<R: CryptoRng + ?Sized>(
        &mut self,
        key: &DataKey,
        passcode: &str,
        rng: &mut R,
    ) -> Result<(), CryptoError> {
        let mut salt = vec![0u8; SALT_LEN];
        rng.fill_bytes(&mut salt);
        let kek = self.kdf.derive(passcode, &salt)?;
        self.salt = salt;
        self.by_passcode = Some(seal(&kek, &self.passcode_aad(), &key.0, rng));
        Ok(())
    }

    /// Drop the passcode wrap: only the server-held key can unlock from now on.
    pub fn forget_passcode(&mut self) {
        self.by_passcode = None;
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a keyring always serializes")
    }

    pub fn from_json(json: &str) -> Result<Keyring, serde_json::Error> {
        serde_json::from_str(json)
    }
}

mod b64 {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

mod b64_opt {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(bytes) => s.serialize_some(&STANDARD.encode(bytes)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| STANDARD.decode(text).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheap parameters: the tests check the construction, not the cost.
    const FAST: KdfParams = KdfParams {
        m_kib: 64,
        t: 1,
        p: 1,
    };

    fn rng() -> rand::rngs::ThreadRng {
        rand::rng()
    }

    #[test]
    fn seal_round_trips_and_looks_random() {
        let key = DataKey::random(&mut rng());
        let aad = record_aad("chunks", "doc/incremental/abc");
        let text = b"Invented note: the zebra quilt by the lighthouse";
        let a = seal(&key, &aad, text, &mut rng());
        let b = seal(&key, &aad, text, &mut rng());
        assert_eq!(a.len(), text.len() + SEAL_OVERHEAD);
        assert_eq!(a[0], SEAL_VERSION);
        assert_ne!(a, b, "a fresh nonce every time");
        assert!(!a.windows(5).any(|w| w == b"zebra"));
        assert_eq!(open(&key, &aad, &a).unwrap(), text);
        assert_eq!(open(&key, &aad, &b).unwrap(), text);
        assert_eq!(
            open(&key, &aad, &seal(&key, &aad, b"", &mut rng())).unwrap(),
            b""
        );
    }

    #[test]
    fn wrong_key_moved_record_and_tampering_fail() {
        let key = DataKey::random(&mut rng());
        let aad = record_aad("chunks", "doc-a/incremental/abc");
        let sealed = seal(&key, &aad, b"payload", &mut rng());
        let other = DataKey::random(&mut rng());
        assert_eq!(open(&other, &aad, &sealed), Err(CryptoError::Open));
        assert_eq!(
            open(
                &key,
                &record_aad("chunks", "doc-b/incremental/abc"),
                &sealed
            ),
            Err(CryptoError::Open),
            "moved to another record key"
        );
        assert_eq!(
            open(
                &key,
                &record_aad("sync_states", "doc-a/incremental/abc"),
                &sealed
            ),
            Err(CryptoError::Open),
            "moved to another object store"
        );
        for i in 1..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert_eq!(open(&key, &aad, &bad), Err(CryptoError::Open), "byte {i}");
        }
        let mut bad = sealed.clone();
        bad[0] = 2;
        assert_eq!(open(&key, &aad, &bad), Err(CryptoError::Malformed));
        assert_eq!(
            open(&key, &aad, &sealed[..SEAL_OVERHEAD - 1]),
            Err(CryptoError::Malformed)
        );
        assert_eq!(
            open(&key, &aad, &sealed[..sealed.len() - 1]),
            Err(CryptoError::Open)
        );
    }

    #[test]
    fn passcode_unlocks_and_a_wrong_one_does_not() {
        let (ring, key) = Keyring::create("4711-lantern", FAST, &mut rng()).unwrap();
        let sealed = seal(&key, b"x", b"case text", &mut rng());
        let back = Keyring::from_json(&ring.to_json()).unwrap();
        assert_eq!(back, ring);
        let again = back.unlock("4711-lantern").unwrap();
        assert_eq!(open(&again, b"x", &sealed).unwrap(), b"case text");
        assert_eq!(
            back.unlock("4711-lanterN").unwrap_err(),
            CryptoError::WrongPasscode
        );
        assert_eq!(back.unlock("").unwrap_err(), CryptoError::WrongPasscode);
    }

    #[test]
    fn tampered_kdf_parameters_or_salt_do_not_unlock() {
        let (ring, _) = Keyring::create("4711-lantern", FAST, &mut rng()).unwrap();
        let mut weaker = ring.clone();
        weaker.kdf.t = 2;
        assert_eq!(
            weaker.unlock("4711-lantern").unwrap_err(),
            CryptoError::WrongPasscode
        );
        let mut salted = ring.clone();
        salted.salt[0] ^= 1;
        assert_eq!(
            salted.unlock("4711-lantern").unwrap_err(),
            CryptoError::WrongPasscode
        );
        let mut future = ring;
        future.version = 2;
        assert_eq!(
            future.unlock("4711-lantern").unwrap_err(),
            CryptoError::KeyringVersion(2)
        );
    }

    #[test]
    fn the_server_key_unlocks_after_the_passcode_is_forgotten() {
        let (mut ring, key) = Keyring::create("2468", FAST, &mut rng()).unwrap();
        let sealed = seal(&key, b"x", b"case text", &mut rng());
        let server = [7u8; 32];
        assert_eq!(
            ring.unlock_with_server_key(&server).unwrap_err(),
            CryptoError::NoServerKey
        );
        ring.set_server_key(&key, &server, &mut rng());
        ring.forget_passcode();
        assert_eq!(ring.unlock("2468").unwrap_err(), CryptoError::NoPasscode);
        let ring = Keyring::from_json(&ring.to_json()).unwrap();
        assert_eq!(
            ring.unlock_with_server_key(&[8u8; 32]).unwrap_err(),
            CryptoError::WrongServerKey
        );
        let back = ring.unlock_with_server_key(&server).unwrap();
        assert_eq!(open(&back, b"x", &sealed).unwrap(), b"case text");

        // A new passcode after the server unlocked: it and the server key both work.
        let mut ring = ring;
        ring.set_passcode(&back, "1357", &mut rng()).unwrap();
        assert_eq!(
            open(&ring.unlock("1357").unwrap(), b"x", &sealed).unwrap(),
            b"case text"
        );
        assert_eq!(ring.unlock("2468").unwrap_err(), CryptoError::WrongPasscode);
        assert!(ring.unlock_with_server_key(&server).is_ok());
    }

    #[test]
    fn the_serialized_keyring_holds_no_key_in_the_clear() {
        let (mut ring, key) = Keyring::create("9999", FAST, &mut rng()).unwrap();
        let server = [0x5au8; 32];
        ring.set_server_key(&key, &server, &mut rng());
        let json = ring.to_json();
        let raw = json.as_bytes();
        for secret in [&key.0[..], &server[..]] {
            assert!(!raw.windows(8).any(|w| secret.windows(8).any(|s| s == w)));
            let encoded =
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, secret);
            assert!(!json.contains(&encoded[..16]), "no base64 of a key");
            let hexed: String = secret.iter().map(|b| format!("{b:02x}")).collect();
            assert!(!json.contains(&hexed[..16]), "no hex of a key");
        }
        // Neither is any 8-byte run of the key inside the decoded wraps.
        for wrap in [
            ring.by_passcode.as_ref().unwrap(),
            ring.by_server.as_ref().unwrap(),
        ] {
            assert!(!wrap.windows(8).any(|w| key.0.windows(8).any(|s| s == w)));
        }
        assert!(!json.contains("9999"));
    }

    #[test]
    fn debug_output_is_redacted() {
        let key = DataKey::from_bytes([0xab; 32]);
        let shown = format!("{key:?} {key:#?}");
        assert_eq!(format!("{key:?}"), "DataKey(<redacted>)");
        assert!(!shown.contains("171") && !shown.to_lowercase().contains("ab, "));
    }

    #[test]
    fn the_device_parameters_are_valid_argon2id() {
        let KdfParams { m_kib, t, p } = KdfParams::DEVICE;
        assert!(m_kib >= 19 * 1024 && t >= 1 && p >= 1);
        Params::new(m_kib, t, p, Some(32)).unwrap();
    }
}
