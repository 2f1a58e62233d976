//! TLS on the RESP port (`--tls-port` and Redis's other tls-* settings):
//! real clients (redis-cli, redis-py, a rustls client), client
//! certificates, hostile handshakes, the limits, start-up errors and
//! certificate reload. Certificates are made here with rcgen.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::common::certs::Ca;
use crate::common::*;
use respire::config::TlsAuthClients;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

// ---------------------------------------------------------------------------
// Certificates.

/// A CA, a server certificate for localhost/127.0.0.1 and a client
/// certificate, written as PEM files in a directory of their own.
struct Pki {
    dir: tempfile::TempDir,
    ca: Ca,
}

impl Pki {
    fn new() -> Pki {
        let pki = Pki {
            dir: tempfile::tempdir().unwrap(),
            ca: Ca::new("respire test CA"),
        };
        pki.write_set("", &pki.ca, 1);
        // A client certificate from another CA, which the server must not
        // accept.
        let stranger = Ca::new("some other CA");
        let wrong = stranger.issue("respire test", &["client"], true, 9);
        pki.write("wrong-client.pem", &wrong.cert);
        pki.write("wrong-client.key", &wrong.key);
        pki
    }

    /// Writes `ca.pem`, `server.pem`/`.key` and `client.pem`/`.key`
    /// (names prefixed by `prefix`) from `ca`.
    fn write_set(&self, prefix: &str, ca: &Ca, serial: u64) {
        let server = ca.issue("respire test", &["localhost", "127.0.0.1"], false, serial);
        let client = ca.issue("respire test", &["client"], true, serial + 100);
        self.write(&format!("{prefix}ca.pem"), &ca.pem());
        self.write(&format!("{prefix}server.pem"), &server.cert);
        self.write(&format!("{prefix}server.key"), &server.key);
        self.write(&format!("{prefix}client.pem"), &client.cert);
        self.write(&format!("{prefix}client.key"), &client.key);
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path(name), text).unwrap();
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn p(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    fn client(&self) -> Option<(PathBuf, PathBuf)> {
        Some((self.path("client.pem"), self.path("client.key")))
    }

    fn wrong_client(&self) -> Option<(PathBuf, PathBuf)> {
        Some((self.path("wrong-client.pem"), self.path("wrong-client.key")))
    }
}

/// An in-process server with TLS on from `pki`'s files.
async fn tls_server(pki: &Pki, adjust: impl FnOnce(&mut respire::config::Config)) -> TestServer {
    let (cert, key, ca) = (
        pki.path("server.pem"),
        pki.path("server.key"),
        pki.path("ca.pem"),
    );
    TestServer::start_with(|c| {
        c.tls_port = Some(0);
        c.tls_cert_file = Some(cert);
        c.tls_key_file = Some(key);
        c.tls_ca_cert_file = Some(ca);
        adjust(c);
    })
    .await
}

// ---------------------------------------------------------------------------
// A rustls client.

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Connects over TLS to `addr`, trusting `ca`, presenting `client` (a
/// certificate and key file) if given.
async fn tls_connect(
    addr: SocketAddr,
    ca: &Path,
    client: Option<(PathBuf, PathBuf)>,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        Some((cert, key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let key = PrivateKeyDer::from_pem_file(key).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let name = ServerName::try_from("localhost").unwrap();
    tokio::time::timeout(RAW_TIMEOUT, connector.connect(name, tcp))
        .await
        .map_err(|_| "handshake timed out".to_string())?
        .map_err(|e| e.to_string())
}

/// Reads one line (`...\r\n`) or what came before the connection ended.
async fn read_line<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> Result<String, String> {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n") {
        match tokio::time::timeout(RAW_TIMEOUT, stream.read(&mut byte)).await {
            Err(_) => return Err(format!("no reply; have {}", show(&got))),
            Ok(Ok(0)) => return Err(format!("closed after {}", show(&got))),
            Ok(Ok(_)) => got.push(byte[0]),
            Ok(Err(e)) => return Err(format!("{e} (after {})", show(&got))),
        }
    }
    Ok(String::from_utf8_lossy(&got).trim_end().to_string())
}

/// Sends `args` over an open TLS stream and returns the first reply line.
async fn tls_cmd<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    stream: &mut S,
    args: &[&str],
) -> Result<String, String> {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    stream
        .write_all(&encode(&args))
        .await
        .map_err(|e| e.to_string())?;
    read_line(stream).await
}

/// Connects, sends PING, and returns the reply line, or why it failed (a
/// refused client certificate shows as an alert on the first read).
async fn tls_ping(
    addr: SocketAddr,
    ca: &Path,
    client: Option<(PathBuf, PathBuf)>,
) -> Result<String, String> {
    let mut stream = tls_connect(addr, ca, client).await?;
    tls_cmd(&mut stream, &["PING"]).await
}

/// The certificate the server presents to a new connection.
async fn served_cert(
    addr: SocketAddr,
    ca: &Path,
    client: Option<(PathBuf, PathBuf)>,
) -> Option<Vec<u8>> {
    let mut stream = tls_connect(addr, ca, client).await.ok()?;
    tls_cmd(&mut stream, &["PING"]).await.ok()?;
    let (_, conn) = stream.get_ref();
    Some(conn.peer_certificates()?[0].to_vec())
}

fn der_of(pem_file: &Path) -> Vec<u8> {
    CertificateDer::pem_file_iter(pem_file)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .to_vec()
}

// ---------------------------------------------------------------------------
// Tools.

/// True when the program runs here; skips loudly otherwise (fails under
/// CI=true).
fn tool_available(program: &str, probe: &[&str]) -> bool {
    let ok = std::process::Command::new(program)
        .args(probe)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{program} is not available and CI=true: failing instead of skipping"
        );
        crate::common::skipped(&format!("{program} is not available"));
    }
    ok
}

