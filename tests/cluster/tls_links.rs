//! TLS on the links that may cross a datacenter, against servers started
//! here: respire → MariaDB (sqlx's `ssl-mode`, `ssl-ca`, `ssl-cert`,
//! `ssl-key` URL options) and respire → NATS (`--nats-tls-ca`,
//! `--nats-tls-cert`, `--nats-tls-key`). Each test starts its server once
//! and runs its cases in turn.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::certs::Ca;
use crate::common::*;
use redis::AsyncCommands;

// ---------------------------------------------------------------------------
// Certificates (rcgen).

/// A CA (`ca.pem`), a server certificate for localhost/127.0.0.1
/// (`server`), a client certificate (`client`), another CA
/// (`other-ca.pem`) and a client certificate from it (`stranger`).
fn pki(dir: &Path) -> Ca {
    let ca = Ca::new("respire links test CA");
    ca.write(&dir.join("ca.pem"));
    ca.issue_to(dir, "server", &["localhost", "127.0.0.1"], false);
    ca.issue_to(dir, "client", &["respire"], true);
    let other = Ca::new("another CA");
    other.write(&dir.join("other-ca.pem"));
    other.issue_to(dir, "stranger", &["respire"], true);
    ca
}

fn installed(paths: &[&str]) -> bool {
    if let Some(missing) = paths.iter().find(|p| !Path::new(p).exists()) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{missing} is not installed and CI=true: failing instead of skipping"
        );
        crate::common::skipped(&format!("{missing} is not installed"));
        return false;
    }
    true
}

