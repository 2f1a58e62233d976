//! keys commands.

use bytes::Bytes;

use super::errors::{CmdResult, err};
use super::{CommandSpec, Ctx};

pub static COMMANDS: &[CommandSpec] = &[];

pub async fn execute(_ctx: &mut Ctx<'_>, name: &str, _args: &[Bytes]) -> CmdResult {
    err(format!("ERR unhandled command '{name}'"))
}
