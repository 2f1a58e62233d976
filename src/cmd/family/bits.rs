//! Bit commands on string values (SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP,
//! BITFIELD, BITFIELD_RO) and LCS, ported from Redis 7.0's bitops.c and
//! t_string.c so that ranges, overflows and errors come out the same.

use bytes::{Bytes, BytesMut};

use crate::cmd::args::{int_arg, is};
use crate::cmd::ctx::Ctx;
use crate::cmd::errors::{self, CmdError, CmdResult, err};
use crate::cmd::family::string::{self, current, store};
use crate::cmd::spec::{CommandSpec, KeySpec, ONE_KEY, key_at, keys_to, ks};
use crate::reply::Reply;

static BITOP_KEYS: &[KeySpec] = &[
    key_at(2, &["OW", "update"]),
    keys_to(3, &["RO", "access"], -1),
];
static BITFIELD_KEYS: &[KeySpec] = &[KeySpec {
    notes: Some("This command allows both access and modification of the key"),
    ..key_at(1, &["RW", "access", "update", "variable_flags"])
}];

pub static COMMANDS: &[CommandSpec] = commands! { family: String, group: "bitmap";
    "setbit", 4, &["write", "denyoom"], ONE_KEY, "2.2.0", data!(setbit; args), "Sets or clears the bit at offset in the string value stored at key", keys: ks::RW_ACCESS_UPDATE;
    "getbit", 3, &["readonly", "fast"], ONE_KEY, "2.2.0", data!(getbit; args), "Returns the bit value at offset in the string value stored at key", keys: ks::RO_ACCESS;
    "bitcount", -2, &["readonly"], ONE_KEY, "2.6.0", data!(bitcount; args), "Count set bits in a string", keys: ks::RO_ACCESS;
    "bitpos", -3, &["readonly"], ONE_KEY, "2.8.7", data!(bitpos; args), "Find first bit set or clear in a string", keys: ks::RO_ACCESS;
    "bitop", -4, &["write", "denyoom"], (2, -1, 1), "2.6.0", data!(bitop; args), "Perform bitwise operations between strings", keys: BITOP_KEYS;
    "bitfield", -2, &["write", "denyoom"], ONE_KEY, "3.2.0", data!(cmd_bitfield; args), "Perform arbitrary bitfield integer operations on strings", keys: BITFIELD_KEYS;
    "bitfield_ro", -2, &["readonly", "fast"], ONE_KEY, "6.0.0", data!(cmd_bitfield_ro; args), "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD", keys: ks::RO_ACCESS;
};

/// A bit offset argument (SETBIT, GETBIT, BITFIELD's `#N` with `bits`),
/// as Redis's getBitOffsetFromArgument: non-negative, its byte below
/// proto-max-bulk-len.
fn bit_offset(ctx: &Ctx<'_>, arg: &[u8], hash_bits: Option<u32>) -> Result<u64, CmdError> {
    let bad = || CmdError::Reply(errors::BIT_OFFSET.into());
    let (digits, times) = match (arg.first(), hash_bits) {
        (Some(b'#'), Some(bits)) => (&arg[1..], bits as i64),
        _ => (arg, 1),
    };
    let offset = crate::protocol::parse_i64(digits)
        .ok_or_else(bad)?
        .wrapping_mul(times);
    if offset < 0 || (offset >> 3) >= ctx.instance.config.proto_max_bulk_len {
        return Err(bad());
    }
    Ok(offset as u64)
}

/// SETBIT key offset 0|1
async fn setbit(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let offset = bit_offset(ctx, &args[2], None)?;
    let on = match crate::protocol::parse_i64(&args[3]) {
        Some(v @ (0 | 1)) => v as u8,
        _ => return err(errors::BIT_VALUE),
    };
    let (value, ttl) = current(ctx, key).await?;
    let byte = (offset >> 3) as usize;
    let mut out = BytesMut::from(value.as_deref().unwrap_or_default());
    // Created or grown: written (and notified) whatever the bit was.
    let dirty = value.is_none() || out.len() <= byte;
    if out.len() <= byte {
        out.resize(byte + 1, 0);
    }
    let shift = 7 - (offset & 7) as u8;
    let old = (out[byte] >> shift) & 1;
    out[byte] = (out[byte] & !(1 << shift)) | (on << shift);
    // Redis 7.0 notifies (and writes) only a change.
    if dirty || old != on {
        store(ctx, key, value.is_some(), &out, ttl, "setbit").await?;
    }
    Ok(Reply::Int(old as i64))
}

