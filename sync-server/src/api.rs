//! Sign-in and the gate in front of `/sync` (docs/ACCESS.md has the contract).
//!
//! `POST/GET/DELETE /api/session` sign in, read and end a session (an `HttpOnly`,
//! `SameSite=Strict` cookie bound to a registered device); `POST /api/tickets` mints a
//! single-use ticket for clients that cannot send the cookie (stock automerge-repo peers,
//! the CLI); `GET /api/cases/{id}/audit` tells a manager who has opened a file.
//! [`Auth::admit`] decides every WebSocket upgrade: a foreign `Origin` is refused with 403,
//! no valid session or ticket with 401.
//!
//! Secrets never reach a log: request URIs (which carry tickets) are not logged, and
//! tokens only exist here as their redacting types.

// Handlers return a ready `Response` as their error: one per request, so its size is moot.
#![allow(clippy::result_large_err)]

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use fieldbook_sync::DocumentId;
use serde::Deserialize;
use serde_json::json;

use crate::access::{Allowed, SharedModel};
use crate::accounts::{
    AuditEntry, AuditKind, DeviceId, Directory, DirectoryError, Password, Role, Session,
    SessionToken, Throttle, Ticket, UserId,
};

pub const COOKIE: &str = "fieldbook_session";
/// Longest device name kept (it is shown to administrators).
const DEVICE_NAME_MAX: usize = 60;

/// Who is on an authenticated connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user: UserId,
    pub device: DeviceId,
}

/// Sign-in state shared by the API handlers and the upgrade gate.
pub struct Auth {
    pub dir: Directory,
    pub model: SharedModel,
    throttle: Mutex<Throttle>,
    session_ttl_ms: i64,
    ticket_ttl_ms: i64,
    secure_cookies: bool,
    allowed_origins: Vec<String>,
    device_policy: DevicePolicy,
    clock_settings: ClockSettings,
    /// Seals device keys and lone working check-ins in the directory (the master key's cipher).
    pub(crate) device_key_wrap: Arc<crate::storage::keys::Sealer>,
}

/// What the administrator sets for every device (config `device_*`, `exit_url`), sent in
/// the session body as `device_policy`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DevicePolicy {
    pub idle_lock_secs: u64,
    pub hidden_grace_secs: u64,
    pub unlock_attempts: u32,
    pub lease_days: u64,
    pub exit_url: String,
}

impl DevicePolicy {
    pub fn from_config(c: &crate::config::Config) -> Self {
        DevicePolicy {
            idle_lock_secs: c.device_idle_lock_secs,
            hidden_grace_secs: c.device_hidden_grace_secs,
            unlock_attempts: c.device_unlock_attempts,
            lease_days: c.device_lease_days,
            exit_url: c.exit_url.trim().to_owned(),
        }
    }
}

/// Deadline settings the service chooses (config `clock_*`), sent in the session body as
/// `clock_settings`; the app reads them into `fieldbook_case::clocks::Settings`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClockSettings {
    pub nrm_reminder_days: Vec<u32>,
    pub due_soon_hours: u32,
    pub transition_notice_days: u32,
    pub follow_up_hours: u32,
    pub patterns: Vec<fieldbook_case::reach::Pattern>,
    pub not_seen_days: u32,
}

impl ClockSettings {
    pub fn from_config(c: &crate::config::Config) -> Self {
        ClockSettings {
            nrm_reminder_days: c.clock_nrm_reminder_days.clone(),
            due_soon_hours: c.clock_due_soon_hours,
            transition_notice_days: c.clock_transition_notice_days,
            follow_up_hours: c.clock_follow_up_hours,
            patterns: c.clock_patterns.clone(),
            not_seen_days: c.clock_not_seen_days,
        }
    }
}

/// Why a request has no valid session, in the 401 body's `reason`: a revoked device wipes
/// itself; otherwise the person signs in again and keeps their unsent work.
pub use fieldbook_case::account::{REASON_DEVICE_REVOKED, REASON_SIGNED_OUT};

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth").finish_non_exhaustive()
    }
}

pub struct AuthSettings {
    pub session_ttl_ms: i64,
    pub ticket_ttl_ms: i64,
    pub secure_cookies: bool,
    pub allowed_origins: Vec<String>,
    pub device_policy: DevicePolicy,
    pub clock_settings: ClockSettings,
    pub device_key_wrap: Arc<crate::storage::keys::Sealer>,
}

