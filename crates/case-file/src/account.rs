//! Who is signed in on this device, as the PWA keeps it, and what the sign-in API's answers
//! mean (contract: `docs/ACCESS.md`). Plain data and pure decisions, so they are tested
//! natively; the app only sends the requests and shows the results.
//!
//! The account record holds no secret: the session cookie is `HttpOnly`, so the browser
//! sends it and the app never sees it. The record says who the device's work belongs to, so
//! the app can refuse to hand a device with one person's unsent changes to someone else.

use fieldbook_sync::DocumentId;
use serde::{Deserialize, Serialize};

use crate::validate::FieldError;
use crate::vocab;

/// The setting (in the device's store) that holds the [`Account`] as JSON.
pub const SETTING: &str = "account";

/// The longest device name sent to the server.
pub const DEVICE_NAME_MAX: usize = 60;

/// The form fields' ids (the error summary links to them).
pub const USERNAME_FIELD: &str = "username";
pub const PASSWORD_FIELD: &str = "password";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Practitioner,
    Manager,
    /// A child protection chair: reviews Moderate and High assessments.
    Chair,
    Administrator,
}

impl Role {
    /// How the role is shown to people.
    pub fn label(self) -> &'static str {
        match self {
            Role::Practitioner => "Practitioner",
            Role::Manager => "Manager",
            Role::Chair => "Child protection chair",
            Role::Administrator => "Administrator",
        }
    }
}

/// The person signed in on this device (or, with `signed_out`, the last one), as stored in
/// the device's settings under [`SETTING`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub user_id: String,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub agency: String,
    /// `None` for someone in no team (an administrator, say).
    pub team: Option<String>,
    pub device_id: String,
    pub device_name: String,
    /// This user's caseload index document (written only by the server).
    pub caseload: DocumentId,
    /// When the session ends (ms since the epoch); the server decides, this is for showing.
    pub expires_at: i64,
    /// The person signed out on purpose: cases stay on the device but are not shown until
    /// they sign in again (someone else signing in is refused while their changes are unsent).
    pub signed_out: bool,
}

/// The `reason` of a 401 from the sign-in API (docs/ACCESS.md): the session ended or was
/// never there (sign in again, unsent work kept) ...
pub const REASON_SIGNED_OUT: &str = "signed-out";
/// ... or it belongs to a device an administrator revoked (the device wipes itself).
pub const REASON_DEVICE_REVOKED: &str = "device-revoked";

/// Why an answer from the server or a stored record could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error("the server's answer could not be read: {0}")]
    Json(String),
    #[error("the server's answer names a caseload that is not a document id")]
    Caseload,
}

fn json_error(e: serde_json::Error) -> AccountError {
    // serde_json's messages name the field and position; the values in these bodies are the
    // worker's own details, never case content or a secret.
    AccountError::Json(e.to_string())
}

/// The session body of `POST /api/session` and `GET /api/session`.
#[derive(Deserialize)]
struct SessionBody {
    user: UserBody,
    device: DeviceBody,
    caseload: String,
    expires_at: i64,
}

#[derive(Deserialize)]
struct UserBody {
    id: String,
    username: String,
    display_name: String,
    role: Role,
    #[serde(default)]
    agency: String,
    #[serde(default)]
    team: Option<String>,
}

#[derive(Deserialize)]
struct DeviceBody {
    id: String,
    name: String,
}

/// The record as stored on the device (flat; field names are the stored format).
#[derive(Serialize, Deserialize)]
struct Stored {
    user_id: String,
    username: String,
    display_name: String,
    role: Role,
    agency: String,
    team: Option<String>,
    device_id: String,
    device_name: String,
    caseload: String,
    expires_at: i64,
    #[serde(default)]
    signed_out: bool,
}

fn caseload(s: &str) -> Result<DocumentId, AccountError> {
    s.parse().map_err(|_| AccountError::Caseload)
}

impl Account {
    /// Read a session body (the answer to a sign-in or a session check).
    pub fn from_session_body(body: &str) -> Result<Account, AccountError> {
        let b: SessionBody = serde_json::from_str(body).map_err(json_error)?;
        Ok(Account {
            user_id: b.user.id,
            username: b.user.username,
            display_name: b.user.display_name,
            role: b.user.role,
            agency: b.user.agency,
            team: b.user.team.filter(|t| !t.is_empty()),
            device_id: b.device.id,
            device_name: b.device.name,
            caseload: caseload(&b.caseload)?,
            expires_at: b.expires_at,
            signed_out: false,
        })
    }

