//! CLIENT REPLY ON|OFF|SKIP, CLIENT PAUSE / UNPAUSE and CLIENT NO-TOUCH,
//! observed on raw RESP: which replies arrive, and which commands wait.
//!
//! The expected behaviour is Redis 7.0.15's (NO-TOUCH: 7.2's).

use std::time::{Duration, Instant};

use crate::common::{Raw, TestServer, encode};

fn request(args: &[&str]) -> Vec<u8> {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    encode(&args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_reply_off_skip_on() {
    let server = TestServer::start().await;
    let mut raw = Raw::connect(server.addr).await;
    let mut pipeline = Vec::new();
    for args in [
        &["CLIENT", "REPLY", "OFF"][..],
        &["SET", "k", "1"],
        &["NOSUCHCOMMAND"],
        &["GET", "k"],
        &["CLIENT", "REPLY", "ON"],
        &["GET", "k"],
        &["CLIENT", "REPLY", "SKIP"],
        &["INCR", "k"],
        &["GET", "k"],
        // SKIP while OFF stays OFF.
        &["CLIENT", "REPLY", "OFF"],
        &["CLIENT", "REPLY", "SKIP"],
        &["PING"],
        &["CLIENT", "REPLY", "ON"],
        // Pipelined writes and reads (group commit) honour SKIP too.
        &["CLIENT", "REPLY", "SKIP"],
        &["SET", "a", "1"],
        &["SET", "b", "2"],
        &["GET", "a"],
    ] {
        pipeline.extend(request(args));
    }
    raw.send(&pipeline).await;
    raw.expect(b"+OK\r\n$1\r\n1\r\n$1\r\n2\r\n+OK\r\n+OK\r\n$1\r\n1\r\n")
        .await;
    // Nothing else is pending.
    assert_eq!(raw.cmd(&["PING"]).await, b"+PONG\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_reply_off_silences_pubsub_messages() {
    let server = TestServer::start().await;
    let mut publisher = Raw::connect(server.addr).await;
    let mut sub = Raw::connect(server.addr).await;
    sub.cmd(&["HELLO", "3"]).await;
    sub.cmd(&["SUBSCRIBE", "compat:reply:ch"]).await;
    sub.send(&request(&["CLIENT", "REPLY", "OFF"])).await;
    // REPLY OFF has no reply to wait for: give the server time to read it
    // before the message it must silence is published.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        publisher
            .cmd(&["PUBLISH", "compat:reply:ch", "hidden"])
            .await,
        b":1\r\n"
    );
    sub.send(&request(&["CLIENT", "REPLY", "ON"])).await;
    sub.expect(b"+OK\r\n").await;
    publisher
        .cmd(&["PUBLISH", "compat:reply:ch", "shown"])
        .await;
    sub.expect(b">3\r\n$7\r\nmessage\r\n$15\r\ncompat:reply:ch\r\n$5\r\nshown\r\n")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_pause_write_holds_writes_only() {
    let server = TestServer::start().await;
    let mut admin = Raw::connect(server.addr).await;
    let mut client = Raw::connect(server.addr).await;
    assert_eq!(client.cmd(&["SET", "k", "before"]).await, b"+OK\r\n");
    assert_eq!(
        admin.cmd(&["CLIENT", "PAUSE", "100000", "WRITE"]).await,
        b"+OK\r\n"
    );
    // Reads go on.
    assert_eq!(client.cmd(&["GET", "k"]).await, b"$6\r\nbefore\r\n");
    assert_eq!(client.cmd(&["PING"]).await, b"+PONG\r\n");
    // A write waits, and so does what the client sends after it.
    client
        .send(&[request(&["SET", "k", "after"]), request(&["GET", "k"])].concat())
        .await;
    let mut other = Raw::connect(server.addr).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(other.cmd(&["GET", "k"]).await, b"$6\r\nbefore\r\n");
    // MULTI is not held; EXEC of a block that writes is.
    assert_eq!(other.cmd(&["MULTI"]).await, b"+OK\r\n");
    assert_eq!(other.cmd(&["GET", "k"]).await, b"+QUEUED\r\n");
    assert_eq!(
        other.cmd(&["EXEC"]).await,
        b"*1\r\n$6\r\nbefore\r\n",
        "a read-only EXEC runs"
    );
    assert_eq!(admin.cmd(&["CLIENT", "UNPAUSE"]).await, b"+OK\r\n");
    client.expect(b"+OK\r\n$5\r\nafter\r\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_pause_all_holds_everything_until_it_ends() {
    let server = TestServer::start().await;
    let mut admin = Raw::connect(server.addr).await;
    let mut client = Raw::connect(server.addr).await;
    let started = Instant::now();
    assert_eq!(admin.cmd(&["CLIENT", "PAUSE", "400"]).await, b"+OK\r\n");
    // Even a read, even the pausing client's own next command.
    assert_eq!(client.cmd(&["PING"]).await, b"+PONG\r\n");
    assert!(
        started.elapsed() >= Duration::from_millis(350),
        "PING answered during an ALL pause after {:?}",
        started.elapsed()
    );
    // A shorter pause never shortens the one in force.
    assert_eq!(
        admin.cmd(&["CLIENT", "PAUSE", "400", "ALL"]).await,
        b"+OK\r\n"
    );
    let started = Instant::now();
    admin.cmd(&["CLIENT", "PAUSE", "10", "WRITE"]).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_no_touch_keeps_idle_time() {
    let server = TestServer::start().await;
    let mut raw = Raw::connect(server.addr).await;
    assert_eq!(raw.cmd(&["SET", "k", "v"]).await, b"+OK\r\n");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(raw.cmd(&["OBJECT", "IDLETIME", "k"]).await, b":2\r\n");
    assert_eq!(raw.cmd(&["CLIENT", "NO-TOUCH", "on"]).await, b"+OK\r\n");
    raw.cmd(&["GET", "k"]).await;
    raw.cmd(&["TYPE", "k"]).await;
    assert_eq!(raw.cmd(&["OBJECT", "IDLETIME", "k"]).await, b":2\r\n");
    // TOUCH touches even so.
    assert_eq!(raw.cmd(&["TOUCH", "k"]).await, b":1\r\n");
    assert_eq!(raw.cmd(&["OBJECT", "IDLETIME", "k"]).await, b":0\r\n");
    assert_eq!(raw.cmd(&["CLIENT", "NO-TOUCH", "off"]).await, b"+OK\r\n");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    raw.cmd(&["GET", "k"]).await;
    assert_eq!(raw.cmd(&["OBJECT", "IDLETIME", "k"]).await, b":0\r\n");
}
