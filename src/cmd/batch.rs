//! Running data commands against the store, and group commit: write
//! commands that arrive together share one store transaction, and a
//! client's pipelined reads share one read session.
//!
//! Writes go to a fixed set of lanes (one for SQLite, which has one writer
//! anyway; several for MySQL/TiDB), chosen by the command's first key, so
//! commands on one key keep their order. A lane takes every job waiting for
//! it (up to [`MAX_BATCH`]), runs them one after another in one
//! transaction, commits once, and only then answers each. A command that
//! fails with a Redis error changed nothing, so it fails alone; if the
//! store fails (a conflict, a limit), the batch is rolled back and each
//! command reruns in a transaction of its own.
//!
//! Before the commands of a transaction run, the store is told every key
//! they name ([`Txn::prefetch`](crate::store::Txn::prefetch)), so a server
//! database reads (and locks) them all in one statement.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use tracing::debug;

use super::errors::CmdError;
use super::shared::Shared;
use super::{CommandSpec, Ctx, Session, table};
use crate::clock::now_ms;
use crate::reply::Reply;
use crate::store::{Access, Db, StoreError, retry_conflicts};

/// Most commands in one group commit.
const MAX_BATCH: usize = 64;

/// One data command and the connection state it runs with.
pub struct Job {
    pub spec: &'static CommandSpec,
    pub args: Vec<Bytes>,
    pub db: Db,
    pub resp3: bool,
    /// The client is not in CLIENT NO-TOUCH mode.
    pub touches: bool,
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
        }
    }
}

