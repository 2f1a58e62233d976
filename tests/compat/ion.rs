//! What ion (the WebRTC SFU, go-redis v7, RESP2) sends, as it sends it:
//! media hashes with a day's TTL found again by KEYS patterns, JSON values
//! with SET EX, the SET NX lock around every call, and one PSUBSCRIBE per
//! watched key acting on `del` and `expired`.
//!
//! The non-timing sequences also run against the reference Redis
//! (127.0.0.1:6379, database 10) when it is reachable, and the replies must
//! match (KEYS and HGETALL compared as sets).

use crate::common;

use std::time::Duration;

use crate::common::connect;
use crate::common::{Events, TestServer, err_text};
use redis::Value;
use redis::aio::MultiplexedConnection;

/// The reference is shared: only database 10, one test at a time.
static REFERENCE_DB10: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Database 10 of the reference Redis, flushed; `None` when unreachable
/// (outside CI).
async fn reference_db10() -> Option<(String, MultiplexedConnection)> {
    if !common::service_available("reference Redis", common::REFERENCE_REDIS).await {
        return None;
    }
    let url = format!("redis://{}/10", common::REFERENCE_REDIS);
    let mut con = connect(&url).await;
    let _: () = redis::cmd("FLUSHDB").query_async(&mut con).await.unwrap();
    Some((url, con))
}

/// How a reply is compared.
#[derive(Clone, Copy)]
enum Shape {
    Exact,
    /// KEYS: order is unspecified.
    Set,
    /// HGETALL in RESP2: field/value pairs in unspecified order.
    Pairs,
}

/// A reply as comparable text.
fn canon(reply: Result<Value, String>, shape: Shape) -> String {
    fn one(v: &Value) -> String {
        match v {
            Value::Nil => "nil".into(),
            Value::Int(i) => i.to_string(),
            Value::BulkString(b) => format!("{:?}", String::from_utf8_lossy(b)),
            Value::SimpleString(s) => s.clone(),
            Value::Okay => "OK".into(),
            Value::Array(items) => {
                format!("[{}]", items.iter().map(one).collect::<Vec<_>>().join(", "))
            }
            other => format!("{other:?}"),
        }
    }
    match reply {
        Err(text) => format!("(error) {text}"),
        Ok(Value::Array(items)) => {
            let mut parts: Vec<String> = match shape {
                Shape::Exact => return one(&Value::Array(items)),
                Shape::Set => items.iter().map(one).collect(),
                Shape::Pairs => items
                    .chunks(2)
                    .map(|p| format!("{}: {}", one(&p[0]), one(&p[1])))
                    .collect(),
            };
            parts.sort();
            format!("{{{}}}", parts.join(", "))
        }
        Ok(v) => one(&v),
    }
}

async fn run(con: &mut MultiplexedConnection, args: &[&str]) -> Result<Value, String> {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query_async(con).await.map_err(|e| err_text(&e))
}

const M1: &str = "dc/node1/room1/user1/media/pub/m1";
const M2: &str = "dc/node1/room1/user1/media/pub/m2";
const M3: &str = "dc/node2/room1/user2/media/pub/m3";
const M4: &str = "dc/node1/room2/user1/media/pub/m4";
const TRACKS: &str =
    r#"[{"id":"audio0","type":"audio","ssrc":12345},{"id":"video0","type":"video"}]"#;
const PEER: &str = r#"{"nid":"n1","sid":"s1","uid":"u1","info":{"name":"alice"}}"#;

