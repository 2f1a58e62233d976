//! redis-py's `Lock` (`redis.lock.Lock`): acquire, a blocking acquire
//! that times out and one that gets a released lock, extend, reacquire,
//! release, the wrong token refused (`LockNotOwnedError`), a holder's
//! timeout freeing the lock, and threads contending without ever being
//! inside the critical section together (py/redis_lock.py). Its acquire is
//! SET NX PX; everything else is a registered script (EVALSHA).

use std::time::Duration;

use crate::harness::*;

#[tokio::test]
async fn redis_py_lock_on_sqlite() {
    lock(Store::Sqlite).await;
}

#[tokio::test]
async fn redis_py_lock_on_mariadb() {
    lock(Store::MariaDb).await;
}

async fn lock(store: Store) {
    if !python_has(&[("redis", "redis")]) {
        return;
    }
    let Some(target) = Target::start(store).await else {
        return;
    };
    let out = target
        .run_python("redis_lock.py", Duration::from_secs(120))
        .await;
    assert_saw(
        "redis_lock.py",
        &out,
        &[
            "acquired: pttl",
            "non-blocking acquire of a held lock: False",
            "blocking acquire of a held lock timed out",
            "extend(10)",
            "extend(2, replace_ttl=True)",
            "reacquire: pttl",
            "release with the wrong token: LockNotOwnedError",
            "extend with the wrong token: LockNotOwnedError",
            "reacquire with the wrong token: LockNotOwnedError",
            "release: key gone",
            "blocking acquire got the lock when its holder released it",
            "an expired lock is taken by another",
            "contention: 4 threads x 50 rounds, at most 1 inside, counter 200",
        ],
    );
    target.report("redis-py Lock");
}
