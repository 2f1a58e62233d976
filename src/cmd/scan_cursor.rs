//! The cursors of HSCAN and ZSCAN over large collections: each names a
//! boundary string, and the next page starts at the first field or member
//! not below it (byte order). The boundary (1 to 7 bytes) is packed into a
//! u64 below 2^59, so it also fits a signed 64-bit integer: its bytes,
//! zero-padded to 7, big-endian in bits 3..59, and its length in bits 0..3
//! (never 0, so a page cursor is never the end cursor 0). Any cursor a
//! client makes up decodes to some boundary and never fails.

/// Longest boundary a cursor carries.
pub const BOUNDARY_MAX: usize = 7;

/// The cursor of a boundary of 1 to [`BOUNDARY_MAX`] bytes.
pub fn encode(b: &[u8]) -> u64 {
    debug_assert!(!b.is_empty() && b.len() <= BOUNDARY_MAX);
    let mut packed: u64 = 0;
    for i in 0..BOUNDARY_MAX {
        packed = (packed << 8) | *b.get(i).unwrap_or(&0) as u64;
    }
    (packed << 3) | b.len() as u64
}

/// The boundary a non-zero cursor names (`None` for 0, the start).
pub fn decode(cursor: u64) -> Option<Vec<u8>> {
    if cursor == 0 {
        return None;
    }
    let len = match (cursor & 7) as usize {
        0 => BOUNDARY_MAX,
        n => n,
    };
    let packed = (cursor >> 3) & ((1 << 56) - 1);
    let bytes = packed.to_be_bytes();
    Some(bytes[1..1 + len].to_vec())
}

/// Where a page of at least `count` names (sorted, with more after them)
/// ends: the first `i >= count` whose neighbours `names[i - 1]` and
/// `names[i]` differ within their first [`BOUNDARY_MAX`] bytes, and the
/// cursor naming the shortest prefix of `names[i]` above `names[i - 1]`.
/// `None` when no such neighbours are among `names` (read more).
pub fn split(names: &[&[u8]], count: usize) -> Option<(usize, u64)> {
    (count.max(1)..names.len()).find_map(|i| {
        let (last, next) = (names[i - 1], names[i]);
        let common = last
            .iter()
            .zip(next.iter())
            .take_while(|(a, b)| a == b)
            .count();
        (common < BOUNDARY_MAX).then(|| (i, encode(&next[..common + 1])))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_round_trip() {
        for b in [&b"a"[..], b"\xff", b"abcdefg", b"\x00", b"ab\x00"] {
            let c = encode(b);
            assert!(c != 0 && c < 1 << 59);
            assert_eq!(decode(c).as_deref(), Some(b));
        }
        assert_eq!(decode(0), None);
        assert!(decode(u64::MAX).is_some());
    }

    #[test]
    fn pages_split_where_a_boundary_fits() {
        let names: Vec<&[u8]> = vec![b"a", b"abcdefgh1", b"abcdefgh2", b"b"];
        assert_eq!(split(&names, 1), Some((1, encode(b"ab"))));
        // "abcdefgh1" and "abcdefgh2" share 8 bytes: the page grows.
        assert_eq!(split(&names, 2), Some((3, encode(b"b"))));
        assert_eq!(split(&names[..3], 2), None);
    }
}
