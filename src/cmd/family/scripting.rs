//! Scripting: EVAL, EVALSHA, FCALL and their read-only forms (run as a
//! job of a store transaction by [`crate::cmd::run::script`]), SCRIPT
//! (LOAD, EXISTS, FLUSH, KILL, DEBUG) and FUNCTION (LOAD, DELETE, FLUSH,
//! LIST, STATS, KILL). Scripts and libraries are rows of the store, so a
//! SCRIPT LOAD or FUNCTION LOAD on one instance serves every instance; a
//! flush or a library change travels the event log as a setting event.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use crate::cmd::errors::{self, CmdResult, err};
use crate::cmd::helpers::rdb::{self, FunctionsError};
use crate::cmd::session::Session;
use crate::cmd::spec::{CommandSpec, Handler, KeySpec, NO_KEYS, ScriptCall, SubSpec, keys_counted};
use crate::events::settings::{self, FUNCTIONS_SETTING, SCRIPTS_SETTING};
use crate::glob;
use crate::instance::scripts::{KillResult, PooledVm};
use crate::instance::state::Instance;
use crate::lua::shebang;
use crate::lua::vm::{Registered, Vm, sha1_hex};
use crate::reply::{OK, Reply};
use crate::store::{Access, ScriptKind, StoreResult, retry_conflicts};

const EVAL: &[&str] = &[
    "noscript",
    "stale",
    "skip-monitor",
    "no-mandatory-keys",
    "movablekeys",
];
const EVAL_RO: &[&str] = &[
    "readonly",
    "noscript",
    "stale",
    "skip-monitor",
    "no-mandatory-keys",
    "movablekeys",
];
const WORST: Option<&str> =
    Some("We cannot tell how the keys will be used so we assume the worst, RW and UPDATE");
const WORST_RO: Option<&str> =
    Some("We cannot tell how the keys will be used so we assume the worst, RO and ACCESS");

static RW_KEYS: &[KeySpec] = &[KeySpec {
    notes: WORST,
    ..keys_counted(2, &["RW", "access", "update"], 0, 1)
}];
static RW_KEYS_SHA: &[KeySpec] = &[keys_counted(2, &["RW", "access", "update"], 0, 1)];
static RO_KEYS: &[KeySpec] = &[KeySpec {
    notes: WORST_RO,
    ..keys_counted(2, &["RO", "access"], 0, 1)
}];
static RO_KEYS_SHA: &[KeySpec] = &[keys_counted(2, &["RO", "access"], 0, 1)];

pub static COMMANDS: &[CommandSpec] = commands! { family: Scripting, group: "scripting";
    "eval", -3, EVAL, NO_KEYS, "2.6.0", Handler::Script(ScriptCall::Eval), "Execute a Lua script server side", keys: RW_KEYS;
    "evalsha", -3, EVAL, NO_KEYS, "2.6.0", Handler::Script(ScriptCall::EvalSha), "Execute a Lua script server side", keys: RW_KEYS_SHA;
    "eval_ro", -3, EVAL_RO, NO_KEYS, "7.0.0", Handler::Script(ScriptCall::Eval), "Execute a read-only Lua script server side", keys: RO_KEYS;
    "evalsha_ro", -3, EVAL_RO, NO_KEYS, "7.0.0", Handler::Script(ScriptCall::EvalSha), "Execute a read-only Lua script server side", keys: RO_KEYS_SHA;
    "fcall", -3, EVAL, NO_KEYS, "7.0.0", Handler::Script(ScriptCall::Fcall), "Invoke a function", keys: RW_KEYS;
    "fcall_ro", -3, EVAL_RO, NO_KEYS, "7.0.0", Handler::Script(ScriptCall::Fcall), "Invoke a read-only function", keys: RO_KEYS;
    "script", -2, &[], NO_KEYS, "2.6.0", session!(script; args), "A container for Lua scripts management commands", subs: SCRIPT_SUBCOMMANDS;
    "function", -2, &[], NO_KEYS, "7.0.0", session!(function; args), "A container for function commands", subs: FUNCTION_SUBCOMMANDS;
};

