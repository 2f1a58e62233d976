//! `cmsgpack`: MessagePack as Redis 7.0's lua_cmsgpack 0.4.0 writes and
//! reads it.
//!
//! Packing: numbers that are whole and fit 64 bits are integers in the
//! smallest encoding, others a float when a float holds them exactly, a
//! double otherwise; strings are always `str` (fixstr, str8, str16,
//! str32); a table is an array when its keys are exactly 1..n, a map
//! otherwise; tables nested 16 deep, and values of other types, are nil.
//! Unpacking reads those plus the other integer, array and map types, not
//! `bin` nor `ext` ("Bad data format in input.").

use mlua::{Lua, Table, Value};

use super::{
    Args, LibError, LibResult, MAX_C_STACK, Results, Ret, as_number, check_stack, double_to_i32,
    double_to_i64, err_arg, err_msg, for_each_pair, lib_function,
};

/// Tables nested deeper are packed as nil (so cycles end).
const MAX_NESTING: usize = 16;

/// The `cmsgpack` table.
pub(crate) fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("pack", lib_function(lua, pack)?)?;
    t.raw_set("unpack", lib_function(lua, unpack)?)?;
    t.raw_set("unpack_one", lib_function(lua, unpack_one)?)?;
    t.raw_set("unpack_limit", lib_function(lua, unpack_limit)?)?;
    t.raw_set("_NAME", "cmsgpack")?;
    t.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.raw_set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.raw_set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(t)
}

// ---------------------------------------------------------------- packing

/// `cmsgpack.pack(...)`: the arguments packed one after the other.
fn pack(lua: &Lua, args: Args) -> LibResult<Ret> {
    let nargs = args.len();
    if nargs == 0 {
        return err_arg(0, "MessagePack pack needs input.");
    }
    // The C code keeps one string per argument beside the arguments.
    if nargs + nargs > MAX_C_STACK {
        return err_arg(0, "Too many arguments for MessagePack pack.");
    }
    let mut buf = Vec::new();
    for i in 1..=nargs {
        check_stack(nargs + i - 1, 1, "in function mp_check")?;
        let v = args.get(i).unwrap_or(Value::Nil);
        encode(&mut buf, &v, 0, nargs + i)?;
    }
    Ret::one(Value::String(lua.create_string(&buf)?))
}

/// Appends `v`, nested `level` tables deep, which the C code would hold in
/// stack slot `top`.
fn encode(buf: &mut Vec<u8>, v: &Value, level: usize, top: usize) -> LibResult<()> {
    match v {
        Value::String(s) => encode_bytes(buf, &s.as_bytes()),
        Value::Boolean(b) => buf.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(_) | Value::Number(_) => {
            encode_number(buf, as_number(v).unwrap_or_default())
        }
        Value::Table(t) if level < MAX_NESTING => encode_table(buf, t, level, top)?,
        _ => buf.push(0xc0),
    }
    Ok(())
}

fn encode_bytes(buf: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 32 {
        buf.push(0xa0 | len as u8);
    } else if len <= 0xff {
        buf.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        buf.push(0xda);
        buf.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        buf.push(0xdb);
        buf.extend_from_slice(&(len as u32).to_be_bytes());
    }
    buf.extend_from_slice(s);
}

/// Whole numbers that a 64-bit integer holds are integers; others floats.
fn encode_number(buf: &mut Vec<u8>, n: f64) {
    let i = double_to_i64(n);
    if !n.is_infinite() && i as f64 == n {
        encode_int(buf, i);
    } else {
        let f = n as f32;
        if f64::from(f) == n {
            buf.push(0xca);
            buf.extend_from_slice(&f.to_be_bytes());
        } else {
            buf.push(0xcb);
            buf.extend_from_slice(&n.to_be_bytes());
        }
    }
}

fn encode_int(buf: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        if n <= 127 {
            buf.push(n as u8);
        } else if n <= 0xff {
            buf.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            buf.push(0xcd);
            buf.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            buf.push(0xce);
            buf.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            buf.push(0xcf);
            buf.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        buf.push(n as i8 as u8);
    } else if n >= -128 {
        buf.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        buf.push(0xd1);
        buf.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        buf.push(0xd2);
        buf.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        buf.push(0xd3);
        buf.extend_from_slice(&n.to_be_bytes());
    }
}

