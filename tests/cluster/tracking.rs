//! Client-side caching across instances on one MariaDB: a client tracking
//! on B is invalidated by writes on A (a key it read, BCAST prefixes, the
//! sweeper's expiry, FLUSHALL's null invalidation), as the event log
//! brings A's events to B.

use crate::common::{Raw, TestDb, invalidate, resp3_tracking};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_on_one_instance_invalidate_clients_of_another() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let (a, b) = (db.server().await, db.server().await);
    let mut w = Raw::connect(a.addr).await;
    assert_eq!(w.cmd(&["SET", "k", "1"]).await, b"+OK\r\n");

    // Default mode: a key read on B, written on A.
    let mut c = resp3_tracking(b.addr, &[]).await;
    assert_eq!(c.cmd(&["GET", "k"]).await, b"$1\r\n1\r\n");
    assert_eq!(w.cmd(&["INCR", "k"]).await, b":2\r\n");
    c.expect(&invalidate(&["k"])).await;

    // FLUSHALL on A: the null invalidation on B.
    assert_eq!(c.cmd(&["GET", "k"]).await, b"$1\r\n2\r\n");
    assert_eq!(w.cmd(&["FLUSHALL"]).await, b"+OK\r\n");
    c.expect(b">2\r\n$10\r\ninvalidate\r\n_\r\n").await;

    // BCAST on B: A's writes under the prefix, read or not.
    let mut bc = resp3_tracking(b.addr, &["BCAST", "PREFIX", "p:"]).await;
    assert_eq!(w.cmd(&["SET", "q:1", "x"]).await, b"+OK\r\n");
    assert_eq!(w.cmd(&["SET", "p:1", "x"]).await, b"+OK\r\n");
    bc.expect(&invalidate(&["p:1"])).await;

    // Expiry: PEXPIRE's event, then the sweeper's `expired`, wherever it
    // runs (unless the key was gone already when read again). Last: a push may
    // follow a read that found it gone.
    assert_eq!(w.cmd(&["SET", "e", "2"]).await, b"+OK\r\n");
    let mut e = resp3_tracking(b.addr, &[]).await;
    assert_eq!(e.cmd(&["GET", "e"]).await, b"$1\r\n2\r\n");
    assert_eq!(w.cmd(&["PEXPIRE", "e", "300"]).await, b":1\r\n");
    e.expect(&invalidate(&["e"])).await;
    if e.cmd(&["GET", "e"]).await == b"$1\r\n2\r\n" {
        e.expect(&invalidate(&["e"])).await;
    }
}

/// An instance restarted: its tracking clients' connections close (client
/// libraries drop their caches then); reconnected, they read what was
/// written meanwhile and are invalidated by later writes on the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracking_after_an_instance_restarts() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let (a, b) = (db.server().await, db.server().await);
    let mut w = Raw::connect(a.addr).await;
    assert_eq!(w.cmd(&["SET", "k", "1"]).await, b"+OK\r\n");
    let mut c = resp3_tracking(b.addr, &[]).await;
    assert_eq!(c.cmd(&["GET", "k"]).await, b"$1\r\n1\r\n");
    let _ = b.stop().await;
    c.expect_closed().await;
    assert_eq!(w.cmd(&["INCR", "k"]).await, b":2\r\n");

    let b = db.server().await;
    let mut c = resp3_tracking(b.addr, &[]).await;
    assert_eq!(c.cmd(&["GET", "k"]).await, b"$1\r\n2\r\n");
    assert_eq!(w.cmd(&["INCR", "k"]).await, b":3\r\n");
    c.expect(&invalidate(&["k"])).await;
    assert_eq!(c.cmd(&["GET", "k"]).await, b"$1\r\n3\r\n");
}