static SCRIPT_SUBCOMMANDS: &[SubSpec] = subcommands! {
    "debug", 3, "Set the debug mode for executed scripts.", flags: &["noscript"];
    "exists", -3, "Check existence of scripts in the script cache.", flags: &["noscript"];
    "flush", -2, "Remove all the scripts from the script cache.", flags: &["noscript"];
    "kill", 2, "Kill the script currently in execution.", flags: &["noscript", "allow-busy"];
    "load", 3, "Load the specified Lua script into the script cache.", flags: &["noscript", "stale"];
    help;
};

static FUNCTION_SUBCOMMANDS: &[SubSpec] = subcommands! {
    "delete", 3, "Delete a function by name", flags: &["write", "noscript"];
    "dump", 2, "Dump all functions into a serialized binary payload", flags: &["noscript"];
    "flush", -2, "Deleting all functions", flags: &["write", "noscript"];
    "kill", 2, "Kill the function currently in execution.", flags: &["noscript", "allow-busy"];
    "list", -2, "List information about all the functions", flags: &["noscript"];
    "load", -3, "Create a function with the given arguments (name, code, description)", flags: &["write", "denyoom", "noscript"];
    "restore", -3, "Restore all the functions on the given payload", flags: &["write", "denyoom", "noscript"];
    "stats", 2, "Return information about the function currently running (name, description, duration)", flags: &["noscript", "allow-busy"];
    help;
};

/// SCRIPT LOAD | EXISTS | FLUSH | KILL | DEBUG | HELP
async fn script(session: &mut Session, args: &[Bytes]) -> CmdResult {
    let instance = session.instance.clone();
    let sub = args[1].to_ascii_lowercase();
    match (&sub[..], args.len()) {
        (b"help", 2) => Ok(Reply::help(&[
            "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DEBUG (YES|SYNC|NO)",
            "    Set the debug mode for subsequent scripts executed.",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
            "HELP",
            "    Prints this help.",
        ])),
        (b"load", 3) => script_load(&instance, &args[2]).await,
        (b"exists", n) if n >= 3 => {
            let mut found = Vec::with_capacity(n - 2);
            for sha in &args[2..] {
                let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
                let known = sha.len() == 40
                    && instance
                        .scripts
                        .stored_body(&instance.store, &instance.events, &sha)
                        .await?
                        .is_some();
                found.push(Reply::Int(known as i64));
            }
            Ok(Reply::Array(found))
        }
        (b"flush", n) => {
            if n > 3 {
                return err(errors::SCRIPT_FLUSH_MODE);
            }
            flush_mode(&args[2..], errors::SCRIPT_FLUSH_MODE)?;
            store(
                &instance,
                &[Change::Delete(ScriptKind::Script, None)],
                Some(SCRIPTS_SETTING),
            )
            .await?;
            instance.scripts.forget_all();
            Ok(OK)
        }
        (b"kill", 2) => match instance.scripts.kill(false) {
            KillResult::Killed => Ok(OK),
            KillResult::NotBusy => err(errors::NOTBUSY),
            KillResult::OtherKind => err(errors::BUSY_FUNCTION),
        },
        (b"debug", 3) => {
            let mode = args[2].to_ascii_lowercase();
            match &mode[..] {
                b"no" => Ok(OK),
                b"yes" | b"sync" => err(errors::SCRIPT_DEBUGGER),
                _ => err(errors::SCRIPT_DEBUG_USE),
            }
        }
        _ => bad_subcommand(&args[1], SCRIPT_SUBCOMMANDS, "SCRIPT"),
    }
}

