//! Signing in to a Fieldbook server over its HTTP API (docs/ACCESS.md): `POST /api/session`
//! for a session cookie, `POST /api/tickets` for a single-use ticket that opens
//! `/sync?ticket=…` (the native client cannot hand a cookie to the WebSocket the way a
//! browser does, so it always goes through a ticket).
//!
//! Secrets (the password, the session cookie, tickets) never appear in `Debug`, `Display`
//! or errors: this client is used by tests and tools whose output ends up in logs.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use fieldbook_sync::DocumentId;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use url::Url;

#[cfg(test)]
mod tests;

/// The cookie the server sets on sign-in (docs/ACCESS.md).
pub const SESSION_COOKIE: &str = "fieldbook_session";

/// Answers are small JSON objects; anything bigger is not a Fieldbook server talking.
const MAX_BODY: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{0:?} is not a sync URL: expected ws://HOST:PORT/sync or wss://HOST/sync")]
    BadUrl(String),
    /// 401 on sign-in; the message is the server's ("Enter a correct username and password").
    #[error("sign-in refused: {message}")]
    WrongCredentials { message: String },
    #[error("too many sign-in attempts: {}", match retry_after_secs {
        Some(s) => format!("try again in {s} seconds"),
        None => "try again later".to_owned(),
    })]
    Throttled { retry_after_secs: Option<u64> },
    #[error("the server refused the request (403 Forbidden): {message}")]
    Forbidden { message: String },
    /// 401 on a request made with the session cookie.
    #[error(
        "the session has ended (expired, signed out, or the device was revoked): sign in again"
    )]
    SessionEnded,
    #[error("could not reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("unexpected answer from {url}{}: {reason}", status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    BadResponse {
        url: String,
        status: Option<u16>,
        reason: String,
    },
    #[error("TLS setup: {0}")]
    Tls(String),
}

/// The session token, kept out of every `Debug` and `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionCookie(String);

impl fmt::Debug for SessionCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionCookie(<redacted>)")
    }
}

/// How this client reaches a server over HTTP(S): the certificates it trusts and how long it
/// waits for one exchange. The same TLS settings serve `wss://` sync connections
/// ([`crate::Client::connect_signed_in`]).
#[derive(Clone)]
pub struct Connector {
    tls: Arc<rustls::ClientConfig>,
    timeout: Duration,
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Default for Connector {
    fn default() -> Self {
        Connector::new()
    }
}

impl Connector {
    /// Trusts the public web's certificate authorities (Mozilla's list, built in, so it
    /// behaves the same on every machine); waits 20 s.
    pub fn new() -> Connector {
        Connector::with_roots(Vec::new()).expect("the built-in roots are valid")
    }

    /// Also trusts the CA certificates in `pem` (e.g. an organisation's own CA, or the
    /// self-signed certificate of a test server).
    pub fn with_ca_pem(pem: &[u8]) -> Result<Connector, AuthError> {
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| AuthError::Tls(format!("the CA file is not valid PEM: {e}")))?;
        if certs.is_empty() {
            return Err(AuthError::Tls(
                "the CA file holds no certificate (expected -----BEGIN CERTIFICATE-----)".into(),
            ));
        }
        Connector::with_roots(certs)
    }

    /// How long one HTTP exchange (connect, TLS, request, answer) may take.
    pub fn with_timeout(mut self, timeout: Duration) -> Connector {
        self.timeout = timeout;
        self
    }

