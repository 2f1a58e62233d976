//! `bit`: LuaBitOp 1.0 as Redis builds it (Lua 5.1, numbers as doubles).
//!
//! Operands are doubles mapped to 32 bits the way LuaBitOp does: adding
//! 2^52 + 2^51 and keeping the low word of the sum's bits, which rounds to
//! the nearest integer (ties to even) and wraps modulo 2^32. Results are
//! the signed 32-bit value as a number.

use mlua::{Lua, Table, Value};

use super::{Args, LibResult, Ret, lib_function};

/// The `bit` table.
pub(crate) fn module(lua: &Lua) -> mlua::Result<Table> {
    // `luaL_register` creates the table with room for its 12 functions.
    let t = lua.create_table_with_capacity(0, 12)?;
    t.raw_set("tobit", lib_function(lua, |lua, a| ret(barg(lua, &a, 1)?))?)?;
    t.raw_set("bnot", lib_function(lua, |lua, a| ret(!barg(lua, &a, 1)?))?)?;
    t.raw_set(
        "band",
        lib_function(lua, |lua, a| fold(lua, &a, |x, y| x & y))?,
    )?;
    t.raw_set(
        "bor",
        lib_function(lua, |lua, a| fold(lua, &a, |x, y| x | y))?,
    )?;
    t.raw_set(
        "bxor",
        lib_function(lua, |lua, a| fold(lua, &a, |x, y| x ^ y))?,
    )?;
    t.raw_set(
        "lshift",
        lib_function(lua, |lua, a| shift(lua, &a, |b, n| b << n))?,
    )?;
    t.raw_set(
        "rshift",
        lib_function(lua, |lua, a| shift(lua, &a, |b, n| b >> n))?,
    )?;
    t.raw_set(
        "arshift",
        lib_function(lua, |lua, a| {
            shift(lua, &a, |b, n| ((b as i32) >> n) as u32)
        })?,
    )?;
    t.raw_set(
        "rol",
        lib_function(lua, |lua, a| shift(lua, &a, u32::rotate_left))?,
    )?;
    t.raw_set(
        "ror",
        lib_function(lua, |lua, a| shift(lua, &a, u32::rotate_right))?,
    )?;
    t.raw_set(
        "bswap",
        lib_function(lua, |lua, a| ret(barg(lua, &a, 1)?.swap_bytes()))?,
    )?;
    t.raw_set("tohex", lib_function(lua, tohex)?)?;
    Ok(t)
}

/// The 32 bits of argument `i`. As LuaBitOp on Lua 5.1, a value that is
/// no number (nor numeric string) is an error only when its bits come out
/// as 0, which they always do.
fn barg(lua: &Lua, args: &Args, i: usize) -> LibResult<u32> {
    let n = args.to_number(lua, i)?;
    let b = (n.unwrap_or(0.0) + 6_755_399_441_055_744.0).to_bits() as u32;
    if b == 0 && n.is_none() {
        return args.type_error(i, "number");
    }
    Ok(b)
}

/// A result: the bits as a signed 32-bit number.
fn ret(b: u32) -> LibResult<Ret> {
    Ret::one(Value::Number(f64::from(b as i32)))
}

/// `band`/`bor`/`bxor`: the first argument, then the others from the last
/// to the second (the order LuaBitOp reads them in, which decides which
/// bad argument is reported).
fn fold(lua: &Lua, args: &Args, op: fn(u32, u32) -> u32) -> LibResult<Ret> {
    let mut b = barg(lua, args, 1)?;
    for i in (2..=args.len()).rev() {
        b = op(b, barg(lua, args, i)?);
    }
    ret(b)
}

/// The shifts and rotations: the count is taken modulo 32.
fn shift(lua: &Lua, args: &Args, op: fn(u32, u32) -> u32) -> LibResult<Ret> {
    let b = barg(lua, args, 1)?;
    let n = barg(lua, args, 2)? & 31;
    ret(op(b, n))
}

