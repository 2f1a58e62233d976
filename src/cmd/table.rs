//! The command table: every command's row, collected from the family
//! files into one [`Registry`], looked up once per request.

use std::sync::OnceLock;

use bytes::Bytes;

use crate::cmd::command;
use crate::cmd::family::{
    bits, connection, hash, keys, list, object, pubsub, scripting, server, set, sort, stream,
    string, transaction, zset,
};
use crate::cmd::registry::Registry;
use crate::cmd::spec::CommandSpec;

/// Every command, collected from the family tables.
pub fn table() -> &'static Registry {
    static TABLE: OnceLock<Registry> = OnceLock::new();
    TABLE.get_or_init(|| {
        let families: [&'static [CommandSpec]; 17] = [
            string::COMMANDS,
            hash::COMMANDS,
            keys::COMMANDS,
            connection::COMMANDS,
            server::COMMANDS,
            command::COMMANDS,
            pubsub::COMMANDS,
            transaction::COMMANDS,
            scripting::COMMANDS,
            keys::KEYSPACE,
            stream::COMMANDS,
            list::COMMANDS,
            set::COMMANDS,
            zset::COMMANDS,
            sort::COMMANDS,
            bits::COMMANDS,
            object::COMMANDS,
        ];
        Registry::new(families.iter().flat_map(|f| f.iter()))
    })
}

/// Looks a command up by name, case-insensitively.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    table().lookup(name)
}

/// The checks every request passes once, before anything runs (see
/// [`Registry::check`]).
pub fn check(args: &[Bytes]) -> Result<&'static CommandSpec, Bytes> {
    table().check(args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::key_args::key_args;
    use crate::cmd::spec::{Handler, Props};

    #[test]
    fn every_row_names_its_handler() {
        for spec in table().sorted() {
            assert!(
                !matches!(spec.handler, Handler::None),
                "{} has no handler",
                spec.name
            );
            let data = matches!(spec.handler, Handler::Data(_) | Handler::Blocking(..));
            assert_eq!(data, spec.family.is_data(), "{}", spec.name);
            for info in spec.sub_info {
                assert!(
                    spec.subcommand(info.name.as_bytes()).is_some(),
                    "{}|{} describes no subcommand",
                    spec.name,
                    info.name
                );
            }
        }
    }

    /// The rows' properties are the ones Redis gives these commands
    /// (the lists they replaced).
    #[test]
    fn props_mark_what_redis_names() {
        let marked = |prop: Props| -> Vec<&str> {
            table()
                .sorted()
                .into_iter()
                .filter(|s| s.props.has(prop))
                .map(|s| s.name)
                .collect()
        };
        let sorted = |mut names: Vec<&'static str>| {
            names.sort();
            names
        };
        assert_eq!(
            marked(Props::SKIPS_QUEUE),
            sorted(vec!["exec", "discard", "multi", "watch", "quit", "reset"])
        );
        assert_eq!(
            marked(Props::SUBSCRIBED),
            sorted(vec![
                "subscribe",
                "psubscribe",
                "unsubscribe",
                "punsubscribe",
                "ping",
                "quit",
                "reset"
            ])
        );
        assert_eq!(marked(Props::CONFIRMS_FIRST), ["psubscribe", "subscribe"]);
        assert_eq!(marked(Props::MAY_REPLICATE), ["publish"]);
        assert_eq!(marked(Props::ALWAYS_TOUCHES), ["touch"]);
        assert_eq!(
            marked(Props::NO_TOUCH),
            sorted(vec![
                "object",
                "type",
                "exists",
                "ttl",
                "pttl",
                "expiretime",
                "pexpiretime"
            ])
        );
        let args = |line: &str| -> Vec<Bytes> {
            line.split(' ')
                .map(|a| Bytes::copy_from_slice(a.as_bytes()))
                .collect()
        };
        let admin = |line: &str| {
            let args = args(line);
            lookup(&args[0]).unwrap().is_admin(&args)
        };
        for line in [
            "MONITOR",
            "CONFIG GET x",
            "config set a b",
            "CONFIG RESETSTAT",
            "CONFIG REWRITE",
            "CONFIG NOSUCH",
            "CLIENT LIST",
            "client kill 1",
            "CLIENT PAUSE 1",
            "CLIENT UNPAUSE",
            "CLIENT NO-EVICT on",
            "CLIENT UNBLOCK 1",
        ] {
            assert!(admin(line), "{line}");
        }
        for line in [
            "CONFIG HELP",
            "CLIENT ID",
            "CLIENT HELP",
            "CLIENT NOSUCH",
            "GET k",
        ] {
            assert!(!admin(line), "{line}");
        }
    }

    #[test]
    fn key_args_follow_the_key_specs() {
        let args = |line: &str| -> Vec<Bytes> {
            line.split(' ')
                .map(|a| Bytes::copy_from_slice(a.as_bytes()))
                .collect()
        };
        let keys = |line: &str| -> Vec<String> {
            let args = args(line);
            let spec = lookup(&args[0]).unwrap();
            key_args(spec, &args)
                .into_iter()
                .map(|k| String::from_utf8_lossy(k).into_owned())
                .collect()
        };
        assert_eq!(keys("XREAD COUNT 2 STREAMS a b c 1 2 3"), ["a", "b", "c"]);
        assert_eq!(keys("XREAD STREAMS a 0"), ["a"]);
        assert_eq!(keys("XINFO STREAM k FULL"), ["k"]);
        assert_eq!(keys("XINFO HELP"), Vec::<String>::new());
        assert_eq!(keys("MSET a 1 b 2"), ["a", "b"]);
        assert_eq!(keys("RENAME a b"), ["a", "b"]);
        assert_eq!(keys("SINTERCARD 2 a b LIMIT 1"), ["a", "b"]);
        assert_eq!(keys("SINTERCARD 1 a b"), ["a"]);
        assert!(keys("SINTERCARD 3 a b").is_empty());
        assert_eq!(keys("SINTERSTORE d a b"), ["d", "a", "b"]);
        assert_eq!(keys("SMOVE a b m"), ["a", "b"]);
        assert_eq!(keys("SET k v"), ["k"]);
        assert_eq!(keys("PING"), Vec::<String>::new());
        assert_eq!(keys("ZUNIONSTORE d 2 a b WEIGHTS 1 2"), ["d", "a", "b"]);
        assert_eq!(keys("ZMPOP 2 a b MIN"), ["a", "b"]);
        assert_eq!(keys("ZUNION 0 a"), Vec::<String>::new());
    }
}
