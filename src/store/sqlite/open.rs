//! The SQLite store: opening the file (running sqlx's migrations), the one
//! writer and the readers, the WAL checkpointer, and closing.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::conn::{BUSY_TIMEOUT, Readers, connect};
use crate::store::database::Store;
use crate::store::error::{StoreError, StoreResult};

/// Page cache of the writing connection, and of each reading one, in KiB
/// (the operating system caches the file too; these only spare the copy).
const WRITER_CACHE_KIB: u32 = 8192;

/// How often a thread of its own copies the WAL into the database file
/// (SQLite's "checkpoint"), so that a writer never waits for it.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// WAL pages after which the writer checkpoints by itself (only if the
/// checkpointer thread fell that far behind). SQLite's default is 1,000;
/// a rarer checkpoint copies a hot page once for many commits.
const WRITER_CHECKPOINT_PAGES: u32 = 20_000;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/store/migrations/sqlite");

pub struct SqliteStore {
    /// The one writing connection: one writer at a time, so `BEGIN
    /// IMMEDIATE` never waits on SQLite's busy handler within this process.
    pub(super) writer: Arc<Mutex<Connection>>,
    pub(super) readers: Arc<Readers>,
    /// Set by `close` (or when dropped): the checkpointer stops too.
    pub(super) closed: Arc<AtomicBool>,
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.closed.store(true, Ordering::Relaxed);
    }
}

/// Copies the WAL into the database every [`CHECKPOINT_EVERY`], without
/// blocking writers or readers (a PASSIVE checkpoint), until `closed`.
fn start_checkpointer(path: &Path, closed: Arc<AtomicBool>) -> StoreResult<()> {
    let conn = connect(path, 256)?;
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            while !closed.load(Ordering::Relaxed) {
                std::thread::sleep(CHECKPOINT_EVERY);
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::debug!(error = %e, "WAL checkpoint failed; retrying later");
                }
            }
        })
        .map_err(|e| StoreError::Other(format!("cannot start the checkpointer: {e}")))?;
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://path`
    /// or a plain path) and runs the migrations.
    pub async fn open(url: &str) -> StoreResult<SqliteStore> {
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))
            .map_err(|e| StoreError::Other(e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .page_size(1024);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let migrated = MIGRATOR.run(&pool).await;
        pool.close().await;
        migrated.map_err(|e| StoreError::Other(format!("migration failed: {e}")))?;
        let path = PathBuf::from(path);
        let writer = connect(&path, WRITER_CACHE_KIB)?;
        writer.execute_batch(&format!(
            "PRAGMA wal_autocheckpoint = {WRITER_CHECKPOINT_PAGES};"
        ))?;
        let closed = Arc::new(AtomicBool::new(false));
        start_checkpointer(&path, closed.clone())?;
        Ok(SqliteStore {
            writer: Arc::new(Mutex::new(writer)),
            readers: Arc::new(Readers {
                path,
                idle: SyncMutex::new(Vec::new()),
            }),
            closed,
        })
    }

    pub(super) fn check_open(&self) -> StoreResult<()> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(StoreError::Unavailable("the store is closed".into()));
        }
        Ok(())
    }

    /// The writing connection, once the writer before has finished.
    pub(super) async fn writer(&self) -> StoreResult<OwnedMutexGuard<Connection>> {
        self.check_open()?;
        Ok(self.writer.clone().lock_owned().await)
    }

    pub(super) fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        self.check_open()?;
        self.readers.with(f)
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        // Wait for the writer in flight; idle readers close now.
        drop(self.writer.lock().await);
        if let Ok(mut idle) = self.readers.idle.lock() {
            idle.clear();
        }
    }
}
