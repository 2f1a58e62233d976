//! Session commands: PING, ECHO, QUIT, RESET, SELECT, AUTH, HELLO, CLIENT.

use bytes::Bytes;

use crate::cmd::args::{int_arg, is};
use crate::cmd::errors::{self, CmdResult, err};
use crate::cmd::session::{ReplyMode, Session};
use crate::cmd::spec::{ADMIN_SUB, CommandSpec, NO_KEYS, Props, SubSpec};
use std::sync::atomic::Ordering;

use crate::instance::clients::{ClientHandle, ClientInfo, UnblockHow};
use crate::reply::{OK, Reply};

/// The Redis version respire answers as (HELLO, INFO).
pub const REDIS_VERSION: &str = "7.0.15";

const NOAUTH: &[&str] = &[
    "noscript",
    "loading",
    "stale",
    "fast",
    "no-auth",
    "allow-busy",
];

pub static COMMANDS: &[CommandSpec] = commands! { family: Connection, group: "connection";
    "ping", -1, &["fast"], NO_KEYS, "1.0.0", session!(ping; sync args), "Ping the server", props: Props::SUBSCRIBED;
    "echo", 2, &["loading", "stale", "fast"], NO_KEYS, "1.0.0", session!(cmd_echo), "Echo the given string";
    "quit", -1, NOAUTH, NO_KEYS, "1.0.0", session!(cmd_quit), "Close the connection", props: Props::SKIPS_QUEUE.and(Props::SUBSCRIBED);
    "reset", 1, NOAUTH, NO_KEYS, "6.2.0", session!(cmd_reset), "Reset the connection", props: Props::SKIPS_QUEUE.and(Props::SUBSCRIBED);
    "select", 2, &["loading", "stale", "fast"], NO_KEYS, "1.0.0", session!(cmd_select), "Change the selected database for the current connection";
    "auth", -2, NOAUTH, NO_KEYS, "1.0.0", session!(auth; sync args), "Authenticate to the server";
    "hello", -1, NOAUTH, NO_KEYS, "6.0.0", session!(hello; sync args), "Handshake with Redis";
    "client", -2, &[], NO_KEYS, "2.4.0", session!(client; sync args), "A container for client connection commands", subs: CLIENT_SUBCOMMANDS;
};

const CLIENT_SUB: &[&str] = &["noscript", "loading", "stale"];

static CLIENT_SUBCOMMANDS: &[SubSpec] = subcommands! {
    "id", 2, "Returns the client ID for the current connection", flags: CLIENT_SUB;
    "getname", 2, "Get the current connection name", flags: CLIENT_SUB;
    "setname", 3, "Set the current connection name", flags: CLIENT_SUB;
    "info", 2, "Returns information about the current client connection.", flags: CLIENT_SUB;
    "list", -2, "Get the list of client connections", flags: ADMIN_SUB, props: Props::ADMIN;
    "setinfo", 4, "Set client or connection specific info", flags: CLIENT_SUB;
    "kill", -3, "Kill the connection of a client", flags: ADMIN_SUB, props: Props::ADMIN;
    "unblock", -3, "Unblock a client blocked in a blocking command from a different connection", flags: ADMIN_SUB, props: Props::ADMIN;
    "reply", 3, "Instruct the server whether to reply to commands", flags: CLIENT_SUB;
    "no-evict", 3, "Set client eviction mode for the current connection", flags: ADMIN_SUB, props: Props::ADMIN;
    "no-touch", 3, "Controls whether commands sent by the client will alter the LRU/LFU of the keys they access.", flags: CLIENT_SUB;
    "pause", -3, "Stop processing commands from clients for some time", flags: ADMIN_SUB, props: Props::ADMIN;
    "tracking", -3, "Enable or disable server assisted client side caching support", flags: CLIENT_SUB;
    "caching", 3, "Instruct the server about tracking or not keys in the next request", flags: CLIENT_SUB;
    "getredir", 2, "Get tracking notifications redirection client ID if any", flags: CLIENT_SUB;
    "trackinginfo", 2, "Return information about server assisted client side caching for the current connection", flags: CLIENT_SUB;
    "unpause", 2, "Resume processing of clients that were paused", flags: ADMIN_SUB, props: Props::ADMIN;
    help;
};

/// ECHO.
pub(crate) async fn cmd_echo(
    _conn: &mut Session,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    Ok(Reply::Bulk(args[1].clone()))
}

