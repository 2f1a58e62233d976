//! Set commands.
//!
//! A set's members are rows of the members table (see
//! [`crate::store::Member`]): the member itself, score 0, no value. A
//! membership test is one primary-key lookup; the whole set comes back in
//! member order, which [`redis_order`] turns into Redis's order where
//! Redis has one.

use std::collections::{BTreeSet, HashSet};

use bytes::Bytes;
use rand::Rng;

use crate::cmd::args::{int_arg, is};
use crate::cmd::ctx::Ctx;
use crate::cmd::errors::{self, CmdError, CmdResult, err};
use crate::cmd::helpers::members;
use crate::cmd::helpers::scan::{parse_cursor, scan_options, scan_reply};
use crate::cmd::spec::{CommandSpec, KeySpec, NO_KEYS, ONE_KEY, key_at, keys_counted, keys_to};
use crate::reply::Reply;
use crate::store::{KeyKind, Member, MemberRange};

const R: &[&str] = &["readonly"];
const RF: &[&str] = &["readonly", "fast"];
const WF: &[&str] = &["write", "fast"];
const WD: &[&str] = &["write", "denyoom"];

const RO: &[&str] = &["RO"];
const RO_ACCESS: &[&str] = &["RO", "access"];
const ORDER: &[&str] = &["nondeterministic_output_order"];
const RANDOM: &[&str] = &["nondeterministic_output"];

/// The sets SINTER, SUNION and SDIFF read.
const SETS: &[KeySpec] = &[keys_to(1, RO_ACCESS, -1)];
/// The destination SINTERSTORE updates, then the sets it reads.
const INTO_DESTINATION: &[KeySpec] = &[key_at(1, &["RW", "update"]), keys_to(2, RO_ACCESS, -1)];
/// The destination SUNIONSTORE and SDIFFSTORE overwrite, then the sets.
const OVER_DESTINATION: &[KeySpec] = &[key_at(1, &["OW", "update"]), keys_to(2, RO_ACCESS, -1)];

static READ: &[KeySpec] = &[key_at(1, RO)];
static READ_ACCESS: &[KeySpec] = &[key_at(1, RO_ACCESS)];
static INSERT: &[KeySpec] = &[key_at(1, &["RW", "insert"])];
static DELETE: &[KeySpec] = &[key_at(1, &["RW", "delete"])];
static POP: &[KeySpec] = &[key_at(1, &["RW", "access", "delete"])];
static MOVE: &[KeySpec] = &[
    key_at(1, &["RW", "access", "delete"]),
    key_at(2, &["RW", "insert"]),
];
static COUNTED: &[KeySpec] = &[keys_counted(1, RO_ACCESS, 0, 1)];

pub static COMMANDS: &[CommandSpec] = commands! { family: Set, group: "set";
    "sadd", -3, &["write", "denyoom", "fast"], ONE_KEY, "1.0.0", data!(sadd; args), "Add one or more members to a set", keys: INSERT;
    "srem", -3, WF, ONE_KEY, "1.0.0", data!(srem; args), "Remove one or more members from a set", keys: DELETE;
    "scard", 2, RF, ONE_KEY, "1.0.0", data!(scard; args), "Get the number of members in a set", keys: READ;
    "sismember", 3, RF, ONE_KEY, "1.0.0", data!(sismember; args), "Determine if a given value is a member of a set", keys: READ;
    "smismember", -3, RF, ONE_KEY, "6.2.0", data!(smismember; args), "Returns the membership associated with the given elements for a set", keys: READ_ACCESS;
    "smembers", 2, R, ONE_KEY, "1.0.0", data!(smembers; args), "Get all the members in a set", keys: READ_ACCESS, tips: ORDER;
    "srandmember", -2, R, ONE_KEY, "1.0.0", data!(srandmember; args), "Get one or multiple random members from a set", keys: READ_ACCESS, tips: RANDOM;
    "spop", -2, WF, ONE_KEY, "1.0.0", data!(spop; args), "Remove and return one or multiple random members from a set", keys: POP, tips: RANDOM;
    "smove", 4, WF, (1, 2, 1), "1.0.0", data!(smove; args), "Move a member from one set to another", keys: MOVE;
    "sinter", -2, R, (1, -1, 1), "1.0.0", data!(sinter; args), "Intersect multiple sets", keys: SETS, tips: ORDER;
    "sintercard", -3, &["readonly", "movablekeys"], NO_KEYS, "7.0.0", data!(sintercard; args), "Intersect multiple sets and return the cardinality of the result", keys: COUNTED;
    "sunion", -2, R, (1, -1, 1), "1.0.0", data!(sunion; args), "Add multiple sets", keys: SETS, tips: ORDER;
    "sdiff", -2, R, (1, -1, 1), "1.0.0", data!(sdiff; args), "Subtract multiple sets", keys: SETS, tips: ORDER;
    "sinterstore", -3, WD, (1, -1, 1), "1.0.0", data!(sinterstore; args), "Intersect multiple sets and store the resulting set in a key", keys: INTO_DESTINATION;
    "sunionstore", -3, WD, (1, -1, 1), "1.0.0", data!(sunionstore; args), "Add multiple sets and store the resulting set in a key", keys: OVER_DESTINATION;
    "sdiffstore", -3, WD, (1, -1, 1), "1.0.0", data!(sdiffstore; args), "Subtract multiple sets and store the resulting set in a key", keys: OVER_DESTINATION;
    "sscan", -3, R, ONE_KEY, "2.8.0", data!(sscan; args), "Incrementally iterate Set elements", keys: READ_ACCESS, tips: RANDOM;
};

