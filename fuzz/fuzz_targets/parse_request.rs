//! The request framer on arbitrary bytes: never panics, never claims
//! arguments over its limits, and gives the same requests whether the bytes
//! arrive at once or in pieces (as reads from a socket do).
//!
//! It drives the server's own stateful [`Framer`] (arguments leave the
//! buffer as they arrive), with and without AUTH's limits.
//!
//! Input: `[limit][split seed: 2 bytes][stream...]`. `limit` picks the
//! proto-max-bulk-len and whether the client authenticated; the seed picks
//! where the stream is cut.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use respire::protocol::{
    FrameError, FrameLimits, Framer, MAX_MULTIBULK, UNAUTH_MAX_BULK, UNAUTH_MAX_MULTIBULK,
};

const LIMITS: [i64; 5] = [512 * 1024 * 1024, 0, 1, 16, 1024];

/// Every request parsed, how parsing ended (`Some(error)` or needing more
/// bytes) and the bytes left over.
type Outcome = (Vec<Vec<Bytes>>, Option<FrameError>, Vec<u8>);

/// Parses what `buf` holds completely; true when an error ended it.
fn drain(framer: &mut Framer, buf: &mut BytesMut, limits: FrameLimits, out: &mut Outcome) -> bool {
    loop {
        match framer.next(buf, limits) {
            Ok(Some(args)) => {
                let (most_args, most_bulk) = if limits.authenticated {
                    (MAX_MULTIBULK, limits.max_bulk.max(64 * 1024))
                } else {
                    (
                        UNAUTH_MAX_MULTIBULK.max(64 * 1024),
                        UNAUTH_MAX_BULK.max(64 * 1024),
                    )
                };
                assert!(args.len() as i64 <= most_args);
                assert!(args.iter().all(|a| a.len() as i64 <= most_bulk));
                out.0.push(args);
            }
            Ok(None) => return false,
            Err(e) => {
                if let FrameError::Protocol(p) = &e {
                    assert!(!p.reply_text().iter().any(|&b| b == b'\r' || b == b'\n'));
                }
                out.1 = Some(e);
                return true;
            }
        }
    }
}

fn one_shot(stream: &[u8], limits: FrameLimits) -> Outcome {
    let mut out = (Vec::new(), None, Vec::new());
    let mut buf = BytesMut::from(stream);
    drain(&mut Framer::default(), &mut buf, limits, &mut out);
    out.2 = buf.to_vec();
    out
}

fn in_pieces(stream: &[u8], limits: FrameLimits, mut seed: u32) -> Outcome {
    let mut out = (Vec::new(), None, Vec::new());
    let mut framer = Framer::default();
    let mut buf = BytesMut::new();
    let mut rest = stream;
    while !rest.is_empty() {
        // xorshift: piece lengths 1..=64, sometimes longer.
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let n = if seed % 8 == 0 {
            seed as usize % 4096
        } else {
            seed as usize % 64
        };
        let (piece, more) = rest.split_at((n + 1).min(rest.len()));
        rest = more;
        buf.extend_from_slice(piece);
        if drain(&mut framer, &mut buf, limits, &mut out) {
            break;
        }
    }
    out.2 = buf.to_vec();
    out
}

/// Errors that depend on how much arrived at once (Redis's too-big and
/// query-buffer checks run on what the buffer holds, as here).
fn depends_on_reads(e: &Option<FrameError>) -> bool {
    match e {
        Some(FrameError::Protocol(p)) => p.0.starts_with(b"too big"),
        Some(FrameError::QueryBufferLimit) => true,
        None => false,
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let limits = FrameLimits {
        max_bulk: LIMITS[data[0] as usize % LIMITS.len()],
        max_query: 1024 * 1024,
        authenticated: data[0] & 0x80 == 0,
    };
    let seed = u32::from(u16::from_le_bytes([data[1], data[2]])) | 0x1_0000;
    let stream = &data[3..];
    let whole = one_shot(stream, limits);
    let pieces = in_pieces(stream, limits, seed);
    if depends_on_reads(&whole.1) || depends_on_reads(&pieces.1) {
        let n = whole.0.len().min(pieces.0.len());
        assert_eq!(whole.0[..n], pieces.0[..n]);
    } else if whole.1.is_some() || pieces.1.is_some() {
        // The connection closes on an error: what was left unread is moot.
        assert_eq!((whole.0, whole.1), (pieces.0, pieces.1));
    } else {
        assert_eq!(whole, pieces);
    }
});
