//! The directory on SQLite: its own connection to the server's database file.
//!
//! Every method is one transaction; writes take the write lock up front (`BEGIN IMMEDIATE`)
//! so a server and an admin command writing at once wait for each other (5 s) instead of
//! failing on a stale read. Argon2id work is done outside the lock.
use std::path::Path;
use std::sync::{Arc, Mutex};

use fieldbook_sync::DocumentId;
use rusqlite::{Connection, ErrorCode};

use super::migrations::{self, MigrateError};
use super::sql::{vals, Db, Mode, Row, SqlError, Tx, Val};
use crate::pg::PgPool;

pub mod checkins;
use super::*;

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("the directory database {path}: {message}")]
    Database { path: String, message: String },
    #[error("{0}")]
    Invalid(String),
    #[error("{what} {name:?} is not known")]
    NotFound { what: &'static str, name: String },
    #[error("{what} {name:?} already exists")]
    Exists { what: &'static str, name: String },
    #[error("the directory was written by a newer Fieldbook (schema {found}, this build knows {known}): upgrade the server")]
    NewerSchema { found: i64, known: i64 },
}

/// Longest display name, team name, agency or device name kept, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest username or team id, in characters.
pub const MAX_ID_CHARS: usize = 64;

/// A handle on the directory tables, on SQLite or PostgreSQL. Cheap to clone; every method
/// is one transaction.
#[derive(Clone)]
pub struct Directory {
    db: Db,
    /// Where it is, for messages (a file path, or the database's host and name — never a
    /// password).
    place: Arc<String>,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory").finish_non_exhaustive()
    }
}

/// Inside the directory: a database failure (given its place at the boundary) or a plain one.
enum Fail {
    Sql(SqlError),
    Dir(DirectoryError),
}

impl From<SqlError> for Fail {
    fn from(e: SqlError) -> Self {
        Fail::Sql(e)
    }
}

impl From<DirectoryError> for Fail {
    fn from(e: DirectoryError) -> Self {
        Fail::Dir(e)
    }
}

type R<T> = Result<T, Fail>;

fn database_error(e: &SqlError, path: &str) -> DirectoryError {
    let message = match e {
        SqlError::Lite(e) => match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => {
                "the database stayed locked by another process for 5 s: try again".to_owned()
            }
            Some(ErrorCode::DiskFull) => "the disk is full".to_owned(),
            Some(ErrorCode::DatabaseCorrupt) | Some(ErrorCode::NotADatabase) => {
                "the file is not a Fieldbook database or is damaged".to_owned()
            }
            _ => e.to_string(),
        },
        // The server's message (never parameter values): "db error" alone says nothing.
        SqlError::Pg(crate::pg::PgError::Db(e)) => match e.as_db_error() {
            Some(db) => format!("PostgreSQL: {}", db.message()),
            None => e.to_string(),
        },
        SqlError::Pg(e) => e.to_string(),
        SqlError::Conversion(m) => format!("unexpected contents: {m}"),
    };
    DirectoryError::Database {
        path: path.to_owned(),
        message,
    }
}

fn not_found(what: &'static str, name: impl Into<String>) -> Fail {
    Fail::Dir(DirectoryError::NotFound {
        what,
        name: name.into(),
    })
}

fn invalid(message: impl Into<String>) -> Fail {
    Fail::Dir(DirectoryError::Invalid(message.into()))
}

/// A unique constraint refused the insert (another node, or another request, was first):
/// `what` `name` exists; any other failure as it is.
fn exists_if_unique<'a>(what: &'static str, name: &'a str) -> impl FnOnce(SqlError) -> Fail + 'a {
    move |e| {
        if e.is_unique_violation() {
            Fail::Dir(DirectoryError::Exists {
                what,
                name: name.to_owned(),
            })
        } else {
            Fail::Sql(e)
        }
    }
}

