//! What the list, set and sorted-set commands share: their keys' lookup,
//! Redis's index ranges, and the end of a key that lost its last member.

use bytes::Bytes;

use super::Ctx;
use super::errors::CmdError;
use crate::store::{KeyKind, KeyMeta};

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
    if ctx.txn.members_len(ctx.db, key).await? > 0 {
        return Ok(false);
    }
    ctx.txn.delete(ctx.db, key).await?;
    ctx.notify(b'g', "del", key);
    Ok(true)
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
