//! Stream commands: the stream type (XADD, XRANGE, XREAD, XTRIM, ... and
//! the consumer groups of [`group`]), its entries and groups rows of the
//! store laid out by [`crate::cmd::helpers::streams`]. They are data
//! commands: each runs in one store transaction, inside MULTI and scripts
//! too. XREAD BLOCK waits as the blocking pops do ([`BlockOn`]): woken by
//! a write to its keys on any instance.
//!
//! A name under `__events@` is a read-only event stream, answered from
//! the event log by [`event_stream`].

use bytes::Bytes;

use crate::cmd::args::{int_arg, is};
use crate::cmd::ctx::Ctx;
use crate::cmd::errors::{self, CmdError, CmdResult, err};
use crate::cmd::family::event_stream;
use crate::cmd::family::stream_group as group;
use crate::cmd::helpers::event_view;
use crate::cmd::helpers::streams::{
    self, Entry, GivenId, Id, Limit, ReadArgs, Strategy, Stream, Trim, c_str, entries_reply,
    entry_reply, range_end, range_start, strict_id, xadd_id,
};
use crate::cmd::spec::{
    BeginSearch, BlockOn, CommandSpec, KeySpec, NO_KEYS, ONE_KEY, Props, SubInfo, SubSpec, Wait,
    key_at,
};
use crate::reply::{OK, Reply};

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
    "xrange", -4, &["readonly"], ONE_KEY, "5.0.0", data!(cmd_xrange; args), "Return a range of elements in a stream, with IDs matching the specified IDs interval", keys: READ;
    "xrevrange", -4, &["readonly"], ONE_KEY, "5.0.0", data!(cmd_xrevrange; args), "Return a range of elements in a stream, with IDs matching the specified IDs interval, in reverse order (from greater to smaller IDs) compared to XRANGE", keys: READ;
    "xread", -4, &["readonly", "blocking", "movablekeys"], NO_KEYS, "5.0.0", blocking!(cmd_xread, xread_block_on), "Return never seen elements in multiple streams, with IDs greater than the ones reported by the caller for each stream. Can block.", keys: XREAD_KEYS;
    "xlen", 2, &["readonly", "fast"], ONE_KEY, "5.0.0", data!(cmd_xlen; args), "Return the number of entries in a stream", keys: &[key_at(1, &["RO"])];
    "xinfo", -2, &[], NO_KEYS, "5.0.0", data!(cmd_xinfo; args), "A container for stream introspection commands", subs: XINFO_SUBCOMMANDS, info: XINFO_INFO;
    "xadd", -5, &["write", "denyoom", "fast"], ONE_KEY, "5.0.0", data!(cmd_xadd; args), "Appends a new entry to a stream", keys: XADD_KEYS, tips: NONDETERMINISTIC;
    "xtrim", -4, &["write"], ONE_KEY, "5.0.0", data!(cmd_xtrim; args), "Trims the stream to (approximately if '~' is passed) a certain size", keys: DELETE, tips: NONDETERMINISTIC;
    "xdel", -3, &["write", "fast"], ONE_KEY, "5.0.0", data!(cmd_xdel; args), "Removes the specified entries from the stream. Returns the number of items actually deleted, that may be different from the number of IDs passed in case certain IDs do not exist.", keys: DELETE;
    "xsetid", -3, &["write", "denyoom", "fast"], ONE_KEY, "5.0.0", data!(cmd_xsetid; args), "An internal command for replicating stream values", keys: UPDATE;
    "xack", -4, &["write", "fast"], ONE_KEY, "5.0.0", data!(group::xack; args), "Marks a pending message as correctly processed, effectively removing it from the pending entries list of the consumer group. Return value of the command is the number of messages successfully acknowledged, that is, the IDs we were actually able to resolve in the PEL.", keys: UPDATE;
    "xclaim", -6, &["write", "fast"], ONE_KEY, "5.0.0", data!(group::xclaim; args), "Changes (or acquires) ownership of a message in a consumer group, as if the message was delivered to the specified consumer.", keys: UPDATE, tips: NONDETERMINISTIC;
    "xautoclaim", -6, &["write", "fast"], ONE_KEY, "6.2.0", data!(group::xautoclaim; args), "Changes (or acquires) ownership of messages in a consumer group, as if the messages were delivered to the specified consumer.", keys: DELETE, tips: NONDETERMINISTIC;
    "xpending", -3, &["readonly"], ONE_KEY, "5.0.0", data!(group::xpending; args), "Return information and entries from a stream consumer group pending entries list, that are messages fetched but never acknowledged.", keys: READ, tips: NONDETERMINISTIC;
    "xreadgroup", -7, &["write", "blocking", "movablekeys"], NO_KEYS, "5.0.0", blocking!(group::xreadgroup, group::xreadgroup_block_on), "Return new entries from a stream using a consumer group, or access the history of the pending entries for a given consumer. Can block.", keys: XREADGROUP_KEYS;
    "xgroup", -2, &[], NO_KEYS, "5.0.0", data!(group::xgroup; args), "A container for consumer groups commands", subs: XGROUP_SUBCOMMANDS, info: XGROUP_INFO, props: Props::WRITES;
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

