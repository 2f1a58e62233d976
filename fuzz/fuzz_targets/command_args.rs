//! Requests through the command table: the lookup, arity and subcommand
//! checks every request passes (the ones a connection runs before anything
//! else), the name CLIENT LIST shows, and the argument parsers that need no
//! store (integers, long doubles, SCAN cursors and options, glob patterns,
//! the framing of a channel name and message for NATS and its bucket).
//!
//! Input: like `parse_request`'s (`[limit][2 bytes][stream...]`); every
//! complete request in the stream is checked.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use respire::bus::subject;
use respire::cmd::args::int_arg;
use respire::cmd::helpers::{long_double, scan};
use respire::cmd::spec::CommandSpec;
use respire::cmd::table;
use respire::{glob, protocol};

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let mut buf = BytesMut::from(&data[3..]);
    while let Ok(Some(args)) = protocol::parse_request(&mut buf, 1024 * 1024) {
        if args.is_empty() {
            continue;
        }
        match table::check(&args) {
            Ok(spec) => {
                let name = spec.full_name(&args);
                assert!(name.starts_with(spec.name));
                assert!(CommandSpec::arity_ok(spec.arity, args.len()));
            }
            Err(text) => {
                // An error reply is one line: user bytes never break it.
                assert!(text.starts_with(b"ERR "), "{text:?}");
                assert!(!text.iter().any(|&b| b == b'\r' || b == b'\n'), "{text:?}");
            }
        }
        for arg in &args[1..] {
            let _ = int_arg(arg);
            let _ = scan::parse_cursor(arg);
            if let Some(v) = long_double::parse(arg)
                && v.is_finite()
            {
                let text = long_double::format(v);
                assert!(long_double::parse(text.as_bytes()).is_some(), "{text}");
            }
            assert!(subject::bucket(arg) < subject::BUCKETS);
            let framed = subject::frame(arg, &args[0]);
            let (channel, payload) = subject::unframe(framed).expect("a frame");
            assert_eq!((&channel[..], &payload[..]), (&arg[..], &args[0][..]));
            let _ = subject::unframe(arg.clone());
        }
        let _ = scan::scan_options(&args[1..], true);
        if args.len() >= 3 {
            let _ = glob::matches(&args[1], &args[2]);
        }
    }
});
