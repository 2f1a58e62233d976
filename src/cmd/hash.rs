//! Hash commands.

use bytes::Bytes;
use rand::Rng;

use super::errors::{self, CmdError, CmdResult, err};
use super::keys::{parse_cursor, scan_options, scan_reply};
use super::{CommandSpec, Ctx, Family, ONE_KEY, int_arg, is, spec};
use crate::reply::{OK, Reply};
use crate::store::KeyKind;

const G: &str = "hash";
const R: &[&str] = &["readonly"];
const RF: &[&str] = &["readonly", "fast"];
const WF: &[&str] = &["write", "fast"];
const WDF: &[&str] = &["write", "denyoom", "fast"];

pub static COMMANDS: &[CommandSpec] = &[
    spec(
        "hset",
        -4,
        WDF,
        ONE_KEY,
        Family::Hash,
        G,
        "2.0.0",
        "Set the string value of a hash field",
    ),
    spec(
        "hsetnx",
        4,
        WDF,
        ONE_KEY,
        Family::Hash,
        G,
        "2.0.0",
        "Set the value of a hash field, only if the field does not exist",
    ),
    spec(
        "hmset",
        -4,
        WDF,
        ONE_KEY,
        Family::Hash,
        G,
        "2.0.0",
        "Set multiple hash fields to multiple values",
    ),
    spec(
        "hget",
        3,
        RF,
        ONE_KEY,
        Family::Hash,
        G,
        "2.0.0",
        "Get the value of a hash field",
    ),
    spec(
        "hmget",
        -3,
        RF,
        ONE_KEY,
        Family::Hash,
        G,
        "2.0.0",
        "Get the values of all the given hash fields",
    ),
    spec(
        "hgetall",
        2,
        R,
        ONE_KEY,
        Family::Hash,
        G,
        "2.0.0",
        "Get all the fields and values in a hash",
    ),
    spec(
        "hdel",
        -3,
        WF,
        ONE_KEY,
        Family::Hash,
        G,
        "2.0.0",
        "Delete one or more hash fields",
    ),
    spec(
        "hexists",
        3,
        RF,
        ONE_KEY,
        Family::Hash,
        G,
        "2.0.0",
        "Determine if a hash field exists",
    ),
    spec(
        "hlen",
        2,
        RF,
        ONE_KEY,
        Family::Hash,
        G,
        "2.0.0",
        "Get the number of fields in a hash",
    ),
    spec(
        "hkeys",
        2,
        R,
        ONE_KEY,
        Family::Hash,
        G,
        "2.0.0",
        "Get all the fields in a hash",
    ),
    spec(
        "hvals",
        2,
        R,
        ONE_KEY,
        Family::Hash,
        G,
        "2.0.0",
        "Get all the values in a hash",
    ),
    spec(
        "hincrby",
        4,
        WDF,
        ONE_KEY,
        Family::Hash,
        G,
        "2.0.0",
        "Increment the integer value of a hash field by the given number",
    ),
    spec(
        "hincrbyfloat",
        4,
        WDF,
        ONE_KEY,
        Family::Hash,
        G,
        "2.6.0",
        "Increment the float value of a hash field by the given amount",
    ),
    spec(
        "hstrlen",
        3,
        RF,
        ONE_KEY,
        Family::Hash,
        G,
        "3.2.0",
        "Get the length of the value of a hash field",
    ),
    spec(
        "hscan",
        -3,
        R,
        ONE_KEY,
        Family::Hash,
        G,
        "2.8.0",
        "Incrementally iterate hash fields and associated values",
    ),
    spec(
        "hrandfield",
        -2,
        R,
        ONE_KEY,
        Family::Hash,
        G,
        "6.2.0",
        "Get one or multiple random fields from a hash",
    ),
];

/// Redis keeps hashes of up to this many fields as one listpack, which
/// HSCAN returns whole whatever the cursor; we do the same.
const SMALL_HASH: i64 = 512;

/// Largest reply HRANDFIELD with a negative count builds (see there).
const MAX_RANDOM_REPEATS: u64 = 1 << 22;

