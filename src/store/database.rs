//! The [`Store`]: one database holding respire's state, its keyspace and
//! its event log together.

use async_trait::async_trait;

use super::event_log::EventLog;
use super::keyspace::Keyspace;
use super::types::PoolUse;

/// A database holding respire's state: its keyspace, its event log, and
/// the connections both run on.
#[async_trait]
pub trait Store: Keyspace + EventLog {
    /// The connection pools' use, for /metrics (none for an embedded
    /// store).
    fn pools(&self) -> Vec<PoolUse> {
        Vec::new()
    }
    /// Closes every connection after in-flight work finishes.
    async fn close(&self);
}
