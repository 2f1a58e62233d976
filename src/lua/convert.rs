//! Lua values and replies, both ways, as Redis 7.0 converts them
//! (`script_lua.c`): a command's reply as the script sees it, and what a
//! script returns as the client's reply.

use bytes::Bytes;
use mlua::{Lua, Table, Value};

use crate::reply::{Reply, format_double};

/// Deepest nesting of a script's reply: Redis stops at its Lua stack
/// limit (about 8000 levels of a table that contains itself); respire
/// stops sooner, so that converting, encoding and dropping the reply stay
/// well within a thread's stack.
const MAX_DEPTH: usize = 200;

/// A command's reply as a Lua value, in the protocol the script chose
/// (`redis.setresp`).
pub fn to_lua(lua: &Lua, reply: &Reply, resp3: bool) -> mlua::Result<Value> {
    Ok(match reply {
        Reply::Status(s) => single(lua, "ok", s.as_bytes())?,
        Reply::StatusOwned(s) => single(lua, "ok", s.as_bytes())?,
        Reply::Error(text) => error_table(lua, text)?,
        Reply::Int(i) => Value::Number(*i as f64),
        Reply::Bulk(b) => Value::String(lua.create_string(b)?),
        Reply::Nil | Reply::NilArray => {
            if resp3 {
                Value::Nil
            } else {
                Value::Boolean(false)
            }
        }
        Reply::Array(items) | Reply::Push(items) | Reply::Many(items) => {
            array(lua, items.iter(), resp3)?
        }
        Reply::Set(items) => {
            if resp3 {
                let set = lua.create_table_with_capacity(0, items.len())?;
                for item in items {
                    set.raw_set(to_lua(lua, item, resp3)?, true)?;
                }
                let t = lua.create_table()?;
                t.raw_set("set", set)?;
                Value::Table(t)
            } else {
                array(lua, items.iter(), resp3)?
            }
        }
        Reply::Map(pairs) => {
            if resp3 {
                let map = lua.create_table_with_capacity(0, pairs.len())?;
                for (k, v) in pairs {
                    map.raw_set(to_lua(lua, k, resp3)?, to_lua(lua, v, resp3)?)?;
                }
                let t = lua.create_table()?;
                t.raw_set("map", map)?;
                Value::Table(t)
            } else {
                array(lua, pairs.iter().flat_map(|(k, v)| [k, v]), resp3)?
            }
        }
        Reply::Double(d) => {
            if resp3 {
                let t = lua.create_table()?;
                t.raw_set("double", *d)?;
                Value::Table(t)
            } else {
                Value::String(lua.create_string(format_double(*d))?)
            }
        }
        Reply::Bool(b) => {
            if resp3 {
                Value::Boolean(*b)
            } else {
                Value::Number(*b as i64 as f64)
            }
        }
        Reply::Verbatim(b) => {
            if resp3 {
                let inner = lua.create_table()?;
                inner.raw_set("string", lua.create_string(b)?)?;
                inner.raw_set("format", "txt")?;
                let t = lua.create_table()?;
                t.raw_set("verbatim_string", inner)?;
                Value::Table(t)
            } else {
                Value::String(lua.create_string(b)?)
            }
        }
        Reply::BigNumber(b) => {
            if resp3 {
                single(lua, "big_number", b)?
            } else {
                Value::String(lua.create_string(b)?)
            }
        }
        Reply::Raw(_) => Value::Boolean(false),
    })
}

fn array<'r>(
    lua: &Lua,
    items: impl Iterator<Item = &'r Reply>,
    resp3: bool,
) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    for (i, item) in items.enumerate() {
        t.raw_set(i + 1, to_lua(lua, item, resp3)?)?;
    }
    Ok(Value::Table(t))
}

fn single(lua: &Lua, field: &str, text: &[u8]) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set(field, lua.create_string(text)?)?;
    Ok(Value::Table(t))
}