pub async fn execute(ctx: &mut Ctx<'_>, name: &str, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    match name {
        "hset" | "hmset" => {
            if args.len() % 2 == 1 {
                return err(errors::wrong_arity(name));
            }
            let existed = write_hash(ctx, key).await?;
            let pairs: Vec<(Bytes, Bytes)> = args[2..]
                .chunks(2)
                .map(|p| (p[0].clone(), p[1].clone()))
                .collect();
            if !existed {
                ctx.notify(b'n', "new", key);
            }
            let added = ctx.txn.hash_put(ctx.db, key, &pairs).await?;
            ctx.notify(b'h', "hset", key);
            Ok(if name == "hset" {
                Reply::Int(added)
            } else {
                OK
            })
        }
        "hsetnx" => {
            let existed = write_hash(ctx, key).await?;
            if existed && field(ctx, key, &args[2]).await?.is_some() {
                return Ok(Reply::Int(0));
            }
            if !existed {
                ctx.notify(b'n', "new", key);
            }
            ctx.txn
                .hash_put(ctx.db, key, &[(args[2].clone(), args[3].clone())])
                .await?;
            ctx.notify(b'h', "hset", key);
            Ok(Reply::Int(1))
        }
        "hget" => {
            let value = if read_hash(ctx, key).await? {
                field(ctx, key, &args[2]).await?
            } else {
                None
            };
            Ok(Reply::opt_bulk(value))
        }
        "hmget" => {
            let fields = &args[2..];
            let values = if read_hash(ctx, key).await? {
                ctx.txn.hash_get(ctx.db, key, fields).await?
            } else {
                vec![None; fields.len()]
            };
            Ok(Reply::Array(
                values.into_iter().map(Reply::opt_bulk).collect(),
            ))
        }
        "hgetall" | "hkeys" | "hvals" => {
            let pairs = if read_hash(ctx, key).await? {
                ctx.txn.hash_all(ctx.db, key).await?
            } else {
                Vec::new()
            };
            Ok(match name {
                "hgetall" => Reply::Map(
                    pairs
                        .into_iter()
                        .map(|(f, v)| (Reply::Bulk(f), Reply::Bulk(v)))
                        .collect(),
                ),
                "hkeys" => Reply::bulks(pairs.into_iter().map(|(f, _)| f)),
                _ => Reply::bulks(pairs.into_iter().map(|(_, v)| v)),
            })
        }
        "hdel" => {
            if ctx.for_write_of(key, KeyKind::Hash).await?.is_none() {
                return Ok(Reply::Int(0));
            }
            let (removed, key_gone) = ctx.txn.hash_delete(ctx.db, key, &args[2..]).await?;
            if removed > 0 {
                ctx.notify(b'h', "hdel", key);
                if key_gone {
                    ctx.notify(b'g', "del", key);
                }
            }
            Ok(Reply::Int(removed))
        }
        "hexists" => {
            let found = read_hash(ctx, key).await? && field(ctx, key, &args[2]).await?.is_some();
            Ok(Reply::Int(found as i64))
        }
        "hlen" => {
            let len = if read_hash(ctx, key).await? {
                ctx.txn.hash_len(ctx.db, key).await?
            } else {
                0
            };
            Ok(Reply::Int(len))
        }
        "hstrlen" => {
            let value = if read_hash(ctx, key).await? {
                field(ctx, key, &args[2]).await?
            } else {
                None
            };
            Ok(Reply::Int(value.map_or(0, |v| v.len() as i64)))
        }
        "hincrby" => hincrby(ctx, args).await,
        "hincrbyfloat" => hincrbyfloat(ctx, args).await,
        "hscan" => hscan(ctx, args).await,
        "hrandfield" => hrandfield(ctx, args).await,
        _ => err(format!("ERR unhandled hash command '{name}'")),
    }
}

/// Looks a hash up for reading, counting the hit or miss as Redis's
/// lookupKeyRead does; another kind of key is WRONGTYPE.
async fn read_hash(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<bool, CmdError> {
    let meta = ctx.live(key).await?;
    ctx.count_lookup(meta.is_some());
    match meta {
        Some(m) if m.kind != KeyKind::Hash => err(errors::WRONGTYPE),
        other => Ok(other.is_some()),
    }
}

/// Looks a hash up for writing (see [`Ctx::for_write`]): whether it exists.
async fn write_hash(ctx: &mut Ctx<'_>, key: &Bytes) -> Result<bool, CmdError> {
    Ok(ctx.for_write_of(key, KeyKind::Hash).await?.is_some())
}

/// One field's value.
async fn field(ctx: &mut Ctx<'_>, key: &[u8], field: &Bytes) -> Result<Option<Bytes>, CmdError> {
    Ok(ctx
        .txn
        .hash_get(ctx.db, key, std::slice::from_ref(field))
        .await?
        .pop()
        .flatten())
}

/// Writes one field of a read-modify-write, with the `new` event first
/// when the hash did not exist.
async fn put_field(
    ctx: &mut Ctx<'_>,
    key: &Bytes,
    field: &Bytes,
    value: Bytes,
    existed: bool,
    event: &'static str,
) -> Result<(), CmdError> {
    if !existed {
        ctx.notify(b'n', "new", key);
    }
    ctx.txn
        .hash_put(ctx.db, key, &[(field.clone(), value)])
        .await?;
    ctx.notify(b'h', event, key);
    Ok(())
}

/// HINCRBY key field increment
async fn hincrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (key, fname) = (&args[1], &args[2]);
    let by = int_arg(&args[3])?;
    let existed = write_hash(ctx, key).await?;
    let old = match if existed {
        field(ctx, key, fname).await?
    } else {
        None
    } {
        Some(v) => crate::protocol::parse_i64(&v)
            .ok_or_else(|| CmdError::Reply(errors::HASH_NOT_INTEGER.into()))?,
        None => 0,
    };
    let new = old
        .checked_add(by)
        .ok_or_else(|| CmdError::Reply(errors::OVERFLOW.into()))?;
    let mut buf = itoa::Buffer::new();
    let text = Bytes::copy_from_slice(buf.format(new).as_bytes());
    put_field(ctx, key, fname, text, existed, "hincrby").await?;
    Ok(Reply::Int(new))
}

