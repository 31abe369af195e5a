//! Lone working (docs/LONE-WORKING.md): check-in, check-out, the alert scan, the manager's
//! view and `admin alerts`, against the real server binary and the directory it writes.
mod support;

use std::path::Path;

use fieldbook_sync_server::accounts::{
    AuditKind, NewCheckin, NewUser, Password, Role, Team, TeamId,
};
use serde_json::json;
use support::{http, sign_in, ServerProcess, T};

/// Invented visit details: none of this may reach a file, a log or the audit.
const PLACE: &str = "Flat 9 Quorndale Invented Terrace";
const WITH: &str = "Invented uncle Bartholomew Quist";

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn post_checkin(
    s: &ServerProcess,
    cookie: &str,
    body: &serde_json::Value,
) -> support::HttpResponse {
    http(
        &s.addr,
        "POST",
        "/api/checkins",
        &[("Cookie", cookie)],
        Some(&body.to_string()),
    )
    .await
}

async fn get(s: &ServerProcess, cookie: &str, path: &str) -> support::HttpResponse {
    http(&s.addr, "GET", path, &[("Cookie", cookie)], None).await
}

async fn demo_cookie(s: &ServerProcess, username: &str) -> String {
    support::demo_person(&s.addr, username).await.cookie
}

/// Everything of the server's data in `dir` as someone holding it would read it (its files
/// read by `cat` in another process, and its PostgreSQL database's values), as lossy text.
fn files_as_seen_by_cat(dir: &Path) -> String {
    let bytes = support::data_as_stolen(dir);
    assert!(!bytes.is_empty(), "read nothing of the data in {dir:?}");
    String::from_utf8_lossy(&bytes).into_owned()
}

fn admin(data_dir: &Path, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    use std::io::Write;
    let mut child = support::admin_command(data_dir)
        .env_remove("FIELDBOOK_MASTER_KEY")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn a_check_in_is_validated_then_durable_and_sealed_before_the_answer() {
    let mut s = ServerProcess::start(&[]).await;
    let cookie = s.cookie.clone();
    // Every problem at once, named by field.
    let r = post_checkin(&s, &cookie, &json!({ "where": " ", "with_whom": "" })).await;
    assert_eq!(r.status, 400, "{r:?}");
    let fields: Vec<String> = r.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, ["where", "with_whom", "expected_back"]);
    let past = json!({ "where": PLACE, "with_whom": WITH, "expected_back": now_ms() - 1000 });
    let r = post_checkin(&s, &cookie, &past).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["error"],
        "The time you expect to be back must be in the future"
    );
    let far =
        json!({ "where": PLACE, "with_whom": WITH, "expected_back": now_ms() + 25 * 3_600_000 });
    assert_eq!(post_checkin(&s, &cookie, &far).await.status, 400);
    // Signed out: 401; from another site: 403.
    let good = json!({ "where": PLACE, "with_whom": WITH, "expected_back": now_ms() + 3_600_000 });
    assert_eq!(
        http(
            &s.addr,
            "POST",
            "/api/checkins",
            &[],
            Some(&good.to_string())
        )
        .await
        .status,
        401
    );
    assert_eq!(
        http(
            &s.addr,
            "POST",
            "/api/checkins",
            &[("Cookie", &cookie), ("Origin", "https://evil.example")],
            Some(&good.to_string())
        )
        .await
        .status,
        403
    );

    let r = post_checkin(&s, &cookie, &good).await;
    assert_eq!(r.status, 201, "{r:?}");
    let id = r.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(r.json()["where"], PLACE);
    // One open check-in at a time.
    assert_eq!(post_checkin(&s, &cookie, &good).await.status, 409);
    let mine = get(&s, &cookie, "/api/checkins/mine").await.json();
    assert_eq!(mine["checkin"]["id"], id.as_str());

    // Sealed at rest: neither text is in any file of the data directory.
    let bytes = files_as_seen_by_cat(s.dir.path());
    assert!(
        !bytes.contains(PLACE) && !bytes.contains(WITH),
        "check-in text found in the files"
    );
    assert!(
        bytes.contains(&id),
        "control: cat does read the directory's rows"
    );

    // Durable before the answer: the process dies at once, and the row is there.
    s.child.kill().await.unwrap();
    let dir = support::directory_at(s.dir.path());
    let ayo = dir.user_by_username("demo-ayo").unwrap().unwrap();
    let audit = dir.audit_for_user(&ayo.id).unwrap();
    let checked_in: Vec<_> = audit
        .iter()
        .filter(|r| r.kind == AuditKind::CheckedIn)
        .collect();
    assert_eq!(checked_in.len(), 1);
    assert!(checked_in[0].detail.contains(&id));
    assert!(audit
        .iter()
        .all(|r| !r.detail.contains("Quorndale") && !r.detail.contains("Quist")));
    // Nothing of it in the logs.
    let logs = s.stderr().join("\n");
    assert!(logs.contains(&id), "the check-in id is logged: {logs}");
    assert!(
        !logs.contains("Quorndale") && !logs.contains("Quist"),
        "{logs}"
    );
}

