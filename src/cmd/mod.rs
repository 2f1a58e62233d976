//! Commands: one table describes every command once, and one file per
//! family parses and executes them.
//!
//! The table drives the arity check, the unknown-command error, and the
//! `COMMAND` replies. Data commands (strings, hashes, keys) run against a
//! store transaction through [`Ctx`]; connection-level commands (PING,
//! CLIENT, MULTI, SUBSCRIBE, ...) run against the connection's state.

/// A data command's handler, for its table row: `data!(cmd_get)`.
macro_rules! data {
    ($f:path) => {
        $crate::cmd::Handler::Data(|ctx, spec, args| Box::pin($f(ctx, spec, args)))
    };
    // A body that needs no spec: `data!(hincrby; args)`.
    ($f:path; args) => {
        $crate::cmd::Handler::Data(|ctx, _spec, args| Box::pin($f(ctx, args)))
    };
}

/// A blocking data command's handler: its non-blocking attempt and where
/// it waits, `blocking!(cmd_bpop, block_on_keys)` (see [`blocking`]).
macro_rules! blocking {
    ($f:path, $on:path) => {
        $crate::cmd::Handler::Blocking(|ctx, spec, args| Box::pin($f(ctx, spec, args)), $on)
    };
}

/// A session command's handler, for its table row: `session!(cmd_ping)`.
macro_rules! session {
    ($f:path) => {
        $crate::cmd::Handler::Session(|conn, spec, args| Box::pin($f(conn, spec, args)))
    };
    // A body that needs no spec: `session!(info; args)`.
    ($f:path; args) => {
        $crate::cmd::Handler::Session(|conn, _spec, args| Box::pin($f(conn, args)))
    };
    // ... and does not wait: `session!(ping; sync args)`.
    ($f:path; sync args) => {
        $crate::cmd::Handler::Session(|conn, _spec, args| Box::pin(async move { $f(conn, args) }))
    };
}

pub mod batch;
pub mod bits;
pub mod blocking;
pub mod connection;
pub mod dispatch;
pub mod errors;
pub mod event_view;
pub mod hash;
pub mod instance;
pub mod keys;
pub mod list;
pub mod long_double;
pub mod members;
pub mod object;
pub mod parameters;
pub mod pubsub;
pub mod score;
pub mod scored;
pub mod server;
pub mod set;
pub mod shared;
pub mod sort;
pub mod stream;
pub mod string;
pub mod table;
pub mod transaction;
pub mod zset;
pub mod zset_algebra;

use bytes::Bytes;

use crate::store::{Db, Event, KeyKind, KeyMeta, Txn};
use errors::{CmdError, CmdResult, err};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Notify;

use crate::bus::{Delivery, OutputLimits, Subscriber, Subscriptions};
use shared::{ClientHandle, ClientInfo, Shared};

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
    /// The read-only event streams (XRANGE, XREAD, ...): session commands
    /// that read the event log and may wait for it.
    Stream,
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
    Blocking(DataFn, fn(&[Bytes]) -> blocking::BlockOn),
    /// A session command: runs against the client's session.
    Session(
        for<'a> fn(&'a mut Session, &'static CommandSpec, &'a [Bytes]) -> BoxFuture<'a, CmdResult>,
    ),
    /// EXEC: the dispatcher runs the queued block itself.
    Exec,
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Handler::None => "None",
            Handler::Data(_) => "Data",
            Handler::Blocking(..) => "Blocking",
            Handler::Session(_) => "Session",
            Handler::Exec => "Exec",
        })
    }
}

/// A subcommand (CLIENT LIST, CONFIG GET, ...) with its own arity.
#[derive(Debug)]
pub struct SubSpec {
    pub name: &'static str,
    pub arity: i32,
    pub summary: &'static str,
}

/// The HELP subcommand every container command has.
pub const HELP_SUBCOMMAND: SubSpec = SubSpec {
    name: "help",
    arity: 2,
    summary: "Show helpful text about the different subcommands",
};

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
}

