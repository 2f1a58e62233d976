//! `struct`: Roberto Ierusalimschy's library for packing and unpacking
//! binary structures, as Redis 7.0 ships it (`lua_struct.c`, 2018), on
//! x86-64 Linux: native order little endian, `short` 2 bytes, `long`,
//! `size_t` and `double` 8, `int` and `float` 4, largest alignment 8.
//!
//! Formats: `<` `>` (little/big endian), `![n]` (alignment, n a power of
//! 2, 8 by default), `x` (a zero byte), `b`/`B` `h`/`H` `l`/`L` `T`
//! `i[n]`/`I[n]` (signed/unsigned integers, n bytes up to 32), `f`, `d`,
//! `c[n]` (n chars; `c0`: the whole string when packing, a length read
//! just before when unpacking), `s` (zero-terminated string) and ` `.

use mlua::{Lua, Table, Value};

use super::{
    Args, LibResult, MAX_C_STACK, Results, Ret, double_to_i64, double_to_u64, err_arg, err_msg,
};

/// Bytes of the formats' native types on x86-64.
const SIZE_SHORT: usize = 2;
const SIZE_LONG: usize = 8;
const SIZE_SIZE_T: usize = 8;
const SIZE_INT: usize = 4;
const SIZE_FLOAT: usize = 4;
const SIZE_DOUBLE: usize = 8;
/// The largest integer size `i`/`I` accept.
const MAX_INT_SIZE: usize = 32;
/// The default of `!`: the alignment of a double.
const MAX_ALIGN: usize = 8;

/// The `struct` table.
pub(crate) fn module(lua: &Lua) -> mlua::Result<Table> {
    // `luaL_register` creates the table with room for its 3 functions.
    let t = lua.create_table_with_capacity(0, 3)?;
    t.raw_set("pack", super::lib_function(lua, pack)?)?;
    t.raw_set("unpack", super::lib_function(lua, unpack)?)?;
    t.raw_set("size", super::lib_function(lua, size)?)?;
    Ok(t)
}

#[derive(Clone, Copy, PartialEq)]
enum Endian {
    Big,
    Little,
}

/// The state a format sets as it goes: byte order and alignment.
struct Header {
    endian: Endian,
    align: usize,
}

impl Header {
    fn new() -> Header {
        Header {
            endian: Endian::Little,
            align: 1,
        }
    }
}

/// A format string being read. Like the C library it ends at the first
/// zero byte.
struct Format {
    bytes: Vec<u8>,
    pos: usize,
}

impl Format {
    fn new(s: &mlua::String) -> Format {
        let all = s.as_bytes();
        let end = all.iter().position(|&c| c == 0).unwrap_or(all.len());
        Format {
            bytes: all[..end].to_vec(),
            pos: 0,
        }
    }

    /// The next option, if any.
    fn next_opt(&mut self) -> Option<u8> {
        let c = self.bytes.get(self.pos).copied()?;
        self.pos += 1;
        Some(c)
    }

    /// The number that follows, or `default` if none does.
    fn number(&mut self, default: usize) -> LibResult<usize> {
        if !self.peek_digit() {
            return Ok(default);
        }
        let mut a: i32 = 0;
        while self.peek_digit() {
            let d = i32::from(self.bytes[self.pos] - b'0');
            if a > i32::MAX / 10 || a * 10 > i32::MAX - d {
                return err_msg("integral size overflow");
            }
            a = a * 10 + d;
            self.pos += 1;
        }
        Ok(a as usize)
    }

    fn peek_digit(&self) -> bool {
        self.bytes.get(self.pos).is_some_and(u8::is_ascii_digit)
    }

    /// The size of option `opt`, reading its number if it takes one; 0
    /// for the options that need no alignment.
    fn opt_size(&mut self, opt: u8) -> LibResult<usize> {
        Ok(match opt {
            b'B' | b'b' => 1,
            b'H' | b'h' => SIZE_SHORT,
            b'L' | b'l' => SIZE_LONG,
            b'T' => SIZE_SIZE_T,
            b'f' => SIZE_FLOAT,
            b'd' => SIZE_DOUBLE,
            b'x' => 1,
            b'c' => self.number(1)?,
            b'i' | b'I' => {
                let size = self.number(SIZE_INT)?;
                if size > MAX_INT_SIZE {
                    return err_msg(format!(
                        "integral size {size} is larger than limit of {MAX_INT_SIZE}"
                    ));
                }
                size
            }
            _ => 0,
        })
    }

