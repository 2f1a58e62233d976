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

use crate::cmd::errors::{self, CmdError};
use crate::cmd::key_args::key_args;
use crate::cmd::run::script;
use crate::cmd::run::txn::{Answer, Job, Open};
use crate::cmd::session::Session;
use crate::cmd::spec::CommandSpec;
use crate::instance::state::Instance;
use crate::reply::Reply;
use crate::store::{Access, StoreError, retry_conflicts};

/// Most commands in one group commit.
const MAX_BATCH: usize = 64;

/// Runs commands (data commands and scripts) in one transaction of the
/// given access; the replies come back only after the commit.
pub async fn run_together(
    instance: &Instance,
    access: Access,
    jobs: &[&Job],
) -> Result<Vec<Answer>, StoreError> {
    let mut open = Open::begin(instance, access).await?;
    open.prefetch(jobs).await?;
    let mut replies = Vec::with_capacity(jobs.len());
    for job in jobs {
        replies.push(script::run_job(&mut open, job).await?);
    }
    open.commit().await?;
    Ok(replies)
}

/// Runs one command in its own transaction, rerunning it after deadlocks
/// and write conflicts a bounded number of times.
pub async fn run_alone(instance: &Instance, job: &Job) -> Answer {
    let jobs = [job];
    match retry_conflicts(|| run_together(instance, job.spec.access(), &jobs)).await {
        Ok(mut answers) => answers.pop().unwrap_or(Ok(Reply::Nil)),
        Err(e) => Err(CmdError::Store(e)),
    }
}

/// Runs a client's pipelined reads (commands whose access is
/// [`Access::Read`]) in one read session, so their keys are read together;
/// the replies come back in order. If the store fails, each reruns alone,
/// so a failure answers only the command it belongs to.
pub async fn read_many(instance: &Instance, jobs: &[Job]) -> Vec<Answer> {
    if let [job] = jobs {
        return vec![run_alone(instance, job).await];
    }
    let refs: Vec<&Job> = jobs.iter().collect();
    match run_together(instance, Access::Read, &refs).await {
        Ok(replies) => replies,
        Err(e) => {
            debug!(error = %e, size = jobs.len(), "pipelined reads failed together; running them one by one");
            let mut replies = Vec::with_capacity(jobs.len());
            for job in jobs {
                replies.push(run_alone(instance, job).await);
            }
            replies
        }
    }
}

struct Queued {
    job: Job,
    done: oneshot::Sender<Answer>,
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
        instance: &Arc<Instance>,
        lanes: usize,
    ) -> (Batcher, Vec<tokio::task::JoinHandle<()>>) {
        let mut senders = Vec::with_capacity(lanes);
        let mut tasks = Vec::with_capacity(lanes);
        for _ in 0..lanes.max(1) {
            let (tx, rx) = mpsc::unbounded_channel();
            senders.push(tx);
            tasks.push(tokio::spawn(lane(instance.clone(), rx)));
        }
        (
            Batcher {
                lanes: Arc::new(senders),
            },
            tasks,
        )
    }

    /// The lane of a command: by its first key, so one key keeps one lane
    /// (a script's first declared key).
    fn lane_of(&self, job: &Job) -> usize {
        let key = if job.spec.first_key > 0 {
            job.args.get(job.spec.first_key as usize)
        } else {
            key_args(job.spec, &job.args).first().copied()
        };
        key.map_or(0, |k| crate::store::key_hash(k) as usize % self.lanes.len())
    }

    /// Runs a data command as `session` would alone: a write through its
    /// key's lane, a read directly. Either way the reply follows the commit.
    pub async fn run(
        &self,
        session: &Session,
        spec: &'static CommandSpec,
        args: Vec<Bytes>,
    ) -> Answer {
        let job = Job::new(session, spec, args);
        if spec.writes() {
            self.write(&session.instance, job).await
        } else {
            run_alone(&session.instance, &job).await
        }
    }

    /// Runs a write command through its key's lane.
    pub async fn write(&self, instance: &Instance, job: Job) -> Answer {
        let lane = self.lane_of(&job);
        let mut answers = self.submit(instance, lane, vec![job]).await;
        answers.pop().unwrap_or(Ok(Reply::Nil))
    }

    /// Runs a client's pipelined writes in order through one lane (the
    /// first one's), so they execute in the order sent and may share one
    /// commit; the replies come back in that order.
    pub async fn write_many(&self, instance: &Instance, jobs: Vec<Job>) -> Vec<Answer> {
        let lane = jobs.first().map_or(0, |j| self.lane_of(j));
        self.submit(instance, lane, jobs).await
    }

    async fn submit(&self, instance: &Instance, lane: usize, jobs: Vec<Job>) -> Vec<Answer> {
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
                    .unwrap_or_else(|_| Err(CmdError::Reply(errors::SHUTTING_DOWN.into()))),
                Err(i) => run_alone(instance, &refused[i]).await,
            });
        }
        replies
    }
}

async fn lane(instance: Arc<Instance>, mut queue: mpsc::UnboundedReceiver<Queued>) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(more) => batch.push(more),
                Err(_) => break,
            }
        }
        instance.metrics.batch_sizes.observe(batch.len() as u64);
        if batch.len() == 1 {
            let Queued { job, done } = batch.pop().unwrap();
            let _ = done.send(run_alone(&instance, &job).await);
            continue;
        }
        let jobs: Vec<&Job> = batch.iter().map(|q| &q.job).collect();
        match run_together(&instance, Access::Write, &jobs).await {
            Ok(replies) => {
                for (queued, reply) in batch.into_iter().zip(replies) {
                    let _ = queued.done.send(reply);
                }
            }
            Err(e) => {
                debug!(error = %e, size = batch.len(), "group commit failed; running its commands one by one");
                for Queued { job, done } in batch {
                    let _ = done.send(run_alone(&instance, &job).await);
                }
            }
        }
    }
}