// --- XADD and XTRIM ------------------------------------------------------------

/// XADD's and XTRIM's options (Redis's `streamParseAddOrTrimArgsOrReply`).
struct AddTrim {
    trim: Option<Trim>,
    no_mkstream: bool,
    /// XADD's id (`None`: `*`).
    id: Option<GivenId>,
    /// Where the id is (XADD), or the argument count.
    at: usize,
}

fn parse_add_trim(args: &[Bytes], xadd: bool) -> Result<AddTrim, CmdError> {
    let mut strategy = None;
    let mut approx = false;
    let mut limit: Option<i64> = None;
    let mut parsed = AddTrim {
        trim: None,
        no_mkstream: false,
        id: None,
        at: args.len(),
    };
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = &args[i];
        let maxlen = is(opt, "maxlen");
        if xadd && c_str(opt) == b"*" {
            parsed.at = i;
            break;
        } else if (maxlen || is(opt, "minid")) && more > 0 {
            if strategy.is_some() {
                return err(errors::MAXLEN_AND_MINID);
            }
            approx = false;
            let next = c_str(&args[i + 1]);
            if more >= 2 && next == b"~" {
                approx = true;
                i += 1;
            } else if more >= 2 && next == b"=" {
                i += 1;
            }
            strategy = Some(if maxlen {
                let n = int_arg(&args[i + 1])?;
                if n < 0 {
                    return err(errors::MAXLEN_NEGATIVE);
                }
                Strategy::MaxLen(n as u64)
            } else {
                Strategy::MinId(strict_id(&args[i + 1])?)
            });
            i += 1;
        } else if is(opt, "limit") && more > 0 {
            let n = int_arg(&args[i + 1])?;
            if n < 0 {
                return err(errors::TRIM_LIMIT_NEGATIVE);
            }
            limit = Some(n);
            i += 1;
        } else if xadd && is(opt, "nomkstream") {
            parsed.no_mkstream = true;
        } else if xadd {
            parsed.id = Some(xadd_id(opt)?);
            parsed.at = i;
            break;
        } else {
            return err(errors::SYNTAX);
        }
        i += 1;
    }
    if limit.unwrap_or(0) != 0 && strategy.is_none() {
        return err(errors::LIMIT_WITHOUT_STRATEGY);
    }
    if !xadd && strategy.is_none() {
        return err(errors::XTRIM_WITHOUT_STRATEGY);
    }
    if limit.is_some() && !approx {
        return err(errors::LIMIT_WITHOUT_TILDE);
    }
    parsed.trim = strategy.map(|strategy| Trim {
        strategy,
        approx,
        limit: match limit {
            // LIMIT 0: no limit.
            Some(0) => Limit::None,
            Some(n) => Limit::At(n as u64),
            None if approx => Limit::Default,
            None => Limit::None,
        },
    });
    Ok(parsed)
}

/// XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]]
/// *|id field value [field value ...]
async fn cmd_xadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let parsed = parse_add_trim(args, true)?;
    let fields = args.get(parsed.at + 1..).unwrap_or(&[]);
    if fields.len() < 2 || !fields.len().is_multiple_of(2) {
        return err(errors::wrong_arity("xadd"));
    }
    if let Some(GivenId {
        id,
        seq_given: true,
    }) = parsed.id
        && id.is_zero()
    {
        return err(errors::XADD_ID_ZERO);
    }
    let key = &args[1];
    let mut stream = match streams::write(ctx, key).await? {
        Some(stream) => stream,
        None if parsed.no_mkstream => return Ok(Reply::Nil),
        None => {
            ctx.notify(b'n', "new", key);
            Stream::empty(key)
        }
    };
    let last = stream.meta.last;
    if last == Id::MAX {
        return err(errors::XADD_EXHAUSTED);
    }
    let id = match parsed.id {
        Some(GivenId {
            id,
            seq_given: true,
        }) => id,
        Some(GivenId { id, .. }) if id.ms == last.ms => match last.seq.checked_add(1) {
            Some(seq) => Id { ms: id.ms, seq },
            // What Redis 7.0 answers here (its errno left from before).
            None => return err(errors::XADD_TOO_LARGE),
        },
        Some(GivenId { id, .. }) => id,
        None => {
            let now = ctx.now.max(0) as u64;
            if now > last.ms {
                Id { ms: now, seq: 0 }
            } else {
                last.incr().unwrap_or(Id::MAX)
            }
        }
    };
    if id <= last {
        return err(errors::XADD_ID_TOO_SMALL);
    }
    stream.append(ctx, id, fields).await?;
    ctx.notify(b't', "xadd", key);
    if let Some(trim) = parsed.trim
        && stream.trim(ctx, &trim).await? > 0
    {
        ctx.notify(b't', "xtrim", key);
    }
    Ok(id.reply())
}

/// XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]
async fn cmd_xtrim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let parsed = parse_add_trim(args, false)?;
    let key = &args[1];
    let Some(mut stream) = streams::write(ctx, key).await? else {
        return Ok(Reply::Int(0));
    };
    let Some(trim) = parsed.trim else {
        return Ok(Reply::Int(0));
    };
    let deleted = stream.trim(ctx, &trim).await?;
    if deleted > 0 {
        ctx.notify(b't', "xtrim", key);
    }
    Ok(Reply::Int(deleted as i64))
}

/// XDEL key id [id ...]: the key is looked up before the ids are read, as
/// in Redis.
async fn cmd_xdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let Some(mut stream) = streams::write(ctx, key).await? else {
        return Ok(Reply::Int(0));
    };
    let ids = args[2..]
        .iter()
        .map(|a| strict_id(a))
        .collect::<Result<Vec<_>, _>>()?;
    let deleted = stream.delete(ctx, &ids).await?;
    if deleted > 0 {
        ctx.notify(b't', "xdel", key);
    }
    Ok(Reply::Int(deleted as i64))
}

/// XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID id]
async fn cmd_xsetid(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let id = strict_id(&args[2])?;
    let mut added: Option<u64> = None;
    let mut max_deleted = Id::MIN;
    let mut i = 3;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if is(&args[i], "entriesadded") && more > 0 {
            let n = int_arg(&args[i + 1])?;
            if n < 0 {
                return err(errors::XSETID_ENTRIES_ADDED_NEGATIVE);
            }
            added = Some(n as u64);
        } else if is(&args[i], "maxdeletedid") && more > 0 {
            max_deleted = strict_id(&args[i + 1])?;
            if id < max_deleted {
                return err(errors::XSETID_BELOW_MAX_DELETED);
            }
        } else {
            return err(errors::SYNTAX);
        }
        i += 2;
    }
    let key = &args[1];
    let Some(mut stream) = streams::write(ctx, key).await? else {
        return err(errors::NO_SUCH_KEY);
    };
    if stream.meta.length > 0 {
        let top = stream.range(ctx, Id::MIN, Id::MAX, true, Some(1)).await?;
        if top.first().is_some_and(|(top, _)| id < *top) {
            return err(errors::XSETID_BELOW_TOP);
        }
        if added.is_some_and(|n| n < stream.meta.length) {
            return err(errors::XSETID_ADDED_BELOW_LENGTH);
        }
    }
    stream.meta.last = id;
    if let Some(n) = added {
        stream.meta.added = n;
    }
    if !max_deleted.is_zero() {
        stream.meta.max_deleted = max_deleted;
    }
    // Redis does not signal XSETID to WATCH.
    stream.save_quiet(ctx).await?;
    ctx.notify(b't', "xsetid", key);
    Ok(OK)
}

// --- XRANGE, XREVRANGE, XLEN -------------------------------------------------------

/// XRANGE key start end [COUNT count]
async fn cmd_xrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    xrange(ctx, args, false).await
}

/// XREVRANGE key end start [COUNT count]
async fn cmd_xrevrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    xrange(ctx, args, true).await
}

