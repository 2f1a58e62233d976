//! Scripts on one instance: SCRIPT KILL rolls a script back (nothing of
//! it was committed), a read-only script stops at busy-reply-threshold,
//! hostile scripts (memory, recursion) get an error and the instance
//! keeps serving, and PUBLISH from a script goes out after its commit.

use std::time::Duration;

use crate::common::{TestServer, query};

/// Waits until SCRIPT KILL (or FUNCTION KILL) finds the running script.
async fn kill_when_running(con: &mut redis::aio::MultiplexedConnection, command: &[&str]) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match query::<String>(con, command).await {
            Ok(ok) => {
                assert_eq!(ok, "OK");
                return;
            }
            Err(e) => {
                assert!(e.starts_with("NOTBUSY"), "{}", e);
                assert!(std::time::Instant::now() < deadline, "the script never ran");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Waits until a script runs on the server, as FUNCTION STATS tells: a
/// function shows as its `running_script`, an EVAL script (once past the
/// busy threshold) makes it answer BUSY.
async fn until_running(con: &mut redis::aio::MultiplexedConnection, function: bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let stats = redis::cmd("FUNCTION")
            .arg("STATS")
            .query_async::<redis::Value>(con)
            .await;
        // RESP2: [running_script, value, engines, ...].
        let running = match stats {
            Ok(redis::Value::Array(fields)) => fields.get(1) != Some(&redis::Value::Nil),
            Ok(other) => panic!("FUNCTION STATS answered {other:?}"),
            Err(e) => {
                assert!(!function && e.to_string().contains("BUSY"), "{}", e);
                true
            }
        };
        if running {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "the script never ran");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Runs `EVAL body 1 k` on a connection of its own, kills it with
/// SCRIPT KILL once it runs, and checks it answered the kill and that
/// nothing it wrote to `k` stands.
async fn killed_and_rolled_back(server: &TestServer, body: &str) {
    let mut admin = server.client().await;
    let url = server.url();
    let body = body.to_string();
    let looping = tokio::spawn(async move {
        let mut con = crate::common::connect(&url).await;
        query::<String>(&mut con, &["EVAL", &body, "1", "k"]).await
    });
    kill_when_running(&mut admin, &["SCRIPT", "KILL"]).await;
    let e = looping.await.unwrap().unwrap_err();
    assert!(e.contains("killed"), "{e}");
    let v: Option<String> = query(&mut admin, &["GET", "k"]).await.unwrap();
    assert_eq!(v, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_kill_rolls_back_a_script_that_wrote() {
    let server = TestServer::start().await;
    let mut admin = server.client().await;
    killed_and_rolled_back(
        &server,
        "redis.call('set', KEYS[1], 'written') while true do end",
    )
    .await;
    // Nothing of the killed script stands, and the instance serves on.
    let v: Option<String> = query(&mut admin, &["GET", "k"]).await.unwrap();
    assert_eq!(v, None);
    let n: i64 = query(
        &mut admin,
        &["EVAL", "return redis.call('incr', KEYS[1])", "1", "n"],
    )
    .await
    .unwrap();
    assert_eq!(n, 1);
    let e = query::<String>(&mut admin, &["SCRIPT", "KILL"])
        .await
        .unwrap_err();
    assert!(e.starts_with("NOTBUSY"), "{}", e);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_kill_stops_a_function() {
    let server = TestServer::start().await;
    let mut admin = server.client().await;
    let _: String = query(
        &mut admin,
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=spin\nredis.register_function('spin', function(keys) redis.call('set', keys[1], 'x') while true do end end)",
        ],
    )
    .await
    .unwrap();
    let url = server.url();
    let spinning = tokio::spawn(async move {
        let mut con = crate::common::connect(&url).await;
        query::<String>(&mut con, &["FCALL", "spin", "1", "f"]).await
    });
    kill_when_running(&mut admin, &["FUNCTION", "KILL"]).await;
    let e = spinning.await.unwrap().unwrap_err();
    assert!(e.contains("killed"), "{}", e);
    let v: Option<String> = query(&mut admin, &["GET", "f"]).await.unwrap();
    assert_eq!(v, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_script_stops_at_the_busy_threshold() {
    let server = TestServer::start_with(|c| c.busy_reply_threshold = 200).await;
    let mut con = server.client().await;
    let e = query::<String>(&mut con, &["EVAL_RO", "while true do end", "0"])
        .await
        .unwrap_err();
    assert!(e.contains("busy-reply-threshold"), "{}", e);
    let pong: String = query(&mut con, &["PING"]).await.unwrap();
    assert_eq!(pong, "PONG");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_scripts_get_errors_and_the_instance_serves_on() {
    let server = TestServer::start_with(|c| c.lua_memory_limit = 64 << 20).await;
    let mut con = server.client().await;
    for (script, expect) in [
        (
            "local s = string.rep('x', 1024 * 1024) local t = {} for i = 1, 1000 do t[i] = s .. i end return #t",
            "memory",
        ),
        ("return string.rep('x', 2^40)", ""),
        (
            "local function f(n) return f(n + 1) + 1 end return f(1)",
            "",
        ),
        ("local t = {} while true do t[#t + 1] = {} end", "memory"),
    ] {
        let e = query::<i64>(&mut con, &["EVAL", script, "0"])
            .await
            .unwrap_err();
        assert!(e.contains(expect), "{script}: {}", e);
    }
    // Big but legal work still runs.
    let n: i64 = query(
        &mut con,
        &[
            "EVAL",
            "local t = {} for i = 1, 100000 do t[i] = i end return #t",
            "0",
        ],
    )
    .await
    .unwrap();
    assert_eq!(n, 100000);
    // Binary-safe arguments and replies.
    let bin = "\u{0}\r\n\u{1}x";
    let back: String = query(&mut con, &["EVAL", "return ARGV[1]", "0", bin])
        .await
        .unwrap();
    assert_eq!(back, bin);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_from_a_script_follows_its_commit() {
    let server = TestServer::start().await;
    let mut con = server.client().await;
    let client = redis::Client::open(server.url()).unwrap();
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    pubsub.subscribe("news").await.unwrap();
    let receivers: i64 = query(
        &mut con,
        &[
            "EVAL",
            "redis.call('set', KEYS[1], 'v') return redis.call('publish', 'news', 'hello')",
            "1",
            "k",
        ],
    )
    .await
    .unwrap();
    assert_eq!(receivers, 1);
    use futures::StreamExt;
    let message = tokio::time::timeout(Duration::from_secs(5), pubsub.on_message().next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(message.get_payload::<String>().unwrap(), "hello");
    // A script that fails to commit (a killed one) publishes nothing: its
    // PUBLISH waits for the commit.
    let url = server.url();
    let killed = tokio::spawn(async move {
        let mut c = crate::common::connect(&url).await;
        query::<String>(
            &mut c,
            &[
                "EVAL",
                "redis.call('publish', 'news', 'never') while true do end",
                "0",
            ],
        )
        .await
    });
    kill_when_running(&mut con, &["SCRIPT", "KILL"]).await;
    assert!(killed.await.unwrap().is_err());
    let _: i64 = query(&mut con, &["PUBLISH", "news", "after"])
        .await
        .unwrap();
    let next = tokio::time::timeout(Duration::from_secs(5), pubsub.on_message().next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.get_payload::<String>().unwrap(), "after");
}

/// Sends one command to respire and to the reference; their replies
/// (value or error text, positions included) must be the same. The
/// reply, for what follows.
async fn both(
    ours: &mut redis::aio::MultiplexedConnection,
    redis: &mut redis::aio::MultiplexedConnection,
    args: &[&[u8]],
) -> redis::Value {
    let mut cmd = redis::cmd(std::str::from_utf8(args[0]).unwrap());
    for a in &args[1..] {
        cmd.arg(*a);
    }
    let a: Result<redis::Value, String> = cmd
        .query_async(ours)
        .await
        .map_err(|e| crate::common::err_text(&e));
    let b: Result<redis::Value, String> = cmd
        .query_async(redis)
        .await
        .map_err(|e| crate::common::err_text(&e));
    let shown: Vec<_> = args.iter().map(|a| String::from_utf8_lossy(a)).collect();
    assert_eq!(a, b, "{shown:?}");
    a.unwrap_or(redis::Value::Nil)
}

/// FUNCTION DUMP and RESTORE beside the reference Redis: the same
/// payload bytes for one library, every policy, and every refusal with
/// Redis's text; a payload dumped by Redis restores on respire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_dump_and_restore_as_redis() {
    if !crate::common::service_available("reference Redis", crate::common::REFERENCE_REDIS).await {
        return;
    }
    let _lock = crate::common::reference_lock().await;
    let server = TestServer::start().await;
    let mut ours = server.client().await;
    let mut redis =
        crate::common::connect(&format!("redis://{}", crate::common::REFERENCE_REDIS)).await;
    let lib = |name: &str, f: &str| {
        format!("#!lua name={name}\nredis.register_function('{f}', function() return '{name}' end)")
    };
    let (a, b, c) = (lib("liba", "fa"), lib("libb", "fb"), lib("libc", "fa"));
    both(&mut ours, &mut redis, &[b"FUNCTION", b"FLUSH"]).await;
    both(&mut ours, &mut redis, &[b"FUNCTION", b"LOAD", a.as_bytes()]).await;
    let dump_a = match both(&mut ours, &mut redis, &[b"FUNCTION", b"DUMP"]).await {
        redis::Value::BulkString(b) => b,
        other => panic!("FUNCTION DUMP: {other:?}"),
    };
    for policy in [
        &[][..],
        &[&b"APPEND"[..]],
        &[b"REPLACE"],
        &[b"FLUSH"],
        &[b"BOGUS"],
    ] {
        let mut args: Vec<&[u8]> = vec![b"FUNCTION", b"RESTORE", &dump_a];
        args.extend_from_slice(policy);
        both(&mut ours, &mut redis, &args).await;
    }
    both(
        &mut ours,
        &mut redis,
        &[b"FUNCTION", b"RESTORE", &dump_a, b"FLUSH", b"x"],
    )
    .await;
    both(
        &mut ours,
        &mut redis,
        &[b"FUNCTION", b"RESTORE", b"bad payload"],
    )
    .await;
    let mut corrupt = dump_a.clone();
    corrupt[3] ^= 1;
    both(&mut ours, &mut redis, &[b"FUNCTION", b"RESTORE", &corrupt]).await;
    // A library whose function name another library holds.
    both(&mut ours, &mut redis, &[b"FUNCTION", b"FLUSH"]).await;
    both(&mut ours, &mut redis, &[b"FUNCTION", b"LOAD", c.as_bytes()]).await;
    both(
        &mut ours,
        &mut redis,
        &[b"FUNCTION", b"RESTORE", &dump_a, b"REPLACE"],
    )
    .await;
    both(
        &mut ours,
        &mut redis,
        &[b"FUNCTION", b"RESTORE", &dump_a, b"FLUSH"],
    )
    .await;
    both(&mut ours, &mut redis, &[b"FCALL", b"fa", b"0"]).await;
    // Two libraries dumped by Redis restore here (their order is Redis's
    // hash order, so the bytes are compared one library at a time).
    both(&mut ours, &mut redis, &[b"FUNCTION", b"LOAD", b.as_bytes()]).await;
    let dump_ab: Vec<u8> = query(&mut redis, &["FUNCTION", "DUMP"]).await.unwrap();
    both(
        &mut ours,
        &mut redis,
        &[b"FUNCTION", b"RESTORE", &dump_ab, b"FLUSH"],
    )
    .await;
    both(&mut ours, &mut redis, &[b"FCALL", b"fb", b"0"]).await;
    both(&mut ours, &mut redis, &[b"FUNCTION", b"RESTORE", &dump_ab]).await;
    both(&mut ours, &mut redis, &[b"FUNCTION", b"DELETE", b"liba"]).await;
    both(&mut ours, &mut redis, &[b"FUNCTION", b"DUMP"]).await;
    both(&mut ours, &mut redis, &[b"FUNCTION", b"FLUSH"]).await;
    both(&mut ours, &mut redis, &[b"FUNCTION", b"DUMP"]).await;
}

/// A script that holds its key past busy-reply-threshold: a write to that
/// key waiting for it is answered BUSY (naming SCRIPT KILL, or FUNCTION
/// KILL for a function); after the kill the key serves again, without
/// the script's write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_behind_a_long_script_are_told_busy() {
    let server = TestServer::start_with(|c| c.busy_reply_threshold = 100).await;
    let mut admin = server.client().await;
    let _: String = query(
        &mut admin,
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=spin\nredis.register_function('spin', function(keys) redis.call('set', keys[1], 'x') while true do end end)",
        ],
    )
    .await
    .unwrap();
    let cases: [(&[&str], &str, &str); 2] = [
        (
            &[
                "EVAL",
                "redis.call('set', KEYS[1], 'x') while true do end",
                "1",
                "k",
            ],
            "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
            "SCRIPT",
        ),
        (
            &["FCALL", "spin", "1", "k"],
            "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.",
            "FUNCTION",
        ),
    ];
    for (command, busy, kill) in cases {
        let url = server.url();
        let command: Vec<String> = command.iter().map(|s| s.to_string()).collect();
        let running = tokio::spawn(async move {
            let mut con = crate::common::connect(&url).await;
            let args: Vec<&str> = command.iter().map(String::as_str).collect();
            query::<String>(&mut con, &args).await
        });
        // Once it runs, a write behind it waits for the threshold and is
        // told BUSY.
        until_running(&mut admin, kill == "FUNCTION").await;
        let mut writer = crate::common::connect(&server.url()).await;
        let e = query::<String>(&mut writer, &["SET", "k", "mine"])
            .await
            .unwrap_err();
        assert_eq!(e, busy);
        // Still busy: told at once.
        let e = query::<String>(&mut writer, &["INCR", "k"])
            .await
            .unwrap_err();
        assert_eq!(e, busy);
        // Reads are not held.
        let _: Option<String> = query(&mut writer, &["GET", "k"]).await.unwrap();
        kill_when_running(&mut admin, &[kill, "KILL"]).await;
        let e = running.await.unwrap().unwrap_err();
        assert!(e.contains("killed"), "{}", e);
        let ok: String = query(&mut writer, &["SET", "k", "after"]).await.unwrap();
        assert_eq!(ok, "OK");
        let v: String = query(&mut writer, &["GET", "k"]).await.unwrap();
        assert_eq!(v, "after");
    }
}

/// Libraries as Redis 7.0 loads them, beside the reference: the load
/// environment (only `redis`'s library API), the load timeout, names
/// case-insensitive, shebang parsing, FCALL's checks in Redis's order,
/// and the subcommands' syntax errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libraries_load_as_redis_loads_them() {
    if !crate::common::service_available("reference Redis", crate::common::REFERENCE_REDIS).await {
        return;
    }
    let _lock = crate::common::reference_lock().await;
    let server = TestServer::start().await;
    let mut ours = server.client().await;
    let mut redis =
        crate::common::connect(&format!("redis://{}", crate::common::REFERENCE_REDIS)).await;
    let steps: &[&[&str]] = &[
        &["FUNCTION", "FLUSH"],
        &["FUNCTION", "LOAD", "#!lua name=lib2\nreturn math.random()"],
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=lib2\nreturn redis.call('ping')",
        ],
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=lib2\nreturn redis.setresp(3)",
        ],
        &["FUNCTION", "LOAD", "#!lua name=lib2\nmt = getmetatable(_G)"],
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=lib2\nlocal a = 1\nwhile 1 do a = a + 1 end",
        ],
        &[
            "FUNCTION",
            "LOAD",
            "#! name=test\nredis.register_function('foo', function() return 1 end)",
        ],
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=test foo=bar\nredis.register_function('foo', function() return 1 end)",
        ],
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=\"foo\"\nredis.register_function('foo', function() return 1 end)",
        ],
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=FOO\nredis.register_function('bar', function() return 1 end)",
        ],
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=other\nredis.register_function('FOO', function() return 1 end)",
        ],
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=other\nredis.register_function('bad name', function() return 1 end)",
        ],
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=other\nredis.register_function('x')",
        ],
        &["FCALL", "FOO", "0"],
        &["FCALL", "foo", "bad_arg"],
        &["FCALL", "missing", "bad_arg"],
        &["FCALL", "foo", "3", "a"],
        &["FCALL", "foo", "-1"],
        &["FUNCTION", "DELETE", "FOO"],
        &["FCALL", "foo", "0"],
        &["FUNCTION", "FLUSH", "sync", "extra"],
        &["FUNCTION", "FLUSH", "bad"],
        &["SCRIPT", "FLUSH", "sync", "extra"],
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=lib1\nlocal lib = redis\nlib.register_function('f1', function() lib.redis = redis return 1 end)\nlib.register_function('f2', function() lib.register_function('f3', function() return 1 end) end)",
        ],
        &["FCALL", "f1", "0"],
        &["FCALL", "f2", "0"],
        &["FUNCTION", "FLUSH"],
    ];
    for step in steps {
        let args: Vec<&[u8]> = step.iter().map(|a| a.as_bytes()).collect();
        both(&mut ours, &mut redis, &args).await;
    }
}

/// A script that returns a table nested in itself gets an error, and one
/// that keeps catching the kill with pcall is stopped all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_replies_and_pcall_do_not_outlive_the_script() {
    let server = TestServer::start().await;
    let mut raw = crate::common::Raw::connect(server.addr).await;
    let body = "local a = {}; local b = {a}; a[1] = b; return a";
    raw.send(&crate::common::encode(&[b"EVAL", body.as_bytes(), b"0"]))
        .await;
    // Nested arrays, then Redis's error where the nesting stops.
    let mut expected = b"*1\r\n".repeat(201);
    expected.extend_from_slice(b"-ERR reached lua stack limit\r\n");
    raw.expect(&expected).await;
    assert_eq!(raw.cmd(&["PING"]).await, b"+PONG\r\n");
    killed_and_rolled_back(
        &server,
        "redis.call('set', KEYS[1], 'x') local f = function() while 1 do redis.call('ping') end end while 1 do pcall(f) end",
    )
    .await;
}
