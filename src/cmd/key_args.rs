//! Where a command's keys are in its arguments: by its row's key specs
//! (movable keys) or first/last/step. Group commit locks them, WATCH and
//! OBJECT IDLETIME touch them, COMMAND GETKEYS lists them.

use bytes::Bytes;

use crate::cmd::args::is;
use crate::cmd::spec::{BeginSearch, CommandSpec, KeySpec};

/// Where a command's keys are: first/last/step and key specs, of its
/// subcommand when the table describes that one.
pub fn key_positions(spec: &CommandSpec, args: &[Bytes]) -> ((i32, i32, i32), &'static [KeySpec]) {
    let sub = args.get(1).and_then(|name| {
        spec.sub_info
            .iter()
            .find(|i| i.name.as_bytes().eq_ignore_ascii_case(name))
    });
    match sub {
        Some(info) => (info.keys, info.key_specs),
        None => ((spec.first_key, spec.last_key, spec.step), spec.key_specs),
    }
}

/// The key arguments of a command: by its key specs when it has them
/// (movable keys), else by first/last/step.
pub fn key_args<'a>(spec: &CommandSpec, args: &'a [Bytes]) -> Vec<&'a Bytes> {
    key_args_with_flags(spec, args)
        .into_iter()
        .map(|(key, _)| key)
        .collect()
}

/// SORT's destination key flags (its STORE key).
const STORE_FLAGS: &[&str] = &["OW", "update"];

/// The key arguments of a command with the flags COMMAND GETKEYSANDFLAGS
/// gives each: its key spec's, except where Redis decides them from the
/// arguments (SET with GET reads the key, else overwrites it; BITFIELD
/// only reads it without SET or INCRBY; SORT's STORE key).
pub fn key_args_with_flags<'a>(
    spec: &CommandSpec,
    args: &'a [Bytes],
) -> Vec<(&'a Bytes, &'static [&'static str])> {
    let ((first_key, last_key, step), key_specs) = key_positions(spec, args);
    if key_specs.is_empty() {
        if first_key == 0 {
            return Vec::new();
        }
        let last = if last_key < 0 {
            args.len() as i32 + last_key
        } else {
            last_key
        };
        return (first_key..=last)
            .step_by(step.max(1) as usize)
            .filter_map(|i| args.get(i as usize))
            .map(|key| (key, &[][..]))
            .collect();
    }
    let mut keys = keys_by_specs(key_specs, args);
    match spec.name {
        "set" => {
            let get = args.iter().skip(3).any(|a| is(a, "get"));
            for (_, flags) in keys.iter_mut() {
                *flags = if get {
                    &["RW", "access", "update"]
                } else {
                    &["OW", "update"]
                };
            }
        }
        "bitfield" => {
            let writes = args.iter().skip(2).any(|a| is(a, "set") || is(a, "incrby"));
            for (_, flags) in keys.iter_mut() {
                *flags = if writes {
                    &["RW", "access", "update"]
                } else {
                    &["RO", "access"]
                };
            }
        }
        "sort" => {
            // The last STORE names the destination; LIMIT's two
            // arguments and BY's and GET's one are skipped.
            let mut store = None;
            let mut i = 2;
            while i < args.len() {
                if is(&args[i], "limit") {
                    i += 2;
                } else if is(&args[i], "get") || is(&args[i], "by") {
                    i += 1;
                } else if is(&args[i], "store") && i + 1 < args.len() {
                    store = Some(&args[i + 1]);
                }
                i += 1;
            }
            keys.extend(store.map(|key| (key, STORE_FLAGS)));
        }
        _ => {}
    }
    keys
}

/// The keys the key specs find, each with its spec's flags.
fn keys_by_specs<'a>(
    key_specs: &'static [KeySpec],
    args: &'a [Bytes],
) -> Vec<(&'a Bytes, &'static [&'static str])> {
    let mut keys = Vec::new();
    for ks in key_specs {
        let first = match ks.begin {
            BeginSearch::Unknown => continue,
            BeginSearch::Index(i) => i as usize,
            BeginSearch::Keyword { keyword, from } => {
                match (from.max(1) as usize..args.len()).find(|&i| is(&args[i], keyword)) {
                    Some(i) => i + 1,
                    None => continue,
                }
            }
        };
        if first >= args.len() {
            continue;
        }
        if let Some(k) = &ks.keynum {
            let count = args
                .get(first + k.keynumidx as usize)
                .and_then(|a| crate::protocol::parse_i64(a))
                .unwrap_or(0)
                .max(0) as usize;
            let start = first + k.firstkey as usize;
            let step = k.keystep.max(1) as usize;
            // A count beyond the arguments names no keys (Redis: invalid).
            if count > 0 && start + (count - 1) * step < args.len() {
                keys.extend((0..count).map(|i| (&args[start + i * step], ks.flags)));
            }
            continue;
        }
        let last = if ks.last >= 0 {
            (first + ks.last as usize).min(args.len() - 1)
        } else {
            let rest = args.len() - first;
            let rest = if ks.limit > 1 {
                rest / ks.limit as usize
            } else {
                rest
            };
            let back = (-ks.last - 1) as usize;
            match (first + rest).checked_sub(1 + back) {
                Some(last) => last,
                None => continue,
            }
        };
        keys.extend(
            (first..=last)
                .step_by(ks.step.max(1) as usize)
                .map(|i| (&args[i], ks.flags)),
        );
    }
    keys
}
