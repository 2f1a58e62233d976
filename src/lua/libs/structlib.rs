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

use crate::lua::libs::trampoline::{
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
    t.raw_set(
        "pack",
        crate::lua::libs::trampoline::lib_function(lua, pack)?,
    )?;
    t.raw_set(
        "unpack",
        crate::lua::libs::trampoline::lib_function(lua, unpack)?,
    )?;
    t.raw_set(
        "size",
        crate::lua::libs::trampoline::lib_function(lua, size)?,
    )?;
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