/// How a wrong password is audited and answered ([`Auth::check_password`]).
struct Failed {
    /// Said with 429 while the throttle holds.
    throttled: &'static str,
    device: Option<DeviceId>,
    detail: &'static str,
    says: &'static str,
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// 401 with the reason the client acts on.
fn unauthorised(reason: &str) -> Response {
    let message = if reason == REASON_DEVICE_REVOKED {
        "This device's access to Fieldbook was withdrawn by your administrator."
    } else {
        "Sign in to continue."
    };
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({ "error": message, "reason": reason })),
    )
        .into_response()
}

pub(crate) fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "directory error");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong on the server. Try again; if it keeps happening, tell your administrator.",
    )
}

/// Run a directory call off the async workers (SQLite and Argon2 block).
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, DirectoryError> + Send + 'static,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(internal(e)),
        Err(e) => Err(internal(e)),
    }
}

impl Auth {
    pub fn new(dir: Directory, model: SharedModel, s: AuthSettings) -> Self {
        Auth {
            dir,
            model,
            throttle: Mutex::new(Throttle::default()),
            session_ttl_ms: s.session_ttl_ms,
            ticket_ttl_ms: s.ticket_ttl_ms,
            secure_cookies: s.secure_cookies,
            allowed_origins: s.allowed_origins,
            device_policy: s.device_policy,
            clock_settings: s.clock_settings,
            device_key_wrap: s.device_key_wrap,
        }
    }

