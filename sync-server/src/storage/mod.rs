//! Durable storage behind the one `Store` trait. SQLite is the only server store today
//! (PostgreSQL comes later); every store runs the same story (`fieldbook_sync::story`).
//! Everything stored is sealed at rest under per-document keys (`keys`, docs/AT-REST.md),
//! in owner-only files (`files`).

pub mod files;
pub mod keys;
mod sqlite;

/// The one store trait and its error live in the engine crate, shared with the PWA's
/// IndexedDB store and the in-memory store.
pub use fieldbook_sync::{Store, StoreError};
pub use keys::{KeyError, MasterKey, MASTER_KEY_ENV};
pub use sqlite::{SqliteStore, SCHEMA_VERSION};
