//! Keyspace notifications keep Redis's timing on every instance:
//! - a (P)SUBSCRIBE receives no event of a write acknowledged before it was
//!   sent, and every event of a write sent after its reply;
//! - CONFIG SET notify-keyspace-events on one instance decides, on every
//!   instance, for every event committed after its reply and for none
//!   committed before it.
//!
//! Each scenario runs on the embedded store (several instances on one
//! SQLite file, in-process and as processes) and on MariaDB, without and
//! with NATS.

use crate::common;

use std::time::{Duration, Instant};

use crate::common::{Events, ProcessServer, Raw, TestDb, TestServer, encode, show};

use crate::common::NATS;

/// Instances sharing one store (and NATS stream, if any). Servers stop
/// before the database is dropped (field order).
struct Deployment {
    urls: Vec<String>,
    addrs: Vec<std::net::SocketAddr>,
    _servers: Vec<TestServer>,
    _processes: Vec<ProcessServer>,
    nats_prefix: Option<String>,
    _dir: Option<tempfile::TempDir>,
    _db: Option<TestDb>,
}

impl Deployment {
    fn of_servers(servers: Vec<TestServer>) -> Deployment {
        Deployment {
            urls: servers.iter().map(|s| s.url()).collect(),
            addrs: servers.iter().map(|s| s.addr).collect(),
            _servers: servers,
            _processes: Vec::new(),
            nats_prefix: None,
            _dir: None,
            _db: None,
        }
    }

    /// `n` in-process instances on one SQLite file.
    async fn sqlite(n: usize) -> Deployment {
        let dir = tempfile::tempdir().unwrap();
        let mut servers = Vec::new();
        for _ in 0..n {
            let path = dir.path().to_path_buf();
            let server = TestServer::start_with(move |c| c.dir = path).await;
            // One at a time: each runs the migrations when it opens the file.
            server.wait_store_ready().await;
            servers.push(server);
        }
        let mut d = Deployment::of_servers(servers);
        d._dir = Some(dir);
        d
    }

    /// `n` respire processes on one SQLite file.
    async fn sqlite_processes(n: usize) -> Deployment {
        let dir = tempfile::tempdir().unwrap();
        let mut processes = Vec::new();
        for _ in 0..n {
            let process = ProcessServer::spawn(dir.path(), &[]).await;
            wait_ready(&process.url()).await;
            processes.push(process);
        }
        Deployment {
            urls: processes.iter().map(|p| p.url()).collect(),
            addrs: processes.iter().map(|p| p.addr).collect(),
            _servers: Vec::new(),
            _processes: processes,
            nats_prefix: None,
            _dir: Some(dir),
            _db: None,
        }
    }

    /// `n` instances on a fresh MariaDB database.
    async fn mariadb(n: usize) -> Option<Deployment> {
        let db = TestDb::create().await?;
        let mut servers = Vec::new();
        for _ in 0..n {
            servers.push(db.server().await);
        }
        let mut d = Deployment::of_servers(servers);
        d._db = Some(db);
        Some(d)
    }

    /// `n` instances on one store (a fresh MariaDB database, or one SQLite
    /// file) and a fresh JetStream stream on the shared NATS.
    async fn with_nats(n: usize, mariadb: bool) -> Option<Deployment> {
        if !common::service_available("NATS", NATS).await {
            return None;
        }
        let db = if mariadb {
            Some(TestDb::create().await?)
        } else {
            None
        };
        let dir = tempfile::tempdir().unwrap();
        let prefix = format!("t{:012x}", common::rand_u64() & 0xffff_ffff_ffff);
        let mut servers = Vec::new();
        for _ in 0..n {
            let (url, path, prefix) = (
                db.as_ref().map(|d| d.url.clone()),
                dir.path().to_path_buf(),
                prefix.clone(),
            );
            let server = TestServer::start_with(move |c| {
                c.database_url = url;
                c.dir = path;
                c.nats_url = Some(NATS.to_string());
                c.nats_prefix = prefix;
                c.nats_stream_storage = "memory".into();
                c.nats_stream_max_age = 600;
            })
            .await;
            server.wait_store_ready().await;
            servers.push(server);
        }
        let mut d = Deployment::of_servers(servers);
        d.nats_prefix = Some(prefix);
        d._dir = Some(dir);
        d._db = db;
        d.wait_events_flow().await;
        Some(d)
    }

