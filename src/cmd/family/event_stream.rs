//! The read-only event streams (`__events@<db>__` and its filtered views,
//! see [`event_view`]): XRANGE, XREVRANGE, XREAD (COUNT, BLOCK, `$`),
//! XLEN and XINFO answer as Redis 7 answers for a stream, from the event
//! log rather than from a key's rows; writes to their names are refused
//! before any command runs ([`crate::cmd::run::txn`]). The stream
//! commands (`stream.rs`) come here for a name under `__events@`.
//!
//! XREAD BLOCK waits without holding a database connection, woken when
//! this instance hands on newer events.

use std::time::Duration;

use bytes::Bytes;
use tracing::debug;

use crate::cmd::args::{int_arg, is};
use crate::cmd::errors::{self, CmdError, CmdResult, err};
use crate::cmd::helpers::event_view::{self, BUDGET, View};
use crate::cmd::helpers::streams::{Id, ReadArgs, c_str, strict_id};
use crate::cmd::session::Session;
use crate::cmd::spec::CommandSpec;
use crate::instance::clients::UnblockHow;
use crate::instance::state::Instance;
use crate::reply::Reply;
use crate::store::{LoggedEvent, StoreError, StreamId};

/// How often a blocked XREAD looks at the log without being woken (the
/// events may reach this instance late, or not at all while NATS is down).
const FALLBACK_POLL: Duration = Duration::from_secs(1);

/// The event stream a name under `__events@` names (or the error for one
/// that names none); `None` for any other name.
pub fn view(instance: &Instance, name: &[u8]) -> Option<Result<View, CmdError>> {
    event_view::parse(name, instance.config.databases).map(|v| v.map_err(CmdError::Reply))
}

fn format_id(id: StreamId) -> Reply {
    Reply::bulk(Bytes::from(format!("{}-{}", id.ms, id.seq)))
}

/// One entry: `[id, [key, <key>, event, <name>, class, <c>]]`.
fn entry(event: &LoggedEvent) -> Reply {
    Reply::Array(vec![
        format_id(event_view::id_of(event)),
        Reply::Array(vec![
            Reply::bulk_str("key"),
            Reply::Bulk(event.key.clone()),
            Reply::bulk_str("event"),
            Reply::bulk_str(&event.name),
            Reply::bulk_str("class"),
            Reply::bulk(Bytes::copy_from_slice(&[event.class])),
        ]),
    ])
}

fn entries(events: &[LoggedEvent]) -> Reply {
    Reply::Array(events.iter().map(entry).collect())
}

/// XRANGE / XREVRANGE of an event stream, `start..=end` (checked by the
/// caller), at most COUNT.
///
/// At most [`BUDGET`] entries come back (as if COUNT said so: iterate
/// from the last one). A filtered view examines at most [`BUDGET`] log
/// entries: what matched among them comes back (a correct prefix of the
/// answer, so iterating from its last id misses nothing); when nothing
/// matched before the budget ran out, an error says where the scan
/// stopped, because an empty reply would claim the rest of the range holds
/// nothing.
pub async fn xrange(
    instance: &Instance,
    view: &View,
    name: &[u8],
    (start, end): (Id, Id),
    count: Option<u64>,
    rev: bool,
) -> CmdResult {
    if count == Some(0) {
        return Ok(Reply::NilArray);
    }
    let limit = count.map_or(BUDGET, |c| c.min(BUDGET as u64) as u32);
    let (Some(from), to) = (start.start(), end.end()) else {
        return Ok(Reply::Array(vec![]));
    };
    if from > to {
        return Ok(Reply::Array(vec![]));
    }
    let store = &*instance.store;
    let found = event_view::scan(store, view, from, to, rev, limit).await?;
    if found.entries.is_empty()
        && !found.complete
        && let Some(reached) = found.reached
    {
        let at = format!("{}-{}", reached.ms, reached.seq);
        return err(errors::view_budget_spent(name, found.examined, &at));
    }
    Ok(entries(&found.entries))
}

/// XLEN: the entries the stream holds (a filtered view: its stream's).
pub async fn xlen(instance: &Instance, view: &View) -> CmdResult {
    Ok(Reply::Int(
        instance.store.stream_state(view.db).await?.len(),
    ))
}

/// XINFO GROUPS / CONSUMERS / STREAM of an event stream (it has no
/// groups).
pub async fn xinfo(instance: &Instance, view: &View, args: &[Bytes]) -> CmdResult {
    if is(&args[1], "groups") {
        return Ok(Reply::Array(vec![]));
    }
    if is(&args[1], "consumers") {
        return err(errors::no_consumer_group(&args[3], &args[2]));
    }
    // STREAM key [FULL [COUNT n]]
    let mut full = None;
    if args.len() > 3 {
        if !is(&args[3], "full") {
            return err(errors::subcommand_syntax(&args[1], "xinfo"));
        }
        let mut count = 10;
        if args.len() == 6 && is(&args[4], "count") {
            count = int_arg(&args[5])?;
            if count < 0 {
                count = 10;
            }
        } else if args.len() > 4 {
            return err(errors::subcommand_syntax(&args[1], "xinfo"));
        }
        full = Some(if count == 0 {
            BUDGET
        } else {
            count.min(BUDGET as i64) as u32
        });
    }
    xinfo_stream(instance, view, full).await
}