/// Runs redis-cli over TLS against `port`; returns (success, stdout+stderr).
async fn redis_cli(port: u16, tls: &[String], args: &[&str]) -> (bool, String) {
    let mut cmd = tokio::process::Command::new("redis-cli");
    cmd.args(["-h", "127.0.0.1", "-p", &port.to_string(), "--tls"])
        .args(tls)
        .args(args);
    let out = tokio::time::timeout(Duration::from_secs(20), cmd.output())
        .await
        .expect("redis-cli hung")
        .expect("redis-cli");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text.trim().to_string())
}

// ---------------------------------------------------------------------------
// Tests.

#[tokio::test]
async fn redis_cli_over_tls_beside_the_plain_port() {
    if !tool_available("redis-cli", &["--version"]) {
        return;
    }
    let pki = Pki::new();
    let server = tls_server(&pki, |_| {}).await;
    let port = server.tls_addr.unwrap().port();
    let creds = vec![
        "--cacert".to_string(),
        pki.p("ca.pem"),
        "--cert".into(),
        pki.p("client.pem"),
        "--key".into(),
        pki.p("client.key"),
    ];
    assert_eq!(
        redis_cli(port, &creds, &["PING"]).await,
        (true, "PONG".into())
    );
    assert_eq!(
        redis_cli(port, &creds, &["SET", "greeting", "over tls"]).await,
        (true, "OK".into())
    );
    // Both ports serve the same data at once.
    let mut plain = server.client().await;
    assert_eq!(
        query::<String>(&mut plain, &["GET", "greeting"]).await,
        Ok("over tls".into())
    );
    query::<()>(&mut plain, &["SET", "from", "plain"])
        .await
        .unwrap();
    assert_eq!(
        redis_cli(port, &creds, &["GET", "from"]).await,
        (true, "plain".into())
    );
    let pair: Vec<String> = query(&mut plain, &["CONFIG", "GET", "tls-port"])
        .await
        .unwrap();
    assert_eq!(pair, vec!["tls-port".to_string(), port.to_string()]);

    // Without a client certificate (tls-auth-clients yes), or with one
    // from another CA, redis-cli is refused.
    let (ok, text) = redis_cli(port, &creds[..2], &["PING"]).await;
    assert!(
        !ok || !text.contains("PONG"),
        "no certificate accepted: {text}"
    );
    let wrong = vec![
        "--cacert".to_string(),
        pki.p("ca.pem"),
        "--cert".into(),
        pki.p("wrong-client.pem"),
        "--key".into(),
        pki.p("wrong-client.key"),
    ];
    let (ok, text) = redis_cli(port, &wrong, &["PING"]).await;
    assert!(!ok || !text.contains("PONG"), "wrong CA accepted: {text}");
    // And the server goes on.
    assert_eq!(
        redis_cli(port, &creds, &["PING"]).await,
        (true, "PONG".into())
    );
}

