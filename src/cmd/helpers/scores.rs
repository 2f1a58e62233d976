//! Sorted-set scores and ranges, parsed as Redis 7.0 parses them, and
//! turned into the store's [`MemberRange`]s.

use bytes::Bytes;

use crate::store::{Bound, MemberRange, score_order};

/// C's `strtod` on the bytes up to the first NUL: the value and how many
/// bytes it read (0 when none parsed). Leading white space is skipped;
/// decimal, hexadecimal, `inf`, `infinity` and `nan` are read as glibc
/// reads them.
fn strtod(arg: &[u8]) -> (f64, usize) {
    let text = match arg.iter().position(|&b| b == 0) {
        Some(nul) => &arg[..nul],
        None => arg,
    };
    let mut c_text = Vec::with_capacity(text.len() + 1);
    c_text.extend_from_slice(text);
    c_text.push(0);
    let start = c_text.as_ptr() as *const libc::c_char;
    let mut end: *mut libc::c_char = std::ptr::null_mut();
    // SAFETY: `c_text` is NUL-terminated and outlives the call; strtod
    // sets `end` inside it.
    let value = unsafe { libc::strtod(start, &mut end) };
    let read = (end as usize).saturating_sub(start as usize);
    (value, read)
}

/// True when a number `strtod` read whole from `text` overflowed to an
/// infinity or underflowed to zero (its ERANGE cases Redis refuses),
/// told from the text itself: an infinity not spelled `inf`, a zero with
/// a non-zero digit.
fn out_of_range(text: &[u8], value: f64) -> bool {
    let body = text.trim_ascii_start();
    let body = body
        .strip_prefix(b"-")
        .or(body.strip_prefix(b"+"))
        .unwrap_or(body);
    if value.is_infinite() {
        return !body
            .get(..3)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"inf"));
    }
    if value == 0.0 {
        let hex = body.len() > 1 && body[0] == b'0' && (body[1] | 0x20) == b'x';
        let (digits, exp_mark) = if hex {
            (&body[2..], b'p')
        } else {
            (body, b'e')
        };
        return digits
            .iter()
            .take_while(|&&c| (c | 0x20) != exp_mark)
            .any(|&c| c.is_ascii_hexdigit() && c != b'0');
    }
    false
}

/// A score as ZADD, ZINCRBY and WEIGHTS read it (Redis's `string2d`): the
/// whole argument, no leading space, no NaN, no overflow.
pub fn parse(arg: &[u8]) -> Option<f64> {
    if arg.is_empty() || arg[0].is_ascii_whitespace() || arg[0] == 0x0b {
        return None;
    }
    let (value, read) = strtod(arg);
    if read != arg.len() || value.is_nan() || out_of_range(arg, value) {
        return None;
    }
    Some(value)
}

/// One end of a score range (`zslParseRange`): `(` makes it exclusive;
/// the rest is read by `strtod` up to a NUL, which must take all of it
/// (so `""` is 0 and `" 1"` is 1, as in Redis). NaN is refused.
fn parse_end(arg: &[u8]) -> Option<(f64, bool)> {
    let (body, exclusive) = match arg.strip_prefix(b"(") {
        Some(rest) => (rest, true),
        None => (arg, false),
    };
    let text = match body.iter().position(|&b| b == 0) {
        Some(nul) => &body[..nul],
        None => body,
    };
    let (value, read) = strtod(text);
    if read != text.len() || value.is_nan() {
        return None;
    }
    Some((value, exclusive))
}

/// A range of scores, `min` to `max`, each end inclusive or not.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreRange {
    pub min: f64,
    pub min_ex: bool,
    pub max: f64,
    pub max_ex: bool,
}

impl ScoreRange {
    /// The range ZRANGEBYSCORE's `min max` name; `None` for Redis's
    /// "min or max is not a float".
    pub fn parse(min: &[u8], max: &[u8]) -> Option<ScoreRange> {
        let (min, min_ex) = parse_end(min)?;
        let (max, max_ex) = parse_end(max)?;
        Some(ScoreRange {
            min,
            min_ex,
            max,
            max_ex,
        })
    }

    /// The store's range, or `None` when nothing can lie in it.
    pub fn members(&self) -> Option<MemberRange> {
        if self.min > self.max || (self.min == self.max && (self.min_ex || self.max_ex)) {
            return None;
        }
        let bound = |v: f64, ex: bool| {
            if ex {
                Bound::Excluded(score_order(v))
            } else {
                Bound::Included(score_order(v))
            }
        };
        Some(MemberRange::Score(
            bound(self.min, self.min_ex),
            bound(self.max, self.max_ex),
        ))
    }
}

/// One end of a lexicographic range.
#[derive(Clone, Debug, PartialEq, Eq)]
enum LexEnd {
    /// `-`: below every member.
    Min,
    /// `+`: above every member.
    Max,
    Inclusive(Bytes),
    Exclusive(Bytes),
}

