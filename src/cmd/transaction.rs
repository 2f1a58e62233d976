//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! EXEC runs the whole queue in one store transaction, after checking that
//! no watched key changed (by version, so a change from any connection or
//! instance counts); it is run by [`super::dispatch`], the one path every
//! command takes.

use bytes::Bytes;

use super::errors::{self, CmdError, CmdResult, err};
use super::{CommandSpec, Family, spec};
use super::{MultiState, Session, Watched};
use crate::clock::now_ms;
use crate::reply::OK;
use crate::store::{Access, Db, Txn};

const G: &str = "transactions";
const F: Family = Family::Transaction;
const FLAGS: &[&str] = &["noscript", "loading", "stale", "fast", "allow-busy"];

pub static COMMANDS: &[CommandSpec] = &[
    spec(
        "multi",
        1,
        FLAGS,
        super::NO_KEYS,
        F,
        G,
        "1.2.0",
        "Mark the start of a transaction block",
    )
    .with(session!(cmd_multi)),
    spec(
        "exec",
        1,
        &["noscript", "loading", "stale", "skip-slowlog"],
        super::NO_KEYS,
        F,
        G,
        "1.2.0",
        "Execute all commands issued after MULTI",
    )
    .with(super::Handler::Exec),
    spec(
        "discard",
        1,
        FLAGS,
        super::NO_KEYS,
        F,
        G,
        "2.0.0",
        "Discard all commands issued after MULTI",
    )
    .with(session!(cmd_discard)),
    spec(
        "watch",
        -2,
        FLAGS,
        (1, -1, 1),
        F,
        G,
        "2.2.0",
        "Watch the given keys to determine execution of the MULTI/EXEC block",
    )
    .with(session!(cmd_watch)),
    spec(
        "unwatch",
        1,
        FLAGS,
        super::NO_KEYS,
        F,
        G,
        "2.2.0",
        "Forget about all watched keys",
    )
    .with(session!(cmd_unwatch)),
];

/// MULTI.
pub(crate) async fn cmd_multi(
    conn: &mut Session,
    _spec: &'static CommandSpec,
    _args: &[Bytes],
) -> CmdResult {
    if conn.multi.is_some() {
        return err(errors::NESTED_MULTI);
    }
    conn.multi = Some(MultiState::default());
    conn.info.lock().unwrap().multi = 0;
    Ok(OK)
}

/// DISCARD.
pub(crate) async fn cmd_discard(
    conn: &mut Session,
    _spec: &'static CommandSpec,
    _args: &[Bytes],
) -> CmdResult {
    if conn.multi.take().is_none() {
        return err(errors::DISCARD_WITHOUT_MULTI);
    }
    end_multi(conn);
    Ok(OK)
}

/// WATCH.
pub(crate) async fn cmd_watch(
    conn: &mut Session,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    if conn.multi.is_some() {
        return err(errors::WATCH_IN_MULTI);
    }
    let mut txn = conn.shared.store.begin(Access::Read).await?;
    let now = now_ms();
    for key in &args[1..] {
        if conn
            .watched
            .iter()
            .any(|w| w.db == conn.db && w.key == *key)
        {
            continue;
        }
        let version = live_version(&mut *txn, conn.db, key, now).await?;
        conn.watched.push(Watched {
            db: conn.db,
            key: key.clone(),
            version,
        });
    }
    Ok(OK)
}

/// UNWATCH.
pub(crate) async fn cmd_unwatch(
    conn: &mut Session,
    _spec: &'static CommandSpec,
    _args: &[Bytes],
) -> CmdResult {
    conn.watched.clear();
    Ok(OK)
}

/// Leaves MULTI: the queue is gone and WATCH ends.
pub fn end_multi(conn: &mut Session) {
    conn.watched.clear();
    conn.info.lock().unwrap().multi = -1;
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
