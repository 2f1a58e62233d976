//! Durability: data, TTLs and settings survive a graceful restart and a
//! `kill -9`; after a crash the server restarts cleanly and events flow;
//! a port already in use is a clear, one-line startup error.

use crate::common;

use std::time::Duration;

use crate::common::connect;
use crate::common::{Events, ProcessServer, TestServer, key_events, query};
use redis::aio::MultiplexedConnection;
use respire::config::Config;

fn config_for(dir: &std::path::Path) -> Config {
    let mut config = Config::defaults();
    config.dir = dir.to_path_buf();
    config.port = 0;
    config
}

/// `db<n>:keys=..,expires=..` lines of INFO keyspace, without avg_ttl
/// (an estimate).
async fn keyspace(con: &mut MultiplexedConnection) -> Vec<String> {
    let info: String = query(con, &["INFO", "keyspace"]).await.unwrap();
    info.lines()
        .skip(1)
        .map(|l| l.split(",avg_ttl").next().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_a_graceful_restart() {
    let server = TestServer::start().await;
    let mut con = server.client().await;
    for i in 0..50 {
        let (k, v) = (format!("key:{i}"), format!("value:{i}"));
        assert_eq!(
            query::<String>(&mut con, &["SET", &k, &v]).await,
            Ok("OK".into())
        );
    }
    let mut db3 = connect(&format!("redis://{}/3", server.addr)).await;
    assert_eq!(
        query::<String>(&mut db3, &["SET", "in3", "x"]).await,
        Ok("OK".into())
    );
    assert_eq!(
        query::<String>(&mut con, &["SET", "ttl", "v", "EX", "1000"]).await,
        Ok("OK".into())
    );
    assert_eq!(query::<i64>(&mut con, &["INCRBY", "n", "41"]).await, Ok(41));
    assert_eq!(
        query::<String>(
            &mut con,
            &["CONFIG", "SET", "notify-keyspace-events", "KEA"]
        )
        .await,
        Ok("OK".into())
    );
    drop((con, db3));
    let dir = server.stop().await;

    let config = config_for(dir.path());
    let server = TestServer::start_in(dir, config).await;
    let mut con = server.client().await;
    for i in 0..50 {
        assert_eq!(
            query::<Option<String>>(&mut con, &["GET", &format!("key:{i}")]).await,
            Ok(Some(format!("value:{i}")))
        );
    }
    assert_eq!(query::<i64>(&mut con, &["INCR", "n"]).await, Ok(42));
    assert_eq!(
        query::<Option<String>>(&mut con, &["GET", "ttl"]).await,
        Ok(Some("v".into()))
    );
    let mut db3 = connect(&format!("redis://{}/3", server.addr)).await;
    assert_eq!(
        query::<Option<String>>(&mut db3, &["GET", "in3"]).await,
        Ok(Some("x".into()))
    );
    assert_eq!(
        query::<Option<String>>(&mut con, &["GET", "in3"]).await,
        Ok(None)
    );
    assert_eq!(
        keyspace(&mut con).await,
        vec!["db0:keys=52,expires=1", "db3:keys=1,expires=0"]
    );
    // The notify-keyspace-events setting is stored, not just in memory.
    assert_eq!(
        query::<Vec<String>>(&mut con, &["CONFIG", "GET", "notify-keyspace-events"]).await,
        Ok(vec!["notify-keyspace-events".into(), "AKE".into()])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashes_and_ttls_survive_a_graceful_restart() {
    let server = TestServer::start().await;
    let mut con = server.client().await;
    assert_eq!(
        query::<i64>(&mut con, &["HSET", "h", "a", "1", "b", "2"]).await,
        Ok(2)
    );
    assert_eq!(
        query::<String>(&mut con, &["SET", "ttl", "v", "EX", "1000"]).await,
        Ok("OK".into())
    );
    assert_eq!(query::<i64>(&mut con, &["EXPIRE", "h", "500"]).await, Ok(1));
    drop(con);
    let dir = server.stop().await;

    let config = config_for(dir.path());
    let server = TestServer::start_in(dir, config).await;
    let mut con = server.client().await;
    let mut all: Vec<String> = query(&mut con, &["HGETALL", "h"]).await.unwrap();
    all.sort();
    assert_eq!(all, vec!["1", "2", "a", "b"]);
    let ttl: i64 = query(&mut con, &["TTL", "ttl"]).await.unwrap();
    assert!((990..=1000).contains(&ttl), "TTL after restart: {ttl}");
    let ttl: i64 = query(&mut con, &["TTL", "h"]).await.unwrap();
    assert!((490..=500).contains(&ttl), "TTL after restart: {ttl}");
}

/// Stops the server while a client pipelines INCRs: stop() succeeds, and
/// after a restart every acknowledged INCR is there (a reply is only sent
/// after its commit), and nothing that was never sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_under_load_keeps_acknowledged_writes() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestServer::start().await;
    let stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let writer = {
        let sent = sent.clone();
        tokio::spawn(async move {
            let chunk = common::encode(&[b"INCR", b"n"]).repeat(50);
            for _ in 0..200 {
                if wr.write_all(&chunk).await.is_err() {
                    break;
                }
                sent.fetch_add(50, std::sync::atomic::Ordering::SeqCst);
                tokio::task::yield_now().await;
            }
        })
    };
    let acked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let reader = {
        let acked = acked.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match rd.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let replies = buf[..n].iter().filter(|&&b| b == b':').count();
                        acked.fetch_add(replies, std::sync::atomic::Ordering::SeqCst);
                    }
                }
            }
        })
    };
    // Let some of the load through, then stop in the middle of it.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while acked.load(std::sync::atomic::Ordering::SeqCst) < 500 {
        assert!(
            std::time::Instant::now() < deadline,
            "only {acked:?} INCRs answered within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let dir = tokio::time::timeout(Duration::from_secs(15), server.stop())
        .await
        .expect("stop() under load did not return within 15 s");
    reader.await.unwrap();
    writer.await.unwrap();
    let acked = acked.load(std::sync::atomic::Ordering::SeqCst);
    let sent = sent.load(std::sync::atomic::Ordering::SeqCst);

    let config = config_for(dir.path());
    let server = TestServer::start_in(dir, config).await;
    let mut con = server.client().await;
    let n: i64 = query::<Option<i64>>(&mut con, &["GET", "n"])
        .await
        .unwrap()
        .unwrap_or(0);
    assert!(
        n as usize >= acked && n as usize <= sent,
        "counter {n}: {acked} INCRs acknowledged, {sent} sent"
    );
}

