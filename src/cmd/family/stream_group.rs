//! Consumer groups: XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM,
//! XAUTOCLAIM and XINFO's GROUPS and CONSUMERS, as Redis 7.0 answers
//! them. A group, its consumers and its pending entries are rows of the
//! stream's key ([`crate::cmd::helpers::streams`]), changed in the
//! transaction of the command that changes them: every instance reads
//! one pending list, and an entry XREADGROUP delivers goes to exactly one
//! consumer (the key's rows are locked by the transaction that delivers
//! it).

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::cmd::args::{int_arg, is};
use crate::cmd::ctx::Ctx;
use crate::cmd::errors::{self, CmdError, CmdResult, err};
use crate::cmd::family::event_stream::keyed_reply;
use crate::cmd::helpers::streams::{
    self, Group, Id, Pending, ReadArgs, Stream, c_str, entry_reply, range_end, range_start,
    strict_id,
};
use crate::cmd::spec::{BlockOn, CommandSpec, Wait};
use crate::reply::{OK, Reply};

/// A long-long argument with Redis's own error text for it.
fn int_or(arg: &[u8], text: &'static str) -> Result<i64, CmdError> {
    crate::protocol::parse_i64(arg).ok_or_else(|| CmdError::Reply(text.into()))
}

/// Makes sure the consumer exists (with an `xgroup-createconsumer`
/// event when it is new) and refreshes its seen time.
async fn touch_consumer(
    ctx: &mut Ctx<'_>,
    stream: &Stream<'_>,
    group: &[u8],
    consumer: &[u8],
) -> Result<(), CmdError> {
    if stream.consumer(ctx, group, consumer).await?.is_none() {
        ctx.notify(b't', "xgroup-createconsumer", stream.key);
    }
    stream.put_consumer(ctx, group, consumer, ctx.now).await
}

// --- XGROUP ----------------------------------------------------------------------