/// Redis 7.0 keeps a set of at most this many integers as an intset,
/// which it lists in ascending order; SSCAN returns a set this small whole
/// (as HSCAN does a small hash).
const SMALL_SET: usize = 512;

/// Up to this many random picks are made one member at a time (an offset
/// into the set); more read the whole set once.
const PICKS_ONE_BY_ONE: u64 = 8;

/// SPOP of more than 1/5 of a set answers in the set's order (Redis's
/// SPOP_MOVE_STRATEGY_MUL).
const SPOP_KEEP_ASIDE: u64 = 5;

/// Largest reply SRANDMEMBER with a negative count builds (as HRANDFIELD).
const MAX_RANDOM_REPEATS: u64 = 1 << 22;

/// A set member's row.
fn row(member: &Bytes) -> Member {
    Member {
        member: member.clone(),
        score: 0,
        value: Bytes::new(),
    }
}

/// The members in the order Redis 7.0 lists them where it has one: a set
/// of at most 512 members that are all integers (Redis's intset) in
/// ascending numeric order; any other set as it comes (Redis's hash table
/// order is its own).
fn redis_order(mut members: Vec<Bytes>) -> Vec<Bytes> {
    if members.len() <= SMALL_SET {
        let numbers: Option<Vec<i64>> = members
            .iter()
            .map(|m| crate::protocol::parse_i64(m))
            .collect();
        if let Some(numbers) = numbers {
            let mut pairs: Vec<(i64, Bytes)> = numbers.into_iter().zip(members).collect();
            pairs.sort_unstable_by_key(|(n, _)| *n);
            members = pairs.into_iter().map(|(_, m)| m).collect();
        }
    }
    members
}

/// A whole set as a reply (a RESP3 set).
fn set_reply(members: Vec<Bytes>) -> Reply {
    Reply::Set(redis_order(members).into_iter().map(Reply::Bulk).collect())
}