    /// Check `username`'s password under the sign-in throttle (429 with `Retry-After` while
    /// locked out); a wrong one is counted and audited as `failed` says. The user, or the
    /// answer to send.
    async fn check_password(
        &self,
        username: &str,
        password: Password,
        ip: IpAddr,
        now: i64,
        failed: Failed,
    ) -> Result<crate::accounts::User, Response> {
        match self.throttle.lock().map(|t| t.check(username, ip, now)) {
            Err(e) => return Err(internal(e)),
            Ok(Err(retry_ms)) => {
                let mut r = error(StatusCode::TOO_MANY_REQUESTS, failed.throttled);
                r.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(((retry_ms + 999) / 1000).max(1)),
                );
                return Err(r);
            }
            Ok(Ok(())) => {}
        }
        let dir = self.dir.clone();
        let name = username.to_owned();
        let user = blocking(move || dir.verify_password(&name, &password)).await?;
        let Some(user) = user else {
            if let Ok(mut t) = self.throttle.lock() {
                t.failed(username, ip, now);
            }
            let dir = self.dir.clone();
            let known = dir.user_by_username(username).ok().flatten().map(|u| u.id);
            let entry = AuditEntry {
                at: now,
                kind: AuditKind::SignInFailed,
                user: known,
                device: failed.device,
                case: None,
                address: Some(ip.to_string()),
                detail: failed.detail.into(),
            };
            blocking(move || dir.record(&[entry])).await?;
            return Err(error(StatusCode::UNAUTHORIZED, failed.says));
        };
        if let Ok(mut t) = self.throttle.lock() {
            t.succeeded(username, ip);
        }
        Ok(user)
    }

    /// A browser request from a page on another site is refused. Requests without `Origin`
    /// come from non-browser clients, which could send any header anyway.
    pub(crate) fn origin_ok(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return true;
        };
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        if self.allowed_origins.iter().any(|o| o == origin) {
            return true;
        }
        // Same origin: the page was served by this server under the name it was asked for.
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        let (scheme, rest) = origin.split_once("://").unwrap_or(("", ""));
        matches!(scheme, "http" | "https") && !host.is_empty() && rest == host
    }

    fn session_token(headers: &HeaderMap) -> Option<SessionToken> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == COOKIE)
            .map(|(_, v)| SessionToken::new(v.to_owned()))
    }

    /// The cookie's valid session, or 401 with `reason` "device-revoked" when it belongs
    /// to a revoked device (which then wipes itself), "signed-out" otherwise.
    pub(crate) async fn current_session(
        self: &Arc<Self>,
        headers: &HeaderMap,
    ) -> Result<Session, Response> {
        let token = Self::session_token(headers).ok_or_else(|| unauthorised(REASON_SIGNED_OUT))?;
        let dir = self.dir.clone();
        let (session, revoked) = blocking(move || {
            let now = now_ms();
            match dir.session(&token, now)? {
                Some(s) => Ok((Some(s), false)),
                None => Ok((None, dir.session_revoked(&token)?)),
            }
        })
        .await?;
        match (session, revoked) {
            (Some(s), _) => Ok(s),
            (None, true) => Err(unauthorised(REASON_DEVICE_REVOKED)),
            (None, false) => Err(unauthorised(REASON_SIGNED_OUT)),
        }
    }

    /// Decide a WebSocket upgrade: 403 for a foreign origin, 401 without a valid session
    /// cookie or ticket. The ticket is spent here, whatever happens next.
    pub async fn admit(
        self: &Arc<Self>,
        headers: &HeaderMap,
        ticket: Option<String>,
    ) -> Result<Principal, Response> {
        if !self.origin_ok(headers) {
            return Err(error(
                StatusCode::FORBIDDEN,
                "This site may not connect to Fieldbook.",
            ));
        }
        let session = match ticket {
            Some(t) => {
                let dir = self.dir.clone();
                let ticket = Ticket::new(t);
                blocking(move || dir.redeem_ticket(&ticket, now_ms()))
                    .await?
                    .ok_or_else(|| {
                        (
                            StatusCode::UNAUTHORIZED,
                            Json(json!({
                                "error": "This ticket has expired or was already used: ask for a new one.",
                                "reason": REASON_SIGNED_OUT,
                            })),
                        )
                            .into_response()
                    })?
            }
            None => self.current_session(headers).await?,
        };
        let principal = Principal {
            user: session.user,
            device: session.device,
        };
        let allowed = self
            .model
            .read()
            .map(|m| m.may_connect(&principal.user, &principal.device))
            .unwrap_or(false);
        if !allowed {
            let revoked = self
                .model
                .read()
                .map(|m| m.is_device_revoked(&principal.device))
                .unwrap_or(false);
            return Err(unauthorised(if revoked {
                REASON_DEVICE_REVOKED
            } else {
                REASON_SIGNED_OUT
            }));
        }
        let (dir, device) = (self.dir.clone(), principal.device.clone());
        blocking(move || dir.touch_device(&device, now_ms())).await?;
        Ok(principal)
    }

    fn cookie(&self, token: &SessionToken, max_age_secs: i64) -> HeaderValue {
        let secure = if self.secure_cookies { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age_secs}{secure}",
            token.expose()
        ))
        .expect("base64url token and fixed attributes are a valid header value")
    }

    fn session_body(&self, session: &Session) -> Result<serde_json::Value, Response> {
        let model = self.model.read().map_err(internal)?;
        let user = model
            .user(&session.user)
            .ok_or_else(|| unauthorised(REASON_SIGNED_OUT))?;
        Ok(json!({
            "user": {
                "id": user.id,
                "username": user.username,
                "display_name": user.display_name,
                "role": user.role,
                "agency": user.agency,
                "team": user.team,
            },
            "device": { "id": session.device },
            "caseload": user.caseload.to_string(),
            "expires_at": session.expires_at,
            "device_policy": self.device_policy,
            "clock_settings": self.clock_settings,
        }))
    }

    fn with_device_name(
        &self,
        mut body: serde_json::Value,
        device: &DeviceId,
    ) -> Result<serde_json::Value, Response> {
        let user = UserId(body["user"]["id"].as_str().unwrap_or_default().to_owned());
        let name = self
            .dir
            .devices(Some(&user))
            .map_err(internal)?
            .into_iter()
            .find(|d| d.id == *device)
            .map(|d| d.name)
            .unwrap_or_default();
        body["device"]["name"] = json!(name);
        Ok(body)
    }
}

/// The API routes, sharing `auth`.
pub fn routes(auth: Arc<Auth>) -> Router {
    Router::new()
        .route(
            "/api/session",
            post(sign_in).get(get_session).delete(sign_out),
        )
        .route("/api/tickets", post(mint_ticket))
        .route("/api/device-key", post(device_key))
        .route("/api/cases/{doc}/audit", get(case_audit))
        .route("/api/checkins", post(crate::lone::check_in))
        .route("/api/checkins/mine", get(crate::lone::mine))
        .route("/api/checkins/{id}/out", post(crate::lone::check_out))
        .route("/api/alerts", get(crate::lone::alerts))
        .layer(DefaultBodyLimit::max(16 * 1024))
        .with_state(auth)
        .layer(axum::middleware::map_response(no_store))
}

async fn no_store(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[derive(Deserialize)]
struct SignIn {
    username: String,
    password: String,
    #[serde(default)]
    device_name: String,
    #[serde(default)]
    device_id: Option<String>,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .finish_non_exhaustive()
    }
}

