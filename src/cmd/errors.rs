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
pub const BUSYKEY: &str = "BUSYKEY Target key name already exists.";
pub const INVALID_TTL: &str = "ERR Invalid TTL value, must be >= 0";
pub const INVALID_IDLETIME: &str = "ERR Invalid IDLETIME value, must be >= 0";
pub const INVALID_FREQ: &str = "ERR Invalid FREQ value, must be >= 0 and <= 255";
pub const DUMP_PAYLOAD: &str = "ERR DUMP payload version or checksum are wrong";
pub const BAD_DATA_FORMAT: &str = "ERR Bad data format";
pub const INDEX_OUT_OF_RANGE: &str = "ERR index out of range";
pub const LPOS_RANK_ZERO: &str = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";
pub const LPOS_COUNT_NEGATIVE: &str = "ERR COUNT can't be negative";
pub const LPOS_MAXLEN_NEGATIVE: &str = "ERR MAXLEN can't be negative";
pub const COUNT_NOT_POSITIVE: &str = "ERR count should be greater than 0";
pub const TIMEOUT_NOT_FLOAT: &str = "ERR timeout is not a float or out of range";
pub const UNBLOCK_REASON: &str = "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR";
pub const UNBLOCKED: &str = "UNBLOCKED client unblocked via CLIENT UNBLOCK";
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

// Scripting (EVAL, FCALL, SCRIPT, FUNCTION), Redis 7.0's texts.
pub const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";
pub const SCRIPT_TOO_MANY_KEYS: &str = "ERR Number of keys can't be greater than number of args";
pub const SCRIPT_NEGATIVE_KEYS: &str = "ERR Number of keys can't be negative";
pub const SCRIPT_UNKNOWN_COMMAND: &str = "ERR Unknown Redis command called from script";
pub const SCRIPT_WRONG_ARGS: &str = "ERR Wrong number of args calling Redis command from script";
pub const SCRIPT_NOT_ALLOWED: &str = "ERR This Redis command is not allowed from script";
pub const SCRIPT_WRITE_IN_RO: &str = "ERR Write commands are not allowed from read-only scripts.";
pub const SCRIPT_WRITE_FLAG_RO: &str =
    "ERR Can not execute a script with write flag using *_ro command.";
pub const SCRIPT_KILLED: &str = "ERR Script killed by user with SCRIPT KILL...";
pub const SCRIPT_TIMED_OUT: &str =
    "ERR Script killed: a read-only script ran past busy-reply-threshold";
pub const FUNCTION_NOT_FOUND: &str = "ERR Function not found";
pub const FCALL_BAD_NUMKEYS: &str = "ERR Bad number of keys provided";
pub const NOTBUSY: &str = "NOTBUSY No scripts in execution right now.";
pub const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";
pub const BUSY_SCRIPT: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";

pub const SCRIPT_FLUSH_MODE: &str = "ERR SCRIPT FLUSH only support SYNC|ASYNC option";
pub const FUNCTION_FLUSH_MODE: &str = "ERR FUNCTION FLUSH only supports SYNC|ASYNC option";
pub const SCRIPT_DEBUG_USE: &str = "ERR Use SCRIPT DEBUG YES/SYNC/NO";
pub const SCRIPT_DEBUGGER: &str = "ERR respire has no Lua debugger (SCRIPT DEBUG YES|SYNC)";
pub const LIBRARY_NOT_FOUND: &str = "ERR Library not found";
pub const LIBRARY_NAME_MISSING: &str = "ERR library name argument was not given";
pub const RESTORE_POLICY: &str =
    "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.";
pub const FUNCTIONS_NO_TYPE: &str = "ERR can not read data type";
pub const FUNCTIONS_NOT_A_FUNCTION: &str = "ERR given type is not a function";
pub const FUNCTIONS_NO_PAYLOAD: &str = "ERR Failed loading library payload";

pub fn function_unknown_option(option: &[u8]) -> String {
    format!(
        "ERR Unknown option given: {}",
        String::from_utf8_lossy(option)
    )
}

pub fn function_unknown_argument(arg: &[u8]) -> String {
    format!("ERR Unknown argument {}", String::from_utf8_lossy(arg))
}

pub fn library_exists(name: &str) -> String {
    format!("ERR Library '{name}' already exists")
}