    async fn client(&self, i: usize) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.urls[i].as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }

    /// With NATS: waits until a write on the first instance notifies
    /// subscribers on every instance (the relay publishes, every consumer
    /// runs), then turns notifications off again.
    async fn wait_events_flow(&self) {
        config_set(&mut self.client(0).await, "KEA").await;
        let mut writer = self.client(0).await;
        for url in &self.urls {
            let mut events = Events::psubscribe(url, "__keyspace@0__:warmup").await;
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                let _: () = redis::cmd("SET")
                    .arg("warmup")
                    .arg(1)
                    .query_async(&mut writer)
                    .await
                    .unwrap();
                if events.next(Duration::from_millis(300)).await.is_some() {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "keyspace events never flowed over NATS"
                );
            }
        }
        config_set(&mut writer, "").await;
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        let Some(prefix) = self.nats_prefix.take() else {
            return;
        };
        common::clean_up(async move { common::drop_stream(&prefix).await });
    }
}

/// Waits until an instance answers data commands (its store is open).
async fn wait_ready(url: &str) {
    let client = redis::Client::open(url).unwrap();
    for _ in 0..500 {
        if let Ok(mut c) = client.get_multiplexed_async_connection().await
            && redis::cmd("DBSIZE")
                .query_async::<i64>(&mut c)
                .await
                .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{url} never became ready");
}

async fn config_set(c: &mut redis::aio::MultiplexedConnection, flags: &str) {
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg(flags)
        .query_async(c)
        .await
        .unwrap();
}

async fn config_get(c: &mut redis::aio::MultiplexedConnection) -> String {
    let reply: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("notify-keyspace-events")
        .query_async(c)
        .await
        .unwrap();
    reply[1].clone()
}

/// A RESP2 push frame of bulk strings.
fn push(parts: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", parts.len()).into_bytes();
    for p in parts {
        out.extend_from_slice(format!("${}\r\n{p}\r\n", p.len()).as_bytes());
    }
    out
}

/// Keys `k:0..n` written by one MSET, then `EXPIRE k:0`: the relay has
/// thousands of events to hand on when the subscriber subscribes right
/// after, and must not hand any of them to it. Then PING on the subscriber
/// answers pong with nothing before it, and the first event it gets is that
/// of a write on `writer` sent after the PING.
async fn subscribe_after_write(d: &Deployment, writer: usize, subscriber: usize) {
    // Fewer with NATS: the relay publishes each event to JetStream.
    let n = if d.nats_prefix.is_some() { 3000 } else { 20000 };
    let mut w = d.client(writer).await;
    config_set(&mut w, "KEA").await;
    // Every instance has the flags even if it polled them (this test is
    // about the subscription's timing, not the flags').
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let mut mset = redis::cmd("MSET");
    for i in 0..n {
        mset.arg(format!("k:{i}")).arg(i);
    }
    let _: () = mset.query_async(&mut w).await.unwrap();
    let _: i64 = redis::cmd("EXPIRE")
        .arg("k:0")
        .arg(86400)
        .query_async(&mut w)
        .await
        .unwrap();

    let pattern = "__key*@0__:k:*";
    let mut sub = Raw::connect(d.addrs[subscriber]).await;
    sub.send(&encode(&[b"PSUBSCRIBE", pattern.as_bytes()]))
        .await;
    let mut expected = b"*3\r\n$10\r\npsubscribe\r\n".to_vec();
    expected.extend_from_slice(format!("${}\r\n{pattern}\r\n:1\r\n", pattern.len()).as_bytes());
    sub.expect(&expected).await;
    sub.send(&encode(&[b"PING"])).await;
    let pong = sub.read_frame().await;
    assert_eq!(
        show(&pong),
        show(&push(&["pong", ""])),
        "a write acknowledged before the subscription was notified to it"
    );
    // A write after the subscription is notified, and is the first thing
    // to arrive (`__keyevent@0__:del` does not match the pattern). A probe
    // waits for it patiently (the relay may be busy with the backlog).
    let mut probe = Events::psubscribe(&d.urls[subscriber], "__keyspace@0__:k:1").await;
    let _: i64 = redis::cmd("DEL")
        .arg("k:1")
        .query_async(&mut w)
        .await
        .unwrap();
    probe
        .until("__keyspace@0__:k:1", "del", Duration::from_secs(30))
        .await;
    let frame = sub.read_frame().await;
    assert_eq!(
        show(&frame),
        show(&push(&["pmessage", pattern, "__keyspace@0__:k:1", "del"])),
        "the first message after PING must be the later write's event"
    );
}

/// CONFIG SET on A, then at once writes on A and B, watched on A, B and C:
/// each sees exactly the events of the writes after the change; a change
/// back to "" stops them everywhere, also exactly.
async fn config_set_everywhere(d: &Deployment) {
    let (mut a, mut b, mut c) = (d.client(0).await, d.client(1).await, d.client(2).await);
    config_set(&mut a, "").await;
    let mut watchers = Vec::new();
    for url in &d.urls {
        watchers.push(Events::psubscribe(url, "__keyspace@0__:*").await);
    }
    let set = |c: &mut redis::aio::MultiplexedConnection, key: &'static str| {
        let mut c = c.clone();
        async move {
            let _: () = redis::cmd("SET")
                .arg(key)
                .arg(1)
                .query_async(&mut c)
                .await
                .unwrap();
        }
    };
    set(&mut a, "before:a").await;
    set(&mut b, "before:b").await;
    config_set(&mut a, "KEA").await;
    set(&mut a, "on:a").await;
    set(&mut b, "on:b").await;
    // CONFIG GET anywhere answers the new value at once.
    assert_eq!(config_get(&mut b).await, "AKE");
    assert_eq!(config_get(&mut c).await, "AKE");
    config_set(&mut a, "").await;
    set(&mut a, "off:a").await;
    set(&mut b, "off:b").await;
    assert_eq!(config_get(&mut c).await, "");
    // A change on B, a marker write on C.
    config_set(&mut b, "K$").await;
    set(&mut c, "end").await;
    let expected: Vec<(String, String)> = ["on:a", "on:b", "end"]
        .iter()
        .map(|k| (format!("__keyspace@0__:{k}"), "set".to_string()))
        .collect();
    for (i, w) in watchers.iter_mut().enumerate() {
        let got = w
            .until("__keyspace@0__:end", "set", Duration::from_secs(10))
            .await;
        assert_eq!(got, expected, "instance {i}");
        assert_eq!(
            w.next(Duration::from_millis(300)).await,
            None,
            "instance {i}"
        );
    }
}