    /// The options that set the header (or are spaces); any other is an
    /// error.
    fn control(&mut self, opt: u8, h: &mut Header) -> LibResult<()> {
        match opt {
            b' ' => {}
            b'>' => h.endian = Endian::Big,
            b'<' => h.endian = Endian::Little,
            b'!' => {
                let a = self.number(MAX_ALIGN)?;
                if !(a > 0 && a & (a - 1) == 0) {
                    return err_msg(format!("alignment {a} is not a power of 2"));
                }
                h.align = a;
            }
            _ => {
                let mut msg = b"invalid format option '".to_vec();
                msg.push(opt);
                msg.push(b'\'');
                return err_arg(1, msg);
            }
        }
        Ok(())
    }
}

/// Padding needed before an item of `size` bytes at offset `len` (the C
/// formula, also for sizes that are no power of 2).
fn to_align(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    size.wrapping_sub(len & (size - 1)) & (size - 1)
}

/// Integer option?
fn is_int_opt(opt: u8) -> bool {
    matches!(
        opt,
        b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I'
    )
}

/// Bytes of `v` in the header's order (they are little endian natively).
fn ordered<const N: usize>(mut v: [u8; N], endian: Endian) -> [u8; N] {
    if endian == Endian::Big {
        v.reverse();
    }
    v
}

/// `struct.pack(fmt, ...)`.
fn pack(lua: &Lua, args: Args) -> LibResult<Ret> {
    let mut fmt = Format::new(&args.check_string(lua, 1)?);
    // The C code pushes a nil above the arguments, which the argument
    // after the last one then reads. (Past 8192 bytes of output its
    // buffer also leaves strings there, which arguments further on would
    // read: not reproduced, they are "no value" here.)
    let args = args.with_trailing_nil();
    let mut h = Header::new();
    let mut arg = 2;
    let mut out: Vec<u8> = Vec::new();
    while let Some(opt) = fmt.next_opt() {
        let mut size = fmt.opt_size(opt)?;
        let pad = to_align(out.len(), &h, opt, size);
        out.resize(out.len() + pad, 0);
        match opt {
            _ if is_int_opt(opt) => {
                let n = args.check_number(lua, arg)?;
                arg += 1;
                // Negative numbers through `long`, others through
                // `unsigned long`; bytes past the 8th are zeros.
                let mut value = if n < 0.0 {
                    double_to_i64(n) as u64
                } else {
                    double_to_u64(n)
                };
                let mut bytes = vec![0u8; size];
                for b in bytes.iter_mut() {
                    *b = value as u8;
                    value >>= 8;
                }
                if h.endian == Endian::Big {
                    bytes.reverse();
                }
                out.extend_from_slice(&bytes);
            }
            b'x' => out.push(0),
            b'f' => {
                let f = args.check_number(lua, arg)? as f32;
                arg += 1;
                out.extend_from_slice(&ordered(f.to_le_bytes(), h.endian));
            }
            b'd' => {
                let d = args.check_number(lua, arg)?;
                arg += 1;
                out.extend_from_slice(&ordered(d.to_le_bytes(), h.endian));
            }
            b'c' | b's' => {
                let s = args.check_string(lua, arg)?;
                arg += 1;
                let s = s.as_bytes();
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    // The C library reports the argument after the string.
                    return err_arg(arg as i32, "string too short");
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                }
            }
            _ => fmt.control(opt, &mut h)?,
        }
    }
    Ret::one(Value::String(lua.create_string(&out)?))
}

/// An integer of `bytes` (in the header's order) as a number. Only the
/// low 64 bits count; signed ones are sign-extended from their top bit
/// (the C shift's count taken modulo 64 past 8 bytes).
fn get_integer(bytes: &[u8], endian: Endian, signed: bool) -> f64 {
    let mut l: u64 = 0;
    let mut push = |b: &u8| l = (l << 8) | u64::from(*b);
    match endian {
        Endian::Big => bytes.iter().for_each(&mut push),
        Endian::Little => bytes.iter().rev().for_each(&mut push),
    }
    if !signed {
        return l as f64;
    }
    let shift = ((bytes.len() as i64 * 8 - 1) & 63) as u32;
    let mask = u64::MAX << shift;
    if l & mask != 0 {
        l |= mask;
    }
    l as i64 as f64
}

