//! What the library tests share: the server under test, child processes
//! that die with the test, the Python (and Node) programs' runner, and an
//! optional MONITOR capture that lists the commands a library sent.
//!
//! Environment:
//! - `RESPIRE_LIBTEST_AGAINST_REDIS=1`: the same tests against a private
//!   `redis-server` (a free port, no persistence) instead of respire, to
//!   prove the tests themselves; the MariaDB variants then skip.
//! - `RESPIRE_LIBTEST_MONITOR=DIR`: a `redis-cli monitor` beside each test
//!   writes `DIR/<test>.monitor.log`, and `DIR/<test>.commands.txt` counts
//!   the distinct commands, those a client sent apart from those its
//!   scripts called (`[0 lua]` in Redis's MONITOR).

use std::collections::BTreeMap;
use std::fs::File;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::common::{ProcessServer, TestDb, free_port, python_module_available, skipped};

/// Where the Python programs live (run with this as their working
/// directory, so that a worker's `-A module` finds the app).
pub fn py_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/libraries/py")
}

/// Where the Node programs and their package.json live.
pub fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/libraries/js")
}

fn env_on(name: &str) -> bool {
    matches!(
        std::env::var(name).as_deref(),
        Ok("1") | Ok("true") | Ok("yes")
    )
}

/// True when the tests run against a private redis-server.
pub fn against_redis() -> bool {
    env_on("RESPIRE_LIBTEST_AGAINST_REDIS")
}

/// Which respire store the server under test uses.
#[derive(Clone, Copy, Debug)]
pub enum Store {
    /// The embedded default.
    Sqlite,
    /// A fresh database on the test MariaDB.
    MariaDb,
}

// ---------------------------------------------------------------------------
// Child processes.

/// A child process in a process group of its own, its stdout and stderr
/// going to a log file; the whole group gets SIGKILL when this is dropped
/// (pass or fail), so a worker's forked children die with it.
pub struct Proc {
    child: std::process::Child,
    pub name: String,
    pub log: PathBuf,
    /// Where stderr goes when it is kept apart from stdout.
    pub err_log: Option<PathBuf>,
}

impl Proc {
    /// Starts `cmd` with stdout and stderr together in `log`.
    pub fn spawn(name: &str, mut cmd: Command, log: PathBuf) -> Proc {
        let out = File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        Self::start(name, &mut cmd, log, None, out, err)
    }

    /// Starts `cmd` with stdout in `log` and stderr in `err_log`.
    pub fn spawn_split(name: &str, mut cmd: Command, log: PathBuf, err_log: PathBuf) -> Proc {
        let out = File::create(&log).expect("log file");
        let err = File::create(&err_log).expect("stderr file");
        Self::start(name, &mut cmd, log, Some(err_log), out, err)
    }

    fn start(
        name: &str,
        cmd: &mut Command,
        log: PathBuf,
        err_log: Option<PathBuf>,
        out: File,
        err: File,
    ) -> Proc {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        Proc {
            child,
            name: name.to_string(),
            log,
            err_log,
        }
    }

    /// What it has written so far (stdout, then stderr when apart).
    pub fn output(&self) -> String {
        let mut text = std::fs::read_to_string(&self.log).unwrap_or_default();
        if let Some(err_log) = &self.err_log {
            let err = std::fs::read_to_string(err_log).unwrap_or_default();
            if !err.is_empty() {
                text.push_str("\n--- stderr ---\n");
                text.push_str(&err);
            }
        }
        text
    }

