//! Commands that run against the client's session rather than inside a
//! store transaction (PING, CLIENT, SUBSCRIBE, WATCH, COMMAND, ...), alone
//! or as part of an EXEC block.

use bytes::Bytes;

use crate::cmd::errors::{self, CmdError, err};
use crate::cmd::session::Session;
use crate::cmd::spec::{CommandSpec, Handler};
use crate::cmd::{command, table};
use crate::reply::Reply;

/// Runs a session command (or COMMAND, answered from the table).
pub async fn run(session: &mut Session, spec: &'static CommandSpec, args: &[Bytes]) -> Reply {
    let result = match spec.handler {
        Handler::Session(run) => run(session, spec, args).await,
        Handler::Introspection => command::run(table::table(), args),
        _ => err(errors::unhandled(spec.name)),
    };
    result.unwrap_or_else(CmdError::into_reply)
}
