//! Scripts in a transaction: EVAL, EVALSHA, FCALL (and their read-only
//! forms) run as one job of an [`Open`] transaction, like a data
//! command, so group commit, a command alone and EXEC run them the same
//! way ([`run_job`]). The script runs on a blocking thread in a Lua
//! interpreter ([`crate::lua`]); each `redis.call` comes back here and
//! runs in the same transaction through [`Open::run`]. Nothing is visible
//! to anyone before the commit; a conflict reruns the whole script; SCRIPT
//! KILL rolls it back.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use crate::clock::now_us;
use crate::cmd::args::int_arg;
use crate::cmd::errors::{self, CmdError};
use crate::cmd::helpers::streams::ReadArgs;
use crate::cmd::key_args::key_args;
use crate::cmd::run::monitor::monitor_line;
use crate::cmd::run::txn::{Answer, Job, Open};
use crate::cmd::spec::{CommandSpec, Handler, ScriptCall};
use crate::cmd::table;
use crate::instance::scripts::{PooledVm, RunningScript};
use crate::instance::state::Instance;
use crate::lua::shebang;
use crate::lua::threads::with_run_stack;
use crate::lua::vm::{Host, Outcome, Stop, Target, sha1_hex};
use crate::reply::Reply;
use crate::store::{Db, ScriptKind, StoreError};

/// Runs one job of a transaction: a script through its interpreter, any
/// other data command directly.
pub async fn run_job(open: &mut Open<'_>, job: &Job) -> Result<Answer, StoreError> {
    match job.spec.handler {
        Handler::Script(call) => run_script(open, job, call).await,
        _ => open.run(job).await,
    }
}

/// What a script is asked to run.
struct Invocation {
    /// The SHA1 (EVAL, EVALSHA) or the function's name (FCALL).
    name: String,
    keys: Vec<Bytes>,
    argv: Vec<Bytes>,
}

/// Splits `EVAL body|sha|function numkeys key... arg...`.
fn invocation(args: &[Bytes], name: String) -> Result<Invocation, CmdError> {
    let numkeys = int_arg(&args[2])?;
    keys_and_args(args, name, numkeys)
}

/// FCALL's: the function is found first, and a bad key count has its own
/// text.
fn fcall_invocation(args: &[Bytes], name: String) -> Result<Invocation, CmdError> {
    let numkeys = crate::protocol::parse_i64(&args[2])
        .ok_or_else(|| CmdError::Reply(errors::FCALL_BAD_NUMKEYS.into()))?;
    keys_and_args(args, name, numkeys)
}

fn keys_and_args(args: &[Bytes], name: String, numkeys: i64) -> Result<Invocation, CmdError> {
    if numkeys > (args.len() - 3) as i64 {
        return Err(CmdError::Reply(errors::SCRIPT_TOO_MANY_KEYS.into()));
    }
    if numkeys < 0 {
        return Err(CmdError::Reply(errors::SCRIPT_NEGATIVE_KEYS.into()));
    }
    let split = 3 + numkeys as usize;
    Ok(Invocation {
        name,
        keys: args[3..split].to_vec(),
        argv: args[split..].to_vec(),
    })
}

/// Removes the running script's entry when the run ends, however it ends.
struct RunGuard<'a> {
    instance: &'a Instance,
    id: u64,
}

impl Drop for RunGuard<'_> {
    fn drop(&mut self) {
        self.instance.scripts.finished(self.id);
    }
}

