//! One Lua interpreter as Redis 7.0 sets it up (`sandbox.lua`): the
//! protected globals, the `redis` API, the libraries, the compiled
//! scripts and function libraries it holds, and a run of one of them
//! against a [`Host`] that executes the commands the script calls.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use bytes::Bytes;
use mlua::{Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value, VmState};

use crate::lua::convert::{self, ErrorInfo};
use crate::lua::libs;
use crate::lua::shebang::{FUNCTION_FLAGS, valid_function_name};
use crate::reply::Reply;

/// What executes the commands a script calls (`redis.call`), on the
/// thread the script runs on.
pub trait Host {
    /// Runs one command and answers its reply in the given protocol (a
    /// refusal is a [`Reply::Error`] with Redis's text).
    fn call(&mut self, args: Vec<Bytes>, resp3: bool) -> Reply;
    /// Whether `args` names a command (`redis.acl_check_cmd`).
    fn is_command(&self, args: &[Bytes]) -> bool;
}

/// How a run may be stopped from outside: SCRIPT KILL sets `kill`; a
/// `deadline` stops it on its own.
#[derive(Clone, Default)]
pub struct Stop {
    pub kill: Arc<AtomicBool>,
    pub deadline: Option<Instant>,
}

/// The host of the run in progress: the caller's `&mut dyn Host`, kept
/// in [`Running`] only while [`Vm::run`] borrows it (a guard removes it
/// before the run returns or unwinds).
struct HostRef(*mut (dyn Host + 'static));

// SAFETY: the pointer is only followed by the thread running the script,
// during the run, while the caller's borrow lasts.
unsafe impl Send for HostRef {}

/// Removes the run's state when the run ends, however it ends: the host
/// it points to is borrowed for the run only.
struct RunningGuard<'l>(&'l Lua);

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        self.0.remove_app_data::<Running>();
    }
}

/// One run's state, kept in the interpreter while it runs.
struct Running {
    host: HostRef,
    /// `redis.setresp`: the protocol of the replies the script sees.
    resp3: bool,
    stop: Stop,
    killed: bool,
}

impl Running {
    fn host(&self) -> &dyn Host {
        // SAFETY: see [`HostRef`]: the run that set it is in progress.
        unsafe { &*self.host.0 }
    }

    fn host_mut(&mut self) -> &mut dyn Host {
        // SAFETY: as for `host`.
        unsafe { &mut *self.host.0 }
    }
}

/// Redis's `redisLrand48` state (`math.random` is deterministic).
struct Rand(u64);

impl Rand {
    const A: u64 = 0x5_DEEC_E66D;
    const MASK: u64 = (1 << 48) - 1;

    fn seed(seed: i32) -> Rand {
        Rand((((seed as u32 as u64) << 16) | 0x330E) & Self::MASK)
    }

    fn next(&mut self) -> i32 {
        self.0 = (self.0.wrapping_mul(Self::A).wrapping_add(0xB)) & Self::MASK;
        (self.0 >> 17) as i32
    }
}

/// A function a library registered, with its flags.
#[derive(Clone)]
pub struct Registered {
    pub name: String,
    pub description: Option<String>,
    pub flags: Vec<String>,
}

/// What FUNCTION LOAD's code registers while it runs.
#[derive(Default)]
struct Registering {
    functions: Vec<(Registered, Function)>,
}

/// The version scripts see in `redis.REDIS_VERSION`.
pub struct Version {
    pub text: &'static str,
    pub num: u32,
}

/// One Lua interpreter.
pub struct Vm {
    lua: Lua,
    env: Table,
    run: Function,
    load_library: Function,
    /// Compiled EVAL scripts by SHA1.
    scripts: HashMap<String, Function>,
    /// Functions of the loaded libraries, by function name in lower case
    /// (names are case-insensitive, as in Redis).
    functions: HashMap<String, (Registered, Function)>,
    /// The libraries loaded here, by name: their code and the functions
    /// they registered.
    libraries: HashMap<String, (Bytes, Vec<Registered>)>,
}