/// `tohex(x [, n])`: the low `|n|` hex digits (8 by default, at most 8),
/// upper case when `n` is negative.
fn tohex(lua: &Lua, args: Args) -> LibResult<Ret> {
    let mut b = barg(lua, &args, 1)?;
    let mut n = if args.len() < 2 {
        8
    } else {
        barg(lua, &args, 2)? as i32
    };
    let digits: &[u8; 16] = if n < 0 {
        n = n.wrapping_neg();
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    // -2^31 stays negative: LuaBitOp would then ask Lua for a string of
    // 2^64 - 2^31 bytes; answer an empty string instead.
    let n = n.clamp(0, 8) as usize;
    let mut buf = [0u8; 8];
    for slot in buf[..n].iter_mut().rev() {
        *slot = digits[(b & 15) as usize];
        b >>= 4;
    }
    Ret::one(Value::String(lua.create_string(&buf[..n])?))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{check_cases, run};

    #[test]
    fn minimal_bitop_functionality() {
        // scripting.tcl "EVAL - Verify minimal bitop functionality".
        assert_eq!(
            run(
                r#"assert(bit.tobit(1) == 1); assert(bit.band(1) == 1); assert(bit.bxor(1,2) == 3); assert(bit.bor(1,2,4,8,16,32,64,128) == 255)"#
            ),
            "1: true"
        );
    }

    #[test]
    fn numerical_sanity_check_from_bitop() {
        // scripting.tcl "EVAL - Numerical sanity check from bitop".
        assert_eq!(
            run(
                r#"assert(0x7fffffff == 2147483647, "broken hex literals"); assert(0xffffffff == -1 or 0xffffffff == 2^32-1, "broken hex literals"); assert(tostring(-1) == "-1", "broken tostring()"); assert(tostring(0xffffffff) == "-1" or tostring(0xffffffff) == "4294967295", "broken tostring()")"#
            ),
            "1: true"
        );
    }

    /// Everything below, compared with what Redis 7.0 answered.
    #[test]
    fn matches_redis() {
        check_cases(CASES);
    }

    /// Snippets run through `EVAL "<prelude> return run(function() <snippet> end)" 0`
    /// on Redis 7.0.15, and what it answered.
    const CASES: &[(&str, &str)] = &[
        (
            r#"local ks = {}; for k, v in pairs(bit) do ks[#ks+1] = k end; return table.concat(ks, ',')"#,
            r#"2: true | "band,rshift,bor,bnot,bswap,bxor,tobit,ror,lshift,tohex,rol,arshift""#,
        ),
        (
            r#"return bit.tobit(2^32+1), bit.tobit(2^31), bit.tobit(-1), bit.tobit(1.5), bit.tobit(2.5), bit.tobit(0.5), bit.tobit(-0.5), bit.tobit(-1.5), bit.tobit(2^52), bit.tobit(2^52+1), bit.tobit(2^53+2), bit.tobit(2^60+3), bit.tobit(-2^60-3)"#,
            r#"14: true | 1 | -2147483648 | -1 | 2 | 2 | 0 | 0 | -2 | 0 | 0 | 1 | 0 | 0"#,
        ),
        (
            r#"return bit.tobit('10'), bit.tobit('0x10'), bit.tobit(' 12 '), bit.tobit(1/0), bit.tobit(-1/0), bit.tobit(0/0), bit.tobit(1e300)"#,
            r#"8: true | 10 | 16 | 12 | 0 | 0 | 0 | -2013235812"#,
        ),
        (
            r#"return bit.tobit('x')"#,
            r#"2: false | "user_script:27: bad argument #1 to 'tobit' (number expected, got string)""#,
        ),
        (
            r#"return bit.tobit()"#,
            r#"2: false | "user_script:27: bad argument #1 to 'tobit' (number expected, got no value)""#,
        ),
        (
            r#"return bit.tobit(nil)"#,
            r#"2: false | "user_script:27: bad argument #1 to 'tobit' (number expected, got nil)""#,
        ),
        (
            r#"return bit.tobit({})"#,
            r#"2: false | "user_script:27: bad argument #1 to 'tobit' (number expected, got table)""#,
        ),
        (
            r#"return bit.tohex(255), bit.tohex(-1), bit.tohex(255, 2), bit.tohex(255, -4), bit.tohex(255, 10), bit.tohex(255, 0), bit.tohex(0x12345678, 3), bit.tohex(0x12345678, -8), bit.tohex(1, 2^32+2)"#,
            r#"10: true | "000000ff" | "ffffffff" | "ff" | "00FF" | "000000ff" | "" | "678" | "12345678" | "01""#,
        ),
        (
            r#"return bit.tohex(255, nil)"#,
            r#"2: false | "user_script:27: bad argument #2 to 'tohex' (number expected, got nil)""#,
        ),
        (
            r#"return bit.tohex()"#,
            r#"2: false | "user_script:27: bad argument #1 to 'tohex' (number expected, got no value)""#,
        ),
        (
            r#"return bit.bnot(0), bit.bnot(-1), bit.bnot(0x12345678)"#,
            r#"4: true | -1 | 0 | -305419897"#,
        ),
        (
            r#"return bit.band(0xff, 0x0f), bit.band(-1, 0x80000000), bit.bor(), bit.bxor(1,2,3)"#,
            r#"2: false | "user_script:27: bad argument #1 to 'bor' (number expected, got no value)""#,
        ),
        (
            r#"return bit.bor()"#,
            r#"2: false | "user_script:27: bad argument #1 to 'bor' (number expected, got no value)""#,
        ),
        (
            r#"return bit.band(0xff, 'x', 'y')"#,
            r#"2: false | "user_script:27: bad argument #3 to 'band' (number expected, got string)""#,
        ),
        (
            r#"return bit.band('x', 'y')"#,
            r#"2: false | "user_script:27: bad argument #1 to 'band' (number expected, got string)""#,
        ),
        (
            r#"return bit.band(1, 'a')"#,
            r#"2: false | "user_script:27: bad argument #2 to 'band' (number expected, got string)""#,
        ),
        (
            r#"return bit.lshift(1, 31), bit.lshift(1, 32), bit.lshift(1, -1), bit.lshift(1, 33), bit.rshift(-1, 28), bit.rshift(-1, 0), bit.arshift(-256, 4), bit.arshift(0x80000000, 31), bit.arshift(256, 4)"#,
            r#"10: true | -2147483648 | 1 | -2147483648 | 2 | 15 | -1 | -16 | -1 | 16"#,
        ),
        (
            r#"return bit.rol(0x12345678, 4), bit.ror(0x12345678, 4), bit.bswap(0x12345678), bit.rol(1, 0), bit.ror(1, 32), bit.rol(0x80000000, 1), bit.ror(1, 1), bit.rol(1, -1)"#,
            r#"9: true | 591751041 | -2128394905 | 2018915346 | 1 | 1 | 1 | -2147483648 | -2147483648"#,
        ),
        (
            r#"return bit.lshift(1)"#,
            r#"2: false | "user_script:27: bad argument #2 to 'lshift' (number expected, got no value)""#,
        ),
        (
            r#"return bit.lshift()"#,
            r#"2: false | "user_script:27: bad argument #1 to 'lshift' (number expected, got no value)""#,
        ),
        (
            r#"return bit.rol('a', 1)"#,
            r#"2: false | "user_script:27: bad argument #1 to 'rol' (number expected, got string)""#,
        ),
        (
            r#"return bit.bswap(-1), bit.bswap(0xff)"#,
            r#"3: true | -1 | -16777216"#,
        ),
        (
            r#"return bit.tobit(1, 2, 3), bit.bnot(1, 'x')"#,
            r#"3: true | 1 | -2"#,
        ),
        (
            r#"return bit.bor(1, 2, 4, 8, 16, 32, 64, 128)"#,
            r#"2: true | 255"#,
        ),
        (
            r#"local t = {}; for i = 1, 100 do t[i] = 2^(i % 32) end; return bit.bor(unpack(t))"#,
            r#"2: true | -1"#,
        ),
        (
            r#"return bit.tohex(-1, -2147483647), bit.tohex(15, -1)"#,
            r#"3: true | "FFFFFFFF" | "F""#,
        ),
        (
            r#"return bit.band(unpack({1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,'x',1}))"#,
            r#"2: false | "user_script:27: bad argument #35 to 'band' (number expected, got string)""#,
        ),
    ];
}