/// XGROUP CREATE | SETID | DESTROY | CREATECONSUMER | DELCONSUMER | HELP
pub async fn xgroup(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let sub = &args[1];
    if args.len() == 2 && is(sub, "help") {
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
    let syntax = || err(errors::subcommand_syntax(sub, "xgroup"));
    if args.len() < 4 {
        return syntax();
    }
    let (create, setid) = (is(sub, "create"), is(sub, "setid"));
    let mut mkstream = false;
    let mut entries_read = None;
    let mut i = 5;
    while i < args.len() {
        if create && is(&args[i], "mkstream") {
            mkstream = true;
            i += 1;
        } else if (create || setid) && is(&args[i], "entriesread") && i + 1 < args.len() {
            let n = int_arg(&args[i + 1])?;
            if n < 0 && n != -1 {
                return err(errors::ENTRIESREAD_NEGATIVE);
            }
            entries_read = u64::try_from(n).ok();
            i += 2;
        } else {
            return syntax();
        }
    }
    let key = &args[2];
    let name = &args[3];
    let stream = streams::write(ctx, key).await?;
    let mut group = None;
    if let Some(stream) = &stream {
        group = stream.group(ctx, name).await?;
    }
    if !mkstream {
        if stream.is_none() {
            return err(errors::XGROUP_NO_KEY);
        }
        let needs_group = setid || is(sub, "createconsumer") || is(sub, "delconsumer");
        if group.is_none() && needs_group {
            return err(errors::no_consumer_group(name, key));
        }
    }
    if create && (5..=8).contains(&args.len()) {
        let id = if c_str(&args[4]) == b"$" {
            stream.as_ref().map_or(Id::MIN, |s| s.meta.last)
        } else {
            strict_id(&args[4])?
        };
        if group.is_some() {
            return err(errors::BUSYGROUP);
        }
        let stream = match stream {
            Some(stream) => stream,
            None => {
                ctx.notify(b'n', "new", key);
                Stream::empty(key)
            }
        };
        let group = Group {
            last_delivered: id,
            entries_read,
        };
        stream.put_group(ctx, name, &group).await?;
        ctx.notify(b't', "xgroup-create", key);
        return Ok(OK);
    }
    let (Some(stream), Some(mut group)) = (stream, group) else {
        // DESTROY of a missing group; anything else was answered above.
        return if is(sub, "destroy") && args.len() == 4 {
            Ok(Reply::Int(0))
        } else {
            syntax()
        };
    };
    if setid && (args.len() == 5 || args.len() == 7) {
        group.last_delivered = if c_str(&args[4]) == b"$" {
            stream.meta.last
        } else {
            streams::any_id(&args[4], 0)?
        };
        group.entries_read = entries_read;
        stream.put_group(ctx, name, &group).await?;
        ctx.notify(b't', "xgroup-setid", key);
        Ok(OK)
    } else if is(sub, "destroy") && args.len() == 4 {
        stream.delete_group(ctx, name).await?;
        ctx.notify(b't', "xgroup-destroy", key);
        Ok(Reply::Int(1))
    } else if is(sub, "createconsumer") && args.len() == 5 {
        if stream.consumer(ctx, name, &args[4]).await?.is_some() {
            return Ok(Reply::Int(0));
        }
        stream.put_consumer(ctx, name, &args[4], ctx.now).await?;
        ctx.notify(b't', "xgroup-createconsumer", key);
        Ok(Reply::Int(1))
    } else if is(sub, "delconsumer") && args.len() == 5 {
        if stream.consumer(ctx, name, &args[4]).await?.is_none() {
            return Ok(Reply::Int(0));
        }
        let pending = stream.delete_consumer(ctx, name, &args[4]).await?;
        ctx.notify(b't', "xgroup-delconsumer", key);
        Ok(Reply::Int(pending as i64))
    } else {
        syntax()
    }
}

// --- XREADGROUP --------------------------------------------------------------------

/// XREADGROUP GROUP group consumer [COUNT n] [BLOCK ms] [NOACK] STREAMS
/// key [key ...] id [id ...]: the attempt. `>` delivers the entries after
/// the group's last delivered id (each to this consumer alone, pending
/// unless NOACK); another id reads the consumer's own pending entries
/// after it. A nil array when nothing was delivered (then
/// [`xreadgroup_block_on`] waits, when BLOCK says so).
pub async fn xreadgroup(
    ctx: &mut Ctx<'_>,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    let parsed = ReadArgs::parse(args, true)?;
    let Some((group_name, consumer)) = parsed.group.clone() else {
        return err(errors::XREADGROUP_NO_GROUP);
    };
    let mut reads = Vec::with_capacity(parsed.streams);
    for (key, id) in parsed.keys(args).iter().zip(parsed.ids(args)) {
        // A client that waited is told when its stream or group went.
        let stream = match streams::write(ctx, key).await {
            Err(CmdError::WrongType) if ctx.blocked => return err(errors::XREADGROUP_KEY_GONE),
            other => other?,
        };
        let group = match &stream {
            Some(stream) => stream.group(ctx, &group_name).await?,
            None if ctx.blocked => return err(errors::XREADGROUP_KEY_GONE),
            None => None,
        };
        let (Some(stream), Some(group)) = (stream, group) else {
            if ctx.blocked {
                return err(errors::XREADGROUP_GROUP_GONE);
            }
            return err(errors::no_key_or_group_xreadgroup(key, &group_name));
        };
        let after = match c_str(id) {
            b"$" => return err(errors::XREADGROUP_DOLLAR),
            b">" => None,
            _ => Some(strict_id(id)?),
        };
        reads.push((stream, group, after));
    }
    let count = (parsed.count > 0).then_some(parsed.count);
    let mut found = Vec::new();
    for (stream, group, after) in reads {
        let served = match after {
            Some(after) => {
                touch_consumer(ctx, &stream, &group_name, &consumer).await?;
                Some(history(ctx, &stream, &group_name, &consumer, after, count).await?)
            }
            None => {
                let new = NewEntries {
                    group_name: &group_name,
                    consumer: &consumer,
                    count,
                    noack: parsed.noack,
                };
                deliver(ctx, &stream, group, &new).await?
            }
        };
        if let Some(entries) = served {
            found.push((Reply::Bulk(stream.key.clone()), entries));
        }
    }
    if found.is_empty() {
        return Ok(Reply::NilArray);
    }
    Ok(keyed_reply(ctx.resp3, found))
}

/// What a `>` read delivers to whom.
struct NewEntries<'a> {
    group_name: &'a [u8],
    consumer: &'a [u8],
    count: Option<u64>,
    noack: bool,
}