/// QUIT.
pub(crate) async fn cmd_quit(
    session: &mut Session,
    _spec: &'static CommandSpec,
    _args: &[Bytes],
) -> CmdResult {
    session.close_after_reply = true;
    session.info.lock().unwrap().close_after_reply = true;
    Ok(OK)
}

/// RESET.
pub(crate) async fn cmd_reset(
    session: &mut Session,
    _spec: &'static CommandSpec,
    _args: &[Bytes],
) -> CmdResult {
    reset(session);
    Ok(Reply::Status("RESET"))
}

/// SELECT.
pub(crate) async fn cmd_select(
    session: &mut Session,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    let db = int_arg(&args[1])?;
    if db < 0 || db >= session.instance.config.databases as i64 {
        return err(errors::DB_OUT_OF_RANGE);
    }
    session.db = db as u32;
    session.info.lock().unwrap().db = session.db;
    Ok(OK)
}

fn ping(session: &Session, args: &[Bytes]) -> CmdResult {
    if args.len() > 2 {
        return err(errors::wrong_arity("ping"));
    }
    if session.is_subscribed() && !session.resp3 {
        let payload = args.get(1).cloned().unwrap_or_default();
        return Ok(Reply::Array(vec![
            Reply::bulk_str("pong"),
            Reply::Bulk(payload),
        ]));
    }
    Ok(match args.get(1) {
        Some(msg) => Reply::Bulk(msg.clone()),
        None => Reply::Status("PONG"),
    })
}

/// RESET: back to a fresh connection's state.
pub fn reset(session: &mut Session) {
    session.multi = None;
    session.watched.clear();
    crate::cmd::family::pubsub::unsubscribe_all(session);
    session.db = 0;
    session.resp3 = false;
    session.authenticated = session.instance.config.requirepass.is_none();
    if session.tracking {
        session.instance.events.tracking.disable(session.id);
        session.tracking = false;
        session.caching = false;
    }
    let mut info = session.info.lock().unwrap();
    info.db = 0;
    info.resp = 2;
    info.multi = -1;
    info.multi_mem = 0;
    info.no_evict = false;
    info.name = Bytes::new();
}

/// Checks a username/password pair against `--requirepass`. The password
/// is compared in constant time (as digests, so not even its length leaks
/// through the timing), as Redis's `time_independent_strcmp` does.
fn credentials_ok(session: &Session, user: &[u8], pass: &[u8]) -> bool {
    use sha2::Digest as _;
    use subtle::ConstantTimeEq as _;
    user == b"default"
        && session
            .instance
            .config
            .requirepass
            .as_deref()
            .is_none_or(|p| {
                let given = sha2::Sha256::digest(pass);
                let wanted = sha2::Sha256::digest(p.as_bytes());
                bool::from(given.ct_eq(&wanted))
            })
}

fn auth(session: &mut Session, args: &[Bytes]) -> CmdResult {
    let (user, pass) = match args.len() {
        2 => (&b"default"[..], &args[1]),
        3 => (&args[1][..], &args[2]),
        _ => return err(errors::SYNTAX),
    };
    if args.len() == 2 && session.instance.config.requirepass.is_none() {
        return err(errors::AUTH_NOT_CONFIGURED);
    }
    if !credentials_ok(session, user, pass) {
        return err(errors::WRONGPASS);
    }
    session.authenticated = true;
    Ok(OK)
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
fn hello(session: &mut Session, args: &[Bytes]) -> CmdResult {
    let mut proto = None;
    if let Some(v) = args.get(1) {
        let v = crate::protocol::parse_i64(v)
            .ok_or_else(|| crate::cmd::errors::CmdError::Reply(errors::PROTO_NOT_INTEGER.into()))?;
        if !(2..=3).contains(&v) {
            return err(errors::PROTO_VERSION);
        }
        proto = Some(v);
    }
    let mut creds = None;
    let mut name = None;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - i - 1;
        if is(&args[i], "auth") && more >= 2 {
            creds = Some((&args[i + 1], &args[i + 2]));
            i += 3;
        } else if is(&args[i], "setname") && more >= 1 {
            name = Some(&args[i + 1]);
            i += 2;
        } else {
            return err(errors::hello_syntax(&args[i]));
        }
    }
    if let Some((user, pass)) = creds {
        if !credentials_ok(session, user, pass) {
            return err(errors::WRONGPASS);
        }
        session.authenticated = true;
    }
    if !session.authenticated {
        return err(errors::HELLO_NOAUTH);
    }
    if let Some(name) = name {
        set_name(session, name)?;
    }
    if let Some(v) = proto {
        session.resp3 = v == 3;
        session.info.lock().unwrap().resp = v as u8;
    }
    Ok(Reply::Map(vec![
        (Reply::bulk_str("server"), Reply::bulk_str("redis")),
        (Reply::bulk_str("version"), Reply::bulk_str(REDIS_VERSION)),
        (
            Reply::bulk_str("proto"),
            Reply::Int(if session.resp3 { 3 } else { 2 }),
        ),
        (Reply::bulk_str("id"), Reply::Int(session.id as i64)),
        (Reply::bulk_str("mode"), Reply::bulk_str("standalone")),
        (Reply::bulk_str("role"), Reply::bulk_str("master")),
        (Reply::bulk_str("modules"), Reply::Array(vec![])),
    ]))
}