/// A subcommand this container does not run with these arguments:
/// Redis's syntax error for a known one, "unknown subcommand" otherwise.
fn bad_subcommand(sub: &[u8], known: &[SubSpec], command: &str) -> CmdResult {
    if known
        .iter()
        .any(|s| s.name.as_bytes().eq_ignore_ascii_case(sub))
    {
        err(errors::subcommand_syntax(sub, command))
    } else {
        err(errors::unknown_subcommand(sub, command))
    }
}

/// SCRIPT LOAD: checks the script compiles, then stores it for every
/// instance.
async fn script_load(instance: &Instance, body: &Bytes) -> CmdResult {
    let bang = match shebang::script(body) {
        Ok(bang) => bang,
        Err(text) => return err(text),
    };
    let sha = sha1_hex(body);
    let mut pooled = instance.scripts.take_vm(&instance.events)?;
    let compiled = pooled.vm.compile(&sha, &body[bang.code_start..]);
    instance.scripts.give_back(pooled);
    compiled.map_err(errors::CmdError::Reply)?;
    store(
        instance,
        &[Change::Put(ScriptKind::Script, &sha, body)],
        None,
    )
    .await?;
    let flushes = instance.events.scripts_flushed.load(Ordering::Relaxed);
    instance.scripts.remember(&sha, body.clone(), flushes);
    Ok(Reply::Bulk(Bytes::from(sha)))
}

/// SCRIPT FLUSH's and FUNCTION FLUSH's optional mode (both run at once).
fn flush_mode(mode: &[Bytes], error: &'static str) -> Result<(), errors::CmdError> {
    match mode.first() {
        Some(m) if !m.eq_ignore_ascii_case(b"sync") && !m.eq_ignore_ascii_case(b"async") => {
            err(error)
        }
        _ => Ok(()),
    }
}

/// A change of the stored scripts or libraries.
enum Change<'a> {
    /// A script (by SHA1) or library (by name) and its body.
    Put(ScriptKind, &'a str, &'a [u8]),
    /// One by name, or every one of the kind.
    Delete(ScriptKind, Option<&'a str>),
}

