//! Replies and their RESP2 / RESP3 encodings.
//!
//! Commands build a [`Reply`]; the connection encodes it for the protocol
//! version the client negotiated with HELLO. RESP3-only shapes (maps, sets,
//! doubles, nulls, push frames) degrade to their RESP2 equivalents exactly as
//! Redis 7 does.

use bytes::{BufMut, Bytes, BytesMut};

/// One reply frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+OK`-style status line.
    Status(&'static str),
    /// A status line built at run time (e.g. TYPE's answer).
    StatusOwned(String),
    /// `-ERR ...`: the text includes its prefix (`ERR`, `WRONGTYPE`, ...).
    /// Bytes, not a `str`: errors may echo client input as Redis does.
    Error(Bytes),
    Int(i64),
    Bulk(Bytes),
    /// RESP2 `$-1`, RESP3 `_`.
    Nil,
    /// RESP2 `*-1`, RESP3 `_`.
    NilArray,
    Array(Vec<Reply>),
    /// RESP3 map; a flat array in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// RESP3 set; an array in RESP2.
    Set(Vec<Reply>),
    /// RESP3 double; a bulk string in RESP2.
    Double(f64),
    /// RESP3 boolean; 1 or 0 in RESP2.
    Bool(bool),
    /// RESP3 verbatim string (`=`); a bulk string in RESP2.
    Verbatim(Bytes),
    /// RESP3 big number (`(`, a script's `{big_number=...}`); a bulk
    /// string in RESP2.
    BigNumber(Bytes),
    /// Out-of-band push frame (pub/sub messages); an array in RESP2.
    Push(Vec<Reply>),
    /// Pre-encoded bytes written as they are (used for replies that do not
    /// depend on the protocol version).
    Raw(Bytes),
    /// Several frames in a row (SUBSCRIBE answers once per channel).
    Many(Vec<Reply>),
}

pub const OK: Reply = Reply::Status("OK");

impl Reply {
    pub fn error(text: impl Into<Bytes>) -> Reply {
        Reply::Error(text.into())
    }

    pub fn bulk(data: impl Into<Bytes>) -> Reply {
        Reply::Bulk(data.into())
    }