fn set_name(session: &mut Session, name: &Bytes) -> Result<(), crate::cmd::errors::CmdError> {
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return err(errors::CLIENT_NAME);
    }
    session.info.lock().unwrap().name = name.clone();
    Ok(())
}

/// ON or OFF (any case), else a syntax error.
fn on_off(arg: &[u8]) -> Result<bool, crate::cmd::errors::CmdError> {
    if is(arg, "on") {
        Ok(true)
    } else if is(arg, "off") {
        Ok(false)
    } else {
        err(errors::SYNTAX)
    }
}

fn client(session: &mut Session, args: &[Bytes]) -> CmdResult {
    let sub = args[1].to_ascii_lowercase();
    match &sub[..] {
        b"id" => Ok(Reply::Int(session.id as i64)),
        b"getname" => {
            let name = session.info.lock().unwrap().name.clone();
            Ok(if name.is_empty() {
                Reply::Nil
            } else {
                Reply::Bulk(name)
            })
        }
        b"setname" => {
            set_name(session, &args[2])?;
            Ok(OK)
        }
        b"setinfo" => {
            let value = &args[3];
            if value.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
                return err(errors::setinfo_special_characters(&args[2]));
            }
            let mut info = session.info.lock().unwrap();
            if is(&args[2], "lib-name") {
                info.lib_name = value.clone();
            } else if is(&args[2], "lib-ver") {
                info.lib_ver = value.clone();
            } else {
                return err(errors::unrecognized_option(&args[2]));
            }
            Ok(OK)
        }
        b"info" => client_info(session),
        b"list" => client_list(session, args),
        b"kill" => client_kill(session, args),
        b"unblock" => client_unblock(session, args),
        b"reply" => {
            session.reply_mode = match args[2].to_ascii_lowercase().as_slice() {
                b"on" => ReplyMode::On,
                b"off" => ReplyMode::Off,
                b"skip" if session.reply_mode != ReplyMode::Off => ReplyMode::SkipNext,
                b"skip" => ReplyMode::Off,
                _ => return err(errors::SYNTAX),
            };
            // ON answers OK; OFF and SKIP answer nothing.
            Ok(if session.reply_mode == ReplyMode::On {
                OK
            } else {
                Reply::Many(Vec::new())
            })
        }
        b"no-evict" => {
            // Nothing is evicted here: the mode is only shown (flag `e`).
            let on = on_off(&args[2])?;
            session.info.lock().unwrap().no_evict = on;
            Ok(OK)
        }
        b"no-touch" => {
            session.no_touch = on_off(&args[2])?;
            Ok(OK)
        }
        b"pause" => {
            let ms = crate::protocol::parse_i64(&args[2]).ok_or_else(|| {
                crate::cmd::errors::CmdError::Reply(errors::TIMEOUT_NOT_INTEGER.into())
            })?;
            if ms < 0 {
                return err(errors::TIMEOUT_NEGATIVE);
            }
            let all = match args.get(3) {
                None => true,
                Some(mode) if args.len() == 4 && is(mode, "all") => true,
                Some(mode) if args.len() == 4 && is(mode, "write") => false,
                Some(_) if args.len() == 4 => return err(errors::PAUSE_MODE),
                Some(_) => return err(errors::subcommand_syntax(&args[1], "client")),
            };
            session
                .instance
                .pause
                .pause(std::time::Duration::from_millis(ms as u64), all);
            Ok(OK)
        }
        b"unpause" => {
            session.instance.pause.unpause();
            Ok(OK)
        }
        b"tracking" => client_tracking(session, args),
        b"caching" => client_caching(session, &args[2]),
        b"getredir" => Ok(Reply::Int(
            tracking_info(session).map_or(-1, |i| i.options.redirect as i64),
        )),
        b"trackinginfo" => Ok(client_trackinginfo(session)),
        b"help" => Ok(Reply::help(&[
            "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are: ID <client-id>, ADDR <ip:port>, LADDR <ip:port>, SKIPME (YES|NO).",
            "LIST [options ...]",
            "    Return information about client connections. Options: TYPE (NORMAL|PUBSUB), ID <client-id> ...",
            "UNPAUSE",
            "    Stop the current client pause, resuming traffic.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend all, or just write, clients for <timeout> milliseconds.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETINFO <option> <value>",
            "    Set client meta attributes: LIB-NAME or LIB-VER.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Unblock the specified blocked client.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
            "NO-TOUCH (ON|OFF)",
            "    Will not touch LRU/LFU stats when this mode is on.",
            "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
            "         [OPTIN] [OPTOUT] [NOLOOP]",
            "    Control server assisted client side caching.",
            "TRACKINGINFO",
            "    Report tracking status for the current connection.",
            "CACHING (YES|NO)",
            "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
            "GETREDIR",
            "    Return the client ID we are redirecting to when tracking is enabled.",
            "HELP",
            "    Print this help.",
        ])),
        _ => err(errors::unknown_subcommand(&args[1], "client")),
    }
}

