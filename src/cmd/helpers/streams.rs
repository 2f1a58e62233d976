//! The stream type: entry ids as clients write them, and how a stream
//! lives in member rows (one key's rows, so RENAME, COPY, MOVE, DEL and
//! expiry treat it as any other key with members).
//!
//! Every row's score is 0, so the rows sort by `member`, whose first byte
//! says what the row is:
//!
//! | member | value |
//! |---|---|
//! | `e` id (16 bytes, big-endian ms and seq) | the entry's fields and values |
//! | `m` | the stream's counters ([`Meta`]) |
//! | `g` group name | the group's last delivered id and entries read ([`Group`]) |
//! | `c` group (length-prefixed) consumer | the consumer's seen time ([`Consumer`]) |
//! | `p` group (length-prefixed) id | a pending entry: its consumer, delivery time and count ([`Pending`]) |
//!
//! The counters Redis reports are kept in the meta row, written in the
//! same transaction as every change of the entries, so they never drift;
//! what a group or consumer has pending is counted from the `p` rows.

use bytes::{BufMut, Bytes, BytesMut};

use crate::cmd::args::{int_arg, is};
use crate::cmd::ctx::Ctx;
use crate::cmd::errors::{self, CmdError};
use crate::reply::Reply;
use crate::store::{Bound, KeyKind, Member, MemberRange, StreamId};

// --- Ids -------------------------------------------------------------------

/// A stream id: two unsigned 64-bit numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id {
    pub ms: u64,
    pub seq: u64,
}