fn parse_lex_end(arg: &Bytes) -> Option<LexEnd> {
    // Redis reads these as C strings: `+` or `-` followed by a NUL still
    // counts as the bare sign.
    let bare = |rest: &[u8]| rest.first().is_none_or(|&b| b == 0);
    match arg.first()? {
        b'+' if bare(&arg[1..]) => Some(LexEnd::Max),
        b'-' if bare(&arg[1..]) => Some(LexEnd::Min),
        b'(' => Some(LexEnd::Exclusive(arg.slice(1..))),
        b'[' => Some(LexEnd::Inclusive(arg.slice(1..))),
        _ => None,
    }
}

/// A range of members by their bytes (ZRANGEBYLEX's `[a (b - +`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexRange {
    min: LexEnd,
    max: LexEnd,
}

impl LexRange {
    /// `None` for Redis's "min or max not valid string range item".
    pub fn parse(min: &Bytes, max: &Bytes) -> Option<LexRange> {
        Some(LexRange {
            min: parse_lex_end(min)?,
            max: parse_lex_end(max)?,
        })
    }

    /// Whether `member` is at or above the range's start.
    pub fn above_min(&self, member: &[u8]) -> bool {
        match &self.min {
            LexEnd::Min => true,
            LexEnd::Max => false,
            LexEnd::Inclusive(b) => member >= &b[..],
            LexEnd::Exclusive(b) => member > &b[..],
        }
    }

    /// Whether `member` is at or below the range's end.
    pub fn below_max(&self, member: &[u8]) -> bool {
        match &self.max {
            LexEnd::Max => true,
            LexEnd::Min => false,
            LexEnd::Inclusive(b) => member <= &b[..],
            LexEnd::Exclusive(b) => member < &b[..],
        }
    }

    /// The store's range, or `None` when nothing can lie in it.
    pub fn members(&self) -> Option<MemberRange> {
        let low = match &self.min {
            LexEnd::Min => Bound::Unbounded,
            LexEnd::Max => return None,
            LexEnd::Inclusive(b) => Bound::Included(b.clone()),
            LexEnd::Exclusive(b) => Bound::Excluded(b.clone()),
        };
        let high = match &self.max {
            LexEnd::Max => Bound::Unbounded,
            LexEnd::Min => return None,
            LexEnd::Inclusive(b) => Bound::Included(b.clone()),
            LexEnd::Exclusive(b) => Bound::Excluded(b.clone()),
        };
        Some(MemberRange::Member(low, high))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_parse_as_string2d() {
        for (text, want) in [
            (&b"1"[..], Some(1.0)),
            (b"-2.5", Some(-2.5)),
            (b"+1", Some(1.0)),
            (b"1.", Some(1.0)),
            (b".5", Some(0.5)),
            (b"0x10", Some(16.0)),
            (b"inf", Some(f64::INFINITY)),
            (b"-Infinity", Some(f64::NEG_INFINITY)),
            (b"1e-310", Some(1e-310)),
            (b"0e5", Some(0.0)),
            (b"nan", None),
            (b"1e400", None),
            (b"-1e400", None),
            (b"1e-400", None),
            (b"0x1p-2000", None),
            (b" 1", None),
            (b"1 ", None),
            (b"", None),
            (b"1\x00", None),
            (b"abc", None),
        ] {
            assert_eq!(parse(text), want, "{:?}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn range_ends_parse_as_zslparserange() {
        let r = ScoreRange::parse(b"(1", b" 2").unwrap();
        assert_eq!((r.min, r.min_ex, r.max, r.max_ex), (1.0, true, 2.0, false));
        let r = ScoreRange::parse(b"(", b"").unwrap();
        assert_eq!((r.min, r.min_ex, r.max, r.max_ex), (0.0, true, 0.0, false));
        assert!(r.members().is_none());
        let r = ScoreRange::parse(b"1\x00junk", b"1e999").unwrap();
        assert_eq!((r.min, r.max), (1.0, f64::INFINITY));
        assert!(ScoreRange::parse(b"nan", b"1").is_none());
        assert!(ScoreRange::parse(b"1", b"2x").is_none());
        assert!(ScoreRange::parse(b"2", b"1").unwrap().members().is_none());
    }

    #[test]
    fn lex_ranges() {
        let b = |s: &str| Bytes::copy_from_slice(s.as_bytes());
        assert!(LexRange::parse(&b("a"), &b("+")).is_none());
        assert!(LexRange::parse(&b(""), &b("+")).is_none());
        assert!(LexRange::parse(&b("-x"), &b("+")).is_none());
        assert_eq!(
            LexRange::parse(&b("-"), &b("(c")).unwrap().members(),
            Some(MemberRange::Member(
                Bound::Unbounded,
                Bound::Excluded(b("c"))
            ))
        );
        assert!(
            LexRange::parse(&b("+"), &b("+"))
                .unwrap()
                .members()
                .is_none()
        );
        assert!(
            LexRange::parse(&b("-"), &b("-"))
                .unwrap()
                .members()
                .is_none()
        );
        assert!(LexRange::parse(&b("+\x00"), &b("[")).is_some());
    }
}