/// What CLIENT LIST shows of one client: its info and its buffers.
struct Listed {
    info: ClientInfo,
    qbuf: usize,
    qbuf_free: usize,
    obl: usize,
    rbs: usize,
    rbp: usize,
    writing: bool,
    base: usize,
    /// Pub/sub deliveries waiting: messages (`oll`) and bytes (`omem`).
    oll: usize,
    omem: usize,
}

impl Listed {
    fn of(handle: &ClientHandle) -> Listed {
        let b = &handle.buffers;
        let load = |a: &std::sync::atomic::AtomicUsize| a.load(Ordering::Relaxed);
        Listed {
            info: handle.info.lock().unwrap().clone(),
            qbuf: load(&b.qbuf),
            qbuf_free: load(&b.qbuf_free),
            obl: load(&b.obl),
            rbs: load(&b.rbs),
            rbp: load(&b.rbp),
            writing: b.writing.load(Ordering::Relaxed),
            base: load(&b.base),
            oll: handle.backlog.count(),
            omem: handle.backlog.bytes(),
        }
    }

    /// Redis's client type: `pubsub` while subscribed, else `normal`
    /// (respire has no masters or replicas; a MONITOR client is normal).
    fn is_pubsub(&self) -> bool {
        self.info.sub + self.info.psub > 0
    }

    /// Redis's flags, in its order; `N` for none.
    fn flags(&self) -> String {
        let i = &self.info;
        let mut flags = String::new();
        for (on, flag) in [
            (i.monitor, 'O'),
            (self.is_pubsub(), 'P'),
            (i.multi >= 0, 'x'),
            (i.blocked, 'b'),
            (i.close_after_reply, 'c'),
            (i.no_evict, 'e'),
        ] {
            if on {
                flags.push(flag);
            }
        }
        if flags.is_empty() {
            flags.push('N');
        }
        flags
    }

    /// One CLIENT LIST line: Redis 7.0's fields in its order.
    fn line(&self) -> String {
        let i = &self.info;
        let tot_mem = self.base
            + self.qbuf
            + self.qbuf_free
            + i.argv_mem
            + i.multi_mem
            + self.rbs
            + self.omem;
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub=0 \
             multi={} qbuf={} qbuf-free={} argv-mem={} multi-mem={} rbs={} rbp={} obl={} oll={} omem={} \
             tot-mem={} events={} cmd={} user=default redir=-1 resp={}",
            i.id,
            i.addr,
            i.laddr,
            i.fd,
            String::from_utf8_lossy(&i.name),
            i.created.elapsed().as_secs(),
            i.last_active.elapsed().as_secs(),
            self.flags(),
            i.db,
            i.sub,
            i.psub,
            i.multi,
            self.qbuf,
            self.qbuf_free,
            i.argv_mem,
            i.multi_mem,
            self.rbs,
            self.rbp,
            self.obl,
            self.oll,
            self.omem,
            tot_mem,
            if self.writing { "rw" } else { "r" },
            i.last_cmd,
            i.resp,
        )
    }
}