/// XINFO STREAM's reply, with Redis 7.0's fields in its order. The
/// counters are the stream's (a filtered view shares its stream's);
/// first-entry and last-entry (FULL: entries) are the view's, found within
/// one scan budget from each end.
async fn xinfo_stream(instance: &Instance, view: &View, full: Option<u32>) -> CmdResult {
    let store = &*instance.store;
    let state = store.stream_state(view.db).await?;
    let first_recorded = store
        .stream_range(view.db, StreamId::MIN, StreamId::MAX, false, 1)
        .await?
        .first()
        .map_or(StreamId::MIN, event_view::id_of);
    let length = state.len();
    // A radix tree of nodes of up to 100 entries (Redis's
    // stream-node-max-entries) would have this many keys.
    let radix_keys = (length + 99) / 100;
    let mut fields = vec![
        ("length", Reply::Int(length)),
        ("radix-tree-keys", Reply::Int(radix_keys)),
        ("radix-tree-nodes", Reply::Int(radix_keys + 1)),
        ("last-generated-id", format_id(state.last)),
        ("max-deleted-entry-id", format_id(state.max_deleted)),
        ("entries-added", Reply::Int(state.added)),
        ("recorded-first-entry-id", format_id(first_recorded)),
    ];
    match full {
        Some(count) => {
            let found =
                event_view::scan(store, view, StreamId::MIN, StreamId::MAX, false, count).await?;
            fields.push(("entries", entries(&found.entries)));
            fields.push(("groups", Reply::Array(vec![])));
        }
        None => {
            let edge = |rev| event_view::scan(store, view, StreamId::MIN, StreamId::MAX, rev, 1);
            let first = edge(false).await?.entries;
            let last = edge(true).await?.entries;
            fields.push(("groups", Reply::Int(0)));
            fields.push(("first-entry", first.first().map_or(Reply::Nil, entry)));
            fields.push(("last-entry", last.first().map_or(Reply::Nil, entry)));
        }
    }
    Ok(Reply::Map(
        fields
            .into_iter()
            .map(|(name, value)| (Reply::bulk_str(name), value))
            .collect(),
    ))
}

// --- XREAD -------------------------------------------------------------------

/// One event stream an XREAD reads.
struct Reader {
    /// The name as the client gave it (the reply's key).
    name: Bytes,
    view: View,
    /// Entries after this id are wanted.
    after: StreamId,
    /// Nothing of the view lies in `(after, scanned]` (a filtered view's
    /// scan position, kept across wake-ups).
    scanned: StreamId,
}

/// The event streams an XREAD names, and where each read starts
/// (ordinary keys among them were checked to hold nothing: see
/// [`check_ordinary`]).
async fn readers(
    instance: &Instance,
    args: &[Bytes],
    parsed: &ReadArgs,
) -> Result<Vec<Reader>, CmdError> {
    let mut readers = Vec::with_capacity(parsed.streams);
    for (key, id) in parsed.keys(args).iter().zip(parsed.ids(args)) {
        let Some(view) = view(instance, key) else {
            continue;
        };
        let view = view?;
        let after = match c_str(id) {
            b"$" => instance.store.stream_state(view.db).await?.last,
            b">" => return err(errors::XREAD_GT_ID),
            _ => strict_id(id)?.end(),
        };
        readers.push(Reader {
            name: key.clone(),
            view,
            after,
            scanned: after,
        });
    }
    Ok(readers)
}

