//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! EXEC runs the whole queue in one store transaction, after checking that
//! no watched key changed (by version, so a change from any connection or
//! instance counts); it is run by [`super::dispatch`], the one path every
//! command takes.

use bytes::Bytes;

use crate::clock::now_ms;
use crate::cmd::errors::{self, CmdError, CmdResult, err};
use crate::cmd::session::{MultiState, Session, Watched};
use crate::cmd::spec::{CommandSpec, Handler, NO_KEYS, Props, ks};
use crate::reply::OK;
use crate::store::{Access, Db, Txn};

const FLAGS: &[&str] = &["noscript", "loading", "stale", "fast", "allow-busy"];

pub static COMMANDS: &[CommandSpec] = commands! { family: Transaction, group: "transactions";
    "multi", 1, FLAGS, NO_KEYS, "1.2.0", session!(cmd_multi), "Mark the start of a transaction block", props: Props::SKIPS_QUEUE;
    "exec", 1, &["noscript", "loading", "stale", "skip-slowlog"], NO_KEYS, "1.2.0", Handler::Exec, "Execute all commands issued after MULTI", props: Props::SKIPS_QUEUE;
    "discard", 1, FLAGS, NO_KEYS, "2.0.0", session!(cmd_discard), "Discard all commands issued after MULTI", props: Props::SKIPS_QUEUE;
    "watch", -2, FLAGS, (1, -1, 1), "2.2.0", session!(cmd_watch), "Watch the given keys to determine execution of the MULTI/EXEC block", props: Props::SKIPS_QUEUE, keys: ks::RO_ALL;
    "unwatch", 1, FLAGS, NO_KEYS, "2.2.0", session!(cmd_unwatch), "Forget about all watched keys";
};

/// MULTI.
pub(crate) async fn cmd_multi(
    session: &mut Session,
    _spec: &'static CommandSpec,
    _args: &[Bytes],
) -> CmdResult {
    if session.multi.is_some() {
        return err(errors::NESTED_MULTI);
    }
    session.multi = Some(MultiState::default());
    session.show_multi(true);
    Ok(OK)
}

/// DISCARD.
pub(crate) async fn cmd_discard(
    session: &mut Session,
    _spec: &'static CommandSpec,
    _args: &[Bytes],
) -> CmdResult {
    if session.multi.take().is_none() {
        return err(errors::DISCARD_WITHOUT_MULTI);
    }
    end_multi(session);
    Ok(OK)
}

/// WATCH.
pub(crate) async fn cmd_watch(
    session: &mut Session,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    if session.multi.is_some() {
        return err(errors::WATCH_IN_MULTI);
    }
    let mut txn = session.instance.store.begin(Access::Read).await?;
    let now = now_ms();
    for key in &args[1..] {
        if session
            .watched
            .iter()
            .any(|w| w.db == session.db && w.key == *key)
        {
            continue;
        }
        let version = live_version(&mut *txn, session.db, key, now).await?;
        session.watched.push(Watched {
            db: session.db,
            key: key.clone(),
            version,
        });
    }
    Ok(OK)
}

/// UNWATCH.
pub(crate) async fn cmd_unwatch(
    session: &mut Session,
    _spec: &'static CommandSpec,
    _args: &[Bytes],
) -> CmdResult {
    session.watched.clear();
    Ok(OK)
}

/// Leaves MULTI: the queue is gone and WATCH ends.
pub fn end_multi(session: &mut Session) {
    session.watched.clear();
    session.show_multi(false);
}

/// The version of a key if it exists and has not expired.
pub async fn live_version(
    txn: &mut dyn Txn,
    db: Db,
    key: &[u8],
    now: i64,
) -> Result<Option<i64>, CmdError> {
    Ok(txn
        .meta(db, key)
        .await?
        .filter(|m| m.is_live(now))
        .map(|m| m.version))
}
