//! Sorted set commands. A sorted set's members are rows of the members
//! table (see [`crate::store::Member`]) whose `score` is the score's
//! order-preserving integer ([`score_order`]): membership and ZSCORE are
//! primary-key lookups, ranges and ranks walk the (score, member) index.

use std::collections::HashMap;

use bytes::Bytes;
use rand::Rng;

use crate::cmd::args::{int_arg, is, timeout};
use crate::cmd::ctx::Ctx;
use crate::cmd::errors::{self, CmdError, CmdResult, err};
use crate::cmd::family::zset_algebra;
use crate::cmd::helpers::members;
use crate::cmd::helpers::scan::{parse_cursor, scan_options, scan_reply};
use crate::cmd::helpers::scored_members::{Scored, row, scored, scored_reply, store_result};
use crate::cmd::helpers::scores::{self, LexRange, ScoreRange};
use crate::cmd::spec::{
    BlockOn, CommandSpec, KeySpec, NO_KEYS, ONE_KEY, every_key, key_at, keys_counted, keys_to,
};
use crate::reply::Reply;
use crate::store::{KeyKind, Member, MemberRange, score_of};

const R: &[&str] = &["readonly"];
const RF: &[&str] = &["readonly", "fast"];
const RM: &[&str] = &["readonly", "movablekeys"];
const W: &[&str] = &["write"];
const WF: &[&str] = &["write", "fast"];
const WD: &[&str] = &["write", "denyoom"];
const WDF: &[&str] = &["write", "denyoom", "fast"];
const WDM: &[&str] = &["write", "denyoom", "movablekeys"];
const WM: &[&str] = &["write", "movablekeys"];
const NONDETERMINISTIC: &[&str] = &["nondeterministic_output"];

// COMMAND INFO's key specs, as Redis 7.0 gives them.
static RO: &[KeySpec] = &[key_at(1, &["RO"])];
static RO_ACCESS: &[KeySpec] = &[key_at(1, &["RO", "access"])];
static RW_UPDATE: &[KeySpec] = &[key_at(1, &["RW", "update"])];
static RW_ACCESS_UPDATE: &[KeySpec] = &[key_at(1, &["RW", "access", "update"])];
static RW_DELETE: &[KeySpec] = &[key_at(1, &["RW", "delete"])];
static RW_POP: &[KeySpec] = &[key_at(1, &["RW", "access", "delete"])];
static COUNTED_POP: &[KeySpec] = &[keys_counted(1, &["RW", "access", "delete"], 0, 1)];
static BLOCKING_POP: &[KeySpec] = &[keys_to(1, &["RW", "access", "delete"], -2)];
static BLOCKING_COUNTED_POP: &[KeySpec] = &[keys_counted(2, &["RW", "access", "delete"], 0, 1)];
static COUNTED_READ: &[KeySpec] = &[keys_counted(1, &["RO", "access"], 0, 1)];
static RANGE_STORE: &[KeySpec] = &[key_at(1, &["OW", "update"]), key_at(2, &["RO", "access"])];
static COUNTED_STORE: &[KeySpec] = &[
    key_at(1, &["OW", "update"]),
    keys_counted(2, &["RO", "access"], 0, 1),
];