fn clean_device_name(name: &str) -> String {
    let name: String = name
        .chars()
        .filter(|c| !c.is_control())
        .take(DEVICE_NAME_MAX)
        .collect();
    match name.trim() {
        "" => "Unnamed device".to_owned(),
        n => n.to_owned(),
    }
}

async fn sign_in(
    State(auth): State<Arc<Auth>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Json<SignIn>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if !auth.origin_ok(&headers) {
        return error(
            StatusCode::FORBIDDEN,
            "This site may not sign in to Fieldbook.",
        );
    }
    let Ok(Json(body)) = body else {
        return error(
            StatusCode::BAD_REQUEST,
            "Send JSON with username, password and device_name.",
        );
    };
    let ip: IpAddr = peer.ip();
    let now = now_ms();
    let username = body.username.trim().to_lowercase();
    let user = match auth
        .check_password(
            &username,
            Password::new(body.password),
            ip,
            now,
            Failed {
                throttled: "Too many attempts to sign in. Wait, then try again.",
                device: None,
                detail: "wrong password, unknown account or account disabled",
                says: "Enter a correct username and password",
            },
        )
        .await
    {
        Ok(u) => u,
        Err(r) => return r,
    };
    let dir = auth.dir.clone();
    let device_name = clean_device_name(&body.device_name);
    let existing = body.device_id.map(DeviceId);
    let ttl = auth.session_ttl_ms;
    let made = blocking(move || {
        let device = dir.register_device(&user.id, &device_name, existing.as_ref(), now)?;
        let (token, session) = dir.create_session(&user.id, &device.id, now, ttl)?;
        dir.record(&[AuditEntry {
            at: now,
            kind: AuditKind::SignIn,
            user: Some(user.id.clone()),
            device: Some(device.id.clone()),
            case: None,
            address: Some(ip.to_string()),
            detail: String::new(),
        }])?;
        Ok((token, session, device.name))
    })
    .await;
    let (token, session, device_name) = match made {
        Ok(v) => v,
        Err(r) => return r,
    };
    // A sign-in may register a device the model has not seen; the user is already there.
    let mut body = match auth.session_body(&session) {
        Ok(b) => b,
        Err(r) => return r,
    };
    body["device"]["name"] = json!(device_name);
    let mut r = Json(body).into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, auth.cookie(&token, ttl / 1000));
    r
}

