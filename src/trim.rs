//! Giving freed memory back to the system. The server's allocator is
//! jemalloc (see `main.rs`), whose background thread returns freed pages
//! about a second after they were freed; C libraries (SQLite) allocate
//! from glibc, which keeps what was freed in its arenas for reuse. After a
//! large release (a client leaving 100,000 subscriptions, say) [`soon`]
//! asks for both to give back their free pages at once, once the releases
//! have paused for a moment (a burst of them costs one trim), on a
//! blocking thread.

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

fn trim() {
    #[cfg(all(target_os = "linux", not(target_env = "msvc")))]
    // SAFETY: a void mallctl (no old or new value) on a NUL-terminated
    // name; "arena.<MALLCTL_ARENAS_ALL>.purge" purges every arena's unused
    // dirty pages, taking the arenas' locks itself. Where jemalloc is not
    // the global allocator (tests run the server in their own process) it
    // has nothing to purge.
    unsafe {
        tikv_jemalloc_sys::mallctl(
            c"arena.4096.purge".as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        );
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks and releases the allocator's own free
    // lists; it takes the arenas' locks itself.
    unsafe {
        libc::malloc_trim(0);
    }
}