impl Id {
    pub const MIN: Id = Id { ms: 0, seq: 0 };
    pub const MAX: Id = Id {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub fn incr(self) -> Option<Id> {
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

    pub fn decr(self) -> Option<Id> {
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

    pub fn is_zero(self) -> bool {
        self == Id::MIN
    }

    /// As an inclusive start in the event log; `None` when no entry can be
    /// at or after it.
    pub fn start(self) -> Option<StreamId> {
        (self.ms <= i64::MAX as u64).then(|| StreamId {
            ms: self.ms as i64,
            seq: self.seq.min(i64::MAX as u64) as i64,
        })
    }

    /// As an inclusive end (or an exclusive start: XREAD's last id) in the
    /// event log.
    pub fn end(self) -> StreamId {
        if self.ms > i64::MAX as u64 {
            StreamId::MAX
        } else {
            StreamId {
                ms: self.ms as i64,
                seq: self.seq.min(i64::MAX as u64) as i64,
            }
        }
    }

    fn to_bytes(self) -> [u8; 16] {
        let mut b = [0; 16];
        b[..8].copy_from_slice(&self.ms.to_be_bytes());
        b[8..].copy_from_slice(&self.seq.to_be_bytes());
        b
    }

    fn from_bytes(b: &[u8]) -> Id {
        let mut ms = [0; 8];
        let mut seq = [0; 8];
        ms.copy_from_slice(&b[..8]);
        seq.copy_from_slice(&b[8..16]);
        Id {
            ms: u64::from_be_bytes(ms),
            seq: u64::from_be_bytes(seq),
        }
    }

    /// The reply form, `<ms>-<seq>`.
    pub fn reply(self) -> Reply {
        Reply::bulk(Bytes::from(self.to_string()))
    }
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// An argument as C code sees it (Redis copies ids into a C buffer).
pub fn c_str(arg: &[u8]) -> &[u8] {
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

/// An id XADD is given: exact, or `<ms>-*` (the sequence to choose).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GivenId {
    pub id: Id,
    pub seq_given: bool,
}

/// Redis's `streamGenericParseIDOrReply`: `-`, `+` (not when `strict`),
/// `<ms>-<seq>`, `<ms>` (then `missing_seq`), or, when `auto_seq`,
/// `<ms>-*`.
fn parse(arg: &[u8], missing_seq: u64, strict: bool, auto_seq: bool) -> Option<GivenId> {
    if arg.len() > 127 {
        return None;
    }
    let s = c_str(arg);
    let exact = |id| {
        Some(GivenId {
            id,
            seq_given: true,
        })
    };
    match s {
        b"-" | b"+" if strict => None,
        b"-" => exact(Id::MIN),
        b"+" => exact(Id::MAX),
        _ => {
            let (ms, seq) = match s.iter().position(|&b| b == b'-') {
                Some(dash) => (&s[..dash], Some(&s[dash + 1..])),
                None => (s, None),
            };
            let ms = string2ull(ms)?;
            match seq {
                Some(b"*") if auto_seq => Some(GivenId {
                    id: Id { ms, seq: 0 },
                    seq_given: false,
                }),
                Some(seq) => exact(Id {
                    ms,
                    seq: string2ull(seq)?,
                }),
                None => exact(Id {
                    ms,
                    seq: missing_seq,
                }),
            }
        }
    }
}

/// An id where `-` and `+` are allowed (XRANGE's bounds).
pub fn parse_id(arg: &[u8], missing_seq: u64, strict: bool) -> Option<Id> {
    parse(arg, missing_seq, strict, false).map(|g| g.id)
}

/// A strict id (no `-`/`+`), or Redis's "Invalid stream ID" error.
pub fn strict_id(arg: &[u8]) -> Result<Id, CmdError> {
    parse_id(arg, 0, true).ok_or_else(invalid_id)
}

/// An id or `-`/`+`, or Redis's "Invalid stream ID" error.
pub fn any_id(arg: &[u8], missing_seq: u64) -> Result<Id, CmdError> {
    parse_id(arg, missing_seq, false).ok_or_else(invalid_id)
}

/// XADD's id: strict, `<ms>-*` allowed.
pub fn xadd_id(arg: &[u8]) -> Result<GivenId, CmdError> {
    parse(arg, 0, true, true).ok_or_else(invalid_id)
}

pub fn invalid_id() -> CmdError {
    CmdError::Reply(errors::INVALID_STREAM_ID.into())
}

/// XRANGE's bounds: an id, or `(id` exclusive (then strict).
pub fn parse_interval(arg: &[u8], missing_seq: u64) -> Result<(Id, bool), CmdError> {
    let exclusive = arg.len() > 1 && arg[0] == b'(';
    let id = if exclusive {
        parse_id(&arg[1..], missing_seq, true)
    } else {
        parse_id(arg, missing_seq, false)
    };
    id.map(|id| (id, exclusive)).ok_or_else(invalid_id)
}

/// An interval's inclusive start from its argument (`(` steps past it).
pub fn range_start(arg: &[u8]) -> Result<Id, CmdError> {
    let (id, exclusive) = parse_interval(arg, 0)?;
    if exclusive {
        return id
            .incr()
            .ok_or_else(|| CmdError::Reply(errors::INVALID_START_ID.into()));
    }
    Ok(id)
}

/// An interval's inclusive end from its argument.
pub fn range_end(arg: &[u8]) -> Result<Id, CmdError> {
    let (id, exclusive) = parse_interval(arg, u64::MAX)?;
    if exclusive {
        return id
            .decr()
            .ok_or_else(|| CmdError::Reply(errors::INVALID_END_ID.into()));
    }
    Ok(id)
}

// --- XREAD's arguments ---------------------------------------------------------

/// XREAD's and XREADGROUP's arguments, checked in Redis's order.
#[derive(Clone, Debug)]
pub struct ReadArgs {
    /// BLOCK's argument (an index into the arguments), checked.
    pub block: Option<usize>,
    /// COUNT (0: no limit).
    pub count: u64,
    /// GROUP's group and consumer (XREADGROUP).
    pub group: Option<(Bytes, Bytes)>,
    pub noack: bool,
    /// Where the keys start; as many ids follow them.
    pub streams_at: usize,
    pub streams: usize,
}

impl ReadArgs {
    pub fn parse(args: &[Bytes], xreadgroup: bool) -> Result<ReadArgs, CmdError> {
        let mut parsed = ReadArgs {
            block: None,
            count: 0,
            group: None,
            noack: false,
            streams_at: 0,
            streams: 0,
        };
        let mut i = 1;
        while i < args.len() {
            let more = args.len() - i - 1;
            let option = &args[i];
            if is(option, "block") && more > 0 {
                i += 1;
                crate::cmd::args::timeout_ms(&args[i])?;
                parsed.block = Some(i);
            } else if is(option, "count") && more > 0 {
                i += 1;
                parsed.count = int_arg(&args[i])?.max(0) as u64;
            } else if is(option, "streams") && more > 0 {
                parsed.streams_at = i + 1;
                let rest = args.len() - parsed.streams_at;
                if !rest.is_multiple_of(2) {
                    return Err(CmdError::Reply(errors::XREAD_UNBALANCED.into()));
                }
                parsed.streams = rest / 2;
                break;
            } else if is(option, "group") && more >= 2 {
                if !xreadgroup {
                    return Err(CmdError::Reply(errors::XREAD_GROUP.into()));
                }
                parsed.group = Some((args[i + 1].clone(), args[i + 2].clone()));
                i += 2;
            } else if is(option, "noack") {
                if !xreadgroup {
                    return Err(CmdError::Reply(errors::XREAD_NOACK.into()));
                }
                parsed.noack = true;
            } else {
                return Err(CmdError::Reply(errors::SYNTAX.into()));
            }
            i += 1;
        }
        if parsed.streams_at == 0 {
            return Err(CmdError::Reply(errors::SYNTAX.into()));
        }
        if xreadgroup && parsed.group.is_none() {
            return Err(CmdError::Reply(errors::XREADGROUP_NO_GROUP.into()));
        }
        Ok(parsed)
    }

    pub fn keys<'a>(&self, args: &'a [Bytes]) -> &'a [Bytes] {
        &args[self.streams_at..self.streams_at + self.streams]
    }

    pub fn ids<'a>(&self, args: &'a [Bytes]) -> &'a [Bytes] {
        &args[self.streams_at + self.streams..]
    }
}

