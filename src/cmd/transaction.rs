//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! EXEC runs the whole queue in one store transaction, after checking that
//! no watched key changed (by version, so a change from any connection or
//! instance counts).

use bytes::Bytes;

use super::errors::{self, CmdError, CmdResult, err};
use super::{CommandSpec, Ctx, Family, spec};
use crate::clock::now_ms;
use crate::connection::{Connection, MultiState, Watched};
use crate::reply::{OK, Reply};
use crate::store::{Access, Db, MAX_RETRIES, StoreError, Txn, retry_delay};

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
    ),
    spec(
        "exec",
        1,
        &["noscript", "loading", "stale", "skip-slowlog"],
        super::NO_KEYS,
        F,
        G,
        "1.2.0",
        "Execute all commands issued after MULTI",
    ),
    spec(
        "discard",
        1,
        FLAGS,
        super::NO_KEYS,
        F,
        G,
        "2.0.0",
        "Discard all commands issued after MULTI",
    ),
    spec(
        "watch",
        -2,
        FLAGS,
        (1, -1, 1),
        F,
        G,
        "2.2.0",
        "Watch the given keys to determine execution of the MULTI/EXEC block",
    ),
    spec(
        "unwatch",
        1,
        FLAGS,
        super::NO_KEYS,
        F,
        G,
        "2.2.0",
        "Forget about all watched keys",
    ),
];

pub async fn execute(
    conn: &mut Connection,
    spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    match spec.name {
        "multi" => {
            if conn.multi.is_some() {
                return err(errors::NESTED_MULTI);
            }
            conn.multi = Some(MultiState::default());
            conn.info.lock().unwrap().multi = 0;
            Ok(OK)
        }
        "discard" => {
            if conn.multi.take().is_none() {
                return err(errors::DISCARD_WITHOUT_MULTI);
            }
            end_multi(conn);
            Ok(OK)
        }
        "exec" => {
            let Some(multi) = conn.multi.take() else {
                return err(errors::EXEC_WITHOUT_MULTI);
            };
            if multi.dirty {
                end_multi(conn);
                return err(errors::EXECABORT);
            }
            let mut attempt = 0;
            let start_db = conn.db;
            let result = loop {
                match exec(conn, &multi.queue).await {
                    Err(CmdError::Store(StoreError::Conflict(_))) if attempt < MAX_RETRIES => {
                        attempt += 1;
                        // A SELECT inside the block ran; start over from the same db.
                        conn.db = start_db;
                        tokio::time::sleep(retry_delay(attempt)).await;
                    }
                    other => break other,
                }
            };
            end_multi(conn);
            result
        }
        "watch" => {
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
        "unwatch" => {
            conn.watched.clear();
            Ok(OK)
        }
        _ => err(format!("ERR unhandled command '{}'", spec.name)),
    }
}

fn end_multi(conn: &mut Connection) {
    conn.watched.clear();
    conn.info.lock().unwrap().multi = -1;
}

async fn live_version(
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

/// Runs a queued block as one transaction; nil when a watched key changed.
async fn exec(conn: &mut Connection, queue: &[(&'static CommandSpec, Vec<Bytes>)]) -> CmdResult {
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
        if live_version(&mut *txn, w.db, &w.key, now).await? != w.version {
            return Ok(Reply::NilArray);
        }
    }
    let mut replies = Vec::with_capacity(queue.len());
    let mut events = Vec::new();
    let shared = conn.shared.clone();
    for (spec, args) in queue {
        if !spec.family.is_data() {
            replies.push(Box::pin(conn.call(spec, args.clone())).await);
            continue;
        }
        let mut ctx = Ctx {
            txn: &mut *txn,
            db: conn.db,
            now: now_ms(),
            events: std::mem::take(&mut events),
            shared: &shared,
            resp3: conn.resp3,
        };
        let result = super::execute(&mut ctx, spec, args).await;
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