impl Directory {
    /// Open (and migrate) the directory in the SQLite file at `path` (the server's store).
    pub fn open(path: &Path) -> Result<Self, DirectoryError> {
        let shown = path.display().to_string();
        let db = |e: rusqlite::Error| database_error(&SqlError::Lite(e), &shown);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| DirectoryError::Database {
                path: dir.display().to_string(),
                message: format!("cannot create the directory: {e}"),
            })?;
        }
        let mut conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db)?;
        // The same settings as the document store: `journal_mode` is the first read, so a
        // file that is not a database fails here.
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(db)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(DirectoryError::Database {
                path: shown,
                message: format!("could not enable WAL (got {mode})"),
            });
        }
        // secure_delete: pages freed by a deletion (in the file it shares with the document
        // store) are zeroed, not left holding what was deleted (docs/AT-REST.md).
        conn.execute_batch(
            "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA secure_delete=ON;",
        )
        .map_err(db)?;
        migrations::migrate(&mut conn).map_err(|e| match e {
            MigrateError::Sqlite(e) => db(e),
            MigrateError::Newer { found, known } => DirectoryError::NewerSchema { found, known },
            MigrateError::Unreadable(message) => DirectoryError::Database {
                path: shown.clone(),
                message,
            },
        })?;
        Ok(Directory {
            db: Db::Lite(Arc::new(Mutex::new(conn))),
            place: Arc::new(path.display().to_string()),
        })
    }

    /// Open (and migrate, `migrations::postgres`) the directory in the PostgreSQL database
    /// `pool` reaches. Several server nodes may open the same database: they then agree on
    /// users, sessions, devices and grants, because those live only there. Blocks: call it
    /// from start-up code or `spawn_blocking`, like every other method.
    pub fn open_postgres(pool: &PgPool) -> Result<Self, DirectoryError> {
        let place = pool.url().describe();
        let known = migrations::postgres::STEPS.len() as i64;
        pool.run(|client| crate::pg::migrate(client, "directory", migrations::postgres::STEPS))
            .map_err(|e| {
                let text = e.to_string();
                if text.contains("newer than this server knows") {
                    DirectoryError::NewerSchema {
                        found: known + 1,
                        known,
                    }
                } else {
                    database_error(&SqlError::Pg(e), &place)
                }
            })?;
        Ok(Directory {
            db: Db::Pg(pool.clone()),
            place: Arc::new(place),
        })
    }

    /// Whether this directory is on PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(self.db, Db::Pg(_))
    }

    fn finish<T>(&self, r: R<T>) -> Result<T, DirectoryError> {
        r.map_err(|f| match f {
            Fail::Sql(e) if e.is_unique_violation() => DirectoryError::Exists {
                what: "entry",
                name: String::new(),
            },
            Fail::Sql(e) => database_error(&e, &self.place),
            Fail::Dir(e) => e,
        })
    }

    /// Run `f` in a write transaction (committed when it returns `Ok`); writes from every
    /// process (and on PostgreSQL every node) are serialised.
    fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> R<T> + Send,
    ) -> Result<T, DirectoryError> {
        let r = self.db.transaction(Mode::Write, f);
        self.finish(r)
    }

    /// Run `f` in a read transaction: one consistent view.
    fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> R<T> + Send,
    ) -> Result<T, DirectoryError> {
        let r = self.db.transaction(Mode::Read, f);
        self.finish(r)
    }

    /// Bumped by every write that can change what someone may do (users, teams, manages,
    /// devices, cases, grants, ended sessions). The server polls it to notice admin CLI changes.
    pub fn access_version(&self) -> Result<i64, DirectoryError> {
        self.read(|tx| {
            Ok(tx
                .query_one("SELECT version FROM access_version", &[])?
                .i64(0)?)
        })
    }

    pub fn snapshot(&self) -> Result<Snapshot, DirectoryError> {
        self.read(|tx| {
            Ok(Snapshot {
                users: query_users(tx, "", &[])?,
                teams: query_teams(tx)?,
                manages: tx
                    .query(
                        "SELECT \"user\", team FROM manages ORDER BY \"user\", team",
                        &[],
                    )?
                    .iter()
                    .map(|r| Ok((UserId(r.text(0)?), TeamId(r.text(1)?))))
                    .collect::<Result<_, SqlError>>()?,
                devices: query_devices(tx, None)?,
                cases: query_cases(tx, None)?,
                grants: query_grants(tx, None)?,
                erasures: query_erasures(tx)?,
                restrictions: query_restrictions(tx)?,
            })
        })
    }

    // --- teams and users ---
    pub fn add_team(&self, team: &Team) -> Result<(), DirectoryError> {
        self.write(|tx| {
            check_team_id(&team.id.0)?;
            let name = clean_name("team name", &team.name)?;
            let agency = clean_name("agency", &team.agency)?;
            if team_exists(tx, &team.id)? {
                return Err(Fail::Dir(DirectoryError::Exists {
                    what: "team",
                    name: team.id.0.clone(),
                }));
            }
            tx.exec(
                "INSERT INTO teams (id, name, agency) VALUES ($1, $2, $3)",
                vals![team.id.0, name, agency],
            )
            .map_err(exists_if_unique("team", &team.id.0))?;
            bump(tx)
        })
    }

    /// Every team, by id.
    pub fn teams(&self) -> Result<Vec<Team>, DirectoryError> {
        self.read(query_teams)
    }

    pub fn add_user(&self, new: NewUser, now: Millis) -> Result<User, DirectoryError> {
        let NewUser {
            username,
            display_name,
            role,
            agency,
            team,
            password: secret,
        } = new;
        let checked = (|| {
            check_username(&username)?;
            password::check(&secret).map_err(|e| invalid(e.to_string()))?;
            Ok((
                clean_name("display name", &display_name)?,
                clean_name("agency", &agency)?,
            ))
        })();
        let (display_name, agency) = self.finish(checked)?;
        // Hashing takes tens of milliseconds: not while holding the connection.
        let hash = password::hash(&secret);
        self.write(|tx| {
            if let Some(t) = &team {
                if !team_exists(tx, t)? {
                    return Err(not_found("team", &t.0));
                }
            }
            if user_id_by_username(tx, &username)?.is_some() {
                return Err(Fail::Dir(DirectoryError::Exists {
                    what: "user",
                    name: username.clone(),
                }));
            }
            let user = User {
                id: UserId(random_id("usr_")),
                username: username.clone(),
                display_name,
                role,
                agency,
                team: team.clone(),
                active: true,
                caseload: DocumentId::random(),
            };
            tx.exec(
                "INSERT INTO users (id, username, display_name, role, agency, team, active,
                                        password_hash, caseload, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, $9)",
                vals![
                    user.id.0,
                    user.username,
                    user.display_name,
                    user.role.as_str(),
                    user.agency,
                    user.team.as_ref().map(|t| &t.0),
                    hash,
                    user.caseload.to_string(),
                    now
                ],
            )
            .map_err(exists_if_unique("user", &username))?;
            bump(tx)?;
            Ok(user)
        })
    }

    pub fn user(&self, id: &UserId) -> Result<Option<User>, DirectoryError> {
        self.read(|tx| Ok(query_users(tx, "WHERE id = $1", vals![id.0])?.pop()))
    }

    pub fn user_by_username(&self, username: &str) -> Result<Option<User>, DirectoryError> {
        self.read(|tx| {
            Ok(query_users(tx, "WHERE lower(username) = lower($1)", vals![username])?.pop())
        })
    }

    /// Every user, by username.
    pub fn users(&self) -> Result<Vec<User>, DirectoryError> {
        self.read(|tx| query_users(tx, "", &[]))
    }

    pub fn set_active(&self, user: &UserId, active: bool) -> Result<(), DirectoryError> {
        self.update_user(user, "active = $2", active)
    }

    pub fn set_password(&self, user: &UserId, password: Password) -> Result<(), DirectoryError> {
        password::check(&password).map_err(|e| DirectoryError::Invalid(e.to_string()))?;
        if self.user(user)?.is_none() {
            return Err(DirectoryError::NotFound {
                what: "user",
                name: user.0.clone(),
            });
        }
        let hash = password::hash(&password);
        // Not access-affecting: sessions already open stay open (`expire_sessions` ends them).
        self.write(|tx| {
            let n = tx.exec(
                "UPDATE users SET password_hash = $2 WHERE id = $1",
                vals![user.0, hash],
            )?;
            if n == 0 {
                return Err(not_found("user", &user.0));
            }
            Ok(())
        })
    }

    pub fn set_team(&self, user: &UserId, team: Option<&TeamId>) -> Result<(), DirectoryError> {
        self.write(|tx| {
            if let Some(t) = team {
                if !team_exists(tx, t)? {
                    return Err(not_found("team", &t.0));
                }
            }
            let n = tx.exec(
                "UPDATE users SET team = $2 WHERE id = $1",
                vals![user.0, team.map(|t| &t.0)],
            )?;
            if n == 0 {
                return Err(not_found("user", &user.0));
            }
            bump(tx)
        })
    }

    /// Set a user's role. A user who stops being a manager stops managing their teams too:
    /// managing is part of the role, and a stale row would quietly keep the access.
    pub fn set_role(&self, user: &UserId, role: Role) -> Result<(), DirectoryError> {
        self.write(|tx| {
            let n = tx.exec(
                "UPDATE users SET role = $2 WHERE id = $1",
                vals![user.0, role.as_str()],
            )?;
            if n == 0 {
                return Err(not_found("user", &user.0));
            }
            if role != Role::Manager {
                tx.exec("DELETE FROM manages WHERE \"user\" = $1", vals![user.0])?;
            }
            bump(tx)
        })
    }

    /// `on`: `manager` manages `team` (only a user whose role is manager may); otherwise not.
    pub fn manage(&self, manager: &UserId, team: &TeamId, on: bool) -> Result<(), DirectoryError> {
        self.write(|tx| {
            let role: Option<String> = tx
                .query_opt("SELECT role FROM users WHERE id = $1", vals![manager.0])?
                .map(|r| r.text(0))
                .transpose()?;
            let Some(role) = role else {
                return Err(not_found("user", &manager.0));
            };
            if !team_exists(tx, team)? {
                return Err(not_found("team", &team.0));
            }
            if on {
                if role != Role::Manager.as_str() {
                    return Err(invalid(format!(
                        "only a manager can manage a team, and this user is a {role}: set their role to manager first"
                    )));
                }
                tx.exec(
                    "INSERT INTO manages (\"user\", team) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    vals![manager.0, team.0],
                )?;
            } else {
                tx.exec(
                    "DELETE FROM manages WHERE \"user\" = $1 AND team = $2",
                    vals![manager.0, team.0],
                )?;
            }
            bump(tx)
        })
    }

    fn update_user(&self, user: &UserId, set: &str, value: bool) -> Result<(), DirectoryError> {
        self.write(|tx| {
            let n = tx.exec(
                &format!("UPDATE users SET {set} WHERE id = $1"),
                vals![user.0, value],
            )?;
            if n == 0 {
                return Err(not_found("user", &user.0));
            }
            bump(tx)
        })
    }

    /// Check a sign-in. `Ok(None)` for an unknown username, a wrong password or a disabled
    /// account alike (and an unknown username still costs one Argon2id verification).
    pub fn verify_password(
        &self,
        username: &str,
        password: &Password,
    ) -> Result<Option<User>, DirectoryError> {
        let found = self.read(|tx| {
            let hash: Option<String> = tx
                .query_opt(
                    "SELECT password_hash FROM users WHERE lower(username) = lower($1)",
                    vals![username],
                )?
                .map(|r| r.text(0))
                .transpose()?;
            match hash {
                None => Ok(None),
                Some(hash) => {
                    Ok(
                        query_users(tx, "WHERE lower(username) = lower($1)", vals![username])?
                            .pop()
                            .map(|u| (u, hash)),
                    )
                }
            }
        })?;
        // The verification runs whatever the account's state, so a disabled account takes as
        // long to refuse as an active one.
        match found {
            None => {
                password::verify_dummy(password);
                Ok(None)
            }
            Some((user, hash)) => {
                let ok = password::verify(password, &hash);
                Ok((ok && user.active).then_some(user))
            }
        }
    }

    // --- devices, sessions, tickets ---
    /// Register a new device for `user`, or reuse `existing` if it is that user's and not
    /// revoked (its name and last-seen time are then updated). The name is tidied: control
    /// characters become spaces, it is cut to 200 characters, and an empty one is "Unnamed
    /// device".
    pub fn register_device(
        &self,
        user: &UserId,
        name: &str,
        existing: Option<&DeviceId>,
        now: Millis,
    ) -> Result<Device, DirectoryError> {
        let name = tidy_device_name(name);
        self.write(|tx| {
            if !exists(tx, "SELECT 1 FROM users WHERE id = $1", &user.0)? {
                return Err(not_found("user", &user.0));
            }
            if let Some(id) = existing {
                let n = tx.exec(
                    "UPDATE devices SET name = $3, last_seen = $4
                     WHERE id = $1 AND \"user\" = $2 AND revoked_at IS NULL",
                    vals![id.0, user.0, name, now],
                )?;
                if n == 1 {
                    return Ok(query_devices(tx, Some(("id", &id.0)))?
                        .pop()
                        .expect("the device just updated"));
                }
            }
            let device = Device {
                id: DeviceId(random_id("dev_")),
                user: user.clone(),
                name: name.clone(),
                created_at: now,
                last_seen: Some(now),
                revoked_at: None,
            };
            tx.exec(
                "INSERT INTO devices (id, \"user\", name, created_at, last_seen) VALUES ($1, $2, $3, $4, $4)",
                vals![device.id.0, device.user.0, device.name, now],
            )?;
            bump(tx)?;
            Ok(device)
        })
    }

    /// Every device (of `user`, if given), oldest first.
    pub fn devices(&self, user: Option<&UserId>) -> Result<Vec<Device>, DirectoryError> {
        self.read(|tx| query_devices(tx, user.map(|u| ("\"user\"", u.0.as_str()))))
    }

    pub fn device(&self, id: &DeviceId) -> Result<Option<Device>, DirectoryError> {
        self.read(|tx| Ok(query_devices(tx, Some(("id", &id.0)))?.pop()))
    }

    pub fn touch_device(&self, device: &DeviceId, now: Millis) -> Result<(), DirectoryError> {
        self.write(|tx| {
            let n = tx.exec(
                "UPDATE devices SET last_seen = $2 WHERE id = $1",
                vals![device.0, now],
            )?;
            if n == 0 {
                return Err(not_found("device", &device.0));
            }
            Ok(())
        })
    }

    /// Revoke a device: its sessions end and it may not sign in again. Revoking a revoked
    /// device keeps the first revocation time.
    pub fn revoke_device(&self, device: &DeviceId, now: Millis) -> Result<(), DirectoryError> {
        self.write(|tx| {
            if !exists(tx, "SELECT 1 FROM devices WHERE id = $1", &device.0)? {
                return Err(not_found("device", &device.0));
            }
            tx.exec(
                "UPDATE devices SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                vals![device.0, now],
            )?;
            // Its sessions are kept (they never validate again: `session` checks the device)
            // so the device can be told it was revoked (`session_revoked`) and wipe itself.
            tx.exec("DELETE FROM tickets WHERE device = $1", vals![device.0])?;
            tx.exec("DELETE FROM device_keys WHERE device = $1", vals![device.0])?;
            bump(tx)
        })
    }

    /// Whether `token` is a session of a revoked device (kept so the device can be told).
    pub fn session_revoked(&self, token: &SessionToken) -> Result<bool, DirectoryError> {
        let hash = token.hash_hex();
        self.read(|tx| {
            Ok(tx
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM sessions s JOIN devices d ON d.id = s.device
                     WHERE s.token_hash = $1 AND d.revoked_at IS NOT NULL)",
                    vals![hash],
                )?
                .bool(0)?)
        })
    }

    /// The escrowed key of `device`, created on first use; `None` if the device is not
    /// `user`'s or is revoked.
    /// Stored sealed under the server's master key (`wrap`), so a copy of the directory alone
    /// does not open a lost phone.
    pub fn device_key(
        &self,
        device: &DeviceId,
        user: &UserId,
        now: Millis,
        wrap: &crate::storage::keys::Sealer,
    ) -> Result<Option<DeviceKey>, DirectoryError> {
        let aad = crate::storage::keys::aad(&[device.0.as_bytes(), b"device-key"]);
        self.write(|tx| {
            let ok = tx
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM devices WHERE id = $1 AND \"user\" = $2 AND revoked_at IS NULL)",
                    vals![device.0, user.0],
                )?
                .bool(0)?;
            if !ok {
                return Ok(None);
            }
            let found: Option<Vec<u8>> = tx
                .query_opt(
                    "SELECT sealed_key FROM device_keys WHERE device = $1",
                    vals![device.0],
                )?
                .map(|r| r.bytes(0))
                .transpose()?;
            if let Some(sealed) = found {
                let raw = zeroize::Zeroizing::new(
                    wrap.open(&aad, &sealed)
                        .map_err(|_| invalid("a stored device key does not open with the master key"))?,
                );
                let key: [u8; 32] = raw[..]
                    .try_into()
                    .map_err(|_| invalid("a stored device key is damaged"))?;
                return Ok(Some(DeviceKey(key)));
            }
            let key = DeviceKey::generate();
            let sealed = wrap
                .seal(&aad, &key.0[..])
                .map_err(|_| invalid("the device key could not be sealed"))?;
            tx.exec(
                "INSERT INTO device_keys (device, sealed_key, created_at) VALUES ($1, $2, $3)",
                vals![device.0, sealed, now],
            )?;
            Ok(Some(key))
        })
    }

    /// A new session for an active user on one of their devices that is not revoked.
    pub fn create_session(
        &self,
        user: &UserId,
        device: &DeviceId,
        now: Millis,
        ttl_ms: i64,
    ) -> Result<(SessionToken, Session), DirectoryError> {
        if ttl_ms <= 0 {
            return Err(DirectoryError::Invalid(
                "a session must last a positive time".into(),
            ));
        }
        let token = SessionToken::generate();
        let session = Session {
            user: user.clone(),
            device: device.clone(),
            expires_at: now.saturating_add(ttl_ms),
        };
        self.write(|tx| {
            if !exists(tx, "SELECT 1 FROM users WHERE id = $1 AND active = 1", &user.0)? {
                return Err(invalid(format!("user {} is not known or is disabled", user.0)));
            }
            let ok = tx
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM devices WHERE id = $1 AND \"user\" = $2 AND revoked_at IS NULL)",
                    vals![device.0, user.0],
                )?
                .bool(0)?;
            if !ok {
                return Err(invalid(format!(
                    "device {} is not this user's or is revoked",
                    device.0
                )));
            }
            // Expired sessions are no use to anyone: clear them as new ones are made (but
            // not a revoked device's: it is told so whenever it shows its cookie).
            tx.exec(
                "DELETE FROM sessions WHERE expires_at <= $1
                 AND device NOT IN (SELECT id FROM devices WHERE revoked_at IS NOT NULL)",
                vals![now],
            )?;
            tx.exec(
                "INSERT INTO sessions (token_hash, \"user\", device, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5)",
                vals![token.hash_hex(), user.0, device.0, now, session.expires_at],
            )?;
            Ok(())
        })?;
        Ok((token, session))
    }

    /// The session for `token` if it exists, has not expired, its device is not revoked and
    /// its user is active.
    pub fn session(
        &self,
        token: &SessionToken,
        now: Millis,
    ) -> Result<Option<Session>, DirectoryError> {
        // Looked up by hash: the lookup time depends on the hash, which reveals nothing
        // usable about the token.
        let hash = token.hash_hex();
        self.read(|tx| {
            Ok(tx
                .query_opt(
                    "SELECT s.\"user\", s.device, s.expires_at FROM sessions s
                     JOIN devices d ON d.id = s.device AND d.\"user\" = s.\"user\"
                     JOIN users u ON u.id = s.\"user\"
                     WHERE s.token_hash = $1 AND s.expires_at > $2
                       AND d.revoked_at IS NULL AND u.active = 1",
                    vals![hash, now],
                )?
                .map(|r| session_row(&r))
                .transpose()?)
        })
    }

    /// End one session (signing out). The device's unredeemed tickets go with it.
    pub fn end_session(&self, token: &SessionToken) -> Result<(), DirectoryError> {
        let hash = token.hash_hex();
        self.write(|tx| {
            let device: Option<String> = tx
                .query_opt(
                    "DELETE FROM sessions WHERE token_hash = $1 RETURNING device",
                    vals![hash],
                )?
                .map(|r| r.text(0))
                .transpose()?;
            if let Some(device) = device {
                tx.exec("DELETE FROM tickets WHERE device = $1", vals![device])?;
                bump(tx)?;
            }
            Ok(())
        })
    }

    /// End every session of `user` (they must sign in again; devices are kept). Returns how many.
    pub fn expire_sessions(&self, user: &UserId) -> Result<usize, DirectoryError> {
        self.write(|tx| {
            if !exists(tx, "SELECT 1 FROM users WHERE id = $1", &user.0)? {
                return Err(not_found("user", &user.0));
            }
            let n = tx.exec(
                "DELETE FROM sessions WHERE \"user\" = $1
                 AND device NOT IN (SELECT id FROM devices WHERE revoked_at IS NOT NULL)",
                vals![user.0],
            )?;
            tx.exec("DELETE FROM tickets WHERE \"user\" = $1", vals![user.0])?;
            bump(tx)?;
            Ok(n)
        })
    }

    pub fn mint_ticket(
        &self,
        session: &Session,
        now: Millis,
        ttl_ms: i64,
    ) -> Result<Ticket, DirectoryError> {
        let ticket = Ticket::generate();
        let expires_at = now.saturating_add(ttl_ms).min(session.expires_at);
        self.write(|tx| {
            tx.exec("DELETE FROM tickets WHERE expires_at <= $1", vals![now])?;
            tx.exec(
                "INSERT INTO tickets (hash, \"user\", device, expires_at, session_expires_at)
                 VALUES ($1, $2, $3, $4, $5)",
                vals![
                    ticket.hash_hex(),
                    session.user.0,
                    session.device.0,
                    expires_at,
                    session.expires_at
                ],
            )?;
            Ok(())
        })?;
        Ok(ticket)
    }

    /// Redeem a ticket once: `Some` the first time within its lifetime (and only while its
    /// device and user are still allowed), `None` ever after. The returned session expires
    /// when the session that minted the ticket does.
    pub fn redeem_ticket(
        &self,
        ticket: &Ticket,
        now: Millis,
    ) -> Result<Option<Session>, DirectoryError> {
        let hash = ticket.hash_hex();
        self.write(|tx| {
            // One statement marks it used: two connections racing with one ticket cannot
            // both see it unused.
            let taken = tx
                .query_opt(
                    "UPDATE tickets SET used = 1
                     WHERE hash = $1 AND used = 0 AND expires_at > $2
                     RETURNING \"user\", device, session_expires_at",
                    vals![hash, now],
                )?
                .map(|r| session_row(&r))
                .transpose()?;
            let Some(session) = taken else {
                return Ok(None);
            };
            let allowed = tx
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM devices d JOIN users u ON u.id = d.\"user\"
                     WHERE d.id = $1 AND d.\"user\" = $2 AND d.revoked_at IS NULL AND u.active = 1)",
                    vals![session.device.0, session.user.0],
                )?
                .bool(0)?;
            Ok((allowed && session.expires_at > now).then_some(session))
        })
    }

    // --- cases and grants ---
    /// Register a document; false if it was already registered (nothing changes then).
    pub fn register_case(&self, case: &CaseRecord) -> Result<bool, DirectoryError> {
        self.write(|tx| {
            check_case_refs(tx, case.allocated.as_ref(), case.team.as_ref())?;
            if let Some(by) = &case.created_by {
                if !exists(tx, "SELECT 1 FROM users WHERE id = $1", &by.0)? {
                    return Err(not_found("user", &by.0));
                }
            }
            let n = tx.exec(
                "INSERT INTO cases (doc, allocated, team, created_by, created_at, part_of)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (doc) DO NOTHING",
                vals![
                    case.doc.to_string(),
                    case.allocated.as_ref().map(|u| &u.0),
                    case.team.as_ref().map(|t| &t.0),
                    case.created_by.as_ref().map(|u| &u.0),
                    case.created_at,
                    case.part_of.map(|d| d.to_string()),
                ],
            )?;
            if n == 1 {
                bump(tx)?;
            }
            Ok(n == 1)
        })
    }

    /// Set a registered document's allocated worker and team, exactly as given (`None`
    /// clears it).
    pub fn allocate(
        &self,
        doc: &DocumentId,
        user: Option<&UserId>,
        team: Option<&TeamId>,
    ) -> Result<(), DirectoryError> {
        self.write(|tx| {
            check_case_refs(tx, user, team)?;
            let n = tx.exec(
                "UPDATE cases SET allocated = $2, team = $3 WHERE doc = $1",
                vals![doc.to_string(), user.map(|u| &u.0), team.map(|t| &t.0)],
            )?;
            if n == 0 {
                return Err(not_found("case", doc.to_string()));
            }
            bump(tx)
        })
    }

    /// Every registered document, oldest first.
    pub fn cases(&self) -> Result<Vec<CaseRecord>, DirectoryError> {
        self.read(|tx| query_cases(tx, None))
    }

    pub fn case(&self, doc: &DocumentId) -> Result<Option<CaseRecord>, DirectoryError> {
        self.read(|tx| Ok(query_cases(tx, Some(doc))?.pop()))
    }

    /// Grant `access` on a registered document. A grantee has at most one grant per
    /// document: granting again replaces the earlier one (so `read` can become `edit`).
    pub fn add_grant(
        &self,
        doc: &DocumentId,
        grantee: &Grantee,
        access: Access,
        by: Option<&UserId>,
        now: Millis,
    ) -> Result<Grant, DirectoryError> {
        let id = doc.to_string();
        self.write(|tx| {
            if !exists(tx, "SELECT 1 FROM cases WHERE doc = $1", &id)? {
                return Err(not_found("case", &id));
            }
            let (user, team) = grantee_columns(grantee);
            match grantee {
                Grantee::User(u) => {
                    if !exists(tx, "SELECT 1 FROM users WHERE id = $1", &u.0)? {
                        return Err(not_found("user", &u.0));
                    }
                }
                Grantee::Team(t) => {
                    if !team_exists(tx, t)? {
                        return Err(not_found("team", &t.0));
                    }
                }
            }
            if let Some(by) = by {
                if !exists(tx, "SELECT 1 FROM users WHERE id = $1", &by.0)? {
                    return Err(not_found("user", &by.0));
                }
            }
            tx.exec(
                "DELETE FROM grants WHERE doc = $1 AND grantee_user IS NOT DISTINCT FROM $2
                 AND grantee_team IS NOT DISTINCT FROM $3",
                vals![id, user, team],
            )?;
            let grant_id = tx
                .query_one(
                    "INSERT INTO grants (doc, grantee_user, grantee_team, access, granted_by, granted_at)
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                    vals![id, user, team, access.as_str(), by.map(|u| &u.0), now],
                )?
                .i64(0)?;
            let grant = Grant {
                id: grant_id,
                doc: *doc,
                grantee: grantee.clone(),
                access,
                granted_by: by.cloned(),
                granted_at: now,
            };
            bump(tx)?;
            Ok(grant)
        })
    }

    /// Remove every grant on `doc` to `grantee`; returns how many.
    pub fn remove_grant(
        &self,
        doc: &DocumentId,
        grantee: &Grantee,
    ) -> Result<usize, DirectoryError> {
        let (user, team) = grantee_columns(grantee);
        self.write(|tx| {
            let n = tx.exec(
                "DELETE FROM grants WHERE doc = $1 AND grantee_user IS NOT DISTINCT FROM $2
                 AND grantee_team IS NOT DISTINCT FROM $3",
                vals![doc.to_string(), user, team],
            )?;
            if n > 0 {
                bump(tx)?;
            }
            Ok(n)
        })
    }

    /// Grants (on `doc`, if given), oldest first.
    pub fn grants(&self, doc: Option<&DocumentId>) -> Result<Vec<Grant>, DirectoryError> {
        self.read(|tx| query_grants(tx, doc))
    }

    // --- erasure, retention and restriction (issue 11) ---
    /// Erase a registered case: a permanent tombstone for it and for every document
    /// registered as part of it, in one transaction. Returns the erased ids, the case first.
    pub fn erase_case(
        &self,
        doc: &DocumentId,
        by: &str,
        reason: &str,
        now: Millis,
    ) -> Result<Vec<DocumentId>, DirectoryError> {
        let id = doc.to_string();
        self.write(|tx| {
            let by = clean_text("name of who erases", by, MAX_NAME_CHARS)?;
            let reason = clean_text("reason", reason, MAX_REASON_CHARS)?;
            if exists(tx, "SELECT 1 FROM erasures WHERE doc = $1", &id)? {
                return Err(invalid(format!(
                    "case {id} was already erased (see `admin erasures`)"
                )));
            }
            let Some(case) = query_cases(tx, Some(doc))?.pop() else {
                return Err(not_found("case", &id));
            };
            if let Some(parent) = case.part_of {
                return Err(invalid(format!(
                    "{id} is part of case {parent}: erase that case (its parts go with it)"
                )));
            }
            let parts: Vec<DocumentId> = tx
                .query(
                    "SELECT doc FROM cases WHERE part_of = $1 ORDER BY created_at, doc",
                    vals![id],
                )?
                .iter()
                .map(|r| doc_id(r, 0))
                .collect::<Result<_, _>>()?;
            const INSERT: &str = "INSERT INTO erasures (doc, part_of, erased_at, erased_by, reason)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (doc) DO NOTHING";
            tx.exec(INSERT, vals![id, None::<String>, now, by, reason])?;
            for p in &parts {
                tx.exec(INSERT, vals![p.to_string(), id, now, by, reason])?;
            }
            bump(tx)?;
            Ok(std::iter::once(*doc).chain(parts).collect())
        })
    }

    /// Erase a document that arrived as part of `case` after `case` was erased (a stale
    /// device's relationships document). False if `case` is not erased (nothing written).
    pub fn erase_late_part(
        &self,
        doc: &DocumentId,
        case: &DocumentId,
        now: Millis,
    ) -> Result<bool, DirectoryError> {
        self.write(|tx| {
            let parent: Option<String> = tx
                .query_opt(
                    "SELECT reason FROM erasures WHERE doc = $1",
                    vals![case.to_string()],
                )?
                .map(|r| r.text(0))
                .transpose()?;
            let Some(reason) = parent else {
                return Ok(false);
            };
            tx.exec(
                "INSERT INTO erasures (doc, part_of, erased_at, erased_by, reason)
                 VALUES ($1, $2, $3, 'server', $4) ON CONFLICT (doc) DO NOTHING",
                vals![doc.to_string(), case.to_string(), now, reason],
            )?;
            bump(tx)?;
            Ok(true)
        })
    }

    /// Every tombstone, oldest first.
    pub fn erasures(&self) -> Result<Vec<Erasure>, DirectoryError> {
        self.read(query_erasures)
    }

    /// Record that the server deleted `doc`'s content (once; false if already recorded or
    /// not erased).
    pub fn mark_content_removed(
        &self,
        doc: &DocumentId,
        now: Millis,
    ) -> Result<bool, DirectoryError> {
        self.write(|tx| {
            let n = tx.exec(
                "UPDATE erasures SET content_removed_at = $2
                 WHERE doc = $1 AND content_removed_at IS NULL",
                vals![doc.to_string(), now],
            )?;
            Ok(n == 1)
        })
    }

    /// Set (`Some`) or clear (`None`, reopened) a case's closed date.
    pub fn set_closed(
        &self,
        doc: &DocumentId,
        closed_at: Option<Millis>,
    ) -> Result<(), DirectoryError> {
        let id = doc.to_string();
        self.write(|tx| {
            if exists(tx, "SELECT 1 FROM erasures WHERE doc = $1", &id)? {
                return Err(invalid(format!("case {id} was erased")));
            }
            let n = tx.exec(
                "UPDATE cases SET closed_at = $2 WHERE doc = $1 AND part_of IS NULL",
                vals![id, closed_at],
            )?;
            if n == 0 {
                return Err(not_found("case", &id));
            }
            Ok(())
        })
    }

    /// Closed cases not erased, with their closed date, oldest closure first.
    pub fn closed_cases(&self) -> Result<Vec<(DocumentId, Millis)>, DirectoryError> {
        self.read(|tx| {
            Ok(tx
                .query(
                    "SELECT doc, closed_at FROM cases WHERE closed_at IS NOT NULL
                     AND doc NOT IN (SELECT doc FROM erasures) ORDER BY closed_at, doc",
                    &[],
                )?
                .iter()
                .map(|r| Ok((doc_id(r, 0)?, r.i64(1)?)))
                .collect::<Result<_, SqlError>>()?)
        })
    }

    /// Restrict processing of a case: only `readers` may read it, nobody may change it.
    /// Restricting again replaces the reason and the readers.
    pub fn restrict(
        &self,
        doc: &DocumentId,
        reason: &str,
        readers: &[UserId],
        now: Millis,
    ) -> Result<(), DirectoryError> {
        let id = doc.to_string();
        self.write(|tx| {
            let reason = clean_text("reason", reason, MAX_REASON_CHARS)?;
            if exists(tx, "SELECT 1 FROM erasures WHERE doc = $1", &id)? {
                return Err(invalid(format!("case {id} was erased")));
            }
            match query_cases(tx, Some(doc))?.pop() {
                None => return Err(not_found("case", &id)),
                Some(c) if c.part_of.is_some() => {
                    return Err(invalid(format!(
                        "{id} is part of a case: restrict that case"
                    )))
                }
                Some(_) => {}
            }
            for u in readers {
                if !exists(tx, "SELECT 1 FROM users WHERE id = $1", &u.0)? {
                    return Err(not_found("user", &u.0));
                }
            }
            tx.exec("DELETE FROM restrictions WHERE doc = $1", vals![id])?;
            tx.exec(
                "INSERT INTO restrictions (doc, reason, restricted_at) VALUES ($1, $2, $3)",
                vals![id, reason, now],
            )?;
            for u in readers {
                tx.exec(
                    "INSERT INTO restriction_readers (doc, \"user\") VALUES ($1, $2)
                     ON CONFLICT DO NOTHING",
                    vals![id, u.0],
                )?;
            }
            bump(tx)
        })
    }

    /// Lift a restriction; false if the case was not restricted.
    pub fn unrestrict(&self, doc: &DocumentId) -> Result<bool, DirectoryError> {
        self.write(|tx| {
            let n = tx.exec(
                "DELETE FROM restrictions WHERE doc = $1",
                vals![doc.to_string()],
            )?;
            if n > 0 {
                bump(tx)?;
            }
            Ok(n > 0)
        })
    }

    // --- audit (append-only) ---
    pub fn record(&self, entries: &[AuditEntry]) -> Result<(), DirectoryError> {
        if entries.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            for e in entries {
                tx.exec(
                    "INSERT INTO audit (at, kind, \"user\", device, case_doc, address, detail)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    vals![
                        e.at,
                        e.kind.as_str(),
                        e.user.as_ref().map(|u| &u.0),
                        e.device.as_ref().map(|d| &d.0),
                        e.case.map(|d| d.to_string()),
                        e.address,
                        e.detail
                    ],
                )?;
            }
            Ok(())
        })
    }

    /// Audit rows about `doc`, oldest first.
    pub fn audit_for_case(&self, doc: &DocumentId) -> Result<Vec<AuditRow>, DirectoryError> {
        self.read(|tx| query_audit(tx, "a.case_doc", &doc.to_string()))
    }

    /// Audit rows of what `user` did, oldest first.
    pub fn audit_for_user(&self, user: &UserId) -> Result<Vec<AuditRow>, DirectoryError> {
        self.read(|tx| query_audit(tx, "a.\"user\"", &user.0))
    }
}

