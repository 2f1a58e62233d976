//! Several instances on one MariaDB and one NATS: one pub/sub and one
//! keyspace-notification space. Fault cases run a private nats-server.

use crate::common;

use std::time::{Duration, Instant};

use crate::common::{Events, ProcessServer, TestDb, TestServer, free_port};
use redis::AsyncCommands;

use crate::common::NATS;

/// A NATS subject prefix of its own, so tests never share a stream.
fn prefix() -> String {
    format!("t{:012x}", common::rand_u64() & 0xffff_ffff_ffff)
}

async fn instance(db: &TestDb, nats_url: &str, prefix: &str) -> TestServer {
    instance_with(db, nats_url, prefix, |_| {}).await
}

/// [`instance`], after `adjust` edits the config.
async fn instance_with(
    db: &TestDb,
    nats_url: &str,
    prefix: &str,
    adjust: impl FnOnce(&mut respire::config::Config),
) -> TestServer {
    let (url, nats, prefix) = (db.url.clone(), nats_url.to_string(), prefix.to_string());
    // Memory streams on the shared NATS; file storage on private ones, which
    // the outage test restarts.
    let storage = if nats_url.ends_with(NATS) {
        "memory"
    } else {
        "file"
    };
    let server = TestServer::start_with(move |c| {
        c.database_url = Some(url);
        c.nats_url = Some(nats);
        c.nats_prefix = prefix;
        c.nats_stream_storage = storage.into();
        c.nats_stream_max_age = 600;
        adjust(c);
    })
    .await;
    server.wait_store_ready().await;
    server
}

/// Sets notify-keyspace-events KEA on one instance and waits until the
/// others have read it from the database.
async fn enable_events(servers: &[&TestServer]) {
    let mut c = servers[0].client().await;
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("KEA")
        .query_async(&mut c)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
}