/// An array or map header: the fix form up to 15, then 16 and 32 bits.
fn encode_header(buf: &mut Vec<u8>, n: usize, fix: u8, code16: u8) {
    if n <= 15 {
        buf.push(fix | n as u8);
    } else if n <= 0xffff {
        buf.push(code16);
        buf.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        buf.push(code16 + 1);
        buf.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn encode_table(buf: &mut Vec<u8>, t: &Table, level: usize, top: usize) -> LibResult<()> {
    check_stack(top, 2, "in function table_is_an_array")?;
    if is_array(t)? {
        let len = t.raw_len();
        encode_header(buf, len, 0x90, 0xdc);
        check_stack(top, 1, "in function mp_encode_lua_table_as_array")?;
        for j in 1..=len {
            let v: Value = t.raw_get(j)?;
            encode(buf, &v, level + 1, top + 1)?;
        }
    } else {
        check_stack(top, 3, "in function mp_encode_lua_table_as_map")?;
        let mut count = 0usize;
        for_each_pair(t, |_, _| {
            count += 1;
            Ok(true)
        })?;
        encode_header(buf, count, 0x80, 0xde);
        for_each_pair(t, |k, v| {
            encode(buf, &k, level + 1, top + 3)?;
            encode(buf, &v, level + 1, top + 2)?;
            Ok(true)
        })?;
    }
    Ok(())
}

/// Are the keys exactly 1..n? (Whole positive numbers that an `int`
/// holds, as many as the largest.) An empty table is an array.
fn is_array(t: &Table) -> LibResult<bool> {
    let (mut count, mut max, mut array) = (0i32, 0i32, true);
    for_each_pair(t, |k, _| match as_number(&k) {
        Some(n) if n > 0.0 && !n.is_infinite() && f64::from(double_to_i32(n)) == n => {
            max = max.max(n as i32);
            count = count.wrapping_add(1);
            Ok(true)
        }
        _ => {
            array = false;
            Ok(false)
        }
    })?;
    Ok(array && max == count)
}

// -------------------------------------------------------------- unpacking

/// Why decoding stopped.
enum DecodeError {
    /// Not enough data.
    Eof,
    /// A type this library does not read.
    BadFormat,
    /// Raised as is.
    Lib(LibError),
}

impl From<LibError> for DecodeError {
    fn from(e: LibError) -> Self {
        DecodeError::Lib(e)
    }
}

impl From<mlua::Error> for DecodeError {
    fn from(e: mlua::Error) -> Self {
        DecodeError::Lib(LibError::Lua(e))
    }
}

/// The bytes being read.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn left(&self) -> usize {
        self.data.len() - self.pos
    }

    fn need(&self, n: usize) -> Result<(), DecodeError> {
        if self.left() < n {
            Err(DecodeError::Eof)
        } else {
            Ok(())
        }
    }

    /// `n` bytes starting `at` bytes ahead (checked by `need` before).
    fn bytes<const N: usize>(&self, at: usize) -> [u8; N] {
        let mut b = [0u8; N];
        b.copy_from_slice(&self.data[self.pos + at..self.pos + at + N]);
        b
    }
}

/// What one item of the input starts.
enum Item {
    /// A whole value.
    Value(Value),
    /// An array or map of `len` items (pairs).
    Table { is_map: bool, len: usize },
}

/// Reads one item: a whole value, or the header of an array or map. `top`
/// is the C code's stack height before it.
fn read_item(lua: &Lua, c: &mut Cursor, top: usize) -> Result<Item, DecodeError> {
    c.need(1)?;
    check_stack(
        top,
        1,
        "too many return values at once; use unpack_one or unpack_limit instead.",
    )?;
    let code = c.data[c.pos];
    let num = |n: f64| Item::Value(Value::Number(n));
    let array = |len| Item::Table { is_map: false, len };
    let map = |len| Item::Table { is_map: true, len };
    // Unsigned integers become Lua integers (64 bits, signed) first.
    let unsigned = |n: u64| num(n as i64 as f64);
    let (item, len) = match code {
        0xcc => {
            c.need(2)?;
            (unsigned(u64::from(c.data[c.pos + 1])), 2)
        }
        0xd0 => {
            c.need(2)?;
            (num(f64::from(c.data[c.pos + 1] as i8)), 2)
        }
        0xcd => {
            c.need(3)?;
            (unsigned(u64::from(u16::from_be_bytes(c.bytes(1)))), 3)
        }
        0xd1 => {
            c.need(3)?;
            (num(f64::from(i16::from_be_bytes(c.bytes(1)))), 3)
        }
        0xce => {
            c.need(5)?;
            (unsigned(u64::from(u32::from_be_bytes(c.bytes(1)))), 5)
        }
        0xd2 => {
            c.need(5)?;
            (num(f64::from(i32::from_be_bytes(c.bytes(1)))), 5)
        }
        0xcf => {
            c.need(9)?;
            (unsigned(u64::from_be_bytes(c.bytes(1))), 9)
        }
        0xd3 => {
            c.need(9)?;
            (num(i64::from_be_bytes(c.bytes(1)) as f64), 9)
        }
        0xc0 => (Item::Value(Value::Nil), 1),
        0xc3 => (Item::Value(Value::Boolean(true)), 1),
        0xc2 => (Item::Value(Value::Boolean(false)), 1),
        0xca => {
            c.need(5)?;
            (num(f64::from(f32::from_be_bytes(c.bytes(1)))), 5)
        }
        0xcb => {
            c.need(9)?;
            (num(f64::from_be_bytes(c.bytes(1))), 9)
        }
        0xd9 => {
            c.need(2)?;
            let l = usize::from(c.data[c.pos + 1]);
            return read_string(lua, c, 2, l);
        }
        0xda => {
            c.need(3)?;
            let l = usize::from(u16::from_be_bytes(c.bytes(1)));
            return read_string(lua, c, 3, l);
        }
        0xdb => {
            c.need(5)?;
            let l = u32::from_be_bytes(c.bytes(1)) as usize;
            c.pos += 5;
            return read_string(lua, c, 0, l);
        }
        0xdc => {
            c.need(3)?;
            (array(usize::from(u16::from_be_bytes(c.bytes(1)))), 3)
        }
        0xdd => {
            c.need(5)?;
            (array(u32::from_be_bytes(c.bytes(1)) as usize), 5)
        }
        0xde => {
            c.need(3)?;
            (map(usize::from(u16::from_be_bytes(c.bytes(1)))), 3)
        }
        0xdf => {
            c.need(5)?;
            (map(u32::from_be_bytes(c.bytes(1)) as usize), 5)
        }
        _ if code & 0x80 == 0 => (num(f64::from(code)), 1),
        _ if code & 0xe0 == 0xe0 => (num(f64::from(code as i8)), 1),
        _ if code & 0xe0 == 0xa0 => return read_string(lua, c, 1, usize::from(code & 0x1f)),
        _ if code & 0xf0 == 0x90 => (array(usize::from(code & 0xf)), 1),
        _ if code & 0xf0 == 0x80 => (map(usize::from(code & 0xf)), 1),
        _ => return Err(DecodeError::BadFormat),
    };
    c.pos += len;
    Ok(item)
}