// --- subscribe after a write: the same instance -----------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_subscribe_after_write_same_instance() {
    let d = Deployment::sqlite(1).await;
    subscribe_after_write(&d, 0, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mariadb_subscribe_after_write_same_instance() {
    let Some(d) = Deployment::mariadb(1).await else {
        return;
    };
    subscribe_after_write(&d, 0, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mariadb_nats_subscribe_after_write_same_instance() {
    let Some(d) = Deployment::with_nats(2, true).await else {
        return;
    };
    subscribe_after_write(&d, 1, 1).await;
}

// --- subscribe after a write: across instances ------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_subscribe_after_write_across_instances() {
    let d = Deployment::sqlite(2).await;
    subscribe_after_write(&d, 0, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_processes_subscribe_after_write_across_instances() {
    let d = Deployment::sqlite_processes(2).await;
    subscribe_after_write(&d, 0, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mariadb_subscribe_after_write_across_instances() {
    let Some(d) = Deployment::mariadb(2).await else {
        return;
    };
    subscribe_after_write(&d, 0, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mariadb_nats_subscribe_after_write_across_instances() {
    let Some(d) = Deployment::with_nats(2, true).await else {
        return;
    };
    subscribe_after_write(&d, 0, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_nats_subscribe_after_write_across_instances() {
    let Some(d) = Deployment::with_nats(2, false).await else {
        return;
    };
    subscribe_after_write(&d, 0, 1).await;
}

// --- CONFIG SET on one instance, in force everywhere ------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_config_set_applies_everywhere_at_once() {
    let d = Deployment::sqlite(3).await;
    config_set_everywhere(&d).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_processes_config_set_applies_everywhere_at_once() {
    let d = Deployment::sqlite_processes(3).await;
    config_set_everywhere(&d).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mariadb_config_set_applies_everywhere_at_once() {
    let Some(d) = Deployment::mariadb(3).await else {
        return;
    };
    config_set_everywhere(&d).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mariadb_nats_config_set_applies_everywhere_at_once() {
    let Some(d) = Deployment::with_nats(3, true).await else {
        return;
    };
    config_set_everywhere(&d).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_nats_config_set_applies_everywhere_at_once() {
    let Some(d) = Deployment::with_nats(3, false).await else {
        return;
    };
    config_set_everywhere(&d).await;
}
