//! Argon2id password hashing with OWASP's parameters (m = 19456 KiB, t = 2, p = 1). The
//! stored form is the PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), which
//! carries its own parameters: raising them later still verifies older hashes.
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

use super::Password;

/// OWASP Password Storage Cheat Sheet, Argon2id option with 19 MiB.
pub const M_COST_KIB: u32 = 19_456;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;

/// Shortest password accepted, in characters (NCSC and NIST both favour length).
pub const MIN_CHARS: usize = 12;
/// Longest password accepted when one is set: enough for any passphrase or manager.
pub const MAX_CHARS: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error(
        "the password is too short: use at least {MIN_CHARS} characters (a few words work well)"
    )]
    TooShort,
    #[error("the password is too long: use at most {MAX_CHARS} characters")]
    TooLong,
}

/// Whether `password` may be set as someone's password.
pub fn check(password: &Password) -> Result<(), PasswordError> {
    let n = password.expose().chars().count();
    if n < MIN_CHARS {
        Err(PasswordError::TooShort)
    } else if n > MAX_CHARS {
        Err(PasswordError::TooLong)
    } else {
        Ok(())
    }
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None)
        .expect("the OWASP Argon2id parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hash `password` with a fresh random salt; the PHC string to store.
pub fn hash(password: &Password) -> String {
    argon2()
        .hash_password(password.expose().as_bytes())
        .expect("Argon2id hashing with valid parameters and a generated salt cannot fail")
        .to_string()
}

/// Whether `password` matches the stored PHC string. A malformed stored hash matches nothing.
pub fn verify(password: &Password, stored: &str) -> bool {
    argon2()
        .verify_password(password.expose().as_bytes(), stored)
        .is_ok()
}

/// Spend the time of one real verification without any account: used for unknown usernames,
/// so how long a failed sign-in takes does not tell which usernames exist.
pub fn verify_dummy(password: &Password) {
    let _ = verify(password, dummy_hash());
}

/// A well-formed hash with the same parameters as real ones (so it costs the same to
/// verify), fixed so that even the first refusal takes no longer than the rest. Its salt and
/// output are random bytes: no password produces it.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$+dcE8tW0CCDuu8irMdhu6Q$odygRjp+tThvAi+XTumPYHCWUrX7LDmMWRCa0+fAT1I";

fn dummy_hash() -> &'static str {
    DUMMY_HASH
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_carry_owasp_parameters() {
        let p = Password::new("a long enough passphrase".into());
        let h = hash(&p);
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(!h.contains(p.expose()));
        assert!(verify(&p, &h));
        assert!(!verify(
            &Password::new("a long enough passphrasE".into()),
            &h
        ));
        // Salted: the same password hashes differently each time.
        assert_ne!(h, hash(&p));
        assert!(!verify(&p, "not a phc string"));
        assert!(!verify(&p, ""));
    }

    #[test]
    fn length_rules() {
        assert_eq!(
            check(&Password::new("elevenchars".into())),
            Err(PasswordError::TooShort)
        );
        assert_eq!(check(&Password::new("twelve chars".into())), Ok(()));
        // Characters, not bytes: twelve accented letters pass, five do not.
        assert_eq!(check(&Password::new("éééééééééééé".into())), Ok(()));
        assert_eq!(
            check(&Password::new("ééééé".into())),
            Err(PasswordError::TooShort)
        );
        assert_eq!(
            check(&Password::new("x".repeat(MAX_CHARS + 1))),
            Err(PasswordError::TooLong)
        );
        assert!(PasswordError::TooShort.to_string().contains("at least 12"));
    }

    #[test]
    fn the_dummy_hash_costs_what_a_real_one_does() {
        let real = hash(&Password::new("a long enough passphrase".into()));
        let params = |h: &str| h.rsplitn(3, '$').nth(2).unwrap().to_owned();
        assert_eq!(params(dummy_hash()), params(&real));
        assert!(!verify(&Password::new(String::new()), dummy_hash()));
        verify_dummy(&Password::new("anything at all".into()));
        assert!(argon2::password_hash::phc::PasswordHash::new(dummy_hash()).is_ok());
    }
}