/// Every client of this instance, by id.
fn all_clients(session: &Session) -> Vec<Listed> {
    let mut all: Vec<Listed> = session
        .instance
        .clients
        .iter()
        .map(|c| Listed::of(c.value()))
        .collect();
    all.sort_by_key(|c| c.info.id);
    all
}

/// A client type named in CLIENT LIST/KILL TYPE: `Some(true)` pubsub,
/// `Some(false)` normal, `None` master/replica/slave (respire has none).
fn client_type(name: &[u8]) -> Result<Option<bool>, crate::cmd::errors::CmdError> {
    match &name.to_ascii_lowercase()[..] {
        b"normal" => Ok(Some(false)),
        b"pubsub" => Ok(Some(true)),
        b"master" | b"replica" | b"slave" => Ok(None),
        _ => err(errors::unknown_client_type(name)),
    }
}

/// CLIENT LIST [TYPE normal|master|replica|pubsub] [ID id [id ...]]
fn client_list(session: &Session, args: &[Bytes]) -> CmdResult {
    let mut clients = all_clients(session);
    let mut i = 2;
    while i < args.len() {
        if is(&args[i], "type") && i + 1 < args.len() {
            match client_type(&args[i + 1])? {
                Some(pubsub) => clients.retain(|c| c.is_pubsub() == pubsub),
                None => clients.clear(),
            }
            i += 2;
        } else if is(&args[i], "id") && i + 1 < args.len() {
            let mut ids = Vec::new();
            for a in &args[i + 1..] {
                // Any integer: one no client has (0, negative) matches none.
                match crate::protocol::parse_i64(a) {
                    Some(id) => ids.extend(u64::try_from(id).ok()),
                    None => return err(errors::INVALID_CLIENT_ID),
                }
            }
            clients.retain(|c| ids.contains(&c.info.id));
            i = args.len();
        } else {
            return err(errors::SYNTAX);
        }
    }
    let mut text = String::new();
    for c in &clients {
        text.push_str(&c.line());
        text.push('\n');
    }
    Ok(Reply::Verbatim(Bytes::from(text)))
}

/// CLIENT INFO: this client's line.
fn client_info(session: &Session) -> CmdResult {
    let line = match session.instance.clients.get(&session.id) {
        Some(handle) => Listed::of(handle.value()).line(),
        None => String::new(),
    };
    Ok(Reply::Verbatim(Bytes::from(line + "\n")))
}

/// What CLIENT KILL's filters ask for; every one given must match.
#[derive(Default)]
struct KillFilter {
    id: Option<u64>,
    addr: Option<String>,
    laddr: Option<String>,
    /// `Some(None)`: a type respire has no client of (master, replica).
    pubsub: Option<Option<bool>>,
    skip_me: bool,
}

impl KillFilter {
    fn matches(&self, c: &Listed, me: u64) -> bool {
        self.addr
            .as_ref()
            .is_none_or(|a| *a == c.info.addr.to_string())
            && self
                .laddr
                .as_ref()
                .is_none_or(|a| *a == c.info.laddr.to_string())
            && self.pubsub.is_none_or(|t| t == Some(c.is_pubsub()))
            && self.id.is_none_or(|id| id == c.info.id)
            && !(self.skip_me && c.info.id == me)
    }
}

