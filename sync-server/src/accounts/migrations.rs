//! Versioned migrations for the directory tables.
//!
//! The directory shares the server's SQLite file with the document store, and the `meta`
//! table with it too, under its own key (`directory_schema_version`), so the two evolve
//! independently. Each step runs in its own `BEGIN IMMEDIATE` transaction that re-reads the
//! version first: a server and an admin command opening an old file at the same moment
//! cannot both apply a step.
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

pub(super) const VERSION_KEY: &str = "directory_schema_version";

/// One step: applied when the stored version is `version - 1`.
pub(super) struct Migration {
    pub version: i64,
    pub sql: &'static str,
}

/// In order; never edit a step that has shipped: add another.
pub(super) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: V1,
    },
    Migration {
        version: 2,
        sql: V2,
    },
    Migration {
        version: 3,
        sql: V3,
    },
    Migration {
        version: 4,
        sql: V4,
    },
];

/// The newest directory schema this build knows.
pub(super) fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

#[derive(Debug)]
pub(super) enum MigrateError {
    Sqlite(rusqlite::Error),
    Newer { found: i64, known: i64 },
    Unreadable(String),
}

impl From<rusqlite::Error> for MigrateError {
    fn from(e: rusqlite::Error) -> Self {
        MigrateError::Sqlite(e)
    }
}

/// Bring the directory tables up to `latest()`.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), MigrateError> {
    migrate_to(conn, latest())
}

pub(super) fn migrate_to(conn: &mut Connection, target: i64) -> Result<(), MigrateError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    )?;
    // A step may rebuild a table others refer to (SQLite cannot change a CHECK in place).
    // SQLite's procedure for that: foreign keys off outside the transaction, rebuild,
    // `foreign_key_check` before committing, foreign keys back on, whatever happened.
    let was_on: i64 = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?;
    conn.execute_batch("PRAGMA foreign_keys=OFF")?;
    let result = apply_steps(conn, target);
    if was_on == 1 {
        conn.execute_batch("PRAGMA foreign_keys=ON")?;
    }
    result
}

fn apply_steps(conn: &mut Connection, target: i64) -> Result<(), MigrateError> {
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current = stored_version(&tx)?;
        if current > latest() {
            return Err(MigrateError::Newer {
                found: current,
                known: latest(),
            });
        }
        let Some(step) = MIGRATIONS.iter().find(|m| m.version == current + 1) else {
            return Ok(());
        };
        if step.version > target {
            return Ok(());
        }
        tx.execute_batch(step.sql)?;
        let broken: i64 =
            tx.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })?;
        if broken > 0 {
            return Err(MigrateError::Unreadable(format!(
                "directory migration {} would leave {broken} broken references; nothing was changed",
                step.version
            )));
        }
        tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (VERSION_KEY, step.version.to_string()),
        )?;
        tx.commit()?;
    }
}

pub(super) fn stored_version(conn: &Connection) -> Result<i64, MigrateError> {
    let value: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [VERSION_KEY],
            |r| r.get(0),
        )
        .optional()?;
    match value {
        None => Ok(0),
        Some(v) => v
            .parse()
            .map_err(|_| MigrateError::Unreadable(format!("{VERSION_KEY} is {v:?}"))),
    }
}

/// Version 1: accounts, devices, sessions, tickets, case registrations, grants, the audit
/// log and the access version.
///
/// No foreign keys from `audit`: its rows outlive whatever they name, and a failed sign-in
/// names nobody. Usernames compare case-insensitively (`COLLATE NOCASE`, ASCII), so
/// `Alice` and `alice` cannot both exist.
const V1: &str = "
CREATE TABLE teams (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    agency TEXT NOT NULL
);
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('practitioner', 'manager', 'administrator')),
    agency TEXT NOT NULL,
    team TEXT REFERENCES teams (id),
    active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    password_hash TEXT NOT NULL,
    caseload TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
CREATE TABLE manages (
    user TEXT NOT NULL REFERENCES users (id),
    team TEXT NOT NULL REFERENCES teams (id),
    PRIMARY KEY (user, team)
);
CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users (id),
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen INTEGER,
    revoked_at INTEGER
);
CREATE INDEX devices_by_user ON devices (user);
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users (id),
    device TEXT NOT NULL REFERENCES devices (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user);