/// A string of `len` bytes after a header of `hdr` bytes.
fn read_string(lua: &Lua, c: &mut Cursor, hdr: usize, len: usize) -> Result<Item, DecodeError> {
    c.need(hdr.saturating_add(len))?;
    let start = c.pos + hdr;
    let s = lua.create_string(&c.data[start..start + len])?;
    c.pos = start + len;
    Ok(Item::Value(Value::String(s)))
}

/// An array or map being filled.
struct Frame {
    /// Items still to read (for a map, pairs).
    left: usize,
    is_map: bool,
    /// Map: its key is read and waits (in `open`) for its value.
    has_key: bool,
    /// Array: the next index.
    index: f64,
    /// The C stack height before the table was made.
    base: usize,
}

impl Frame {
    /// The C stack height before the next item: an array's items sit above
    /// the table and their index, a map's key above the table, its value
    /// above the key.
    fn item_top(&self) -> usize {
        if self.is_map && !self.has_key {
            self.base + 1
        } else {
            self.base + 2
        }
    }
}

/// The Lua table of open tables and pending keys, made on first use.
fn open_table<'a>(lua: &Lua, open: &'a mut Option<Table>) -> mlua::Result<&'a Table> {
    if open.is_none() {
        *open = Some(lua.create_table()?);
    }
    Ok(open.as_ref().expect("just made"))
}

/// Decodes one value whose C stack height before it is `top`.
///
/// Nesting is followed with a stack of frames rather than recursion (the
/// C stack allows ~4000 levels); the enclosing tables and pending map keys
/// wait in a Lua table (`open`: the table of depth d at 2d-1, its pending
/// key at 2d), so that deep nesting holds no more Rust references to Lua
/// values than shallow.
fn decode(lua: &Lua, c: &mut Cursor, top: usize) -> Result<Value, DecodeError> {
    let mut frames: Vec<Frame> = Vec::new();
    let mut open: Option<Table> = None;
    let mut cur: Option<Table> = None;
    loop {
        let at = frames.last().map_or(top, Frame::item_top);
        let mut value = match read_item(lua, c, at)? {
            Item::Value(v) => v,
            Item::Table { is_map, len } => {
                let t = lua.create_table()?;
                if !is_map {
                    check_stack(at + 1, 1, "in function mp_decode_to_lua_array")?;
                }
                if len == 0 {
                    Value::Table(t)
                } else {
                    if let Some(parent) = cur.take() {
                        open_table(lua, &mut open)?.raw_set(2 * frames.len() - 1, parent)?;
                    }
                    frames.push(Frame {
                        left: len,
                        is_map,
                        has_key: false,
                        index: 1.0,
                        base: at,
                    });
                    cur = Some(t);
                    continue;
                }
            }
        };
        // Store the value in the enclosing tables, closing those it fills.
        loop {
            let depth = frames.len();
            let Some(frame) = frames.last_mut() else {
                return Ok(value);
            };
            let t = cur.as_ref().expect("open table");
            if !frame.is_map {
                t.raw_set(frame.index, value)?;
                frame.index += 1.0;
                frame.left -= 1;
            } else if !frame.has_key {
                open_table(lua, &mut open)?.raw_set(2 * depth, value)?;
                frame.has_key = true;
                break;
            } else {
                let key: Value = open_table(lua, &mut open)?.raw_get(2 * depth)?;
                match key {
                    Value::Nil => return Err(LibError::Raw(b"table index is nil".to_vec()).into()),
                    Value::Number(n) if n.is_nan() => {
                        return Err(LibError::Raw(b"table index is NaN".to_vec()).into());
                    }
                    _ => {}
                }
                t.raw_set(key, value)?;
                frame.has_key = false;
                frame.left -= 1;
            }
            if frame.left > 0 {
                break;
            }
            frames.pop();
            value = Value::Table(cur.take().expect("open table"));
            if !frames.is_empty() {
                cur = Some(open_table(lua, &mut open)?.raw_get(2 * frames.len() - 1)?);
            }
        }
    }
}

fn unpack_error(e: DecodeError) -> LibError {
    match e {
        DecodeError::Eof => LibError::Msg(b"Missing bytes in input.".to_vec()),
        DecodeError::BadFormat => LibError::Msg(b"Bad data format in input.".to_vec()),
        DecodeError::Lib(e) => e,
    }
}

/// Decodes up to `limit` values from `offset` (all of them when both are
/// 0); but for "all", the first result is the offset after the last value
/// read, or -1 at the end of the input. `top` is the C stack height.
fn unpack_full(
    lua: &Lua,
    s: &mlua::String,
    limit: i64,
    offset: i64,
    mut top: usize,
) -> LibResult<Ret> {
    let data = s.as_bytes();
    let len = data.len();
    let decode_all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        // (The C code prints the input's length for the limit.)
        return err_msg(format!(
            "Invalid request to unpack with offset of {} and limit of {}.",
            offset as i32, len as i32
        ));
    } else if offset as u64 > len as u64 {
        return err_msg(format!(
            "Start offset {} greater than input length {}.",
            offset as i32, len as i32
        ));
    }
    let limit = if decode_all {
        i64::from(i32::MAX)
    } else {
        limit
    };
    let mut c = Cursor {
        data: &data,
        pos: offset as usize,
    };
    let mut results = Results::new(lua)?;
    if !decode_all {
        results.push(Value::Nil)?;
    }
    let mut count = 0;
    while c.left() > 0 && count < limit {
        let v = decode(lua, &mut c, top).map_err(unpack_error)?;
        results.push(v)?;
        top += 1;
        count += 1;
    }
    if !decode_all {
        check_stack(top, 1, "in function mp_unpack_full")?;
        let next = if c.left() == 0 {
            -1.0
        } else {
            (len - c.left()) as f64
        };
        results.set(1, Value::Number(next))?;
    }
    results.into_ret()
}

