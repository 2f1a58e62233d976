//! Scripting: EVAL, EVALSHA, FCALL and their read-only forms (run as a
//! job of a store transaction by [`crate::cmd::run::script`]), SCRIPT
//! (LOAD, EXISTS, FLUSH, KILL, DEBUG) and FUNCTION (LOAD, DELETE, FLUSH,
//! LIST, STATS, KILL). Scripts and libraries are rows of the store, so a
//! SCRIPT LOAD or FUNCTION LOAD on one instance serves every instance; a
//! flush or a library change travels the event log as a setting event.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use crate::cmd::errors::{self, CmdResult, err};
use crate::cmd::session::Session;
use crate::cmd::spec::{CommandSpec, Handler, KeySpec, NO_KEYS, ScriptCall, SubSpec, keys_counted};
use crate::events::settings::{FUNCTIONS_SETTING, SCRIPTS_SETTING};
use crate::glob;
use crate::instance::scripts::KillResult;
use crate::instance::state::Instance;
use crate::lua::shebang;
use crate::lua::vm::{Registered, sha1_hex};
use crate::reply::{OK, Reply};
use crate::store::{Access, Event, ScriptKind, StoreResult, retry_conflicts};

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
        (b"flush", 2 | 3) => {
            if let Some(mode) = args.get(2)
                && !mode.eq_ignore_ascii_case(b"sync")
                && !mode.eq_ignore_ascii_case(b"async")
            {
                return err("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
            }
            change(&instance, ScriptKind::Script, None, SCRIPTS_SETTING).await?;
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
                b"yes" | b"sync" => err("ERR respire has no Lua debugger (SCRIPT DEBUG YES|SYNC)"),
                _ => err("ERR Use SCRIPT DEBUG YES/SYNC/NO"),
            }
        }
        _ => err(errors::unknown_subcommand(&args[1], "SCRIPT")),
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
    let flushes = instance.events.scripts_flushed.load(Ordering::Relaxed);
    let mut pooled = instance
        .scripts
        .take_vm(flushes)
        .map_err(|e| errors::CmdError::Reply(format!("ERR {e}").into()))?;
    let compiled = pooled.vm.compile(&sha, &body[bang.code_start..]);
    instance.scripts.give_back(pooled);
    if let Err(text) = compiled {
        return Err(errors::CmdError::Reply(text));
    }
    retry_conflicts(|| async {
        let mut txn = instance.store.begin(Access::Write).await?;
        txn.put_script(ScriptKind::Script, &sha, body).await?;
        instance.events.commit(txn, &[]).await
    })
    .await?;
    instance.scripts.remember(&sha, body.clone(), flushes);
    Ok(Reply::Bulk(Bytes::from(sha)))
}

/// Deletes scripts or libraries (one by name, or every one of the kind)
/// and tells every instance through the log; how many went.
async fn change(
    instance: &Instance,
    kind: ScriptKind,
    name: Option<&str>,
    setting: &'static str,
) -> StoreResult<u64> {
    retry_conflicts(|| async {
        let mut txn = instance.store.begin(Access::Write).await?;
        let gone = txn.delete_scripts(kind, name).await?;
        let stamp = crate::clock::now_us().to_string();
        txn.put_setting(setting, &stamp).await?;
        instance
            .events
            .commit(txn, &[Event::setting(setting, &stamp)])
            .await?;
        Ok(gone)
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
            let gone = change(
                &instance,
                ScriptKind::Library,
                Some(&name),
                FUNCTIONS_SETTING,
            )
            .await?;
            if gone == 0 {
                return err("ERR Library not found");
            }
            Ok(OK)
        }
        (b"flush", 2 | 3) => {
            if let Some(mode) = args.get(2)
                && !mode.eq_ignore_ascii_case(b"sync")
                && !mode.eq_ignore_ascii_case(b"async")
            {
                return err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
            }
            change(&instance, ScriptKind::Library, None, FUNCTIONS_SETTING).await?;
            Ok(OK)
        }
        (b"kill", 2) => match instance.scripts.kill(true) {
            KillResult::Killed => Ok(OK),
            KillResult::NotBusy => err(errors::NOTBUSY),
            KillResult::OtherKind => err(errors::BUSY_SCRIPT),
        },
        (b"list", _) => function_list(session, &instance, &args[2..]).await,
        (b"stats", 2) => function_stats(session, &instance).await,
        (b"dump" | b"restore", _) => {
            err("ERR respire does not support FUNCTION DUMP and RESTORE yet")
        }
        _ => err(errors::unknown_subcommand(&args[1], "FUNCTION")),
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

/// The functions of every library in force, as an interpreter loads them:
/// (library, its code, its functions).
async fn loaded_libraries(
    instance: &Instance,
) -> Result<Vec<(String, Bytes, Vec<Registered>)>, errors::CmdError> {
    let libs = instance
        .scripts
        .libraries_in_force(&instance.store, &instance.events)
        .await?;
    let flushes = instance.events.scripts_flushed.load(Ordering::Relaxed);
    let mut pooled = instance
        .scripts
        .take_vm(flushes)
        .map_err(|e| errors::CmdError::Reply(format!("ERR {e}").into()))?;
    pooled.vm.clear_libraries();
    let mut out = Vec::new();
    let mut names: Vec<&String> = libs.keys().collect();
    names.sort();
    for name in names {
        let code = &libs[name];
        let functions = pooled.vm.install(name, code).unwrap_or_default();
        out.push((name.clone(), code.clone(), functions));
    }
    instance.scripts.give_back(pooled);
    Ok(out)
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
            return err(format!(
                "ERR Unknown option given: {}",
                String::from_utf8_lossy(option)
            ));
        }
    }
    let name = shebang::library(code).map_err(|t| errors::CmdError::Reply(t.into()))?;
    let existing = loaded_libraries(instance).await?;
    if !replace && existing.iter().any(|(lib, _, _)| *lib == name) {
        return err(format!("ERR Library '{name}' already exists"));
    }
    let flushes = instance.events.scripts_flushed.load(Ordering::Relaxed);
    let mut pooled = instance
        .scripts
        .take_vm(flushes)
        .map_err(|e| errors::CmdError::Reply(format!("ERR {e}").into()))?;
    let loaded = pooled.vm.load_library(code);
    instance.scripts.give_back(pooled);
    let functions = loaded.map_err(errors::CmdError::Reply)?;
    for f in &functions {
        let taken = existing
            .iter()
            .filter(|(lib, _, _)| *lib != name)
            .any(|(_, _, fs)| fs.iter().any(|g| g.name == f.name));
        if taken {
            return err(format!("ERR Function {} already exists", f.name));
        }
    }
    retry_conflicts(|| async {
        let mut txn = instance.store.begin(Access::Write).await?;
        txn.put_script(ScriptKind::Library, &name, code).await?;
        let stamp = crate::clock::now_us().to_string();
        txn.put_setting(FUNCTIONS_SETTING, &stamp).await?;
        instance
            .events
            .commit(txn, &[Event::setting(FUNCTIONS_SETTING, &stamp)])
            .await
    })
    .await?;
    // This instance serves the new library at once.
    instance
        .events
        .functions_changed
        .fetch_add(1, Ordering::Relaxed);
    Ok(Reply::Bulk(Bytes::from(name)))
}

/// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE]
async fn function_list(session: &Session, instance: &Instance, args: &[Bytes]) -> CmdResult {
    let mut pattern: Option<&Bytes> = None;
    let mut with_code = false;
    let mut i = 0;
    while i < args.len() {
        if args[i].eq_ignore_ascii_case(b"withcode") && !with_code {
            with_code = true;
        } else if args[i].eq_ignore_ascii_case(b"libraryname") && pattern.is_none() {
            let Some(p) = args.get(i + 1) else {
                return err("ERR library name argument was not given");
            };
            pattern = Some(p);
            i += 1;
        } else {
            return err(format!(
                "ERR Unknown argument {}",
                String::from_utf8_lossy(&args[i])
            ));
        }
        i += 1;
    }
    let libs = loaded_libraries(instance).await?;
    let resp3 = session.resp3;
    let map = |pairs: Vec<(Reply, Reply)>| {
        if resp3 {
            Reply::Map(pairs)
        } else {
            Reply::Array(pairs.into_iter().flat_map(|(k, v)| [k, v]).collect())
        }
    };
    let mut out = Vec::new();
    for (name, code, functions) in libs {
        if pattern.is_some_and(|p| !glob::matches(p, name.as_bytes())) {
            continue;
        }
        let functions = functions
            .into_iter()
            .map(|f| {
                map(vec![
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
        out.push(map(fields));
    }
    Ok(Reply::Array(out))
}

/// FUNCTION STATS: the function running on this instance (the longest
/// running, if several), and the engine's counts.
async fn function_stats(session: &Session, instance: &Instance) -> CmdResult {
    let libs = loaded_libraries(instance).await?;
    let functions: usize = libs.iter().map(|(_, _, f)| f.len()).sum();
    let resp3 = session.resp3;
    let map = |pairs: Vec<(Reply, Reply)>| {
        if resp3 {
            Reply::Map(pairs)
        } else {
            Reply::Array(pairs.into_iter().flat_map(|(k, v)| [k, v]).collect())
        }
    };
    let running = match instance.scripts.running_function() {
        Some((name, command, ms)) => map(vec![
            (Reply::bulk_str("name"), Reply::Bulk(Bytes::from(name))),
            (
                Reply::bulk_str("command"),
                Reply::Array(command.into_iter().map(Reply::Bulk).collect()),
            ),
            (Reply::bulk_str("duration_ms"), Reply::Int(ms as i64)),
        ]),
        None => Reply::Nil,
    };
    let engine = map(vec![
        (
            Reply::bulk_str("libraries_count"),
            Reply::Int(libs.len() as i64),
        ),
        (
            Reply::bulk_str("functions_count"),
            Reply::Int(functions as i64),
        ),
    ]);
    Ok(map(vec![
        (Reply::bulk_str("running_script"), running),
        (
            Reply::bulk_str("engines"),
            map(vec![(Reply::bulk_str("LUA"), engine)]),
        ),
    ]))
}
