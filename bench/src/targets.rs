//! The servers under test: respire instances this harness starts (embedded
//! store, MariaDB, optionally MariaDB + NATS) and the reference Redis.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use delay_proxy::DelayProxy;
use rand::Rng as _;
use sqlx::Connection as _;
use sqlx::mysql::MySqlConnection;

use super::resp::{Conn, Value};

/// The logical database every measurement uses, so a shared reference
/// Redis is not disturbed.
pub const DB: u32 = 15;

/// Which database ceiling a target's figures are compared with.
#[derive(Clone, Debug, PartialEq)]
pub enum Store {
    Sqlite(PathBuf),
    MySql(String),
}

/// A server the benchmarks drive.
pub struct Target {
    /// Column name in the report.
    pub name: String,
    /// Where clients connect.
    pub addr: String,
    /// Where subscribers connect (another instance of the same store for
    /// a multi-instance target, else `addr`).
    pub sub_addr: String,
    /// The process whose RSS is measured.
    pub pid: u32,
    /// The process behind `sub_addr`.
    pub sub_pid: u32,
    /// The store behind it (`None` for the reference).
    pub store: Option<Store>,
}

impl Target {
    pub fn is_reference(&self) -> bool {
        self.store.is_none()
    }
}

/// A respire process; killed when dropped.
struct Instance {
    child: Child,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> anyhow::Result<TempDir> {
        let path = std::env::temp_dir().join(format!(
            "{prefix}-{}-{:08x}",
            std::process::id(),
            rand::thread_rng().r#gen::<u32>()
        ));
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Everything started for a run: dropped (or [`Fleet::shutdown`]) at the
/// end, which stops the instances and drops the benchmark databases.
pub struct Fleet {
    pub targets: Vec<Target>,
    pub notes: Vec<String>,
    pub dir: TempDir,
    instances: Vec<Instance>,
    mysql_admin: String,
    databases: Vec<String>,
    /// NATS server and the streams to delete there.
    nats_streams: Vec<(String, String)>,
    /// How the `mariadb+nats` pair was started, for one more instance of
    /// the same deployment (the distance figure's far datacenter).
    pair: Option<Pair>,
}

/// The `mariadb+nats` pair's deployment.
#[derive(Clone)]
struct Pair {
    database_url: String,
    nats_url: String,
    /// The NATS flags besides `--nats-url` (prefix, stream, storage).
    nats_flags: Vec<String>,
    /// `respire --help`, to pass only the flags this build has.
    help: String,
}

/// An instance in a far datacenter: it reaches the database and NATS
/// through delaying proxies.
pub struct Far {
    pub addr: String,
    /// The proxy to the database and the one to NATS.
    pub proxies: Vec<DelayProxy>,
}

impl Far {
    pub fn set_delay(&self, delay: Duration) {
        for p in &self.proxies {
            p.set_delay(delay);
        }
    }
}

/// Where the services are and which binary to start.
pub struct Setup {
    pub respire: PathBuf,
    pub reference: String,
    pub mysql: String,
    pub nats: String,
}

/// The `respire` binary next to this executable (same target directory).
pub fn locate_respire() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe().context("locating this executable")?;
    let bin = me.with_file_name(format!("respire{}", std::env::consts::EXE_SUFFIX));
    if !bin.is_file() {
        bail!(
            "{} not found: build it first with `cargo build --release` (which builds respire and respire-bench into the same target directory)",
            bin.display()
        );
    }
    Ok(bin)
}

/// A port nobody listens on right now.
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// What `respire --help` prints.
fn help_text(bin: &Path) -> String {
    Command::new(bin)
        .arg("--help")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// NATS settings for the benchmark pair, each passed when this respire
/// has the flag: a subject prefix and an in-memory event stream of this
/// run's own (event ids restart with each fresh database, and JetStream
/// would drop them as duplicates of an earlier run's), deleted at the end.
fn nats_extras(prefix: &str) -> [(&'static str, String); 4] {
    [
        ("--nats-prefix", prefix.to_string()),
        ("--nats-stream", format!("{prefix}_EVENTS")),
        ("--nats-stream-storage", "memory".into()),
        ("--nats-stream-max-age", "600".into()),
    ]
}

impl Fleet {
    /// Nothing started yet.
    pub fn new(setup: &Setup) -> anyhow::Result<Fleet> {
        Ok(Fleet {
            targets: Vec::new(),
            notes: Vec::new(),
            dir: TempDir::new("respire-bench")?,
            instances: Vec::new(),
            mysql_admin: setup.mysql.trim_end_matches('/').to_string(),
            databases: Vec::new(),
            nats_streams: Vec::new(),
            pair: None,
        })
    }

    /// Starts every target that can start; the reference Redis must answer.
    pub async fn start(&mut self, setup: &Setup) -> anyhow::Result<()> {
        let sqlite = self.dir.0.join("sqlite");
        let (addr, pid) = self.spawn(setup, "sqlite", &sqlite, &[]).await?;
        let ceiling = Store::Sqlite(self.dir.0.join("ceiling.db"));
        self.push_respire("sqlite", (addr.clone(), pid), (addr, pid), ceiling);

        match self.create_database("").await {
            Ok(url) => {
                let args = ["--database-url".to_string(), url.clone()];
                let dir = self.dir.0.join("mariadb");
                let (addr, pid) = self.spawn(setup, "mariadb", &dir, &args).await?;
                self.push_respire(
                    "mariadb",
                    (addr.clone(), pid),
                    (addr, pid),
                    Store::MySql(url),
                );
            }
            Err(e) => self.notes.push(format!("MariaDB target skipped: {e:#}")),
        }
        let help = help_text(&setup.respire);
        if help.contains("--nats-url") {
            self.start_nats_pair(setup, &help).await?;
        } else {
            self.notes
                .push("MariaDB+NATS target skipped: respire has no --nats-url flag yet".into());
        }

        let pid = reference_pid(&setup.reference).await?;
        self.targets.push(Target {
            name: "redis".into(),
            addr: setup.reference.clone(),
            sub_addr: setup.reference.clone(),
            pid,
            sub_pid: pid,
            store: None,
        });
        Ok(())
    }

    /// Two instances on one fresh database sharing NATS: clients use the
    /// first, subscribers the second.
    async fn start_nats_pair(&mut self, setup: &Setup, help: &str) -> anyhow::Result<()> {
        let url = match self.create_database("_nats").await {
            Ok(url) => url,
            Err(e) => {
                self.notes
                    .push(format!("MariaDB+NATS target skipped: {e:#}"));
                return Ok(());
            }
        };
        let prefix = format!("respire_bench_{:08x}", rand::thread_rng().r#gen::<u32>());
        let mut nats_flags = Vec::new();
        for (flag, value) in nats_extras(&prefix) {
            if help.contains(&format!("{flag} ")) {
                nats_flags.extend([flag.to_string(), value]);
            }
        }
        let mut args = vec![
            "--database-url".to_string(),
            url.clone(),
            "--nats-url".to_string(),
            setup.nats.clone(),
        ];
        args.extend(nats_flags.iter().cloned());
        self.nats_streams
            .push((setup.nats.clone(), format!("{prefix}_EVENTS")));
        self.pair = Some(Pair {
            database_url: url.clone(),
            nats_url: setup.nats.clone(),
            nats_flags,
            help: help.to_string(),
        });
        let first_dir = self.dir.0.join("nats-a");
        let second_dir = self.dir.0.join("nats-b");
        let first = self.spawn(setup, "nats-a", &first_dir, &args).await?;
        let second = self.spawn(setup, "nats-b", &second_dir, &args).await?;
        self.push_respire("mariadb+nats", first, second, Store::MySql(url));
        Ok(())
    }

    fn push_respire(
        &mut self,
        name: &str,
        (addr, pid): (String, u32),
        (sub_addr, sub_pid): (String, u32),
        store: Store,
    ) {
        self.targets.push(Target {
            name: name.into(),
            addr,
            sub_addr,
            pid,
            sub_pid,
            store: Some(store),
        });
    }

    /// One more instance of the `mariadb+nats` deployment, in a datacenter
    /// of its own (`--datacenter far` when this build has the flag), that
    /// reaches the database and NATS through delaying proxies (no delay
    /// until [`Far::set_delay`]). `None` when there is no such pair.
    pub async fn start_far(&mut self, setup: &Setup) -> anyhow::Result<Option<Far>> {
        let Some(pair) = self.pair.clone() else {
            return Ok(None);
        };
        let (database_url, db_proxy) = proxied(&pair.database_url).await?;
        let (nats_url, nats_proxy) = proxied(&pair.nats_url).await?;
        let mut args = vec![
            "--database-url".to_string(),
            database_url,
            "--nats-url".to_string(),
            nats_url,
        ];
        let datacenters = pair.help.contains("--datacenter ");
        let mut flags = pair.nats_flags.iter();
        while let Some(flag) = flags.next() {
            args.push(flag.clone());
            if flag == "--nats-stream"
                && let Some(stream) = flags.next()
            {
                // A datacenter of its own has a stream of its own.
                let stream = if datacenters {
                    format!("{stream}_FAR")
                } else {
                    stream.clone()
                };
                args.push(stream.clone());
                self.nats_streams.push((pair.nats_url.clone(), stream));
            }
        }
        if datacenters {
            args.extend(["--datacenter".to_string(), "far".to_string()]);
        }
        let dir = self.dir.0.join("far");
        let (addr, _) = self.spawn(setup, "far", &dir, &args).await?;
        Ok(Some(Far {
            addr,
            proxies: vec![db_proxy, nats_proxy],
        }))
    }

    /// Creates `respire_bench_<random><suffix>` and returns its URL.
    async fn create_database(&mut self, suffix: &str) -> anyhow::Result<String> {
        let name = format!(
            "respire_bench_{:08x}{suffix}",
            rand::thread_rng().r#gen::<u32>()
        );
        let mut admin = MySqlConnection::connect(&self.mysql_admin)
            .await
            .with_context(|| format!("connecting to {}", self.mysql_admin))?;
        sqlx::raw_sql(&format!("CREATE DATABASE `{name}`"))
            .execute(&mut admin)
            .await?;
        self.databases.push(name.clone());
        Ok(format!("{}/{name}", self.mysql_admin))
    }

    /// Starts `respire --port <free> --dir <dir> <args>`, waits until it
    /// answers PING and accepts a SET, and returns its address and pid.
    async fn spawn(
        &mut self,
        setup: &Setup,
        name: &str,
        dir: &Path,
        args: &[String],
    ) -> anyhow::Result<(String, u32)> {
        std::fs::create_dir_all(dir)?;
        let port = free_port()?;
        let log_path = self.dir.0.join(format!("{name}.log"));
        let mut command = Command::new(&setup.respire);
        command
            .arg("--port")
            .arg(port.to_string())
            .arg("--dir")
            .arg(dir)
            .args(args)
            .env("RUST_LOG", "warn")
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log_path)?);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("RESPIRE_") {
                command.env_remove(key);
            }
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", setup.respire.display()))?;
        self.instances.push(Instance { child });
        let addr = format!("127.0.0.1:{port}");
        let instance = self.instances.last_mut().expect("just pushed");
        wait_ready(&addr, &mut instance.child, &log_path)
            .await
            .with_context(|| format!("respire ({name}) did not become ready"))?;
        Ok((addr, instance.child.id()))
    }

    /// Stops the instances, drops the benchmark databases and deletes the
    /// NATS stream; answers what could not be cleaned up.
    pub async fn shutdown(mut self) -> Vec<String> {
        self.instances.clear();
        let mut problems = Vec::new();
        for (url, stream) in std::mem::take(&mut self.nats_streams) {
            if let Err(e) = super::nats::delete_stream(&url, &stream).await {
                problems.push(format!("cannot delete NATS stream {stream}: {e:#}"));
            }
        }
        if self.databases.is_empty() {
            return problems;
        }
        match MySqlConnection::connect(&self.mysql_admin).await {
            Ok(mut admin) => {
                for name in std::mem::take(&mut self.databases) {
                    if let Err(e) = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS `{name}`"))
                        .execute(&mut admin)
                        .await
                    {
                        problems.push(format!("cannot drop database {name}: {e}"));
                    }
                }
            }
            Err(e) => problems.push(format!("cannot drop the benchmark databases: {e}")),
        }
        problems
    }
}

/// `url` (`scheme://[user@]host:port/...`) rewritten to reach its server
/// through a new delaying proxy on loopback, and that proxy.
async fn proxied(url: &str) -> anyhow::Result<(String, DelayProxy)> {
    let (scheme, rest) = url.split_once("://").context("URL without scheme")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (user, host) = match authority.rsplit_once('@') {
        Some((user, host)) => (format!("{user}@"), host),
        None => (String::new(), authority),
    };
    let target = tokio::net::lookup_host(host)
        .await
        .with_context(|| format!("resolving {host}"))?
        .next()
        .with_context(|| format!("{host} resolves to nothing"))?;
    let proxy = DelayProxy::start(target, Duration::ZERO).await?;
    Ok((format!("{scheme}://{user}{}{path}", proxy.addr()), proxy))
}

async fn wait_ready(addr: &str, child: &mut Child, log: &Path) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut last = String::from("no answer");
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(10).collect();
            bail!(
                "exited with {status}; last log lines:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        match probe(addr).await {
            Ok(()) => return Ok(()),
            Err(e) => last = format!("{e:#}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("not ready after 90 s: {last}")
}

/// PING answers PONG and a SET is accepted (MySQL answers TRYAGAIN until
/// migrated).
async fn probe(addr: &str) -> anyhow::Result<()> {
    let mut conn = Conn::connect(addr).await?;
    let pong = conn.cmd(&["PING"]).await?;
    if pong != Value::Simple("PONG".into()) {
        bail!("PING answered {pong:?}");
    }
    conn.cmd(&["SELECT", &DB.to_string()]).await?.ok()?;
    match conn.cmd(&["SET", "respire-bench:ready", "1"]).await? {
        Value::Simple(s) if s == "OK" => Ok(()),
        other => bail!("SET answered {other:?}"),
    }
}

/// The reference's process id, from `INFO server`.
async fn reference_pid(addr: &str) -> anyhow::Result<u32> {
    let mut conn = Conn::connect(addr)
        .await
        .context("the reference Redis must be running")?;
    let Value::Bulk(Some(info)) = conn.cmd(&["INFO", "server"]).await?.ok()? else {
        bail!("INFO did not answer a bulk string");
    };
    String::from_utf8_lossy(&info)
        .lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .and_then(|p| p.trim().parse().ok())
        .context("INFO server has no process_id")
}
