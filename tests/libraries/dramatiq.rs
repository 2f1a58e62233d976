//! Dramatiq with its RedisBroker (every queue operation is its Lua
//! dispatch script, the maintenance branch on every call here) and the
//! Results middleware with RedisBackend: a real worker process (`dramatiq
//! dramatiq_app --processes 1 --threads 2`) against the server;
//! py/dramatiq_client.py sends messages and reads the results back (one
//! message, a failure into the dead-letter queue, a retry, a delayed
//! message, a group with a completion callback, a pipeline, 50 at once).
//! And a worker killed (SIGKILL) while it holds a message: another worker
//! requeues it once the dead one's heartbeat is old, and runs it.

use std::time::Duration;

use crate::harness::*;

#[tokio::test]
async fn dramatiq_worker_and_results_on_sqlite() {
    dramatiq(Store::Sqlite).await;
}

#[tokio::test]
async fn dramatiq_worker_and_results_on_mariadb() {
    dramatiq(Store::MariaDb).await;
}

/// `dramatiq dramatiq_app --processes 1 --threads 2`, once ready.
async fn worker(target: &Target, name: &str, env: &[(&str, &str)]) -> Proc {
    let mut worker = target.spawn_python_env(
        name,
        &[
            "-m",
            "dramatiq",
            "dramatiq_app",
            "--processes",
            "1",
            "--threads",
            "2",
        ],
        env,
    );
    worker
        .wait_for_output(
            "Worker process is ready for action.",
            Duration::from_secs(90),
        )
        .await;
    worker
}

async fn dramatiq(store: Store) {
    if !python_has(&[("redis", "redis"), ("dramatiq", "dramatiq")]) {
        return;
    }
    let Some(target) = Target::start(store).await else {
        return;
    };
    let _worker = worker(&target, "dramatiq worker", &[]).await;
    let out = target
        .run_python("dramatiq_client.py", Duration::from_secs(180))
        .await;
    assert_saw(
        "dramatiq_client.py",
        &out,
        &[
            "add.send(2, 3) result 5",
            "a failing actor: ResultFailure(ValueError: boom)",
            "the failed message is in the dead-letter queue (1)",
            "a retried actor succeeded on attempt 2",
            "delayed 500 ms: 42",
            "group of 10: [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]; completion callback ran",
            "pipeline add(1,2) | add(10) | add(100) = 113",
            "50 messages: all results back",
        ],
    );
    target.report("Dramatiq");
}

#[tokio::test]
async fn dramatiq_requeues_a_killed_workers_message_on_sqlite() {
    if !python_has(&[("redis", "redis"), ("dramatiq", "dramatiq")]) {
        return;
    }
    let Some(target) = Target::start(Store::Sqlite).await else {
        return;
    };
    // A worker whose heartbeat is 2 s old counts as dead.
    let env = [("LIBTEST_DRAMATIQ_HEARTBEAT_MS", "2000")];
    let mut first = worker(&target, "dramatiq worker 1", &env).await;
    let sent = target
        .run_python_args(
            "dramatiq_crash.py",
            &["send"],
            &env,
            Duration::from_secs(60),
        )
        .await;
    assert_saw(
        "dramatiq_crash.py send",
        &sent,
        &["a worker started the message (attempt 1) and holds it"],
    );
    let message = sent
        .lines()
        .find(|l| l.starts_with('{'))
        .expect("the encoded message")
        .to_string();
    first.kill();
    let _second = worker(&target, "dramatiq worker 2", &env).await;
    let out = target
        .run_python_args(
            "dramatiq_crash.py",
            &["collect", &message],
            &env,
            Duration::from_secs(90),
        )
        .await;
    assert_saw(
        "dramatiq_crash.py collect",
        &out,
        &["after the kill another worker ran it: attempt 2"],
    );
    target.report("Dramatiq, a killed worker's message");
}