/// FUNCTION RESTORE APPEND onto a library in force (no quotes, as Redis).
pub fn restored_library_exists(name: &str) -> String {
    format!("ERR Library {name} already exists")
}

pub fn function_exists(name: &str) -> String {
    format!("ERR Function {name} already exists")
}

/// A connection-level command respire does not run inside scripts.
pub fn script_unsupported(name: &str) -> String {
    format!("ERR respire does not run '{name}' from scripts")
}
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
/// While the database has not been reached since the start (Redis's reply
/// while it loads its data set; clients wait and retry on it).
pub const LOADING: &str = "LOADING Redis is loading the dataset in memory";
/// Refusing a non-loopback client with no password set (Redis 7's text).
pub const DENIED: &str = "DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.";
pub const PUBSUB_UNAVAILABLE: &str = "TRYAGAIN pub/sub transport (NATS) unavailable";
pub const CURSOR: &str = "ERR invalid cursor";
pub const BIT_OFFSET: &str = "ERR bit offset is not an integer or out of range";
pub const BIT_VALUE: &str = "ERR bit is not an integer or out of range";
pub const BITPOS_BIT: &str = "ERR The bit argument must be 1 or 0.";
pub const BITOP_NOT: &str = "ERR BITOP NOT must be called with a single source key.";
pub const BITFIELD_TYPE: &str = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";
pub const BITFIELD_OVERFLOW: &str = "ERR Invalid OVERFLOW type specified";
pub const BITFIELD_RO: &str = "ERR BITFIELD_RO only supports the GET subcommand";
pub const LCS_NOT_STRINGS: &str = "ERR The specified keys must contain string values";
pub const LCS_IDX_AND_LEN: &str =
    "ERR If you want both the length and indexes, please just use IDX.";
pub const LCS_TOO_LONG: &str = "ERR String too long for LCS";
pub const LCS_MEMORY: &str =
    "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len";
pub const PAUSE_MODE: &str = "ERR CLIENT PAUSE mode must be WRITE or ALL";
pub const LFU_NOT_SELECTED: &str = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
pub const MONITOR_DENY_BLOCKING: &str = "ERR MONITOR isn't allowed for DENY_BLOCKING client";
pub const INVALID_FIRST_DB: &str = "ERR invalid first DB index";
pub const INVALID_SECOND_DB: &str = "ERR invalid second DB index";
pub const NOT_C_INT: &str =
    "ERR value is out of range, value must between -2147483648 and 2147483647";
pub const NEGATIVE_COUNT: &str = "ERR value is out of range, must be positive";

pub const PROTO_NOT_INTEGER: &str = "ERR Protocol version is not an integer or out of range";
pub const HELLO_NOAUTH: &str = "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time";
pub const INVALID_CLIENT_ID: &str = "ERR Invalid client ID";
pub const CLIENT_ID_NOT_POSITIVE: &str = "ERR client-id should be greater than 0";
pub const SHUTTING_DOWN: &str = "ERR server is shutting down";
pub const DECR_OVERFLOW: &str = "ERR decrement would overflow";
pub const NO_CONFIG_FILE: &str = "ERR The server is running without a config file";
pub const GETKEYS_INVALID_COMMAND: &str = "ERR Invalid command specified";
pub const GETKEYS_INVALID_ARITY: &str = "ERR Invalid number of arguments specified for command";
pub const GETKEYS_INVALID_ARGS: &str = "ERR Invalid arguments specified for command";
pub const GETKEYS_NO_KEYS: &str = "ERR The command has no key arguments";

pub fn hello_syntax(option: &[u8]) -> String {
    format!(
        "ERR Syntax error in HELLO option '{}'",
        String::from_utf8_lossy(option)
    )
}

pub fn setinfo_special_characters(option: &[u8]) -> String {
    format!(
        "ERR {} cannot contain spaces, newlines or special characters.",
        String::from_utf8_lossy(option).to_lowercase()
    )
}

pub fn unrecognized_option(option: &[u8]) -> String {
    format!(
        "ERR Unrecognized option '{}'",
        String::from_utf8_lossy(option)
    )
}

