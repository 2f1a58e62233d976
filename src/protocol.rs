//! Request framing: RESP multibulk arrays and inline commands.
//!
//! Clients send requests as arrays of bulk strings (or, from a terminal, as
//! inline text lines). This parser follows Redis's `processMultibulkBuffer`
//! and `processInlineBuffer`: the same limits, the same `Protocol error`
//! texts, and lengths are checked before anything is allocated for them.
//! (We parse requests ourselves instead of through a generic RESP codec
//! because only this way can every malformed input get Redis's exact error.)

use bytes::{Bytes, BytesMut};

/// Longest inline request or length line Redis accepts (PROTO_INLINE_MAX_SIZE).
pub const INLINE_MAX: usize = 64 * 1024;
/// Most arguments one request may carry; refused before allocating.
pub const MAX_MULTIBULK: i64 = 1024 * 1024;

/// A request that cannot be parsed. The connection answers
/// `-ERR Protocol error: <text>` and closes, as Redis does.
#[derive(Debug, PartialEq)]
pub struct ProtocolError(pub &'static str);

impl ProtocolError {
    pub fn reply_text(&self) -> String {
        format!("ERR Protocol error: {}", self.0)
    }
}

/// Parses one request from the front of `buf`. Returns `Ok(None)` when more
/// bytes are needed; on success the request's bytes are removed from `buf`.
/// An empty request (blank inline line, `*0`) yields an empty vector.
pub fn parse_request(
    buf: &mut BytesMut,
    max_bulk_len: i64,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    if buf.is_empty() {
        return Ok(None);
    }
    if buf[0] == b'*' {
        parse_multibulk(buf, max_bulk_len)
    } else {
        parse_inline(buf)
    }
}

/// Finds the `\r\n`-terminated line starting at `start`; returns the index of
/// the `\r`. `too_big` is the error when no line end arrives within the limit.
fn find_line(
    buf: &[u8],
    start: usize,
    too_big: &'static str,
) -> Result<Option<usize>, ProtocolError> {
    match buf[start..].iter().position(|&b| b == b'\r') {
        Some(off) if start + off + 1 < buf.len() => Ok(Some(start + off)),
        Some(_) => Ok(None),
        None if buf.len() - start > INLINE_MAX => Err(ProtocolError(too_big)),
        None => Ok(None),
    }
}

fn parse_multibulk(
    buf: &mut BytesMut,
    max_bulk_len: i64,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    let Some(cr) = find_line(buf, 0, "too big mbulk count string")? else {
        return Ok(None);
    };
    let count = parse_i64(&buf[1..cr])
        .filter(|&n| n <= MAX_MULTIBULK)
        .ok_or(ProtocolError("invalid multibulk length"))?;
    let mut pos = cr + 2;
    if count <= 0 {
        let _ = buf.split_to(pos);
        return Ok(Some(Vec::new()));
    }
    // Validate and locate every argument before copying anything.
    let mut spans = Vec::with_capacity(count.min(1024) as usize);
    for _ in 0..count {
        if pos >= buf.len() {
            return Ok(None);
        }
        let Some(cr) = find_line(buf, pos, "too big bulk count string")? else {
            return Ok(None);
        };
        if buf[pos] != b'$' {
            return Err(ProtocolError(expected_dollar(buf[pos])));
        }
        let len = parse_i64(&buf[pos + 1..cr])
            .filter(|&n| (0..=max_bulk_len).contains(&n))
            .ok_or(ProtocolError("invalid bulk length"))? as usize;
        let start = cr + 2;
        if buf.len() < start + len + 2 {
            // Make room once for a large argument instead of growing in steps.
            buf.reserve(start + len + 2 - buf.len());
            return Ok(None);
        }
        spans.push((start, start + len));
        pos = start + len + 2;
    }
    let frame = buf.split_to(pos).freeze();
    Ok(Some(
        spans.into_iter().map(|(s, e)| frame.slice(s..e)).collect(),
    ))
}

/// Redis names the unexpected byte in this error: a static text per
/// printable byte, a generic one for the rest.
fn expected_dollar(got: u8) -> &'static str {
    if (b' '..=b'~').contains(&got) {
        EXPECTED_DOLLAR[(got - b' ') as usize]
    } else {
        "expected '$', got something else"
    }
}

macro_rules! expected_table {
    ($($c:literal)*) => { [$(concat!("expected '$', got '", $c, "'")),*] };
}

static EXPECTED_DOLLAR: [&str; 95] = expected_table!(
    " " "!" "\"" "#" "$" "%" "&" "'" "(" ")" "*" "+" "," "-" "." "/"
    "0" "1" "2" "3" "4" "5" "6" "7" "8" "9" ":" ";" "<" "=" ">" "?"
    "@" "A" "B" "C" "D" "E" "F" "G" "H" "I" "J" "K" "L" "M" "N" "O"
    "P" "Q" "R" "S" "T" "U" "V" "W" "X" "Y" "Z" "[" "\\" "]" "^" "_"
    "`" "a" "b" "c" "d" "e" "f" "g" "h" "i" "j" "k" "l" "m" "n" "o"
    "p" "q" "r" "s" "t" "u" "v" "w" "x" "y" "z" "{" "|" "}" "~"
);