/// Every member of a set, in member order.
async fn all(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Vec<Bytes>, CmdError> {
    Ok(ctx
        .txn
        .members_range(ctx.db, key, &MemberRange::All, false, 0, None)
        .await?
        .into_iter()
        .map(|m| m.member)
        .collect())
}

/// The member at `offset` in member order, if the set still has it.
async fn nth(ctx: &mut Ctx<'_>, key: &[u8], offset: u64) -> Result<Option<Bytes>, CmdError> {
    Ok(ctx
        .txn
        .members_range(ctx.db, key, &MemberRange::All, false, offset, Some(1))
        .await?
        .pop()
        .map(|m| m.member))
}

/// Which of `candidates` `key` holds, in their order (one lookup).
async fn held(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    candidates: Vec<Bytes>,
) -> Result<Vec<Bytes>, CmdError> {
    if candidates.is_empty() {
        return Ok(candidates);
    }
    let found = ctx.txn.members_get(ctx.db, key, &candidates).await?;
    Ok(candidates
        .into_iter()
        .zip(found)
        .filter_map(|(m, f)| f.map(|_| m))
        .collect())
}

/// The arguments without repeats, in their first order.
fn distinct(args: &[Bytes]) -> Vec<Bytes> {
    let mut seen = HashSet::with_capacity(args.len());
    args.iter().filter(|a| seen.insert(*a)).cloned().collect()
}

/// SADD key member [member ...]
async fn sadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let existed = ctx.for_write_of(key, KeyKind::Set).await?.is_some();
    let mut new = distinct(&args[2..]);
    if existed {
        let found = ctx.txn.members_get(ctx.db, key, &new).await?;
        let mut found = found.into_iter();
        new.retain(|_| found.next().flatten().is_none());
        if new.is_empty() {
            return Ok(Reply::Int(0));
        }
    } else {
        ctx.notify(b'n', "new", key);
    }
    let rows: Vec<Member> = new.iter().map(row).collect();
    ctx.txn
        .members_put(ctx.db, key, KeyKind::Set, &rows)
        .await?;
    ctx.notify(b's', "sadd", key);
    Ok(Reply::Int(rows.len() as i64))
}

/// SREM key member [member ...]
async fn srem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    if ctx.for_write_of(key, KeyKind::Set).await?.is_none() {
        return Ok(Reply::Int(0));
    }
    let removed = ctx
        .txn
        .members_delete(ctx.db, key, &distinct(&args[2..]))
        .await?;
    if removed > 0 {
        ctx.notify(b's', "srem", key);
        members::drop_if_empty(ctx, key).await?;
    }
    Ok(Reply::Int(removed))
}

/// SCARD key
async fn scard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    if members::read(ctx, key, KeyKind::Set).await?.is_none() {
        return Ok(Reply::Int(0));
    }
    Ok(Reply::Int(ctx.txn.members_len(ctx.db, key).await?))
}

/// SISMEMBER key member
async fn sismember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    if members::read(ctx, key, KeyKind::Set).await?.is_none() {
        return Ok(Reply::Int(0));
    }
    let found = ctx
        .txn
        .members_get(ctx.db, key, &args[2..3])
        .await?
        .pop()
        .flatten();
    Ok(Reply::Int(found.is_some() as i64))
}

/// SMISMEMBER key member [member ...]
async fn smismember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let asked = &args[2..];
    let found = if members::read(ctx, key, KeyKind::Set).await?.is_some() {
        ctx.txn.members_get(ctx.db, key, asked).await?
    } else {
        vec![None; asked.len()]
    };
    Ok(Reply::Array(
        found
            .into_iter()
            .map(|f| Reply::Int(f.is_some() as i64))
            .collect(),
    ))
}

/// SMEMBERS key
async fn smembers(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    if members::read(ctx, key, KeyKind::Set).await?.is_none() {
        return Ok(Reply::Set(Vec::new()));
    }
    Ok(set_reply(all(ctx, key).await?))
}

/// `count` members of a set of `len`, each chosen uniformly: distinct
/// ones unless `repeats`. A few are read one by one at random offsets,
/// more by reading the set once.
async fn pick(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    len: u64,
    count: u64,
    repeats: bool,
) -> Result<Vec<Bytes>, CmdError> {
    if len == 0 || count == 0 {
        return Ok(Vec::new());
    }
    let offsets: Vec<u64> = {
        let mut rng = rand::thread_rng();
        if repeats {
            (0..count).map(|_| rng.gen_range(0..len)).collect()
        } else {
            rand::seq::index::sample(&mut rng, len as usize, count.min(len) as usize)
                .into_iter()
                .map(|i| i as u64)
                .collect()
        }
    };
    if count <= PICKS_ONE_BY_ONE {
        let mut out = Vec::with_capacity(offsets.len());
        for offset in offsets {
            // A plain read may see the set shrink between statements.
            out.extend(nth(ctx, key, offset).await?);
        }
        return Ok(out);
    }
    let members = all(ctx, key).await?;
    Ok(offsets
        .into_iter()
        .filter_map(|i| members.get(i as usize).cloned())
        .collect())
}