// --- Rows -------------------------------------------------------------------

const ENTRY: u8 = b'e';
const META: u8 = b'm';
const GROUP: u8 = b'g';
const CONSUMER: u8 = b'c';
const PENDING: u8 = b'p';

/// A byte string's successor among its extensions: the first string
/// after every string that starts with `prefix`.
fn after_prefix(prefix: &[u8]) -> Bytes {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Bytes::from(end);
        }
    }
    Bytes::from_static(&[0xff; 1])
}

/// The rows whose member starts with `prefix`.
fn with_prefix(prefix: &[u8]) -> MemberRange {
    MemberRange::Member(
        Bound::Included(Bytes::copy_from_slice(prefix)),
        Bound::Excluded(after_prefix(prefix)),
    )
}

fn tagged(tag: u8, parts: &[&[u8]]) -> Bytes {
    let mut b = BytesMut::with_capacity(1 + parts.iter().map(|p| p.len()).sum::<usize>());
    b.put_u8(tag);
    for p in parts {
        b.put_slice(p);
    }
    b.freeze()
}

fn entry_member(id: Id) -> Bytes {
    tagged(ENTRY, &[&id.to_bytes()])
}

/// The entries `from..=to`.
fn entry_range(from: Id, to: Id) -> MemberRange {
    MemberRange::Member(
        Bound::Included(entry_member(from)),
        Bound::Included(entry_member(to)),
    )
}

/// A group's prefix for its consumers' or pending rows.
fn group_prefix(tag: u8, group: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(5 + group.len());
    b.push(tag);
    b.extend_from_slice(&(group.len() as u32).to_be_bytes());
    b.extend_from_slice(group);
    b
}

fn consumer_member(group: &[u8], consumer: &[u8]) -> Bytes {
    tagged(CONSUMER, &[&group_prefix(CONSUMER, group)[1..], consumer])
}

fn pending_member(group: &[u8], id: Id) -> Bytes {
    tagged(
        PENDING,
        &[&group_prefix(PENDING, group)[1..], &id.to_bytes()],
    )
}

fn row(member: Bytes, value: Bytes) -> Member {
    Member {
        member,
        score: 0,
        value,
    }
}

/// Fixed-width numbers in a row's value.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn u64(&mut self) -> u64 {
        let (head, rest) = self.0.split_at(8.min(self.0.len()));
        self.0 = rest;
        let mut b = [0; 8];
        b[..head.len()].copy_from_slice(head);
        u64::from_be_bytes(b)
    }

    fn id(&mut self) -> Id {
        Id {
            ms: self.u64(),
            seq: self.u64(),
        }
    }
}

/// An entry's field/value pairs, each length-prefixed.
pub fn encode_fields(pairs: &[Bytes]) -> Bytes {
    let mut b = BytesMut::with_capacity(pairs.iter().map(|p| 4 + p.len()).sum());
    for p in pairs {
        b.put_u32(p.len() as u32);
        b.put_slice(p);
    }
    b.freeze()
}

pub fn decode_fields(value: &Bytes) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 4 <= value.len() {
        let len = u32::from_be_bytes(value[at..at + 4].try_into().unwrap()) as usize;
        at += 4;
        let end = (at + len).min(value.len());
        out.push(value.slice(at..end));
        at = end;
    }
    out
}

/// A stream's counters (Redis's `stream` struct without its entries).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Meta {
    pub last: Id,
    pub first: Id,
    pub max_deleted: Id,
    pub added: u64,
    pub length: u64,
}

impl Meta {
    fn encode(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(64);
        for id in [self.last, self.first, self.max_deleted] {
            b.put_slice(&id.to_bytes());
        }
        b.put_u64(self.added);
        b.put_u64(self.length);
        b.freeze()
    }

    fn decode(value: &[u8]) -> Meta {
        let mut f = Fields(value);
        Meta {
            last: f.id(),
            first: f.id(),
            max_deleted: f.id(),
            added: f.u64(),
            length: f.u64(),
        }
    }

    /// Redis's `streamRangeHasTombstones` from `start` to the end.
    pub fn has_tombstones_from(&self, start: Id) -> bool {
        if self.length == 0 || self.max_deleted.is_zero() || self.first > self.max_deleted {
            return false;
        }
        start <= self.max_deleted
    }

    /// Redis's `streamEstimateDistanceFromFirstEverEntry`: how many
    /// entries up to `id` were ever added, when that can be known.
    pub fn entries_read_at(&self, id: Id) -> Option<u64> {
        if self.added == 0 {
            return Some(0);
        }
        if self.length == 0 && id <= self.last {
            return Some(self.added);
        }
        if id == self.last {
            return Some(self.added);
        }
        if id > self.last {
            return None;
        }
        if self.max_deleted.is_zero() || self.max_deleted < self.first {
            if id < self.first {
                return Some(self.added - self.length);
            }
            if id == self.first {
                return Some(self.added - self.length + 1);
            }
        }
        None
    }