/// GETBIT key offset
async fn getbit(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let offset = bit_offset(ctx, &args[2], None)?;
    let value = string::get(ctx, &args[1]).await?.unwrap_or_default();
    let byte = (offset >> 3) as usize;
    let bit = value.get(byte).map_or(0, |b| (b >> (7 - (offset & 7))) & 1);
    Ok(Reply::Int(bit as i64))
}

/// A BITCOUNT/BITPOS range resolved as Redis does: byte bounds (inclusive)
/// plus the masks of the bits outside a BIT range in its edge bytes.
struct Range {
    start: i64,
    end: i64,
    /// Bits of the first byte before the range.
    first_mask: u8,
    /// Bits of the last byte after the range.
    last_mask: u8,
}

/// Resolves `start`/`end` (negative from the end) over `len` bytes, in
/// bits when `bits`.
fn resolve(mut start: i64, mut end: i64, len: i64, bits: bool) -> Range {
    let total = if bits { len << 3 } else { len };
    if start < 0 {
        start += total;
    }
    if end < 0 {
        end += total;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= total {
        end = total - 1;
    }
    let (mut first_mask, mut last_mask) = (0u8, 0u8);
    if bits && start <= end {
        first_mask = !((1u16 << (8 - (start & 7))) - 1) as u8;
        last_mask = ((1u16 << (7 - (end & 7))) - 1) as u8;
        start >>= 3;
        end >>= 3;
    }
    Range {
        start,
        end,
        first_mask,
        last_mask,
    }
}

/// BYTE or BIT (a syntax error otherwise).
fn unit(arg: &[u8]) -> Result<bool, CmdError> {
    if is(arg, "bit") {
        Ok(true)
    } else if is(arg, "byte") {
        Ok(false)
    } else {
        err(errors::SYNTAX)
    }
}

/// BITCOUNT key [start end [BYTE|BIT]]: a missing key counts 0 before the
/// arguments are looked at, as in Redis.
async fn bitcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let Some(value) = string::get(ctx, &args[1]).await? else {
        return Ok(Reply::Int(0));
    };
    let len = value.len() as i64;
    let range = match args.len() {
        2 => Range {
            start: 0,
            end: len - 1,
            first_mask: 0,
            last_mask: 0,
        },
        4 | 5 => {
            let (start, end) = (int_arg(&args[2])?, int_arg(&args[3])?);
            let bits = match args.get(4) {
                Some(a) => unit(a)?,
                None => false,
            };
            if start < 0 && end < 0 && start > end {
                return Ok(Reply::Int(0));
            }
            resolve(start, end, len, bits)
        }
        _ => return err(errors::SYNTAX),
    };
    if range.start > range.end {
        return Ok(Reply::Int(0));
    }
    let bytes = &value[range.start as usize..=range.end as usize];
    let mut count: i64 = bytes.iter().map(|b| b.count_ones() as i64).sum();
    count -= (bytes[0] & range.first_mask).count_ones() as i64;
    count -= (bytes[bytes.len() - 1] & range.last_mask).count_ones() as i64;
    Ok(Reply::Int(count))
}

/// BITPOS key 0|1 [start [end [BYTE|BIT]]]
async fn bitpos(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let bit = int_arg(&args[2])?;
    if bit != 0 && bit != 1 {
        return err(errors::BITPOS_BIT);
    }
    let Some(value) = string::get(ctx, &args[1]).await? else {
        return Ok(Reply::Int(if bit == 1 { -1 } else { 0 }));
    };
    let len = value.len() as i64;
    let mut end_given = false;
    let range = match args.len() {
        3 => Range {
            start: 0,
            end: len - 1,
            first_mask: 0,
            last_mask: 0,
        },
        4..=6 => {
            let start = int_arg(&args[3])?;
            let bits = match args.get(5) {
                Some(a) => unit(a)?,
                None => false,
            };
            let end = match args.get(4) {
                Some(a) => {
                    end_given = true;
                    int_arg(a)?
                }
                None if bits => (len << 3) + 7,
                None => len - 1,
            };
            resolve(start, end, len, bits)
        }
        _ => return err(errors::SYNTAX),
    };
    if range.start > range.end {
        return Ok(Reply::Int(-1));
    }
    // The range's bits, those outside it forced to the opposite value.
    let want = bit == 1;
    let (first, last) = (range.start as usize, range.end as usize);
    for i in first..=last {
        let mut byte = value[i];
        let mut outside = 0u8;
        if i == first {
            outside |= range.first_mask;
        }
        if i == last {
            outside |= range.last_mask;
        }
        byte = if want {
            byte & !outside
        } else {
            byte | outside
        };
        let probe = if want { byte } else { !byte };
        if probe != 0 {
            return Ok(Reply::Int((i as i64) * 8 + probe.leading_zeros() as i64));
        }
    }
    // No such bit in the range. Looking for a clear bit in a range that
    // runs to the end of the string finds the padding after it.
    Ok(Reply::Int(if want || end_given {
        -1
    } else {
        (last as i64 + 1) * 8
    }))
}

