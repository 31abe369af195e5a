//! How the one port meets the network: TLS termination (rustls with the `ring` provider), the
//! listener axum serves from, and the security headers every response carries.
//!
//! TLS handshakes run in their own tasks, many at once and each bounded by
//! [`HANDSHAKE_TIMEOUT`]: a client that opens a TCP connection and then says nothing (a slow
//! phone, or someone doing it on purpose) must never hold up anyone else's connection.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderName, HeaderValue};
use axum::serve::{ListenerExt, TapIo};
use axum::Router;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::either::Either;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::config::Config;

/// How long a client has to complete the TLS handshake after its TCP connection is accepted.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshakes in progress at once. Past this the listener stops accepting (new connections
/// wait in the kernel's backlog) until some finish or time out, so a flood of silent
/// connections costs a bounded amount of memory.
const MAX_PENDING_HANDSHAKES: usize = 1024;

/// The policy for every response. Inline scripts are not allowed: Trunk's inline bootstrap
/// script is moved into a file at build time (scripts/post-build.sh). `'wasm-unsafe-eval'`
/// lets the page compile its WebAssembly and nothing else; `connect-src 'self'` covers the
/// same-origin `ws:`/`wss:` sync socket (CSP Level 3).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; \
     script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; worker-src 'self'; manifest-src 'self'; base-uri 'none'; \
     form-action 'self'; object-src 'none'; frame-ancestors 'none'";

/// Sent only when the browser reached us over HTTPS (directly or through a TLS proxy): a
/// year, so a worker's phone never again tries this host over plain HTTP.
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000";

/// Adds the security headers to every response the router gives: the PWA's files, the API,
/// `/healthz`, the WebSocket upgrade, and errors and 404s alike. Call it once, on the
/// finished router.
pub fn security_headers(router: Router, config: &Config) -> Router {
    if let Some(dir) = &config.static_dir {
        warn_if_inline_scripts(&dir.join("index.html"));
    }
    let mut headers = vec![
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
        ),
    ];
    if config.serves_https() {
        headers.push((
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(STRICT_TRANSPORT_SECURITY),
        ));
    }
    // Overriding, not if-not-present: no handler can weaken the policy by accident.
    headers.into_iter().fold(router, |router, (name, value)| {
        router.layer(SetResponseHeaderLayer::overriding(name, value))
    })
}

/// An app built before scripts/post-build.sh moved Trunk's bootstrap script into a file
/// would be served a page the policy stops from starting: say so at start-up, not in a
/// worker's browser console.
fn warn_if_inline_scripts(index: &Path) {
    let Ok(html) = std::fs::read_to_string(index) else {
        return; // main.rs insists index.html exists; a missing one is reported there.
    };
    let n = inline_scripts(&html);
    if n > 0 {
        tracing::warn!(
            file = %index.display(),
            inline_scripts = n,
            "the app's index.html has inline scripts, which the Content-Security-Policy blocks, \
             so the app will not start: rebuild it with `trunk build --release` \
             (scripts/post-build.sh moves them into files)"
        );
    }
}

/// `<script>` elements with no `src`, i.e. inline code.
fn inline_scripts(html: &str) -> usize {
    let lower = html.to_ascii_lowercase();
    lower
        .match_indices("<script")
        .filter(|(at, _)| {
            let tag = &lower[*at..];
            let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
            !tag.contains("src=") && !tag.contains("src =")
        })
        .count()
}

/// Why the TLS certificate and key cannot be used. Messages name the file and setting; they
/// never include the key's contents.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("cannot read {setting} file {}: {source}", path.display())]
    Read {
        setting: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("{setting} file {} is not valid PEM: {reason}", path.display())]
    BadPem {
        setting: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error(
        "tls_cert file {} holds no certificate: expected PEM blocks starting \
         \"-----BEGIN CERTIFICATE-----\" (the server's certificate first, then any intermediates)",
        path.display()
    )]
    NoCertificate { path: PathBuf },
    #[error(
        "tls_key file {} holds no private key: expected a PEM block such as \
         \"-----BEGIN PRIVATE KEY-----\"",
        path.display()
    )]
    NoKey { path: PathBuf },
    #[error(
        "the private key in {} does not match the certificate in {}: tls_key must be the key \
         the certificate was issued for",
        key.display(), cert.display()
    )]
    KeyMismatch { cert: PathBuf, key: PathBuf },
    #[error(
        "cannot use the certificate in {} with the key in {}: {reason}",
        cert.display(), key.display()
    )]
    Unusable {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
}

/// The server's TLS settings from `tls_cert` and `tls_key` (PEM), or `None` when TLS is off.
/// `Config::check` has already refused one without the other.
pub fn tls_config(config: &Config) -> Result<Option<Arc<rustls::ServerConfig>>, TlsSetupError> {
    let (Some(cert_path), Some(key_path)) = (&config.tls_cert, &config.tls_key) else {
        return Ok(None);
    };
    let read = |setting, path: &PathBuf| {
        std::fs::read(path).map_err(|source| TlsSetupError::Read {
            setting,
            path: path.clone(),
            source,
        })
    };
    let cert_pem = read("tls_cert", cert_path)?;
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsSetupError::BadPem {
            setting: "tls_cert",
            path: cert_path.clone(),
            reason: pem_reason(&e),
        })?;
    if certs.is_empty() {
        return Err(TlsSetupError::NoCertificate {
            path: cert_path.clone(),
        });
    }
    let key_pem = read("tls_key", key_path)?;
    let key = match PrivateKeyDer::from_pem_slice(&key_pem) {
        Ok(key) => key,
        Err(rustls::pki_types::pem::Error::NoItemsFound) => {
            return Err(TlsSetupError::NoKey {
                path: key_path.clone(),
            })
        }
        Err(e) => {
            return Err(TlsSetupError::BadPem {
                setting: "tls_key",
                path: key_path.clone(),
                reason: pem_reason(&e),
            })
        }
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError::Unusable {
            cert: cert_path.clone(),
            key: key_path.clone(),
            reason: e.to_string(),
        })?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                TlsSetupError::KeyMismatch {
                    cert: cert_path.clone(),
                    key: key_path.clone(),
                }
            }
            other => TlsSetupError::Unusable {
                cert: cert_path.clone(),
                key: key_path.clone(),
                reason: other.to_string(),
            },
        })?;
    // HTTP/1.1 only: the server is built without HTTP/2, and the WebSocket upgrade is an
    // HTTP/1.1 request.
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(Arc::new(tls)))
}