async fn xrange(ctx: &mut Ctx<'_>, args: &[Bytes], rev: bool) -> CmdResult {
    let (start_arg, end_arg) = if rev {
        (&args[3], &args[2])
    } else {
        (&args[2], &args[3])
    };
    let start = range_start(start_arg)?;
    let end = range_end(end_arg)?;
    let mut count: Option<u64> = None;
    let mut i = 4;
    while i < args.len() {
        if is(&args[i], "count") && i + 1 < args.len() {
            count = Some(int_arg(&args[i + 1])?.max(0) as u64);
            i += 2;
        } else {
            return err(errors::SYNTAX);
        }
    }
    let key = &args[1];
    if let Some(view) = event_stream::view(ctx.instance, key) {
        return event_stream::xrange(ctx.instance, &view?, key, (start, end), count, rev).await;
    }
    let Some(stream) = streams::read(ctx, key).await? else {
        return Ok(Reply::Array(vec![]));
    };
    if count == Some(0) {
        return Ok(Reply::NilArray);
    }
    let entries = stream.range(ctx, start, end, rev, count).await?;
    Ok(entries_reply(&entries))
}

/// XLEN key
async fn cmd_xlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    if let Some(view) = event_stream::view(ctx.instance, key) {
        return event_stream::xlen(ctx.instance, &view?).await;
    }
    Ok(Reply::Int(match streams::read(ctx, key).await? {
        Some(stream) => stream.meta.length as i64,
        None => 0,
    }))
}

// --- XREAD -----------------------------------------------------------------------

/// XREAD [COUNT count] [BLOCK ms] STREAMS key [key ...] id [id ...]: the
/// attempt, which answers a nil array when no stream has entries after
/// its id (so [`xread_block_on`] waits, when BLOCK says so).
async fn cmd_xread(ctx: &mut Ctx<'_>, _spec: &'static CommandSpec, args: &[Bytes]) -> CmdResult {
    let parsed = ReadArgs::parse(args, false)?;
    let keys = parsed.keys(args);
    if keys.iter().any(|k| event_view::is_reserved(k)) {
        for key in keys.iter().filter(|k| !event_view::is_reserved(k)) {
            let meta = ctx.live(key).await?;
            event_stream::check_ordinary(meta.map(|m| m.kind))?;
        }
        return event_stream::xread_once(ctx.instance, ctx.resp3, args, &parsed).await;
    }
    let mut reads = Vec::with_capacity(keys.len());
    for (key, id) in keys.iter().zip(parsed.ids(args)) {
        let stream = streams::read(ctx, key).await?;
        let after = match c_str(id) {
            b"$" => stream.as_ref().map_or(Id::MIN, |s| s.meta.last),
            b">" => return err(errors::XREAD_GT_ID),
            _ => strict_id(id)?,
        };
        reads.push((stream, after));
    }
    let count = (parsed.count > 0).then_some(parsed.count);
    let mut found = Vec::new();
    for (stream, after) in reads {
        let (Some(stream), Some(start)) = (stream, after.incr()) else {
            continue;
        };
        let entries = stream.range(ctx, start, Id::MAX, false, count).await?;
        if !entries.is_empty() {
            found.push((Reply::Bulk(stream.key.clone()), entries_reply(&entries)));
        }
    }
    if found.is_empty() {
        return Ok(Reply::NilArray);
    }
    Ok(event_stream::keyed_reply(ctx.resp3, found))
}

/// Where XREAD waits: on its keys, every waiter woken by each change
/// (nothing is taken away), BLOCK milliseconds; `$` is resolved first.
/// An event stream waits on the event log instead.
fn xread_block_on(args: &[Bytes]) -> BlockOn {
    let Ok(parsed) = ReadArgs::parse(args, false) else {
        // The attempt answers the error.
        return BlockOn {
            wait: Wait::Never,
            ..BlockOn::seconds(Vec::new(), 0)
        };
    };
    let keys = parsed.keys(args).to_vec();
    let events = keys.iter().any(|k| event_view::is_reserved(k));
    let dollar = parsed.ids(args).iter().any(|id| c_str(id) == b"$");
    BlockOn {
        keys,
        wait: parsed.block.map_or(Wait::Never, Wait::Millis),
        every: true,
        resolve: (dollar && !events)
            .then_some(|ctx, spec, args| Box::pin(resolve_dollar(ctx, spec, args))),
        instead: (events && parsed.block.is_some()).then_some(|session, spec, args| {
            Box::pin(event_stream::xread_blocking(session, spec, args))
        }),
    }
}