/// The media and peer sequence ion runs on join, lookup and leave, with
/// the reply Redis 7 gives to each step (`"..."` is a bulk string, `{...}`
/// a set or a set of field/value pairs).
fn media_sequence() -> Vec<(Vec<&'static str>, Shape, &'static str)> {
    use Shape::*;
    let set = |a: &[&'static str], shape, want| (a.to_vec(), shape, want);
    vec![
        set(&["PING"], Exact, "PONG"),
        set(
            &["HMSET", M1, "mid", "m1", "tracks", TRACKS, "nid", "node1"],
            Exact,
            "OK",
        ),
        set(&["EXPIRE", M1, "86400"], Exact, "1"),
        set(&["HMSET", M2, "mid", "m2", "tracks", "[]"], Exact, "OK"),
        set(&["EXPIRE", M2, "86400"], Exact, "1"),
        set(&["HSET", M3, "mid", "m3"], Exact, "1"),
        set(&["EXPIRE", M3, "86400"], Exact, "1"),
        set(&["HSET", M4, "mid", "m4"], Exact, "1"),
        set(
            &["KEYS", "dc/*/room1/user1/media/pub/*"],
            Set,
            r#"{"dc/node1/room1/user1/media/pub/m1", "dc/node1/room1/user1/media/pub/m2"}"#,
        ),
        set(
            &["KEYS", "dc/*/room1/*/media/pub/*"],
            Set,
            r#"{"dc/node1/room1/user1/media/pub/m1", "dc/node1/room1/user1/media/pub/m2", "dc/node2/room1/user2/media/pub/m3"}"#,
        ),
        set(&["KEYS", "dc/*/room9/*"], Set, "{}"),
        set(
            &["HGETALL", M1],
            Pairs,
            r#"{"mid": "m1", "nid": "node1", "tracks": "[{\"id\":\"audio0\",\"type\":\"audio\",\"ssrc\":12345},{\"id\":\"video0\",\"type\":\"video\"}]"}"#,
        ),
        set(&["HGET", M1, "mid"], Exact, r#""m1""#),
        set(&["HGET", M1, "nope"], Exact, "nil"),
        set(
            &["HMGET", M1, "mid", "nope", "nid"],
            Exact,
            r#"["m1", nil, "node1"]"#,
        ),
        set(&["TTL", M1], Exact, "86400"),
        set(&["TTL", M4], Exact, "-1"),
        set(&["HDEL", M1, "tracks"], Exact, "1"),
        set(&["HDEL", M1, "tracks"], Exact, "0"),
        set(&["HGETALL", M1], Pairs, r#"{"mid": "m1", "nid": "node1"}"#),
        set(&["TTL", M1], Exact, "86400"),
        set(&["DEL", M1], Exact, "1"),
        set(&["DEL", M1], Exact, "0"),
        set(&["HGETALL", M1], Pairs, "{}"),
        set(
            &["KEYS", "dc/*/room1/user1/media/pub/*"],
            Set,
            r#"{"dc/node1/room1/user1/media/pub/m2"}"#,
        ),
        // Older ion: /ion/room/<sid>/<uid> hashes.
        set(&["HSET", "/ion/room/sid1/uid1", "info", PEER], Exact, "1"),
        set(&["HSET", "/ion/room/sid1/uid2", "info", "{}"], Exact, "1"),
        set(&["EXPIRE", "/ion/room/sid1/uid1", "86400"], Exact, "1"),
        set(
            &["KEYS", "/ion/room/sid1/*"],
            Set,
            r#"{"/ion/room/sid1/uid1", "/ion/room/sid1/uid2"}"#,
        ),
        set(
            &["HGET", "/ion/room/sid1/uid1", "info"],
            Exact,
            r#""{\"nid\":\"n1\",\"sid\":\"s1\",\"uid\":\"u1\",\"info\":{\"name\":\"alice\"}}""#,
        ),
        set(
            &["DEL", "/ion/room/sid1/uid1", "/ion/room/sid1/uid2"],
            Exact,
            "2",
        ),
        // Peer JSON with a short TTL.
        set(&["SET", "dc/n1/s1/u1", PEER, "EX", "5"], Exact, "OK"),
        set(
            &["GET", "dc/n1/s1/u1"],
            Exact,
            r#""{\"nid\":\"n1\",\"sid\":\"s1\",\"uid\":\"u1\",\"info\":{\"name\":\"alice\"}}""#,
        ),
        set(&["TTL", "dc/n1/s1/u1"], Exact, "5"),
        set(&["GET", "dc/n1/s1/u9"], Exact, "nil"),
        // The lock around every call.
        set(&["SET", "lock-dc/n1/s1", "1", "EX", "3", "NX"], Exact, "OK"),
        set(
            &["SET", "lock-dc/n1/s1", "1", "EX", "3", "NX"],
            Exact,
            "nil",
        ),
        set(&["DEL", "lock-dc/n1/s1"], Exact, "1"),
        set(&["SET", "lock-dc/n1/s1", "1", "EX", "3", "NX"], Exact, "OK"),
        set(&["DEL", "lock-dc/n1/s1"], Exact, "1"),
        // ion treats a missing hash like an empty one.
        set(&["HGETALL", "dc/none"], Pairs, "{}"),
        set(&["HDEL", "dc/none", "f"], Exact, "0"),
    ]
}

/// Runs the media sequence; returns each step with its canonical reply.
async fn run_media_sequence(con: &mut MultiplexedConnection) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (args, shape, _) in media_sequence() {
        let reply = canon(run(con, &args).await, shape);
        out.push((args.join(" "), reply));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_hashes_keys_and_peer_json() {
    let server = TestServer::start().await;
    let mut con = server.client().await;
    let got = run_media_sequence(&mut con).await;
    let want: Vec<(String, String)> = media_sequence()
        .into_iter()
        .map(|(args, _, want)| (args.join(" "), want.to_string()))
        .collect();
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(
            g, w,
            "respire's reply (left) differs from Redis 7's (right)"
        );
    }

    let _guard = REFERENCE_DB10.lock().await;
    let Some((_, mut reference)) = reference_db10().await else {
        return;
    };
    let from_reference = run_media_sequence(&mut reference).await;
    let _: () = redis::cmd("FLUSHDB")
        .query_async(&mut reference)
        .await
        .unwrap();
    for (g, r) in got.iter().zip(&from_reference) {
        assert_eq!(
            g, r,
            "respire (left) differs from the reference Redis (right)"
        );
    }
    // The expected replies written above are what the reference answers.
    assert_eq!(from_reference, want);
}

/// ion's lock: `SET lock-<key> 1 EX 3 NX` until it answers OK, the
/// critical section, `DEL lock-<key>`. The critical section is a
/// deliberately non-atomic GET + SET increment: the final count is right
/// only if NX admits one holder at a time.
async fn lock_loop(url: &str, connections: usize, iterations: usize) -> i64 {
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let url = url.to_string();
        tasks.push(tokio::spawn(async move {
            let mut con = connect(&url).await;
            for _ in 0..iterations {
                loop {
                    let got = run(&mut con, &["SET", "lock-k", "1", "EX", "3", "NX"])
                        .await
                        .unwrap();
                    match got {
                        Value::Okay => break,
                        Value::Nil => tokio::time::sleep(Duration::from_micros(200)).await,
                        other => panic!("SET NX answered {other:?}"),
                    }
                }
                let n: Option<i64> = redis::cmd("GET")
                    .arg("counter")
                    .query_async(&mut con)
                    .await
                    .unwrap();
                let _: () = redis::cmd("SET")
                    .arg("counter")
                    .arg(n.unwrap_or(0) + 1)
                    .query_async(&mut con)
                    .await
                    .unwrap();
                let released: i64 = redis::cmd("DEL")
                    .arg("lock-k")
                    .query_async(&mut con)
                    .await
                    .unwrap();
                assert_eq!(released, 1, "the lock vanished while held");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut con = connect(url).await;
    redis::cmd("GET")
        .arg("counter")
        .query_async(&mut con)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_nx_lock_serialises_eight_clients() {
    let server = TestServer::start().await;
    let total = tokio::time::timeout(Duration::from_secs(30), lock_loop(&server.url(), 8, 50))
        .await
        .expect("the lock loop did not finish within 30 s");
    assert_eq!(total, 400);

    let _guard = REFERENCE_DB10.lock().await;
    let Some((url, mut reference)) = reference_db10().await else {
        return;
    };
    let on_reference = lock_loop(&url, 8, 50).await;
    let _: () = redis::cmd("FLUSHDB")
        .query_async(&mut reference)
        .await
        .unwrap();
    assert_eq!(on_reference, 400, "the reference itself");
}

/// ion watches one key per connection with `PSUBSCRIBE __key*__:<key>`
/// and acts on `del` and `expired`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watched_key_sees_del_and_expired() {
    let server = TestServer::start().await;
    let mut con = server.client().await;
    // What ion sends once at start (it ignores the reply).
    let _ = run(
        &mut con,
        &["CONFIG", "SET", "notify-keyspace-events", "AKE"],
    )
    .await;
    let mut watch = Events::psubscribe(&server.url(), &format!("__key*__:{M1}")).await;
    let mut other = Events::psubscribe(&server.url(), &format!("__key*__:{M2}")).await;
    let channel = format!("__keyspace@0__:{M1}");

    assert_eq!(
        run(&mut con, &["HMSET", M1, "mid", "m1"]).await,
        Ok(Value::Okay)
    );
    assert_eq!(
        run(&mut con, &["EXPIRE", M1, "86400"]).await,
        Ok(Value::Int(1))
    );
    assert_eq!(
        run(&mut con, &["HSET", M2, "mid", "m2"]).await,
        Ok(Value::Int(1))
    );
    assert_eq!(run(&mut con, &["DEL", M1]).await, Ok(Value::Int(1)));
    let got = watch.until(&channel, "del", Duration::from_secs(5)).await;
    let ev = |e: &str| (channel.clone(), e.to_string());
    assert_eq!(got, vec![ev("hset"), ev("expire"), ev("del")]);

    let started = std::time::Instant::now();
    assert_eq!(
        run(&mut con, &["HSET", M1, "mid", "m1"]).await,
        Ok(Value::Int(1))
    );
    assert_eq!(run(&mut con, &["EXPIRE", M1, "1"]).await, Ok(Value::Int(1)));
    let got = watch
        .until(&channel, "expired", Duration::from_secs(3))
        .await;
    assert!(started.elapsed() >= Duration::from_millis(900), "{got:?}");
    assert_eq!(got, vec![ev("hset"), ev("expire"), ev("expired")]);
    assert_eq!(
        run(&mut con, &["HGETALL", M1]).await,
        Ok(Value::Array(vec![]))
    );

    // The other watcher saw only its own key.
    let channel2 = format!("__keyspace@0__:{M2}");
    assert_eq!(
        other.next(Duration::from_secs(1)).await,
        Some((channel2, "hset".to_string()))
    );
    assert_eq!(other.next(Duration::from_millis(100)).await, None);
}
