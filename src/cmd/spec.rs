//! A command's table row: its arity, flags, key positions, COMMAND
//! texts and the handler that runs it, looked up once per request.

use bytes::Bytes;

use crate::cmd::ctx::Ctx;
use crate::cmd::errors::CmdResult;
use crate::cmd::session::Session;

/// Which file executes a command, and with what.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Data commands: run inside a store transaction.
    String,
    Hash,
    Keys,
    List,
    Set,
    SortedSet,
    /// Connection-level commands: run against the connection's state.
    Connection,
    Server,
    /// COMMAND, answered from the table itself.
    Introspection,
    PubSub,
    Transaction,
    /// Streams (XADD, XREAD, XREADGROUP, ...): data commands; the
    /// read-only event streams are answered from the event log.
    Stream,
    /// EVAL, FCALL (run inside a store transaction, like data commands),
    /// SCRIPT and FUNCTION (against the session and the stored scripts).
    Scripting,
}

impl Family {
    pub fn is_data(self) -> bool {
        matches!(
            self,
            Family::String
                | Family::Hash
                | Family::Keys
                | Family::List
                | Family::Set
                | Family::SortedSet
                | Family::Stream
        )
    }
}

/// A handler's future (boxed: the table holds plain function pointers).
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// A data command's body: runs inside a store transaction.
pub type DataFn =
    for<'a, 'c> fn(&'a mut Ctx<'c>, &'static CommandSpec, &'a [Bytes]) -> BoxFuture<'a, CmdResult>;

/// What runs a command, named in its table row.
#[derive(Clone, Copy)]
pub enum Handler {
    /// Not bound yet (a row being built; the table never holds one).
    None,
    /// A data command: runs inside a store transaction.
    Data(DataFn),
    /// A blocking data command (BLPOP, ...): the body is its non-blocking
    /// attempt, answering nil when it found nothing (as inside MULTI);
    /// outside MULTI the dispatcher retries it as its keys change, until
    /// the timeout (see [`blocking`]). The function names the keys it
    /// waits on and where its timeout is.
    Blocking(DataFn, fn(&[Bytes]) -> BlockOn),
    /// A session command: runs against the client's session.
    Session(SessionFn),
    /// EXEC: the dispatcher runs the queued block itself.
    Exec,
    /// EVAL, EVALSHA, FCALL and their read-only forms: a script run inside
    /// a store transaction, the commands it calls in the same one.
    Script(ScriptCall),
    /// COMMAND: the request path answers it from the command table.
    Introspection,
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Handler::None => "None",
            Handler::Data(_) => "Data",
            Handler::Blocking(..) => "Blocking",
            Handler::Session(_) => "Session",
            Handler::Exec => "Exec",
            Handler::Script(_) => "Script",
            Handler::Introspection => "Introspection",
        })
    }
}

/// Which script a [`Handler::Script`] command runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScriptCall {
    /// EVAL, EVAL_RO: the body is the first argument.
    Eval,
    /// EVALSHA, EVALSHA_RO: a stored script, by SHA1.
    EvalSha,
    /// FCALL, FCALL_RO: a library's function, by name.
    Fcall,
}

/// A subcommand (CLIENT LIST, CONFIG GET, ...) with its own arity.
#[derive(Debug)]
pub struct SubSpec {
    pub name: &'static str,
    pub arity: i32,
    pub summary: &'static str,
    /// Redis's flags of the subcommand, when they are not the
    /// container's (COMMAND INFO).
    pub flags: Option<&'static [&'static str]>,
    /// respire's properties of this subcommand (see [`CommandSpec::is_admin`]).
    pub props: Props,
}

impl SubSpec {
    /// The subcommand with these properties (a `subcommands!` row's
    /// `props:`).
    pub const fn props(self, props: Props) -> SubSpec {
        SubSpec { props, ..self }
    }

    /// The subcommand with its own Redis flags (a `subcommands!` row's
    /// `flags:`).
    pub const fn flags(self, flags: &'static [&'static str]) -> SubSpec {
        SubSpec {
            flags: Some(flags),
            ..self
        }
    }
}

