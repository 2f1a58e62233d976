//! node-redis 5's client-side cache (npm `redis`, RESP3, `CLIENT TRACKING`
//! under the hood), unmodified (js/client_cache_check.js): a repeated read
//! served from the cache, a write elsewhere invalidating it, FLUSHALL
//! emptying it; on SQLite, on MariaDB, and on MariaDB with the writes
//! sent to a second instance.

use std::process::Command;
use std::time::Duration;

use crate::harness::*;

#[tokio::test]
async fn node_redis_client_side_cache_on_sqlite() {
    client_cache(Store::Sqlite, false).await;
}

#[tokio::test]
async fn node_redis_client_side_cache_on_mariadb() {
    client_cache(Store::MariaDb, false).await;
}

#[tokio::test]
async fn node_redis_client_side_cache_with_writes_on_another_instance() {
    client_cache(Store::MariaDb, true).await;
}

async fn client_cache(store: Store, two_instances: bool) {
    if !npm_installed().await {
        return;
    }
    let Some(target) = Target::start(store).await else {
        return;
    };
    let second = match two_instances {
        true => target.second_instance().await,
        false => None,
    };
    let mut cmd = Command::new("node");
    cmd.arg("client_cache_check.js").arg(target.url());
    if let Some(second) = &second {
        cmd.arg(format!("redis://{}/0", second.addr));
    }
    cmd.current_dir(js_dir());
    let out = target
        .run("client_cache_check.js", cmd, Duration::from_secs(60))
        .await;
    assert_saw(
        "client_cache_check.js",
        &out,
        &[
            "read twice: 1 1, 1 hit, 1 miss",
            "invalidated by a write elsewhere; read again: 2",
            "FLUSHALL elsewhere emptied the cache: size 0",
        ],
    );
    target.report("node-redis client-side cache");
}
