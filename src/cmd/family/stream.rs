//! Stream commands. respire's streams are the read-only event streams
//! (`__events@<db>__` and its filtered views, see [`super::event_view`]):
//! XRANGE, XREVRANGE, XREAD (COUNT, BLOCK, `$`), XLEN and XINFO answer as
//! Redis 7 answers for a stream; the stream writes (XADD, XTRIM, XDEL,
//! XGROUP, ...) answer that the stream is read-only. An ordinary key never
//! holds a stream: a missing one answers as in Redis, one holding a string
//! or hash WRONGTYPE.
//!
//! They are session commands, not data commands: they read the event log
//! (not a key's row), and XREAD BLOCK waits without holding a database
//! connection, woken when this instance hands on newer events.

use std::time::Duration;

use bytes::Bytes;
use tracing::debug;

use crate::clock::now_ms;
use crate::cmd::args::{int_arg, is};
use crate::cmd::errors::{self, CmdError, CmdResult, err};
use crate::cmd::helpers::event_view::{self, BUDGET, View};
use crate::cmd::session::Session;
use crate::cmd::spec::{
    BeginSearch, CommandSpec, KeySpec, NO_KEYS, ONE_KEY, SubInfo, SubSpec, key_at,
};
use crate::instance::clients::UnblockHow;
use crate::reply::Reply;
use crate::store::{Access, LoggedEvent, StoreError, StreamId};

/// How often a blocked XREAD looks at the log without being woken (the
/// events may reach this instance late, or not at all while NATS is down).
const FALLBACK_POLL: Duration = Duration::from_secs(1);

const RO: &[&str] = &["RO", "access"];
const NONDETERMINISTIC: &[&str] = &["nondeterministic_output"];

/// XREAD's and XREADGROUP's streams: after STREAMS (looked for from
/// argument `from` on), the first half of the rest (then come the ids).
const fn after_streams(from: i32) -> KeySpec {
    KeySpec {
        begin: BeginSearch::Keyword {
            keyword: "STREAMS",
            from,
        },
        last: -1,
        limit: 2,
        ..key_at(0, RO)
    }
}
static XREAD_KEYS: &[KeySpec] = &[after_streams(1)];
static XREADGROUP_KEYS: &[KeySpec] = &[after_streams(4)];
static XADD_KEYS: &[KeySpec] = &[KeySpec {
    notes: Some("UPDATE instead of INSERT because of the optional trimming feature"),
    ..key_at(1, &["RW", "update"])
}];
static READ: &[KeySpec] = &[key_at(1, RO)];
static UPDATE: &[KeySpec] = &[key_at(1, &["RW", "update"])];
static DELETE: &[KeySpec] = &[key_at(1, &["RW", "delete"])];

