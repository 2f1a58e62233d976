//! `cjson`: JSON as Redis 7.0's Lua CJSON 2.1.0 writes and reads it.
//!
//! Encoding: numbers with `%.14g` (the precision is configurable), `/`
//! escaped as `\/`, control characters and DEL as `\uXXXX` (or `\b` `\t`
//! `\n` `\f` `\r`), other bytes as they are; a table whose keys are all
//! whole numbers >= 1 is an array (holes as `null`) unless excessively
//! sparse, any other an object (number keys as strings); `cjson.null` and
//! nil are `null`. Decoding: `null` is `cjson.null` (a NULL light
//! userdata); numbers as C's `strtod` reads them, so hexadecimal, `inf`
//! and `nan` too unless `decode_invalid_numbers` is off; the input ends
//! at its first zero byte.
//!
//! The configuration functions and `cjson.new()` (an independent copy)
//! are those of Lua CJSON; each module table has its own settings.

use std::ffi::c_char;
use std::sync::{Arc, Mutex};

use mlua::{LightUserData, Lua, MultiValue, Table, Value};

use super::{
    Args, LibResult, MAX_C_STACK, Ret, as_number, double_to_i32, err_arg, err_msg, for_each_pair,
    lib_function, table_next, type_name,
};

/// The settings of one module table (the C names and defaults).
#[derive(Clone, Copy)]
struct Config {
    encode_sparse_convert: i32,
    encode_sparse_ratio: i32,
    encode_sparse_safe: i32,
    encode_max_depth: i32,
    /// 0: an error, 1: `inf`/`nan`, 2: `null`.
    encode_invalid_numbers: i32,
    encode_number_precision: i32,
    encode_keep_buffer: i32,
    decode_invalid_numbers: i32,
    decode_max_depth: i32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            encode_sparse_convert: 0,
            encode_sparse_ratio: 2,
            encode_sparse_safe: 10,
            encode_max_depth: 1000,
            encode_invalid_numbers: 0,
            encode_number_precision: 14,
            encode_keep_buffer: 1,
            decode_invalid_numbers: 1,
            decode_max_depth: 1000,
        }
    }
}

type Shared = Arc<Mutex<Config>>;

fn settings(cfg: &Shared) -> std::sync::MutexGuard<'_, Config> {
    cfg.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `cjson.null`.
fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

/// A `cjson` table with default settings.
pub(crate) fn module(lua: &Lua) -> mlua::Result<Table> {
    let cfg: Shared = Arc::new(Mutex::new(Config::default()));
    let t = lua.create_table()?;
    let with_cfg = |f: fn(&Lua, Args, &Shared) -> LibResult<Ret>| {
        let cfg = cfg.clone();
        lib_function(lua, move |lua, args| f(lua, args, &cfg))
    };
    t.raw_set("encode", with_cfg(encode)?)?;
    t.raw_set("decode", with_cfg(decode)?)?;
    t.raw_set("encode_sparse_array", with_cfg(cfg_encode_sparse_array)?)?;
    t.raw_set("encode_max_depth", with_cfg(cfg_encode_max_depth)?)?;
    t.raw_set("decode_max_depth", with_cfg(cfg_decode_max_depth)?)?;
    t.raw_set(
        "encode_number_precision",
        with_cfg(cfg_encode_number_precision)?,
    )?;
    t.raw_set("encode_keep_buffer", with_cfg(cfg_encode_keep_buffer)?)?;
    t.raw_set(
        "encode_invalid_numbers",
        with_cfg(cfg_encode_invalid_numbers)?,
    )?;
    t.raw_set(
        "decode_invalid_numbers",
        with_cfg(cfg_decode_invalid_numbers)?,
    )?;
    t.raw_set(
        "new",
        lib_function(lua, |lua, _| Ret::one(Value::Table(module(lua)?)))?,
    )?;
    t.raw_set("null", null())?;
    t.raw_set("_NAME", "cjson")?;
    t.raw_set("_VERSION", "2.1.0")?;
    Ok(t)
}

// ---------------------------------------------------------- configuration

/// Allows at most `n` arguments.
fn arg_init(args: &Args, n: usize) -> LibResult<()> {
    if args.len() > n {
        return err_arg(n as i32 + 1, "found too many arguments");
    }
    Ok(())
}

/// A setting among `options` (by name, or a boolean for the first two);
/// answers the setting, as a boolean when it is off or on.
fn enum_option(
    lua: &Lua,
    args: &Args,
    i: usize,
    setting: &mut i32,
    options: &[&str],
) -> LibResult<Value> {
    match args.get(i) {
        None | Some(Value::Nil) => {}
        Some(Value::Boolean(b)) => *setting = i32::from(b),
        Some(_) => {
            let name = args.check_string(lua, i)?;
            let name = name.as_bytes();
            match options.iter().position(|o| o.as_bytes() == &name[..]) {
                Some(k) => *setting = k as i32,
                None => {
                    // `%s` stops at a zero byte.
                    let shown = name.split(|&c| c == 0).next().unwrap_or_default();
                    let mut msg = b"invalid option '".to_vec();
                    msg.extend_from_slice(shown);
                    msg.push(b'\'');
                    return err_arg(i as i32, msg);
                }
            }
        }
    }
    Ok(match *setting {
        0 | 1 => Value::Boolean(*setting == 1),
        k => Value::String(lua.create_string(options[k as usize])?),
    })
}

/// An integer setting within `min..=max` (out of range: an error on
/// argument 1, whichever argument it is, as in the C code).
fn integer_option(
    lua: &Lua,
    args: &Args,
    i: usize,
    setting: &mut i32,
    min: i32,
    max: i32,
) -> LibResult<Value> {
    if !args.is_none_or_nil(i) {
        let value = args.check_integer(lua, i)? as i32;
        if !(min <= value && value <= max) {
            return err_arg(1, format!("expected integer between {min} and {max}"));
        }
        *setting = value;
    }
    Ok(Value::Integer((*setting).into()))
}

const ON_OFF: &[&str] = &["off", "on"];

fn cfg_encode_sparse_array(lua: &Lua, args: Args, cfg: &Shared) -> LibResult<Ret> {
    arg_init(&args, 3)?;
    let mut cfg = settings(cfg);
    let convert = enum_option(lua, &args, 1, &mut cfg.encode_sparse_convert, ON_OFF)?;
    let ratio = integer_option(lua, &args, 2, &mut cfg.encode_sparse_ratio, 0, i32::MAX)?;
    let safe = integer_option(lua, &args, 3, &mut cfg.encode_sparse_safe, 0, i32::MAX)?;
    Ok(Ret::Values(MultiValue::from_vec(vec![
        convert, ratio, safe,
    ])))
}

fn cfg_encode_max_depth(lua: &Lua, args: Args, cfg: &Shared) -> LibResult<Ret> {
    arg_init(&args, 1)?;
    let mut cfg = settings(cfg);
    Ret::one(integer_option(
        lua,
        &args,
        1,
        &mut cfg.encode_max_depth,
        1,
        i32::MAX,
    )?)
}

fn cfg_decode_max_depth(lua: &Lua, args: Args, cfg: &Shared) -> LibResult<Ret> {
    arg_init(&args, 1)?;
    let mut cfg = settings(cfg);
    Ret::one(integer_option(
        lua,
        &args,
        1,
        &mut cfg.decode_max_depth,
        1,
        i32::MAX,
    )?)
}

fn cfg_encode_number_precision(lua: &Lua, args: Args, cfg: &Shared) -> LibResult<Ret> {
    arg_init(&args, 1)?;
    let mut cfg = settings(cfg);
    Ret::one(integer_option(
        lua,
        &args,
        1,
        &mut cfg.encode_number_precision,
        1,
        14,
    )?)
}

/// Kept for compatibility: whether the encoder reuses its buffer has no
/// visible effect.
fn cfg_encode_keep_buffer(lua: &Lua, args: Args, cfg: &Shared) -> LibResult<Ret> {
    arg_init(&args, 1)?;
    let mut cfg = settings(cfg);
    Ret::one(enum_option(
        lua,
        &args,
        1,
        &mut cfg.encode_keep_buffer,
        ON_OFF,
    )?)
}

fn cfg_encode_invalid_numbers(lua: &Lua, args: Args, cfg: &Shared) -> LibResult<Ret> {
    arg_init(&args, 1)?;
    let mut cfg = settings(cfg);
    let options = &["off", "on", "null"];
    Ret::one(enum_option(
        lua,
        &args,
        1,
        &mut cfg.encode_invalid_numbers,
        options,
    )?)
}

fn cfg_decode_invalid_numbers(lua: &Lua, args: Args, cfg: &Shared) -> LibResult<Ret> {
    arg_init(&args, 1)?;
    let mut cfg = settings(cfg);
    Ret::one(enum_option(
        lua,
        &args,
        1,
        &mut cfg.decode_invalid_numbers,
        ON_OFF,
    )?)
}

// --------------------------------------------------------------- encoding

/// `number` as C's `printf("%.{precision}g")` writes it.
fn format_g(number: f64, precision: usize) -> String {
    if number.is_nan() {
        return if number.is_sign_negative() {
            "-nan"
        } else {
            "nan"
        }
        .to_string();
    }
    if number.is_infinite() {
        return if number < 0.0 { "-inf" } else { "inf" }.to_string();
    }
    let p = precision.max(1);
    if number == 0.0 {
        return if number.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    // Rust's formatting rounds exactly (ties to even), as glibc does.
    let sci = format!("{:.*e}", p - 1, number);
    let (mantissa, exp) = sci.split_once('e').expect("exponent");
    let exp: i32 = exp.parse().expect("exponent");
    if exp < -4 || exp >= p as i32 {
        let mantissa = strip_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
    } else {
        let decimals = (p as i32 - 1 - exp) as usize;
        strip_zeros(&format!("{number:.decimals$}")).to_string()
    }
}

/// Without trailing zeros after a decimal point, nor a bare point.
fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// The escape of each byte that needs one in a JSON string.
fn escape(c: u8) -> Option<&'static [u8]> {
    Some(match c {
        b'\x08' => b"\\b",
        b'\t' => b"\\t",
        b'\n' => b"\\n",
        b'\x0c' => b"\\f",
        b'\r' => b"\\r",
        b'"' => b"\\\"",
        b'\\' => b"\\\\",
        b'/' => b"\\/",
        _ => return None,
    })
}