/// The flags of Redis's administrative subcommands (CONFIG GET, CLIENT
/// KILL, ...).
pub const ADMIN_SUB: &[&str] = &["admin", "noscript", "loading", "stale"];

/// The HELP subcommand every container command has.
pub const HELP_SUBCOMMAND: SubSpec = SubSpec {
    name: "help",
    arity: 2,
    summary: "Show helpful text about the different subcommands",
    flags: Some(&["loading", "stale"]),
    props: Props::NONE,
};

/// respire's own properties of a command: how the request path treats
/// it, beside Redis's `flags` (which COMMAND INFO prints). Given in the
/// row (`props: Props::SKIPS_QUEUE.and(Props::SUBSCRIBED)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Props(u16);

impl Props {
    pub const NONE: Props = Props(0);
    /// Runs at once inside MULTI instead of being queued (EXEC, MULTI,
    /// WATCH, QUIT, ...).
    pub const SKIPS_QUEUE: Props = Props(1);
    /// May run on a RESP2 connection in subscribed mode.
    pub const SUBSCRIBED: Props = Props(1 << 1);
    /// Its reply goes before the messages that arrived while it ran (a
    /// subscription's confirmation precedes its messages).
    pub const CONFIRMS_FIRST: Props = Props(1 << 2);
    /// Held by CLIENT PAUSE WRITE although not a write (Redis's
    /// may-replicate: PUBLISH).
    pub const MAY_REPLICATE: Props = Props(1 << 3);
    /// Looks its keys up without touching them (Redis's LOOKUP_NOTOUCH:
    /// OBJECT, TYPE, EXISTS, the TTL family).
    pub const NO_TOUCH: Props = Props(1 << 4);
    /// Touches its keys even for a CLIENT NO-TOUCH client (TOUCH).
    pub const ALWAYS_TOUCHES: Props = Props(1 << 5);
    /// Never shown by MONITOR (Redis's admin commands). On a container
    /// row it holds for the container alone and its unknown
    /// subcommands; a known subcommand says for itself.
    pub const ADMIN: Props = Props(1 << 6);
    /// Runs in a write transaction although its row has no `write` flag:
    /// a container whose subcommands write (XGROUP).
    pub const WRITES: Props = Props(1 << 7);

    /// Both sets.
    pub const fn and(self, other: Props) -> Props {
        Props(self.0 | other.0)
    }

    /// Whether every property of `props` is in the set.
    pub const fn has(self, props: Props) -> bool {
        self.0 & props.0 == props.0
    }
}

/// How COMMAND INFO describes where a command's keys are (Redis 7's key
/// specs); rows without any are described by first/last/step alone.
#[derive(Debug)]
pub struct KeySpec {
    /// Redis's remark on the spec, if it has one.
    pub notes: Option<&'static str>,
    /// `RO`, `RW`, `access`, `update`, ...
    pub flags: &'static [&'static str],
    pub begin: BeginSearch,
    /// The keys from where the search began: up to `last` (relative; -1:
    /// the last argument), every `step`; with `last` -1, `limit` n > 1
    /// keeps the first 1/n of the rest (XREAD's keys before its ids).
    pub last: i32,
    pub step: i32,
    pub limit: i32,
    /// Redis's `keynum` search instead of the range above: the number of
    /// keys is the argument `keynumidx` after the search's start, the keys
    /// start `firstkey` after it, every `keystep` (ZUNION, LMPOP, ...).
    pub keynum: Option<KeyNum>,
}

/// A `keynum` key search (see [`KeySpec::keynum`]).
#[derive(Debug)]
pub struct KeyNum {
    pub keynumidx: i32,
    pub firstkey: i32,
    pub keystep: i32,
}

/// A key spec for the one key at argument `index`.
pub const fn key_at(index: i32, flags: &'static [&'static str]) -> KeySpec {
    KeySpec {
        notes: None,
        flags,
        begin: BeginSearch::Index(index),
        last: 0,
        step: 1,
        limit: 0,
        keynum: None,
    }
}

