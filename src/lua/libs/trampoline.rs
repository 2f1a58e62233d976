//! What the libraries share: the trampoline that turns a Rust closure
//! into a C function raising Lua's own errors, argument and result
//! helpers, and the stack limits of Lua 5.1 they count.

use std::ffi::c_int;

use mlua::{Function, LightUserData, Lua, MaybeSend, MultiValue, Table, Value, ffi};

/// `LUAI_MAXCSTACK` of Lua 5.1: the most stack slots a C function may
/// use. The C libraries' `lua_checkstack` calls fail past it, and some of
/// their limits (nesting, results) follow from it; the Rust versions count
/// the slots the C code would hold to fail where it does.
pub(crate) const MAX_C_STACK: usize = 8000;

/// A failure of a library function, raised by the trampoline.
pub(crate) enum LibError {
    /// `luaL_argerror(narg, message)`: "bad argument #narg to 'f' (message)".
    Arg(c_int, Vec<u8>),
    /// `luaL_error(message)`: the message after the position of the
    /// calling Lua code ("user_script:1: ").
    Msg(Vec<u8>),
    /// An error Lua itself raises in a C function (e.g. "table index is
    /// nil"): the message alone.
    Raw(Vec<u8>),
    /// A failure of the interpreter itself (memory): passed on as is.
    Lua(mlua::Error),
}

impl From<mlua::Error> for LibError {
    fn from(e: mlua::Error) -> Self {
        LibError::Lua(e)
    }
}

pub(crate) type LibResult<T> = Result<T, LibError>;

/// `luaL_error` with a formatted message.
pub(crate) fn err_msg<T>(msg: impl Into<Vec<u8>>) -> LibResult<T> {
    Err(LibError::Msg(msg.into()))
}

/// `luaL_argerror`.
pub(crate) fn err_arg<T>(narg: c_int, msg: impl Into<Vec<u8>>) -> LibResult<T> {
    Err(LibError::Arg(narg, msg.into()))
}

/// `luaL_checkstack(L, n, msg)` given the slots in use.
pub(crate) fn check_stack(top: usize, extra: usize, msg: &str) -> LibResult<()> {
    if top + extra > MAX_C_STACK {
        return err_msg(format!("stack overflow ({msg})"));
    }
    Ok(())
}

/// What a library function answers.
pub(crate) enum Ret {
    /// These values.
    Values(MultiValue),
    /// Values `1..=n` of this table: for functions that may answer
    /// thousands of values, which the interpreter could not all hold as
    /// Rust references at once.
    Spread(Table, usize),
}

impl Ret {
    /// One value.
    pub(crate) fn one(v: Value) -> LibResult<Ret> {
        Ok(Ret::Values(MultiValue::from_vec(vec![v])))
    }
}

/// Results gathered in a Lua table, answered as [`Ret::Spread`].
pub(crate) struct Results {
    table: Table,
    n: usize,
}

impl Results {
    pub(crate) fn new(lua: &Lua) -> mlua::Result<Results> {
        Ok(Results {
            table: lua.create_table()?,
            n: 0,
        })
    }

    /// How many there are.
    pub(crate) fn len(&self) -> usize {
        self.n
    }

    pub(crate) fn push(&mut self, v: Value) -> mlua::Result<()> {
        self.n += 1;
        self.table.raw_set(self.n, v)
    }

    /// Replaces result `i` (1-based).
    pub(crate) fn set(&self, i: usize, v: Value) -> mlua::Result<()> {
        self.table.raw_set(i, v)
    }

    /// The last one.
    pub(crate) fn last(&self) -> mlua::Result<Option<Value>> {
        if self.n == 0 {
            return Ok(None);
        }
        self.table.raw_get(self.n).map(Some)
    }

    /// Drops the last one.
    pub(crate) fn pop(&mut self) -> mlua::Result<()> {
        if self.n > 0 {
            self.table.raw_set(self.n, Value::Nil)?;
            self.n -= 1;
        }
        Ok(())
    }

    pub(crate) fn into_ret(self) -> LibResult<Ret> {
        Ok(Ret::Spread(self.table, self.n))
    }
}