/// SRANDMEMBER key [count], as Redis's srandmemberWithCountCommand.
///
/// One deliberate limit, as HRANDFIELD's: a negative count (repeats
/// allowed) beyond 2^22 on an existing set answers `ERR value is out of
/// range`, where Redis would build the reply whatever its size.
async fn srandmember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let count = match &args[2..] {
        [] => None,
        [count] => Some(int_arg(count)?),
        _ => return err(errors::SYNTAX),
    };
    let Some(n) = count else {
        if members::read(ctx, key, KeyKind::Set).await?.is_none() {
            return Ok(Reply::Nil);
        }
        let len = ctx.txn.members_len(ctx.db, key).await? as u64;
        let picked = pick(ctx, key, len, 1, false).await?;
        return Ok(Reply::opt_bulk(picked.into_iter().next()));
    };
    if n == i64::MIN {
        return err(errors::RANDFIELD_COUNT_RANGE);
    }
    if members::read(ctx, key, KeyKind::Set).await?.is_none() || n == 0 {
        return Ok(Reply::Array(Vec::new()));
    }
    let count = n.unsigned_abs();
    if n < 0 && count > MAX_RANDOM_REPEATS {
        return err(errors::OUT_OF_RANGE);
    }
    let len = ctx.txn.members_len(ctx.db, key).await? as u64;
    let picked = if n > 0 && count >= len {
        redis_order(all(ctx, key).await?)
    } else {
        pick(ctx, key, len, count, n < 0).await?
    };
    Ok(Reply::Array(picked.into_iter().map(Reply::Bulk).collect()))
}

/// SPOP key [count], as Redis's spopCommand / spopWithCountCommand: the
/// `spop` event, and `del` when the set is gone.
async fn spop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let count = match &args[2..] {
        [] => None,
        [count] => match crate::protocol::parse_i64(count) {
            Some(n) if n >= 0 => Some(n as u64),
            _ => return err(errors::NEGATIVE_COUNT),
        },
        _ => return err(errors::SYNTAX),
    };
    if ctx.for_write_of(key, KeyKind::Set).await?.is_none() {
        return Ok(match count {
            None => Reply::Nil,
            Some(_) => Reply::Set(Vec::new()),
        });
    }
    if count == Some(0) {
        return Ok(Reply::Set(Vec::new()));
    }
    let len = ctx.txn.members_len(ctx.db, key).await? as u64;
    let popped = match count {
        Some(n) if n >= len => redis_order(all(ctx, key).await?),
        // Redis pops most of a set by keeping the rest aside and answering
        // what is left of the set, in its order.
        Some(n) if n.saturating_mul(SPOP_KEEP_ASIDE) > len => {
            redis_order(pick(ctx, key, len, n, false).await?)
        }
        n => pick(ctx, key, len, n.unwrap_or(1), false).await?,
    };
    ctx.txn.members_delete(ctx.db, key, &popped).await?;
    ctx.notify(b's', "spop", key);
    members::drop_if_empty(ctx, key).await?;
    Ok(match count {
        None => Reply::opt_bulk(popped.into_iter().next()),
        Some(_) => Reply::Set(popped.into_iter().map(Reply::Bulk).collect()),
    })
}

/// SMOVE source destination member, as Redis's smoveCommand: `srem` on
/// the source (and `del` if it emptied), then `sadd` on the destination
/// unless it already held the member.
async fn smove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (src, dst, member) = (&args[1], &args[2], &args[3]);
    let src_meta = ctx.for_write(src).await?;
    let dst_meta = if dst == src {
        src_meta
    } else {
        ctx.for_write(dst).await?
    };
    let Some(src_meta) = src_meta else {
        return Ok(Reply::Int(0));
    };
    if src_meta.kind != KeyKind::Set || dst_meta.is_some_and(|m| m.kind != KeyKind::Set) {
        return Err(CmdError::WrongType);
    }
    let one = std::slice::from_ref(member);
    let in_src = ctx.txn.members_get(ctx.db, src, one).await?[0].is_some();
    if src == dst || !in_src {
        return Ok(Reply::Int(in_src as i64));
    }
    ctx.txn.members_delete(ctx.db, src, one).await?;
    ctx.notify(b's', "srem", src);
    members::drop_if_empty(ctx, src).await?;
    if dst_meta.is_none() {
        ctx.notify(b'n', "new", dst);
    } else if ctx.txn.members_get(ctx.db, dst, one).await?[0].is_some() {
        return Ok(Reply::Int(1));
    }
    ctx.txn
        .members_put(ctx.db, dst, KeyKind::Set, &[row(member)])
        .await?;
    ctx.notify(b's', "sadd", dst);
    Ok(Reply::Int(1))
}

