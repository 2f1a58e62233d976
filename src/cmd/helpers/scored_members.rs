//! Sorted-set members with their scores as commands hand them around:
//! read from the store's rows, answered in RESP2 and RESP3, and stored as
//! the new value of a key (ZRANGESTORE, ZUNIONSTORE, ...).

use bytes::Bytes;

use crate::cmd::ctx::Ctx;
use crate::cmd::errors::CmdResult;
use crate::reply::Reply;
use crate::store::{KeyKind, Member, score_of, score_order};

/// A member and its score, as commands see them.
pub(crate) type Scored = (Bytes, f64);

pub(crate) fn scored(m: Member) -> Scored {
    (m.member, score_of(m.score))
}

pub(crate) fn row(member: Bytes, score: f64) -> Member {
    Member {
        member,
        score: score_order(score),
        value: Bytes::new(),
    }
}

/// Members, with their scores when asked: as flat pairs in RESP2, as
/// `[member, score]` arrays in RESP3 (scores are doubles there).
pub(crate) fn scored_reply(items: Vec<Scored>, with_scores: bool, resp3: bool) -> Reply {
    if !with_scores {
        return Reply::bulks(items.into_iter().map(|(m, _)| m));
    }
    if resp3 {
        return Reply::Array(
            items
                .into_iter()
                .map(|(m, s)| Reply::Array(vec![Reply::Bulk(m), Reply::Double(s)]))
                .collect(),
        );
    }
    let mut out = Vec::with_capacity(items.len() * 2);
    for (m, s) in items {
        out.push(Reply::Bulk(m));
        out.push(Reply::Double(s));
    }
    Reply::Array(out)
}

/// Writes a computed sorted set to `dst` as Redis's setKey does (any old
/// value and its TTL replaced; `new` when it did not exist), or deletes
/// `dst` when the result is empty; answers the result's size.
pub(crate) async fn store_result(
    ctx: &mut Ctx<'_>,
    dst: &Bytes,
    items: Vec<Scored>,
    event: &'static str,
) -> CmdResult {
    let existed = ctx.for_write(dst).await?.is_some();
    if items.is_empty() {
        if existed {
            ctx.txn.delete(ctx.db, dst).await?;
            ctx.notify(b'g', "del", dst);
        }
        return Ok(Reply::Int(0));
    }
    if existed {
        ctx.txn.delete(ctx.db, dst).await?;
    } else {
        ctx.notify(b'n', "new", dst);
    }
    let len = items.len() as i64;
    let rows: Vec<Member> = items.into_iter().map(|(m, s)| row(m, s)).collect();
    ctx.txn
        .members_put(ctx.db, dst, KeyKind::ZSet, &rows)
        .await?;
    ctx.notify(b'z', event, dst);
    Ok(Reply::Int(len))
}
