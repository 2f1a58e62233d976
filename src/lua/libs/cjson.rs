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

use crate::lua::libs::trampoline::{
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
pub(crate) fn format_g(number: f64, precision: usize) -> String {
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