fn append_string(out: &mut Vec<u8>, s: &[u8]) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    for &c in s {
        if let Some(e) = escape(c) {
            out.extend_from_slice(e);
        } else if c < 0x20 || c == 0x7f {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(c >> 4)]);
            out.push(HEX[usize::from(c & 15)]);
        } else {
            out.push(c);
        }
    }
    out.push(b'"');
}

/// One table being written.
enum Open {
    /// An array of `len` items, `next` to write.
    Array { len: i32, next: i32 },
    /// An object; the last key written is the walk's position.
    Object { first: bool },
}

struct Frame {
    open: Open,
    /// The C code's stack height at the table.
    top: usize,
}

struct Encoder<'a> {
    lua: &'a Lua,
    cfg: Config,
    out: Vec<u8>,
}

impl Encoder<'_> {
    fn exception<T>(what: &Value, reason: &str) -> LibResult<T> {
        err_msg(format!("Cannot serialise {}: {reason}", type_name(what)))
    }

    fn append_number(&mut self, n: f64) -> LibResult<()> {
        match self.cfg.encode_invalid_numbers {
            0 => {
                if n.is_infinite() || n.is_nan() {
                    return err_msg("Cannot serialise number: must not be NaN or Inf");
                }
            }
            1 => {
                if n.is_nan() {
                    self.out.extend_from_slice(b"nan");
                    return Ok(());
                }
            }
            _ => {
                if n.is_infinite() || n.is_nan() {
                    self.out.extend_from_slice(b"null");
                    return Ok(());
                }
            }
        }
        let precision = self.cfg.encode_number_precision as usize;
        self.out
            .extend_from_slice(format_g(n, precision).as_bytes());
        Ok(())
    }

    /// A value other than a table.
    fn append_scalar(&mut self, v: &Value) -> LibResult<()> {
        match v {
            Value::String(s) => append_string(&mut self.out, &s.as_bytes()),
            Value::Integer(_) | Value::Number(_) => {
                self.append_number(as_number(v).unwrap_or_default())?
            }
            Value::Boolean(true) => self.out.extend_from_slice(b"true"),
            Value::Boolean(false) => self.out.extend_from_slice(b"false"),
            Value::Nil => self.out.extend_from_slice(b"null"),
            Value::LightUserData(ud) if ud.0.is_null() => self.out.extend_from_slice(b"null"),
            _ => return Self::exception(v, "type not supported"),
        }
        Ok(())
    }

    /// An object key and its colon.
    fn append_key(&mut self, k: &Value) -> LibResult<()> {
        match k {
            Value::Integer(_) | Value::Number(_) => {
                self.out.push(b'"');
                self.append_number(as_number(k).unwrap_or_default())?;
                self.out.extend_from_slice(b"\":");
            }
            Value::String(s) => {
                append_string(&mut self.out, &s.as_bytes());
                self.out.push(b':');
            }
            _ => return Self::exception(k, "table key must be a number or string"),
        }
        Ok(())
    }

    /// The length of `t` as an array (its largest key), or 0 or less for
    /// an object: any key that is no whole number >= 1 makes an object,
    /// as do too few keys for the largest (if sparse arrays convert; an
    /// error otherwise). The C code's `int` arithmetic is kept.
    fn array_length(&self, t: &Table) -> LibResult<i32> {
        let (mut max, mut items, mut array) = (0i32, 0i32, true);
        for_each_pair(t, |k, _| match as_number(&k) {
            Some(k) if k != 0.0 && k.floor() == k && k >= 1.0 => {
                if k > f64::from(max) {
                    max = double_to_i32(k);
                }
                items = items.wrapping_add(1);
                Ok(true)
            }
            _ => {
                array = false;
                Ok(false)
            }
        })?;
        if !array {
            return Ok(-1);
        }
        let cfg = &self.cfg;
        if cfg.encode_sparse_ratio > 0
            && max > items.wrapping_mul(cfg.encode_sparse_ratio)
            && max > cfg.encode_sparse_safe
        {
            if cfg.encode_sparse_convert == 0 {
                return err_msg("Cannot serialise table: excessively sparse array");
            }
            return Ok(-1);
        }
        Ok(max)
    }

    /// Writes `value`. Nesting is followed with a stack of frames, not
    /// recursion; the enclosing tables and their walks' keys wait in a Lua
    /// table (`parked`: depth d's table at 2d-1, its key at 2d), so that
    /// deep nesting holds no more Rust references than shallow.
    fn encode(&mut self, value: Value) -> LibResult<()> {
        let lua = self.lua;
        let mut frames: Vec<Frame> = Vec::new();
        let mut parked: Option<Table> = None;
        let mut cur: Option<Table> = None;
        let mut key = Value::Nil;
        // The value to write next and the C stack height it sits at.
        let mut pending = Some((value, 1usize));
        loop {
            if let Some((v, top)) = pending.take() {
                if let Value::Table(t) = v {
                    let depth = frames.len() + 1;
                    if depth > self.cfg.encode_max_depth as usize || top + 3 > MAX_C_STACK {
                        return err_msg(format!("Cannot serialise, excessive nesting ({depth})"));
                    }
                    let len = self.array_length(&t)?;
                    if let Some(parent) = cur.take() {
                        let p = match &parked {
                            Some(p) => p,
                            None => parked.insert(lua.create_table()?),
                        };
                        p.raw_set(2 * frames.len() - 1, parent)?;
                        p.raw_set(2 * frames.len(), std::mem::take(&mut key))?;
                    }
                    let open = if len > 0 {
                        self.out.push(b'[');
                        Open::Array { len, next: 1 }
                    } else {
                        self.out.push(b'{');
                        Open::Object { first: true }
                    };
                    frames.push(Frame { open, top });
                    cur = Some(t);
                    key = Value::Nil;
                } else {
                    self.append_scalar(&v)?;
                }
            }
            let Some(frame) = frames.last_mut() else {
                return Ok(());
            };
            let t = cur.as_ref().expect("open table");
            match &mut frame.open {
                Open::Array { len, next } => {
                    if *next <= *len {
                        if *next > 1 {
                            self.out.push(b',');
                        }
                        let v: Value = t.raw_get(*next)?;
                        *next += 1;
                        pending = Some((v, frame.top + 1));
                        continue;
                    }
                    self.out.push(b']');
                }
                Open::Object { first } => {
                    if let Some((k, v)) = table_next(lua, t, std::mem::take(&mut key))? {
                        if !*first {
                            self.out.push(b',');
                        }
                        *first = false;
                        self.append_key(&k)?;
                        key = k;
                        pending = Some((v, frame.top + 2));
                        continue;
                    }
                    self.out.push(b'}');
                }
            }
            frames.pop();
            cur = None;
            if !frames.is_empty() {
                let p = parked.as_ref().expect("parked table");
                cur = Some(p.raw_get(2 * frames.len() - 1)?);
                key = p.raw_get(2 * frames.len())?;
            }
        }
    }
}

/// `cjson.encode(value)`.
fn encode(lua: &Lua, args: Args, cfg: &Shared) -> LibResult<Ret> {
    let cfg = *settings(cfg);
    if args.len() != 1 {
        return err_arg(1, "expected 1 argument");
    }
    let mut encoder = Encoder {
        lua,
        cfg,
        out: Vec::new(),
    };
    encoder.encode(args.get(1).unwrap_or(Value::Nil))?;
    Ret::one(Value::String(lua.create_string(&encoder.out)?))
}

// --------------------------------------------------------------- decoding

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    String,
    Number,
    Boolean,
    Null,
    Colon,
    Comma,
    End,
    Error,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::ObjBegin => "T_OBJ_BEGIN",
            Kind::ObjEnd => "T_OBJ_END",
            Kind::ArrBegin => "T_ARR_BEGIN",
            Kind::ArrEnd => "T_ARR_END",
            Kind::String => "T_STRING",
            Kind::Number => "T_NUMBER",
            Kind::Boolean => "T_BOOLEAN",
            Kind::Null => "T_NULL",
            Kind::Colon => "T_COLON",
            Kind::Comma => "T_COMMA",
            Kind::End => "T_END",
            Kind::Error => "T_ERROR",
        }
    }
}

struct Token {
    kind: Kind,
    /// Where it starts (where the error is, for errors).
    index: usize,
    string: Vec<u8>,
    number: f64,
    boolean: bool,
    error: &'static str,
}

impl Token {
    fn new(kind: Kind, index: usize) -> Token {
        Token {
            kind,
            index,
            string: Vec::new(),
            number: 0.0,
            boolean: false,
            error: "",
        }
    }

    fn error(index: usize, error: &'static str) -> Token {
        Token {
            error,
            ..Token::new(Kind::Error, index)
        }
    }
}

fn hex_digit(c: u8) -> Option<u32> {
    (c as char).to_digit(16)
}