/// `cmsgpack.unpack(s)`: every value of `s`.
fn unpack(lua: &Lua, args: Args) -> LibResult<Ret> {
    let s = args.check_string(lua, 1)?;
    unpack_full(lua, &s, 0, 0, args.len())
}

/// `cmsgpack.unpack_one(s [, offset])`: the next offset and one value.
fn unpack_one(lua: &Lua, args: Args) -> LibResult<Ret> {
    let offset = args.opt_integer(lua, 2, 0)?;
    let s = args.check_string(lua, 1)?;
    unpack_full(lua, &s, 1, offset, 1)
}

/// `cmsgpack.unpack_limit(s, limit [, offset])`: the next offset and up
/// to `limit` values.
fn unpack_limit(lua: &Lua, args: Args) -> LibResult<Ret> {
    let limit = args.check_integer(lua, 2)?;
    let offset = args.opt_integer(lua, 3, 0)?;
    let s = args.check_string(lua, 1)?;
    unpack_full(lua, &s, limit, offset, 1)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{check_cases, run};

    #[test]
    fn can_pack_double() {
        // scripting.tcl "EVAL - cmsgpack can pack double?".
        assert_eq!(
            run(
                r#"local encoded = cmsgpack.pack(0.1); local h = ""; for i = 1, #encoded do h = h .. string.format("%02x",string.byte(encoded,i)) end; return h"#
            ),
            r#"2: true | "cb3fb999999999999a""#
        );
    }

    #[test]
    fn can_pack_negative_int64() {
        // scripting.tcl "EVAL - cmsgpack can pack negative int64?".
        assert_eq!(
            run(
                r#"local encoded = cmsgpack.pack(-1099511627776); local h = ""; for i = 1, #encoded do h = h .. string.format("%02x",string.byte(encoded,i)) end; return h"#
            ),
            r#"2: true | "d3ffffff0000000000""#
        );
    }

    #[test]
    fn circular_references() {
        // scripting.tcl "EVAL - cmsgpack can pack and unpack circular
        // references?".
        assert_eq!(
            run(
                r#"local a = {x=nil,y=5}; local b = {x=a}; a['x'] = b; local encoded = cmsgpack.pack(a); local h = ""; for i = 1, #encoded do h = h .. string.format("%02x",string.byte(encoded,i)) end; local re = cmsgpack.unpack(encoded); assert(re); assert(re.x); assert(re.x.x.y == re.y); assert(re.x.x.x.x.y == re.y); assert(re.x.x.x.x.x.x.y == re.y); assert(re.x.x.x.x.x.x.x.x.x.x.y == re.y); assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.y == re.y); assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x); assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x == nil); return h, re.x.x.x.x.x.x.x.x.y == re.y, re.y == 5"#
            ),
            r#"4: true | "82a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a178c0" | true | true"#
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
            r#"local ks = {}; for k, v in pairs(cmsgpack) do ks[#ks+1] = k end; return table.concat(ks, ',')"#,
            r#"2: true | "_DESCRIPTION,pack,_NAME,unpack,_COPYRIGHT,_VERSION,unpack_one,unpack_limit""#,
        ),
        (
            r#"return hex(cmsgpack.pack(0.1))"#,
            r#"2: true | "cb3fb999999999999a""#,
        ),
        (
            r#"return hex(cmsgpack.pack(-1099511627776))"#,
            r#"2: true | "d3ffffff0000000000""#,
        ),
        (
            r#"local r = {}; for _, n in ipairs({0,1,127,128,255,256,65535,65536,2^32-1,2^32,2^53,2^63,-2^63,-1,-32,-33,-128,-129,-32768,-32769,-2^31,-2^31-1, 2^64}) do r[#r+1] = hex(cmsgpack.pack(n)) end; return table.concat(r, ' ')"#,
            r#"2: true | "00 01 7f cc80 ccff cd0100 cdffff ce00010000 ceffffffff cf0000000100000000 cf0020000000000000 ca5f000000 d38000000000000000 ff e0 d0df d080 d1ff7f d18000 d2ffff7fff d280000000 d3ffffffff7fffffff ca5f800000""#,
        ),
        (
            r#"local r = {}; for _, n in ipairs({1.5, 0.1, 1e300, 1/0, -1/0, 0/-1, 3.4028234663852886e38, 1e39, 1e-45, 2^-149, 0.25, -2.5}) do r[#r+1] = hex(cmsgpack.pack(n)) end; return table.concat(r, ' ')"#,
            r#"2: true | "ca3fc00000 cb3fb999999999999a cb7e37e43c8800759c ca7f800000 caff800000 00 ca7f7fffff cb48078287f49c4a1d cb3696d601ad376ab9 ca00000001 ca3e800000 cac0200000""#,
        ),
        (
            r#"return hex(cmsgpack.pack(0/0))"#,
            r#"2: true | "cbfff8000000000000""#,
        ),
        (
            r#"local r = {}; for _, n in ipairs({0, 1, 31, 32, 255, 256, 65535}) do r[#r+1] = hex(cmsgpack.pack(string.rep('a', n)):sub(1, 10)) end; return table.concat(r, ' ')"#,
            r#"2: true | "a0 a161 bf616161616161616161 d9206161616161616161 d9ff6161616161616161 da010061616161616161 daffff61616161616161""#,
        ),
        (
            r#"return hex(cmsgpack.pack(string.rep('a', 65536)):sub(1, 12)), #cmsgpack.pack(string.rep('a', 65536))"#,
            r#"3: true | "db0001000061616161616161" | 65541"#,
        ),
        (
            r#"return hex(cmsgpack.pack(true, false, nil, tostring))"#,
            r#"2: true | "c3c2c0c0""#,
        ),
        (r#"return hex(cmsgpack.pack({}))"#, r#"2: true | "90""#),
        (
            r#"return hex(cmsgpack.pack({1,2,3}))"#,
            r#"2: true | "93010203""#,
        ),
        (
            r#"return hex(cmsgpack.pack({a=1}))"#,
            r#"2: true | "81a16101""#,
        ),
        (
            r#"return hex(cmsgpack.pack({1,2,nil,4}))"#,
            r#"2: true | "83010102020404""#,
        ),
        (
            r#"return hex(cmsgpack.pack({[1]=1,[3]=3}))"#,
            r#"2: true | "8201010303""#,
        ),
        (
            r#"return hex(cmsgpack.pack({[0]=1}))"#,
            r#"2: true | "810001""#,
        ),
        (
            r#"return hex(cmsgpack.pack({[1.5]=1}))"#,
            r#"2: true | "81ca3fc0000001""#,
        ),
        (
            r#"return hex(cmsgpack.pack({[2^31]=1}))"#,
            r#"2: true | "81ce8000000001""#,
        ),
        (
            r#"return hex(cmsgpack.pack({[true]=1}))"#,
            r#"2: true | "81c301""#,
        ),
        (
            r#"return hex(cmsgpack.pack({[{1}]={2}}))"#,
            r#"2: true | "8191019102""#,
        ),
        (
            r#"return hex(cmsgpack.pack({{{{}}}}))"#,
            r#"2: true | "91919190""#,
        ),
        (
            r#"local t = {}; for i = 1, 16 do t[i] = i end; return hex(cmsgpack.pack(t))"#,
            r#"2: true | "dc00100102030405060708090a0b0c0d0e0f10""#,
        ),
        (
            r#"local t = {}; for i = 1, 70000 do t[i] = 0 end; return hex(cmsgpack.pack(t):sub(1, 8))"#,
            r#"2: true | "dd00011170000000""#,
        ),
        (
            r#"local t = {}; for i = 1, 16 do t['k' .. i] = i end; return hex(cmsgpack.pack(t):sub(1, 3)), #cmsgpack.pack(t)"#,
            r#"3: true | "de0010" | 74"#,
        ),
        (
            r#"local t = {}; for i = 1, 70000 do t['k' .. i] = 0 end; return hex(cmsgpack.pack(t):sub(1, 5))"#,
            r#"2: true | "df00011170""#,
        ),
        (
            r#"local a = {x=nil,y=5}; local b = {x=a}; a['x'] = b; return hex(cmsgpack.pack(a))"#,
            r#"2: true | "82a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a178c0""#,
        ),
        (
            r#"local t = {}; t[1] = t; return hex(cmsgpack.pack(t))"#,
            r#"2: true | "91919191919191919191919191919191c0""#,
        ),
        (
            r#"local t = {}; local c = t; for i = 1, 20 do c[1] = {}; c = c[1] end; return hex(cmsgpack.pack(t))"#,
            r#"2: true | "91919191919191919191919191919191c0""#,
        ),
        (
            r#"return hex(cmsgpack.pack(1, 2, 'x', {1}))"#,
            r#"2: true | "0102a1789101""#,
        ),
        (
            r#"return cmsgpack.pack()"#,
            r#"2: false | "user_script:27: bad argument #0 to 'pack' (MessagePack pack needs input.)""#,
        ),
        (r#"return hex(cmsgpack.pack(nil))"#, r#"2: true | "c0""#),
        (
            r#"return hex(cmsgpack.pack(cjson.null))"#,
            r#"2: true | "c0""#,
        ),
        (
            r#"return cmsgpack.unpack(cmsgpack.pack(1, 'a', true, false, 1.5, 0.1, -5, {1,2}, {a={b='c'}}))"#,
            r#"10: true | 1 | "a" | true | false | 1.5 | 0.10000000000000001 | -5 | {[1]=1,[2]=2} | {["a"]={["b"]="c"}}"#,
        ),
        (
            r#"return cmsgpack.unpack('\196\1a')"#,
            r#"2: false | "user_script:27: Bad data format in input.""#,
        ),
        (
            r#"return cmsgpack.unpack('\193')"#,
            r#"2: false | "user_script:27: Bad data format in input.""#,
        ),
        (
            r#"return cmsgpack.unpack('\199\1\1a')"#,
            r#"2: false | "user_script:27: Bad data format in input.""#,
        ),
        (
            r#"return cmsgpack.unpack('\205\1')"#,
            r#"2: false | "user_script:27: Missing bytes in input.""#,
        ),
        (
            r#"return cmsgpack.unpack('\146\1')"#,
            r#"2: false | "user_script:27: Missing bytes in input.""#,
        ),
        (
            r#"return cmsgpack.unpack('\218\0\5abc')"#,
            r#"2: false | "user_script:27: Missing bytes in input.""#,
        ),
        (
            r#"return cmsgpack.unpack('\219\0\0\0\5abc')"#,
            r#"2: false | "user_script:27: Missing bytes in input.""#,
        ),
        (r#"return cmsgpack.unpack('')"#, r#"1: true"#),
        (
            r#"return cmsgpack.unpack('\207\255\255\255\255\255\255\255\255', '\207\128\0\0\0\0\0\0\0')"#,
            r#"2: true | -1"#,
        ),
        (
            r#"return cmsgpack.unpack('\207\255\255\255\255\255\255\255\255\207\128\0\0\0\0\0\0\0\207\0\0\0\1\0\0\0\0')"#,
            r#"4: true | -1 | -9.2233720368547758e+18 | 4294967296"#,
        ),
        (
            r#"return cmsgpack.unpack('\211\255\255\255\255\255\255\255\255\211\128\0\0\0\0\0\0\0')"#,
            r#"3: true | -1 | -9.2233720368547758e+18"#,
        ),
        (
            r#"return cmsgpack.unpack('\206\255\255\255\255\210\255\255\255\255\205\255\255\209\255\133\204\255\208\128\255\224\127')"#,
            r#"10: true | 4294967295 | -1 | 65535 | -123 | 255 | -128 | -1 | -32 | 127"#,
        ),
        (
            r#"return cmsgpack.unpack('\202\63\192\0\0\203\63\185\153\153\153\153\153\154')"#,
            r#"3: true | 1.5 | 0.10000000000000001"#,
        ),
        (
            r#"return cmsgpack.unpack('\129\192\1')"#,
            r#"2: false | "table index is nil""#,
        ),
        (
            r#"return cmsgpack.unpack('\129\203\127\248\0\0\0\0\0\0\1')"#,
            r#"2: false | "table index is NaN""#,
        ),
        (
            r#"return cmsgpack.unpack('\129\192')"#,
            r#"2: false | "user_script:27: Missing bytes in input.""#,
        ),
        (
            r#"return cmsgpack.unpack('\130\161a\1\161a\192')"#,
            r#"2: true | {}"#,
        ),
        (
            r#"return cmsgpack.unpack('\130\161a\1\161b')"#,
            r#"2: false | "user_script:27: Missing bytes in input.""#,
        ),
        (
            r#"return cmsgpack.unpack('\147\1\192\3')"#,
            r#"2: true | {[1]=1,[3]=3}"#,
        ),
        (
            r#"return cmsgpack.unpack('\220\0\2\1\2\221\0\0\0\1\3\222\0\1\1\2\223\0\0\0\1\3\4')"#,
            r#"5: true | {[1]=1,[2]=2} | {[1]=3} | {[1]=2} | {[3]=4}"#,
        ),
        (
            r#"return cmsgpack.unpack('\217\3abc\160')"#,
            r#"3: true | "abc" | """#,
        ),
        (
            r#"return cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3))"#,
            r#"3: true | 1 | 1"#,
        ),
        (
            r#"return cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 1)"#,
            r#"3: true | 2 | 2"#,
        ),
        (
            r#"return cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 2)"#,
            r#"3: true | -1 | 3"#,
        ),
        (
            r#"return cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 3)"#,
            r#"2: true | -1"#,
        ),
        (
            r#"return cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 4)"#,
            r#"2: false | "user_script:27: Start offset 4 greater than input length 3.""#,
        ),
        (
            r#"return cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), -1)"#,
            r#"2: false | "user_script:27: Invalid request to unpack with offset of -1 and limit of 3.""#,
        ),
        (
            r#"return cmsgpack.unpack_one('\1\2', 1, 'ignored')"#,
            r#"3: true | -1 | 2"#,
        ),
        (
            r#"return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)"#,
            r#"4: true | 2 | 1 | 2"#,
        ),
        (
            r#"return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2, 2)"#,
            r#"3: true | -1 | 3"#,
        ),
        (
            r#"return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 0)"#,
            r#"4: true | 1 | 2 | 3"#,
        ),
        (
            r#"return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 0, 1)"#,
            r#"2: true | 1"#,
        ),
        (
            r#"return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), -1)"#,
            r#"2: false | "user_script:27: Invalid request to unpack with offset of 0 and limit of 3.""#,
        ),
        (
            r#"return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 1, 10)"#,
            r#"2: false | "user_script:27: Start offset 10 greater than input length 3.""#,
        ),
        (
            r#"return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3))"#,
            r#"2: false | "user_script:27: bad argument #2 to 'unpack_limit' (number expected, got no value)""#,
        ),
        (
            r#"return cmsgpack.unpack_limit()"#,
            r#"2: false | "user_script:27: bad argument #2 to 'unpack_limit' (number expected, got no value)""#,
        ),
        (
            r#"return cmsgpack.unpack_one()"#,
            r#"2: false | "user_script:27: bad argument #1 to 'unpack_one' (string expected, got no value)""#,
        ),
        (
            r#"return cmsgpack.unpack()"#,
            r#"2: false | "user_script:27: bad argument #1 to 'unpack' (string expected, got no value)""#,
        ),
        (
            r#"return cmsgpack.unpack({})"#,
            r#"2: false | "user_script:27: bad argument #1 to 'unpack' (string expected, got table)""#,
        ),
        (r#"return cmsgpack.unpack(12)"#, r#"3: true | 49 | 50"#),
        (
            r#"return cmsgpack.unpack_limit('\1', 'x')"#,
            r#"2: false | "user_script:27: bad argument #2 to 'unpack_limit' (number expected, got string)""#,
        ),
        (
            r#"return cmsgpack.unpack_limit('\1', '1', '0')"#,
            r#"3: true | -1 | 1"#,
        ),
        (
            r#"return select('#', cmsgpack.unpack(string.rep('\1', 7990)))"#,
            r#"2: true | 7990"#,
        ),
        (
            r#"return select('#', cmsgpack.unpack(string.rep('\1', 7999)))"#,
            r#"2: true | 7999"#,
        ),
        (
            r#"return select('#', cmsgpack.unpack(string.rep('\1', 8000)))"#,
            r#"2: false | "user_script:27: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)""#,
        ),
        (
            r#"return select('#', cmsgpack.unpack(string.rep('\1', 9000)))"#,
            r#"2: false | "user_script:27: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)""#,
        ),
        (
            r#"return select('#', cmsgpack.unpack(string.rep('\1', 7998), 'x'))"#,
            r#"2: true | 7998"#,
        ),
        (
            r#"return select('#', cmsgpack.unpack_limit(string.rep('\1', 7999), 7999))"#,
            r#"2: false | "user_script:27: stack overflow (in function mp_unpack_full)""#,
        ),
        (
            r#"return select('#', cmsgpack.unpack_limit(string.rep('\1', 8000), 8000))"#,
            r#"2: false | "user_script:27: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)""#,
        ),
        (
            r#"local t = cmsgpack.unpack(string.rep('\145', 100) .. '\1'); return type(t[1][1])"#,
            r#"2: true | "table""#,
        ),
        (
            r#"return cmsgpack.unpack(string.rep('\145', 5000) .. '\1')"#,
            r#"2: false | "user_script:27: stack overflow (in function mp_decode_to_lua_array)""#,
        ),
        (
            r#"return cmsgpack.unpack(string.rep('\145', 3998) .. '\1') ~= nil"#,
            r#"2: true | true"#,
        ),
        (
            r#"return cmsgpack.unpack(string.rep('\145', 3999) .. '\1') ~= nil"#,
            r#"2: true | true"#,
        ),
        (
            r#"return cmsgpack.unpack(string.rep('\145', 4000) .. '\1') ~= nil"#,
            r#"2: false | "user_script:27: stack overflow (in function mp_decode_to_lua_array)""#,
        ),
        (
            r#"return cmsgpack.unpack(string.rep('\129\1', 3998) .. '\1') ~= nil"#,
            r#"2: true | true"#,
        ),
        (
            r#"return cmsgpack.unpack(string.rep('\129\1', 3999) .. '\1') ~= nil"#,
            r#"2: true | true"#,
        ),
        (
            r#"return cmsgpack.unpack(string.rep('\129\1', 4000) .. '\1') ~= nil"#,
            r#"2: false | "user_script:27: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)""#,
        ),
        (
            r#"return cmsgpack.unpack(string.rep('\129\1', 7998) .. '\1') ~= nil"#,
            r#"2: false | "user_script:27: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)""#,
        ),
        (
            r#"return cmsgpack.unpack(string.rep('\129\1', 7999) .. '\1') ~= nil"#,
            r#"2: false | "user_script:27: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)""#,
        ),
        (
            r#"return cmsgpack.unpack(string.rep('\129', 3000) .. '\1') ~= nil"#,
            r#"2: false | "user_script:27: Missing bytes in input.""#,
        ),
        (
            r#"return cmsgpack.unpack(string.rep('\129', 4000) .. '\1') ~= nil"#,
            r#"2: false | "user_script:27: Missing bytes in input.""#,
        ),
        (
            r#"return cmsgpack.unpack(string.rep('\129', 7999) .. '\1') ~= nil"#,
            r#"2: false | "user_script:27: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)""#,
        ),
        (
            r#"return cmsgpack.unpack(string.rep('\129', 8000) .. '\1') ~= nil"#,
            r#"2: false | "user_script:27: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)""#,
        ),
        (
            r#"return cmsgpack.unpack(string.rep('\129', 9000) .. '\1') ~= nil"#,
            r#"2: false | "user_script:27: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)""#,
        ),
        (
            r#"local t = {}; for i = 1, 4000 do t[i] = i end; return #cmsgpack.pack(unpack(t))"#,
            r#"2: true | 11618"#,
        ),
        (
            r#"local t = {}; for i = 1, 4001 do t[i] = i end; return #cmsgpack.pack(unpack(t))"#,
            r#"2: false | "user_script:27: bad argument #0 to 'pack' (Too many arguments for MessagePack pack.)""#,
        ),
        (
            r#"local t = {}; for i = 1, 4000 do t[i] = 'x' end; t[4000] = {}; return #cmsgpack.pack(unpack(t))"#,
            r#"2: false | "user_script:27: stack overflow (in function table_is_an_array)""#,
        ),
        (
            r#"local t = {}; for i = 1, 3999 do t[i] = 'x' end; t[3999] = {}; return #cmsgpack.pack(unpack(t))"#,
            r#"2: true | 7997"#,
        ),
        (
            r#"local t = {}; for i = 1, 3998 do t[i] = 'x' end; t[3998] = {1}; return #cmsgpack.pack(unpack(t))"#,
            r#"2: true | 7996"#,
        ),
        (
            r#"local t = {}; for i = 1, 3999 do t[i] = 'x' end; t[3999] = {a={}}; return #cmsgpack.pack(unpack(t))"#,
            r#"2: false | "user_script:27: stack overflow (in function mp_encode_lua_table_as_map)""#,
        ),
        (
            r#"local t = {}; for i = 1, 3998 do t[i] = 'x' end; t[3998] = {{{}}}; return #cmsgpack.pack(unpack(t))"#,
            r#"2: true | 7997"#,
        ),
        (
            r#"local t = {}; for i = 1, 3997 do t[i] = 'x' end; t[3997] = {a={b={}}}; return #cmsgpack.pack(unpack(t))"#,
            r#"2: true | 7999"#,
        ),
        (
            r#"local t = {}; for i = 1, 7000 do t[i] = 'y' .. i end; return #cmsgpack.pack(unpack(t))"#,
            r#"2: false | "user_script:27: bad argument #0 to 'pack' (Too many arguments for MessagePack pack.)""#,
        ),
        (
            r#"local str_lt_32 = string.rep("x", 30); local str_lt_255 = string.rep("x", 250); local str_lt_65535 = string.rep("x", 65530); local str_long = string.rep("x", 100000); local array_lt_15 = {1, 2, 3, 4, 5}; local array_lt_65535 = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18}; local array_big = {}; for i=1, 100000 do array_big[i] = i end; local map_lt_15 = {a=1, b=2}; local map_big = {}; for i=1, 100000 do map_big[tostring(i)] = i end; local some_map = { s1=str_lt_32, s2=str_lt_255, s3=str_lt_65535, s4=str_long, d1=0.1, i1=1, i2=250, i3=65530, i4=100000, i5=2^40, i6=-1, i7=-120, i8=-32000, i9=-100000, i10=-3147483648, a1=array_lt_15, a2=array_lt_65535, a3=array_big, m1=map_lt_15, m2=map_big, b1=false, b2=true, n=nil }; local encoded = cmsgpack.pack(some_map); local decoded = cmsgpack.unpack(encoded); assert(table.concat(some_map) == table.concat(decoded)); local offset, decoded_one = cmsgpack.unpack_one(encoded, 0); assert(table.concat(some_map) == table.concat(decoded_one)); assert(offset == -1); local encoded_multiple = cmsgpack.pack(str_lt_32, str_lt_255, str_lt_65535, str_long); local offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, 0); assert(obj == str_lt_32); offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, offset); assert(obj == str_lt_255); offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, offset); assert(obj == str_lt_65535); offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, offset); assert(obj == str_long); assert(offset == -1); return #encoded, decoded.m2['777'], #decoded.a3"#,
            r#"4: true | 1491977 | 777 | 100000"#,
        ),
        (
            r#"local a = {x=nil,y=5}; local b = {x=a}; a['x'] = b; local encoded = cmsgpack.pack(a); local re = cmsgpack.unpack(encoded); assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.y == re.y); assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x); assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x == nil); return re.x.x.x.x.x.x.x.x.y == re.y, re.y == 5"#,
            r#"3: true | true | true"#,
        ),
        (
            r#"return cmsgpack._NAME, cmsgpack._VERSION, cmsgpack._COPYRIGHT, cmsgpack._DESCRIPTION"#,
            r#"5: true | "cmsgpack" | "lua-cmsgpack 0.4.0" | "Copyright (C) 2012, Salvatore Sanfilippo" | "MessagePack C implementation for Lua""#,
        ),
        (
            r#"local f = cmsgpack.pack; return f()"#,
            r#"2: false | "user_script:27: bad argument #0 to 'f' (MessagePack pack needs input.)""#,
        ),
        (
            r#"return cmsgpack:pack()"#,
            r#"2: true | "\136\172_DESCRIPTION\217$MessagePack C implementation for Lua\164pack\192\165_NAME\168cmsgpack\166unpack\192\170_COPYRIGHT\217(Copyright (C) 2012, Salvatore Sanfilippo\168_VERSION\178lua-cmsgpack 0.4.0\170unpack_one\192\172unpack_limit\192""#,
        ),
        (
            r#"return cmsgpack.unpack('\1\2\3', 'x')"#,
            r#"4: true | 1 | 2 | 3"#,
        ),
        (
            r#"local t = setmetatable({}, {__index = function(t, k) return 'meta' end}); t[1] = 1; t[3] = 3; return cjson.encode(t), hex(cmsgpack.pack(t))"#,
            r#"3: true | "[1,null,3]" | "8201010303""#,
        ),
        (
            r#"local t = setmetatable({1, 2}, {__index = function(t, k) return 'meta' end}); return hex(cmsgpack.pack(t))"#,
            r#"2: true | "920102""#,
        ),
        (
            r#"local t = {}; for i = 1, 200 do t[i] = {i, {tostring(i)}, {x = i}} end; local s = cmsgpack.pack(t); local d = cmsgpack.unpack(s); return #s, d[100][2][1], d[200][3].x, cmsgpack.pack(d) == s"#,
            r#"5: true | 2241 | "100" | 200 | true"#,
        ),
        (
            r#"return cmsgpack.unpack('\222\0\3\161a\1\161b\2\161c\3')"#,
            r#"2: true | {["a"]=1,["c"]=3,["b"]=2}"#,
        ),
        (
            r#"return cmsgpack.unpack('\129\145\1\2')"#,
            r#"2: true | {[{[1]=1}]=2}"#,
        ),
        (
            r#"return cmsgpack.unpack('\129\129\1\2\3')"#,
            r#"2: true | {[{[1]=2}]=3}"#,
        ),
        (
            r#"return cmsgpack.unpack('\144\128\144')"#,
            r#"4: true | {} | {} | {}"#,
        ),
        (
            r#"return cmsgpack.unpack_limit('\1\2\3\4', 2, 1)"#,
            r#"4: true | 3 | 2 | 3"#,
        ),
        (
            r#"return cmsgpack.unpack_limit('\1\2\3\4', 5, 0)"#,
            r#"6: true | -1 | 1 | 2 | 3 | 4"#,
        ),
        (
            r#"return cmsgpack.unpack_limit('\1\2\3\4', 1, 3)"#,
            r#"3: true | -1 | 4"#,
        ),
        (r#"return cmsgpack.unpack_one('\1', 1)"#, r#"2: true | -1"#),
        (r#"return cmsgpack.unpack_one('', 0)"#, r#"2: true | -1"#),
        (r#"return cmsgpack.unpack_limit('', 1)"#, r#"2: true | -1"#),
        (
            r#"return cmsgpack.unpack_one('\1\2', 2^32 + 1)"#,
            r#"2: false | "user_script:27: Start offset 1 greater than input length 2.""#,
        ),
        (
            r#"return cmsgpack.unpack_one('\1\2', -2^32 - 1)"#,
            r#"2: false | "user_script:27: Invalid request to unpack with offset of -1 and limit of 2.""#,
        ),
        (
            r#"return cmsgpack.unpack_limit('\1\2', -2^32)"#,
            r#"2: false | "user_script:27: Invalid request to unpack with offset of 0 and limit of 2.""#,
        ),
        (
            r#"local s = ''; for i = 0, 255 do s = s .. string.char(i) end; return cmsgpack.unpack(cmsgpack.pack(s)) == s, hex(cmsgpack.pack(s):sub(1, 6)), hex(cmsgpack.pack({[s] = s}):sub(1, 4))"#,
            r#"4: true | true | "da0100000102" | "81da0100""#,
        ),
        (
            r#"return cmsgpack.unpack('\163\0\255\1', '\196')"#,
            r#"2: true | "\000\255\001""#,
        ),
        (
            r#"local co = coroutine.wrap(function() return select('#', cmsgpack.unpack(string.rep('\1', 7999))) end); return co()"#,
            r#"2: true | 7999"#,
        ),
    ];
}
