//! The database's own ceiling, from this harness through sqlx with no
//! respire in between: single-row autocommit upserts and point selects on
//! a 10,000-row table, at concurrency 1 and 50, for a fixed duration.

use std::str::FromStr as _;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use sqlx::mysql::{MySqlPool, MySqlPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::targets::Store;
use super::workers::ops_per_sec;

const ROWS: usize = 10_000;
pub const CONCURRENCY: [usize; 2] = [1, 50];

/// One store's ceiling: upserts and selects per second at each
/// [`CONCURRENCY`].
#[derive(Clone, Debug)]
pub struct Ceiling {
    pub upsert: [f64; 2],
    pub select: [f64; 2],
}

#[derive(Clone)]
enum Pool {
    Sqlite(SqlitePool),
    MySql(MySqlPool),
}

/// Runs a [`Query`] on an executor of either database.
macro_rules! run {
    ($executor:expr, $query:expr) => {{
        let query = $query;
        let q = sqlx::query(query.sql).bind(query.key);
        let q = match query.value {
            Some(v) => q.bind(v),
            None => q,
        };
        q.execute($executor).await?;
    }};
}

/// A query with a key and optionally a value bound.
struct Query<'a> {
    sql: &'a str,
    key: Vec<u8>,
    value: Option<&'static [u8]>,
}

impl Pool {
    /// Opens `workers` connections (one for SQLite writes: it has one
    /// writer) to the store.
    async fn open(store: &Store, workers: usize, write: bool) -> anyhow::Result<Pool> {
        Ok(match store {
            Store::Sqlite(path) => {
                let options =
                    SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
                        .create_if_missing(true)
                        .journal_mode(SqliteJournalMode::Wal)
                        .synchronous(SqliteSynchronous::Normal)
                        .busy_timeout(Duration::from_secs(10));
                let size = if write { 1 } else { workers as u32 };
                Pool::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(size)
                        .connect_with(options)
                        .await?,
                )
            }
            Store::MySql(url) => Pool::MySql(
                MySqlPoolOptions::new()
                    .max_connections(workers as u32)
                    .connect(url)
                    .await?,
            ),
        })
    }

    async fn execute(&self, query: Query<'_>) -> anyhow::Result<()> {
        match self {
            Pool::Sqlite(pool) => run!(pool, query),
            Pool::MySql(pool) => run!(pool, query),
        }
        Ok(())
    }

    /// Opens every connection of the pool before the clock starts.
    async fn warm(&self, workers: usize) -> anyhow::Result<()> {
        let sql = "SELECT 1";
        futures::future::try_join_all((0..workers).map(|_| async {
            self.execute(Query {
                sql,
                key: Vec::new(),
                value: None,
            })
            .await
        }))
        .await?;
        Ok(())
    }

    /// What one worker runs its statements on: its own MySQL connection,
    /// held for the whole run (sqlx pings a connection each time it goes
    /// back to the pool, which would halve the database's rate), or the
    /// shared SQLite pool.
    async fn worker(&self) -> anyhow::Result<Worker> {
        Ok(match self {
            Pool::MySql(pool) => Worker::MySql(pool.acquire().await?),
            shared => Worker::Shared(shared.clone()),
        })
    }

    async fn close(self) {
        match self {
            Pool::Sqlite(pool) => pool.close().await,
            Pool::MySql(pool) => pool.close().await,
        }
    }
}

fn key(i: usize) -> Vec<u8> {
    format!("key:{i:012}").into_bytes()
}

/// Measures the ceiling of `store`, `seconds` per figure.
pub async fn measure(store: &Store, seconds: f64) -> anyhow::Result<Ceiling> {
    let (create, upsert) = match store {
        Store::Sqlite(_) => (
            "CREATE TABLE ceiling (k BLOB PRIMARY KEY, v BLOB NOT NULL)",
            "INSERT INTO ceiling (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
        ),
        Store::MySql(_) => (
            "CREATE TABLE ceiling (k VARBINARY(64) PRIMARY KEY, v VARBINARY(64) NOT NULL) ENGINE=InnoDB",
            "INSERT INTO ceiling (k, v) VALUES (?, ?) ON DUPLICATE KEY UPDATE v = VALUES(v)",
        ),
    };
    let setup = Pool::open(store, 1, true).await?;
    setup
        .execute(Query {
            sql: "DROP TABLE IF EXISTS ceiling",
            key: Vec::new(),
            value: None,
        })
        .await
        .ok();
    let no_key = |sql| Query {
        sql,
        key: Vec::new(),
        value: None,
    };
    setup.execute(no_key(create)).await?;
    let rows: Vec<String> = (0..ROWS)
        .map(|i| format!("('key:{i:012}', 'xxx')"))
        .collect();
    let fill = format!("INSERT INTO ceiling (k, v) VALUES {}", rows.join(","));
    setup.execute(no_key(&fill)).await?;
    setup.close().await;

    let duration = Duration::from_secs_f64(seconds);
    let mut ceiling = Ceiling {
        upsert: [0.0; 2],
        select: [0.0; 2],
    };
    for (i, workers) in CONCURRENCY.into_iter().enumerate() {
        ceiling.upsert[i] = rate(store, upsert, Some(b"yyy"), workers, duration).await?;
    }
    for (i, workers) in CONCURRENCY.into_iter().enumerate() {
        let select = "SELECT v FROM ceiling WHERE k = ?";
        ceiling.select[i] = rate(store, select, None, workers, duration).await?;
    }
    Ok(ceiling)
}

enum Worker {
    Shared(Pool),
    MySql(sqlx::pool::PoolConnection<sqlx::MySql>),
}

impl Worker {
    async fn execute(&mut self, query: Query<'_>) -> anyhow::Result<()> {
        match self {
            Worker::Shared(pool) => pool.execute(query).await,
            Worker::MySql(conn) => {
                run!(&mut **conn, query);
                Ok(())
            }
        }
    }
}

/// Statements per second from `workers` concurrent clients, each running
/// `sql` on random keys.
async fn rate(
    store: &Store,
    sql: &'static str,
    value: Option<&'static [u8]>,
    workers: usize,
    duration: Duration,
) -> anyhow::Result<f64> {
    let pool = Pool::open(store, workers, value.is_some()).await?;
    pool.warm(workers).await?;
    let result = ops_per_sec(workers, duration, |worker, deadline| {
        let pool = pool.clone();
        async move {
            let mut rng = StdRng::seed_from_u64(worker as u64);
            let mut done = 0;
            let mut on = pool.worker().await?;
            while Instant::now() < deadline {
                let key = key(rng.gen_range(0..ROWS));
                on.execute(Query { sql, key, value }).await?;
                done += 1;
            }
            Ok(done)
        }
    })
    .await;
    pool.close().await;
    result
}
