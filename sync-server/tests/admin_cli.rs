//! The admin CLI, run as the real binary on a temporary data directory, checked against the
//! directory it writes (opened through the library, as the server does): on SQLite, or on
//! PostgreSQL when the test command asks (`support::database_for`).
mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use fieldbook_sync::DocumentId;
use fieldbook_sync_server::accounts::{
    AuditEntry, AuditKind, CaseRecord, Directory, Password, Role, TeamId,
};

const HOUR: i64 = 3_600_000;

struct Admin {
    dir: tempfile::TempDir,
}

impl Admin {
    fn new() -> Admin {
        Admin {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn directory(&self) -> Directory {
        support::directory_at(self.dir.path())
    }

    /// The binary, on this data directory's database when that is PostgreSQL.
    fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fieldbook-sync-server"));
        cmd.env_remove("FIELDBOOK_DATA_DIR")
            .env_remove("FIELDBOOK_DATABASE_URL");
        if let Some(url) = support::database_for(self.dir.path()) {
            cmd.env("FIELDBOOK_DATABASE_URL", url);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// `admin --data-dir DIR <args>`, with `stdin` piped in if given.
    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = self.command();
        cmd.arg("admin")
            .arg("--data-dir")
            .arg(self.dir.path())
            .args(args);
        run(cmd, stdin)
    }

    /// Runs and expects success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args, None);
        assert_success(&out, args);
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs and expects failure; returns stderr.
    fn fails(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        assert!(
            !out.status.success(),
            "{args:?} should fail; stdout: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stderr).unwrap()
    }
}

fn run(mut cmd: Command, stdin: Option<&str>) -> Output {
    if stdin.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd.spawn().unwrap();
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

fn assert_success(out: &Output, args: &[&str]) {
    assert!(
        out.status.success(),
        "{args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The line of `table` that contains `needle`.
fn line<'a>(table: &'a str, needle: &str) -> &'a str {
    table
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{table}"))
}

/// The character offset at which `column` starts in the header and `value` in `row`.
fn same_column(table: &str, column: &str, row: &str, value: &str) {
    let header = table.lines().next().unwrap();
    let at = |l: &str, s: &str| l[..l.find(s).unwrap()].chars().count();
    assert_eq!(at(header, column), at(row, value), "misaligned:\n{table}");
}

/// Whether the server's data in `dir` (its files, and its PostgreSQL database) holds
/// `needle`.
fn files_contain(dir: &Path, needle: &str) -> bool {
    support::data_as_stolen(dir)
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn an_administrator_sets_up_teams_users_and_access_and_reads_the_audit() {
    let a = Admin::new();
    let out = a.ok(&[
        "teams",
        "add",
        "north-cce",
        "--name",
        "North CCE",
        "--agency",
        "Northshire Council",
    ]);
    assert!(out.contains("Added team north-cce"), "{out}");
    a.ok(&[
        "teams",
        "add",
        "south-cce",
        "--name",
        "South CCE",
        "--agency",
        "Northshire Council",
    ]);

    // Without --password-stdin a password is generated and shown once; it works.
    let out = a.ok(&[
        "users",
        "add",
        "ayesha",
        "--name",
        "Ayesha Testwell",
        "--role",
        "practitioner",
        "--agency",
        "Northshire Council",
        "--team",
        "north-cce",
    ]);
    let generated = line(&out, "Password for ayesha")
        .rsplit(' ')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(generated.chars().count(), 20, "{out}");
    let dir = a.directory();
    let ayesha = dir
        .verify_password("ayesha", &Password::new(generated.clone()))
        .unwrap()
        .expect("the generated password signs in");
    assert_eq!(ayesha.team, Some(TeamId("north-cce".into())));

    let secret = "Mo's own long passphrase";
    let out = a.run(
        &[
            "users",
            "add",
            "mo",
            "--name",
            "Mo Example",
            "--role",
            "manager",
            "--agency",
            "Northshire Council",
            "--password-stdin",
        ],
        Some(&format!("{secret}\n")),
    );
    assert_success(&out, &["users add mo"]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains(secret));
    let mo = dir
        .verify_password("MO", &Password::new(secret.into()))
        .unwrap()
        .expect("the piped password signs in");
    assert_eq!(mo.role, Role::Manager);
    a.ok(&["users", "manage", "mo", "north-cce"]);
    a.ok(&["users", "manage", "mo", "south-cce"]);
    a.ok(&["users", "unmanage", "mo", "south-cce"]);

    let users = a.ok(&["users", "list"]);
    let mo_line = line(&users, "Mo Example");
    assert!(
        mo_line.contains("manager") && mo_line.contains("north-cce"),
        "{users}"
    );
    assert!(!mo_line.contains("south-cce"), "{users}");
    same_column(
        &users,
        "ROLE",
        line(&users, "Ayesha Testwell"),
        "practitioner",
    );
    same_column(&users, "STATUS", mo_line, "active");
    let teams = a.ok(&["teams", "list"]);
    assert!(line(&teams, "north-cce").contains("mo"), "{teams}");

    // A case the server registered, unallocated (as at start-up for older documents).
    let doc = DocumentId::random();
    assert!(dir
        .register_case(&CaseRecord {
            doc,
            allocated: None,
            team: None,
            created_by: None,
            created_at: now(),
            part_of: None,
        })
        .unwrap());
    let d = doc.to_string();
    let version = dir.access_version().unwrap();
    a.ok(&["cases", "allocate", &d, "--user", "ayesha"]);
    assert!(
        dir.access_version().unwrap() > version,
        "the server will notice"
    );
    let case = dir.case(&doc).unwrap().unwrap();
    assert_eq!(case.allocated, Some(ayesha.id.clone()));
    assert_eq!(
        case.team,
        Some(TeamId("north-cce".into())),
        "the worker's team"
    );
    let cases = a.ok(&["cases", "list"]);
    same_column(&cases, "ALLOCATED", line(&cases, &d), "ayesha");

    a.ok(&[
        "grants",
        "add",
        &doc.to_url(),
        "--team",
        "south-cce",
        "--access",
        "read",
    ]);
    a.ok(&["grants", "add", &d, "--user", "mo", "--access", "edit"]);
    let grants = a.ok(&["grants", "list", &d]);
    let team_line = line(&grants, "team south-cce");
    assert!(team_line.contains("read"), "{grants}");
    same_column(&grants, "ACCESS", team_line, "read");
    assert!(line(&grants, "user mo").contains("edit"), "{grants}");
    assert_eq!(dir.grants(Some(&doc)).unwrap().len(), 2);
    a.ok(&["grants", "remove", &d, "--team", "south-cce"]);
    assert_eq!(dir.grants(Some(&doc)).unwrap().len(), 1);

    // Devices: one signed in, then revoked from the console.
    let phone = dir
        .register_device(&ayesha.id, "Ayesha's phone", None, now())
        .unwrap();
    let (token, _) = dir
        .create_session(&ayesha.id, &phone.id, now(), HOUR)
        .unwrap();
    assert!(dir.session(&token, now()).unwrap().is_some());
    let devices = a.ok(&["devices", "list", "--user", "ayesha"]);
    assert!(
        line(&devices, &phone.id.0).contains("Ayesha's phone"),
        "{devices}"
    );
    let out = a.ok(&["devices", "revoke", &phone.id.0]);
    assert!(out.contains("Revoked device"), "{out}");
    assert_eq!(
        dir.session(&token, now()).unwrap(),
        None,
        "its session ended"
    );
    assert!(dir.device(&phone.id).unwrap().unwrap().revoked_at.is_some());
    let devices = a.ok(&["devices", "list"]);
    assert!(
        !line(&devices, &phone.id.0).ends_with('-'),
        "revoked shows a time: {devices}"
    );

    // Expiring sessions signs the user out everywhere but keeps their devices.
    let laptop = dir
        .register_device(&ayesha.id, "Laptop", None, now())
        .unwrap();
    let (t1, _) = dir
        .create_session(&ayesha.id, &laptop.id, now(), HOUR)
        .unwrap();
    let (t2, _) = dir
        .create_session(&ayesha.id, &laptop.id, now(), HOUR)
        .unwrap();
    let out = a.ok(&["sessions", "expire", "ayesha"]);
    assert!(out.contains("Ended 2 sessions of ayesha"), "{out}");
    assert_eq!(dir.session(&t1, now()).unwrap(), None);
    assert_eq!(dir.session(&t2, now()).unwrap(), None);
    assert_eq!(dir.devices(Some(&ayesha.id)).unwrap().len(), 2);

    // A connection's read, as the server records it, sits among the console's entries.
    dir.record(&[AuditEntry {
        at: now(),
        kind: AuditKind::CaseRead,
        user: Some(ayesha.id.clone()),
        device: Some(laptop.id.clone()),
        case: Some(doc),
        address: Some("192.0.2.10".into()),
        detail: "opened".into(),
    }])
    .unwrap();
    let audit = a.ok(&["audit", "--case", &d]);
    let kinds: Vec<&str> = audit
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "case-allocated",
            "grant-added",
            "grant-added",
            "grant-removed",
            "case-read"
        ],
        "{audit}"
    );
    let read = line(&audit, "case-read");
    assert!(read.contains("Ayesha Testwell (ayesha)"), "{audit}");
    assert!(read.contains(&format!("Laptop ({})", laptop.id)), "{audit}");
    same_column(&audit, "ADDRESS", read, "192.0.2.10");
    assert!(line(&audit, "case-allocated").contains("by administrator at the console"));
    let first = audit.lines().nth(1).unwrap();
    assert!(
        first.as_bytes()[..20]
            .iter()
            .filter(|b| **b == b'-')
            .count()
            == 2
            && first[..20].ends_with('Z')
            && &first[10..11] == "T",
        "UTC ISO 8601: {first}"
    );

    let json = a.ok(&["audit", "--case", &d, "--json"]);
    let rows: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[4]["kind"], "case-read");
    assert_eq!(rows[4]["username"], "ayesha");
    assert_eq!(rows[4]["user_name"], "Ayesha Testwell");
    assert_eq!(rows[4]["device_name"], "Laptop");
    assert_eq!(rows[0]["user"], serde_json::Value::Null);

    let by_user = a.ok(&["audit", "--user", "ayesha"]);
    assert_eq!(by_user.lines().count(), 2, "{by_user}");

    // Every console change left an entry, and no password reached the database.
    let console_entries = dir
        .audit_for_case(&doc)
        .unwrap()
        .iter()
        .filter(|r| r.detail.ends_with("by administrator at the console"))
        .count();
    assert_eq!(console_entries, 4);
    drop(dir);
    assert!(!files_contain(a.dir.path(), secret));
    assert!(!files_contain(a.dir.path(), &generated));
}

#[test]
fn users_are_changed_by_username() {
    let a = Admin::new();
    a.ok(&[
        "teams",
        "add",
        "north-cce",
        "--name",
        "North",
        "--agency",
        "Northshire Council",
    ]);
    a.ok(&[
        "users",
        "add",
        "ben",
        "--name",
        "Ben Sample",
        "--role",
        "practitioner",
        "--agency",
        "Northshire Council",
    ]);
    let dir = a.directory();
    a.ok(&["users", "disable", "BEN"]);
    assert!(!dir.user_by_username("ben").unwrap().unwrap().active);
    assert!(line(&a.ok(&["users", "list"]), "ben").contains("disabled"));
    a.ok(&["users", "enable", "ben"]);
    assert!(dir.user_by_username("ben").unwrap().unwrap().active);
    a.ok(&["users", "set-team", "ben", "north-cce"]);
    assert_eq!(
        dir.user_by_username("ben").unwrap().unwrap().team,
        Some(TeamId("north-cce".into()))
    );
    a.ok(&["users", "set-team", "ben", "none"]);
    assert_eq!(dir.user_by_username("ben").unwrap().unwrap().team, None);
    a.ok(&["users", "set-role", "ben", "manager"]);
    a.ok(&["users", "manage", "ben", "north-cce"]);
    let out = a.ok(&["users", "set-role", "ben", "practitioner"]);
    assert!(out.contains("no longer manages"), "{out}");
    assert!(dir.snapshot().unwrap().manages.is_empty());

    let out = a.run(
        &["users", "set-password", "ben", "--password-stdin"],
        Some("Ben's brand new passphrase\r\n"),
    );
    assert_success(&out, &["set-password"]);
    assert!(dir
        .verify_password("ben", &Password::new("Ben's brand new passphrase".into()))
        .unwrap()
        .is_some());
    let changes = a.directory().snapshot().unwrap();
    assert_eq!(changes.users.len(), 1);
}

#[test]
fn bad_input_fails_with_a_clear_message() {
    let a = Admin::new();
    a.ok(&[
        "teams",
        "add",
        "north-cce",
        "--name",
        "North",
        "--agency",
        "Northshire Council",
    ]);
    let add = |role: &'static str| {
        vec![
            "users",
            "add",
            "cara",
            "--name",
            "Cara Invented",
            "--role",
            role,
            "--agency",
            "Northshire Council",
        ]
    };

    let e = a.fails(&add("boss"), None);
    assert!(
        e.contains("use practitioner, manager, chair or administrator"),
        "{e}"
    );
    let mut short = add("practitioner");
    short.push("--password-stdin");
    let e = a.fails(&short, Some("too short\n"));
    assert!(e.contains("at least 12 characters"), "{e}");
    let e = a.fails(&short, Some(""));
    assert!(e.contains("no password on standard input"), "{e}");
    let mut team = add("practitioner");
    team.extend(["--team", "west"]);
    let e = a.fails(&team, None);
    assert!(e.contains("there is no team \"west\""), "{e}");
    a.ok(&add("practitioner"));
    let e = a.fails(&add("practitioner"), None);
    assert!(e.contains("user \"cara\" already exists"), "{e}");
    let e = a.fails(
        &["teams", "add", "north-cce", "--name", "N", "--agency", "A"],
        None,
    );
    assert!(e.contains("team \"north-cce\" already exists"), "{e}");
    let e = a.fails(
        &["teams", "add", "North CCE", "--name", "N", "--agency", "A"],
        None,
    );
    assert!(e.contains("not valid"), "{e}");

    let e = a.fails(&["users", "disable", "nobody"], None);
    assert!(e.contains("there is no user \"nobody\""), "{e}");
    let e = a.fails(&["users", "manage", "cara", "north-cce"], None);
    assert!(e.contains("set their role to manager first"), "{e}");
    let e = a.fails(&["users", "set-password", "cara"], None);
    assert!(e.contains("--password-stdin"), "{e}");
    let e = a.fails(&["cases", "allocate", "not-a-doc", "--user", "cara"], None);
    assert!(e.contains("is not a document id"), "{e}");
    let unknown = DocumentId::random().to_string();
    let e = a.fails(&["cases", "allocate", &unknown, "--user", "cara"], None);
    assert!(e.contains("is not known"), "{e}");
    let e = a.fails(&["cases", "allocate", &unknown], None);
    assert!(e.contains("--user") || e.contains("--team"), "{e}");
    let e = a.fails(
        &[
            "grants",
            "add",
            &unknown,
            "--user",
            "cara",
            "--team",
            "north-cce",
            "--access",
            "read",
        ],
        None,
    );
    assert!(e.contains("cannot be used with"), "{e}");
    let e = a.fails(
        &[
            "grants", "add", &unknown, "--user", "cara", "--access", "write",
        ],
        None,
    );
    assert!(e.contains("use read or edit"), "{e}");
    let e = a.fails(&["grants", "remove", &unknown, "--user", "cara"], None);
    assert!(e.contains("has no grant"), "{e}");
    let e = a.fails(&["devices", "revoke", "dev_0000000000000000"], None);
    assert!(e.contains("there is no device"), "{e}");
    let e = a.fails(&["audit"], None);
    assert!(e.contains("--case") && e.contains("--user"), "{e}");
    assert!(!e.contains("backtrace"), "{e}");

    // Listing a directory that has no database says so rather than creating one (an
    // embedded store's notion: no PostgreSQL URL here).
    let empty = tempfile::tempdir().unwrap();
    let mut cmd = a.command();
    cmd.env_remove("FIELDBOOK_DATABASE_URL")
        .args(["admin", "--data-dir"])
        .arg(empty.path())
        .args(["users", "list"]);
    let out = run(cmd, None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("there is no Fieldbook database"));
    assert!(!empty.path().join("fieldbook.sqlite3").exists());
}

#[test]
fn the_data_directory_is_found_as_the_server_finds_it() {
    let a = Admin::new();
    a.ok(&[
        "teams",
        "add",
        "north-cce",
        "--name",
        "North",
        "--agency",
        "Northshire Council",
    ]);

    // The server's own --data-dir before `admin`.
    let mut cmd = a.command();
    cmd.arg("--data-dir")
        .arg(a.dir.path())
        .args(["admin", "teams", "list"]);
    let out = run(cmd, None);
    assert_success(&out, &["--data-dir … admin teams list"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("north-cce"));

    // FIELDBOOK_DATA_DIR, as for the server.
    let mut cmd = a.command();
    cmd.env("FIELDBOOK_DATA_DIR", a.dir.path())
        .args(["admin", "teams", "list"]);
    let out = run(cmd, None);
    assert_success(&out, &["FIELDBOOK_DATA_DIR admin teams list"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("north-cce"));

    // data_dir in the --config file.
    let config = a.dir.path().join("server.toml");
    std::fs::write(
        &config,
        format!("data_dir = {:?}\n", a.dir.path().display().to_string()),
    )
    .unwrap();
    let mut cmd = a.command();
    cmd.args(["admin", "--config"])
        .arg(&config)
        .args(["teams", "list"]);
    let out = run(cmd, None);
    assert_success(&out, &["admin --config … teams list"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("north-cce"));
}

/// A registered case, as the server registers one on its first write.
fn registered(dir: &Directory) -> DocumentId {
    let doc = DocumentId::random();
    assert!(dir
        .register_case(&CaseRecord {
            doc,
            allocated: None,
            team: None,
            created_by: None,
            created_at: now(),
            part_of: None,
        })
        .unwrap());
    doc
}

#[test]
fn retention_lists_long_closed_cases_and_erases_them_only_when_asked() {
    let a = Admin::new();
    let dir = a.directory();
    let (old, recent, open, reopened) = (
        registered(&dir),
        registered(&dir),
        registered(&dir),
        registered(&dir),
    );
    let said = a.ok(&["cases", "close", &old.to_string(), "--on", "2015-03-01"]);
    assert!(
        said.contains("Closed case") && said.contains("2015-03-01"),
        "{said}"
    );
    a.ok(&["cases", "close", &recent.to_string()]);
    a.ok(&[
        "cases",
        "close",
        &reopened.to_string(),
        "--on",
        "2010-01-01",
    ]);
    a.ok(&["cases", "reopen", &reopened.to_string()]);
    let err = a.fails(
        &["cases", "close", &open.to_string(), "--on", "2015-02-30"],
        None,
    );
    assert!(err.contains("YYYY-MM-DD"), "{err}");

    // The dry run (the default) lists only the case closed beyond retention_days.
    let dry = a.ok(&["retention"]);
    assert!(
        dry.contains(&old.to_string()) && dry.contains("2015-03-01"),
        "{dry}"
    );
    for other in [recent, open, reopened] {
        assert!(!dry.contains(&other.to_string()), "{dry}");
    }
    assert!(
        dir.erasures().unwrap().is_empty(),
        "a dry run erases nothing"
    );
    assert_eq!(a.ok(&["erasures"]).trim(), "No erasures.");
    let err = a.fails(&["retention", "--erase"], None);
    assert!(err.contains("--reason"), "{err}");

    // A shorter council policy reaches the recent case too (config from the environment).
    let mut cmd = a.command();
    cmd.env("FIELDBOOK_RETENTION_DAYS", "1")
        .args(["admin", "--data-dir"])
        .arg(a.dir.path())
        .arg("retention");
    let out = run(cmd, None);
    assert_success(&out, &["retention"]);
    let short = String::from_utf8(out.stdout).unwrap();
    assert!(short.contains(&old.to_string()), "{short}");
    assert!(
        !short.contains(&recent.to_string()),
        "closed today: {short}"
    );

    let done = a.ok(&[
        "retention",
        "--erase",
        "--reason",
        "Retention schedule: 7 years after closure",
        "--by",
        "records-officer",
    ]);
    assert!(done.contains(&format!("Erased case {old}")), "{done}");
    let e = dir.erasures().unwrap();
    assert_eq!(e.len(), 1);
    assert_eq!(
        (e[0].doc, e[0].erased_by.as_str(), e[0].reason.as_str()),
        (
            old,
            "records-officer",
            "Retention schedule: 7 years after closure"
        )
    );
    assert_eq!(e[0].content_removed_at, None, "no server ran yet");
    let table = a.ok(&["erasures"]);
    same_column(
        &table,
        "CONTENT REMOVED",
        line(&table, &old.to_string()),
        "no",
    );
    let again = a.ok(&["retention"]);
    assert!(
        !again.contains(&old.to_string()),
        "erased cases leave the list: {again}"
    );
    let err = a.fails(&["erase-case", &old.to_string(), "--reason", "twice"], None);
    assert!(err.contains("already erased"), "{err}");
    let err = a.fails(
        &[
            "restrict-case",
            &old.to_string(),
            "--reason",
            "r",
            "--allow",
            "x",
        ],
        None,
    );
    assert!(err.contains("no user") || err.contains("erased"), "{err}");
    let audit = a.ok(&["audit", "--case", &old.to_string()]);
    for kind in ["case-closed", "case-erased"] {
        assert!(audit.contains(kind), "{audit}");
    }
    let audit = a.ok(&["audit", "--case", &reopened.to_string()]);
    assert!(audit.contains("case-reopened"), "{audit}");
}
