//! What the SCAN family shares: the cursor as Redis parses it, MATCH /
//! COUNT / TYPE, the reply's shape, and the boundary cursors that page a
//! large hash, set or sorted set in name order (HSCAN, SSCAN, ZSCAN).

use bytes::Bytes;

use crate::cmd::args::{int_arg, is};
use crate::cmd::errors::{self, CmdError, err};
use crate::glob;
use crate::reply::Reply;

/// Parses a SCAN/HSCAN cursor as Redis does with `strtoul`: no leading
/// space, an optional sign (a negative cursor wraps), decimal digits, no
/// trailing bytes, no overflow. The empty string is cursor 0.
pub fn parse_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    let invalid = || CmdError::Reply(errors::CURSOR.into());
    if arg.is_empty() {
        return Ok(0);
    }
    let (negative, digits) = match arg[0] {
        b'-' => (true, &arg[1..]),
        b'+' => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let mut value: u64 = 0;
    for &d in digits {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add((d - b'0') as u64))
            .ok_or_else(invalid)?;
    }
    Ok(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// The options shared by SCAN and HSCAN.
pub struct ScanOptions<'a> {
    pub count: u64,
    /// `None` when there is no pattern or it is just `*`.
    pub pattern: Option<&'a [u8]>,
    /// SCAN's TYPE filter.
    pub kind: Option<&'a [u8]>,
}

impl ScanOptions<'_> {
    pub fn matches(&self, item: &[u8]) -> bool {
        self.pattern.is_none_or(|p| glob::matches(p, item))
    }
}

/// Parses `[MATCH pattern] [COUNT n] [TYPE t]` (TYPE only for SCAN), with
/// Redis's errors: a bad COUNT is not an integer, COUNT < 1 and anything
/// unknown are syntax errors.
pub fn scan_options(args: &[Bytes], allow_type: bool) -> Result<ScanOptions<'_>, CmdError> {
    let mut opts = ScanOptions {
        count: 10,
        pattern: None,
        kind: None,
    };
    let mut i = 0;
    while i < args.len() {
        let (a, value) = (&args[i], args.get(i + 1));
        match value {
            Some(v) if is(a, "count") => {
                let n = int_arg(v)?;
                if n < 1 {
                    return err(errors::SYNTAX);
                }
                opts.count = n as u64;
            }
            Some(v) if is(a, "match") => opts.pattern = (v.as_ref() != b"*").then_some(v.as_ref()),
            Some(v) if is(a, "type") && allow_type => opts.kind = Some(v.as_ref()),
            _ => return err(errors::SYNTAX),
        }
        i += 2;
    }
    Ok(opts)
}

/// A SCAN-family reply: the next cursor as a bulk string, then the items.
pub fn scan_reply(cursor: u64, items: Vec<Reply>) -> Reply {
    let mut buf = itoa::Buffer::new();
    Reply::Array(vec![
        Reply::bulk(Bytes::copy_from_slice(buf.format(cursor).as_bytes())),
        Reply::Array(items),
    ])
}

/// Longest boundary an HSCAN cursor carries.
pub const BOUNDARY_MAX: usize = 7;

pub fn encode_boundary(b: &[u8]) -> u64 {
    debug_assert!(!b.is_empty() && b.len() <= BOUNDARY_MAX);
    let mut packed: u64 = 0;
    for i in 0..BOUNDARY_MAX {
        packed = (packed << 8) | *b.get(i).unwrap_or(&0) as u64;
    }
    (packed << 3) | b.len() as u64
}

/// The boundary a non-zero cursor names (`None` for 0, the start).
pub fn decode_boundary(cursor: u64) -> Option<Vec<u8>> {
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

/// Where a scan page ends, looking from item `from` on (items in name
/// order; `from` >= 1): the first item whose name differs from the one
/// before it within [`BOUNDARY_MAX`] bytes, so that its shortest
/// distinguishing prefix fits in a cursor; with that cursor. `None` when
/// the items run out first (the caller reads more).
pub fn page_end<T>(page: &[T], from: usize, name: impl Fn(&T) -> &Bytes) -> Option<(usize, u64)> {
    (from..page.len()).find_map(|i| {
        let (last, next) = (name(&page[i - 1]), name(&page[i]));
        let common = last
            .iter()
            .zip(next.iter())
            .take_while(|(a, b)| a == b)
            .count();
        (common < BOUNDARY_MAX).then(|| (i, encode_boundary(&next[..common + 1])))
    })
}

#[cfg(test)]
mod tests {
    use super::{decode_boundary, encode_boundary, parse_cursor};

    #[test]
    fn cursors_parse_like_strtoul() {
        assert_eq!(parse_cursor(b"").ok(), Some(0));
        assert_eq!(parse_cursor(b"0").ok(), Some(0));
        assert_eq!(parse_cursor(b"+12").ok(), Some(12));
        assert_eq!(parse_cursor(b"-1").ok(), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615").ok(), Some(u64::MAX));
        assert!(parse_cursor(b"18446744073709551616").is_err());
        assert!(parse_cursor(b" 0").is_err());
        assert!(parse_cursor(b"0 ").is_err());
        assert!(parse_cursor(b"-").is_err());
        assert!(parse_cursor(b"x").is_err());
    }

    #[test]
    fn boundaries_round_trip() {
        for b in [&b"a"[..], b"\xff", b"abcdefg", b"\x00", b"ab\x00"] {
            let c = encode_boundary(b);
            assert!(c != 0 && c < 1 << 59);
            assert_eq!(decode_boundary(c).as_deref(), Some(b));
        }
        assert_eq!(decode_boundary(0), None);
        assert!(decode_boundary(u64::MAX).is_some());
    }
}
