//! The libraries Redis loads into its Lua beside Lua's own: `cjson`,
//! `cmsgpack`, `bit` and `struct`, written anew in Rust to behave as
//! Redis 7.0's C ones do (outputs, limits and error texts alike).
//!
//! Each library function is a Rust closure wrapped in a small C closure
//! (a "trampoline", see [`lib_function`]): the closure reports a failure
//! as a value, and the trampoline raises it with Lua's own `lua_error` or
//! `luaL_argerror`. Errors therefore reach scripts as plain Lua strings
//! (what `pcall` returns in Redis), and "bad argument #n to 'name'" is
//! worded by Lua from the call site, exactly as for a C library.
//!
//! The C code's limits that follow from Lua's stack (`LUAI_MAXCSTACK`:
//! results, nesting past the configured depths, arguments of
//! `cmsgpack.pack`) are counted and fail where Redis fails. Deep nesting is
//! walked without recursion, and many arguments or results travel in a
//! table, so neither the native stack nor mlua's reference slots run out.
//!
//! Known differences from Redis, none in these files' reach:
//! - Table order: Redis's Lua hashes every byte of a string, stock Lua 5.1
//!   (mlua's) samples strings of 32 bytes and more, so tables with such
//!   keys iterate in another order (`cjson.encode`, `cmsgpack.pack`,
//!   `pairs`).
//! - Redis makes these tables read-only ("Attempt to modify a readonly
//!   table"), a patch of its Lua; the scripting layer has to provide it.
//! - Each call goes through one or two more C calls (the trampoline,
//!   mlua's protected calls), so Lua's limit of 200 nested C calls
//!   (`LUAI_MAXCCALLS`) comes that much sooner within these functions.

pub(crate) mod bit;
pub(crate) mod cjson;
pub(crate) mod cmsgpack;
pub(crate) mod structlib;
#[cfg(test)]
mod tests;
pub(crate) mod trampoline;

use mlua::Lua;

/// Sets the globals `cjson`, `struct`, `cmsgpack` and `bit` (in the order
/// Redis loads them).
pub fn load(lua: &Lua) -> mlua::Result<()> {
    let globals = lua.globals();
    globals.set("cjson", cjson::module(lua)?)?;
    globals.set("struct", structlib::module(lua)?)?;
    globals.set("cmsgpack", cmsgpack::module(lua)?)?;
    globals.set("bit", bit::module(lua)?)?;
    Ok(())
}
