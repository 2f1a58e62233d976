//! SQLite connections: opening one with the store's settings, the idle
//! readers, running cached statements and reading rows as the store's types.

use std::path::{Path, PathBuf};
use std::sync::Mutex as SyncMutex;
use std::time::Duration;

use bytes::Bytes;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, ErrorCode, Row};

use crate::store::error::{StoreError, StoreResult};
use crate::store::types::{KeyKind, KeyMeta};

/// How long a writer of another process may keep this one waiting.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Idle reading connections kept open.
const IDLE_READERS: usize = 4;

const READER_CACHE_KIB: u32 = 2048;

/// Prepared statements each connection keeps.
const STATEMENT_CACHE: usize = 64;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        crate::metrics::STORE_ERRORS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match e.sqlite_error_code() {
            Some(ErrorCode::TooBig) => {
                StoreError::TooLarge(format!("value too large for the database: {e}"))
            }
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                StoreError::Conflict(e.to_string())
            }
            Some(ErrorCode::CannotOpen | ErrorCode::DiskFull | ErrorCode::SystemIoFailure) => {
                StoreError::Unavailable(e.to_string())
            }
            _ => StoreError::Other(e.to_string()),
        }
    }
}

/// A blob (or text) column as bytes; NULL as empty.
pub(super) fn bytes_at(row: &Row<'_>, i: usize) -> StoreResult<Bytes> {
    match row.get_ref(i)? {
        ValueRef::Blob(b) | ValueRef::Text(b) => Ok(Bytes::copy_from_slice(b)),
        ValueRef::Null => Ok(Bytes::new()),
        other => Err(StoreError::Other(format!(
            "unexpected {:?} where bytes were stored",
            other.data_type()
        ))),
    }
}
/// The metadata in columns `i` (kind), `i + 1` (expire_at), `i + 2` (version).
pub(super) fn meta_at(row: &Row<'_>, i: usize) -> StoreResult<KeyMeta> {
    Ok(KeyMeta {
        kind: KeyKind::from_code(row.get(i)?)?,
        expire_at: row.get(i + 1)?,
        version: row.get(i + 2)?,
    })
}
/// Runs a prepared query and converts every row.
pub(super) fn collect<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    mut each: impl FnMut(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(each(row)?);
    }
    Ok(out)
}
/// Runs a prepared query and converts its first row, if any.
pub(super) fn first<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    each: impl FnOnce(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query(params)?;
    match rows.next()? {
        Some(row) => Ok(Some(each(row)?)),
        None => Ok(None),
    }
}
/// Runs a prepared statement (cached, like every statement here, BEGIN and
/// COMMIT included); returns the rows it changed.
pub(super) fn run(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> StoreResult<usize> {
    Ok(conn.prepare_cached(sql)?.execute(params)?)
}
/// Opens one connection with the store's settings.
pub(super) fn connect(path: &Path, cache_kib: u32) -> StoreResult<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // NORMAL in WAL mode: a committed transaction survives the process
    // being killed (not a power cut), at far less cost.
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -{cache_kib};"
    ))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Idle reading connections.
pub(super) struct Readers {
    pub(super) path: PathBuf,
    pub(super) idle: SyncMutex<Vec<Connection>>,
}

impl Readers {
    pub(super) fn take(&self) -> StoreResult<Connection> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        match idle {
            Some(conn) => Ok(conn),
            None => connect(&self.path, READER_CACHE_KIB),
        }
    }

    pub(super) fn give_back(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < IDLE_READERS
        {
            idle.push(conn);
        }
    }

    /// Runs `f` on a reading connection (autocommit: one statement, one
    /// instant).
    pub(super) fn with<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let conn = self.take()?;
        let out = f(&conn);
        self.give_back(conn);
        out
    }
}