#[tokio::test]
async fn the_scan_alerts_the_manager_once_and_a_late_check_out_is_recorded() {
    let s = ServerProcess::start(&[("FIELDBOOK_LONE_WORKING_SCAN_SECS", "1")]).await;
    let ayo = s.cookie.clone();
    let cal = demo_cookie(&s, "demo-cal").await;
    let mo = demo_cookie(&s, "demo-mo").await;
    // A manager of no team of Ayo's: made with the console while the server runs.
    let (ok, _, err) = admin(
        s.dir.path(),
        &[
            "users",
            "add",
            "other-manager",
            "--name",
            "Other Manager (invented)",
            "--role",
            "manager",
            "--agency",
            "Invented Council",
            "--team",
            "south",
            "--password-stdin",
        ],
        Some("other-manager-password\n"),
    );
    assert!(ok, "{err}");
    let (ok, _, err) = admin(
        s.dir.path(),
        &["users", "manage", "other-manager", "south"],
        None,
    );
    assert!(ok, "{err}");
    // The server picks up the console's change within its access poll (250 ms).
    let deadline = tokio::time::Instant::now() + T;
    let other = loop {
        let r = sign_in(&s.addr, "other-manager", "other-manager-password").await;
        if let Some(c) = r.session_cookie().filter(|_| r.status == 200) {
            break c;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "other manager signs in: {r:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };

    let back = now_ms() + 1500;
    let r = post_checkin(
        &s,
        &ayo,
        &json!({ "where": PLACE, "with_whom": WITH, "expected_back": back }),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    let id = r.json()["id"].as_str().unwrap().to_owned();

    // Only the owner checks out.
    let out = format!("/api/checkins/{id}/out");
    let r = http(&s.addr, "POST", &out, &[("Cookie", &cal)], None).await;
    assert_eq!(r.status, 404, "{r:?}");
    // Workers may not see alerts.
    assert_eq!(get(&s, &ayo, "/api/alerts").await.status, 403);
    assert_eq!(get(&s, &cal, "/api/alerts").await.status, 403);

    // The real task, every second, raises the alert once the time passes.
    let line = s
        .wait_for_log("lone working: expected back and not checked out", T)
        .await;
    assert!(line.contains(&id), "{line}");
    assert!(
        !line.contains("Quorndale") && !line.contains("Quist"),
        "{line}"
    );

    let a = get(&s, &mo, "/api/alerts").await;
    assert_eq!(a.status, 200, "{a:?}");
    let a = a.json();
    let open = a["open"].as_array().unwrap();
    assert_eq!(open.len(), 1, "{a}");
    assert_eq!(open[0]["id"], id.as_str());
    assert_eq!(open[0]["where"], PLACE);
    assert_eq!(open[0]["with_whom"], WITH);
    assert_eq!(open[0]["display_name"], "Ayo Demo (practitioner, North)");
    assert!(open[0]["alerted_at"].is_i64());
    let o = get(&s, &other, "/api/alerts").await.json();
    assert_eq!(
        o["open"],
        json!([]),
        "a manager of another team sees nothing"
    );
    assert_eq!(o["closed_late"], json!([]));

    // The console lists it, readable.
    let (ok, table, err) = admin(s.dir.path(), &["alerts"], None);
    assert!(ok, "{err}");
    assert!(
        table.contains("OPEN") && table.contains("demo-ayo"),
        "{table}"
    );
    assert!(table.contains(PLACE) && table.contains(WITH), "{table}");

    // More scans run (Cal's alert, raised later, shows one did): Ayo's alert is still one.
    let n_alerts = || {
        let dir = support::directory_at(s.dir.path());
        let u = dir.user_by_username("demo-ayo").unwrap().unwrap();
        dir.audit_for_user(&u.id)
            .unwrap()
            .into_iter()
            .filter(|r| r.kind == AuditKind::CheckinAlert)
            .count()
    };
    let r = post_checkin(
        &s,
        &cal,
        &json!({ "where": "Invented cafe", "with_whom": "Invented youth", "expected_back": now_ms() + 1500 }),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    let cal_id = r.json()["id"].as_str().unwrap().to_owned();
    s.wait_for_log(&format!("manager alerted checkin={cal_id}"), T)
        .await;
    assert_eq!(n_alerts(), 1);
    let cal_out = format!("/api/checkins/{cal_id}/out");
    assert_eq!(
        http(&s.addr, "POST", &cal_out, &[("Cookie", &cal)], None)
            .await
            .status,
        200
    );

    let r = http(&s.addr, "POST", &out, &[("Cookie", &ayo)], None).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["late"], true);
    let mine = get(&s, &ayo, "/api/checkins/mine").await.json();
    assert!(mine["checkin"].is_null());
    let a = get(&s, &mo, "/api/alerts").await.json();
    assert_eq!(a["open"], json!([]));
    let closed = a["closed_late"].as_array().unwrap();
    let ayos = closed
        .iter()
        .find(|c| c["id"] == id.as_str())
        .expect("Ayo's late check-out");
    assert_eq!(ayos["late"], true);
    assert!(ayos["minutes_late"].is_i64());

    let (ok, table, _) = admin(s.dir.path(), &["alerts"], None);
    assert!(ok);
    assert_eq!(table.trim(), "No open lone working alerts.");
    let (ok, table, _) = admin(s.dir.path(), &["alerts", "--all"], None);
    assert!(ok);
    assert!(
        table.contains("checked out") && table.contains("demo-ayo"),
        "{table}"
    );
    let (ok, json_lines, _) = admin(s.dir.path(), &["alerts", "--all", "--json"], None);
    assert!(ok);
    let rows: Vec<serde_json::Value> = json_lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let row = rows.iter().find(|r| r["checkin"] == id.as_str()).unwrap();
    assert_eq!(row["open"], false);
    assert_eq!(row["where"], PLACE);
    assert_eq!(n_alerts(), 1);

    let logs = s.stderr().join("\n");
    assert!(
        !logs.contains("Quorndale") && !logs.contains("Quist"),
        "{logs}"
    );
}

/// The scan, sans-IO: driven with an injected `now`.
#[test]
fn the_scan_raises_each_overdue_check_in_once_at_the_injected_time() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = support::directory_at(tmp.path());
    dir.add_team(&Team {
        id: TeamId("north".into()),
        name: "North (invented)".into(),
        agency: "Invented Council".into(),
    })
    .unwrap();
    let worker = dir
        .add_user(
            NewUser {
                username: "ayo".into(),
                display_name: "Ayo Invented".into(),
                role: Role::Practitioner,
                agency: "Invented Council".into(),
                team: Some(TeamId("north".into())),
                password: Password::new("a long invented password".into()),
            },
            0,
        )
        .unwrap();
    let key = fieldbook_sync_server::storage::MasterKey::generate().unwrap();
    let key_file = tmp.path().join("master.key");
    std::fs::write(&key_file, key.to_base64().as_bytes()).unwrap();
    assert!(
        fieldbook_sync_server::lone::console_alerts(&dir, &key_file, 0, None)
            .unwrap()
            .is_empty()
    );
    let c = dir
        .check_in(
            NewCheckin {
                user: worker.id.clone(),
                device: None,
                place: PLACE.into(),
                with_whom: WITH.into(),
                expected_back: 100_000,
                case: None,
            },
            10_000,
            &key.cipher().unwrap(),
        )
        .unwrap()
        .id;
    let scan = |t| fieldbook_sync_server::lone::scan(&dir, t).unwrap();
    assert!(scan(99_999).is_empty(), "not before the time");
    assert_eq!(scan(100_000), vec![(c.clone(), worker.id.clone())]);
    assert!(scan(100_001).is_empty(), "once");
    assert!(scan(10_000_000).is_empty(), "still once");
    let alerted =
        fieldbook_sync_server::lone::console_alerts(&dir, &key_file, 200_000, None).unwrap();
    assert_eq!(alerted.len(), 1);
    assert_eq!(alerted[0].alerted_at, Some(100_000));
    assert_eq!(alerted[0].place, PLACE);
}