/// HINCRBYFLOAT key field increment, in emulated `long double` (see
/// [`long_double`]) so the digits match Redis's.
async fn hincrbyfloat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (key, fname) = (&args[1], &args[2]);
    let by =
        long_double::parse(&args[3]).ok_or_else(|| CmdError::Reply(errors::NOT_FLOAT.into()))?;
    if !by.is_finite() {
        return err(errors::INCR_NAN_OR_INF);
    }
    let existed = write_hash(ctx, key).await?;
    let old = match if existed {
        field(ctx, key, fname).await?
    } else {
        None
    } {
        Some(v) => {
            long_double::parse(&v).ok_or_else(|| CmdError::Reply(errors::HASH_NOT_FLOAT.into()))?
        }
        None => long_double::ZERO,
    };
    let new = long_double::add(old, by);
    if !new.is_finite() {
        return err(errors::NAN_OR_INF);
    }
    let text = Bytes::from(long_double::format(new));
    put_field(ctx, key, fname, text.clone(), existed, "hincrbyfloat").await?;
    Ok(Reply::Bulk(text))
}

/// HSCAN key cursor [MATCH pattern] [COUNT count]
///
/// Like Redis, a missing key answers an empty scan before the options are
/// even parsed, and a hash of at most 512 fields (Redis's listpack) comes
/// back whole with cursor 0, whatever the cursor and COUNT.
///
/// Larger hashes are paged in field (byte) order. The cursor encodes a
/// boundary string `B` of 1 to 7 bytes: the next page starts at the first
/// field `>= B`. `B` is packed into a u64 below 2^59 (so it also fits a
/// signed 64-bit integer): its bytes, zero-padded to 7, big-endian in bits
/// 3..59, and its length in bits 0..3 (never 0, so a page cursor is never
/// the end cursor 0). A page of COUNT fields ending at field `L`, followed
/// by the unreturned field `N`, is closed with `B` = the shortest prefix of
/// `N` greater than `L`. When `L` and `N` share 7 or more leading bytes no
/// such `B` fits, so the page grows until two neighbours differ within
/// their first 7 bytes. Every field present for the whole iteration is
/// returned exactly once; arbitrary client cursors decode to some boundary
/// and never fail.
async fn hscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let cursor = parse_cursor(&args[2])?;
    if !read_hash(ctx, key).await? {
        return Ok(scan_reply(0, Vec::new()));
    }
    let opts = scan_options(&args[3..], false)?;
    let (pairs, next) = if ctx.txn.hash_len(ctx.db, key).await? <= SMALL_HASH {
        (ctx.txn.hash_all(ctx.db, key).await?, 0)
    } else {
        hscan_page(ctx, key, cursor, opts.count).await?
    };
    let mut items = Vec::with_capacity(pairs.len() * 2);
    for (f, v) in pairs {
        if opts.matches(&f) {
            items.push(Reply::Bulk(f));
            items.push(Reply::Bulk(v));
        }
    }
    Ok(scan_reply(next, items))
}

/// Longest boundary an HSCAN cursor carries.
const BOUNDARY_MAX: usize = 7;

fn encode_boundary(b: &[u8]) -> u64 {
    debug_assert!(!b.is_empty() && b.len() <= BOUNDARY_MAX);
    let mut packed: u64 = 0;
    for i in 0..BOUNDARY_MAX {
        packed = (packed << 8) | *b.get(i).unwrap_or(&0) as u64;
    }
    (packed << 3) | b.len() as u64
}