    /// A group's lag (Redis's `streamReplyWithCGLag`), when it can be
    /// known (negative when ENTRIESREAD said more than was added, as in
    /// Redis).
    pub fn lag(&self, group: &Group) -> Option<i64> {
        if self.added == 0 {
            return Some(0);
        }
        let lag = |read: u64| self.added as i64 - read as i64;
        if let Some(read) = group.entries_read
            && !self.has_tombstones_from(group.last_delivered)
        {
            return Some(lag(read));
        }
        self.entries_read_at(group.last_delivered).map(lag)
    }
}

/// A consumer group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Group {
    pub last_delivered: Id,
    /// Entries read (Redis's `entries_read`), `None` when unknown (-1).
    pub entries_read: Option<u64>,
}

impl Group {
    fn encode(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(25);
        b.put_slice(&self.last_delivered.to_bytes());
        match self.entries_read {
            Some(n) => {
                b.put_u8(1);
                b.put_u64(n);
            }
            None => b.put_u8(0),
        }
        b.freeze()
    }

    fn decode(value: &[u8]) -> Group {
        let last_delivered = Fields(value).id();
        let entries_read = match value.get(16) {
            Some(1) => Some(Fields(&value[17..]).u64()),
            _ => None,
        };
        Group {
            last_delivered,
            entries_read,
        }
    }
}

/// A pending entry of a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    pub consumer: Bytes,
    pub delivered_at: i64,
    pub count: u64,
}

impl Pending {
    fn encode(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(16 + self.consumer.len());
        b.put_i64(self.delivered_at);
        b.put_u64(self.count);
        b.put_slice(&self.consumer);
        b.freeze()
    }

    fn decode(value: &Bytes) -> Pending {
        let mut f = Fields(value);
        let delivered_at = f.u64() as i64;
        let count = f.u64();
        Pending {
            consumer: value.slice(16.min(value.len())..),
            delivered_at,
            count,
        }
    }
}

/// Whether a write gives the stream a new WATCH version.
#[derive(Clone, Copy)]
enum Signal {
    Watch,
    Quiet,
}

/// One entry: its id and field/value pairs.
pub type Entry = (Id, Vec<Bytes>);

/// An entry as replies carry it: `[id, [field, value, ...]]`.
pub fn entry_reply((id, pairs): &Entry) -> Reply {
    Reply::Array(vec![id.reply(), Reply::bulks(pairs.iter().cloned())])
}

pub fn entries_reply(entries: &[Entry]) -> Reply {
    Reply::Array(entries.iter().map(entry_reply).collect())
}

/// A stream key's rows, read and written through a command's
/// transaction.
pub struct Stream<'k> {
    pub key: &'k Bytes,
    pub meta: Meta,
}

/// The stream at `key` for a read (`None`: absent; WRONGTYPE for another
/// kind; counts the hit or miss).
pub async fn read<'k>(ctx: &mut Ctx<'_>, key: &'k Bytes) -> Result<Option<Stream<'k>>, CmdError> {
    if crate::cmd::helpers::members::read(ctx, key, KeyKind::Stream)
        .await?
        .is_none()
    {
        return Ok(None);
    }
    load(ctx, key).await.map(Some)
}

/// The stream at `key` for a write (`None`: absent; WRONGTYPE for
/// another kind).
pub async fn write<'k>(ctx: &mut Ctx<'_>, key: &'k Bytes) -> Result<Option<Stream<'k>>, CmdError> {
    if ctx.for_write_of(key, KeyKind::Stream).await?.is_none() {
        return Ok(None);
    }
    load(ctx, key).await.map(Some)
}

async fn load<'k>(ctx: &mut Ctx<'_>, key: &'k Bytes) -> Result<Stream<'k>, CmdError> {
    let meta_member = Bytes::from_static(&[META]);
    let rows = ctx.txn.members_get(ctx.db, key, &[meta_member]).await?;
    let meta = match rows.into_iter().next().flatten() {
        Some(m) => Meta::decode(&m.value),
        None => Meta::default(),
    };
    Ok(Stream { key, meta })
}