/// Runs `respire <args> migrate` and returns (success, stderr).
async fn migrate(url: &str) -> (bool, String) {
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_respire"))
            .args(["--database-url", url, "migrate"])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("respire migrate hung")
    .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// ---------------------------------------------------------------------------
// MariaDB.

/// A MariaDB of the test's own, requiring TLS of every TCP client; killed
/// when dropped.
struct Mariadb {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Mariadb {
    fn start(certs: &Path) -> Mariadb {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let install = Command::new("mariadb-install-db")
            .args(["--no-defaults", "--user=root", "--skip-test-db"])
            .args(["--auth-root-authentication-method=socket"])
            .arg(format!("--datadir={}", data.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("mariadb-install-db");
        assert!(install.success(), "mariadb-install-db failed");
        let port = free_port();
        let f = |name: &str| certs.join(name).display().to_string();
        let d = |name: &str| dir.path().join(name).display().to_string();
        let child = Command::new("/usr/sbin/mariadbd")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", d("mysqld.sock")))
            .arg(format!("--pid-file={}", d("mysqld.pid")))
            .arg(format!("--log-error={}", d("error.log")))
            .arg(format!("--port={port}"))
            .args([
                "--bind-address=127.0.0.1",
                "--user=root",
                "--skip-name-resolve",
            ])
            .args(["--skip-log-bin", "--innodb-buffer-pool-size=32M"])
            .arg(format!("--ssl-ca={}", f("ca.pem")))
            .arg(format!("--ssl-cert={}", f("db.pem")))
            .arg(format!("--ssl-key={}", f("db.key")))
            .arg("--require-secure-transport=ON")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mariadbd");
        let mut db = Mariadb { child, dir, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        while db.sql("SELECT 1").is_err() {
            assert!(
                db.child.try_wait().unwrap().is_none(),
                "mariadbd exited: {}",
                db.log()
            );
            assert!(
                Instant::now() < deadline,
                "mariadbd did not start: {}",
                db.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        db
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    /// Runs statements as root over the Unix socket (not subject to
    /// require-secure-transport).
    fn sql(&self, statements: &str) -> Result<String, String> {
        let out = Command::new("mariadb")
            .arg(format!(
                "--socket={}",
                self.dir.path().join("mysqld.sock").display()
            ))
            .args(["-u", "root", "-N", "-e", statements])
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }
}

impl Drop for Mariadb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The TLS session respire's pool would open, checked from the server
/// side: the cipher MariaDB reports for it.
async fn session_cipher(url: &str) -> Result<String, String> {
    use sqlx::Connection as _;
    let mut conn = sqlx::MySqlConnection::connect(url)
        .await
        .map_err(|e| e.to_string())?;
    let row: (String, String) = sqlx::query_as("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    Ok(row.1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_link_over_tls() {
    if !installed(&[
        "/usr/sbin/mariadbd",
        "/usr/bin/mariadb-install-db",
        "/usr/bin/mariadb",
    ]) {
        return;
    }
    let certs = tempfile::tempdir().unwrap();
    let dir = certs.path();
    let ca = pki(dir);
    for ext in ["pem", "key"] {
        std::fs::copy(
            dir.join(format!("server.{ext}")),
            dir.join(format!("db.{ext}")),
        )
        .unwrap();
    }
    let db = Mariadb::start(dir);
    db.sql(
        "CREATE USER 'respire'@'127.0.0.1' IDENTIFIED BY 'pw';
         GRANT ALL ON *.* TO 'respire'@'127.0.0.1';
         CREATE USER 'x509'@'127.0.0.1' IDENTIFIED BY 'pw' REQUIRE X509;
         GRANT ALL ON *.* TO 'x509'@'127.0.0.1';",
    )
    .unwrap();
    let p = |name: &str| dir.join(name).display().to_string();
    let url = |user: &str, database: &str, options: &str| {
        format!(
            "mysql://{user}:pw@127.0.0.1:{}/{database}?{options}",
            db.port
        )
    };
    let verify = format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={}", p("ca.pem"));

    // VERIFY_IDENTITY with the right CA: migrations, then commands.
    let main = url("respire", "respire_tls", &verify);
    let (ok, stderr) = migrate(&main).await;
    assert!(ok, "respire migrate over TLS failed: {stderr}");
    let server = TestServer::start_with(|c| c.database_url = Some(main.clone())).await;
    server.wait_store_ready().await;
    let mut con = server.client().await;
    let _: () = con.set("over", "tls").await.unwrap();
    let _: () = con.hset("h", "f", "v").await.unwrap();
    assert_eq!(con.get::<_, String>("over").await.unwrap(), "tls");
    assert_eq!(
        db.sql("SELECT CAST(value AS CHAR) FROM respire_tls.kv_keys WHERE `key` = 'over'"),
        Ok("tls".into())
    );
    let cipher = session_cipher(&main).await.unwrap();
    assert!(!cipher.is_empty(), "the session is not encrypted");
    drop(con);
    server.stop().await;

    // A client certificate, for a user that requires one.
    let with_cert = format!(
        "{verify}&ssl-cert={}&ssl-key={}",
        p("client.pem"),
        p("client.key")
    );
    let (ok, stderr) = migrate(&url("x509", "respire_x509", &with_cert)).await;
    assert!(ok, "client certificate refused: {stderr}");
    let (ok, stderr) = migrate(&url("x509", "respire_x509", &verify)).await;
    assert!(!ok && stderr.contains("Access denied"), "{stderr}");

    // A CA that did not sign the server's certificate.
    let wrong_ca = format!("ssl-mode=VERIFY_CA&ssl-ca={}", p("other-ca.pem"));
    let (ok, stderr) = migrate(&url("respire", "respire_tls", &wrong_ca)).await;
    assert!(!ok, "connected trusting the wrong CA");
    let lower = stderr.to_lowercase();
    assert!(
        lower.contains("unknownissuer") || lower.contains("unknown issuer"),
        "unclear error: {stderr}"
    );
    // A server running on it keeps answering, and says why it waits.
    let server =
        TestServer::start_with(|c| c.database_url = Some(url("respire", "respire_tls", &wrong_ca)))
            .await;
    let mut con = server.client().await;
    let r: redis::RedisResult<String> = con.get("over").await;
    assert_eq!(
        r.map_err(|e| err_text(&e)),
        Err("LOADING Redis is loading the dataset in memory".into())
    );
    drop(con);
    server.stop().await;

    // Without TLS the server refuses (require-secure-transport; MariaDB
    // answers it as a denied login).
    let (ok, stderr) = migrate(&url("respire", "respire_tls", "ssl-mode=DISABLED")).await;
    assert!(
        !ok && (stderr.contains("insecure transport") || stderr.contains("Access denied")),
        "{stderr}"
    );

    // The server moves to a certificate for another name: VERIFY_IDENTITY
    // refuses it; REQUIRED (encryption, no verification) connects.
    ca.issue_to(dir, "db", &["db.example.com"], false);
    db.sql("FLUSH SSL").unwrap();
    let (ok, stderr) = migrate(&main).await;
    assert!(
        !ok,
        "VERIFY_IDENTITY accepted a certificate for another name"
    );
    let lower = stderr.to_lowercase();
    assert!(
        lower.contains("notvalidforname") || lower.contains("not valid for name"),
        "unclear error: {stderr}"
    );
    let (ok, stderr) = migrate(&url("respire", "respire_tls", "ssl-mode=REQUIRED")).await;
    assert!(ok, "REQUIRED failed: {stderr}");
    // VERIFY_CA should ignore the name, but sqlx 0.8.6 checks it under
    // rustls >= 0.23.24 (launchbadge/sqlx#3793, fixed after 0.8.6): it may
    // fail, but only on the name.
    let chain_only = format!("ssl-mode=VERIFY_CA&ssl-ca={}", p("ca.pem"));
    let (ok, stderr) = migrate(&url("respire", "respire_tls", &chain_only)).await;
    assert!(
        ok || stderr.contains("not valid for name"),
        "VERIFY_CA failed: {stderr}"
    );
}

// ---------------------------------------------------------------------------
// NATS.

/// A nats-server of the test's own with TLS and client certificates
/// required (verify), and JetStream; killed when dropped.
struct TlsNats {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl TlsNats {
    async fn start(certs: &Path) -> TlsNats {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let f = |name: &str| certs.join(name).display().to_string();
        let config = format!(
            "listen: 127.0.0.1:{port}\n\
             tls {{\n  cert_file: {:?}\n  key_file: {:?}\n  ca_file: {:?}\n  verify: true\n  timeout: 2\n}}\n\
             jetstream {{\n  store_dir: {:?}\n}}\n",
            f("server.pem"),
            f("server.key"),
            f("ca.pem"),
            dir.path().join("js").display().to_string(),
        );
        std::fs::write(dir.path().join("nats.conf"), config).unwrap();
        let child = Command::new("/usr/sbin/nats-server")
            .arg("-c")
            .arg(dir.path().join("nats.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server");
        let nats = TlsNats {
            child,
            port,
            _dir: dir,
        };
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return nats;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the TLS nats-server did not start");
    }

    fn url(&self) -> String {
        format!("tls://127.0.0.1:{}", self.port)
    }
}

impl Drop for TlsNats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (up to 15 s) until the process has logged `text`; returns its log.
async fn logged(process: &ProcessServer, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let log = process.stderr();
        if log.contains(text) {
            return log;
        }
        assert!(Instant::now() < deadline, "{text:?} never logged: {log}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nats_link_over_tls() {
    if !installed(&["/usr/sbin/nats-server"]) {
        return;
    }
    // Keyspace events across instances need a shared database.
    let Some(db) = TestDb::create().await else {
        return;
    };
    let certs = tempfile::tempdir().unwrap();
    let dir = certs.path().to_path_buf();
    pki(&dir);
    let nats = TlsNats::start(&dir).await;
    let prefix = format!("t{:012x}", rand_u64() & 0xffff_ffff_ffff);
    let tls_flags = |c: &mut respire::config::Config, client: Option<&str>| {
        c.nats_url = Some(nats.url());
        c.nats_prefix = prefix.clone();
        c.nats_stream_storage = "memory".into();
        c.nats_tls_ca = Some(dir.join("ca.pem"));
        if let Some(name) = client {
            c.nats_tls_cert = Some(dir.join(format!("{name}.pem")));
            c.nats_tls_key = Some(dir.join(format!("{name}.key")));
        }
    };
    let instance = |client: Option<&'static str>| {
        let url = db.url.clone();
        let tls_flags = &tls_flags;
        async move {
            let server = TestServer::start_with(|c| {
                c.database_url = Some(url);
                tls_flags(c, client);
            })
            .await;
            server.wait_store_ready().await;
            server
        }
    };
    let a = instance(Some("client")).await;
    let b = instance(Some("client")).await;

    // PUBLISH on A reaches a subscriber on B, over the TLS NATS.
    let mut sub = redis::Client::open(b.url())
        .unwrap()
        .get_async_pubsub()
        .await
        .unwrap();
    sub.subscribe("news").await.unwrap();
    let mut messages = sub.into_on_message();
    let mut ca = a.client().await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let got = loop {
        // Until B's NATS subscription is in place.
        let _: i64 = ca.publish("news", "hello over tls").await.unwrap();
        use futures::StreamExt;
        if let Ok(Some(msg)) =
            tokio::time::timeout(Duration::from_millis(300), messages.next()).await
        {
            break msg.get_payload::<String>().unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "PUBLISH never crossed the TLS NATS"
        );
    };
    assert_eq!(got, "hello over tls");

    // Keyspace events: a write on A notifies B through the JetStream
    // stream on the TLS server.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("KEA")
        .query_async(&mut ca)
        .await
        .unwrap();
    let mut events = Events::psubscribe(&b.url(), "__keyspace@0__:tls*").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let _: () = ca.set("tlskey", 1).await.unwrap();
        if events.next(Duration::from_millis(300)).await.is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "keyspace events never flowed over the TLS NATS"
        );
    }
    // The stream is there, seen by a client of our own.
    let client = async_nats::ConnectOptions::new()
        .add_root_certificates(dir.join("ca.pem"))
        .add_client_certificate(dir.join("client.pem"), dir.join("client.key"))
        .require_tls(true)
        .connect(nats.url())
        .await
        .unwrap();
    let stream = format!("{}_EVENTS", prefix.to_uppercase());
    let mut info = async_nats::jetstream::new(client)
        .get_stream(&stream)
        .await
        .unwrap_or_else(|e| panic!("stream {stream} missing: {e}"));
    assert!(info.info().await.unwrap().state.messages > 0);

    // Without a client certificate the server refuses the connection:
    // the instance starts, says why, and answers PUBLISH with TRYAGAIN.
    let c = instance(None).await;
    let mut cc = c.client().await;
    let r: redis::RedisResult<i64> = cc.publish("news", "x").await;
    assert_eq!(
        r.map_err(|e| err_text(&e)),
        Err("TRYAGAIN pub/sub transport (NATS) unavailable".into())
    );
    // The binary's first attempt names the cause.
    let data = tempfile::tempdir().unwrap();
    let nats_url = nats.url();
    let ca_file = dir.join("ca.pem").display().to_string();
    let mut process = ProcessServer::spawn(
        data.path(),
        &[
            "--nats-url",
            &nats_url,
            "--nats-tls-ca",
            &ca_file,
            "--nats-prefix",
            &prefix,
        ],
    )
    .await;
    let text = logged(&process, "cannot connect to NATS").await;
    assert!(
        text.contains("BadCertificate"),
        "no clear NATS error: {text}"
    );
    process.kill9();

    // A client certificate from another CA: refused too.
    let d = tempfile::tempdir().unwrap();
    let cert = dir.join("stranger.pem").display().to_string();
    let key = dir.join("stranger.key").display().to_string();
    let mut process = ProcessServer::spawn(
        d.path(),
        &[
            "--nats-url",
            &nats_url,
            "--nats-tls-ca",
            &ca_file,
            "--nats-tls-cert",
            &cert,
            "--nats-tls-key",
            &key,
            "--nats-prefix",
            &prefix,
        ],
    )
    .await;
    logged(&process, "cannot connect to NATS").await;
    process.kill9();
    // Half a client certificate is a start-up error.
    let out = Command::new(env!("CARGO_BIN_EXE_respire"))
        .args(["--port", &free_port().to_string(), "--dir"])
        .arg(d.path())
        .args(["--nats-url", &nats_url, "--nats-tls-cert", &cert])
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("--nats-tls-cert and --nats-tls-key go together")
    );
}
