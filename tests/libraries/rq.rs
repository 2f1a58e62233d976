//! rq (python-rq): py/rq_check.py enqueues jobs on a queue, then runs a
//! burst worker (`rq worker --burst`, its child process, forking a work
//! horse per job) that runs the queue empty and quits, and reads the
//! results back: a return value (`latest_result(timeout)`, XREAD BLOCK), a
//! failing job's traceback and the FailedJobRegistry, a job that depends
//! on another (deferred, then run after its parent), a dependent of the
//! failed job (still deferred), a retried job, twenty jobs at once.
//! rq (1.12 on) keeps each job's results in a Redis stream
//! (`rq:results:<id>`, XADD MAXLEN ~ 10 from the worker inside MULTI,
//! XREVRANGE and XREAD BLOCK to read).

use std::time::Duration;

use crate::harness::*;

#[tokio::test]
async fn rq_burst_worker_and_results_on_sqlite() {
    rq(Store::Sqlite).await;
}

#[tokio::test]
async fn rq_burst_worker_and_results_on_mariadb() {
    rq(Store::MariaDb).await;
}

async fn rq(store: Store) {
    if !python_has(&[("redis", "redis"), ("rq", "rq")]) {
        return;
    }
    let Some(target) = Target::start(store).await else {
        return;
    };
    let out = target
        .run_python("rq_check.py", Duration::from_secs(180))
        .await;
    assert_saw(
        "rq_check.py",
        &out,
        &[
            "enqueued: 24 jobs queued, 2 deferred behind their dependencies",
            "add(2, 3): latest_result(timeout) = 5",
            "burst worker: ran the queue empty and exited 0",
            "results are streams: rq:results:<id> is a stream of 1, return_value() = 5",
            "a failing job: failed, exc_string has ValueError: boom, in the FailedJobRegistry",
            "depends_on: the dependent ran after its parent: ['parent', 'child']",
            "a dependent of the failed job stays deferred",
            "Retry(max=2): succeeded on attempt 2",
            "enqueue_many: 20 jobs, all results back",
            "the worker logged 24 jobs OK and unregistered",
        ],
    );
    target.report("rq");
}