    pub fn bulk_str(text: &str) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(text.as_bytes()))
    }

    pub fn opt_bulk(data: Option<Bytes>) -> Reply {
        data.map_or(Reply::Nil, Reply::Bulk)
    }

    pub fn bulks<I: IntoIterator<Item = Bytes>>(items: I) -> Reply {
        Reply::Array(items.into_iter().map(Reply::Bulk).collect())
    }

    /// A HELP subcommand's answer: one status line per text line.
    pub fn help(lines: &[&'static str]) -> Reply {
        Reply::Array(lines.iter().map(|l| Reply::Status(l)).collect())
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// An error reply's text (without the `-`).
    pub fn error_text(&self) -> Option<&[u8]> {
        match self {
            Reply::Error(text) => Some(text),
            _ => None,
        }
    }

    /// Appends this reply's encoding to `out`.
    pub fn encode(&self, out: &mut BytesMut, resp3: bool) {
        match self {
            Reply::Status(s) => line(out, b'+', s.as_bytes()),
            Reply::StatusOwned(s) => line(out, b'+', s.as_bytes()),
            Reply::Error(s) => line(out, b'-', s),
            Reply::Int(n) => int_line(out, b':', *n),
            Reply::Bulk(b) => bulk(out, b),
            Reply::Nil => out.put_slice(if resp3 { b"_\r\n" } else { b"$-1\r\n" }),
            Reply::NilArray => out.put_slice(if resp3 { b"_\r\n" } else { b"*-1\r\n" }),
            Reply::Array(items) => aggregate(out, b'*', items, resp3),
            Reply::Set(items) => aggregate(out, if resp3 { b'~' } else { b'*' }, items, resp3),
            Reply::Push(items) => aggregate(out, if resp3 { b'>' } else { b'*' }, items, resp3),
            Reply::Map(pairs) => {
                if resp3 {
                    int_line(out, b'%', pairs.len() as i64);
                } else {
                    int_line(out, b'*', pairs.len() as i64 * 2);
                }
                for (k, v) in pairs {
                    k.encode(out, resp3);
                    v.encode(out, resp3);
                }
            }
            Reply::Double(d) => {
                let text = format_double(*d);
                if resp3 {
                    line(out, b',', text.as_bytes());
                } else {
                    bulk(out, text.as_bytes());
                }
            }
            Reply::Bool(b) => {
                if resp3 {
                    out.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" });
                } else {
                    int_line(out, b':', *b as i64);
                }
            }
            Reply::Verbatim(b) => {
                if resp3 {
                    int_line(out, b'=', b.len() as i64 + 4);
                    out.put_slice(b"txt:");
                    out.put_slice(b);
                    out.put_slice(b"\r\n");
                } else {
                    bulk(out, b);
                }
            }
            Reply::BigNumber(b) => {
                if resp3 {
                    line(out, b'(', b);
                } else {
                    bulk(out, b);
                }
            }
            Reply::Raw(b) => out.put_slice(b),
            Reply::Many(items) => {
                for item in items {
                    item.encode(out, resp3);
                }
            }
        }
    }
}

/// Formats a double the way Redis 7.0's `addReplyDouble` does in both
/// protocols: C's `%.17g` (`0.1` is `0.10000000000000001`, `1e300` is
/// `1.0000000000000001e+300`), with `inf`/`-inf`/`nan`.
pub fn format_double(d: f64) -> String {
    if d.is_nan() {
        return "nan".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    const PRECISION: i32 = 17;
    // Rust's `{:e}` rounds the exact value correctly, as glibc does.
    let sci = format!("{:.*e}", PRECISION as usize - 1, d);
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` has an exponent");
    let exp: i32 = exp.parse().expect("`{:e}` exponent");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let trim = |s: String| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    if !(-4..PRECISION).contains(&exp) {
        let m = trim(format!("{}.{}", &digits[..1], &digits[1..]));
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{m}e{esign}{:02}", exp.abs());
    }
    let fixed = if exp >= 0 {
        let split = exp as usize + 1;
        format!("{}.{}", &digits[..split], &digits[split..])
    } else {
        format!("0.{}{}", "0".repeat((-exp - 1) as usize), digits)
    };
    format!("{sign}{}", trim(fixed))
}

fn line(out: &mut BytesMut, prefix: u8, text: &[u8]) {
    out.reserve(text.len() + 3);
    out.put_u8(prefix);
    out.put_slice(text);
    out.put_slice(b"\r\n");
}

fn int_line(out: &mut BytesMut, prefix: u8, n: i64) {
    let mut buf = itoa::Buffer::new();
    line(out, prefix, buf.format(n).as_bytes());
}

fn bulk(out: &mut BytesMut, data: &[u8]) {
    int_line(out, b'$', data.len() as i64);
    out.reserve(data.len() + 2);
    out.put_slice(data);
    out.put_slice(b"\r\n");
}

fn aggregate(out: &mut BytesMut, prefix: u8, items: &[Reply], resp3: bool) {
    int_line(out, prefix, items.len() as i64);
    for item in items {
        item.encode(out, resp3);
    }
}

#[cfg(test)]
mod tests {
    use super::format_double;

    /// C's own `%.17g`, the reference.
    fn c_format(d: f64) -> String {
        let mut buf = [0u8; 64];
        // SAFETY: the buffer is large enough for any `%.17g` of a double
        // and snprintf NUL-terminates what it writes.
        let n = unsafe {
            libc::snprintf(
                buf.as_mut_ptr() as *mut libc::c_char,
                buf.len(),
                c"%.17g".as_ptr(),
                d,
            )
        };
        String::from_utf8(buf[..n as usize].to_vec()).unwrap()
    }

    #[test]
    fn doubles_print_as_c_does() {
        let mut values = vec![
            0.1,
            0.3,
            1.0,
            3.0,
            -2.5,
            1e300,
            -1e-300,
            1e-5,
            1e-4,
            1.5e16,
            1e17,
            123456789012345678.0,
            1e16,
            9.999999999999999e16,
            0.0001234,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            -0.0,
        ];
        let mut x: u64 = 0x9e3779b97f4a7c15;
        for _ in 0..20000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let d = f64::from_bits(x);
            if d.is_finite() {
                values.push(d);
            }
            values.push((x % 2_000_000) as f64 / 1000.0 - 1000.0);
        }
        for d in values {
            assert_eq!(format_double(d), c_format(d), "{d:e}");
        }
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(f64::NEG_INFINITY), "-inf");
    }
}