/// What [`Vm::run`] runs: an EVAL script or a library's function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Script,
    Function,
}

/// What a run answers besides its reply.
pub struct Outcome {
    pub reply: Reply,
    /// SCRIPT KILL or the deadline stopped it.
    pub killed: bool,
}

const SANDBOX: &str = include_str!("sandbox.lua");

/// Instructions between two looks at SCRIPT KILL and the deadline.
const HOOK_EVERY: u32 = 100_000;

/// How long a library's code may run while it loads (Redis's
/// `LOAD_TIMEOUT_MS`).
const LOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

/// A library loading: until when it may run, and whether it ran out.
struct Loading {
    until: Instant,
    timed_out: bool,
}

impl Vm {
    /// A fresh interpreter using at most `memory_limit` bytes (0: no
    /// limit).
    pub fn new(memory_limit: usize, version: Version) -> mlua::Result<Vm> {
        // The debug library is loaded for the error handler alone: the
        // sandbox keeps a private reference and removes the global.
        let lua = unsafe {
            Lua::unsafe_new_with(
                StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG,
                LuaOptions::new(),
            )
        };
        libs::load(&lua)?;
        lua.set_app_data(Rand::seed(0));
        let host = lua.create_table()?;
        host.set(
            "call",
            lua.create_function(|lua, args| call(lua, args, true))?,
        )?;
        host.set(
            "pcall",
            lua.create_function(|lua, args| call(lua, args, false))?,
        )?;
        host.set("take_error", lua.create_function(convert::take_error)?)?;
        host.set(
            "killed",
            lua.create_function(|lua, ()| {
                Ok(lua.app_data_ref::<Running>().is_some_and(|r| r.killed)
                    || lua.app_data_ref::<Loading>().is_some_and(|l| l.timed_out))
            })?,
        )?;
        host.set("sha1hex", lua.create_function(sha1hex)?)?;
        host.set(
            "error_reply",
            lua.create_function(|lua, args: MultiValue| single_field(lua, args, "err"))?,
        )?;
        host.set(
            "status_reply",
            lua.create_function(|lua, args: MultiValue| single_field(lua, args, "ok"))?,
        )?;
        host.set("log", lua.create_function(log)?)?;
        host.set("setresp", lua.create_function(setresp)?)?;
        host.set("set_repl", lua.create_function(set_repl)?)?;
        host.set("acl_check", lua.create_function(acl_check)?)?;
        host.set("random", lua.create_function(random)?)?;
        host.set("randomseed", lua.create_function(randomseed)?)?;
        host.set("register_function", lua.create_function(register_function)?)?;
        host.set("version", version.text)?;
        host.set("version_num", version.num)?;
        lua.globals().set("__respire", host)?;
        let (env, run, load_library): (Table, Function, Function) =
            lua.load(SANDBOX).set_name("@respire").call(())?;
        if memory_limit > 0 {
            lua.set_memory_limit(memory_limit)?;
        }
        // Global: coroutines a script makes are watched too.
        lua.set_global_hook(
            HookTriggers::new().every_nth_instruction(HOOK_EVERY),
            |lua, _debug| {
                if let Some(mut loading) = lua.app_data_mut::<Loading>()
                    && Instant::now() >= loading.until
                {
                    loading.timed_out = true;
                    return Err(mlua::Error::runtime("FUNCTION LOAD timeout"));
                }
                let Some(mut running) = lua.app_data_mut::<Running>() else {
                    return Ok(VmState::Continue);
                };
                let late = running.stop.deadline.is_some_and(|d| Instant::now() >= d);
                if running.stop.kill.load(Ordering::Relaxed) || late {
                    running.killed = true;
                    return Err(mlua::Error::runtime("Script killed"));
                }
                Ok(VmState::Continue)
            },
        )?;
        Ok(Vm {
            lua,
            env,
            run,
            load_library,
            scripts: HashMap::new(),
            functions: HashMap::new(),
            libraries: HashMap::new(),
        })
    }

