//! The directory on SQLite. STUB: signatures are the contract; bodies to be written.
#![allow(unused_variables)]

use std::path::Path;

use fieldbook_sync::DocumentId;

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

/// A handle on the directory tables. Cheap to clone; every method is one transaction.
#[derive(Clone)]
pub struct Directory {}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory").finish_non_exhaustive()
    }
}

impl Directory {
    /// Open (and migrate) the directory in the SQLite file at `path` (the server's store).
    pub fn open(path: &Path) -> Result<Self, DirectoryError> {
        todo!()
    }

    /// Bumped by every write that can change what someone may do (users, teams, manages,
    /// devices, cases, grants, ended sessions). The server polls it to notice admin CLI changes.
    pub fn access_version(&self) -> Result<i64, DirectoryError> {
        todo!()
    }

    pub fn snapshot(&self) -> Result<Snapshot, DirectoryError> {
        todo!()
    }

    // --- teams and users ---
    pub fn add_team(&self, team: &Team) -> Result<(), DirectoryError> {
        todo!()
    }
    pub fn add_user(&self, new: NewUser, now: Millis) -> Result<User, DirectoryError> {
        todo!()
    }
    pub fn user(&self, id: &UserId) -> Result<Option<User>, DirectoryError> {
        todo!()
    }
    pub fn user_by_username(&self, username: &str) -> Result<Option<User>, DirectoryError> {
        todo!()
    }
    pub fn set_active(&self, user: &UserId, active: bool) -> Result<(), DirectoryError> {
        todo!()
    }
    pub fn set_password(&self, user: &UserId, password: Password) -> Result<(), DirectoryError> {
        todo!()
    }
    pub fn set_team(&self, user: &UserId, team: Option<&TeamId>) -> Result<(), DirectoryError> {
        todo!()
    }
    pub fn set_role(&self, user: &UserId, role: Role) -> Result<(), DirectoryError> {
        todo!()
    }
    pub fn manage(&self, manager: &UserId, team: &TeamId, on: bool) -> Result<(), DirectoryError> {
        todo!()
    }

    /// Check a sign-in. `Ok(None)` for an unknown username, a wrong password or a disabled
    /// account alike (and an unknown username still costs one Argon2id verification).
    pub fn verify_password(
        &self,
        username: &str,
        password: &Password,
    ) -> Result<Option<User>, DirectoryError> {
        todo!()
    }

    // --- devices, sessions, tickets ---
    /// Register a new device for `user`, or reuse `existing` if it is that user's and not revoked.
    pub fn register_device(
        &self,
        user: &UserId,
        name: &str,
        existing: Option<&DeviceId>,
        now: Millis,
    ) -> Result<Device, DirectoryError> {
        todo!()
    }
    pub fn devices(&self, user: Option<&UserId>) -> Result<Vec<Device>, DirectoryError> {
        todo!()
    }
    pub fn touch_device(&self, device: &DeviceId, now: Millis) -> Result<(), DirectoryError> {
        todo!()
    }
    /// Revoke a device: its sessions end and it may not sign in again.
    pub fn revoke_device(&self, device: &DeviceId, now: Millis) -> Result<(), DirectoryError> {
        todo!()
    }
    pub fn create_session(
        &self,
        user: &UserId,
        device: &DeviceId,
        now: Millis,
        ttl_ms: i64,
    ) -> Result<(SessionToken, Session), DirectoryError> {
        todo!()
    }
    /// The session for `token` if it exists, has not expired, its device is not revoked and
    /// its user is active.
    pub fn session(
        &self,
        token: &SessionToken,
        now: Millis,
    ) -> Result<Option<Session>, DirectoryError> {
        todo!()
    }
    pub fn end_session(&self, token: &SessionToken) -> Result<(), DirectoryError> {
        todo!()
    }
    /// End every session of `user` (they must sign in again; devices are kept). Returns how many.
    pub fn expire_sessions(&self, user: &UserId) -> Result<usize, DirectoryError> {
        todo!()
    }
    pub fn mint_ticket(
        &self,
        session: &Session,
        now: Millis,
        ttl_ms: i64,
    ) -> Result<Ticket, DirectoryError> {
        todo!()
    }
    /// Redeem a ticket once: `Some` the first time within its lifetime (and only while its
    /// device and user are still allowed), `None` ever after.
    pub fn redeem_ticket(
        &self,
        ticket: &Ticket,
        now: Millis,
    ) -> Result<Option<Session>, DirectoryError> {
        todo!()
    }

    // --- cases and grants ---
    /// Register a document; false if it was already registered (nothing changes then).
    pub fn register_case(&self, case: &CaseRecord) -> Result<bool, DirectoryError> {
        todo!()
    }
    pub fn allocate(
        &self,
        doc: &DocumentId,
        user: Option<&UserId>,
        team: Option<&TeamId>,
    ) -> Result<(), DirectoryError> {
        todo!()
    }
    pub fn cases(&self) -> Result<Vec<CaseRecord>, DirectoryError> {
        todo!()
    }
    pub fn add_grant(
        &self,
        doc: &DocumentId,
        grantee: &Grantee,
        access: Access,
        by: Option<&UserId>,
        now: Millis,
    ) -> Result<Grant, DirectoryError> {
        todo!()
    }
    /// Remove every grant on `doc` to `grantee`; returns how many.
    pub fn remove_grant(
        &self,
        doc: &DocumentId,
        grantee: &Grantee,
    ) -> Result<usize, DirectoryError> {
        todo!()
    }
    pub fn grants(&self, doc: Option<&DocumentId>) -> Result<Vec<Grant>, DirectoryError> {
        todo!()
    }

    // --- audit (append-only) ---
    pub fn record(&self, entries: &[AuditEntry]) -> Result<(), DirectoryError> {
        todo!()
    }
    pub fn audit_for_case(&self, doc: &DocumentId) -> Result<Vec<AuditRow>, DirectoryError> {
        todo!()
    }
    pub fn audit_for_user(&self, user: &UserId) -> Result<Vec<AuditRow>, DirectoryError> {
        todo!()
    }
}
