//! `limits` (rate limiting) with its Redis storage: the fixed window, the
//! moving window and the sliding window counter each let exactly their
//! limit through, alone and with threads racing; the moving window frees a
//! slot when its oldest hit leaves it, the fixed window's counter expires;
//! `reset()` clears its keys (py/limits_check.py). Every strategy is a
//! registered Lua script.

use std::time::Duration;

use crate::harness::*;

#[tokio::test]
async fn limits_rate_limiters_on_sqlite() {
    limits(Store::Sqlite).await;
}

#[tokio::test]
async fn limits_rate_limiters_on_mariadb() {
    limits(Store::MariaDb).await;
}

async fn limits(store: Store) {
    if !python_has(&[("redis", "redis"), ("limits", "limits")]) {
        return;
    }
    let Some(target) = Target::start(store).await else {
        return;
    };
    let out = target
        .run_python("limits_check.py", Duration::from_secs(120))
        .await;
    assert_saw(
        "limits_check.py",
        &out,
        &[
            "storage: RedisStorage",
            "fixed window: 5/minute lets 5 of 7 through",
            "moving window: 5/minute lets 5 of 7 through",
            "sliding window counter: 5/minute lets 5 of 7 through",
            "moving window: cost=2 twice, third refused",
            "fixed window: 4 threads x 30 hits on 50/minute: exactly 50 passed",
            "moving window: 4 threads x 30 hits on 50/minute: exactly 50 passed",
            "sliding window counter: 4 threads x 30 hits on 50/minute: exactly 50 passed",
            "moving window: 3/second full, a slot free again",
            "fixed window: 2/second full, open again",
            "reset(): removed",
        ],
    );
    target.report("limits");
}
