//! Lua 5.1 as Redis embeds it: the sandboxed interpreter scripts and
//! functions run in, the libraries Redis loads into it, and the
//! conversions between Lua values and replies. A leaf: it knows nothing
//! of commands or the store; [`crate::cmd`] drives it.

pub mod libs;