pub static COMMANDS: &[CommandSpec] = commands! { family: SortedSet, group: "sorted-set";
    "zadd", -4, WDF, ONE_KEY, "1.2.0", data!(zadd; args), "Add one or more members to a sorted set, or update its score if it already exists", keys: RW_UPDATE;
    "zincrby", 4, WDF, ONE_KEY, "1.2.0", data!(zincrby; args), "Increment the score of a member in a sorted set", keys: RW_ACCESS_UPDATE;
    "zrem", -3, WF, ONE_KEY, "1.2.0", data!(zrem; args), "Remove one or more members from a sorted set", keys: RW_DELETE;
    "zcard", 2, RF, ONE_KEY, "1.2.0", data!(zcard; args), "Get the number of members in a sorted set", keys: RO;
    "zcount", 4, RF, ONE_KEY, "2.0.0", data!(zcount; args), "Count the members in a sorted set with scores within the given values", keys: RO_ACCESS;
    "zlexcount", 4, RF, ONE_KEY, "2.8.9", data!(zlexcount; args), "Count the number of members in a sorted set between a given lexicographical range", keys: RO_ACCESS;
    "zscore", 3, RF, ONE_KEY, "1.2.0", data!(zscore; args), "Get the score associated with the given member in a sorted set", keys: RO_ACCESS;
    "zmscore", -3, RF, ONE_KEY, "6.2.0", data!(zmscore; args), "Get the score associated with the given members in a sorted set", keys: RO_ACCESS;
    "zrank", 3, RF, ONE_KEY, "2.0.0", data!(zrank; args), "Determine the index of a member in a sorted set", keys: RO_ACCESS;
    "zrevrank", 3, RF, ONE_KEY, "2.0.0", data!(zrevrank; args), "Determine the index of a member in a sorted set, with scores ordered from high to low", keys: RO_ACCESS;
    "zrange", -4, R, ONE_KEY, "1.2.0", data!(zrange; args), "Return a range of members in a sorted set", keys: RO_ACCESS;
    "zrangestore", -5, WD, (1, 2, 1), "6.2.0", data!(zrangestore; args), "Store a range of members from sorted set into another key", keys: RANGE_STORE;
    "zrevrange", -4, R, ONE_KEY, "1.2.0", data!(zrevrange; args), "Return a range of members in a sorted set, by index, with scores ordered from high to low", keys: RO_ACCESS;
    "zrangebyscore", -4, R, ONE_KEY, "1.0.5", data!(zrangebyscore; args), "Return a range of members in a sorted set, by score", keys: RO_ACCESS;
    "zrevrangebyscore", -4, R, ONE_KEY, "2.2.0", data!(zrevrangebyscore; args), "Return a range of members in a sorted set, by score, with scores ordered from high to low", keys: RO_ACCESS;
    "zrangebylex", -4, R, ONE_KEY, "2.8.9", data!(zrangebylex; args), "Return a range of members in a sorted set, by lexicographical range", keys: RO_ACCESS;
    "zrevrangebylex", -4, R, ONE_KEY, "2.8.9", data!(zrevrangebylex; args), "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.", keys: RO_ACCESS;
    "zremrangebyrank", 4, W, ONE_KEY, "2.0.0", data!(zremrangebyrank; args), "Remove all members in a sorted set within the given indexes", keys: RW_DELETE;
    "zremrangebyscore", 4, W, ONE_KEY, "1.2.0", data!(zremrangebyscore; args), "Remove all members in a sorted set within the given scores", keys: RW_DELETE;
    "zremrangebylex", 4, W, ONE_KEY, "2.8.9", data!(zremrangebylex; args), "Remove all members in a sorted set between the given lexicographical range", keys: RW_DELETE;
    "zpopmin", -2, WF, ONE_KEY, "5.0.0", data!(zpopmin; args), "Remove and return members with the lowest scores in a sorted set", keys: RW_POP;
    "zpopmax", -2, WF, ONE_KEY, "5.0.0", data!(zpopmax; args), "Remove and return members with the highest scores in a sorted set", keys: RW_POP;
    "zmpop", -4, WM, NO_KEYS, "7.0.0", data!(zmpop; args), "Remove and return members with scores in a sorted set", keys: COUNTED_POP;
    "bzpopmin", -3, &["write", "noscript", "blocking", "fast"], (1, -2, 1), "5.0.0", blocking!(bzpopmin, every_key), "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available", keys: BLOCKING_POP;
    "bzpopmax", -3, &["write", "noscript", "blocking", "fast"], (1, -2, 1), "5.0.0", blocking!(bzpopmax, every_key), "Remove and return the member with the highest score from one or more sorted sets, or block until one is available", keys: BLOCKING_POP;
    "bzmpop", -5, &["write", "blocking", "movablekeys"], NO_KEYS, "7.0.0", blocking!(bzmpop, bzmpop_keys), "Remove and return members with scores in a sorted set or block until one is available", keys: BLOCKING_COUNTED_POP;
    "zrandmember", -2, R, ONE_KEY, "6.2.0", data!(zrandmember; args), "Get one or multiple random elements from a sorted set", keys: RO_ACCESS, tips: NONDETERMINISTIC;
    "zunion", -3, RM, NO_KEYS, "6.2.0", data!(zset_algebra::zunion), "Add multiple sorted sets", keys: COUNTED_READ;
    "zinter", -3, RM, NO_KEYS, "6.2.0", data!(zset_algebra::zinter), "Intersect multiple sorted sets", keys: COUNTED_READ;
    "zdiff", -3, RM, NO_KEYS, "6.2.0", data!(zset_algebra::zdiff), "Subtract multiple sorted sets", keys: COUNTED_READ;
    "zunionstore", -4, WDM, ONE_KEY, "2.0.0", data!(zset_algebra::zunionstore), "Add multiple sorted sets and store the resulting sorted set in a new key", keys: COUNTED_STORE;
    "zinterstore", -4, WDM, ONE_KEY, "2.0.0", data!(zset_algebra::zinterstore), "Intersect multiple sorted sets and store the resulting sorted set in a new key", keys: COUNTED_STORE;
    "zdiffstore", -4, WDM, ONE_KEY, "6.2.0", data!(zset_algebra::zdiffstore), "Subtract multiple sorted sets and store the resulting sorted set in a new key", keys: COUNTED_STORE;
    "zintercard", -3, RM, NO_KEYS, "7.0.0", data!(zset_algebra::zintercard), "Intersect multiple sorted sets and return the cardinality of the result", keys: COUNTED_READ;
    "zscan", -3, R, ONE_KEY, "2.8.0", data!(zscan; args), "Incrementally iterate sorted sets elements and associated scores", keys: RO_ACCESS, tips: NONDETERMINISTIC;
};