fn utf8(codepoint: u32, out: &mut Vec<u8>) {
    if codepoint <= 0x7f {
        out.push(codepoint as u8);
    } else if codepoint <= 0x7ff {
        out.extend_from_slice(&[
            (codepoint >> 6) as u8 | 0xc0,
            (codepoint & 0x3f) as u8 | 0x80,
        ]);
    } else if codepoint <= 0xffff {
        out.extend_from_slice(&[
            (codepoint >> 12) as u8 | 0xe0,
            ((codepoint >> 6) & 0x3f) as u8 | 0x80,
            (codepoint & 0x3f) as u8 | 0x80,
        ]);
    } else {
        out.extend_from_slice(&[
            (codepoint >> 18) as u8 | 0xf0,
            ((codepoint >> 12) & 0x3f) as u8 | 0x80,
            ((codepoint >> 6) & 0x3f) as u8 | 0x80,
            (codepoint & 0x3f) as u8 | 0x80,
        ]);
    }
}

struct Parser {
    /// The input up to its first zero byte, then a zero byte.
    data: Vec<u8>,
    ptr: usize,
    decode_invalid_numbers: bool,
}

impl Parser {
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn starts_with(&self, word: &[u8]) -> bool {
        self.data[self.ptr..].starts_with(word)
    }

    /// Four hex digits at `i`.
    fn hex4(&self, i: usize) -> Option<u32> {
        (0..4).try_fold(0, |acc, k| Some(acc << 4 | hex_digit(self.at(i + k))?))
    }

    /// A `\u` escape at `ptr` (with a second one for a surrogate pair),
    /// appended as UTF-8; answers the bytes it spans.
    fn unicode_escape(&self, out: &mut Vec<u8>) -> Option<usize> {
        let mut codepoint = self.hex4(self.ptr + 2)?;
        let mut len = 6;
        if codepoint & 0xf800 == 0xd800 {
            // A surrogate: it must be a high one, followed by a low one.
            if codepoint & 0x400 != 0 {
                return None;
            }
            if self.at(self.ptr + 6) != b'\\' || self.at(self.ptr + 7) != b'u' {
                return None;
            }
            let low = self.hex4(self.ptr + 8)?;
            if low & 0xfc00 != 0xdc00 {
                return None;
            }
            codepoint = (((codepoint & 0x3ff) << 10) | (low & 0x3ff)) + 0x10000;
            len = 12;
        }
        utf8(codepoint, out);
        Some(len)
    }

    fn string_token(&mut self) -> Token {
        let index = self.ptr;
        self.ptr += 1;
        let mut s = Vec::new();
        loop {
            let mut c = self.at(self.ptr);
            if c == b'"' {
                break;
            }
            if c == 0 {
                return Token::error(self.ptr, "unexpected end of string");
            }
            if c == b'\\' {
                c = match self.at(self.ptr + 1) {
                    b'"' => b'"',
                    b'\\' => b'\\',
                    b'/' => b'/',
                    b'b' => b'\x08',
                    b't' => b'\t',
                    b'n' => b'\n',
                    b'f' => b'\x0c',
                    b'r' => b'\r',
                    b'u' => match self.unicode_escape(&mut s) {
                        Some(len) => {
                            self.ptr += len;
                            continue;
                        }
                        None => return Token::error(self.ptr, "invalid unicode escape code"),
                    },
                    _ => return Token::error(self.ptr, "invalid escape code"),
                };
                self.ptr += 1;
            }
            s.push(c);
            self.ptr += 1;
        }
        self.ptr += 1;
        Token {
            string: s,
            ..Token::new(Kind::String, index)
        }
    }

    /// Numbers `strtod` reads but JSON does not have: a leading `+`,
    /// hexadecimal, leading zeros, infinity and NaN.
    fn is_invalid_number(&self) -> bool {
        let mut p = self.ptr;
        match self.at(p) {
            b'+' => return true,
            b'-' => p += 1,
            _ => {}
        }
        let c = self.at(p);
        if c == b'0' {
            let c2 = self.at(p + 1);
            return c2 | 0x20 == b'x' || c2.is_ascii_digit();
        }
        // (A `char` compare: bytes from 0x80 are negative, so below '9'.)
        if (c as i8) <= b'9' as i8 {
            return false;
        }
        let word = [self.at(p), self.at(p + 1), self.at(p + 2)].map(|c| c.to_ascii_lowercase());
        &word == b"inf" || &word == b"nan"
    }

    fn number_token(&mut self) -> Token {
        let index = self.ptr;
        let mut end: *mut c_char = std::ptr::null_mut();
        // SAFETY: `data` ends with a zero byte, where `strtod` stops at
        // the latest; `end` points into it.
        let (number, used) = unsafe {
            let start = self.data.as_ptr().add(self.ptr) as *const c_char;
            let n = libc::strtod(start, &mut end);
            (n, end.offset_from(start) as usize)
        };
        if used == 0 {
            return Token::error(index, "invalid number");
        }
        self.ptr += used;
        Token {
            number,
            ..Token::new(Kind::Number, index)
        }
    }

    fn next_token(&mut self) -> Token {
        while matches!(self.at(self.ptr), b' ' | b'\t' | b'\n' | b'\r') {
            self.ptr += 1;
        }
        let index = self.ptr;
        let single = |kind, p: &mut Parser| {
            p.ptr += 1;
            Token::new(kind, index)
        };
        match self.at(self.ptr) {
            b'{' => single(Kind::ObjBegin, self),
            b'}' => single(Kind::ObjEnd, self),
            b'[' => single(Kind::ArrBegin, self),
            b']' => single(Kind::ArrEnd, self),
            b',' => single(Kind::Comma, self),
            b':' => single(Kind::Colon, self),
            0 => Token::new(Kind::End, index),
            b'"' => self.string_token(),
            b'-' | b'0'..=b'9' => {
                if !self.decode_invalid_numbers && self.is_invalid_number() {
                    return Token::error(index, "invalid number");
                }
                self.number_token()
            }
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'+' => {
                if self.starts_with(b"true") {
                    self.ptr += 4;
                    Token {
                        boolean: true,
                        ..Token::new(Kind::Boolean, index)
                    }
                } else if self.starts_with(b"false") {
                    self.ptr += 5;
                    Token::new(Kind::Boolean, index)
                } else if self.starts_with(b"null") {
                    self.ptr += 4;
                    Token::new(Kind::Null, index)
                } else if self.decode_invalid_numbers && self.is_invalid_number() {
                    self.number_token()
                } else {
                    Token::error(index, "invalid token")
                }
            }
            _ => Token::error(index, "invalid token"),
        }
    }
}

fn parse_error<T>(expected: &str, token: &Token) -> LibResult<T> {
    let found = if token.kind == Kind::Error {
        token.error
    } else {
        token.kind.name()
    };
    err_msg(format!(
        "Expected {expected} but found {found} at character {}",
        token.index + 1
    ))
}

/// One table being filled.
struct Filling {
    /// An array's next index, or `None` for an object.
    index: Option<i64>,
    /// The C code's stack height before the table.
    top: usize,
}

struct Decoder<'a> {
    lua: &'a Lua,
    parser: Parser,
    max_depth: i32,
    depth: i32,
}

impl Decoder<'_> {
    /// Enters a table that needs `slots` stack slots above height `top`.
    fn descend(&mut self, top: usize, slots: usize) -> LibResult<()> {
        self.depth += 1;
        if self.depth <= self.max_depth && top + slots <= MAX_C_STACK {
            return Ok(());
        }
        err_msg(format!(
            "Found too many nested data structures ({}) at character {}",
            self.depth, self.parser.ptr
        ))
    }

    /// Reads `"key":` with `token` the key; answers the key.
    fn object_key(&mut self, token: &Token) -> LibResult<mlua::String> {
        if token.kind != Kind::String {
            return parse_error("object key string", token);
        }
        let key = self.lua.create_string(&token.string)?;
        let colon = self.parser.next_token();
        if colon.kind != Kind::Colon {
            return parse_error("colon", &colon);
        }
        Ok(key)
    }

    /// Reads one JSON value. Nesting is followed with a stack of frames,
    /// not recursion; the enclosing tables and pending keys wait in a Lua
    /// table (`parked`: depth d's table at 2d-1, its key at 2d).
    fn value(&mut self) -> LibResult<Value> {
        let lua = self.lua;
        let mut frames: Vec<Filling> = Vec::new();
        let mut parked: Option<Table> = None;
        let mut cur: Option<Table> = None;
        let mut token = self.parser.next_token();
        // The C code's stack height before the value being read.
        let mut top = 1usize;
        loop {
            let mut value = match token.kind {
                Kind::String => Value::String(lua.create_string(&token.string)?),
                Kind::Number => Value::Number(token.number),
                Kind::Boolean => Value::Boolean(token.boolean),
                Kind::Null => null(),
                Kind::ObjBegin | Kind::ArrBegin => {
                    let is_object = token.kind == Kind::ObjBegin;
                    self.descend(top, if is_object { 3 } else { 2 })?;
                    let t = lua.create_table()?;
                    token = self.parser.next_token();
                    let end = if is_object {
                        Kind::ObjEnd
                    } else {
                        Kind::ArrEnd
                    };
                    if token.kind == end {
                        self.depth -= 1;
                        Value::Table(t)
                    } else {
                        let depth = frames.len() + 1;
                        let key = if is_object {
                            let key = self.object_key(&token)?;
                            token = self.parser.next_token();
                            Some(key)
                        } else {
                            None
                        };
                        let p = match &parked {
                            Some(p) => p,
                            None => parked.insert(lua.create_table()?),
                        };
                        if let Some(parent) = cur.take() {
                            p.raw_set(2 * depth - 3, parent)?;
                        }
                        if let Some(key) = key {
                            p.raw_set(2 * depth, key)?;
                        }
                        frames.push(Filling {
                            index: if is_object { None } else { Some(1) },
                            top,
                        });
                        cur = Some(t);
                        top += if is_object { 2 } else { 1 };
                        continue;
                    }
                }
                _ => return parse_error("value", &token),
            };
            // Store the value in the enclosing tables, closing those it ends.
            loop {
                let depth = frames.len();
                let Some(frame) = frames.last_mut() else {
                    return Ok(value);
                };
                let t = cur.as_ref().expect("open table");
                let p = parked.as_ref().expect("parked keys");
                let end = match &mut frame.index {
                    Some(i) => {
                        t.raw_set(*i, value)?;
                        *i += 1;
                        Kind::ArrEnd
                    }
                    None => {
                        let key: Value = p.raw_get(2 * depth)?;
                        t.raw_set(key, value)?;
                        Kind::ObjEnd
                    }
                };
                token = self.parser.next_token();
                if token.kind == end {
                    self.depth -= 1;
                    frames.pop();
                    value = Value::Table(cur.take().expect("open table"));
                    if !frames.is_empty() {
                        cur = Some(p.raw_get(2 * depth - 3)?);
                    }
                    continue;
                }
                if end == Kind::ArrEnd {
                    if token.kind != Kind::Comma {
                        return parse_error("comma or array end", &token);
                    }
                    token = self.parser.next_token();
                    top = frame.top + 1;
                } else {
                    if token.kind != Kind::Comma {
                        return parse_error("comma or object end", &token);
                    }
                    token = self.parser.next_token();
                    let key = self.object_key(&token)?;
                    p.raw_set(2 * depth, key)?;
                    token = self.parser.next_token();
                    top = frame.top + 2;
                }
                break;
            }
        }
    }
}

