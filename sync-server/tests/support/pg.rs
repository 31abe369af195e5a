//! The throwaway PostgreSQL cluster the test command starts (`scripts/pg-cluster.sh`, from
//! `scripts/test.sh`), and one fresh database per test on it.

/// Where the test command's cluster is; set by `scripts/test.sh`.
pub const URL_VAR: &str = "TEST_POSTGRES_URL";

/// Set (to `postgres`) by the test command's second run of the server integration tests:
/// every server they start keeps its documents and directory in PostgreSQL.
pub const SERVER_DATABASE_VAR: &str = "TEST_SERVER_DATABASE";

pub fn on_postgres() -> bool {
    std::env::var(SERVER_DATABASE_VAR).is_ok_and(|v| v == "postgres")
}

pub fn cluster_url() -> String {
    std::env::var(URL_VAR).unwrap_or_else(|_| {
        panic!(
            "{URL_VAR} is not set: these tests need the throwaway PostgreSQL cluster. Run \
             scripts/test.sh, or start one with `scripts/pg-cluster.sh start /tmp/fb-pg` and \
             export {URL_VAR}=<the URL it prints>"
        )
    })
}

/// A new, empty database on the test cluster; its URL.
/// Safe to call from async tests: the connection is made on a thread of its own.
pub fn fresh_database() -> String {
    std::thread::spawn(create_database)
        .join()
        .expect("create a test database")
}

fn create_database() -> String {
    let base = cluster_url();
    let name = format!("t_{:016x}", rand_u64());
    let mut admin = postgres::Client::connect(&base, postgres::NoTls)
        .unwrap_or_else(|e| panic!("cannot reach the test cluster at {URL_VAR}: {e}"));
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create a test database");
    fieldbook_sync_server::pg::with_database(&base, &name)
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.write_u32(std::process::id());
    h.finish()
}