/// Looks a sorted set up for reading: whether it exists (WRONGTYPE for
/// another kind; counts the hit or miss).
async fn read(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<bool, CmdError> {
    Ok(members::read(ctx, key, KeyKind::ZSet).await?.is_some())
}

fn score_arg(arg: &[u8]) -> Result<f64, CmdError> {
    scores::parse(arg).ok_or_else(|| CmdError::Reply(errors::NOT_FLOAT.into()))
}

/// ZADD's options.
#[derive(Default)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...],
/// and ZINCRBY key increment member (ZADD INCR, parsed the same way, as
/// Redis does: `ZINCRBY k nx 1` is a syntax error).
async fn zadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    add_or_incr(ctx, args, false).await
}

/// ZINCRBY key increment member.
async fn zincrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    add_or_incr(ctx, args, true).await
}

/// ZADD, or ZINCRBY (`incr`).
async fn add_or_incr(ctx: &mut Ctx<'_>, args: &[Bytes], incr: bool) -> CmdResult {
    let key = &args[1];
    let mut f = AddFlags {
        incr,
        ..AddFlags::default()
    };
    let mut i = 2;
    while let Some(opt) = args.get(i) {
        let flag = match opt.to_ascii_lowercase().as_slice() {
            b"nx" => &mut f.nx,
            b"xx" => &mut f.xx,
            b"ch" => &mut f.ch,
            b"incr" => &mut f.incr,
            b"gt" => &mut f.gt,
            b"lt" => &mut f.lt,
            _ => break,
        };
        *flag = true;
        i += 1;
    }
    let rest = &args[i..];
    if rest.is_empty() || rest.len() % 2 == 1 {
        return err(errors::SYNTAX);
    }
    if f.nx && f.xx {
        return err(errors::ZADD_XX_NX);
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return err(errors::ZADD_GT_LT_NX);
    }
    if f.incr && rest.len() > 2 {
        return err(errors::ZADD_INCR_PAIRS);
    }
    let pairs = rest
        .chunks(2)
        .map(|p| Ok((score_arg(&p[0])?, p[1].clone())))
        .collect::<Result<Vec<(f64, Bytes)>, CmdError>>()?;
    add(ctx, key, &f, pairs).await
}

/// Applies ZADD's pairs in order, as Redis's zsetAdd does one by one.
async fn add(ctx: &mut Ctx<'_>, key: &Bytes, f: &AddFlags, pairs: Vec<(f64, Bytes)>) -> CmdResult {
    let existed = ctx.for_write_of(key, KeyKind::ZSet).await?.is_some();
    if !existed && f.xx {
        return Ok(if f.incr { Reply::Nil } else { Reply::Int(0) });
    }
    let mut scores: HashMap<Bytes, f64> = HashMap::new();
    if existed {
        let names: Vec<Bytes> = pairs.iter().map(|(_, m)| m.clone()).collect();
        for m in ctx
            .txn
            .members_get(ctx.db, key, &names)
            .await?
            .into_iter()
            .flatten()
        {
            let (member, score) = scored(m);
            scores.insert(member, score);
        }
    }
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0i64);
    let mut last = 0.0;
    let mut dirty: Vec<Bytes> = Vec::new();
    for (score, member) in pairs {
        match scores.get(&member).copied() {
            Some(current) => {
                if f.nx {
                    continue;
                }
                let new = if f.incr { current + score } else { score };
                if new.is_nan() {
                    return err(errors::SCORE_NAN);
                }
                if (f.lt && new >= current) || (f.gt && new <= current) {
                    continue;
                }
                processed += 1;
                last = new;
                if new != current {
                    updated += 1;
                    scores.insert(member.clone(), new);
                    dirty.push(member);
                }
            }
            None => {
                if f.xx {
                    continue;
                }
                processed += 1;
                added += 1;
                last = score;
                scores.insert(member.clone(), score);
                dirty.push(member);
            }
        }
    }
    if !dirty.is_empty() {
        dirty.sort_unstable();
        dirty.dedup();
        let rows: Vec<Member> = dirty
            .into_iter()
            .map(|m| {
                let s = scores[&m];
                row(m, s)
            })
            .collect();
        if !existed {
            ctx.notify(b'n', "new", key);
        }
        ctx.txn
            .members_put(ctx.db, key, KeyKind::ZSet, &rows)
            .await?;
        ctx.notify(b'z', if f.incr { "zincr" } else { "zadd" }, key);
    }
    Ok(match (f.incr, processed) {
        (true, 0) => Reply::Nil,
        (true, _) => Reply::Double(last),
        (false, _) => Reply::Int(if f.ch { added + updated } else { added }),
    })
}

/// ZREM key member [member ...]
async fn zrem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    if ctx.for_write_of(key, KeyKind::ZSet).await?.is_none() {
        return Ok(Reply::Int(0));
    }
    let removed = ctx.txn.members_delete(ctx.db, key, &args[2..]).await?;
    if removed > 0 {
        ctx.notify(b'z', "zrem", key);
        members::drop_if_empty(ctx, key).await?;
    }
    Ok(Reply::Int(removed))
}