    /// Read the record kept on the device.
    pub fn from_stored(json: &str) -> Result<Account, AccountError> {
        let s: Stored = serde_json::from_str(json).map_err(json_error)?;
        Ok(Account {
            user_id: s.user_id,
            username: s.username,
            display_name: s.display_name,
            role: s.role,
            agency: s.agency,
            team: s.team,
            device_id: s.device_id,
            device_name: s.device_name,
            caseload: caseload(&s.caseload)?,
            expires_at: s.expires_at,
            signed_out: s.signed_out,
        })
    }

    /// The record to keep on the device.
    pub fn to_stored(&self) -> String {
        let s = Stored {
            user_id: self.user_id.clone(),
            username: self.username.clone(),
            display_name: self.display_name.clone(),
            role: self.role,
            agency: self.agency.clone(),
            team: self.team.clone(),
            device_id: self.device_id.clone(),
            device_name: self.device_name.clone(),
            caseload: self.caseload.to_string(),
            expires_at: self.expires_at,
            signed_out: self.signed_out,
        };
        serde_json::to_string(&s).expect("plain strings and numbers always serialise")
    }

    /// Signed in now: the record is shown and the device may connect.
    pub fn is_signed_in(&self) -> bool {
        !self.signed_out
    }

    /// The device id to send when `username` signs in: this device's id with its last
    /// account, only if it is that account signing in again (another person's sign-in
    /// registers a device of their own).
    pub fn device_id_for(&self, username: &str) -> Option<&str> {
        self.username
            .trim()
            .eq_ignore_ascii_case(username.trim())
            .then_some(self.device_id.as_str())
            .filter(|d| !d.is_empty())
    }
}

/// The body of `POST /api/session`.
pub fn sign_in_body(
    username: &str,
    password: &str,
    device_name: &str,
    device_id: Option<&str>,
) -> String {
    #[derive(Serialize)]
    struct Body<'a> {
        username: &'a str,
        password: &'a str,
        device_name: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        device_id: Option<&'a str>,
    }
    serde_json::to_string(&Body {
        username: username.trim(),
        password,
        device_name,
        device_id,
    })
    .expect("plain strings always serialise")
}

/// The form's own checks, before anything is sent (GOV.UK wording).
pub fn check_form(username: &str, password: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if username.trim().is_empty() {
        errors.push(SignInProblem::NoUsername.to_field_error());
    }
    if password.is_empty() {
        errors.push(SignInProblem::NoPassword.to_field_error());
    }
    errors
}

/// Why a sign-in did not succeed, as the person is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInProblem {
    NoUsername,
    NoPassword,
    /// 401: whatever the reason (unknown user, wrong password, disabled, revoked device).
    Incorrect,
    /// 429: minutes to wait, from `Retry-After` (`None` if it was missing or unreadable).
    Throttled(Option<u64>),
    /// The request did not reach the server (no signal, server down).
    Unreachable,
    /// 403: the page was not opened from the server's own address.
    ForeignOrigin,
    /// Any other answer (a server fault, a proxy's error page), with its status.
    Server(u16),
    /// A 200 whose body is not a session.
    BadAnswer,
    /// A different person signed in while this device holds unsent changes of `0` (their
    /// display name).
    OthersUnsent(String),
    /// A different person signed in before every case on the device was opened, so whether
    /// any change is unsent is not known yet.
    StillOpening,
    /// The device's store refused the account or the wipe (the error, in words).
    Device(String),
}

