//! MONITOR: the same client session run against the reference Redis and
//! against respire must produce the same monitor lines (time stamps and
//! client addresses aside): escaping, redacted credentials, admin commands
//! left out, refused and queued commands left out, EXEC's block.

use crate::common;

use std::time::Duration;

use crate::common::{Raw, TestServer, encode, service_available, show};

/// The client's session: run on database 9 of the reference only.
fn session(marker: &str) -> Vec<Vec<Vec<u8>>> {
    let lines: Vec<Vec<&[u8]>> = vec![
        vec![b"SELECT", b"9"],
        vec![
            b"SET",
            b"compat:monitor:k",
            b"a b\"c\\\x00\xff\r\n\t\x07\x08~",
        ],
        vec![b"get", b"compat:monitor:k"],
        vec![b"AUTH", b"secret"],
        vec![b"AUTH", b"user", b"secret"],
        vec![b"HELLO", b"2", b"AUTH", b"default", b"secret"],
        vec![b"CONFIG", b"GET", b"maxmemory"],
        vec![b"CLIENT", b"LIST"],
        vec![b"CLIENT", b"GETNAME"],
        vec![b"NOSUCHCOMMAND", b"x"],
        vec![b"GET"],
        vec![b"MULTI"],
        vec![b"SET", b"compat:monitor:n", b"1"],
        vec![b"INCR", b"compat:monitor:n"],
        vec![b"EXEC"],
        vec![b"DEL", b"compat:monitor:k", b"compat:monitor:n"],
        vec![b"PING"],
        vec![b"ECHO", marker.as_bytes()],
    ];
    lines
        .into_iter()
        .map(|l| l.into_iter().map(<[u8]>::to_vec).collect())
        .collect()
}

/// Runs the session on `addr` with a monitor attached; returns the monitor
/// lines of the session's client, without time stamp and address.
async fn monitored(addr: &str, marker: &str) -> Vec<String> {
    let mut monitor = Raw::connect(addr).await;
    assert_eq!(monitor.cmd(&["MONITOR"]).await, b"+OK\r\n");
    let mut client = Raw::connect(addr).await;
    let me = client.stream.local_addr().unwrap().to_string();
    for args in session(marker) {
        let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        client.send(&encode(&args)).await;
        client.read_frame().await;
    }
    let mut lines = Vec::new();
    loop {
        let frame = monitor.read_frame().await;
        let text = String::from_utf8_lossy(&frame).into_owned();
        let Some((_, rest)) = text.split_once(" [") else {
            panic!("not a monitor line: {}", show(&frame));
        };
        let Some((db_addr, args)) = rest.split_once("] ") else {
            panic!("not a monitor line: {}", show(&frame));
        };
        let Some((db, from)) = db_addr.split_once(' ') else {
            panic!("not a monitor line: {}", show(&frame));
        };
        if from != me {
            continue;
        }
        lines.push(format!("[{db}] {}", args.trim_end()));
        if args.contains(marker) {
            return lines;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_lines_match_the_reference() {
    if !service_available("reference Redis", common::REFERENCE_REDIS).await {
        return;
    }
    // Its writes in the reference's database 9 would reach the compat
    // suite's keyspace subscribers (the suite runs beside it).
    let _reference = common::reference_lock().await;
    let marker = format!("monitor-end-{:x}", common::rand_u64());
    let expected = tokio::time::timeout(
        Duration::from_secs(10),
        monitored(common::REFERENCE_REDIS, &marker),
    )
    .await
    .expect("reference monitor");
    let server = TestServer::start().await;
    let got = tokio::time::timeout(
        Duration::from_secs(10),
        monitored(&server.addr.to_string(), &marker),
    )
    .await
    .expect("respire monitor");
    assert_eq!(got, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_line_format_and_second_monitor() {
    let server = TestServer::start().await;
    let mut monitor = Raw::connect(server.addr).await;
    assert_eq!(monitor.cmd(&["MONITOR"]).await, b"+OK\r\n");
    // A second MONITOR answers nothing; the monitor still runs commands.
    monitor.send(&encode(&[b"MONITOR"])).await;
    assert_eq!(monitor.cmd(&["PING"]).await.get(..1), Some(&b"+"[..]));
    let mut client = Raw::connect(server.addr).await;
    client.cmd(&["SET", "k", "v"]).await;
    // Skip the monitor's own PING line, if it came first.
    let mut line = monitor.read_frame().await;
    if line.ends_with(b"\"PING\"\r\n") {
        line = monitor.read_frame().await;
    }
    let text = String::from_utf8(line).unwrap();
    let me = client.stream.local_addr().unwrap();
    let (stamp, rest) = text.split_once(' ').unwrap();
    let (secs, micros) = stamp.trim_start_matches('+').split_once('.').unwrap();
    assert!(secs.parse::<u64>().unwrap() > 1_600_000_000, "{text}");
    assert_eq!(micros.len(), 6, "{text}");
    assert_eq!(rest, format!("[0 {me}] \"SET\" \"k\" \"v\"\r\n"));
    // MULTI/EXEC inside MULTI refuses MONITOR.
    client.cmd(&["MULTI"]).await;
    client.cmd(&["MONITOR"]).await;
    assert_eq!(
        show(&client.cmd(&["EXEC"]).await),
        show(b"*1\r\n-ERR MONITOR isn't allowed for DENY_BLOCKING client\r\n")
    );
}
