//! A transaction's commands: the one function that runs a data command
//! inside an open store transaction ([`Open::run`]), shared by group
//! commit, pipelined reads, EXEC and scripts (which run theirs through
//! [`crate::cmd::run::script`]), and the commit with their events and
//! the messages they published.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use bytes::Bytes;

use crate::clock::now_ms;
use crate::cmd::ctx::Ctx;
use crate::cmd::errors::{self, CmdError, CmdResult, err};
use crate::cmd::helpers::event_view;
use crate::cmd::key_args::key_args;
use crate::cmd::session::Session;
use crate::cmd::spec::{CommandSpec, DataFn, Handler, Props};
use crate::events::tracking::FLUSHED_SETTING;
use crate::instance::state::Instance;
use crate::reply::Reply;
use crate::store::{Access, Db, Event, SETTING_CLASS, StoreError, Txn};

/// What a data command answers: its reply, or its error as a value (the
/// wire turns it into Redis's text; a blocked client tells a WRONGTYPE or
/// an outage from a final answer without reading that text).
pub type Answer = Result<Reply, CmdError>;

/// One data command and the connection state it runs with.
pub struct Job {
    pub spec: &'static CommandSpec,
    pub args: Vec<Bytes>,
    pub db: Db,
    pub resp3: bool,
    /// The client is not in CLIENT NO-TOUCH mode.
    pub touches: bool,
    /// A script's stop flag (SCRIPT KILL): set, the script is not run
    /// again when its batch reruns.
    pub kill: Option<Arc<AtomicBool>>,
    /// Runs instead of the row's handler (a blocking command's
    /// preparation, [`crate::cmd::spec::BlockOn::resolve`]).
    pub body: Option<DataFn>,
    /// A blocking command's attempt after it waited ([`Ctx::blocked`]).
    pub blocked: bool,
    /// The client it runs for (CLIENT TRACKING's NOLOOP).
    pub client: u64,
}

impl Job {
    /// A data command as `session` runs it (its database and protocol).
    pub fn new(session: &Session, spec: &'static CommandSpec, args: Vec<Bytes>) -> Job {
        Job {
            spec,
            args,
            db: session.db,
            resp3: session.resp3,
            touches: !session.no_touch,
            kill: matches!(spec.handler, Handler::Script(_)).then(Default::default),
            body: None,
            blocked: false,
            client: session.id,
        }
    }
}

/// Every key the jobs name, sorted and without duplicates: the one order
/// in which a transaction takes their locks.
fn keys_of(jobs: &[&Job]) -> Vec<(Db, Bytes)> {
    let mut keys: Vec<(Db, Bytes)> = jobs
        .iter()
        .flat_map(|job| {
            key_args(job.spec, &job.args)
                .into_iter()
                .map(|key| (job.db, key.clone()))
        })
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// An open store transaction running commands: the one place a data
/// command meets the store. Group commit, pipelined reads and EXEC (and,
/// next, scripts) all begin one, [`run`](Open::run) their commands in it,
/// and [`commit`](Open::commit) it with the events those commands logged.
pub struct Open<'i> {
    txn: Box<dyn Txn>,
    instance: &'i Instance,
    /// The keyspace events of the commands run so far.
    events: Vec<Event>,
    /// Messages scripts published (channel, message): sent after the
    /// commit, never for a transaction rolled back.
    published: Vec<(Bytes, Bytes)>,
    /// While some client tracks keys: each command's client and the index
    /// of its first event.
    origins: Vec<(u64, usize)>,
}

