//! The one path a command takes once its request is framed: checked
//! against the table (by the caller, once), AUTH, MULTI queueing, the
//! subscribed-mode rules, then its family's code — data commands through
//! the group-commit lanes, the rest against the session. EXEC runs its
//! queue here too, so a queued command runs exactly as it would alone.

use bytes::Bytes;

use super::Session;
use super::batch::{self, Batcher, Job};
use super::errors::{self, CmdError, CmdResult, err};
use super::{CommandSpec, Ctx, Handler, table, transaction};
use crate::clock::now_ms;
use crate::reply::Reply;
use crate::store::{Access, MAX_RETRIES, StoreError, retry_delay};

/// Commands a RESP2 connection may run while subscribed.
const SUBSCRIBED_ALLOWED: [&str; 9] = [
    "subscribe",
    "psubscribe",
    "unsubscribe",
    "punsubscribe",
    "ssubscribe",
    "sunsubscribe",
    "ping",
    "quit",
    "reset",
];
/// Commands that run at once even inside MULTI.
const NOT_QUEUED: [&str; 6] = ["exec", "discard", "multi", "watch", "quit", "reset"];

/// Whether a command that went through [`table::check`] runs now: not
/// refused before running (NOAUTH, subscribed mode), not queued in MULTI.
/// What MONITOR shows.
pub fn will_run(conn: &Session, spec: &CommandSpec) -> bool {
    let refused = (conn.needs_auth() && !spec.has_flag("no-auth"))
        || (!conn.resp3 && conn.is_subscribed() && !SUBSCRIBED_ALLOWED.contains(&spec.name));
    let queued = conn.multi.is_some() && !NOT_QUEUED.contains(&spec.name);
    !refused && !queued
}

/// Runs (or queues) a request that went through [`table::check`].
pub async fn dispatch(
    conn: &mut Session,
    batcher: &Batcher,
    args: Vec<Bytes>,
    checked: Result<&'static CommandSpec, Bytes>,
) -> Reply {
    let spec = match checked {
        Ok(spec) => spec,
        Err(text) => {
            if args[0].eq_ignore_ascii_case(b"exec") {
                // A malformed EXEC aborts the transaction (if any) at once.
                conn.multi = None;
                conn.watched.clear();
                conn.info.lock().unwrap().multi = -1;
                let reason = text.strip_prefix(b"ERR ").unwrap_or(&text);
                let mut abort = errors::EXECABORT_BECAUSE.as_bytes().to_vec();
                abort.extend_from_slice(reason);
                return Reply::error(abort);
            }
            if let Some(multi) = &mut conn.multi {
                multi.dirty = true;
            }
            return Reply::Error(text);
        }
    };
    conn.touch_info(spec, &args);
    if conn.needs_auth() && !spec.has_flag("no-auth") {
        return Reply::error(errors::NOAUTH);
    }
    if let Some(multi) = &mut conn.multi
        && !NOT_QUEUED.contains(&spec.name)
    {
        multi.queue.push((spec, args));
        conn.info.lock().unwrap().multi = multi.queue.len() as i64;
        return Reply::Status("QUEUED");
    }
    if !conn.resp3 && conn.is_subscribed() && !SUBSCRIBED_ALLOWED.contains(&spec.name) {
        return Reply::error(errors::not_while_subscribed(&spec.full_name(&args)));
    }
    call(conn, batcher, spec, args).await
}

/// Runs one validated command.
pub async fn call(
    conn: &mut Session,
    batcher: &Batcher,
    spec: &'static CommandSpec,
    args: Vec<Bytes>,
) -> Reply {
    if conn.shared.config.panic_on_command.as_deref() == Some(spec.name) {
        panic!("panic_on_command {}", spec.name);
    }
    let result = match spec.handler {
        Handler::Blocking(_, on) if !conn.deny_blocking => {
            return super::blocking::run(conn, batcher, spec, args, on).await;
        }
        Handler::Data(_) | Handler::Blocking(..) => {
            return run_data(conn, batcher, spec, args).await;
        }
        Handler::Exec => exec(conn, batcher).await,
        Handler::Session(run) => run(conn, spec, &args).await,
        Handler::None => err(errors::unhandled(spec.name)),
    };
    result.unwrap_or_else(CmdError::into_reply)
}

/// Runs a data command: writes through the group-commit lanes, reads
/// directly. Either way the reply follows the commit.
pub(crate) async fn run_data(
    conn: &mut Session,
    batcher: &Batcher,
    spec: &'static CommandSpec,
    args: Vec<Bytes>,
) -> Reply {
    let job = Job::new(conn, spec, args);
    if spec.is_write() {
        batcher.write(&conn.shared, job).await
    } else {
        batch::run_alone(&conn.shared, &job).await
    }
}

/// EXEC: the queued block in one store transaction, rerun after conflicts.
async fn exec(conn: &mut Session, batcher: &Batcher) -> CmdResult {
    let Some(multi) = conn.multi.take() else {
        return err(errors::EXEC_WITHOUT_MULTI);
    };
    if multi.dirty {
        transaction::end_multi(conn);
        return err(errors::EXECABORT);
    }
    let mut attempt = 0;
    let start_db = conn.db;
    conn.deny_blocking = true;
    let result = loop {
        match exec_block(conn, batcher, &multi.queue).await {
            Err(CmdError::Store(StoreError::Conflict(_))) if attempt < MAX_RETRIES => {
                attempt += 1;
                // A SELECT inside the block ran; start over from the same db.
                conn.db = start_db;
                tokio::time::sleep(retry_delay(attempt)).await;
            }
            other => break other,
        }
    };
    conn.deny_blocking = false;
    transaction::end_multi(conn);
    result
}

/// Runs a queued block as one transaction; nil when a watched key changed.
async fn exec_block(
    conn: &mut Session,
    batcher: &Batcher,
    queue: &[(&'static CommandSpec, Vec<Bytes>)],
) -> CmdResult {
    let write = queue.iter().any(|(spec, _)| spec.is_write());
    let mut txn = conn
        .shared
        .store
        .begin(if write {
            Access::Write
        } else {
            Access::Snapshot
        })
        .await?;
    let now = now_ms();
    for w in &conn.watched {
        if transaction::live_version(&mut *txn, w.db, &w.key, now).await? != w.version {
            return Ok(Reply::NilArray);
        }
    }
    let mut replies = Vec::with_capacity(queue.len());
    let mut events = Vec::new();
    let shared = conn.shared.clone();
    for (spec, args) in queue {
        if !spec.family.is_data() {
            replies.push(Box::pin(call(conn, batcher, spec, args.clone())).await);
            continue;
        }
        let mut ctx = Ctx {
            txn: &mut *txn,
            db: conn.db,
            now: now_ms(),
            events: std::mem::take(&mut events),
            shared: &shared,
            resp3: conn.resp3,
            touches: !conn.no_touch,
        };
        let result = table::execute(&mut ctx, spec, args).await;
        events = ctx.events;
        match result {
            Ok(reply) => replies.push(reply),
            Err(CmdError::Reply(text)) => replies.push(Reply::Error(text)),
            // The store failed: nothing of the block is applied.
            Err(e @ CmdError::Store(_)) => return Err(e),
        }
    }
    shared.events.commit(txn, &events).await?;
    Ok(Reply::Array(replies))
}