impl Stream<'_> {
    /// A new, empty stream at `key` (written by the first [`Stream::save`]
    /// or [`Stream::put`]).
    pub fn empty(key: &Bytes) -> Stream<'_> {
        Stream {
            key,
            meta: Meta::default(),
        }
    }

    fn meta_row(&self) -> Member {
        row(Bytes::from_static(&[META]), self.meta.encode())
    }

    /// Writes the counters (creating the key if new) after a change of
    /// the entries, which WATCH sees (XADD, XDEL, XTRIM).
    pub async fn save(&self, ctx: &mut Ctx<'_>) -> Result<(), CmdError> {
        self.put(ctx, Vec::new(), Signal::Watch).await
    }

    /// Writes the counters without a new WATCH version (XSETID, and the
    /// groups' bookkeeping: Redis does not signal them).
    pub async fn save_quiet(&self, ctx: &mut Ctx<'_>) -> Result<(), CmdError> {
        self.put(ctx, Vec::new(), Signal::Quiet).await
    }

    /// Writes `rows` and the counters in one statement (creating the key
    /// if new).
    async fn put(
        &self,
        ctx: &mut Ctx<'_>,
        mut rows: Vec<Member>,
        signal: Signal,
    ) -> Result<(), CmdError> {
        rows.push(self.meta_row());
        let (db, key) = (ctx.db, self.key);
        match signal {
            Signal::Watch => ctx.txn.members_put(db, key, KeyKind::Stream, &rows).await?,
            Signal::Quiet => {
                ctx.txn
                    .members_put_quiet(db, key, KeyKind::Stream, &rows)
                    .await?
            }
        }
        Ok(())
    }

    /// Appends an entry with this id (checked by the caller to be after
    /// the last one).
    pub async fn append(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: Id,
        pairs: &[Bytes],
    ) -> Result<(), CmdError> {
        if self.meta.length == 0 {
            self.meta.first = id;
        }
        self.meta.last = id;
        self.meta.added += 1;
        self.meta.length += 1;
        let entry = row(entry_member(id), encode_fields(pairs));
        self.put(ctx, vec![entry], Signal::Watch).await
    }

    /// The entries from `from` to `to` (inclusive), reversed when `rev`,
    /// at most `limit`.
    pub async fn range(
        &self,
        ctx: &mut Ctx<'_>,
        from: Id,
        to: Id,
        rev: bool,
        limit: Option<u64>,
    ) -> Result<Vec<Entry>, CmdError> {
        if from > to || self.meta.length == 0 {
            return Ok(Vec::new());
        }
        let rows = ctx
            .txn
            .members_range(ctx.db, self.key, &entry_range(from, to), rev, 0, limit)
            .await?;
        Ok(rows
            .iter()
            .map(|m| (Id::from_bytes(&m.member[1..]), decode_fields(&m.value)))
            .collect())
    }

    /// The entries with these ids that exist (in the given order).
    pub async fn get(&self, ctx: &mut Ctx<'_>, ids: &[Id]) -> Result<Vec<Option<Entry>>, CmdError> {
        let members: Vec<Bytes> = ids.iter().map(|id| entry_member(*id)).collect();
        let rows = ctx.txn.members_get(ctx.db, self.key, &members).await?;
        Ok(ids
            .iter()
            .zip(rows)
            .map(|(id, m)| m.map(|m| (*id, decode_fields(&m.value))))
            .collect())
    }

    /// XINFO STREAM's `radix-tree-keys` and `radix-tree-nodes`: the tree
    /// Redis would hold for nodes of [`node_entries`] entries (its keys
    /// are each node's first id), counted exactly up to 64 nodes.
    pub async fn radix_tree(&self, ctx: &mut Ctx<'_>) -> Result<(u64, u64), CmdError> {
        let per_node = node_entries(ctx);
        let nodes = self.meta.length.div_ceil(per_node);
        if nodes > 64 {
            return Ok((nodes, nodes * 2 + 1));
        }
        let mut firsts = Vec::with_capacity(nodes as usize);
        for i in 0..nodes {
            let rows = ctx
                .txn
                .members_range(
                    ctx.db,
                    self.key,
                    &entry_range(Id::MIN, Id::MAX),
                    false,
                    i * per_node,
                    Some(1),
                )
                .await?;
            if let Some(m) = rows.first() {
                firsts.push(Id::from_bytes(&m.member[1..]).to_bytes());
            }
        }
        Ok((nodes, rax_nodes(&firsts)))
    }

    /// The ids of the first `n` entries.
    async fn first_ids(&self, ctx: &mut Ctx<'_>, n: u64) -> Result<Vec<Id>, CmdError> {
        Ok(self
            .range(ctx, Id::MIN, Id::MAX, false, Some(n))
            .await?
            .into_iter()
            .map(|(id, _)| id)
            .collect())
    }

    /// After entries went: the first id again (Redis keeps it).
    async fn refresh_first(&mut self, ctx: &mut Ctx<'_>) -> Result<(), CmdError> {
        self.meta.first = if self.meta.length == 0 {
            Id::MIN
        } else {
            self.first_ids(ctx, 1)
                .await?
                .first()
                .copied()
                .unwrap_or_default()
        };
        Ok(())
    }

    /// Deletes entries by id (XDEL): how many existed. Updates the
    /// counters and writes them.
    pub async fn delete(&mut self, ctx: &mut Ctx<'_>, ids: &[Id]) -> Result<u64, CmdError> {
        let mut unique: Vec<Id> = ids.to_vec();
        unique.sort_unstable();
        unique.dedup();
        let members: Vec<Bytes> = unique.iter().map(|id| entry_member(*id)).collect();
        let present = ctx.txn.members_get(ctx.db, self.key, &members).await?;
        let gone: Vec<Bytes> = members
            .into_iter()
            .zip(&present)
            .filter(|(_, p)| p.is_some())
            .map(|(m, _)| m)
            .collect();
        if gone.is_empty() {
            return Ok(0);
        }
        let removed = ctx.txn.members_remove(ctx.db, self.key, &gone).await? as u64;
        for (id, p) in unique.iter().zip(&present) {
            if p.is_some() && *id > self.meta.max_deleted {
                self.meta.max_deleted = *id;
            }
        }
        self.meta.length -= removed.min(self.meta.length);
        let first_went = present[0].is_some() && unique[0] == self.meta.first;
        if first_went || self.meta.length == 0 || unique.contains(&self.meta.first) {
            self.refresh_first(ctx).await?;
        }
        self.save(ctx).await?;
        Ok(removed)
    }

    /// Trims (XTRIM, XADD's MAXLEN/MINID): how many entries went. Exact
    /// trimming removes every entry over the bound; `~` removes only
    /// whole nodes (Redis trims whole radix-tree nodes: here the entries
    /// from the first, [`node_entries`] to a node, the last one partly
    /// filled), at most `limit` entries. Writes the counters when any
    /// went.
    pub async fn trim(&mut self, ctx: &mut Ctx<'_>, trim: &Trim) -> Result<u64, CmdError> {
        let length = self.meta.length;
        let excess = match trim.strategy {
            Strategy::MaxLen(max) => length.saturating_sub(max),
            Strategy::MinId(min) => {
                if self.meta.length == 0 || min <= self.meta.first {
                    0
                } else {
                    match min.decr() {
                        Some(below) => ctx
                            .txn
                            .members_count(ctx.db, self.key, &entry_range(Id::MIN, below))
                            .await?
                            .max(0) as u64,
                        None => 0,
                    }
                }
            }
        };
        let n = if trim.approx {
            // Whole nodes from the head while they fit in the excess;
            // without LIMIT, at most 100 nodes (Redis's default).
            let per_node = node_entries(ctx);
            let limit = match trim.limit {
                Limit::Default => Some(per_node.saturating_mul(100).clamp(10_000, 1_000_000)),
                Limit::None => None,
                Limit::At(n) => Some(n),
            };
            let mut n = 0;
            while n < length {
                let node = per_node.min(length - n);
                if n + node > excess || limit.is_some_and(|l| n + node > l) {
                    break;
                }
                n += node;
            }
            n
        } else {
            excess
        };
        if n == 0 {
            return Ok(0);
        }
        let ids = self.first_ids(ctx, n).await?;
        let Some(&last) = ids.last() else {
            return Ok(0);
        };
        let removed = ctx
            .txn
            .members_remove_range(ctx.db, self.key, &entry_range(Id::MIN, last))
            .await? as u64;
        self.meta.length -= removed.min(self.meta.length);
        self.refresh_first(ctx).await?;
        self.save(ctx).await?;
        Ok(removed)
    }

    // --- Groups --------------------------------------------------------------

    /// Every group, by name.
    pub async fn groups(&self, ctx: &mut Ctx<'_>) -> Result<Vec<(Bytes, Group)>, CmdError> {
        let rows = ctx
            .txn
            .members_range(ctx.db, self.key, &with_prefix(&[GROUP]), false, 0, None)
            .await?;
        Ok(rows
            .iter()
            .map(|m| (m.member.slice(1..), Group::decode(&m.value)))
            .collect())
    }

    pub async fn group(&self, ctx: &mut Ctx<'_>, name: &[u8]) -> Result<Option<Group>, CmdError> {
        let member = tagged(GROUP, &[name]);
        let rows = ctx.txn.members_get(ctx.db, self.key, &[member]).await?;
        Ok(rows
            .into_iter()
            .next()
            .flatten()
            .map(|m| Group::decode(&m.value)))
    }

    /// Writes a group (and the counters, creating the key if new).
    pub async fn put_group(
        &self,
        ctx: &mut Ctx<'_>,
        name: &[u8],
        group: &Group,
    ) -> Result<(), CmdError> {
        let group = row(tagged(GROUP, &[name]), group.encode());
        self.put(ctx, vec![group], Signal::Quiet).await
    }

    /// Deletes a group with its consumers and pending entries.
    pub async fn delete_group(&self, ctx: &mut Ctx<'_>, name: &[u8]) -> Result<bool, CmdError> {
        let gone = ctx
            .txn
            .members_remove(ctx.db, self.key, &[tagged(GROUP, &[name])])
            .await?;
        if gone == 0 {
            return Ok(false);
        }
        for tag in [CONSUMER, PENDING] {
            let range = with_prefix(&group_prefix(tag, name));
            ctx.txn
                .members_remove_range(ctx.db, self.key, &range)
                .await?;
        }
        self.save_quiet(ctx).await?;
        Ok(true)
    }

    /// A group's consumers: name and seen time.
    pub async fn consumers(
        &self,
        ctx: &mut Ctx<'_>,
        group: &[u8],
    ) -> Result<Vec<(Bytes, i64)>, CmdError> {
        let prefix = group_prefix(CONSUMER, group);
        let rows = ctx
            .txn
            .members_range(ctx.db, self.key, &with_prefix(&prefix), false, 0, None)
            .await?;
        Ok(rows
            .iter()
            .map(|m| {
                (
                    m.member.slice(prefix.len()..),
                    Fields(&m.value).u64() as i64,
                )
            })
            .collect())
    }

    /// A consumer's seen time, if it exists.
    pub async fn consumer(
        &self,
        ctx: &mut Ctx<'_>,
        group: &[u8],
        name: &[u8],
    ) -> Result<Option<i64>, CmdError> {
        let rows = ctx
            .txn
            .members_get(ctx.db, self.key, &[consumer_member(group, name)])
            .await?;
        Ok(rows
            .into_iter()
            .next()
            .flatten()
            .map(|m| Fields(&m.value).u64() as i64))
    }

    /// Writes a consumer with its seen time.
    pub async fn put_consumer(
        &self,
        ctx: &mut Ctx<'_>,
        group: &[u8],
        name: &[u8],
        seen: i64,
    ) -> Result<(), CmdError> {
        let value = Bytes::copy_from_slice(&seen.to_be_bytes());
        let consumer = row(consumer_member(group, name), value);
        self.put(ctx, vec![consumer], Signal::Quiet).await
    }

    /// Deletes a consumer and its pending entries: how many it had.
    pub async fn delete_consumer(
        &self,
        ctx: &mut Ctx<'_>,
        group: &[u8],
        name: &[u8],
    ) -> Result<u64, CmdError> {
        let theirs: Vec<Bytes> = self
            .pending(ctx, group, Id::MIN, Id::MAX, None)
            .await?
            .into_iter()
            .filter(|(_, p)| p.consumer == name)
            .map(|(id, _)| pending_member(group, id))
            .collect();
        ctx.txn
            .members_remove(ctx.db, self.key, &[consumer_member(group, name)])
            .await?;
        ctx.txn.members_remove(ctx.db, self.key, &theirs).await?;
        self.save_quiet(ctx).await?;
        Ok(theirs.len() as u64)
    }

    /// A group's pending entries from `from` to `to`, in id order, at most
    /// `limit`.
    pub async fn pending(
        &self,
        ctx: &mut Ctx<'_>,
        group: &[u8],
        from: Id,
        to: Id,
        limit: Option<u64>,
    ) -> Result<Vec<(Id, Pending)>, CmdError> {
        if from > to {
            return Ok(Vec::new());
        }
        let range = MemberRange::Member(
            Bound::Included(pending_member(group, from)),
            Bound::Included(pending_member(group, to)),
        );
        let rows = ctx
            .txn
            .members_range(ctx.db, self.key, &range, false, 0, limit)
            .await?;
        let at = group_prefix(PENDING, group).len();
        Ok(rows
            .iter()
            .map(|m| (Id::from_bytes(&m.member[at..]), Pending::decode(&m.value)))
            .collect())
    }

    /// How many entries a group has pending.
    pub async fn pending_count(&self, ctx: &mut Ctx<'_>, group: &[u8]) -> Result<u64, CmdError> {
        let range = with_prefix(&group_prefix(PENDING, group));
        Ok(ctx
            .txn
            .members_count(ctx.db, self.key, &range)
            .await?
            .max(0) as u64)
    }

    /// The pending entries with these ids, where they are.
    pub async fn pending_get(
        &self,
        ctx: &mut Ctx<'_>,
        group: &[u8],
        ids: &[Id],
    ) -> Result<Vec<Option<Pending>>, CmdError> {
        let members: Vec<Bytes> = ids.iter().map(|id| pending_member(group, *id)).collect();
        let rows = ctx.txn.members_get(ctx.db, self.key, &members).await?;
        Ok(rows
            .into_iter()
            .map(|m| m.map(|m| Pending::decode(&m.value)))
            .collect())
    }

    /// Writes pending entries (and the counters).
    pub async fn put_pending(
        &self,
        ctx: &mut Ctx<'_>,
        group: &[u8],
        pending: &[(Id, Pending)],
    ) -> Result<(), CmdError> {
        let rows = pending
            .iter()
            .map(|(id, p)| row(pending_member(group, *id), p.encode()))
            .collect();
        self.put(ctx, rows, Signal::Quiet).await
    }

    /// Removes pending entries (XACK): how many were pending.
    pub async fn remove_pending(
        &self,
        ctx: &mut Ctx<'_>,
        group: &[u8],
        ids: &[Id],
    ) -> Result<u64, CmdError> {
        let members: Vec<Bytes> = ids.iter().map(|id| pending_member(group, *id)).collect();
        let n = ctx.txn.members_remove(ctx.db, self.key, &members).await? as u64;
        if n > 0 {
            self.save_quiet(ctx).await?;
        }
        Ok(n)
    }
}

