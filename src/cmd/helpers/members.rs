//! What the list, set and sorted-set commands share: their keys' lookup,
//! Redis's index ranges, the end of a key that lost its last member, and
//! the pages of SSCAN and ZSCAN.

use bytes::Bytes;

use crate::cmd::ctx::Ctx;
use crate::cmd::errors::CmdError;
use crate::cmd::helpers::scan::{decode_boundary, page_end};
use crate::store::{Bound, Elements, KeyKind, KeyMeta, Member, MemberRange};

/// The inclusive positions `start..=stop` (negative ones count from the
/// end) select among `len` elements, as Redis clamps them (LRANGE, ZRANGE,
/// LTRIM, ZREMRANGEBYRANK): `None` when they select nothing.
pub fn index_range(start: i64, stop: i64, len: i64) -> Option<(i64, i64)> {
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let stop = if stop < 0 { len + stop } else { stop };
    if start > stop || start >= len {
        return None;
    }
    Some((start, stop.min(len - 1)))
}

/// Looks up a key of `kind` for a read: `None` when absent or expired, a
/// WRONGTYPE error when it holds another kind (counts the hit or miss).
pub async fn read(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    kind: KeyKind,
) -> Result<Option<KeyMeta>, CmdError> {
    let meta = ctx.live_of(key, kind).await?;
    ctx.count_lookup(meta.is_some());
    Ok(meta)
}

/// After members were removed from `key`: deletes the key when it has
/// none left, with Redis's `del` event; true when it did.
pub async fn drop_if_empty(ctx: &mut Ctx<'_>, key: &Bytes) -> Result<bool, CmdError> {
    if !ctx
        .txn
        .drop_if_empty(ctx.db, key, Elements::Members)
        .await?
    {
        return Ok(false);
    }
    ctx.notify(b'g', "del", key);
    Ok(true)
}

/// One page of a large set or sorted set, in member (byte) order, and
/// the cursor after it (0 at the end): HSCAN's boundary cursors (see
/// `hash::hscan`), where the next page starts at the first member `>=`
/// the boundary the cursor names.
pub async fn scan_page(
    ctx: &mut Ctx<'_>,
    key: &Bytes,
    cursor: u64,
    count: u64,
) -> Result<(Vec<Member>, u64), CmdError> {
    let count = count.min(u32::MAX as u64 - 1);
    let start = match decode_boundary(cursor) {
        Some(b) => Bound::Included(Bytes::from(b)),
        None => Bound::Unbounded,
    };
    // COUNT members plus the first one left over, which places the boundary.
    let range = MemberRange::Member(start, Bound::Unbounded);
    let mut page = ctx
        .txn
        .members_range(ctx.db, key, &range, false, 0, Some(count + 1))
        .await?;
    if (page.len() as u64) <= count {
        return Ok((page, 0));
    }
    let mut from = count as usize;
    loop {
        if let Some((end, cursor)) = page_end(&page, from, |m| &m.member) {
            page.truncate(end);
            return Ok((page, cursor));
        }
        from = page.len();
        let after = page[from - 1].member.clone();
        let range = MemberRange::Member(Bound::Excluded(after), Bound::Unbounded);
        let more = ctx
            .txn
            .members_range(ctx.db, key, &range, false, 0, Some(count.clamp(16, 1024)))
            .await?;
        if more.is_empty() {
            return Ok((page, 0));
        }
        page.extend(more);
    }
}

#[cfg(test)]
mod tests {
    use super::index_range;

    #[test]
    fn ranges_clamp_as_redis_does() {
        assert_eq!(index_range(0, -1, 5), Some((0, 4)));
        assert_eq!(index_range(-100, 100, 5), Some((0, 4)));
        assert_eq!(index_range(2, 1, 5), None);
        assert_eq!(index_range(5, 10, 5), None);
        assert_eq!(index_range(-2, -1, 5), Some((3, 4)));
        assert_eq!(index_range(0, -6, 5), None);
        assert_eq!(index_range(0, 0, 0), None);
    }
}