async fn run_script(
    open: &mut Open<'_>,
    job: &Job,
    call: ScriptCall,
) -> Result<Answer, StoreError> {
    let instance = open.instance();
    let kill = job.kill.clone().unwrap_or_default();
    if kill.load(Ordering::Relaxed) {
        // Killed in an earlier attempt (its batch reruns): not again.
        return Ok(Err(CmdError::Reply(errors::SCRIPT_KILLED.into())));
    }
    let (inv, pooled, read_only) = match prepare(open, job, call).await {
        Ok(ready) => ready,
        Err(CmdError::Store(e)) => return Err(e),
        Err(e) => return Ok(Err(e)),
    };
    let threshold = instance.busy_reply_threshold();
    let stop = Stop {
        kill: kill.clone(),
        deadline: read_only.then(|| Instant::now() + threshold),
    };
    let function = call == ScriptCall::Fcall;
    let _running = RunGuard {
        instance,
        id: instance.scripts.started(RunningScript {
            kill: kill.clone(),
            function,
            name: inv.name.clone(),
            // FUNCTION STATS shows a function's command; nothing shows a
            // script's.
            command: if function {
                job.args.clone()
            } else {
                Vec::new()
            },
            started: Instant::now(),
        }),
    };
    let target = if function {
        Target::Function
    } else {
        Target::Script
    };
    let mut state = ScriptState {
        db: job.db,
        read_only,
        touches: job.touches,
        kill: kill.clone(),
        failure: None,
        client: job.client,
        declared: instance
            .events
            .tracking
            .tracks(job.client)
            .then(|| key_args(job.spec, &job.args).into_iter().cloned().collect()),
    };
    let run = Run {
        pooled,
        inv,
        target,
        stop,
    };
    let (pooled, outcome) = if runs_here() {
        run_here(open, &mut state, run)
    } else {
        run_on_thread(open, &mut state, run).await?
    };
    instance.scripts.give_back(pooled);
    let Some(outcome) = outcome else {
        return Ok(Err(CmdError::Reply(errors::NOSCRIPT.into())));
    };
    if let Some(e) = state.failure {
        return Err(e);
    }
    if outcome.killed {
        if read_only {
            let text = if kill.load(Ordering::Relaxed) {
                errors::SCRIPT_KILLED
            } else {
                errors::SCRIPT_TIMED_OUT
            };
            return Ok(Err(CmdError::Reply(text.into())));
        }
        // Nothing of it may stand: the transaction goes, and the batch it
        // ran in reruns without it.
        return Err(StoreError::Aborted(errors::SCRIPT_KILLED.into()));
    }
    Ok(match outcome.reply {
        Reply::Error(text) => Err(CmdError::Reply(text)),
        reply => Ok(reply),
    })
}

/// A script's run, ready: its interpreter (holding it compiled), what
/// it is called with, and how it may be stopped.
struct Run {
    pooled: PooledVm,
    inv: Invocation,
    target: Target,
    stop: Stop,
}

impl Run {
    fn go(mut self, host: &mut dyn Host) -> (PooledVm, Option<Outcome>) {
        let Invocation { name, keys, argv } = &self.inv;
        let (vm, target, stop) = (&mut self.pooled.vm, self.target, self.stop);
        // `prepare` compiled the script or found the function.
        let outcome = with_run_stack(|| vm.run(target, name, keys, argv, host, stop));
        (self.pooled, outcome)
    }
}

/// Runs the script on this task's thread, its `redis.call`s straight on
/// the transaction: no thread hand-off. The runtime meanwhile moves its
/// other tasks to another thread, so a long script holds only its
/// transaction's keys (and its lane), as on a thread of its own; inside
/// [`off_core`] that was done once for the whole batch.
fn run_here(open: &mut Open<'_>, state: &mut ScriptState, run: Run) -> (PooledVm, Option<Outcome>) {
    let go = || run.go(&mut DirectHost { open, state });
    if OFF_CORE.get() {
        go()
    } else {
        tokio::task::block_in_place(go)
    }
}

thread_local! {
    /// Set while this thread runs [`off_core`] work.
    static OFF_CORE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `work` (a batch that holds scripts) to its end on this thread,
/// after handing the runtime's other tasks to another thread (one
/// hand-off for the batch, not one per script). Only on a multi-thread
/// runtime.
pub fn off_core<F: std::future::Future>(work: F) -> F::Output {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            OFF_CORE.set(self.0);
        }
    }
    let handle = tokio::runtime::Handle::current();
    tokio::task::block_in_place(|| {
        let _reset = Reset(OFF_CORE.replace(true));
        handle.block_on(work)
    })
}

