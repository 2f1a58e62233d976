//! The registry type: every command's row by name, and the checks every
//! request passes (lookup, arity, subcommand) before anything runs.

use std::collections::HashMap;

use bytes::Bytes;

use crate::cmd::errors;
use crate::cmd::spec::CommandSpec;

/// Every command's row, by lower-case name.
pub struct Registry {
    by_name: HashMap<&'static str, &'static CommandSpec>,
}

impl Registry {
    /// The registry of these rows.
    pub fn new(rows: impl IntoIterator<Item = &'static CommandSpec>) -> Registry {
        Registry {
            by_name: rows.into_iter().map(|s| (s.name, s)).collect(),
        }
    }

    /// Looks a command up by name, case-insensitively.
    pub fn lookup(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        if name.len() > 32 {
            return None;
        }
        let mut lower = [0u8; 32];
        let lower = &mut lower[..name.len()];
        lower.copy_from_slice(name);
        lower.make_ascii_lowercase();
        std::str::from_utf8(lower)
            .ok()
            .and_then(|n| self.by_name.get(n).copied())
    }

    /// The table lookup, arity and subcommand checks every request goes
    /// through once, before anything runs: the command's spec, or the
    /// error Redis answers.
    pub fn check(&self, args: &[Bytes]) -> Result<&'static CommandSpec, Bytes> {
        let spec = self
            .lookup(&args[0])
            .ok_or_else(|| errors::unknown_command(&args[0], &args[1..]))?;
        if !CommandSpec::arity_ok(spec.arity, args.len()) {
            return Err(errors::wrong_arity(spec.name).into());
        }
        // A container command without a subcommand (a bare COMMAND) is the
        // container's own form; its arity was checked above.
        if !spec.subcommands.is_empty()
            && let Some(name) = args.get(1)
        {
            let sub = spec
                .subcommand(name)
                .ok_or_else(|| errors::unknown_subcommand(name, spec.name))?;
            if !CommandSpec::arity_ok(sub.arity, args.len()) {
                return Err(errors::wrong_arity(&format!("{}|{}", spec.name, sub.name)).into());
            }
        }
        Ok(spec)
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// Every row, sorted by name.
    pub fn sorted(&self) -> Vec<&'static CommandSpec> {
        let mut all: Vec<_> = self.by_name.values().copied().collect();
        all.sort_by_key(|s| s.name);
        all
    }

    /// The command names.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.by_name.keys().copied()
    }
}
