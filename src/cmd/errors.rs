//! Every error text a command can answer, in one place, worded exactly as
//! Redis 7 words it.

use crate::reply::Reply;

pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const SYNTAX: &str = "ERR syntax error";
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
pub const HASH_NOT_INTEGER: &str = "ERR hash value is not an integer";
pub const HASH_NOT_FLOAT: &str = "ERR hash value is not a float";
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
pub const NAN_OR_INF: &str = "ERR increment would produce NaN or Infinity";
pub const NO_SUCH_KEY: &str = "ERR no such key";
pub const DB_OUT_OF_RANGE: &str = "ERR DB index is out of range";
pub const NOAUTH: &str = "NOAUTH Authentication required.";
pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
pub const AUTH_NOT_CONFIGURED: &str = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?";
pub const MAX_CLIENTS: &str = "ERR max number of clients reached";
pub const NESTED_MULTI: &str = "ERR MULTI calls can not be nested";
pub const EXEC_WITHOUT_MULTI: &str = "ERR EXEC without MULTI";
pub const DISCARD_WITHOUT_MULTI: &str = "ERR DISCARD without MULTI";
pub const WATCH_IN_MULTI: &str = "ERR WATCH inside MULTI is not allowed";
pub const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";
pub const EXECABORT_BECAUSE: &str = "EXECABORT Transaction discarded because of: ";
pub const STRING_TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
pub const OFFSET_OUT_OF_RANGE: &str = "ERR offset is out of range";
pub const EXPIRE_OPTIONS: &str =
    "ERR NX and XX, GT or LT options at the same time are not compatible";
pub const GT_LT: &str = "ERR GT and LT options at the same time are not compatible";
pub const PERSIST_COMBINED: &str = "ERR syntax error";
pub const CLIENT_NAME: &str =
    "ERR Client names cannot contain spaces, newlines or special characters.";
pub const NO_SUCH_CLIENT: &str = "ERR No such client";
pub const PROTO_VERSION: &str = "NOPROTO unsupported protocol version";
pub const SAME_OBJECT: &str = "ERR source and destination objects are the same";
pub const STORE_UNAVAILABLE: &str = "TRYAGAIN database unavailable";
pub const PUBSUB_UNAVAILABLE: &str = "TRYAGAIN pub/sub transport (NATS) unavailable";
pub const CURSOR: &str = "ERR invalid cursor";
pub const NEGATIVE_COUNT: &str = "ERR value is out of range, must be positive";

/// The result of a command body: a reply, or an error that aborts it
/// before it changed anything.
pub type CmdResult = Result<Reply, CmdError>;

/// Why a command failed.
#[derive(Debug)]
pub enum CmdError {
    /// A Redis error reply (`ERR ...`, `WRONGTYPE ...`).
    Reply(String),
    /// The store failed; the command's transaction is rolled back.
    Store(crate::store::StoreError),
}

impl CmdError {
    pub fn into_reply(self) -> Reply {
        match self {
            CmdError::Reply(text) => Reply::Error(text),
            CmdError::Store(e) => Reply::Error(e.reply_text()),
        }
    }
}

impl From<crate::store::StoreError> for CmdError {
    fn from(e: crate::store::StoreError) -> Self {
        CmdError::Store(e)
    }
}

/// Shorthand for returning a Redis error from a command body.
pub fn err<T>(text: impl Into<String>) -> Result<T, CmdError> {
    Err(CmdError::Reply(text.into()))
}

pub fn unknown_command(name: &[u8], args: &[bytes::Bytes]) -> String {
    // Redis quotes arguments until the list reaches 128 bytes.
    let mut list = String::new();
    for a in args {
        if list.len() >= 128 {
            break;
        }
        let room = 128 - list.len();
        let text = lossy(a);
        let cut: String = text.chars().take(room).collect();
        list.push_str(&format!("'{cut}' "));
    }
    format!(
        "ERR unknown command '{}', with args beginning with: {list}",
        lossy(&name[..name.len().min(128)])
    )
}

pub fn unknown_subcommand(sub: &[u8], cmd: &str) -> String {
    format!(
        "ERR unknown subcommand '{}'. Try {}.",
        lossy(&sub[..sub.len().min(128)]),
        format_args!("{} HELP", cmd.to_uppercase())
    )
}

/// A subcommand given the wrong arguments, in the words Redis uses for it.
pub fn subcommand_syntax(sub: &[u8], cmd: &str) -> String {
    format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        lossy(&sub[..sub.len().min(128)]),
        cmd.to_uppercase()
    )
}

pub fn wrong_arity(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

pub fn invalid_expire(cmd: &str) -> String {
    format!("ERR invalid expire time in '{cmd}' command")
}

/// User input quoted in an error, with line breaks replaced as Redis does.
fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}

pub const INCR_NAN_OR_INF: &str = "ERR value is NaN or Infinity";
pub const OUT_OF_RANGE: &str = "ERR value is out of range";
pub const RANDFIELD_COUNT_RANGE: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";

/// EXPIRE's answer to an option it does not know.
pub fn unsupported_option(opt: &[u8]) -> String {
    format!("ERR Unsupported option {}", lossy(opt))
}