    /// Its stdout alone.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until its output contains `needle`; panics (with the output)
    /// if it exits first or `within` passes.
    pub async fn wait_for_output(&mut self, needle: &str, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            if self.output().contains(needle) {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "{} exited ({status}) before printing {needle:?}:\n{}",
                    self.name,
                    self.output()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} did not print {needle:?} within {within:?}:\n{}",
                self.name,
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until one line of its output contains every one of
    /// `pieces`; panics (with the output) after `within`.
    pub async fn wait_for_line(&mut self, pieces: &[&str], within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let output = self.output();
            if output.lines().any(|l| pieces.iter().all(|p| l.contains(p))) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} printed no line with all of {pieces:?} within {within:?}:\n{output}",
                self.name,
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for it to exit; panics (with the output) after `within`.
    pub async fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() >= deadline {
                self.kill();
                panic!(
                    "{} still running after {within:?}, killed; its output:\n{}",
                    self.name,
                    self.output()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL to its process group, and reap it.
    pub fn kill(&mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: signals the process group this Proc started (its own id
        // is the group's, from process_group(0)).
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---------------------------------------------------------------------------
// The server under test.

/// A server for one test: respire (`ProcessServer`, on SQLite or a fresh
/// MariaDB database) or, with `RESPIRE_LIBTEST_AGAINST_REDIS=1`, a private
/// redis-server. Everything it started stops when it is dropped.
pub struct Target {
    pub addr: SocketAddr,
    /// What it is, for messages: "respire (SQLite)", "redis-server".
    pub what: String,
    pub started: Instant,
    // Dropped in this order: the monitor reads to the end first, then the
    // server stops, then its database is dropped.
    monitor: Option<Monitor>,
    respire: Option<ProcessServer>,
    _redis: Option<Proc>,
    _db: Option<TestDb>,
    dir: tempfile::TempDir,
}

impl Target {
    /// Starts the server under test, or returns `None` after recording a
    /// skip (MariaDB unreachable outside CI; a MariaDB variant against
    /// Redis).
    pub async fn start(store: Store) -> Option<Target> {
        let started = Instant::now();
        let dir = tempfile::tempdir().expect("temp dir");
        let (addr, what, respire, redis, db) = if against_redis() {
            if let Store::MariaDb = store {
                skipped(
                    "RESPIRE_LIBTEST_AGAINST_REDIS=1: the MariaDB variant would repeat the SQLite one against Redis",
                );
                return None;
            }
            let port = free_port();
            let mut cmd = Command::new("redis-server");
            cmd.args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .arg("--dir")
                .arg(dir.path());
            let mut redis = Proc::spawn("redis-server", cmd, dir.path().join("redis.log"));
            redis
                .wait_for_output("Ready to accept connections", Duration::from_secs(20))
                .await;
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            (addr, "redis-server".to_string(), None, Some(redis), None)
        } else {
            let data = dir.path().join("data");
            match store {
                Store::Sqlite => {
                    let server = ProcessServer::spawn(&data, &[]).await;
                    let addr = server.addr;
                    (
                        addr,
                        "respire (SQLite)".to_string(),
                        Some(server),
                        None,
                        None,
                    )
                }
                Store::MariaDb => {
                    let db = TestDb::create().await?;
                    let server = ProcessServer::spawn(&data, &["--database-url", &db.url]).await;
                    wait_store_ready(&server).await;
                    let addr = server.addr;
                    (
                        addr,
                        "respire (MariaDB)".to_string(),
                        Some(server),
                        None,
                        Some(db),
                    )
                }
            }
        };
        let mut target = Target {
            addr,
            what,
            started,
            monitor: None,
            respire,
            _redis: redis,
            _db: db,
            dir,
        };
        if let Some(out) = std::env::var_os("RESPIRE_LIBTEST_MONITOR") {
            target.monitor = Some(Monitor::start(&target, Path::new(&out)).await);
        }
        Some(target)
    }

    /// A second respire on the same MariaDB database (none for the other
    /// targets): another instance of the deployment.
    pub async fn second_instance(&self) -> Option<ProcessServer> {
        let db = self._db.as_ref()?;
        let server =
            ProcessServer::spawn(&self.dir.path().join("data2"), &["--database-url", &db.url])
                .await;
        wait_store_ready(&server).await;
        Some(server)
    }

    /// `redis://127.0.0.1:PORT/0`
    pub fn url(&self) -> String {
        format!("redis://{}/0", self.addr)
    }

    /// A file name in this test's scratch directory.
    pub fn scratch(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The end of respire's log, for failure messages.
    fn server_log_tail(&self) -> String {
        match &self.respire {
            Some(server) => {
                let log = server.stderr();
                let lines: Vec<&str> = log.lines().collect();
                let tail = lines[lines.len().saturating_sub(30)..].join("\n");
                format!("\n--- the end of respire's log ---\n{tail}")
            }
            None => String::new(),
        }
    }

    /// A `python3` child in the programs' directory with
    /// `$LIBTEST_REDIS_URL` set, output to `<name>.log` in the scratch
    /// directory.
    pub fn spawn_python(&self, name: &str, args: &[&str]) -> Proc {
        self.spawn_python_env(name, args, &[])
    }

    /// [`Target::spawn_python`] with more environment variables.
    pub fn spawn_python_env(&self, name: &str, args: &[&str], env: &[(&str, &str)]) -> Proc {
        let mut cmd = Command::new("python3");
        cmd.args(args)
            .envs(env.iter().copied())
            .current_dir(py_dir())
            .env("LIBTEST_REDIS_URL", self.url())
            .env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1");
        Proc::spawn(name, cmd, self.scratch(&format!("{name}.log")))
    }

    /// Runs the program `script` (in tests/libraries/py) with this
    /// server's URL as its argument; panics with its output unless it
    /// exits 0 within `within`. Returns its stdout.
    pub async fn run_python(&self, script: &str, within: Duration) -> String {
        self.run_python_args(script, &[&self.url()], &[], within)
            .await
    }

    /// Runs the program `script` with `args` and more environment
    /// variables (see [`Target::run_python`]).
    pub async fn run_python_args(
        &self,
        script: &str,
        args: &[&str],
        env: &[(&str, &str)],
        within: Duration,
    ) -> String {
        let mut cmd = Command::new("python3");
        cmd.arg(script)
            .args(args)
            .envs(env.iter().copied())
            .current_dir(py_dir())
            .env("LIBTEST_REDIS_URL", self.url())
            .env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1");
        self.run(script, cmd, within).await
    }

    /// Runs `cmd` to its end (see [`Target::run_python`]).
    pub async fn run(&self, name: &str, cmd: Command, within: Duration) -> String {
        let mut proc = Proc::spawn_split(
            name,
            cmd,
            self.scratch(&format!("{name}.out")),
            self.scratch(&format!("{name}.err")),
        );
        let status = proc.wait_exit(within).await;
        assert!(
            status.success(),
            "{name} against {} exited with {status}; its output:\n{}{}",
            self.what,
            proc.output(),
            self.server_log_tail()
        );
        proc.stdout()
    }

    /// Prints how long the test took (seen with --nocapture).
    pub fn report(&self, test: &str) {
        eprintln!(
            "{test} against {}: passed in {:.1}s",
            self.what,
            self.started.elapsed().as_secs_f64()
        );
    }
}

/// Waits until respire on MariaDB answers data commands (the store is
/// connected and migrated).
async fn wait_store_ready(server: &ProcessServer) {
    let client = redis::Client::open(server.url()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(mut conn) = client.get_multiplexed_async_connection().await {
            let r: redis::RedisResult<i64> = redis::cmd("DBSIZE").query_async(&mut conn).await;
            if r.is_ok() {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "respire on MariaDB never answered DBSIZE: {}",
            server.stderr()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// True when the Python packages named (module, pip package) import;
/// skips otherwise (a failure under CI=true).
pub fn python_has(modules: &[(&str, &str)]) -> bool {
    modules
        .iter()
        .all(|(module, package)| python_module_available(module, package))
}

/// Asserts that `output` has each of `expected` in order (each a piece of
/// a line), ending with the line `ok`.
pub fn assert_saw(what: &str, output: &str, expected: &[&str]) {
    let lines: Vec<&str> = output.lines().collect();
    let mut at = 0;
    for piece in expected {
        match lines[at..].iter().position(|l| l.contains(piece)) {
            Some(i) => at += i + 1,
            None => panic!("{what}: no line with {piece:?} (in order); its output:\n{output}"),
        }
    }
    assert_eq!(
        lines.last().copied(),
        Some("ok"),
        "{what} did not end with `ok`; its output:\n{output}"
    );
}

// ---------------------------------------------------------------------------
// MONITOR capture.

/// `redis-cli monitor` on the server under test, for the whole test; when
/// dropped it writes the distinct commands it saw.
struct Monitor {
    proc: Proc,
    summary: PathBuf,
}

impl Monitor {
    async fn start(target: &Target, out: &Path) -> Monitor {
        std::fs::create_dir_all(out).expect("monitor output dir");
        let thread = std::thread::current();
        let test = thread.name().unwrap_or("test").replace("::", ".");
        let mut cmd = Command::new("redis-cli");
        cmd.args(["-h", "127.0.0.1", "-p", &target.addr.port().to_string()])
            .arg("monitor");
        let mut proc = Proc::spawn(
            "redis-cli monitor",
            cmd,
            out.join(format!("{test}.monitor.log")),
        );
        proc.wait_for_output("OK", Duration::from_secs(10)).await;
        Monitor {
            proc,
            summary: out.join(format!("{test}.commands.txt")),
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.proc.kill();
        let log = self.proc.stdout();
        let _ = std::fs::write(&self.summary, summarize_monitor(&log));
    }
}

/// Commands with a subcommand worth telling apart.
const CONTAINERS: &[&str] = &[
    "ACL", "CLIENT", "CLUSTER", "COMMAND", "CONFIG", "FUNCTION", "MEMORY", "OBJECT", "PUBSUB",
    "SCRIPT", "XGROUP", "XINFO",
];

/// The distinct commands in MONITOR output, counted, sent by clients and
/// called from scripts apart.
pub fn summarize_monitor(log: &str) -> String {
    let mut direct: BTreeMap<String, u64> = BTreeMap::new();
    let mut scripted: BTreeMap<String, u64> = BTreeMap::new();
    for line in log.lines() {
        // 1700000000.123456 [0 127.0.0.1:40000] "SET" "k" "v"
        let Some(open) = line.find(" [") else {
            continue;
        };
        let Some(close) = line[open..].find("] ").map(|i| open + i) else {
            continue;
        };
        let source = &line[open + 2..close];
        let words = quoted_words(&line[close + 2..], 2);
        let Some(first) = words.first() else { continue };
        let mut name = first.to_uppercase();
        if CONTAINERS.contains(&name.as_str())
            && let Some(sub) = words.get(1)
        {
            name = format!("{name} {}", sub.to_uppercase());
        }
        let map = if source.ends_with(" lua") {
            &mut scripted
        } else {
            &mut direct
        };
        *map.entry(name).or_default() += 1;
    }
    let mut out = String::from("# sent by the clients\n");
    for (name, n) in &direct {
        out.push_str(&format!("{name}\t{n}\n"));
    }
    out.push_str("# called by scripts (redis.call / redis.pcall)\n");
    for (name, n) in &scripted {
        out.push_str(&format!("{name}\t{n}\n"));
    }
    out
}

/// The first `n` double-quoted words of a MONITOR line (escapes kept).
fn quoted_words(rest: &str, n: usize) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = rest.chars();
    while words.len() < n {
        // Skip to the next opening quote.
        if !chars.by_ref().any(|c| c == '"') {
            break;
        }
        let mut word = String::new();
        let mut escaped = false;
        for c in chars.by_ref() {
            match (escaped, c) {
                (true, _) => {
                    word.push(c);
                    escaped = false;
                }
                (false, '\\') => escaped = true,
                (false, '"') => break,
                (false, _) => word.push(c),
            }
        }
        words.push(word);
    }
    words
}

/// Installs js/package-lock.json's packages unless they are there; false
/// (a skip, a failure under CI=true) when node or npm is missing.
pub async fn npm_installed() -> bool {
    let dir = js_dir();
    if ["bullmq", "ioredis", "redis"]
        .iter()
        .all(|p| dir.join(format!("node_modules/{p}/package.json")).exists())
    {
        return true;
    }
    let have = |tool: &str| {
        Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !have("node") || !have("npm") {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "node and npm are needed for the Node libraries' tests and CI=true (apt-get install nodejs npm)"
        );
        skipped("node or npm missing (apt-get install nodejs npm)");
        return false;
    }
    let log = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("npm");
    cmd.args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir);
    let mut npm = Proc::spawn_split(
        "npm ci",
        cmd,
        log.path().join("npm.out"),
        log.path().join("npm.err"),
    );
    let status = npm.wait_exit(Duration::from_secs(300)).await;
    assert!(status.success(), "npm ci failed: {}", npm.output());
    true
}