/// CLIENT KILL ip:port | CLIENT KILL <filter> <value> ... (ID, ADDR,
/// LADDR, USER, SKIPME, TYPE), as Redis 7.0 parses them: the first bad
/// option answers its error and kills nobody. The old form may kill the
/// caller (which gets its reply first) and answers OK or `No such client`;
/// the new form answers how many it killed.
fn client_kill(session: &mut Session, args: &[Bytes]) -> CmdResult {
    let old_form = args.len() == 3;
    let mut filter = KillFilter {
        skip_me: !old_form,
        ..KillFilter::default()
    };
    if old_form {
        filter.addr = Some(String::from_utf8_lossy(&args[2]).into_owned());
    } else {
        let mut i = 2;
        while i < args.len() {
            let Some(value) = args.get(i + 1) else {
                return err(errors::SYNTAX);
            };
            let text = String::from_utf8_lossy(value).into_owned();
            if is(&args[i], "id") {
                let id = crate::protocol::parse_i64(value)
                    .filter(|&id| id > 0)
                    .ok_or_else(|| {
                        crate::cmd::errors::CmdError::Reply(errors::CLIENT_ID_NOT_POSITIVE.into())
                    })?;
                filter.id = Some(id as u64);
            } else if is(&args[i], "type") {
                filter.pubsub = Some(client_type(value)?);
            } else if is(&args[i], "addr") {
                filter.addr = Some(text);
            } else if is(&args[i], "laddr") {
                filter.laddr = Some(text);
            } else if is(&args[i], "user") {
                // One user exists, `default`, and every client is it.
                if value.as_ref() != b"default" {
                    return err(errors::no_such_user(value));
                }
            } else if is(&args[i], "skipme") {
                filter.skip_me = if is(value, "yes") {
                    true
                } else if is(value, "no") {
                    false
                } else {
                    return err(errors::SYNTAX);
                };
            } else {
                return err(errors::SYNTAX);
            }
            i += 2;
        }
    }
    let mut killed = 0;
    for c in all_clients(session) {
        if !filter.matches(&c, session.id) {
            continue;
        }
        if c.info.id == session.id {
            // Closes once its reply is written, as Redis does.
            session.close_after_reply = true;
            session.info.lock().unwrap().close_after_reply = true;
        } else {
            kill(session, c.info.id);
        }
        killed += 1;
    }
    if old_form {
        return if killed == 0 {
            err(errors::NO_SUCH_CLIENT)
        } else {
            Ok(OK)
        };
    }
    Ok(Reply::Int(killed))
}

/// CLIENT UNBLOCK client-id [TIMEOUT|ERROR]: ends the wait of a client
/// blocked in a blocking command (BLPOP, XREAD BLOCK, ...), as if its
/// timeout passed or with an UNBLOCKED error; 1 if it was blocked.
fn client_unblock(session: &Session, args: &[Bytes]) -> CmdResult {
    let id = int_arg(&args[2])?;
    let how = match args.get(3) {
        None => UnblockHow::Timeout,
        Some(how) if is(how, "timeout") => UnblockHow::Timeout,
        Some(how) if is(how, "error") => UnblockHow::Error,
        Some(_) if args.len() == 4 => return err(errors::UNBLOCK_REASON),
        Some(_) => return err(errors::subcommand_syntax(&args[1], "client")),
    };
    let unblocked = u64::try_from(id)
        .ok()
        .and_then(|id| session.instance.clients.get(&id))
        .is_some_and(|handle| handle.unblock.unblock(how));
    Ok(Reply::Int(unblocked as i64))
}

/// Closes another client: it leaves the client list at once (as Redis
/// frees it), and its connection ends as soon as its task sees the kill.
fn kill(session: &Session, id: u64) {
    if let Some((_, handle)) = session.instance.clients.remove(&id) {
        handle.kill.notify_one();
    }
}

/// The client's tracking state, if it tracks.
fn tracking_info(session: &Session) -> Option<crate::events::tracking::Info> {
    if !session.tracking {
        return None;
    }
    session.instance.events.tracking.info(session.id)
}