/// Delivers the entries after the group's last delivered id (Redis's
/// `streamReplyWithRange` with a group): `None` when there are none.
async fn deliver(
    ctx: &mut Ctx<'_>,
    stream: &Stream<'_>,
    mut group: Group,
    new: &NewEntries<'_>,
) -> Result<Option<Reply>, CmdError> {
    let Some(start) = group.last_delivered.incr() else {
        return Ok(None);
    };
    let entries = stream.range(ctx, start, Id::MAX, false, new.count).await?;
    if entries.is_empty() {
        return Ok(None);
    }
    touch_consumer(ctx, stream, new.group_name, new.consumer).await?;
    let meta = &stream.meta;
    let mut pending = Vec::with_capacity(entries.len());
    for (id, _) in &entries {
        group.entries_read = match group.entries_read {
            Some(n) if !meta.has_tombstones_from(*id) => Some(n + 1),
            _ if meta.added > 0 => meta.entries_read_at(*id),
            other => other,
        };
        group.last_delivered = *id;
        if !new.noack {
            pending.push((
                *id,
                Pending {
                    consumer: Bytes::copy_from_slice(new.consumer),
                    delivered_at: ctx.now,
                    count: 1,
                },
            ));
        }
    }
    stream.put_group(ctx, new.group_name, &group).await?;
    if !pending.is_empty() {
        stream.put_pending(ctx, new.group_name, &pending).await?;
    }
    Ok(Some(streams::entries_reply(&entries)))
}

/// The consumer's own pending entries after `after` (Redis's
/// `streamReplyWithRangeFromConsumerPEL`): each delivered once more; one
/// whose entry is gone comes back as `[id, nil]`.
async fn history(
    ctx: &mut Ctx<'_>,
    stream: &Stream<'_>,
    group: &[u8],
    consumer: &[u8],
    after: Id,
    count: Option<u64>,
) -> Result<Reply, CmdError> {
    let Some(start) = after.incr() else {
        return Ok(Reply::Array(vec![]));
    };
    let mut theirs: Vec<(Id, Pending)> = stream
        .pending(ctx, group, start, Id::MAX, None)
        .await?
        .into_iter()
        .filter(|(_, p)| p.consumer == consumer)
        .collect();
    if let Some(n) = count {
        theirs.truncate(n.min(usize::MAX as u64) as usize);
    }
    let ids: Vec<Id> = theirs.iter().map(|(id, _)| *id).collect();
    let entries = stream.get(ctx, &ids).await?;
    let mut out = Vec::with_capacity(ids.len());
    let mut redelivered = Vec::new();
    for ((id, mut p), entry) in theirs.into_iter().zip(entries) {
        match entry {
            Some(entry) => {
                out.push(entry_reply(&entry));
                p.delivered_at = ctx.now;
                p.count += 1;
                redelivered.push((id, p));
            }
            None => out.push(Reply::Array(vec![id.reply(), Reply::NilArray])),
        }
    }
    if !redelivered.is_empty() {
        stream.put_pending(ctx, group, &redelivered).await?;
    }
    Ok(Reply::Array(out))
}

/// Where XREADGROUP waits: on its keys, every waiter woken by each change
/// (its consumers may read different groups), BLOCK milliseconds.
pub fn xreadgroup_block_on(args: &[Bytes]) -> BlockOn {
    let (keys, wait) = match ReadArgs::parse(args, true) {
        Ok(parsed) => (
            parsed.keys(args).to_vec(),
            parsed.block.map_or(Wait::Never, Wait::Millis),
        ),
        // The attempt answers the error.
        Err(_) => (Vec::new(), Wait::Never),
    };
    BlockOn {
        keys,
        wait,
        every: true,
        ..BlockOn::seconds(Vec::new(), 0)
    }
}

// --- XACK and XPENDING --------------------------------------------------------------

/// The stream and group a command names, looked up for a write or a
/// read, or `None` when either is missing (WRONGTYPE for a key of another
/// kind).
async fn stream_and_group<'k>(
    ctx: &mut Ctx<'_>,
    key: &'k Bytes,
    group: &[u8],
    write: bool,
) -> Result<Option<(Stream<'k>, Group)>, CmdError> {
    let stream = if write {
        streams::write(ctx, key).await?
    } else {
        streams::read(ctx, key).await?
    };
    let Some(stream) = stream else {
        return Ok(None);
    };
    Ok(stream.group(ctx, group).await?.map(|g| (stream, g)))
}

/// XACK key group id [id ...]: a missing key or group acknowledges
/// nothing (before the ids are read, as in Redis).
pub async fn xack(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let Some((stream, _)) = stream_and_group(ctx, &args[1], &args[2], true).await? else {
        return Ok(Reply::Int(0));
    };
    let ids = args[3..]
        .iter()
        .map(|a| strict_id(a))
        .collect::<Result<Vec<_>, _>>()?;
    let n = stream.remove_pending(ctx, &args[2], &ids).await?;
    Ok(Reply::Int(n as i64))
}

