//! The connections commands run on, kept out of sqlx's pool.
//!
//! sqlx 0.8 pings a connection every time it goes back to its pool
//! (`PoolConnection`'s release), so each transaction or read would cost one
//! more round trip to the database: across datacenters, a whole network
//! round trip per command. Commands therefore take their connection from
//! this list instead: connections are opened through the pool (its connect
//! options and READ COMMITTED setup), detached from it, and put back here
//! untested. A connection idle for a while is pinged before use. A
//! transaction that ends without commit (an error, a cancelled command) is
//! rolled back at once, so its locks go with it; a connection whose
//! rollback could not be sent then is rolled back before its next use,
//! or replaced if that fails.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use sqlx::{Connection, Executor, MySqlConnection, MySqlPool};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::store::error::{StoreError, StoreResult};

/// How long a connection (here or in the pool) may sit idle before it is
/// checked.
pub(super) const IDLE_CHECK: Duration = Duration::from_secs(1);
/// Connections a session tries before it reports the database unavailable
/// (beyond the pool's own idle ones, each of which may be dead).
const MAX_TRIES: usize = 10;
/// How long a command waits for a connection when all are in use.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

struct Idle {
    conn: MySqlConnection,
    since: Instant,
    /// Its last session ended without commit: roll back before reuse.
    dirty: bool,
}

/// How a session starts on its connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Begin {
    /// No transaction: each statement reads the latest committed state.
    None,
    /// A READ COMMITTED transaction (the session's level): its locking
    /// reads (`FOR UPDATE`) see the latest committed rows and hold them.
    Locking,
    /// A REPEATABLE READ transaction with its snapshot taken at once:
    /// every read sees the database as of one instant (MySQL and MariaDB
    /// take no snapshot at READ COMMITTED, nor TiDB one per transaction).
    Snapshot,
}

/// The statement that starts a [`Begin::Snapshot`] session: one round trip
/// (the level set applies to the next transaction only).
const SNAPSHOT: &str = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ; \
                        START TRANSACTION WITH CONSISTENT SNAPSHOT";

/// The command connections: at most `max` open at once.
pub(super) struct Conns {
    pool: MySqlPool,
    idle: Mutex<Vec<Idle>>,
    permits: Arc<Semaphore>,
    max: usize,
}

impl Conns {
    pub(super) fn new(pool: MySqlPool, max: usize) -> Arc<Conns> {
        Arc::new(Conns {
            pool,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(max)),
            max,
        })
    }

    /// Connections serving a session, kept idle, and the most allowed.
    pub(super) fn usage(&self) -> (usize, usize, usize) {
        let in_use = self.max - self.permits.available_permits();
        (in_use, self.idle.lock().unwrap().len(), self.max)
    }

    /// A connection for one session, started as `begin` says.
    /// (Boxed: the sqlx futures inside are only `Send` for one lifetime,
    /// which `async_trait` callers cannot name.)
    pub(super) fn take(self: &Arc<Self>, begin: Begin) -> BoxFuture<'static, StoreResult<Held>> {
        Box::pin(self.clone().take_inner(begin))
    }

    async fn take_inner(self: Arc<Self>, begin: Begin) -> StoreResult<Held> {
        let permit = tokio::time::timeout(ACQUIRE_TIMEOUT, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| StoreError::Unavailable("no database connection free in 5 s".into()))?
            .map_err(|_| StoreError::Unavailable("the store is closed".into()))?;
        // A connection that fails its first statement (the check, or
        // BEGIN) means the database went away (a restart, a cut): the other
        // idle connections are gone too, so they are dropped and fresh ones
        // opened, rather than failing one command on each. The pool may
        // still hand out a few dead ones of its own: a bounded number of
        // tries.
        let mut tries = 0;
        // Set once a dead connection was seen: from then on a connection
        // is checked before a plain read relies on it.
        let mut suspect = false;
        let conn = loop {
            tries += 1;
            let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
            let mut conn = match idle {
                Some(idle) => match check(idle).await {
                    Some(conn) => conn,
                    None => {
                        self.drop_idle();
                        suspect = true;
                        continue;
                    }
                },
                None => self.pool.acquire().await?.detach(),
            };
            let first = match begin {
                Begin::Locking => text(&mut conn, "BEGIN").await,
                Begin::Snapshot => text(&mut conn, SNAPSHOT).await,
                Begin::None if suspect => conn.ping().await,
                Begin::None => break conn,
            };
            match first {
                Ok(()) => break conn,
                Err(e) if tries > MAX_TRIES => return Err(e.into()),
                Err(_) => {
                    crate::metrics::STORE_ERRORS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    crate::metrics::STORE_RETRIES
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    self.drop_idle();
                    suspect = true;
                }
            }
        };
        Ok(Held {
            conn: Some(conn),
            in_tx: begin != Begin::None,
            clean: false,
            conns: self,
            permit: Some(permit),
        })
    }

    fn drop_idle(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }

    /// Closes the idle connections; later sessions fail.
    pub(super) async fn close(&self) {
        self.permits.close();
        let idle = self
            .idle
            .lock()
            .map(|mut idle| std::mem::take(&mut *idle))
            .unwrap_or_default();
        for Idle { conn, .. } in idle {
            let _ = conn.close().await;
        }
    }
}