/// BITOP AND|OR|XOR|NOT destkey key [key ...]
async fn bitop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    #[derive(PartialEq)]
    enum Op {
        And,
        Or,
        Xor,
        Not,
    }
    let op = match args[1].to_ascii_lowercase().as_slice() {
        b"and" => Op::And,
        b"or" => Op::Or,
        b"xor" => Op::Xor,
        b"not" => Op::Not,
        _ => return err(errors::SYNTAX),
    };
    if op == Op::Not && args.len() != 4 {
        return err(errors::BITOP_NOT);
    }
    let mut sources = Vec::with_capacity(args.len() - 3);
    for key in &args[3..] {
        sources.push(string::get(ctx, key).await?.unwrap_or_default());
    }
    let max = sources.iter().map(Bytes::len).max().unwrap_or(0);
    let dest = &args[2];
    if max == 0 {
        if ctx.for_write(dest).await?.is_some() && ctx.txn.delete(ctx.db, dest).await? {
            ctx.notify(b'g', "del", dest);
        }
        return Ok(Reply::Int(0));
    }
    let byte = |s: &Bytes, i: usize| s.get(i).copied().unwrap_or(0);
    let out: Vec<u8> = (0..max)
        .map(|i| {
            let mut acc = byte(&sources[0], i);
            if op == Op::Not {
                return !acc;
            }
            for s in &sources[1..] {
                let b = byte(s, i);
                match op {
                    Op::And => acc &= b,
                    Op::Or => acc |= b,
                    _ => acc ^= b,
                }
            }
            acc
        })
        .collect();
    string::set_plain(ctx, dest, &Bytes::from(out)).await?;
    Ok(Reply::Int(max as i64))
}

#[derive(Clone, Copy, PartialEq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq)]
enum FieldOp {
    Get,
    Set(i64),
    IncrBy(i64),
}

struct Field {
    op: FieldOp,
    signed: bool,
    bits: u32,
    offset: u64,
    overflow: Overflow,
}

/// `i<bits>` (1..=64) or `u<bits>` (1..=63).
fn field_type(arg: &[u8]) -> Result<(bool, u32), CmdError> {
    let bad = || CmdError::Reply(errors::BITFIELD_TYPE.into());
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(bad()),
    };
    let bits = crate::protocol::parse_i64(&arg[1..]).ok_or_else(bad)?;
    if bits < 1 || (signed && bits > 64) || (!signed && bits > 63) {
        return Err(bad());
    }
    Ok((signed, bits as u32))
}

fn get_unsigned(p: &[u8], offset: u64, bits: u32) -> u64 {
    let mut value = 0u64;
    for j in 0..bits as u64 {
        let at = offset + j;
        let byte = p.get((at >> 3) as usize).copied().unwrap_or(0);
        let bit = (byte >> (7 - (at & 7))) & 1;
        value = (value << 1) | bit as u64;
    }
    value
}

fn get_signed(p: &[u8], offset: u64, bits: u32) -> i64 {
    let mut value = get_unsigned(p, offset, bits) as i64;
    if bits < 64 && value & (1i64 << (bits - 1)) != 0 {
        value |= -1i64 << bits;
    }
    value
}

fn set_field(p: &mut [u8], offset: u64, bits: u32, value: u64) {
    for j in 0..bits as u64 {
        let bit = (value >> (bits as u64 - 1 - j)) & 1;
        let at = offset + j;
        let byte = &mut p[(at >> 3) as usize];
        let shift = 7 - (at & 7);
        *byte = (*byte & !(1 << shift)) | ((bit as u8) << shift);
    }
}

