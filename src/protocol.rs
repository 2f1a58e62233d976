//! Request framing: RESP multibulk arrays and inline commands.
//!
//! Clients send requests as arrays of bulk strings (or, from a terminal, as
//! inline text lines). This parser follows Redis's `processMultibulkBuffer`
//! and `processInlineBuffer`: the same limits, the same `Protocol error`
//! texts, and lengths are checked before anything is allocated for them.
//! (We parse requests ourselves instead of through a generic RESP codec
//! because only this way can every malformed input get Redis's exact error.)

use bytes::{Buf, Bytes, BytesMut};

/// Longest inline request or length line Redis accepts (PROTO_INLINE_MAX_SIZE).
pub const INLINE_MAX: usize = 64 * 1024;
/// Most arguments one request may carry (Redis: INT_MAX).
pub const MAX_MULTIBULK: i64 = i32::MAX as i64;
/// Most arguments a client that still has to AUTH may send in one request.
pub const UNAUTH_MAX_MULTIBULK: i64 = 10;
/// Longest argument a client that still has to AUTH may send.
pub const UNAUTH_MAX_BULK: i64 = 16 * 1024;
/// What one parsed argument costs beyond its bytes (a `Bytes` handle),
/// counted against the query buffer limit.
const ARG_OVERHEAD: usize = std::mem::size_of::<Bytes>();
/// Arguments shorter than this are copied out of the read buffer into an
/// allocation of their own; longer ones stay slices of it (Redis's
/// PROTO_MBULK_BIG_ARG). A slice keeps its whole buffer allocation alive
/// for as long as it lives: a key of a few bytes, remembered after its
/// request, would hold kilobytes of input. A long argument is most of the
/// buffer it arrived in (room was made for it, see `reserve` below), so
/// slicing saves a large copy at little cost.
const BIG_ARG: usize = 32 * 1024;

/// A request that cannot be parsed. The connection answers
/// `-ERR Protocol error: <text>` and closes, as Redis does. The text may
/// echo a byte of the input, so it is bytes, not a `str`.
#[derive(Debug, PartialEq)]
pub struct ProtocolError(pub Bytes);

impl ProtocolError {
    fn of(text: &'static str) -> ProtocolError {
        ProtocolError(Bytes::from_static(text.as_bytes()))
    }

    pub fn reply_text(&self) -> Bytes {
        let mut text = b"ERR Protocol error: ".to_vec();
        text.extend_from_slice(&self.0);
        Bytes::from(text)
    }
}

/// What the framer enforces for one connection.
#[derive(Clone, Copy, Debug)]
pub struct FrameLimits {
    /// proto-max-bulk-len.
    pub max_bulk: i64,
    /// client-query-buffer-limit: bytes one request may hold (its buffered
    /// input plus the arguments parsed so far) before the client is closed.
    pub max_query: usize,
    /// False until the client authenticated (when a password is set):
    /// requests are then limited to 10 arguments of 16 KB, as in Redis.
    pub authenticated: bool,
}

/// Why a connection must close after reading.
#[derive(Debug, PartialEq)]
pub enum FrameError {
    /// Answer `-ERR Protocol error: ...`, then close.
    Protocol(ProtocolError),
    /// The request outgrew client-query-buffer-limit: close without a reply.
    QueryBufferLimit,
}

impl From<ProtocolError> for FrameError {
    fn from(e: ProtocolError) -> Self {
        FrameError::Protocol(e)
    }
}

/// An array request whose arguments are still arriving: the arguments read
/// so far leave the input buffer at once, so a request of a million
/// arguments is read in one pass, never rescanned from its start.
#[derive(Debug)]
struct Partial {
    remaining: usize,
    args: Vec<Bytes>,
    /// Bytes the parsed arguments hold.
    held: usize,
}

/// Request framing for one connection: keeps the state of a request split
/// across reads.
#[derive(Debug, Default)]
pub struct Framer {
    partial: Option<Partial>,
}