/// A key spec for the keys from argument `index` to `last` (relative, as
/// in [`KeySpec`]: 0 the one key, -1 every argument after it, -2 all but
/// the last).
pub const fn keys_to(index: i32, flags: &'static [&'static str], last: i32) -> KeySpec {
    KeySpec {
        last,
        ..key_at(index, flags)
    }
}

/// A key spec for keys counted by an argument: from argument `index`,
/// the count at `keynumidx` after it, the keys from `firstkey` after it.
pub const fn keys_counted(
    index: i32,
    flags: &'static [&'static str],
    keynumidx: i32,
    firstkey: i32,
) -> KeySpec {
    KeySpec {
        keynum: Some(KeyNum {
            keynumidx,
            firstkey,
            keystep: 1,
        }),
        ..key_at(index, flags)
    }
}

/// Where the search for a command's keys begins.
#[derive(Debug)]
pub enum BeginSearch {
    /// At this argument.
    Index(i32),
    /// After this keyword, looked for from argument `from` on.
    Keyword { keyword: &'static str, from: i32 },
    /// Nowhere the arguments tell (SORT's BY, GET and STORE keys).
    Unknown,
}

/// What COMMAND INFO says of a subcommand beyond its [`SubSpec`] (rows
/// without one show the container's flags and no keys).
#[derive(Debug)]
pub struct SubInfo {
    pub name: &'static str,
    pub flags: &'static [&'static str],
    pub keys: (i32, i32, i32),
    pub tips: &'static [&'static str],
    pub key_specs: &'static [KeySpec],
}

/// Everything known about one command, in one place.
#[derive(Debug)]
pub struct CommandSpec {
    /// Lower-case name.
    pub name: &'static str,
    /// `n`: exactly n arguments including the name; `-n`: at least n.
    pub arity: i32,
    /// Redis's command flags (`write`, `readonly`, `fast`, ...).
    pub flags: &'static [&'static str],
    pub first_key: i32,
    pub last_key: i32,
    pub step: i32,
    pub family: Family,
    /// Redis's group name for COMMAND DOCS.
    pub group: &'static str,
    pub summary: &'static str,
    pub since: &'static str,
    pub subcommands: &'static [SubSpec],
    /// COMMAND INFO's details of some subcommands (see [`SubInfo`]).
    pub sub_info: &'static [SubInfo],
    /// COMMAND INFO's tips (`nondeterministic_output`, ...).
    pub tips: &'static [&'static str],
    /// COMMAND INFO's key specs; also how COMMAND GETKEYS finds movable
    /// keys (XREAD's after STREAMS).
    pub key_specs: &'static [KeySpec],
    /// What runs it: looked up once with the row, never by name again.
    pub handler: Handler,
    /// respire's own properties of it (see [`Props`]).
    pub props: Props,
}

impl CommandSpec {
    /// The row with its handler bound.
    pub const fn with(self, handler: Handler) -> CommandSpec {
        CommandSpec { handler, ..self }
    }

    /// The row with its COMMAND INFO key specs (a row's `keys:`).
    pub const fn keys(self, key_specs: &'static [KeySpec]) -> CommandSpec {
        CommandSpec { key_specs, ..self }
    }