/// ZCARD key
async fn zcard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let len = if read(ctx, key).await? {
        ctx.txn.members_len(ctx.db, key).await?
    } else {
        0
    };
    Ok(Reply::Int(len))
}

/// ZCOUNT key min max
async fn zcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let range = ScoreRange::parse(&args[2], &args[3])
        .ok_or_else(|| CmdError::Reply(errors::MIN_MAX_NOT_FLOAT.into()))?
        .members();
    if !read(ctx, key).await? {
        return Ok(Reply::Int(0));
    }
    Ok(Reply::Int(match range {
        Some(range) => ctx.txn.members_count(ctx.db, key, &range).await?,
        None => 0,
    }))
}

/// ZLEXCOUNT key min max
async fn zlexcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let lex = LexRange::parse(&args[2], &args[3])
        .ok_or_else(|| CmdError::Reply(errors::MIN_MAX_NOT_LEX.into()))?;
    if !read(ctx, key).await? {
        return Ok(Reply::Int(0));
    }
    if mixed_scores(ctx, key).await? {
        let found = lex_members(ctx, key, &lex, false, 0, None).await?;
        return Ok(Reply::Int(found.len() as i64));
    }
    Ok(Reply::Int(match lex.members() {
        Some(range) => ctx.txn.members_count(ctx.db, key, &range).await?,
        None => 0,
    }))
}

/// ZSCORE key member
async fn zscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    scores(ctx, args, false).await
}

/// ZMSCORE key member [member ...]
async fn zmscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    scores(ctx, args, true).await
}

/// The scores of the members named: one (ZSCORE) or an array (`many`).
async fn scores(ctx: &mut Ctx<'_>, args: &[Bytes], many: bool) -> CmdResult {
    let key = &args[1];
    let names = &args[2..];
    let found = if read(ctx, key).await? {
        ctx.txn.members_get(ctx.db, key, names).await?
    } else {
        vec![None; names.len()]
    };
    let mut scores = found
        .into_iter()
        .map(|m| m.map_or(Reply::Nil, |m| Reply::Double(score_of(m.score))));
    if !many {
        return Ok(scores.next().unwrap_or(Reply::Nil));
    }
    Ok(Reply::Array(scores.collect()))
}

/// ZRANK key member / ZREVRANK key member: members before it in the
/// index (O(rank)).
async fn zrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    rank(ctx, args, false).await
}

/// ZREVRANK key member.
async fn zrevrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    rank(ctx, args, true).await
}

/// A member's rank, from the highest score if `rev`.
async fn rank(ctx: &mut Ctx<'_>, args: &[Bytes], rev: bool) -> CmdResult {
    let key = &args[1];
    if !read(ctx, key).await? {
        return Ok(Reply::Nil);
    }
    let Some(m) = ctx
        .txn
        .members_get(ctx.db, key, std::slice::from_ref(&args[2]))
        .await?
        .pop()
        .flatten()
    else {
        return Ok(Reply::Nil);
    };
    let rank = ctx
        .txn
        .members_rank(ctx.db, key, m.score, &m.member)
        .await?;
    if rev {
        let len = ctx.txn.members_len(ctx.db, key).await?;
        return Ok(Reply::Int((len - 1 - rank).max(0)));
    }
    Ok(Reply::Int(rank))
}

