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

/// Runs `f` on a connection to `url` made on a thread of its own (the synchronous client
/// must not run inside an async task).
pub fn with_client<T: Send + 'static>(
    url: &str,
    f: impl FnOnce(&mut postgres::Client) -> T + Send + 'static,
) -> T {
    let url = url.to_owned();
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls)
            .unwrap_or_else(|e| panic!("cannot reach the test database: {e}"));
        f(&mut c)
    })
    .join()
    .expect("a query on the test database")
}

/// The `BYTEA` values `sql` (one column) returns with text parameters `params`.
pub fn bytes(url: &str, sql: &'static str, params: &[String]) -> Vec<Vec<u8>> {
    let params = params.to_vec();
    with_client(url, move |c| {
        let p: Vec<&(dyn postgres::types::ToSql + Sync)> = params
            .iter()
            .map(|s| s as &(dyn postgres::types::ToSql + Sync))
            .collect();
        c.query(sql, &p)
            .unwrap()
            .into_iter()
            .map(|r| r.get(0))
            .collect()
    })
}

/// Every value of every table in the database at `url`, as someone reading the database
/// would see them: `BYTEA` raw, text as text, one value after another (the schema has no
/// other type that could hold text).
pub fn every_value(url: &str) -> Vec<u8> {
    use postgres::types::Type;
    with_client(url, |c| {
        let tables: Vec<String> = c
            .query(
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
                &[],
            )
            .unwrap()
            .into_iter()
            .map(|r| r.get(0))
            .collect();
        assert!(!tables.is_empty(), "no tables in the test database");
        let mut out = Vec::new();
        for t in tables {
            for row in c.query(&format!("SELECT * FROM \"{t}\""), &[]).unwrap() {
                for (i, col) in row.columns().iter().enumerate() {
                    let ty = col.type_();
                    if *ty == Type::BYTEA {
                        if let Some(b) = row.get::<_, Option<Vec<u8>>>(i) {
                            out.extend(b);
                        }
                    } else if [Type::TEXT, Type::VARCHAR, Type::BPCHAR, Type::NAME].contains(ty) {
                        if let Some(s) = row.get::<_, Option<String>>(i) {
                            out.extend(s.into_bytes());
                        }
                    }
                    out.push(b'\n');
                }
            }
        }
        out
    })
}
