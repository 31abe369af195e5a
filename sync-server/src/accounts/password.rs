//! Argon2id password hashing. STUB.