/// What SINTER, SUNION and SDIFF compute.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// Looks up every set an operation reads, as Redis does before computing
/// anything: a key of another kind is WRONGTYPE wherever it stands; a
/// missing one is an empty set (`None`). A write command's lookups expire
/// keys as its writes do.
async fn lookup_sets(
    ctx: &mut Ctx<'_>,
    keys: &[Bytes],
    write: bool,
) -> Result<Vec<Option<Bytes>>, CmdError> {
    let mut found = Vec::with_capacity(keys.len());
    for key in keys {
        let meta = if write {
            ctx.for_write_of(key, KeyKind::Set).await?
        } else {
            members::read(ctx, key, KeyKind::Set).await?
        };
        found.push(meta.map(|_| key.clone()));
    }
    Ok(found)
}

/// The members of `op` over the sets `keys` (`None`: missing).
///
/// The intersection reads the smallest set and asks each other set, in
/// one lookup, which of the remaining candidates it holds; the difference
/// asks the same of the sets it subtracts; the union reads every set.
async fn compute(
    ctx: &mut Ctx<'_>,
    op: Op,
    keys: Vec<Option<Bytes>>,
) -> Result<Vec<Bytes>, CmdError> {
    match op {
        Op::Inter => {
            let Some(keys) = keys.into_iter().collect::<Option<Vec<Bytes>>>() else {
                return Ok(Vec::new());
            };
            let mut sized = Vec::with_capacity(keys.len());
            for key in keys {
                let len = ctx.txn.members_len(ctx.db, &key).await?;
                sized.push((len, key));
            }
            sized.sort_by_key(|(len, _)| *len);
            let mut sized = sized.into_iter();
            let Some((_, smallest)) = sized.next() else {
                return Ok(Vec::new());
            };
            let mut result = all(ctx, &smallest).await?;
            for (_, key) in sized {
                if key == smallest {
                    continue;
                }
                result = held(ctx, &key, result).await?;
            }
            Ok(result)
        }
        Op::Union => {
            let mut union = BTreeSet::new();
            for key in keys.into_iter().flatten() {
                union.extend(all(ctx, &key).await?);
            }
            Ok(union.into_iter().collect())
        }
        Op::Diff => {
            let mut keys = keys.into_iter();
            let Some(Some(first)) = keys.next() else {
                return Ok(Vec::new());
            };
            let mut result = all(ctx, &first).await?;
            for key in keys.flatten() {
                if result.is_empty() {
                    break;
                }
                if key == first {
                    result.clear();
                    break;
                }
                let inside: HashSet<Bytes> =
                    held(ctx, &key, result.clone()).await?.into_iter().collect();
                result.retain(|m| !inside.contains(m));
            }
            Ok(result)
        }
    }
}

/// SINTER key [key ...]
async fn sinter(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    combine_reply(ctx, Op::Inter, &args[1..]).await
}

/// SUNION key [key ...]
async fn sunion(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    combine_reply(ctx, Op::Union, &args[1..]).await
}

/// SDIFF key [key ...]
async fn sdiff(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    combine_reply(ctx, Op::Diff, &args[1..]).await
}

async fn combine_reply(ctx: &mut Ctx<'_>, op: Op, keys: &[Bytes]) -> CmdResult {
    let sets = lookup_sets(ctx, keys, false).await?;
    Ok(set_reply(compute(ctx, op, sets).await?))
}

/// SINTERSTORE destination key [key ...]
async fn sinterstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    combine_store(ctx, args, Op::Inter, "sinterstore").await
}

/// SUNIONSTORE destination key [key ...]
async fn sunionstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    combine_store(ctx, args, Op::Union, "sunionstore").await
}

/// SDIFFSTORE destination key [key ...]
async fn sdiffstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    combine_store(ctx, args, Op::Diff, "sdiffstore").await
}