#[tokio::test]
async fn client_certificates_as_tls_auth_clients_says() {
    let pki = Pki::new();
    let ca = pki.path("ca.pem");
    let pong = Ok("+PONG".to_string());

    // yes (the default): a certificate from the CA is required.
    let server = tls_server(&pki, |_| {}).await;
    let addr = server.tls_addr.unwrap();
    assert_eq!(tls_ping(addr, &ca, pki.client()).await, pong);
    let none = tls_ping(addr, &ca, None).await;
    assert!(none.is_err(), "no client certificate accepted: {none:?}");
    let wrong = tls_ping(addr, &ca, pki.wrong_client()).await;
    assert!(wrong.is_err(), "wrong-CA certificate accepted: {wrong:?}");
    assert_eq!(tls_ping(addr, &ca, pki.client()).await, pong);

    // no: none is asked for.
    let server = tls_server(&pki, |c| c.tls_auth_clients = TlsAuthClients::No).await;
    let addr = server.tls_addr.unwrap();
    assert_eq!(tls_ping(addr, &ca, None).await, pong);
    assert_eq!(tls_ping(addr, &ca, pki.client()).await, pong);

    // optional: none is fine, a presented one must verify.
    let server = tls_server(&pki, |c| c.tls_auth_clients = TlsAuthClients::Optional).await;
    let addr = server.tls_addr.unwrap();
    assert_eq!(tls_ping(addr, &ca, None).await, pong);
    assert_eq!(tls_ping(addr, &ca, pki.client()).await, pong);
    let wrong = tls_ping(addr, &ca, pki.wrong_client()).await;
    assert!(wrong.is_err(), "wrong-CA certificate accepted: {wrong:?}");

    // A client that does not trust the server's CA gives up itself.
    let stranger = Ca::new("untrusted");
    pki.write("stranger.pem", &stranger.pem());
    let distrust = tls_ping(addr, &pki.path("stranger.pem"), None).await;
    assert!(distrust.is_err(), "{distrust:?}");
    assert_eq!(tls_ping(addr, &ca, None).await, pong);
}

#[tokio::test]
async fn redis_py_over_tls() {
    if !python_module_available("redis", "redis") {
        return;
    }
    let pki = Pki::new();
    let server = tls_server(&pki, |_| {}).await;
    let script = r#"
import sys, redis
port, ca, cert, key = sys.argv[1:5]
r = redis.Redis(host="127.0.0.1", port=int(port), ssl=True, ssl_ca_certs=ca,
                ssl_certfile=cert, ssl_keyfile=key, socket_timeout=10)
assert r.ping()
assert r.set("py", "tls")
assert r.get("py") == b"tls"
assert r.hset("h", mapping={"a": "1", "b": "2"}) == 2
assert r.hgetall("h") == {b"a": b"1", b"b": b"2"}
p = r.pipeline(transaction=True)
p.incr("n").incr("n")
assert p.execute() == [1, 2]
r3 = redis.Redis(host="127.0.0.1", port=int(port), ssl=True, ssl_ca_certs=ca,
                 ssl_certfile=cert, ssl_keyfile=key, protocol=3, socket_timeout=10)
assert r3.get("py") == b"tls"
print("ok")
"#;
    let out = tokio::process::Command::new("python3")
        .args(["-c", script])
        .arg(server.tls_addr.unwrap().port().to_string())
        .args([pki.p("ca.pem"), pki.p("client.pem"), pki.p("client.key")])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "redis-py failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut plain = server.client().await;
    assert_eq!(
        query::<String>(&mut plain, &["GET", "py"]).await,
        Ok("tls".into())
    );
}