/// XPENDING key group [[IDLE min-idle] start end count [consumer]]
pub async fn xpending(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let n = args.len();
    if n != 3 && !(6..=9).contains(&n) {
        return err(errors::SYNTAX);
    }
    let mut extended = None;
    if n >= 6 {
        let mut at = 3;
        let mut min_idle = 0;
        if is(&args[3], "idle") {
            min_idle = int_arg(&args[4])?;
            if n < 8 {
                return err(errors::SYNTAX);
            }
            at = 5;
        }
        let count = int_arg(&args[at + 2])?.max(0) as u64;
        let start = range_start(&args[at])?;
        let end = range_end(&args[at + 1])?;
        extended = Some((min_idle, start, end, count, args.get(at + 3)));
    }
    let (key, name) = (&args[1], &args[2]);
    let Some((stream, _)) = stream_and_group(ctx, key, name, false).await? else {
        return err(errors::no_key_or_group(key, name));
    };
    let Some((min_idle, start, end, count, consumer)) = extended else {
        let all = stream.pending(ctx, name, Id::MIN, Id::MAX, None).await?;
        let (Some((first, _)), Some((last, _))) = (all.first(), all.last()) else {
            return Ok(Reply::Array(vec![
                Reply::Int(0),
                Reply::Nil,
                Reply::Nil,
                Reply::NilArray,
            ]));
        };
        let mut per_consumer: BTreeMap<&Bytes, u64> = BTreeMap::new();
        for (_, p) in &all {
            *per_consumer.entry(&p.consumer).or_default() += 1;
        }
        let consumers = per_consumer
            .into_iter()
            .map(|(name, n)| {
                Reply::Array(vec![
                    Reply::Bulk(name.clone()),
                    Reply::bulk(Bytes::from(n.to_string())),
                ])
            })
            .collect();
        return Ok(Reply::Array(vec![
            Reply::Int(all.len() as i64),
            first.reply(),
            last.reply(),
            Reply::Array(consumers),
        ]));
    };
    if let Some(consumer) = consumer
        && stream.consumer(ctx, name, consumer).await?.is_none()
    {
        return Ok(Reply::Array(vec![]));
    }
    let now = ctx.now;
    let mut out = Vec::new();
    if count > 0 {
        for (id, p) in stream.pending(ctx, name, start, end, None).await? {
            if consumer.is_some_and(|c| *c != p.consumer) {
                continue;
            }
            let idle = now - p.delivered_at;
            if min_idle != 0 && idle < min_idle {
                continue;
            }
            out.push(Reply::Array(vec![
                id.reply(),
                Reply::Bulk(p.consumer),
                Reply::Int(idle.max(0)),
                Reply::Int(p.count as i64),
            ]));
            if out.len() as u64 == count {
                break;
            }
        }
    }
    Ok(Reply::Array(out))
}

// --- XCLAIM and XAUTOCLAIM ------------------------------------------------------------

/// XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME
/// unix-ms] [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID id]
pub async fn xclaim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (key, name, consumer) = (&args[1], &args[2], &args[3]);
    let Some((stream, mut group)) = stream_and_group(ctx, key, name, true).await? else {
        return err(errors::no_key_or_group(key, name));
    };
    let min_idle = int_or(&args[4], errors::XCLAIM_MIN_IDLE)?.max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < args.len() {
        match streams::parse_id(&args[j], 0, true) {
            Some(id) => ids.push(id),
            None => break,
        }
        j += 1;
    }
    let now = ctx.now;
    let (mut force, mut justid) = (false, false);
    let mut delivery: Option<i64> = None;
    let mut retry: Option<i64> = None;
    let mut last_id = Id::MIN;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let opt = &args[j];
        if is(opt, "force") {
            force = true;
        } else if is(opt, "justid") {
            justid = true;
        } else if is(opt, "idle") && more > 0 {
            j += 1;
            delivery = Some(now - int_or(&args[j], errors::XCLAIM_IDLE)?);
        } else if is(opt, "time") && more > 0 {
            j += 1;
            delivery = Some(int_or(&args[j], errors::XCLAIM_TIME)?);
        } else if is(opt, "retrycount") && more > 0 {
            j += 1;
            retry = Some(int_or(&args[j], errors::XCLAIM_RETRYCOUNT)?);
        } else if is(opt, "lastid") && more > 0 {
            j += 1;
            last_id = strict_id(&args[j])?;
        } else {
            return err(errors::xclaim_option(opt));
        }
        j += 1;
    }
    if last_id > group.last_delivered {
        group.last_delivered = last_id;
        stream.put_group(ctx, name, &group).await?;
    }
    let delivered_at = match delivery {
        Some(t) if (0..=now).contains(&t) => t,
        _ => now,
    };
    let mut touched = false;
    let mut out = Vec::new();
    for id in ids {
        let pending = stream.pending_get(ctx, name, &[id]).await?.pop().flatten();
        let Some(entry) = stream.get(ctx, &[id]).await?.pop().flatten() else {
            if pending.is_some() {
                stream.remove_pending(ctx, name, &[id]).await?;
            }
            continue;
        };
        let mut p = match pending {
            Some(p) => {
                if min_idle > 0 && now - p.delivered_at < min_idle {
                    continue;
                }
                p
            }
            // A pending entry made from scratch (Redis's NACK without a
            // consumer: delivered once, no idle check).
            None if force => Pending {
                consumer: Bytes::new(),
                delivered_at: now,
                count: 1,
            },
            None => continue,
        };
        if !touched {
            touch_consumer(ctx, &stream, name, consumer).await?;
            touched = true;
        }
        p.delivered_at = delivered_at;
        match retry {
            Some(n) if n >= 0 => p.count = n as u64,
            _ if !justid => p.count += 1,
            _ => {}
        }
        p.consumer = consumer.clone();
        stream.put_pending(ctx, name, &[(id, p)]).await?;
        out.push(if justid {
            id.reply()
        } else {
            entry_reply(&entry)
        });
    }
    Ok(Reply::Array(out))
}

/// XAUTOCLAIM key group consumer min-idle-time start [COUNT count]
/// [JUSTID]: `[cursor, claimed, deleted ids]`, looking at most ten times
/// COUNT pending entries.
pub async fn xautoclaim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let min_idle = int_or(&args[4], errors::XAUTOCLAIM_MIN_IDLE)?.max(0);
    let start = range_start(&args[5])?;
    let mut count: u64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if is(&args[j], "count") && more > 0 {
            let max = i64::MAX / 16;
            count = match crate::protocol::parse_i64(&args[j + 1]) {
                Some(n) if (1..=max).contains(&n) => n as u64,
                _ => return err(errors::XAUTOCLAIM_COUNT),
            };
            j += 1;
        } else if is(&args[j], "justid") {
            justid = true;
        } else {
            return err(errors::SYNTAX);
        }
        j += 1;
    }
    let (key, name, consumer) = (&args[1], &args[2], &args[3]);
    let Some((stream, _)) = stream_and_group(ctx, key, name, true).await? else {
        return err(errors::no_key_or_group(key, name));
    };
    let mut attempts = count.saturating_mul(10);
    let rows = stream
        .pending(ctx, name, start, Id::MAX, Some(attempts.saturating_add(1)))
        .await?;
    let now = ctx.now;
    let mut touched = false;
    let mut claimed = Vec::new();
    let mut deleted = Vec::new();
    let mut next = 0;
    for (id, mut p) in rows.iter().cloned() {
        if attempts == 0 || count == 0 {
            break;
        }
        attempts -= 1;
        next += 1;
        let Some(entry) = stream.get(ctx, &[id]).await?.pop().flatten() else {
            stream.remove_pending(ctx, name, &[id]).await?;
            deleted.push(id.reply());
            count -= 1;
            continue;
        };
        if min_idle > 0 && now - p.delivered_at < min_idle {
            continue;
        }
        if !touched {
            touch_consumer(ctx, &stream, name, consumer).await?;
            touched = true;
        }
        p.delivered_at = now;
        if !justid {
            p.count += 1;
        }
        p.consumer = consumer.clone();
        stream.put_pending(ctx, name, &[(id, p)]).await?;
        claimed.push(if justid {
            id.reply()
        } else {
            entry_reply(&entry)
        });
        count -= 1;
    }
    let cursor = rows.get(next).map_or(Id::MIN, |(id, _)| *id);
    Ok(Reply::Array(vec![
        cursor.reply(),
        Reply::Array(claimed),
        Reply::Array(deleted),
    ]))
}

// --- XINFO GROUPS and CONSUMERS ---------------------------------------------------------