pub static COMMANDS: &[CommandSpec] = commands! { family: Stream, group: "stream";
    "xrange", -4, &["readonly"], ONE_KEY, "5.0.0", session!(cmd_xrange; args), "Return a range of elements in a stream, with IDs matching the specified IDs interval", keys: READ;
    "xrevrange", -4, &["readonly"], ONE_KEY, "5.0.0", session!(cmd_xrevrange; args), "Return a range of elements in a stream, with IDs matching the specified IDs interval, in reverse order (from greater to smaller IDs) compared to XRANGE", keys: READ;
    "xread", -4, &["readonly", "blocking", "movablekeys"], NO_KEYS, "5.0.0", session!(cmd_xread), "Return never seen elements in multiple streams, with IDs greater than the ones reported by the caller for each stream. Can block.", keys: XREAD_KEYS;
    "xlen", 2, &["readonly", "fast"], ONE_KEY, "5.0.0", session!(cmd_xlen), "Return the number of entries in a stream", keys: &[key_at(1, &["RO"])];
    "xinfo", -2, &[], NO_KEYS, "5.0.0", session!(cmd_xinfo), "A container for stream introspection commands", subs: XINFO_SUBCOMMANDS, info: XINFO_INFO;
    // The writes: refused on the event streams.
    "xadd", -5, &["write", "denyoom", "fast"], ONE_KEY, "5.0.0", session!(cmd_write), "Appends a new entry to a stream", keys: XADD_KEYS, tips: NONDETERMINISTIC;
    "xtrim", -4, &["write"], ONE_KEY, "5.0.0", session!(cmd_write), "Trims the stream to (approximately if '~' is passed) a certain size", keys: DELETE, tips: NONDETERMINISTIC;
    "xdel", -3, &["write", "fast"], ONE_KEY, "5.0.0", session!(cmd_write), "Removes the specified entries from the stream. Returns the number of items actually deleted, that may be different from the number of IDs passed in case certain IDs do not exist.", keys: DELETE;
    "xsetid", -3, &["write", "denyoom", "fast"], ONE_KEY, "5.0.0", session!(cmd_write), "An internal command for replicating stream values", keys: UPDATE;
    "xack", -4, &["write", "fast"], ONE_KEY, "5.0.0", session!(cmd_write), "Marks a pending message as correctly processed, effectively removing it from the pending entries list of the consumer group. Return value of the command is the number of messages successfully acknowledged, that is, the IDs we were actually able to resolve in the PEL.", keys: UPDATE;
    "xclaim", -6, &["write", "fast"], ONE_KEY, "5.0.0", session!(cmd_write), "Changes (or acquires) ownership of a message in a consumer group, as if the message was delivered to the specified consumer.", keys: UPDATE, tips: NONDETERMINISTIC;
    "xautoclaim", -6, &["write", "fast"], ONE_KEY, "6.2.0", session!(cmd_write), "Changes (or acquires) ownership of messages in a consumer group, as if the messages were delivered to the specified consumer.", keys: DELETE, tips: NONDETERMINISTIC;
    "xpending", -3, &["readonly"], ONE_KEY, "5.0.0", session!(cmd_xpending), "Return information and entries from a stream consumer group pending entries list, that are messages fetched but never acknowledged.", keys: READ, tips: NONDETERMINISTIC;
    "xreadgroup", -7, &["write", "blocking", "movablekeys"], NO_KEYS, "5.0.0", session!(cmd_xreadgroup), "Return new entries from a stream using a consumer group, or access the history of the pending entries for a given consumer. Can block.", keys: XREADGROUP_KEYS;
    "xgroup", -2, &[], NO_KEYS, "5.0.0", session!(cmd_xgroup), "A container for consumer groups commands", subs: XGROUP_SUBCOMMANDS, info: XGROUP_INFO;
};

// In Redis's order (COMMAND INFO lists them so).
static XINFO_SUBCOMMANDS: &[SubSpec] = subcommands! {
    "consumers", 4, "List the consumers in a consumer group";
    "stream", -3, "Get information about a stream";
    help;
    "groups", 3, "List the consumer groups of a stream";
};

/// A subcommand's COMMAND INFO with its key at argument 2.
const fn keyed(
    name: &'static str,
    flags: &'static [&'static str],
    tips: &'static [&'static str],
    key_specs: &'static [KeySpec],
) -> SubInfo {
    SubInfo {
        name,
        flags,
        keys: (2, 2, 1),
        tips,
        key_specs,
    }
}

const HELP_INFO: SubInfo = SubInfo {
    name: "help",
    flags: &["loading", "stale"],
    keys: (0, 0, 0),
    tips: &[],
    key_specs: &[],
};

static XINFO_INFO: &[SubInfo] = &[
    keyed(
        "consumers",
        &["readonly"],
        NONDETERMINISTIC,
        &[key_at(2, RO)],
    ),
    keyed("stream", &["readonly"], &[], &[key_at(2, RO)]),
    HELP_INFO,
    keyed("groups", &["readonly"], &[], &[key_at(2, RO)]),
];