impl SignInProblem {
    pub fn message(&self) -> String {
        match self {
            SignInProblem::NoUsername => "Enter your username".to_owned(),
            SignInProblem::NoPassword => "Enter your password".to_owned(),
            SignInProblem::Incorrect => "Enter a correct username and password".to_owned(),
            SignInProblem::Throttled(Some(m)) => format!(
                "Too many attempts. Try again in {}.",
                vocab::count(*m as usize, "minute", "minutes")
            ),
            SignInProblem::Throttled(None) => {
                "Too many attempts. Try again in a few minutes.".to_owned()
            }
            SignInProblem::Unreachable => {
                "Fieldbook cannot reach the server. Check your signal and try again.".to_owned()
            }
            SignInProblem::ForeignOrigin => {
                "The server refused a sign-in from this address. Open Fieldbook from the address your organisation gave you.".to_owned()
            }
            SignInProblem::Server(status) => format!(
                "Fieldbook's server could not sign you in (error {status}). Try again in a few minutes."
            ),
            SignInProblem::BadAnswer => {
                "Fieldbook's server gave an answer this app cannot read. Try again, or reload the page to get the latest app.".to_owned()
            }
            SignInProblem::OthersUnsent(name) => format!(
                "This device has changes from {name} that have not been sent. Ask them to sign in and send them first."
            ),
            SignInProblem::StillOpening => {
                "Fieldbook is still opening the cases on this device. Try again in a moment.".to_owned()
            }
            SignInProblem::Device(e) => format!("Fieldbook could not store your sign-in on this device: {e}"),
        }
    }

    /// The field the error summary links to.
    pub fn field(&self) -> &'static str {
        match self {
            SignInProblem::NoPassword => PASSWORD_FIELD,
            _ => USERNAME_FIELD,
        }
    }

    pub fn to_field_error(&self) -> FieldError {
        FieldError {
            field: self.field().to_owned(),
            message: self.message(),
        }
    }
}

/// Minutes to wait from a `Retry-After` header in seconds (rounded up, at least one).
/// `None` for an HTTP date or anything unreadable.
pub fn retry_minutes(retry_after: Option<&str>) -> Option<u64> {
    let secs: u64 = retry_after?.trim().parse().ok()?;
    Some(secs.div_ceil(60).max(1))
}

/// What the answer to `POST /api/session` means.
pub fn sign_in_answer(
    status: u16,
    retry_after: Option<&str>,
    body: &str,
) -> Result<Account, SignInProblem> {
    match status {
        200 => Account::from_session_body(body).map_err(|_| SignInProblem::BadAnswer),
        401 => Err(SignInProblem::Incorrect),
        403 => Err(SignInProblem::ForeignOrigin),
        429 => Err(SignInProblem::Throttled(retry_minutes(retry_after))),
        s => Err(SignInProblem::Server(s)),
    }
}

/// What `GET /api/session` said about this device's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Session {
    Valid(Account),
    /// 401: expired, ended, device revoked or user disabled. The person must sign in again.
    Ended,
    /// Anything else (a server fault, a proxy, an unreadable body): not a reason to sign
    /// anyone out; the connection keeps retrying as when offline.
    Unknown,
}

pub fn session_answer(status: u16, body: &str) -> Session {
    match status {
        200 => Account::from_session_body(body).map_or(Session::Unknown, Session::Valid),
        401 => Session::Ended,
        _ => Session::Unknown,
    }
}

/// What to do with the device's data when `new` has signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Switch {
    /// The same person (or the first sign-in on a device with no account): keep everything.
    Keep,
    /// Someone else, and nothing of the last person's is unsent: delete the local database
    /// and start afresh for the new person.
    Wipe,
    /// Someone else, and the device has unsent changes (or cannot tell yet): refuse.
    Refuse(SignInProblem),
}

/// Decide [`Switch`]. `unsent`: the device holds changes the server has not confirmed
/// (`None` while the device is still opening its cases, so it cannot tell).
///
/// A device with no account record keeps its data for whoever signs in first: its cases
/// come from before sign-in existed, when every device shared one caseload.
pub fn switch(stored: Option<&Account>, new: &Account, unsent: Option<bool>) -> Switch {
    let Some(old) = stored else {
        return Switch::Keep;
    };
    if old.user_id == new.user_id {
        return Switch::Keep;
    }
    match unsent {
        Some(false) => Switch::Wipe,
        Some(true) => Switch::Refuse(SignInProblem::OthersUnsent(old.display_name.clone())),
        None => Switch::Refuse(SignInProblem::StillOpening),
    }
}