/// The error table Redis builds from an error text (`luaPushErrorBuff`):
/// `{err = "CODE message"}`, the code `ERR` when the text has none, and
/// marked as already counted in the error statistics.
pub fn error_table(lua: &Lua, text: &[u8]) -> mlua::Result<Value> {
    let text = text.strip_prefix(b"-").unwrap_or(text);
    let t = lua.create_table()?;
    t.raw_set("err", lua.create_string(trim_newlines(text))?)?;
    t.raw_set("ignore_error_stats_update", true)?;
    Ok(Value::Table(t))
}

fn trim_newlines(text: &[u8]) -> &[u8] {
    let start = text
        .iter()
        .position(|b| *b != b'\r' && *b != b'\n')
        .unwrap_or(text.len());
    let end = text
        .iter()
        .rposition(|b| *b != b'\r' && *b != b'\n')
        .map_or(start, |p| p + 1);
    &text[start..end.max(start)]
}

/// The error table a Rust function raised, until the sandbox's handler
/// (or its pcall) takes it: Rust cannot raise a Lua table itself, so it
/// raises a marker and leaves the table here.
pub struct PendingError(pub Value);

/// Raises `{err = "ERR <text>"}` from a Rust function, as Redis's C
/// functions raise their error tables.
pub fn raise(lua: &Lua, text: &str) -> mlua::Error {
    let mut full = b"ERR ".to_vec();
    full.extend_from_slice(text.as_bytes());
    raise_table(lua, &full)
}

/// Raises the error table of an error text (`redis.call`'s failures).
pub fn raise_table(lua: &Lua, text: &[u8]) -> mlua::Error {
    match error_table(lua, text) {
        Ok(t) => {
            lua.set_app_data(PendingError(t));
            mlua::Error::RuntimeError(String::from_utf8_lossy(text).into_owned())
        }
        Err(e) => e,
    }
}

/// Takes the error table a Rust function left (the sandbox's handler).
pub fn take_error(lua: &Lua, _: ()) -> mlua::Result<Value> {
    Ok(lua
        .remove_app_data::<PendingError>()
        .map_or(Value::Nil, |p| p.0))
}

/// A script's return value as the client's reply (`luaReplyToRedisReply`);
/// `resp3` is the script's protocol (`redis.setresp`), which decides what
/// a boolean becomes.
pub fn to_reply(value: &Value, resp3: bool) -> Reply {
    to_reply_at(value, resp3, 0)
}