/// SINTERSTORE / SUNIONSTORE / SDIFFSTORE destination key [key ...], as
/// Redis's sinterGenericCommand / sunionDiffGenericCommand: the result
/// replaces the destination whatever it held (its TTL too), with the
/// `new` event if it did not exist and the command's event; an empty
/// result deletes the destination (`del`).
async fn combine_store(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    op: Op,
    event: &'static str,
) -> CmdResult {
    let dst = &args[1];
    let sets = lookup_sets(ctx, &args[2..], true).await?;
    let result = compute(ctx, op, sets).await?;
    if result.is_empty() {
        // Redis deletes the destination without looking it up first, so
        // even an expired one goes with `del`.
        if ctx.txn.delete(ctx.db, dst).await? {
            ctx.notify(b'g', "del", dst);
        }
        return Ok(Reply::Int(0));
    }
    let existed = ctx.for_write(dst).await?.is_some();
    if existed {
        ctx.txn.delete(ctx.db, dst).await?;
    } else {
        ctx.notify(b'n', "new", dst);
    }
    let rows: Vec<Member> = result.iter().map(row).collect();
    ctx.txn
        .members_put(ctx.db, dst, KeyKind::Set, &rows)
        .await?;
    ctx.notify(b's', event, dst);
    Ok(Reply::Int(rows.len() as i64))
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit], with Redis's checks in
/// its order: numkeys, then the options, then the keys' kinds.
async fn sintercard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let numkeys = match crate::protocol::parse_i64(&args[1]) {
        Some(n) if n > 0 => n as u64,
        _ => return err(errors::NUMKEYS_NOT_POSITIVE),
    };
    let rest = &args[2..];
    if numkeys > rest.len() as u64 {
        return err(errors::NUMKEYS_OVER_ARGS);
    }
    let (keys, options) = rest.split_at(numkeys as usize);
    let mut limit = 0u64;
    let mut options = options.iter();
    while let Some(option) = options.next() {
        match options.next() {
            Some(value) if is(option, "limit") => {
                limit = match crate::protocol::parse_i64(value) {
                    Some(n) if n >= 0 => n as u64,
                    _ => return err(errors::LIMIT_NEGATIVE),
                }
            }
            _ => return err(errors::SYNTAX),
        }
    }
    let sets = lookup_sets(ctx, keys, false).await?;
    let len = compute(ctx, Op::Inter, sets).await?.len() as u64;
    Ok(Reply::Int(
        if limit > 0 { len.min(limit) } else { len } as i64
    ))
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]
///
/// As HSCAN: a missing key answers an empty scan before the options are
/// parsed; a set of at most 512 members comes back whole with cursor 0
/// (Redis does so for an intset); larger sets page in member order (see
/// [`members::scan_page`]).
async fn sscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let cursor = parse_cursor(&args[2])?;
    if members::read(ctx, key, KeyKind::Set).await?.is_none() {
        return Ok(scan_reply(0, Vec::new()));
    }
    let opts = scan_options(&args[3..], false)?;
    let (page, next) = if ctx.txn.members_len(ctx.db, key).await? as usize <= SMALL_SET {
        (redis_order(all(ctx, key).await?), 0)
    } else {
        let (page, next) = members::scan_page(ctx, key, cursor, opts.count).await?;
        (page.into_iter().map(|m| m.member).collect(), next)
    };
    let items = page
        .into_iter()
        .filter(|m| opts.matches(m))
        .map(Reply::Bulk)
        .collect();
    Ok(scan_reply(next, items))
}

#[cfg(test)]
mod tests {
    use super::{distinct, redis_order};
    use bytes::Bytes;

    fn bytes(items: &[&str]) -> Vec<Bytes> {
        items
            .iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect()
    }

    #[test]
    fn small_integer_sets_list_in_numeric_order() {
        assert_eq!(
            redis_order(bytes(&["-5", "10", "2", "0"])),
            bytes(&["-5", "0", "2", "10"])
        );
        // Not all integers (as Redis parses them): left as they came.
        assert_eq!(
            redis_order(bytes(&["10", "2", "a"])),
            bytes(&["10", "2", "a"])
        );
        assert_eq!(redis_order(bytes(&["10", "02"])), bytes(&["10", "02"]));
        let many: Vec<Bytes> = (0..513).rev().map(|i| Bytes::from(i.to_string())).collect();
        assert_eq!(redis_order(many.clone()), many);
    }

    #[test]
    fn repeats_go() {
        assert_eq!(distinct(&bytes(&["a", "b", "a"])), bytes(&["a", "b"]));
    }
}