CREATE INDEX sessions_by_device ON sessions (device);
CREATE TABLE tickets (
    hash TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users (id),
    device TEXT NOT NULL REFERENCES devices (id),
    expires_at INTEGER NOT NULL,
    -- The expiry of the session that minted it: a connection opened with the ticket lasts
    -- no longer than that session would have.
    session_expires_at INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0 CHECK (used IN (0, 1))
);
CREATE INDEX tickets_by_device ON tickets (device);
CREATE TABLE cases (
    doc TEXT PRIMARY KEY,
    allocated TEXT REFERENCES users (id),
    team TEXT REFERENCES teams (id),
    created_by TEXT REFERENCES users (id),
    created_at INTEGER NOT NULL,
    part_of TEXT
);
CREATE TABLE grants (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc TEXT NOT NULL REFERENCES cases (doc),
    grantee_user TEXT REFERENCES users (id),
    grantee_team TEXT REFERENCES teams (id),
    access TEXT NOT NULL CHECK (access IN ('read', 'edit')),
    granted_by TEXT REFERENCES users (id),
    granted_at INTEGER NOT NULL,
    CHECK ((grantee_user IS NULL) <> (grantee_team IS NULL))
);
CREATE INDEX grants_by_doc ON grants (doc);
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    user TEXT,
    device TEXT,
    case_doc TEXT,
    address TEXT,
    detail TEXT NOT NULL
);
CREATE INDEX audit_by_case ON audit (case_doc, seq);
CREATE INDEX audit_by_user ON audit (user, seq);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE access_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO access_version (id, version) VALUES (1, 0);
";

/// Version 2 (issue 11): erasure tombstones, closed dates for retention, restriction of
/// processing, and each device's escrowed key.
///
/// A tombstone is permanent: it cannot be deleted, and the only change allowed is setting
/// `content_removed_at` once (the server has deleted the content). `erased_by` is who ran
/// the command (an OS user name, or `--by`), not a Fieldbook account.
const V2: &str = "
CREATE TABLE erasures (
    doc TEXT PRIMARY KEY,
    part_of TEXT,
    erased_at INTEGER NOT NULL,
    erased_by TEXT NOT NULL,
    reason TEXT NOT NULL,
    content_removed_at INTEGER
);
CREATE TRIGGER erasures_no_delete BEFORE DELETE ON erasures
BEGIN SELECT RAISE(ABORT, 'erasures are permanent'); END;
CREATE TRIGGER erasures_only_content_removed BEFORE UPDATE ON erasures
WHEN NEW.doc IS NOT OLD.doc OR NEW.part_of IS NOT OLD.part_of
  OR NEW.erased_at IS NOT OLD.erased_at OR NEW.erased_by IS NOT OLD.erased_by
  OR NEW.reason IS NOT OLD.reason OR OLD.content_removed_at IS NOT NULL
  OR NEW.content_removed_at IS NULL
BEGIN SELECT RAISE(ABORT, 'erasures are permanent'); END;
ALTER TABLE cases ADD COLUMN closed_at INTEGER;
CREATE TABLE restrictions (
    doc TEXT PRIMARY KEY REFERENCES cases (doc),
    reason TEXT NOT NULL,
    restricted_at INTEGER NOT NULL
);
CREATE TABLE restriction_readers (
    doc TEXT NOT NULL REFERENCES restrictions (doc) ON DELETE CASCADE,
    user TEXT NOT NULL REFERENCES users (id),
    PRIMARY KEY (doc, user)
);
CREATE TABLE device_keys (
    device TEXT PRIMARY KEY REFERENCES devices (id),
    -- sealed under the master key: [1][12-byte nonce][32-byte key][16-byte tag]
    sealed_key BLOB NOT NULL CHECK (length(sealed_key) = 61),
    created_at INTEGER NOT NULL
);
";