    fn with_roots(extra: Vec<CertificateDer<'static>>) -> Result<Connector, AuthError> {
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for cert in extra {
            roots
                .add(cert)
                .map_err(|e| AuthError::Tls(format!("a CA certificate was refused: {e}")))?;
        }
        // The provider is named, not taken from the process default, so a build that also
        // links aws-lc (through some other crate) cannot make this ambiguous.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| AuthError::Tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Connector {
            tls: Arc::new(tls),
            timeout: Duration::from_secs(20),
        })
    }

    /// Sign in as `username`. `device_id` is the id an earlier sign-in of this device was
    /// given (the server then keeps it); `None` registers a new device.
    pub async fn sign_in(
        &self,
        sync_url: &str,
        username: &str,
        password: &str,
        device_name: &str,
        device_id: Option<&str>,
    ) -> Result<SignedIn, AuthError> {
        #[derive(Serialize)]
        struct Body<'a> {
            username: &'a str,
            password: &'a str,
            device_name: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            device_id: Option<&'a str>,
        }
        let base = http_base(sync_url)?;
        let url = api_url(&base, "api/session");
        let body = serde_json::to_vec(&Body {
            username,
            password,
            device_name,
            device_id,
        })
        .expect("strings always serialise");
        let reply = self.exchange(Method::POST, &url, None, Some(body)).await?;
        match reply.status {
            StatusCode::OK => {}
            StatusCode::UNAUTHORIZED => {
                return Err(AuthError::WrongCredentials {
                    message: reply
                        .error_message()
                        .unwrap_or_else(|| "Enter a correct username and password".to_owned()),
                })
            }
            _ => return Err(reply.error(&url)),
        }
        let cookie = session_cookie(&reply.headers).ok_or_else(|| AuthError::BadResponse {
            url: url.to_string(),
            status: Some(200),
            reason: format!("no {SESSION_COOKIE} cookie in Set-Cookie"),
        })?;
        let session = parse_session(&reply.body).map_err(|reason| AuthError::BadResponse {
            url: url.to_string(),
            status: Some(200),
            reason,
        })?;
        Ok(SignedIn {
            base,
            cookie,
            user_id: session.user.id,
            username: session.user.username,
            display_name: session.user.display_name,
            role: session.user.role,
            agency: session.user.agency,
            team: session.user.team,
            device_id: session.device.id,
            caseload: session.caseload,
            expires_at: session.expires_at,
            connector: self.clone(),
        })
    }

    /// One request on a fresh connection (a tool signs in and mints a ticket or two; pooling
    /// would buy nothing), bounded by the timeout.
    async fn exchange(
        &self,
        method: Method,
        url: &Url,
        cookie: Option<&SessionCookie>,
        body: Option<Vec<u8>>,
    ) -> Result<Reply, AuthError> {
        let unreachable = |reason: String| AuthError::Unreachable {
            url: url.to_string(),
            reason,
        };
        let work = async {
            let io = self.open(url).await?;
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
                .await
                .map_err(|e| unreachable(e.to_string()))?;
            // Drives the connection; it ends once the answer is read and `sender` dropped.
            tokio::spawn(conn);
            let mut req = Request::builder()
                .method(method)
                .uri(url.path())
                .header(header::HOST, host_header(url))
                .header(header::ACCEPT, "application/json")
                .header(header::CONNECTION, "close")
                .header(
                    header::USER_AGENT,
                    concat!("fieldbook-client/", env!("CARGO_PKG_VERSION")),
                );
            if let Some(c) = cookie {
                let value = HeaderValue::from_str(&format!("{SESSION_COOKIE}={}", c.0))
                    .map_err(|_| AuthError::SessionEnded)?;
                req = req.header(header::COOKIE, value);
            }
            let req = match body {
                Some(b) => req
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Full::new(Bytes::from(b))),
                None => req.body(Full::new(Bytes::new())),
            }
            .expect("method, path and headers are valid");
            let resp = sender
                .send_request(req)
                .await
                .map_err(|e| unreachable(e.to_string()))?;
            let status = resp.status();
            let (parts, body) = resp.into_parts();
            let body = Limited::new(body, MAX_BODY)
                .collect()
                .await
                .map_err(|e| AuthError::BadResponse {
                    url: url.to_string(),
                    status: Some(status.as_u16()),
                    reason: format!("reading the body: {e}"),
                })?
                .to_bytes();
            Ok(Reply {
                status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| unreachable(format!("no answer within {:?}", self.timeout)))?
    }

    /// A byte stream to the URL's host: plain TCP for `http`/`ws`, TLS for `https`/`wss`.
    pub(crate) async fn open(&self, url: &Url) -> Result<Box<dyn Io>, AuthError> {
        let unreachable = |reason: String| AuthError::Unreachable {
            url: url.to_string(),
            reason,
        };
        let host = url
            .host_str()
            .ok_or_else(|| AuthError::BadUrl(url.to_string()))?;
        let port = url
            .port_or_known_default()
            .ok_or_else(|| AuthError::BadUrl(url.to_string()))?;
        // `host_str` keeps IPv6 brackets, which is the form `host:port` parsing wants.
        let tcp = TcpStream::connect(format!("{host}:{port}"))
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        match url.scheme() {
            "http" | "ws" => Ok(Box::new(tcp)),
            "https" | "wss" => {
                let name = match url.host() {
                    Some(url::Host::Domain(d)) => ServerName::try_from(d.to_owned())
                        .map_err(|_| AuthError::BadUrl(url.to_string()))?,
                    Some(url::Host::Ipv4(ip)) => ServerName::from(std::net::IpAddr::V4(ip)),
                    Some(url::Host::Ipv6(ip)) => ServerName::from(std::net::IpAddr::V6(ip)),
                    None => return Err(AuthError::BadUrl(url.to_string())),
                };
                let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(|e| unreachable(format!("TLS: {e}")))?;
                Ok(Box::new(tls))
            }
            _ => Err(AuthError::BadUrl(url.to_string())),
        }
    }
}