impl Framer {
    /// Bytes held by arguments of a request still arriving.
    fn held(&self) -> usize {
        self.partial.as_ref().map_or(0, |p| p.held)
    }

    /// Parses the next request from the front of `buf`. `Ok(None)`: more
    /// bytes are needed (what was complete has been consumed). An empty
    /// request (blank inline line, `*0`) yields an empty vector.
    pub fn next(
        &mut self,
        buf: &mut BytesMut,
        limits: FrameLimits,
    ) -> Result<Option<Vec<Bytes>>, FrameError> {
        let result = self.parse(buf, limits);
        if matches!(result, Ok(None)) && buf.len() + self.held() > limits.max_query {
            return Err(FrameError::QueryBufferLimit);
        }
        result
    }

    fn parse(
        &mut self,
        buf: &mut BytesMut,
        limits: FrameLimits,
    ) -> Result<Option<Vec<Bytes>>, FrameError> {
        if self.partial.is_none() {
            if buf.is_empty() {
                return Ok(None);
            }
            if buf[0] != b'*' {
                return Ok(parse_inline(buf)?);
            }
            let Some(cr) = find_line(buf, 0, "too big mbulk count string")? else {
                return Ok(None);
            };
            let count = parse_i64(&buf[1..cr])
                .filter(|&n| n <= MAX_MULTIBULK)
                .ok_or(ProtocolError::of("invalid multibulk length"))?;
            if count > UNAUTH_MAX_MULTIBULK && !limits.authenticated {
                return Err(ProtocolError::of("unauthenticated multibulk length").into());
            }
            buf.advance(cr + 2);
            if count <= 0 {
                return Ok(Some(Vec::new()));
            }
            self.partial = Some(Partial {
                remaining: count as usize,
                args: Vec::with_capacity((count as usize).min(1024)),
                held: 0,
            });
        }
        let partial = self.partial.as_mut().expect("a request in progress");
        while partial.remaining > 0 {
            if buf.is_empty() {
                return Ok(None);
            }
            let Some(cr) = find_line(buf, 0, "too big bulk count string")? else {
                return Ok(None);
            };
            if buf[0] != b'$' {
                return Err(ProtocolError(expected_dollar(buf[0])).into());
            }
            let len = parse_i64(&buf[1..cr])
                .filter(|&n| (0..=limits.max_bulk).contains(&n))
                .ok_or(ProtocolError::of("invalid bulk length"))?;
            if len > UNAUTH_MAX_BULK && !limits.authenticated {
                return Err(ProtocolError::of("unauthenticated bulk length").into());
            }
            let len = len as usize;
            let start = cr + 2;
            if buf.len() < start + len + 2 {
                // Make room once for a large argument instead of growing in
                // steps, unless that would pass the query buffer limit.
                let need = start + len + 2;
                if need + partial.held <= limits.max_query {
                    buf.reserve(need - buf.len());
                }
                return Ok(None);
            }
            buf.advance(start);
            let arg = if len < BIG_ARG {
                let arg = Bytes::copy_from_slice(&buf[..len]);
                buf.advance(len + 2);
                arg
            } else {
                let arg = buf.split_to(len).freeze();
                buf.advance(2);
                arg
            };
            partial.held += len + ARG_OVERHEAD;
            partial.args.push(arg);
            partial.remaining -= 1;
        }
        Ok(self.partial.take().map(|p| p.args))
    }
}

/// Parses one whole request from the front of `buf` with no state kept
/// between calls (a request split across calls is re-read from its
/// start): for tests and tools. Servers use a [`Framer`].
pub fn parse_request(
    buf: &mut BytesMut,
    max_bulk_len: i64,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    let mut copy = buf.clone();
    let limits = FrameLimits {
        max_bulk: max_bulk_len,
        max_query: usize::MAX,
        authenticated: true,
    };
    match Framer::default().next(&mut copy, limits) {
        Ok(Some(args)) => {
            *buf = copy;
            Ok(Some(args))
        }
        Ok(None) => Ok(None),
        Err(FrameError::Protocol(e)) => Err(e),
        Err(FrameError::QueryBufferLimit) => Ok(None),
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
        None if buf.len() - start > INLINE_MAX => Err(ProtocolError::of(too_big)),
        None => Ok(None),
    }
}

