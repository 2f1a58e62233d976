//! LZF, the compression Redis applies to strings in RDB payloads (DUMP,
//! RESTORE): a compressor that makes the bytes Redis's liblzf makes with
//! the settings Redis builds it with (a 2^16-slot hash table, the "very
//! fast" variant, a fresh table each call), and a checked decompressor.
//!
//! Written here rather than taken from the `lzf` crate: that crate is
//! deprecated, sizes its output buffer by the input (Redis gives liblzf
//! `len - 4` bytes, which decides when compression is abandoned) and
//! allocates whatever length a payload claims before decompressing.
//!
//! The format: a control byte below 32 starts a run of `ctrl + 1`
//! literal bytes; any other is a back reference of `(ctrl >> 5) + 2`
//! bytes (7 means one more length byte follows, added), at a distance of
//! `((ctrl & 0x1f) << 8) + next byte + 1` before the output's end.

const HLOG: u32 = 16;
const HSIZE: usize = 1 << HLOG;
const MAX_LIT: usize = 1 << 5;
const MAX_OFF: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3);

/// The most output one input byte can stand for: a three-byte back
/// reference copies at most `MAX_REF + 2` bytes.
pub const MAX_EXPANSION: usize = (MAX_REF + 2).div_ceil(3);

fn slot(h: u32) -> usize {
    ((h >> (3 * 8 - HLOG)).wrapping_sub(h.wrapping_mul(5)) as usize) & (HSIZE - 1)
}

/// Compresses `input` into at most `out_cap` bytes, or `None` when it
/// does not fit (liblzf's `lzf_compress` answering 0).
pub fn compress(input: &[u8], out_cap: usize) -> Option<Vec<u8>> {
    let n = input.len();
    if n == 0 {
        return None;
    }
    let mut out = vec![0u8; out_cap];
    // Positions are stored as offsets; 0 (the first byte) can never be
    // referenced, so it also stands for an empty slot.
    let mut table = vec![0u32; HSIZE];
    let at = |i: usize| input.get(i).copied().unwrap_or(0) as u32;
    let mut op: usize = 1; // a literal run starts with a control byte
    let mut lit: usize = 0;
    let mut ip: usize = 0;
    let mut hval = (at(0) << 8) | at(1);

    while ip + 2 < n {
        hval = (hval << 8) | at(ip + 2);
        let s = slot(hval);
        let reference = table[s] as usize;
        table[s] = ip as u32;
        let off = ip.wrapping_sub(reference).wrapping_sub(1);
        if off < MAX_OFF && reference > 0 && input[reference..reference + 3] == input[ip..ip + 3] {
            let maxlen = (n - ip - 2).min(MAX_REF);
            if op + 4 >= out_cap && op - usize::from(lit == 0) + 4 >= out_cap {
                return None;
            }
            // Close the literal run (or take back its unused control byte).
            *out.get_mut(op - lit - 1)? = (lit as u8).wrapping_sub(1);
            op -= usize::from(lit == 0);
            let mut len = 2;
            loop {
                len += 1;
                if len >= maxlen || input[reference + len] != input[ip + len] {
                    break;
                }
            }
            len -= 2; // now the number of bytes copied, minus one
            ip += 1;
            if len < 7 {
                *out.get_mut(op)? = ((off >> 8) + (len << 5)) as u8;
                op += 1;
            } else {
                *out.get_mut(op)? = ((off >> 8) + (7 << 5)) as u8;
                *out.get_mut(op + 1)? = (len - 7) as u8;
                op += 2;
            }
            *out.get_mut(op)? = off as u8;
            op += 2; // and a new literal run
            lit = 0;
            ip += len + 1;
            if ip + 2 >= n {
                break;
            }
            // Hash the last two positions the reference covered.
            ip -= 2;
            hval = (at(ip) << 8) | at(ip + 1);
            hval = (hval << 8) | at(ip + 2);
            table[slot(hval)] = ip as u32;
            ip += 1;
            hval = (hval << 8) | at(ip + 2);
            table[slot(hval)] = ip as u32;
            ip += 1;
        } else {
            if op >= out_cap {
                return None;
            }
            lit += 1;
            out[op] = input[ip];
            op += 1;
            ip += 1;
            if lit == MAX_LIT {
                *out.get_mut(op - lit - 1)? = (lit - 1) as u8;
                lit = 0;
                op += 1;
            }
        }
    }
    if op + 3 > out_cap {
        return None;
    }
    while ip < n {
        lit += 1;
        *out.get_mut(op)? = input[ip];
        op += 1;
        ip += 1;
        if lit == MAX_LIT {
            *out.get_mut(op - lit - 1)? = (lit - 1) as u8;
            lit = 0;
            op += 1;
        }
    }
    *out.get_mut(op - lit - 1)? = (lit as u8).wrapping_sub(1);
    op -= usize::from(lit == 0);
    out.truncate(op);
    Some(out)
}

