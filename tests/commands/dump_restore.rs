//! DUMP and RESTORE against the reference Redis 7.0: values of every type
//! in several encodings dumped by Redis are restored here and read back
//! equal, and respire's dumps restore in Redis equal to the originals.
//! Then bad payloads, which must change nothing.
//!
//! The reference is shared: keys live in its database 12 (the compat
//! suite's subscribers listen to database 9's events) under a random
//! prefix and are deleted after; the test holds `common::reference_lock`
//! (as the compat suite does for its run) so that no case changes the
//! encoding thresholds, which decide Redis's DUMP bytes, meanwhile; it
//! skips loudly when the reference is unreachable.

use redis::aio::MultiplexedConnection;

use crate::common::{self, TestServer};

/// What a key holds, in a form that compares equal across servers:
/// its type and its contents (sets and hashes sorted), and whether it
/// has a TTL.
#[derive(Debug, PartialEq)]
struct Snapshot {
    kind: String,
    items: Vec<Vec<u8>>,
    has_ttl: bool,
}

async fn snapshot(con: &mut MultiplexedConnection, key: &str) -> Snapshot {
    let kind: String = redis::cmd("TYPE").arg(key).query_async(con).await.unwrap();
    let mut items: Vec<Vec<u8>> = match kind.as_str() {
        "string" => vec![redis::cmd("GET").arg(key).query_async(con).await.unwrap()],
        "list" => redis::cmd("LRANGE")
            .arg(key)
            .arg(0)
            .arg(-1)
            .query_async(con)
            .await
            .unwrap(),
        "set" => redis::cmd("SMEMBERS")
            .arg(key)
            .query_async(con)
            .await
            .unwrap(),
        "hash" => {
            let pairs: Vec<(Vec<u8>, Vec<u8>)> = redis::cmd("HGETALL")
                .arg(key)
                .query_async(con)
                .await
                .unwrap();
            let mut pairs = pairs;
            pairs.sort();
            pairs.into_iter().flat_map(|(f, v)| [f, v]).collect()
        }
        "zset" => redis::cmd("ZRANGE")
            .arg(key)
            .arg(0)
            .arg(-1)
            .arg("WITHSCORES")
            .query_async(con)
            .await
            .unwrap(),
        other => panic!("{key}: unexpected type {other}"),
    };
    if kind == "set" {
        items.sort();
    }
    let pttl: i64 = redis::cmd("PTTL").arg(key).query_async(con).await.unwrap();
    Snapshot {
        kind,
        items,
        has_ttl: pttl > 0,
    }
}

async fn dump(con: &mut MultiplexedConnection, key: &str) -> Vec<u8> {
    redis::cmd("DUMP").arg(key).query_async(con).await.unwrap()
}

async fn restore(con: &mut MultiplexedConnection, key: &str, ttl: i64, payload: &[u8]) {
    let reply: String = redis::cmd("RESTORE")
        .arg(key)
        .arg(ttl)
        .arg(payload)
        .arg("REPLACE")
        .query_async(con)
        .await
        .unwrap_or_else(|e| panic!("RESTORE {key}: {e}"));
    assert_eq!(reply, "OK");
}