/// XREAD's arguments with each `$` replaced by its stream's last id (0-0
/// for a missing stream), as Redis resolves it when the client blocks.
async fn resolve_dollar(
    ctx: &mut Ctx<'_>,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    let parsed = ReadArgs::parse(args, false)?;
    let mut resolved: Vec<Bytes> = args.to_vec();
    let at = parsed.streams_at + parsed.streams;
    for (i, key) in parsed.keys(args).iter().enumerate() {
        if c_str(&args[at + i]) == b"$" {
            let last = match streams::read(ctx, key).await? {
                Some(stream) => stream.meta.last,
                None => Id::MIN,
            };
            resolved[at + i] = Bytes::from(last.to_string());
        }
    }
    Ok(Reply::bulks(resolved))
}

// --- XINFO -------------------------------------------------------------------------

/// XINFO STREAM | GROUPS | CONSUMERS | HELP
async fn cmd_xinfo(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if is(&args[1], "help") {
        if args.len() != 2 {
            return err(errors::subcommand_syntax(&args[1], "xinfo"));
        }
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
    if args.len() < 3 {
        return err(errors::subcommand_syntax(&args[1], "xinfo"));
    }
    let key = &args[2];
    if let Some(view) = event_stream::view(ctx.instance, key) {
        return event_stream::xinfo(ctx.instance, &view?, args).await;
    }
    let Some(stream) = streams::read(ctx, key).await? else {
        return err(errors::NO_SUCH_KEY);
    };
    if is(&args[1], "consumers") && args.len() == 4 {
        group::xinfo_consumers(ctx, &stream, &args[3]).await
    } else if is(&args[1], "groups") && args.len() == 3 {
        group::xinfo_groups(ctx, &stream).await
    } else if is(&args[1], "stream") {
        xinfo_stream(ctx, &stream, &args[3..]).await
    } else {
        err(errors::subcommand_syntax(&args[1], "xinfo"))
    }
}

/// XINFO STREAM key [FULL [COUNT count]], with Redis 7.0's fields in its
/// order. respire has no radix tree: its two fields count what Redis's
/// would hold ([`Stream::radix_tree`]).
async fn xinfo_stream(ctx: &mut Ctx<'_>, stream: &Stream<'_>, options: &[Bytes]) -> CmdResult {
    let full = match options {
        [] => None,
        [f] if is(f, "full") => Some(10),
        [f, c, n] if is(f, "full") && is(c, "count") => {
            let n = int_arg(n)?;
            Some(if n < 0 { 10 } else { n as u64 })
        }
        _ => return err(errors::subcommand_syntax(b"STREAM", "xinfo")),
    };
    let meta = &stream.meta;
    let (radix_keys, radix_nodes) = stream.radix_tree(ctx).await?;
    let mut fields = vec![
        ("length", Reply::Int(meta.length as i64)),
        ("radix-tree-keys", Reply::Int(radix_keys as i64)),
        ("radix-tree-nodes", Reply::Int(radix_nodes as i64)),
        ("last-generated-id", meta.last.reply()),
        ("max-deleted-entry-id", meta.max_deleted.reply()),
        ("entries-added", Reply::Int(meta.added as i64)),
        ("recorded-first-entry-id", meta.first.reply()),
    ];
    match full {
        None => {
            let groups = stream.groups(ctx).await?.len();
            let edge = async |ctx: &mut Ctx<'_>, rev| -> Result<Option<Entry>, CmdError> {
                Ok(stream
                    .range(ctx, Id::MIN, Id::MAX, rev, Some(1))
                    .await?
                    .into_iter()
                    .next())
            };
            let first = edge(ctx, false).await?;
            let last = edge(ctx, true).await?;
            fields.push(("groups", Reply::Int(groups as i64)));
            fields.push((
                "first-entry",
                first.as_ref().map_or(Reply::Nil, entry_reply),
            ));
            fields.push(("last-entry", last.as_ref().map_or(Reply::Nil, entry_reply)));
        }
        Some(count) => {
            let limit = (count > 0).then_some(count);
            let entries = stream.range(ctx, Id::MIN, Id::MAX, false, limit).await?;
            fields.push(("entries", entries_reply(&entries)));
            fields.push(("groups", group::full_groups(ctx, stream, limit).await?));
        }
    }
    Ok(Reply::Map(
        fields
            .into_iter()
            .map(|(name, value)| (Reply::bulk_str(name), value))
            .collect(),
    ))
}
