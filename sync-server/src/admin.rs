//! `fieldbook-sync-server admin …`: the administrator's console for accounts, teams, case
//! allocation, grants, devices and the audit log.
//!
//! It opens the same database file as the server (its own connection, safe while the server
//! runs: the server notices changes through the directory's access version). People are
//! named by username; every change is written to the audit log as done "by administrator at
//! the console".
use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use fieldbook_sync::DocumentId;
use fieldbook_sync_server::accounts::{
    Access, AuditEntry, AuditKind, AuditRow, DeviceId, Directory, Grantee, Millis, NewUser,
    Password, Role, Team, TeamId, User,
};
use fieldbook_sync_server::config::Config;
use rand::Rng;

const BY_CONSOLE: &str = "by administrator at the console";
/// Length of a generated password: comfortably above the 12-character minimum.
const GENERATED_PASSWORD_CHARS: usize = 20;
/// No look-alikes (0/O, 1/l/I), so a password read out over the phone survives.
const PASSWORD_ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

#[derive(Debug, Args)]
pub struct AdminArgs {
    /// Directory holding fieldbook.sqlite3 (default: what the server would use, from
    /// --config, FIELDBOOK_DATA_DIR or `fieldbook-data`).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The server's TOML settings file (read for data_dir).
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Teams: add, list.
    #[command(subcommand)]
    Teams(TeamsCommand),
    /// Users: add, list, disable, enable, set-password, set-team, set-role, manage, unmanage.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Registered case documents: list, allocate.
    #[command(subcommand)]
    Cases(CasesCommand),
    /// Grants of read or edit access to a case: add, remove, list.
    #[command(subcommand)]
    Grants(GrantsCommand),
    /// Devices people signed in on: list, revoke.
    #[command(subcommand)]
    Devices(DevicesCommand),
    /// Sessions: expire (forces sign-in again).
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Show the audit log for one case or one user, oldest first.
    Audit(AuditArgs),
    /// Erase a case and its parts for good: a permanent tombstone; the running server
    /// deletes the content and every device deletes its copy. Cannot be undone.
    EraseCase {
        #[arg(value_parser = parse_doc)]
        doc: DocumentId,
        /// Why (kept in the tombstone and the audit log), e.g. "erasure request ref 1234".
        #[arg(long)]
        reason: String,
        /// Who is erasing (default: your login name).
        #[arg(long)]
        by: Option<String>,
    },
    /// List erased documents: when, by whom, why, and whether the content is gone.
    Erasures {
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// List closed cases kept longer than retention_days (a dry run), or erase them with
    /// --erase --reason.
    Retention {
        #[arg(long, requires = "reason")]
        erase: bool,
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        by: Option<String>,
    },
    /// Restrict processing of a case (GDPR Art. 18): only the named people may read it, and
    /// nobody may change it, until `unrestrict-case`.
    RestrictCase {
        #[arg(value_parser = parse_doc)]
        doc: DocumentId,
        #[arg(long)]
        reason: String,
        /// Usernames who may still read it, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        allow: Vec<String>,
    },
    /// Lift a restriction of processing.
    UnrestrictCase {
        #[arg(value_parser = parse_doc)]
        doc: DocumentId,
    },
    /// Lone working alerts: people checked in for a visit whose expected time back has
    /// passed without a check-out (most overdue first). Call them, then their manager.
    Alerts {
        /// Also list visits checked out late (every one kept).
        #[arg(long)]
        all: bool,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print the monthly service dataset as CSV, from every case in the store (the same
    /// numbers and columns a manager's device downloads from `#/dataset`).
    Dataset {
        /// The month, YYYY-MM (London time).
        #[arg(long, value_parser = parse_month)]
        month: fieldbook_case::dataset::Month,
    },
}

#[derive(Debug, Subcommand)]
enum TeamsCommand {
    /// Add a team; its id is a short slug such as north-cce.
    Add {
        id: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        agency: String,
    },
    List,
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// Add a user. Without --password-stdin a random password is generated and printed once.
    Add {
        username: String,
        /// Display name, e.g. "Ayesha Khan".
        #[arg(long)]
        name: String,
        /// practitioner, manager, chair (child protection chair) or administrator.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        #[arg(long)]
        agency: String,
        #[arg(long)]
        team: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    List,
    /// Stop a user signing in; their sessions stop working at once.
    Disable {
        username: String,
    },
    Enable {
        username: String,
    },
    /// Set a user's password from the first line of standard input.
    SetPassword {
        username: String,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Move a user to a team, or to no team with `none`.
    SetTeam {
        username: String,
        team: String,
    },
    SetRole {
        username: String,
        #[arg(value_parser = parse_role)]
        role: Role,
    },
    /// Let a manager manage a team.
    Manage {
        username: String,
        team: String,
    },
    Unmanage {
        username: String,
        team: String,
    },
}

#[derive(Debug, Subcommand)]
enum CasesCommand {
    List,
    /// Record that a case was closed (today, or --on YYYY-MM-DD): retention counts from then.
    Close {
        #[arg(value_parser = parse_doc)]
        doc: DocumentId,
        #[arg(long, value_parser = parse_date)]
        on: Option<Millis>,
    },
    /// Clear a case's closed date.
    Reopen {
        #[arg(value_parser = parse_doc)]
        doc: DocumentId,
    },
    /// Allocate a case to a worker and/or a team (with --user only, the team becomes the
    /// worker's team).
    Allocate {
        #[arg(value_parser = parse_doc)]
        doc: DocumentId,
        #[command(flatten)]
        to: AllocateTo,
    },
}

#[derive(Debug, Args)]
#[group(required = true, multiple = true)]
struct AllocateTo {
    #[arg(long)]
    user: Option<String>,
    #[arg(long)]
    team: Option<String>,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
struct GranteeArgs {
    #[arg(long)]
    user: Option<String>,
    #[arg(long)]
    team: Option<String>,
}

#[derive(Debug, Subcommand)]
enum GrantsCommand {
    /// Grant a user or a team read or edit access to a case (replaces their earlier grant).
    Add {
        #[arg(value_parser = parse_doc)]
        doc: DocumentId,
        #[command(flatten)]
        grantee: GranteeArgs,
        /// read or edit.
        #[arg(long, value_parser = parse_access)]
        access: Access,
    },
    Remove {
        #[arg(value_parser = parse_doc)]
        doc: DocumentId,
        #[command(flatten)]
        grantee: GranteeArgs,
    },
    /// Every grant, or those on one case.
    List {
        #[arg(value_parser = parse_doc)]
        doc: Option<DocumentId>,
    },
}

#[derive(Debug, Subcommand)]
enum DevicesCommand {
    List {
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke a device: its sessions end and it cannot sign in again.
    Revoke { device: String },
}

#[derive(Debug, Subcommand)]
enum SessionsCommand {
    /// End every session of a user: they must sign in again (their devices are kept).
    Expire { username: String },
}

#[derive(Debug, Args)]
struct AuditArgs {
    #[command(flatten)]
    subject: AuditSubject,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
struct AuditSubject {
    #[arg(long, value_parser = parse_doc)]
    case: Option<DocumentId>,
    #[arg(long)]
    user: Option<String>,
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| {
        format!("unknown role {s:?}: use practitioner, manager, chair or administrator")
    })
}

fn parse_access(s: &str) -> Result<Access, String> {
    Access::parse(s).ok_or_else(|| format!("unknown access {s:?}: use read or edit"))
}

/// `YYYY-MM-DD` as milliseconds at midnight UTC.
fn parse_date(s: &str) -> Result<Millis, String> {
    let bad = || format!("{s:?} is not a date: use YYYY-MM-DD");
    let mut parts = s.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(bad());
    }
    let y: i64 = y.parse().map_err(|_| bad())?;
    let m: u32 = m.parse().map_err(|_| bad())?;
    let d: u32 = d.parse().map_err(|_| bad())?;
    if !(1..=12).contains(&m) || d == 0 || d > 31 {
        return Err(bad());
    }
    let days = days_from_civil(y, m, d);
    // 31 February and the like come back as another date.
    if civil_from_days(days) != (y, m, d) {
        return Err(bad());
    }
    Ok(days * 86_400_000)
}

/// A proleptic Gregorian date to days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Who is at the console: `--by`, else the login name, else "administrator".
fn console_user(by: Option<String>) -> String {
    by.or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "administrator".to_owned())
}

/// A document id, bare or as an `automerge:` URL.
fn parse_doc(s: &str) -> Result<DocumentId, String> {
    let r = match s.strip_prefix(DocumentId::URL_PREFIX) {
        Some(_) => DocumentId::from_url(s),
        None => s.parse(),
    };
    r.map_err(|e| format!("{s:?} is not a document id ({e})"))
}

/// Run one admin command and report its error, if any, in plain words (no backtrace): the
/// process exit code, 0 or 1.
pub fn main(
    args: AdminArgs,
    config: Option<&Path>,
    data_dir: Option<PathBuf>,
    database: &dyn Fn(&mut Config),
) -> i32 {
    match run(args, config, data_dir, database) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

/// Run one admin command. `config` and `data_dir` are the server's own flags, used when the
/// admin command does not give its own; `database` applies the server's `--database-url` and
/// `--database-ca-file`.
pub fn run(
    args: AdminArgs,
    config: Option<&Path>,
    data_dir: Option<PathBuf>,
    database: &dyn Fn(&mut Config),
) -> anyhow::Result<()> {
    let config_file = args.config.as_deref().or(config);
    let mut settings = Config::load(config_file).context("invalid configuration")?;
    database(&mut settings);
    settings
        .check_database()
        .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    if let Some(dir) = args.data_dir.or(data_dir) {
        settings.data_dir = dir;
    }
    let path = settings.database_path();
    let writes = !matches!(
        &args.command,
        AdminCommand::Teams(TeamsCommand::List)
            | AdminCommand::Users(UsersCommand::List)
            | AdminCommand::Cases(CasesCommand::List)
            | AdminCommand::Grants(GrantsCommand::List { .. })
            | AdminCommand::Devices(DevicesCommand::List { .. })
            | AdminCommand::Audit(_)
            | AdminCommand::Erasures { .. }
            | AdminCommand::Alerts { .. }
            | AdminCommand::Retention { erase: false, .. }
            | AdminCommand::Dataset { .. }
    );
    // Reading from a mistyped directory should say so, not create an empty database there.
    if !writes && settings.database_url.is_none() && !path.exists() {
        bail!(
            "there is no Fieldbook database at {}: check --data-dir (or --config)",
            path.display()
        );
    }
    if let AdminCommand::Dataset { month } = args.command {
        return dataset(&settings, month);
    }
    let pool = fieldbook_sync_server::pg::pool_for(&settings)?;
    let dir = fieldbook_sync_server::accounts::open(&settings, pool.as_ref())?;
    let console = Console {
        dir,
        retention_days: settings.retention_days,
        master_key_file: settings.master_key_path(),
    };
    match args.command {
        AdminCommand::Teams(c) => console.teams(c),
        AdminCommand::Users(c) => console.users(c),
        AdminCommand::Cases(c) => console.cases(c),
        AdminCommand::Grants(c) => console.grants(c),
        AdminCommand::Devices(c) => console.devices(c),
        AdminCommand::Sessions(c) => console.sessions(c),
        AdminCommand::Audit(a) => console.audit(a),
        AdminCommand::EraseCase { doc, reason, by } => {
            console.erase(&doc, &reason, &console_user(by))
        }
        AdminCommand::Erasures { json } => console.erasures(json),
        AdminCommand::Retention { erase, reason, by } => {
            console.retention(erase.then_some(reason).flatten(), &console_user(by))
        }
        AdminCommand::RestrictCase { doc, reason, allow } => {
            console.restrict(&doc, &reason, &allow)
        }
        AdminCommand::UnrestrictCase { doc } => console.unrestrict(&doc),
        AdminCommand::Alerts { all, json } => console.alerts(all, json),
        AdminCommand::Dataset { .. } => unreachable!("handled before the directory opens"),
    }
}

fn parse_month(s: &str) -> Result<fieldbook_case::dataset::Month, String> {
    fieldbook_case::dataset::Month::parse(s)
        .ok_or_else(|| format!("{s:?} is not a month: write it as YYYY-MM, e.g. 2026-10"))
}

/// `admin dataset --month`: read every stored case (with the server's master key) and
/// print the dataset CSV. The store's reads are async: they run on a runtime of their own,
/// on a thread of their own, whatever runtime the caller is in.
fn dataset(settings: &Config, month: fieldbook_case::dataset::Month) -> anyhow::Result<()> {
    let csv = std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("could not start a runtime")?
                .block_on(async {
                    // The server's store, SQLite or PostgreSQL as the settings say.
                    let store = fieldbook_sync_server::storage::open(settings)
                        .await
                        .context("could not open the store")?;
                    fieldbook_sync_server::dataset::csv(&store, month, now())
                        .await
                        .context("could not read the cases")
                })
        })
        .join()
        .map_err(|_| anyhow::anyhow!("reading the cases failed"))?
    })?;
    print!("{csv}");
    Ok(())
}

struct Console {
    dir: Directory,
    retention_days: u64,
    master_key_file: PathBuf,
}

impl Console {
    fn user(&self, username: &str) -> anyhow::Result<User> {
        match self.dir.user_by_username(username)? {
            Some(u) => Ok(u),
            None => bail!("there is no user {username:?} (see `admin users list`)"),
        }
    }

    fn team(&self, id: &str) -> anyhow::Result<TeamId> {
        let id = TeamId(id.to_owned());
        if self.dir.teams()?.iter().any(|t| t.id == id) {
            Ok(id)
        } else {
            bail!("there is no team {:?} (see `admin teams list`)", id.0)
        }
    }

    fn grantee(&self, g: &GranteeArgs) -> anyhow::Result<(Grantee, String)> {
        match (&g.user, &g.team) {
            (Some(u), None) => {
                let user = self.user(u)?;
                Ok((Grantee::User(user.id), format!("user {}", user.username)))
            }
            (None, Some(t)) => {
                let team = self.team(t)?;
                let shown = format!("team {}", team.0);
                Ok((Grantee::Team(team), shown))
            }
            _ => bail!("give exactly one of --user and --team"),
        }
    }

    /// Append the audit entry for a change made here.
    fn audit_change(
        &self,
        kind: AuditKind,
        case: Option<DocumentId>,
        device: Option<DeviceId>,
        what: String,
    ) -> anyhow::Result<()> {
        self.dir
            .record(&[AuditEntry {
                at: now(),
                kind,
                user: None,
                device,
                case,
                address: None,
                detail: format!("{what} {BY_CONSOLE}"),
            }])
            .context("the change was made but writing its audit entry failed")
    }

    fn teams(&self, c: TeamsCommand) -> anyhow::Result<()> {
        match c {
            TeamsCommand::Add { id, name, agency } => {
                let team = Team {
                    id: TeamId(id),
                    name,
                    agency,
                };
                self.dir.add_team(&team)?;
                let what = format!(
                    "added team {} ({}, {})",
                    team.id,
                    team.name.trim(),
                    team.agency.trim()
                );
                self.audit_change(AuditKind::TeamAdded, None, None, what.clone())?;
                println!("{}.", capitalise(&what));
            }
            TeamsCommand::List => {
                let snap = self.dir.snapshot()?;
                let usernames = usernames(&snap.users);
                let rows = snap
                    .teams
                    .iter()
                    .map(|t| {
                        let managers: Vec<&str> = snap
                            .manages
                            .iter()
                            .filter(|(_, team)| *team == t.id)
                            .map(|(u, _)| name_of(&usernames, u))
                            .collect();
                        vec![
                            t.id.0.clone(),
                            t.name.clone(),
                            t.agency.clone(),
                            joined(&managers),
                        ]
                    })
                    .collect();
                print_table(&["ID", "NAME", "AGENCY", "MANAGERS"], rows, "teams");
            }
        }
        Ok(())
    }

    fn users(&self, c: UsersCommand) -> anyhow::Result<()> {
        match c {
            UsersCommand::Add {
                username,
                name,
                role,
                agency,
                team,
                password_stdin,
            } => {
                let team = team.map(|t| self.team(&t)).transpose()?;
                let (password, generated) = if password_stdin {
                    (read_password()?, false)
                } else {
                    (generate_password(), true)
                };
                let shown = password.clone();
                let user = self.dir.add_user(
                    NewUser {
                        username,
                        display_name: name,
                        role,
                        agency,
                        team,
                        password,
                    },
                    now(),
                )?;
                let what = format!(
                    "added user {} ({}, {}, {})",
                    user.username,
                    user.display_name,
                    user.role.as_str(),
                    user.team
                        .as_ref()
                        .map_or("no team".to_owned(), |t| format!("team {t}"))
                );
                self.audit_change(AuditKind::UserAdded, None, None, what.clone())?;
                println!("{}.", capitalise(&what));
                if generated {
                    println!(
                        "Password for {} (shown once; give it to them privately): {}",
                        user.username,
                        shown.expose()
                    );
                }
            }
            UsersCommand::List => {
                let snap = self.dir.snapshot()?;
                let rows = snap
                    .users
                    .iter()
                    .map(|u| {
                        let manages: Vec<&str> = snap
                            .manages
                            .iter()
                            .filter(|(m, _)| *m == u.id)
                            .map(|(_, t)| t.0.as_str())
                            .collect();
                        vec![
                            u.username.clone(),
                            u.display_name.clone(),
                            u.role.as_str().to_owned(),
                            u.agency.clone(),
                            u.team.as_ref().map_or("-".to_owned(), |t| t.0.clone()),
                            joined(&manages),
                            if u.active { "active" } else { "disabled" }.to_owned(),
                            u.id.0.clone(),
                        ]
                    })
                    .collect();
                print_table(
                    &[
                        "USERNAME", "NAME", "ROLE", "AGENCY", "TEAM", "MANAGES", "STATUS", "ID",
                    ],
                    rows,
                    "users",
                );
            }
            UsersCommand::Disable { username } => {
                let user = self.user(&username)?;
                self.dir.set_active(&user.id, false)?;
                self.changed_user(&format!("disabled user {}", user.username))?;
            }
            UsersCommand::Enable { username } => {
                let user = self.user(&username)?;
                self.dir.set_active(&user.id, true)?;
                self.changed_user(&format!("enabled user {}", user.username))?;
            }
            UsersCommand::SetPassword { username, .. } => {
                let user = self.user(&username)?;
                self.dir.set_password(&user.id, read_password()?)?;
                self.changed_user(&format!("set the password of {}", user.username))?;
                println!(
                    "Sessions already open stay open: `admin sessions expire {}` ends them.",
                    user.username
                );
            }
            UsersCommand::SetTeam { username, team } => {
                let user = self.user(&username)?;
                let team = match team.as_str() {
                    "none" => None,
                    t => Some(self.team(t)?),
                };
                self.dir.set_team(&user.id, team.as_ref())?;
                let to = team.map_or("no team".to_owned(), |t| format!("team {t}"));
                self.changed_user(&format!("moved user {} to {to}", user.username))?;
            }
            UsersCommand::SetRole { username, role } => {
                let user = self.user(&username)?;
                let managed = self
                    .dir
                    .snapshot()?
                    .manages
                    .into_iter()
                    .filter(|(m, _)| *m == user.id)
                    .count();
                self.dir.set_role(&user.id, role)?;
                self.changed_user(&format!(
                    "set the role of {} to {}",
                    user.username,
                    role.as_str()
                ))?;
                if role != Role::Manager && managed > 0 {
                    println!(
                        "{} no longer manages any team (was {managed}).",
                        user.username
                    );
                }
            }
            UsersCommand::Manage { username, team } => self.manage(&username, &team, true)?,
            UsersCommand::Unmanage { username, team } => self.manage(&username, &team, false)?,
        }
        Ok(())
    }

    fn changed_user(&self, what: &str) -> anyhow::Result<()> {
        self.audit_change(AuditKind::UserChanged, None, None, what.to_owned())?;
        println!("{}.", capitalise(what));
        Ok(())
    }

    fn manage(&self, username: &str, team: &str, on: bool) -> anyhow::Result<()> {
        let user = self.user(username)?;
        let team = self.team(team)?;
        self.dir.manage(&user.id, &team, on)?;
        let what = if on {
            format!("{} now manages team {team}", user.username)
        } else {
            format!("{} no longer manages team {team}", user.username)
        };
        self.changed_user(&what)
    }

    fn cases(&self, c: CasesCommand) -> anyhow::Result<()> {
        match c {
            CasesCommand::List => {
                let snap = self.dir.snapshot()?;
                let usernames = usernames(&snap.users);
                let user = |u: &Option<fieldbook_sync_server::accounts::UserId>| {
                    u.as_ref()
                        .map_or("-".to_owned(), |u| name_of(&usernames, u).to_owned())
                };
                let rows = snap
                    .cases
                    .iter()
                    .map(|c| {
                        vec![
                            c.doc.to_string(),
                            user(&c.allocated),
                            c.team.as_ref().map_or("-".to_owned(), |t| t.0.clone()),
                            user(&c.created_by),
                            iso(c.created_at),
                            c.part_of.map_or("-".to_owned(), |d| d.to_string()),
                        ]
                    })
                    .collect();
                print_table(
                    &[
                        "DOC",
                        "ALLOCATED",
                        "TEAM",
                        "CREATED BY",
                        "CREATED",
                        "PART OF",
                    ],
                    rows,
                    "cases",
                );
            }
            CasesCommand::Close { doc, on } => {
                let at = on.unwrap_or_else(now);
                self.dir.set_closed(&doc, Some(at))?;
                let what = format!("closed case {doc} on {}", &iso(at)[..10]);
                self.audit_change(AuditKind::CaseClosed, Some(doc), None, what.clone())?;
                println!("{}.", capitalise(&what));
            }
            CasesCommand::Reopen { doc } => {
                self.dir.set_closed(&doc, None)?;
                let what = format!("reopened case {doc}");
                self.audit_change(AuditKind::CaseReopened, Some(doc), None, what.clone())?;
                println!("{}.", capitalise(&what));
            }
            CasesCommand::Allocate { doc, to } => {
                let user = to.user.as_deref().map(|u| self.user(u)).transpose()?;
                let team = match (&to.team, &user) {
                    (Some(t), _) => Some(self.team(t)?),
                    (None, Some(u)) => u.team.clone(),
                    (None, None) => None,
                };
                self.dir
                    .allocate(&doc, user.as_ref().map(|u| &u.id), team.as_ref())?;
                let what = format!(
                    "allocated case {doc} to {} and {}",
                    user.as_ref()
                        .map_or("no worker".to_owned(), |u| format!("user {}", u.username)),
                    team.as_ref()
                        .map_or("no team".to_owned(), |t| format!("team {t}"))
                );
                self.audit_change(AuditKind::CaseAllocated, Some(doc), None, what.clone())?;
                println!("{}.", capitalise(&what));
            }
        }
        Ok(())
    }

    fn grants(&self, c: GrantsCommand) -> anyhow::Result<()> {
        match c {
            GrantsCommand::Add {
                doc,
                grantee,
                access,
            } => {
                let (grantee, shown) = self.grantee(&grantee)?;
                self.dir.add_grant(&doc, &grantee, access, None, now())?;
                let what = format!(
                    "granted {} access to case {doc} to {shown}",
                    access.as_str()
                );
                self.audit_change(AuditKind::GrantAdded, Some(doc), None, what.clone())?;
                println!("{}.", capitalise(&what));
            }
            GrantsCommand::Remove { doc, grantee } => {
                let (grantee, shown) = self.grantee(&grantee)?;
                let n = self.dir.remove_grant(&doc, &grantee)?;
                if n == 0 {
                    bail!("{shown} has no grant on case {doc} (see `admin grants list {doc}`)");
                }
                let what = format!("removed the grant on case {doc} to {shown}");
                self.audit_change(AuditKind::GrantRemoved, Some(doc), None, what.clone())?;
                println!("{}.", capitalise(&what));
            }
            GrantsCommand::List { doc } => {
                let snap = self.dir.snapshot()?;
                let usernames = usernames(&snap.users);
                let rows = snap
                    .grants
                    .iter()
                    .filter(|g| doc.is_none_or(|d| g.doc == d))
                    .map(|g| {
                        vec![
                            g.doc.to_string(),
                            match &g.grantee {
                                Grantee::User(u) => format!("user {}", name_of(&usernames, u)),
                                Grantee::Team(t) => format!("team {t}"),
                            },
                            g.access.as_str().to_owned(),
                            g.granted_by
                                .as_ref()
                                .map_or("administrator".to_owned(), |u| {
                                    name_of(&usernames, u).to_owned()
                                }),
                            iso(g.granted_at),
                        ]
                    })
                    .collect();
                print_table(
                    &["DOC", "GRANTEE", "ACCESS", "GRANTED BY", "GRANTED"],
                    rows,
                    "grants",
                );
            }
        }
        Ok(())
    }

    fn devices(&self, c: DevicesCommand) -> anyhow::Result<()> {
        match c {
            DevicesCommand::List { user } => {
                let user = user.map(|u| self.user(&u)).transpose()?;
                let users = self.dir.users()?;
                let usernames = usernames(&users);
                let rows = self
                    .dir
                    .devices(user.as_ref().map(|u| &u.id))?
                    .iter()
                    .map(|d| {
                        vec![
                            d.id.0.clone(),
                            name_of(&usernames, &d.user).to_owned(),
                            d.name.clone(),
                            iso(d.created_at),
                            d.last_seen.map_or("-".to_owned(), iso),
                            d.revoked_at.map_or("-".to_owned(), iso),
                        ]
                    })
                    .collect();
                print_table(
                    &["ID", "USER", "NAME", "CREATED", "LAST SEEN", "REVOKED"],
                    rows,
                    "devices",
                );
            }
            DevicesCommand::Revoke { device } => {
                let id = DeviceId(device);
                let Some(found) = self.dir.device(&id)? else {
                    bail!("there is no device {:?} (see `admin devices list`)", id.0);
                };
                let owner = self
                    .dir
                    .user(&found.user)?
                    .map_or(found.user.0.clone(), |u| u.username);
                self.dir.revoke_device(&id, now())?;
                let what = format!("revoked device {} ({}) of {owner}", id, cell(&found.name));
                self.audit_change(AuditKind::DeviceRevoked, None, Some(id), what.clone())?;
                println!("{}.", capitalise(&what));
            }
        }
        Ok(())
    }

    fn sessions(&self, c: SessionsCommand) -> anyhow::Result<()> {
        match c {
            SessionsCommand::Expire { username } => {
                let user = self.user(&username)?;
                let n = self.dir.expire_sessions(&user.id)?;
                let what = format!(
                    "ended {n} session{} of {}",
                    if n == 1 { "" } else { "s" },
                    user.username
                );
                self.audit_change(AuditKind::SessionsExpired, None, None, what.clone())?;
                println!("{}: they sign in again on each device.", capitalise(&what));
            }
        }
        Ok(())
    }

    fn erase(&self, doc: &DocumentId, reason: &str, by: &str) -> anyhow::Result<()> {
        let erased = self.dir.erase_case(doc, by, reason, now())?;
        let parts = erased.len() - 1;
        let what = format!(
            "erased case {doc}{} by {}: {}",
            match parts {
                0 => String::new(),
                1 => " and 1 part".to_owned(),
                n => format!(" and {n} parts"),
            },
            by.trim(),
            reason.trim()
        );
        self.audit_change(AuditKind::CaseErased, Some(*doc), None, what.clone())?;
        println!(
            "{}. A running server deletes its content within seconds; otherwise at its next start.",
            capitalise(&what)
        );
        Ok(())
    }

    fn erasures(&self, json: bool) -> anyhow::Result<()> {
        let rows = self.dir.erasures()?;
        if json {
            for e in &rows {
                let mut v = serde_json::to_value(e)?;
                v["time"] = serde_json::json!(iso(e.erased_at));
                v["content_removed"] = serde_json::json!(e.content_removed_at.is_some());
                println!("{v}");
            }
            return Ok(());
        }
        let table = rows
            .iter()
            .map(|e| {
                vec![
                    e.doc.to_string(),
                    e.part_of.map_or("-".to_owned(), |d| d.to_string()),
                    iso(e.erased_at),
                    e.erased_by.clone(),
                    if e.content_removed_at.is_some() {
                        "yes"
                    } else {
                        "no"
                    }
                    .to_owned(),
                    e.reason.clone(),
                ]
            })
            .collect();
        print_table(
            &[
                "DOC",
                "PART OF",
                "ERASED",
                "BY",
                "CONTENT REMOVED",
                "REASON",
            ],
            table,
            "erasures",
        );
        Ok(())
    }

    /// `admin alerts [--all] [--json]`: lone working check-ins past their time.
    fn alerts(&self, all: bool, json: bool) -> anyhow::Result<()> {
        let now = now();
        let rows = fieldbook_sync_server::lone::console_alerts(
            &self.dir,
            &self.master_key_file,
            now,
            all.then_some(0),
        )?;
        let mut rows = rows;
        // Open ones first, most overdue first; then late check-outs, newest first.
        rows.sort_by_key(|c| (c.checked_out_at.is_some(), c.expected_back));
        let status = |c: &fieldbook_sync_server::accounts::Checkin| {
            let late = fieldbook_sync_server::lone::minutes_late(c, now);
            match c.checked_out_at {
                None => format!("OPEN, {late} min overdue"),
                Some(_) => format!("checked out {late} min late"),
            }
        };
        if json {
            for c in &rows {
                println!(
                    "{}",
                    serde_json::json!({
                        "checkin": c.id,
                        "username": c.username,
                        "name": c.display_name,
                        "team": c.team,
                        "where": c.place,
                        "with_whom": c.with_whom,
                        "expected_back": iso(c.expected_back),
                        "checked_in_at": iso(c.checked_in_at),
                        "checked_out_at": c.checked_out_at.map(iso),
                        "alerted_at": c.alerted_at.map(iso),
                        "open": c.checked_out_at.is_none(),
                        "minutes_late": fieldbook_sync_server::lone::minutes_late(c, now),
                    })
                );
            }
            return Ok(());
        }
        let table = rows
            .iter()
            .map(|c| {
                vec![
                    status(c),
                    c.username.clone(),
                    c.display_name.clone(),
                    c.team.as_ref().map_or("-".to_owned(), |t| t.0.clone()),
                    iso(c.expected_back),
                    c.place.clone(),
                    c.with_whom.clone(),
                ]
            })
            .collect();
        print_table(
            &[
                "STATUS",
                "USER",
                "NAME",
                "TEAM",
                "EXPECTED BACK (UTC)",
                "WHERE",
                "WITH WHOM",
            ],
            table,
            if all {
                "lone working alerts or late check-outs"
            } else {
                "open lone working alerts"
            },
        );
        Ok(())
    }

    fn retention(&self, erase_reason: Option<String>, by: &str) -> anyhow::Result<()> {
        let cutoff = now().saturating_sub(
            i64::try_from(self.retention_days)
                .unwrap_or(i64::MAX)
                .saturating_mul(86_400_000),
        );
        let due: Vec<(DocumentId, Millis)> = self
            .dir
            .closed_cases()?
            .into_iter()
            .filter(|(_, closed)| *closed <= cutoff)
            .collect();
        match erase_reason {
            None => {
                if due.is_empty() {
                    println!(
                        "No closed case is older than the retention period ({} days).",
                        self.retention_days
                    );
                    return Ok(());
                }
                println!(
                    "Closed more than {} days ago; `admin retention --erase --reason \"…\"` would erase:",
                    self.retention_days
                );
                let rows = due
                    .iter()
                    .map(|(d, c)| vec![d.to_string(), iso(*c)[..10].to_owned()])
                    .collect();
                print_table(&["DOC", "CLOSED"], rows, "cases");
            }
            Some(reason) => {
                if due.is_empty() {
                    println!("Nothing to erase.");
                }
                for (doc, _) in due {
                    self.erase(&doc, &reason, by)?;
                }
            }
        }
        Ok(())
    }

    fn restrict(&self, doc: &DocumentId, reason: &str, allow: &[String]) -> anyhow::Result<()> {
        let mut readers = Vec::new();
        for name in allow.iter().map(|a| a.trim()).filter(|a| !a.is_empty()) {
            readers.push(self.user(name)?);
        }
        if readers.is_empty() {
            bail!(
                "name at least one person who may still read it: --allow <username>[,<username>…]"
            );
        }
        let ids: Vec<_> = readers.iter().map(|u| u.id.clone()).collect();
        self.dir.restrict(doc, reason, &ids, now())?;
        let names: Vec<&str> = readers.iter().map(|u| u.username.as_str()).collect();
        let what = format!(
            "restricted case {doc} (readable by {} only, no changes): {}",
            names.join(", "),
            reason.trim()
        );
        self.audit_change(AuditKind::CaseRestricted, Some(*doc), None, what.clone())?;
        println!("{}.", capitalise(&what));
        Ok(())
    }

    fn unrestrict(&self, doc: &DocumentId) -> anyhow::Result<()> {
        if !self.dir.unrestrict(doc)? {
            bail!("case {doc} is not restricted");
        }
        let what = format!("lifted the restriction on case {doc}");
        self.audit_change(AuditKind::CaseUnrestricted, Some(*doc), None, what.clone())?;
        println!("{}.", capitalise(&what));
        Ok(())
    }

    fn audit(&self, a: AuditArgs) -> anyhow::Result<()> {
        let rows = match (&a.subject.case, &a.subject.user) {
            (Some(doc), None) => self.dir.audit_for_case(doc)?,
            (None, Some(u)) => self.dir.audit_for_user(&self.user(u)?.id)?,
            _ => bail!("give exactly one of --case and --user"),
        };
        let users = self.dir.users()?;
        let usernames = usernames(&users);
        let username = |r: &AuditRow| r.user.as_ref().map(|u| name_of(&usernames, u).to_owned());
        if a.json {
            for r in &rows {
                let line = serde_json::json!({
                    "seq": r.seq,
                    "at": r.at,
                    "time": iso(r.at),
                    "kind": r.kind,
                    "user": r.user,
                    "username": username(r),
                    "user_name": r.user_name,
                    "device": r.device,
                    "device_name": r.device_name,
                    "case": r.case,
                    "address": r.address,
                    "detail": r.detail,
                });
                println!("{line}");
            }
            return Ok(());
        }
        let table = rows
            .iter()
            .map(|r| {
                let who = match (&r.user_name, username(r)) {
                    (Some(name), Some(u)) => format!("{name} ({u})"),
                    (None, Some(u)) => u,
                    _ => "-".to_owned(),
                };
                let device = match (&r.device_name, &r.device) {
                    (Some(name), Some(id)) => format!("{name} ({id})"),
                    (None, Some(id)) => id.0.clone(),
                    _ => "-".to_owned(),
                };
                vec![
                    iso(r.at),
                    r.kind.as_str().to_owned(),
                    who,
                    device,
                    r.address.clone().unwrap_or_else(|| "-".to_owned()),
                    r.detail.clone(),
                ]
            })
            .collect();
        print_table(
            &["TIME", "KIND", "USER", "DEVICE", "ADDRESS", "DETAIL"],
            table,
            "audit entries",
        );
        Ok(())
    }
}

/// Now, in milliseconds since the Unix epoch.
fn now() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn generate_password() -> Password {
    let mut rng = rand::rng();
    let text: String = (0..GENERATED_PASSWORD_CHARS)
        .map(|_| char::from(PASSWORD_ALPHABET[rng.random_range(0..PASSWORD_ALPHABET.len())]))
        .collect();
    Password::new(text)
}

/// The first line of standard input, without its line ending.
fn read_password() -> anyhow::Result<Password> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let line = line.strip_suffix('\n').unwrap_or(&line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.is_empty() {
        bail!("no password on standard input: pipe it in, e.g. `printf '%s\\n' \"$PASSWORD\" | … --password-stdin`");
    }
    Ok(Password::new(line.to_owned()))
}

fn usernames(users: &[User]) -> HashMap<&str, &str> {
    users
        .iter()
        .map(|u| (u.id.0.as_str(), u.username.as_str()))
        .collect()
}

fn name_of<'a>(
    usernames: &HashMap<&str, &'a str>,
    id: &'a fieldbook_sync_server::accounts::UserId,
) -> &'a str {
    usernames
        .get(id.0.as_str())
        .copied()
        .unwrap_or(id.0.as_str())
}

