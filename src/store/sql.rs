//! The SQL both backends share: the key range a KEYS pattern reads, and
//! the conditions, arguments, order and limits of a members range.

use bytes::Bytes;

use super::types::{Bound, MemberRange};

/// The smallest byte string greater than every string starting with
/// `prefix`; `None` when the prefix is all 0xff bytes.
pub(crate) fn prefix_upper_bound(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut upper = prefix.to_vec();
    while let Some(last) = upper.pop() {
        if last < 0xff {
            upper.push(last + 1);
            return Some(upper);
        }
    }
    None
}

/// The keys KEYS `pattern` may list: those from its literal prefix, up to
/// (not including) the returned bound when there is one.
pub(crate) fn key_range(pattern: &[u8]) -> (&[u8], Option<Vec<u8>>) {
    let prefix = crate::glob::literal_prefix(pattern);
    let upper = prefix_upper_bound(prefix).filter(|_| !prefix.is_empty());
    (prefix, upper)
}

/// Whether KEYS `pattern` lists `key`, whose deadline is `expire_at`.
pub(crate) fn lists(pattern: &[u8], key: &[u8], expire_at: Option<i64>, now_ms: i64) -> bool {
    expire_at.is_none_or(|at| at > now_ms)
        && (pattern == b"*" || crate::glob::matches(pattern, key))
}

/// A value bound into a members statement.
#[derive(Clone, Debug)]
pub(crate) enum SqlArg {
    Int(i64),
    Bytes(Bytes),
}

/// The condition (` AND ...`, after the key's own), its arguments and the
/// ORDER BY of a [`MemberRange`], the same SQL on both backends.
pub(crate) fn range_sql(range: &MemberRange, rev: bool) -> (String, Vec<SqlArg>, &'static str) {
    let mut cond = String::new();
    let mut args = Vec::new();
    let mut bound = |column: &str, b: Bound<SqlArg>, low: bool| {
        let op = match (&b, low) {
            (Bound::Included(_), true) => ">=",
            (Bound::Excluded(_), true) => ">",
            (Bound::Included(_), false) => "<=",
            (Bound::Excluded(_), false) => "<",
            (Bound::Unbounded, _) => return,
        };
        cond.push_str(&format!(" AND {column} {op} ?"));
        if let Bound::Included(a) | Bound::Excluded(a) = b {
            args.push(a);
        }
    };
    let order = match range {
        MemberRange::All => {
            if rev {
                " ORDER BY score DESC, member DESC"
            } else {
                " ORDER BY score, member"
            }
        }
        MemberRange::Score(lo, hi) => {
            bound("score", lo.map(SqlArg::Int), true);
            bound("score", hi.map(SqlArg::Int), false);
            if rev {
                " ORDER BY score DESC, member DESC"
            } else {
                " ORDER BY score, member"
            }
        }
        MemberRange::Member(lo, hi) => {
            bound("member", lo.clone().map(SqlArg::Bytes), true);
            bound("member", hi.clone().map(SqlArg::Bytes), false);
            if rev {
                " ORDER BY member DESC"
            } else {
                " ORDER BY member"
            }
        }
    };
    (cond, args, order)
}

/// LIMIT and OFFSET of a members read: `(limit, offset)` as SQL integers.
pub(crate) fn limit_sql(offset: u64, limit: Option<u64>) -> (i64, i64) {
    (
        limit.map_or(i64::MAX, |l| l.min(i64::MAX as u64) as i64),
        offset.min(i64::MAX as u64) as i64,
    )
}