static XGROUP_SUBCOMMANDS: &[SubSpec] = subcommands! {
    "destroy", 4, "Destroy a consumer group.";
    "delconsumer", 5, "Delete a consumer from a consumer group.";
    "create", -5, "Create a consumer group.";
    "createconsumer", 5, "Create a consumer in a consumer group.";
    help;
    "setid", -5, "Set a consumer group to an arbitrary last delivered ID value.";
};

static XGROUP_INFO: &[SubInfo] = &[
    keyed("destroy", &["write"], &[], &[key_at(2, &["RW", "delete"])]),
    keyed(
        "delconsumer",
        &["write"],
        &[],
        &[key_at(2, &["RW", "delete"])],
    ),
    keyed(
        "create",
        &["write", "denyoom"],
        &[],
        &[key_at(2, &["RW", "insert"])],
    ),
    keyed(
        "createconsumer",
        &["write", "denyoom"],
        &[],
        &[key_at(2, &["RW", "insert"])],
    ),
    HELP_INFO,
    keyed("setid", &["write"], &[], &[key_at(2, &["RW", "update"])]),
];

// --- Entry ids ----------------------------------------------------------

/// A stream id as a client writes it: two unsigned 64-bit numbers (the log
/// itself never goes beyond `i64::MAX`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Id {
    ms: u64,
    seq: u64,
}