fn bump(tx: &Tx<'_>) -> R<()> {
    tx.exec("UPDATE access_version SET version = version + 1", &[])?;
    Ok(())
}

fn exists(tx: &Tx<'_>, sql: &str, key: &str) -> R<bool> {
    Ok(tx.query_opt(sql, vals![key])?.is_some())
}

fn team_exists(tx: &Tx<'_>, team: &TeamId) -> R<bool> {
    exists(tx, "SELECT 1 FROM teams WHERE id = $1", &team.0)
}

fn user_id_by_username(tx: &Tx<'_>, username: &str) -> R<Option<String>> {
    Ok(tx
        .query_opt(
            "SELECT id FROM users WHERE lower(username) = lower($1)",
            vals![username],
        )?
        .map(|r| r.text(0))
        .transpose()?)
}

fn check_case_refs(tx: &Tx<'_>, user: Option<&UserId>, team: Option<&TeamId>) -> R<()> {
    if let Some(u) = user {
        if !exists(tx, "SELECT 1 FROM users WHERE id = $1", &u.0)? {
            return Err(not_found("user", &u.0));
        }
    }
    if let Some(t) = team {
        if !team_exists(tx, t)? {
            return Err(not_found("team", &t.0));
        }
    }
    Ok(())
}

fn grantee_columns(grantee: &Grantee) -> (Option<&str>, Option<&str>) {
    match grantee {
        Grantee::User(u) => (Some(u.0.as_str()), None),
        Grantee::Team(t) => (None, Some(t.0.as_str())),
    }
}

