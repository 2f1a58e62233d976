//! Lua 5.1 as Redis embeds it: the sandboxed interpreter scripts and
//! functions run in ([`vm`], with `sandbox.lua`), the libraries Redis
//! loads into it ([`libs`]), the conversions between Lua values and
//! replies ([`convert`]), the first line of a script or library
//! ([`shebang`]) and the threads scripts run on ([`threads`]). A leaf: it knows nothing of commands or the store;
//! [`crate::cmd`] drives it through [`vm::Host`].

pub mod convert;
pub mod libs;
pub mod shebang;
pub mod threads;
pub mod vm;