/// Redis names the unexpected byte as it is (`got '%c'`); line breaks
/// become spaces, as in every Redis error reply.
fn expected_dollar(got: u8) -> Bytes {
    let shown = if got == b'\r' || got == b'\n' {
        b' '
    } else {
        got
    };
    let mut text = b"expected '$', got '".to_vec();
    text.push(shown);
    text.push(b'\'');
    Bytes::from(text)
}

fn parse_inline(buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > INLINE_MAX {
            return Err(ProtocolError::of("too big inline request"));
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
        .ok_or(ProtocolError::of("unbalanced quotes in request"))
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

    fn perr(text: &str) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        Err(ProtocolError(Bytes::copy_from_slice(text.as_bytes())))
    }

    #[test]
    fn errors() {
        assert_eq!(parse(b"*x\r\n"), perr("invalid multibulk length"));
        assert_eq!(parse(b"*2147483648\r\n"), perr("invalid multibulk length"));
        assert_eq!(parse(b"*2000000\r\n"), Ok(None));
        assert_eq!(parse(b"*1\r\n+x\r\n"), perr("expected '$', got '+'"));
        assert_eq!(parse(b"*1\r\n\r\n"), perr("expected '$', got ' '"));
        assert_eq!(
            parse(b"*1\r\n\xff\r\n").unwrap_err().0,
            Bytes::from_static(b"expected '$', got '\xff'")
        );
        assert_eq!(parse(b"*1\r\n$-5\r\n"), perr("invalid bulk length"));
        assert_eq!(parse(b"set \"k\r\n"), perr("unbalanced quotes in request"));
        assert_eq!(parse_i64(b"007"), None);
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
    }

    fn limits(authenticated: bool) -> FrameLimits {
        FrameLimits {
            max_bulk: 512 * 1024 * 1024,
            max_query: 1024 * 1024,
            authenticated,
        }
    }

    #[test]
    fn unauthenticated_limits() {
        let mut framer = Framer::default();
        let mut buf = BytesMut::from(&b"*11\r\n"[..]);
        assert_eq!(
            framer.next(&mut buf, limits(false)),
            Err(FrameError::Protocol(ProtocolError::of(
                "unauthenticated multibulk length"
            )))
        );
        let mut buf = BytesMut::from(&b"*2\r\n$3\r\nSET\r\n$16385\r\n"[..]);
        assert_eq!(
            Framer::default().next(&mut buf, limits(false)),
            Err(FrameError::Protocol(ProtocolError::of(
                "unauthenticated bulk length"
            )))
        );
        let mut buf = BytesMut::from(&b"*10\r\n"[..]);
        assert_eq!(Framer::default().next(&mut buf, limits(false)), Ok(None));
    }

    #[test]
    fn requests_split_anywhere() {
        let input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\nPING\r\n*1\r\n$4\r\nPING\r\n";
        for cut in 0..input.len() {
            let mut framer = Framer::default();
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            for part in [&input[..cut], &input[cut..]] {
                buf.extend_from_slice(part);
                while let Some(args) = framer.next(&mut buf, limits(true)).unwrap() {
                    got.push(args);
                }
            }
            assert_eq!(got.len(), 3, "cut at {cut}");
            assert_eq!(got[0][2], Bytes::from("hello"));
        }
    }

    #[test]
    fn query_buffer_limit() {
        let mut framer = Framer::default();
        let mut buf = BytesMut::from(&b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n"[..]);
        buf.extend_from_slice(&vec![b'x'; 1024 * 1024]);
        assert_eq!(
            framer.next(&mut buf, limits(true)),
            Err(FrameError::QueryBufferLimit)
        );
    }
}
