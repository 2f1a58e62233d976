//! ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD: sorted sets
//! (and sets, as members of score 1) read whole and combined in memory,
//! as Redis's zunionInterDiffGenericCommand combines them.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use bytes::Bytes;

use crate::cmd::args::{int_arg, is};
use crate::cmd::ctx::Ctx;
use crate::cmd::errors::{self, CmdError, CmdResult, err};
use crate::cmd::helpers::scored_members::{Scored, scored, scored_reply, store_result};
use crate::cmd::helpers::scores;
use crate::cmd::spec::CommandSpec;
use crate::reply::Reply;
use crate::store::{KeyKind, MemberRange};

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    /// Redis's zunionInterAggregate: a sum of opposite infinities is 0.
    fn apply(self, target: &mut f64, value: f64) {
        match self {
            Aggregate::Sum => {
                *target += value;
                if target.is_nan() {
                    *target = 0.0;
                }
            }
            Aggregate::Min => {
                if value < *target {
                    *target = value;
                }
            }
            Aggregate::Max => {
                if value > *target {
                    *target = value;
                }
            }
        }
    }
}

/// One input of ZUNION and friends: its members (a set's score 1) and
/// weight.
struct Source {
    key: Bytes,
    kind: Option<KeyKind>,
    weight: f64,
    items: Vec<Scored>,
}

/// ZUNION numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...] [WITHSCORES]
pub(crate) async fn zunion(
    ctx: &mut Ctx<'_>,
    spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    zsetop(ctx, spec.name, args, SetOp::Union, false, false).await
}

/// ZINTER numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...] [WITHSCORES]
pub(crate) async fn zinter(
    ctx: &mut Ctx<'_>,
    spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    zsetop(ctx, spec.name, args, SetOp::Inter, false, false).await
}

/// ZDIFF numkeys key [key ...] [WITHSCORES]
pub(crate) async fn zdiff(
    ctx: &mut Ctx<'_>,
    spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    zsetop(ctx, spec.name, args, SetOp::Diff, false, false).await
}

/// ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...]
pub(crate) async fn zunionstore(
    ctx: &mut Ctx<'_>,
    spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    zsetop(ctx, spec.name, args, SetOp::Union, true, false).await
}

/// ZINTERSTORE destination numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...]
pub(crate) async fn zinterstore(
    ctx: &mut Ctx<'_>,
    spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    zsetop(ctx, spec.name, args, SetOp::Inter, true, false).await
}

/// ZDIFFSTORE destination numkeys key [key ...]
pub(crate) async fn zdiffstore(
    ctx: &mut Ctx<'_>,
    spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    zsetop(ctx, spec.name, args, SetOp::Diff, true, false).await
}

/// ZINTERCARD numkeys key [key ...] [LIMIT limit]
pub(crate) async fn zintercard(
    ctx: &mut Ctx<'_>,
    spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    zsetop(ctx, spec.name, args, SetOp::Inter, false, true).await
}

