//! The request framer on arbitrary bytes: never panics, never claims
//! arguments over its limits, and gives the same requests whether the bytes
//! arrive at once or in pieces (as reads from a socket do).
//!
//! Input: `[limit][split seed: 2 bytes][stream...]`. `limit` picks the
//! proto-max-bulk-len; the seed picks where the stream is cut.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use respire::protocol::{MAX_MULTIBULK, ProtocolError, parse_request};

const LIMITS: [i64; 5] = [512 * 1024 * 1024, 0, 1, 16, 1024];

/// Every request parsed, how parsing ended (`Some(error)` or needing more
/// bytes) and the bytes left over.
type Outcome = (Vec<Vec<Bytes>>, Option<ProtocolError>, Vec<u8>);

/// Parses what `buf` holds completely; true when an error ended it.
fn drain(buf: &mut BytesMut, limit: i64, out: &mut Outcome) -> bool {
    loop {
        match parse_request(buf, limit) {
            Ok(Some(args)) => {
                assert!(args.len() as i64 <= MAX_MULTIBULK);
                assert!(args.iter().all(|a| a.len() as i64 <= limit.max(64 * 1024)));
                out.0.push(args);
            }
            Ok(None) => return false,
            Err(e) => {
                assert!(!e.reply_text().contains(['\r', '\n']));
                out.1 = Some(e);
                return true;
            }
        }
    }
}

fn one_shot(stream: &[u8], limit: i64) -> Outcome {
    let mut out = (Vec::new(), None, Vec::new());
    let mut buf = BytesMut::from(stream);
    drain(&mut buf, limit, &mut out);
    out.2 = buf.to_vec();
    out
}

fn in_pieces(stream: &[u8], limit: i64, mut seed: u32) -> Outcome {
    let mut out = (Vec::new(), None, Vec::new());
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
        if drain(&mut buf, limit, &mut out) {
            break;
        }
    }
    out.2 = buf.to_vec();
    out
}

/// Errors that depend on how much arrived before a line end (Redis's
/// too-big checks run on what the buffer holds, as here).
fn depends_on_reads(e: &Option<ProtocolError>) -> bool {
    matches!(e, Some(ProtocolError(text)) if text.starts_with("too big"))
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let limit = LIMITS[data[0] as usize % LIMITS.len()];
    let seed = u32::from(u16::from_le_bytes([data[1], data[2]])) | 0x1_0000;
    let stream = &data[3..];
    let whole = one_shot(stream, limit);
    let pieces = in_pieces(stream, limit, seed);
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