/// Redis's checkUnsignedBitfieldOverflow: whether `value + incr` overflows
/// `bits`, and the value to store instead (wrapped or saturated).
fn unsigned_overflow(value: u64, incr: i64, bits: u32, how: Overflow) -> (bool, u64) {
    let max = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let max_incr = max.wrapping_sub(value) as i64;
    let min_incr = value.wrapping_neg() as i64;
    let wrap = || {
        let mask = if bits == 64 { 0 } else { u64::MAX << bits };
        value.wrapping_add(incr as u64) & !mask
    };
    if value > max || (incr > 0 && incr > max_incr) {
        return (true, if how == Overflow::Wrap { wrap() } else { max });
    }
    if incr < 0 && incr < min_incr {
        return (true, if how == Overflow::Wrap { wrap() } else { 0 });
    }
    (false, 0)
}

/// Redis's checkSignedBitfieldOverflow.
fn signed_overflow(value: i64, incr: i64, bits: u32, how: Overflow) -> (bool, i64) {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
    let min_incr = min.wrapping_sub(value);
    let wrap = || {
        let mut c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & (1u64 << (bits - 1)) != 0 {
                c |= mask;
            } else {
                c &= !mask;
            }
        }
        c as i64
    };
    if value > max || (bits != 64 && incr > max_incr) || (value >= 0 && incr > 0 && incr > max_incr)
    {
        return (true, if how == Overflow::Wrap { wrap() } else { max });
    }
    if value < min || (bits != 64 && incr < min_incr) || (value < 0 && incr < 0 && incr < min_incr)
    {
        return (true, if how == Overflow::Wrap { wrap() } else { min });
    }
    (false, 0)
}

/// Parses BITFIELD's operations, with Redis's errors in its order.
fn bitfield_ops(ctx: &Ctx<'_>, args: &[Bytes]) -> Result<Vec<Field>, CmdError> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < args.len() {
        let rest = args.len() - j - 1;
        let sub = &args[j];
        let kind = if is(sub, "get") && rest >= 2 {
            0
        } else if is(sub, "set") && rest >= 3 {
            1
        } else if is(sub, "incrby") && rest >= 3 {
            2
        } else if is(sub, "overflow") && rest >= 1 {
            let how = &args[j + 1];
            overflow = if is(how, "wrap") {
                Overflow::Wrap
            } else if is(how, "sat") {
                Overflow::Sat
            } else if is(how, "fail") {
                Overflow::Fail
            } else {
                return err(errors::BITFIELD_OVERFLOW);
            };
            j += 2;
            continue;
        } else {
            return err(errors::SYNTAX);
        };
        let (signed, bits) = field_type(&args[j + 1])?;
        let offset = bit_offset(ctx, &args[j + 2], Some(bits))?;
        let op = match kind {
            0 => FieldOp::Get,
            1 => FieldOp::Set(int_arg(&args[j + 3])?),
            _ => FieldOp::IncrBy(int_arg(&args[j + 3])?),
        };
        ops.push(Field {
            op,
            signed,
            bits,
            offset,
            overflow,
        });
        j += if kind == 0 { 3 } else { 4 };
    }
    Ok(ops)
}

/// BITFIELD key [GET type offset] [SET type offset value]
/// [INCRBY type offset increment] [OVERFLOW WRAP|SAT|FAIL] ...
async fn cmd_bitfield(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    bitfield(ctx, args, false).await
}

/// BITFIELD_RO key [GET type offset] ...: BITFIELD refusing writes.
async fn cmd_bitfield_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    bitfield(ctx, args, true).await
}

