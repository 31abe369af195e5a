//! Accounts, teams, devices, sessions, tickets, case registrations, grants and the audit
//! log: the server's directory, stored in the same SQLite file as the documents (its own
//! versioned migrations, `migrations.rs`), or with `database_url` in PostgreSQL (its own
//! migration history there, `migrations::postgres`), and read by the access policy
//! (`crate::access`). Every method is written once (`sql.rs` runs it on either back end).
//!
//! Everything here is plain data plus one `Directory` handle. Secrets (passwords, session
//! tokens, tickets) have their own types whose `Debug` prints `[redacted]`; only hashes of
//! session tokens and tickets are stored.

use fieldbook_sync::DocumentId;

mod directory;
mod migrations;
pub mod password;
pub mod secret;
mod sql;
pub mod throttle;

pub use directory::checkins::{CheckOut, Checkin, NewCheckin, MAX_CHECKIN_TEXT_CHARS};
pub use directory::{Directory, DirectoryError};
pub use secret::{DeviceKey, Password, SessionToken, Ticket};
pub use throttle::Throttle;

/// The directory `config` asks for: on PostgreSQL when `pool` is given (the process's one
/// pool for `config.database_url`, shared with the document store), else in the SQLite file
/// at `config.database_path()`. Blocks (migrations run here): call it at start-up.
pub fn open(
    config: &crate::config::Config,
    pool: Option<&crate::pg::PgPool>,
) -> Result<Directory, DirectoryError> {
    match pool {
        Some(pool) => Directory::open_postgres(pool),
        None => Directory::open(&config.database_path()),
    }
}

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct UserId(pub String);

/// A team's id is the short name the administrator gives it (`north-cce`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct TeamId(pub String);

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct DeviceId(pub String);

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::fmt::Display for TeamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::fmt::Display for DeviceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Practitioner,
    Manager,
    /// A child protection chair: reviews Moderate and High risk assessments (cases reach
    /// them by grants, like anyone outside the case's team).
    Chair,
    Administrator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Practitioner => "practitioner",
            Role::Manager => "manager",
            Role::Chair => "chair",
            Role::Administrator => "administrator",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "practitioner" => Some(Role::Practitioner),
            "manager" => Some(Role::Manager),
            "chair" => Some(Role::Chair),
            "administrator" => Some(Role::Administrator),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    Read,
    Edit,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Edit => "edit",
        }
    }
    pub fn parse(s: &str) -> Option<Access> {
        match s {
            "read" => Some(Access::Read),
            "edit" => Some(Access::Edit),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Grantee {
    User(UserId),
    Team(TeamId),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub id: TeamId,
    pub name: String,
    pub agency: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    /// What the person types to sign in (unique, case-insensitive).
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub agency: String,
    pub team: Option<TeamId>,
    pub active: bool,
    /// This user's own caseload index document (written only by the server).
    pub caseload: DocumentId,
}

/// What an administrator gives to create a user.
#[derive(Debug)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub agency: String,
    pub team: Option<TeamId>,
    pub password: Password,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub id: DeviceId,
    pub user: UserId,
    pub name: String,
    pub created_at: Millis,
    pub last_seen: Option<Millis>,
    pub revoked_at: Option<Millis>,
}

/// A valid session or redeemed ticket: who is on the other end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: UserId,
    pub device: DeviceId,
    pub expires_at: Millis,
}

/// A document the server has registered: a case, or a part of one (`part_of`), such as a
/// case's relationships-and-places document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRecord {
    pub doc: DocumentId,
    pub allocated: Option<UserId>,
    pub team: Option<TeamId>,
    pub created_by: Option<UserId>,
    pub created_at: Millis,
    pub part_of: Option<DocumentId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: i64,
    pub doc: DocumentId,
    pub grantee: Grantee,
    pub access: Access,
    pub granted_by: Option<UserId>,
    pub granted_at: Millis,
}

/// A permanent record that a document was erased (docs/ACCESS.md, "Erasure"): nobody may
/// read or write it again, and a device offering it is answered as if it did not exist.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Erasure {
    #[serde(serialize_with = "display")]
    pub doc: DocumentId,
    /// The case this document was part of (its relationships document), if not a case.
    #[serde(serialize_with = "display_opt")]
    pub part_of: Option<DocumentId>,
    pub erased_at: Millis,
    /// Who ran the erasure (an OS user name or `--by`), or "server" for a part that arrived
    /// after its case was erased.
    pub erased_by: String,
    pub reason: String,
    /// When the server deleted its content (None: still to do, e.g. the server was stopped).
    pub content_removed_at: Option<Millis>,
}

fn display<S: serde::Serializer>(d: &DocumentId, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(d)
}

fn display_opt<S: serde::Serializer>(d: &Option<DocumentId>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.collect_str(d),
        None => s.serialize_none(),
    }
}

/// Restriction of processing (GDPR Art. 18) on a case: only `readers` may read it (and its
/// parts), and nobody may change it, until it is lifted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restriction {
    pub doc: DocumentId,
    pub reason: String,
    pub restricted_at: Millis,
    pub readers: Vec<UserId>,
}