/// Decompresses `input`, which must yield exactly `len` bytes; `None`
/// for anything malformed. Never allocates more than the input can
/// stand for.
pub fn decompress(input: &[u8], len: usize) -> Option<Vec<u8>> {
    if input.is_empty() || len > input.len().saturating_mul(MAX_EXPANSION) {
        return None;
    }
    let mut out: Vec<u8> = Vec::with_capacity(len);
    let mut ip = 0;
    while ip < input.len() {
        let ctrl = input[ip] as usize;
        ip += 1;
        if ctrl < MAX_LIT {
            let run = ctrl + 1;
            let bytes = input.get(ip..ip + run)?;
            if out.len() + run > len {
                return None;
            }
            out.extend_from_slice(bytes);
            ip += run;
        } else {
            let mut count = ctrl >> 5;
            if count == 7 {
                count += *input.get(ip)? as usize;
                ip += 1;
            }
            let distance = ((ctrl & 0x1f) << 8) + *input.get(ip)? as usize + 1;
            ip += 1;
            count += 2;
            if out.len() + count > len || distance > out.len() {
                return None;
            }
            let from = out.len() - distance;
            for i in 0..count {
                let b = out[from + i];
                out.push(b);
            }
        }
    }
    (out.len() == len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(data: &[u8]) {
        let packed = compress(data, data.len()).expect("compressible");
        assert_eq!(decompress(&packed, data.len()).as_deref(), Some(data));
    }

    #[test]
    fn round_trips() {
        round_trip(&[b'a'; 100]);
        round_trip(b"abcabcabcabcabcabcabcabcabcabcabcabcabcabc hello hello hello");
        let mut long = Vec::new();
        for i in 0..20_000u32 {
            long.extend_from_slice(format!("{} ", i % 997).as_bytes());
        }
        round_trip(&long);
        round_trip(&vec![7u8; 100_000]);
    }

    #[test]
    fn the_bytes_redis_makes() {
        // Redis 7.0's DUMP of SET k <30 × 'a'> carries this LZF block.
        assert_eq!(
            compress(&[b'a'; 30], 26).unwrap(),
            [0x01, b'a', b'a', 0xe0, 0x11, 0x00, 0x01, b'a', b'a']
        );
    }

    #[test]
    fn refuses_what_does_not_fit_or_is_malformed() {
        assert_eq!(compress(b"abcdefghijklmnopqrstuvwxyz", 22), None);
        assert_eq!(decompress(&[], 0), None);
        // A literal run longer than the input.
        assert_eq!(decompress(&[5, b'a'], 6), None);
        // A reference before the start.
        assert_eq!(decompress(&[0, b'a', 0x20, 0x05], 4), None);
        // The wrong announced length.
        assert_eq!(decompress(&[0, b'a', 0x20, 0x00], 5), None);
        assert_eq!(
            decompress(&[0, b'a', 0x20, 0x00], 4),
            Some(b"aaaa".to_vec())
        );
        // A huge announced length is refused before allocating.
        assert_eq!(decompress(&[0, b'a'], usize::MAX), None);
    }
}