/// Applies a change in one transaction with, if given, the setting
/// event that tells every instance to drop what it cached (a new script
/// needs none: an instance that lacks it reads the store); how many rows
/// a deletion removed.
async fn store(
    instance: &Instance,
    changes: &[Change<'_>],
    tell: Option<&'static str>,
) -> StoreResult<u64> {
    retry_conflicts(|| async {
        let mut txn = instance.store.begin(Access::Write).await?;
        let mut changed = 0;
        for change in changes {
            changed += match *change {
                Change::Put(kind, name, body) => {
                    txn.put_script(kind, name, body).await?;
                    1
                }
                Change::Delete(kind, name) => txn.delete_scripts(kind, name).await?,
            };
        }
        let stamp = crate::clock::now_us().to_string();
        let settings: Vec<(&'static str, String)> =
            tell.map(|name| (name, stamp)).into_iter().collect();
        settings::commit_with(&instance.events, txn, &settings).await?;
        Ok(changed)
    })
    .await
}

/// FUNCTION LOAD | DELETE | FLUSH | LIST | STATS | KILL | HELP
async fn function(session: &mut Session, args: &[Bytes]) -> CmdResult {
    let instance = session.instance.clone();
    let sub = args[1].to_ascii_lowercase();
    match (&sub[..], args.len()) {
        (b"help", 2) => Ok(Reply::help(FUNCTION_HELP)),
        (b"load", n) if n >= 3 => function_load(&instance, &args[2..]).await,
        (b"delete", 3) => {
            let name = String::from_utf8_lossy(&args[2]).into_owned();
            let delete = Change::Delete(ScriptKind::Library, Some(&name));
            let gone = store_libraries(&instance, &[delete]).await?;
            if gone == 0 {
                return err(errors::LIBRARY_NOT_FOUND);
            }
            Ok(OK)
        }
        (b"flush", 2 | 3) => {
            flush_mode(&args[2..], errors::FUNCTION_FLUSH_MODE)?;
            store_libraries(&instance, &[Change::Delete(ScriptKind::Library, None)]).await?;
            Ok(OK)
        }
        (b"kill", 2) => match instance.scripts.kill(true) {
            KillResult::Killed => Ok(OK),
            KillResult::NotBusy => err(errors::NOTBUSY),
            KillResult::OtherKind => err(errors::BUSY_SCRIPT),
        },
        (b"list", _) => function_list(&instance, &args[2..]).await,
        (b"stats", 2) => function_stats(&instance).await,
        (b"dump", 2) => {
            let libs = loaded_libraries(&instance).await?;
            let codes = libs.iter().map(|(_, code, _)| &code[..]);
            Ok(Reply::Bulk(Bytes::from(rdb::encode_functions(codes))))
        }
        (b"restore", 3 | 4) => function_restore(&instance, &args[2], args.get(3)).await,
        _ => bad_subcommand(&args[1], FUNCTION_SUBCOMMANDS, "FUNCTION"),
    }
}

const FUNCTION_HELP: &[&str] = &[
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Prints this help.",
];

/// An interpreter with the libraries in force loaded (to be given back).
async fn vm_with_libraries(instance: &Instance) -> Result<PooledVm, errors::CmdError> {
    let libs = instance
        .scripts
        .libraries_in_force(&instance.store, &instance.events)
        .await?;
    let mut pooled = instance.scripts.take_vm(&instance.events)?;
    pooled.use_libraries(&libs);
    Ok(pooled)
}

/// The libraries in force, by name: their code and functions.
async fn loaded_libraries(
    instance: &Instance,
) -> Result<Vec<(String, Bytes, Vec<Registered>)>, errors::CmdError> {
    let pooled = vm_with_libraries(instance).await?;
    let libs = pooled
        .vm
        .libraries()
        .into_iter()
        .map(|(name, (code, fs))| (name.to_string(), code.clone(), fs.to_vec()))
        .collect();
    instance.scripts.give_back(pooled);
    Ok(libs)
}

/// FUNCTION LOAD [REPLACE] code
async fn function_load(instance: &Instance, args: &[Bytes]) -> CmdResult {
    let (options, code) = args.split_at(args.len() - 1);
    let code = &code[0];
    let mut replace = false;
    for option in options {
        if option.eq_ignore_ascii_case(b"replace") {
            replace = true;
        } else {
            return err(errors::function_unknown_option(option));
        }
    }
    let name = shebang::library(code).map_err(|t| errors::CmdError::Reply(t.into()))?;
    let mut pooled = vm_with_libraries(instance).await?;
    // Function names are case-insensitive; library names are not.
    let exists = pooled.vm.libraries().contains_key(name.as_str());
    let checked = if !replace && exists {
        Err(errors::library_exists(&name))
    } else {
        let loaded = pooled.vm.load_library(code);
        let libraries = pooled.vm.libraries();
        // A function of another library with the same name.
        let taken = loaded.as_ref().ok().and_then(|functions| {
            functions.iter().find(|f| {
                libraries.iter().any(|(lib, (_, fs))| {
                    *lib != name && fs.iter().any(|g| g.name.eq_ignore_ascii_case(&f.name))
                })
            })
        });
        match (&loaded, taken) {
            (Err(text), _) => Err(String::from_utf8_lossy(text).into_owned()),
            (_, Some(f)) => Err(errors::function_exists(&f.name)),
            _ => Ok(()),
        }
    };
    instance.scripts.give_back(pooled);
    checked.map_err(|text| errors::CmdError::Reply(text.into()))?;
    let put = Change::Put(ScriptKind::Library, &name, code);
    store_libraries(instance, &[put]).await?;
    Ok(Reply::Bulk(Bytes::from(name)))
}

/// Stores a change of the libraries and tells every instance; this one
/// serves it at once.
async fn store_libraries(instance: &Instance, changes: &[Change<'_>]) -> StoreResult<u64> {
    let changed = store(instance, changes, Some(FUNCTIONS_SETTING)).await?;
    instance
        .events
        .functions_changed
        .fetch_add(1, Ordering::Relaxed);
    Ok(changed)
}

/// FUNCTION RESTORE's policies.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Policy {
    Append,
    Replace,
    Flush,
}

/// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE]: the payload's
/// libraries are checked as Redis loads them into a fresh set (each
/// compiles, no name twice), then joined with those in force under the
/// policy, all in one transaction.
async fn function_restore(
    instance: &Instance,
    payload: &[u8],
    policy: Option<&Bytes>,
) -> CmdResult {
    let policy = match policy {
        None => Policy::Append,
        Some(p) if p.eq_ignore_ascii_case(b"append") => Policy::Append,
        Some(p) if p.eq_ignore_ascii_case(b"replace") => Policy::Replace,
        Some(p) if p.eq_ignore_ascii_case(b"flush") => Policy::Flush,
        Some(_) => return err(errors::RESTORE_POLICY),
    };
    let codes = rdb::decode_functions(payload).map_err(|e| {
        errors::CmdError::Reply(
            match e {
                FunctionsError::VersionOrChecksum => errors::DUMP_PAYLOAD,
                FunctionsError::NoType => errors::FUNCTIONS_NO_TYPE,
                FunctionsError::NotAFunction => errors::FUNCTIONS_NOT_A_FUNCTION,
                FunctionsError::NoPayload => errors::FUNCTIONS_NO_PAYLOAD,
            }
            .into(),
        )
    })?;
    let mut pooled = vm_with_libraries(instance).await?;
    let checked = check_restore(&mut pooled.vm, &codes, policy);
    instance.scripts.give_back(pooled);
    let names = checked.map_err(|text| errors::CmdError::Reply(text.into()))?;
    let mut changes = Vec::with_capacity(codes.len() + 1);
    if policy == Policy::Flush {
        changes.push(Change::Delete(ScriptKind::Library, None));
    }
    for (name, code) in names.iter().zip(&codes) {
        changes.push(Change::Put(ScriptKind::Library, name, code));
    }
    store_libraries(instance, &changes).await?;
    Ok(OK)
}

/// The names of the payload's libraries, or the error Redis gives for
/// the first that cannot join those in force.
fn check_restore(vm: &mut Vm, codes: &[Bytes], policy: Policy) -> Result<Vec<String>, String> {
    let mut new: Vec<(String, Vec<Registered>)> = Vec::with_capacity(codes.len());
    for code in codes {
        let name = shebang::library(code)?;
        if new.iter().any(|(n, _)| *n == name) {
            return Err(errors::library_exists(&name));
        }
        let functions = vm
            .load_library(code)
            .map_err(|text| String::from_utf8_lossy(&text).into_owned())?;
        if let Some(f) = functions.iter().find(|f| {
            new.iter()
                .any(|(_, fs)| fs.iter().any(|g| g.name.eq_ignore_ascii_case(&f.name)))
        }) {
            return Err(errors::function_exists(&f.name));
        }
        new.push((name, functions));
    }
    if policy != Policy::Flush {
        let existing = vm.libraries();
        if policy == Policy::Append
            && let Some((name, _)) = new.iter().find(|(n, _)| existing.contains_key(n.as_str()))
        {
            return Err(errors::restored_library_exists(name));
        }
        // Functions of the libraries that stay.
        let staying = existing
            .iter()
            .filter(|(lib, _)| !new.iter().any(|(n, _)| n == *lib))
            .flat_map(|(_, (_, fs))| fs.iter());
        let taken: Vec<&str> = staying.map(|g| g.name.as_str()).collect();
        if let Some(f) = new
            .iter()
            .flat_map(|(_, fs)| fs)
            .find(|f| taken.iter().any(|t| t.eq_ignore_ascii_case(&f.name)))
        {
            return Err(errors::function_exists(&f.name));
        }
    }
    Ok(new.into_iter().map(|(name, _)| name).collect())
}

/// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE]
async fn function_list(instance: &Instance, args: &[Bytes]) -> CmdResult {
    let mut pattern: Option<&Bytes> = None;
    let mut with_code = false;
    let mut i = 0;
    while i < args.len() {
        if args[i].eq_ignore_ascii_case(b"withcode") && !with_code {
            with_code = true;
        } else if args[i].eq_ignore_ascii_case(b"libraryname") && pattern.is_none() {
            let Some(p) = args.get(i + 1) else {
                return err(errors::LIBRARY_NAME_MISSING);
            };
            pattern = Some(p);
            i += 1;
        } else {
            return err(errors::function_unknown_argument(&args[i]));
        }
        i += 1;
    }
    let libs = loaded_libraries(instance).await?;
    let mut out = Vec::new();
    for (name, code, functions) in libs {
        if pattern.is_some_and(|p| !glob::matches(p, name.as_bytes())) {
            continue;
        }
        let functions = functions
            .into_iter()
            .map(|f| {
                Reply::Map(vec![
                    (Reply::bulk_str("name"), Reply::Bulk(Bytes::from(f.name))),
                    (
                        Reply::bulk_str("description"),
                        f.description
                            .map_or(Reply::Nil, |d| Reply::Bulk(Bytes::from(d))),
                    ),
                    (
                        Reply::bulk_str("flags"),
                        Reply::Set(
                            f.flags
                                .into_iter()
                                .map(|x| Reply::Bulk(Bytes::from(x)))
                                .collect(),
                        ),
                    ),
                ])
            })
            .collect();
        let mut fields = vec![
            (
                Reply::bulk_str("library_name"),
                Reply::Bulk(Bytes::from(name)),
            ),
            (Reply::bulk_str("engine"), Reply::bulk_str("LUA")),
            (Reply::bulk_str("functions"), Reply::Array(functions)),
        ];
        if with_code {
            fields.push((Reply::bulk_str("library_code"), Reply::Bulk(code)));
        }
        out.push(Reply::Map(fields));
    }
    Ok(Reply::Array(out))
}

/// FUNCTION STATS: the function running on this instance (the longest
/// running, if several), and the engine's counts; BUSY while an EVAL
/// script runs past the busy threshold, as in Redis.
async fn function_stats(instance: &Instance) -> CmdResult {
    if instance
        .scripts
        .eval_running_past(instance.busy_reply_threshold())
    {
        return err(errors::BUSY_SCRIPT);
    }
    let libs = loaded_libraries(instance).await?;
    let functions: usize = libs.iter().map(|(_, _, f)| f.len()).sum();
    let running = match instance.scripts.running_function() {
        Some((name, command, ms)) => Reply::Map(vec![
            (Reply::bulk_str("name"), Reply::Bulk(Bytes::from(name))),
            (
                Reply::bulk_str("command"),
                Reply::Array(command.into_iter().map(Reply::Bulk).collect()),
            ),
            (Reply::bulk_str("duration_ms"), Reply::Int(ms as i64)),
        ]),
        None => Reply::Nil,
    };
    let engine = Reply::Map(vec![
        (
            Reply::bulk_str("libraries_count"),
            Reply::Int(libs.len() as i64),
        ),
        (
            Reply::bulk_str("functions_count"),
            Reply::Int(functions as i64),
        ),
    ]);
    Ok(Reply::Map(vec![
        (Reply::bulk_str("running_script"), running),
        (
            Reply::bulk_str("engines"),
            Reply::Map(vec![(Reply::bulk_str("LUA"), engine)]),
        ),
    ]))
}