/// Reads until the server closes the connection (or 5 s pass); returns
/// what it sent meanwhile.
async fn until_closed(stream: &mut TcpStream) -> Result<Vec<u8>, String> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + RAW_TIMEOUT;
    loop {
        let mut chunk = [0u8; 1024];
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Err(_) => return Err(format!("still open; got {}", show(&got))),
            Ok(Ok(0)) | Ok(Err(_)) => return Ok(got),
            Ok(Ok(n)) => got.extend_from_slice(&chunk[..n]),
        }
    }
}

#[tokio::test]
async fn garbage_and_silent_clients_do_not_hold_the_tls_port() {
    let pki = Pki::new();
    let ca = pki.path("ca.pem");
    let server = tls_server(&pki, |c| {
        c.maxclients = 2;
        c.tls_handshake_timeout = Duration::from_millis(300);
    })
    .await;
    let addr = server.tls_addr.unwrap();

    // A plaintext RESP client on the TLS port: closed, no reply in clear.
    let mut plaintext = TcpStream::connect(addr).await.unwrap();
    plaintext.write_all(&encode(&[b"PING"])).await.unwrap();
    let got = until_closed(&mut plaintext).await.unwrap();
    assert!(!got.windows(5).any(|w| w == b"+PONG"), "{}", show(&got));

    // Garbage shaped like a TLS record, and garbage that is not.
    for junk in [
        &b"\x16\x03\x01\x00\x05hello"[..],
        &b"\x16\x03\x01\xff\xff"[..],
        &[0u8; 4096][..],
        &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
    ] {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let _ = stream.write_all(junk).await;
        until_closed(&mut stream).await.unwrap();
    }

    // Two clients that connect and say nothing fill maxclients 2 while
    // their handshakes wait...
    let mut silent_a = TcpStream::connect(addr).await.unwrap();
    let mut silent_b = TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut plain = Raw::connect(server.addr).await;
    plain
        .expect(format!("-{}\r\n", "ERR max number of clients reached").as_bytes())
        .await;
    // ...until the handshake timeout closes them and frees the slots.
    until_closed(&mut silent_a).await.unwrap();
    until_closed(&mut silent_b).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut stream = tls_connect(addr, &ca, pki.client()).await.unwrap();
    assert_eq!(tls_cmd(&mut stream, &["PING"]).await, Ok("+PONG".into()));
    // Over maxclients a TLS client hears Redis's error over TLS.
    let mut plain = Raw::connect(server.addr).await;
    assert_eq!(plain.cmd(&["PING"]).await, b"+PONG\r\n");
    let refused = tls_ping(addr, &ca, pki.client()).await;
    assert_eq!(refused, Ok("-ERR max number of clients reached".into()));
    let clients = plain.cmd(&["INFO", "clients"]).await;
    assert!(
        String::from_utf8_lossy(&clients).contains("connected_clients:2\r\n"),
        "{}",
        show(&clients)
    );
}

#[tokio::test]
async fn tls_clients_meet_protected_mode_and_auth() {
    let pki = Pki::new();
    let ca = pki.path("ca.pem");
    let server = tls_server(&pki, |c| c.peers_are_remote = true).await;
    let denied = tls_ping(server.tls_addr.unwrap(), &ca, pki.client()).await;
    assert!(
        denied
            .as_ref()
            .is_ok_and(|t| t.starts_with("-DENIED Redis is running in protected mode")),
        "{denied:?}"
    );

    let server = tls_server(&pki, |c| c.requirepass = Some("secret".into())).await;
    let mut stream = tls_connect(server.tls_addr.unwrap(), &ca, pki.client())
        .await
        .unwrap();
    assert_eq!(
        tls_cmd(&mut stream, &["GET", "k"]).await,
        Ok(format!("-{NOAUTH}"))
    );
    assert_eq!(
        tls_cmd(&mut stream, &["AUTH", "secret"]).await,
        Ok("+OK".into())
    );
    assert_eq!(
        tls_cmd(&mut stream, &["SET", "k", "v"]).await,
        Ok("+OK".into())
    );
    // CLIENT INFO over TLS names the TLS port's address as laddr.
    let header = tls_cmd(&mut stream, &["CLIENT", "INFO"]).await.unwrap();
    assert!(header.starts_with('$'), "{header}");
    let info = read_line(&mut stream).await.unwrap();
    let laddr = format!(" laddr={} ", server.tls_addr.unwrap());
    assert!(info.contains(&laddr), "{laddr} not in {info}");
    assert!(info.contains(" cmd=client|info "), "{info}");
    // QUIT ends the session with a close_notify: a clean end, not an
    // error.
    assert_eq!(tls_cmd(&mut stream, &["QUIT"]).await, Ok("+OK".into()));
    let mut rest = Vec::new();
    let end = tokio::time::timeout(RAW_TIMEOUT, stream.read_to_end(&mut rest)).await;
    assert!(matches!(end, Ok(Ok(0))), "{end:?}");
}