/// Entries per node when trimming with `~`: Redis's
/// `stream-node-max-entries` (deployment-wide, 100 by default; 0, no
/// limit by count, is taken as one node for everything).
pub fn node_entries(ctx: &Ctx<'_>) -> u64 {
    let set = ctx
        .instance
        .events
        .limits
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get("stream-node-max-entries")
        .and_then(|v| v.parse::<u64>().ok());
    match set {
        None => 100,
        Some(0) => u64::MAX,
        Some(n) => n,
    }
}

/// How many nodes Redis's radix tree (rax) has for these keys (the
/// nodes' first ids, 16 bytes each, sorted): a compressed node for each
/// run of bytes the keys share, a node for each branching, a leaf for
/// each key (an empty tree is its root).
pub fn rax_nodes(keys: &[[u8; 16]]) -> u64 {
    fn count(keys: &[&[u8]]) -> u64 {
        let Some(first) = keys.first() else {
            return 1;
        };
        if first.is_empty() {
            return 1;
        }
        if keys.len() == 1 {
            return 2;
        }
        let common = (0..first.len())
            .take_while(|&i| keys.iter().all(|k| k[i] == first[i]))
            .count();
        let rest: Vec<&[u8]> = keys.iter().map(|k| &k[common..]).collect();
        let mut nodes = (common > 0) as u64 + 1;
        let mut i = 0;
        while i < rest.len() {
            let byte = rest[i][0];
            let j = i + rest[i..].iter().take_while(|k| k[0] == byte).count();
            let children: Vec<&[u8]> = rest[i..j].iter().map(|k| &k[1..]).collect();
            nodes += count(&children);
            i = j;
        }
        nodes
    }
    let keys: Vec<&[u8]> = keys.iter().map(|k| &k[..]).collect();
    count(&keys)
}

