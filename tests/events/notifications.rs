//! Server behaviour through a real client (the `redis` crate) and raw RESP
//! where the exact bytes matter: keyspace notifications and expiry.
//!
//! Every expected reply here was checked against Redis 7.0.15.

use std::time::Duration;

use crate::common::{Events, TestServer, connect, key_event, key_events, query};
use redis::Value;
use redis::aio::MultiplexedConnection;

// --- Keyspace notifications and expiry ----------------------------------------

/// Subscribes to every keyspace/keyevent channel, then turns events on
/// (the order ion uses: subscribe, then CONFIG SET).
async fn watch_all(server: &TestServer) -> (Events, MultiplexedConnection) {
    let events = Events::psubscribe(&server.url(), "__key*__:*").await;
    let mut con = connect(&server.url()).await;
    assert_eq!(
        query::<String>(
            &mut con,
            &["CONFIG", "SET", "notify-keyspace-events", "KEA"]
        )
        .await,
        Ok("OK".into())
    );
    (events, con)
}

/// Runs `commands`, then `SET end-marker 1`, and returns every event that
/// arrived before the marker's own.
async fn events_of(
    events: &mut Events,
    con: &mut MultiplexedConnection,
    commands: &[&[&str]],
) -> Vec<(String, String)> {
    for args in commands {
        query::<Value>(con, args)
            .await
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    }
    query::<Value>(con, &["SET", "end-marker", "1"])
        .await
        .unwrap();
    let mut got = events
        .until("__keyevent@0__:set", "end-marker", Duration::from_secs(5))
        .await;
    let marker = key_event(0, "end-marker", "set");
    assert_eq!(got.split_off(got.len() - 2), marker.to_vec());
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyspace_events_for_strings() {
    let server = TestServer::start().await;
    let (mut events, mut con) = watch_all(&server).await;
    let got = events_of(
        &mut events,
        &mut con,
        &[
            &["SET", "k", "v"],
            &["SETEX", "k2", "100", "v"],
            &["SET", "k3", "v", "PX", "100000"],
            &["INCR", "n"],
            &["INCRBY", "n", "5"],
            &["APPEND", "k", "w"],
            &["GET", "k"],
            &["SETNX", "k", "other"],
            &["GETDEL", "k3"],
            &["GETDEL", "missing"],
        ],
    )
    .await;
    assert_eq!(
        got,
        key_events(&[
            ("k", "set"),
            ("k2", "set"),
            ("k2", "expire"),
            ("k3", "set"),
            ("k3", "expire"),
            ("n", "incrby"),
            ("n", "incrby"),
            ("k", "append"),
            ("k3", "del"),
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyspace_events_for_keys_and_hashes() {
    let server = TestServer::start().await;
    let (mut events, mut con) = watch_all(&server).await;
    let got = events_of(
        &mut events,
        &mut con,
        &[
            &["SET", "k", "v"],
            &["SETEX", "k2", "100", "v"],
            &["DEL", "missing"],
            &["DEL", "k"],
            &["EXPIRE", "k2", "100"],
            &["EXPIRE", "missing", "100"],
            &["HSET", "h", "f", "1", "g", "2"],
            &["HDEL", "h", "f"],
            &["HDEL", "h", "nope"],
            &["HDEL", "h", "g"],
        ],
    )
    .await;
    assert_eq!(
        got,
        key_events(&[
            ("k", "set"),
            ("k2", "set"),
            ("k2", "expire"),
            ("k", "del"),
            ("k2", "expire"),
            ("h", "hset"),
            ("h", "hdel"),
            ("h", "hdel"),
            ("h", "del"),
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyspace_events_filtered_by_flags() {
    let server = TestServer::start().await;
    let mut events = Events::psubscribe(&server.url(), "__key*__:*").await;
    let mut con = connect(&server.url()).await;
    // Only keyevent messages for generic commands (del, expire...) and strings.
    query::<String>(
        &mut con,
        &["CONFIG", "SET", "notify-keyspace-events", "E$g"],
    )
    .await
    .unwrap();
    query::<String>(&mut con, &["SET", "a", "1"]).await.unwrap();
    query::<String>(&mut con, &["SET", "marker", "1"])
        .await
        .unwrap();
    let got = events
        .until("__keyevent@0__:set", "marker", Duration::from_secs(5))
        .await;
    assert_eq!(
        got,
        vec![
            ("__keyevent@0__:set".to_string(), "a".to_string()),
            ("__keyevent@0__:set".to_string(), "marker".to_string()),
        ]
    );
    // Events off: nothing at all, then back on.
    query::<String>(&mut con, &["CONFIG", "SET", "notify-keyspace-events", ""])
        .await
        .unwrap();
    query::<String>(&mut con, &["SET", "quiet", "1"])
        .await
        .unwrap();
    query::<String>(&mut con, &["CONFIG", "SET", "notify-keyspace-events", "K$"])
        .await
        .unwrap();
    query::<String>(&mut con, &["SET", "loud", "1"])
        .await
        .unwrap();
    let got = events
        .until("__keyspace@0__:loud", "set", Duration::from_secs(5))
        .await;
    assert_eq!(
        got,
        vec![("__keyspace@0__:loud".to_string(), "set".to_string())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyspace_events_carry_the_database_number() {
    let server = TestServer::start().await;
    let (mut events, _) = watch_all(&server).await;
    let mut db3 = connect(&format!("redis://{}/3", server.addr)).await;
    query::<String>(&mut db3, &["SET", "k", "v"]).await.unwrap();
    query::<i64>(&mut db3, &["DEL", "k"]).await.unwrap();
    let got = events
        .until("__keyevent@3__:del", "k", Duration::from_secs(5))
        .await;
    let want: Vec<_> = [key_event(3, "k", "set"), key_event(3, "k", "del")].concat();
    assert_eq!(got, want);
}

/// A key that expires is reported `expired` exactly once, whether the
/// sweeper or a write that finds it dead gets there first; a write to it
/// then starts from nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_is_emitted_exactly_once_under_lazy_and_active_expiry() {
    let server = TestServer::start().await;
    let (mut events, mut con) = watch_all(&server).await;
    let keys: Vec<String> = (0..20).map(|i| format!("e{i}")).collect();
    for k in &keys {
        query::<String>(&mut con, &["SET", k, "v", "PX", "40"])
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(45)).await;
    for k in &keys {
        assert_eq!(query::<i64>(&mut con, &["APPEND", k, "x"]).await, Ok(1));
    }
    query::<String>(&mut con, &["SET", "end-marker", "1"])
        .await
        .unwrap();
    let got = events
        .until("__keyevent@0__:set", "end-marker", Duration::from_secs(5))
        .await;
    for k in &keys {
        let channel = format!("__keyspace@0__:{k}");
        let mine: Vec<&str> = got
            .iter()
            .filter(|(c, _)| *c == channel)
            .map(|(_, e)| e.as_str())
            .collect();
        assert_eq!(mine, ["set", "expire", "expired", "append"], "{k}: {got:?}");
    }
    // Nothing more (no late duplicate from the sweeper).
    assert_eq!(events.next(Duration::from_millis(300)).await, None);
    for k in &keys {
        assert_eq!(query::<i64>(&mut con, &["TTL", k]).await, Ok(-1), "{k}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_expiry_emits_expired_without_any_read() {
    let server = TestServer::start().await;
    let (mut events, mut con) = watch_all(&server).await;
    let started = std::time::Instant::now();
    query::<String>(&mut con, &["SET", "short", "v", "PX", "100"])
        .await
        .unwrap();
    let got = events
        .until(
            "__keyevent@0__:expired",
            "short",
            Duration::from_millis(1500),
        )
        .await;
    assert!(started.elapsed() >= Duration::from_millis(100));
    assert_eq!(
        got,
        key_events(&[("short", "set"), ("short", "expire"), ("short", "expired")])
    );
    assert_eq!(
        query::<Option<String>>(&mut con, &["GET", "short"]).await,
        Ok(None)
    );
    // The sweeper really deleted it (not only hidden by lazy expiry).
    assert_eq!(
        query::<String>(&mut con, &["INFO", "keyspace"]).await,
        Ok("# Keyspace\r\n".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lazy_expiry_hides_the_key_at_the_deadline() {
    let server = TestServer::start().await;
    let mut con = server.client().await;
    for i in 0..3 {
        let key = format!("lazy{i}");
        query::<String>(&mut con, &["SET", &key, "v", "PX", "200"])
            .await
            .unwrap();
        let set_at = std::time::Instant::now();
        assert_eq!(
            query::<Option<String>>(&mut con, &["GET", &key]).await,
            Ok(Some("v".into()))
        );
        tokio::time::sleep_until((set_at + Duration::from_millis(202)).into()).await;
        assert_eq!(
            query::<Option<String>>(&mut con, &["GET", &key]).await,
            Ok(None),
            "GET {key} just after its deadline"
        );
        assert_eq!(
            query::<Vec<Option<String>>>(&mut con, &["MGET", &key]).await,
            Ok(vec![None])
        );
        assert_eq!(
            query::<i64>(&mut con, &["APPEND", &key, "x"]).await,
            Ok(1),
            "APPEND to {key} after its deadline starts from empty"
        );
    }
}