/// ZUNION, ZINTER, ZDIFF, ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE and
/// ZINTERCARD (Redis's zunionInterDiffGenericCommand): sets count as
/// members of score 1. The inputs are read whole.
/// `name` is for the error texts; the result is stored (`store`: the
/// STORE forms), counted (`card`: ZINTERCARD) or returned.
async fn zsetop(
    ctx: &mut Ctx<'_>,
    name: &str,
    args: &[Bytes],
    op: SetOp,
    store: bool,
    card: bool,
) -> CmdResult {
    let at = if store { 2 } else { 1 };
    let setnum = int_arg(&args[at])?;
    if setnum < 1 {
        return err(errors::no_input_keys(name));
    }
    if setnum as u64 > (args.len() - at - 1) as u64 {
        return err(errors::SYNTAX);
    }
    let setnum = setnum as usize;
    let keys = &args[at + 1..at + 1 + setnum];
    // The inputs' kinds are checked before the options, as in Redis.
    let mut sources = Vec::with_capacity(setnum);
    for key in keys {
        let meta = ctx.live(key).await?;
        ctx.count_lookup(meta.is_some());
        let kind = meta.map(|m| m.kind);
        if kind.is_some_and(|k| k != KeyKind::ZSet && k != KeyKind::Set) {
            return Err(CmdError::WrongType);
        }
        sources.push(Source {
            key: key.clone(),
            kind,
            weight: 1.0,
            items: Vec::new(),
        });
    }
    let mut aggregate = Aggregate::Sum;
    let (mut with_scores, mut limit) = (false, 0i64);
    let mut j = at + 1 + setnum;
    while j < args.len() {
        let remaining = args.len() - j;
        let opt = &args[j];
        if op != SetOp::Diff && !card && remaining > setnum && is(opt, "weights") {
            j += 1;
            for s in sources.iter_mut() {
                s.weight = scores::parse(&args[j])
                    .ok_or_else(|| CmdError::Reply(errors::WEIGHT_NOT_FLOAT.into()))?;
                j += 1;
            }
        } else if op != SetOp::Diff && !card && remaining >= 2 && is(opt, "aggregate") {
            let how = &args[j + 1];
            aggregate = if is(how, "sum") {
                Aggregate::Sum
            } else if is(how, "min") {
                Aggregate::Min
            } else if is(how, "max") {
                Aggregate::Max
            } else {
                return err(errors::SYNTAX);
            };
            j += 2;
        } else if !store && !card && is(opt, "withscores") {
            with_scores = true;
            j += 1;
        } else if card && remaining >= 2 && is(opt, "limit") {
            limit = match crate::protocol::parse_i64(&args[j + 1]) {
                Some(n) if n >= 0 => n,
                _ => return err(errors::LIMIT_NEGATIVE),
            };
            j += 2;
        } else {
            return err(errors::SYNTAX);
        }
    }
    for s in sources.iter_mut() {
        if s.kind.is_none() {
            continue;
        }
        let rows = ctx
            .txn
            .members_range(ctx.db, &s.key, &MemberRange::All, false, 0, None)
            .await?;
        let zset = s.kind == Some(KeyKind::ZSet);
        s.items = rows
            .into_iter()
            .map(|m| if zset { scored(m) } else { (m.member, 1.0) })
            .collect();
    }
    if card {
        let found = intersect(sources, aggregate, limit as usize);
        return Ok(Reply::Int(found.len() as i64));
    }
    let mut result = match op {
        SetOp::Union => union(sources, aggregate),
        SetOp::Inter => intersect(sources, aggregate, 0),
        SetOp::Diff => diff(sources),
    };
    // By score, then member; -0 and 0 are one score (scores are never NaN).
    result.sort_by(|a, b| {
        a.1.partial_cmp(&b.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.0.cmp(&b.0))
    });
    if store {
        let event = match op {
            SetOp::Union => "zunionstore",
            SetOp::Inter => "zinterstore",
            SetOp::Diff => "zdiffstore",
        };
        return store_result(ctx, &args[1], result, event).await;
    }
    Ok(scored_reply(result, with_scores, ctx.resp3))
}

/// Redis orders the inputs of a union or intersection by size (a stable
/// sort), which decides the order scores are added in.
fn by_size(mut sources: Vec<Source>) -> Vec<Source> {
    sources.sort_by_key(|s| s.items.len());
    sources
}

fn weighted(weight: f64, score: f64) -> f64 {
    let v = weight * score;
    if v.is_nan() { 0.0 } else { v }
}

fn union(sources: Vec<Source>, aggregate: Aggregate) -> Vec<Scored> {
    let mut acc: HashMap<Bytes, f64> = HashMap::new();
    for s in by_size(sources) {
        for (member, score) in s.items {
            let value = weighted(s.weight, score);
            match acc.entry(member) {
                Entry::Vacant(e) => {
                    e.insert(value);
                }
                Entry::Occupied(mut e) => aggregate.apply(e.get_mut(), value),
            }
        }
    }
    acc.into_iter().collect()
}

/// The members in every input; at most `limit` of them when it is not 0.
fn intersect(sources: Vec<Source>, aggregate: Aggregate, limit: usize) -> Vec<Scored> {
    let mut sources = by_size(sources).into_iter();
    let Some(first) = sources.next() else {
        return Vec::new();
    };
    let others: Vec<(f64, HashMap<Bytes, f64>)> = sources
        .map(|s| (s.weight, s.items.into_iter().collect()))
        .collect();
    let mut out = Vec::new();
    'members: for (member, score) in first.items {
        let mut total = weighted(first.weight, score);
        for (weight, items) in &others {
            match items.get(&member) {
                Some(v) => aggregate.apply(&mut total, v * weight),
                None => continue 'members,
            }
        }
        out.push((member, total));
        if limit > 0 && out.len() >= limit {
            break;
        }
    }
    out
}

/// The first input's members that no other input has, with their scores.
fn diff(sources: Vec<Source>) -> Vec<Scored> {
    let mut sources = sources.into_iter();
    let Some(first) = sources.next() else {
        return Vec::new();
    };
    let others: Vec<HashSet<Bytes>> = sources
        .map(|s| s.items.into_iter().map(|(m, _)| m).collect())
        .collect();
    first
        .items
        .into_iter()
        .filter(|(m, _)| !others.iter().any(|o| o.contains(m)))
        .collect()
}
