//! Commands: one table describes every command once, and one file per
//! family parses and executes them.
//!
//! The table drives the arity check, the unknown-command error, and the
//! `COMMAND` replies. Data commands (strings, hashes, keys) run against a
//! store transaction through [`Ctx`]; connection-level commands (PING,
//! CLIENT, MULTI, SUBSCRIBE, ...) run against the connection's state.

pub mod batch;
pub mod connection;
pub mod dispatch;
pub mod errors;
pub mod hash;
pub mod introspection;
pub mod keys;
pub mod long_double;
pub mod pubsub;
pub mod server;
pub mod session;
pub mod shared;
pub mod string;
pub mod table;
pub mod transaction;

use bytes::Bytes;

use crate::store::{Db, Event, KeyKind, KeyMeta, Txn};
use errors::{CmdError, err};
use shared::Shared;

/// Which file executes a command, and with what.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Data commands: run inside a store transaction.
    String,
    Hash,
    Keys,
    /// Connection-level commands: run against the connection's state.
    Connection,
    Server,
    /// COMMAND, answered from the table itself.
    Introspection,
    PubSub,
    Transaction,
}

impl Family {
    pub fn is_data(self) -> bool {
        matches!(self, Family::String | Family::Hash | Family::Keys)
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
}

impl CommandSpec {
    pub fn is_write(&self) -> bool {
        self.flags.contains(&"write")
    }

    /// The store access the command needs: a write transaction, a snapshot
    /// for reads over several keys (MGET sees one instant), or plain reads.
    pub fn access(&self) -> crate::store::Access {
        use crate::store::Access;
        if self.is_write() {
            Access::Write
        } else if self.first_key != self.last_key {
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
}

impl Ctx<'_> {
    /// The key's metadata if it exists and has not expired.
    pub async fn live(&mut self, key: &[u8]) -> Result<Option<KeyMeta>, CmdError> {
        let now = self.now;
        Ok(self
            .txn
            .meta(self.db, key)
            .await?
            .filter(|m| m.is_live(now)))
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