/// True if scripts run on the thread of the task that runs them (see
/// [`run_here`]): the runtime has other threads to move its tasks to.
pub fn runs_here() -> bool {
    tokio::runtime::Handle::current().runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
}

/// Runs the script on a thread of its own, each `redis.call` coming back
/// to this task (a runtime of one thread, as tests use, cannot lend its
/// thread).
async fn run_on_thread(
    open: &mut Open<'_>,
    state: &mut ScriptState,
    run: Run,
) -> Result<(PooledVm, Option<Outcome>), StoreError> {
    let instance = open.instance();
    let (tx, mut rx) = mpsc::unbounded_channel::<Call>();
    let (done, mut handle) = oneshot::channel();
    let spawned = instance.scripts.threads.run(move || {
        let _ = done.send(run.go(&mut ChannelHost { tx }));
    });
    if let Err(e) = spawned {
        return Err(StoreError::Other(format!("no thread for the script: {e}")));
    }
    let joined = loop {
        tokio::select! {
            Some(call) = rx.recv() => {
                let _ = call.done.send(answer(open, state, call.args, call.resp3).await);
            }
            joined = &mut handle => break joined,
        }
    };
    joined.map_err(|e| StoreError::Other(format!("the script's thread failed: {e}")))
}

/// Finds what a job runs (an EVAL body, a stored script or a library's
/// function), takes an interpreter that holds it compiled, and says
/// whether the run may write. Redis's errors for a bad invocation.
async fn prepare(
    open: &mut Open<'_>,
    job: &Job,
    call: ScriptCall,
) -> Result<(Invocation, PooledVm, bool), CmdError> {
    let instance = open.instance();
    let ro_command = job.spec.has_flag("readonly");
    let name = match call {
        ScriptCall::Eval => sha1_hex(&job.args[1]),
        ScriptCall::EvalSha => String::from_utf8_lossy(&job.args[1]).to_ascii_lowercase(),
        ScriptCall::Fcall => String::from_utf8_lossy(&job.args[1]).into_owned(),
    };
    let flushes = instance.events.scripts_flushed.load(Ordering::Relaxed);
    if call == ScriptCall::Fcall {
        let mut pooled = instance.scripts.take_vm(&instance.events)?;
        let checked = function_flags(instance, &mut pooled, &name)
            .await
            .and_then(|no_writes| {
                let inv = fcall_invocation(&job.args, name)?;
                if ro_command && !no_writes {
                    return Err(CmdError::Reply(errors::SCRIPT_WRITE_FLAG_RO.into()));
                }
                Ok((inv, no_writes))
            });
        return match checked {
            Ok((inv, no_writes)) => Ok((inv, pooled, ro_command || no_writes)),
            Err(e) => {
                instance.scripts.give_back(pooled);
                Err(e)
            }
        };
    }
    let inv = invocation(&job.args, name)?;
    let body = if call == ScriptCall::Eval {
        let body = job.args[1].clone();
        if instance.scripts.body(&inv.name, flushes).is_none() {
            // EVAL caches the script, as Redis does, for every instance.
            if job.spec.writes() {
                open.txn()
                    .put_script(ScriptKind::Script, &inv.name, &body)
                    .await?;
            }
            instance.scripts.remember(&inv.name, body.clone(), flushes);
        }
        body
    } else {
        let stored = match inv.name.len() {
            40 => {
                instance
                    .scripts
                    .stored_body(&instance.store, &instance.events, &inv.name)
                    .await?
            }
            _ => None,
        };
        stored.ok_or_else(|| CmdError::Reply(errors::NOSCRIPT.into()))?
    };
    let bang = shebang::script(&body).map_err(|text| CmdError::Reply(text.into()))?;
    if bang.flags.is_some() && !bang.no_writes() && ro_command {
        return Err(CmdError::Reply(errors::SCRIPT_WRITE_FLAG_RO.into()));
    }
    let mut pooled = instance.scripts.take_vm(&instance.events)?;
    if !pooled.vm.has_script(&inv.name)
        && let Err(text) = pooled.vm.compile(&inv.name, &body[bang.code_start..])
    {
        instance.scripts.give_back(pooled);
        return Err(CmdError::Reply(text));
    }
    Ok((inv, pooled, ro_command || bang.no_writes()))
}

