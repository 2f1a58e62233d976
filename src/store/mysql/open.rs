//! The MySQL store: its connection pool and the commands' connections,
//! creating the database and running the migrations (in the background,
//! retrying, or alone for `respire migrate`), readiness, and closing.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::{Connection, Executor, MySqlPool};
use tracing::{info, warn};

use super::held::{Conns, IDLE_CHECK};
use crate::store::database::Store;
use crate::store::error::{StoreError, StoreResult};
use crate::store::types::PoolUse;

/// Connections commands run on (see `held`), and the pool's own for the
/// background work: 32 per instance in all.
const COMMAND_CONNECTIONS: usize = 24;
const POOL_CONNECTIONS: u32 = 8;

pub struct MySqlStore {
    /// For the store's own background work (sequencer, relays, leases);
    /// commands run on `conns`.
    pub(super) pool: MySqlPool,
    pub(super) conns: Arc<Conns>,
    /// Set once the database answered and the migrations ran.
    pub(super) ready: Arc<AtomicBool>,
    /// The server's max_allowed_packet: larger values are refused up front.
    pub(super) max_packet: Arc<AtomicI64>,
}

impl MySqlStore {
    /// Prepares the pool without waiting for the database: a background task
    /// creates the database if missing and runs the migrations, retrying
    /// with backoff; until then data commands answer TRYAGAIN.
    /// Prepares the pool without waiting for the database: a background task
    /// creates the database if missing and runs the migrations, retrying
    /// with backoff; until then data commands answer TRYAGAIN.
    pub fn open(url: &str) -> StoreResult<MySqlStore> {
        let url = url.replacen("mariadb://", "mysql://", 1);
        let options = MySqlConnectOptions::from_str(&url)?;
        let pool = MySqlPoolOptions::new()
            .max_connections(POOL_CONNECTIONS)
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(5))
            // A connection is checked (PING) only after sitting idle: under
            // load each command saves a round trip, which across
            // datacenters is a whole network round trip per command.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for > IDLE_CHECK {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                        .await?;
                    Ok(())
                })
            })
            .connect_lazy_with(options.clone());
        let store = MySqlStore {
            conns: Conns::new(pool.clone(), COMMAND_CONNECTIONS),
            pool: pool.clone(),
            ready: Arc::new(AtomicBool::new(false)),
            max_packet: Arc::new(AtomicI64::new(16 * 1024 * 1024)),
        };
        tokio::spawn(prepare(
            options,
            pool,
            store.ready.clone(),
            store.max_packet.clone(),
        ));
        Ok(store)
    }

    /// Runs the migrations alone (for `respire migrate`), waiting for them.
    pub async fn migrate(url: &str) -> StoreResult<()> {
        let url = url.replacen("mariadb://", "mysql://", 1);
        let options = MySqlConnectOptions::from_str(&url)?;
        create_database(&options).await?;
        let pool = MySqlPoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await?;
        run_migrations(&pool).await?;
        pool.close().await;
        Ok(())
    }

    /// Whether the database is reachable and migrated.
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while !self.ready.load(Ordering::Acquire) {
            if tokio::time::Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    pub(super) fn check_ready(&self) -> StoreResult<()> {
        if self.ready.load(Ordering::Acquire) {
            Ok(())
        } else {
            Err(StoreError::Loading)
        }
    }
}

async fn create_database(options: &MySqlConnectOptions) -> StoreResult<()> {
    let Some(name) = options.get_database() else {
        return Ok(());
    };
    if name.contains('`') {
        return Err(StoreError::Other(format!("invalid database name {name:?}")));
    }
    let mut conn = sqlx::MySqlConnection::connect_with(&options.clone().database("")).await?;
    conn.execute(format!("CREATE DATABASE IF NOT EXISTS `{name}`").as_str())
        .await?;
    conn.close().await?;
    Ok(())
}

/// Runs the migrations holding an advisory lock named after the database,
/// so instances starting together take turns (sqlx's own lock is not
/// checked on MariaDB).
async fn run_migrations(pool: &MySqlPool) -> StoreResult<()> {
    let mut conn = pool.acquire().await?;
    let locked: Option<i64> =
        sqlx::query_scalar("SELECT GET_LOCK(CONCAT('respire_migrations:', DATABASE()), 60)")
            .fetch_one(&mut *conn)
            .await?;
    if locked != Some(1) {
        return Err(StoreError::Unavailable(
            "another instance holds the migration lock".into(),
        ));
    }
    let mut migrator = sqlx::migrate!("src/store/migrations/mysql");
    migrator.set_locking(false);
    // The lock is held by `conn`; the migrations may run on any connection.
    let result = migrator.run(pool).await;
    let _ = sqlx::query("SELECT RELEASE_LOCK(CONCAT('respire_migrations:', DATABASE()))")
        .execute(&mut *conn)
        .await;
    result.map_err(|e| StoreError::Other(format!("migration failed: {e}")))
}

/// Brings the database up to date, retrying with backoff until it answers.
async fn prepare(
    options: MySqlConnectOptions,
    pool: MySqlPool,
    ready: Arc<AtomicBool>,
    max_packet: Arc<AtomicI64>,
) {
    let mut delay = Duration::from_millis(200);
    loop {
        let attempt = async {
            create_database(&options).await?;
            run_migrations(&pool).await?;
            let packet: i64 = sqlx::query_scalar("SELECT CAST(@@max_allowed_packet AS SIGNED)")
                .fetch_one(&pool)
                .await?;
            StoreResult::Ok(packet)
        };
        match attempt.await {
            Ok(packet) => {
                max_packet.store(packet, Ordering::Relaxed);
                ready.store(true, Ordering::Release);
                info!("database ready");
                return;
            }
            Err(e) => {
                warn!(error = %e, retry_in = ?delay, "database unavailable; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

#[async_trait]
impl Store for MySqlStore {
    fn pools(&self) -> Vec<PoolUse> {
        let (in_use, idle, max) = self.conns.usage();
        let background_idle = self.pool.num_idle();
        vec![
            PoolUse {
                pool: "commands",
                in_use,
                idle,
                max,
            },
            PoolUse {
                pool: "background",
                in_use: (self.pool.size() as usize).saturating_sub(background_idle),
                idle: background_idle,
                max: POOL_CONNECTIONS as usize,
            },
        ]
    }

    async fn close(&self) {
        self.conns.close().await;
        self.pool.close().await;
    }
}