impl<'i> Open<'i> {
    /// Begins a transaction of the given access.
    pub async fn begin(instance: &'i Instance, access: Access) -> Result<Open<'i>, StoreError> {
        Ok(Open {
            txn: instance.store.begin(access).await?,
            instance,
            events: Vec::new(),
            published: Vec::new(),
            origins: Vec::new(),
        })
    }

    /// The transaction itself, for what is not a command (WATCH's check).
    pub fn txn(&mut self) -> &mut dyn Txn {
        &mut *self.txn
    }

    /// Reads (and, writing, locks) every key the jobs name at once, in
    /// sorted order, where the store gains by it: one statement instead of
    /// one per key, and locks taken in one order by every transaction.
    pub async fn prefetch(&mut self, jobs: &[&Job]) -> Result<(), StoreError> {
        if self.instance.store.prefetches() {
            let keys = keys_of(jobs);
            if !keys.is_empty() {
                self.txn.prefetch(&keys).await?;
            }
        }
        Ok(())
    }

    /// Runs one data command in this transaction: its answer (a reply, or
    /// a Redis error: the command changed nothing), or the store's
    /// failure, which dooms the whole transaction.
    pub async fn run(&mut self, job: &Job) -> Result<Answer, StoreError> {
        if self.instance.events.tracking.active() {
            self.origins.push((job.client, self.events.len()));
        }
        let mut ctx = Ctx {
            txn: &mut *self.txn,
            db: job.db,
            now: now_ms(),
            events: std::mem::take(&mut self.events),
            instance: self.instance,
            resp3: job.resp3,
            touches: job.touches,
            blocked: job.blocked,
        };
        let result = match job.body {
            Some(body) => body(&mut ctx, job.spec, &job.args).await,
            None => execute(&mut ctx, job.spec, &job.args).await,
        };
        self.events = ctx.events;
        match result {
            Err(CmdError::Store(e)) => Err(e),
            answer => Ok(answer),
        }
    }

    /// The instance the transaction runs on.
    pub fn instance(&self) -> &'i Instance {
        self.instance
    }

    /// Publishes a message once the transaction commits (PUBLISH in a
    /// script); the subscribers this instance has now, for the reply.
    pub fn publish_after_commit(&mut self, channel: Bytes, message: Bytes) -> usize {
        let receivers = self.instance.bus.receivers(&channel);
        self.published.push((channel, message));
        receivers
    }

    /// Commits, logging the commands' events and waking their readers
    /// (the one commit-and-wake sequence, [`crate::events`]), then sends
    /// what scripts published.
    pub async fn commit(self) -> Result<(), StoreError> {
        // Client-side caching: this instance's commits invalidate before
        // their replies go out (see `crate::events::tracking`).
        let tracking = &self.instance.events.tracking;
        let writes = self.own_writes();
        let flush = self
            .events
            .iter()
            .any(|e| e.class == SETTING_CLASS && e.name == FLUSHED_SETTING);
        let noted = tracking.committing(&writes, flush);
        let result = self.instance.events.commit(self.txn, &self.events).await;
        tracking.committed(&writes, noted, result.is_ok());
        result?;
        for (channel, message) in &self.published {
            if let Err(e) = self.instance.bus.publish(channel, message).await {
                tracing::warn!(error = %e, "a script's PUBLISH was not sent");
            }
        }
        Ok(())
    }
}

impl Open<'_> {
    /// The (client, key) of each event that invalidates its key, for the
    /// commands whose client was noted (see `origins`).
    fn own_writes(&self) -> Vec<(u64, Bytes)> {
        let mut own = Vec::new();
        for (i, &(client, start)) in self.origins.iter().enumerate() {
            let end = self.origins.get(i + 1).map_or(self.events.len(), |o| o.1);
            for event in &self.events[start..end.max(start)] {
                if crate::events::tracking::invalidates(event.class) {
                    own.push((client, event.key.clone()));
                }
            }
        }
        own
    }
}

/// Runs a data command. `args[0]` is the command name. Every data command
/// passes here, so this is where a write to an event stream's name (SET,
/// DEL, RENAME, EXPIRE, HSET, ... at any of the row's key positions) is
/// refused, before it runs.
async fn execute(ctx: &mut Ctx<'_>, spec: &'static CommandSpec, args: &[Bytes]) -> CmdResult {
    if (spec.is_write() || spec.props.has(Props::WRITES))
        && let Some(key) = key_args(spec, args)
            .into_iter()
            .find(|k| event_view::is_reserved(k))
    {
        return err(errors::read_only_stream(key));
    }
    if spec.touches_keys(ctx.touches) {
        ctx.instance.access.touch(ctx.db, key_args(spec, args));
    }
    match spec.handler {
        Handler::Data(run) | Handler::Blocking(run, _) => run(ctx, spec, args).await,
        _ => err(errors::unhandled(spec.name)),
    }
}