/// Loads the libraries in force into an interpreter and finds a function:
/// whether it is `no-writes`. A function this instance does not know may
/// have been loaded on another instance a moment ago: the store is read
/// once more before it is not found.
async fn function_flags(
    instance: &Instance,
    pooled: &mut PooledVm,
    name: &str,
) -> Result<bool, CmdError> {
    for fresh in [false, true] {
        if fresh {
            instance.scripts.forget_libraries();
        }
        let libs = instance
            .scripts
            .libraries_in_force(&instance.store, &instance.events)
            .await?;
        pooled.use_libraries(&libs);
        if let Some(function) = pooled.vm.function(name) {
            return Ok(function.flags.iter().any(|f| f == "no-writes"));
        }
    }
    Err(CmdError::Reply(errors::FUNCTION_NOT_FOUND.into()))
}

/// The script's own state as its commands see it.
struct ScriptState {
    /// SELECT inside a script changes the script's database only.
    db: Db,
    read_only: bool,
    touches: bool,
    kill: Arc<AtomicBool>,
    /// The store failed under a command: the transaction is lost.
    failure: Option<StoreError>,
    /// The client the script runs for.
    client: u64,
    /// Its declared keys, while its client tracks and it has not read yet.
    declared: Option<Vec<Bytes>>,
}

/// A `redis.call`'s reply; once the store failed, the script is stopped
/// and every later call answered that it was killed.
async fn answer(
    open: &mut Open<'_>,
    state: &mut ScriptState,
    args: Vec<Bytes>,
    resp3: bool,
) -> Reply {
    if state.failure.is_some() {
        return Reply::error(errors::SCRIPT_KILLED);
    }
    match call_command(open, state, args, resp3).await {
        Ok(reply) => reply,
        Err(e) => {
            state.kill.store(true, Ordering::Relaxed);
            state.failure = Some(e);
            Reply::error(errors::SCRIPT_KILLED)
        }
    }
}

/// The host of a script run on the task's own thread.
struct DirectHost<'a, 'o> {
    open: &'a mut Open<'o>,
    state: &'a mut ScriptState,
}

impl Host for DirectHost<'_, '_> {
    fn call(&mut self, args: Vec<Bytes>, resp3: bool) -> Reply {
        // The thread is out of the runtime's scheduling (see `run_here`),
        // so it may wait here; unconstrained, as no scheduler renews a
        // budget between the polls of this wait.
        futures::executor::block_on(tokio::task::unconstrained(answer(
            self.open, self.state, args, resp3,
        )))
    }

    fn is_command(&self, args: &[Bytes]) -> bool {
        is_command(args)
    }
}

/// A `redis.call` on its way from the script's thread.
struct Call {
    args: Vec<Bytes>,
    resp3: bool,
    done: oneshot::Sender<Reply>,
}

/// The script's side of the channel: each call waits for its reply.
struct ChannelHost {
    tx: mpsc::UnboundedSender<Call>,
}

impl Host for ChannelHost {
    fn call(&mut self, args: Vec<Bytes>, resp3: bool) -> Reply {
        let (done, reply) = oneshot::channel();
        if self.tx.send(Call { args, resp3, done }).is_err() {
            return Reply::error(errors::SCRIPT_KILLED);
        }
        reply
            .blocking_recv()
            .unwrap_or_else(|_| Reply::error(errors::SCRIPT_KILLED))
    }

    fn is_command(&self, args: &[Bytes]) -> bool {
        is_command(args)
    }
}

fn is_command(args: &[Bytes]) -> bool {
    table::lookup(&args[0]).is_some()
}