/// What is wrong with a PEM file, in words that cannot carry the file's contents (a base64
/// error would name a character of the key).
fn pem_reason(e: &rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error;
    match e {
        Error::MissingSectionEnd { .. } => "a PEM block has no END line".into(),
        Error::IllegalSectionStart { .. } => "a BEGIN line is malformed".into(),
        Error::Base64Decode(_) => "a PEM block's base64 content is damaged".into(),
        Error::Io(e) => e.to_string(),
        Error::NoItemsFound => "no PEM blocks".into(),
        other => format!("{other}"),
    }
}

/// A connection as accepted: plain TCP, or TCP with a completed TLS handshake.
pub type Connection = Either<TcpStream, TlsStream<TcpStream>>;

/// The listener `axum::serve` takes: plain TCP, or TLS with concurrent, time-limited
/// handshakes. Wrapped in axum's `TapIo` (see [`bind`]).
pub struct Listener {
    tcp: TcpListener,
    tls: Option<TlsAcceptor>,
    handshakes: JoinSet<Option<(TlsStream<TcpStream>, SocketAddr)>>,
}

/// What [`bind`] returns. axum gives `ConnectInfo<SocketAddr>` (the peer address the
/// connection limits use) for `TcpListener` and for any listener wrapped in `TapIo`; Rust's
/// orphan rule stops us implementing it for our own type, so the listener is wrapped in a
/// `TapIo` that does nothing to the connection.
pub type Bound = TapIo<Listener, fn(&mut Connection)>;

/// Load the TLS settings (if any) and listen on `config.listen`. Errors are ready to show.
pub async fn bind(config: &Config) -> anyhow::Result<Bound> {
    let tls = tls_config(config)?.map(TlsAcceptor::from);
    let tcp = TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    let listener = Listener {
        tcp,
        tls,
        handshakes: JoinSet::new(),
    };
    let untouched: fn(&mut Connection) = |_| {};
    Ok(listener.tap_io(untouched))
}

impl axum::serve::Listener for Listener {
    type Io = Connection;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Connection, SocketAddr) {
        let Listener {
            tcp,
            tls,
            handshakes,
        } = self;
        let Some(tls) = tls else {
            let (stream, addr) = axum::serve::Listener::accept(tcp).await;
            return (Either::Left(stream), addr);
        };
        // Both branches are cancel-safe (axum drops this future when shutting down): an
        // accepted socket is in `handshakes` before the next await.
        loop {
            tokio::select! {
                // Finished handshakes first, so a stream of new connections cannot starve them.
                biased;
                Some(done) = handshakes.join_next() => {
                    if let Ok(Some((stream, addr))) = done {
                        return (Either::Right(stream), addr);
                    }
                }
                (stream, addr) = axum::serve::Listener::accept(tcp),
                    if handshakes.len() < MAX_PENDING_HANDSHAKES =>
                {
                    handshakes.spawn(handshake(tls.clone(), stream, addr));
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

async fn handshake(
    tls: TlsAcceptor,
    stream: TcpStream,
    addr: SocketAddr,
) -> Option<(TlsStream<TcpStream>, SocketAddr)> {
    // Failures are routine on a public port (scanners, plain HTTP to an HTTPS port, phones
    // losing signal): debug, and without the address, which identifies a worker's network.
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(stream)).await {
        Ok(Ok(stream)) => Some((stream, addr)),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "TLS handshake failed: connection dropped");
            None
        }
        Err(_) => {
            tracing::debug!(
                secs = HANDSHAKE_TIMEOUT.as_secs(),
                "TLS handshake not completed in time: connection dropped"
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_scripts_are_found_and_external_ones_are_not() {
        let trunk = r#"<head><script type="module">
import init from '/app.js';
await init();
</script><link rel="modulepreload" href="/app.js"></head>"#;
        assert_eq!(inline_scripts(trunk), 1);
        let moved = r#"<head><SCRIPT type="module" src="/boot-1234.js"></SCRIPT></head>"#;
        assert_eq!(inline_scripts(moved), 0);
        assert_eq!(
            inline_scripts("<script>a()</script><script src=/x.js></script><script>b()</script>"),
            2
        );
    }

    #[test]
    fn pem_reasons_never_quote_the_file() {
        let damaged =
            b"-----BEGIN PRIVATE KEY-----\nSECRET*KEY*MATERIAL\n-----END PRIVATE KEY-----\n";
        let e = PrivateKeyDer::from_pem_slice(damaged).unwrap_err();
        let reason = pem_reason(&e);
        assert!(
            !reason.contains("SECRET") && !reason.contains('*'),
            "{reason}"
        );
        assert!(reason.contains("base64"), "{reason}");
    }
}