/// What a range command selects.
enum Span {
    /// Ranks `start..=stop` (negative ones from the end).
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

/// A parsed ZRANGE-family request.
struct RangeQuery {
    span: Span,
    rev: bool,
    offset: i64,
    /// -1: no limit (as Redis: any negative limit is none).
    limit: i64,
    with_scores: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum By {
    Rank,
    Score,
    Lex,
}

/// Parses a ZRANGE-family request whose key is at `at` (Redis's
/// zrangeGenericCommand): `by` and `rev` are fixed by the older commands
/// and chosen by options in ZRANGE and ZRANGESTORE; `store` refuses
/// WITHSCORES.
fn parse_range(
    args: &[Bytes],
    at: usize,
    store: bool,
    by: Option<By>,
    rev: Option<bool>,
) -> Result<RangeQuery, CmdError> {
    let (mut by_opt, mut rev_opt) = (by, rev);
    let (mut offset, mut limit, mut with_scores) = (0i64, -1i64, false);
    let mut j = at + 3;
    while j < args.len() {
        let left = args.len() - j - 1;
        let opt = &args[j];
        if !store && is(opt, "withscores") {
            with_scores = true;
        } else if is(opt, "limit") && left >= 2 {
            offset = int_arg(&args[j + 1])?;
            limit = int_arg(&args[j + 2])?;
            j += 2;
        } else if rev.is_none() && rev_opt.is_none() && is(opt, "rev") {
            rev_opt = Some(true);
        } else if by.is_none() && by_opt.is_none() && is(opt, "bylex") {
            by_opt = Some(By::Lex);
        } else if by.is_none() && by_opt.is_none() && is(opt, "byscore") {
            by_opt = Some(By::Score);
        } else {
            return err(errors::SYNTAX);
        }
        j += 1;
    }
    let rev = rev_opt.unwrap_or(false);
    let by = by_opt.unwrap_or(By::Rank);
    if limit != -1 && by == By::Rank {
        return err(errors::LIMIT_NEEDS_BY);
    }
    if with_scores && by == By::Lex {
        return err(errors::WITHSCORES_BYLEX);
    }
    let (mut lo, mut hi) = (&args[at + 1], &args[at + 2]);
    if rev && by != By::Rank {
        std::mem::swap(&mut lo, &mut hi);
    }
    let span = match by {
        By::Rank => Span::Rank(int_arg(lo)?, int_arg(hi)?),
        By::Score => Span::Score(
            ScoreRange::parse(lo, hi)
                .ok_or_else(|| CmdError::Reply(errors::MIN_MAX_NOT_FLOAT.into()))?,
        ),
        By::Lex => Span::Lex(
            LexRange::parse(lo, hi)
                .ok_or_else(|| CmdError::Reply(errors::MIN_MAX_NOT_LEX.into()))?,
        ),
    };
    Ok(RangeQuery {
        span,
        rev,
        offset,
        limit,
        with_scores,
    })
}

/// The members a range request selects from an existing sorted set, in
/// its order: by rank O(offset + count) on the index.
async fn fetch_range(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    q: &RangeQuery,
) -> Result<Vec<Scored>, CmdError> {
    let (range, offset, limit) = match &q.span {
        Span::Rank(start, stop) => {
            let len = ctx.txn.members_len(ctx.db, key).await?;
            let Some((start, stop)) = members::index_range(*start, *stop, len) else {
                return Ok(Vec::new());
            };
            (MemberRange::All, start, Some((stop - start + 1) as u64))
        }
        Span::Score(r) => match r.members() {
            Some(range) if q.offset >= 0 => (range, q.offset, u64::try_from(q.limit).ok()),
            _ => return Ok(Vec::new()),
        },
        Span::Lex(r) => {
            let limit = u64::try_from(q.limit).ok();
            let rows = lex_members(ctx, key, r, q.rev, q.offset, limit).await?;
            return Ok(rows.into_iter().map(scored).collect());
        }
    };
    let rows = ctx
        .txn
        .members_range(ctx.db, key, &range, q.rev, offset as u64, limit)
        .await?;
    Ok(rows.into_iter().map(scored).collect())
}

/// True when the sorted set's members do not all have one score: its lex
/// ranges then follow Redis's walk ([`lex_walk`]), not member order.
async fn mixed_scores(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<bool, CmdError> {
    let mut ends = Vec::with_capacity(2);
    for rev in [false, true] {
        let first = ctx
            .txn
            .members_range(ctx.db, key, &MemberRange::All, rev, 0, Some(1))
            .await?;
        ends.extend(first.into_iter().map(|m| m.score));
    }
    Ok(ends.first() != ends.last())
}

/// A lex range over members of different scores, as Redis 7.0 walks its
/// listpack (`all` in score order), assuming member order: nothing when
/// the last member is below the start or the first above the end; else
/// from the first member at or above the start (backwards: the last at
/// or below the end), skipping `offset`, while members stay on the range's
/// other side. (Only deterministic in Redis for small sets, where this is
/// what it does.)
fn lex_walk(
    all: Vec<Member>,
    r: &LexRange,
    rev: bool,
    offset: i64,
    limit: Option<u64>,
) -> Vec<Member> {
    let (Some(first), Some(last)) = (all.first(), all.last()) else {
        return Vec::new();
    };
    if r.members().is_none() || !r.above_min(&last.member) || !r.below_max(&first.member) {
        return Vec::new();
    }
    let order: Box<dyn Iterator<Item = Member>> = if rev {
        Box::new(all.into_iter().rev())
    } else {
        Box::new(all.into_iter())
    };
    type Side = fn(&LexRange, &[u8]) -> bool;
    let (enters, stays): (Side, Side) = if rev {
        (LexRange::below_max, LexRange::above_min)
    } else {
        (LexRange::above_min, LexRange::below_max)
    };
    let mut walk = order.skip_while(|m| !enters(r, &m.member)).peekable();
    if walk.peek().is_none_or(|m| !stays(r, &m.member)) || offset < 0 {
        return Vec::new();
    }
    walk.skip(offset as usize)
        .take(limit.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX)))
        .take_while(|m| stays(r, &m.member))
        .collect()
}

/// The members of an existing sorted set in a lex range (see
/// [`lex_walk`] for sets of mixed scores).
async fn lex_members(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    r: &LexRange,
    rev: bool,
    offset: i64,
    limit: Option<u64>,
) -> Result<Vec<Member>, CmdError> {
    if mixed_scores(ctx, key).await? {
        let all = ctx
            .txn
            .members_range(ctx.db, key, &MemberRange::All, false, 0, None)
            .await?;
        return Ok(lex_walk(all, r, rev, offset, limit));
    }
    match r.members() {
        Some(range) if offset >= 0 => Ok(ctx
            .txn
            .members_range(ctx.db, key, &range, rev, offset as u64, limit)
            .await?),
        _ => Ok(Vec::new()),
    }
}

/// ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count]
/// [WITHSCORES]
async fn zrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    range(ctx, args, 1, false, None, None).await
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]
async fn zrangestore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    range(ctx, args, 2, true, None, None).await
}