    /// The row with its COMMAND INFO tips (a row's `tips:`).
    pub const fn tips(self, tips: &'static [&'static str]) -> CommandSpec {
        CommandSpec { tips, ..self }
    }

    /// The row with its subcommands (a row's `subs:`).
    pub const fn subs(self, subcommands: &'static [SubSpec]) -> CommandSpec {
        CommandSpec {
            subcommands,
            ..self
        }
    }

    /// The row with these properties added (a row's `props:`).
    pub const fn props(self, props: Props) -> CommandSpec {
        CommandSpec {
            props: self.props.and(props),
            ..self
        }
    }

    /// The row with COMMAND INFO's details of its subcommands (a row's
    /// `info:`).
    pub const fn info(self, sub_info: &'static [SubInfo]) -> CommandSpec {
        CommandSpec { sub_info, ..self }
    }

    pub fn is_write(&self) -> bool {
        self.flags.contains(&"write")
    }

    /// Whether the command runs in a write transaction (writes, and
    /// scripts but their read-only forms): those go through the write
    /// lanes and are held by CLIENT PAUSE WRITE.
    pub fn writes(&self) -> bool {
        self.access() == crate::store::Access::Write
    }

    /// Whether the command runs inside a store transaction: data
    /// commands and scripts.
    pub fn runs_in_txn(&self) -> bool {
        matches!(
            self.handler,
            Handler::Data(_) | Handler::Blocking(..) | Handler::Script(_)
        )
    }

    /// The store access the command needs: a write transaction, a snapshot
    /// for reads over several keys (MGET and ZUNION see one instant) and
    /// for list reads (a list's ends, then its rows), or plain reads. A
    /// script writes unless it is a read-only form (EVAL_RO, FCALL_RO).
    pub fn access(&self) -> crate::store::Access {
        use crate::store::Access;
        if self.is_write()
            || self.props.has(Props::WRITES)
            || (matches!(self.handler, Handler::Script(_)) && !self.has_flag("readonly"))
        {
            Access::Write
        } else if self.first_key != self.last_key
            || self.has_flag("movablekeys")
            || self.family == Family::List
        {
            Access::Snapshot
        } else {
            Access::Read
        }
    }

    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }

    /// Its keys are remembered for a tracking client before it runs (CLIENT
    /// TRACKING): a read-only command's; a script's are remembered when it
    /// reads ([`crate::cmd::run::script`]).
    pub fn tracks_reads(&self) -> bool {
        self.has_flag("readonly") && !matches!(self.handler, Handler::Script(_))
    }

    /// Runs at once inside MULTI instead of being queued.
    pub fn skips_queue(&self) -> bool {
        self.props.has(Props::SKIPS_QUEUE)
    }

    /// May run on a RESP2 connection in subscribed mode.
    pub fn allowed_subscribed(&self) -> bool {
        self.props.has(Props::SUBSCRIBED)
    }

    /// Its reply goes before the messages that arrived while it ran.
    pub fn confirms_first(&self) -> bool {
        self.props.has(Props::CONFIRMS_FIRST)
    }

    /// Held by CLIENT PAUSE WRITE although not a write.
    pub fn may_replicate(&self) -> bool {
        self.props.has(Props::MAY_REPLICATE)
    }

    /// Whether running it counts as an access to the keys it names
    /// (resets OBJECT IDLETIME): not for a [`Props::NO_TOUCH`] command,
    /// nor for a CLIENT NO-TOUCH client's, but always for an
    /// [`Props::ALWAYS_TOUCHES`] one.
    pub fn touches_keys(&self, client_touches: bool) -> bool {
        self.props.has(Props::ALWAYS_TOUCHES)
            || (client_touches && !self.props.has(Props::NO_TOUCH))
    }

    /// Never shown by MONITOR: Redis's admin commands, and what the row
    /// or the subcommand named marks [`Props::ADMIN`] (CONFIG but its
    /// HELP, CLIENT's administrative subcommands).
    pub fn is_admin(&self, args: &[Bytes]) -> bool {
        let props = match args.get(1).and_then(|a| self.subcommand(a)) {
            Some(sub) => sub.props,
            None => self.props,
        };
        self.has_flag("admin") || props.has(Props::ADMIN)
    }

    /// True when `argc` (name included) satisfies `arity`.
    pub fn arity_ok(arity: i32, argc: usize) -> bool {
        let argc = argc as i32;
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }

    /// The command's full name as Redis prints it: `get`, `client|id`.
    pub fn full_name(&self, args: &[Bytes]) -> String {
        match args.get(1).and_then(|a| self.subcommand(a)) {
            Some(sub) => format!("{}|{}", self.name, sub.name),
            None => self.name.to_string(),
        }
    }

    pub fn subcommand(&self, name: &[u8]) -> Option<&'static SubSpec> {
        self.subcommands
            .iter()
            .find(|s| s.name.as_bytes().eq_ignore_ascii_case(name))
    }
}

