//! Opening a store: the backend a URL names, and its migrations.

use std::sync::Arc;

use super::database::Store;
use super::error::StoreResult;
use super::mysql::open::MySqlStore;
use super::sqlite::open::SqliteStore;

/// Opens the store a URL names: `sqlite://path` (or a bare path) for the
/// embedded store.
pub async fn open(url: &str) -> StoreResult<Arc<dyn Store>> {
    if url.starts_with("mysql://") || url.starts_with("mariadb://") {
        return Ok(Arc::new(MySqlStore::open(url)?));
    }
    Ok(Arc::new(SqliteStore::open(url).await?))
}

/// Runs the migrations of the store a URL names, and returns.
pub async fn migrate(url: &str) -> StoreResult<()> {
    if url.starts_with("mysql://") || url.starts_with("mariadb://") {
        return MySqlStore::migrate(url).await;
    }
    SqliteStore::open(url).await?.close().await;
    Ok(())
}
