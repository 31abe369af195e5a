//! Lone working (docs/LONE-WORKING.md): a worker visiting alone checks in before the visit
//! (where, with whom, expected back by) and checks out after; when the expected time passes
//! without a check-out the server raises an alert to their manager.
//!
//! This is about the worker, not the child's file: it is the server's record (the
//! directory, `accounts::directory::checkins`), reached over the sign-in API —
//! `POST /api/checkins`, `POST /api/checkins/{id}/out`, `GET /api/checkins/mine`,
//! `GET /api/alerts` (managers) — and raised by a background scan ([`spawn_scanner`], every
//! `lone_working_scan_secs`). Where and with whom are sealed at rest and never logged: log
//! lines name only the check-in id and the user id.

// Handlers return a ready `Response` as their error: one per request, so its size is moot.
#![allow(clippy::result_large_err)]

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use fieldbook_sync::DocumentId;
use serde::Deserialize;
use serde_json::json;

use crate::access::Allowed;
use crate::accounts::{
    CheckOut, Checkin, Directory, DirectoryError, Millis, NewCheckin, Role, UserId,
};
use crate::api::{blocking, error, internal, now_ms, Auth};

/// The latest a worker may say they will be back: a day ahead.
pub const MAX_AHEAD_MS: Millis = 24 * 3_600_000;
/// Late check-outs stay on the manager's view this long.
pub const RECENT_LATE_MS: Millis = 24 * 3_600_000;
/// Longest "where" or "with whom", in characters.
pub const MAX_TEXT_CHARS: usize = crate::accounts::MAX_CHECKIN_TEXT_CHARS;

/// One problem with a check-in, for the error summary: the field it is about and what to do.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

/// A check-in as the app sends it.
#[derive(Deserialize, Default)]
pub struct CheckinBody {
    #[serde(default, rename = "where")]
    pub place: Option<String>,
    #[serde(default)]
    pub with_whom: Option<String>,
    /// Milliseconds since the epoch.
    #[serde(default)]
    pub expected_back: Option<serde_json::Value>,
    #[serde(default)]
    pub case: Option<String>,
}

/// A checked check-in: where, with whom (trimmed), expected back (ms) and the case.
#[derive(PartialEq, Eq)]
pub struct Valid {
    pub place: String,
    pub with_whom: String,
    pub expected_back: Millis,
    pub case: Option<DocumentId>,
}

impl std::fmt::Debug for Valid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Valid")
            .field("expected_back", &self.expected_back)
            .finish_non_exhaustive()
    }
}

fn text(
    field: &'static str,
    what: &str,
    value: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> String {
    let v = value.unwrap_or_default().trim();
    let problem = if v.is_empty() {
        Some(format!("Enter {what}"))
    } else if v.chars().count() > MAX_TEXT_CHARS {
        Some(format!(
            "{} must be {MAX_TEXT_CHARS} characters or fewer",
            capitalised(what)
        ))
    } else if v.chars().any(char::is_control) {
        Some(format!("{} must be on one line", capitalised(what)))
    } else {
        None
    };
    if let Some(message) = problem {
        errors.push(FieldError { field, message });
    }
    v.to_owned()
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Check a check-in at `now`: every problem, in the order of the form's fields.
pub fn validate(body: &CheckinBody, now: Millis) -> Result<Valid, Vec<FieldError>> {
    let mut errors = Vec::new();
    let place = text(
        "where",
        "where you are going",
        body.place.as_deref(),
        &mut errors,
    );
    let with_whom = text(
        "with_whom",
        "who you will be with",
        body.with_whom.as_deref(),
        &mut errors,
    );
    let expected_back = body.expected_back.as_ref().and_then(|v| v.as_i64());
    match expected_back {
        None => errors.push(FieldError {
            field: "expected_back",
            message: "Enter the time you expect to be back".into(),
        }),
        Some(t) if t <= now => errors.push(FieldError {
            field: "expected_back",
            message: "The time you expect to be back must be in the future".into(),
        }),
        Some(t) if t > now + MAX_AHEAD_MS => errors.push(FieldError {
            field: "expected_back",
            message: "The time you expect to be back must be within the next 24 hours".into(),
        }),
        Some(_) => {}
    }
    let case = match body
        .case
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        None => None,
        Some(c) => match c.parse::<DocumentId>() {
            Ok(d) => Some(d),
            Err(_) => {
                errors.push(FieldError {
                    field: "case",
                    message: "The case for this visit is not known".into(),
                });
                None
            }
        },
    };
    if errors.is_empty() {
        Ok(Valid {
            place,
            with_whom,
            expected_back: expected_back.unwrap_or_default(),
            case,
        })
    } else {
        Err(errors)
    }
}

fn problems(errors: Vec<FieldError>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({
            "error": errors.first().map(|e| e.message.clone()).unwrap_or_default(),
            "errors": errors,
        })),
    )
        .into_response()
}

