//! The sequenced event log as read-only Redis streams: `__events@<db>__`
//! and its filtered views `__events@<db>__:<glob>`, read with XRANGE,
//! XREVRANGE, XREAD (COUNT, BLOCK, `$`), XLEN and XINFO, on the embedded
//! store and (when it runs) on MariaDB, one instance or two on one
//! database.

use crate::common;

use std::time::{Duration, Instant};

use crate::common::{Raw, TestDb, TestServer, show};
use redis::Value;

/// How long a test waits for events to be sequenced.
const SETTLE: Duration = Duration::from_secs(10);

/// One entry as the tests look at it: id, key, event, class.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    id: String,
    key: String,
    event: String,
    class: String,
}

impl Entry {
    fn id(&self) -> (u64, u64) {
        parse_id(&self.id)
    }
}

fn parse_id(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').expect("an id has a dash");
    (ms.parse().unwrap(), seq.parse().unwrap())
}

fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Okay => "OK".into(),
        Value::Int(n) => n.to_string(),
        other => panic!("not a string: {other:?}"),
    }
}

fn entry(v: &Value) -> Entry {
    let Value::Array(parts) = v else {
        panic!("not an entry: {v:?}")
    };
    let Value::Array(fields) = &parts[1] else {
        panic!("entry without fields: {v:?}")
    };
    let fields: Vec<String> = fields.iter().map(text).collect();
    assert_eq!(fields.len(), 6, "{fields:?}");
    assert_eq!(
        [&fields[0], &fields[2], &fields[4]],
        ["key", "event", "class"]
    );
    Entry {
        id: text(&parts[0]),
        key: fields[1].clone(),
        event: fields[3].clone(),
        class: fields[5].clone(),
    }
}

fn entries(v: &Value) -> Vec<Entry> {
    match v {
        Value::Array(items) => items.iter().map(entry).collect(),
        Value::Nil => Vec::new(),
        other => panic!("not a list of entries: {other:?}"),
    }
}

/// XREAD's reply as (stream, entries), RESP2 or RESP3; empty for nil.
fn streams(v: &Value) -> Vec<(String, Vec<Entry>)> {
    match v {
        Value::Nil => Vec::new(),
        Value::Array(items) => items
            .iter()
            .map(|s| match s {
                Value::Array(pair) => (text(&pair[0]), entries(&pair[1])),
                other => panic!("not a stream: {other:?}"),
            })
            .collect(),
        Value::Map(pairs) => pairs.iter().map(|(k, e)| (text(k), entries(e))).collect(),
        other => panic!("not an XREAD reply: {other:?}"),
    }
}

/// A raw connection answering parsed values (errors as `Err(text)`).
struct Conn {
    raw: Raw,
}

impl Conn {
    async fn open(server: &TestServer) -> Conn {
        Conn {
            raw: Raw::connect(server.addr).await,
        }
    }

    async fn call(&mut self, args: &[&str]) -> Result<Value, String> {
        let frame = self.raw.cmd(args).await;
        decode(&frame)
    }

