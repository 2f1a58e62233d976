//! The store's errors, sorted by what a caller can do about them (retry,
//! wait, refuse), and how a database driver's errors map onto them.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached (or the pool is closed).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database has not been reached (and migrated) since this process
    /// started: clients see Redis's LOADING, which they wait on and retry.
    #[error("database not reached yet since start")]
    Loading,
    /// The value or key exceeds what the database accepts.
    #[error("{0}")]
    TooLarge(String),
    /// A deadlock or write conflict: the whole command may be retried.
    #[error("transaction conflict: {0}")]
    Conflict(String),
    #[error("{0}")]
    Other(String),
    /// Given up on purpose, rolled back (SCRIPT KILL): the text is the
    /// client's reply.
    #[error("{0}")]
    Aborted(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        crate::metrics::STORE_ERRORS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(number) = e
            .as_database_error()
            .and_then(|d| d.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>())
            .map(|d| d.number())
        {
            match number {
                // Deadlock, lock wait timeout, a concurrent creator's
                // duplicate key, TiDB write conflicts: retry the command.
                1213 | 1205 | 1062 | 9007 | 8002 | 8022 | 8028 => {
                    return StoreError::Conflict(e.to_string());
                }
                // Packet, row, TiDB entry or TiDB transaction too large.
                1153 | 1118 | 1406 | 8004 | 8025 => {
                    return StoreError::TooLarge(format!("value too large for the database: {e}"));
                }
                _ => {}
            }
        }
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
            other => StoreError::Other(other.to_string()),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