async fn get_session(State(auth): State<Arc<Auth>>, headers: HeaderMap) -> Response {
    let session = match auth.current_session(&headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match auth
        .session_body(&session)
        .and_then(|b| auth.with_device_name(b, &session.device))
    {
        Ok(b) => Json(b).into_response(),
        Err(r) => r,
    }
}

async fn sign_out(State(auth): State<Arc<Auth>>, headers: HeaderMap) -> Response {
    if !auth.origin_ok(&headers) {
        return error(
            StatusCode::FORBIDDEN,
            "This site may not sign out of Fieldbook.",
        );
    }
    if let (Some(token), Ok(session)) = (
        Auth::session_token(&headers),
        auth.current_session(&headers).await,
    ) {
        let dir = auth.dir.clone();
        let done = blocking(move || {
            dir.end_session(&token)?;
            dir.record(&[AuditEntry {
                at: now_ms(),
                kind: AuditKind::SignOut,
                user: Some(session.user),
                device: Some(session.device),
                case: None,
                address: None,
                detail: String::new(),
            }])
        })
        .await;
        if let Err(r) = done {
            return r;
        }
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        auth.cookie(&SessionToken::new(String::new()), 0),
    );
    r
}

async fn mint_ticket(State(auth): State<Arc<Auth>>, headers: HeaderMap) -> Response {
    if !auth.origin_ok(&headers) {
        return error(
            StatusCode::FORBIDDEN,
            "This site may not connect to Fieldbook.",
        );
    }
    let session = match auth.current_session(&headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let dir = auth.dir.clone();
    let ttl = auth.ticket_ttl_ms;
    let minted = blocking(move || {
        let now = now_ms();
        let ticket = dir.mint_ticket(&session, now, ttl)?;
        dir.record(&[AuditEntry {
            at: now,
            kind: AuditKind::TicketMinted,
            user: Some(session.user),
            device: Some(session.device),
            case: None,
            address: None,
            detail: String::new(),
        }])?;
        Ok(ticket)
    })
    .await;
    match minted {
        Ok(ticket) => Json(json!({
            "ticket": ticket.expose(),
            "expires_in_secs": ttl / 1000,
        }))
        .into_response(),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct Reauth {
    password: String,
}

/// The signed-in device's escrowed key (created on first call), after the person gives
/// their password again (counted by the sign-in throttle). The PWA wraps its local data
/// key with it, so unsent work survives a forgotten passcode: sign in again, ask again.
async fn device_key(
    State(auth): State<Arc<Auth>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Json<Reauth>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if !auth.origin_ok(&headers) {
        return error(StatusCode::FORBIDDEN, "This site may not use Fieldbook.");
    }
    let session = match auth.current_session(&headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Ok(Json(body)) = body else {
        return error(StatusCode::BAD_REQUEST, "Send JSON with your password.");
    };
    let username = match auth.model.read() {
        Ok(m) => match m.user(&session.user) {
            Some(u) => u.username.to_lowercase(),
            None => return unauthorised(REASON_SIGNED_OUT),
        },
        Err(e) => return internal(e),
    };
    let ip: IpAddr = peer.ip();
    let now = now_ms();
    let verified = auth
        .check_password(
            &username,
            Password::new(body.password),
            ip,
            now,
            Failed {
                throttled: "Too many attempts. Wait, then try again.",
                device: Some(session.device.clone()),
                detail: "wrong password asking for the device key",
                says: "Enter your correct password",
            },
        )
        .await;
    match verified {
        Ok(u) if u.id == session.user => {}
        // Another person's correct password proves nothing about this session's person.
        Ok(_) => return error(StatusCode::UNAUTHORIZED, "Enter your correct password"),
        Err(r) => return r,
    }
    let dir = auth.dir.clone();
    let wrap = auth.device_key_wrap.clone();
    let issued = blocking(move || {
        let key = dir.device_key(&session.device, &session.user, now, &wrap)?;
        if key.is_some() {
            dir.record(&[AuditEntry {
                at: now,
                kind: AuditKind::DeviceKeyIssued,
                user: Some(session.user.clone()),
                device: Some(session.device.clone()),
                case: None,
                address: Some(ip.to_string()),
                detail: String::new(),
            }])?;
        }
        Ok(key)
    })
    .await;
    match issued {
        Ok(Some(key)) => Json(json!({ "key": key.to_base64() })).into_response(),
        // Revoked between the session check and now.
        Ok(None) => unauthorised(REASON_DEVICE_REVOKED),
        Err(r) => r,
    }
}

/// "Who has opened this file", for managers who may read the case. Anyone else gets the
/// same 404 as for an unknown case.
async fn case_audit(
    State(auth): State<Arc<Auth>>,
    headers: HeaderMap,
    Path(doc): Path<String>,
) -> Response {
    let session = match auth.current_session(&headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let not_found = || error(StatusCode::NOT_FOUND, "This case is not available.");
    let Ok(doc) = doc.parse::<DocumentId>() else {
        return not_found();
    };
    let allowed = auth
        .model
        .read()
        .map(|m| {
            m.user(&session.user)
                .is_some_and(|u| u.role == Role::Manager)
                && m.case(&doc).is_some()
                && m.allowed(&session.user, &doc) >= Allowed::Read
        })
        .unwrap_or(false);
    if !allowed {
        return not_found();
    }
    let dir = auth.dir.clone();
    let rows = match blocking(move || dir.audit_for_case(&doc)).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let rows: Vec<_> = rows
        .into_iter()
        .rev()
        .filter(|r| {
            matches!(
                r.kind,
                AuditKind::CaseRead | AuditKind::CaseChanged | AuditKind::WriteRefused
            )
        })
        .map(|r| {
            json!({
                "at": r.at,
                "kind": r.kind,
                "user_name": r.user_name,
                "device_name": r.device_name,
            })
        })
        .collect();
    Json(rows).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_are_trimmed_bounded_and_free_of_control_characters() {
        assert_eq!(clean_device_name("  "), "Unnamed device");
        assert_eq!(clean_device_name("Pixel\n7\u{1b}[2J"), "Pixel7[2J");
        assert_eq!(clean_device_name(&"x".repeat(500)).len(), DEVICE_NAME_MAX);
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; fieldbook_session=abc; b=2"),
        );
        assert_eq!(Auth::session_token(&h).unwrap().expose(), "abc");
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("fieldbook_sessionx=abc"),
        );
        assert!(Auth::session_token(&h).is_none());
    }
}