/// Version 3 (issue 12): the child protection chair role. SQLite cannot change a CHECK
/// constraint, so `users` is rebuilt with the same columns and rows (foreign keys are off
/// while it is, and checked before commit: see [`migrate_to`]).
const V3: &str = "
CREATE TABLE users_v3 (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('practitioner', 'manager', 'chair', 'administrator')),
    agency TEXT NOT NULL,
    team TEXT REFERENCES teams (id),
    active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    password_hash TEXT NOT NULL,
    caseload TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
INSERT INTO users_v3 (id, username, display_name, role, agency, team, active, password_hash,
                      caseload, created_at)
SELECT id, username, display_name, role, agency, team, active, password_hash, caseload,
       created_at FROM users;
DROP TABLE users;
ALTER TABLE users_v3 RENAME TO users;
";

/// Version 4 (issue 13): lone working check-ins (docs/LONE-WORKING.md). Where the worker
/// is going and with whom may name a child's address: both are sealed under the master key
/// (`[1][12-byte nonce][text][16-byte tag]`, bound to the check-in's id), never stored plain.
/// A row is never deleted: `checked_out_at` and `alerted_at` are each set once.
const V4: &str = "
CREATE TABLE checkins (
    id TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users (id),
    team TEXT REFERENCES teams (id),
    sealed_where BLOB NOT NULL,
    sealed_with_whom BLOB NOT NULL,
    expected_back INTEGER NOT NULL,
    checked_in_at INTEGER NOT NULL,
    checked_out_at INTEGER,
    alerted_at INTEGER,
    case_doc TEXT
);
CREATE INDEX checkins_open ON checkins (checked_out_at, expected_back);
CREATE INDEX checkins_by_user ON checkins (user, checked_in_at);
CREATE TRIGGER checkins_no_delete BEFORE DELETE ON checkins
BEGIN SELECT RAISE(ABORT, 'check-ins are kept'); END;
CREATE TRIGGER checkins_set_once BEFORE UPDATE ON checkins
WHEN NEW.id IS NOT OLD.id OR NEW.user IS NOT OLD.user OR NEW.team IS NOT OLD.team
  OR NEW.sealed_where IS NOT OLD.sealed_where OR NEW.sealed_with_whom IS NOT OLD.sealed_with_whom
  OR NEW.expected_back IS NOT OLD.expected_back OR NEW.checked_in_at IS NOT OLD.checked_in_at
  OR NEW.case_doc IS NOT OLD.case_doc
  OR (OLD.checked_out_at IS NOT NULL AND NEW.checked_out_at IS NOT OLD.checked_out_at)
  OR (OLD.alerted_at IS NOT NULL AND NEW.alerted_at IS NOT OLD.alerted_at)
BEGIN SELECT RAISE(ABORT, 'a check-in is only ever checked out and alerted, once each'); END;
";

/// The directory's schema on PostgreSQL (`--database-url`): its own history, applied by
/// `crate::pg::migrate(…, "directory", STEPS)`, building the same final schema as the SQLite
/// steps above. Text columns use the "C" collation so that `ORDER BY` sorts as SQLite's
/// BINARY does; usernames are unique regardless of case (SQLite's `COLLATE NOCASE`) by a
/// unique index on `lower(username)`; booleans are 0/1 integers, as on SQLite, so the same
/// statements read and write them. The append-only rules are triggers, as on SQLite.
pub(super) mod postgres {
    pub const STEPS: &[&str] = &[V1];

