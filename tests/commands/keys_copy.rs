//! MOVE, COPY ... DB and SWAPDB between databases, on SQLite and (when it
//! is reachable) MariaDB, with their keyspace events. The compat suite
//! cannot cover these: it never writes outside database 9 of the shared
//! reference. Expected replies and events are Redis 7.0.15's.

use crate::common;

use std::time::Duration;

use crate::common::{Events, Raw, TestDb, TestServer, key_event};

async fn story(server: &TestServer) {
    let mut raw = Raw::connect(server.addr).await;
    let mut events = Events::psubscribe(&server.url(), "__key*@*__:*").await;
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEA"])
            .await,
        b"+OK\r\n"
    );
    let steps: &[(&[&str], &[u8])] = &[
        (&["SELECT", "1"], b"+OK\r\n"),
        (&["SET", "s", "v", "EX", "1000"], b"+OK\r\n"),
        (&["HSET", "h", "f", "v"], b":1\r\n"),
        // MOVE to 2: the key leaves 1 with its TTL.
        (&["MOVE", "s", "2"], b":1\r\n"),
        (&["EXISTS", "s"], b":0\r\n"),
        (&["MOVE", "s", "2"], b":0\r\n"),
        (&["SET", "s", "other"], b"+OK\r\n"),
        // The target holds it already: nothing moves.
        (&["MOVE", "s", "2"], b":0\r\n"),
        (&["COPY", "h", "h", "DB", "2"], b":1\r\n"),
        (&["COPY", "h", "h", "DB", "2"], b":0\r\n"),
        (&["COPY", "s", "h", "DB", "2", "REPLACE"], b":1\r\n"),
        (&["SELECT", "2"], b"+OK\r\n"),
        (&["GET", "s"], b"$1\r\nv\r\n"),
        (&["GET", "h"], b"$5\r\nother\r\n"),
        (&["TTL", "h"], b":-1\r\n"),
        (&["MOVE", "h", "1"], b":0\r\n"),
        (&["SWAPDB", "1", "2"], b"+OK\r\n"),
        // Database 2 now holds what 1 held, and the other way round.
        (&["GET", "s"], b"$5\r\nother\r\n"),
        (&["HGET", "h", "f"], b"$1\r\nv\r\n"),
        (&["SELECT", "1"], b"+OK\r\n"),
        (&["GET", "s"], b"$1\r\nv\r\n"),
        (&["TTL", "s"], b":1000\r\n"),
        (&["GET", "h"], b"$5\r\nother\r\n"),
        (&["SWAPDB", "1", "3"], b"+OK\r\n"),
        (&["DBSIZE"], b":0\r\n"),
        (&["SELECT", "3"], b"+OK\r\n"),
        (&["DBSIZE"], b":2\r\n"),
    ];
    for (args, reply) in steps {
        assert_eq!(
            common::show(&raw.cmd(args).await),
            common::show(reply),
            "{args:?}"
        );
    }
    // `new` is not among KEA's classes. One MOVE logs move_from (source)
    // before move_to (target).
    let mut expected = Vec::new();
    for (db, key, event) in [
        (1, "s", "set"),
        (1, "s", "expire"),
        (1, "h", "hset"),
        (1, "s", "move_from"),
        (2, "s", "move_to"),
        (1, "s", "set"),
        (2, "h", "copy_to"),
        (2, "h", "copy_to"),
    ] {
        expected.extend(key_event(db, key, event));
    }
    let got = events
        .until("__keyevent@2__:copy_to", "h", Duration::from_secs(5))
        .await;
    // The first copy_to is followed by a second one.
    let mut got = got;
    got.extend(
        events
            .until("__keyevent@2__:copy_to", "h", Duration::from_secs(5))
            .await,
    );
    assert_eq!(got, expected);
    // SWAPDB logs nothing.
    assert_eq!(events.next(Duration::from_millis(300)).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn move_copy_swapdb_on_sqlite() {
    let server = TestServer::start().await;
    story(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn move_copy_swapdb_on_mariadb() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let server = db.server().await;
    story(&server).await;
}

/// MOVE and COPY ... DB of every type carry the whole value and its TTL to
/// the other database (replies checked against Redis 7.0.15).
async fn every_type_between_databases(server: &TestServer) {
    let mut raw = Raw::connect(server.addr).await;
    let script: &[(&[&str], &[u8])] = &[
        (&["SELECT", "4"], b"+OK\r\n"),
        (&["RPUSH", "l", "a", "b", "c"], b":3\r\n"),
        (&["SADD", "s", "1", "x"], b":2\r\n"),
        (&["ZADD", "z", "1.5", "a", "-inf", "b"], b":2\r\n"),
        (&["HSET", "h", "f", "v"], b":1\r\n"),
        (&["SET", "n", "42"], b"+OK\r\n"),
    ];
    for (args, want) in script {
        assert_eq!(
            common::show(&raw.cmd(args).await),
            common::show(want),
            "{args:?}"
        );
    }
    for key in ["l", "s", "z", "h", "n"] {
        raw.cmd(&["EXPIRE", key, "1000"]).await;
        assert_eq!(raw.cmd(&["COPY", key, key, "DB", "6"]).await, b":1\r\n");
        assert_eq!(raw.cmd(&["MOVE", key, "5"]).await, b":1\r\n", "{key}");
        assert_eq!(raw.cmd(&["EXISTS", key]).await, b":0\r\n");
    }
    for db in ["5", "6"] {
        raw.cmd(&["SELECT", db]).await;
        let reads: &[(&[&str], &[u8])] = &[
            (
                &["LRANGE", "l", "0", "-1"],
                b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n",
            ),
            (&["SMEMBERS", "s"], b""),
            (
                &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
                b"*4\r\n$1\r\nb\r\n$4\r\n-inf\r\n$1\r\na\r\n$3\r\n1.5\r\n",
            ),
            (&["HGETALL", "h"], b"*2\r\n$1\r\nf\r\n$1\r\nv\r\n"),
            (&["GET", "n"], b"$2\r\n42\r\n"),
            (&["SCARD", "s"], b":2\r\n"),
        ];
        for (args, want) in reads {
            let got = raw.cmd(args).await;
            if !want.is_empty() {
                assert_eq!(common::show(&got), common::show(want), "db {db} {args:?}");
            }
        }
        for key in ["l", "s", "z", "h", "n"] {
            let ttl = raw.cmd(&["TTL", key]).await;
            assert!(
                ttl == b":1000\r\n" || ttl == b":999\r\n",
                "db {db} {key}: {}",
                common::show(&ttl)
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_moves_and_copies_between_databases() {
    let server = TestServer::start().await;
    every_type_between_databases(&server).await;
    if let Some(db) = TestDb::create().await {
        every_type_between_databases(&db.server().await).await;
    }
}
