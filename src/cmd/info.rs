//! info commands.

use bytes::Bytes;

use super::CommandSpec;
use super::errors::{CmdResult, err};
use crate::connection::Connection;

pub static COMMANDS: &[CommandSpec] = &[];

pub async fn execute(_conn: &mut Connection, spec: &'static CommandSpec, _args: &[Bytes]) -> CmdResult {
    err(format!("ERR unhandled command '{}'", spec.name))
}