    async fn ok(&mut self, args: &[&str]) -> Value {
        self.call(args)
            .await
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    async fn error(&mut self, args: &[&str]) -> String {
        match self.call(args).await {
            Err(e) => e,
            Ok(v) => panic!("{args:?} answered {v:?}, not an error"),
        }
    }

    async fn int(&mut self, args: &[&str]) -> i64 {
        match self.ok(args).await {
            Value::Int(n) => n,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    async fn range(&mut self, args: &[&str]) -> Vec<Entry> {
        entries(&self.ok(args).await)
    }

    /// Waits until `stream` holds at least `n` entries.
    async fn wait_len(&mut self, stream: &str, n: i64) {
        let deadline = Instant::now() + SETTLE;
        loop {
            let len = self.int(&["XLEN", stream]).await;
            if len >= n {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{stream} has {len} entries, not {n}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn decode(frame: &[u8]) -> Result<Value, String> {
    if frame.first() == Some(&b'-') {
        return Err(String::from_utf8_lossy(&frame[1..frame.len() - 2]).into_owned());
    }
    redis::parse_redis_value(frame).map_err(|e| format!("unparsable {}: {e}", show(frame)))
}

/// The servers a scenario runs on: the embedded store, then MariaDB when
/// it answers (skipping loudly otherwise).
async fn on_each_store<F, Fut>(scenario: F)
where
    F: Fn(TestServer) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    eprintln!("-- on SQLite");
    scenario(TestServer::start().await).await;
    if let Some(db) = TestDb::create().await {
        eprintln!("-- on MariaDB");
        scenario(db.server().await).await;
    }
}

fn assert_increasing(entries: &[Entry]) {
    for pair in entries.windows(2) {
        assert!(pair[0].id() < pair[1].id(), "ids out of order: {pair:?}");
    }
}

fn events(entries: &[Entry]) -> Vec<(&str, &str, &str)> {
    entries
        .iter()
        .map(|e| (e.key.as_str(), e.event.as_str(), e.class.as_str()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_appear_in_order_with_sequenced_ids() {
    on_each_store(|server| async move {
        let mut c = Conn::open(&server).await;
        assert_eq!(c.int(&["XLEN", "__events@0__"]).await, 0);
        c.ok(&["SET", "a", "1"]).await;
        c.ok(&["HSET", "h", "f", "v"]).await;
        c.ok(&["EXPIRE", "h", "100"]).await;
        c.ok(&["DEL", "a"]).await;
        c.ok(&["SELECT", "1"]).await;
        c.ok(&["SET", "other", "x"]).await;
        // Any database's stream, from any selected database.
        c.wait_len("__events@1__", 2).await;
        c.ok(&["SELECT", "0"]).await;
        c.wait_len("__events@0__", 6).await;
        let all = c.range(&["XRANGE", "__events@0__", "-", "+"]).await;
        assert_eq!(
            events(&all),
            [
                ("a", "new", "n"),
                ("a", "set", "$"),
                ("h", "new", "n"),
                ("h", "hset", "h"),
                ("h", "expire", "g"),
                ("a", "del", "g"),
            ]
        );
        assert_increasing(&all);
        for e in &all {
            let (ms, _) = e.id();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as u64;
            assert!(ms > now - 60_000 && ms <= now + 1000, "{e:?}");
        }
        let db1 = c.range(&["XRANGE", "__events@1__", "-", "+"]).await;
        assert_eq!(events(&db1), [("other", "new", "n"), ("other", "set", "$")]);
        // The sequence is global: db 1's entries come after db 0's.
        assert!(db1[0].id() > all[5].id());

        let mut rev = c.range(&["XREVRANGE", "__events@0__", "+", "-"]).await;
        rev.reverse();
        assert_eq!(rev, all);
        let two = c
            .range(&["XRANGE", "__events@0__", "-", "+", "COUNT", "2"])
            .await;
        assert_eq!(two, all[..2]);
        // Exclusive and incomplete ids, as in Redis.
        let after = format!("({}", all[1].id);
        assert_eq!(
            c.range(&["XRANGE", "__events@0__", &after, "+"]).await,
            all[2..]
        );
        let (ms, _) = all[0].id();
        let only_ms = c
            .range(&["XRANGE", "__events@0__", &ms.to_string(), &ms.to_string()])
            .await;
        assert!(only_ms.iter().all(|e| e.id().0 == ms) && !only_ms.is_empty());
        assert_eq!(
            c.call(&["XRANGE", "__events@0__", "-", "+", "COUNT", "0"])
                .await,
            Ok(Value::Nil)
        );
        assert_eq!(
            c.range(&["XRANGE", "__events@0__", "+", "-"]).await,
            Vec::<Entry>::new()
        );

        // XINFO STREAM: Redis 7.0's fields, in its order.
        let info = c.ok(&["XINFO", "STREAM", "__events@0__"]).await;
        let Value::Array(fields) = &info else {
            panic!("{info:?}")
        };
        let names: Vec<String> = fields.iter().step_by(2).map(text).collect();
        assert_eq!(
            names,
            [
                "length",
                "radix-tree-keys",
                "radix-tree-nodes",
                "last-generated-id",
                "max-deleted-entry-id",
                "entries-added",
                "recorded-first-entry-id",
                "groups",
                "first-entry",
                "last-entry"
            ]
        );
        assert_eq!(fields[1], Value::Int(6));
        assert_eq!(text(&fields[7]), all[5].id);
        assert_eq!(text(&fields[9]), "0-0");
        assert_eq!(fields[11], Value::Int(6));
        assert_eq!(text(&fields[13]), all[0].id);
        assert_eq!(entry(&fields[17]), all[0]);
        assert_eq!(entry(&fields[19]), all[5]);
        let full = c
            .ok(&["XINFO", "STREAM", "__events@0__", "FULL", "COUNT", "2"])
            .await;
        let Value::Array(fields) = &full else {
            panic!("{full:?}")
        };
        assert_eq!(text(&fields[14]), "entries");
        assert_eq!(entries(&fields[15]), all[..2]);
        assert_eq!(
            c.ok(&["XINFO", "GROUPS", "__events@0__"]).await,
            Value::Array(vec![])
        );
        assert_eq!(
            c.error(&["XINFO", "CONSUMERS", "__events@0__", "g"]).await,
            "NOGROUP No such consumer group 'g' for key name '__events@0__'"
        );
        // Reading generates no events.
        assert_eq!(c.int(&["XLEN", "__events@0__"]).await, 6);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_resumes_after_a_disconnect_with_each_missed_event_once() {
    on_each_store(|server| async move {
        let mut w = Conn::open(&server).await;
        // A reader follows from `$`, gets one event, disconnects.
        let mut r = Conn::open(&server).await;
        r.raw
            .send(&common::encode(&[
                b"XREAD",
                b"BLOCK",
                b"0",
                b"STREAMS",
                b"__events@0__",
                b"$",
            ]))
            .await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        w.ok(&["SET", "k", "0"]).await;
        let first = streams(&decode(&r.raw.read_frame().await).unwrap());
        assert_eq!(first.len(), 1);
        assert_eq!(events(&first[0].1)[0], ("k", "new", "n"));
        // `$` was fixed at the call: both events of the SET may have come.
        let mut last = first[0].1.last().unwrap().id.clone();
        let mut seen = first[0].1.clone();
        drop(r);

        // Writes it misses.
        for i in 1..=20 {
            w.ok(&["SET", "k", &i.to_string()]).await;
        }
        w.wait_len("__events@0__", 22).await;

        // It reconnects (here or elsewhere) and resumes from its last id.
        let mut r = Conn::open(&server).await;
        loop {
            let got = streams(
                &r.ok(&[
                    "XREAD",
                    "COUNT",
                    "7",
                    "BLOCK",
                    "0",
                    "STREAMS",
                    "__events@0__",
                    &last,
                ])
                .await,
            );
            let batch = &got[0].1;
            assert!(batch.len() <= 7);
            seen.extend(batch.iter().cloned());
            last = batch.last().unwrap().id.clone();
            if seen.len() == 22 {
                break;
            }
        }
        assert_increasing(&seen);
        let mut expected = vec![("k", "new", "n"), ("k", "set", "$")];
        expected.extend(std::iter::repeat_n(("k", "set", "$"), 20));
        assert_eq!(events(&seen), expected);
        assert_eq!(
            seen,
            w.range(&["XRANGE", "__events@0__", "-", "+"]).await,
            "each event exactly once, in order"
        );

        // Then it follows live: a blocked XREAD wakes promptly.
        r.raw
            .send(&common::encode(&[
                b"XREAD",
                b"BLOCK",
                b"0",
                b"STREAMS",
                b"__events@0__",
                last.as_bytes(),
            ]))
            .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let sent = Instant::now();
        w.ok(&["DEL", "k"]).await;
        let live = streams(&decode(&r.raw.read_frame().await).unwrap());
        let waited = sent.elapsed();
        assert_eq!(events(&live[0].1), [("k", "del", "g")]);
        eprintln!("blocked XREAD woke {waited:?} after the write was sent");
        assert!(
            waited < Duration::from_millis(700),
            "woke after {waited:?}: the tip, not the 1 s fallback, should wake it"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_database_answer_identical_ids() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let (a, b) = (db.server().await, db.server().await);
    let mut ca = Conn::open(&a).await;
    let mut cb = Conn::open(&b).await;
    // A reader on B blocks on a filtered view; the writes go to A.
    let mut reader = Conn::open(&b).await;
    reader
        .raw
        .send(&common::encode(&[
            b"XREAD",
            b"BLOCK",
            b"0",
            b"STREAMS",
            b"__events@0__:dev:b:*",
            b"$",
        ]))
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    for i in 0..10 {
        let (c, key) = if i % 2 == 0 {
            (&mut ca, format!("dev:a:{i}"))
        } else {
            (&mut cb, format!("dev:b:{i}"))
        };
        c.ok(&["SET", &key, "v"]).await;
    }
    let woke = streams(&decode(&reader.raw.read_frame().await).unwrap());
    assert_eq!(woke[0].0, "__events@0__:dev:b:*");
    assert!(woke[0].1.iter().all(|e| e.key.starts_with("dev:b:")));
    ca.wait_len("__events@0__", 20).await;
    cb.wait_len("__events@0__", 20).await;
    let on_a = ca.range(&["XRANGE", "__events@0__", "-", "+"]).await;
    let on_b = cb.range(&["XRANGE", "__events@0__", "-", "+"]).await;
    assert_eq!(on_a.len(), 20);
    assert_eq!(on_a, on_b, "the same entries under the same ids");
    assert_increasing(&on_a);
    // A client resumes on the other instance from an id it got here.
    let mid = &on_a[9].id;
    let rest = streams(
        &cb.ok(&["XREAD", "STREAMS", "__events@0__", mid.as_str()])
            .await,
    );
    assert_eq!(rest[0].1, on_a[10..]);
    assert_eq!(
        ca.ok(&["XINFO", "STREAM", "__events@0__"]).await,
        cb.ok(&["XINFO", "STREAM", "__events@0__"]).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filtered_view_holds_the_matching_keys() {
    on_each_store(|server| async move {
        let mut c = Conn::open(&server).await;
        c.ok(&["SET", "dev:1:a", "v"]).await;
        c.ok(&["SET", "dev:2:a", "v"]).await;
        c.ok(&["HSET", "dev:1:b", "f", "v"]).await;
        c.ok(&["DEL", "dev:2:a"]).await;
        c.wait_len("__events@0__", 7).await;
        let view = "__events@0__:dev:1:*";
        let mine = c.range(&["XRANGE", view, "-", "+"]).await;
        assert_eq!(
            events(&mine),
            [
                ("dev:1:a", "new", "n"),
                ("dev:1:a", "set", "$"),
                ("dev:1:b", "new", "n"),
                ("dev:1:b", "hset", "h"),
            ]
        );
        let all = c.range(&["XRANGE", "__events@0__", "-", "+"]).await;
        assert!(mine.iter().all(|e| all.contains(e)), "the stream's own ids");
        let mut rev = c.range(&["XREVRANGE", view, "+", "-", "COUNT", "3"]).await;
        rev.reverse();
        assert_eq!(rev, mine[1..]);
        // XREAD, with several streams at once, mixing in ordinary keys.
        let got = streams(
            &c.ok(&[
                "XREAD",
                "COUNT",
                "1",
                "STREAMS",
                view,
                "no-such-key",
                "__events@0__:dev:2:*",
                &mine[0].id,
                "0",
                "0",
            ])
            .await,
        );
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].0.as_str(), &got[0].1[..]), (view, &mine[1..2]));
        assert_eq!(got[1].0, "__events@0__:dev:2:*");
        assert_eq!(events(&got[1].1), [("dev:2:a", "new", "n")]);
        // The counters are the stream's.
        assert_eq!(c.int(&["XLEN", view]).await, 7);
        let info = c.ok(&["XINFO", "STREAM", view]).await;
        let Value::Array(fields) = &info else {
            panic!("{info:?}")
        };
        assert_eq!(fields[1], Value::Int(7));
        assert_eq!(text(&fields[7]), all[6].id);
        assert_eq!(entry(&fields[17]), mine[0]);
        assert_eq!(entry(&fields[19]), mine[3]);
        let none = "__events@0__:nothing*";
        let info = c.ok(&["XINFO", "STREAM", none]).await;
        let Value::Array(fields) = &info else {
            panic!("{info:?}")
        };
        assert_eq!((&fields[17], &fields[19]), (&Value::Nil, &Value::Nil));
        assert_eq!(
            c.call(&["XREAD", "STREAMS", none, "0"]).await,
            Ok(Value::Nil)
        );
    })
    .await;
}

/// `MSET` of `n` new keys: `2 n` events in one command.
async fn mset_new(c: &mut Conn, prefix: &str, n: usize) {
    let keys: Vec<String> = (0..n).map(|i| format!("{prefix}{i}")).collect();
    let mut args = vec!["MSET"];
    for k in &keys {
        args.push(k);
        args.push("v");
    }
    c.ok(&args).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sparse_view_is_scanned_in_bounded_slices_never_twice() {
    let server = TestServer::start().await;
    let mut c = Conn::open(&server).await;
    // One match, 12,000 other entries, another match.
    c.ok(&["SET", "match:1", "v"]).await;
    mset_new(&mut c, "noise:", 6_000).await;
    c.ok(&["SET", "match:2", "v"]).await;
    c.wait_len("__events@0__", 12_004).await;
    let view = "__events@0__:match:*";
    let all = c
        .range(&["XRANGE", "__events@0__", "-", "+", "COUNT", "5"])
        .await;

    // XRANGE: what matched within the 10,000 examined (a correct prefix:
    // iterating from its last id misses nothing) ...
    let first = c.range(&["XRANGE", view, "-", "+"]).await;
    assert_eq!(
        events(&first),
        [("match:1", "new", "n"), ("match:1", "set", "$")]
    );
    // ... and when nothing matched within them, an error that says where
    // the scan stopped, never an empty reply claiming the range is empty.
    let from = format!("({}", first[1].id);
    let e = c.error(&["XRANGE", view, &from, "+"]).await;
    assert!(
        e.starts_with("ERR no entry of __events@0__:match:* among the 10000 entries examined"),
        "{e}"
    );
    let stopped = e
        .split("continue from (")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    let next = c
        .range(&["XRANGE", view, &format!("({stopped}"), "+"])
        .await;
    assert_eq!(
        events(&next),
        [("match:2", "new", "n"), ("match:2", "set", "$")]
    );
    // The whole stream is never limited by a filter: at most 10,000
    // entries per reply, from the start.
    let capped = c.range(&["XRANGE", "__events@0__", "-", "+"]).await;
    assert_eq!(capped.len(), 10_000);
    assert_eq!(capped[..5], all[..]);

    // XREAD polls: the first spends its budget and answers nil; the next,
    // from the same id, starts where it stopped (remembered per instance).
    let after = &first[1].id;
    assert_eq!(
        c.call(&["XREAD", "STREAMS", view, after]).await,
        Ok(Value::Nil)
    );
    let got = streams(&c.ok(&["XREAD", "STREAMS", view, after]).await);
    assert_eq!(got[0].1, next);
    // Without the memory (another pattern), the first poll is fruitless.
    assert_eq!(
        c.call(&["XREAD", "STREAMS", "__events@0__:match:?", after])
            .await,
        Ok(Value::Nil)
    );

    // A blocked XREAD goes on slice after slice by itself.
    let view2 = "__events@0__:match:2";
    let got = streams(&c.ok(&["XREAD", "BLOCK", "0", "STREAMS", view2, "0"]).await);
    assert_eq!(got[0].1, next);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_to_an_event_stream_are_refused_and_log_nothing() {
    on_each_store(|server| async move {
        let mut c = Conn::open(&server).await;
        c.ok(&["SET", "plain", "v"]).await;
        c.wait_len("__events@0__", 2).await;
        let ro = "ERR __events@0__ is a read-only stream of keyspace events";
        for cmd in [
            &["XADD", "__events@0__", "*", "a", "b"][..],
            &["XTRIM", "__events@0__", "MAXLEN", "0"],
            &["XDEL", "__events@0__", "1-1"],
            &["XSETID", "__events@0__", "1-1"],
            &["XGROUP", "CREATE", "__events@0__", "g", "$"],
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "c",
                "STREAMS",
                "__events@0__",
                ">",
            ],
            &["SET", "__events@0__", "v"],
            &["DEL", "plain", "__events@0__"],
            &["UNLINK", "__events@0__"],
            &["EXPIRE", "__events@0__", "10"],
            &["PERSIST", "__events@0__"],
            &["HSET", "__events@0__", "f", "v"],
            &["MSET", "a", "1", "__events@0__", "2"],
            &["RENAME", "__events@0__", "x"],
            &["INCR", "__events@0__"],
            &["APPEND", "__events@0__", "x"],
        ] {
            assert_eq!(c.error(cmd).await, ro, "{cmd:?}");
        }
        assert_eq!(
            c.error(&["RENAME", "plain", "__events@0__:x*"]).await,
            "ERR __events@0__:x* is a read-only stream of keyspace events"
        );
        // Even names under the prefix that name no stream.
        assert_eq!(
            c.error(&["SET", "__events@x", "v"]).await,
            "ERR __events@x is a read-only stream of keyspace events"
        );
        // In MULTI the refusal is the command's reply; the rest applies.
        c.ok(&["MULTI"]).await;
        c.ok(&["SET", "__events@0__", "v"]).await;
        c.ok(&["SET", "plain", "w"]).await;
        let exec = c.ok(&["EXEC"]).await;
        let Value::Array(replies) = exec else {
            panic!("{exec:?}")
        };
        assert!(matches!(&replies[0], Value::ServerError(_)), "{replies:?}");
        assert_eq!(replies[1], Value::Okay);
        // Nothing was written but `plain` (one `set`); reads logged nothing.
        c.wait_len("__events@0__", 3).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(c.int(&["XLEN", "__events@0__"]).await, 3);
        assert_eq!(c.int(&["EXISTS", "a"]).await, 0);
        // Stream commands on ordinary keys.
        assert_eq!(text(&c.ok(&["XADD", "s", "1-1", "a", "b"]).await), "1-1");
        assert_eq!(
            c.error(&["XADD", "plain", "*", "a", "b"]).await,
            "WRONGTYPE Operation against a key holding the wrong kind of value"
        );
        assert_eq!(
            c.error(&["XPENDING", "__events@0__", "g"]).await,
            "NOGROUP No such key '__events@0__' or consumer group 'g'"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_streams_exist_as_streams_but_are_never_listed() {
    let server = TestServer::start().await;
    let mut c = Conn::open(&server).await;
    c.ok(&["SET", "k", "v"]).await;
    for name in ["__events@0__", "__events@15__", "__events@0__:k*"] {
        assert_eq!(text(&c.ok(&["TYPE", name]).await), "stream", "{name}");
        assert_eq!(c.int(&["TTL", name]).await, -1);
    }
    assert_eq!(
        c.int(&["EXISTS", "__events@0__", "__events@3__:x", "k", "nope"])
            .await,
        3
    );
    for name in ["__events@16__", "__events@x__", "__events@01__"] {
        assert_eq!(text(&c.ok(&["TYPE", name]).await), "none", "{name}");
    }
    let wrongtype = "WRONGTYPE Operation against a key holding the wrong kind of value";
    assert_eq!(c.error(&["GET", "__events@0__"]).await, wrongtype);
    assert_eq!(c.error(&["HGETALL", "__events@0__"]).await, wrongtype);
    assert_eq!(c.error(&["STRLEN", "__events@0__"]).await, wrongtype);
    let keys = c.ok(&["KEYS", "*"]).await;
    assert_eq!(keys, Value::Array(vec![Value::BulkString(b"k".to_vec())]));
    let scan = c.ok(&["SCAN", "0", "COUNT", "1000"]).await;
    assert_eq!(
        scan,
        Value::Array(vec![
            Value::BulkString(b"0".to_vec()),
            Value::Array(vec![Value::BulkString(b"k".to_vec())])
        ])
    );
    assert_eq!(
        c.ok(&["SCAN", "0", "TYPE", "stream"]).await,
        Value::Array(vec![Value::BulkString(b"0".to_vec()), Value::Array(vec![])])
    );
    for _ in 0..20 {
        assert_eq!(text(&c.ok(&["RANDOMKEY"]).await), "k");
    }
    assert_eq!(c.int(&["DBSIZE"]).await, 1);
    // Out of range and malformed names are errors for the stream commands.
    assert_eq!(
        c.error(&["XLEN", "__events@16__"]).await,
        "ERR invalid event stream '__events@16__': DB index is out of range"
    );
    assert_eq!(
        c.error(&["XRANGE", "__events@zz__", "-", "+"]).await,
        "ERR invalid event stream '__events@zz__': expected __events@<db>__ or __events@<db>__:<pattern>"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trimmed_history_shows_in_xinfo() {
    let scenario = |server: TestServer| async move {
        let mut c = Conn::open(&server).await;
        c.ok(&["SET", "old", "v"]).await;
        c.wait_len("__events@0__", 2).await;
        let old = c.range(&["XRANGE", "__events@0__", "-", "+"]).await;
        // Older than the retention (3 s) by the time it is trimmed.
        tokio::time::sleep(Duration::from_millis(3_300)).await;
        c.ok(&["SET", "new", "v"]).await;
        let deadline = Instant::now() + Duration::from_secs(8);
        let fields = loop {
            let info = c.ok(&["XINFO", "STREAM", "__events@0__"]).await;
            let Value::Array(fields) = info else {
                panic!("{info:?}")
            };
            // Trimmed, and the new write sequenced.
            if text(&fields[9]) != "0-0" && fields[11] == Value::Int(4) {
                break fields;
            }
            assert!(Instant::now() < deadline, "nothing was trimmed");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        // A client whose last id is at or before max-deleted-entry-id knows
        // it missed trimmed events.
        assert_eq!(text(&fields[9]), old[1].id, "max-deleted-entry-id");
        assert_eq!(fields[1], Value::Int(2), "length");
        assert_eq!(fields[11], Value::Int(4), "entries-added");
        let first = entry(&fields[17]);
        assert_eq!(first.key, "new");
        assert!(first.id() > old[1].id());
        assert_eq!(text(&fields[13]), first.id, "recorded-first-entry-id");
        assert_eq!(
            c.range(&["XRANGE", "__events@0__", "-", "+"]).await[0],
            first
        );
        assert_eq!(c.int(&["XLEN", "__events@0__"]).await, 2);
        // Resuming from a trimmed id gets what is left.
        let got = streams(
            &c.ok(&["XREAD", "STREAMS", "__events@0__", &old[0].id])
                .await,
        );
        assert_eq!(got[0].1[0], first);
    };
    scenario(TestServer::start_with(|c| c.event_retention = 3).await).await;
    if let Some(db) = TestDb::create().await {
        let url = db.url.clone();
        let server = TestServer::start_with(|c| {
            c.database_url = Some(url);
            c.event_retention = 3;
        })
        .await;
        server.wait_store_ready().await;
        scenario(server).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resp3_replies() {
    let server = TestServer::start().await;
    let mut c = Conn::open(&server).await;
    c.ok(&["HELLO", "3"]).await;
    c.ok(&["SET", "k", "v"]).await;
    c.wait_len("__events@0__", 2).await;
    let frame = c
        .raw
        .cmd(&["XREAD", "STREAMS", "__events@0__", "no-key", "0", "0"])
        .await;
    assert!(
        frame.starts_with(b"%1\r\n$12\r\n__events@0__\r\n*2\r\n*2\r\n"),
        "{}",
        show(&frame)
    );
    let got = streams(&decode(&frame).unwrap());
    assert_eq!(events(&got[0].1), [("k", "new", "n"), ("k", "set", "$")]);
    assert_eq!(
        c.raw.cmd(&["XREAD", "STREAMS", "__events@0__", "$"]).await,
        b"_\r\n"
    );
    assert_eq!(
        c.raw
            .cmd(&["XREAD", "BLOCK", "10", "STREAMS", "__events@0__", "$"])
            .await,
        b"_\r\n"
    );
    let info = c.raw.cmd(&["XINFO", "STREAM", "__events@0__:x"]).await;
    assert!(
        info.starts_with(b"%10\r\n$6\r\nlength\r\n:2\r\n"),
        "{}",
        show(&info)
    );
    assert!(
        info.ends_with(b"$11\r\nfirst-entry\r\n_\r\n$10\r\nlast-entry\r\n_\r\n"),
        "{}",
        show(&info)
    );
    assert_eq!(
        c.raw
            .cmd(&["XRANGE", "__events@0__", "-", "+", "COUNT", "0"])
            .await,
        b"_\r\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_xread_ends_as_redis_says() {
    let server = TestServer::start().await;
    let mut c = Conn::open(&server).await;
    // The timeout: RESP2's null array.
    let start = Instant::now();
    assert_eq!(
        c.raw
            .cmd(&["XREAD", "BLOCK", "150", "STREAMS", "__events@0__", "$"])
            .await,
        b"*-1\r\n"
    );
    assert!(start.elapsed() >= Duration::from_millis(150));
    assert_eq!(
        c.error(&["XREAD", "BLOCK", "-1", "STREAMS", "__events@0__", "$"])
            .await,
        "ERR timeout is negative"
    );
    // Inside MULTI, BLOCK does not block.
    c.ok(&["MULTI"]).await;
    c.ok(&["XREAD", "BLOCK", "0", "STREAMS", "__events@0__", "$"])
        .await;
    assert_eq!(c.raw.cmd(&["EXEC"]).await, b"*1\r\n*-1\r\n");
    // A blocked connection does not hold up the others.
    let mut blocked = Conn::open(&server).await;
    blocked
        .raw
        .send(&common::encode(&[
            b"XREAD",
            b"BLOCK",
            b"0",
            b"STREAMS",
            b"__events@0__:none",
            b"$",
        ]))
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    c.ok(&["PING"]).await;
    let clients = |list: Value| text(&list).lines().count();
    assert_eq!(clients(c.ok(&["CLIENT", "LIST"]).await), 2);
    // When its client goes, the wait ends.
    drop(blocked);
    let deadline = Instant::now() + Duration::from_secs(3);
    while clients(c.ok(&["CLIENT", "LIST"]).await) != 1 {
        assert!(Instant::now() < deadline, "the blocked connection lingers");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Shutdown ends a wait too.
    let mut blocked = Conn::open(&server).await;
    blocked
        .raw
        .send(&common::encode(&[
            b"XREAD",
            b"BLOCK",
            b"0",
            b"STREAMS",
            b"__events@0__",
            b"$",
        ]))
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stopping = Instant::now();
    server.stop().await;
    assert!(stopping.elapsed() < Duration::from_secs(5));
}

/// The elements of the aggregate frame `frame`.
fn items(frame: &[u8]) -> Vec<&[u8]> {
    let header = frame.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
    let n: usize = std::str::from_utf8(&frame[1..header - 2])
        .unwrap()
        .parse()
        .unwrap();
    let mut out = Vec::with_capacity(n);
    let mut at = header;
    for _ in 0..n {
        let len = common::frame_len(&frame[at..]).unwrap();
        out.push(&frame[at..at + len]);
        at += len;
    }
    out
}

/// One COMMAND INFO row, shown exactly, except that its subcommands are
/// sorted (Redis lists them in its hash table's order).
fn info_row(reply: &[u8]) -> Vec<String> {
    let row = items(reply)[0];
    let fields = items(row);
    let mut out: Vec<String> = fields[..9].iter().map(|f| show(f)).collect();
    let subs = fields[9];
    let mut rows: Vec<String> = items(subs).into_iter().map(show).collect();
    rows.sort();
    out.push(show(&subs[..3]));
    out.extend(rows);
    out
}

/// The reference Redis, when it runs, on a database of its own (compat
/// uses 9, ion 10, the benchmark and datacenters 15): keyspace events of
/// one database reach every subscriber of it.
async fn reference() -> Option<Raw> {
    if !common::service_available("reference Redis", common::REFERENCE_REDIS).await {
        return None;
    }
    let mut r = Raw::connect(common::REFERENCE_REDIS).await;
    r.cmd(&["SELECT", "11"]).await;
    Some(r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_info_and_xinfo_fields_match_the_reference() {
    let Some(mut redis) = reference().await else {
        return;
    };
    let server = TestServer::start().await;
    let mut ours = Raw::connect(server.addr).await;
    let names = [
        "xrange",
        "xrevrange",
        "xread",
        "xlen",
        "xinfo",
        "xadd",
        "xtrim",
        "xdel",
        "xsetid",
        "xgroup",
        "xreadgroup",
        "xack",
        "xclaim",
        "xautoclaim",
        "xpending",
    ];
    for resp3 in [false, true] {
        if resp3 {
            ours.cmd(&["HELLO", "3"]).await;
            redis.cmd(&["HELLO", "3"]).await;
        }
        for name in names {
            let q = ["COMMAND", "INFO", name];
            assert_eq!(
                info_row(&ours.cmd(&q).await),
                info_row(&redis.cmd(&q).await),
                "COMMAND INFO {name} (resp3: {resp3})"
            );
        }
        for q in [
            &[
                "COMMAND", "GETKEYS", "XREAD", "COUNT", "1", "STREAMS", "a", "b", "0", "0",
            ][..],
            &["COMMAND", "GETKEYS", "XINFO", "STREAM", "k"],
            &["COMMAND", "GETKEYS", "XRANGE", "k", "-", "+"],
        ] {
            assert_eq!(show(&ours.cmd(q).await), show(&redis.cmd(q).await), "{q:?}");
        }
    }
    redis.cmd(&["HELLO", "2"]).await;
    // XINFO STREAM's shape on a real stream: the same field names in the
    // same order, the same entry layout.
    let key = format!("event-streams-test:{}", common::rand_u64());
    redis
        .cmd(&[
            "XADD", &key, "1-1", "key", "k", "event", "set", "class", "$",
        ])
        .await;
    let theirs = decode(&redis.cmd(&["XINFO", "STREAM", &key]).await).unwrap();
    let theirs_full = decode(&redis.cmd(&["XINFO", "STREAM", &key, "FULL"]).await).unwrap();
    redis.cmd(&["DEL", &key]).await;
    let mut c = Conn { raw: ours };
    c.ok(&["HELLO", "2"]).await;
    c.ok(&["SET", "k", "v"]).await;
    c.wait_len("__events@0__", 2).await;
    let mine = c.ok(&["XINFO", "STREAM", "__events@0__"]).await;
    let mine_full = c.ok(&["XINFO", "STREAM", "__events@0__", "FULL"]).await;
    let names_of = |v: &Value| -> Vec<String> {
        let Value::Array(f) = v else { panic!("{v:?}") };
        f.iter().step_by(2).map(text).collect()
    };
    assert_eq!(names_of(&mine), names_of(&theirs));
    assert_eq!(names_of(&mine_full), names_of(&theirs_full));
    let Value::Array(t) = &theirs else {
        unreachable!()
    };
    let Value::Array(m) = &mine else {
        unreachable!()
    };
    assert_eq!(entry(&t[17]).event, "set");
    entry(&m[17]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_nats_a_blocked_read_wakes_with_the_notifications() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    if !common::service_available("NATS", common::NATS).await {
        return;
    }
    let prefix = format!("xs{:012x}", common::rand_u64() & 0xffff_ffff_ffff);
    let instance = |prefix: String| {
        let url = db.url.clone();
        async move {
            let server = TestServer::start_with(move |c| {
                c.database_url = Some(url);
                c.nats_url = Some(format!("nats://{}", common::NATS));
                c.nats_prefix = prefix;
                c.nats_stream_storage = "memory".into();
            })
            .await;
            server.wait_store_ready().await;
            server
        }
    };
    let (a, b) = (
        instance(prefix.clone()).await,
        instance(prefix.clone()).await,
    );
    let mut ca = Conn::open(&a).await;
    let mut cb = Conn::open(&b).await;
    ca.ok(&["SET", "warmup", "v"]).await;
    cb.wait_len("__events@0__", 2).await;
    let mut reader = Conn::open(&b).await;
    for round in 0..3 {
        let last = cb
            .range(&["XREVRANGE", "__events@0__", "+", "-", "COUNT", "1"])
            .await;
        reader
            .raw
            .send(&common::encode(&[
                b"XREAD",
                b"BLOCK",
                b"0",
                b"STREAMS",
                b"__events@0__",
                last[0].id.as_bytes(),
            ]))
            .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let sent = Instant::now();
        ca.ok(&["SET", "warmup", &round.to_string()]).await;
        let got = streams(&decode(&reader.raw.read_frame().await).unwrap());
        let waited = sent.elapsed();
        eprintln!("over NATS, a blocked XREAD on another instance woke after {waited:?}");
        assert_eq!(events(&got[0].1), [("warmup", "set", "$")]);
        assert!(waited < Duration::from_millis(700), "woke after {waited:?}");
    }
    assert_eq!(
        ca.range(&["XRANGE", "__events@0__", "-", "+"]).await,
        cb.range(&["XRANGE", "__events@0__", "-", "+"]).await
    );
    drop((a, b));
    common::drop_stream(&prefix).await;
}
