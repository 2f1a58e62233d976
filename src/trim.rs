//! Giving freed memory back to the system. glibc's allocator keeps what
//! was freed in its arenas for reuse; after a large release (a client
//! leaving 100,000 subscriptions, say) the process would stay that large.
//! [`soon`] asks for one `malloc_trim` once the releases have paused for
//! a moment (a burst of them costs one trim), on a blocking thread.

use std::sync::OnceLock;
use std::time::Duration;

use tokio::sync::Notify;

/// How long requests must pause before the trim runs.
const DELAY: Duration = Duration::from_millis(250);

static WANTED: OnceLock<std::sync::Arc<Notify>> = OnceLock::new();

/// Trims the allocator's free memory soon. Call from inside the runtime.
pub fn soon() {
    if tokio::runtime::Handle::try_current().is_err() {
        return;
    }
    let wanted = WANTED.get_or_init(|| {
        let wanted = std::sync::Arc::new(Notify::new());
        let waiting = wanted.clone();
        tokio::spawn(async move {
            loop {
                waiting.notified().await;
                // Until a whole DELAY passes without another request.
                while tokio::time::timeout(DELAY, waiting.notified())
                    .await
                    .is_ok()
                {}
                let _ = tokio::task::spawn_blocking(trim).await;
            }
        });
        wanted
    });
    wanted.notify_one();
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    // SAFETY: malloc_trim only walks and releases the allocator's own free
    // lists; it takes the arenas' locks itself.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}