    /// Whether the script `sha` is compiled here.
    pub fn has_script(&self, sha: &str) -> bool {
        self.scripts.contains_key(sha)
    }

    /// Compiles an EVAL script's body (its shebang line, if any,
    /// removed by the caller) under `sha`; the error is Redis's text.
    pub fn compile(&mut self, sha: &str, body: &[u8]) -> Result<(), Bytes> {
        // Only source text: Redis's Lua takes a precompiled chunk for
        // text, which fails at its first byte.
        if body.first() == Some(&0x1b) {
            return Err(Bytes::from_static(
                b"ERR Error compiling script (new function): user_script:1: unexpected symbol near 'char(27)'",
            ));
        }
        match self
            .lua
            .load(body)
            .set_name("@user_script")
            .set_environment(self.env.clone())
            .into_function()
        {
            Ok(f) => {
                self.scripts.insert(sha.to_string(), f);
                Ok(())
            }
            Err(e) => Err(Bytes::from(format!(
                "ERR Error compiling script (new function): {}",
                convert::lua_error_text(&e)
            ))),
        }
    }

    /// Forgets every compiled script (SCRIPT FLUSH).
    pub fn flush_scripts(&mut self) {
        self.scripts.clear();
        self.lua.gc_collect().ok();
    }

    /// Runs a compiled script with its KEYS and ARGV (globals), or a
    /// library's function with them as its arguments; `name` (the SHA1, or
    /// the function's name) is what errors name it by. None when the
    /// script is not compiled here, or no library registered the function.
    pub fn run(
        &mut self,
        target: Target,
        name: &str,
        keys: &[Bytes],
        argv: &[Bytes],
        host: &mut dyn Host,
        stop: Stop,
    ) -> Option<Outcome> {
        let f = match target {
            Target::Script => self.scripts.get(name).cloned()?,
            Target::Function => self
                .functions
                .get(&name.to_ascii_lowercase())
                .map(|(_, f)| f.clone())?,
        };
        let args = (|| -> mlua::Result<MultiValue> {
            let (keys, argv) = (self.array(keys)?, self.array(argv)?);
            Ok(match target {
                Target::Script => {
                    let globals = self.lua.globals();
                    globals.raw_set("KEYS", keys)?;
                    globals.raw_set("ARGV", argv)?;
                    MultiValue::new()
                }
                Target::Function => {
                    MultiValue::from_vec(vec![Value::Table(keys), Value::Table(argv)])
                }
            })
        })();
        Some(match args {
            Ok(args) => self.call(f, args, name, host, stop),
            Err(e) => Outcome {
                reply: Reply::error(format!("ERR {}", convert::lua_error_text(&e))),
                killed: false,
            },
        })
    }

    fn array(&self, items: &[Bytes]) -> mlua::Result<Table> {
        let t = self.lua.create_table_with_capacity(items.len(), 0)?;
        for (i, item) in items.iter().enumerate() {
            t.raw_set(i + 1, self.lua.create_string(item)?)?;
        }
        Ok(t)
    }