#[tokio::test]
async fn a_blocked_tls_client_that_leaves_is_noticed() {
    let pki = Pki::new();
    let ca = pki.path("ca.pem");
    let server = tls_server(&pki, |_| {}).await;
    let mut stream = tls_connect(server.tls_addr.unwrap(), &ca, pki.client())
        .await
        .unwrap();
    assert_eq!(
        tls_cmd(&mut stream, &["CLIENT", "SETNAME", "blocked"]).await,
        Ok("+OK".into())
    );
    let request = encode(&[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"__events@0__", b"$"]);
    stream.write_all(&request).await.unwrap();
    let mut plain = Raw::connect(server.addr).await;
    let listed = |list: &[u8]| String::from_utf8_lossy(list).contains("name=blocked");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(listed(&plain.cmd(&["CLIENT", "LIST"]).await));
    // A TLS client closes with close_notify, then FIN.
    stream.shutdown().await.unwrap();
    drop(stream);
    let mut gone = false;
    for _ in 0..100 {
        if !listed(&plain.cmd(&["CLIENT", "LIST"]).await) {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gone, "the blocked TLS client stayed listed after leaving");
}

/// Runs the binary with `args` until it exits (it must, within 20 s);
/// returns (success, stderr).
async fn run_to_exit(args: &[String]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_respire"));
    cmd.args([
        "--bind",
        "127.0.0.1",
        "--port",
        &free_port().to_string(),
        "--dir",
    ])
    .arg(dir.path())
    .args(args)
    .env_remove("DATABASE_URL")
    .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(20), cmd.output())
        .await
        .expect("respire kept running")
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn incomplete_tls_settings_stop_the_start_with_redis_errors() {
    let pki = Pki::new();
    let port = free_port().to_string();
    let cert = ["--tls-cert-file".to_string(), pki.p("server.pem")];
    let key = ["--tls-key-file".to_string(), pki.p("server.key")];
    let ca = ["--tls-ca-cert-file".to_string(), pki.p("ca.pem")];
    let tls_port = ["--tls-port".to_string(), port.clone()];
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            [&tls_port[..], &key, &ca].concat(),
            "No tls-cert-file configured!",
        ),
        (
            [&tls_port[..], &cert, &ca].concat(),
            "No tls-key-file configured!",
        ),
        (
            [&tls_port[..], &cert, &key].concat(),
            "Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled!",
        ),
        (
            [
                &tls_port[..],
                &cert,
                &key,
                &["--tls-auth-clients".into(), "optional".into()],
            ]
            .concat(),
            "Either tls-ca-cert-file or tls-ca-cert-dir must be specified",
        ),
        (
            [
                &tls_port[..],
                &["--tls-cert-file".into(), pki.p("missing.pem")],
                &key,
                &ca,
            ]
            .concat(),
            "Failed to load certificate: ",
        ),
        (
            [
                &tls_port[..],
                &cert,
                &["--tls-key-file".into(), pki.p("ca.pem")],
                &ca,
            ]
            .concat(),
            "Failed to load private key: ",
        ),
        (
            // The client certificate's key does not match the server's.
            [
                &tls_port[..],
                &cert,
                &["--tls-key-file".into(), pki.p("client.key")],
                &ca,
            ]
            .concat(),
            "Failed to load private key: ",
        ),
        (
            [
                &tls_port[..],
                &cert,
                &key,
                &["--tls-ca-cert-file".into(), pki.p("server.key")],
            ]
            .concat(),
            "Failed to configure CA certificate(s) file/directory",
        ),
        (
            [
                &tls_port[..],
                &cert,
                &key,
                &ca,
                &["--tls-auth-clients".into(), "maybe".into()],
            ]
            .concat(),
            "argument must be 'yes', 'no' or 'optional'",
        ),
    ];
    for (args, expected) in cases {
        let (ok, stderr) = run_to_exit(&args).await;
        assert!(!ok, "started with {args:?}");
        assert!(
            stderr.contains(expected),
            "{args:?}: expected {expected:?} in: {stderr}"
        );
    }

    // tls-auth-clients no needs no CA; the environment works as the flags.
    let dir = tempfile::tempdir().unwrap();
    let tls_port = free_port();
    let mut server = {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_respire"));
        let plain_port = free_port();
        cmd.args([
            "--bind",
            "127.0.0.1",
            "--port",
            &plain_port.to_string(),
            "--dir",
        ])
        .arg(dir.path())
        .env_remove("DATABASE_URL")
        .env("RESPIRE_TLS_PORT", tls_port.to_string())
        .env("RESPIRE_TLS_CERT_FILE", pki.path("server.pem"))
        .env("RESPIRE_TLS_KEY_FILE", pki.path("server.key"))
        .env("RESPIRE_TLS_AUTH_CLIENTS", "no")
        .stderr(std::process::Stdio::null());
        KillOnDrop(cmd.spawn().unwrap())
    };
    let addr: SocketAddr = format!("127.0.0.1:{tls_port}").parse().unwrap();
    let mut answered = None;
    for _ in 0..500 {
        if let Ok(reply) = tls_ping(addr, &pki.path("ca.pem"), None).await {
            answered = Some(reply);
            break;
        }
        assert!(server.0.try_wait().unwrap().is_none(), "respire exited");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(answered.as_deref(), Some("+PONG"));
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn sighup_reloads_the_certificates_for_new_connections() {
    // The handler is installed before any SIGHUP is raised here, so the
    // signal never takes the default action (ending the test process).
    let _hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).unwrap();
    let pki = Pki::new();
    let server = tls_server(&pki, |c| c.tls_poll_interval = Duration::from_secs(3600)).await;
    let addr = server.tls_addr.unwrap();
    let old_ca = pki.path("ca.pem");
    let old_cert = der_of(&pki.path("server.pem"));
    let mut open = tls_connect(addr, &old_ca, pki.client()).await.unwrap();
    assert_eq!(
        tls_cmd(&mut open, &["SET", "k", "1"]).await,
        Ok("+OK".into())
    );
    assert_eq!(
        served_cert(addr, &old_ca, pki.client()).await,
        Some(old_cert.clone())
    );

    // A new CA, a new server certificate from it, and clients of the new
    // CA only. Kept aside first, so the old client files stay usable.
    let next = Ca::new("respire test CA 2");
    pki.write_set("next-", &next, 2);
    for name in ["ca.pem", "server.pem", "server.key"] {
        std::fs::copy(pki.path(&format!("next-{name}")), pki.path(name)).unwrap();
    }
    let new_cert = der_of(&pki.path("server.pem"));
    let new_ca = pki.path("next-ca.pem");
    let new_client = Some((pki.path("next-client.pem"), pki.path("next-client.key")));
    // SAFETY: kill only sends a signal to this process.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGHUP);
    }
    let mut served = None;
    for _ in 0..250 {
        served = served_cert(addr, &new_ca, new_client.clone()).await;
        if served.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        served,
        Some(new_cert.clone()),
        "the new certificate was not served"
    );
    // The old CA's clients are no longer accepted...
    let refused = tls_ping(addr, &new_ca, pki.client()).await;
    assert!(refused.is_err(), "{refused:?}");
    // ...and the connection made before the reload goes on.
    assert_eq!(tls_cmd(&mut open, &["INCR", "k"]).await, Ok(":2".into()));

    // A broken file fails the reload, which keeps the certificates.
    pki.write("server.pem", "not a certificate");
    unsafe {
        libc::kill(libc::getpid(), libc::SIGHUP);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        served_cert(addr, &new_ca, new_client.clone()).await,
        Some(new_cert)
    );
    assert_eq!(tls_cmd(&mut open, &["INCR", "k"]).await, Ok(":3".into()));
}