/// Builds the sample keys on the reference: each type in its small and
/// large encodings.
async fn fill(con: &mut MultiplexedConnection, p: &str) -> Vec<String> {
    let mut pipe = redis::pipe();
    let long_text = "compressible text, ".repeat(200);
    let binary: Vec<u8> = (0..=255u8).cycle().take(2000).collect();
    let noise: Vec<u8> = (0..3000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
        .collect();
    for (k, v) in [
        ("s:int8", b"7".to_vec()),
        ("s:int16", b"-3000".to_vec()),
        ("s:int32", b"2000000000".to_vec()),
        ("s:int64", b"9223372036854775807".to_vec()),
        ("s:text", b"hello world".to_vec()),
        ("s:empty", Vec::new()),
        ("s:lzf", long_text.clone().into_bytes()),
        ("s:binary", binary.clone()),
        ("s:noise", noise.clone()),
    ] {
        pipe.cmd("SET").arg(format!("{p}{k}")).arg(v).ignore();
    }
    pipe.cmd("SET")
        .arg(format!("{p}s:ttl"))
        .arg("expiring")
        .arg("PX")
        .arg(100_000)
        .ignore();
    pipe.cmd("RPUSH")
        .arg(format!("{p}l:small"))
        .arg(&["a", "1", "-300", "70000", "", "tail"])
        .ignore();
    let many: Vec<String> = (0..5000).map(|i| format!("element {i}")).collect();
    pipe.cmd("RPUSH")
        .arg(format!("{p}l:many"))
        .arg(&many)
        .ignore();
    let ints: Vec<String> = (0..3000).map(|i| (i * 37 - 5000).to_string()).collect();
    pipe.cmd("RPUSH")
        .arg(format!("{p}l:ints"))
        .arg(&ints)
        .ignore();
    let huge = vec![b'x'; 10_000];
    pipe.cmd("RPUSH")
        .arg(format!("{p}l:huge"))
        .arg(&huge)
        .arg("between")
        .arg(&huge)
        .arg(&binary)
        .ignore();
    pipe.cmd("RPUSH")
        .arg(format!("{p}l:lzf"))
        .arg(&[long_text.as_str(), long_text.as_str()])
        .ignore();
    pipe.cmd("SADD")
        .arg(format!("{p}set:intset"))
        .arg(&["3", "1", "-2", "100000"])
        .ignore();
    pipe.cmd("SADD")
        .arg(format!("{p}set:wide"))
        .arg(&["1", "-9000000000"])
        .ignore();
    pipe.cmd("SADD")
        .arg(format!("{p}set:ints"))
        .arg(&ints[..1000])
        .ignore();
    pipe.cmd("SADD")
        .arg(format!("{p}set:strings"))
        .arg(&["a", "b", "1", "zzz"])
        .ignore();
    pipe.cmd("SADD")
        .arg(format!("{p}set:many"))
        .arg(&many)
        .ignore();
    pipe.cmd("HSET")
        .arg(format!("{p}h:small"))
        .arg(&["f", "v", "n", "-42", "big", "123456789012"])
        .ignore();
    let fields: Vec<String> = (0..300)
        .flat_map(|i| [format!("field{i}"), format!("{i}")])
        .collect();
    pipe.cmd("HSET")
        .arg(format!("{p}h:many"))
        .arg(&fields)
        .ignore();
    pipe.cmd("HSET")
        .arg(format!("{p}h:longvalue"))
        .arg("f")
        .arg(&long_text)
        .arg("g")
        .arg(&binary)
        .ignore();
    pipe.cmd("ZADD")
        .arg(format!("{p}z:small"))
        .arg(&["1.5", "a", "2", "b", "-0.1", "c", "inf", "d", "-inf", "e"])
        .ignore();
    let scored: Vec<String> = (0..300)
        .flat_map(|i| [format!("{}", i as f64 / 7.0), format!("m{i}")])
        .collect();
    pipe.cmd("ZADD")
        .arg(format!("{p}z:many"))
        .arg(&scored)
        .ignore();
    pipe.cmd("ZADD")
        .arg(format!("{p}z:longmember"))
        .arg(1)
        .arg(&long_text)
        .arg(2)
        .arg("short")
        .ignore();
    let () = pipe.query_async(con).await.unwrap();
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{p}*"))
        .query_async(con)
        .await
        .unwrap();
    keys.sort();
    keys
}

#[tokio::test]
async fn dump_restore_round_trips_with_the_reference() {
    if !common::service_available("reference Redis", common::REFERENCE_REDIS).await {
        return;
    }
    let _lock = common::reference_lock().await;
    let server = TestServer::start().await;
    let mut ours = server.client().await;
    let mut theirs = common::connect(&format!("redis://{}/12", common::REFERENCE_REDIS)).await;
    let p = format!("dumptest:{:016x}:", common::rand_u64());
    let _cleanup = DeleteOnDrop(p.clone());
    let keys = fill(&mut theirs, &p).await;
    assert_eq!(keys.len(), 26, "{keys:?}");

    let mut same_bytes = Vec::new();
    for key in &keys {
        let original = snapshot(&mut theirs, key).await;
        // Redis → respire.
        let payload = dump(&mut theirs, key).await;
        let ttl = if original.has_ttl { 100_000 } else { 0 };
        restore(&mut ours, key, ttl, &payload).await;
        assert_eq!(
            snapshot(&mut ours, key).await,
            original,
            "{key} restored here"
        );
        // respire → Redis, under another name.
        let ours_payload = dump(&mut ours, key).await;
        let back = format!("{key}:back");
        restore(&mut theirs, &back, ttl, &ours_payload).await;
        assert_eq!(
            snapshot(&mut theirs, &back).await,
            original,
            "{key} restored in Redis"
        );
        if ours_payload == payload {
            same_bytes.push(key.trim_start_matches(&p).to_string());
        }
    }
    // Where respire encodes as Redis does, the dumps are the same bytes
    // (not so for hash tables: Redis writes them in its table's order).
    for key in [
        "s:int8",
        "s:int16",
        "s:int32",
        "s:int64",
        "s:text",
        "s:empty",
        "s:lzf",
        "s:binary",
        "s:noise",
        "s:ttl",
        "l:small",
        "l:many",
        "l:ints",
        "l:huge",
        "l:lzf",
        "set:intset",
        "set:wide",
        "z:small",
        "z:many",
        "z:longmember",
    ] {
        assert!(
            same_bytes.iter().any(|k| k == key),
            "DUMP {key} differs from Redis's (same: {same_bytes:?})"
        );
    }
    server.stop().await;
}

/// Deletes the reference's keys under a prefix, however the test ends.
struct DeleteOnDrop(String);

impl Drop for DeleteOnDrop {
    fn drop(&mut self) {
        let pattern = format!("{}*", self.0);
        common::clean_up(async move {
            let mut con = common::connect(&format!("redis://{}/12", common::REFERENCE_REDIS)).await;
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(&pattern)
                .query_async(&mut con)
                .await
                .unwrap_or_default();
            if !keys.is_empty() {
                let _: redis::RedisResult<i64> =
                    redis::cmd("DEL").arg(&keys).query_async(&mut con).await;
            }
        });
    }
}

#[tokio::test]
async fn restore_refuses_bad_payloads_and_changes_nothing() {
    let server = TestServer::start().await;
    let mut con = server.client().await;
    let _: () = redis::cmd("RPUSH")
        .arg("src")
        .arg(&["a", "b", "c"])
        .query_async(&mut con)
        .await
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("original")
        .query_async(&mut con)
        .await
        .unwrap();
    let good = dump(&mut con, "src").await;
    let n = good.len();
    let mut cases: Vec<(String, Vec<u8>, &str)> = vec![
        (
            "truncated".into(),
            good[..n - 3].to_vec(),
            "ERR DUMP payload version or checksum are wrong",
        ),
        (
            "too short".into(),
            good[..5].to_vec(),
            "ERR DUMP payload version or checksum are wrong",
        ),
        (
            "wrong crc".into(),
            {
                let mut b = good.clone();
                b[n - 1] ^= 0xff;
                b
            },
            "ERR DUMP payload version or checksum are wrong",
        ),
        (
            "version 11".into(),
            {
                let mut b = good.clone();
                b[n - 10] = 11;
                b
            },
            "ERR DUMP payload version or checksum are wrong",
        ),
    ];
    for i in 0..n {
        let mut b = good.clone();
        b[i] ^= 0x5a;
        cases.push((
            format!("byte {i} flipped"),
            b,
            "ERR DUMP payload version or checksum are wrong",
        ));
    }
    // A payload with a valid footer whose value cannot be read.
    let mut body = vec![18u8, 1, 2, 0x20, 0x00];
    body.extend_from_slice(&10u16.to_le_bytes());
    let crc = crc::Crc::<u64>::new(&crc::CRC_64_REDIS).checksum(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    cases.push(("bad data".into(), body, "ERR Bad data format"));

    for (what, payload, error) in cases {
        for key in ["k", "new"] {
            let got: redis::RedisResult<String> = redis::cmd("RESTORE")
                .arg(key)
                .arg(0)
                .arg(&payload)
                .arg("REPLACE")
                .query_async(&mut con)
                .await;
            let e = got.expect_err(&what);
            assert_eq!(common::err_text(&e), error, "{what}");
        }
        let kept: String = redis::cmd("GET")
            .arg("k")
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!(kept, "original", "{what}");
        let exists: i64 = redis::cmd("EXISTS")
            .arg("new")
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!(exists, 0, "{what}");
    }
    // The good one still works.
    restore(&mut con, "k", 0, &good).await;
    let items: Vec<String> = redis::cmd("LRANGE")
        .arg("k")
        .arg(0)
        .arg(-1)
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(items, ["a", "b", "c"]);
    server.stop().await;
}