fn parse_inline(buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > INLINE_MAX {
            return Err(ProtocolError("too big inline request"));
        }
        return Ok(None);
    };
    let line = buf.split_to(nl + 1);
    let mut text = &line[..nl];
    if text.last() == Some(&b'\r') {
        text = &text[..text.len() - 1];
    }
    split_args(text)
        .map(Some)
        .ok_or(ProtocolError("unbalanced quotes in request"))
}

/// Splits an inline command line like Redis's `sdssplitargs`: whitespace
/// separates arguments, double quotes allow `\xHH`, `\n`, `\r`, `\t`, `\b`,
/// `\a` escapes, single quotes allow `\'`. `None` on unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Bytes>> {
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < line.len() && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= line.len() {
            return Some(args);
        }
        let mut cur = Vec::new();
        let (mut in_dq, mut in_sq) = (false, false);
        loop {
            let c = line.get(i).copied();
            if in_dq {
                match c {
                    None => return None,
                    Some(b'\\')
                        if line.get(i + 1) == Some(&b'x')
                            && line.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
                            && line.get(i + 3).is_some_and(u8::is_ascii_hexdigit) =>
                    {
                        let hex = std::str::from_utf8(&line[i + 2..i + 4]).ok()?;
                        cur.push(u8::from_str_radix(hex, 16).ok()?);
                        i += 3;
                    }
                    Some(b'\\') if i + 1 < line.len() => {
                        i += 1;
                        cur.push(match line[i] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 8,
                            b'a' => 7,
                            other => other,
                        });
                    }
                    Some(b'"') => {
                        if line.get(i + 1).is_some_and(|b| !b.is_ascii_whitespace()) {
                            return None;
                        }
                        in_dq = false;
                        i += 1;
                        break;
                    }
                    Some(other) => cur.push(other),
                }
            } else if in_sq {
                match c {
                    None => return None,
                    Some(b'\\') if line.get(i + 1) == Some(&b'\'') => {
                        i += 1;
                        cur.push(b'\'');
                    }
                    Some(b'\'') => {
                        if line.get(i + 1).is_some_and(|b| !b.is_ascii_whitespace()) {
                            return None;
                        }
                        in_sq = false;
                        i += 1;
                        break;
                    }
                    Some(other) => cur.push(other),
                }
            } else {
                match c {
                    None => break,
                    Some(b) if b.is_ascii_whitespace() => break,
                    Some(b'"') => in_dq = true,
                    Some(b'\'') => in_sq = true,
                    Some(other) => cur.push(other),
                }
            }
            i += 1;
        }
        debug_assert!(!in_dq && !in_sq);
        args.push(Bytes::from(cur));
    }
}

/// Parses a decimal integer the way Redis's `string2ll` does: no leading
/// `+`, no leading zeros (except "0"), no spaces, no overflow.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || digits[0] == b'0' || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        let d = (d - b'0') as i64;
        v = if neg {
            v.checked_mul(10)?.checked_sub(d)?
        } else {
            v.checked_mul(10)?.checked_add(d)?
        };
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &[u8]) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let mut buf = BytesMut::from(input);
        parse_request(&mut buf, 512 * 1024 * 1024)
    }

    #[test]
    fn multibulk_and_inline() {
        let got = parse(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n").unwrap().unwrap();
        assert_eq!(got, vec![Bytes::from("GET"), Bytes::from("k")]);
        assert_eq!(parse(b"*2\r\n$3\r\nGET\r\n$1\r\n").unwrap(), None);
        let got = parse(b"set k \"a b\\x41\"\r\n").unwrap().unwrap();
        assert_eq!(
            got,
            vec![Bytes::from("set"), Bytes::from("k"), Bytes::from("a bA")]
        );
        assert_eq!(
            parse(b"PING\n").unwrap().unwrap(),
            vec![Bytes::from("PING")]
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            parse(b"*x\r\n"),
            Err(ProtocolError("invalid multibulk length"))
        );
        assert_eq!(
            parse(b"*2000000\r\n"),
            Err(ProtocolError("invalid multibulk length"))
        );
        assert_eq!(
            parse(b"*1\r\n+x\r\n"),
            Err(ProtocolError("expected '$', got '+'"))
        );
        assert_eq!(
            parse(b"*1\r\n$-5\r\n"),
            Err(ProtocolError("invalid bulk length"))
        );
        assert_eq!(
            parse(b"set \"k\r\n"),
            Err(ProtocolError("unbalanced quotes in request"))
        );
        assert_eq!(parse_i64(b"007"), None);
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
    }
}
