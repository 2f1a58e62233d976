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
//!
//! A script that runs past `busy-reply-threshold` makes its lane busy:
//! the commands waiting for that lane, and those that come while it is
//! busy, are answered Redis's `BUSY` error instead of waiting. So are
//! those in the script's own batch queued behind it: a job is claimed when
//! it starts, not when its batch forms (one queued ahead of the script
//! has started, and waits for it).

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use tracing::debug;

use crate::cmd::errors::{self, CmdError};
use crate::cmd::key_args::key_args;
use crate::cmd::run::script;
use crate::cmd::run::txn::{Answer, Job, Open};
use crate::cmd::session::Session;
use crate::cmd::spec::{CommandSpec, Handler, ScriptCall};
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
    run_claimed(instance, access, jobs, |_| true).await
}

/// Like [`run_together`], but runs only the jobs `claim` lets run, asked
/// as each one's turn comes; the others are answered [`UNCLAIMED`] (their
/// client was answered already).
async fn run_claimed(
    instance: &Instance,
    access: Access,
    jobs: &[&Job],
    claim: impl Fn(usize) -> bool,
) -> Result<Vec<Answer>, StoreError> {
    let mut open = Open::begin(instance, access).await?;
    open.prefetch(jobs).await?;
    let mut replies = Vec::with_capacity(jobs.len());
    for (i, job) in jobs.iter().enumerate() {
        replies.push(if claim(i) {
            script::run_job(&mut open, job).await?
        } else {
            Err(CmdError::Reply(UNCLAIMED.into()))
        });
    }
    open.commit().await?;
    Ok(replies)
}

/// The answer of a job its lane did not run: its client had been told
/// BUSY, so nobody reads it.
const UNCLAIMED: &str = "ERR not run: answered BUSY";

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

// A queued job's state: waiting, taken by its lane, or answered BUSY.
const WAITING: u8 = 0;
const TAKEN: u8 = 1;
const REFUSED: u8 = 2;

struct Queued {
    job: Job,
    done: oneshot::Sender<Answer>,
    state: Arc<AtomicU8>,
}

impl Queued {
    /// True if the lane may run it (the client was not told BUSY); from
    /// then on it is never told BUSY. Asked again (its batch reruns job by
    /// job), the same answer.
    fn claim(&self) -> bool {
        match self
            .state
            .compare_exchange(WAITING, TAKEN, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => true,
            Err(now) => now == TAKEN,
        }
    }

    /// True if its client was told BUSY.
    fn refused(&self) -> bool {
        self.state.load(Ordering::Acquire) == REFUSED
    }
}

/// What a lane is running past the busy threshold: the BUSY text to
/// answer (it names SCRIPT KILL or FUNCTION KILL).
type Busy = Option<&'static str>;

/// One lane: its queue, and whether a script holds it past the threshold.
struct Lane {
    queue: mpsc::UnboundedSender<Queued>,
    busy: tokio::sync::watch::Sender<Busy>,
}

/// The write lanes. Connections hold clones; when the last clone is
/// dropped (after shutdown drained the connections) the lanes stop.
#[derive(Clone)]
pub struct Batcher {
    lanes: Arc<Vec<Lane>>,
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
            let (queue, rx) = mpsc::unbounded_channel();
            let busy = tokio::sync::watch::Sender::new(None);
            tasks.push(tokio::spawn(lane(instance.clone(), rx, busy.clone())));
            senders.push(Lane { queue, busy });
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
        self.run_job(&session.instance, Job::new(session, spec, args))
            .await
    }

    /// Runs a job as [`Batcher::run`] runs a command.
    pub async fn run_job(&self, instance: &Instance, job: Job) -> Answer {
        if job.spec.writes() {
            self.write(instance, job).await
        } else {
            run_alone(instance, &job).await
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
        let lane = &self.lanes[lane];
        let mut answers = Vec::with_capacity(jobs.len());
        let mut refused = Vec::new();
        for job in jobs {
            let (done, answer) = oneshot::channel();
            let state = Arc::new(AtomicU8::new(WAITING));
            match lane.queue.send(Queued {
                job,
                done,
                state: state.clone(),
            }) {
                Ok(()) => answers.push(Ok((answer, state))),
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
                Ok((answer, state)) => until_answered_or_busy(lane, answer, &state).await,
                Err(i) => run_alone(instance, &refused[i]).await,
            });
        }
        replies
    }
}

