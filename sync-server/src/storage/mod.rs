//! Durable storage behind one trait. SQLite is the embedded default; other back ends
//! (PostgreSQL for scale-out) implement the same trait and run the same story test
//! (`sync-server/tests/storage_story.rs`).

mod sqlite;

/// The one store trait and its error live in the engine crate, shared with the PWA's
/// IndexedDB store and the in-memory store.
pub use fieldbook_sync::{Store, StoreError};
pub use sqlite::SqliteStore;