/// `cjson.decode(text)`.
fn decode(lua: &Lua, args: Args, cfg: &Shared) -> LibResult<Ret> {
    let cfg = *settings(cfg);
    if args.len() != 1 {
        return err_arg(1, "expected 1 argument");
    }
    let text = args.check_string(lua, 1)?;
    let text = text.as_bytes();
    if text.len() >= 2 && (text[0] == 0 || text[1] == 0) {
        return err_msg("JSON parser does not support UTF-16 or UTF-32");
    }
    let end = text.iter().position(|&c| c == 0).unwrap_or(text.len());
    let mut data = Vec::with_capacity(end + 1);
    data.extend_from_slice(&text[..end]);
    data.push(0);
    let mut decoder = Decoder {
        lua,
        parser: Parser {
            data,
            ptr: 0,
            decode_invalid_numbers: cfg.decode_invalid_numbers != 0,
        },
        max_depth: cfg.decode_max_depth,
        depth: 0,
    };
    let value = decoder.value()?;
    let token = decoder.parser.next_token();
    if token.kind != Kind::End {
        return parse_error("the end", &token);
    }
    Ret::one(value)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{check_cases, run};
    use super::format_g;

    #[test]
    fn json_numeric_decoding() {
        // scripting.tcl "EVAL - JSON numeric decoding".
        assert_eq!(
            run(
                r#"return table.concat(cjson.decode("[0.0, -5e3, -1, 0.3e-3, 1023.2, 0e10]"), " ")"#
            ),
            r#"2: true | "0 -5000 -1 0.0003 1023.2 0""#
        );
    }

    #[test]
    fn json_string_decoding() {
        // scripting.tcl "EVAL - JSON string decoding".
        assert_eq!(
            run(
                r#"local decoded = cjson.decode('{"keya": "a", "keyb": "b"}'); return decoded.keya, decoded.keyb"#
            ),
            r#"3: true | "a" | "b""#
        );
    }

    #[test]
    fn json_smoke_test() {
        // scripting.tcl "EVAL - JSON smoke test" (its asserts pass; the
        // last call, restoring encode_keep_buffer, is ours).
        assert_eq!(
            run(
                r#"local some_map = { s1="Some string", n1=100, a1={"Some","String","Array"}, nil1=nil, b1=true, b2=false}; local encoded = cjson.encode(some_map); local decoded = cjson.decode(encoded); assert(table.concat(some_map) == table.concat(decoded)); cjson.encode_keep_buffer(false); encoded = cjson.encode(some_map); decoded = cjson.decode(encoded); assert(table.concat(some_map) == table.concat(decoded)); local table1 = {one="one", [1]="one"}; encoded = cjson.encode(table1); decoded = cjson.decode(encoded); assert(decoded["one"] == table1["one"]); assert(decoded["1"] == table1[1]); local array1 = {[1]="one", [2]="two"}; encoded = cjson.encode(array1); decoded = cjson.decode(encoded); assert(table.concat(array1) == table.concat(decoded)); local invalid_map = {}; invalid_map[false] = "false"; local ok, encoded = pcall(cjson.encode, invalid_map); assert(ok == false); cjson.encode_max_depth(1); ok, encoded = pcall(cjson.encode, some_map); assert(ok == false); cjson.decode_max_depth(1); ok, decoded = pcall(cjson.decode, '{"obj": {"array": [1,2,3,4]}}'); assert(ok == false); ok, encoded = pcall(cjson.encode, {num1=0/0}); assert(ok == false); cjson.encode_invalid_numbers(true); ok, encoded = pcall(cjson.encode, {num1=0/0}); assert(ok == true); cjson.decode_max_depth(1000); cjson.encode_max_depth(1000); cjson.encode_invalid_numbers(false); cjson.encode_keep_buffer(true)"#
            ),
            "1: true"
        );
    }

    #[test]
    fn g_format() {
        assert_eq!(format_g(0.1, 14), "0.1");
        assert_eq!(format_g(100.0, 14), "100");
        assert_eq!(format_g(1e14, 14), "1e+14");
        assert_eq!(format_g(1e-5, 14), "1e-05");
        assert_eq!(format_g(0.0001, 14), "0.0001");
        assert_eq!(format_g(-0.0, 14), "-0");
        assert_eq!(format_g(123456789012345678.0, 14), "1.2345678901235e+17");
        assert_eq!(format_g(1e300, 14), "1e+300");
        assert_eq!(format_g(9.5, 1), "1e+01");
        assert_eq!(format_g(2.5, 1), "2");
        assert_eq!(format_g(f64::INFINITY, 14), "inf");
    }

    /// Everything below, compared with what Redis 7.0 answered.
    #[test]
    fn matches_redis() {
        check_cases(CASES);
    }

    /// Snippets run through `EVAL "<prelude> return run(function() <snippet> end)" 0`
    /// on Redis 7.0.15, and what it answered.
    const CASES: &[(&str, &str)] = &[
        (r#"return cjson.encode({1,2,3})"#, r#"2: true | "[1,2,3]""#),
        (
            r#"return cjson.encode({a=1})"#,
            r#"2: true | "{\034a\034:1}""#,
        ),
        (r#"return cjson.encode({})"#, r#"2: true | "{}""#),
        (
            r#"return cjson.encode({[1]=1,[2]=2,[4]=4})"#,
            r#"2: true | "[1,2,null,4]""#,
        ),
        (
            r#"return cjson.encode({[20]=1})"#,
            r#"2: false | "user_script:27: Cannot serialise table: excessively sparse array""#,
        ),
        (
            r#"return cjson.encode({[1]=1,[11]=2})"#,
            r#"2: false | "user_script:27: Cannot serialise table: excessively sparse array""#,
        ),
        (
            r#"return cjson.encode({[10]=1})"#,
            r#"2: true | "[null,null,null,null,null,null,null,null,null,1]""#,
        ),
        (
            r#"return cjson.encode({[11]=1})"#,
            r#"2: false | "user_script:27: Cannot serialise table: excessively sparse array""#,
        ),
        (
            r#"return cjson.encode({[1]=1,[2]=2,[3]=3,[11]=4,[12]=5,[13]=6})"#,
            r#"2: false | "user_script:27: Cannot serialise table: excessively sparse array""#,
        ),
        (
            r#"return cjson.encode("a/b\"c\\d\1\31\127\128\255")"#,
            r#"2: true | "\034a\092/b\092\034c\092\092d\092u0001\092u001f\092u007f\128\255\034""#,
        ),
        (
            r#"return cjson.encode("\b\f\n\r\t\0\11")"#,
            r#"2: true | "\034\092b\092f\092n\092r\092t\092u0000\092u000b\034""#,
        ),
        (
            r#"return cjson.encode({0.1, 1/3, 1e15, 1e14, 123456789012345, 0/-1, 1e-5, 1e-4, 2^53, 2^63, -2^63, 100, -7.25, 1e100, 5e-324, 1.7976931348623157e308})"#,
            r#"2: true | "[0.1,0.33333333333333,1e+15,1e+14,1.2345678901234e+14,-0,1e-05,0.0001,9.007199254741e+15,9.2233720368548e+18,-9.2233720368548e+18,100,-7.25,1e+100,4.9406564584125e-324,1.7976931348623e+308]""#,
        ),
        (
            r#"return cjson.encode(1/0)"#,
            r#"2: false | "user_script:27: Cannot serialise number: must not be NaN or Inf""#,
        ),
        (
            r#"return cjson.encode(-1/0)"#,
            r#"2: false | "user_script:27: Cannot serialise number: must not be NaN or Inf""#,
        ),
        (
            r#"return cjson.encode(0/0)"#,
            r#"2: false | "user_script:27: Cannot serialise number: must not be NaN or Inf""#,
        ),
        (
            r#"return cjson.encode({x = 0/0})"#,
            r#"2: false | "user_script:27: Cannot serialise number: must not be NaN or Inf""#,
        ),
        (
            r#"local old = cjson.encode_invalid_numbers(); local r = cjson.encode_invalid_numbers(true); local ok, e = pcall(cjson.encode, {1/0, -1/0, 0/0}); cjson.encode_invalid_numbers(old); return r, ok, e"#,
            r#"4: true | true | true | "[inf,-inf,nan]""#,
        ),
        (
            r#"local old = cjson.encode_invalid_numbers(); local r = cjson.encode_invalid_numbers('null'); local ok, e = pcall(cjson.encode, {1/0, -1/0, 0/0, 5}); cjson.encode_invalid_numbers(old); return old, r, ok, e, cjson.encode_invalid_numbers()"#,
            r#"6: true | false | "null" | true | "[null,null,null,5]" | false"#,
        ),
        (
            r#"local old = cjson.encode_invalid_numbers(); local r = cjson.encode_invalid_numbers('on'); local ok, e = pcall(cjson.encode, {[1/0]=1}); cjson.encode_invalid_numbers(old); return r, ok, e"#,
            r#"4: true | true | true | "{\034inf\034:1}""#,
        ),
        (
            r#"local old = cjson.encode_number_precision(); local r = cjson.encode_number_precision(3); local ok, e = pcall(cjson.encode, {math.pi, 1234567, 0.000123456, 100}); cjson.encode_number_precision(old); return old, r, ok, e"#,
            r#"5: true | 14 | 3 | true | "[3.14,1.23e+06,0.000123,100]""#,
        ),
        (
            r#"local old = cjson.encode_number_precision(); local r = cjson.encode_number_precision(1); local ok, e = pcall(cjson.encode, {2.5, 3.5, 15, 0.05}); cjson.encode_number_precision(old); return old, r, ok, e"#,
            r#"5: true | 14 | 1 | true | "[2,4,2e+01,0.05]""#,
        ),
        (
            r#"local t = {}; local c = t; for i = 1, 999 do c[1] = {}; c = c[1] end; return #cjson.encode(t)"#,
            r#"2: true | 2000"#,
        ),
        (
            r#"local t = {}; local c = t; for i = 1, 1000 do c[1] = {}; c = c[1] end; return cjson.encode(t)"#,
            r#"2: false | "user_script:27: Cannot serialise, excessive nesting (1001)""#,
        ),
        (
            r#"local t = {}; local c = t; for i = 1, 1000 do c.a = {}; c = c.a end; return cjson.encode(t)"#,
            r#"2: false | "user_script:27: Cannot serialise, excessive nesting (1001)""#,
        ),
        (
            r#"local t = {}; t[1] = t; return cjson.encode(t)"#,
            r#"2: false | "user_script:27: Cannot serialise, excessive nesting (1001)""#,
        ),
        (
            r#"local t = {}; t.x = t; return cjson.encode(t)"#,
            r#"2: false | "user_script:27: Cannot serialise, excessive nesting (1001)""#,
        ),
        (
            r#"return cjson.encode({[true]=1})"#,
            r#"2: false | "user_script:27: Cannot serialise boolean: table key must be a number or string""#,
        ),
        (
            r#"return cjson.encode({[{}]=1})"#,
            r#"2: false | "user_script:27: Cannot serialise table: table key must be a number or string""#,
        ),
        (
            r#"return cjson.encode({[1.5]=1})"#,
            r#"2: true | "{\0341.5\034:1}""#,
        ),
        (
            r#"return cjson.encode({[-1]=1})"#,
            r#"2: true | "{\034-1\034:1}""#,
        ),
        (
            r#"return cjson.encode({[0]=1})"#,
            r#"2: true | "{\0340\034:1}""#,
        ),
        (
            r#"return cjson.encode({1,2,a=3})"#,
            r#"2: true | "{\0341\034:1,\0342\034:2,\034a\034:3}""#,
        ),
        (
            r#"return cjson.encode(tostring)"#,
            r#"2: false | "user_script:27: Cannot serialise function: type not supported""#,
        ),
        (
            r#"return cjson.encode({f=tostring})"#,
            r#"2: false | "user_script:27: Cannot serialise function: type not supported""#,
        ),
        (
            r#"return cjson.encode({tostring})"#,
            r#"2: false | "user_script:27: Cannot serialise function: type not supported""#,
        ),
        (
            r#"return cjson.encode(coroutine.create(function() end))"#,
            r#"2: false | "user_script:27: Cannot serialise thread: type not supported""#,
        ),
        (
            r#"return cjson.encode()"#,
            r#"2: false | "user_script:27: bad argument #1 to 'encode' (expected 1 argument)""#,
        ),
        (
            r#"return cjson.encode(1, 2)"#,
            r#"2: false | "user_script:27: bad argument #1 to 'encode' (expected 1 argument)""#,
        ),
        (r#"return cjson.encode(nil)"#, r#"2: true | "null""#),
        (r#"return cjson.encode(cjson.null)"#, r#"2: true | "null""#),
        (
            r#"return cjson.encode({cjson.null, 1})"#,
            r#"2: true | "[null,1]""#,
        ),
        (
            r#"return cjson.encode(true), cjson.encode(false), cjson.encode("x"), cjson.encode(12), cjson.encode("")"#,
            r#"6: true | "true" | "false" | "\034x\034" | "12" | "\034\034""#,
        ),
        (
            r#"local a, b, c = cjson.encode_sparse_array(true); local ok, e = pcall(cjson.encode, {[20]=1}); cjson.encode_sparse_array(false); return a, b, c, ok, e"#,
            r#"6: true | true | 2 | 10 | true | "{\03420\034:1}""#,
        ),
        (
            r#"local a, b, c = cjson.encode_sparse_array(nil, 0); local ok, e = pcall(cjson.encode, {[20]=1}); cjson.encode_sparse_array(nil, 2); return a, b, c, ok, e"#,
            r#"6: true | false | 0 | 10 | true | "[null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,1]""#,
        ),
        (
            r#"local a, b, c = cjson.encode_sparse_array(nil, nil, 30); local ok, e = pcall(cjson.encode, {[20]=1}); cjson.encode_sparse_array(nil, nil, 10); return a, b, c, ok, e"#,
            r#"6: true | false | 2 | 30 | true | "[null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,1]""#,
        ),
        (
            r#"local a, b, c = cjson.encode_sparse_array('on', 3, 0); local ok, e = pcall(cjson.encode, {[1]=1, [4]=1}); local ok2, e2 = pcall(cjson.encode, {[1]=1, [3]=1}); cjson.encode_sparse_array('off', 2, 10); return a, b, c, ok, e, ok2, e2, cjson.encode_sparse_array()"#,
            r#"11: true | true | 3 | 0 | true | "[1,null,null,1]" | true | "[1,null,1]" | false | 2 | 10"#,
        ),
        (
            r#"return cjson.encode_sparse_array()"#,
            r#"4: true | false | 2 | 10"#,
        ),
        (
            r#"return cjson.encode_max_depth(), cjson.decode_max_depth(), cjson.encode_number_precision(), cjson.encode_keep_buffer(), cjson.encode_invalid_numbers(), cjson.decode_invalid_numbers()"#,
            r#"7: true | 1000 | 1000 | 14 | true | false | true"#,
        ),
        (
            r#"return cjson.encode_max_depth(0)"#,
            r#"2: false | "user_script:27: bad argument #1 to 'encode_max_depth' (expected integer between 1 and 2147483647)""#,
        ),
        (
            r#"return cjson.encode_max_depth('x')"#,
            r#"2: false | "user_script:27: bad argument #1 to 'encode_max_depth' (number expected, got string)""#,
        ),
        (
            r#"return cjson.encode_max_depth(1, 2)"#,
            r#"2: false | "user_script:27: bad argument #2 to 'encode_max_depth' (found too many arguments)""#,
        ),
        (
            r#"return cjson.encode_number_precision(15)"#,
            r#"2: false | "user_script:27: bad argument #1 to 'encode_number_precision' (expected integer between 1 and 14)""#,
        ),
        (
            r#"return cjson.encode_number_precision(0)"#,
            r#"2: false | "user_script:27: bad argument #1 to 'encode_number_precision' (expected integer between 1 and 14)""#,
        ),
        (
            r#"return cjson.encode_keep_buffer('maybe')"#,
            r#"2: false | "user_script:27: bad argument #1 to 'encode_keep_buffer' (invalid option 'maybe')""#,
        ),
        (
            r#"return cjson.encode_keep_buffer(1)"#,
            r#"2: false | "user_script:27: bad argument #1 to 'encode_keep_buffer' (invalid option '1')""#,
        ),
        (
            r#"return cjson.encode_invalid_numbers(1)"#,
            r#"2: false | "user_script:27: bad argument #1 to 'encode_invalid_numbers' (invalid option '1')""#,
        ),
        (
            r#"return cjson.encode_invalid_numbers({})"#,
            r#"2: false | "user_script:27: bad argument #1 to 'encode_invalid_numbers' (string expected, got table)""#,
        ),
        (
            r#"return cjson.encode_sparse_array(nil, -1)"#,
            r#"2: false | "user_script:27: bad argument #1 to 'encode_sparse_array' (expected integer between 0 and 2147483647)""#,
        ),
        (
            r#"return cjson.encode_sparse_array(nil, nil, -1)"#,
            r#"2: false | "user_script:27: bad argument #1 to 'encode_sparse_array' (expected integer between 0 and 2147483647)""#,
        ),
        (
            r#"return cjson.encode_sparse_array(1, 2, 3, 4)"#,
            r#"2: false | "user_script:27: bad argument #4 to 'encode_sparse_array' (found too many arguments)""#,
        ),
        (
            r#"return cjson.encode_sparse_array('yes')"#,
            r#"2: false | "user_script:27: bad argument #1 to 'encode_sparse_array' (invalid option 'yes')""#,
        ),
        (
            r#"local r = cjson.encode_keep_buffer(false); local r2 = cjson.encode_keep_buffer(true); return r, r2, cjson.encode({1})"#,
            r#"4: true | false | true | "[1]""#,
        ),
        (
            r#"local c = cjson.new(); local r = c.encode_max_depth(1); return cjson.encode_max_depth(), r, c.encode_max_depth(), pcall(c.encode, {{}}), c.null == cjson.null, c._NAME, c._VERSION"#,
            r#"8: true | 1000 | 1 | 1 | false | true | "cjson" | "2.1.0""#,
        ),
        (
            r#"return cjson._NAME, cjson._VERSION, type(cjson.null), cjson.null == nil, type(cjson.encode), type(cjson.new)"#,
            r#"7: true | "cjson" | "2.1.0" | "userdata" | false | "function" | "function""#,
        ),
        (
            r#"local n = 0; for k, v in pairs(cjson) do n = n + 1 end; return n"#,
            r#"2: true | 13"#,
        ),
        (
            r#"local ks = {}; for k, v in pairs(cjson) do ks[#ks+1] = k end; return table.concat(ks, ',')"#,
            r#"2: true | "_NAME,encode,decode_max_depth,_VERSION,decode_invalid_numbers,encode_keep_buffer,null,encode_number_precision,new,encode_max_depth,encode_invalid_numbers,decode,encode_sparse_array""#,
        ),
        (
            r#"return table.concat(cjson.decode("[0.0, -5e3, -1, 0.3e-3, 1023.2, 0e10]"), " ")"#,
            r#"2: true | "0 -5000 -1 0.0003 1023.2 0""#,
        ),
        (
            r#"local decoded = cjson.decode('{"keya": "a", "keyb": "b"}'); return decoded.keya, decoded.keyb"#,
            r#"3: true | "a" | "b""#,
        ),
        (
            r#"return cjson.decode('"\\u00e9\\ud83d\\ude00\\u0041\\u20ac\\u0000x"')"#,
            r#"2: true | "\195\169\240\159\152\128A\226\130\172\000x""#,
        ),
        (
            r#"return cjson.decode('"\\x"')"#,
            r#"2: false | "user_script:27: Expected value but found invalid escape code at character 2""#,
        ),
        (
            r#"return cjson.decode('"\\udc00"')"#,
            r#"2: false | "user_script:27: Expected value but found invalid unicode escape code at character 2""#,
        ),
        (
            r#"return cjson.decode('"\\ud800"')"#,
            r#"2: false | "user_script:27: Expected value but found invalid unicode escape code at character 2""#,
        ),
        (
            r#"return cjson.decode('"\\ud800\\u0041"')"#,
            r#"2: false | "user_script:27: Expected value but found invalid unicode escape code at character 2""#,
        ),
        (
            r#"return cjson.decode('"\\u12"')"#,
            r#"2: false | "user_script:27: Expected value but found invalid unicode escape code at character 2""#,
        ),
        (
            r#"return cjson.decode('"\\u12G4"')"#,
            r#"2: false | "user_script:27: Expected value but found invalid unicode escape code at character 2""#,
        ),
        (
            r#"return cjson.decode('"abc\\')"#,
            r#"2: false | "user_script:27: Expected value but found invalid escape code at character 5""#,
        ),
        (
            r#"return cjson.decode('"\\/\\b\\f\\n\\r\\t\\"\\\\"')"#,
            r#"2: true | "/\008\012\010\013\009\034\092""#,
        ),
        (
            r#"return cjson.decode('[1,')"#,
            r#"2: false | "user_script:27: Expected value but found T_END at character 4""#,
        ),
        (
            r#"return cjson.decode('{"a":1,}')"#,
            r#"2: false | "user_script:27: Expected object key string but found T_OBJ_END at character 8""#,
        ),
        (
            r#"return cjson.decode('{"a" 1}')"#,
            r#"2: false | "user_script:27: Expected colon but found T_NUMBER at character 6""#,
        ),
        (
            r#"return cjson.decode('{1:2}')"#,
            r#"2: false | "user_script:27: Expected object key string but found T_NUMBER at character 2""#,
        ),
        (
            r#"return cjson.decode('[1 2]')"#,
            r#"2: false | "user_script:27: Expected comma or array end but found T_NUMBER at character 4""#,
        ),
        (
            r#"return cjson.decode('{"a":1 "b"}')"#,
            r#"2: false | "user_script:27: Expected comma or object end but found T_STRING at character 8""#,
        ),
        (
            r#"return cjson.decode('nul')"#,
            r#"2: false | "user_script:27: Expected value but found invalid token at character 1""#,
        ),
        (
            r#"return cjson.decode('')"#,
            r#"2: false | "user_script:27: Expected value but found T_END at character 1""#,
        ),
        (
            r#"return cjson.decode(' ')"#,
            r#"2: false | "user_script:27: Expected value but found T_END at character 2""#,
        ),
        (
            r#"return cjson.decode('"abc')"#,
            r#"2: false | "user_script:27: Expected value but found unexpected end of string at character 5""#,
        ),
        (
            r#"return cjson.decode('[1]x')"#,
            r#"2: false | "user_script:27: Expected the end but found invalid token at character 4""#,
        ),
        (
            r#"return cjson.decode('tru')"#,
            r#"2: false | "user_script:27: Expected value but found invalid token at character 1""#,
        ),
        (
            r#"return cjson.decode('truex')"#,
            r#"2: false | "user_script:27: Expected the end but found invalid token at character 5""#,
        ),
        (
            r#"return cjson.decode('-')"#,
            r#"2: false | "user_script:27: Expected value but found invalid number at character 1""#,
        ),
        (
            r#"return cjson.decode('--1')"#,
            r#"2: false | "user_script:27: Expected value but found invalid number at character 1""#,
        ),
        (r#"return cjson.decode('+1')"#, r#"2: true | 1"#),
        (r#"return cjson.decode('0x10')"#, r#"2: true | 16"#),
        (r#"return cjson.decode('0x1p4')"#, r#"2: true | 16"#),
        (r#"return cjson.decode('inf')"#, r#"2: true | inf"#),
        (r#"return cjson.decode('-Infinity')"#, r#"2: true | -inf"#),
        (r#"return cjson.decode('nan')"#, r#"2: true | nan"#),
        (r#"return cjson.decode('-nan')"#, r#"2: true | -nan"#),
        (r#"return cjson.decode('NaN')"#, r#"2: true | nan"#),
        (r#"return cjson.decode('01')"#, r#"2: true | 1"#),
        (
            r#"return cjson.decode('1.5e')"#,
            r#"2: false | "user_script:27: Expected the end but found invalid token at character 4""#,
        ),
        (
            r#"return cjson.decode('.5')"#,
            r#"2: false | "user_script:27: Expected value but found invalid token at character 1""#,
        ),
        (r#"return cjson.decode('-.5')"#, r#"2: true | -0.5"#),
        (r#"return cjson.decode('1e400')"#, r#"2: true | inf"#),
        (
            r#"return cjson.decode('123456789012345678901234567890')"#,
            r#"2: true | 1.2345678901234568e+29"#,
        ),
        (
            r#"return cjson.decode('\t[\n1\r]  ')"#,
            r#"2: true | {[1]=1}"#,
        ),
        (
            r#"return cjson.decode('[\1]')"#,
            r#"2: false | "user_script:27: Expected value but found invalid token at character 2""#,
        ),
        (
            r#"return cjson.decode('\128')"#,
            r#"2: false | "user_script:27: Expected value but found invalid token at character 1""#,
        ),
        (
            r#"return cjson.decode('"\1\2\255"')"#,
            r#"2: true | "\001\002\255""#,
        ),
        (
            r#"local old = cjson.decode_invalid_numbers(); cjson.decode_invalid_numbers(false); local r = {}; for _, s in ipairs({'0x10', '+1', 'inf', '01', '-inf', 'nan', '1', '-0', '0.5', '-01'}) do r[#r+1] = tostring(select(2, pcall(cjson.decode, s))) end; cjson.decode_invalid_numbers(old); return old, table.concat(r, ' ; ')"#,
            r#"3: true | true | "Expected value but found invalid number at character 1 ; Expected value but found invalid token at character 1 ; Expected value but found invalid token at character 1 ; Expected value but found invalid number at character 1 ; Expected value but found invalid number at character 1 ; Expected value but found invalid token at character 1 ; 1 ; -0 ; 0.5 ; Expected value but found invalid number at character 1""#,
        ),
        (
            r#"return #cjson.decode(nest(1000, '[', ']'))"#,
            r#"2: true | 1"#,
        ),
        (
            r#"return cjson.decode(nest(1001, '[', ']'))"#,
            r#"2: false | "user_script:27: Found too many nested data structures (1001) at character 1001""#,
        ),
        (
            r#"return cjson.decode(string.rep('{"a":', 1001) .. '1' .. string.rep('}', 1001))"#,
            r#"2: false | "user_script:27: Found too many nested data structures (1001) at character 5001""#,
        ),
        (
            r#"local t = cjson.decode(string.rep('{"a":', 1000) .. '1' .. string.rep('}', 1000)); return type(t.a.a)"#,
            r#"2: true | "table""#,
        ),
        (
            r#"local old = cjson.decode_max_depth(); cjson.decode_max_depth(2); local ok, e = pcall(cjson.decode, '[[1]]'); local ok2, e2 = pcall(cjson.decode, '[[[1]]]'); cjson.decode_max_depth(old); return ok, e, ok2, e2"#,
            r#"5: true | true | {[1]={[1]=1}} | false | "Found too many nested data structures (3) at character 3""#,
        ),
        (
            r#"local t = cjson.decode('[null, 1]'); return t[1] == cjson.null, #t"#,
            r#"3: true | true | 2"#,
        ),
        (
            r#"local t = cjson.decode('{"a":null}'); return t.a == cjson.null"#,
            r#"2: true | true"#,
        ),
        (
            r#"return cjson.decode('null') == cjson.null"#,
            r#"2: true | true"#,
        ),
        (
            r#"return cjson.decode('[1]\0garbage')"#,
            r#"2: true | {[1]=1}"#,
        ),
        (
            r#"return cjson.decode('\0[')"#,
            r#"2: false | "user_script:27: JSON parser does not support UTF-16 or UTF-32""#,
        ),
        (
            r#"return cjson.decode('[\0')"#,
            r#"2: false | "user_script:27: JSON parser does not support UTF-16 or UTF-32""#,
        ),
        (
            r#"return cjson.decode('"a\0b"')"#,
            r#"2: false | "user_script:27: Expected value but found unexpected end of string at character 3""#,
        ),
        (
            r#"return cjson.decode('1\0')"#,
            r#"2: false | "user_script:27: JSON parser does not support UTF-16 or UTF-32""#,
        ),
        (r#"return cjson.decode(123)"#, r#"2: true | 123"#),
        (
            r#"return cjson.decode()"#,
            r#"2: false | "user_script:27: bad argument #1 to 'decode' (expected 1 argument)""#,
        ),
        (
            r#"return cjson.decode(nil)"#,
            r#"2: false | "user_script:27: bad argument #1 to 'decode' (string expected, got nil)""#,
        ),
        (
            r#"return cjson.decode({})"#,
            r#"2: false | "user_script:27: bad argument #1 to 'decode' (string expected, got table)""#,
        ),
        (
            r#"return cjson.decode('1', '2')"#,
            r#"2: false | "user_script:27: bad argument #1 to 'decode' (expected 1 argument)""#,
        ),
        (
            r#"return cjson.decode('{"a":1,"a":2}')"#,
            r#"2: true | {["a"]=2}"#,
        ),
        (
            r#"return cjson.encode(cjson.decode('{"a":[1,2,{"b":null}]}'))"#,
            r#"2: true | "{\034a\034:[1,2,{\034b\034:null}]}""#,
        ),
        (
            r#"return cjson.decode('{"a":[1,2,{"b":null,"c":[true,false]}],"d":"x"}')"#,
            r#"2: true | {["a"]={[1]=1,[2]=2,[3]={["c"]={[1]=true,[2]=false},["b"]=NULL}},["d"]="x"}"#,
        ),
        (
            r#"return cjson.decode('[]'), cjson.decode('{}'), cjson.encode(cjson.decode('[]'))"#,
            r#"4: true | {} | {} | "{}""#,
        ),
        (
            r#"return cjson.decode('  true  '), cjson.decode('false'), cjson.decode('"x"'), cjson.decode('12.5')"#,
            r#"5: true | true | false | "x" | 12.5"#,
        ),
        (
            r#"return cjson.decode('[1,2,3,]')"#,
            r#"2: false | "user_script:27: Expected value but found T_ARR_END at character 8""#,
        ),
        (
            r#"return cjson.decode('[,]')"#,
            r#"2: false | "user_script:27: Expected value but found T_COMMA at character 2""#,
        ),
        (
            r#"return cjson.decode('{"a":}')"#,
            r#"2: false | "user_script:27: Expected value but found T_OBJ_END at character 6""#,
        ),
        (
            r#"return cjson.decode('{"a"::1}')"#,
            r#"2: false | "user_script:27: Expected value but found T_COLON at character 6""#,
        ),
        (
            r#"return cjson.decode('{,}')"#,
            r#"2: false | "user_script:27: Expected object key string but found T_COMMA at character 2""#,
        ),
        (
            r#"return cjson.decode(']')"#,
            r#"2: false | "user_script:27: Expected value but found T_ARR_END at character 1""#,
        ),
        (
            r#"return cjson.decode('[1]]')"#,
            r#"2: false | "user_script:27: Expected the end but found T_ARR_END at character 4""#,
        ),
        (
            r#"return cjson.decode('"a" "b"')"#,
            r#"2: false | "user_script:27: Expected the end but found T_STRING at character 5""#,
        ),
        (
            r#"return cjson.decode('T')"#,
            r#"2: false | "user_script:27: Expected value but found invalid token at character 1""#,
        ),
        (
            r#"local some_map = {s1="Some string", n1=100, a1={"Some","String","Array"}, nil1=nil, b1=true, b2=false}; local encoded = cjson.encode(some_map); local decoded = cjson.decode(encoded); assert(table.concat(some_map) == table.concat(decoded)); return encoded"#,
            r#"2: true | "{\034n1\034:100,\034s1\034:\034Some string\034,\034b1\034:true,\034a1\034:[\034Some\034,\034String\034,\034Array\034],\034b2\034:false}""#,
        ),
        (
            r#"local t = cjson.decode('{"x":1,"y":2,"z":3,"w":4,"longer key":5}'); return cjson.encode(t)"#,
            r#"2: true | "{\034y\034:2,\034x\034:1,\034z\034:3,\034longer key\034:5,\034w\034:4}""#,
        ),
        (
            r#"local t = {}; for i = 1, 20 do t['k' .. i] = i end; return cjson.encode(t)"#,
            r#"2: true | "{\034k16\034:16,\034k19\034:19,\034k11\034:11,\034k17\034:17,\034k15\034:15,\034k20\034:20,\034k10\034:10,\034k8\034:8,\034k1\034:1,\034k12\034:12,\034k3\034:3,\034k2\034:2,\034k9\034:9,\034k13\034:13,\034k18\034:18,\034k14\034:14,\034k6\034:6,\034k7\034:7,\034k4\034:4,\034k5\034:5}""#,
        ),
        (
            r#"local t = {}; for i = 1, 5 do t[i * 1.5] = i end; return cjson.encode(t)"#,
            r#"2: true | "{\0346\034:4,\0344.5\034:3,\0343\034:2,\0347.5\034:5,\0341.5\034:1}""#,
        ),
        (
            r#"return cjson.encode({[2^31] = 1})"#,
            r#"2: true | "{\0342147483648\034:1}""#,
        ),
        (
            r#"return cjson.encode({[1] = 1, [2^31] = 2})"#,
            r#"2: true | "{\0341\034:1,\0342147483648\034:2}""#,
        ),
        (
            r#"return cjson.encode({[2^40] = 1, [1] = 2})"#,
            r#"2: true | "[2]""#,
        ),
        (
            r#"return cjson.encode({[1/0] = 1})"#,
            r#"2: false | "user_script:27: Cannot serialise number: must not be NaN or Inf""#,
        ),
        (
            r#"return cjson.encode({{{{}}}})"#,
            r#"2: true | "[[[{}]]]""#,
        ),
        (
            r#"return cjson.encode({a={b={c={}}}})"#,
            r#"2: true | "{\034a\034:{\034b\034:{\034c\034:{}}}}""#,
        ),
        (
            r#"return cjson.encode(string.rep('x', 40) .. '/')"#,
            r#"2: true | "\034xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\092/\034""#,
        ),
        (
            r#"return cjson.decode(cjson.encode({["k\0ey"] = "v\0al"}))"#,
            r#"2: true | {["k\000ey"]="v\000al"}"#,
        ),
        (
            r#"return cjson:decode('x')"#,
            r#"2: false | "user_script:27: calling 'decode' on bad self (expected 1 argument)""#,
        ),
        (
            r#"return pcall(cjson.encode)"#,
            r#"3: true | false | "bad argument #1 to '?' (expected 1 argument)""#,
        ),
        (
            r#"return pcall(cjson.decode, '[')"#,
            r#"3: true | false | "Expected value but found T_END at character 2""#,
        ),
        (
            r#"return cjson.encode(unpack({1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35}))"#,
            r#"2: false | "user_script:27: bad argument #1 to 'encode' (expected 1 argument)""#,
        ),
        (
            r#"return cjson.decode('1.5e+3'), cjson.decode('-0'), cjson.decode('1E2'), cjson.decode('0.000001'), cjson.decode('-1.5E-3')"#,
            r#"6: true | 1500 | -0 | 100 | 9.9999999999999995e-07 | -0.0015"#,
        ),
        (
            r#"return cjson.encode({[1e20]=1, [0.1]=2})"#,
            r#"2: true | "{\0341e+20\034:1,\0340.1\034:2}""#,
        ),
        (
            r#"local old = cjson.encode_number_precision(); cjson.encode_number_precision(2); local ok, e = pcall(cjson.encode, {[123.456]=1.23456}); cjson.encode_number_precision(old); return ok, e"#,
            r#"3: true | true | "{\0341.2e+02\034:1.2}""#,
        ),
        (
            r#"return cjson.decode('"\\u0080\\u07ff\\u0800\\uffff\\udbff\\udfff"')"#,
            r#"2: true | "\194\128\223\191\224\160\128\239\191\191\244\143\191\191""#,
        ),
        (
            r#"return cjson.encode(cjson.decode('"\\u0080\\u07ff\\u0800\\uffff\\udbff\\udfff"'))"#,
            r#"2: true | "\034\194\128\223\191\224\160\128\239\191\191\244\143\191\191\034""#,
        ),
        (
            r#"return cjson.encode({[1]=1, [2]=2, n=3})"#,
            r#"2: true | "{\0341\034:1,\0342\034:2,\034n\034:3}""#,
        ),
        (
            r#"local t = {}; for i = 1, 6 do t[string.rep(string.char(96 + i), 20)] = i end; return cjson.encode(t)"#,
            r#"2: true | "{\034ffffffffffffffffffff\034:6,\034eeeeeeeeeeeeeeeeeeee\034:5,\034aaaaaaaaaaaaaaaaaaaa\034:1,\034dddddddddddddddddddd\034:4,\034cccccccccccccccccccc\034:3,\034bbbbbbbbbbbbbbbbbbbb\034:2}""#,
        ),
        (
            r#"return cjson.encode({['\0'] = '\0'})"#,
            r#"2: true | "{\034\092u0000\034:\034\092u0000\034}""#,
        ),
        (
            r#"return cjson.decode('{"a":{"b":{"c":[1,[2,[3,{"d":null}]]]}}}').a.b.c[2][2][2].d == cjson.null"#,
            r#"2: true | true"#,
        ),
        (
            r#"return cjson.decode('[{"a":1},{"b":2},[],{}]')"#,
            r#"2: true | {[1]={["a"]=1},[2]={["b"]=2},[3]={},[4]={}}"#,
        ),
        (
            r#"return cjson.decode('{"a":[],"b":{},"c":[[]],"d":[{}]}')"#,
            r#"2: true | {["a"]={},["d"]={[1]={}},["c"]={[1]={}},["b"]={}}"#,
        ),
        (r#"return cjson.decode('{"":1}')"#, r#"2: true | {[""]=1}"#),
        (
            r#"return cjson.decode('{"a":1,"b":[1,2,3],"c":{"d":"e"}}')"#,
            r#"2: true | {["a"]=1,["c"]={["d"]="e"},["b"]={[1]=1,[2]=2,[3]=3}}"#,
        ),
        (
            r#"return cjson.decode(' [ 1 , 2 , { "a" : [ ] } ] ')"#,
            r#"2: true | {[1]=1,[2]=2,[3]={["a"]={}}}"#,
        ),
        (
            r#"return cjson.decode('[1,2')"#,
            r#"2: false | "user_script:27: Expected comma or array end but found T_END at character 5""#,
        ),
        (
            r#"return cjson.decode('{"a":1')"#,
            r#"2: false | "user_script:27: Expected comma or object end but found T_END at character 7""#,
        ),
        (
            r#"return cjson.decode('{"a"')"#,
            r#"2: false | "user_script:27: Expected colon but found T_END at character 5""#,
        ),
        (
            r#"return cjson.decode('{"a":[1,{"b":}]}')"#,
            r#"2: false | "user_script:27: Expected value but found T_OBJ_END at character 14""#,
        ),
        (
            r#"return cjson.decode('[[[[[[1]]]]],2,[3')"#,
            r#"2: false | "user_script:27: Expected comma or array end but found T_END at character 18""#,
        ),
        (
            r#"local t = {}; for i = 1, 200 do t[i] = {i, {tostring(i)}, {x = i}} end; local s = cjson.encode(t); local d = cjson.decode(s); return #s, d[100][2][1], d[200][3].x, cjson.encode(d) == s"#,
            r#"5: true | 4477 | "100" | 200 | true"#,
        ),
        (
            r#"return cjson.encode({[-0.0] = 1}), cjson.encode({[0/-1] = 1})"#,
            r#"3: true | "{\034-0\034:1}" | "{\034-0\034:1}""#,
        ),
        (
            r#"return cjson.decode('[1, 2] ')"#,
            r#"2: true | {[1]=1,[2]=2}"#,
        ),
        (
            r#"return cjson.decode('{"a":1}\t\n')"#,
            r#"2: true | {["a"]=1}"#,
        ),
        (
            r#"return cjson.decode('[1e5, 1E+5, 1e-5, 12345678901234567890, -0.0]')"#,
            r#"2: true | {[1]=100000,[2]=100000,[3]=1.0000000000000001e-05,[4]=1.2345678901234567e+19,[5]=-0}"#,
        ),
        (
            r#"local s = ''; for i = 0, 255 do s = s .. string.char(i) end; return cjson.encode(s)"#,
            r#"2: true | "\034\092u0000\092u0001\092u0002\092u0003\092u0004\092u0005\092u0006\092u0007\092b\092t\092n\092u000b\092f\092r\092u000e\092u000f\092u0010\092u0011\092u0012\092u0013\092u0014\092u0015\092u0016\092u0017\092u0018\092u0019\092u001a\092u001b\092u001c\092u001d\092u001e\092u001f !\092\034#$%&'()*+,-.\092/0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\092\092]^_\096abcdefghijklmnopqrstuvwxyz{|}~\092u007f\128\129\130\131\132\133\134\135\136\137\138\139\140\141\142\143\144\145\146\147\148\149\150\151\152\153\154\155\156\157\158\159\160\161\162\163\164\165\166\167\168\169\170\171\172\173\174\175\176\177\178\179\180\181\182\183\184\185\186\187\188\189\190\191\192\193\194\195\196\197\198\199\200\201\202\203\204\205\206\207\208\209\210\211\212\213\214\215\216\217\218\219\220\221\222\223\224\225\226\227\228\229\230\231\232\233\234\235\236\237\238\239\240\241\242\243\244\245\246\247\248\249\250\251\252\253\254\255\034""#,
        ),
        (
            r#"local s = ''; for i = 0, 255 do s = s .. string.char(i) end; return cjson.decode(cjson.encode(s)) == s, cjson.decode(cjson.encode({[s] = s}))[s] == s"#,
            r#"3: true | true | true"#,
        ),
        (
            r#"local co = coroutine.wrap(function() return cjson.encode({1}), pcall(cjson.decode, '['), cmsgpack.unpack(cmsgpack.pack(1, 2)) end); return co()"#,
            r#"5: true | "[1]" | false | 1 | 2"#,
        ),
        (
            r#"local co = coroutine.wrap(function() return cjson.decode(string.rep('[', 1001)) end); return co()"#,
            r#"2: false | "user_script:27: user_script:27: Found too many nested data structures (1001) at character 1001""#,
        ),
        (
            r#"return xpcall(function() return cjson.decode('[') end, function(e) return 'handled: ' .. e end)"#,
            r#"3: true | false | "handled: user_script:27: Expected value but found T_END at character 2""#,
        ),
        (
            r#"return select(2, pcall(error, cjson.null)) == cjson.null"#,
            r#"2: true | true"#,
        ),
        (
            r#"local old = cjson.decode_max_depth(); cjson.decode_max_depth(100000); local ok, e = pcall(cjson.decode, nest(7998, '[', ']')); local ok2, e2 = pcall(cjson.decode, nest(7999, '[', ']')); cjson.decode_max_depth(old); return ok, ok and '' or e, ok2, ok2 and '' or e2"#,
            r#"5: true | true | "" | false | "Found too many nested data structures (7999) at character 7999""#,
        ),
        (
            r#"local old = cjson.decode_max_depth(); cjson.decode_max_depth(100000); local ok, e = pcall(cjson.decode, string.rep('{"a":', 3999) .. '1' .. string.rep('}', 3999)); local ok2, e2 = pcall(cjson.decode, string.rep('{"a":', 4000) .. '1' .. string.rep('}', 4000)); cjson.decode_max_depth(old); return ok, ok and '' or e, ok2, ok2 and '' or e2"#,
            r#"5: true | true | "" | false | "Found too many nested data structures (4000) at character 19996""#,
        ),
        (
            r#"local old = cjson.decode_max_depth(); cjson.decode_max_depth(100000); local ok, e = pcall(cjson.decode, string.rep('[{"a":', 2000) .. '1' .. string.rep('}]', 2000)); local ok2, e2 = pcall(cjson.decode, string.rep('[{"a":', 2700) .. '1' .. string.rep('}]', 2700)); cjson.decode_max_depth(old); return ok, ok and '' or e, ok2, ok2 and '' or e2"#,
            r#"5: true | true | "" | false | "Found too many nested data structures (5333) at character 15997""#,
        ),
        (
            r#"local old = cjson.encode_max_depth(); cjson.encode_max_depth(100000); local t = {}; local c = t; for i = 1, 7996 do c[1] = {}; c = c[1] end; local ok, e = pcall(cjson.encode, t); c[1] = {}; local ok2, e2 = pcall(cjson.encode, t); c[1][1] = {}; local ok3, e3 = pcall(cjson.encode, t); cjson.encode_max_depth(old); return ok, ok and #e or e, ok2, ok2 and #e2 or e2, ok3, ok3 and #e3 or e3"#,
            r#"7: true | true | 15994 | false | "Cannot serialise, excessive nesting (7998)" | false | "Cannot serialise, excessive nesting (7998)""#,
        ),
        (
            r#"local old = cjson.encode_max_depth(); cjson.encode_max_depth(100000); local t = {}; local c = t; for i = 1, 3998 do c.a = {}; c = c.a end; local ok, e = pcall(cjson.encode, t); c.a = {}; local ok2, e2 = pcall(cjson.encode, t); c.a.a = {}; local ok3, e3 = pcall(cjson.encode, t); cjson.encode_max_depth(old); return ok, ok and #e or e, ok2, ok2 and #e2 or e2, ok3, ok3 and #e3 or e3"#,
            r#"7: true | true | 23990 | false | "Cannot serialise, excessive nesting (4000)" | false | "Cannot serialise, excessive nesting (4000)""#,
        ),
        (
            r#"local old = cjson.encode_max_depth(); cjson.encode_max_depth(100000); local t = {}; t[1] = t; local ok, e = pcall(cjson.encode, t); local t2 = {}; t2.x = t2; local ok2, e2 = pcall(cjson.encode, t2); cjson.encode_max_depth(old); return ok, e, ok2, e2, cjson.encode_max_depth()"#,
            r#"6: true | false | "Cannot serialise, excessive nesting (7998)" | false | "Cannot serialise, excessive nesting (4000)" | 1000"#,
        ),
        (
            r#"local old = cjson.encode_max_depth(); cjson.encode_max_depth(5); local t = {{{{{1}}}}}; local ok, e = pcall(cjson.encode, t); local ok2, e2 = pcall(cjson.encode, {t}); cjson.encode_max_depth(old); return ok, e, ok2, e2"#,
            r#"5: true | true | "[[[[[1]]]]]" | false | "Cannot serialise, excessive nesting (6)""#,
        ),
    ];
}