/// Every key the jobs name, sorted and without duplicates: the one order
/// in which a transaction takes their locks.
fn keys_of(jobs: &[&Job]) -> Vec<(Db, Bytes)> {
    let mut keys: Vec<(Db, Bytes)> = jobs
        .iter()
        .flat_map(|job| {
            table::key_args(job.spec, &job.args)
                .into_iter()
                .map(|key| (job.db, key.clone()))
        })
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Runs commands in one transaction of the given access; the replies come
/// back only after the commit.
async fn run_together(
    shared: &Shared,
    access: Access,
    jobs: &[&Job],
) -> Result<Vec<Reply>, StoreError> {
    let mut txn = shared.store.begin(access).await?;
    if shared.store.prefetches() {
        let keys = keys_of(jobs);
        if !keys.is_empty() {
            txn.prefetch(&keys).await?;
        }
    }
    let mut events = Vec::new();
    let mut replies = Vec::with_capacity(jobs.len());
    for job in jobs {
        let mut ctx = Ctx {
            txn: &mut *txn,
            db: job.db,
            now: now_ms(),
            events: std::mem::take(&mut events),
            shared,
            resp3: job.resp3,
            touches: job.touches,
        };
        let result = table::execute(&mut ctx, job.spec, &job.args).await;
        events = ctx.events;
        match result {
            Ok(reply) => replies.push(reply),
            Err(CmdError::Reply(text)) => replies.push(Reply::Error(text)),
            Err(CmdError::Store(e)) => return Err(e),
        }
    }
    shared.events.commit(txn, &events).await?;
    Ok(replies)
}

/// Runs one command in its own transaction, rerunning it after deadlocks
/// and write conflicts a bounded number of times.
pub async fn run_alone(shared: &Shared, job: &Job) -> Reply {
    let jobs = [job];
    match retry_conflicts(|| run_together(shared, job.spec.access(), &jobs)).await {
        Ok(mut replies) => replies.pop().unwrap_or(Reply::Nil),
        Err(e) => Reply::error(super::errors::store_error(&e)),
    }
}

/// Runs a client's pipelined reads (commands whose access is
/// [`Access::Read`]) in one read session, so their keys are read together;
/// the replies come back in order. If the store fails, each reruns alone,
/// so a failure answers only the command it belongs to.
pub async fn read_many(shared: &Shared, jobs: &[Job]) -> Vec<Reply> {
    if let [job] = jobs {
        return vec![run_alone(shared, job).await];
    }
    let refs: Vec<&Job> = jobs.iter().collect();
    match run_together(shared, Access::Read, &refs).await {
        Ok(replies) => replies,
        Err(e) => {
            debug!(error = %e, size = jobs.len(), "pipelined reads failed together; running them one by one");
            let mut replies = Vec::with_capacity(jobs.len());
            for job in jobs {
                replies.push(run_alone(shared, job).await);
            }
            replies
        }
    }
}

struct Queued {
    job: Job,
    done: oneshot::Sender<Reply>,
}

/// The write lanes. Connections hold clones; when the last clone is
/// dropped (after shutdown drained the connections) the lanes stop.
#[derive(Clone)]
pub struct Batcher {
    lanes: Arc<Vec<mpsc::UnboundedSender<Queued>>>,
}

impl Batcher {
    /// Starts `lanes` lane tasks on `shared`; returns the handle and the
    /// tasks (to await at shutdown).
    pub fn start(
        shared: &Arc<Shared>,
        lanes: usize,
    ) -> (Batcher, Vec<tokio::task::JoinHandle<()>>) {
        let mut senders = Vec::with_capacity(lanes);
        let mut tasks = Vec::with_capacity(lanes);
        for _ in 0..lanes.max(1) {
            let (tx, rx) = mpsc::unbounded_channel();
            senders.push(tx);
            tasks.push(tokio::spawn(lane(shared.clone(), rx)));
        }
        (
            Batcher {
                lanes: Arc::new(senders),
            },
            tasks,
        )
    }

    /// The lane of a command: by its first key, so one key keeps one lane.
    fn lane_of(&self, job: &Job) -> usize {
        let key = (job.spec.first_key > 0)
            .then(|| job.args.get(job.spec.first_key as usize))
            .flatten();
        key.map_or(0, |k| crate::store::key_hash(k) as usize % self.lanes.len())
    }

    /// Runs a write command through its key's lane.
    pub async fn write(&self, shared: &Shared, job: Job) -> Reply {
        let lane = self.lane_of(&job);
        let mut replies = self.submit(shared, lane, vec![job]).await;
        replies.pop().unwrap_or(Reply::Nil)
    }

    /// Runs a client's pipelined writes in order through one lane (the
    /// first one's), so they execute in the order sent and may share one
    /// commit; the replies come back in that order.
    pub async fn write_many(&self, shared: &Shared, jobs: Vec<Job>) -> Vec<Reply> {
        let lane = jobs.first().map_or(0, |j| self.lane_of(j));
        self.submit(shared, lane, jobs).await
    }

    async fn submit(&self, shared: &Shared, lane: usize, jobs: Vec<Job>) -> Vec<Reply> {
        let mut answers = Vec::with_capacity(jobs.len());
        let mut refused = Vec::new();
        for job in jobs {
            let (done, answer) = oneshot::channel();
            match self.lanes[lane].send(Queued { job, done }) {
                Ok(()) => answers.push(Ok(answer)),
                // The lanes are gone (shutting down): run it here.
                Err(e) => {
                    refused.push(e.0.job);
                    answers.push(Err(refused.len() - 1));
                }
            }
        }
        let mut replies = Vec::with_capacity(answers.len());
        for answer in answers {
            replies.push(match answer {
                Ok(answer) => answer
                    .await
                    .unwrap_or_else(|_| Reply::error(super::errors::SHUTTING_DOWN)),
                Err(i) => run_alone(shared, &refused[i]).await,
            });
        }
        replies
    }
}

async fn lane(shared: Arc<Shared>, mut queue: mpsc::UnboundedReceiver<Queued>) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(more) => batch.push(more),
                Err(_) => break,
            }
        }
        shared.metrics.batch_sizes.observe(batch.len() as u64);
        if batch.len() == 1 {
            let Queued { job, done } = batch.pop().unwrap();
            let _ = done.send(run_alone(&shared, &job).await);
            continue;
        }
        let jobs: Vec<&Job> = batch.iter().map(|q| &q.job).collect();
        match run_together(&shared, Access::Write, &jobs).await {
            Ok(replies) => {
                for (queued, reply) in batch.into_iter().zip(replies) {
                    let _ = queued.done.send(reply);
                }
            }
            Err(e) => {
                debug!(error = %e, size = batch.len(), "group commit failed; running its commands one by one");
                for Queued { job, done } in batch {
                    let _ = done.send(run_alone(&shared, &job).await);
                }
            }
        }
    }
}