/// A check-in as the API shows it (to its worker or their manager), at `now`.
pub fn view(c: &Checkin, now: Millis) -> serde_json::Value {
    json!({
        "id": c.id,
        "user": c.user,
        "display_name": c.display_name,
        "where": c.place,
        "with_whom": c.with_whom,
        "expected_back": c.expected_back,
        "checked_in_at": c.checked_in_at,
        "checked_out_at": c.checked_out_at,
        "alerted_at": c.alerted_at,
        "late": c.late(),
        "overdue": c.overdue(now),
        "minutes_late": minutes_late(c, now),
        "case": c.case,
    })
}

/// Whole minutes past the expected time: until now while open, until the check-out after.
pub fn minutes_late(c: &Checkin, now: Millis) -> i64 {
    let end = c.checked_out_at.unwrap_or(now);
    ((end - c.expected_back) / 60_000).max(0)
}

/// `POST /api/checkins`: answered only once the check-in is durable in the directory.
pub async fn check_in(
    State(auth): State<Arc<Auth>>,
    headers: HeaderMap,
    body: Result<Json<CheckinBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if !auth.origin_ok(&headers) {
        return error(StatusCode::FORBIDDEN, "This site may not use Fieldbook.");
    }
    let session = match auth.current_session(&headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Ok(Json(body)) = body else {
        return error(
            StatusCode::BAD_REQUEST,
            "Send JSON with where, with_whom and expected_back.",
        );
    };
    let now = now_ms();
    let valid = match validate(&body, now) {
        Ok(v) => v,
        Err(errors) => return problems(errors),
    };
    if let Some(case) = valid.case {
        let readable = auth
            .model
            .read()
            .map(|m| m.allowed(&session.user, &case) >= Allowed::Read)
            .unwrap_or(false);
        if !readable {
            return problems(vec![FieldError {
                field: "case",
                message: "The case for this visit is not known".into(),
            }]);
        }
    }
    let dir = auth.dir.clone();
    let wrap = auth.device_key_wrap.clone();
    let new = NewCheckin {
        user: session.user.clone(),
        device: Some(session.device.clone()),
        place: valid.place,
        with_whom: valid.with_whom,
        expected_back: valid.expected_back,
        case: valid.case,
    };
    let made = tokio::task::spawn_blocking(move || dir.check_in(new, now, &wrap)).await;
    match made {
        Ok(Ok(c)) => {
            tracing::info!(checkin = %c.id, user = %c.user, "lone working: checked in");
            (StatusCode::CREATED, Json(view(&c, now))).into_response()
        }
        Ok(Err(DirectoryError::Exists { .. })) => error(
            StatusCode::CONFLICT,
            "You are already checked in. Check out of that visit first.",
        ),
        Ok(Err(DirectoryError::Invalid(m))) => error(StatusCode::BAD_REQUEST, &m),
        Ok(Err(e)) => internal(e),
        Err(e) => internal(e),
    }
}

/// `POST /api/checkins/{id}/out`: only the worker who checked in.
pub async fn check_out(
    State(auth): State<Arc<Auth>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if !auth.origin_ok(&headers) {
        return error(StatusCode::FORBIDDEN, "This site may not use Fieldbook.");
    }
    let session = match auth.current_session(&headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let dir = auth.dir.clone();
    let now = now_ms();
    let (user, device) = (session.user.clone(), session.device.clone());
    let cid = id.clone();
    let done = match blocking(move || dir.check_out(&cid, &user, Some(&device), now)).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    match done {
        CheckOut::Done { late } => {
            tracing::info!(checkin = %id, user = %session.user, late, "lone working: checked out");
            Json(json!({ "checked_out_at": now, "late": late, "already": false })).into_response()
        }
        CheckOut::Already { at, late } => {
            Json(json!({ "checked_out_at": at, "late": late, "already": true })).into_response()
        }
        CheckOut::NotFound => error(StatusCode::NOT_FOUND, "There is no such check-in of yours."),
    }
}

/// `GET /api/checkins/mine`: the signed-in worker's open check-in, or null.
pub async fn mine(State(auth): State<Arc<Auth>>, headers: HeaderMap) -> Response {
    let session = match auth.current_session(&headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let dir = auth.dir.clone();
    let wrap = auth.device_key_wrap.clone();
    let user = session.user.clone();
    let now = now_ms();
    match blocking(move || dir.open_checkin(&user, &wrap)).await {
        Ok(c) => Json(json!({ "now": now, "checkin": c.map(|c| view(&c, now)) })).into_response(),
        Err(r) => r,
    }
}

/// `GET /api/alerts`: for managers, the open overdue check-ins of people in the teams they
/// manage (most overdue first) and those checked out late in the last day. Others: 403.
pub async fn alerts(State(auth): State<Arc<Auth>>, headers: HeaderMap) -> Response {
    let session = match auth.current_session(&headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let manager = auth
        .model
        .read()
        .map(|m| {
            m.user(&session.user)
                .is_some_and(|u| u.role == Role::Manager)
        })
        .unwrap_or(false);
    if !manager {
        return error(
            StatusCode::FORBIDDEN,
            "Only managers see lone working alerts.",
        );
    }
    let dir = auth.dir.clone();
    let wrap = auth.device_key_wrap.clone();
    let user: UserId = session.user.clone();
    let now = now_ms();
    let rows =
        match blocking(move || dir.team_alerts(&user, now, now - RECENT_LATE_MS, &wrap)).await {
            Ok(r) => r,
            Err(r) => return r,
        };
    let (open, closed): (Vec<_>, Vec<_>) = rows.iter().partition(|c| c.checked_out_at.is_none());
    let mut closed = closed;
    closed.sort_by_key(|c| std::cmp::Reverse(c.checked_out_at));
    Json(json!({
        "now": now,
        "open": open.iter().map(|c| view(c, now)).collect::<Vec<_>>(),
        "closed_late": closed.iter().map(|c| view(c, now)).collect::<Vec<_>>(),
    }))
    .into_response()
}

/// One look for overdue check-ins at `now`: each is marked alerted once, with an audit row
/// and a warning naming only the check-in id and the user id. What was raised.
pub fn scan(dir: &Directory, now: Millis) -> Result<Vec<(String, UserId)>, DirectoryError> {
    let raised = dir.raise_alerts(now)?;
    for (id, user) in &raised {
        tracing::warn!(checkin = %id, user = %user, "lone working: expected back and not checked out; manager alerted");
    }
    Ok(raised)
}

/// Run [`scan`] every `every` until `stop` turns true (or its sender is gone). A failed
/// scan is logged and the next one runs as usual.
pub fn spawn_scanner(
    dir: Directory,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                r = stop.wait_for(|s| *s) => {
                    drop(r);
                    return;
                }
            }
            let d = dir.clone();
            match tokio::task::spawn_blocking(move || scan(&d, now_ms())).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "lone working scan failed; trying again at the next interval")
                }
                Err(e) => {
                    tracing::error!(error = %e, "lone working scan task failed; trying again at the next interval")
                }
            }
        }
    })
}