/// ZREVRANGE key start stop [WITHSCORES]
async fn zrevrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    range(ctx, args, 1, false, Some(By::Rank), Some(true)).await
}

/// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
async fn zrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    range(ctx, args, 1, false, Some(By::Score), Some(false)).await
}

/// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]
async fn zrevrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    range(ctx, args, 1, false, Some(By::Score), Some(true)).await
}

/// ZRANGEBYLEX key min max [LIMIT offset count]
async fn zrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    range(ctx, args, 1, false, Some(By::Lex), Some(false)).await
}

/// ZREVRANGEBYLEX key max min [LIMIT offset count]
async fn zrevrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    range(ctx, args, 1, false, Some(By::Lex), Some(true)).await
}

/// The range commands: the source key at argument `at`, stored into
/// argument 1 if `store`; `by` and `rev` fixed by the command, or (None)
/// given by its options.
async fn range(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    at: usize,
    store: bool,
    by: Option<By>,
    rev: Option<bool>,
) -> CmdResult {
    let q = parse_range(args, at, store, by, rev)?;
    let key = &args[at];
    let items = if read(ctx, key).await? {
        fetch_range(ctx, key, &q).await?
    } else {
        Vec::new()
    };
    if store {
        return store_result(ctx, &args[1], items, "zrangestore").await;
    }
    Ok(scored_reply(items, q.with_scores, ctx.resp3))
}

/// ZREMRANGEBYRANK key start stop
async fn zremrangebyrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let span = Span::Rank(int_arg(&args[2])?, int_arg(&args[3])?);
    remove_span(ctx, &args[1], span, "zremrangebyrank").await
}

/// ZREMRANGEBYSCORE key min max
async fn zremrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let span = Span::Score(
        ScoreRange::parse(&args[2], &args[3])
            .ok_or_else(|| CmdError::Reply(errors::MIN_MAX_NOT_FLOAT.into()))?,
    );
    remove_span(ctx, &args[1], span, "zremrangebyscore").await
}

/// ZREMRANGEBYLEX key min max
async fn zremrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let span = Span::Lex(
        LexRange::parse(&args[2], &args[3])
            .ok_or_else(|| CmdError::Reply(errors::MIN_MAX_NOT_LEX.into()))?,
    );
    remove_span(ctx, &args[1], span, "zremrangebylex").await
}

/// Removes the members in `span`, notifying `event`.
async fn remove_span(ctx: &mut Ctx<'_>, key: &Bytes, span: Span, event: &'static str) -> CmdResult {
    if ctx.for_write_of(key, KeyKind::ZSet).await?.is_none() {
        return Ok(Reply::Int(0));
    }
    let removed = match span {
        Span::Rank(start, stop) => {
            let len = ctx.txn.members_len(ctx.db, key).await?;
            match members::index_range(start, stop, len) {
                None => 0,
                Some((0, last)) if last == len - 1 => {
                    ctx.txn
                        .members_delete_range(ctx.db, key, &MemberRange::All)
                        .await?
                }
                Some((start, stop)) => {
                    let names: Vec<Bytes> = ctx
                        .txn
                        .members_range(
                            ctx.db,
                            key,
                            &MemberRange::All,
                            false,
                            start as u64,
                            Some((stop - start + 1) as u64),
                        )
                        .await?
                        .into_iter()
                        .map(|m| m.member)
                        .collect();
                    ctx.txn.members_delete(ctx.db, key, &names).await?
                }
            }
        }
        Span::Score(r) => match r.members() {
            Some(range) => ctx.txn.members_delete_range(ctx.db, key, &range).await?,
            None => 0,
        },
        Span::Lex(r) if mixed_scores(ctx, key).await? => {
            let names: Vec<Bytes> = lex_members(ctx, key, &r, false, 0, None)
                .await?
                .into_iter()
                .map(|m| m.member)
                .collect();
            ctx.txn.members_delete(ctx.db, key, &names).await?
        }
        Span::Lex(r) => match r.members() {
            Some(range) => ctx.txn.members_delete_range(ctx.db, key, &range).await?,
            None => 0,
        },
    };
    if removed > 0 {
        ctx.notify(b'z', event, key);
        members::drop_if_empty(ctx, key).await?;
    }
    Ok(Reply::Int(removed))
}

