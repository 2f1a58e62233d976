//! BullMQ (npm, with ioredis): a Worker and a Queue in one Node program,
//! results through QueueEvents (js/bullmq_check.js). BullMQ keeps its
//! events in a Redis stream (XADD from its Lua scripts, XREAD BLOCK in
//! QueueEvents). It installs the pinned packages into
//! tests/libraries/js/node_modules (`npm ci`) when they are missing.

use std::process::Command;
use std::time::Duration;

use crate::harness::*;

#[tokio::test]
async fn bullmq_queue_worker_and_events_on_sqlite() {
    bullmq(Store::Sqlite).await;
}

#[tokio::test]
async fn bullmq_queue_worker_and_events_on_mariadb() {
    bullmq(Store::MariaDb).await;
}

async fn bullmq(store: Store) {
    if !npm_installed().await {
        return;
    }
    let Some(target) = Target::start(store).await else {
        return;
    };
    let mut cmd = Command::new("node");
    cmd.arg("bullmq_check.js")
        .arg(target.url())
        .current_dir(js_dir());
    let out = target
        .run("bullmq_check.js", cmd, Duration::from_secs(120))
        .await;
    assert_saw(
        "bullmq_check.js",
        &out,
        &[
            "add(2, 3) = 5",
            "a failing job: boom, state failed",
            "a retried job succeeded on attempt 2",
            "delayed 500 ms: 42",
            "bulk of 20: all results back",
            "flow: parent summed its 3 children = 12",
            "job counts:",
        ],
    );
    target.report("BullMQ");
}