    const V1: &str = r#"
CREATE TABLE teams (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT COLLATE "C" NOT NULL,
    agency TEXT COLLATE "C" NOT NULL
);
CREATE TABLE users (
    id TEXT COLLATE "C" PRIMARY KEY,
    username TEXT COLLATE "C" NOT NULL,
    display_name TEXT COLLATE "C" NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('practitioner', 'manager', 'chair', 'administrator')),
    agency TEXT COLLATE "C" NOT NULL,
    team TEXT COLLATE "C" REFERENCES teams (id),
    active BIGINT NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    password_hash TEXT NOT NULL,
    caseload TEXT COLLATE "C" NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_username_nocase ON users (lower(username));
CREATE TABLE manages (
    "user" TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    team TEXT COLLATE "C" NOT NULL REFERENCES teams (id),
    PRIMARY KEY ("user", team)
);
CREATE TABLE devices (
    id TEXT COLLATE "C" PRIMARY KEY,
    "user" TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    name TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen BIGINT,
    revoked_at BIGINT
);
CREATE INDEX devices_by_user ON devices ("user");
CREATE TABLE sessions (
    token_hash TEXT COLLATE "C" PRIMARY KEY,
    "user" TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    device TEXT COLLATE "C" NOT NULL REFERENCES devices (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions ("user");
CREATE INDEX sessions_by_device ON sessions (device);
CREATE TABLE tickets (
    hash TEXT COLLATE "C" PRIMARY KEY,
    "user" TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    device TEXT COLLATE "C" NOT NULL REFERENCES devices (id),
    expires_at BIGINT NOT NULL,
    session_expires_at BIGINT NOT NULL,
    used BIGINT NOT NULL DEFAULT 0 CHECK (used IN (0, 1))
);
CREATE INDEX tickets_by_device ON tickets (device);
CREATE TABLE cases (
    doc TEXT COLLATE "C" PRIMARY KEY,
    allocated TEXT COLLATE "C" REFERENCES users (id),
    team TEXT COLLATE "C" REFERENCES teams (id),
    created_by TEXT COLLATE "C" REFERENCES users (id),
    created_at BIGINT NOT NULL,
    part_of TEXT COLLATE "C",
    closed_at BIGINT
);
CREATE TABLE grants (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    doc TEXT COLLATE "C" NOT NULL REFERENCES cases (doc),
    grantee_user TEXT COLLATE "C" REFERENCES users (id),
    grantee_team TEXT COLLATE "C" REFERENCES teams (id),
    access TEXT NOT NULL CHECK (access IN ('read', 'edit')),
    granted_by TEXT COLLATE "C" REFERENCES users (id),
    granted_at BIGINT NOT NULL,
    CHECK ((grantee_user IS NULL) <> (grantee_team IS NULL))
);
CREATE INDEX grants_by_doc ON grants (doc);
CREATE TABLE audit (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at BIGINT NOT NULL,
    kind TEXT COLLATE "C" NOT NULL,
    "user" TEXT COLLATE "C",
    device TEXT COLLATE "C",
    case_doc TEXT COLLATE "C",
    address TEXT COLLATE "C",
    detail TEXT COLLATE "C" NOT NULL
);
CREATE INDEX audit_by_case ON audit (case_doc, seq);
CREATE INDEX audit_by_user ON audit ("user", seq);
CREATE FUNCTION fieldbook_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'restrict_violation'; END $$;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    FOR EACH ROW EXECUTE FUNCTION fieldbook_refuse('the audit log is append-only');
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION fieldbook_refuse('the audit log is append-only');
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION fieldbook_refuse('the audit log is append-only');
CREATE TABLE access_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO access_version (id, version) VALUES (1, 0);
CREATE TABLE erasures (
    doc TEXT COLLATE "C" PRIMARY KEY,
    part_of TEXT COLLATE "C",
    erased_at BIGINT NOT NULL,
    erased_by TEXT COLLATE "C" NOT NULL,
    reason TEXT COLLATE "C" NOT NULL,
    content_removed_at BIGINT
);
CREATE TRIGGER erasures_no_delete BEFORE DELETE ON erasures
    FOR EACH ROW EXECUTE FUNCTION fieldbook_refuse('erasures are permanent');
CREATE TRIGGER erasures_no_truncate BEFORE TRUNCATE ON erasures
    FOR EACH STATEMENT EXECUTE FUNCTION fieldbook_refuse('erasures are permanent');
CREATE TRIGGER erasures_only_content_removed BEFORE UPDATE ON erasures FOR EACH ROW
    WHEN (NEW.doc IS DISTINCT FROM OLD.doc OR NEW.part_of IS DISTINCT FROM OLD.part_of
      OR NEW.erased_at IS DISTINCT FROM OLD.erased_at
      OR NEW.erased_by IS DISTINCT FROM OLD.erased_by
      OR NEW.reason IS DISTINCT FROM OLD.reason OR OLD.content_removed_at IS NOT NULL
      OR NEW.content_removed_at IS NULL)
    EXECUTE FUNCTION fieldbook_refuse('erasures are permanent');
CREATE TABLE restrictions (
    doc TEXT COLLATE "C" PRIMARY KEY REFERENCES cases (doc),
    reason TEXT COLLATE "C" NOT NULL,
    restricted_at BIGINT NOT NULL
);
CREATE TABLE restriction_readers (
    doc TEXT COLLATE "C" NOT NULL REFERENCES restrictions (doc) ON DELETE CASCADE,
    "user" TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    PRIMARY KEY (doc, "user")
);
CREATE TABLE device_keys (
    device TEXT COLLATE "C" PRIMARY KEY REFERENCES devices (id),
    sealed_key BYTEA NOT NULL CHECK (length(sealed_key) = 61),
    created_at BIGINT NOT NULL
);
CREATE TABLE checkins (
    id TEXT COLLATE "C" PRIMARY KEY,
    "user" TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    team TEXT COLLATE "C" REFERENCES teams (id),
    sealed_where BYTEA NOT NULL,
    sealed_with_whom BYTEA NOT NULL,
    expected_back BIGINT NOT NULL,
    checked_in_at BIGINT NOT NULL,
    checked_out_at BIGINT,
    alerted_at BIGINT,
    case_doc TEXT COLLATE "C"
);
CREATE INDEX checkins_open ON checkins (checked_out_at, expected_back);
CREATE INDEX checkins_by_user ON checkins ("user", checked_in_at);
CREATE TRIGGER checkins_no_delete BEFORE DELETE ON checkins
    FOR EACH ROW EXECUTE FUNCTION fieldbook_refuse('check-ins are kept');
CREATE TRIGGER checkins_no_truncate BEFORE TRUNCATE ON checkins
    FOR EACH STATEMENT EXECUTE FUNCTION fieldbook_refuse('check-ins are kept');
CREATE TRIGGER checkins_set_once BEFORE UPDATE ON checkins FOR EACH ROW
    WHEN (NEW.id IS DISTINCT FROM OLD.id OR NEW."user" IS DISTINCT FROM OLD."user"
      OR NEW.team IS DISTINCT FROM OLD.team
      OR NEW.sealed_where IS DISTINCT FROM OLD.sealed_where
      OR NEW.sealed_with_whom IS DISTINCT FROM OLD.sealed_with_whom
      OR NEW.expected_back IS DISTINCT FROM OLD.expected_back
      OR NEW.checked_in_at IS DISTINCT FROM OLD.checked_in_at
      OR NEW.case_doc IS DISTINCT FROM OLD.case_doc
      OR (OLD.checked_out_at IS NOT NULL AND NEW.checked_out_at IS DISTINCT FROM OLD.checked_out_at)
      OR (OLD.alerted_at IS NOT NULL AND NEW.alerted_at IS DISTINCT FROM OLD.alerted_at))
    EXECUTE FUNCTION fieldbook_refuse('a check-in is only ever checked out and alerted, once each');
"#;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::{Directory, DirectoryError};
    use crate::storage::SqliteStore;

    fn tables(conn: &Connection) -> Vec<String> {
        conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn steps_are_in_order_from_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1);
        }
        assert!(latest() >= 1);
    }