/// The device name sent with a sign-in ("Chrome on Android"), from the browser's user agent
/// string: shown to administrators in the device list, so plain words, never the whole
/// string, and at most [`DEVICE_NAME_MAX`] characters.
pub fn device_name(user_agent: &str) -> String {
    let ua = user_agent;
    let has = |s: &str| ua.contains(s);
    // Order matters: most browsers' strings also name the engines they are compatible with.
    let browser = if has("Edg/") || has("EdgA/") || has("EdgiOS/") {
        Some("Edge")
    } else if has("OPR/") || has("Opera") {
        Some("Opera")
    } else if has("SamsungBrowser/") {
        Some("Samsung Internet")
    } else if has("Firefox/") || has("FxiOS/") {
        Some("Firefox")
    } else if has("Chromium/") {
        Some("Chromium")
    } else if has("HeadlessChrome/") {
        Some("Headless Chrome")
    } else if has("Chrome/") || has("CriOS/") {
        Some("Chrome")
    } else if has("Safari/") && has("Version/") {
        Some("Safari")
    } else {
        None
    };
    let os = if has("Android") {
        Some("Android")
    } else if has("iPhone") {
        Some("iPhone")
    } else if has("iPad") {
        Some("iPad")
    } else if has("CrOS") {
        Some("ChromeOS")
    } else if has("Windows") {
        Some("Windows")
    } else if has("Mac OS X") || has("Macintosh") {
        Some("macOS")
    } else if has("Linux") {
        Some("Linux")
    } else {
        None
    };
    let name = match (browser, os) {
        (Some(b), Some(o)) => format!("{b} on {o}"),
        (Some(b), None) => b.to_owned(),
        (None, Some(o)) => format!("Web browser on {o}"),
        (None, None) => "Web browser".to_owned(),
    };
    name.trim().chars().take(DEVICE_NAME_MAX).collect()
}

/// One row of "who has opened this file" (`GET /api/cases/{id}/audit`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AuditRow {
    /// ms since the epoch.
    pub at: i64,
    pub kind: String,
    #[serde(default)]
    pub user_name: Option<String>,
    #[serde(default)]
    pub device_name: Option<String>,
}

impl AuditRow {
    /// What happened, in words.
    pub fn action(&self) -> &str {
        match self.kind.as_str() {
            "case-read" => "read",
            "case-changed" => "changed",
            "write-refused" => "change refused (read only)",
            "case-registered" => "created",
            "case-allocated" => "allocated",
            "grant-added" => "access given",
            "grant-removed" => "access removed",
            other => other,
        }
    }

    pub fn who(&self) -> &str {
        self.user_name.as_deref().unwrap_or("Unknown person")
    }

    pub fn device(&self) -> &str {
        self.device_name.as_deref().unwrap_or("unknown device")
    }
}

/// Read the audit rows (newest first, as the server sends them).
pub fn audit_rows(body: &str) -> Result<Vec<AuditRow>, AccountError> {
    serde_json::from_str(body).map_err(json_error)
}