/// The boundary a non-zero cursor names (`None` for 0, the start).
fn decode_boundary(cursor: u64) -> Option<Vec<u8>> {
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

/// One page of a large hash and the cursor after it (see [`hscan`]).
async fn hscan_page(
    ctx: &mut Ctx<'_>,
    key: &Bytes,
    cursor: u64,
    count: u64,
) -> Result<(Vec<(Bytes, Bytes)>, u64), CmdError> {
    let count = usize::try_from(count)
        .unwrap_or(usize::MAX)
        .min(u32::MAX as usize - 1);
    let start = decode_boundary(cursor).map(Bytes::from);
    let mut page = Vec::new();
    if let Some(b) = &start {
        // `hash_scan` is exclusive: the boundary itself may be a field.
        if let Some(v) = field(ctx, key, b).await? {
            page.push((b.clone(), v));
        }
    }
    // COUNT fields plus the first one left over, which places the boundary.
    let want = count + 1 - page.len();
    let batch = ctx
        .txn
        .hash_scan(ctx.db, key, start.as_deref(), want as u32)
        .await?;
    let done = batch.len() < want;
    page.extend(batch);
    if done {
        return Ok((page, 0));
    }
    let mut i = count;
    loop {
        if i == page.len() {
            let after = page[i - 1].0.clone();
            let more = ctx
                .txn
                .hash_scan(ctx.db, key, Some(&after), count.clamp(16, 1024) as u32)
                .await?;
            if more.is_empty() {
                return Ok((page, 0));
            }
            page.extend(more);
        }
        let (last, next) = (&page[i - 1].0, &page[i].0);
        let common = last
            .iter()
            .zip(next.iter())
            .take_while(|(a, b)| a == b)
            .count();
        if common < BOUNDARY_MAX {
            let cursor = encode_boundary(&next[..common + 1]);
            page.truncate(i);
            return Ok((page, cursor));
        }
        i += 1;
    }
}

/// HRANDFIELD key [count [WITHVALUES]], as Redis's hrandfieldCommand.
///
/// One deliberate limit: a negative count (repeats allowed) is refused with
/// `ERR value is out of range` beyond 2^22 elements on an existing hash,
/// where Redis would try to build the reply whatever its size.
async fn hrandfield(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let Some(count_arg) = args.get(2) else {
        if !read_hash(ctx, key).await? {
            return Ok(Reply::Nil);
        }
        let pairs = ctx.txn.hash_all(ctx.db, key).await?;
        let pick = rand::thread_rng().gen_range(0..pairs.len().max(1));
        return Ok(Reply::opt_bulk(pairs.into_iter().nth(pick).map(|(f, _)| f)));
    };
    let n = int_arg(count_arg)?;
    if n == i64::MIN {
        return err(errors::RANDFIELD_COUNT_RANGE);
    }
    let with_values = match &args[3..] {
        [] => false,
        [opt] if is(opt, "withvalues") => true,
        _ => return err(errors::SYNTAX),
    };
    if with_values && !(-i64::MAX / 2..=i64::MAX / 2).contains(&n) {
        return err(errors::OUT_OF_RANGE);
    }
    if !read_hash(ctx, key).await? || n == 0 {
        return Ok(Reply::Array(Vec::new()));
    }
    let pairs = ctx.txn.hash_all(ctx.db, key).await?;
    let count = n.unsigned_abs();
    let chosen: Vec<usize> = if n < 0 {
        if count > MAX_RANDOM_REPEATS {
            return err(errors::OUT_OF_RANGE);
        }
        let mut rng = rand::thread_rng();
        (0..count).map(|_| rng.gen_range(0..pairs.len())).collect()
    } else if count >= pairs.len() as u64 {
        (0..pairs.len()).collect()
    } else {
        rand::seq::index::sample(&mut rand::thread_rng(), pairs.len(), count as usize).into_vec()
    };
    let resp3 = ctx.resp3;
    let mut out = Vec::with_capacity(chosen.len() * if with_values && !resp3 { 2 } else { 1 });
    for i in chosen {
        let (f, v) = &pairs[i];
        match (with_values, resp3) {
            (false, _) => out.push(Reply::Bulk(f.clone())),
            (true, false) => {
                out.push(Reply::Bulk(f.clone()));
                out.push(Reply::Bulk(v.clone()));
            }
            (true, true) => out.push(Reply::Array(vec![
                Reply::Bulk(f.clone()),
                Reply::Bulk(v.clone()),
            ])),
        }
    }
    Ok(Reply::Array(out))
}

#[cfg(test)]
mod tests {
    use super::{decode_boundary, encode_boundary};

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

/// Redis computes INCRBYFLOAT / HINCRBYFLOAT in C `long double`, which on
/// x86-64 is the x87 80-bit extended format (64-bit significand), parses
/// with `strtold` and prints with `%.17Lf` (trailing zeros trimmed). The
/// digits clients see depend on that precision (`10.5 + 0.1` then `-5`
/// then `5.0e3` answers `5005.60000000000000009`), so this module emulates
/// it exactly with big-integer arithmetic: correctly rounded parsing
/// (decimal, hex, `inf`), correctly rounded addition, and exact `%.17Lf`
/// formatting. Subnormal results keep a full 64-bit significand (they
/// print as 0 either way).
pub mod long_double {
    use std::cmp::Ordering;

    /// Largest input `string2ld` accepts is one byte shorter than this.
    const MAX_CHARS: usize = 5 * 1024;
    /// 2^16384 is the first power of two past the largest finite value.
    const EXP_OVERFLOW: i64 = 16384;
    /// The unit of the smallest subnormal is 2^-16445.
    const MIN_LSB: i64 = -16445;

    /// An extended-precision number.
    #[derive(Clone, Copy, Debug, PartialEq)]
    pub enum Ld {
        /// `(-1)^neg * mant * 2^exp`; `mant` has its top bit set, or is 0.
        Finite {
            neg: bool,
            mant: u64,
            exp: i64,
        },
        Inf {
            neg: bool,
        },
    }

    pub const ZERO: Ld = Ld::Finite {
        neg: false,
        mant: 0,
        exp: 0,
    };

    impl Ld {
        pub fn is_finite(self) -> bool {
            matches!(self, Ld::Finite { .. })
        }
    }

    /// Redis's `string2ld`: `strtold` over the whole string, no leading
    /// space, no NaN, no overflow, no underflow to zero.
    pub fn parse(s: &[u8]) -> Option<Ld> {
        if s.is_empty() || s.len() >= MAX_CHARS {
            return None;
        }
        if s[0].is_ascii_whitespace() || s[0] == 0x0b {
            return None;
        }
        let (neg, body) = match s[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
            return Some(Ld::Inf { neg });
        }
        if body.len() > 2 && body[0] == b'0' && (body[1] | 0x20) == b'x' {
            if let Some(v) = parse_hex(neg, &body[2..]) {
                return v;
            }
            // "0x" without hex digits: strtold stops after the "0".
            return None;
        }
        parse_decimal(neg, body)
    }

    /// Digits, an optional fraction and an optional exponent: the mantissa
    /// digits, the count of fraction digits, and the exponent.
    fn split_number(body: &[u8], hex: bool) -> Option<(&[u8], Vec<u8>, usize, i64)> {
        let is_digit = |c: u8| {
            if hex {
                c.is_ascii_hexdigit()
            } else {
                c.is_ascii_digit()
            }
        };
        let mut i = 0;
        let mut digits = Vec::new();
        while i < body.len() && is_digit(body[i]) {
            digits.push(body[i]);
            i += 1;
        }
        let mut frac = 0;
        if i < body.len() && body[i] == b'.' {
            i += 1;
            while i < body.len() && is_digit(body[i]) {
                digits.push(body[i]);
                frac += 1;
                i += 1;
            }
        }
        if digits.is_empty() {
            return None;
        }
        let mut exp: i64 = 0;
        let marker = if hex { b'p' } else { b'e' };
        if i < body.len() && (body[i] | 0x20) == marker {
            i += 1;
            let negative = match body.get(i) {
                Some(b'-') => {
                    i += 1;
                    true
                }
                Some(b'+') => {
                    i += 1;
                    false
                }
                _ => false,
            };
            let start = i;
            while i < body.len() && body[i].is_ascii_digit() {
                exp = (exp * 10 + (body[i] - b'0') as i64).min(1 << 40);
                i += 1;
            }
            if i == start {
                return None;
            }
            if negative {
                exp = -exp;
            }
        }
        Some((&body[i..], digits, frac, exp))
    }

    fn parse_decimal(neg: bool, body: &[u8]) -> Option<Ld> {
        let (rest, digits, frac, exp) = split_number(body, false)?;
        if !rest.is_empty() {
            return None;
        }
        let first = digits.iter().position(|&d| d != b'0');
        let Some(first) = first else {
            return Some(Ld::Finite {
                neg,
                mant: 0,
                exp: 0,
            });
        };
        let digits = &digits[first..];
        let e10 = exp - frac as i64;
        // Quick range checks: the value is below 10^(len + e10) and at
        // least 10^(len - 1 + e10).
        let magnitude = digits.len() as i64 + e10;
        if magnitude > 4934 {
            return None;
        }
        if magnitude < -4952 {
            return None;
        }
        let mut d = Big::zero();
        for chunk in digits.chunks(9) {
            let mut v = 0u32;
            for &c in chunk {
                v = v * 10 + (c - b'0') as u32;
            }
            d.mul_add_small(10u32.pow(chunk.len() as u32), v);
        }
        let rounded = if e10 >= 0 {
            d.mul_pow10(e10 as u64);
            round(neg, d, 0, false)
        } else {
            let b = Big::pow10((-e10) as u64);
            let s = d.bits() as i64 - b.bits() as i64;
            let (shift_a, shift_b) = ((66 - s).max(0) as u64, (s - 66).max(0) as u64);
            let (q, exact) = divide(d.shl(shift_a), b.shl(shift_b), 68);
            round(neg, q, shift_b as i64 - shift_a as i64, !exact)
        };
        finite_or_reject(rounded)
    }

    /// `Some(result)` when the text after "0x" is a hex float (or fails as
    /// one); `None` when there are no hex digits at all.
    fn parse_hex(neg: bool, body: &[u8]) -> Option<Option<Ld>> {
        let (rest, digits, frac, exp) = split_number(body, true)?;
        if !rest.is_empty() {
            return Some(None);
        }
        let mut h = Big::zero();
        for &c in &digits {
            h.mul_add_small(16, (c as char).to_digit(16).unwrap_or(0));
        }
        if h.is_zero() {
            return Some(Some(Ld::Finite {
                neg,
                mant: 0,
                exp: 0,
            }));
        }
        let exp = exp - 4 * frac as i64;
        if h.bits() as i64 + exp > EXP_OVERFLOW + 1 || (h.bits() as i64 + exp) < MIN_LSB - 2 {
            return Some(None);
        }
        Some(finite_or_reject(round(neg, h, exp, false)))
    }

    /// `strtold` reports overflow and underflow to zero as ERANGE, which
    /// `string2ld` rejects.
    fn finite_or_reject(v: Ld) -> Option<Ld> {
        match v {
            Ld::Finite { mant: 0, .. } | Ld::Inf { .. } => None,
            v => Some(v),
        }
    }

    /// Rounds `n * 2^exp` (plus a nonzero remainder below its last bit when
    /// `sticky`) to 64 significant bits, ties to even.
    fn round(neg: bool, n: Big, exp: i64, sticky: bool) -> Ld {
        let bits = n.bits() as i64;
        if bits == 0 {
            return Ld::Finite {
                neg,
                mant: 0,
                exp: 0,
            };
        }
        // Drop bits beyond the 64-bit significand, and below the smallest
        // subnormal's unit.
        let shift = (bits - 64).max(MIN_LSB - exp);
        let (q, exp) = if shift <= 0 {
            (n.low_u128() as u64, exp)
        } else {
            let shift = shift as u64;
            let mut q = n.shr(shift).low_u128() as u64;
            let half = n.bit(shift - 1);
            let below = sticky || n.any_below(shift - 1);
            let mut e = exp + shift as i64;
            if half && (below || q & 1 == 1) {
                q = q.wrapping_add(1);
                if q == 0 {
                    q = 1 << 63;
                    e += 1;
                }
            }
            (q, e)
        };
        if q == 0 {
            return Ld::Finite {
                neg,
                mant: 0,
                exp: 0,
            };
        }
        let lz = q.leading_zeros() as i64;
        let (mant, exp) = (q << lz, exp - lz);
        if exp + 64 > EXP_OVERFLOW {
            return Ld::Inf { neg };
        }
        Ld::Finite { neg, mant, exp }
    }

    /// The correctly rounded sum.
    pub fn add(a: Ld, b: Ld) -> Ld {
        let (
            Ld::Finite {
                neg: na,
                mant: ma,
                exp: ea,
            },
            Ld::Finite {
                neg: nb,
                mant: mb,
                exp: eb,
            },
        ) = (a, b)
        else {
            return match (a, b) {
                (Ld::Inf { neg: x }, Ld::Inf { neg: y }) if x != y => Ld::Inf { neg: false },
                (Ld::Inf { neg }, _) | (_, Ld::Inf { neg }) => Ld::Inf { neg },
                _ => unreachable!(),
            };
        };
        if mb == 0 {
            return if ma == 0 {
                Ld::Finite {
                    neg: na && nb,
                    mant: 0,
                    exp: 0,
                }
            } else {
                a
            };
        }
        if ma == 0 {
            return b;
        }
        let low = ea.min(eb);
        let x = Big::from_u128(ma as u128).shl((ea - low) as u64);
        let y = Big::from_u128(mb as u128).shl((eb - low) as u64);
        if na == nb {
            return round(na, x.add(&y), low, false);
        }
        match x.cmp(&y) {
            Ordering::Equal => Ld::Finite {
                neg: false,
                mant: 0,
                exp: 0,
            },
            Ordering::Greater => round(na, x.sub(&y), low, false),
            Ordering::Less => round(nb, y.sub(&x), low, false),
        }
    }

    /// `%.17Lf` with trailing zeros (and a bare point) removed, `-0` as
    /// `0`: Redis's `ld2string(LD_STR_HUMAN)`. Infinity prints as
    /// `inf`/`-inf` (callers refuse it before).
    pub fn format(v: Ld) -> String {
        let (neg, mant, exp) = match v {
            Ld::Inf { neg } => return if neg { "-inf".into() } else { "inf".into() },
            Ld::Finite { neg, mant, exp } => (neg, mant, exp),
        };
        let mut text = if exp >= 0 {
            Big::from_u128(mant as u128).shl(exp as u64).to_decimal()
        } else {
            const SCALE: u128 = 100_000_000_000_000_000;
            let p = mant as u128 * SCALE;
            let k = (-exp) as u64;
            let q = if k >= 128 {
                0
            } else {
                let q = p >> k;
                let rem = p & ((1u128 << k) - 1);
                let half = 1u128 << (k - 1);
                if rem > half || (rem == half && q & 1 == 1) {
                    q + 1
                } else {
                    q
                }
            };
            let mut s = format!("{}.{:017}", q / SCALE, q % SCALE);
            while s.ends_with('0') {
                s.pop();
            }
            if s.ends_with('.') {
                s.pop();
            }
            s
        };
        if neg && text != "0" {
            text.insert(0, '-');
        }
        text
    }

    /// `a / b` for a quotient known to be below 2^`bits`; and whether the
    /// division was exact.
    fn divide(mut a: Big, b: Big, bits: u64) -> (Big, bool) {
        let mut q = Big::zero();
        let mut t = b.shl(bits - 1);
        for i in (0..bits).rev() {
            if a.cmp(&t) != Ordering::Less {
                a = a.sub(&t);
                q = q.add(&Big::from_u128(1).shl(i));
            }
            t = t.shr(1);
        }
        (q, a.is_zero())
    }

    /// A minimal unsigned big integer: little-endian 32-bit limbs, no
    /// high zero limbs.
    #[derive(Clone, Debug, PartialEq, Eq)]
    struct Big(Vec<u32>);

    impl Big {
        fn zero() -> Big {
            Big(Vec::new())
        }

        fn from_u128(mut v: u128) -> Big {
            let mut limbs = Vec::new();
            while v != 0 {
                limbs.push(v as u32);
                v >>= 32;
            }
            Big(limbs)
        }

        fn pow10(n: u64) -> Big {
            let mut b = Big::from_u128(1);
            b.mul_pow10(n);
            b
        }

        fn trim(mut self) -> Big {
            while self.0.last() == Some(&0) {
                self.0.pop();
            }
            self
        }

        fn is_zero(&self) -> bool {
            self.0.is_empty()
        }

        fn bits(&self) -> u64 {
            match self.0.last() {
                None => 0,
                Some(&top) => (self.0.len() as u64 - 1) * 32 + (32 - top.leading_zeros() as u64),
            }
        }

        fn bit(&self, i: u64) -> bool {
            self.0
                .get((i / 32) as usize)
                .is_some_and(|l| l >> (i % 32) & 1 == 1)
        }

        /// Whether any bit below position `i` is set.
        fn any_below(&self, i: u64) -> bool {
            let (whole, part) = ((i / 32) as usize, i % 32);
            self.0.iter().take(whole).any(|&l| l != 0)
                || (part > 0
                    && self
                        .0
                        .get(whole)
                        .is_some_and(|&l| l & ((1u32 << part) - 1) != 0))
        }

        fn low_u128(&self) -> u128 {
            self.0
                .iter()
                .take(4)
                .rev()
                .fold(0u128, |acc, &l| (acc << 32) | l as u128)
        }

        fn mul_add_small(&mut self, m: u32, a: u32) {
            let mut carry = a as u64;
            for limb in &mut self.0 {
                let v = *limb as u64 * m as u64 + carry;
                *limb = v as u32;
                carry = v >> 32;
            }
            if carry != 0 {
                self.0.push(carry as u32);
            }
            let trimmed = std::mem::take(self).trim();
            *self = trimmed;
        }

        fn mul_pow10(&mut self, mut n: u64) {
            while n >= 9 {
                self.mul_add_small(1_000_000_000, 0);
                n -= 9;
            }
            self.mul_add_small(10u32.pow(n as u32), 0);
        }

        fn shl(&self, bits: u64) -> Big {
            if self.is_zero() {
                return Big::zero();
            }
            let (whole, part) = ((bits / 32) as usize, bits % 32);
            let mut limbs = vec![0u32; whole];
            let mut carry = 0u32;
            for &l in &self.0 {
                if part == 0 {
                    limbs.push(l);
                } else {
                    limbs.push((l << part) | carry);
                    carry = l >> (32 - part);
                }
            }
            if carry != 0 {
                limbs.push(carry);
            }
            Big(limbs).trim()
        }

        fn shr(&self, bits: u64) -> Big {
            let (whole, part) = ((bits / 32) as usize, bits % 32);
            if whole >= self.0.len() {
                return Big::zero();
            }
            let src = &self.0[whole..];
            let limbs = (0..src.len())
                .map(|i| {
                    let lo = src[i] >> part;
                    let hi = if part == 0 {
                        0
                    } else {
                        src.get(i + 1).map_or(0, |&h| h << (32 - part))
                    };
                    lo | hi
                })
                .collect();
            Big(limbs).trim()
        }

        fn add(&self, other: &Big) -> Big {
            let mut limbs = Vec::with_capacity(self.0.len().max(other.0.len()) + 1);
            let mut carry = 0u64;
            for i in 0..self.0.len().max(other.0.len()) {
                let v = *self.0.get(i).unwrap_or(&0) as u64
                    + *other.0.get(i).unwrap_or(&0) as u64
                    + carry;
                limbs.push(v as u32);
                carry = v >> 32;
            }
            if carry != 0 {
                limbs.push(carry as u32);
            }
            Big(limbs).trim()
        }

        /// `self - other`, for `self >= other`.
        fn sub(&self, other: &Big) -> Big {
            let mut limbs = Vec::with_capacity(self.0.len());
            let mut borrow = 0i64;
            for i in 0..self.0.len() {
                let mut v = self.0[i] as i64 - *other.0.get(i).unwrap_or(&0) as i64 - borrow;
                borrow = 0;
                if v < 0 {
                    v += 1 << 32;
                    borrow = 1;
                }
                limbs.push(v as u32);
            }
            Big(limbs).trim()
        }

        fn cmp(&self, other: &Big) -> Ordering {
            self.0
                .len()
                .cmp(&other.0.len())
                .then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
        }

        fn to_decimal(&self) -> String {
            if self.is_zero() {
                return "0".into();
            }
            let mut limbs = self.0.clone();
            let mut chunks = Vec::new();
            while !limbs.is_empty() {
                let mut rem = 0u64;
                for limb in limbs.iter_mut().rev() {
                    let v = (rem << 32) | *limb as u64;
                    *limb = (v / 1_000_000_000) as u32;
                    rem = v % 1_000_000_000;
                }
                while limbs.last() == Some(&0) {
                    limbs.pop();
                }
                chunks.push(rem as u32);
            }
            let mut out = chunks.pop().map(|c| c.to_string()).unwrap_or_default();
            for c in chunks.iter().rev() {
                out.push_str(&format!("{c:09}"));
            }
            out
        }
    }

    impl Default for Big {
        fn default() -> Big {
            Big::zero()
        }
    }

    #[cfg(test)]
    mod tests {
        use super::{add, format, parse};

        fn incr(a: &str, b: &str) -> String {
            format(add(
                parse(a.as_bytes()).unwrap(),
                parse(b.as_bytes()).unwrap(),
            ))
        }

        #[test]
        fn matches_redis_long_double() {
            // Answers of Redis 7.0 on x86-64.
            assert_eq!(incr("10.5", "0.1"), "10.6");
            assert_eq!(incr("5.6", "5.0e3"), "5005.60000000000000009");
            assert_eq!(
                incr("5005.60000000000000009", "3e-2"),
                "5005.62999999999999989"
            );
            assert_eq!(incr("0", "1.23456789012345678"), "1.23456789012345678");
            assert_eq!(incr("0.000001", "1e-20"), "0.000001");
            assert_eq!(incr("0", "12345678901234567"), "12345678901234567");
            assert_eq!(incr("0", "2.5e-18"), "0");
            assert_eq!(incr("2.5e-18", "7.5e-18"), "0.00000000000000001");
            assert_eq!(incr("0", "0x1p-2"), "0.25");
            assert_eq!(
                incr("1.50000000000000002", "-0x.8p1"),
                "0.50000000000000002"
            );
            assert_eq!(incr("0", "-0.0"), "0");
            assert_eq!(incr("0.1", "0.1"), "0.2");
            assert!(incr("1.7976931348623157e308", "1.7976931348623157e308").starts_with("35953862697246313999184209354820886809677289388865835697062884153035325704624879270940373721677417112885758683885104137861741672690227211071579455605295523414699795537257678967123632658809118886985907489458125496133883476929775824555243666719790770566420656500950322338241623544031997185275360493372667907"));
            assert!(incr("1e4932", "1e4932").starts_with("inf"));
        }

        #[test]
        fn parses_like_string2ld() {
            for bad in [
                "", " 1", "1 ", "abc", "nan", "1e", "1e+", ".", "0x", "0x1p", "1e5000", "1e-5000",
                "--1",
            ] {
                assert!(parse(bad.as_bytes()).is_none(), "{bad}");
            }
            for good in [
                "1",
                "+1",
                "-1",
                "1.",
                ".5",
                "1E2",
                "inf",
                "-Infinity",
                "0x10",
                "0X.8P1",
                "1e-4940",
                "0e99999",
            ] {
                assert!(parse(good.as_bytes()).is_some(), "{good}");
            }
        }
    }
}
