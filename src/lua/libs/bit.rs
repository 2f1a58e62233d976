//! `bit`: LuaBitOp 1.0 as Redis builds it (Lua 5.1, numbers as doubles).
//!
//! Operands are doubles mapped to 32 bits the way LuaBitOp does: adding
//! 2^52 + 2^51 and keeping the low word of the sum's bits, which rounds to
//! the nearest integer (ties to even) and wraps modulo 2^32. Results are
//! the signed 32-bit value as a number.

use mlua::{Lua, Table, Value};

use crate::lua::libs::trampoline::{Args, LibResult, Ret, lib_function};

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