impl CommandSpec {
    /// The row with its handler bound.
    pub const fn with(self, handler: Handler) -> CommandSpec {
        CommandSpec { handler, ..self }
    }

    /// The row with its COMMAND INFO key specs.
    pub const fn keyed(self, key_specs: &'static [KeySpec]) -> CommandSpec {
        CommandSpec { key_specs, ..self }
    }

    pub fn is_write(&self) -> bool {
        self.flags.contains(&"write")
    }

    /// The store access the command needs: a write transaction, a snapshot
    /// for reads over several keys (MGET and ZUNION see one instant) and
    /// for list reads (a list's ends, then its rows), or plain reads.
    pub fn access(&self) -> crate::store::Access {
        use crate::store::Access;
        if self.is_write() {
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

/// Shorthand used by the family tables.
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
    }
}

pub const NO_KEYS: (i32, i32, i32) = (0, 0, 0);
pub const ONE_KEY: (i32, i32, i32) = (1, 1, 1);

/// The execution context of a data command: its transaction, the selected
/// database, one `now` for the whole command, and the events it produced.
pub struct Ctx<'a> {
    pub txn: &'a mut dyn Txn,
    pub db: Db,
    /// Unix milliseconds, fixed for the command (Redis's command time
    /// snapshot), so one command sees one consistent clock.
    pub now: i64,
    /// Events to append to the log in this transaction.
    pub events: Vec<Event>,
    pub shared: &'a Shared,
    pub resp3: bool,
    /// The client is not in CLIENT NO-TOUCH mode: the keys it names count
    /// as accessed (OBJECT IDLETIME).
    pub touches: bool,
}

impl Ctx<'_> {
    /// The key's metadata if it exists and has not expired. The event
    /// streams (`__events@<db>__`) exist without a row: a key of kind
    /// stream that never expires.
    pub async fn live(&mut self, key: &[u8]) -> Result<Option<KeyMeta>, CmdError> {
        if let Some(meta) = self.event_stream(key) {
            return Ok(Some(meta));
        }
        let now = self.now;
        Ok(self
            .txn
            .meta(self.db, key)
            .await?
            .filter(|m| m.is_live(now)))
    }

    /// The metadata of an event stream's name (see [`event_view`]).
    pub fn event_stream(&self, key: &[u8]) -> Option<KeyMeta> {
        event_view::exists(key, self.shared.config.databases).then_some(KeyMeta {
            kind: KeyKind::Stream,
            expire_at: None,
            version: 0,
        })
    }

    /// Like [`Ctx::live`], but a key of another kind is a WRONGTYPE error.
    pub async fn live_of(
        &mut self,
        key: &[u8],
        kind: KeyKind,
    ) -> Result<Option<KeyMeta>, CmdError> {
        match self.live(key).await? {
            Some(m) if m.kind != kind => err(errors::WRONGTYPE),
            other => Ok(other),
        }
    }

    /// Looks a key up for writing: an expired key is deleted now (with its
    /// `expired` event, as Redis's lazy expiry does) and reported absent.
    pub async fn for_write(&mut self, key: &Bytes) -> Result<Option<KeyMeta>, CmdError> {
        match self.txn.meta(self.db, key).await? {
            Some(m) if !m.is_live(self.now) => {
                self.txn.delete(self.db, key).await?;
                self.notify(b'x', "expired", key);
                Ok(None)
            }
            other => Ok(other),
        }
    }

    /// [`Ctx::for_write`] with a WRONGTYPE check.
    pub async fn for_write_of(
        &mut self,
        key: &Bytes,
        kind: KeyKind,
    ) -> Result<Option<KeyMeta>, CmdError> {
        match self.for_write(key).await? {
            Some(m) if m.kind != kind => err(errors::WRONGTYPE),
            other => Ok(other),
        }
    }

    /// Records a keyspace event of `class` (a notify-keyspace-events
    /// character) for `key`.
    pub fn notify(&mut self, class: u8, name: &'static str, key: &Bytes) {
        self.events.push(Event {
            db: self.db,
            key: key.clone(),
            name,
            class,
        });
    }

    /// Records a keyspace event for `key` in another database (MOVE, COPY).
    pub fn notify_in(&mut self, db: Db, class: u8, name: &'static str, key: &Bytes) {
        self.events.push(Event {
            db,
            key: key.clone(),
            name,
            class,
        });
    }

    /// Counts a read hit or miss for INFO stats.
    pub fn count_lookup(&self, hit: bool) {
        use std::sync::atomic::Ordering::Relaxed;
        let stats = &self.shared.stats;
        if hit {
            &stats.keyspace_hits
        } else {
            &stats.keyspace_misses
        }
        .fetch_add(1, Relaxed);
    }
}