/// An ordinary key named beside event streams: nothing to read when it
/// is missing; WRONGTYPE for another kind; a stream cannot be read in
/// the same call.
pub fn check_ordinary(kind: Option<crate::store::KeyKind>) -> Result<(), CmdError> {
    match kind {
        None => Ok(()),
        Some(crate::store::KeyKind::Stream) => err(errors::XREAD_MIXED),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// XREAD of event streams without waiting (no BLOCK, or inside MULTI or
/// a script).
pub async fn xread_once(
    instance: &Instance,
    resp3: bool,
    args: &[Bytes],
    parsed: &ReadArgs,
) -> CmdResult {
    let mut readers = readers(instance, args, parsed).await?;
    match read_round(instance, resp3, &mut readers, parsed.count).await? {
        Ok(reply) => Ok(reply),
        Err(_) => Ok(Reply::NilArray),
    }
}

/// XREAD BLOCK of event streams.
///
/// Per stream at most COUNT entries (without COUNT, or beyond it, at most
/// [`BUDGET`]); a filtered view examines at most [`BUDGET`] log entries per
/// stream and round. BLOCK waits (0: forever) for this instance to hand on
/// newer events (the moment keyspace notifications go out), looking again
/// at least every second; it ends at the timeout (nil), at shutdown, and
/// when the client is killed or disconnects.
pub async fn xread_blocking(
    session: &mut Session,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    let parsed = ReadArgs::parse(args, false)?;
    let timeout = match parsed.block {
        Some(at) => crate::cmd::args::timeout_ms(&args[at])?,
        None => None,
    };
    let instance = session.instance.clone();
    let ordinary: Vec<&Bytes> = parsed
        .keys(args)
        .iter()
        .filter(|k| !event_view::is_reserved(k))
        .collect();
    if !ordinary.is_empty() {
        let mut txn = instance.store.begin(crate::store::Access::Read).await?;
        let now = crate::clock::now_ms();
        for key in ordinary {
            let meta = txn.meta(session.db, key).await?.filter(|m| m.is_live(now));
            check_ordinary(meta.map(|m| m.kind))?;
        }
    }
    let mut readers = readers(&instance, args, &parsed).await?;
    let deadline = timeout.and_then(|d| tokio::time::Instant::now().checked_add(d));
    let mut tip = instance.events.stream_tip.subscribe();
    let mut first = true;
    let (unblock, info) = (session.unblock.clone(), session.info.clone());
    let mut blocked = None;
    loop {
        tip.borrow_and_update();
        let behind = match read_round(&instance, session.resp3, &mut readers, parsed.count).await {
            Ok(Ok(reply)) => return Ok(reply),
            Ok(Err(behind)) => behind,
            // While blocked, an unreachable database is waited out.
            Err(CmdError::Store(e @ (StoreError::Unavailable(_) | StoreError::Loading)))
                if !first =>
            {
                debug!(error = %e, "XREAD cannot read the event log; waiting");
                false
            }
            Err(e) => return Err(e),
        };
        first = false;
        if session.deny_blocking {
            return Ok(Reply::NilArray);
        }
        if instance.is_shutting_down() {
            return err(errors::SHUTTING_DOWN);
        }
        if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
            return Ok(Reply::NilArray);
        }
        if behind {
            // A filtered view with more log to examine: the next slice.
            tokio::task::yield_now().await;
            continue;
        }
        let blocked = blocked.get_or_insert_with(|| unblock.block(&info, &instance.metrics));
        let mut shutdown = instance.shutdown.clone();
        let kill = session.kill.clone();
        let until_deadline = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            changed = tip.changed() => {
                if changed.is_err() {
                    tokio::time::sleep(FALLBACK_POLL).await;
                }
            }
            _ = tokio::time::sleep(FALLBACK_POLL) => {}
            _ = until_deadline => return Ok(Reply::NilArray),
            _ = shutdown.changed() => return err(errors::SHUTTING_DOWN),
            _ = kill.notified() => {
                // Handed back: the connection closes on it.
                kill.notify_one();
                return Ok(Reply::NilArray);
            }
            how = blocked.requested() => {
                return match how {
                    UnblockHow::Timeout => Ok(Reply::NilArray),
                    UnblockHow::Error => err(errors::UNBLOCKED),
                };
            }
        }
    }
}

/// One look at every stream: the reply when any has entries, else whether
/// a filtered scan stopped short of the log's end.
async fn read_round(
    instance: &Instance,
    resp3: bool,
    readers: &mut [Reader],
    count: u64,
) -> Result<Result<Reply, bool>, CmdError> {
    let store = &*instance.store;
    let memo = &instance.event_scans;
    let count = count.min(u32::MAX as u64) as u32;
    let mut found = Vec::new();
    let mut behind = false;
    for r in readers.iter_mut() {
        let read =
            event_view::read_after(store, memo, &r.view, r.after, &mut r.scanned, count).await?;
        behind |= read.behind;
        if !read.entries.is_empty() {
            found.push((Reply::Bulk(r.name.clone()), entries(&read.entries)));
        }
    }
    if found.is_empty() {
        return Ok(Err(behind));
    }
    Ok(Ok(keyed_reply(resp3, found)))
}

/// XREAD's reply: a map in RESP3, an array of `[key, entries]` pairs in
/// RESP2.
pub fn keyed_reply(resp3: bool, found: Vec<(Reply, Reply)>) -> Reply {
    if resp3 {
        Reply::Map(found)
    } else {
        Reply::Array(
            found
                .into_iter()
                .map(|(name, e)| Reply::Array(vec![name, e]))
                .collect(),
        )
    }
}
