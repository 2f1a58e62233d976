//! Session commands: PING, ECHO, QUIT, RESET, SELECT, AUTH, HELLO, CLIENT.

use bytes::Bytes;

use crate::cmd::args::{int_arg, is};
use crate::cmd::errors::{self, CmdResult, err};
use crate::cmd::session::{ReplyMode, Session};
use crate::cmd::spec::{CommandSpec, NO_KEYS, Props, SubSpec};
use crate::instance::clients::{ClientInfo, UnblockHow};
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
    "echo", 2, &["fast"], NO_KEYS, "1.0.0", session!(cmd_echo), "Echo the given string";
    "quit", -1, NOAUTH, NO_KEYS, "1.0.0", session!(cmd_quit), "Close the connection", props: Props::SKIPS_QUEUE.and(Props::SUBSCRIBED);
    "reset", 1, NOAUTH, NO_KEYS, "6.2.0", session!(cmd_reset), "Reset the connection", props: Props::SKIPS_QUEUE.and(Props::SUBSCRIBED);
    "select", 2, &["loading", "stale", "fast"], NO_KEYS, "1.0.0", session!(cmd_select), "Change the selected database for the current connection";
    "auth", -2, NOAUTH, NO_KEYS, "1.0.0", session!(auth; sync args), "Authenticate to the server";
    "hello", -1, NOAUTH, NO_KEYS, "6.0.0", session!(hello; sync args), "Handshake with Redis";
    "client", -2, &["sentinel"], NO_KEYS, "2.4.0", session!(client; sync args), "A container for client connection commands", subs: CLIENT_SUBCOMMANDS;
};

static CLIENT_SUBCOMMANDS: &[SubSpec] = subcommands! {
    "id", 2, "Returns the client ID for the current connection";
    "getname", 2, "Get the current connection name";
    "setname", 3, "Set the current connection name";
    "info", 2, "Returns information about the current client connection.";
    "list", -2, "Get the list of client connections", props: Props::ADMIN;
    "setinfo", 4, "Set client or connection specific info";
    "kill", -3, "Kill the connection of a client", props: Props::ADMIN;
    "unblock", -3, "Unblock a client blocked in a blocking command from a different connection", props: Props::ADMIN;
    "reply", 3, "Instruct the server whether to reply to commands";
    "no-evict", 3, "Set client eviction mode for the current connection", props: Props::ADMIN;
    "no-touch", 3, "Controls whether commands sent by the client will alter the LRU/LFU of the keys they access.";
    "pause", -3, "Stop processing commands from clients for some time", props: Props::ADMIN;
    "unpause", 2, "Resume processing of clients that were paused", props: Props::ADMIN;
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
    let mut info = session.info.lock().unwrap();
    info.db = 0;
    info.resp = 2;
    info.multi = -1;
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
        b"info" => {
            let info = session.info.lock().unwrap().clone();
            Ok(Reply::Verbatim(Bytes::from(
                client_line(&info, session) + "\n",
            )))
        }
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
            // Nothing is evicted here: the mode is accepted and has no effect.
            on_off(&args[2])?;
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
            "HELP",
            "    Print this help.",
        ])),
        _ => err(errors::unknown_subcommand(&args[1], "client")),
    }
}

/// One CLIENT LIST line, with Redis 7's field names.
fn client_line(info: &ClientInfo, session: &Session) -> String {
    let flags = if info.blocked {
        "b"
    } else if info.multi >= 0 {
        "x"
    } else if info.sub + info.psub > 0 {
        "P"
    } else {
        "N"
    };
    format!(
        "id={} addr={} laddr={} fd=8 name={} age={} idle={} flags={} db={} sub={} psub={} ssub=0 multi={} \
         qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r \
         cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
        info.id,
        info.addr,
        session.instance.local_addr,
        String::from_utf8_lossy(&info.name),
        info.created.elapsed().as_secs(),
        info.last_active.elapsed().as_secs(),
        flags,
        info.db,
        info.sub,
        info.psub,
        info.multi,
        info.last_cmd,
        info.resp,
        String::from_utf8_lossy(&info.lib_name),
        String::from_utf8_lossy(&info.lib_ver),
    )
}