/// A connection's byte stream, plain or TLS.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Sign in with the default [`Connector`] (public CAs, 20 s), registering a new device.
pub async fn sign_in(
    sync_url: &str,
    username: &str,
    password: &str,
    device_name: &str,
) -> Result<SignedIn, AuthError> {
    Connector::new()
        .sign_in(sync_url, username, password, device_name, None)
        .await
}

/// A session on a server: who signed in, and the cookie to act as them.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The server's HTTP origin, `http(s)://host:port/`.
    pub base: Url,
    cookie: SessionCookie,
    pub user_id: String,
    pub username: String,
    pub display_name: String,
    /// `practitioner`, `manager` or `administrator`.
    pub role: String,
    pub agency: Option<String>,
    pub team: Option<String>,
    /// Send this on the next sign-in from the same device to keep its registration.
    pub device_id: String,
    /// This user's caseload index document (written only by the server).
    pub caseload: DocumentId,
    /// When the session ends, in milliseconds since the Unix epoch.
    pub expires_at: i64,
    connector: Connector,
}

impl SignedIn {
    /// A single-use ticket (valid 60 s) for opening the sync WebSocket as this user.
    pub async fn ticket(&self) -> Result<String, AuthError> {
        #[derive(Deserialize)]
        struct Ticket {
            ticket: String,
        }
        let url = api_url(&self.base, "api/tickets");
        let reply = self
            .connector
            .exchange(Method::POST, &url, Some(&self.cookie), None)
            .await?;
        if reply.status != StatusCode::OK {
            return Err(reply.error(&url));
        }
        let t: Ticket =
            serde_json::from_slice(&reply.body).map_err(|e| AuthError::BadResponse {
                url: url.to_string(),
                status: Some(200),
                reason: format!("not a ticket: {e}"),
            })?;
        Ok(t.ticket)
    }

    /// `sync_url` with `ticket=<ticket>` in its query (replacing any ticket already there).
    pub fn sync_url_with_ticket(&self, sync_url: &str, ticket: &str) -> String {
        with_ticket(sync_url, ticket)
    }

    /// End the session on the server (the cookie stops working everywhere).
    pub async fn sign_out(&self) -> Result<(), AuthError> {
        let url = api_url(&self.base, "api/session");
        let reply = self
            .connector
            .exchange(Method::DELETE, &url, Some(&self.cookie), None)
            .await?;
        match reply.status {
            s if s.is_success() => Ok(()),
            // Already over: what we wanted.
            StatusCode::UNAUTHORIZED => Ok(()),
            _ => Err(reply.error(&url)),
        }
    }

    /// The TLS settings this session was made with, for the sync connection.
    pub fn connector(&self) -> &Connector {
        &self.connector
    }
}