/// A row without its handler, subcommands, key specs or tips: what a
/// `commands!` row's positional items build.
#[allow(clippy::too_many_arguments)]
pub const fn spec(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    keys: (i32, i32, i32),
    family: Family,
    group: &'static str,
    since: &'static str,
    summary: &'static str,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        first_key: keys.0,
        last_key: keys.1,
        step: keys.2,
        family,
        group,
        summary,
        since,
        subcommands: &[],
        sub_info: &[],
        tips: &[],
        key_specs: &[],
        handler: Handler::None,
        props: Props::NONE,
    }
}

pub const NO_KEYS: (i32, i32, i32) = (0, 0, 0);
pub const ONE_KEY: (i32, i32, i32) = (1, 1, 1);

/// A session command's body (see [`Handler::Session`]).
pub type SessionFn =
    for<'a> fn(&'a mut Session, &'static CommandSpec, &'a [Bytes]) -> BoxFuture<'a, CmdResult>;

/// How long a blocking command waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// The argument at this index, in seconds (BLPOP's timeout).
    Seconds(usize),
    /// The argument at this index, in milliseconds (XREAD's BLOCK).
    Millis(usize),
    /// Not at all: the attempt runs once (XREAD without BLOCK).
    Never,
}

/// Where a blocking command waits: its keys, how long, and how.
pub struct BlockOn {
    pub keys: Vec<Bytes>,
    pub wait: Wait,
    /// Every waiter of a key looks again when it changes, not only the
    /// first (readers that take nothing away: XREAD, and XREADGROUP,
    /// whose consumers may read different groups).
    pub every: bool,
    /// Runs once before the first attempt, alone; its reply (the
    /// arguments, as bulk strings) replaces the command's: XREAD's `$`
    /// becomes the stream's last id.
    pub resolve: Option<DataFn>,
    /// Runs instead of waiting on keys (XREAD BLOCK of an event stream
    /// waits on the event log).
    pub instead: Option<SessionFn>,
}

impl BlockOn {
    /// Waits on `keys` for the timeout in seconds at argument `at`.
    pub fn seconds(keys: Vec<Bytes>, at: usize) -> BlockOn {
        BlockOn {
            keys,
            wait: Wait::Seconds(at),
            every: false,
            resolve: None,
            instead: None,
        }
    }
}

/// BLPOP, BRPOP, BZPOPMIN, BZPOPMAX: every argument between the name and
/// the timeout, which is last, is a key waited on.
pub fn every_key(args: &[Bytes]) -> BlockOn {
    BlockOn::seconds(args[1..args.len() - 1].to_vec(), args.len() - 1)
}

/// The key specs most rows share (as COMMAND INFO prints them): one key
/// at argument 1, or every argument from 1 on, with these flags.
pub mod ks {
    use crate::cmd::spec::{KeySpec, key_at, keys_to};

    pub static RO: &[KeySpec] = &[key_at(1, &["RO"])];
    pub static RO_ACCESS: &[KeySpec] = &[key_at(1, &["RO", "access"])];
    pub static RW_ACCESS_UPDATE: &[KeySpec] = &[key_at(1, &["RW", "access", "update"])];
    pub static RW_ACCESS_DELETE: &[KeySpec] = &[key_at(1, &["RW", "access", "delete"])];
    pub static RW_UPDATE: &[KeySpec] = &[key_at(1, &["RW", "update"])];
    pub static RW_INSERT: &[KeySpec] = &[key_at(1, &["RW", "insert"])];
    pub static RW_DELETE: &[KeySpec] = &[key_at(1, &["RW", "delete"])];
    pub static OW_UPDATE: &[KeySpec] = &[key_at(1, &["OW", "update"])];
    pub static OW_INSERT: &[KeySpec] = &[key_at(1, &["OW", "insert"])];
    pub static RO_ALL: &[KeySpec] = &[keys_to(1, &["RO"], -1)];
    pub static RO_ACCESS_ALL: &[KeySpec] = &[keys_to(1, &["RO", "access"], -1)];
    pub static RM_DELETE_ALL: &[KeySpec] = &[keys_to(1, &["RM", "delete"], -1)];
    /// The key after a subcommand (OBJECT ENCODING k).
    pub static SUB_RO: &[KeySpec] = &[key_at(2, &["RO"])];
}