fn to_reply_at(value: &Value, resp3: bool, depth: usize) -> Reply {
    if depth > MAX_DEPTH {
        return Reply::error("ERR reached lua stack limit");
    }
    match value {
        Value::String(s) => Reply::Bulk(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Boolean(b) => {
            if resp3 {
                Reply::Bool(*b)
            } else if *b {
                Reply::Int(1)
            } else {
                Reply::Nil
            }
        }
        Value::Integer(i) => Reply::Int(*i),
        Value::Number(n) => Reply::Int(number_to_int(*n)),
        Value::Table(t) => table_to_reply(t, resp3, depth),
        _ => Reply::Nil,
    }
}

/// C's `(long long)` cast of a double, as Redis converts a Lua number.
fn number_to_int(n: f64) -> i64 {
    if n.is_nan() { i64::MIN } else { n as i64 }
}

fn table_to_reply(t: &Table, resp3: bool, depth: usize) -> Reply {
    if let Ok(Value::String(_)) = t.raw_get::<Value>("err") {
        let info = ErrorInfo::of(&Value::Table(t.clone()));
        return Reply::error(sanitize(info.msg.as_bytes()));
    }
    if let Ok(Value::String(s)) = t.raw_get::<Value>("ok") {
        let text = sanitize(&s.as_bytes());
        return Reply::StatusOwned(String::from_utf8_lossy(&text).into_owned());
    }
    match t.raw_get::<Value>("double") {
        Ok(Value::Number(d)) => return Reply::Double(d),
        Ok(Value::Integer(i)) => return Reply::Double(i as f64),
        _ => {}
    }
    if let Ok(Value::String(s)) = t.raw_get::<Value>("big_number") {
        return Reply::BigNumber(Bytes::from(sanitize(&s.as_bytes())));
    }
    if let Ok(Value::Table(v)) = t.raw_get::<Value>("verbatim_string")
        && let (Ok(Value::String(_)), Ok(Value::String(s))) =
            (v.raw_get::<Value>("format"), v.raw_get::<Value>("string"))
    {
        return Reply::Verbatim(Bytes::copy_from_slice(&s.as_bytes()));
    }
    if let Ok(Value::Table(m)) = t.raw_get::<Value>("map") {
        let mut pairs = Vec::new();
        for pair in m.pairs::<Value, Value>().flatten() {
            pairs.push((
                to_reply_at(&pair.0, resp3, depth + 1),
                to_reply_at(&pair.1, resp3, depth + 1),
            ));
        }
        return Reply::Map(pairs);
    }
    if let Ok(Value::Table(s)) = t.raw_get::<Value>("set") {
        let mut items = Vec::new();
        for pair in s.pairs::<Value, Value>().flatten() {
            items.push(to_reply_at(&pair.0, resp3, depth + 1));
        }
        return Reply::Set(items);
    }
    // An array, cut at the first nil.
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(to_reply_at(&v, resp3, depth + 1)),
        }
    }
    Reply::Array(items)
}

/// A text as one reply line: newlines become spaces.
fn sanitize(text: &[u8]) -> Vec<u8> {
    text.iter()
        .map(|b| if *b == b'\r' || *b == b'\n' { b' ' } else { *b })
        .collect()
}

/// What an error value tells (`luaExtractErrorInformation`).
pub struct ErrorInfo {
    pub msg: String,
    pub source: Option<String>,
    pub line: Option<String>,
}

impl ErrorInfo {
    pub fn of(value: &Value) -> ErrorInfo {
        let mut info = ErrorInfo {
            msg: String::new(),
            source: None,
            line: None,
        };
        match value {
            Value::String(s) => info.msg = format!("ERR {}", s.to_string_lossy()),
            Value::Table(t) => {
                let text = |field: &str| match t.raw_get::<Value>(field) {
                    Ok(Value::String(s)) => Some(s.to_string_lossy()),
                    Ok(Value::Integer(i)) => Some(i.to_string()),
                    Ok(Value::Number(n)) => Some((n as i64).to_string()),
                    _ => None,
                };
                info.msg = text("err").unwrap_or_default();
                info.source = text("source");
                info.line = text("line");
            }
            _ => {}
        }
        info
    }
}

/// The reply of a script that raised an error: the error's text, and
/// where in the script it was raised (`script: <name>, on <source>:<line>.`).
pub fn raised(value: &Value, name: &str) -> Reply {
    if !matches!(value, Value::Table(_)) {
        let msg = match value {
            Value::String(s) => s.to_string_lossy(),
            _ => "execution failure".to_string(),
        };
        let msg: String = msg.chars().take(100).collect();
        return Reply::error(sanitize(
            format!("ERR Error running script {name}, {msg}").as_bytes(),
        ));
    }
    let info = ErrorInfo::of(value);
    let mut text = info.msg;
    if let (Some(source), Some(line)) = (&info.source, &info.line) {
        text.push_str(&format!(" script: {name}, on {source}:{line}."));
    }
    Reply::error(sanitize(text.as_bytes()))
}

/// An mlua error's message as Lua would print it (no "runtime error:"
/// or "syntax error:" prefix, no traceback).
pub fn lua_error_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::MemoryError(m) => m.clone(),
        mlua::Error::CallbackError { cause, .. } => lua_error_text(cause),
        other => other.to_string(),
    }
}