/// CLIENT TRACKING ON|OFF [REDIRECT id] [BCAST] [PREFIX p ...] [OPTIN]
/// [OPTOUT] [NOLOOP], with Redis 7.0's checks in its order.
fn client_tracking(session: &mut Session, args: &[Bytes]) -> CmdResult {
    use crate::events::tracking::Options;
    let mut options = Options::default();
    let mut target = None;
    let mut i = 3;
    while i < args.len() {
        let more = i + 1 < args.len();
        let opt = args[i].to_ascii_lowercase();
        match &opt[..] {
            b"redirect" if more => {
                i += 1;
                if options.redirect != 0 {
                    return err(errors::TRACKING_ONE_REDIRECT);
                }
                let id = crate::cmd::args::int_arg(&args[i])?;
                let handle = u64::try_from(id)
                    .ok()
                    .and_then(|id| session.instance.clients.get(&id));
                let Some(handle) = handle else {
                    return err(errors::TRACKING_NO_REDIRECT_CLIENT);
                };
                target = Some(handle.deliveries.clone());
                options.redirect = id as u64;
            }
            b"bcast" => options.bcast = true,
            b"optin" => options.optin = true,
            b"optout" => options.optout = true,
            b"noloop" => options.noloop = true,
            b"prefix" if more => {
                i += 1;
                options.prefixes.push(args[i].clone());
            }
            _ => return err(errors::SYNTAX),
        }
        i += 1;
    }
    let tracking = &session.instance.events.tracking;
    if is(&args[2], "off") {
        if session.tracking {
            tracking.disable(session.id);
            session.tracking = false;
            session.caching = false;
        }
        return Ok(OK);
    }
    if !is(&args[2], "on") {
        return err(errors::SYNTAX);
    }
    if !options.bcast && !options.prefixes.is_empty() {
        return err(errors::TRACKING_PREFIX_NEEDS_BCAST);
    }
    let now = tracking_info(session);
    if let Some(now) = &now
        && now.options.bcast != options.bcast
    {
        return err(errors::TRACKING_SWITCH_BCAST);
    }
    if options.bcast && (options.optin || options.optout) {
        return err(errors::TRACKING_OPT_WITH_BCAST);
    }
    if options.optin && options.optout {
        return err(errors::TRACKING_OPTIN_AND_OPTOUT);
    }
    if let Some(now) = &now
        && ((options.optin && now.options.optout) || (options.optout && now.options.optin))
    {
        return err(errors::TRACKING_SWITCH_OPT);
    }
    if options.bcast {
        let existing = now.as_ref().map_or(&[][..], |n| &n.options.prefixes[..]);
        for (j, prefix) in options.prefixes.iter().enumerate() {
            let overlaps = |a: &[u8], b: &[u8]| {
                let n = a.len().min(b.len());
                a[..n] == b[..n]
            };
            if let Some(old) = existing.iter().find(|old| overlaps(old, prefix)) {
                return Err(crate::cmd::errors::CmdError::Reply(
                    errors::tracking_prefix_overlap(prefix, old, true),
                ));
            }
            if let Some(other) = options.prefixes[j + 1..]
                .iter()
                .find(|o| overlaps(prefix, o))
            {
                return Err(crate::cmd::errors::CmdError::Reply(
                    errors::tracking_prefix_overlap(prefix, other, false),
                ));
            }
        }
    }
    let own = session.subs.subscriber().clone();
    tracking.enable(session.id, options, own, target);
    session.tracking = true;
    Ok(OK)
}

/// CLIENT CACHING YES|NO: for the next command, in OPTIN or OPTOUT mode.
fn client_caching(session: &mut Session, arg: &[u8]) -> CmdResult {
    let Some(info) = tracking_info(session) else {
        return err(errors::CACHING_NOT_TRACKING);
    };
    if is(arg, "yes") {
        if !info.options.optin {
            return err(errors::CACHING_YES_NOT_OPTIN);
        }
    } else if is(arg, "no") {
        if !info.options.optout {
            return err(errors::CACHING_NO_NOT_OPTOUT);
        }
    } else {
        return err(errors::SYNTAX);
    }
    session
        .instance
        .events
        .tracking
        .set_caching(session.id, true);
    session.caching = true;
    Ok(OK)
}

/// CLIENT TRACKINGINFO: flags, redirect and prefixes, as Redis shows them.
fn client_trackinginfo(session: &Session) -> Reply {
    let info = tracking_info(session);
    let mut flags = Vec::new();
    let mut redirect = -1;
    let mut prefixes = Vec::new();
    match &info {
        None => flags.push("off"),
        Some(info) => {
            let o = &info.options;
            // In Redis's order.
            let shown = [
                (true, "on"),
                (o.bcast, "bcast"),
                (o.optin, "optin"),
                (o.optin && info.caching, "caching-yes"),
                (o.optout, "optout"),
                (o.optout && info.caching, "caching-no"),
                (o.noloop, "noloop"),
                (info.broken, "broken_redirect"),
            ];
            flags.extend(shown.into_iter().filter(|f| f.0).map(|f| f.1));
            redirect = o.redirect as i64;
            prefixes = o.prefixes.iter().cloned().map(Reply::Bulk).collect();
        }
    }
    Reply::Map(vec![
        (
            Reply::bulk_str("flags"),
            Reply::Set(flags.into_iter().map(Reply::bulk_str).collect()),
        ),
        (Reply::bulk_str("redirect"), Reply::Int(redirect)),
        (Reply::bulk_str("prefixes"), Reply::Array(prefixes)),
    ])
}