/// CLIENT KILL USER naming a user that does not exist.
pub fn no_such_user(user: &[u8]) -> String {
    format!("ERR No such user '{}'", String::from_utf8_lossy(user))
}

pub fn unknown_client_type(kind: &[u8]) -> String {
    format!(
        "ERR Unknown client type '{}'",
        String::from_utf8_lossy(kind)
    )
}

pub fn not_while_subscribed(command: &str) -> String {
    format!(
        "ERR Can't execute '{command}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
    )
}

/// A table row whose handler does not fit how it was called (a bug).
pub fn unhandled(command: &str) -> String {
    format!("ERR unhandled command '{command}'")
}

/// CONFIG SET refusing one parameter, in Redis 7's words.
pub fn config_set_failed(name: &str, reason: &str) -> String {
    format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}")
}

pub fn config_set_unknown(name: &[u8]) -> String {
    format!(
        "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
        String::from_utf8_lossy(name)
    )
}

/// The result of a command body: a reply, or an error that aborts it
/// before it changed anything.
pub type CmdResult = Result<Reply, CmdError>;

/// Why a command failed.
#[derive(Debug)]
pub enum CmdError {
    /// A Redis error reply (`ERR ...`, `NOAUTH ...`).
    Reply(bytes::Bytes),
    /// The key holds another kind of value (`WRONGTYPE ...`).
    WrongType,
    /// The store failed; the command's transaction is rolled back.
    Store(crate::store::StoreError),
}

impl CmdError {
    pub fn into_reply(self) -> Reply {
        match self {
            CmdError::Reply(text) => Reply::Error(text),
            CmdError::WrongType => Reply::error(WRONGTYPE),
            CmdError::Store(e) => Reply::error(store_error(&e)),
        }
    }
}

/// An interpreter that could not be made (memory): Redis's ERR.
impl From<mlua::Error> for CmdError {
    fn from(e: mlua::Error) -> Self {
        CmdError::Reply(format!("ERR {e}").into())
    }
}

impl From<crate::store::StoreError> for CmdError {
    fn from(e: crate::store::StoreError) -> Self {
        CmdError::Store(e)
    }
}

/// The error reply a client sees when a command fails in the store.
pub fn store_error(e: &crate::store::StoreError) -> String {
    use crate::store::StoreError;
    match e {
        StoreError::Unavailable(_) => STORE_UNAVAILABLE.to_string(),
        StoreError::Loading => LOADING.to_string(),
        StoreError::TooLarge(msg) => format!("ERR {msg}"),
        StoreError::Conflict(_) => "TRYAGAIN write conflict, please retry".to_string(),
        StoreError::Other(msg) => format!("ERR store error: {msg}"),
        StoreError::Aborted(text) => text.clone(),
    }
}

/// The permanent error of a PUBLISH the transport can never carry.
pub fn bus_rejected(e: &crate::bus::BusError) -> String {
    use crate::bus::BusError;
    match e {
        BusError::Unavailable(_) => PUBSUB_UNAVAILABLE.to_string(),
        BusError::OverReassemblyLimit { size, limit } => format!(
            "ERR message of {size} bytes is over the pub/sub transport's reassembly limit of {limit} bytes (nats-reassembly-limit)"
        ),
        BusError::PayloadLimitTooSmall { max, size } => format!(
            "ERR the NATS server's max_payload ({max} bytes) is too small to carry a message of {size} bytes in chunks"
        ),
        BusError::Refused(reason) => {
            format!("ERR pub/sub transport (NATS) refused the message: {reason}")
        }
    }
}

/// Shorthand for returning a Redis error from a command body.
pub fn err<T>(text: impl Into<bytes::Bytes>) -> Result<T, CmdError> {
    Err(CmdError::Reply(text.into()))
}

pub fn unknown_command(name: &[u8], args: &[bytes::Bytes]) -> bytes::Bytes {
    // Redis quotes arguments (`'%.*s' `) until the list reaches 128 bytes.
    let mut list = Vec::new();
    for a in args {
        if list.len() >= 128 {
            break;
        }
        let room = 128 - list.len();
        list.push(b'\'');
        list.extend_from_slice(c_str(a, room));
        list.extend_from_slice(b"' ");
    }
    let mut text = b"ERR unknown command '".to_vec();
    text.extend_from_slice(c_str(name, 128));
    text.extend_from_slice(b"', with args beginning with: ");
    text.extend_from_slice(&list);
    sanitized(text)
}