fn entries_read_reply(group: &Group) -> Reply {
    group
        .entries_read
        .map_or(Reply::Nil, |n| Reply::Int(n as i64))
}

fn lag_reply(stream: &Stream<'_>, group: &Group) -> Reply {
    stream.meta.lag(group).map_or(Reply::Nil, Reply::Int)
}

fn map(fields: Vec<(&str, Reply)>) -> Reply {
    Reply::Map(
        fields
            .into_iter()
            .map(|(name, value)| (Reply::bulk_str(name), value))
            .collect(),
    )
}

/// XINFO GROUPS key
pub async fn xinfo_groups(ctx: &mut Ctx<'_>, stream: &Stream<'_>) -> CmdResult {
    let mut out = Vec::new();
    for (name, group) in stream.groups(ctx).await? {
        let consumers = stream.consumers(ctx, &name).await?.len();
        let pending = stream.pending_count(ctx, &name).await?;
        out.push(map(vec![
            ("name", Reply::Bulk(name.clone())),
            ("consumers", Reply::Int(consumers as i64)),
            ("pending", Reply::Int(pending as i64)),
            ("last-delivered-id", group.last_delivered.reply()),
            ("entries-read", entries_read_reply(&group)),
            ("lag", lag_reply(stream, &group)),
        ]));
    }
    Ok(Reply::Array(out))
}

/// XINFO CONSUMERS key group
pub async fn xinfo_consumers(ctx: &mut Ctx<'_>, stream: &Stream<'_>, name: &Bytes) -> CmdResult {
    if stream.group(ctx, name).await?.is_none() {
        return err(errors::no_consumer_group(name, stream.key));
    }
    let pending = stream.pending(ctx, name, Id::MIN, Id::MAX, None).await?;
    let now = ctx.now;
    let mut out = Vec::new();
    for (consumer, seen) in stream.consumers(ctx, name).await? {
        let theirs = pending
            .iter()
            .filter(|(_, p)| p.consumer == consumer)
            .count();
        out.push(map(vec![
            ("name", Reply::Bulk(consumer)),
            ("pending", Reply::Int(theirs as i64)),
            ("idle", Reply::Int((now - seen).max(0))),
        ]));
    }
    Ok(Reply::Array(out))
}

/// XINFO STREAM FULL's groups: each with its pending entries and
/// consumers (at most `limit` pending entries each).
pub async fn full_groups(
    ctx: &mut Ctx<'_>,
    stream: &Stream<'_>,
    limit: Option<u64>,
) -> Result<Reply, CmdError> {
    let limit = limit.map_or(usize::MAX, |n| n.min(usize::MAX as u64) as usize);
    let mut out = Vec::new();
    for (name, group) in stream.groups(ctx).await? {
        let pending = stream.pending(ctx, &name, Id::MIN, Id::MAX, None).await?;
        let group_pel = pending
            .iter()
            .take(limit)
            .map(|(id, p)| {
                Reply::Array(vec![
                    id.reply(),
                    Reply::Bulk(p.consumer.clone()),
                    Reply::Int(p.delivered_at),
                    Reply::Int(p.count as i64),
                ])
            })
            .collect();
        let mut consumers = Vec::new();
        for (consumer, seen) in stream.consumers(ctx, &name).await? {
            let theirs: Vec<&(Id, Pending)> = pending
                .iter()
                .filter(|(_, p)| p.consumer == consumer)
                .collect();
            let pel = theirs
                .iter()
                .take(limit)
                .map(|(id, p)| {
                    Reply::Array(vec![
                        id.reply(),
                        Reply::Int(p.delivered_at),
                        Reply::Int(p.count as i64),
                    ])
                })
                .collect();
            consumers.push(map(vec![
                ("name", Reply::Bulk(consumer)),
                ("seen-time", Reply::Int(seen)),
                ("pel-count", Reply::Int(theirs.len() as i64)),
                ("pending", Reply::Array(pel)),
            ]));
        }
        out.push(map(vec![
            ("name", Reply::Bulk(name.clone())),
            ("last-delivered-id", group.last_delivered.reply()),
            ("entries-read", entries_read_reply(&group)),
            ("lag", lag_reply(stream, &group)),
            ("pel-count", Reply::Int(pending.len() as i64)),
            ("pending", Reply::Array(group_pel)),
            ("consumers", Reply::Array(consumers)),
        ]));
    }
    Ok(Reply::Array(out))
}