/// BITFIELD, or BITFIELD_RO (`read_only`).
async fn bitfield(ctx: &mut Ctx<'_>, args: &[Bytes], read_only: bool) -> CmdResult {
    let ops = bitfield_ops(ctx, args)?;
    let key = &args[1];
    let writes = ops.iter().any(|f| f.op != FieldOp::Get);
    if !writes {
        let value = string::get(ctx, key).await?.unwrap_or_default();
        return Ok(Reply::Array(
            ops.iter()
                .map(|f| Reply::Int(read_field(&value, f)))
                .collect(),
        ));
    }
    if read_only {
        return err(errors::BITFIELD_RO);
    }
    // Room up to the farthest bit any write reaches, made even when every
    // write fails (as Redis's getOrCreateBitmap does).
    let highest = ops
        .iter()
        .filter(|f| f.op != FieldOp::Get)
        .map(|f| f.offset + f.bits as u64 - 1)
        .max()
        .unwrap_or(0);
    let (value, ttl) = current(ctx, key).await?;
    let mut out = BytesMut::from(value.as_deref().unwrap_or_default());
    let need = (highest >> 3) as usize + 1;
    let dirty = value.is_none() || out.len() < need;
    if out.len() < need {
        out.resize(need, 0);
    }
    let mut replies = Vec::with_capacity(ops.len());
    // Writes that stored something, counted as Redis 7.0 does: a value
    // that changed, or any stored write when the string was created or
    // grown (a failed write counts never).
    let mut changes = 0;
    for f in &ops {
        let reply = match f.op {
            FieldOp::Get => Reply::Int(read_field(&out, f)),
            FieldOp::Set(_) | FieldOp::IncrBy(_) => {
                let before = get_unsigned(&out, f.offset, f.bits);
                let reply = write_field(&mut out, f);
                if !matches!(reply, Reply::Nil)
                    && (dirty || before != get_unsigned(&out, f.offset, f.bits))
                {
                    changes += 1;
                }
                reply
            }
        };
        replies.push(reply);
    }
    if changes > 0 {
        store(ctx, key, value.is_some(), &out, ttl, "setbit").await?;
    } else if dirty {
        // Created or grown, with every write failed: kept, unannounced
        // but for a new key's `new`.
        if value.is_none() {
            ctx.notify(b'n', "new", key);
        }
        ctx.txn.string_put(ctx.db, key, &out, ttl).await?;
    }
    Ok(Reply::Array(replies))
}

fn read_field(p: &[u8], f: &Field) -> i64 {
    if f.signed {
        get_signed(p, f.offset, f.bits)
    } else {
        get_unsigned(p, f.offset, f.bits) as i64
    }
}

/// Runs one SET or INCRBY on the string: the reply (nil when OVERFLOW FAIL
/// refused it).
fn write_field(p: &mut [u8], f: &Field) -> Reply {
    let (incr, arg) = match f.op {
        FieldOp::IncrBy(n) => (true, n),
        FieldOp::Set(n) => (false, n),
        FieldOp::Get => unreachable!("a GET is no write"),
    };
    let (reply, new, overflow) = if f.signed {
        let old = get_signed(p, f.offset, f.bits);
        if incr {
            let (over, wrapped) = signed_overflow(old, arg, f.bits, f.overflow);
            let new = if over { wrapped } else { old.wrapping_add(arg) };
            (new, new as u64, over)
        } else {
            let (over, wrapped) = signed_overflow(arg, 0, f.bits, f.overflow);
            (old, (if over { wrapped } else { arg }) as u64, over)
        }
    } else {
        let old = get_unsigned(p, f.offset, f.bits);
        if incr {
            let (over, wrapped) = unsigned_overflow(old, arg, f.bits, f.overflow);
            let new = if over {
                wrapped
            } else {
                old.wrapping_add(arg as u64)
            };
            (new as i64, new, over)
        } else {
            let (over, wrapped) = unsigned_overflow(arg as u64, 0, f.bits, f.overflow);
            (old as i64, if over { wrapped } else { arg as u64 }, over)
        }
    };
    if overflow && f.overflow == Overflow::Fail {
        return Reply::Nil;
    }
    set_field(p, f.offset, f.bits, new);
    Reply::Int(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_and_write_msb_first() {
        let mut p = vec![0u8; 2];
        set_field(&mut p, 4, 8, 0xab);
        assert_eq!(p, [0x0a, 0xb0]);
        assert_eq!(get_unsigned(&p, 4, 8), 0xab);
        assert_eq!(get_signed(&p, 4, 8), 0xab_u8 as i8 as i64);
        assert_eq!(get_unsigned(&p, 12, 8), 0);
    }

    #[test]
    fn overflows_wrap_and_saturate_like_redis() {
        assert_eq!(unsigned_overflow(250, 10, 8, Overflow::Wrap), (true, 4));
        assert_eq!(unsigned_overflow(250, 10, 8, Overflow::Sat), (true, 255));
        assert_eq!(unsigned_overflow(5, -10, 8, Overflow::Sat), (true, 0));
        assert_eq!(signed_overflow(120, 10, 8, Overflow::Wrap), (true, -126));
        assert_eq!(signed_overflow(-120, -10, 8, Overflow::Sat), (true, -128));
        assert!(!signed_overflow(1, 1, 8, Overflow::Wrap).0);
        assert_eq!(
            signed_overflow(i64::MAX, 1, 64, Overflow::Wrap),
            (true, i64::MIN)
        );
    }
}
