//! The directory on SQLite: its own connection to the server's database file.
//!
//! Every method is one transaction; writes take the write lock up front (`BEGIN IMMEDIATE`)
//! so a server and an admin command writing at once wait for each other (5 s) instead of
//! failing on a stale read. Argon2id work is done outside the lock.
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use fieldbook_sync::DocumentId;
use rusqlite::types::Type;
use rusqlite::{
    params, Connection, ErrorCode, OptionalExtension, Row, Transaction, TransactionBehavior,
};

use super::migrations::{self, MigrateError};

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

/// A handle on the directory tables. Cheap to clone; every method is one transaction.
#[derive(Clone)]
pub struct Directory {
    conn: Arc<Mutex<Connection>>,
    path: Arc<PathBuf>,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory").finish_non_exhaustive()
    }
}

/// Inside the directory: a SQLite failure (given its path at the boundary) or a plain one.
enum Fail {
    Sql(rusqlite::Error),
    Dir(DirectoryError),
}

impl From<rusqlite::Error> for Fail {
    fn from(e: rusqlite::Error) -> Self {
        Fail::Sql(e)
    }
}

impl From<DirectoryError> for Fail {
    fn from(e: DirectoryError) -> Self {
        Fail::Dir(e)
    }
}

type R<T> = Result<T, Fail>;