/// `prefix` and 16 random hex digits.
fn random_id(prefix: &str) -> String {
    let bytes: [u8; 8] = rand::random();
    let mut id = String::from(prefix);
    for b in bytes {
        id.push_str(&format!("{b:02x}"));
    }
    id
}

/// Usernames are ASCII letters, digits and `.`, `_`, `-`, `@`, starting with a letter or
/// digit: SQLite's case folding (`NOCASE`) covers exactly ASCII, so uniqueness really is
/// case-insensitive, and no username can pass for a command-line flag.
fn check_username(username: &str) -> R<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@');
    let first_ok = username
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if username.is_empty()
        || username.len() > MAX_ID_CHARS
        || !first_ok
        || !username.chars().all(ok_char)
    {
        return Err(invalid(format!(
            "username {username:?} is not valid: use 1 to {MAX_ID_CHARS} letters, digits, '.', '_', '-' or '@', starting with a letter or digit"
        )));
    }
    Ok(())
}

/// Team ids are short slugs (`north-cce`). "none" is kept for "no team" on the command line.
fn check_team_id(id: &str) -> R<()> {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    let first_ok = id
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if id.is_empty() || id.len() > MAX_ID_CHARS || !first_ok || !id.chars().all(ok_char) {
        return Err(invalid(format!(
            "team id {id:?} is not valid: use 1 to {MAX_ID_CHARS} lower-case letters, digits and '-', starting with a letter or digit (e.g. north-cce)"
        )));
    }
    if id == "none" {
        return Err(invalid(
            "team id \"none\" is reserved (it means no team): choose another",
        ));
    }
    Ok(())
}

/// Longest reason for an erasure or a restriction, in characters.
pub const MAX_REASON_CHARS: usize = 1000;

/// Free text an administrator gives (a reason): trimmed, non-empty, at most `max`
/// characters, no control characters.
fn clean_text(what: &str, text: &str, max: usize) -> R<String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(invalid(format!("the {what} is empty")));
    }
    if text.chars().count() > max {
        return Err(invalid(format!(
            "the {what} is too long: at most {max} characters"
        )));
    }
    if text.chars().any(char::is_control) {
        return Err(invalid(format!(
            "the {what} contains a control character (a newline or tab?)"
        )));
    }
    Ok(text.to_owned())
}

/// A person-given name, trimmed: non-empty, at most `MAX_NAME_CHARS`, no control characters.
fn clean_name(what: &str, name: &str) -> R<String> {
    clean_text(what, name, MAX_NAME_CHARS)
}

/// Device names come from browsers: tidied rather than refused, because a sign-in should
/// not fail over a name. Control characters would otherwise reach an administrator's
/// terminal in `devices list`.
fn tidy_device_name(name: &str) -> String {
    let tidied: String = name
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(MAX_NAME_CHARS)
        .collect();
    if tidied.is_empty() {
        "Unnamed device".to_owned()
    } else {
        tidied
    }
}