/// The HTTP origin of the server behind a sync URL: `ws://h:p/sync` → `http://h:p/`,
/// `wss://h/sync` → `https://h/`. (`http(s)` URLs are taken as they are: a server's page URL
/// works too.) The API lives at the root of that origin, beside the PWA.
pub fn http_base(sync_url: &str) -> Result<Url, AuthError> {
    let bad = || AuthError::BadUrl(sync_url.to_owned());
    let url = Url::parse(sync_url).map_err(|_| bad())?;
    let scheme = match url.scheme() {
        "ws" | "http" => "http",
        "wss" | "https" => "https",
        _ => return Err(bad()),
    };
    let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(bad)?;
    let origin = match url.port() {
        Some(p) => format!("{scheme}://{host}:{p}/"),
        None => format!("{scheme}://{host}/"),
    };
    Url::parse(&origin).map_err(|_| bad())
}

fn api_url(base: &Url, path: &str) -> Url {
    base.join(path)
        .expect("a relative path joins onto an origin")
}

fn host_header(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    }
}

fn with_ticket(sync_url: &str, ticket: &str) -> String {
    let (base, fragment) = match sync_url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (sync_url, None),
    };
    let (path, query) = match base.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (base, None),
    };
    let mut pairs: Vec<&str> = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter(|p| !p.is_empty() && *p != "ticket" && !p.starts_with("ticket="))
        .collect();
    let encoded: String = url::form_urlencoded::byte_serialize(ticket.as_bytes()).collect();
    let ticket_pair = format!("ticket={encoded}");
    pairs.push(&ticket_pair);
    let mut out = format!("{path}?{}", pairs.join("&"));
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// The value of the `fieldbook_session` cookie among the response's `Set-Cookie` headers
/// (there may be several, each `name=value; Attr; Attr=…`). An empty value is the server
/// clearing the cookie, not a session.
fn session_cookie(headers: &HeaderMap) -> Option<SessionCookie> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| {
            let pair = v.split(';').next()?;
            let (name, value) = pair.split_once('=')?;
            (name.trim() == SESSION_COOKIE).then(|| value.trim().trim_matches('"').to_owned())
        })
        .rfind(|v| !v.is_empty())
        .map(SessionCookie)
}

#[derive(Deserialize)]
struct SessionBody {
    user: UserBody,
    device: DeviceBody,
    #[serde(deserialize_with = "document_id")]
    caseload: DocumentId,
    expires_at: i64,
}

#[derive(Deserialize)]
struct UserBody {
    id: String,
    username: String,
    display_name: String,
    role: String,
    #[serde(default)]
    agency: Option<String>,
    #[serde(default)]
    team: Option<String>,
}

#[derive(Deserialize)]
struct DeviceBody {
    id: String,
}

/// A bare document id, or an `automerge:` URL.
fn document_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<DocumentId, D::Error> {
    let s = String::deserialize(d)?;
    let id = s.strip_prefix(DocumentId::URL_PREFIX).unwrap_or(&s);
    id.parse()
        .map_err(|e| serde::de::Error::custom(format!("caseload: {e}")))
}

fn parse_session(body: &[u8]) -> Result<SessionBody, String> {
    serde_json::from_slice(body).map_err(|e| format!("not a session: {e}"))
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    /// The `error` of a `{"error": "…"}` body, made safe to print (it comes from the network).
    fn error_message(&self) -> Option<String> {
        #[derive(Deserialize)]
        struct ErrorBody {
            error: String,
        }
        let e: ErrorBody = serde_json::from_slice(&self.body).ok()?;
        let clean: String = e
            .error
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(300)
            .collect();
        Some(clean)
    }

    /// The error for any answer the caller did not expect.
    fn error(&self, url: &Url) -> AuthError {
        match self.status {
            StatusCode::UNAUTHORIZED => AuthError::SessionEnded,
            StatusCode::FORBIDDEN => AuthError::Forbidden {
                message: self
                    .error_message()
                    .unwrap_or_else(|| "no reason given".to_owned()),
            },
            StatusCode::TOO_MANY_REQUESTS => AuthError::Throttled {
                retry_after_secs: self
                    .headers
                    .get(header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse().ok()),
            },
            s => AuthError::BadResponse {
                url: url.to_string(),
                status: Some(s.as_u16()),
                reason: self
                    .error_message()
                    .unwrap_or_else(|| s.canonical_reason().unwrap_or("no reason").to_owned()),
            },
        }
    }
}