/// Runs one statement in the text protocol (BEGIN, COMMIT and ROLLBACK
/// cannot be prepared).
fn text<'a>(conn: &'a mut MySqlConnection, sql: &'static str) -> BoxFuture<'a, sqlx::Result<()>> {
    Box::pin(async move { conn.execute(sql).await.map(|_| ()) })
}

/// An idle connection made ready for use, or `None` when it is broken.
async fn check(mut idle: Idle) -> Option<MySqlConnection> {
    let ok = if idle.dirty {
        text(&mut idle.conn, "ROLLBACK").await.is_ok()
    } else if idle.since.elapsed() > IDLE_CHECK {
        idle.conn.ping().await.is_ok()
    } else {
        true
    };
    ok.then_some(idle.conn)
}

/// One session's connection: back to the idle list when dropped.
pub(super) struct Held {
    conn: Option<MySqlConnection>,
    in_tx: bool,
    /// Set by a successful commit (or the end of a plain read session).
    clean: bool,
    conns: Arc<Conns>,
    /// Its place among the `max` connections (`None` once given to the
    /// rollback of an unfinished transaction).
    permit: Option<OwnedSemaphorePermit>,
}

impl Held {
    pub(super) fn conn(&mut self) -> &mut MySqlConnection {
        self.conn.as_mut().expect("held until dropped")
    }

    /// Commits the transaction (a plain read session just ends).
    pub(super) async fn commit(mut self) -> StoreResult<()> {
        if self.in_tx {
            text(self.conn(), "COMMIT").await?;
        }
        self.clean = true;
        Ok(())
    }
}

impl Conns {
    fn put_back(&self, conn: MySqlConnection, dirty: bool) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(Idle {
                conn,
                since: Instant::now(),
                dirty,
            });
        }
    }
}

impl Drop for Held {
    /// A transaction that ends without its commit (an error, a WATCHed key
    /// that changed, a cancelled command) is rolled back at once, in a task
    /// of its own that keeps the connection's permit: its row locks must
    /// not wait, held by an idle connection, for that connection's next
    /// use (other transactions would queue behind them for as long).
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        if self.clean || !self.in_tx {
            return self.conns.put_back(conn, !self.clean);
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return self.conns.put_back(conn, true);
        };
        let conns = self.conns.clone();
        let permit = self.permit.take();
        runtime.spawn(async move {
            let mut conn = conn;
            if text(&mut conn, "ROLLBACK").await.is_ok() {
                conns.put_back(conn, false);
            }
            drop(permit);
        });
    }
}
