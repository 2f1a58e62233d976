//! Celery with the Redis broker (kombu) and the Redis result backend: a
//! real worker process (`celery -A celery_app worker --pool=solo`) against
//! the server; py/celery_client.py sends tasks and reads the results back
//! (one task, a failure, a group, a chain, a chord, a countdown, a
//! broadcast ping the worker answers).

use std::time::Duration;

use crate::harness::*;

#[tokio::test]
async fn celery_worker_and_results_on_sqlite() {
    celery(Store::Sqlite).await;
}

#[tokio::test]
async fn celery_worker_and_results_on_mariadb() {
    celery(Store::MariaDb).await;
}

async fn celery(store: Store) {
    if !python_has(&[("redis", "redis"), ("celery", "celery")]) {
        return;
    }
    let Some(target) = Target::start(store).await else {
        return;
    };
    let mut worker = target.spawn_python(
        "celery worker",
        &[
            "-m",
            "celery",
            "-A",
            "celery_app",
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            "-n",
            "libtest@%h",
        ],
    );
    // "celery@host ready." once it consumes from the queue.
    worker
        .wait_for_output(" ready.", Duration::from_secs(90))
        .await;
    let out = target
        .run_python("celery_client.py", Duration::from_secs(180))
        .await;
    assert_saw(
        "celery_client.py",
        &out,
        &[
            "add.delay(2, 3).get() = 5",
            "ran on libtest@",
            "a failing task: ValueError(boom)",
            "group of 10: [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]",
            "chain add(1,2) | add(10) | add(100) = 113",
            "chord of 5 adds into xsum = 20",
            "countdown=1: 42",
            "control.ping: 1 worker(s) answered",
        ],
    );
    // The worker's own account of the chord's callback.
    worker
        .wait_for_line(
            &["Task celery_app.xsum[", "] succeeded in", ": 20"],
            Duration::from_secs(30),
        )
        .await;
    target.report("Celery");
}
