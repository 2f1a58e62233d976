//! The MySQL backend when the database is unreachable or lost mid-flight,
//! through a TCP proxy the test can cut.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::common::{MARIADB, TestDb, TestServer, err_text};
use redis::AsyncCommands;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A TCP proxy to MariaDB that can refuse connections and cut live ones.
struct Proxy {
    port: u16,
    open: Arc<AtomicBool>,
    /// Bumped to cut every live connection.
    cuts: watch::Sender<u64>,
}

impl Proxy {
    async fn start(open: bool) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = Arc::new(AtomicBool::new(open));
        let (cuts, _) = watch::channel(0u64);
        let (flag, cut_rx) = (open.clone(), cuts.subscribe());
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                if !flag.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let mut cut = cut_rx.clone();
                // Only cuts after this connection opened count.
                cut.borrow_and_update();
                tokio::spawn(async move {
                    let Ok(upstream) = TcpStream::connect(MARIADB).await else {
                        return;
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut ur, mut uw) = upstream.into_split();
                    tokio::select! {
                        _ = tokio::io::copy(&mut cr, &mut uw) => {}
                        _ = tokio::io::copy(&mut ur, &mut cw) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Proxy { port, open, cuts }
    }

    fn url(&self, db: &TestDb) -> String {
        format!("mysql://root@127.0.0.1:{}/{}", self.port, db.name)
    }

    fn set_open(&self, open: bool) {
        self.open.store(open, Ordering::SeqCst);
    }

    /// Refuses new connections and drops every live one.
    fn cut(&self) {
        self.set_open(false);
        self.cuts.send_modify(|n| *n += 1);
    }
}

async fn start_through(proxy: &Proxy, db: &TestDb) -> TestServer {
    let url = proxy.url(db);
    TestServer::start_with(|c| c.database_url = Some(url)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unreachable_at_start_then_serves_without_restart() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let proxy = Proxy::start(false).await;
    let server = start_through(&proxy, &db).await;
    let mut c = server.client().await;
    let pong: String = redis::cmd("PING").query_async(&mut c).await.unwrap();
    assert_eq!(pong, "PONG");
    // Not reached since the start: Redis's LOADING, which clients retry.
    let err = c.set::<_, _, ()>("k", "v").await.unwrap_err();
    assert_eq!(err.code(), Some("LOADING"), "{err}");
    assert_eq!(
        err_text(&err),
        "LOADING Redis is loading the dataset in memory"
    );
    proxy.set_open(true);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match c.set::<_, _, ()>("k", "v").await {
            Ok(()) => break,
            Err(e) => {
                assert_eq!(e.code(), Some("LOADING"), "{e}");
                assert!(Instant::now() < deadline, "never recovered");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    assert_eq!(c.get::<_, String>("k").await.unwrap(), "v");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lost_mid_flight_never_reports_success_nor_partial_writes() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let proxy = Proxy::start(true).await;
    let server = start_through(&proxy, &db).await;
    server.wait_store_ready().await;
    let fields: Vec<(String, String)> = (0..20_000)
        .map(|i| (format!("f{i}"), format!("v{i}")))
        .collect();
    for round in 0..3u64 {
        let key = format!("h{round}");
        let mut c = server.client().await;
        let write = {
            let (key, fields) = (key.clone(), fields.clone());
            tokio::spawn(async move { c.hset_multiple::<_, _, _, ()>(&key, &fields).await })
        };
        tokio::time::sleep(Duration::from_millis(5 + 15 * round)).await;
        proxy.cut();
        let outcome = write.await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        proxy.set_open(true);
        // Whatever happened, the hash is all there or not there at all,
        // and an OK reply means all there.
        let mut c = server.client().await;
        let deadline = Instant::now() + Duration::from_secs(15);
        let len: i64 = loop {
            match c.hlen(&key).await {
                Ok(n) => break n,
                Err(e) => {
                    assert!(Instant::now() < deadline, "never recovered: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        assert!(
            len == 0 || len == 20_000,
            "partial write visible: {len} fields"
        );
        if outcome.is_ok() {
            assert_eq!(len, 20_000, "OK was answered but the write is missing");
        }
        eprintln!("round {round}: reply {outcome:?}, fields {len}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_the_database_cuts_every_connection_one_command_fails_at_most() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let proxy = Proxy::start(true).await;
    let server = start_through(&proxy, &db).await;
    server.wait_store_ready().await;
    let mut c = server.client().await;
    let _: () = c.set("k", "v").await.unwrap();
    // Many connections in use at once, then idle: all of them get cut.
    let readers: Vec<_> = (0..40)
        .map(|_| {
            let url = server.url();
            tokio::spawn(async move {
                let client = redis::Client::open(url).unwrap();
                let mut c = client.get_multiplexed_async_connection().await.unwrap();
                for _ in 0..20 {
                    let _: Option<String> = c.get("k").await.unwrap();
                }
            })
        })
        .collect();
    for r in readers {
        r.await.unwrap();
    }
    proxy.cut();
    proxy.set_open(true);
    // At once (no connection has been idle long enough to be checked):
    // the first command on a dead connection fails, and the rest of the
    // idle list is dropped with it instead of failing a command each.
    let mut failed = 0;
    for i in 0..30 {
        match c.set::<_, _, ()>(format!("after:{i}"), i).await {
            Ok(()) => {}
            Err(e) => {
                eprintln!("command {i}: {e}");
                failed += 1;
            }
        }
    }
    assert!(failed <= 1, "{failed} commands failed after the cut");
    let n: i64 = c.get("after:29").await.unwrap();
    assert_eq!(n, 29);
    // The same for reads, which open no transaction: the first read on a
    // dead connection fails, its connection cannot roll back, and the
    // others go with it.
    proxy.cut();
    proxy.set_open(true);
    let mut failed = 0;
    for i in 0..30 {
        match c.get::<_, i64>(format!("after:{i}")).await {
            Ok(n) => assert_eq!(n, i),
            Err(e) => {
                eprintln!("read {i}: {e}");
                failed += 1;
            }
        }
    }
    assert!(failed <= 1, "{failed} reads failed after the cut");
}

/// A consumer blocked in XREADGROUP while the database goes away keeps
/// waiting (no wrong entry, no error), and after the database returns it
/// gets the next entry once; the group's pending list holds it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_blocked_xreadgroup_waits_out_a_database_outage() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let proxy = Proxy::start(true).await;
    let server = start_through(&proxy, &db).await;
    server.wait_store_ready().await;
    let mut c = server.client().await;
    let _: () = redis::cmd("XGROUP")
        .arg(&["CREATE", "s", "g", "$", "MKSTREAM"])
        .query_async(&mut c)
        .await
        .unwrap();
    let mut consumer = server.client().await;
    let reading = tokio::spawn(async move {
        redis::cmd("XREADGROUP")
            .arg(&["GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"])
            .query_async::<redis::Value>(&mut consumer)
            .await
    });
    // Blocked (INFO counts it), then the database goes.
    crate::common::until_blocked(&mut c, 1).await;
    proxy.cut();
    // Writes fail while it is away; the reader is still waiting.
    let failed = redis::cmd("XADD")
        .arg(&["s", "*", "during", "1"])
        .query_async::<String>(&mut c)
        .await;
    assert!(failed.is_err(), "{failed:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !reading.is_finished(),
        "the reader gave up during the outage"
    );
    proxy.set_open(true);
    let deadline = Instant::now() + Duration::from_secs(15);
    let id: String = loop {
        match redis::cmd("XADD")
            .arg(&["s", "*", "after", "1"])
            .query_async::<String>(&mut c)
            .await
        {
            Ok(id) => break id,
            Err(e) => {
                assert!(Instant::now() < deadline, "never recovered: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let got = tokio::time::timeout(Duration::from_secs(15), reading)
        .await
        .expect("the reader was never woken")
        .unwrap()
        .unwrap();
    let text = format!("{got:?}");
    assert!(text.contains(&id), "{text}");
    let pending: redis::Value = redis::cmd("XPENDING")
        .arg(&["s", "g"])
        .query_async(&mut c)
        .await
        .unwrap();
    let redis::Value::Array(summary) = pending else {
        panic!("{pending:?}")
    };
    assert_eq!(summary[0], redis::Value::Int(1));
    // The entry written during the outage was refused, not half-written.
    let len: i64 = redis::cmd("XLEN")
        .arg("s")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(len, 1);
}

/// An instance that loses the database cannot know what other instances
/// write meanwhile: its tracking clients are told to drop everything (the
/// null invalidation) once it notices, and after the outage they read
/// what was written during it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tracking_clients_drop_their_caches_when_the_database_is_lost() {
    use crate::common::{Raw, resp3_tracking};
    let Some(db) = TestDb::create().await else {
        return;
    };
    let a = db.server().await;
    let proxy = Proxy::start(true).await;
    let b = start_through(&proxy, &db).await;
    b.wait_store_ready().await;
    let mut w = Raw::connect(a.addr).await;
    assert_eq!(w.cmd(&["SET", "k", "1"]).await, b"+OK\r\n");
    let mut c = resp3_tracking(b.addr, &[]).await;
    assert_eq!(c.cmd(&["GET", "k"]).await, b"$1\r\n1\r\n");

    proxy.cut();
    assert_eq!(w.cmd(&["INCR", "k"]).await, b":2\r\n");
    // Noticed at the next lease renewal (each second), once the pool gives
    // up on the database (5 s).
    let push = tokio::time::timeout(Duration::from_secs(15), c.read_frame())
        .await
        .expect("no null invalidation after the database was lost");
    assert_eq!(push, b">2\r\n$10\r\ninvalidate\r\n_\r\n");

    proxy.set_open(true);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let got = c.cmd(&["GET", "k"]).await;
        if got == b"$1\r\n2\r\n" {
            break;
        }
        assert!(got.starts_with(b"-"), "{}", String::from_utf8_lossy(&got));
        assert!(Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
