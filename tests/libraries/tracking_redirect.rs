//! redis-py over RESP2, unmodified (py/tracking_redirect.py): CLIENT
//! TRACKING with REDIRECT to a connection subscribed to
//! `__redis__:invalidate`, as Redis 6 clients cache; default mode, BCAST
//! with a prefix, FLUSHALL's null invalidation. On SQLite, on MariaDB, and
//! with the writes sent to a second instance.

use std::time::Duration;

use crate::harness::*;

#[tokio::test]
async fn redis_py_resp2_redirect_on_sqlite() {
    redirect(Store::Sqlite, false).await;
}

#[tokio::test]
async fn redis_py_resp2_redirect_on_mariadb() {
    redirect(Store::MariaDb, false).await;
}

#[tokio::test]
async fn redis_py_resp2_redirect_with_writes_on_another_instance() {
    redirect(Store::MariaDb, true).await;
}

async fn redirect(store: Store, two_instances: bool) {
    if !python_has(&[("redis", "redis")]) {
        return;
    }
    let Some(target) = Target::start(store).await else {
        return;
    };
    let second = match two_instances {
        true => target.second_instance().await,
        false => None,
    };
    let url = target.url();
    let mut args = vec![url.as_str()];
    let second_url = second.as_ref().map(|s| format!("redis://{}/0", s.addr));
    if let Some(second_url) = &second_url {
        args.push(second_url);
    }
    let out = target
        .run_python_args("tracking_redirect.py", &args, &[], Duration::from_secs(60))
        .await;
    assert_saw(
        "tracking_redirect.py",
        &out,
        &[
            "trackinginfo:",
            "read: None",
            "invalidated by a write elsewhere: [b'rc:k']",
            "read again: b'1'",
            "bcast prefix rc:p: [b'rc:p:1']",
            "flushall: None",
            "getredir: True",
        ],
    );
    target.report("redis-py RESP2 REDIRECT tracking");
}