    #[test]
    fn a_documents_only_store_gets_the_directory_and_keeps_its_own_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fieldbook.sqlite3");
        let store = SqliteStore::open(&path).unwrap();
        let storage_id = fieldbook_sync::Store::storage_id(&store).clone();
        drop(store);
        {
            let conn = Connection::open(&path).unwrap();
            assert!(!tables(&conn).contains(&"users".to_owned()));
        }

        Directory::open(&path).unwrap();
        let conn = Connection::open(&path).unwrap();
        let names = tables(&conn);
        for t in [
            "teams",
            "users",
            "manages",
            "devices",
            "sessions",
            "tickets",
            "cases",
            "grants",
            "audit",
            "access_version",
            "erasures",
            "restrictions",
            "restriction_readers",
            "device_keys",
            "checkins",
            "chunks",
            "sync_states",
        ] {
            assert!(names.contains(&t.to_owned()), "{t} missing from {names:?}");
        }
        assert_eq!(stored_version(&conn).unwrap(), latest());
        let store_version: String = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(store_version, crate::storage::SCHEMA_VERSION.to_string());
        drop(conn);
        // The store still opens, with the same identity, and opening again changes nothing.
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(fieldbook_sync::Store::storage_id(&store), &storage_id);
        Directory::open(&path).unwrap();
    }

    #[test]
    fn a_directory_first_file_still_opens_as_a_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("fieldbook.sqlite3");
        Directory::open(&path).unwrap();
        SqliteStore::open(&path).unwrap();
        let conn = Connection::open(&path).unwrap();
        assert!(tables(&conn).contains(&"chunks".to_owned()));
    }

    #[test]
    fn version_3_adds_the_chair_role_and_keeps_every_user_and_reference() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fieldbook.sqlite3");
        let mut conn = Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA foreign_keys=ON").unwrap();
        migrate_to(&mut conn, 2).unwrap();
        conn.execute_batch(
            "INSERT INTO teams VALUES ('north', 'North (invented)', 'Invented Council');
             INSERT INTO users VALUES ('u-1', 'ayo', 'Invented Ayo', 'manager', 'Invented Council',
                                       'north', 1, 'hash', 'caseload-1', 1);
             INSERT INTO manages VALUES ('u-1', 'north');
             INSERT INTO devices (id, user, name, created_at) VALUES ('d-1', 'u-1', 'phone', 2);",
        )
        .unwrap();
        let chair = "INSERT INTO users VALUES ('u-2', 'cy', 'Invented Cy', 'chair',
                     'Invented Council', NULL, 1, 'hash', 'caseload-2', 3)";
        assert!(
            conn.execute_batch(chair).is_err(),
            "version 2 has no chair role"
        );
        migrate(&mut conn).unwrap();
        assert_eq!(stored_version(&conn).unwrap(), latest());
        conn.execute_batch(chair).unwrap();
        let kept: (String, String, String) = conn
            .query_row(
                "SELECT u.display_name, m.team, d.name FROM users u
                 JOIN manages m ON m.user = u.id JOIN devices d ON d.user = u.id",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(
            kept,
            ("Invented Ayo".into(), "north".into(), "phone".into())
        );
        let on: i64 = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!(on, 1, "foreign keys are back on after the rebuild");
        let orphan = conn.execute(
            "INSERT INTO devices (id, user, name, created_at) VALUES ('d-9', 'nobody', 'x', 4)",
            [],
        );
        assert!(orphan.is_err(), "references to users are still enforced");
        assert!(conn
            .execute("UPDATE users SET role = 'boss' WHERE id = 'u-1'", [])
            .is_err());
    }

    #[test]
    fn a_newer_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fieldbook.sqlite3");
        Directory::open(&path).unwrap();
        let conn = Connection::open(&path).unwrap();
        conn.execute(
            "UPDATE meta SET value = ?1 WHERE key = ?2",
            ((latest() + 1).to_string(), VERSION_KEY),
        )
        .unwrap();
        drop(conn);
        match Directory::open(&path) {
            Err(DirectoryError::NewerSchema { found, known }) => {
                assert_eq!((found, known), (latest() + 1, latest()));
            }
            other => panic!("expected NewerSchema, got {other:?}"),
        }
        let msg = DirectoryError::NewerSchema { found: 9, known: 1 }.to_string();
        assert!(msg.contains("upgrade the server"), "{msg}");
    }

    #[test]
    fn migrating_twice_and_stepwise_is_the_same() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_to(&mut conn, 0).unwrap();
        assert_eq!(stored_version(&conn).unwrap(), 0);
        assert!(!tables(&conn).contains(&"users".to_owned()));
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        assert_eq!(stored_version(&conn).unwrap(), latest());
        let v: i64 = conn
            .query_row("SELECT version FROM access_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, 0);
    }

    #[test]
    fn an_unreadable_version_is_an_error_not_a_fresh_start() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        conn.execute(
            "UPDATE meta SET value = 'two' WHERE key = ?1",
            [VERSION_KEY],
        )
        .unwrap();
        assert!(matches!(
            migrate(&mut conn),
            Err(MigrateError::Unreadable(_))
        ));
    }
}