fn all_clients(session: &Session) -> Vec<ClientInfo> {
    let mut all: Vec<ClientInfo> = session
        .instance
        .clients
        .iter()
        .map(|c| c.value().info.lock().unwrap().clone())
        .collect();
    all.sort_by_key(|c| c.id);
    all
}

/// CLIENT LIST [TYPE normal|master|replica|pubsub] [ID id [id ...]]
fn client_list(session: &Session, args: &[Bytes]) -> CmdResult {
    let mut clients = all_clients(session);
    let mut i = 2;
    while i < args.len() {
        if is(&args[i], "type") && i + 1 < args.len() {
            let t = args[i + 1].to_ascii_lowercase();
            let pubsub = match &t[..] {
                b"normal" => false,
                b"pubsub" => true,
                b"master" | b"replica" | b"slave" => {
                    clients.clear();
                    i += 2;
                    continue;
                }
                _ => {
                    return err(errors::unknown_client_type(&args[i + 1]));
                }
            };
            clients.retain(|c| (c.sub + c.psub > 0) == pubsub);
            i += 2;
        } else if is(&args[i], "id") && i + 1 < args.len() {
            let mut ids = Vec::new();
            for a in &args[i + 1..] {
                match crate::protocol::parse_i64(a) {
                    Some(id) if id > 0 => ids.push(id as u64),
                    _ => return err(errors::INVALID_CLIENT_ID),
                }
            }
            clients.retain(|c| ids.contains(&c.id));
            i = args.len();
        } else {
            return err(errors::SYNTAX);
        }
    }
    let mut text = String::new();
    for c in &clients {
        text.push_str(&client_line(c, session));
        text.push('\n');
    }
    Ok(Reply::Verbatim(Bytes::from(text)))
}

/// CLIENT KILL ip:port | CLIENT KILL [ID id] [ADDR ip:port] [LADDR ip:port] [SKIPME yes|no] [TYPE t] [USER u]
fn client_kill(session: &Session, args: &[Bytes]) -> CmdResult {
    let clients = all_clients(session);
    if args.len() == 3 {
        let addr = String::from_utf8_lossy(&args[2]);
        let Some(target) = clients.iter().find(|c| c.addr.to_string() == addr) else {
            return err(errors::NO_SUCH_CLIENT);
        };
        kill(session, target.id);
        return Ok(OK);
    }
    let mut targets: Vec<&ClientInfo> = clients.iter().collect();
    let mut skip_me = true;
    let mut i = 2;
    while i < args.len() {
        let Some(value) = args.get(i + 1) else {
            return err(errors::SYNTAX);
        };
        let text = String::from_utf8_lossy(value);
        if is(&args[i], "id") {
            let id = crate::protocol::parse_i64(value)
                .filter(|&id| id > 0)
                .ok_or_else(|| {
                    crate::cmd::errors::CmdError::Reply(errors::CLIENT_ID_NOT_POSITIVE.into())
                })?;
            targets.retain(|c| c.id == id as u64);
        } else if is(&args[i], "addr") {
            targets.retain(|c| c.addr.to_string() == text);
        } else if is(&args[i], "laddr") {
            let local = session.instance.local_addr.to_string() == text;
            targets.retain(|_| local);
        } else if is(&args[i], "skipme") {
            skip_me = match text.to_ascii_lowercase().as_str() {
                "yes" => true,
                "no" => false,
                _ => return err(errors::SYNTAX),
            };
        } else if is(&args[i], "user") {
            let default = text == "default";
            targets.retain(|_| default);
        } else if is(&args[i], "type") {
            let pubsub = match text.to_ascii_lowercase().as_str() {
                "normal" => false,
                "pubsub" => true,
                "master" | "replica" | "slave" => {
                    targets.clear();
                    i += 2;
                    continue;
                }
                _ => return err(errors::unknown_client_type(value)),
            };
            targets.retain(|c| (c.sub + c.psub > 0) == pubsub);
        } else {
            return err(errors::SYNTAX);
        }
        i += 2;
    }
    let mut killed = 0;
    for t in targets {
        if skip_me && t.id == session.id {
            continue;
        }
        kill(session, t.id);
        killed += 1;
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

fn kill(session: &Session, id: u64) {
    if let Some(handle) = session.instance.clients.get(&id) {
        handle.kill.notify_one();
    }
}