/// A queued job's answer, or BUSY if a script holds its lane past the
/// threshold before the lane takes the job.
async fn until_answered_or_busy(
    lane: &Lane,
    mut answer: oneshot::Receiver<Answer>,
    state: &AtomicU8,
) -> Answer {
    let shut = |_| Err(CmdError::Reply(errors::SHUTTING_DOWN.into()));
    let mut busy = lane.busy.subscribe();
    tokio::select! {
        answer = &mut answer => return answer.unwrap_or_else(shut),
        text = busy.wait_for(Option::is_some) => {
            let text = text.ok().and_then(|t| *t);
            if let Some(text) = text
                && state
                    .compare_exchange(WAITING, REFUSED, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            {
                return Err(CmdError::Reply(text.into()));
            }
        }
    }
    answer.await.unwrap_or_else(shut)
}

/// The BUSY text for a batch holding a script, if it does.
fn busy_text(jobs: &[&Job]) -> Busy {
    jobs.iter().find_map(|job| match job.spec.handler {
        Handler::Script(ScriptCall::Fcall) => Some(errors::BUSY_FUNCTION),
        Handler::Script(_) => Some(errors::BUSY_SCRIPT),
        _ => None,
    })
}

/// Runs `work` (a batch of `jobs`); if it holds a script that runs past
/// the busy threshold, the lane is busy until it ends.
async fn marking_busy<T>(
    instance: &Instance,
    busy: &tokio::sync::watch::Sender<Busy>,
    jobs: &[&Job],
    work: impl std::future::Future<Output = T>,
) -> T {
    let Some(text) = busy_text(jobs) else {
        return work.await;
    };
    let threshold = instance.busy_reply_threshold();
    // A timer task of its own: the script may hold this task's thread
    // while it runs (see `script`).
    let marker = busy.clone();
    let timer = tokio::spawn(async move {
        tokio::time::sleep(threshold).await;
        marker.send_replace(Some(text));
    });
    let done = work.await;
    timer.abort();
    let _ = timer.await;
    busy.send_if_modified(|busy| busy.take().is_some());
    done
}

async fn alone_marking_busy(
    instance: &Instance,
    busy: &tokio::sync::watch::Sender<Busy>,
    job: &Job,
) -> Answer {
    marking_busy(instance, busy, &[job], run_alone(instance, job)).await
}

async fn lane(
    instance: Arc<Instance>,
    mut queue: mpsc::UnboundedReceiver<Queued>,
    busy: tokio::sync::watch::Sender<Busy>,
) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(more) => batch.push(more),
                Err(_) => break,
            }
        }
        // Those told BUSY meanwhile are not run.
        batch.retain(|q| !q.refused());
        if batch.is_empty() {
            continue;
        }
        instance.metrics.batch_sizes.observe(batch.len() as u64);
        if batch.len() == 1 {
            let queued = batch.pop().unwrap();
            if queued.claim() {
                let answer = alone_marking_busy(&instance, &busy, &queued.job).await;
                let _ = queued.done.send(answer);
            }
            continue;
        }
        let jobs: Vec<&Job> = batch.iter().map(|q| &q.job).collect();
        let together = run_claimed(&instance, Access::Write, &jobs, |i| batch[i].claim());
        let together = async {
            // Its scripts run on this thread, handed off from the runtime
            // once for the batch.
            if busy_text(&jobs).is_some() && script::runs_here() {
                script::off_core(together)
            } else {
                together.await
            }
        };
        match marking_busy(&instance, &busy, &jobs, together).await {
            Ok(replies) => {
                for (queued, reply) in batch.into_iter().zip(replies) {
                    let _ = queued.done.send(reply);
                }
            }
            Err(e) => {
                debug!(error = %e, size = batch.len(), "group commit failed; running its commands one by one");
                for queued in batch {
                    if queued.claim() {
                        let answer = alone_marking_busy(&instance, &busy, &queued.job).await;
                        let _ = queued.done.send(answer);
                    }
                }
            }
        }
    }
}