/// For `admin alerts`: open check-ins past their expected time, and with `late_since` those
/// checked out late since then, opened with the server's master key (`FIELDBOOK_MASTER_KEY`,
/// else the file at `master_key_file`, which must exist: the console never makes a key).
pub fn console_alerts(
    dir: &Directory,
    master_key_file: &std::path::Path,
    now: Millis,
    late_since: Option<Millis>,
) -> anyhow::Result<Vec<Checkin>> {
    if std::env::var_os("FIELDBOOK_MASTER_KEY").is_none() && !master_key_file.exists() {
        anyhow::bail!(
            "there is no master key at {} (set master_key_file or FIELDBOOK_MASTER_KEY as the server has it)",
            master_key_file.display()
        );
    }
    let key = crate::storage::MasterKey::resolve(master_key_file)
        .map_err(|e| anyhow::anyhow!("master key: {e}"))?;
    let wrap = key
        .cipher()
        .map_err(|e| anyhow::anyhow!("master key: {e}"))?;
    Ok(dir.all_alerts(now, late_since, &wrap)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(place: &str, with: &str, back: Option<i64>) -> CheckinBody {
        CheckinBody {
            place: Some(place.into()),
            with_whom: Some(with.into()),
            expected_back: back.map(|b| json!(b)),
            case: None,
        }
    }

    #[test]
    fn every_problem_is_named_with_its_field() {
        let now = 1_000_000;
        let fields = |b: &CheckinBody| -> Vec<&'static str> {
            validate(b, now)
                .unwrap_err()
                .into_iter()
                .map(|e| e.field)
                .collect()
        };
        assert_eq!(
            fields(&body(" ", "", None)),
            vec!["where", "with_whom", "expected_back"]
        );
        assert_eq!(fields(&body("a", "b", Some(now))), vec!["expected_back"]);
        assert_eq!(
            fields(&body("a", "b", Some(now + MAX_AHEAD_MS + 1))),
            vec!["expected_back"]
        );
        assert_eq!(
            fields(&body(&"x".repeat(MAX_TEXT_CHARS + 1), "b", Some(now + 1))),
            vec!["where"]
        );
        assert_eq!(fields(&body("a\nb", "b", Some(now + 1))), vec!["where"]);
        let ok = validate(&body(" Invented Road ", "parent", Some(now + 60_000)), now).unwrap();
        assert_eq!(ok.place, "Invented Road");
        assert!(!format!("{ok:?}").contains("Invented"));
        let e = validate(&body("a", "b", Some(now - 1)), now).unwrap_err();
        assert_eq!(
            e[0].message,
            "The time you expect to be back must be in the future"
        );
    }
}