/// `struct.unpack(fmt, data [, pos])`: the values, then the position
/// after the last one.
fn unpack(lua: &Lua, args: Args) -> LibResult<Ret> {
    let mut fmt = Format::new(&args.check_string(lua, 1)?);
    let data = args.check_string(lua, 2)?;
    let data = data.as_bytes();
    let ld = data.len();
    let mut pos = args.opt_integer(lua, 3, 1)? as u64 as usize;
    if pos == 0 {
        return err_arg(3, "offset must be 1 or greater");
    }
    pos -= 1;
    let too_short = || err_arg(2, "data string too short");
    let mut h = Header::new();
    let mut results = Results::new(lua)?;
    while let Some(opt) = fmt.next_opt() {
        let mut size = fmt.opt_size(opt)?;
        pos = pos.wrapping_add(to_align(pos, &h, opt, size));
        if !(size <= ld && pos <= ld - size) {
            return too_short();
        }
        if args.len() + results.len() + 2 > MAX_C_STACK {
            return err_msg("stack overflow (too many results)");
        }
        match opt {
            _ if is_int_opt(opt) => {
                let signed = opt.is_ascii_lowercase();
                let n = get_integer(&data[pos..pos + size], h.endian, signed);
                results.push(Value::Number(n))?;
            }
            b'x' => {}
            b'f' => {
                let mut b = [0u8; 4];
                b.copy_from_slice(&data[pos..pos + 4]);
                let f = f32::from_le_bytes(ordered(b, h.endian));
                results.push(Value::Number(f64::from(f)))?;
            }
            b'd' => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&data[pos..pos + 8]);
                results.push(Value::Number(f64::from_le_bytes(ordered(b, h.endian))))?;
            }
            b'c' => {
                if size == 0 {
                    // The length is the previous result, which must be a
                    // number (or a string Lua reads as one).
                    let prev = match results.last()? {
                        Some(v @ (Value::Integer(_) | Value::Number(_) | Value::String(_))) => {
                            Some(v)
                        }
                        _ => None,
                    };
                    let n = match prev {
                        Some(v) => lua.coerce_number(v)?,
                        None => None,
                    };
                    let Some(n) = n else {
                        return err_msg("format 'c0' needs a previous size");
                    };
                    size = double_to_u64(n) as usize;
                    results.pop()?;
                    if !(size <= ld && pos <= ld - size) {
                        return too_short();
                    }
                }
                results.push(Value::String(lua.create_string(&data[pos..pos + size])?))?;
            }
            b's' => {
                let Some(len) = data[pos..].iter().position(|&c| c == 0) else {
                    return err_msg("unfinished string in data");
                };
                size = len + 1;
                results.push(Value::String(lua.create_string(&data[pos..pos + len])?))?;
            }
            _ => fmt.control(opt, &mut h)?,
        }
        pos = pos.wrapping_add(size);
    }
    results.push(Value::Number(pos.wrapping_add(1) as i64 as f64))?;
    results.into_ret()
}

/// `struct.size(fmt)`: the bytes `pack` makes of a fixed-size format.
fn size(lua: &Lua, args: Args) -> LibResult<Ret> {
    let mut fmt = Format::new(&args.check_string(lua, 1)?);
    let mut h = Header::new();
    let mut pos: usize = 0;
    while let Some(opt) = fmt.next_opt() {
        let size = fmt.opt_size(opt)?;
        pos = pos.wrapping_add(to_align(pos, &h, opt, size));
        if opt == b's' {
            return err_arg(1, "option 's' has no fixed size");
        } else if opt == b'c' && size == 0 {
            return err_arg(1, "option 'c0' has no fixed size");
        }
        // Letters and digits the C library does not know pass unnoticed.
        if !opt.is_ascii_alphanumeric() {
            fmt.control(opt, &mut h)?;
        }
        pos = pos.wrapping_add(size);
    }
    Ret::one(Value::Number(pos as i64 as f64))
}

#[cfg(test)]
mod tests {
    use super::super::testing::check_cases;

    /// Everything below, compared with what Redis 7.0 answered.
    #[test]
    fn matches_redis() {
        check_cases(CASES);
    }