/// How to trim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    MaxLen(u64),
    MinId(Id),
}

/// How many entries `~` trimming may remove.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// No LIMIT: Redis's default, 100 nodes.
    Default,
    /// LIMIT 0, or exact trimming: no limit.
    None,
    At(u64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trim {
    pub strategy: Strategy,
    pub approx: bool,
    /// LIMIT (with `~`).
    pub limit: Limit,
}

#[cfg(test)]
mod tests {
    use crate::cmd::helpers::streams::*;

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
            b"1-*",
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
        assert_eq!(
            xadd_id(b"5-*").unwrap(),
            GivenId {
                id: Id { ms: 5, seq: 0 },
                seq_given: false
            }
        );
        assert!(xadd_id(b"*-1").is_err());
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

    #[test]
    fn radix_trees_count_as_redis_counts_them() {
        let key = |ms: u64, seq: u64| Id { ms, seq }.to_bytes();
        assert_eq!(rax_nodes(&[]), 1);
        assert_eq!(rax_nodes(&[key(1, 1)]), 2);
        // Redis 7.0: 250 entries 1-1 .. 250-1 in nodes of 100.
        assert_eq!(rax_nodes(&[key(1, 1), key(101, 1), key(201, 1)]), 8);
    }

    #[test]
    fn rows_sort_as_their_ids_and_round_trip() {
        let a = entry_member(Id { ms: 1, seq: 9 });
        let b = entry_member(Id { ms: 2, seq: 0 });
        assert!(a < b);
        assert!(after_prefix(&[CONSUMER]) <= Bytes::from_static(&[ENTRY]));
        assert_eq!(after_prefix(b"a\xff\xff"), Bytes::from_static(b"b"));
        let pairs = vec![Bytes::from("f"), Bytes::new(), Bytes::from("v\x00")];
        assert_eq!(decode_fields(&encode_fields(&pairs)), pairs);
        let meta = Meta {
            last: Id { ms: 5, seq: 1 },
            first: Id { ms: 1, seq: 0 },
            max_deleted: Id { ms: 2, seq: 0 },
            added: 7,
            length: 3,
        };
        assert_eq!(Meta::decode(&meta.encode()), meta);
        for g in [
            Group {
                last_delivered: Id { ms: 3, seq: 4 },
                entries_read: Some(2),
            },
            Group {
                last_delivered: Id::MIN,
                entries_read: None,
            },
        ] {
            assert_eq!(Group::decode(&g.encode()), g);
        }
        let p = Pending {
            consumer: Bytes::from("alice"),
            delivered_at: 1234,
            count: 2,
        };
        assert_eq!(Pending::decode(&p.encode()), p);
    }
}