/// Runs one command a script called, in the script's transaction.
async fn call_command(
    open: &mut Open<'_>,
    state: &mut ScriptState,
    args: Vec<Bytes>,
    resp3: bool,
) -> Result<Reply, StoreError> {
    let refuse = |text: &'static str| Ok(Reply::error(text));
    let Some(spec) = table::lookup(&args[0]) else {
        return refuse(errors::SCRIPT_UNKNOWN_COMMAND);
    };
    let sub_arity = args
        .get(1)
        .and_then(|a| spec.subcommand(a))
        .is_some_and(|sub| !CommandSpec::arity_ok(sub.arity, args.len()));
    if !CommandSpec::arity_ok(spec.arity, args.len()) || sub_arity {
        return refuse(errors::SCRIPT_WRONG_ARGS);
    }
    if spec.has_flag("noscript") {
        return refuse(errors::SCRIPT_NOT_ALLOWED);
    }
    if state.read_only && (spec.writes() || spec.may_replicate()) {
        return refuse(errors::SCRIPT_WRITE_IN_RO);
    }
    // Scripts never block: Redis refuses XREAD's and XREADGROUP's BLOCK.
    if let Some(xreadgroup) = match spec.name {
        "xread" => Some(false),
        "xreadgroup" => Some(true),
        _ => None,
    } && ReadArgs::parse(&args, xreadgroup).is_ok_and(|p| p.block.is_some())
    {
        return Ok(Reply::Error(errors::block_in_script(&args[0])));
    }
    let instance = open.instance();
    if instance.monitors.is_active() && !spec.is_admin(&args) {
        instance
            .monitors
            .feed(monitor_line(now_us(), state.db, None, &args));
    }
    let started = Instant::now();
    let reply = match spec.handler {
        Handler::Data(_) | Handler::Blocking(..) => {
            let job = Job {
                spec,
                args,
                db: state.db,
                resp3,
                touches: state.touches,
                kill: None,
                body: None,
                blocked: false,
                client: state.client,
            };
            if spec.has_flag("readonly")
                && let Some(keys) = state.declared.take()
            {
                // A script that reads tracks the keys it declared, as
                // Redis tracks them for the script's caller.
                instance.events.tracking.remember(state.client, &keys);
            }
            open.run(&job).await?.unwrap_or_else(CmdError::into_reply)
        }
        _ => connection_command(open, state, spec, &args),
    };
    let micros = started.elapsed().as_micros() as u64;
    instance
        .metrics
        .record(spec.name, micros, reply.error_text());
    Ok(reply)
}

/// The connection-level commands a script may call: they act on the
/// script (SELECT), wait for its commit (PUBLISH) or answer at once.
fn connection_command(
    open: &mut Open<'_>,
    state: &mut ScriptState,
    spec: &'static CommandSpec,
    args: &[Bytes],
) -> Reply {
    let instance = open.instance();
    match spec.name {
        "select" => match int_arg(&args[1]) {
            Ok(db) if db >= 0 && (db as u64) < instance.config.databases as u64 => {
                state.db = db as Db;
                crate::reply::OK
            }
            Ok(_) => Reply::error(errors::DB_OUT_OF_RANGE),
            Err(e) => e.into_reply(),
        },
        "publish" | "spublish" => {
            let receivers = open.publish_after_commit(args[1].clone(), args[2].clone());
            Reply::Int(receivers as i64)
        }
        "ping" => match args.get(1) {
            Some(message) => Reply::Bulk(message.clone()),
            None => Reply::Status("PONG"),
        },
        "echo" => Reply::Bulk(args[1].clone()),
        "time" => {
            let us = now_us();
            Reply::Array(vec![
                Reply::Bulk(Bytes::from((us / 1_000_000).to_string())),
                Reply::Bulk(Bytes::from((us % 1_000_000).to_string())),
            ])
        }
        _ => Reply::error(errors::script_unsupported(spec.name)),
    }
}