    /// Snippets run through `EVAL "<prelude> return run(function() <snippet> end)" 0`
    /// on Redis 7.0.15, and what it answered.
    const CASES: &[(&str, &str)] = &[
        (
            r#"local ks = {}; for k, v in pairs(struct) do ks[#ks+1] = k end; return table.concat(ks, ',')"#,
            r#"2: true | "pack,size,unpack""#,
        ),
        (
            r#"return hex(struct.pack('>i', 1)), hex(struct.pack('<i', 1)), hex(struct.pack('i', -2)), hex(struct.pack('b', -1)), hex(struct.pack('B', 255)), hex(struct.pack('h', -2)), hex(struct.pack('>H', 65535)), hex(struct.pack('l', -1)), hex(struct.pack('T', 5))"#,
            r#"10: true | "00000001" | "01000000" | "feffffff" | "ff" | "ff" | "feff" | "ffff" | "ffffffffffffffff" | "0500000000000000""#,
        ),
        (
            r#"return hex(struct.pack('>L', 2^64)), hex(struct.pack('>L', 2^63)), hex(struct.pack('>l', 0/0)), hex(struct.pack('>L', -1)), hex(struct.pack('>L', 1/0)), hex(struct.pack('>l', -1/0)), hex(struct.pack('>L', 2^64 + 2^20)), hex(struct.pack('>l', -2^63)), hex(struct.pack('>l', -2^64))"#,
            r#"10: true | "0000000000000000" | "8000000000000000" | "8000000000000000" | "ffffffffffffffff" | "0000000000000000" | "8000000000000000" | "0000000000000000" | "8000000000000000" | "8000000000000000""#,
        ),
        (
            r#"return hex(struct.pack('>i3', 0x123456)), hex(struct.pack('<i3', 0x123456)), hex(struct.pack('>i16', -1)), hex(struct.pack('<I16', 1)), hex(struct.pack('>i0', 5)), hex(struct.pack('B', 256)), hex(struct.pack('b', 1.9)), hex(struct.pack('b', -1.9))"#,
            r#"9: true | "123456" | "563412" | "0000000000000000ffffffffffffffff" | "01000000000000000000000000000000" | "" | "00" | "01" | "ff""#,
        ),
        (
            r#"return hex(struct.pack('s', 'ab\0c')), hex(struct.pack('c3', 'abcdef')), hex(struct.pack('c0', 'xyz')), hex(struct.pack('c', 'xyz'))"#,
            r#"5: true | "6162006300" | "616263" | "78797a" | "78""#,
        ),
        (
            r#"return struct.pack('c5', 'ab')"#,
            r#"2: false | "user_script:27: bad argument #3 to 'pack' (string too short)""#,
        ),
        (
            r#"return struct.pack('b c5', 1, 'ab')"#,
            r#"2: false | "user_script:27: bad argument #4 to 'pack' (string too short)""#,
        ),
        (
            r#"return hex(struct.pack('f', 1.5)), hex(struct.pack('>f', 1.5)), hex(struct.pack('>d', 0.1)), hex(struct.pack('<d', 0.1)), hex(struct.pack('f', 1e300)), hex(struct.pack('>f', 0.1))"#,
            r#"7: true | "0000c03f" | "3fc00000" | "3fb999999999999a" | "9a9999999999b93f" | "0000807f" | "3dcccccd""#,
        ),
        (
            r#"return hex(struct.pack('!4 b i', 1, 2)), hex(struct.pack('! b d', 1, 2)), hex(struct.pack('!2 b i', 1, 2)), hex(struct.pack('!8 b h b l', 1, 2, 3, 4)), hex(struct.pack('!8 b i3', 1, 2)), hex(struct.pack('!8 b c3 i', 1, 'abc', 2)), hex(struct.pack('!8 b s i', 1, 'ab', 2))"#,
            r#"8: true | "0100000002000000" | "01000000000000000000000000000040" | "010002000000" | "01000200030000000400000000000000" | "010000020000" | "0161626302000000" | "0161620002000000""#,
        ),
        (
            r#"return hex(struct.pack('x b x', 1)), hex(struct.pack(' b ', 1)), hex(struct.pack('b\0i', 1, 2)), hex(struct.pack('<>b', 1)), hex(struct.pack(''))"#,
            r#"6: true | "000100" | "01" | "01" | "01" | """#,
        ),
        (
            r#"return struct.pack('q', 1)"#,
            r#"2: false | "user_script:27: bad argument #1 to 'pack' (invalid format option 'q')""#,
        ),
        (
            r#"return struct.pack('i33', 1)"#,
            r#"2: false | "user_script:27: integral size 33 is larger than limit of 32""#,
        ),
        (
            r#"return struct.pack('!3 b', 1)"#,
            r#"2: false | "user_script:27: alignment 3 is not a power of 2""#,
        ),
        (
            r#"return struct.pack('!0 b', 1)"#,
            r#"2: false | "user_script:27: alignment 0 is not a power of 2""#,
        ),
        (
            r#"return struct.pack('i99999999999', 1)"#,
            r#"2: false | "user_script:27: integral size overflow""#,
        ),
        (
            r#"return struct.pack('c99999999999', 1)"#,
            r#"2: false | "user_script:27: integral size overflow""#,
        ),
        (
            r#"return struct.pack('b5', 1)"#,
            r#"2: false | "user_script:27: bad argument #1 to 'pack' (invalid format option '5')""#,
        ),
        (
            r#"return struct.pack('b', 'x')"#,
            r#"2: false | "user_script:27: bad argument #2 to 'pack' (number expected, got string)""#,
        ),
        (
            r#"return struct.pack('b')"#,
            r#"2: false | "user_script:27: bad argument #2 to 'pack' (number expected, got nil)""#,
        ),
        (
            r#"return struct.pack()"#,
            r#"2: false | "user_script:27: bad argument #1 to 'pack' (string expected, got no value)""#,
        ),
        (
            r#"return struct.pack(5)"#,
            r#"2: false | "user_script:27: bad argument #1 to 'pack' (invalid format option '5')""#,
        ),
        (r#"return struct.pack('s', 12)"#, r#"2: true | "12\000""#),
        (
            r#"return struct.pack('s', {})"#,
            r#"2: false | "user_script:27: bad argument #2 to 'pack' (string expected, got table)""#,
        ),
        (
            r#"return struct.pack('\200', 1)"#,
            r#"2: false | "user_script:27: bad argument #1 to 'pack' (invalid format option '\200')""#,
        ),
        (
            r#"return hex(struct.pack('b', '0x10')), hex(struct.pack('d', '1.5'))"#,
            r#"3: true | "10" | "000000000000f83f""#,
        ),
        (
            r#"return struct.unpack('>i', '\0\0\0\1'), struct.unpack('b', '\255'), struct.unpack('B', '\255'), struct.unpack('<h', '\254\255'), struct.unpack('>H', '\254\255')"#,
            r#"7: true | 1 | -1 | 255 | -2 | 65279 | 3"#,
        ),
        (
            r#"return struct.unpack('s', 'ab\0cd')"#,
            r#"3: true | "ab" | 4"#,
        ),
        (
            r#"return struct.unpack('s', 'abc')"#,
            r#"2: false | "user_script:27: unfinished string in data""#,
        ),
        (
            r#"return struct.unpack('c2', 'abc')"#,
            r#"3: true | "ab" | 3"#,
        ),
        (
            r#"return struct.unpack('b c0', '\3abcde')"#,
            r#"3: true | "abc" | 5"#,
        ),
        (
            r#"return struct.unpack('c0', 'abc')"#,
            r#"2: false | "user_script:27: format 'c0' needs a previous size""#,
        ),
        (
            r#"return struct.unpack('c1c0', '2abc')"#,
            r#"3: true | "ab" | 4"#,
        ),
        (
            r#"return struct.unpack('c1c0', 'xabc')"#,
            r#"2: false | "user_script:27: format 'c0' needs a previous size""#,
        ),
        (
            r#"return struct.unpack('b c0', '\255abc')"#,
            r#"2: false | "user_script:27: bad argument #2 to 'unpack' (data string too short)""#,
        ),
        (
            r#"return struct.unpack('i', 'ab')"#,
            r#"2: false | "user_script:27: bad argument #2 to 'unpack' (data string too short)""#,
        ),
        (
            r#"return struct.unpack('b', 'ab', 2)"#,
            r#"3: true | 98 | 3"#,
        ),
        (
            r#"return struct.unpack('b', 'ab', 3)"#,
            r#"2: false | "user_script:27: bad argument #2 to 'unpack' (data string too short)""#,
        ),
        (
            r#"return struct.unpack('b', 'ab', 0)"#,
            r#"2: false | "user_script:27: bad argument #3 to 'unpack' (offset must be 1 or greater)""#,
        ),
        (r#"return struct.unpack('', 'abc', -5)"#, r#"2: true | -5"#),
        (
            r#"return struct.unpack('b', 'abc', -1)"#,
            r#"2: false | "user_script:27: bad argument #2 to 'unpack' (data string too short)""#,
        ),
        (
            r#"return struct.unpack('b', 'abc', 2.7)"#,
            r#"3: true | 98 | 3"#,
        ),
        (
            r#"return struct.unpack('f', struct.pack('f', 1.5)), struct.unpack('>d', struct.pack('>d', 0.1)), struct.unpack('>f', struct.pack('>f', 0.1))"#,
            r#"5: true | 1.5 | 0.10000000000000001 | 0.10000000149011612 | 5"#,
        ),
        (
            r#"return struct.unpack('i16', string.rep('\255', 16)), struct.unpack('I9', string.rep('\255', 9)), struct.unpack('>i9', '\0' .. string.rep('\255', 8)), struct.unpack('<i9', string.rep('\255', 8) .. '\0'), struct.unpack('I8', string.rep('\255', 8)), struct.unpack('i8', '\0\0\0\0\0\0\0\128'), struct.unpack('i0', '')"#,
            r#"9: true | -1 | 1.8446744073709552e+19 | -1 | -1 | 1.8446744073709552e+19 | -9.2233720368547758e+18 | 0 | 1"#,
        ),
        (
            r#"return struct.unpack('!8 b d', struct.pack('!8 b d', 1, 2.5))"#,
            r#"4: true | 1 | 2.5 | 17"#,
        ),
        (
            r#"return struct.unpack('!4 b i b i', struct.pack('!4 b i b i', 1, 2, 3, 4))"#,
            r#"6: true | 1 | 2 | 3 | 4 | 17"#,
        ),
        (
            r#"return struct.unpack('x b x', '\0\7\0')"#,
            r#"3: true | 7 | 4"#,
        ),
        (
            r#"return struct.unpack('x b x', '\0\7')"#,
            r#"2: false | "user_script:27: bad argument #2 to 'unpack' (data string too short)""#,
        ),
        (
            r#"return struct.unpack('q', 'abc')"#,
            r#"2: false | "user_script:27: bad argument #1 to 'unpack' (invalid format option 'q')""#,
        ),
        (
            r#"return struct.unpack('b')"#,
            r#"2: false | "user_script:27: bad argument #2 to 'unpack' (string expected, got no value)""#,
        ),
        (
            r#"return struct.unpack()"#,
            r#"2: false | "user_script:27: bad argument #1 to 'unpack' (string expected, got no value)""#,
        ),
        (
            r#"return struct.unpack('b', 'a', 'x')"#,
            r#"2: false | "user_script:27: bad argument #3 to 'unpack' (number expected, got string)""#,
        ),
        (
            r#"return struct.unpack('>l', '\128\0\0\0\0\0\0\0'), struct.unpack('>L', '\128\0\0\0\0\0\0\0'), struct.unpack('>L', '\255\255\255\255\255\255\255\255')"#,
            r#"5: true | -9.2233720368547758e+18 | 9.2233720368547758e+18 | 1.8446744073709552e+19 | 9"#,
        ),
        (
            r#"return struct.size('i'), struct.size('!8 b d'), struct.size('q'), struct.size('c5'), struct.size('>l h'), struct.size('!'), struct.size(''), struct.size('5'), struct.size('i3 i3'), struct.size('!4 i3 b i3'), struct.size('x'), struct.size('T')"#,
            r#"13: true | 4 | 16 | 0 | 5 | 10 | 0 | 0 | 0 | 6 | 9 | 1 | 8"#,
        ),
        (
            r#"return struct.size('s')"#,
            r#"2: false | "user_script:27: bad argument #1 to 'size' (option 's' has no fixed size)""#,
        ),
        (
            r#"return struct.size('c0')"#,
            r#"2: false | "user_script:27: bad argument #1 to 'size' (option 'c0' has no fixed size)""#,
        ),
        (
            r#"return struct.size('!3')"#,
            r#"2: false | "user_script:27: alignment 3 is not a power of 2""#,
        ),
        (
            r#"return struct.size('%')"#,
            r#"2: false | "user_script:27: bad argument #1 to 'size' (invalid format option '%')""#,
        ),
        (
            r#"return struct.size()"#,
            r#"2: false | "user_script:27: bad argument #1 to 'size' (string expected, got no value)""#,
        ),
        (
            r#"return struct.size('b s')"#,
            r#"2: false | "user_script:27: bad argument #1 to 'size' (option 's' has no fixed size)""#,
        ),
        (
            r#"return select('#', struct.unpack(string.rep('b', 7990), string.rep('a', 7990)))"#,
            r#"2: true | 7991"#,
        ),
        (
            r#"return select('#', struct.unpack(string.rep('b', 7995), string.rep('a', 7995)))"#,
            r#"2: true | 7996"#,
        ),
        (
            r#"return select('#', struct.unpack(string.rep('b', 7996), string.rep('a', 7996)))"#,
            r#"2: true | 7997"#,
        ),
        (
            r#"return select('#', struct.unpack(string.rep('b', 7997), string.rep('a', 7997)))"#,
            r#"2: true | 7998"#,
        ),
        (
            r#"return select('#', struct.unpack(string.rep('b', 7998), string.rep('a', 7998)))"#,
            r#"2: false | "user_script:27: stack overflow (too many results)""#,
        ),
        (
            r#"return select('#', struct.unpack(string.rep('b', 7996), string.rep('a', 7996), 1))"#,
            r#"2: true | 7997"#,
        ),
        (
            r#"return select('#', struct.unpack(string.rep('x', 9000) .. 'b', string.rep('a', 9001)))"#,
            r#"2: true | 2"#,
        ),
        (
            r#"local t = {}; for i = 1, 7000 do t[i] = 'z' .. i end; return #struct.pack(string.rep('s', 7000), unpack(t))"#,
            r#"2: true | 40893"#,
        ),
        (
            r#"return struct.pack('>I2', 65536 + 258), struct.unpack('<I2', 'ab')"#,
            r#"4: true | "\001\002" | 25185 | 3"#,
        ),
        (
            r#"return struct.unpack('!8 b T', struct.pack('!8 b T', 1, 2^40))"#,
            r#"4: true | 1 | 1099511627776 | 17"#,
        ),
        (
            r#"return struct.pack('c0 b', 'ab')"#,
            r#"2: false | "user_script:27: bad argument #3 to 'pack' (number expected, got nil)""#,
        ),
        (r#"return struct.pack('s', '')"#, r#"2: true | "\000""#),
        (
            r#"return hex(struct.pack('b b b', 1, 2, 3)), struct.pack('b b b', 1, 2)"#,
            r#"2: false | "user_script:27: bad argument #4 to 'pack' (number expected, got nil)""#,
        ),
        (
            r#"return struct.size('!4 i3 b i3'), struct.size('!2 d b'), struct.size('!16 b d')"#,
            r#"4: true | 9 | 9 | 16"#,
        ),
        (
            r#"local s = ''; for i = 0, 255 do s = s .. string.char(i) end; return struct.unpack('c256', s) == s, struct.unpack('>I4', s, 253), hex(struct.pack('c0', s):sub(250))"#,
            r#"4: true | true | 4244504319 | "f9fafbfcfdfeff""#,
        ),
        (
            r#"return hex(struct.pack('s c2', '\255\0\1', '\0\254')), struct.unpack('s', '\255\254\0')"#,
            r#"4: true | "ff00010000fe" | "\255\254" | 4"#,
        ),
        (
            r#"local ok, e = pcall(struct.unpack, 'b', 'ab', 0); return e"#,
            r#"2: true | "bad argument #3 to '?' (offset must be 1 or greater)""#,
        ),
        (
            r#"local t = {}; for i = 1, 40 do t[i] = 'a' end; return select('#', struct.unpack(string.rep('c1', 40), table.concat(t)))"#,
            r#"2: true | 41"#,
        ),
        (
            r#"local t = {}; for i = 1, 40 do t[i] = i end; local ok, e = pcall(struct.pack, 'b', unpack(t)); return ok, hex(e)"#,
            r#"3: true | true | "01""#,
        ),
        (
            r#"local t = {}; for i = 1, 40 do t[i] = i end; t[41] = 'x'; return struct.pack(string.rep('b', 41), unpack(t))"#,
            r#"2: false | "user_script:27: bad argument #42 to 'pack' (number expected, got string)""#,
        ),
        (
            r#"local t = {}; for i = 1, 40 do t[i] = i end; return struct.pack(string.rep('b', 41), unpack(t))"#,
            r#"2: false | "user_script:27: bad argument #42 to 'pack' (number expected, got nil)""#,
        ),
    ];
}