/// What the person is told when "who has opened this file" could not be shown.
pub fn audit_problem(status: Option<u16>) -> String {
    match status {
        None => "Fieldbook cannot reach the server to show who has opened this file. Check your signal and try again.".to_owned(),
        Some(401) => "Sign in again to see who has opened this file.".to_owned(),
        Some(404) => "You cannot see who has opened this file: it is not in a team you manage.".to_owned(),
        Some(s) => format!("Fieldbook could not show who has opened this file (server error {s}). Try again later."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(caseload: &str) -> String {
        format!(
            r#"{{"user":{{"id":"u-1","username":"ajones","display_name":"Alex Jones","role":"practitioner","agency":"Northshire Council","team":"north-cce"}},
               "device":{{"id":"d-1","name":"Chrome on Android"}},
               "caseload":"{caseload}","expires_at":1790000000000}}"#
        )
    }

    fn account() -> Account {
        Account::from_session_body(&body(&DocumentId::random().to_string())).unwrap()
    }

    #[test]
    fn a_session_body_is_read_into_an_account() {
        let index = DocumentId::random();
        let a = Account::from_session_body(&body(&index.to_string())).unwrap();
        assert_eq!(a.user_id, "u-1");
        assert_eq!(a.username, "ajones");
        assert_eq!(a.display_name, "Alex Jones");
        assert_eq!(a.role, Role::Practitioner);
        assert_eq!(a.agency, "Northshire Council");
        assert_eq!(a.team.as_deref(), Some("north-cce"));
        assert_eq!(
            (a.device_id.as_str(), a.device_name.as_str()),
            ("d-1", "Chrome on Android")
        );
        assert_eq!(a.caseload, index);
        assert_eq!(a.expires_at, 1_790_000_000_000);
        assert!(a.is_signed_in());
    }

    #[test]
    fn a_session_body_with_no_team_and_unknown_extra_fields_is_read() {
        let index = DocumentId::random();
        let b = format!(
            r#"{{"user":{{"id":"u-2","username":"admin","display_name":"Sam Admin","role":"administrator","agency":"","team":null,"new":1}},
               "device":{{"id":"d","name":"n"}},"caseload":"{index}","expires_at":1,"extra":true}}"#
        );
        let a = Account::from_session_body(&b).unwrap();
        assert_eq!(a.role, Role::Administrator);
        assert_eq!(a.team, None);
    }

    #[test]
    fn bad_session_bodies_are_errors_not_accounts() {
        let index = DocumentId::random().to_string();
        let good = body(&index);
        for bad in [
            String::new(),
            "not json".to_owned(),
            "{}".to_owned(),
            r#"{"error":"Enter a correct username and password"}"#.to_owned(),
            good.replace("\"caseload\"", "\"caseloads\""),
            good.replace("practitioner", "superuser"),
            good.replace("1790000000000", "\"soon\""),
            good.replace("\"u-1\"", "7"),
        ] {
            assert!(
                matches!(Account::from_session_body(&bad), Err(AccountError::Json(_))),
                "{bad:?}"
            );
        }
        assert_eq!(
            Account::from_session_body(&body("not-a-document-id")),
            Err(AccountError::Caseload)
        );
    }

    #[test]
    fn the_stored_record_round_trips_with_its_signed_out_mark() {
        let mut a = account();
        assert_eq!(Account::from_stored(&a.to_stored()).unwrap(), a);
        a.signed_out = true;
        let back = Account::from_stored(&a.to_stored()).unwrap();
        assert!(back.signed_out && !back.is_signed_in());
        assert!(Account::from_stored("{").is_err());
        // A record written before the mark existed reads as signed in.
        let old = a.to_stored().replace(",\"signed_out\":true", "");
        assert!(!old.contains("signed_out"));
        assert!(Account::from_stored(&old).unwrap().is_signed_in());
    }

    #[test]
    fn the_stored_record_and_the_sign_in_body_hold_no_password() {
        let body = sign_in_body(" ajones ", "hunter2-secret", "Chrome on Linux", Some("d-1"));
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["username"], "ajones");
        assert_eq!(v["password"], "hunter2-secret");
        assert_eq!(v["device_name"], "Chrome on Linux");
        assert_eq!(v["device_id"], "d-1");
        let first = sign_in_body("ajones", "pw", "Chrome on Linux", None);
        let v: serde_json::Value = serde_json::from_str(&first).unwrap();
        assert!(v.get("device_id").is_none(), "{first}");
        assert!(!account().to_stored().contains("password"));
    }

    #[test]
    fn the_device_id_is_sent_only_when_the_same_username_signs_in_again() {
        let a = account();
        assert_eq!(a.device_id_for("ajones"), Some("d-1"));
        assert_eq!(a.device_id_for(" AJones "), Some("d-1"));
        assert_eq!(a.device_id_for("bsmith"), None);
    }

    #[test]
    fn the_form_asks_for_what_is_missing_and_links_to_the_field() {
        let e = check_form("  ", "");
        assert_eq!(
            e.iter()
                .map(|e| (e.field.as_str(), e.message.as_str()))
                .collect::<Vec<_>>(),
            [
                ("username", "Enter your username"),
                ("password", "Enter your password")
            ]
        );
        assert!(
            check_form("ajones", " ").is_empty(),
            "a password may be spaces"
        );
        assert_eq!(check_form("ajones", "")[0].field, "password");
    }

    #[test]
    fn answers_to_a_sign_in_become_accounts_or_the_right_words() {
        let index = DocumentId::random();
        assert_eq!(
            sign_in_answer(200, None, &body(&index.to_string())).map(|a| a.caseload),
            Ok(index)
        );
        let msg = |status, retry, body| sign_in_answer(status, retry, body).unwrap_err().message();
        assert_eq!(
            msg(401, None, "{}"),
            "Enter a correct username and password"
        );
        assert_eq!(
            msg(429, Some("600"), ""),
            "Too many attempts. Try again in 10 minutes."
        );
        assert_eq!(
            msg(429, Some("61"), ""),
            "Too many attempts. Try again in 2 minutes."
        );
        assert_eq!(
            msg(429, Some("5"), ""),
            "Too many attempts. Try again in 1 minute."
        );
        assert_eq!(
            msg(429, Some("Wed, 21 Oct 2026 07:28:00 GMT"), ""),
            "Too many attempts. Try again in a few minutes."
        );
        assert_eq!(
            msg(429, None, ""),
            "Too many attempts. Try again in a few minutes."
        );
        assert_eq!(
            sign_in_answer(200, None, "<html>").unwrap_err(),
            SignInProblem::BadAnswer
        );
        assert_eq!(
            sign_in_answer(502, None, "").unwrap_err(),
            SignInProblem::Server(502)
        );
        assert_eq!(
            sign_in_answer(403, None, "").unwrap_err(),
            SignInProblem::ForeignOrigin
        );
        assert_eq!(
            SignInProblem::Unreachable.message(),
            "Fieldbook cannot reach the server. Check your signal and try again."
        );
    }

    #[test]
    fn only_a_401_ends_a_session() {
        let index = DocumentId::random();
        assert!(
            matches!(session_answer(200, &body(&index.to_string())), Session::Valid(a) if a.caseload == index)
        );
        assert_eq!(session_answer(401, ""), Session::Ended);
        for (status, body) in [(500, ""), (502, "<html>"), (200, "garbage"), (403, "")] {
            assert_eq!(session_answer(status, body), Session::Unknown, "{status}");
        }
    }

    #[test]
    fn someone_else_signing_in_is_refused_while_the_last_persons_changes_are_unsent() {
        let old = account();
        let mut same = account();
        same.device_id = "d-2".into();
        let mut other = account();
        other.user_id = "u-9".into();
        other.display_name = "Bea Smith".into();
        assert_eq!(switch(None, &other, Some(true)), Switch::Keep);
        assert_eq!(switch(Some(&old), &same, Some(true)), Switch::Keep);
        assert_eq!(switch(Some(&old), &same, None), Switch::Keep);
        assert_eq!(switch(Some(&old), &other, Some(false)), Switch::Wipe);
        assert_eq!(
            switch(Some(&old), &other, None),
            Switch::Refuse(SignInProblem::StillOpening)
        );
        match switch(Some(&old), &other, Some(true)) {
            Switch::Refuse(p) => assert_eq!(
                p.message(),
                "This device has changes from Alex Jones that have not been sent. Ask them to sign in and send them first."
            ),
            s => panic!("{s:?}"),
        }
    }

    #[test]
    fn device_names_are_short_plain_words() {
        let cases = [
            ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36", "Chrome on Linux"),
            ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36", "Headless Chrome on Linux"),
            ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36", "Chrome on Android"),
            ("Mozilla/5.0 (Linux; Android 14; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36", "Samsung Internet on Android"),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1", "Safari on iPhone"),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0", "Edge on Windows"),
            ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko/20100101 Firefox/125.0", "Firefox on macOS"),
            ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", "Chrome on ChromeOS"),
            ("curl/8.0", "Web browser"),
            ("", "Web browser"),
        ];
        for (ua, want) in cases {
            assert_eq!(device_name(ua), want, "{ua}");
            assert!(device_name(ua).chars().count() <= DEVICE_NAME_MAX);
        }
    }

    #[test]
    fn audit_rows_are_read_and_described() {
        let rows = audit_rows(
            r#"[{"at":2,"kind":"case-changed","user_name":"Alex Jones","device_name":"Chrome on Android","seq":9},
                {"at":1,"kind":"case-read","user_name":null,"device_name":null}]"#,
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].who(), rows[0].device(), rows[0].action()),
            ("Alex Jones", "Chrome on Android", "changed")
        );
        assert_eq!(
            (rows[1].who(), rows[1].device(), rows[1].action()),
            ("Unknown person", "unknown device", "read")
        );
        assert!(audit_rows(r#"{"error":"not found"}"#).is_err());
        assert!(audit_problem(Some(404)).contains("not in a team you manage"));
        assert!(audit_problem(None).contains("cannot reach the server"));
    }
}
