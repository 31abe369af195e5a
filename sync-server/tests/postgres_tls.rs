//! TLS to PostgreSQL over TCP (`src/pg.rs`): a cluster of its own (`scripts/pg-cluster.sh`
//! with a certificate from a test certificate authority) listening on 127.0.0.1. The
//! connection is encrypted and the server's certificate checked against `database_ca_file`;
//! a certificate nobody vouches for is refused with a message saying what to set; a server
//! without TLS is refused under `sslmode=require`.

use std::path::{Path, PathBuf};
use std::process::Command;

use fieldbook_sync_server::pg::{PgPool, PgUrl};

/// A certificate authority and the PEM of its certificate.
struct Ca {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    pem: String,
}

fn ca(name: &str) -> Ca {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let key = rcgen::KeyPair::generate().unwrap();
    let pem = params.self_signed(&key).unwrap().pem();
    Ca {
        issuer: rcgen::Issuer::new(params, key),
        pem,
    }
}

/// The cluster, stopped and deleted when dropped (also when an assertion fails).
struct Cluster {
    dir: PathBuf,
    port: u16,
}

impl Cluster {
    fn start(ca: &Ca, files: &Path) -> Cluster {
        let params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".into()])
                .unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &ca.issuer).unwrap();
        std::fs::write(files.join("server.crt"), cert.pem()).unwrap();
        std::fs::write(files.join("server.key"), key.serialize_pem()).unwrap();
        // A free port: bound, then released for PostgreSQL to take.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = files.join("cluster");
        let out = Command::new(script())
            .args(["start", dir.to_str().unwrap()])
            .env("PG_TLS_CERT", files.join("server.crt"))
            .env("PG_TLS_KEY", files.join("server.key"))
            .env("PG_TLS_PORT", port.to_string())
            .output()
            .expect("run scripts/pg-cluster.sh");
        let cluster = Cluster { dir, port };
        assert!(
            out.status.success(),
            "the TLS cluster did not start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        cluster
    }

    fn url(&self, sslmode: &str) -> String {
        format!(
            "postgres://fieldbook@127.0.0.1:{}/fieldbook?sslmode={sslmode}",
            self.port
        )
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let stopped = Command::new(script())
            .args(["stop", self.dir.to_str().unwrap()])
            .status();
        if !matches!(stopped, Ok(s) if s.success()) {
            eprintln!("could not stop the TLS test cluster in {:?}", self.dir);
        }
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/pg-cluster.sh")
}

/// Whether this session is encrypted, as PostgreSQL sees it.
fn encrypted(url: &PgUrl) -> bool {
    let mut c = url.connect().expect("connect");
    c.query_one(
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        &[],
    )
    .unwrap()
    .get(0)
}

#[test]
fn tcp_connections_are_encrypted_and_the_servers_certificate_is_checked() {
    let files = tempfile::tempdir().unwrap();
    // The cluster runs as the `postgres` user when the tests run as root: let it in.
    std::fs::set_permissions(
        files.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let council_ca = ca("Fieldbook test council CA");
    let cluster = Cluster::start(&council_ca, files.path());
    let ca_file = files.path().join("council-ca.pem");
    std::fs::write(&ca_file, &council_ca.pem).unwrap();
    let other_file = files.path().join("other-ca.pem");
    std::fs::write(&other_file, ca("Somebody else's CA").pem).unwrap();

    // Trusting the authority that signed it: encrypted, under `require` and the default.
    for mode in ["require", "prefer"] {
        let url = PgUrl::parse_with_ca(&cluster.url(mode), Some(&ca_file)).unwrap();
        assert!(encrypted(&url), "sslmode={mode} with the right CA");
    }
    // The pool (what the server runs on) connects the same way.
    let url = PgUrl::parse_with_ca(&cluster.url("require"), Some(&ca_file)).unwrap();
    let pool = PgPool::open(&url, 1).unwrap();
    let ssl: bool = pool
        .run(|c| {
            Ok(c.query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )?
            .get(0))
        })
        .unwrap();
    assert!(ssl, "the pool's connection is encrypted");
    drop(pool);

    // Nobody we trust vouches for it: refused, saying what to do (never encrypted-but-unchecked).
    for ca in [None, Some(other_file.as_path())] {
        let url = PgUrl::parse_with_ca(&cluster.url("prefer"), ca).unwrap();
        let e = url.connect().map(|_| ()).unwrap_err().to_string();
        assert!(
            e.contains("certificate is not trusted") && e.contains("database_ca_file"),
            "{ca:?}: {e}"
        );
    }

    // In the clear only when the URL says so.
    let plain = PgUrl::parse(&cluster.url("disable")).unwrap();
    assert!(!encrypted(&plain));

    // The whole server: its directory migrates over TLS with the CA given...
    let data = files.path().join("data");
    let admin = |ca: Option<&Path>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fieldbook-sync-server"));
        cmd.arg("--data-dir")
            .arg(&data)
            .arg("--database-url")
            .arg(cluster.url("require"));
        if let Some(ca) = ca {
            cmd.arg("--database-ca-file").arg(ca);
        }
        cmd.args([
            "admin",
            "teams",
            "add",
            "north",
            "--name",
            "North team",
            "--agency",
            "Example council",
        ])
        .env_remove("FIELDBOOK_DATABASE_URL")
        .output()
        .unwrap()
    };
    let ok = admin(Some(&ca_file));
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // ...and refuses to start without it, saying why, with no password or URL in the message.
    let refused = admin(None);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(stderr.contains("database_ca_file"), "{stderr}");

    // A server that stops offering TLS: `require` refuses it, `prefer` speaks in the clear.
    let mut c = plain.connect().unwrap();
    c.batch_execute("ALTER SYSTEM SET ssl = off").unwrap();
    c.batch_execute("SELECT pg_reload_conf()").unwrap();
    drop(c);
    let require = PgUrl::parse_with_ca(&cluster.url("require"), Some(&ca_file)).unwrap();
    let mut refused_plain = None;
    // The reload is asynchronous in the postmaster: new sessions see it once it has run.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while refused_plain.is_none() && std::time::Instant::now() < deadline {
        match require.connect() {
            Err(e) => refused_plain = Some(e.to_string()),
            Ok(_) => std::thread::yield_now(),
        }
    }
    let e = refused_plain.expect("sslmode=require refuses a server without TLS");
    assert!(e.to_lowercase().contains("tls") || e.contains("ssl"), "{e}");
    let prefer = PgUrl::parse_with_ca(&cluster.url("prefer"), Some(&ca_file)).unwrap();
    assert!(!encrypted(&prefer));
}