/// Calls with more arguments than this reach the Rust function packed in
/// a table (see [`Args`]).
const DIRECT_ARGS: c_int = 32;

/// The address that tags packed arguments and spread results between a
/// trampoline and its function (scripts cannot make light userdata).
static MARKER: u8 = 0;

fn marker() -> *mut std::ffi::c_void {
    std::ptr::addr_of!(MARKER) as *mut std::ffi::c_void
}

/// Wraps `f` as a library function. `f` returns its results, or a
/// [`LibError`] that the trampoline raises as a Lua error.
pub(crate) fn lib_function<F>(lua: &Lua, f: F) -> mlua::Result<Function>
where
    F: Fn(&Lua, Args) -> LibResult<Ret> + MaybeSend + 'static,
{
    let inner = lua.create_function(move |lua, args: MultiValue| {
        let args = Args::from_call(args);
        let mut out = MultiValue::new();
        match f(lua, args) {
            Ok(Ret::Values(results)) => {
                out.push_back(Value::Boolean(true));
                out.extend(results);
            }
            Ok(Ret::Spread(table, n)) => {
                out.push_back(Value::LightUserData(LightUserData(marker())));
                out.push_back(Value::Table(table));
                out.push_back(Value::Integer(n as i64));
            }
            Err(LibError::Arg(narg, msg)) => {
                out.push_back(Value::Boolean(false));
                out.push_back(Value::String(lua.create_string(msg)?));
                out.push_back(Value::Integer(narg.into()));
            }
            Err(LibError::Msg(msg)) => {
                out.push_back(Value::Boolean(false));
                out.push_back(Value::String(lua.create_string(msg)?));
            }
            Err(LibError::Raw(msg)) => {
                out.push_back(Value::Boolean(false));
                out.push_back(Value::String(lua.create_string(msg)?));
                out.push_back(Value::Boolean(true));
            }
            Err(LibError::Lua(e)) => return Err(e),
        }
        Ok(out)
    })?;
    // SAFETY: pushes one C closure over the function given as argument,
    // which `exec_raw` returns; `trampoline` keeps Lua's stack discipline.
    unsafe { lua.exec_raw(inner, |state| ffi::lua_pushcclosure(state, trampoline, 1)) }
}

/// Calls the Rust function (upvalue 1) with this call's arguments (packed
/// in a table past [`DIRECT_ARGS`]). It answers `true, results...`,
/// `MARKER, table, n` (results spread from a table) or
/// `false, message[, narg | true]` (an argument error, a raw error, else
/// as `luaL_error`); the latter is raised here, where no Rust value lives
/// that a `longjmp` would skip.
unsafe extern "C-unwind" fn trampoline(state: *mut ffi::lua_State) -> c_int {
    // SAFETY: a Lua C function, called by Lua with a valid state; every
    // index used is within the slots checked for.
    unsafe {
        // (A C function may push LUA_MINSTACK values unchecked: this uses
        // at most 5 before the call.)
        let nargs = ffi::lua_gettop(state);
        let base = if nargs > DIRECT_ARGS {
            ffi::lua_createtable(state, nargs, 0);
            for i in 1..=nargs {
                ffi::lua_pushvalue(state, i);
                ffi::lua_rawseti(state, nargs + 1, i.into());
            }
            ffi::lua_replace(state, 1);
            ffi::lua_settop(state, 1);
            ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
            ffi::lua_pushlightuserdata(state, marker());
            ffi::lua_pushvalue(state, 1);
            ffi::lua_pushinteger(state, nargs as ffi::lua_Integer);
            ffi::lua_call(state, 3, ffi::LUA_MULTRET);
            1
        } else {
            ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
            ffi::lua_insert(state, 1);
            ffi::lua_call(state, nargs, ffi::LUA_MULTRET);
            0
        };
        let nresults = ffi::lua_gettop(state) - base;
        let first = base + 1;
        if ffi::lua_type(state, first) == ffi::LUA_TLIGHTUSERDATA
            && ffi::lua_touserdata(state, first) == marker()
        {
            let n = ffi::lua_tointeger(state, first + 2) as c_int;
            // Only the table stays below the results.
            ffi::lua_settop(state, first + 1);
            ffi::lua_replace(state, first);
            if ffi::lua_checkstack(state, n) == 0 {
                ffi::luaL_where(state, 1);
                ffi::lua_pushstring(state, c"stack overflow (too many results)".as_ptr());
                ffi::lua_concat(state, 2);
                ffi::lua_error(state);
            }
            for i in 1..=n {
                ffi::lua_rawgeti(state, first, i.into());
            }
            return n;
        }
        if ffi::lua_toboolean(state, first) != 0 {
            return nresults - 1;
        }
        if nresults >= 3 && ffi::lua_type(state, first + 2) == ffi::LUA_TNUMBER {
            let narg = ffi::lua_tointeger(state, first + 2) as c_int;
            let msg = ffi::lua_tolstring(state, first + 1, std::ptr::null_mut());
            ffi::luaL_argerror(state, narg, msg);
        }
        let raw = nresults >= 3;
        ffi::lua_settop(state, first + 1);
        if !raw {
            // As `luaL_error`: where the calling Lua code is, then the text.
            ffi::luaL_where(state, 1);
            ffi::lua_insert(state, -2);
            ffi::lua_concat(state, 2);
        }
        ffi::lua_error(state)
    }
}

