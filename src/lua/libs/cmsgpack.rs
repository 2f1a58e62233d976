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

use crate::lua::libs::trampoline::{
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
