//! Secrets with a redacted `Debug`: passwords, session tokens and tickets.
//!
//! Session tokens and tickets are 32 random bytes, base64url without padding (43
//! characters). Only their SHA-256 (lower-case hex) is ever stored, so a copy of the database
//! does not let anyone sign in.
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

#[derive(Clone)]
pub struct Password(String);
#[derive(Clone)]
pub struct SessionToken(String);
#[derive(Clone)]
pub struct Ticket(String);

macro_rules! secret {
    ($t:ident) => {
        impl $t {
            pub fn new(s: String) -> Self {
                $t(s)
            }
            /// The secret itself: only for hashing, a cookie or a response body.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($t), "([redacted])"))
            }
        }
        // Equality of secrets must not leak, through timing, how long a prefix matched.
        impl PartialEq for $t {
            fn eq(&self, other: &Self) -> bool {
                constant_time_eq(&self.0, &other.0)
            }
        }
        impl Eq for $t {}
    };
}
/// A device's escrowed data key: 32 random bytes, handed to its signed-in user
/// (`POST /api/device-key`) so the PWA can recover local data after a forgotten passcode.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceKey(pub(crate) [u8; 32]);

impl DeviceKey {
    pub fn generate() -> Self {
        DeviceKey(rand::random())
    }
    /// Standard base64 (with padding), for the response body only.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceKey([redacted])")
    }
}

secret!(Password);
secret!(SessionToken);
secret!(Ticket);

macro_rules! bearer {
    ($t:ident) => {
        impl $t {
            /// A fresh random secret (32 bytes from the thread's CSPRNG, base64url).
            pub fn generate() -> Self {
                $t(random_token())
            }
            /// What is stored instead of the secret: SHA-256, lower-case hex.
            pub fn hash_hex(&self) -> String {
                sha256_hex(&self.0)
            }
        }
    };
}
bearer!(SessionToken);
bearer!(Ticket);

/// Bytes of randomness in a session token or ticket.
pub const TOKEN_BYTES: usize = 32;

fn random_token() -> String {
    let bytes: [u8; TOKEN_BYTES] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of `text`, lower-case hex.
pub fn sha256_hex(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Compare two strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let p = Password::new("correct horse battery staple".into());
        let s = SessionToken::generate();
        let t = Ticket::generate();
        assert_eq!(format!("{p:?}"), "Password([redacted])");
        assert!(!format!("{s:?}").contains(s.expose()));
        assert!(!format!("{t:#?}").contains(t.expose()));
        assert!(!format!("{:?}", Some(&p)).contains("horse"));
    }

    #[test]
    fn tokens_are_32_random_bytes_in_base64url() {
        let a = SessionToken::generate();
        let b = SessionToken::generate();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 43);
        let raw = URL_SAFE_NO_PAD.decode(a.expose()).unwrap();
        assert_eq!(raw.len(), TOKEN_BYTES);
        assert!(a
            .expose()
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }

    #[test]
    fn hashes_are_sha256_hex() {
        // The SHA-256 test vector for "abc" (FIPS 180-2).
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let t = Ticket::new("abc".into());
        assert_eq!(t.hash_hex(), sha256_hex("abc"));
        assert_ne!(t.hash_hex(), t.expose());
    }

    #[test]
    fn equality() {
        assert!(constant_time_eq("same", "same"));
        assert!(!constant_time_eq("same", "sane"));
        assert!(!constant_time_eq("same", "same-but-longer"));
        assert_eq!(Ticket::new("x".into()), Ticket::new("x".into()));
        assert_ne!(Ticket::new("x".into()), Ticket::new("y".into()));
    }
}
