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
            .collect();
    }
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
                keys.extend((0..count).map(|i| &args[start + i * step]));
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
                .step_by(step.max(1) as usize)
                .map(|i| &args[i]),
        );
    }
    keys
}