/// The arguments of a call, read as the Lua C API reads them.
pub(crate) enum Args {
    /// As passed.
    Direct(MultiValue),
    /// Values `1..=n` of a table (many arguments).
    Packed(Table, usize),
}

impl Args {
    fn from_call(args: MultiValue) -> Args {
        if let (Some(Value::LightUserData(ud)), Some(Value::Table(t)), Some(Value::Integer(n))) =
            (args.front(), args.get(1), args.get(2))
            && ud.0 == marker()
        {
            return Args::Packed(t.clone(), *n as usize);
        }
        Args::Direct(args)
    }

    /// The arguments and a nil after them, as `struct.pack` sees its own
    /// (it pushes a nil right above them).
    pub(crate) fn with_trailing_nil(self) -> Args {
        match self {
            Args::Direct(mut v) => {
                v.push_back(Value::Nil);
                Args::Direct(v)
            }
            Args::Packed(t, n) => Args::Packed(t, n + 1),
        }
    }

    /// `lua_gettop`.
    pub(crate) fn len(&self) -> usize {
        match self {
            Args::Direct(v) => v.len(),
            Args::Packed(_, n) => *n,
        }
    }

    /// Argument `i` (1-based); `None` past the last one ("no value").
    pub(crate) fn get(&self, i: usize) -> Option<Value> {
        if i == 0 || i > self.len() {
            return None;
        }
        match self {
            Args::Direct(v) => v.get(i - 1).cloned(),
            Args::Packed(t, _) => Some(t.raw_get(i).unwrap_or(Value::Nil)),
        }
    }

    /// `lua_isnoneornil`.
    pub(crate) fn is_none_or_nil(&self, i: usize) -> bool {
        matches!(self.get(i), None | Some(Value::Nil))
    }

    /// `luaL_typename`: the type of argument `i`, "no value" past the end.
    pub(crate) fn type_name(&self, i: usize) -> &'static str {
        self.get(i).map_or("no value", |v| type_name(&v))
    }

    /// `luaL_typerror`.
    pub(crate) fn type_error<T>(&self, i: usize, expected: &str) -> LibResult<T> {
        err_arg(
            i as c_int,
            format!("{expected} expected, got {}", self.type_name(i)),
        )
    }

    /// `lua_tonumber` + `lua_isnumber`: the number argument `i` is or
    /// converts to (numbers, and strings Lua reads as numbers).
    pub(crate) fn to_number(&self, lua: &Lua, i: usize) -> LibResult<Option<f64>> {
        Ok(match self.get(i) {
            Some(Value::Integer(n)) => Some(n as f64),
            Some(Value::Number(n)) => Some(n),
            Some(v @ Value::String(_)) => lua.coerce_number(v)?,
            _ => None,
        })
    }

    /// `luaL_checknumber`.
    pub(crate) fn check_number(&self, lua: &Lua, i: usize) -> LibResult<f64> {
        match self.to_number(lua, i)? {
            Some(n) => Ok(n),
            None => self.type_error(i, "number"),
        }
    }

    /// `luaL_checkinteger`: the number truncated as C casts it.
    pub(crate) fn check_integer(&self, lua: &Lua, i: usize) -> LibResult<i64> {
        Ok(double_to_i64(self.check_number(lua, i)?))
    }

    /// `luaL_optinteger`.
    pub(crate) fn opt_integer(&self, lua: &Lua, i: usize, default: i64) -> LibResult<i64> {
        if self.is_none_or_nil(i) {
            Ok(default)
        } else {
            self.check_integer(lua, i)
        }
    }

    /// `luaL_checklstring`: strings, and numbers converted as Lua does.
    pub(crate) fn check_string(&self, lua: &Lua, i: usize) -> LibResult<mlua::String> {
        match self.get(i) {
            Some(Value::String(s)) => Ok(s),
            Some(v @ (Value::Integer(_) | Value::Number(_))) => match lua.coerce_string(v)? {
                Some(s) => Ok(s),
                None => self.type_error(i, "string"),
            },
            _ => self.type_error(i, "string"),
        }
    }
}