impl Id {
    const MIN: Id = Id { ms: 0, seq: 0 };
    const MAX: Id = Id {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    fn incr(self) -> Option<Id> {
        if self.seq < u64::MAX {
            Some(Id {
                ms: self.ms,
                seq: self.seq + 1,
            })
        } else if self.ms < u64::MAX {
            Some(Id {
                ms: self.ms + 1,
                seq: 0,
            })
        } else {
            None
        }
    }

    fn decr(self) -> Option<Id> {
        if self.seq > 0 {
            Some(Id {
                ms: self.ms,
                seq: self.seq - 1,
            })
        } else if self.ms > 0 {
            Some(Id {
                ms: self.ms - 1,
                seq: u64::MAX,
            })
        } else {
            None
        }
    }

    /// As an inclusive start in the log; `None` when no entry can be at or
    /// after it.
    fn start(self) -> Option<StreamId> {
        (self.ms <= i64::MAX as u64).then(|| StreamId {
            ms: self.ms as i64,
            seq: self.seq.min(i64::MAX as u64) as i64,
        })
    }

    /// As an inclusive end (or an exclusive start: XREAD's last id) in the
    /// log.
    fn end(self) -> StreamId {
        if self.ms > i64::MAX as u64 {
            StreamId::MAX
        } else {
            StreamId {
                ms: self.ms as i64,
                seq: self.seq.min(i64::MAX as u64) as i64,
            }
        }
    }
}

/// An argument as C code sees it (Redis copies ids into a C buffer).
fn c_str(arg: &[u8]) -> &[u8] {
    match arg.iter().position(|&b| b == 0) {
        Some(nul) => &arg[..nul],
        None => arg,
    }
}

/// Redis's `string2ull`: `string2ll` for a non-negative value, else
/// `strtoull` (leading blanks, a sign, no trailing bytes, no overflow).
fn string2ull(s: &[u8]) -> Option<u64> {
    if let Some(v) = crate::protocol::parse_i64(s) {
        return u64::try_from(v).ok();
    }
    // C's isspace.
    let blank = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r');
    let s = &s[s.iter().position(|c| !blank(c)).unwrap_or(s.len())..];
    let (negative, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut value: u64 = 0;
    for &d in digits {
        value = value.checked_mul(10)?.checked_add((d - b'0') as u64)?;
    }
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// Redis's `streamGenericParseIDOrReply`: `-`, `+` (not when `strict`),
/// `<ms>-<seq>` or `<ms>` (then `missing_seq`).
fn parse_id(arg: &[u8], missing_seq: u64, strict: bool) -> Option<Id> {
    if arg.len() > 127 {
        return None;
    }
    let s = c_str(arg);
    match s {
        b"-" | b"+" if strict => None,
        b"-" => Some(Id::MIN),
        b"+" => Some(Id::MAX),
        _ => {
            let (ms, seq) = match s.iter().position(|&b| b == b'-') {
                Some(dash) => (&s[..dash], Some(&s[dash + 1..])),
                None => (s, None),
            };
            Some(Id {
                ms: string2ull(ms)?,
                seq: match seq {
                    Some(seq) => string2ull(seq)?,
                    None => missing_seq,
                },
            })
        }
    }
}

/// XRANGE's bounds: an id, or `(id` exclusive (then strict).
fn parse_interval(arg: &[u8], missing_seq: u64) -> Result<(Id, bool), CmdError> {
    let exclusive = arg.len() > 1 && arg[0] == b'(';
    let id = if exclusive {
        parse_id(&arg[1..], missing_seq, true)
    } else {
        parse_id(arg, missing_seq, false)
    };
    id.map(|id| (id, exclusive))
        .ok_or_else(|| CmdError::Reply(errors::INVALID_STREAM_ID.into()))
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

// --- Keys ----------------------------------------------------------------

/// What a stream command's key names.
enum Target {
    Events(View),
    /// An ordinary key that does not exist.
    Missing,
}

/// Resolves a key: an event stream (or the error for a reserved name that
/// names none), a missing ordinary key, or WRONGTYPE for an ordinary key
/// that exists (it holds a string or a hash).
async fn target(session: &Session, key: &[u8]) -> Result<Target, CmdError> {
    if let Some(view) = event_view::parse(key, session.instance.config.databases) {
        return view.map(Target::Events).map_err(CmdError::Reply);
    }
    let mut txn = session.instance.store.begin(Access::Read).await?;
    let now = now_ms();
    if txn
        .meta(session.db, key)
        .await?
        .is_some_and(|m| m.is_live(now))
    {
        return Err(CmdError::WrongType);
    }
    Ok(Target::Missing)
}

// --- XRANGE / XREVRANGE ------------------------------------------------------

/// XRANGE key start end [COUNT count]
async fn cmd_xrange(session: &mut Session, args: &[Bytes]) -> CmdResult {
    xrange(session, args, false).await
}

/// XREVRANGE key end start [COUNT count]
async fn cmd_xrevrange(session: &mut Session, args: &[Bytes]) -> CmdResult {
    xrange(session, args, true).await
}

/// XRANGE key start end [COUNT n] / XREVRANGE key end start [COUNT n].
///
/// At most [`BUDGET`] entries come back (as if COUNT said so: iterate
/// from the last one). A filtered view examines at most [`BUDGET`] log
/// entries: what matched among them comes back (a correct prefix of the
/// answer, so iterating from its last id misses nothing); when nothing
/// matched before the budget ran out, an error says where the scan
/// stopped, because an empty reply would claim the rest of the range holds
/// nothing.
async fn xrange(session: &mut Session, args: &[Bytes], rev: bool) -> CmdResult {
    let (start_arg, end_arg) = if rev {
        (&args[3], &args[2])
    } else {
        (&args[2], &args[3])
    };
    let (mut start, exclusive) = parse_interval(start_arg, 0)?;
    if exclusive {
        start = start
            .incr()
            .ok_or_else(|| CmdError::Reply(errors::INVALID_START_ID.into()))?;
    }
    let (mut end, exclusive) = parse_interval(end_arg, u64::MAX)?;
    if exclusive {
        end = end
            .decr()
            .ok_or_else(|| CmdError::Reply(errors::INVALID_END_ID.into()))?;
    }
    let mut count: Option<i64> = None;
    let mut i = 4;
    while i < args.len() {
        if is(&args[i], "count") && i + 1 < args.len() {
            count = Some(int_arg(&args[i + 1])?.max(0));
            i += 2;
        } else {
            return err(errors::SYNTAX);
        }
    }
    let view = match target(session, &args[1]).await? {
        Target::Missing => return Ok(Reply::Array(vec![])),
        Target::Events(view) => view,
    };
    if count == Some(0) {
        return Ok(Reply::NilArray);
    }
    let limit = count.map_or(BUDGET, |c| c.min(BUDGET as i64) as u32);
    let (Some(from), to) = (start.start(), end.end()) else {
        return Ok(Reply::Array(vec![]));
    };
    if from > to {
        return Ok(Reply::Array(vec![]));
    }
    let store = &*session.instance.store;
    let found = event_view::scan(store, &view, from, to, rev, limit).await?;
    if found.entries.is_empty()
        && !found.complete
        && let Some(reached) = found.reached
    {
        let at = format!("{}-{}", reached.ms, reached.seq);
        return err(errors::view_budget_spent(&args[1], found.examined, &at));
    }
    Ok(entries(&found.entries))
}

// --- XLEN ------------------------------------------------------------------

/// XLEN: the entries the stream holds (a filtered view: its stream's).
pub(crate) async fn cmd_xlen(
    session: &mut Session,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    match target(session, &args[1]).await? {
        Target::Missing => Ok(Reply::Int(0)),
        Target::Events(view) => Ok(Reply::Int(
            session.instance.store.stream_state(view.db).await?.len(),
        )),
    }
}

// --- XINFO -------------------------------------------------------------------

/// XINFO STREAM / GROUPS / CONSUMERS / HELP.
pub(crate) async fn cmd_xinfo(
    session: &mut Session,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    if is(&args[1], "help") {
        return Ok(Reply::help(&[
            "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CONSUMERS <key> <groupname>",
            "    Show consumers of <groupname>.",
            "GROUPS <key>",
            "    Show the stream consumer groups.",
            "STREAM <key> [FULL [COUNT <count>]",
            "    Show information about the stream.",
            "HELP",
            "    Prints this help.",
        ]));
    }
    // Every other subcommand looks its key up first (the table checked
    // the subcommand and its arity).
    let view = match target(session, &args[2]).await? {
        Target::Missing => return err(errors::NO_SUCH_KEY),
        Target::Events(view) => view,
    };
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
    xinfo_stream(session, &view, full).await
}

/// XINFO STREAM's reply, with Redis 7.0's fields in its order. The
/// counters are the stream's (a filtered view shares its stream's);
/// first-entry and last-entry (FULL: entries) are the view's, found within
/// one scan budget from each end.
async fn xinfo_stream(session: &Session, view: &View, full: Option<u32>) -> CmdResult {
    let store = &*session.instance.store;
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

/// XREAD [COUNT n] [BLOCK ms] STREAMS key [key ...] id [id ...]
///
/// Per stream at most COUNT entries (without COUNT, or beyond it, at most
/// [`BUDGET`]); a filtered view examines at most [`BUDGET`] log entries per
/// stream and round. BLOCK waits (0: forever) for this instance to hand on
/// newer events (the moment keyspace notifications go out), looking again
/// at least every second; it ends at the timeout (nil), at shutdown, and
/// when the client is killed or disconnects. Inside MULTI it does not
/// wait, as in Redis.
pub(crate) async fn cmd_xread(
    session: &mut Session,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    let mut timeout: Option<u64> = None;
    let mut count: u32 = 0;
    let mut streams_at = 0;
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - i - 1;
        let option = &args[i];
        if is(option, "block") && more > 0 {
            i += 1;
            let ms = crate::protocol::parse_i64(&args[i])
                .ok_or_else(|| CmdError::Reply(errors::TIMEOUT_NOT_INTEGER.into()))?;
            if ms < 0 {
                return err(errors::TIMEOUT_NEGATIVE);
            }
            timeout = Some(ms as u64);
        } else if is(option, "count") && more > 0 {
            i += 1;
            count = int_arg(&args[i])?.clamp(0, u32::MAX as i64) as u32;
        } else if is(option, "streams") && more > 0 {
            streams_at = i + 1;
            if !(args.len() - streams_at).is_multiple_of(2) {
                return err(errors::XREAD_UNBALANCED);
            }
            break;
        } else if is(option, "group") && more >= 2 {
            return err(errors::XREAD_GROUP);
        } else if is(option, "noack") {
            return err(errors::XREAD_NOACK);
        } else {
            return err(errors::SYNTAX);
        }
        i += 1;
    }
    if streams_at == 0 {
        return err(errors::SYNTAX);
    }
    let n = (args.len() - streams_at) / 2;
    let mut readers = Vec::with_capacity(n);
    for j in 0..n {
        let (key, id) = (&args[streams_at + j], &args[streams_at + n + j]);
        let target = target(session, key).await?;
        let after = match c_str(id) {
            b"$" => match &target {
                Target::Events(view) => session.instance.store.stream_state(view.db).await?.last,
                Target::Missing => StreamId::MIN,
            },
            b">" => return err(errors::XREAD_GT_ID),
            _ => parse_id(id, 0, true)
                .ok_or_else(|| CmdError::Reply(errors::INVALID_STREAM_ID.into()))?
                .end(),
        };
        if let Target::Events(view) = target {
            readers.push(Reader {
                name: key.clone(),
                view,
                after,
                scanned: after,
            });
        }
    }
    let deadline = match timeout {
        Some(ms) if ms > 0 => tokio::time::Instant::now().checked_add(Duration::from_millis(ms)),
        _ => None,
    };
    let mut tip = session.instance.events.stream_tip.subscribe();
    let mut first = true;
    let (unblock, info) = (session.unblock.clone(), session.info.clone());
    let mut blocked = None;
    loop {
        tip.borrow_and_update();
        let behind = match read_round(session, &mut readers, count).await {
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
        if timeout.is_none() || session.deny_blocking {
            return Ok(Reply::NilArray);
        }
        if session.instance.is_shutting_down() {
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
        let blocked =
            blocked.get_or_insert_with(|| unblock.block(&info, &session.instance.metrics));
        let mut shutdown = session.instance.shutdown.clone();
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
    session: &Session,
    readers: &mut [Reader],
    count: u32,
) -> Result<Result<Reply, bool>, CmdError> {
    let store = &*session.instance.store;
    let memo = &session.instance.event_scans;
    let mut found = Vec::new();
    let mut behind = false;
    for r in readers.iter_mut() {
        let read =
            event_view::read_after(store, memo, &r.view, r.after, &mut r.scanned, count).await?;
        behind |= read.behind;
        if !read.entries.is_empty() {
            found.push((r.name.clone(), entries(&read.entries)));
        }
    }
    if found.is_empty() {
        return Ok(Err(behind));
    }
    // A map in RESP3, an array of [key, entries] pairs in RESP2.
    Ok(Ok(if session.resp3 {
        Reply::Map(
            found
                .into_iter()
                .map(|(name, e)| (Reply::Bulk(name), e))
                .collect(),
        )
    } else {
        Reply::Array(
            found
                .into_iter()
                .map(|(name, e)| Reply::Array(vec![Reply::Bulk(name), e]))
                .collect(),
        )
    }))
}

// --- The writes ----------------------------------------------------------------

/// Refuses a stream write: read-only for an event stream, WRONGTYPE for a
/// string or hash, and otherwise respire has no stream to write to.
async fn refuse(session: &Session, keys: &[&Bytes]) -> CmdResult {
    if let Some(key) = keys.iter().find(|k| event_view::is_reserved(k)) {
        return err(errors::read_only_stream(key));
    }
    for key in keys {
        target(session, key).await?;
    }
    err(errors::NO_STREAM_TYPE)
}

/// XADD, XTRIM, XDEL, XSETID, XACK, XCLAIM, XAUTOCLAIM.
pub(crate) async fn cmd_write(
    session: &mut Session,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    refuse(session, &[&args[1]]).await
}

/// XGROUP: HELP, or refused.
pub(crate) async fn cmd_xgroup(
    session: &mut Session,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    if is(&args[1], "help") {
        return Ok(Reply::help(&[
            "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CREATE <key> <groupname> <id|$> [option]",
            "    Create a new consumer group. Options are:",
            "    * MKSTREAM",
            "      Create the empty stream if it does not exist.",
            "    * ENTRIESREAD entries_read",
            "      Set the group's entries_read counter (internal use).",
            "CREATECONSUMER <key> <groupname> <consumer>",
            "    Create a new consumer in the specified group.",
            "DELCONSUMER <key> <groupname> <consumer>",
            "    Remove the specified consumer.",
            "DESTROY <key> <groupname>",
            "    Remove the specified group.",
            "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
            "    Set the current group ID and entries_read counter.",
            "HELP",
            "    Prints this help.",
        ]));
    }
    refuse(session, &[&args[2]]).await
}

/// XREADGROUP: its keys follow STREAMS; refused.
pub(crate) async fn cmd_xreadgroup(
    session: &mut Session,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    let Some(at) = (1..args.len()).find(|&i| is(&args[i], "streams")) else {
        return err(errors::SYNTAX);
    };
    let rest = &args[at + 1..];
    if rest.is_empty() || !rest.len().is_multiple_of(2) {
        return err(errors::XREAD_UNBALANCED);
    }
    let keys: Vec<&Bytes> = rest[..rest.len() / 2].iter().collect();
    refuse(session, &keys).await
}

/// XPENDING: an event stream has no consumer groups.
pub(crate) async fn cmd_xpending(
    session: &mut Session,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    if args.len() != 3 && !(6..=9).contains(&args.len()) {
        return err(errors::SYNTAX);
    }
    target(session, &args[1]).await?;
    err(errors::no_key_or_group(&args[1], &args[2]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ms: u64, seq: u64) -> Option<Id> {
        Some(Id { ms, seq })
    }

    #[test]
    fn ids_parse_as_redis_parses_them() {
        assert_eq!(parse_id(b"1-2", 0, false), id(1, 2));
        assert_eq!(parse_id(b"5", 7, false), id(5, 7));
        assert_eq!(parse_id(b"-", 0, false), id(0, 0));
        assert_eq!(parse_id(b"+", 0, false), Some(Id::MAX));
        assert_eq!(parse_id(b"-", 0, true), None);
        assert_eq!(parse_id(b"+", 0, true), None);
        assert_eq!(parse_id(b"18446744073709551615", 0, true), id(u64::MAX, 0));
        assert_eq!(parse_id(b"18446744073709551616", 0, true), None);
        // strtoull's leniency, as Redis has it.
        assert_eq!(parse_id(b"+5", 0, true), id(5, 0));
        assert_eq!(parse_id(b" 5-01", 0, true), id(5, 1));
        for bad in [
            &b"x"[..],
            b"1-",
            b"-1",
            b"-1-1",
            b"1-x",
            b"1-2-3",
            b"",
            b"1--2",
        ] {
            assert_eq!(parse_id(bad, 0, false), None, "{bad:?}");
        }
        assert_eq!(parse_id(&[b'1'; 128], 0, false), None);
        assert_eq!(
            parse_interval(b"(1-1", 0).unwrap(),
            (Id { ms: 1, seq: 1 }, true)
        );
        assert!(parse_interval(b"(", 0).is_err());
        assert!(parse_interval(b"(-", 0).is_err());
    }

    #[test]
    fn ids_step_and_clamp() {
        assert_eq!(
            Id {
                ms: 1,
                seq: u64::MAX
            }
            .incr(),
            id(2, 0)
        );
        assert_eq!(Id::MAX.incr(), None);
        assert_eq!(Id { ms: 2, seq: 0 }.decr(), id(1, u64::MAX));
        assert_eq!(Id::MIN.decr(), None);
        assert_eq!(Id::MAX.start(), None);
        assert_eq!(Id::MAX.end(), StreamId::MAX);
        assert_eq!(
            Id {
                ms: 3,
                seq: u64::MAX
            }
            .end(),
            StreamId {
                ms: 3,
                seq: i64::MAX
            }
        );
    }
}