/// Parses an integer argument (Redis's `string2ll` rules).
pub fn int_arg(arg: &[u8]) -> Result<i64, CmdError> {
    crate::protocol::parse_i64(arg).ok_or_else(|| CmdError::Reply(errors::NOT_INTEGER.into()))
}

/// Case-insensitive comparison of an argument with an option name.
pub fn is(arg: &[u8], option: &str) -> bool {
    arg.eq_ignore_ascii_case(option.as_bytes())
}

// --- The session: one client's state, as commands see it -------------------
//
// (Beside the spec types because the table's session handlers take it and it
// queues specs for MULTI.)

/// A MULTI block being queued.
#[derive(Default)]
pub struct MultiState {
    pub queue: Vec<(&'static CommandSpec, Vec<Bytes>)>,
    /// A queued command was rejected: EXEC must answer EXECABORT.
    pub dirty: bool,
}

/// A key under WATCH and the version it had (`None`: absent or expired).
pub struct Watched {
    pub db: Db,
    pub key: Bytes,
    pub version: Option<i64>,
}

pub struct Session {
    pub shared: Arc<Shared>,
    pub id: u64,
    pub addr: SocketAddr,
    pub db: Db,
    /// Negotiated with HELLO 3.
    pub resp3: bool,
    pub authenticated: bool,
    pub multi: Option<MultiState>,
    pub watched: Vec<Watched>,
    /// This client's subscriptions (released when the session ends).
    pub subs: Subscriptions,
    /// Per subscribed channel (pattern) that may carry keyspace events: the
    /// last event id logged before the subscription took effect (its
    /// watermark). Notifications of events up to it are dropped. Kept
    /// after an unsubscribe (pruned when they pile up), cleared by RESET.
    pub channel_marks: HashMap<Bytes, i64>,
    pub pattern_marks: HashMap<Bytes, i64>,
    /// What CLIENT LIST shows of this client.
    pub info: Arc<Mutex<ClientInfo>>,
    /// Notified by CLIENT KILL and the pub/sub output limits.
    pub kill: Arc<Notify>,
    /// How CLIENT UNBLOCK ends this client's wait.
    pub unblock: Arc<shared::Unblock>,
    /// Set by QUIT and protocol errors: close once replies are written.
    pub close_after_reply: bool,
    /// Set while EXEC runs its queue: a blocking command answers at once,
    /// as if its timeout had passed (Redis's CLIENT_DENY_BLOCKING).
    pub deny_blocking: bool,
    /// CLIENT REPLY: which replies this client gets.
    pub reply_mode: ReplyMode,
    /// CLIENT NO-TOUCH: this client's commands leave keys' access times
    /// alone (TOUCH still touches).
    pub no_touch: bool,
    /// Set by MONITOR: the commands this instance runs, one line each.
    pub monitor: Option<tokio::sync::mpsc::Receiver<Bytes>>,
}

/// CLIENT REPLY ON|OFF|SKIP, as Redis's reply flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    /// CLIENT REPLY SKIP ran: the next command's reply is dropped.
    SkipNext,
    /// This command's reply is dropped.
    Skip,
}

impl ReplyMode {
    /// Whether the reply of the command that just ran is sent.
    pub fn sends(self) -> bool {
        matches!(self, ReplyMode::On | ReplyMode::SkipNext)
    }

