//! This instance's side of scripting: the script bodies it has seen (the
//! store holds every one, for every instance), the function libraries in
//! force, idle Lua interpreters with what they compiled, and the scripts
//! running now (SCRIPT KILL, FUNCTION KILL, INFO).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;

use crate::events::Events;
use crate::lua::threads::Threads;
use crate::lua::vm::{Version, Vm};
use crate::store::{ScriptKind, Store, StoreResult};

/// Idle interpreters kept for reuse.
const IDLE_VMS: usize = 16;

/// One interpreter, with the SCRIPT FLUSH count its scripts are from.
pub struct PooledVm {
    pub vm: Vm,
    flushes: u64,
    /// The libraries in force it loaded last (the same `Arc` again needs
    /// no comparison of their code).
    loaded: Option<Arc<HashMap<String, Bytes>>>,
}

impl PooledVm {
    /// Loads the libraries in force (see [`Vm::use_libraries`]); one that
    /// does not load is logged and left out.
    pub fn use_libraries(&mut self, libraries: &Arc<HashMap<String, Bytes>>) {
        if self
            .loaded
            .as_ref()
            .is_some_and(|l| Arc::ptr_eq(l, libraries))
        {
            return;
        }
        self.loaded = Some(libraries.clone());
        for (library, text) in self.vm.use_libraries(libraries) {
            tracing::warn!(%library, error = %String::from_utf8_lossy(&text), "a stored library does not load");
        }
    }
}

/// A script running now.
pub struct RunningScript {
    pub kill: Arc<AtomicBool>,
    /// A function (FCALL), not an EVAL script.
    pub function: bool,
    /// The script's SHA1 or the function's name.
    pub name: String,
    /// EVAL's or FCALL's arguments, for FUNCTION STATS.
    pub command: Vec<Bytes>,
    pub started: Instant,
}

/// The function libraries in force here: name → code, read from the
/// store after each change the log reported.
struct Libraries {
    /// The log's change count they were read at (None: not read yet).
    read_at: Option<u64>,
    code: Arc<HashMap<String, Bytes>>,
}

pub struct Scripts {
    /// Script bodies by SHA1, with the flush count they were seen at.
    bodies: Mutex<(u64, HashMap<String, Bytes>)>,
    idle: Mutex<Vec<PooledVm>>,
    libraries: Mutex<Libraries>,
    running: Mutex<HashMap<u64, RunningScript>>,
    next_run: AtomicU64,
    memory_limit: usize,
    version: (&'static str, u32),
    /// The threads scripts run on.
    pub threads: Threads,
}

impl Scripts {
    pub fn new(memory_limit: usize, version: (&'static str, u32)) -> Scripts {
        Scripts {
            bodies: Mutex::new((0, HashMap::new())),
            idle: Mutex::new(Vec::new()),
            libraries: Mutex::new(Libraries {
                read_at: None,
                code: Arc::new(HashMap::new()),
            }),
            running: Mutex::new(HashMap::new()),
            next_run: AtomicU64::new(1),
            memory_limit,
            version,
            threads: Threads::default(),
        }
    }

    /// The bodies seen since the last flush (`flushes`: the log's SCRIPT
    /// FLUSH count); older ones are dropped.
    fn bodies(&self, flushes: u64) -> std::sync::MutexGuard<'_, (u64, HashMap<String, Bytes>)> {
        let mut bodies = self.bodies.lock().unwrap();
        if bodies.0 != flushes {
            *bodies = (flushes, HashMap::new());
        }
        bodies
    }

    /// A script's body if this instance has seen it since the last flush.
    pub fn body(&self, sha: &str, flushes: u64) -> Option<Bytes> {
        self.bodies(flushes).1.get(sha).cloned()
    }

    /// Remembers a script's body.
    pub fn remember(&self, sha: &str, body: Bytes, flushes: u64) {
        self.bodies(flushes).1.insert(sha.to_string(), body);
    }

    /// Forgets every body at once (SCRIPT FLUSH on this instance: the
    /// log tells the others).
    pub fn forget_all(&self) {
        self.bodies.lock().unwrap().1.clear();
        self.idle.lock().unwrap().clear();
    }

    /// The scripts' bodies this instance holds (INFO's number_of_cached_scripts).
    pub fn cached(&self) -> usize {
        self.bodies.lock().unwrap().1.len()
    }

    /// A stored script's body: this instance's copy, else the store's row.
    pub async fn stored_body(
        &self,
        store: &Arc<dyn Store>,
        events: &Events,
        sha: &str,
    ) -> StoreResult<Option<Bytes>> {
        let flushes = events.scripts_flushed.load(Ordering::Relaxed);
        if let Some(body) = self.body(sha, flushes) {
            return Ok(Some(body));
        }
        let body = store.get_script(ScriptKind::Script, sha).await?;
        if let Some(body) = &body {
            self.remember(sha, body.clone(), flushes);
        }
        Ok(body)
    }

