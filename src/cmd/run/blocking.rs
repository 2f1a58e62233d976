//! Blocking commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP; BZPOPMIN
//! and the like the same way): a non-blocking attempt, retried as the
//! keys change until it yields something or the timeout passes.
//!
//! A blocking command's table row ([`crate::cmd::spec::Handler::Blocking`]) names its
//! attempt, an ordinary data command that answers nil when it found
//! nothing (exactly what Redis answers inside MULTI, where it never
//! blocks), and a function naming the keys it waits on and its timeout's
//! argument. [`run`] queues the client on those keys in this instance's
//! registry ([`crate::events::waiters`]) before the first attempt, so no
//! write after it goes unnoticed; the relay wakes the first waiter of a
//! key whenever an event of that key is handed on (from any instance);
//! each attempt is a write transaction of its own through the write lanes
//! (the one commit path, with its events), so an element goes to exactly
//! one client. The first waiter of a key also looks again every second,
//! a safety net should a wake-up be lost.
//!
//! A new blocking command on a sorted set is a table row: its attempt
//! (pop, or nil) and its keys (e.g. `block_on_keys` in `list.rs`).

use std::time::Duration;

use bytes::Bytes;

use crate::cmd::args::{timeout, timeout_ms};
use crate::cmd::errors::{self, CmdError};
use crate::cmd::run::lanes::{self, Batcher};
use crate::cmd::run::txn::{Answer, Job};
use crate::cmd::session::Session;
use crate::cmd::spec::{BlockOn, CommandSpec, Wait};
use crate::instance::clients::UnblockHow;
use crate::reply::Reply;
use crate::store::StoreError;

/// How often the first waiter of a key looks without being woken.
const FALLBACK_POLL: Duration = Duration::from_secs(1);

/// True when an attempt's answer means it found nothing.
fn found_nothing(answer: &Answer) -> bool {
    matches!(answer, Ok(Reply::Nil | Reply::NilArray))
}

/// True when a blocked client's attempt failed in a way it waits out: the
/// database unreachable or busy, or a key of another kind (Redis 7.0 keeps
/// such a client blocked until the key holds what it waits for).
fn still_waiting(answer: &Answer) -> bool {
    matches!(
        answer,
        Err(CmdError::WrongType
            | CmdError::Store(
                StoreError::Unavailable(_) | StoreError::Loading | StoreError::Conflict(_)
            ))
    )
}

/// Runs a blocking command outside MULTI: attempts, waits on its keys,
/// attempts again when woken; ends at the first non-nil reply, the
/// timeout (a nil array, as Redis), CLIENT UNBLOCK, CLIENT KILL or
/// shutdown. Its client leaves the queues however it ends (also when the
/// connection drops this future).
pub async fn run(
    session: &mut Session,
    batcher: &Batcher,
    spec: &'static CommandSpec,
    mut args: Vec<Bytes>,
    on: fn(&[Bytes]) -> BlockOn,
) -> Reply {
    let block = on(&args);
    if let Some(instead) = block.instead {
        return instead(session, spec, &args)
            .await
            .unwrap_or_else(CmdError::into_reply);
    }
    let wait = match block.wait {
        Wait::Seconds(at) => args.get(at).map(|a| timeout(a)),
        Wait::Millis(at) => args.get(at).map(|a| timeout_ms(a)),
        Wait::Never => None,
    };
    let wait = match wait {
        Some(Ok(wait)) => wait,
        // The attempt answers the error, in Redis's order of checks (or,
        // without a timeout, is all there is).
        _ => {
            return batcher
                .run(session, spec, args)
                .await
                .unwrap_or_else(CmdError::into_reply);
        }
    };
    let deadline = wait.and_then(|d| tokio::time::Instant::now().checked_add(d));
    let instance = session.instance.clone();
    let kill = session.kill.clone();
    let unblock = session.unblock.clone();
    let info = session.info.clone();
    let mut shutdown = instance.shutdown.clone();
    let mut waiter = instance
        .events
        .waiters
        .register(session.db, &block.keys, block.every);
    if let Some(resolve) = block.resolve {
        let mut job = Job::new(session, spec, args.clone());
        job.body = Some(resolve);
        match lanes::run_alone(&instance, &job).await {
            Ok(Reply::Array(resolved)) => {
                args = resolved
                    .into_iter()
                    .filter_map(|r| match r {
                        Reply::Bulk(b) => Some(b),
                        _ => None,
                    })
                    .collect();
            }
            other => return other.unwrap_or_else(CmdError::into_reply),
        }
    }
    let mut blocked = None;
    loop {
        waiter.attempting();
        let mut job = Job::new(session, spec, args.clone());
        job.blocked = blocked.is_some();
        let answer = batcher.run_job(&instance, job).await;
        // Once blocked, a key turned into another kind keeps the client
        // waiting (as Redis 7.0 does), and so does a database outage.
        if !found_nothing(&answer) && (blocked.is_none() || !still_waiting(&answer)) {
            waiter.served();
            return answer.unwrap_or_else(CmdError::into_reply);
        }
        waiter.missed();
        if blocked.is_none() {
            blocked = Some(unblock.block(&info, &instance.metrics));
        }
        if instance.is_shutting_down() {
            return Reply::error(errors::SHUTTING_DOWN);
        }
        let poll = waiter.is_first();
        let until_deadline = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = waiter.woken() => {}
            _ = tokio::time::sleep(FALLBACK_POLL), if poll => {}
            _ = until_deadline => return Reply::NilArray,
            _ = shutdown.changed() => return Reply::error(errors::SHUTTING_DOWN),
            _ = kill.notified() => {
                // Handed back: the connection closes on it.
                kill.notify_one();
                return Reply::NilArray;
            }
            how = unblock.requested() => {
                return match how {
                    UnblockHow::Timeout => Reply::NilArray,
                    UnblockHow::Error => Reply::error(errors::UNBLOCKED),
                };
            }
        }
    }
}