/// Kubernetes mounts a Secret as `name -> ..data/name`, `..data -> ..<version>`,
/// and updates it by pointing `..data` at a new version directory.
fn mount_secret_version(root: &Path, version: &str, files: &[(&str, &str)]) {
    let dir = root.join(version);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let tmp = root.join("..data_tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(version, &tmp).unwrap();
    std::fs::rename(&tmp, root.join("..data")).unwrap();
    for (name, _) in files {
        let link = root.join(name);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(format!("..data/{name}"), &link).unwrap();
        }
    }
}

#[tokio::test]
async fn a_swapped_secret_is_picked_up_by_the_running_binary() {
    let ca1 = Ca::new("respire test CA");
    let ca2 = Ca::new("respire test CA 2");
    let (server1, client1) = (
        ca1.issue("respire test", &["localhost", "127.0.0.1"], false, 1),
        ca1.issue("respire test", &["client"], true, 101),
    );
    let (server2, client2) = (
        ca2.issue("respire test", &["localhost", "127.0.0.1"], false, 2),
        ca2.issue("respire test", &["client"], true, 102),
    );
    let secret = tempfile::tempdir().unwrap();
    let root = secret.path();
    let bundle = format!("{}{}", ca1.pem(), ca2.pem());
    // Clients trust either CA while the server moves from one to the other.
    std::fs::write(root.join("trust.pem"), &bundle).unwrap();
    let trust = root.join("trust.pem");
    let mount = root.join("mount");
    std::fs::create_dir(&mount).unwrap();
    mount_secret_version(
        &mount,
        "..v1",
        &[
            ("tls.crt", &server1.cert),
            ("tls.key", &server1.key),
            ("ca.crt", &bundle),
        ],
    );
    for (name, issued) in [("client1", &client1), ("client2", &client2)] {
        std::fs::write(root.join(format!("{name}.pem")), &issued.cert).unwrap();
        std::fs::write(root.join(format!("{name}.key")), &issued.key).unwrap();
    }
    let client = Some((root.join("client1.pem"), root.join("client1.key")));

    let data = tempfile::tempdir().unwrap();
    let tls_port = free_port();
    let p = |name: &str| mount.join(name).display().to_string();
    let mut server = ProcessServer::spawn(
        data.path(),
        &[
            "--tls-port",
            &tls_port.to_string(),
            "--tls-cert-file",
            &p("tls.crt"),
            "--tls-key-file",
            &p("tls.key"),
            "--tls-ca-cert-file",
            &p("ca.crt"),
        ],
    )
    .await;
    let addr: SocketAddr = format!("127.0.0.1:{tls_port}").parse().unwrap();
    let cert1 = CertificateDer::from_pem_slice(server1.cert.as_bytes())
        .unwrap()
        .to_vec();
    let cert2 = CertificateDer::from_pem_slice(server2.cert.as_bytes())
        .unwrap()
        .to_vec();
    assert_eq!(served_cert(addr, &trust, client.clone()).await, Some(cert1));
    let mut open = tls_connect(addr, &trust, client.clone()).await.unwrap();
    assert_eq!(tls_cmd(&mut open, &["PING"]).await, Ok("+PONG".into()));

    // SIGHUP does not end the process (it reloads the same files).
    // SAFETY: kill only sends a signal to the child.
    unsafe {
        libc::kill(server.child.id() as i32, libc::SIGHUP);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "SIGHUP ended respire"
    );

    mount_secret_version(
        &mount,
        "..v2",
        &[
            ("tls.crt", &server2.cert),
            ("tls.key", &server2.key),
            ("ca.crt", &ca2.pem()),
        ],
    );
    let client = Some((root.join("client2.pem"), root.join("client2.key")));
    let mut served = None;
    for _ in 0..100 {
        served = served_cert(addr, &trust, client.clone()).await;
        if served.as_ref() == Some(&cert2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        served,
        Some(cert2),
        "the swapped Secret was not picked up within 10 s: {}",
        server.stderr()
    );
    assert!(server.stderr().contains("TLS certificates reloaded"));
    // The open connection and the plain port go on.
    assert_eq!(tls_cmd(&mut open, &["PING"]).await, Ok("+PONG".into()));
    let mut plain = Raw::connect(server.addr).await;
    assert_eq!(plain.cmd(&["PING"]).await, b"+PONG\r\n");
    server.kill9();
}