fn database_error(e: &rusqlite::Error, path: &str) -> DirectoryError {
    let message = match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => {
            "the database stayed locked by another process for 5 s: try again".to_owned()
        }
        Some(ErrorCode::DiskFull) => "the disk is full".to_owned(),
        Some(ErrorCode::DatabaseCorrupt) | Some(ErrorCode::NotADatabase) => {
            "the file is not a Fieldbook database or is damaged".to_owned()
        }
        _ => e.to_string(),
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

impl Directory {
    /// Open (and migrate) the directory in the SQLite file at `path` (the server's store).
    pub fn open(path: &Path) -> Result<Self, DirectoryError> {
        let shown = path.display().to_string();
        let db = |e: rusqlite::Error| database_error(&e, &shown);
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
            conn: Arc::new(Mutex::new(conn)),
            path: Arc::new(path.to_path_buf()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a half transaction: SQLite rolls back.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn finish<T>(&self, r: R<T>) -> Result<T, DirectoryError> {
        r.map_err(|f| match f {
            Fail::Sql(e) => database_error(&e, &self.path.display().to_string()),
            Fail::Dir(e) => e,
        })
    }

    /// Run `f` in a write transaction (committed when it returns `Ok`).
    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> R<T>) -> Result<T, DirectoryError> {
        let mut conn = self.lock();
        let r = (|| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        })();
        self.finish(r)
    }

    /// Run `f` in a read transaction: one consistent view of the file.
    fn read<T>(&self, f: impl FnOnce(&Transaction<'_>) -> R<T>) -> Result<T, DirectoryError> {
        let mut conn = self.lock();
        let r = (|| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        })();
        self.finish(r)
    }

    /// Bumped by every write that can change what someone may do (users, teams, manages,
    /// devices, cases, grants, ended sessions). The server polls it to notice admin CLI changes.
    pub fn access_version(&self) -> Result<i64, DirectoryError> {
        self.read(|tx| Ok(tx.query_row("SELECT version FROM access_version", [], |r| r.get(0))?))
    }

    pub fn snapshot(&self) -> Result<Snapshot, DirectoryError> {
        self.read(|tx| {
            Ok(Snapshot {
                users: query_users(tx, "", [])?,
                teams: query_teams(tx)?,
                manages: tx
                    .prepare("SELECT user, team FROM manages ORDER BY user, team")?
                    .query_map([], |r| Ok((UserId(r.get(0)?), TeamId(r.get(1)?))))?
                    .collect::<Result<_, _>>()?,
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
            tx.execute(
                "INSERT INTO teams (id, name, agency) VALUES (?1, ?2, ?3)",
                params![team.id.0, name, agency],
            )?;
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
            tx.execute(
                "INSERT INTO users (id, username, display_name, role, agency, team, active,
                                        password_hash, caseload, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?8, ?9)",
                params![
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
            )?;
            bump(tx)?;
            Ok(user)
        })
    }

    pub fn user(&self, id: &UserId) -> Result<Option<User>, DirectoryError> {
        self.read(|tx| Ok(query_users(tx, "WHERE id = ?1", [&id.0])?.pop()))
    }

    pub fn user_by_username(&self, username: &str) -> Result<Option<User>, DirectoryError> {
        self.read(|tx| Ok(query_users(tx, "WHERE username = ?1", [username])?.pop()))
    }

    /// Every user, by username.
    pub fn users(&self) -> Result<Vec<User>, DirectoryError> {
        self.read(|tx| query_users(tx, "", []))
    }

    pub fn set_active(&self, user: &UserId, active: bool) -> Result<(), DirectoryError> {
        self.update_user(user, "active = ?2", active)
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
            let n = tx.execute(
                "UPDATE users SET password_hash = ?2 WHERE id = ?1",
                params![user.0, hash],
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
            let n = tx.execute(
                "UPDATE users SET team = ?2 WHERE id = ?1",
                params![user.0, team.map(|t| &t.0)],
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
            let n = tx.execute(
                "UPDATE users SET role = ?2 WHERE id = ?1",
                params![user.0, role.as_str()],
            )?;
            if n == 0 {
                return Err(not_found("user", &user.0));
            }
            if role != Role::Manager {
                tx.execute("DELETE FROM manages WHERE user = ?1", [&user.0])?;
            }
            bump(tx)
        })
    }

    /// `on`: `manager` manages `team` (only a user whose role is manager may); otherwise not.
    pub fn manage(&self, manager: &UserId, team: &TeamId, on: bool) -> Result<(), DirectoryError> {
        self.write(|tx| {
            let role: Option<String> = tx
                .query_row("SELECT role FROM users WHERE id = ?1", [&manager.0], |r| {
                    r.get(0)
                })
                .optional()?;
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
                tx.execute(
                    "INSERT INTO manages (user, team) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                    [&manager.0, &team.0],
                )?;
            } else {
                tx.execute(
                    "DELETE FROM manages WHERE user = ?1 AND team = ?2",
                    [&manager.0, &team.0],
                )?;
            }
            bump(tx)
        })
    }

    fn update_user(&self, user: &UserId, set: &str, value: bool) -> Result<(), DirectoryError> {
        self.write(|tx| {
            let n = tx.execute(
                &format!("UPDATE users SET {set} WHERE id = ?1"),
                params![user.0, value],
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
                .query_row(
                    "SELECT password_hash FROM users WHERE username = ?1",
                    [username],
                    |r| r.get(0),
                )
                .optional()?;
            match hash {
                None => Ok(None),
                Some(hash) => Ok(query_users(tx, "WHERE username = ?1", [username])?
                    .pop()
                    .map(|u| (u, hash))),
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
            if !exists(tx, "SELECT 1 FROM users WHERE id = ?1", &user.0)? {
                return Err(not_found("user", &user.0));
            }
            if let Some(id) = existing {
                let n = tx.execute(
                    "UPDATE devices SET name = ?3, last_seen = ?4
                     WHERE id = ?1 AND user = ?2 AND revoked_at IS NULL",
                    params![id.0, user.0, name, now],
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
            tx.execute(
                "INSERT INTO devices (id, user, name, created_at, last_seen) VALUES (?1, ?2, ?3, ?4, ?4)",
                params![device.id.0, device.user.0, device.name, now],
            )?;
            bump(tx)?;
            Ok(device)
        })
    }

    /// Every device (of `user`, if given), oldest first.
    pub fn devices(&self, user: Option<&UserId>) -> Result<Vec<Device>, DirectoryError> {
        self.read(|tx| query_devices(tx, user.map(|u| ("user", u.0.as_str()))))
    }

    pub fn device(&self, id: &DeviceId) -> Result<Option<Device>, DirectoryError> {
        self.read(|tx| Ok(query_devices(tx, Some(("id", &id.0)))?.pop()))
    }

    pub fn touch_device(&self, device: &DeviceId, now: Millis) -> Result<(), DirectoryError> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE devices SET last_seen = ?2 WHERE id = ?1",
                params![device.0, now],
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
            if !exists(tx, "SELECT 1 FROM devices WHERE id = ?1", &device.0)? {
                return Err(not_found("device", &device.0));
            }
            tx.execute(
                "UPDATE devices SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![device.0, now],
            )?;
            // Its sessions are kept (they never validate again: `session` checks the device)
            // so the device can be told it was revoked (`session_revoked`) and wipe itself.
            tx.execute("DELETE FROM tickets WHERE device = ?1", [&device.0])?;
            tx.execute("DELETE FROM device_keys WHERE device = ?1", [&device.0])?;
            bump(tx)
        })
    }

    /// Whether `token` is a session of a revoked device (kept so the device can be told).
    pub fn session_revoked(&self, token: &SessionToken) -> Result<bool, DirectoryError> {
        let hash = token.hash_hex();
        self.read(|tx| {
            Ok(tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM sessions s JOIN devices d ON d.id = s.device
                 WHERE s.token_hash = ?1 AND d.revoked_at IS NOT NULL)",
                [&hash],
                |r| r.get(0),
            )?)
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
            let ok: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM devices WHERE id = ?1 AND user = ?2 AND revoked_at IS NULL)",
                [&device.0, &user.0],
                |r| r.get(0),
            )?;
            if !ok {
                return Ok(None);
            }
            let found: Option<Vec<u8>> = tx
                .query_row(
                    "SELECT sealed_key FROM device_keys WHERE device = ?1",
                    [&device.0],
                    |r| r.get(0),
                )
                .optional()?;
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
            tx.execute(
                "INSERT INTO device_keys (device, sealed_key, created_at) VALUES (?1, ?2, ?3)",
                params![device.0, sealed, now],
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
            if !exists(tx, "SELECT 1 FROM users WHERE id = ?1 AND active = 1", &user.0)? {
                return Err(invalid(format!("user {} is not known or is disabled", user.0)));
            }
            let ok: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM devices WHERE id = ?1 AND user = ?2 AND revoked_at IS NULL)",
                [&device.0, &user.0],
                |r| r.get(0),
            )?;
            if !ok {
                return Err(invalid(format!(
                    "device {} is not this user's or is revoked",
                    device.0
                )));
            }
            // Expired sessions are no use to anyone: clear them as new ones are made (but
            // not a revoked device's: it is told so whenever it shows its cookie).
            tx.execute(
                "DELETE FROM sessions WHERE expires_at <= ?1
                 AND device NOT IN (SELECT id FROM devices WHERE revoked_at IS NOT NULL)",
                [now],
            )?;
            tx.execute(
                "INSERT INTO sessions (token_hash, user, device, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![token.hash_hex(), user.0, device.0, now, session.expires_at],
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
                .query_row(
                    "SELECT s.user, s.device, s.expires_at FROM sessions s
                     JOIN devices d ON d.id = s.device AND d.user = s.user
                     JOIN users u ON u.id = s.user
                     WHERE s.token_hash = ?1 AND s.expires_at > ?2
                       AND d.revoked_at IS NULL AND u.active = 1",
                    params![hash, now],
                    session_row,
                )
                .optional()?)
        })
    }

    /// End one session (signing out). The device's unredeemed tickets go with it.
    pub fn end_session(&self, token: &SessionToken) -> Result<(), DirectoryError> {
        let hash = token.hash_hex();
        self.write(|tx| {
            let device: Option<String> = tx
                .query_row(
                    "DELETE FROM sessions WHERE token_hash = ?1 RETURNING device",
                    [&hash],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(device) = device {
                tx.execute("DELETE FROM tickets WHERE device = ?1", [&device])?;
                bump(tx)?;
            }
            Ok(())
        })
    }

    /// End every session of `user` (they must sign in again; devices are kept). Returns how many.
    pub fn expire_sessions(&self, user: &UserId) -> Result<usize, DirectoryError> {
        self.write(|tx| {
            if !exists(tx, "SELECT 1 FROM users WHERE id = ?1", &user.0)? {
                return Err(not_found("user", &user.0));
            }
            let n = tx.execute(
                "DELETE FROM sessions WHERE user = ?1
                 AND device NOT IN (SELECT id FROM devices WHERE revoked_at IS NOT NULL)",
                [&user.0],
            )?;
            tx.execute("DELETE FROM tickets WHERE user = ?1", [&user.0])?;
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
            tx.execute("DELETE FROM tickets WHERE expires_at <= ?1", [now])?;
            tx.execute(
                "INSERT INTO tickets (hash, user, device, expires_at, session_expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
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
                .query_row(
                    "UPDATE tickets SET used = 1
                     WHERE hash = ?1 AND used = 0 AND expires_at > ?2
                     RETURNING user, device, session_expires_at",
                    params![hash, now],
                    session_row,
                )
                .optional()?;
            let Some(session) = taken else {
                return Ok(None);
            };
            let allowed: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM devices d JOIN users u ON u.id = d.user
                 WHERE d.id = ?1 AND d.user = ?2 AND d.revoked_at IS NULL AND u.active = 1)",
                [&session.device.0, &session.user.0],
                |r| r.get(0),
            )?;
            Ok((allowed && session.expires_at > now).then_some(session))
        })
    }

    // --- cases and grants ---
    /// Register a document; false if it was already registered (nothing changes then).
    pub fn register_case(&self, case: &CaseRecord) -> Result<bool, DirectoryError> {
        self.write(|tx| {
            check_case_refs(tx, case.allocated.as_ref(), case.team.as_ref())?;
            if let Some(by) = &case.created_by {
                if !exists(tx, "SELECT 1 FROM users WHERE id = ?1", &by.0)? {
                    return Err(not_found("user", &by.0));
                }
            }
            let n = tx.execute(
                "INSERT INTO cases (doc, allocated, team, created_by, created_at, part_of)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (doc) DO NOTHING",
                params![
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
            let n = tx.execute(
                "UPDATE cases SET allocated = ?2, team = ?3 WHERE doc = ?1",
                params![doc.to_string(), user.map(|u| &u.0), team.map(|t| &t.0)],
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
            if !exists(tx, "SELECT 1 FROM cases WHERE doc = ?1", &id)? {
                return Err(not_found("case", &id));
            }
            let (user, team) = grantee_columns(grantee);
            match grantee {
                Grantee::User(u) => {
                    if !exists(tx, "SELECT 1 FROM users WHERE id = ?1", &u.0)? {
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
                if !exists(tx, "SELECT 1 FROM users WHERE id = ?1", &by.0)? {
                    return Err(not_found("user", &by.0));
                }
            }
            tx.execute(
                "DELETE FROM grants WHERE doc = ?1 AND grantee_user IS ?2 AND grantee_team IS ?3",
                params![id, user, team],
            )?;
            tx.execute(
                "INSERT INTO grants (doc, grantee_user, grantee_team, access, granted_by, granted_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, user, team, access.as_str(), by.map(|u| &u.0), now],
            )?;
            let grant = Grant {
                id: tx.last_insert_rowid(),
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
            let n = tx.execute(
                "DELETE FROM grants WHERE doc = ?1 AND grantee_user IS ?2 AND grantee_team IS ?3",
                params![doc.to_string(), user, team],
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
            if exists(tx, "SELECT 1 FROM erasures WHERE doc = ?1", &id)? {
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
                .prepare("SELECT doc FROM cases WHERE part_of = ?1 ORDER BY created_at, doc")?
                .query_map([&id], |r| doc_id(r, 0))?
                .collect::<Result<_, _>>()?;
            let mut insert = tx.prepare(
                "INSERT INTO erasures (doc, part_of, erased_at, erased_by, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (doc) DO NOTHING",
            )?;
            insert.execute(params![id, None::<String>, now, by, reason])?;
            for p in &parts {
                insert.execute(params![p.to_string(), id, now, by, reason])?;
            }
            drop(insert);
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
                .query_row(
                    "SELECT reason FROM erasures WHERE doc = ?1",
                    [case.to_string()],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(reason) = parent else {
                return Ok(false);
            };
            tx.execute(
                "INSERT INTO erasures (doc, part_of, erased_at, erased_by, reason)
                 VALUES (?1, ?2, ?3, 'server', ?4) ON CONFLICT (doc) DO NOTHING",
                params![doc.to_string(), case.to_string(), now, reason],
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
            let n = tx.execute(
                "UPDATE erasures SET content_removed_at = ?2
                 WHERE doc = ?1 AND content_removed_at IS NULL",
                params![doc.to_string(), now],
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
            if exists(tx, "SELECT 1 FROM erasures WHERE doc = ?1", &id)? {
                return Err(invalid(format!("case {id} was erased")));
            }
            let n = tx.execute(
                "UPDATE cases SET closed_at = ?2 WHERE doc = ?1 AND part_of IS NULL",
                params![id, closed_at],
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
                .prepare(
                    "SELECT doc, closed_at FROM cases WHERE closed_at IS NOT NULL
                     AND doc NOT IN (SELECT doc FROM erasures) ORDER BY closed_at, doc",
                )?
                .query_map([], |r| Ok((doc_id(r, 0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?)
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
            if exists(tx, "SELECT 1 FROM erasures WHERE doc = ?1", &id)? {
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
                if !exists(tx, "SELECT 1 FROM users WHERE id = ?1", &u.0)? {
                    return Err(not_found("user", &u.0));
                }
            }
            tx.execute("DELETE FROM restrictions WHERE doc = ?1", [&id])?;
            tx.execute(
                "INSERT INTO restrictions (doc, reason, restricted_at) VALUES (?1, ?2, ?3)",
                params![id, reason, now],
            )?;
            for u in readers {
                tx.execute(
                    "INSERT INTO restriction_readers (doc, user) VALUES (?1, ?2)
                     ON CONFLICT DO NOTHING",
                    [&id, &u.0],
                )?;
            }
            bump(tx)
        })
    }

    /// Lift a restriction; false if the case was not restricted.
    pub fn unrestrict(&self, doc: &DocumentId) -> Result<bool, DirectoryError> {
        self.write(|tx| {
            let n = tx.execute("DELETE FROM restrictions WHERE doc = ?1", [doc.to_string()])?;
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
            let mut insert = tx.prepare_cached(
                "INSERT INTO audit (at, kind, user, device, case_doc, address, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for e in entries {
                insert.execute(params![
                    e.at,
                    e.kind.as_str(),
                    e.user.as_ref().map(|u| &u.0),
                    e.device.as_ref().map(|d| &d.0),
                    e.case.map(|d| d.to_string()),
                    e.address,
                    e.detail
                ])?;
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
        self.read(|tx| query_audit(tx, "a.user", &user.0))
    }
}

fn bump(tx: &Transaction<'_>) -> R<()> {
    tx.execute("UPDATE access_version SET version = version + 1", [])?;
    Ok(())
}

fn exists(tx: &Transaction<'_>, sql: &str, key: &str) -> R<bool> {
    Ok(tx.query_row(sql, [key], |_| Ok(())).optional()?.is_some())
}

fn team_exists(tx: &Transaction<'_>, team: &TeamId) -> R<bool> {
    exists(tx, "SELECT 1 FROM teams WHERE id = ?1", &team.0)
}

fn user_id_by_username(tx: &Transaction<'_>, username: &str) -> R<Option<String>> {
    Ok(tx
        .query_row(
            "SELECT id FROM users WHERE username = ?1",
            [username],
            |r| r.get(0),
        )
        .optional()?)
}

fn check_case_refs(tx: &Transaction<'_>, user: Option<&UserId>, team: Option<&TeamId>) -> R<()> {
    if let Some(u) = user {
        if !exists(tx, "SELECT 1 FROM users WHERE id = ?1", &u.0)? {
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

fn conversion(idx: usize, what: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        idx,
        Type::Text,
        format!("unknown {what} {value:?} in the directory").into(),
    )
}

fn doc_id(r: &Row<'_>, idx: usize) -> rusqlite::Result<DocumentId> {
    let s: String = r.get(idx)?;
    s.parse()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
}

fn opt_doc_id(r: &Row<'_>, idx: usize) -> rusqlite::Result<Option<DocumentId>> {
    match r.get::<_, Option<String>>(idx)? {
        None => Ok(None),
        Some(_) => doc_id(r, idx).map(Some),
    }
}

fn session_row(r: &Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        user: UserId(r.get(0)?),
        device: DeviceId(r.get(1)?),
        expires_at: r.get(2)?,
    })
}

fn query_users<P: rusqlite::Params>(tx: &Transaction<'_>, filter: &str, p: P) -> R<Vec<User>> {
    let sql = format!(
        "SELECT id, username, display_name, role, agency, team, active, caseload FROM users {filter}
         ORDER BY username"
    );
    let users = tx
        .prepare(&sql)?
        .query_map(p, |r| {
            let role: String = r.get(3)?;
            Ok(User {
                id: UserId(r.get(0)?),
                username: r.get(1)?,
                display_name: r.get(2)?,
                role: Role::parse(&role).ok_or_else(|| conversion(3, "role", &role))?,
                agency: r.get(4)?,
                team: r.get::<_, Option<String>>(5)?.map(TeamId),
                active: r.get(6)?,
                caseload: doc_id(r, 7)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(users)
}

fn query_teams(tx: &Transaction<'_>) -> R<Vec<Team>> {
    Ok(tx
        .prepare("SELECT id, name, agency FROM teams ORDER BY id")?
        .query_map([], |r| {
            Ok(Team {
                id: TeamId(r.get(0)?),
                name: r.get(1)?,
                agency: r.get(2)?,
            })
        })?
        .collect::<Result<_, _>>()?)
}

/// `filter`: (column, value), where column is a fixed name from this file.
fn query_devices(tx: &Transaction<'_>, filter: Option<(&str, &str)>) -> R<Vec<Device>> {
    let (clause, value) = match filter {
        Some((column, value)) => (format!("WHERE {column} = ?1"), Some(value)),
        None => (String::new(), None),
    };
    let sql = format!(
        "SELECT id, user, name, created_at, last_seen, revoked_at FROM devices {clause}
         ORDER BY created_at, id"
    );
    let mut stmt = tx.prepare(&sql)?;
    let map = |r: &Row<'_>| {
        Ok(Device {
            id: DeviceId(r.get(0)?),
            user: UserId(r.get(1)?),
            name: r.get(2)?,
            created_at: r.get(3)?,
            last_seen: r.get(4)?,
            revoked_at: r.get(5)?,
        })
    };
    let rows = match value {
        Some(v) => stmt.query_map([v], map)?.collect::<Result<_, _>>()?,
        None => stmt.query_map([], map)?.collect::<Result<_, _>>()?,
    };
    Ok(rows)
}

fn query_cases(tx: &Transaction<'_>, doc: Option<&DocumentId>) -> R<Vec<CaseRecord>> {
    let mut stmt = tx.prepare(
        "SELECT doc, allocated, team, created_by, created_at, part_of FROM cases
         WHERE ?1 IS NULL OR doc = ?1 ORDER BY created_at, doc",
    )?;
    let rows = stmt
        .query_map([doc.map(|d| d.to_string())], |r| {
            Ok(CaseRecord {
                doc: doc_id(r, 0)?,
                allocated: r.get::<_, Option<String>>(1)?.map(UserId),
                team: r.get::<_, Option<String>>(2)?.map(TeamId),
                created_by: r.get::<_, Option<String>>(3)?.map(UserId),
                created_at: r.get(4)?,
                part_of: opt_doc_id(r, 5)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

fn query_grants(tx: &Transaction<'_>, doc: Option<&DocumentId>) -> R<Vec<Grant>> {
    let mut stmt = tx.prepare(
        "SELECT id, doc, grantee_user, grantee_team, access, granted_by, granted_at FROM grants
         WHERE ?1 IS NULL OR doc = ?1 ORDER BY id",
    )?;
    let rows = stmt
        .query_map([doc.map(|d| d.to_string())], |r| {
            let grantee = match (
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<String>>(3)?,
            ) {
                (Some(u), None) => Grantee::User(UserId(u)),
                (None, Some(t)) => Grantee::Team(TeamId(t)),
                _ => return Err(conversion(2, "grantee", "both or neither")),
            };
            let access: String = r.get(4)?;
            Ok(Grant {
                id: r.get(0)?,
                doc: doc_id(r, 1)?,
                grantee,
                access: Access::parse(&access).ok_or_else(|| conversion(4, "access", &access))?,
                granted_by: r.get::<_, Option<String>>(5)?.map(UserId),
                granted_at: r.get(6)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

fn query_erasures(tx: &Transaction<'_>) -> R<Vec<Erasure>> {
    Ok(tx
        .prepare(
            "SELECT doc, part_of, erased_at, erased_by, reason, content_removed_at
             FROM erasures ORDER BY erased_at, part_of IS NOT NULL, doc",
        )?
        .query_map([], |r| {
            Ok(Erasure {
                doc: doc_id(r, 0)?,
                part_of: opt_doc_id(r, 1)?,
                erased_at: r.get(2)?,
                erased_by: r.get(3)?,
                reason: r.get(4)?,
                content_removed_at: r.get(5)?,
            })
        })?
        .collect::<Result<_, _>>()?)
}

fn query_restrictions(tx: &Transaction<'_>) -> R<Vec<Restriction>> {
    let mut out: Vec<Restriction> = tx
        .prepare("SELECT doc, reason, restricted_at FROM restrictions ORDER BY restricted_at, doc")?
        .query_map([], |r| {
            Ok(Restriction {
                doc: doc_id(r, 0)?,
                reason: r.get(1)?,
                restricted_at: r.get(2)?,
                readers: Vec::new(),
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut readers =
        tx.prepare("SELECT user FROM restriction_readers WHERE doc = ?1 ORDER BY user")?;
    for r in &mut out {
        r.readers = readers
            .query_map([r.doc.to_string()], |row| Ok(UserId(row.get(0)?)))?
            .collect::<Result<_, _>>()?;
    }
    Ok(out)
}

/// `column` is a fixed name from this file.
fn query_audit(tx: &Transaction<'_>, column: &str, value: &str) -> R<Vec<AuditRow>> {
    let sql = format!(
        "SELECT a.seq, a.at, a.kind, a.user, u.display_name, a.device, d.name, a.case_doc,
                a.address, a.detail
         FROM audit a
         LEFT JOIN users u ON u.id = a.user
         LEFT JOIN devices d ON d.id = a.device
         WHERE {column} = ?1 ORDER BY a.seq"
    );
    let rows = tx
        .prepare(&sql)?
        .query_map([value], |r| {
            let kind: String = r.get(2)?;
            Ok(AuditRow {
                seq: r.get(0)?,
                at: r.get(1)?,
                kind: AuditKind::parse(&kind).ok_or_else(|| conversion(2, "audit kind", &kind))?,
                user: r.get::<_, Option<String>>(3)?.map(UserId),
                user_name: r.get(4)?,
                device: r.get::<_, Option<String>>(5)?.map(DeviceId),
                device_name: r.get(6)?,
                case: r.get(7)?,
                address: r.get(8)?,
                detail: r.get(9)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    fn open() -> (tempfile::TempDir, Directory) {
        let dir = tempfile::tempdir().unwrap();
        let d = Directory::open(&dir.path().join("fieldbook.sqlite3")).unwrap();
        (dir, d)
    }

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

    #[test]
    fn users_are_added_with_ids_a_caseload_and_unique_usernames() {
        let (_t, d) = open();
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

    #[test]
    fn the_password_hash_is_argon2id_and_nothing_stores_the_password() {
        let (t, d) = open();
        user(&d, "ayesha", Role::Practitioner, None);
        let conn = Connection::open(t.path().join("fieldbook.sqlite3")).unwrap();
        let hash: String = conn
            .query_row("SELECT password_hash FROM users", [], |r| r.get(0))
            .unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(!hash.contains("passphrase"));
    }

    #[test]
    fn verify_password_refuses_wrong_unknown_and_disabled_alike() {
        let (_t, d) = open();
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

    #[test]
    fn access_version_moves_with_every_access_affecting_write_only() {
        let (_t, d) = open();
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

    #[test]
    fn devices_are_reused_only_by_their_own_user_while_not_revoked() {
        let (_t, d) = open();
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

    #[test]
    fn sessions_end_by_time_revocation_disabling_signing_out_and_expiry() {
        let (t, d) = open();
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
        let conn = Connection::open(t.path().join("fieldbook.sqlite3")).unwrap();
        let stored: String = conn
            .query_row("SELECT token_hash FROM sessions", [], |r| r.get(0))
            .unwrap();
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

    #[test]
    fn a_ticket_is_redeemed_once_within_its_minute() {
        let (_t, d) = open();
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

    #[test]
    fn racing_redeemers_on_separate_connections_get_one_session() {
        let (t, d) = open();
        let a = user(&d, "ayesha", Role::Practitioner, None);
        let phone = d.register_device(&a.id, "Phone", None, 0).unwrap();
        let (_, s) = d.create_session(&a.id, &phone.id, 0, HOUR).unwrap();
        let ticket = d.mint_ticket(&s, 0, 60_000).unwrap();
        let path = t.path().join("fieldbook.sqlite3");
        let barrier = Arc::new(std::sync::Barrier::new(6));
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let own = Directory::open(&path).unwrap();
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

    #[test]
    fn cases_grants_and_the_snapshot() {
        let (_t, d) = open();
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

    #[test]
    fn the_audit_reads_back_oldest_first_with_names_and_cannot_be_changed() {
        let (t, d) = open();
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

        let conn = Connection::open(t.path().join("fieldbook.sqlite3")).unwrap();
        for sql in [
            "UPDATE audit SET detail = 'nothing happened'",
            "DELETE FROM audit",
            "DELETE FROM audit WHERE seq = 1",
        ] {
            let e = conn.execute(sql, []).unwrap_err().to_string();
            assert!(e.contains("append-only"), "{sql}: {e}");
        }
        assert_eq!(d.audit_for_case(&doc).unwrap(), rows);
    }

    #[test]
    fn erasures_are_permanent_and_take_the_cases_parts() {
        let (t, d) = open();
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

        let conn = Connection::open(t.path().join("fieldbook.sqlite3")).unwrap();
        for sql in [
            "DELETE FROM erasures",
            "UPDATE erasures SET reason = 'changed'",
            "UPDATE erasures SET content_removed_at = NULL",
            "UPDATE erasures SET content_removed_at = 1 WHERE content_removed_at IS NOT NULL",
        ] {
            let e = conn.execute(sql, []).unwrap_err().to_string();
            assert!(e.contains("permanent"), "{sql}: {e}");
        }
    }

    #[test]
    fn closing_reopening_and_restricting_cases() {
        let (_t, d) = open();
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

    #[test]
    fn a_revoked_devices_session_is_known_as_revoked_and_its_key_is_gone() {
        let (_t, d) = open();
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
            .read(|c| Ok(c.query_row("SELECT sealed_key FROM device_keys", [], |r| r.get(0))?))
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
}