/// `lua_next` over `t` (raw, in Lua's order) while `f` answers true, and
/// up to its first error.
pub(crate) fn for_each_pair(
    t: &Table,
    mut f: impl FnMut(Value, Value) -> LibResult<bool>,
) -> LibResult<()> {
    let mut failure = None;
    let mut stopped = false;
    let done = t.for_each::<Value, Value>(|k, v| match f(k, v) {
        Ok(true) => Ok(()),
        Ok(false) => {
            stopped = true;
            Err(mlua::Error::runtime("stopped"))
        }
        Err(e) => {
            failure = Some(e);
            Err(mlua::Error::runtime("stopped"))
        }
    });
    match failure {
        Some(e) => Err(e),
        None if stopped => Ok(()),
        None => done.map_err(LibError::from),
    }
}

/// `lua_next`: the pair after `key` in `t` (raw, in Lua's order), for
/// walks that cannot be one closure.
pub(crate) fn table_next(lua: &Lua, t: &Table, key: Value) -> mlua::Result<Option<(Value, Value)>> {
    // SAFETY: the closure gets the table and the key as its two
    // arguments and leaves the next key and value, or nothing.
    let (k, v): (Value, Value) = unsafe {
        lua.exec_raw((t.clone(), key), |state| {
            if ffi::lua_next(state, -2) == 0 {
                ffi::lua_settop(state, 0);
            } else {
                ffi::lua_remove(state, -3);
            }
        })?
    };
    Ok(if k.is_nil() { None } else { Some((k, v)) })
}

/// `lua_typename` of a value as Lua 5.1 names it.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Boolean(_) => "boolean",
        Value::Integer(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) => "function",
        Value::Thread(_) => "thread",
        _ => "userdata",
    }
}

/// The number a value holds, if it is a number (not a string).
pub(crate) fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(n) => Some(*n as f64),
        Value::Number(n) => Some(*n),
        _ => None,
    }
}

/// A double converted to a 64-bit integer as C does on x86-64
/// (`cvttsd2si`): truncation, and `i64::MIN` for NaN or out of range.
pub(crate) fn double_to_i64(d: f64) -> i64 {
    let t = d.trunc();
    if t.is_nan() || !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&t) {
        i64::MIN
    } else {
        t as i64
    }
}

/// A double converted to a 32-bit `int` as C does on x86-64: truncation,
/// and `i32::MIN` for NaN or out of range.
pub(crate) fn double_to_i32(d: f64) -> i32 {
    let t = d.trunc();
    if t.is_nan() || !(-2_147_483_648.0..2_147_483_648.0).contains(&t) {
        i32::MIN
    } else {
        t as i32
    }
}

/// A double converted to `unsigned long`/`size_t` as GCC does on x86-64:
/// below 2^63 through the signed conversion, above by subtracting 2^63
/// first.
pub(crate) fn double_to_u64(d: f64) -> u64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    if d >= TWO63 {
        (double_to_i64(d - TWO63) as u64) ^ (1 << 63)
    } else {
        double_to_i64(d) as u64
    }
}