/// Removes and returns up to `count` members of `key` with the lowest
/// scores (the highest when `max`), in that order, with Redis's
/// `zpopmin`/`zpopmax` event and the `del` when the key empties. Empty
/// when the key does not exist (or `count` is 0); WRONGTYPE for another
/// kind. ZPOPMIN, ZPOPMAX and ZMPOP use it, and so can their blocking
/// forms once a key is ready.
pub(crate) async fn pop(
    ctx: &mut Ctx<'_>,
    key: &Bytes,
    max: bool,
    count: usize,
) -> Result<Vec<Scored>, CmdError> {
    if ctx.for_write_of(key, KeyKind::ZSet).await?.is_none() || count == 0 {
        return Ok(Vec::new());
    }
    let rows = ctx
        .txn
        .members_range(ctx.db, key, &MemberRange::All, max, 0, Some(count as u64))
        .await?;
    let names: Vec<Bytes> = rows.iter().map(|m| m.member.clone()).collect();
    ctx.txn.members_delete(ctx.db, key, &names).await?;
    ctx.notify(b'z', if max { "zpopmax" } else { "zpopmin" }, key);
    members::drop_if_empty(ctx, key).await?;
    Ok(rows.into_iter().map(scored).collect())
}

/// ZPOPMIN key [count]
async fn zpopmin(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    zpop(ctx, args, false).await
}

/// ZPOPMAX key [count]
async fn zpopmax(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    zpop(ctx, args, true).await
}

/// Pops the lowest scores, or the highest (`max`).
async fn zpop(ctx: &mut Ctx<'_>, args: &[Bytes], max: bool) -> CmdResult {
    if args.len() > 3 {
        return err(errors::SYNTAX);
    }
    let count = match args.get(2) {
        Some(arg) => match crate::protocol::parse_i64(arg) {
            Some(n) if n >= 0 => Some(n),
            _ => return err(errors::NEGATIVE_COUNT),
        },
        None => None,
    };
    let n = count.map_or(1, |n| usize::try_from(n).unwrap_or(usize::MAX));
    let items = pop(ctx, &args[1], max, n).await?;
    // One member (no count) is a flat pair in RESP3 too.
    let nested = ctx.resp3 && count.is_some();
    Ok(scored_reply(items, true, nested))
}

/// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]
async fn zmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let numkeys = match crate::protocol::parse_i64(&args[1]) {
        Some(n) if n >= 1 => n as u64,
        _ => return err(errors::NUMKEYS_NOT_POSITIVE),
    };
    let where_at = match usize::try_from(numkeys)
        .ok()
        .and_then(|n| n.checked_add(2))
        .filter(|&at| at < args.len())
    {
        Some(at) => at,
        None => return err(errors::SYNTAX),
    };
    let max = if is(&args[where_at], "max") {
        true
    } else if is(&args[where_at], "min") {
        false
    } else {
        return err(errors::SYNTAX);
    };
    let mut count: Option<usize> = None;
    let mut j = where_at + 1;
    while j < args.len() {
        if count.is_none() && is(&args[j], "count") && j + 1 < args.len() {
            j += 1;
            count = match crate::protocol::parse_i64(&args[j]) {
                Some(n) if n >= 1 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
                _ => return err(errors::COUNT_POSITIVE),
            };
        } else {
            return err(errors::SYNTAX);
        }
        j += 1;
    }
    let count = count.unwrap_or(1);
    for key in &args[2..where_at] {
        let items = pop(ctx, key, max, count).await?;
        if !items.is_empty() {
            return Ok(Reply::Array(vec![
                Reply::Bulk(key.clone()),
                scored_reply(items, true, true),
            ]));
        }
    }
    Ok(Reply::NilArray)
}

/// BZPOPMIN / BZPOPMAX key [key ...] timeout: the non-blocking attempt,
/// the first member of the first non-empty sorted set, as
/// `[key, member, score]`.
async fn bzpopmin(ctx: &mut Ctx<'_>, _spec: &'static CommandSpec, args: &[Bytes]) -> CmdResult {
    bzpop(ctx, args, false).await
}

/// BZPOPMAX's attempt (see [`bzpopmin`]).
async fn bzpopmax(ctx: &mut Ctx<'_>, _spec: &'static CommandSpec, args: &[Bytes]) -> CmdResult {
    bzpop(ctx, args, true).await
}

/// Pops the lowest score, or the highest (`max`).
async fn bzpop(ctx: &mut Ctx<'_>, args: &[Bytes], max: bool) -> CmdResult {
    timeout(&args[args.len() - 1])?;
    for key in &args[1..args.len() - 1] {
        if let Some((member, score)) = pop(ctx, key, max, 1).await?.pop() {
            return Ok(Reply::Array(vec![
                Reply::Bulk(key.clone()),
                Reply::Bulk(member),
                Reply::Double(score),
            ]));
        }
    }
    Ok(Reply::NilArray)
}

/// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]: the
/// non-blocking attempt, ZMPOP's after the timeout.
async fn bzmpop(ctx: &mut Ctx<'_>, _spec: &'static CommandSpec, args: &[Bytes]) -> CmdResult {
    timeout(&args[1])?;
    zmpop(ctx, &args[1..]).await
}

/// The keys BZMPOP waits on (none when its key count is bad: the attempt
/// answers the error first); its timeout is the first argument.
fn bzmpop_keys(args: &[Bytes]) -> BlockOn {
    let count = args
        .get(2)
        .and_then(|a| crate::protocol::parse_i64(a))
        .filter(|&n| n >= 1 && (n as u64) < args.len() as u64 - 3)
        .unwrap_or(0) as usize;
    BlockOn::seconds(args[3..3 + count].to_vec(), 1)
}

/// Largest reply ZRANDMEMBER with a negative count builds (as HRANDFIELD).
const MAX_RANDOM_REPEATS: u64 = 1 << 22;

/// Below this size (or when most members are picked) ZRANDMEMBER reads
/// the whole set once instead of one member per pick.
const READ_WHOLE: i64 = 512;

/// ZRANDMEMBER key [count [WITHSCORES]]: members at uniformly random
/// ranks (distinct ones for a positive count).
async fn zrandmember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let Some(count_arg) = args.get(2) else {
        if !read(ctx, key).await? {
            return Ok(Reply::Nil);
        }
        let len = ctx.txn.members_len(ctx.db, key).await?;
        let pick = rand::thread_rng().gen_range(0..len.max(1));
        let mut rows = ctx
            .txn
            .members_range(ctx.db, key, &MemberRange::All, false, pick as u64, Some(1))
            .await?;
        return Ok(Reply::opt_bulk(rows.pop().map(|m| m.member)));
    };
    let n = int_arg(count_arg)?;
    if n == i64::MIN {
        return err(errors::RANDFIELD_COUNT_RANGE);
    }
    let with_scores = match &args[3..] {
        [] => false,
        [opt] if is(opt, "withscores") => true,
        _ => return err(errors::SYNTAX),
    };
    if with_scores && !(-i64::MAX / 2..=i64::MAX / 2).contains(&n) {
        return err(errors::OUT_OF_RANGE);
    }
    if !read(ctx, key).await? || n == 0 {
        return Ok(Reply::Array(Vec::new()));
    }
    let len = ctx.txn.members_len(ctx.db, key).await?;
    let count = n.unsigned_abs();
    let ranks: Vec<usize> = if n < 0 {
        if count > MAX_RANDOM_REPEATS {
            return err(errors::OUT_OF_RANGE);
        }
        let mut rng = rand::thread_rng();
        (0..count).map(|_| rng.gen_range(0..len as usize)).collect()
    } else if count >= len as u64 {
        (0..len as usize).collect()
    } else {
        rand::seq::index::sample(&mut rand::thread_rng(), len as usize, count as usize).into_vec()
    };
    let items: Vec<Scored> = if len <= READ_WHOLE || ranks.len() as i64 * 4 >= len {
        let all: Vec<Scored> = ctx
            .txn
            .members_range(ctx.db, key, &MemberRange::All, false, 0, None)
            .await?
            .into_iter()
            .map(scored)
            .collect();
        ranks
            .into_iter()
            .filter_map(|r| all.get(r).cloned())
            .collect()
    } else {
        let mut items = Vec::with_capacity(ranks.len());
        for r in ranks {
            let rows = ctx
                .txn
                .members_range(ctx.db, key, &MemberRange::All, false, r as u64, Some(1))
                .await?;
            items.extend(rows.into_iter().map(scored));
        }
        items
    };
    Ok(scored_reply(items, with_scores, ctx.resp3))
}

/// Redis keeps sorted sets of up to this many members as one listpack,
/// which ZSCAN returns whole whatever the cursor; we do the same.
const SMALL_ZSET: i64 = 128;

/// ZSCAN key cursor [MATCH pattern] [COUNT count]: a sorted set of up to
/// 128 members comes back whole with cursor 0 (as Redis's listpack);
/// larger ones page in member order, the cursor naming where the next
/// page starts (see [`members::scan_page`]).
async fn zscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let cursor = parse_cursor(&args[2])?;
    if !read(ctx, key).await? {
        return Ok(scan_reply(0, Vec::new()));
    }
    let opts = scan_options(&args[3..], false)?;
    let (page, next) = if ctx.txn.members_len(ctx.db, key).await? <= SMALL_ZSET {
        let all = ctx
            .txn
            .members_range(ctx.db, key, &MemberRange::All, false, 0, None)
            .await?;
        (all, 0)
    } else {
        members::scan_page(ctx, key, cursor, opts.count).await?
    };
    let mut items = Vec::with_capacity(page.len() * 2);
    for m in page {
        if opts.matches(&m.member) {
            let (member, score) = scored(m);
            items.push(Reply::Bulk(member));
            items.push(Reply::Bulk(Bytes::from(crate::reply::format_double(score))));
        }
    }
    Ok(scan_reply(next, items))
}
