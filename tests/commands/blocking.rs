//! Blocking list pops (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP): served in
//! the order clients blocked, every element to exactly one client, on one
//! instance and across instances sharing a database (with and without
//! NATS); timeouts, disconnects, CLIENT UNBLOCK/KILL and BLMOVE chains.

use crate::common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::common::{Raw, TestDb, TestServer, encode, show};

/// How long a served client may take at most (generous: a machine under
/// load, delivery across instances).
const PROMPT: Duration = Duration::from_secs(10);

/// Sends a command without reading its reply.
async fn send(raw: &mut Raw, args: &[&str]) {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    raw.send(&encode(&args)).await;
}

/// `blocked_clients` of INFO clients.
async fn blocked_clients(addr: SocketAddr) -> i64 {
    let mut raw = Raw::connect(addr).await;
    let reply = raw.cmd(&["INFO", "clients"]).await;
    let text = String::from_utf8_lossy(&reply).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no blocked_clients in {text}"))
}

/// Waits until the instance counts `n` blocked clients, then a little
/// more so the last one has queued itself.
async fn wait_blocked(addr: SocketAddr, n: i64) {
    let deadline = Instant::now() + PROMPT;
    while blocked_clients(addr).await != n {
        assert!(Instant::now() < deadline, "never {n} blocked clients");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Reads one reply frame, failing after [`PROMPT`].
async fn reply(raw: &mut Raw) -> Vec<u8> {
    tokio::time::timeout(PROMPT, raw.read_frame())
        .await
        .expect("a blocked client was not served in time")
}

/// The element of a BLPOP reply `[key, element]`.
fn popped(frame: &[u8]) -> String {
    let text = String::from_utf8_lossy(frame).into_owned();
    let parts: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(parts[0], "*2", "not a served BLPOP: {}", show(frame));
    parts[4].to_string()
}

fn bulk(s: &str) -> Vec<u8> {
    format!("${}\r\n{s}\r\n", s.len()).into_bytes()
}

fn pair(key: &str, value: &str) -> Vec<u8> {
    let mut out = b"*2\r\n".to_vec();
    out.extend(bulk(key));
    out.extend(bulk(value));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clients_are_served_in_the_order_they_blocked() {
    let server = TestServer::start().await;
    let mut clients = Vec::new();
    for i in 0..3 {
        let mut raw = Raw::connect(server.addr).await;
        send(&mut raw, &["BLPOP", "nokey", "q", "0"]).await;
        wait_blocked(server.addr, i + 1).await;
        clients.push(raw);
    }
    let mut pusher = Raw::connect(server.addr).await;
    assert_eq!(
        pusher.cmd(&["RPUSH", "q", "a", "b", "c", "d"]).await,
        b":4\r\n"
    );
    for (raw, want) in clients.iter_mut().zip(["a", "b", "c"]) {
        assert_eq!(show(&reply(raw).await), show(&pair("q", want)));
    }
    // Each was served once; the fourth element stays.
    assert_eq!(
        pusher.cmd(&["LRANGE", "q", "0", "-1"]).await,
        b"*1\r\n$1\r\nd\r\n"
    );
    wait_blocked(server.addr, 0).await;

    // One push at a time: still in order.
    for i in 0..3 {
        send(&mut clients[i as usize], &["BRPOP", "q2", "0"]).await;
        wait_blocked(server.addr, i + 1).await;
    }
    for (raw, value) in clients.iter_mut().zip(["x", "y", "z"]) {
        assert_eq!(pusher.cmd(&["LPUSH", "q2", value]).await, b":1\r\n");
        assert_eq!(show(&reply(raw).await), show(&pair("q2", value)));
    }
    assert_eq!(pusher.cmd(&["EXISTS", "q", "q2"]).await, b":1\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn timeouts_answer_nil_after_about_the_timeout() {
    let server = TestServer::start().await;
    let mut raw = Raw::connect(server.addr).await;
    for (command, timeout) in [
        (vec!["BLPOP", "nokey", "0.2"], 200),
        (vec!["BRPOP", "a", "b", "0.3"], 300),
        (vec!["BLMOVE", "nokey", "d", "LEFT", "RIGHT", "0.2"], 200),
        (vec!["BRPOPLPUSH", "nokey", "d", "0.2"], 200),
        (vec!["BLMPOP", "0.2", "1", "nokey", "LEFT"], 200),
    ] {
        let started = Instant::now();
        assert_eq!(raw.cmd(&command).await, b"*-1\r\n", "{command:?}");
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(timeout) && took < Duration::from_secs(3),
            "{command:?} took {took:?}"
        );
    }
    raw.cmd(&["HELLO", "3"]).await;
    let started = Instant::now();
    assert_eq!(raw.cmd(&["BLPOP", "nokey", "0.2"]).await, b"_\r\n");
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(raw.cmd(&["EXISTS", "d"]).await, b":0\r\n");
    assert_eq!(blocked_clients(server.addr).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_that_leaves_leaves_no_waiter_behind() {
    let server = TestServer::start().await;
    let mut gone = Raw::connect(server.addr).await;
    send(&mut gone, &["BLPOP", "q", "0"]).await;
    wait_blocked(server.addr, 1).await;
    let mut stays = Raw::connect(server.addr).await;
    send(&mut stays, &["BLPOP", "q", "0"]).await;
    wait_blocked(server.addr, 2).await;
    drop(gone);
    wait_blocked(server.addr, 1).await;
    // The first in line left: the element goes to the one still waiting.
    let mut pusher = Raw::connect(server.addr).await;
    assert_eq!(pusher.cmd(&["RPUSH", "q", "a"]).await, b":1\r\n");
    assert_eq!(show(&reply(&mut stays).await), show(&pair("q", "a")));
    drop(stays);
    wait_blocked(server.addr, 0).await;
    // Nobody waits now: a push stays in the list.
    assert_eq!(pusher.cmd(&["RPUSH", "q", "b"]).await, b":1\r\n");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        pusher.cmd(&["LRANGE", "q", "0", "-1"]).await,
        b"*1\r\n$1\r\nb\r\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn client_unblock_and_kill_end_the_wait() {
    let server = TestServer::start().await;
    let mut admin = Raw::connect(server.addr).await;
    let mut blocked = Raw::connect(server.addr).await;
    let id = String::from_utf8(blocked.cmd(&["CLIENT", "ID"]).await).unwrap();
    let id = id.trim_start_matches(':').trim().to_string();
    assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", &id]).await, b":0\r\n");

    send(&mut blocked, &["BLPOP", "q", "0"]).await;
    wait_blocked(server.addr, 1).await;
    let list = String::from_utf8(admin.cmd(&["CLIENT", "LIST", "ID", &id]).await).unwrap();
    assert!(list.contains(" flags=b "), "{list}");
    assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", &id]).await, b":1\r\n");
    assert_eq!(reply(&mut blocked).await, b"*-1\r\n");

    send(&mut blocked, &["BLMOVE", "q", "d", "LEFT", "LEFT", "0"]).await;
    wait_blocked(server.addr, 1).await;
    assert_eq!(
        admin.cmd(&["CLIENT", "UNBLOCK", &id, "ERROR"]).await,
        b":1\r\n"
    );
    assert_eq!(
        reply(&mut blocked).await,
        b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    );
    // Still connected and usable.
    assert_eq!(blocked.cmd(&["PING"]).await, b"+PONG\r\n");

    // XREAD BLOCK too.
    send(
        &mut blocked,
        &["XREAD", "BLOCK", "0", "STREAMS", "__events@0__", "$"],
    )
    .await;
    wait_blocked(server.addr, 1).await;
    assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", &id]).await, b":1\r\n");
    assert_eq!(reply(&mut blocked).await, b"*-1\r\n");

    send(&mut blocked, &["BLPOP", "q", "0"]).await;
    wait_blocked(server.addr, 1).await;
    assert_eq!(admin.cmd(&["CLIENT", "KILL", "ID", &id]).await, b":1\r\n");
    blocked.expect_closed().await;
    wait_blocked(server.addr, 0).await;
    assert_eq!(admin.cmd(&["RPUSH", "q", "a"]).await, b":1\r\n");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(admin.cmd(&["LLEN", "q"]).await, b":1\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn blmove_chains_pass_an_element_along() {
    let server = TestServer::start().await;
    let mut first = Raw::connect(server.addr).await;
    send(&mut first, &["BLMOVE", "a", "b", "RIGHT", "LEFT", "0"]).await;
    wait_blocked(server.addr, 1).await;
    let mut second = Raw::connect(server.addr).await;
    send(&mut second, &["BRPOPLPUSH", "b", "c", "0"]).await;
    wait_blocked(server.addr, 2).await;
    let mut third = Raw::connect(server.addr).await;
    send(
        &mut third,
        &["BLMPOP", "0", "2", "x", "c", "LEFT", "COUNT", "5"],
    )
    .await;
    wait_blocked(server.addr, 3).await;

    let mut pusher = Raw::connect(server.addr).await;
    assert_eq!(pusher.cmd(&["LPUSH", "a", "v"]).await, b":1\r\n");
    assert_eq!(reply(&mut first).await, bulk("v"));
    assert_eq!(reply(&mut second).await, bulk("v"));
    assert_eq!(
        show(&reply(&mut third).await),
        show(b"*2\r\n$1\r\nc\r\n*1\r\n$1\r\nv\r\n")
    );
    assert_eq!(pusher.cmd(&["EXISTS", "a", "b", "c"]).await, b":0\r\n");
    wait_blocked(server.addr, 0).await;
}

/// Clients blocked on every instance; elements pushed on another instance
/// reach exactly one client each, promptly.
async fn every_element_once_across(servers: &[TestServer], pusher: &TestServer) {
    // One-shot clients, two per instance: each gets one element.
    let mut clients = Vec::new();
    for s in servers {
        for i in 0..2 {
            let mut raw = Raw::connect(s.addr).await;
            send(&mut raw, &["BLPOP", "q", "0"]).await;
            wait_blocked(s.addr, i + 1).await;
            clients.push(raw);
        }
    }
    let mut push = Raw::connect(pusher.addr).await;
    let values: Vec<String> = (0..clients.len()).map(|i| format!("e{i}")).collect();
    let started = Instant::now();
    for v in &values {
        push.cmd(&["RPUSH", "q", v]).await;
    }
    let mut got = HashSet::new();
    for raw in clients.iter_mut() {
        let v = popped(&reply(raw).await);
        assert!(got.insert(v.clone()), "{v} delivered twice");
    }
    eprintln!(
        "{} one-shot clients served in {:?}",
        got.len(),
        started.elapsed()
    );
    assert_eq!(got, values.iter().cloned().collect::<HashSet<_>>());
    assert_eq!(push.cmd(&["LLEN", "q"]).await, b":0\r\n");
    drop(clients);
    for s in servers {
        wait_blocked(s.addr, 0).await;
    }

    // Looping clients, many elements pushed in bursts: each exactly once.
    let n = 60;
    let mut tasks = Vec::new();
    for s in servers {
        for _ in 0..2 {
            let addr = s.addr;
            tasks.push(tokio::spawn(async move {
                let mut raw = Raw::connect(addr).await;
                let mut mine = Vec::new();
                loop {
                    let frame = raw.cmd(&["BLPOP", "r", "2"]).await;
                    if frame == b"*-1\r\n" {
                        return mine;
                    }
                    mine.push(popped(&frame));
                }
            }));
        }
    }
    for s in servers {
        wait_blocked(s.addr, 2).await;
    }
    for burst in 0..6 {
        let mut args = vec!["RPUSH".to_string(), "r".to_string()];
        args.extend((0..n / 6).map(|i| format!("r{}", burst * (n / 6) + i)));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        push.cmd(&args).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let distinct: HashSet<&String> = all.iter().collect();
    assert_eq!(all.len(), n, "every element delivered once: {all:?}");
    assert_eq!(distinct.len(), n);
    assert_eq!(push.cmd(&["LLEN", "r"]).await, b":0\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_on_one_database_deliver_each_element_once() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let servers = vec![db.server().await, db.server().await, db.server().await];
    let pusher = db.server().await;
    every_element_once_across(&servers, &pusher).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_over_nats_deliver_each_element_once() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    if !common::service_available("NATS", common::NATS).await {
        return;
    }
    let prefix = format!("t{:012x}", common::rand_u64() & 0xffff_ffff_ffff);
    let mut servers = Vec::new();
    for _ in 0..4 {
        let (url, prefix) = (db.url.clone(), prefix.clone());
        let server = TestServer::start_with(move |c| {
            c.database_url = Some(url);
            c.nats_url = Some(format!("nats://{}", common::NATS));
            c.nats_prefix = prefix;
            c.nats_stream_storage = "memory".into();
            c.nats_stream_max_age = 600;
        })
        .await;
        server.wait_store_ready().await;
        servers.push(server);
    }
    let pusher = servers.pop().unwrap();
    every_element_once_across(&servers, &pusher).await;
    drop(servers);
    drop(pusher);
    common::drop_stream(&prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bzpopmin_is_woken_by_a_zadd_on_another_instance_once() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let (a, b, pusher) = (db.server().await, db.server().await, db.server().await);
    let mut ca = Raw::connect(a.addr).await;
    let mut cb = Raw::connect(b.addr).await;
    send(&mut ca, &["BZPOPMIN", "z", "0"]).await;
    send(&mut cb, &["BZPOPMAX", "z", "0"]).await;
    wait_blocked(a.addr, 1).await;
    wait_blocked(b.addr, 1).await;
    let mut push = Raw::connect(pusher.addr).await;
    assert_eq!(
        push.cmd(&["ZADD", "z", "1", "low", "2", "high"]).await,
        b":2\r\n"
    );
    let (ra, rb) = (reply(&mut ca).await, reply(&mut cb).await);
    let got = [
        String::from_utf8_lossy(&ra).into_owned(),
        String::from_utf8_lossy(&rb).into_owned(),
    ];
    // Each member went to one client: whichever popped first took its end.
    let low = "*3\r\n$1\r\nz\r\n$3\r\nlow\r\n$1\r\n1\r\n";
    let high = "*3\r\n$1\r\nz\r\n$4\r\nhigh\r\n$1\r\n2\r\n";
    assert_ne!(got[0], got[1], "one member twice");
    assert!(got.iter().all(|g| g == low || g == high), "{got:?}");
    assert_eq!(push.cmd(&["EXISTS", "z"]).await, b":0\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_key_turned_into_another_kind_keeps_the_client_blocked() {
    let server = TestServer::start().await;
    let mut waiter = Raw::connect(server.addr).await;
    send(&mut waiter, &["BZPOPMIN", "k", "0"]).await;
    wait_blocked(server.addr, 1).await;
    let mut other = Raw::connect(server.addr).await;
    assert_eq!(other.cmd(&["SET", "k", "v"]).await, b"+OK\r\n");
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Still blocked, as in Redis 7.0; served once the key is a sorted set.
    assert_eq!(blocked_clients(server.addr).await, 1);
    assert_eq!(other.cmd(&["DEL", "k"]).await, b":1\r\n");
    assert_eq!(other.cmd(&["ZADD", "k", "3", "m"]).await, b":1\r\n");
    assert_eq!(
        reply(&mut waiter).await,
        b"*3\r\n$1\r\nk\r\n$1\r\nm\r\n$1\r\n3\r\n"
    );
}