pub fn unknown_subcommand(sub: &[u8], cmd: &str) -> bytes::Bytes {
    let mut text = b"ERR unknown subcommand '".to_vec();
    text.extend_from_slice(c_str(sub, 128));
    text.extend_from_slice(format!("'. Try {} HELP.", cmd.to_uppercase()).as_bytes());
    sanitized(text)
}

/// A subcommand given the wrong arguments, in the words Redis uses for it.
pub fn subcommand_syntax(sub: &[u8], cmd: &str) -> bytes::Bytes {
    let mut text = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
    text.extend_from_slice(c_str(sub, 128));
    text.extend_from_slice(format!("'. Try {} HELP.", cmd.to_uppercase()).as_bytes());
    sanitized(text)
}

pub fn wrong_arity(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

pub fn invalid_expire(cmd: &str) -> String {
    format!("ERR invalid expire time in '{cmd}' command")
}

/// Client input as Redis's `%.Ns` prints it: at most `max` bytes, cut at
/// a NUL byte; other bytes are echoed as they are (not UTF-8-checked).
fn c_str(b: &[u8], max: usize) -> &[u8] {
    let b = &b[..b.len().min(max)];
    match b.iter().position(|&c| c == 0) {
        Some(nul) => &b[..nul],
        None => b,
    }
}

/// An error text with line breaks replaced by spaces, as every Redis error
/// reply is (a line break would end the reply early).
fn sanitized(mut text: Vec<u8>) -> bytes::Bytes {
    for c in &mut text {
        if *c == b'\r' || *c == b'\n' {
            *c = b' ';
        }
    }
    bytes::Bytes::from(text)
}

pub const INCR_NAN_OR_INF: &str = "ERR value is NaN or Infinity";
pub const OUT_OF_RANGE: &str = "ERR value is out of range";
pub const RANDFIELD_COUNT_RANGE: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";
pub const NUMKEYS_NOT_POSITIVE: &str = "ERR numkeys should be greater than 0";
pub const NUMKEYS_OVER_ARGS: &str = "ERR Number of keys can't be greater than number of args";
pub const LIMIT_NEGATIVE: &str = "ERR LIMIT can't be negative";

/// EXPIRE's answer to an option it does not know.
pub fn unsupported_option(opt: &[u8]) -> bytes::Bytes {
    let mut text = b"ERR Unsupported option ".to_vec();
    text.extend_from_slice(c_str(opt, usize::MAX));
    sanitized(text)
}

// --- Streams ------------------------------------------------------------

pub const INVALID_STREAM_ID: &str = "ERR Invalid stream ID specified as stream command argument";
pub const INVALID_START_ID: &str = "ERR invalid start ID for the interval";
pub const INVALID_END_ID: &str = "ERR invalid end ID for the interval";
pub const XREAD_UNBALANCED: &str =
    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.";
pub const XREAD_GROUP: &str =
    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.";
pub const XREAD_NOACK: &str =
    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.";
pub const XREAD_GT_ID: &str = "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.";
pub const TIMEOUT_NOT_INTEGER: &str = "ERR timeout is not an integer or out of range";
pub const TIMEOUT_NEGATIVE: &str = "ERR timeout is negative";
pub const XADD_ID_ZERO: &str = "ERR The ID specified in XADD must be greater than 0-0";
pub const XADD_EXHAUSTED: &str =
    "ERR The stream has exhausted the last possible ID, unable to add more items";
pub const XADD_ID_TOO_SMALL: &str =
    "ERR The ID specified in XADD is equal or smaller than the target stream top item";
pub const XADD_TOO_LARGE: &str = "ERR Elements are too large to be stored";
pub const MAXLEN_AND_MINID: &str =
    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible";
pub const MAXLEN_NEGATIVE: &str = "ERR The MAXLEN argument must be >= 0.";
pub const TRIM_LIMIT_NEGATIVE: &str = "ERR The LIMIT argument must be >= 0.";
pub const LIMIT_WITHOUT_STRATEGY: &str =
    "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy";
pub const XTRIM_WITHOUT_STRATEGY: &str =
    "ERR syntax error, XTRIM must be called with a trimming strategy";
pub const LIMIT_WITHOUT_TILDE: &str =
    "ERR syntax error, LIMIT cannot be used without the special ~ option";
/// A blocked XREADGROUP whose stream was deleted or changed type.
pub const XREADGROUP_KEY_GONE: &str = "UNBLOCKED the stream key no longer exists";
/// A blocked XREADGROUP whose group was destroyed.
pub const XREADGROUP_GROUP_GONE: &str =
    "NOGROUP the consumer group this client was blocked on no longer exists";
pub const XREADGROUP_NO_GROUP: &str = "ERR Missing GROUP option for XREADGROUP";
pub const XREADGROUP_DOLLAR: &str = "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.";
pub const ENTRIESREAD_NEGATIVE: &str = "ERR value for ENTRIESREAD must be positive or -1";
pub const XGROUP_NO_KEY: &str = "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.";
pub const BUSYGROUP: &str = "BUSYGROUP Consumer Group name already exists";
pub const XSETID_ENTRIES_ADDED_NEGATIVE: &str = "ERR entries_added must be positive";
pub const XSETID_BELOW_MAX_DELETED: &str =
    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id";
pub const XSETID_BELOW_TOP: &str =
    "ERR The ID specified in XSETID is smaller than the target stream top item";
pub const XSETID_ADDED_BELOW_LENGTH: &str =
    "ERR The entries_added specified in XSETID is smaller than the target stream length";
pub const XCLAIM_MIN_IDLE: &str = "ERR Invalid min-idle-time argument for XCLAIM";
pub const XCLAIM_IDLE: &str = "ERR Invalid IDLE option argument for XCLAIM";
pub const XCLAIM_TIME: &str = "ERR Invalid TIME option argument for XCLAIM";
pub const XCLAIM_RETRYCOUNT: &str = "ERR Invalid RETRYCOUNT option argument for XCLAIM";
pub const XAUTOCLAIM_MIN_IDLE: &str = "ERR Invalid min-idle-time argument for XAUTOCLAIM";
pub const XAUTOCLAIM_COUNT: &str = "ERR COUNT must be > 0";
/// XREAD naming event streams and ordinary streams together.
pub const XREAD_MIXED: &str =
    "ERR respire cannot XREAD keyspace event streams and other streams in one call";
/// DUMP of a stream.
pub const DUMP_STREAM: &str = "ERR respire cannot DUMP streams yet";

/// XREAD or XREADGROUP with BLOCK from a script (the name as written).
pub fn block_in_script(name: &[u8]) -> bytes::Bytes {
    let mut text = b"ERR ".to_vec();
    text.extend_from_slice(c_str(name, 128));
    text.extend_from_slice(b" command is not allowed with BLOCK option from scripts");
    sanitized(text)
}

pub fn xclaim_option(opt: &[u8]) -> bytes::Bytes {
    let mut text = b"ERR Unrecognized XCLAIM option '".to_vec();
    text.extend_from_slice(c_str(opt, usize::MAX));
    text.push(b'\'');
    sanitized(text)
}

/// Any write to an event stream's name (XADD, SET, DEL, RENAME, EXPIRE, ...).
pub fn read_only_stream(name: &[u8]) -> bytes::Bytes {
    let mut text = b"ERR ".to_vec();
    text.extend_from_slice(c_str(name, 128));
    text.extend_from_slice(b" is a read-only stream of keyspace events");
    sanitized(text)
}

/// A name under `__events@` that names no event stream.
pub fn invalid_event_stream(name: &[u8], why: &str) -> bytes::Bytes {
    let mut text = b"ERR invalid event stream '".to_vec();
    text.extend_from_slice(c_str(name, 128));
    text.extend_from_slice(b"': ");
    text.extend_from_slice(why.as_bytes());
    sanitized(text)
}

/// XRANGE on a filtered view that examined its whole budget and matched
/// nothing: where the scan stopped, so the caller can go on from there.
pub fn view_budget_spent(name: &[u8], examined: u32, stopped_at: &str) -> bytes::Bytes {
    let mut text = b"ERR no entry of ".to_vec();
    text.extend_from_slice(c_str(name, 128));
    text.extend_from_slice(
        format!(
            " among the {examined} entries examined (the limit per call), which end at {stopped_at}; continue from ({stopped_at} or narrow the range",
        )
        .as_bytes(),
    );
    sanitized(text)
}

/// XINFO CONSUMERS of a group that does not exist.
pub fn no_consumer_group(group: &[u8], key: &[u8]) -> bytes::Bytes {
    let mut text = b"NOGROUP No such consumer group '".to_vec();
    text.extend_from_slice(c_str(group, 128));
    text.extend_from_slice(b"' for key name '");
    text.extend_from_slice(c_str(key, 128));
    text.push(b'\'');
    sanitized(text)
}

/// XREADGROUP of a key or group that does not exist.
pub fn no_key_or_group_xreadgroup(key: &[u8], group: &[u8]) -> bytes::Bytes {
    let mut text = no_key_or_group(key, group).to_vec();
    text.extend_from_slice(b" in XREADGROUP with GROUP option");
    bytes::Bytes::from(text)
}

/// XPENDING, XCLAIM, XAUTOCLAIM of a key or group that does not exist.
pub fn no_key_or_group(key: &[u8], group: &[u8]) -> bytes::Bytes {
    let mut text = b"NOGROUP No such key '".to_vec();
    text.extend_from_slice(c_str(key, 128));
    text.extend_from_slice(b"' or consumer group '");
    text.extend_from_slice(c_str(group, 128));
    text.push(b'\'');
    sanitized(text)
}

// Sorted sets.
pub const ZADD_XX_NX: &str = "ERR XX and NX options at the same time are not compatible";
pub const ZADD_GT_LT_NX: &str = "ERR GT, LT, and/or NX options at the same time are not compatible";
pub const ZADD_INCR_PAIRS: &str = "ERR INCR option supports a single increment-element pair";
pub const SCORE_NAN: &str = "ERR resulting score is not a number (NaN)";
pub const MIN_MAX_NOT_FLOAT: &str = "ERR min or max is not a float";
pub const MIN_MAX_NOT_LEX: &str = "ERR min or max not valid string range item";
pub const LIMIT_NEEDS_BY: &str =
    "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX";
pub const WITHSCORES_BYLEX: &str =
    "ERR syntax error, WITHSCORES not supported in combination with BYLEX";
pub const WEIGHT_NOT_FLOAT: &str = "ERR weight value is not a float";
pub const COUNT_POSITIVE: &str = "ERR count should be greater than 0";

/// ZUNION, ZINTERSTORE, ... with a key count below 1.
pub fn no_input_keys(command: &str) -> String {
    format!("ERR at least 1 input key is needed for '{command}' command")
}

// CLIENT TRACKING and CLIENT CACHING, as Redis 7.0's clientCommand.
pub const TRACKING_ONE_REDIRECT: &str = "ERR A client can only redirect to a single other client";
pub const TRACKING_NO_REDIRECT_CLIENT: &str =
    "ERR The client ID you want redirect to does not exist";
pub const TRACKING_PREFIX_NEEDS_BCAST: &str = "ERR PREFIX option requires BCAST mode to be enabled";
pub const TRACKING_SWITCH_BCAST: &str = "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.";
pub const TRACKING_OPT_WITH_BCAST: &str = "ERR OPTIN and OPTOUT are not compatible with BCAST";
pub const TRACKING_OPTIN_AND_OPTOUT: &str = "ERR You can't specify both OPTIN mode and OPTOUT mode";
pub const TRACKING_SWITCH_OPT: &str = "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.";
pub const CACHING_NOT_TRACKING: &str = "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled";
pub const CACHING_YES_NOT_OPTIN: &str =
    "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.";
pub const CACHING_NO_NOT_OPTOUT: &str =
    "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.";

/// A BCAST prefix overlapping one the client has (`existing`) or another
/// given in the same command.
pub fn tracking_prefix_overlap(prefix: &[u8], other: &[u8], existing: bool) -> bytes::Bytes {
    let what = if existing {
        "an existing prefix"
    } else {
        "another provided prefix"
    };
    bytes::Bytes::from(format!(
        "ERR Prefix '{}' overlaps with {what} '{}'. Prefixes for a single client must not overlap.",
        String::from_utf8_lossy(prefix),
        String::from_utf8_lossy(other)
    ))
}
