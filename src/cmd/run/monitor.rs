//! What MONITOR shows of the commands that run: which ones it hides, and
//! each line as Redis writes it (credentials redacted).

use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};

use crate::store::Db;

/// A command as MONITOR shows it: `+<sec>.<usec> [<db> <addr>] "arg" ...`,
/// each argument escaped as Redis's sdscatrepr does.
/// `addr` None: a command a script called (`[0 lua]`, as Redis shows it).
pub fn monitor_line(now_us: i64, db: Db, addr: Option<SocketAddr>, args: &[Bytes]) -> Bytes {
    let source = addr.map_or_else(|| "lua".to_string(), |a| a.to_string());
    let mut out = BytesMut::with_capacity(64 + args.iter().map(Bytes::len).sum::<usize>());
    out.extend_from_slice(
        format!(
            "+{}.{:06} [{} {}]",
            now_us / 1_000_000,
            now_us % 1_000_000,
            db,
            source
        )
        .as_bytes(),
    );
    for arg in args {
        out.extend_from_slice(b" \"");
        for &b in arg.iter() {
            match b {
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'"' => out.extend_from_slice(b"\\\""),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                0x07 => out.extend_from_slice(b"\\a"),
                0x08 => out.extend_from_slice(b"\\b"),
                0x20..=0x7e => out.extend_from_slice(&[b]),
                other => out.extend_from_slice(format!("\\x{other:02x}").as_bytes()),
            }
        }
        out.extend_from_slice(b"\"");
    }
    out.extend_from_slice(b"\r\n");
    out.freeze()
}

/// The arguments MONITOR shows of a command: AUTH's and HELLO AUTH's
/// credentials are
/// `(redacted)`, as Redis does (CONFIG is an admin command: never shown).
pub fn redacted(args: &[Bytes]) -> Vec<Bytes> {
    let hidden = Bytes::from_static(b"(redacted)");
    let mut shown = args.to_vec();
    let name = args[0].to_ascii_lowercase();
    if name == b"auth" {
        for a in shown.iter_mut().skip(1) {
            *a = hidden.clone();
        }
    } else if name == b"hello" {
        let mut i = 2;
        while i < shown.len() {
            if shown[i].eq_ignore_ascii_case(b"auth") && i + 2 < shown.len() {
                shown[i + 1] = hidden.clone();
                shown[i + 2] = hidden.clone();
                i += 3;
            } else if shown[i].eq_ignore_ascii_case(b"setname") {
                i += 2;
            } else {
                i += 1;
            }
        }
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitor_lines_escape_like_sdscatrepr() {
        let addr: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let args = [
            Bytes::from_static(b"set"),
            Bytes::from_static(b"k\"\\"),
            Bytes::from_static(b"\x00\xff\r\n\t\x07\x08 ~"),
        ];
        assert_eq!(
            monitor_line(1_700_000_000_000_042, 9, Some(addr), &args),
            Bytes::from_static(
                b"+1700000000.000042 [9 127.0.0.1:5000] \"set\" \"k\\\"\\\\\" \"\\x00\\xff\\r\\n\\t\\a\\b ~\"\r\n"
            )
        );
    }

    #[test]
    fn credentials_are_redacted() {
        let args = |s: &str| -> Vec<Bytes> {
            s.split(' ')
                .map(|a| Bytes::copy_from_slice(a.as_bytes()))
                .collect()
        };
        assert_eq!(redacted(&args("AUTH pw")), args("AUTH (redacted)"));
        assert_eq!(
            redacted(&args("HELLO 3 SETNAME n AUTH u p")),
            args("HELLO 3 SETNAME n AUTH (redacted) (redacted)")
        );
    }
}
