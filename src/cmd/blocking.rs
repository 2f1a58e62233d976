//! Blocking commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP; BZPOPMIN
//! and the like the same way): a non-blocking attempt, retried as the
//! keys change until it yields something or the timeout passes.
//!
//! A blocking command's table row ([`super::Handler::Blocking`]) names its
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

use super::batch::Batcher;
use super::dispatch::run_data;
use super::errors::{self, CmdError};
use super::shared::UnblockHow;
use super::{CommandSpec, Session};
use crate::reply::Reply;

/// How often the first waiter of a key looks without being woken.
const FALLBACK_POLL: Duration = Duration::from_secs(1);

/// Where a blocking command waits: its keys, and the index of its timeout
/// argument.
pub struct BlockOn {
    pub keys: Vec<Bytes>,
    pub timeout: usize,
}

/// BLPOP, BRPOP, BZPOPMIN, BZPOPMAX: every argument between the name and
/// the timeout, which is last, is a key waited on.
pub fn every_key(args: &[Bytes]) -> BlockOn {
    BlockOn {
        keys: args[1..args.len() - 1].to_vec(),
        timeout: args.len() - 1,
    }
}

/// Parses a timeout in seconds as Redis 7.0 does: a `long double`, times
/// 1000, truncated to milliseconds (out of range counts as negative, as
/// the C cast gives); `None` for 0, which waits forever.
pub fn timeout(arg: &[u8]) -> Result<Option<Duration>, CmdError> {
    let value = super::long_double::parse(arg)
        .ok_or_else(|| CmdError::Reply(errors::TIMEOUT_NOT_FLOAT.into()))?;
    let ms = super::long_double::millis(value).unwrap_or(i64::MIN);
    if ms < 0 {
        return Err(CmdError::Reply(errors::TIMEOUT_NEGATIVE.into()));
    }
    Ok((ms > 0).then(|| Duration::from_millis(ms as u64)))
}

/// True when an attempt's reply means it found nothing.
fn found_nothing(reply: &Reply) -> bool {
    matches!(reply, Reply::Nil | Reply::NilArray)
}

/// True when a blocked client's attempt failed in a way it waits out: the
/// database unreachable, or a key of another kind (Redis 7.0 keeps such a
/// client blocked until the key holds what it waits for).
fn still_waiting(reply: &Reply) -> bool {
    matches!(reply, Reply::Error(text)
        if text.starts_with(b"TRYAGAIN") || text.starts_with(b"LOADING") || text.starts_with(b"WRONGTYPE"))
}

/// Runs a blocking command outside MULTI: attempts, waits on its keys,
/// attempts again when woken; ends at the first non-nil reply, the
/// timeout (a nil array, as Redis), CLIENT UNBLOCK, CLIENT KILL or
/// shutdown. Its client leaves the queues however it ends (also when the
/// connection drops this future).
pub async fn run(
    conn: &mut Session,
    batcher: &Batcher,
    spec: &'static CommandSpec,
    args: Vec<Bytes>,
    on: fn(&[Bytes]) -> BlockOn,
) -> Reply {
    let block = on(&args);
    let wait = match args.get(block.timeout).map(|a| timeout(a)) {
        Some(Ok(wait)) => wait,
        // The attempt answers the error, in Redis's order of checks.
        _ => return run_data(conn, batcher, spec, args).await,
    };
    let deadline = wait.and_then(|d| tokio::time::Instant::now().checked_add(d));
    let shared = conn.shared.clone();
    let kill = conn.kill.clone();
    let unblock = conn.unblock.clone();
    let info = conn.info.clone();
    let mut shutdown = shared.shutdown.clone();
    let mut waiter = shared.events.waiters.register(conn.db, &block.keys);
    let mut blocked = None;
    loop {
        waiter.attempting();
        let reply = run_data(conn, batcher, spec, args.clone()).await;
        // Once blocked, a key turned into another kind keeps the client
        // waiting (as Redis 7.0 does), and so does a database outage.
        if !found_nothing(&reply) && (blocked.is_none() || !still_waiting(&reply)) {
            waiter.served();
            return reply;
        }
        waiter.missed();
        if blocked.is_none() {
            blocked = Some(unblock.block(&info, &shared.metrics));
        }
        if shared.is_shutting_down() {
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

#[cfg(test)]
mod tests {
    use super::timeout;

    #[test]
    fn timeouts_parse_as_redis_7_0() {
        let ms = |s: &str| timeout(s.as_bytes()).map(|d| d.map(|d| d.as_millis()));
        assert_eq!(ms("0").unwrap(), None);
        assert_eq!(ms("0.01").unwrap(), Some(10));
        assert_eq!(ms("1.5e-3").unwrap(), Some(1));
        assert_eq!(ms("0x10").unwrap(), Some(16000));
        // Below a millisecond truncates to 0: forever, as in Redis 7.0.
        assert_eq!(ms("0.0001").unwrap(), None);
        assert_eq!(ms("-0.0001").unwrap(), None);
        assert!(ms("-1").is_err());
        assert!(ms("inf").is_err());
        assert!(ms("1e400").is_err());
        assert!(ms("9223372036854776").is_err());
        assert!(ms("9223372036854775").is_ok());
        assert!(ms("nan").is_err());
        assert!(ms(" 1").is_err());
        assert!(ms("x").is_err());
    }
}
