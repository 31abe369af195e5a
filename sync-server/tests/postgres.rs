//! The PostgreSQL connection pool and migrations (`src/pg.rs`) against the test command's
//! throwaway cluster: a connection killed under the pool is replaced, migrations run once
//! however many nodes start together, and a database newer than the server is refused.

mod support;

use fieldbook_sync_server::pg::{migrate, PgPool, PgUrl};
use support::pg::fresh_database;

const STEPS: &[&str] = &[
    "CREATE TABLE things (id BIGINT PRIMARY KEY, label TEXT NOT NULL)",
    "ALTER TABLE things ADD COLUMN note TEXT",
];

#[test]
fn a_connection_killed_under_the_pool_is_replaced_for_the_next_job() {
    let url = PgUrl::parse(&fresh_database()).unwrap();
    let pool = PgPool::open(&url, 1).unwrap();
    let pid: i32 = pool
        .run(|c| Ok(c.query_one("SELECT pg_backend_pid()", &[])?.get(0)))
        .unwrap();
    // Another session terminates the pool's connection (a failover, an administrator).
    let mut admin = url.connect().unwrap();
    let killed: bool = admin
        .query_one("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap()
        .get(0);
    assert!(killed);
    // The job that meets the dead connection fails (it may have been mid-write: the caller
    // decides what to do), and the next one runs on a new connection.
    let mut replaced = None;
    for _ in 0..2 {
        if let Ok(p) = pool.run(|c| {
            Ok(c.query_one("SELECT pg_backend_pid()", &[])?
                .get::<_, i32>(0))
        }) {
            replaced = Some(p);
            break;
        }
    }
    let replaced = replaced.expect("the pool reconnects");
    assert_ne!(replaced, pid);
}

#[tokio::test]
async fn async_callers_are_answered_without_blocking_the_runtime() {
    let url = PgUrl::parse(&fresh_database()).unwrap();
    let pool = PgPool::open(&url, 2).unwrap();
    let sums = futures_util::future::join_all((0..8i64).map(|i| {
        let pool = pool.clone();
        async move {
            pool.run_async(move |c| {
                Ok(c.query_one("SELECT $1::BIGINT + 1", &[&i])?
                    .get::<_, i64>(0))
            })
            .await
            .unwrap()
        }
    }))
    .await;
    assert_eq!(sums, (1..9).collect::<Vec<i64>>());
}

#[test]
fn migrations_run_once_even_when_nodes_start_together() {
    let url = PgUrl::parse(&fresh_database()).unwrap();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || migrate(&mut url.connect().unwrap(), "test", STEPS))
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap().unwrap(), 2);
    }
    let mut c = url.connect().unwrap();
    let rows: i64 = c
        .query_one(
            "SELECT COUNT(*) FROM schema_migrations WHERE scope = 'test'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(rows, 2);
    c.execute(
        "INSERT INTO things (id, label, note) VALUES (1, 'a', 'b')",
        &[],
    )
    .unwrap();
}

#[test]
fn a_database_newer_than_this_server_is_refused_in_words() {
    let url = PgUrl::parse(&fresh_database()).unwrap();
    let mut c = url.connect().unwrap();
    migrate(&mut c, "test", STEPS).unwrap();
    let err = migrate(&mut c, "test", &STEPS[..1])
        .unwrap_err()
        .to_string();
    assert!(err.contains("newer than this server knows"), "{err}");
}

#[test]
fn the_url_never_shows_its_password() {
    let url = PgUrl::parse("postgres://fieldbook:s3cret-pw@db.example.org:5432/fieldbook").unwrap();
    let shown = format!("{url:?} {}", url.describe());
    assert!(!shown.contains("s3cret-pw"), "{shown}");
    assert!(shown.contains("db.example.org"), "{shown}");
}