fn conversion(idx: usize, what: &str, value: &str) -> SqlError {
    SqlError::Conversion(format!(
        "column {idx}: unknown {what} {value:?} in the directory"
    ))
}

fn doc_id(r: &Row, idx: usize) -> Result<DocumentId, SqlError> {
    let s = r.text(idx)?;
    s.parse()
        .map_err(|e| SqlError::Conversion(format!("column {idx}: {e}")))
}

fn opt_doc_id(r: &Row, idx: usize) -> Result<Option<DocumentId>, SqlError> {
    match r.opt_text(idx)? {
        None => Ok(None),
        Some(_) => doc_id(r, idx).map(Some),
    }
}

fn session_row(r: &Row) -> Result<Session, SqlError> {
    Ok(Session {
        user: UserId(r.text(0)?),
        device: DeviceId(r.text(1)?),
        expires_at: r.i64(2)?,
    })
}

fn query_users(tx: &Tx<'_>, filter: &str, p: &[Val]) -> R<Vec<User>> {
    let sql = format!(
        "SELECT id, username, display_name, role, agency, team, active, caseload FROM users {filter}
         ORDER BY lower(username)"
    );
    let users = tx
        .query(&sql, p)?
        .iter()
        .map(|r| {
            let role = r.text(3)?;
            Ok(User {
                id: UserId(r.text(0)?),
                username: r.text(1)?,
                display_name: r.text(2)?,
                role: Role::parse(&role).ok_or_else(|| conversion(3, "role", &role))?,
                agency: r.text(4)?,
                team: r.opt_text(5)?.map(TeamId),
                active: r.bool(6)?,
                caseload: doc_id(r, 7)?,
            })
        })
        .collect::<Result<_, SqlError>>()?;
    Ok(users)
}

fn query_teams(tx: &Tx<'_>) -> R<Vec<Team>> {
    Ok(tx
        .query("SELECT id, name, agency FROM teams ORDER BY id", &[])?
        .iter()
        .map(|r| {
            Ok(Team {
                id: TeamId(r.text(0)?),
                name: r.text(1)?,
                agency: r.text(2)?,
            })
        })
        .collect::<Result<_, SqlError>>()?)
}

/// `filter`: (column, value), where column is a fixed name from this file.
fn query_devices(tx: &Tx<'_>, filter: Option<(&str, &str)>) -> R<Vec<Device>> {
    let (clause, value) = match filter {
        Some((column, value)) => (format!("WHERE {column} = $1"), Some(value)),
        None => (String::new(), None),
    };
    let sql = format!(
        "SELECT id, \"user\", name, created_at, last_seen, revoked_at FROM devices {clause}
         ORDER BY created_at, id"
    );
    let rows = match value {
        Some(v) => tx.query(&sql, vals![v])?,
        None => tx.query(&sql, &[])?,
    };
    Ok(rows
        .iter()
        .map(|r| {
            Ok(Device {
                id: DeviceId(r.text(0)?),
                user: UserId(r.text(1)?),
                name: r.text(2)?,
                created_at: r.i64(3)?,
                last_seen: r.opt_i64(4)?,
                revoked_at: r.opt_i64(5)?,
            })
        })
        .collect::<Result<_, SqlError>>()?)
}

fn query_cases(tx: &Tx<'_>, doc: Option<&DocumentId>) -> R<Vec<CaseRecord>> {
    let map = |r: &Row| {
        Ok(CaseRecord {
            doc: doc_id(r, 0)?,
            allocated: r.opt_text(1)?.map(UserId),
            team: r.opt_text(2)?.map(TeamId),
            created_by: r.opt_text(3)?.map(UserId),
            created_at: r.i64(4)?,
            part_of: opt_doc_id(r, 5)?,
        })
    };
    const COLUMNS: &str = "SELECT doc, allocated, team, created_by, created_at, part_of FROM cases";
    let rows = match doc {
        Some(d) => tx.query(
            &format!("{COLUMNS} WHERE doc = $1 ORDER BY created_at, doc"),
            vals![d.to_string()],
        )?,
        None => tx.query(&format!("{COLUMNS} ORDER BY created_at, doc"), &[])?,
    };
    Ok(rows.iter().map(map).collect::<Result<_, SqlError>>()?)
}

fn query_grants(tx: &Tx<'_>, doc: Option<&DocumentId>) -> R<Vec<Grant>> {
    let map = |r: &Row| {
        let grantee = match (r.opt_text(2)?, r.opt_text(3)?) {
            (Some(u), None) => Grantee::User(UserId(u)),
            (None, Some(t)) => Grantee::Team(TeamId(t)),
            _ => return Err(conversion(2, "grantee", "both or neither")),
        };
        let access = r.text(4)?;
        Ok(Grant {
            id: r.i64(0)?,
            doc: doc_id(r, 1)?,
            grantee,
            access: Access::parse(&access).ok_or_else(|| conversion(4, "access", &access))?,
            granted_by: r.opt_text(5)?.map(UserId),
            granted_at: r.i64(6)?,
        })
    };
    const COLUMNS: &str =
        "SELECT id, doc, grantee_user, grantee_team, access, granted_by, granted_at FROM grants";
    let rows = match doc {
        Some(d) => tx.query(
            &format!("{COLUMNS} WHERE doc = $1 ORDER BY id"),
            vals![d.to_string()],
        )?,
        None => tx.query(&format!("{COLUMNS} ORDER BY id"), &[])?,
    };
    Ok(rows.iter().map(map).collect::<Result<_, SqlError>>()?)
}

fn query_erasures(tx: &Tx<'_>) -> R<Vec<Erasure>> {
    Ok(tx
        .query(
            "SELECT doc, part_of, erased_at, erased_by, reason, content_removed_at
             FROM erasures ORDER BY erased_at, part_of IS NOT NULL, doc",
            &[],
        )?
        .iter()
        .map(|r| {
            Ok(Erasure {
                doc: doc_id(r, 0)?,
                part_of: opt_doc_id(r, 1)?,
                erased_at: r.i64(2)?,
                erased_by: r.text(3)?,
                reason: r.text(4)?,
                content_removed_at: r.opt_i64(5)?,
            })
        })
        .collect::<Result<_, SqlError>>()?)
}

fn query_restrictions(tx: &Tx<'_>) -> R<Vec<Restriction>> {
    let mut out: Vec<Restriction> = tx
        .query(
            "SELECT doc, reason, restricted_at FROM restrictions ORDER BY restricted_at, doc",
            &[],
        )?
        .iter()
        .map(|r| {
            Ok(Restriction {
                doc: doc_id(r, 0)?,
                reason: r.text(1)?,
                restricted_at: r.i64(2)?,
                readers: Vec::new(),
            })
        })
        .collect::<Result<_, SqlError>>()?;
    for r in &mut out {
        r.readers = tx
            .query(
                "SELECT \"user\" FROM restriction_readers WHERE doc = $1 ORDER BY \"user\"",
                vals![r.doc.to_string()],
            )?
            .iter()
            .map(|row| Ok(UserId(row.text(0)?)))
            .collect::<Result<_, SqlError>>()?;
    }
    Ok(out)
}