    /// The mode for the command after the one that just ran.
    pub fn next(self) -> ReplyMode {
        match self {
            ReplyMode::SkipNext => ReplyMode::Skip,
            ReplyMode::Skip => ReplyMode::On,
            other => other,
        }
    }
}

impl Session {
    /// Registers a new client; returns its session and the queue its
    /// pub/sub deliveries arrive on.
    pub fn new(shared: Arc<Shared>, addr: SocketAddr) -> (Session, crate::bus::DeliveryRx) {
        let id = shared.next_client_id.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let info = Arc::new(Mutex::new(ClientInfo {
            id,
            addr,
            name: Bytes::new(),
            lib_name: Bytes::new(),
            lib_ver: Bytes::new(),
            db: 0,
            created: now,
            last_active: now,
            last_cmd: "NULL".into(),
            sub: 0,
            psub: 0,
            multi: -1,
            blocked: false,
            resp: 2,
        }));
        let kill = Arc::new(Notify::new());
        let unblock = Arc::new(shared::Unblock::default());
        let (subscriber, delivery_rx) =
            Subscriber::new(OutputLimits::from_config(&shared.config), kill.clone());
        shared.clients.insert(
            id,
            ClientHandle {
                info: info.clone(),
                kill: kill.clone(),
                unblock: unblock.clone(),
            },
        );
        let authenticated = shared.config.requirepass.is_none();
        let subs = Subscriptions::new(shared.bus.clone(), id, subscriber);
        let session = Session {
            shared,
            id,
            addr,
            db: 0,
            resp3: false,
            authenticated,
            multi: None,
            watched: Vec::new(),
            subs,
            channel_marks: HashMap::new(),
            pattern_marks: HashMap::new(),
            info,
            kill,
            unblock,
            close_after_reply: false,
            deny_blocking: false,
            reply_mode: ReplyMode::On,
            no_touch: false,
            monitor: None,
        };
        (session, delivery_rx)
    }

    /// Records the command about to run (CLIENT LIST's cmd and idle).
    pub fn touch_info(&self, spec: &CommandSpec, args: &[Bytes]) {
        let mut info = self.info.lock().unwrap();
        info.last_active = Instant::now();
        info.last_cmd = spec.full_name(args);
    }

    pub fn is_subscribed(&self) -> bool {
        !self.subs.is_empty()
    }

    /// True when requests must still AUTH first.
    pub fn needs_auth(&self) -> bool {
        !self.authenticated && self.shared.config.requirepass.is_some()
    }

    /// True when a valid command may run in a group with the commands of
    /// its kind around it: a data command, allowed, outside MULTI and
    /// pub/sub, and either a write (group commit) or a plain read that
    /// never waits (one read session).
    pub fn runs_in_group(&self, spec: &CommandSpec) -> bool {
        spec.family.is_data()
            && !spec.has_flag("blocking")
            && (spec.is_write() || spec.access() == crate::store::Access::Read)
            && self.multi.is_none()
            && !self.is_subscribed()
            && !self.needs_auth()
            // A command set to panic (a test's) takes the one-command path.
            && self.shared.config.panic_on_command.as_deref() != Some(spec.name)
    }

    /// True when the subscription `name` took effect after the logged
    /// event `event` (so it must not see it).
    pub fn predates(&self, delivery: &Delivery) -> bool {
        let (marks, name, event) = match delivery {
            Delivery::Message { channel, event, .. } => (&self.channel_marks, channel, event),
            Delivery::PMessage { pattern, event, .. } => (&self.pattern_marks, pattern, event),
        };
        match (event, marks.get(name)) {
            (Some(id), Some(&mark)) => *id <= mark,
            _ => false,
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // The subscriptions release themselves; the client list entry and
        // the monitor feed here.
        self.shared.clients.remove(&self.id);
        if self.monitor.is_some() {
            self.shared.monitors.remove(self.id);
        }
    }
}