    fn call(
        &mut self,
        f: Function,
        args: MultiValue,
        name: &str,
        host: &mut dyn Host,
        stop: Stop,
    ) -> Outcome {
        self.lua.remove_app_data::<convert::PendingError>();
        let host: *mut (dyn Host + '_) = host;
        // SAFETY: only the lifetime bound changes; `_guard` removes the
        // pointer before `host`'s borrow ends.
        let host: *mut (dyn Host + 'static) = unsafe { std::mem::transmute(host) };
        let _guard = RunningGuard(&self.lua);
        self.lua.set_app_data(Running {
            host: HostRef(host),
            resp3: false,
            stop,
            killed: false,
        });
        let mut call_args = MultiValue::from_vec(vec![Value::Function(f)]);
        call_args.extend(args);
        let result: mlua::Result<MultiValue> = self.run.call(call_args);
        let running = self.lua.remove_app_data::<Running>();
        let (resp3, killed) = running.map_or((false, false), |r| (r.resp3, r.killed));
        let reply = if killed {
            Reply::error("ERR Script killed by user with SCRIPT KILL...")
        } else {
            match result {
                Ok(values) => {
                    let mut values = values.into_iter();
                    let ok = matches!(values.next(), Some(Value::Boolean(true)));
                    let value = values.next().unwrap_or(Value::Nil);
                    if ok {
                        convert::to_reply(&value, resp3)
                    } else {
                        convert::raised(&value, name)
                    }
                }
                Err(e) => Reply::error(format!(
                    "ERR Error running script {name}, {}",
                    convert::lua_error_text(&e)
                )),
            }
        };
        // Redis steps the collector after runs; a run that grew the heap
        // gives it back here.
        self.lua.gc_step().ok();
        Outcome { reply, killed }
    }

    /// Loads a library's code (FUNCTION LOAD's body after its shebang):
    /// the functions it registers, or Redis's error text. Nothing is kept
    /// until [`Vm::install`].
    pub fn load_library(&mut self, code: &[u8]) -> Result<Vec<Registered>, Bytes> {
        let (registered, _) = self.evaluate_library(code)?;
        Ok(registered)
    }

    fn evaluate_library(&mut self, code: &[u8]) -> Result<(Vec<Registered>, Vec<Function>), Bytes> {
        self.lua.set_app_data(Registering::default());
        let code = match self
            .lua
            .create_string(crate::lua::shebang::library_code(code))
        {
            Ok(s) => s,
            Err(e) => return Err(Bytes::from(format!("ERR {e}"))),
        };
        self.lua.set_app_data(Loading {
            until: Instant::now() + LOAD_TIMEOUT,
            timed_out: false,
        });
        let result: mlua::Result<MultiValue> = self.load_library.call(code);
        self.lua.remove_app_data::<Loading>();
        let registering = self
            .lua
            .remove_app_data::<Registering>()
            .unwrap_or_default();
        let values =
            result.map_err(|e| Bytes::from(format!("ERR {}", convert::lua_error_text(&e))))?;
        let mut values = values.into_iter();
        let ok = matches!(values.next(), Some(Value::Boolean(true)));
        if !ok {
            let err = values.next().unwrap_or(Value::Nil);
            let text = match &err {
                Value::String(s) => format!(
                    "ERR Error compiling function: {}",
                    String::from_utf8_lossy(&s.as_bytes())
                ),
                other => format!(
                    "ERR Error registering functions: {}",
                    ErrorInfo::of(other).msg
                ),
            };
            return Err(Bytes::from(text));
        }
        if registering.functions.is_empty() {
            return Err(Bytes::from_static(b"ERR No functions registered"));
        }
        Ok(registering.functions.into_iter().unzip())
    }

    /// Makes exactly these libraries (name → code, the ones in force)
    /// callable here, loading them again only when they differ from what
    /// is loaded. A library that does not load is left out; its name and
    /// error come back.
    pub fn use_libraries(&mut self, libraries: &HashMap<String, Bytes>) -> Vec<(String, Bytes)> {
        let same = self.libraries.len() == libraries.len()
            && libraries
                .iter()
                .all(|(name, code)| self.libraries.get(name).is_some_and(|(c, _)| c == code));
        if same {
            return Vec::new();
        }
        self.functions.clear();
        self.libraries.clear();
        let mut failed = Vec::new();
        for (name, code) in libraries {
            match self.evaluate_library(code) {
                Ok((registered, functions)) => {
                    for (r, f) in registered.iter().zip(functions) {
                        self.functions
                            .insert(r.name.to_ascii_lowercase(), (r.clone(), f));
                    }
                    self.libraries
                        .insert(name.clone(), (code.clone(), registered));
                }
                Err(text) => failed.push((name.clone(), text)),
            }
        }
        self.lua.gc_collect().ok();
        failed
    }

    /// The libraries loaded here, by name: their code and functions.
    pub fn libraries(&self) -> std::collections::BTreeMap<&str, (&Bytes, &[Registered])> {
        self.libraries
            .iter()
            .map(|(name, (code, fs))| (name.as_str(), (code, fs.as_slice())))
            .collect()
    }

    /// A function of the libraries loaded here, with its flags.
    pub fn function(&self, name: &str) -> Option<&Registered> {
        self.functions
            .get(&name.to_ascii_lowercase())
            .map(|(r, _)| r)
    }

    /// After a run: collects the garbage if the heap grew past a quarter
    /// of the limit; false when it still holds that much (the caller
    /// drops the interpreter rather than keep it).
    pub fn settle(&mut self, memory_limit: usize) -> bool {
        let quarter = if memory_limit == 0 {
            64 << 20
        } else {
            memory_limit / 4
        };
        if self.lua.used_memory() <= quarter {
            return true;
        }
        self.lua.gc_collect().ok();
        self.lua.gc_collect().ok();
        self.lua.used_memory() <= quarter
    }

    /// The bytes the interpreter holds.
    pub fn used_memory(&self) -> usize {
        self.lua.used_memory()
    }
}

/// A `redis.call` argument as Redis passes it on: strings as they are,
/// numbers as `%.17g` (not Lua's 14 digits); None for any other type.
fn command_arg(value: &Value) -> Option<Bytes> {
    match value {
        Value::String(s) => Some(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Integer(i) => Some(Bytes::from(i.to_string())),
        Value::Number(n) => Some(Bytes::from(crate::reply::format_double(*n))),
        _ => None,
    }
}

/// A `redis.call`-style argument list; Redis's error text when one is not
/// a string or a number, or when there is none.
fn command_args(args: &MultiValue) -> Result<Vec<Bytes>, &'static str> {
    if args.is_empty() {
        return Err("Please specify at least one argument for this redis lib call");
    }
    args.iter()
        .map(|v| {
            command_arg(v).ok_or("Lua redis lib command arguments must be strings or integers")
        })
        .collect()
}

/// A string or number as Lua's own coercion writes it (`%.14g`); None
/// for other types.
fn lua_text(lua: &Lua, value: &Value) -> Option<Vec<u8>> {
    lua.coerce_string(value.clone())
        .ok()
        .flatten()
        .map(|s| s.as_bytes().to_vec())
}

/// `redis.call` (`raise`: an error reply is raised) and `redis.pcall`
/// (it is returned as its error table).
fn call(lua: &Lua, args: MultiValue, raise: bool) -> mlua::Result<Value> {
    let error = |text: &str| -> mlua::Result<Value> {
        if raise {
            Err(convert::raise_table(lua, text.as_bytes()))
        } else {
            convert::error_table(lua, text.as_bytes())
        }
    };
    let argv = match command_args(&args) {
        Ok(argv) => argv,
        Err(text) => return error(&format!("ERR {text}")),
    };
    let Some(mut running) = lua.app_data_mut::<Running>() else {
        return error("ERR redis.call/pcall can only be called inside a script invocation");
    };
    let resp3 = running.resp3;
    let reply = running.host_mut().call(argv, resp3);
    drop(running);
    if let Reply::Error(text) = &reply {
        if raise {
            return Err(convert::raise_table(lua, text));
        }
        return convert::error_table(lua, text);
    }
    convert::to_lua(lua, &reply, resp3)
}

fn sha1hex(lua: &Lua, args: MultiValue) -> mlua::Result<Value> {
    if args.len() != 1 {
        return Err(convert::raise(lua, "wrong number of arguments"));
    }
    let bytes = lua_text(lua, &args[0]).unwrap_or_default();
    Ok(Value::String(lua.create_string(sha1_hex(&bytes))?))
}

/// The lower-case hex SHA1 of `bytes` (a script's name).
pub fn sha1_hex(bytes: &[u8]) -> String {
    use sha1::{Digest, Sha1};
    let digest = Sha1::digest(bytes);
    let mut out = String::with_capacity(40);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// `redis.error_reply` / `redis.status_reply`: a table with one field.
fn single_field(lua: &Lua, args: MultiValue, field: &str) -> mlua::Result<Value> {
    let text = match (args.len(), args.front()) {
        (1, Some(Value::String(s))) => s.as_bytes().to_vec(),
        _ => {
            return convert::error_table(lua, b"ERR wrong number or type of arguments");
        }
    };
    if field == "err" {
        // Redis's luaPushErrorBuff: the code is what comes before the
        // first space (`ERR` when there is none), then the message.
        let body = text.strip_prefix(b"-").unwrap_or(&text);
        let full = match body.iter().position(|b| *b == b' ') {
            Some(space) => {
                let mut full = body[..space].to_vec();
                full.push(b' ');
                full.extend_from_slice(&body[space + 1..]);
                full
            }
            None => [&b"ERR "[..], body].concat(),
        };
        return convert::error_table(lua, &full);
    }
    let t = lua.create_table()?;
    t.raw_set(field, lua.create_string(&text)?)?;
    Ok(Value::Table(t))
}

fn log(lua: &Lua, args: MultiValue) -> mlua::Result<()> {
    if args.len() < 2 {
        return Err(convert::raise(
            lua,
            "redis.log() requires two arguments or more.",
        ));
    }
    let level = match &args[0] {
        Value::Integer(i) => *i as f64,
        Value::Number(n) => *n,
        Value::String(s) => match std::str::from_utf8(&s.as_bytes())
            .ok()
            .and_then(|t| t.trim().parse().ok())
        {
            Some(n) => n,
            None => {
                return Err(convert::raise(
                    lua,
                    "First argument must be a number (log level).",
                ));
            }
        },
        _ => {
            return Err(convert::raise(
                lua,
                "First argument must be a number (log level).",
            ));
        }
    };
    let level = level as i64;
    if !(0..=3).contains(&level) {
        return Err(convert::raise(lua, "Invalid debug level."));
    }
    let mut text = Vec::new();
    for (i, arg) in args.iter().skip(1).enumerate() {
        let Some(part) = lua_text(lua, arg) else {
            continue;
        };
        if i > 0 {
            text.push(b' ');
        }
        text.extend_from_slice(&part);
    }
    let text = String::from_utf8_lossy(&text);
    match level {
        0 | 1 => tracing::debug!(target: "respire::script", "{text}"),
        2 => tracing::info!(target: "respire::script", "{text}"),
        _ => tracing::warn!(target: "respire::script", "{text}"),
    }
    Ok(())
}

fn setresp(lua: &Lua, args: MultiValue) -> mlua::Result<()> {
    let Some(mut running) = lua.app_data_mut::<Running>() else {
        return Err(convert::raise(
            lua,
            "redis.setresp can only be called inside a script invocation",
        ));
    };
    if args.len() != 1 {
        drop(running);
        return Err(convert::raise(
            lua,
            "redis.setresp() requires one argument.",
        ));
    }
    let resp = match &args[0] {
        Value::Integer(i) => *i,
        Value::Number(n) => *n as i64,
        _ => 0,
    };
    match resp {
        2 => running.resp3 = false,
        3 => running.resp3 = true,
        _ => {
            drop(running);
            return Err(convert::raise(lua, "RESP version must be 2 or 3."));
        }
    }
    Ok(())
}

fn set_repl(lua: &Lua, args: MultiValue) -> mlua::Result<()> {
    if lua.app_data_ref::<Running>().is_none() {
        return Err(convert::raise(
            lua,
            "redis.set_repl can only be called inside a script invocation",
        ));
    }
    if args.len() != 1 {
        return Err(convert::raise(
            lua,
            "redis.set_repl() requires two arguments.",
        ));
    }
    let flags = match &args[0] {
        Value::Integer(i) => *i,
        Value::Number(n) => *n as i64,
        _ => 0,
    };
    if flags & !3 != 0 {
        return Err(convert::raise(
            lua,
            "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
        ));
    }
    Ok(())
}

fn acl_check(lua: &Lua, args: MultiValue) -> mlua::Result<bool> {
    let Some(running) = lua.app_data_ref::<Running>() else {
        return Err(convert::raise(
            lua,
            "redis.acl_check_cmd can only be called inside a script invocation",
        ));
    };
    let argv = match command_args(&args) {
        Ok(argv) => argv,
        Err(text) => {
            drop(running);
            return Err(convert::raise(lua, text));
        }
    };
    if running.host().is_command(&argv) {
        Ok(true)
    } else {
        drop(running);
        Err(convert::raise(
            lua,
            "Invalid command passed to redis.acl_check_cmd()",
        ))
    }
}

fn random(lua: &Lua, args: MultiValue) -> mlua::Result<f64> {
    const MAX: f64 = i32::MAX as f64;
    let r = {
        let mut rand = lua
            .app_data_mut::<Rand>()
            .ok_or_else(|| mlua::Error::runtime("no generator"))?;
        (rand.next() as i64 % i32::MAX as i64) as f64 / MAX
    };
    let int = |v: &Value| -> mlua::Result<i64> {
        match v {
            Value::Integer(i) => Ok(*i),
            Value::Number(n) => Ok(*n as i64),
            Value::String(s) => std::str::from_utf8(&s.as_bytes())
                .ok()
                .and_then(|t| t.trim().parse::<f64>().ok())
                .map(|n| n as i64)
                .ok_or_else(|| mlua::Error::runtime("bad argument (number expected)")),
            _ => Err(mlua::Error::runtime("bad argument (number expected)")),
        }
    };
    match args.len() {
        0 => Ok(r),
        1 => {
            let u = int(&args[0])?;
            if u < 1 {
                return Err(mlua::Error::runtime(
                    "bad argument #1 to 'random' (interval is empty)",
                ));
            }
            Ok((r * u as f64).floor() + 1.0)
        }
        2 => {
            let l = int(&args[0])?;
            let u = int(&args[1])?;
            if l > u {
                return Err(mlua::Error::runtime(
                    "bad argument #2 to 'random' (interval is empty)",
                ));
            }
            Ok((r * (u - l + 1) as f64).floor() + l as f64)
        }
        _ => Err(mlua::Error::runtime("wrong number of arguments")),
    }
}

fn randomseed(lua: &Lua, seed: Value) -> mlua::Result<()> {
    // luaL_checkint: a number, or a string that reads as one.
    let seed = match seed {
        Value::Integer(i) => i as i32,
        Value::Number(n) => n as i64 as i32,
        other => match lua.coerce_number(other)? {
            Some(n) => n as i64 as i32,
            None => {
                return Err(mlua::Error::runtime(
                    "bad argument #1 to 'randomseed' (number expected)",
                ));
            }
        },
    };
    lua.set_app_data(Rand::seed(seed));
    Ok(())
}

/// `redis.register_function(name, callback)` or
/// `redis.register_function{function_name=, callback=, flags=, description=}`.
fn register_function(lua: &Lua, args: MultiValue) -> mlua::Result<()> {
    if lua.app_data_ref::<Registering>().is_none() {
        return Err(convert::raise(
            lua,
            "redis.register_function can only be called on FUNCTION LOAD command",
        ));
    }
    let (name, callback, flags, description) = match (args.len(), args.front()) {
        (1, Some(Value::Table(t))) => {
            let mut name = None;
            let mut callback = None;
            let mut flags = Vec::new();
            let mut description = None;
            for pair in t.clone().pairs::<Value, Value>() {
                let (k, v) = pair?;
                let key = match &k {
                    Value::String(s) => s.to_string_lossy(),
                    _ => {
                        return Err(convert::raise(
                            lua,
                            "named argument key given to redis.register_function is not a string",
                        ));
                    }
                };
                match key.as_str() {
                    "function_name" => match v {
                        Value::String(s) => name = Some(s.to_string_lossy()),
                        _ => {
                            return Err(convert::raise(
                                lua,
                                "function_name argument given to redis.register_function must be a string",
                            ));
                        }
                    },
                    "description" => match v {
                        Value::String(s) => description = Some(s.to_string_lossy()),
                        _ => {
                            return Err(convert::raise(
                                lua,
                                "description argument given to redis.register_function must be a string",
                            ));
                        }
                    },
                    "callback" => match v {
                        Value::Function(f) => callback = Some(f),
                        _ => {
                            return Err(convert::raise(
                                lua,
                                "callback argument given to redis.register_function must be a function",
                            ));
                        }
                    },
                    "flags" => match v {
                        Value::Table(ft) => {
                            for flag in ft.sequence_values::<Value>() {
                                match flag? {
                                    Value::String(s) => {
                                        let f = s.to_string_lossy();
                                        if !FUNCTION_FLAGS.contains(&f.as_str()) {
                                            return Err(convert::raise(lua, "unknown flag given"));
                                        }
                                        flags.push(f);
                                    }
                                    _ => return Err(convert::raise(lua, "unknown flag given")),
                                }
                            }
                        }
                        _ => {
                            return Err(convert::raise(
                                lua,
                                "flags argument to redis.register_function must be a table representing function flags",
                            ));
                        }
                    },
                    _ => {
                        return Err(convert::raise(
                            lua,
                            "unknown argument given to redis.register_function",
                        ));
                    }
                }
            }
            let Some(name) = name else {
                return Err(convert::raise(
                    lua,
                    "redis.register_function must get a function name argument",
                ));
            };
            let Some(callback) = callback else {
                return Err(convert::raise(
                    lua,
                    "redis.register_function must get a callback argument",
                ));
            };
            (name, callback, flags, description)
        }
        (1, _) => {
            return Err(convert::raise(
                lua,
                "calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).",
            ));
        }
        (2, _) => {
            let name = match &args[0] {
                Value::String(s) => s.to_string_lossy(),
                _ => {
                    return Err(convert::raise(
                        lua,
                        "first argument to redis.register_function must be a string",
                    ));
                }
            };
            let callback = match &args[1] {
                Value::Function(f) => f.clone(),
                _ => {
                    return Err(convert::raise(
                        lua,
                        "second argument to redis.register_function must be a function",
                    ));
                }
            };
            (name, callback, Vec::new(), None)
        }
        _ => {
            return Err(convert::raise(
                lua,
                "wrong number of arguments to redis.register_function",
            ));
        }
    };
    if !valid_function_name(&name) {
        // Redis 7.0's text for a bad function name.
        return Err(convert::raise(
            lua,
            "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long",
        ));
    }
    let mut registering = lua
        .app_data_mut::<Registering>()
        .ok_or_else(|| mlua::Error::runtime("not loading"))?;
    if registering
        .functions
        .iter()
        .any(|(r, _)| r.name.eq_ignore_ascii_case(&name))
    {
        drop(registering);
        return Err(convert::raise(
            lua,
            "Function already exists in the library",
        ));
    }
    registering.functions.push((
        Registered {
            name,
            description,
            flags,
        },
        callback,
    ));
    Ok(())
}
