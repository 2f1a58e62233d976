//! Real Redis-based libraries, unmodified, against respire: each test
//! starts a server (respire on the embedded SQLite store, and where cheap
//! on a fresh MariaDB database too), runs a Python (or Node) program that
//! drives the library against it with a bounded time, and checks what the
//! program saw. The programs are in tests/libraries/py/ and js/; their
//! packages are installed by tests/run.sh (pip) or by the test (npm).
//!
//! `RESPIRE_LIBTEST_AGAINST_REDIS=1` runs the same tests against a private
//! redis-server instead, to prove them; see harness.rs for the other
//! switches (MONITOR capture).

#[path = "../common/mod.rs"]
mod common;

mod harness;

mod bullmq;
mod celery;
mod client_cache;
mod dramatiq;
mod limits;
mod redis_lock;
mod rq;
mod tracking_redirect;