/// Waits until an instance's relay publishes to the stream (the stream
/// exists and a consumer runs) by round-tripping one event.
async fn wait_events_flow(writer: &TestServer, reader: &TestServer) {
    let mut events = Events::psubscribe(&reader.url(), "__keyspace@0__:warmup").await;
    let mut c = writer.client().await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let _: () = c.set("warmup", 1).await.unwrap();
        if events.next(Duration::from_millis(300)).await.is_some() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "keyspace events never flowed over NATS"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_and_publishes_reach_every_instance() {
    let Some(Cluster {
        db: _db,
        prefix: p,
        servers,
    }) = Cluster::start(3).await
    else {
        return;
    };
    let [a, b, c] = &servers[..] else {
        unreachable!()
    };
    wait_events_flow(a, b).await;
    wait_events_flow(a, c).await;

    // A write on A notifies subscribers on B and C.
    let mut on_b = Events::psubscribe(&b.url(), "__keyspace@0__:ion/*").await;
    let mut on_c = Events::psubscribe(&c.url(), "__keyspace@0__:ion/*").await;
    let mut ca = a.client().await;
    let _: () = ca.hset("ion/k", "f", "v").await.unwrap();
    let _: () = ca.del("ion/k").await.unwrap();
    for events in [&mut on_b, &mut on_c] {
        let got = events
            .until("__keyspace@0__:ion/k", "del", Duration::from_secs(5))
            .await;
        assert_eq!(
            got.iter().map(|m| m.1.as_str()).collect::<Vec<_>>(),
            ["hset", "del"]
        );
    }

    // PUBLISH on B reaches SUBSCRIBE on A and PSUBSCRIBE on C, once each.
    let client = redis::Client::open(a.url()).unwrap();
    let mut sub_a = client.get_async_pubsub().await.unwrap();
    sub_a.subscribe("news.eu").await.unwrap();
    let mut pat_c = Events::psubscribe(&c.url(), "news.*").await;
    let mut cb = b.client().await;
    let receivers: i64 = redis::cmd("PUBLISH")
        .arg("news.eu")
        .arg("hello")
        .query_async(&mut cb)
        .await
        .unwrap();
    assert_eq!(receivers, 0, "PUBLISH counts this instance's receivers");
    let mut stream_a = sub_a.on_message();
    use futures::StreamExt;
    let msg = tokio::time::timeout(Duration::from_secs(5), stream_a.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(msg.get_payload::<String>().unwrap(), "hello");
    assert_eq!(
        pat_c.next(Duration::from_secs(5)).await,
        Some(("news.eu".into(), "hello".into()))
    );
    assert_eq!(
        pat_c.next(Duration::from_millis(300)).await,
        None,
        "delivered once"
    );
    common::drop_stream(&p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_subscriber_sees_the_same_per_key_order() {
    let Some(Cluster {
        db: _db,
        prefix: p,
        servers,
    }) = Cluster::start(3).await
    else {
        return;
    };
    let [a, b, c] = &servers[..] else {
        unreachable!()
    };
    wait_events_flow(a, c).await;
    wait_events_flow(b, c).await;
    let mut subs = Vec::new();
    for s in [&a, &b, &c] {
        subs.push(Events::psubscribe(&s.url(), "__keyspace@0__:shared").await);
    }
    let writers: Vec<_> = [(a.url(), "SET"), (b.url(), "APPEND")]
        .into_iter()
        .map(|(url, cmd)| {
            tokio::spawn(async move {
                let mut c = redis::Client::open(url)
                    .unwrap()
                    .get_multiplexed_async_connection()
                    .await
                    .unwrap();
                for _ in 0..40 {
                    let _: () = redis::cmd(cmd)
                        .arg("shared")
                        .arg("x")
                        .query_async(&mut c)
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    let mut orders = Vec::new();
    for sub in &mut subs {
        let mut got = Vec::new();
        while got.len() < 80 {
            match sub.next(Duration::from_secs(5)).await {
                Some((_, event)) => got.push(event),
                None => panic!("only {} of 80 events arrived", got.len()),
            }
        }
        orders.push(got);
    }
    assert_eq!(orders[0], orders[1]);
    assert_eq!(orders[0], orders[2]);
    common::drop_stream(&p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ion_watch_sequence_across_instances() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    if !common::service_available("NATS", NATS).await {
        return;
    }
    let p = prefix();
    let url = format!("nats://{NATS}");
    let (a, b) = (instance(&db, &url, &p).await, instance(&db, &url, &p).await);
    enable_events(&[&a, &b]).await;
    wait_events_flow(&a, &b).await;
    let key = "dc/node1/room1/user1/media/pub/m1";
    let mut watch = Events::psubscribe(&b.url(), &format!("__key*__:{key}")).await;
    let mut ca = a.client().await;
    let _: () = ca.hset(key, "mid", "m1").await.unwrap();
    let _: () = ca.expire(key, 1).await.unwrap();
    let channel = format!("__keyspace@0__:{key}");
    let got = watch
        .until(&channel, "expired", Duration::from_secs(5))
        .await;
    let events: Vec<&str> = got.iter().map(|m| m.1.as_str()).collect();
    assert_eq!(events, ["hset", "expire", "expired"]);
    let _: () = ca.hset(key, "mid", "m2").await.unwrap();
    let _: () = ca.del(key).await.unwrap();
    let got = watch.until(&channel, "del", Duration::from_secs(5)).await;
    assert_eq!(
        got.iter().map(|m| m.1.as_str()).collect::<Vec<_>>(),
        ["hset", "del"]
    );
    common::drop_stream(&p).await;
}

/// Instances on one fresh database and the shared NATS, events on.
struct Cluster {
    db: TestDb,
    prefix: String,
    servers: Vec<TestServer>,
}

impl Cluster {
    async fn start(n: usize) -> Option<Cluster> {
        let db = TestDb::create().await?;
        if !common::service_available("NATS", NATS).await {
            return None;
        }
        let prefix = prefix();
        let url = format!("nats://{NATS}");
        let mut servers = Vec::new();
        for _ in 0..n {
            servers.push(instance(&db, &url, &prefix).await);
        }
        enable_events(&servers.iter().collect::<Vec<_>>()).await;
        Some(Cluster {
            db,
            prefix,
            servers,
        })
    }
}

/// A private nats-server with JetStream on its own port and store.
struct PrivateNats {
    child: std::process::Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl PrivateNats {
    fn start() -> PrivateNats {
        Self::start_with_config("")
    }

    /// A private server with these lines in its configuration file.
    fn start_with_config(config: &str) -> PrivateNats {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("nats.conf"), config).unwrap();
        let port = free_port();
        let child = Self::spawn(port, dir.path());
        PrivateNats { child, port, dir }
    }

    fn spawn(port: u16, dir: &std::path::Path) -> std::process::Child {
        std::process::Command::new("/usr/sbin/nats-server")
            .arg("-c")
            .arg(dir.join("nats.conf"))
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nats-server")
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn restart(&mut self) {
        self.child = Self::spawn(self.port, self.dir.path());
    }

    /// A new server on the same port with an empty store (its predecessor
    /// stopped): what replacing a lost NATS machine looks like.
    fn replace(&mut self) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            self.dir.path().join("nats.conf"),
            dir.path().join("nats.conf"),
        )
        .unwrap();
        self.dir = dir;
        self.child = Self::spawn(self.port, self.dir.path());
    }

    async fn wait_up(&self) {
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("private nats-server did not start");
    }
}

impl Drop for PrivateNats {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Two instances on a fresh database and a private nats-server, with
/// keyspace events on and flowing between them.
struct PrivatePair;

impl PrivatePair {
    async fn start() -> Option<(TestDb, PrivateNats, TestServer, TestServer)> {
        let db = TestDb::create().await?;
        if !common::nats_server_installed() {
            return None;
        }
        let nats = PrivateNats::start();
        nats.wait_up().await;
        let p = prefix();
        let (a, b) = (
            instance(&db, &nats.url(), &p).await,
            instance(&db, &nats.url(), &p).await,
        );
        enable_events(&[&a, &b]).await;
        wait_events_flow(&a, &b).await;
        Some((db, nats, a, b))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nats_outage_keeps_data_and_delivers_every_event_afterwards() {
    let Some((_db, mut nats, a, b)) = PrivatePair::start().await else {
        return;
    };
    let mut events = Events::psubscribe(&b.url(), "__keyspace@0__:out:*").await;
    let client = redis::Client::open(b.url()).unwrap();
    let mut chan = client.get_async_pubsub().await.unwrap();
    chan.subscribe("after").await.unwrap();

    nats.stop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut ca = a.client().await;
    for i in 0..20 {
        let _: () = ca.set(format!("out:{i}"), i).await.unwrap();
    }
    let err = redis::cmd("PUBLISH")
        .arg("after")
        .arg("x")
        .query_async::<i64>(&mut ca)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("TRYAGAIN"), "{err}");
    // A large one too: the outage, not its size, is what stops it.
    let err = redis::cmd("PUBLISH")
        .arg("after")
        .arg(vec![b'x'; 3 << 20])
        .query_async::<i64>(&mut ca)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("TRYAGAIN"), "{err}");

    nats.restart();
    nats.wait_up().await;
    // Every event committed during the outage arrives, in order, once.
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.len() < 20 && Instant::now() < deadline {
        if let Some((channel, event)) = events.next(Duration::from_millis(500)).await {
            assert_eq!(event, "set");
            got.push(channel);
        }
    }
    let want: Vec<String> = (0..20).map(|i| format!("__keyspace@0__:out:{i}")).collect();
    assert_eq!(got, want);
    assert_eq!(
        events.next(Duration::from_millis(500)).await,
        None,
        "nothing twice"
    );
    // Subscriptions are restored: PUBLISH works again and reaches B.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match redis::cmd("PUBLISH")
            .arg("after")
            .arg("back")
            .query_async::<i64>(&mut ca)
            .await
        {
            Ok(_) => break,
            Err(e) => assert!(Instant::now() < deadline, "PUBLISH never recovered: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    use futures::StreamExt;
    let mut stream = chan.on_message();
    let msg = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(msg.get_payload::<String>().unwrap(), "back");
}

/// Whether an instance says its NATS link is up (INFO respire).
async fn nats_connected(c: &mut redis::aio::MultiplexedConnection) -> bool {
    let info: String = redis::cmd("INFO")
        .arg("respire")
        .query_async(c)
        .await
        .unwrap();
    info.contains("nats_connected:1")
}

/// Polls every instance until each says its link is `up`; answers when the
/// last did.
async fn until_links(conns: &mut [redis::aio::MultiplexedConnection], up: bool) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(10);
    for c in conns.iter_mut() {
        while nats_connected(c).await != up {
            assert!(Instant::now() < deadline, "NATS link never went up={up}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    Instant::now()
}

/// After NATS restarts (SIGKILL, same store) and after it is replaced by a
/// server with an empty store, every instance reconnects within a second
/// of the server accepting connections, and the events written during the
/// outage reach the subscribers of every instance within a second of that,
/// each once and in order: ten times each. The bounds asserted are twice
/// the promise, for a loaded machine; the figures are printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_nats_restarts_the_outages_events_arrive_within_a_second() {
    const ROUNDS: usize = 10;
    const WRITES: usize = 5;
    let Some((_db, mut nats, a, b)) = PrivatePair::start().await else {
        return;
    };
    let mut watchers = [
        Events::psubscribe(&a.url(), "__keyspace@0__:out:*").await,
        Events::psubscribe(&b.url(), "__keyspace@0__:out:*").await,
    ];
    let mut links = [a.client().await, b.client().await];
    let mut writer = a.client().await;
    let mut report = Vec::new();
    for round in 0..2 * ROUNDS {
        let fresh = round >= ROUNDS;
        nats.stop();
        until_links(&mut links, false).await;
        let keys: Vec<String> = (0..WRITES).map(|i| format!("out:{round}:{i}")).collect();
        for key in &keys {
            let _: () = writer.set(key, round).await.unwrap();
        }
        if fresh {
            nats.replace();
        } else {
            nats.restart();
        }
        nats.wait_up().await;
        let accepting = Instant::now();
        let linked = until_links(&mut links, true).await;
        let want: Vec<String> = keys.iter().map(|k| format!("__keyspace@0__:{k}")).collect();
        for (w, watcher) in watchers.iter_mut().enumerate() {
            let mut got = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(10);
            while got.len() < WRITES && Instant::now() < deadline {
                if let Some((channel, event)) = watcher.next(Duration::from_millis(100)).await {
                    assert_eq!(event, "set");
                    got.push(channel);
                }
            }
            assert_eq!(got, want, "round {round}, instance {w}");
        }
        let delivered = Instant::now();
        let (reconnect, delivery) = (linked - accepting, delivered - linked);
        report.push(format!(
            "{} store, round {:>2}: reconnected {:>4} ms after the server accepted, events {:>4} ms after that",
            if fresh { "empty" } else { "same " },
            round % ROUNDS,
            reconnect.as_millis(),
            delivery.as_millis()
        ));
        assert!(
            reconnect < Duration::from_secs(2) && delivery < Duration::from_secs(2),
            "round {round}: {}",
            report.last().unwrap()
        );
    }
    eprintln!("{}", report.join("\n"));
    for watcher in &mut watchers {
        assert_eq!(
            watcher.next(Duration::from_millis(300)).await,
            None,
            "nothing twice"
        );
    }
}

/// A stream consumer deleted while the connection stays up (an operator's
/// mistake, a JetStream leader change) is noticed and recreated promptly:
/// the next event arrives within the heartbeat bound (2 s; asserted with
/// margin), nothing lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deleted_stream_consumer_is_recreated_promptly() {
    let Some((_db, nats, a, b)) = PrivatePair::start().await else {
        return;
    };
    let mut watcher = Events::psubscribe(&b.url(), "__keyspace@0__:gone:*").await;
    let js = async_nats::jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    let mut names = Vec::new();
    let mut streams = js.stream_names();
    while let Some(name) = futures::StreamExt::next(&mut streams).await {
        names.push(name.unwrap());
    }
    assert_eq!(names.len(), 1, "{names:?}");
    let stream = js.get_stream(&names[0]).await.unwrap();
    let mut writer = a.client().await;
    for round in 0..3 {
        let mut consumers = Vec::new();
        let mut listed = stream.consumer_names();
        while let Some(name) = futures::StreamExt::next(&mut listed).await {
            consumers.push(name.unwrap());
        }
        assert_eq!(consumers.len(), 2, "one per instance: {consumers:?}");
        for name in &consumers {
            stream.delete_consumer(name).await.unwrap();
        }
        let deleted = Instant::now();
        let key = format!("gone:{round}");
        let _: () = writer.set(&key, 1).await.unwrap();
        let got = watcher.next(Duration::from_secs(10)).await;
        let took = deleted.elapsed();
        eprintln!(
            "round {round}: the event arrived {} ms after the consumers were deleted",
            took.as_millis()
        );
        assert_eq!(
            got,
            Some((format!("__keyspace@0__:{key}"), "set".to_string()))
        );
        assert!(took < Duration::from_secs(4), "{took:?}");
        // Wait until both instances have consumers again.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut n = 0;
            let mut listed = stream.consumer_names();
            while let Some(name) = futures::StreamExt::next(&mut listed).await {
                name.unwrap();
                n += 1;
            }
            if n == 2 {
                break;
            }
            assert!(Instant::now() < deadline, "consumers not recreated ({n})");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn relay_holder(url: &str) -> bool {
    let mut c = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let info: String = redis::cmd("INFO")
        .arg("respire")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(info.contains("nats_connected:1"), "{info}");
    let holder = info.contains("relay_holder:1");
    if holder {
        assert!(
            info.contains("relay_lag_events:") && info.contains("relay_lag_ms:"),
            "{info}"
        );
    }
    holder
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn relay_killed_with_sigkill_loses_and_repeats_nothing() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    if !common::service_available("NATS", NATS).await {
        return;
    }
    let p = prefix();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("nats://{NATS}");
    let flags = [
        "--database-url",
        &db.url,
        "--nats-url",
        &url,
        "--nats-prefix",
        &p,
        "--nats-stream-storage",
        "memory",
    ];
    let (dir_a, dir_b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&dir_a).unwrap();
    std::fs::create_dir_all(&dir_b).unwrap();
    let mut first = ProcessServer::spawn(&dir_a, &flags).await;
    // Let the first instance take the relay lease before the second starts.
    let deadline = Instant::now() + Duration::from_secs(15);
    while !relay_holder(&first.url()).await {
        assert!(
            Instant::now() < deadline,
            "no instance took the relay lease"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let second = ProcessServer::spawn(&dir_b, &flags).await;
    let mut c2 = redis::Client::open(second.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    // The process may still be connecting to the database (TRYAGAIN).
    let deadline = Instant::now() + Duration::from_secs(15);
    while redis::cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("KEA")
        .query_async::<()>(&mut c2)
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "the second instance never became ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let mut events = Events::psubscribe(&second.url(), "__keyevent@0__:set").await;
    let writer = tokio::spawn(async move {
        for i in 0..300 {
            let _: () = c2.set(format!("r:{i}"), i).await.unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    first.kill9();
    writer.await.unwrap();
    let mut seen = std::collections::HashSet::new();
    let mut count = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.len() < 300 && Instant::now() < deadline {
        if let Some((_, key)) = events.next(Duration::from_millis(500)).await {
            count += 1;
            assert!(seen.insert(key.clone()), "{key} delivered twice");
        }
    }
    assert_eq!(seen.len(), 300, "events lost after the relay was killed");
    assert_eq!(events.next(Duration::from_millis(700)).await, None);
    assert_eq!(count, 300);
    assert!(
        relay_holder(&second.url()).await,
        "the survivor took over the relay"
    );
    common::drop_stream(&p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_subscriber_is_disconnected_and_others_are_not_slowed() {
    let server = TestServer::start_with(|c| {
        c.pubsub_hard_limit = 256 * 1024;
        c.pubsub_soft_limit = 128 * 1024;
        c.pubsub_soft_seconds = 1;
    })
    .await;
    // A raw subscriber that never reads.
    let mut slow = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    slow.write_all(&common::encode(&[b"SUBSCRIBE", b"feed"]))
        .await
        .unwrap();
    let mut fast = Events::psubscribe(&server.url(), "feed").await;
    let mut c = server.client().await;
    let payload = vec![b'x'; 64 * 1024];
    let mut received = 0;
    for _ in 0..300 {
        let _: i64 = redis::cmd("PUBLISH")
            .arg("feed")
            .arg(&payload)
            .query_async(&mut c)
            .await
            .unwrap();
        if fast.next(Duration::from_secs(2)).await.is_some() {
            received += 1;
        }
    }
    assert_eq!(received, 300, "the fast subscriber got everything");
    let numsub: (String, i64) = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg("feed")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(numsub.1, 0, "the slow subscriber was disconnected");
    // Its socket is closed once the server-side buffers drain.
    let mut buf = vec![0u8; 1 << 20];
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout(Duration::from_secs(1), slow.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            _ => assert!(Instant::now() < deadline, "slow subscriber still connected"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_recreated_database_reuses_the_stream_without_losing_events() {
    if !common::service_available("NATS", NATS).await {
        return;
    }
    let p = prefix();
    let url = format!("nats://{NATS}");
    for round in 0..2 {
        // A fresh database each round: its event ids start at 1 again.
        let Some(db) = TestDb::create().await else {
            return;
        };
        let (a, b) = (instance(&db, &url, &p).await, instance(&db, &url, &p).await);
        enable_events(&[&a, &b]).await;
        wait_events_flow(&a, &b).await;
        let mut events = Events::psubscribe(&b.url(), "__keyspace@0__:fresh").await;
        let mut ca = a.client().await;
        let _: () = ca.set("fresh", round).await.unwrap();
        if round == 0 {
            // Use up ids the next database will hand out again.
            for i in 0..100 {
                let _: () = ca.set(format!("filler:{i}"), i).await.unwrap();
            }
        }
        assert_eq!(
            events.next(Duration::from_secs(5)).await,
            Some(("__keyspace@0__:fresh".into(), "set".into())),
            "round {round}: the event was dropped as a duplicate"
        );
    }
    common::drop_stream(&p).await;
}

/// `len` pseudo-random bytes (every byte value, CR and LF included).
fn blob(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

type MsgStream = std::pin::Pin<Box<dyn futures::Stream<Item = redis::Msg> + Send>>;

/// A connection subscribed to `name` (a pattern when `pattern`).
async fn subscriber(url: &str, name: &str, pattern: bool) -> MsgStream {
    let client = redis::Client::open(url).unwrap();
    let mut ps = client.get_async_pubsub().await.unwrap();
    if pattern {
        ps.psubscribe(name).await.unwrap();
    } else {
        ps.subscribe(name).await.unwrap();
    }
    Box::pin(ps.into_on_message())
}

/// Asserts `stream` receives exactly `want` on `channel`, in order, and
/// nothing more.
async fn expect_payloads(who: &str, stream: &mut MsgStream, channel: &str, want: &[&[u8]]) {
    use futures::StreamExt;
    for (i, want) in want.iter().enumerate() {
        let msg = tokio::time::timeout(Duration::from_secs(20), stream.next())
            .await
            .unwrap_or_else(|_| panic!("{who}: message {i} ({} bytes) never came", want.len()))
            .expect("subscriber connection open");
        assert_eq!(msg.get_channel_name(), channel, "{who}");
        let got = msg.get_payload_bytes();
        assert!(
            got == *want,
            "{who}: message {i}: got {} bytes, want {} bytes (first difference at {:?})",
            got.len(),
            want.len(),
            got.iter().zip(want.iter()).position(|(a, b)| a != b)
        );
    }
    let extra = tokio::time::timeout(Duration::from_millis(500), stream.next()).await;
    assert!(
        extra.is_err(),
        "{who}: an extra message: {:?}",
        extra.map(|m| m.map(|m| m.get_payload_bytes().len()))
    );
}

/// PUBLISH over NATS's max_payload (1 MiB by default) reaches every
/// subscriber whole and once: on the publishing instance, on another
/// instance, and through a pattern there.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn messages_over_the_nats_payload_limit_arrive_whole_once_everywhere() {
    let Some(cluster) = Cluster::start(2).await else {
        return;
    };
    let (a, b) = (&cluster.servers[0], &cluster.servers[1]);
    let mut on_a = subscriber(&a.url(), "big.data", false).await;
    let mut on_b = subscriber(&b.url(), "big.data", false).await;
    let mut pat_b = subscriber(&b.url(), "big.*", true).await;
    let payloads = [blob(3 << 20, 1), blob(10 << 20, 2), b"end".to_vec()];
    let mut ca = a.client().await;
    for p in &payloads {
        let receivers: i64 = redis::cmd("PUBLISH")
            .arg("big.data")
            .arg(p.as_slice())
            .query_async(&mut ca)
            .await
            .unwrap();
        assert_eq!(receivers, 1, "A's own subscriber");
    }
    let want: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
    expect_payloads("SUBSCRIBE on A", &mut on_a, "big.data", &want).await;
    expect_payloads("SUBSCRIBE on B", &mut on_b, "big.data", &want).await;
    expect_payloads("PSUBSCRIBE on B", &mut pat_b, "big.data", &want).await;
    common::drop_stream(&cluster.prefix).await;
}

/// The chunk size follows the server's max_payload (16 KiB here), and a
/// message over the reassembly limit is refused with a permanent error on
/// the publishing side, and dropped (not half-delivered) on a receiving one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chunks_follow_the_servers_max_payload_and_the_reassembly_limit_holds() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    if !common::nats_server_installed() {
        return;
    }
    let nats = PrivateNats::start_with_config("max_payload: 16384\n");
    nats.wait_up().await;
    let p = prefix();
    let a = instance(&db, &nats.url(), &p).await;
    let b = instance_with(&db, &nats.url(), &p, |c| c.nats_reassembly_limit = 1 << 20).await;
    let mut on_a = subscriber(&a.url(), "c", false).await;
    let mut on_b = subscriber(&b.url(), "c", false).await;
    let (big, mid) = (blob(3 << 20, 3), blob(700 << 10, 4));

    // From A: 3 MiB in ~200 chunks reaches A; B (1 MiB limit) drops it.
    let mut ca = a.client().await;
    for p in [&big, &mid] {
        let _: i64 = redis::cmd("PUBLISH")
            .arg("c")
            .arg(p.as_slice())
            .query_async(&mut ca)
            .await
            .unwrap();
    }
    expect_payloads("A", &mut on_a, "c", &[&big, &mid]).await;
    expect_payloads("B", &mut on_b, "c", &[&mid]).await;

    // From B: over its own limit, a permanent error (not TRYAGAIN).
    let mut cb = b.client().await;
    let err = redis::cmd("PUBLISH")
        .arg("c")
        .arg(big.as_slice())
        .query_async::<i64>(&mut cb)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ERR"), "{err}");
    assert!(common::err_text(&err).contains("reassembly limit"), "{err}");
    // Under it, fine.
    let n: i64 = redis::cmd("PUBLISH")
        .arg("c")
        .arg(mid.as_slice())
        .query_async(&mut cb)
        .await
        .unwrap();
    assert_eq!(n, 1);
    expect_payloads("A", &mut on_a, "c", &[&mid]).await;
    expect_payloads("B", &mut on_b, "c", &[&mid]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_datacenter_has_its_own_stream_of_the_whole_log() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    if !common::service_available("NATS", NATS).await {
        return;
    }
    let p = prefix();
    let nats = format!("nats://{NATS}");
    let east = instance_with(&db, &nats, &p, |c| c.datacenter = "east".into()).await;
    let west = instance_with(&db, &nats, &p, |c| c.datacenter = "west".into()).await;
    enable_events(&[&east, &west]).await;
    wait_events_flow(&east, &west).await;
    wait_events_flow(&west, &east).await;

    // A write in either datacenter reaches the other's subscribers.
    let mut on_west = Events::psubscribe(&west.url(), "__keyspace@0__:dc/*").await;
    let mut on_east = Events::psubscribe(&east.url(), "__keyspace@0__:dc/*").await;
    let mut ce = east.client().await;
    let mut cw = west.client().await;
    let _: () = ce.set("dc/from-east", 1).await.unwrap();
    let _: () = cw.set("dc/from-west", 1).await.unwrap();
    for events in [&mut on_west, &mut on_east] {
        let mut got = Vec::new();
        while got.len() < 2 {
            let (channel, event) = events
                .next(Duration::from_secs(5))
                .await
                .expect("an event from each datacenter");
            assert_eq!(event, "set");
            got.push(channel);
        }
        got.sort();
        assert_eq!(
            got,
            ["__keyspace@0__:dc/from-east", "__keyspace@0__:dc/from-west"]
        );
    }

    // Two streams, each with the whole log, numbered the same.
    let client = async_nats::connect(NATS).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let mut last = Vec::new();
    for dc in ["EAST", "WEST"] {
        let name = format!("{}_EVENTS_{dc}", p.to_uppercase());
        let mut stream = js.get_stream(&name).await.expect("the datacenter's stream");
        let state = stream.info().await.unwrap().state.clone();
        let msg = stream.get_raw_message(state.last_sequence).await.unwrap();
        last.push(
            msg.headers
                .get(async_nats::header::NATS_MESSAGE_ID)
                .unwrap()
                .to_string(),
        );
        let subjects = &stream.info().await.unwrap().config.subjects;
        assert_eq!(subjects, &[format!("{p}.ev.{}.>", dc.to_lowercase())]);
    }
    assert_eq!(last[0], last[1], "the same last event in both streams");
    for dc in ["EAST", "WEST"] {
        let _ = js
            .delete_stream(format!("{}_EVENTS_{dc}", p.to_uppercase()))
            .await;
    }
}

/// INFO respire's count of NATS connections made (1 while the link never
/// dropped).
async fn nats_connects(url: &str) -> u64 {
    let mut c = common::connect(url).await;
    let info: String = redis::cmd("INFO")
        .arg("respire")
        .query_async(&mut c)
        .await
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("nats_connects:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no nats_connects in {info}"))
}

/// Channel and pattern names of any length Redis accepts and of any bytes,
/// names that look like NATS wildcards and tokens among them, work across
/// two instances over NATS (SUBSCRIBE, PSUBSCRIBE, PUBLISH, PUBSUB), and
/// none of them disturbs either instance's NATS link: it never reconnects,
/// and a PUBLISH of another client and keyspace notifications keep
/// flowing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn channels_of_any_length_and_bytes_cross_instances() {
    use futures::StreamExt;
    let Some(Cluster {
        db: _db,
        prefix: _p,
        servers,
    }) = Cluster::start(2).await
    else {
        return;
    };
    let (a, b) = (&servers[0], &servers[1]);
    wait_events_flow(a, b).await;
    let before = (nats_connects(&a.url()).await, nats_connects(&b.url()).await);
    let mut names: Vec<Vec<u8>> = vec![
        Vec::new(),
        vec![b'c'; 4 * 1024],
        vec![b'd'; 64 * 1024],
        vec![b'e'; 1 << 20],
        (0..=255u8).collect(),
    ];
    for hostile in [
        "*",
        ">",
        ".",
        "..",
        "a.*.>",
        "a b",
        "$JS.API.>",
        "_INBOX.x",
        "\r\nPUB x 1",
    ] {
        names.push(hostile.as_bytes().to_vec());
    }
    // A 64 KB pattern (it matches the 64 KB channel: `*` may be empty) and
    // one made of NATS wildcards.
    let long_pattern = [vec![b'd'; 64 * 1024], b"*".to_vec()].concat();
    let patterns = [long_pattern.clone(), b">*".to_vec()];

    let mut sub = redis::Client::open(b.url())
        .unwrap()
        .get_async_pubsub()
        .await
        .unwrap();
    for name in &names {
        sub.subscribe(name).await.unwrap();
    }
    for pattern in &patterns {
        sub.psubscribe(pattern).await.unwrap();
    }
    let mut on_b = common::connect(&b.url()).await;
    let channels: Vec<Vec<u8>> = redis::cmd("PUBSUB")
        .arg("CHANNELS")
        .query_async(&mut on_b)
        .await
        .unwrap();
    assert_eq!(channels.len(), names.len());
    for name in &names {
        assert!(channels.contains(name), "{} bytes", name.len());
        let numsub: (Vec<u8>, i64) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(name)
            .query_async(&mut on_b)
            .await
            .unwrap();
        assert_eq!(numsub.1, 1, "{} bytes", name.len());
    }

    let mut on_a = common::connect(&a.url()).await;
    let mut stream = sub.on_message();
    for (i, name) in names.iter().enumerate() {
        let payload = format!("m{i}");
        let _: i64 = redis::cmd("PUBLISH")
            .arg(name)
            .arg(&payload)
            .query_async(&mut on_a)
            .await
            .unwrap();
        // The message, then the pattern matches (`>*` matches a channel
        // starting with `>`; the long pattern the 64 KB channel).
        let mut want = vec![(None, name.clone())];
        for p in &patterns {
            let matches = (p == &long_pattern && name == &vec![b'd'; 64 * 1024])
                || (p == b">*" && name.first() == Some(&b'>'));
            if matches {
                want.push((Some(p.clone()), name.clone()));
            }
        }
        let mut got = Vec::new();
        for _ in 0..want.len() {
            let msg = tokio::time::timeout(Duration::from_secs(10), stream.next())
                .await
                .unwrap_or_else(|_| panic!("no message on the {}-byte channel", name.len()))
                .unwrap();
            assert_eq!(msg.get_payload::<String>().unwrap(), payload);
            let pattern = msg
                .from_pattern()
                .then(|| msg.get_pattern::<Vec<u8>>().unwrap());
            got.push((pattern, msg.get_channel::<Vec<u8>>().unwrap()));
        }
        got.sort();
        want.sort();
        assert_eq!(got, want, "{}-byte channel", name.len());
    }
    drop(stream);

    // Keyspace notifications for the longest keys the store takes (its
    // index holds 3,000 bytes), of every printable byte.
    let mut events = Events::psubscribe(&b.url(), "__keyspace@0__:long*").await;
    let mut key = b"long".to_vec();
    key.extend((0..2990).map(|i| (i % 94 + 33) as u8));
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg(1)
        .query_async(&mut on_a)
        .await
        .unwrap();
    let (channel, event) = events
        .next(Duration::from_secs(10))
        .await
        .expect("the event");
    assert_eq!(event, "set");
    assert_eq!(
        channel,
        String::from_utf8_lossy(&[b"__keyspace@0__:".as_slice(), &key].concat())
    );

    let after = (nats_connects(&a.url()).await, nats_connects(&b.url()).await);
    assert_eq!(after, before, "a NATS link reconnected");
}

/// The parts of a reply that is an array of bulk strings (a pushed
/// message), else `None`.
fn bulks(frame: &[u8]) -> Option<Vec<Vec<u8>>> {
    let text = frame.strip_prefix(b"*")?;
    let line = |at: &[u8]| -> Option<(usize, usize)> {
        let end = at.windows(2).position(|w| w == b"\r\n")?;
        Some((std::str::from_utf8(&at[..end]).ok()?.parse().ok()?, end + 2))
    };
    let (n, mut at) = line(text)?;
    let mut parts = Vec::with_capacity(n);
    for _ in 0..n {
        let rest = text[at..].strip_prefix(b"$")?;
        let (len, head) = line(rest)?;
        parts.push(rest[head..head + len].to_vec());
        at += 1 + head + len + 2;
    }
    Some(parts)
}

/// Sends `command names...` in batches of 1,000 names, as a client with
/// many subscriptions does, reading every confirmation.
async fn subscribe_all(raw: &mut common::Raw, command: &str, names: &[String]) {
    for batch in names.chunks(1000) {
        let mut args: Vec<&[u8]> = vec![command.as_bytes()];
        args.extend(batch.iter().map(|n| n.as_bytes()));
        raw.send(&common::encode(&args)).await;
        for _ in batch {
            raw.read_frame().await;
        }
    }
}

/// Publishes `(channel, payload)` pairs in one pipeline on `raw`.
async fn publish_all(raw: &mut common::Raw, messages: &[(String, String)]) {
    let mut out = Vec::new();
    for (channel, payload) in messages {
        out.extend(common::encode(&[
            b"PUBLISH",
            channel.as_bytes(),
            payload.as_bytes(),
        ]));
    }
    raw.send(&out).await;
    for _ in messages {
        raw.read_frame().await;
    }
}

/// Reads pushed messages until `want` (channel → payloads in order) have
/// all arrived; every message must be one of them, in its channel's
/// order, once.
async fn expect_each_once(
    raw: &mut common::Raw,
    mut want: std::collections::HashMap<String, std::collections::VecDeque<String>>,
) {
    let mut left: usize = want.values().map(|p| p.len()).sum();
    while left > 0 {
        let frame = raw.read_frame().await;
        let parts = bulks(&frame).unwrap_or_else(|| panic!("{}", common::show(&frame)));
        let (channel, payload) = match parts[0].as_slice() {
            b"message" => (&parts[1], &parts[2]),
            b"pmessage" => (&parts[2], &parts[3]),
            _ => panic!("unexpected {}", common::show(&frame)),
        };
        let (channel, payload) = (
            String::from_utf8_lossy(channel).into_owned(),
            String::from_utf8_lossy(payload).into_owned(),
        );
        let next = want.get_mut(&channel).and_then(|p| p.pop_front());
        assert_eq!(
            next.as_deref(),
            Some(payload.as_str()),
            "on {channel}: a message out of order, repeated or unasked for"
        );
        left -= 1;
    }
}

/// Subscriptions at scale, across two instances: on the subscriber
/// instance (its own process, so its RSS is its own), one connection holds
/// 100,000 channels, another 10,000 patterns, and 2,000 connections one
/// channel each. Messages published on the other instance reach each
/// subscription once, in order (a second message on each channel proves no
/// first one came twice). When every subscription is gone, the instance's
/// RSS comes back to within 20% of where it started (the figures for
/// time and memory are respire-bench's `chan.*`, `pat.*`, `rss.per_sub`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_subscriptions_deliver_once_across_instances_and_give_memory_back() {
    use std::collections::{HashMap, VecDeque};
    const CHANNELS: usize = 100_000;
    const PATTERNS: usize = 10_000;
    const CONNECTIONS: usize = 2_000;
    let Some(db) = TestDb::create().await else {
        return;
    };
    if !common::service_available("NATS", NATS).await {
        return;
    }
    let (nats, prefix) = (format!("nats://{NATS}"), prefix());
    let publisher = instance(&db, &nats, &prefix).await;
    let dir = tempfile::tempdir().unwrap();
    let subscriber = ProcessServer::spawn(
        dir.path(),
        &[
            "--database-url",
            &db.url,
            "--nats-url",
            &nats,
            "--nats-prefix",
            &prefix,
            "--nats-stream-storage",
            "memory",
            "--nats-stream-max-age",
            "600",
        ],
    )
    .await;
    let pid = subscriber.child.id();
    let mut publish = common::Raw::connect(publisher.addr).await;

    // One small round first: the runtime's, the allocator's and the NATS
    // link's first growth happen before the baseline.
    let round = |tag: &'static str, channels: usize, patterns: usize, conns: usize| {
        let (addr, sub_addr) = (publisher.addr, subscriber.addr);
        async move {
            let names: Vec<String> = (0..channels).map(|i| format!("{tag}:ch:{i}")).collect();
            let globs: Vec<String> = (0..patterns).map(|i| format!("{tag}:p:{i}:*")).collect();
            let mut many = common::Raw::connect(sub_addr).await;
            subscribe_all(&mut many, "SUBSCRIBE", &names).await;
            let mut pats = common::Raw::connect(sub_addr).await;
            subscribe_all(&mut pats, "PSUBSCRIBE", &globs).await;
            let mut singles = Vec::with_capacity(conns);
            for i in 0..conns {
                let mut one = common::Raw::connect(sub_addr).await;
                subscribe_all(&mut one, "SUBSCRIBE", &[format!("{tag}:one:{i}")]).await;
                singles.push(one);
            }
            // Every 1,000th channel, every 100th pattern, every connection:
            // a first and a second message each.
            let mut want_many = HashMap::new();
            let mut want_pats = HashMap::new();
            let mut messages = Vec::new();
            for (i, name) in names.iter().enumerate().step_by(1000) {
                want_many.insert(
                    name.clone(),
                    VecDeque::from([format!("a{i}"), format!("b{i}")]),
                );
            }
            for i in (0..patterns).step_by(100) {
                let channel = format!("{tag}:p:{i}:x");
                want_pats.insert(channel, VecDeque::from([format!("a{i}"), format!("b{i}")]));
            }
            for first in ["a", "b"] {
                for (i, name) in names.iter().enumerate().step_by(1000) {
                    messages.push((name.clone(), format!("{first}{i}")));
                }
                for i in (0..patterns).step_by(100) {
                    messages.push((format!("{tag}:p:{i}:x"), format!("{first}{i}")));
                }
                for i in 0..conns {
                    messages.push((format!("{tag}:one:{i}"), format!("{first}{i}")));
                }
            }
            let mut publish = common::Raw::connect(addr).await;
            publish_all(&mut publish, &messages).await;
            expect_each_once(&mut many, want_many).await;
            expect_each_once(&mut pats, want_pats).await;
            for (i, one) in singles.iter_mut().enumerate() {
                let want = VecDeque::from([format!("a{i}"), format!("b{i}")]);
                expect_each_once(one, HashMap::from([(format!("{tag}:one:{i}"), want)])).await;
            }
            // Unsubscribing all at once: one confirmation per name.
            many.send(&common::encode(&[b"UNSUBSCRIBE"])).await;
            for _ in 0..channels {
                many.read_frame().await;
            }
            pats.send(&common::encode(&[b"PUNSUBSCRIBE"])).await;
            for _ in 0..patterns {
                pats.read_frame().await;
            }
            drop(singles);
        }
    };
    // A subscription on the subscriber instance is live on the publisher
    // once a message crosses: wait for that before the first round.
    let mut probe = common::Raw::connect(subscriber.addr).await;
    subscribe_all(&mut probe, "SUBSCRIBE", &["probe".to_string()]).await;
    loop {
        publish_all(&mut publish, &[("probe".into(), "x".into())]).await;
        let got = tokio::time::timeout(Duration::from_millis(200), probe.read_frame()).await;
        if got.is_ok() {
            break;
        }
    }
    drop(probe);
    round("warm", 1000, 100, 100).await;
    let settled = |what: &'static str| async move {
        // Until RSS stops falling (the allocator purges freed pages about a
        // second after they were freed).
        let mut last = common::rss_kib(pid);
        loop {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let now = common::rss_kib(pid);
            if now + 256 >= last {
                eprintln!("{what}: RSS {now} KiB");
                return now;
            }
            last = now;
        }
    };
    let before = settled("before").await;
    round("big", CHANNELS, PATTERNS, CONNECTIONS).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let now = common::rss_kib(pid);
        if (now as f64) <= before as f64 * 1.2 {
            eprintln!("after unsubscribing all: RSS {now} KiB ({before} KiB before)");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "RSS {now} KiB 15 s after every subscription was dropped, {before} KiB before"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Client-side caching through a NATS outage: while the link is down an
/// instance follows the event log in the database, so a write on A still
/// invalidates B's tracking clients (default mode and BCAST), and an
/// instance restarted during the outage does too; once NATS is back the
/// stream's copies of those events invalidate nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tracking_clients_hear_of_writes_while_nats_is_down() {
    use crate::common::{Raw, invalidate, resp3_tracking};
    let Some((db, mut nats, a, b)) = PrivatePair::start().await else {
        return;
    };
    let mut w = Raw::connect(a.addr).await;
    assert_eq!(w.cmd(&["SET", "k", "1"]).await, b"+OK\r\n");
    let mut c = resp3_tracking(b.addr, &[]).await;
    let mut bc = resp3_tracking(b.addr, &["BCAST", "PREFIX", "p:"]).await;
    assert_eq!(c.cmd(&["GET", "k"]).await, b"$1\r\n1\r\n");

    nats.stop();
    until_links(&mut [a.client().await, b.client().await], false).await;
    assert_eq!(w.cmd(&["INCR", "k"]).await, b":2\r\n");
    c.expect(&invalidate(&["k"])).await;
    assert_eq!(w.cmd(&["SET", "p:1", "x"]).await, b"+OK\r\n");
    bc.expect(&invalidate(&["p:1"])).await;
    assert_eq!(c.cmd(&["GET", "k"]).await, b"$1\r\n2\r\n");

    // An instance that starts while NATS is down (one more of the same
    // deployment: its prefix) delivers from the log.
    let info: String = redis::cmd("INFO")
        .arg("respire")
        .query_async(&mut b.client().await)
        .await
        .unwrap();
    let prefix = info
        .lines()
        .find_map(|l| l.strip_prefix("nats_prefix:"))
        .expect("nats_prefix in INFO")
        .trim()
        .to_string();
    let b2 = instance(&db, &nats.url(), &prefix).await;
    let mut c2 = resp3_tracking(b2.addr, &[]).await;
    assert_eq!(c2.cmd(&["GET", "k"]).await, b"$1\r\n2\r\n");
    assert_eq!(w.cmd(&["INCR", "k"]).await, b":3\r\n");
    c2.expect(&invalidate(&["k"])).await;
    c.expect(&invalidate(&["k"])).await;

    // NATS back: the outage's events come again through the stream and
    // are passed over; new writes invalidate as before.
    nats.restart();
    nats.wait_up().await;
    until_links(&mut [a.client().await, b.client().await], true).await;
    assert_eq!(c.cmd(&["GET", "k"]).await, b"$1\r\n3\r\n");
    assert_eq!(w.cmd(&["INCR", "k"]).await, b":4\r\n");
    c.expect(&invalidate(&["k"])).await;
    assert_eq!(w.cmd(&["SET", "p:2", "x"]).await, b"+OK\r\n");
    bc.expect(&invalidate(&["p:2"])).await;
    // Nothing more came in between: the next replies are the replies.
    assert_eq!(c.cmd(&["PING"]).await, b"+PONG\r\n");
    assert_eq!(bc.cmd(&["PING"]).await, b"+PONG\r\n");
}