/// `column` is a fixed name from this file.
fn query_audit(tx: &Tx<'_>, column: &str, value: &str) -> R<Vec<AuditRow>> {
    let sql = format!(
        "SELECT a.seq, a.at, a.kind, a.\"user\", u.display_name, a.device, d.name, a.case_doc,
                a.address, a.detail
         FROM audit a
         LEFT JOIN users u ON u.id = a.\"user\"
         LEFT JOIN devices d ON d.id = a.device
         WHERE {column} = $1 ORDER BY a.seq"
    );
    Ok(tx
        .query(&sql, vals![value])?
        .iter()
        .map(|r| {
            let kind = r.text(2)?;
            Ok(AuditRow {
                seq: r.i64(0)?,
                at: r.i64(1)?,
                kind: AuditKind::parse(&kind).ok_or_else(|| conversion(2, "audit kind", &kind))?,
                user: r.opt_text(3)?.map(UserId),
                user_name: r.opt_text(4)?,
                device: r.opt_text(5)?.map(DeviceId),
                device_name: r.opt_text(6)?,
                case: r.opt_text(7)?,
                address: r.opt_text(8)?,
                detail: r.text(9)?,
            })
        })
        .collect::<Result<_, SqlError>>()?)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    /// A directory for one test: on SQLite (a temporary file) or on PostgreSQL (a fresh
    /// database on the cluster `TEST_POSTGRES_URL` names). Every test below runs on both
    /// (`both!`), so the two back ends answer the same questions the same way.
    pub(crate) struct Fixture {
        pub d: Directory,
        place: Place,
    }

    enum Place {
        Lite(tempfile::TempDir),
        Pg(crate::pg::PgUrl),
    }

    impl Fixture {
        pub fn sqlite() -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let d = Directory::open(&dir.path().join("fieldbook.sqlite3")).unwrap();
            Fixture {
                d,
                place: Place::Lite(dir),
            }
        }

        pub fn postgres() -> Fixture {
            let url =
                crate::pg::PgUrl::parse(&crate::accounts::sql::testdb::fresh_database()).unwrap();
            let pool = PgPool::open(&url, 2).unwrap();
            Fixture {
                d: Directory::open_postgres(&pool).unwrap(),
                place: Place::Pg(url),
            }
        }

        /// Another handle on the same directory, with its own connections: another server
        /// process on SQLite, another node on PostgreSQL.
        pub fn another(&self) -> Directory {
            match &self.place {
                Place::Lite(dir) => Directory::open(&dir.path().join("fieldbook.sqlite3")).unwrap(),
                Place::Pg(url) => Directory::open_postgres(&PgPool::open(url, 2).unwrap()).unwrap(),
            }
        }

        /// Run one statement of raw SQL in a write transaction (what a person with the
        /// database's password could try); the error's text if it is refused.
        pub fn raw(&self, sql: &str) -> Result<usize, String> {
            let sql = sql.to_owned();
            self.d
                .write(move |tx| Ok(tx.exec(&sql, &[])?))
                .map_err(|e| e.to_string())
        }

        /// The first column of the first row of `sql`, as text.
        pub fn text(&self, sql: &str) -> String {
            let sql = sql.to_owned();
            self.d
                .read(move |tx| Ok(tx.query_one(&sql, &[])?.text(0)?))
                .unwrap()
        }
    }

    /// `both!(name, …)`: each `fn name(f: Fixture)` becomes a test on SQLite
    /// (`on_sqlite::name`) and one on PostgreSQL (`on_postgres::name`).
    macro_rules! both {
        ($($name:ident),* $(,)?) => {
            mod on_sqlite {
                $(#[test]
                fn $name() {
                    super::$name(super::Fixture::sqlite())
                })*
            }
            mod on_postgres {
                $(#[test]
                fn $name() {
                    super::$name(super::Fixture::postgres())
                })*
            }
        };
    }
    pub(crate) use both;

    fn team(d: &Directory, id: &str) -> TeamId {
        d.add_team(&Team {
            id: TeamId(id.into()),
            name: format!("Team {id}"),
            agency: "Northshire Council".into(),
        })
        .unwrap();
        TeamId(id.into())
    }

    fn new_user(username: &str, role: Role, team: Option<&TeamId>) -> NewUser {
        NewUser {
            username: username.into(),
            display_name: format!("{username} Testperson"),
            role,
            agency: "Northshire Council".into(),
            team: team.cloned(),
            password: Password::new(format!("{username} long passphrase")),
        }
    }

    fn user(d: &Directory, username: &str, role: Role, team: Option<&TeamId>) -> User {
        d.add_user(new_user(username, role, team), 1_000).unwrap()
    }

    fn pw(username: &str) -> Password {
        Password::new(format!("{username} long passphrase"))
    }

    fn case(d: &Directory, owner: &User) -> DocumentId {
        let doc = DocumentId::random();
        assert!(d
            .register_case(&CaseRecord {
                doc,
                allocated: Some(owner.id.clone()),
                team: owner.team.clone(),
                created_by: Some(owner.id.clone()),
                created_at: 5_000,
                part_of: None,
            })
            .unwrap());
        doc
    }

    fn users_are_added_with_ids_a_caseload_and_unique_usernames(f: Fixture) {
        let d = f.d.clone();
        let north = team(&d, "north-cce");
        let a = user(&d, "ayesha", Role::Practitioner, Some(&north));
        assert!(a.id.0.starts_with("usr_") && a.id.0.len() == 20, "{}", a.id);
        assert!(a.id.0[4..].chars().all(|c| c.is_ascii_hexdigit()));
        assert!(a.active);
        let b = user(&d, "ben", Role::Manager, None);
        assert_ne!(a.caseload, b.caseload);
        assert_eq!(d.user(&a.id).unwrap(), Some(a.clone()));
        assert_eq!(d.user_by_username("AYESHA").unwrap(), Some(a.clone()));
        assert_eq!(d.users().unwrap(), vec![a.clone(), b]);

        match d.add_user(new_user("Ayesha", Role::Manager, None), 2) {
            Err(DirectoryError::Exists { what: "user", .. }) => {}
            other => panic!("{other:?}"),
        }
        match d.add_user(
            new_user("carl", Role::Manager, Some(&TeamId("south".into()))),
            2,
        ) {
            Err(DirectoryError::NotFound { what: "team", name }) => assert_eq!(name, "south"),
            other => panic!("{other:?}"),
        }
        for bad in ["", "-flag", "has space", "émile", &"x".repeat(65)] {
            let e = d
                .add_user(new_user(bad, Role::Manager, None), 2)
                .unwrap_err();
            assert!(matches!(e, DirectoryError::Invalid(_)), "{bad:?}: {e:?}");
        }
        let mut short = new_user("dina", Role::Practitioner, None);
        short.password = Password::new("short".into());
        let e = d.add_user(short, 2).unwrap_err().to_string();
        assert!(e.contains("at least 12"), "{e}");
        match d.add_team(&Team {
            id: north.clone(),
            name: "Again".into(),
            agency: "X".into(),
        }) {
            Err(DirectoryError::Exists { what: "team", .. }) => {}
            other => panic!("{other:?}"),
        }
        for bad in ["North", "none", "", "a b", "-x"] {
            let r = d.add_team(&Team {
                id: TeamId(bad.into()),
                name: "N".into(),
                agency: "A".into(),
            });
            assert!(matches!(r, Err(DirectoryError::Invalid(_))), "{bad:?}");
        }
    }

    fn the_password_hash_is_argon2id_and_nothing_stores_the_password(f: Fixture) {
        let d = f.d.clone();
        user(&d, "ayesha", Role::Practitioner, None);
        let hash = f.text("SELECT password_hash FROM users");
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(!hash.contains("passphrase"));
    }

    fn verify_password_refuses_wrong_unknown_and_disabled_alike(f: Fixture) {
        let d = f.d.clone();
        let a = user(&d, "ayesha", Role::Practitioner, None);
        assert_eq!(
            d.verify_password("ayesha", &pw("ayesha")).unwrap(),
            Some(a.clone())
        );
        assert_eq!(
            d.verify_password("AyEsHa", &pw("ayesha")).unwrap(),
            Some(a.clone())
        );
        assert_eq!(d.verify_password("ayesha", &pw("ben")).unwrap(), None);
        assert_eq!(d.verify_password("nobody", &pw("ayesha")).unwrap(), None);
        d.set_active(&a.id, false).unwrap();
        assert_eq!(d.verify_password("ayesha", &pw("ayesha")).unwrap(), None);
        d.set_active(&a.id, true).unwrap();
        d.set_password(&a.id, Password::new("a brand new passphrase".into()))
            .unwrap();
        assert_eq!(d.verify_password("ayesha", &pw("ayesha")).unwrap(), None);
        assert!(d
            .verify_password("ayesha", &Password::new("a brand new passphrase".into()))
            .unwrap()
            .is_some());
        assert!(matches!(
            d.set_password(&a.id, Password::new("short".into())),
            Err(DirectoryError::Invalid(_))
        ));
        assert!(matches!(
            d.set_password(&UserId("usr_nobody".into()), pw("whoever")),
            Err(DirectoryError::NotFound { .. })
        ));
    }

    fn access_version_moves_with_every_access_affecting_write_only(f: Fixture) {
        let d = f.d.clone();
        let mut last = d.access_version().unwrap();
        let mut moved = |what: &str, expect: bool| {
            let v = d.access_version().unwrap();
            assert_eq!(v > last, expect, "{what}");
            last = v;
        };
        let north = team(&d, "north-cce");
        moved("add_team", true);
        let m = user(&d, "mo", Role::Manager, Some(&north));
        moved("add_user", true);
        d.manage(&m.id, &north, true).unwrap();
        moved("manage", true);
        d.set_team(&m.id, None).unwrap();
        moved("set_team", true);
        d.set_role(&m.id, Role::Manager).unwrap();
        moved("set_role", true);
        d.set_active(&m.id, false).unwrap();
        moved("set_active", true);
        d.set_active(&m.id, true).unwrap();
        moved("set_active", true);
        d.set_password(&m.id, pw("other")).unwrap();
        moved("set_password", false);
        let dev = d.register_device(&m.id, "Phone", None, 10).unwrap();
        moved("register_device", true);
        d.touch_device(&dev.id, 20).unwrap();
        moved("touch_device", false);
        let (token, session) = d.create_session(&m.id, &dev.id, 10, HOUR).unwrap();
        moved("create_session", false);
        d.mint_ticket(&session, 10, 60_000).unwrap();
        moved("mint_ticket", false);
        d.end_session(&token).unwrap();
        moved("end_session", true);
        d.end_session(&token).unwrap();
        moved("end_session twice", false);
        d.expire_sessions(&m.id).unwrap();
        moved("expire_sessions", true);
        let doc = case(&d, &m);
        moved("register_case", true);
        d.allocate(&doc, None, Some(&north)).unwrap();
        moved("allocate", true);
        d.add_grant(&doc, &Grantee::User(m.id.clone()), Access::Read, None, 30)
            .unwrap();
        moved("add_grant", true);
        d.remove_grant(&doc, &Grantee::User(m.id.clone())).unwrap();
        moved("remove_grant", true);
        d.record(&[audit(AuditKind::CaseRead, None, Some(doc), "x")])
            .unwrap();
        moved("record", false);
        d.revoke_device(&dev.id, 40).unwrap();
        moved("revoke_device", true);
    }

    fn audit(
        kind: AuditKind,
        user: Option<&User>,
        case: Option<DocumentId>,
        detail: &str,
    ) -> AuditEntry {
        AuditEntry {
            at: 1_000,
            kind,
            user: user.map(|u| u.id.clone()),
            device: None,
            case,
            address: None,
            detail: detail.into(),
        }
    }

    fn devices_are_reused_only_by_their_own_user_while_not_revoked(f: Fixture) {
        let d = f.d.clone();
        let a = user(&d, "ayesha", Role::Practitioner, None);
        let b = user(&d, "ben", Role::Practitioner, None);
        let phone = d
            .register_device(&a.id, "Ayesha's phone", None, 10)
            .unwrap();
        assert!(phone.id.0.starts_with("dev_") && phone.id.0.len() == 20);
        assert_eq!(phone.last_seen, Some(10));
        let again = d
            .register_device(&a.id, "Ayesha's phone (Chrome)", Some(&phone.id), 20)
            .unwrap();
        assert_eq!(again.id, phone.id);
        assert_eq!(again.name, "Ayesha's phone (Chrome)");
        assert_eq!((again.created_at, again.last_seen), (10, Some(20)));
        // Someone else's device id is not taken over.
        let bens = d
            .register_device(&b.id, "Ben's", Some(&phone.id), 30)
            .unwrap();
        assert_ne!(bens.id, phone.id);
        d.revoke_device(&phone.id, 40).unwrap();
        let after = d
            .register_device(&a.id, "Phone", Some(&phone.id), 50)
            .unwrap();
        assert_ne!(after.id, phone.id, "a revoked device stays revoked");
        assert_eq!(d.devices(Some(&a.id)).unwrap().len(), 2);
        assert_eq!(d.devices(None).unwrap().len(), 3);
        assert_eq!(d.device(&phone.id).unwrap().unwrap().revoked_at, Some(40));
        d.revoke_device(&phone.id, 99).unwrap();
        assert_eq!(d.device(&phone.id).unwrap().unwrap().revoked_at, Some(40));
        assert!(matches!(
            d.revoke_device(&DeviceId("dev_0".into()), 1),
            Err(DirectoryError::NotFound { what: "device", .. })
        ));
        let weird = d
            .register_device(&a.id, "  line\nbreak\x1b[2J  ", None, 60)
            .unwrap();
        assert_eq!(weird.name, "line break [2J");
        assert_eq!(tidy_device_name(" \t "), "Unnamed device");
        assert_eq!(
            tidy_device_name(&"é".repeat(500)).chars().count(),
            MAX_NAME_CHARS
        );
    }

    fn sessions_end_by_time_revocation_disabling_signing_out_and_expiry(f: Fixture) {
        let d = f.d.clone();
        let a = user(&d, "ayesha", Role::Practitioner, None);
        let b = user(&d, "ben", Role::Practitioner, None);
        let phone = d.register_device(&a.id, "Phone", None, 0).unwrap();
        let laptop = d.register_device(&a.id, "Laptop", None, 0).unwrap();
        let (tok, s) = d.create_session(&a.id, &phone.id, 1_000, HOUR).unwrap();
        assert_eq!(s.expires_at, 1_000 + HOUR);
        assert_eq!(d.session(&tok, 1_000).unwrap(), Some(s.clone()));
        assert_eq!(d.session(&tok, 1_000 + HOUR - 1).unwrap(), Some(s.clone()));
        assert_eq!(d.session(&tok, 1_000 + HOUR).unwrap(), None);
        assert_eq!(d.session(&SessionToken::generate(), 1_000).unwrap(), None);

        // Only the hash is stored.
        let stored = f.text("SELECT token_hash FROM sessions");
        assert_eq!(stored, tok.hash_hex());
        assert_ne!(stored, tok.expose());

        d.set_active(&a.id, false).unwrap();
        assert_eq!(d.session(&tok, 2_000).unwrap(), None);
        assert!(d.create_session(&a.id, &phone.id, 2_000, HOUR).is_err());
        d.set_active(&a.id, true).unwrap();
        assert_eq!(d.session(&tok, 2_000).unwrap(), Some(s.clone()));

        // Not someone else's device.
        assert!(matches!(
            d.create_session(&b.id, &phone.id, 2_000, HOUR),
            Err(DirectoryError::Invalid(_))
        ));

        let (tok2, _) = d.create_session(&a.id, &laptop.id, 2_000, HOUR).unwrap();
        d.end_session(&tok).unwrap();
        assert_eq!(d.session(&tok, 2_000).unwrap(), None);
        assert!(d.session(&tok2, 2_000).unwrap().is_some());

        let (tok3, _) = d.create_session(&a.id, &phone.id, 3_000, HOUR).unwrap();
        d.revoke_device(&phone.id, 3_500).unwrap();
        assert_eq!(d.session(&tok3, 3_600).unwrap(), None);
        assert!(d.create_session(&a.id, &phone.id, 4_000, HOUR).is_err());

        assert_eq!(d.expire_sessions(&a.id).unwrap(), 1);
        assert_eq!(d.session(&tok2, 4_000).unwrap(), None);
        assert_eq!(d.devices(Some(&a.id)).unwrap().len(), 2, "devices are kept");
        assert_eq!(d.expire_sessions(&a.id).unwrap(), 0);
    }

    fn a_ticket_is_redeemed_once_within_its_minute(f: Fixture) {
        let d = f.d.clone();
        let a = user(&d, "ayesha", Role::Practitioner, None);
        let phone = d.register_device(&a.id, "Phone", None, 0).unwrap();
        let (tok, s) = d.create_session(&a.id, &phone.id, 0, HOUR).unwrap();

        let t1 = d.mint_ticket(&s, 100, 60_000).unwrap();
        assert_eq!(d.redeem_ticket(&t1, 200).unwrap(), Some(s.clone()));
        assert_eq!(d.redeem_ticket(&t1, 201).unwrap(), None, "used");

        let t2 = d.mint_ticket(&s, 100, 60_000).unwrap();
        assert_eq!(d.redeem_ticket(&t2, 60_100).unwrap(), None, "expired");
        assert_eq!(d.redeem_ticket(&Ticket::generate(), 100).unwrap(), None);

        let t3 = d.mint_ticket(&s, 100, 60_000).unwrap();
        d.set_active(&a.id, false).unwrap();
        assert_eq!(d.redeem_ticket(&t3, 200).unwrap(), None, "user disabled");
        d.set_active(&a.id, true).unwrap();
        assert_eq!(
            d.redeem_ticket(&t3, 300).unwrap(),
            None,
            "and it stays used"
        );

        let t4 = d.mint_ticket(&s, 100, 60_000).unwrap();
        d.end_session(&tok).unwrap();
        assert_eq!(d.redeem_ticket(&t4, 200).unwrap(), None, "signed out");

        let (_, s2) = d.create_session(&a.id, &phone.id, 0, HOUR).unwrap();
        let t5 = d.mint_ticket(&s2, 100, 60_000).unwrap();
        d.revoke_device(&phone.id, 150).unwrap();
        assert_eq!(d.redeem_ticket(&t5, 200).unwrap(), None, "device revoked");
    }

    fn racing_redeemers_on_separate_connections_get_one_session(f: Fixture) {
        let d = f.d.clone();
        let a = user(&d, "ayesha", Role::Practitioner, None);
        let phone = d.register_device(&a.id, "Phone", None, 0).unwrap();
        let (_, s) = d.create_session(&a.id, &phone.id, 0, HOUR).unwrap();
        let ticket = d.mint_ticket(&s, 0, 60_000).unwrap();
        let barrier = Arc::new(std::sync::Barrier::new(6));
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let own = f.another();
                let (ticket, barrier) = (ticket.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    own.redeem_ticket(&ticket, 10).unwrap()
                })
            })
            .collect();
        let wins = handles
            .into_iter()
            .filter_map(|h| h.join().unwrap())
            .count();
        assert_eq!(wins, 1);
    }

    fn cases_grants_and_the_snapshot(f: Fixture) {
        let d = f.d.clone();
        let north = team(&d, "north-cce");
        let south = team(&d, "south-cce");
        let a = user(&d, "ayesha", Role::Practitioner, Some(&north));
        let m = user(&d, "mo", Role::Manager, Some(&north));
        let doc = case(&d, &a);
        let again = CaseRecord {
            doc,
            allocated: None,
            team: None,
            created_by: None,
            created_at: 9,
            part_of: None,
        };
        assert!(!d.register_case(&again).unwrap(), "already registered");
        assert_eq!(d.case(&doc).unwrap().unwrap().allocated, Some(a.id.clone()));
        let part = CaseRecord {
            doc: DocumentId::random(),
            part_of: Some(doc),
            ..again.clone()
        };
        assert!(d.register_case(&part).unwrap());
        assert_eq!(d.cases().unwrap().len(), 2);

        d.allocate(&doc, Some(&m.id), Some(&south)).unwrap();
        let c = d.case(&doc).unwrap().unwrap();
        assert_eq!(
            (c.allocated, c.team),
            (Some(m.id.clone()), Some(south.clone()))
        );
        assert!(matches!(
            d.allocate(&DocumentId::random(), None, None),
            Err(DirectoryError::NotFound { what: "case", .. })
        ));
        assert!(matches!(
            d.allocate(&doc, Some(&UserId("usr_x".into())), None),
            Err(DirectoryError::NotFound { what: "user", .. })
        ));

        let g = d
            .add_grant(
                &doc,
                &Grantee::Team(north.clone()),
                Access::Read,
                Some(&m.id),
                50,
            )
            .unwrap();
        assert_eq!(g.access, Access::Read);
        let g2 = d
            .add_grant(&doc, &Grantee::Team(north.clone()), Access::Edit, None, 60)
            .unwrap();
        assert_ne!(g.id, g2.id);
        d.add_grant(&doc, &Grantee::User(a.id.clone()), Access::Read, None, 70)
            .unwrap();
        let grants = d.grants(Some(&doc)).unwrap();
        assert_eq!(grants.len(), 2, "granting again replaced the read grant");
        assert_eq!(grants[0], g2);
        assert!(d.grants(Some(&part.doc)).unwrap().is_empty());
        assert!(matches!(
            d.add_grant(
                &DocumentId::random(),
                &Grantee::User(a.id.clone()),
                Access::Read,
                None,
                1
            ),
            Err(DirectoryError::NotFound { what: "case", .. })
        ));
        assert!(matches!(
            d.add_grant(
                &doc,
                &Grantee::Team(TeamId("west".into())),
                Access::Read,
                None,
                1
            ),
            Err(DirectoryError::NotFound { what: "team", .. })
        ));

        d.manage(&m.id, &north, true).unwrap();
        d.manage(&m.id, &south, true).unwrap();
        d.manage(&m.id, &south, true).unwrap();
        assert!(matches!(
            d.manage(&a.id, &north, true),
            Err(DirectoryError::Invalid(_))
        ));
        let phone = d.register_device(&a.id, "Phone", None, 0).unwrap();

        let snap = d.snapshot().unwrap();
        assert_eq!(snap.users.len(), 2);
        assert_eq!(
            snap.teams.iter().map(|t| &t.id).collect::<Vec<_>>(),
            [&north, &south]
        );
        assert_eq!(
            snap.manages,
            vec![(m.id.clone(), north.clone()), (m.id.clone(), south.clone())]
        );
        assert_eq!(snap.devices, vec![phone]);
        assert_eq!(snap.cases.len(), 2);
        assert_eq!(snap.grants.len(), 2);

        assert_eq!(
            d.remove_grant(&doc, &Grantee::Team(north.clone())).unwrap(),
            1
        );
        assert_eq!(
            d.remove_grant(&doc, &Grantee::Team(north.clone())).unwrap(),
            0
        );
        d.manage(&m.id, &north, false).unwrap();
        d.set_role(&m.id, Role::Practitioner).unwrap();
        assert!(
            d.snapshot().unwrap().manages.is_empty(),
            "no longer a manager"
        );
    }

    fn the_audit_reads_back_oldest_first_with_names_and_cannot_be_changed(f: Fixture) {
        let d = f.d.clone();
        let a = user(&d, "ayesha", Role::Practitioner, None);
        let phone = d.register_device(&a.id, "Ayesha's phone", None, 0).unwrap();
        let doc = case(&d, &a);
        let other = case(&d, &a);
        let mut read = audit(AuditKind::CaseRead, Some(&a), Some(doc), "opened");
        read.device = Some(phone.id.clone());
        read.address = Some("192.0.2.4".into());
        let mut changed = audit(AuditKind::CaseChanged, Some(&a), Some(doc), "3 changes");
        changed.at = 2_000;
        let elsewhere = audit(AuditKind::CaseRead, Some(&a), Some(other), "opened");
        let console = audit(
            AuditKind::GrantAdded,
            None,
            Some(doc),
            "by administrator at the console",
        );
        d.record(&[read, changed, elsewhere, console]).unwrap();
        d.record(&[]).unwrap();

        let rows = d.audit_for_case(&doc).unwrap();
        assert_eq!(
            rows.iter().map(|r| r.kind).collect::<Vec<_>>(),
            [
                AuditKind::CaseRead,
                AuditKind::CaseChanged,
                AuditKind::GrantAdded
            ]
        );
        assert!(rows.windows(2).all(|w| w[0].seq < w[1].seq));
        assert_eq!(rows[0].user_name.as_deref(), Some("ayesha Testperson"));
        assert_eq!(rows[0].device_name.as_deref(), Some("Ayesha's phone"));
        assert_eq!(rows[0].address.as_deref(), Some("192.0.2.4"));
        assert_eq!(rows[0].case, Some(doc.to_string()));
        assert_eq!(rows[2].user, None);
        assert_eq!(rows[2].user_name, None);
        assert_eq!(d.audit_for_user(&a.id).unwrap().len(), 3);

        for sql in [
            "UPDATE audit SET detail = 'nothing happened'",
            "DELETE FROM audit",
            "DELETE FROM audit WHERE seq = 1",
        ] {
            let e = f.raw(sql).unwrap_err();
            assert!(e.contains("append-only"), "{sql}: {e}");
        }
        assert_eq!(d.audit_for_case(&doc).unwrap(), rows);
    }

    fn erasures_are_permanent_and_take_the_cases_parts(f: Fixture) {
        let d = f.d.clone();
        let north = team(&d, "north-cce");
        let a = user(&d, "ayesha", Role::Practitioner, Some(&north));
        let x = case(&d, &a);
        let rel = DocumentId::random();
        d.register_case(&CaseRecord {
            doc: rel,
            allocated: Some(a.id.clone()),
            team: Some(north.clone()),
            created_by: Some(a.id.clone()),
            created_at: 6_000,
            part_of: Some(x),
        })
        .unwrap();
        let before = d.access_version().unwrap();
        assert!(matches!(
            d.erase_case(&rel, "admin", "request", 1),
            Err(DirectoryError::Invalid(_))
        ));
        assert!(matches!(
            d.erase_case(&x, "admin", "  ", 1),
            Err(DirectoryError::Invalid(_))
        ));
        assert!(matches!(
            d.erase_case(&DocumentId::random(), "admin", "r", 1),
            Err(DirectoryError::NotFound { what: "case", .. })
        ));
        assert_eq!(
            d.erase_case(&x, "admin", "Subject access: erasure", 7_000)
                .unwrap(),
            vec![x, rel]
        );
        assert!(d.access_version().unwrap() > before);
        assert!(matches!(
            d.erase_case(&x, "admin", "again", 8_000),
            Err(DirectoryError::Invalid(_))
        ));
        let e = d.erasures().unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!((e[0].doc, e[0].part_of), (x, None));
        assert_eq!(e[1].part_of, Some(x));
        assert!(e.iter().all(|e| e.content_removed_at.is_none()));
        assert_eq!(d.snapshot().unwrap().erasures, e);
        assert!(d.mark_content_removed(&x, 9_000).unwrap());
        assert!(!d.mark_content_removed(&x, 9_500).unwrap(), "once");
        assert_eq!(d.erasures().unwrap()[0].content_removed_at, Some(9_000));
        let late = DocumentId::random();
        assert!(d.erase_late_part(&late, &x, 10_000).unwrap());
        assert!(!d
            .erase_late_part(&DocumentId::random(), &DocumentId::random(), 1)
            .unwrap());
        assert_eq!(d.erasures().unwrap()[2].erased_by, "server");
        // Erased cases cannot be closed or restricted.
        assert!(d.set_closed(&x, Some(1)).is_err());
        assert!(d.restrict(&x, "why", &[], 1).is_err());

        for sql in [
            "DELETE FROM erasures",
            "UPDATE erasures SET reason = 'changed'",
            "UPDATE erasures SET content_removed_at = NULL",
            "UPDATE erasures SET content_removed_at = 1 WHERE content_removed_at IS NOT NULL",
        ] {
            let e = f.raw(sql).unwrap_err();
            assert!(e.contains("permanent"), "{sql}: {e}");
        }
    }

    fn closing_reopening_and_restricting_cases(f: Fixture) {
        let d = f.d.clone();
        let a = user(&d, "ayesha", Role::Practitioner, None);
        let b = user(&d, "ben", Role::Practitioner, None);
        let (x, y) = (case(&d, &a), case(&d, &a));
        d.set_closed(&x, Some(50)).unwrap();
        d.set_closed(&y, Some(20)).unwrap();
        assert_eq!(d.closed_cases().unwrap(), vec![(y, 20), (x, 50)]);
        d.set_closed(&y, None).unwrap();
        assert_eq!(d.closed_cases().unwrap(), vec![(x, 50)]);
        assert!(d.set_closed(&DocumentId::random(), Some(1)).is_err());

        let v = d.access_version().unwrap();
        d.restrict(&x, "Art. 18 request", &[a.id.clone(), b.id.clone()], 5)
            .unwrap();
        assert!(d.access_version().unwrap() > v);
        d.restrict(
            &x,
            "Art. 18 request, narrowed",
            std::slice::from_ref(&b.id),
            6,
        )
        .unwrap();
        let r = d.snapshot().unwrap().restrictions;
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].readers, vec![b.id.clone()]);
        assert_eq!(r[0].reason, "Art. 18 request, narrowed");
        assert!(matches!(
            d.restrict(&x, "r", &[UserId("usr_nobody".into())], 7),
            Err(DirectoryError::NotFound { what: "user", .. })
        ));
        assert!(d.unrestrict(&x).unwrap());
        assert!(!d.unrestrict(&x).unwrap());
        assert!(d.snapshot().unwrap().restrictions.is_empty());
    }

    fn a_revoked_devices_session_is_known_as_revoked_and_its_key_is_gone(f: Fixture) {
        let d = f.d.clone();
        let a = user(&d, "ayesha", Role::Practitioner, None);
        let b = user(&d, "ben", Role::Practitioner, None);
        let phone = d.register_device(&a.id, "Phone", None, 0).unwrap();
        let (tok, _) = d.create_session(&a.id, &phone.id, 0, HOUR).unwrap();
        let master = crate::storage::MasterKey::generate().unwrap();
        let w = &master.cipher().unwrap();
        let k1 = d
            .device_key(&phone.id, &a.id, 1, w)
            .unwrap()
            .expect("a key");
        let k2 = d
            .device_key(&phone.id, &a.id, 2, w)
            .unwrap()
            .expect("a key");
        assert_eq!(k1, k2, "stable per device");
        // Sealed at rest: the stored bytes are not the key, and another master key fails.
        let stored: Vec<u8> = d
            .read(|c| {
                Ok(c.query_one("SELECT sealed_key FROM device_keys", &[])?
                    .bytes(0)?)
            })
            .unwrap();
        assert!(!stored.windows(32).any(|w| w == k1.bytes()));
        let other = crate::storage::MasterKey::generate().unwrap();
        assert!(d
            .device_key(&phone.id, &a.id, 2, &other.cipher().unwrap())
            .is_err());
        assert_eq!(format!("{k1:?}"), "DeviceKey([redacted])");
        assert_eq!(
            d.device_key(&phone.id, &b.id, 3, w).unwrap(),
            None,
            "not Ben's"
        );
        assert!(!d.session_revoked(&tok).unwrap());
        d.revoke_device(&phone.id, 10).unwrap();
        assert_eq!(d.session(&tok, 20).unwrap(), None);
        assert!(d.session_revoked(&tok).unwrap());
        assert_eq!(d.device_key(&phone.id, &a.id, 30, w).unwrap(), None);
        // Expired sessions are cleared as new ones are made, but not the revoked device's.
        let laptop = d.register_device(&a.id, "Laptop", None, 0).unwrap();
        d.create_session(&a.id, &laptop.id, 2 * HOUR, HOUR).unwrap();
        assert!(d.session_revoked(&tok).unwrap());
        assert!(!d.session_revoked(&SessionToken::generate()).unwrap());
    }

    #[test]
    fn debug_of_a_new_user_never_shows_the_password() {
        let n = new_user("ayesha", Role::Practitioner, None);
        let shown = format!("{n:?} {n:#?}");
        assert!(!shown.contains("passphrase"), "{shown}");
        assert!(shown.contains("[redacted]"));
    }

    #[test]
    fn every_audit_kind_round_trips() {
        for k in AuditKind::ALL {
            assert_eq!(AuditKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(AuditKind::parse("sign in"), None);
    }

    /// Two handles on one directory: two server processes on one SQLite file, two nodes on
    /// one PostgreSQL database. What one writes, the other acts on at once.
    fn two_handles_agree_on_sessions_revocations_and_grants(f: Fixture) {
        let one = f.d.clone();
        let two = f.another();
        let north = team(&one, "north-cce");
        let a = user(&one, "ayesha", Role::Practitioner, Some(&north));
        let b = user(&one, "ben", Role::Practitioner, None);
        let phone = one.register_device(&a.id, "Phone", None, 0).unwrap();
        let (tok, s) = one.create_session(&a.id, &phone.id, 0, HOUR).unwrap();
        assert_eq!(
            two.session(&tok, 1).unwrap(),
            Some(s.clone()),
            "valid on the other"
        );
        assert_eq!(
            two.verify_password("AYESHA", &pw("ayesha")).unwrap(),
            Some(a.clone())
        );

        let doc = case(&one, &a);
        let v = two.access_version().unwrap();
        one.add_grant(&doc, &Grantee::User(b.id.clone()), Access::Read, None, 2)
            .unwrap();
        assert!(
            two.access_version().unwrap() > v,
            "the other sees the change"
        );
        assert_eq!(two.grants(Some(&doc)).unwrap().len(), 1);

        two.revoke_device(&phone.id, 3).unwrap();
        assert_eq!(one.session(&tok, 4).unwrap(), None, "refused by the other");
        assert!(one.session_revoked(&tok).unwrap());
        assert!(one.create_session(&a.id, &phone.id, 5, HOUR).is_err());
        assert!(matches!(
            two.add_user(new_user("AYESHA", Role::Practitioner, None), 6),
            Err(DirectoryError::Exists { what: "user", .. })
        ));
        assert!(matches!(
            two.add_team(&Team {
                id: north.clone(),
                name: "Again".into(),
                agency: "Northshire Council".into(),
            }),
            Err(DirectoryError::Exists { what: "team", .. })
        ));
    }

    /// Access-affecting writes racing from two handles: none is lost, every one moves
    /// `access_version` (what tells each node to look again).
    fn racing_writes_from_two_handles_each_move_the_access_version(f: Fixture) {
        let one = f.d.clone();
        let two = f.another();
        let a = user(&one, "ayesha", Role::Practitioner, None);
        let start = one.access_version().unwrap();
        let barrier = Arc::new(std::sync::Barrier::new(4));
        let handles: Vec<_> = [one.clone(), two.clone(), one.clone(), two.clone()]
            .into_iter()
            .enumerate()
            .map(|(i, d)| {
                let (barrier, id) = (barrier.clone(), a.id.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    for k in 0..5 {
                        d.set_active(&id, (i + k) % 2 == 0).unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(one.access_version().unwrap(), start + 20);
        assert_eq!(two.access_version().unwrap(), start + 20);
    }

    #[test]
    fn postgres_migrations_run_once_and_a_newer_schema_is_refused() {
        let f = Fixture::postgres();
        let again = f.another();
        user(&again, "ayesha", Role::Practitioner, None);
        assert_eq!(f.d.users().unwrap().len(), 1, "opening again kept the data");
        f.raw("INSERT INTO schema_migrations (scope, version) VALUES ('directory', 99)")
            .unwrap();
        let Place::Pg(url) = &f.place else {
            unreachable!("a PostgreSQL fixture")
        };
        let pool = PgPool::open(url, 1).unwrap();
        assert!(matches!(
            Directory::open_postgres(&pool),
            Err(DirectoryError::NewerSchema { .. })
        ));
    }

    both!(
        two_handles_agree_on_sessions_revocations_and_grants,
        racing_writes_from_two_handles_each_move_the_access_version,
        users_are_added_with_ids_a_caseload_and_unique_usernames,
        the_password_hash_is_argon2id_and_nothing_stores_the_password,
        verify_password_refuses_wrong_unknown_and_disabled_alike,
        access_version_moves_with_every_access_affecting_write_only,
        devices_are_reused_only_by_their_own_user_while_not_revoked,
        sessions_end_by_time_revocation_disabling_signing_out_and_expiry,
        a_ticket_is_redeemed_once_within_its_minute,
        racing_redeemers_on_separate_connections_get_one_session,
        cases_grants_and_the_snapshot,
        the_audit_reads_back_oldest_first_with_names_and_cannot_be_changed,
        erasures_are_permanent_and_take_the_cases_parts,
        closing_reopening_and_restricting_cases,
        a_revoked_devices_session_is_known_as_revoked_and_its_key_is_gone,
    );
}