/// Everything the access policy needs, read in one transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub users: Vec<User>,
    pub teams: Vec<Team>,
    /// (manager, team they manage). A manager's own team is not implied: it is listed.
    pub manages: Vec<(UserId, TeamId)>,
    pub devices: Vec<Device>,
    pub cases: Vec<CaseRecord>,
    pub grants: Vec<Grant>,
    pub erasures: Vec<Erasure>,
    pub restrictions: Vec<Restriction>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuditKind {
    SignIn,
    SignInFailed,
    SignOut,
    TicketMinted,
    DeviceRegistered,
    DeviceRevoked,
    SessionsExpired,
    UserAdded,
    UserChanged,
    TeamAdded,
    GrantAdded,
    GrantRemoved,
    CaseRegistered,
    CaseAllocated,
    /// A connection started syncing a case (the server sent or compared its content).
    CaseRead,
    /// A connection's changes were applied to a case.
    CaseChanged,
    /// A connection's changes were refused (no edit access).
    WriteRefused,
    /// An administrator erased a case (and its parts).
    CaseErased,
    /// The server deleted an erased document's content.
    ContentRemoved,
    CaseClosed,
    CaseReopened,
    CaseRestricted,
    CaseUnrestricted,
    /// A device's escrowed key was handed to its signed-in user.
    DeviceKeyIssued,
    /// Lone working: a worker checked in before a visit (no content: where and with whom
    /// are sealed in the check-in itself).
    CheckedIn,
    /// Lone working: the worker checked out (detail says whether late).
    CheckedOut,
    /// Lone working: the expected time passed without a check-out; the manager is alerted.
    CheckinAlert,
}

impl AuditKind {
    pub const ALL: [AuditKind; 27] = [
        AuditKind::SignIn,
        AuditKind::SignInFailed,
        AuditKind::SignOut,
        AuditKind::TicketMinted,
        AuditKind::DeviceRegistered,
        AuditKind::DeviceRevoked,
        AuditKind::SessionsExpired,
        AuditKind::UserAdded,
        AuditKind::UserChanged,
        AuditKind::TeamAdded,
        AuditKind::GrantAdded,
        AuditKind::GrantRemoved,
        AuditKind::CaseRegistered,
        AuditKind::CaseAllocated,
        AuditKind::CaseRead,
        AuditKind::CaseChanged,
        AuditKind::WriteRefused,
        AuditKind::CaseErased,
        AuditKind::ContentRemoved,
        AuditKind::CaseClosed,
        AuditKind::CaseReopened,
        AuditKind::CaseRestricted,
        AuditKind::CaseUnrestricted,
        AuditKind::DeviceKeyIssued,
        AuditKind::CheckedIn,
        AuditKind::CheckedOut,
        AuditKind::CheckinAlert,
    ];

    pub fn parse(s: &str) -> Option<AuditKind> {
        AuditKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::SignIn => "sign-in",
            AuditKind::SignInFailed => "sign-in-failed",
            AuditKind::SignOut => "sign-out",
            AuditKind::TicketMinted => "ticket-minted",
            AuditKind::DeviceRegistered => "device-registered",
            AuditKind::DeviceRevoked => "device-revoked",
            AuditKind::SessionsExpired => "sessions-expired",
            AuditKind::UserAdded => "user-added",
            AuditKind::UserChanged => "user-changed",
            AuditKind::TeamAdded => "team-added",
            AuditKind::GrantAdded => "grant-added",
            AuditKind::GrantRemoved => "grant-removed",
            AuditKind::CaseRegistered => "case-registered",
            AuditKind::CaseAllocated => "case-allocated",
            AuditKind::CaseRead => "case-read",
            AuditKind::CaseChanged => "case-changed",
            AuditKind::WriteRefused => "write-refused",
            AuditKind::CaseErased => "case-erased",
            AuditKind::ContentRemoved => "content-removed",
            AuditKind::CaseClosed => "case-closed",
            AuditKind::CaseReopened => "case-reopened",
            AuditKind::CaseRestricted => "case-restricted",
            AuditKind::CaseUnrestricted => "case-unrestricted",
            AuditKind::DeviceKeyIssued => "device-key-issued",
            AuditKind::CheckedIn => "checked-in",
            AuditKind::CheckedOut => "checked-out",
            AuditKind::CheckinAlert => "checkin-alert",
        }
    }
}

/// One audit record. `detail` is metadata only (never case content or a secret), e.g.
/// "grant edit to team north-cce" or "wrong password".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: Millis,
    pub kind: AuditKind,
    /// Who did it (None: an administrator at the console, or an unknown account name).
    pub user: Option<UserId>,
    pub device: Option<DeviceId>,
    pub case: Option<DocumentId>,
    /// Remote address for sign-ins and connections.
    pub address: Option<String>,
    pub detail: String,
}

/// An audit record as read back, with names resolved for people reading it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditRow {
    pub seq: i64,
    pub at: Millis,
    pub kind: AuditKind,
    pub user: Option<UserId>,
    pub user_name: Option<String>,
    pub device: Option<DeviceId>,
    pub device_name: Option<String>,
    pub case: Option<String>,
    pub address: Option<String>,
    pub detail: String,
}
