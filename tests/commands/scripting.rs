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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_kill_rolls_back_a_script_that_wrote() {
    let server = TestServer::start().await;
    let mut admin = server.client().await;
    let url = server.url();
    let looping = tokio::spawn(async move {
        let mut con = crate::common::connect(&url).await;
        query::<String>(
            &mut con,
            &[
                "EVAL",
                "redis.call('set', KEYS[1], 'written') while true do end",
                "1",
                "k",
            ],
        )
        .await
    });
    kill_when_running(&mut admin, &["SCRIPT", "KILL"]).await;
    let e = looping.await.unwrap().unwrap_err();
    assert!(e.contains("killed"), "{}", e);
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
