//! EXEC: the queued MULTI block in one store transaction, through the same
//! [`Open`] transaction as group commit, rerun after conflicts; nil when a
//! WATCHed key changed.

use bytes::Bytes;

use crate::clock::now_ms;
use crate::cmd::errors::{self, CmdError, CmdResult, err};
use crate::cmd::family::transaction;
use crate::cmd::key_args::key_args;
use crate::cmd::run::txn::{Job, Open};
use crate::cmd::run::{direct, script};
use crate::cmd::session::Session;
use crate::cmd::spec::CommandSpec;
use crate::cmd::table;
use crate::reply::Reply;
use crate::store::{Access, MAX_RETRIES, StoreError, retry_delay};

/// The rows of a queued block (each passed the table's check when queued).
pub fn rows(queue: &[Vec<Bytes>]) -> impl Iterator<Item = (&'static CommandSpec, &Vec<Bytes>)> {
    queue
        .iter()
        .filter_map(|args| Some((table::lookup(&args[0])?, args)))
}

/// EXEC: the queued block in one store transaction, rerun after conflicts.
pub async fn exec(session: &mut Session) -> CmdResult {
    let Some(multi) = session.multi.take() else {
        return err(errors::EXEC_WITHOUT_MULTI);
    };
    if multi.dirty {
        transaction::end_multi(session);
        return err(errors::EXECABORT);
    }
    if session.tracking {
        for (spec, args) in rows(&multi.queue).filter(|(spec, _)| spec.tracks_reads()) {
            session.track_reads(key_args(spec, args));
        }
    }
    let mut attempt = 0;
    let start_db = session.db;
    session.deny_blocking = true;
    let result = loop {
        match exec_block(session, &multi.queue).await {
            Err(CmdError::Store(StoreError::Conflict(_))) if attempt < MAX_RETRIES => {
                attempt += 1;
                // A SELECT inside the block ran; start over from the same db.
                session.db = start_db;
                tokio::time::sleep(retry_delay(attempt)).await;
            }
            other => break other,
        }
    };
    session.deny_blocking = false;
    transaction::end_multi(session);
    result
}

/// Runs a queued block as one transaction; nil when a watched key changed.
async fn exec_block(session: &mut Session, queue: &[Vec<Bytes>]) -> CmdResult {
    let write = rows(queue).any(|(spec, _)| spec.writes());
    let instance = session.instance.clone();
    let access = if write {
        Access::Write
    } else {
        Access::Snapshot
    };
    let mut open = Open::begin(&instance, access).await?;
    // The keys of the block's leading data commands (up to a SELECT or
    // another command that is not data, after which the database a key
    // is in may differ): read, and locked when writing, in one go.
    let leading: Vec<Job> = rows(queue)
        .map_while(|(spec, args)| {
            spec.runs_in_txn()
                .then(|| Job::new(session, spec, args.clone()))
        })
        .collect();
    open.prefetch(&leading.iter().collect::<Vec<_>>()).await?;
    let now = now_ms();
    for w in &session.watched {
        if transaction::live_version(open.txn(), w.db, &w.key, now).await? != w.version {
            return Ok(Reply::NilArray);
        }
    }
    let mut replies = Vec::with_capacity(queue.len());
    for (spec, args) in rows(queue) {
        if spec.runs_in_txn() {
            let job = Job::new(session, spec, args.clone());
            // A store failure fails the block: nothing of it is applied.
            let answer = script::run_job(&mut open, &job).await?;
            replies.push(answer.unwrap_or_else(CmdError::into_reply));
        } else {
            replies.push(direct::run(session, spec, args).await);
        }
    }
    open.commit().await?;
    Ok(Reply::Array(replies))
}