/// Writes 200 acknowledged keys to the real binary, SIGKILLs it, restarts
/// it on the same directory: every acknowledged write is there, the
/// settings too, and keyspace events flow again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ProcessServer::spawn(dir.path(), &[]).await;
    let mut con = connect(&server.url()).await;
    assert_eq!(
        query::<String>(
            &mut con,
            &["CONFIG", "SET", "notify-keyspace-events", "KEA"]
        )
        .await,
        Ok("OK".into())
    );
    for i in 0..200 {
        let (k, v) = (format!("k{i}"), format!("v{i}"));
        assert_eq!(
            query::<String>(&mut con, &["SET", &k, &v]).await,
            Ok("OK".into()),
            "SET {k}"
        );
    }
    assert_eq!(
        query::<i64>(&mut con, &["INCRBY", "counter", "200"]).await,
        Ok(200)
    );
    // Expires while the server is down: the sweeper must catch it after
    // the restart (and tell subscribers).
    assert_eq!(
        query::<String>(&mut con, &["SET", "short", "v", "PX", "2500"]).await,
        Ok("OK".into())
    );
    // Pipelined writes still in flight when the process dies must not
    // corrupt anything (they may or may not have landed).
    let mut raw = common::Raw::connect(server.addr).await;
    let mut burst = Vec::new();
    for i in 0..100 {
        burst.extend(common::encode(&[
            b"SET",
            format!("inflight{i}").as_bytes(),
            b"x",
        ]));
    }
    raw.send(&burst).await;
    server.kill9();
    assert!(!server.stderr().contains("panicked"), "{}", server.stderr());
    drop((con, raw));

    let mut server = ProcessServer::spawn(dir.path(), &[]).await;
    let mut events = Events::psubscribe(&server.url(), "__key*__:*").await;
    let mut con = connect(&server.url()).await;
    for i in 0..200 {
        assert_eq!(
            query::<Option<String>>(&mut con, &["GET", &format!("k{i}")]).await,
            Ok(Some(format!("v{i}"))),
            "k{i} after kill -9"
        );
    }
    assert_eq!(query::<i64>(&mut con, &["INCR", "counter"]).await, Ok(201));
    assert_eq!(
        query::<Vec<String>>(&mut con, &["CONFIG", "GET", "notify-keyspace-events"]).await,
        Ok(vec!["notify-keyspace-events".into(), "AKE".into()])
    );
    // The sweeper deletes the key that expired during or after the crash,
    // with its event.
    let got = events
        .until("__keyevent@0__:expired", "short", Duration::from_secs(6))
        .await;
    assert!(
        got.ends_with(&key_events(&[("short", "expired")])),
        "{got:?}"
    );
    // New events flow, in order, exactly once.
    assert_eq!(
        query::<String>(&mut con, &["SET", "after", "1"]).await,
        Ok("OK".into())
    );
    assert_eq!(query::<i64>(&mut con, &["DEL", "after"]).await, Ok(1));
    let got = events
        .until("__keyevent@0__:del", "after", Duration::from_secs(5))
        .await;
    let tail = key_events(&[("after", "set"), ("after", "del")]);
    assert!(got.ends_with(&tail), "{got:?}");
    assert_eq!(
        got.iter().filter(|e| e.1 == "after").count(),
        2,
        "events for `after` delivered more than once: {got:?}"
    );

    // A second crash right after that, and a third start: still consistent.
    server.kill9();
    let server = ProcessServer::spawn(dir.path(), &[]).await;
    let mut con = connect(&server.url()).await;
    assert_eq!(
        query::<Option<String>>(&mut con, &["GET", "k199"]).await,
        Ok(Some("v199".into()))
    );
    assert_eq!(
        query::<Option<String>>(&mut con, &["GET", "after"]).await,
        Ok(None)
    );
    assert_eq!(
        query::<Option<String>>(&mut con, &["GET", "short"]).await,
        Ok(None)
    );
    assert!(!server.stderr().contains("panicked"), "{}", server.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_in_use_is_a_one_line_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_respire"))
        .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--dir"])
        .arg(dir.path())
        .env_remove("DATABASE_URL")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("respire kept running on a port that is already in use");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "exit status {:?}", output.status);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "expected one line on stderr, got:\n{stderr}"
    );
    assert!(lines[0].contains(&port.to_string()), "{stderr}");
    assert!(lines[0].contains("--port"), "{stderr}");
    drop(taken);
}
