//! The threads scripts run on: kept between runs (a script does not pay
//! for a new thread), each with a stack deep enough for what the
//! libraries and the conversions recurse through, and one free for every
//! script at once (a script never waits for another's thread: it may
//! hold a lock the other waits for).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

/// The stack a script's run may use: cjson's 1000 levels fit in a debug
/// build; untouched pages cost nothing.
const RUN_STACK: usize = 32 << 20;

/// A thread's stack, here and on the server's runtime (scripts run on
/// both): a run's [`RUN_STACK`] and what lies under it.
pub const STACK: usize = RUN_STACK + (8 << 20);

/// Runs `f` (a script's run) with [`RUN_STACK`] left: in place on a
/// thread of [`STACK`], on a stack of its own elsewhere (a test's
/// runtime).
pub fn with_run_stack<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(RUN_STACK, RUN_STACK, f)
}

type Task = Box<dyn FnOnce() + Send>;

pub struct Threads {
    tasks: Mutex<Sender<Task>>,
    queue: Arc<Mutex<Receiver<Task>>>,
    /// Threads waiting for a task and not yet promised one.
    idle: Arc<AtomicUsize>,
}

impl Default for Threads {
    fn default() -> Self {
        let (tasks, queue) = channel();
        Threads {
            tasks: Mutex::new(tasks),
            queue: Arc::new(Mutex::new(queue)),
            idle: Arc::new(AtomicUsize::new(0)),
        }
    }
}

impl Threads {
    /// Runs `task` on a free thread (a new one when none is free); an
    /// error only when no thread can be made.
    pub fn run(&self, task: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
        let promised = self
            .idle
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok();
        if !promised {
            let (queue, idle) = (self.queue.clone(), self.idle.clone());
            std::thread::Builder::new()
                .name("respire-lua".into())
                .stack_size(STACK)
                .spawn(move || {
                    loop {
                        let task = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        match task {
                            Ok(task) => task(),
                            Err(_) => return,
                        }
                        idle.fetch_add(1, Ordering::AcqRel);
                    }
                })?;
        }
        let sent = self
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(Box::new(task));
        sent.map_err(|_| std::io::Error::other("the script threads are gone"))
    }
}

#[cfg(test)]
mod tests {
    use crate::lua::threads::*;

    #[test]
    fn tasks_run_at_once_even_when_others_wait() {
        let threads = Threads::default();
        let (release, held) = channel::<()>();
        let held = Arc::new(Mutex::new(held));
        // One task holds its thread until released...
        let h = held.clone();
        threads
            .run(move || {
                let _ = h.lock().unwrap().recv();
            })
            .unwrap();
        // ...the next runs all the same, on a thread of its own.
        let (done, finished) = channel();
        threads.run(move || done.send(()).unwrap()).unwrap();
        finished
            .recv_timeout(std::time::Duration::from_secs(5))
            .unwrap();
        release.send(()).unwrap();
        // A free thread is reused.
        let (done, finished) = channel();
        threads.run(move || done.send(()).unwrap()).unwrap();
        finished
            .recv_timeout(std::time::Duration::from_secs(5))
            .unwrap();
    }
}