    /// The libraries in force (name → code), read from the store when the
    /// log reported a change since they were last read.
    pub async fn libraries_in_force(
        &self,
        store: &Arc<dyn Store>,
        events: &Events,
    ) -> StoreResult<Arc<HashMap<String, Bytes>>> {
        let changes = events.functions_changed.load(Ordering::Relaxed);
        if let Some(libs) = self.libraries(changes) {
            return Ok(libs);
        }
        let rows = store.scripts(ScriptKind::Library).await?;
        self.set_libraries(changes, rows.into_iter().collect());
        Ok(self.libraries(changes).unwrap_or_default())
    }

    /// An idle interpreter (or a new one), its scripts dropped if a
    /// flush came since it compiled them.
    pub fn take_vm(&self, events: &Events) -> mlua::Result<PooledVm> {
        let flushes = events.scripts_flushed.load(Ordering::Relaxed);
        let pooled = self.idle.lock().unwrap().pop();
        match pooled {
            Some(mut p) => {
                if p.flushes != flushes {
                    p.vm.flush_scripts();
                    p.flushes = flushes;
                }
                Ok(p)
            }
            None => Ok(PooledVm {
                vm: Vm::new(
                    self.memory_limit,
                    Version {
                        text: self.version.0,
                        num: self.version.1,
                    },
                )?,
                flushes,
                loaded: None,
            }),
        }
    }

    /// Returns an interpreter after a run (dropped if it holds too much).
    pub fn give_back(&self, mut vm: PooledVm) {
        if !vm.vm.settle(self.memory_limit) {
            return;
        }
        let mut idle = self.idle.lock().unwrap();
        if idle.len() < IDLE_VMS {
            idle.push(vm);
        }
    }

    /// The libraries in force, if read since the log's change count
    /// `changes`.
    pub fn libraries(&self, changes: u64) -> Option<Arc<HashMap<String, Bytes>>> {
        let libs = self.libraries.lock().unwrap();
        (libs.read_at == Some(changes)).then(|| libs.code.clone())
    }

    /// Sets the libraries in force, as read at change count `changes`.
    pub fn set_libraries(&self, changes: u64, code: HashMap<String, Bytes>) {
        let mut libs = self.libraries.lock().unwrap();
        libs.read_at = Some(changes);
        libs.code = Arc::new(code);
    }

    /// Forgets the libraries read, so the next use reads the store.
    pub fn forget_libraries(&self) {
        self.libraries.lock().unwrap().read_at = None;
    }

    /// Records a script starting; its id for [`Scripts::finished`].
    pub fn started(&self, script: RunningScript) -> u64 {
        let id = self.next_run.fetch_add(1, Ordering::Relaxed);
        self.running.lock().unwrap().insert(id, script);
        id
    }

    pub fn finished(&self, id: u64) {
        self.running.lock().unwrap().remove(&id);
    }

    /// Stops every running script (shutdown): each is rolled back, as a
    /// killed one is.
    pub fn kill_all(&self) {
        for script in self.running.lock().unwrap().values() {
            script.kill.store(true, Ordering::Relaxed);
        }
    }

    /// Stops every running script of the kind (SCRIPT KILL: EVAL scripts;
    /// FUNCTION KILL: functions); false when none runs.
    pub fn kill(&self, functions: bool) -> KillResult {
        let running = self.running.lock().unwrap();
        let mut found = KillResult::NotBusy;
        for script in running.values() {
            if script.function == functions {
                script.kill.store(true, Ordering::Relaxed);
                found = KillResult::Killed;
            } else if found == KillResult::NotBusy {
                found = KillResult::OtherKind;
            }
        }
        found
    }

    /// The running function with the longest run (FUNCTION STATS): its
    /// name, command and milliseconds so far.
    pub fn running_function(&self) -> Option<(String, Vec<Bytes>, u128)> {
        let running = self.running.lock().unwrap();
        running
            .values()
            .filter(|s| s.function)
            .max_by_key(|s| s.started.elapsed())
            .map(|s| {
                (
                    s.name.clone(),
                    s.command.clone(),
                    s.started.elapsed().as_millis(),
                )
            })
    }

    /// True if an EVAL script has run for `threshold` or longer: Redis
    /// would be serving other clients only from inside it by then, and
    /// FUNCTION STATS answers BUSY.
    pub fn eval_running_past(&self, threshold: std::time::Duration) -> bool {
        let running = self.running.lock().unwrap();
        running
            .values()
            .any(|s| !s.function && s.started.elapsed() >= threshold)
    }

    /// Memory held by idle interpreters (INFO's used_memory_lua).
    pub fn vm_memory(&self) -> usize {
        self.idle
            .lock()
            .unwrap()
            .iter()
            .map(|p| p.vm.used_memory())
            .sum()
    }
}

/// What SCRIPT KILL / FUNCTION KILL found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KillResult {
    Killed,
    NotBusy,
    /// Only scripts of the other kind run (SCRIPT KILL while a function
    /// runs).
    OtherKind,
}
