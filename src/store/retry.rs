//! The conflict-retry policy: a command hit by a deadlock or write conflict
//! is rerun, whole, a bounded number of times after a short jittered pause.

use super::error::{StoreError, StoreResult};

/// How many times a command hit by a deadlock or write conflict is rerun.
pub const MAX_RETRIES: u32 = 10;

/// A short, growing, jittered pause before rerunning a conflicted command.
pub fn retry_delay(attempt: u32) -> std::time::Duration {
    crate::metrics::STORE_RETRIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let base = 1u64 << attempt.min(6);
    std::time::Duration::from_millis(base + rand::random::<u64>() % (base + 1))
}

/// Runs `op` (one whole transaction) again after deadlocks and write
/// conflicts, at most [`MAX_RETRIES`] times, pausing [`retry_delay`].
pub async fn retry_conflicts<T, F, Fut>(mut op: F) -> StoreResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = StoreResult<T>>,
{
    let mut attempt = 0;
    loop {
        match op().await {
            Err(StoreError::Conflict(e)) if attempt < MAX_RETRIES => {
                attempt += 1;
                tracing::debug!(attempt, error = %e, "transaction conflict; retrying");
                tokio::time::sleep(retry_delay(attempt)).await;
            }
            other => return other,
        }
    }
}