fn joined(items: &[&str]) -> String {
    if items.is_empty() {
        "-".to_owned()
    } else {
        items.join(",")
    }
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `ms` as UTC ISO 8601 to the second (`2026-11-25T21:26:57Z`).
fn iso(ms: Millis) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A cell with control characters escaped: device names come from browsers, and an escape
/// sequence must not drive the administrator's terminal.
fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Columns padded to their widest cell, two spaces apart; the last column is not padded.
fn print_table(headers: &[&str], rows: Vec<Vec<String>>, what: &str) {
    if rows.is_empty() {
        println!("No {what}.");
        return;
    }
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|r| r.iter().map(|c| cell(c)).collect())
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        let last = cells.len().saturating_sub(1);
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            out.push_str(c);
            if i < last {
                out.extend(std::iter::repeat_n(' ', w - c.chars().count() + 2));
            }
        }
        println!("{}", out.trim_end());
    };
    line(headers.to_vec());
    for r in &rows {
        line(r.iter().map(String::as_str).collect());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_midnight_utc_and_checked() {
        assert_eq!(parse_date("1970-01-01"), Ok(0));
        assert_eq!(parse_date("2000-02-29"), Ok(951_782_400_000));
        assert_eq!(
            iso(parse_date("2026-09-21").unwrap()),
            "2026-09-21T00:00:00Z"
        );
        for bad in [
            "2023-02-29",
            "2026-13-01",
            "2026-1-01",
            "26-01-01",
            "yesterday",
            "2026-01-01-",
        ] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn times_are_utc_iso_8601() {
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(iso(1_790_000_000_123), "2026-09-21T14:13:20Z");
        assert_eq!(iso(-1000), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn generated_passwords_are_long_and_unambiguous() {
        let a = generate_password();
        assert_eq!(a.expose().chars().count(), GENERATED_PASSWORD_CHARS);
        assert!(a.expose().bytes().all(|b| PASSWORD_ALPHABET.contains(&b)));
        assert!(!a.expose().contains(['0', 'O', '1', 'l', 'I']));
        assert_ne!(a, generate_password());
        assert!(fieldbook_sync_server::accounts::password::check(&a).is_ok());
    }

    #[test]
    fn cells_cannot_drive_the_terminal() {
        assert_eq!(cell("Phone\x1b[2J\nX"), "Phone\\u{1b}[2J\\nX");
        assert_eq!(cell("Ayesha's phone é"), "Ayesha's phone é");
    }

    #[test]
    fn document_ids_bare_or_as_urls() {
        let d = DocumentId::random();
        assert_eq!(parse_doc(&d.to_string()), Ok(d));
        assert_eq!(parse_doc(&d.to_url()), Ok(d));
        assert!(parse_doc("not-an-id")
            .unwrap_err()
            .contains("not a document id"));
        assert!(parse_role("boss")
            .unwrap_err()
            .contains("practitioner, manager, chair or administrator"));
        assert_eq!(parse_access("edit"), Ok(Access::Edit));
    }
}
