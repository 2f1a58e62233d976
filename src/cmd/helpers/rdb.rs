//! The DUMP / RESTORE payload: one value in Redis's RDB serialization,
//! as Redis 7.0 writes and reads it.
//!
//! A payload is `<type byte><value><RDB version: 2 bytes LE><CRC64: 8
//! bytes LE>`, the CRC (Jones polynomial, reflected, as Redis's crc64)
//! taken over everything before it. [`decode`] reads every value
//! encoding Redis 7.0 loads (strings raw, integer or LZF; lists, sets,
//! sorted sets and hashes in their plain, zipmap, ziplist, intset,
//! quicklist and listpack forms); [`encode`] writes the encodings Redis
//! 7.0 would choose for the value freshly written (see [`encode`]).
//!
//! Decoding never panics and never allocates more than the payload can
//! stand for: every count is checked against the bytes left.

use std::collections::HashSet;

use bytes::Bytes;
use crc::{CRC_64_REDIS, Crc};

use crate::cmd::helpers::lzf;

/// The RDB version Redis 7.0 writes; RESTORE refuses a payload of a
/// later one.
pub const RDB_VERSION: u16 = 10;

const CRC64: Crc<u64> = Crc::<u64>::new(&CRC_64_REDIS);

// Value types.
const TYPE_STRING: u8 = 0;
const TYPE_LIST: u8 = 1;
const TYPE_SET: u8 = 2;
const TYPE_ZSET: u8 = 3;
const TYPE_HASH: u8 = 4;
const TYPE_ZSET_2: u8 = 5;
const TYPE_HASH_ZIPMAP: u8 = 9;
const TYPE_LIST_ZIPLIST: u8 = 10;
const TYPE_SET_INTSET: u8 = 11;
const TYPE_ZSET_ZIPLIST: u8 = 12;
const TYPE_HASH_ZIPLIST: u8 = 13;
const TYPE_LIST_QUICKLIST: u8 = 14;
const TYPE_HASH_LISTPACK: u8 = 16;
const TYPE_ZSET_LISTPACK: u8 = 17;
const TYPE_LIST_QUICKLIST_2: u8 = 18;

// Special string encodings (a length byte `11xxxxxx`).
const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

// Quicklist 2 node containers.
const NODE_PLAIN: u64 = 1;
const NODE_PACKED: u64 = 2;

/// A quicklist node's listpack holds up to this many bytes (Redis's
/// `list-max-listpack-size -2`); each entry is counted as its length
/// plus this overhead when deciding.
const NODE_BYTES: usize = 8192;
const NODE_ENTRY_OVERHEAD: usize = 8;

/// One key's value, as a payload carries it.
#[derive(Clone, Debug, PartialEq)]
pub enum Object {
    String(Bytes),
    /// Elements head to tail.
    List(Vec<Bytes>),
    Set(Vec<Bytes>),
    /// Field/value pairs.
    Hash(Vec<(Bytes, Bytes)>),
    /// Member/score pairs.
    ZSet(Vec<(Bytes, f64)>),
}

/// Why a payload was refused, RESTORE's two errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Too short, a later RDB version, or a CRC that does not match.
    VersionOrChecksum,
    /// It passed the checks above but holds no value respire can load.
    BadFormat,
}

type Result<T> = std::result::Result<T, DecodeError>;

fn bad<T>() -> Result<T> {
    Err(DecodeError::BadFormat)
}

/// Redis's `verifyDumpPayload`: at least the footer, a version no later
/// than [`RDB_VERSION`] and a matching CRC.
fn verify(payload: &[u8]) -> Result<()> {
    if payload.len() < 10 {
        return Err(DecodeError::VersionOrChecksum);
    }
    let footer = &payload[payload.len() - 10..];
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if version > RDB_VERSION {
        return Err(DecodeError::VersionOrChecksum);
    }
    let crc = CRC64.checksum(&payload[..payload.len() - 8]);
    if crc.to_le_bytes() != footer[2..10] {
        return Err(DecodeError::VersionOrChecksum);
    }
    Ok(())
}

/// Reads a DUMP payload. As in Redis, the value is read from the whole
/// payload, footer included (a value that runs into the footer is read
/// with those bytes, as Redis 7.0 reads it) and bytes after the value are
/// ignored; an empty collection is refused.
pub fn decode(payload: &[u8]) -> Result<Object> {
    verify(payload)?;
    let mut r = Reader {
        buf: payload,
        pos: 0,
    };
    let kind = r.byte()?;
    r.object(kind)
}

/// Writes a DUMP payload of `object`, in the encodings Redis 7.0 gives
/// such a value freshly written with its default limits:
/// - a string: an integer encoding when it is one in 32 bits, LZF when
///   longer than 20 bytes and that saves at least 4 bytes, else raw;
/// - a list: a quicklist of listpacks of up to 8 KB (as RPUSH fills
///   them), each listpack written as a string (so LZF-compressed when
///   that helps);
/// - a set: an intset when its members are at most 512 integers, else a
///   plain set (in byte order where Redis uses its hash table's);
/// - a hash: a listpack within 128 fields and 64-byte fields and
///   values, else a plain hash (byte order here too);
/// - a sorted set: a listpack within 128 members of at most 64 bytes,
///   else ZSET_2 (binary scores, highest first, as Redis saves its
///   skiplist).
pub fn encode(object: &Object) -> Vec<u8> {
    let mut out = Vec::new();
    match object {
        Object::String(s) => {
            out.push(TYPE_STRING);
            write_string(&mut out, s);
        }
        Object::List(items) => {
            out.push(TYPE_LIST_QUICKLIST_2);
            let nodes = quicklist_nodes(items);
            write_len(&mut out, nodes.len() as u64);
            for node in nodes {
                write_len(&mut out, NODE_PACKED);
                write_string(&mut out, &node);
            }
        }
        Object::Set(members) => {
            let ints: Option<Vec<i64>> = members.iter().map(|m| lp_int(m)).collect();
            match ints {
                Some(mut ints) if members.len() <= limit("set-max-intset-entries") => {
                    ints.sort_unstable();
                    out.push(TYPE_SET_INTSET);
                    write_string(&mut out, &intset(&ints));
                }
                _ => {
                    out.push(TYPE_SET);
                    write_len(&mut out, members.len() as u64);
                    for m in members {
                        write_string(&mut out, m);
                    }
                }
            }
        }
        Object::Hash(pairs) => {
            let max = limit("hash-max-listpack-value");
            if pairs.len() <= limit("hash-max-listpack-entries")
                && pairs.iter().all(|(f, v)| f.len() <= max && v.len() <= max)
            {
                out.push(TYPE_HASH_LISTPACK);
                let mut lp = Listpack::new();
                for (f, v) in pairs {
                    lp.push(f);
                    lp.push(v);
                }
                write_string(&mut out, &lp.finish());
            } else {
                out.push(TYPE_HASH);
                write_len(&mut out, pairs.len() as u64);
                for (f, v) in pairs {
                    write_string(&mut out, f);
                    write_string(&mut out, v);
                }
            }
        }
        Object::ZSet(members) => {
            let mut sorted: Vec<&(Bytes, f64)> = members.iter().collect();
            sorted.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
            let max = limit("zset-max-listpack-value");
            if members.len() <= limit("zset-max-listpack-entries")
                && members.iter().all(|(m, _)| m.len() <= max)
            {
                out.push(TYPE_ZSET_LISTPACK);
                let mut lp = Listpack::new();
                for (m, score) in sorted {
                    lp.push(m);
                    lp.push(crate::reply::format_double(*score).as_bytes());
                }
                write_string(&mut out, &lp.finish());
            } else {
                out.push(TYPE_ZSET_2);
                write_len(&mut out, members.len() as u64);
                for (m, score) in sorted.into_iter().rev() {
                    write_string(&mut out, m);
                    out.extend_from_slice(&score.to_le_bytes());
                }
            }
        }
    }
    finish(out)
}

/// Appends the footer (RDB version and CRC64) that ends every payload.
fn finish(mut out: Vec<u8>) -> Vec<u8> {
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = CRC64.checksum(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

// FUNCTION DUMP's opcodes: a library's code (7.0), and the 7.0 release
// candidates' form (name, engine, description, code).
const OPCODE_FUNCTION2: u8 = 245;
const OPCODE_FUNCTION: u8 = 246;

/// FUNCTION DUMP's payload: each library's code after opcode 245, as
/// Redis 7.0's `rdbSaveFunctions` writes them, then the footer.
pub fn encode_functions<'a>(codes: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for code in codes {
        out.push(OPCODE_FUNCTION2);
        write_string(&mut out, code);
    }
    finish(out)
}

/// Why FUNCTION RESTORE refused a payload (each has its Redis text).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FunctionsError {
    VersionOrChecksum,
    /// "can not read data type"
    NoType,
    /// "given type is not a function"
    NotAFunction,
    /// "Failed loading library payload" (or one of the old form's parts)
    NoPayload,
}

/// Reads FUNCTION RESTORE's payload: the libraries' code (shebang
/// included), as Redis 7.0 reads it up to the footer; the old form is
/// turned into the new one as Redis turns it.
pub fn decode_functions(payload: &[u8]) -> std::result::Result<Vec<Bytes>, FunctionsError> {
    verify(payload).map_err(|_| FunctionsError::VersionOrChecksum)?;
    let mut r = Reader {
        buf: payload,
        pos: 0,
    };
    let mut codes = Vec::new();
    while r.left() > 10 {
        let kind = r.byte().map_err(|_| FunctionsError::NoType)?;
        let mut string = || r.string().map_err(|_| FunctionsError::NoPayload);
        match kind {
            OPCODE_FUNCTION2 => codes.push(string()?),
            OPCODE_FUNCTION => {
                let name = string()?;
                let engine = string()?;
                let has_description = r.len().map_err(|_| FunctionsError::NoPayload)?;
                let mut string = || r.string().map_err(|_| FunctionsError::NoPayload);
                if has_description != 0 {
                    string()?;
                }
                let blob = string()?;
                let mut code = b"#!".to_vec();
                code.extend_from_slice(&engine);
                code.extend_from_slice(b" name=");
                code.extend_from_slice(&name);
                code.push(b'\n');
                code.extend_from_slice(&blob);
                codes.push(Bytes::from(code));
            }
            _ => return Err(FunctionsError::NotAFunction),
        }
    }
    Ok(codes)
}

/// One of Redis's default encoding limits (read-only parameters).
fn limit(name: &str) -> usize {
    crate::cmd::helpers::parameters::PARAMETERS
        .iter()
        .find(|(n, _)| *n == name)
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

// --- writing ---------------------------------------------------------------

/// Redis's `rdbSaveLen`.
fn write_len(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.push(0x40 | (n >> 8) as u8);
        out.push(n as u8);
    } else if n <= u32::MAX as u64 {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Redis's `rdbSaveRawString`: an integer of up to 11 characters that
/// fits 32 bits as such, a string over 20 bytes LZF-compressed when that
/// saves 4 bytes or more, else the length and the bytes.
fn write_string(out: &mut Vec<u8>, s: &[u8]) {
    if s.len() <= 11
        && let Some(v) = crate::protocol::parse_i64(s)
    {
        if let Ok(v) = i8::try_from(v) {
            out.extend_from_slice(&[0xC0 | ENC_INT8, v as u8]);
            return;
        }
        if let Ok(v) = i16::try_from(v) {
            out.push(0xC0 | ENC_INT16);
            out.extend_from_slice(&v.to_le_bytes());
            return;
        }
        if let Ok(v) = i32::try_from(v) {
            out.push(0xC0 | ENC_INT32);
            out.extend_from_slice(&v.to_le_bytes());
            return;
        }
    }
    if s.len() > 20
        && let Some(packed) = lzf::compress(s, s.len() - 4)
    {
        out.push(0xC0 | ENC_LZF);
        write_len(out, packed.len() as u64);
        write_len(out, s.len() as u64);
        out.extend_from_slice(&packed);
        return;
    }
    write_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// An intset of sorted `ints`, in the narrowest width that holds them.
fn intset(ints: &[i64]) -> Vec<u8> {
    let width: usize = if ints.iter().all(|&v| i16::try_from(v).is_ok()) {
        2
    } else if ints.iter().all(|&v| i32::try_from(v).is_ok()) {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(8 + width * ints.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(ints.len() as u32).to_le_bytes());
    for &v in ints {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}

/// A string that a listpack stores as an integer (Redis's
/// `lpStringToInt64`: the canonical decimal form of an `i64`).
fn lp_int(s: &[u8]) -> Option<i64> {
    crate::protocol::parse_i64(s)
}

/// A listpack being built: Redis's encoding of each entry, then the
/// header and terminator.
struct Listpack {
    buf: Vec<u8>,
    count: usize,
}

impl Listpack {
    fn new() -> Listpack {
        Listpack {
            buf: vec![0; 6],
            count: 0,
        }
    }

    /// The listpack's size in bytes once finished.
    fn bytes(&self) -> usize {
        self.buf.len() + 1
    }

    fn push(&mut self, s: &[u8]) {
        let start = self.buf.len();
        match lp_int(s) {
            Some(v) if (0..=127).contains(&v) => self.buf.push(v as u8),
            Some(v) if (-4096..=4095).contains(&v) => {
                let u = (v as u16) & 0x1fff;
                self.buf.push(0xC0 | (u >> 8) as u8);
                self.buf.push(u as u8);
            }
            Some(v) => {
                let (tag, width) = if i16::try_from(v).is_ok() {
                    (0xF1, 2)
                } else if (-(1 << 23)..1 << 23).contains(&v) {
                    (0xF2, 3)
                } else if i32::try_from(v).is_ok() {
                    (0xF3, 4)
                } else {
                    (0xF4, 8)
                };
                self.buf.push(tag);
                self.buf.extend_from_slice(&v.to_le_bytes()[..width]);
            }
            None if s.len() < 64 => {
                self.buf.push(0x80 | s.len() as u8);
                self.buf.extend_from_slice(s);
            }
            None if s.len() < 4096 => {
                self.buf.push(0xE0 | (s.len() >> 8) as u8);
                self.buf.push(s.len() as u8);
                self.buf.extend_from_slice(s);
            }
            None => {
                self.buf.push(0xF0);
                self.buf.extend_from_slice(&(s.len() as u32).to_le_bytes());
                self.buf.extend_from_slice(s);
            }
        }
        let entry = self.buf.len() - start;
        self.buf.extend_from_slice(&backlen(entry));
        self.count += 1;
    }

    fn finish(mut self) -> Vec<u8> {
        self.buf.push(0xFF);
        let total = self.buf.len() as u32;
        self.buf[..4].copy_from_slice(&total.to_le_bytes());
        let count = self.count.min(u16::MAX as usize) as u16;
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

/// A listpack entry's back length (Redis's `lpEncodeBacklen`): its size
/// in 7-bit groups, most significant first, every group but the first
/// flagged with 0x80; 1 to 5 bytes by Redis's thresholds.
fn backlen(n: usize) -> Vec<u8> {
    let width = match n {
        0..=127 => 1,
        128..16383 => 2,
        16383..2097151 => 3,
        2097151..268435455 => 4,
        _ => 5,
    };
    (0..width)
        .rev()
        .enumerate()
        .map(|(i, shift)| {
            let group = ((n >> (7 * shift)) & 127) as u8;
            if i == 0 { group } else { group | 128 }
        })
        .collect()
}

/// A list's quicklist nodes as Redis's RPUSH fills them: an element
/// joins the last listpack while the listpack's bytes, the element's
/// length and 8 stay within 8 KB.
fn quicklist_nodes(items: &[Bytes]) -> Vec<Vec<u8>> {
    let mut nodes = Vec::new();
    let mut current: Option<Listpack> = None;
    for item in items {
        let fits = current
            .as_ref()
            .is_some_and(|lp| lp.bytes() + item.len() + NODE_ENTRY_OVERHEAD <= NODE_BYTES);
        if !fits && let Some(full) = current.take() {
            nodes.push(full.finish());
        }
        current.get_or_insert_with(Listpack::new).push(item);
    }
    nodes.extend(current.map(Listpack::finish));
    nodes
}

// --- reading ---------------------------------------------------------------

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn left(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.left() {
            return bad();
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    /// Redis's `rdbLoadLen`: the length, or the special encoding of a
    /// string (`Err` side of the inner result).
    fn len_or_enc(&mut self) -> Result<std::result::Result<u64, u8>> {
        let first = self.byte()?;
        Ok(match first >> 6 {
            0 => Ok((first & 0x3f) as u64),
            1 => Ok((((first & 0x3f) as u64) << 8) | self.byte()? as u64),
            2 => match first {
                0x80 => Ok(u32::from_be_bytes(self.take(4)?.try_into().unwrap()) as u64),
                0x81 => Ok(u64::from_be_bytes(self.take(8)?.try_into().unwrap())),
                _ => return bad(),
            },
            _ => Err(first & 0x3f),
        })
    }

    fn len(&mut self) -> Result<u64> {
        match self.len_or_enc()? {
            Ok(n) => Ok(n),
            Err(_) => bad(),
        }
    }

    /// A count of items that each take at least `min_bytes` bytes: more
    /// than the bytes left can hold is malformed (so no allocation is
    /// ever sized beyond the payload).
    fn count(&mut self, min_bytes: usize) -> Result<usize> {
        let n = self.len()?;
        if n == 0 {
            // Redis refuses an empty collection ("empty keys").
            return bad();
        }
        match usize::try_from(n) {
            Ok(n) if n.saturating_mul(min_bytes) <= self.left() => Ok(n),
            _ => bad(),
        }
    }

    /// Redis's `rdbGenericLoadStringObject`.
    fn string(&mut self) -> Result<Bytes> {
        match self.len_or_enc()? {
            Ok(n) => {
                let n = usize::try_from(n).or(bad())?;
                Ok(Bytes::copy_from_slice(self.take(n)?))
            }
            Err(ENC_INT8) => Ok(int_bytes(self.byte()? as i8 as i64)),
            Err(ENC_INT16) => Ok(int_bytes(
                i16::from_le_bytes(self.take(2)?.try_into().unwrap()) as i64,
            )),
            Err(ENC_INT32) => Ok(int_bytes(
                i32::from_le_bytes(self.take(4)?.try_into().unwrap()) as i64,
            )),
            Err(ENC_LZF) => {
                let packed = usize::try_from(self.len()?).or(bad())?;
                let len = usize::try_from(self.len()?).or(bad())?;
                let input = self.take(packed)?;
                lzf::decompress(input, len)
                    .map(Bytes::from)
                    .ok_or(DecodeError::BadFormat)
            }
            Err(_) => bad(),
        }
    }

    /// Redis's `rdbLoadDoubleValue` (RDB_TYPE_ZSET's scores): a length
    /// byte (253 NaN, 254 +inf, 255 -inf) and the number as text.
    fn text_double(&mut self) -> Result<f64> {
        match self.byte()? {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => {
                let text = self.take(n as usize)?;
                crate::cmd::helpers::scores::parse(text.trim_ascii_start())
                    .ok_or(DecodeError::BadFormat)
            }
        }
    }

    fn binary_double(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }

    /// Redis's `rdbLoadObject` for a value of type `kind`.
    fn object(&mut self, kind: u8) -> Result<Object> {
        Ok(match kind {
            TYPE_STRING => Object::String(self.string()?),
            TYPE_LIST => {
                let n = self.count(1)?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.string()?);
                }
                Object::List(items)
            }
            TYPE_SET => {
                let n = self.count(1)?;
                let mut members = Vec::with_capacity(n);
                for _ in 0..n {
                    members.push(self.string()?);
                }
                Object::Set(unique(members)?)
            }
            TYPE_ZSET | TYPE_ZSET_2 => {
                let n = self.count(if kind == TYPE_ZSET { 2 } else { 9 })?;
                let mut members = Vec::with_capacity(n);
                for _ in 0..n {
                    let m = self.string()?;
                    let score = if kind == TYPE_ZSET {
                        self.text_double()?
                    } else {
                        self.binary_double()?
                    };
                    members.push((m, score));
                }
                zset(members)?
            }
            TYPE_HASH => {
                let n = self.count(2)?;
                let mut pairs = Vec::with_capacity(n);
                for _ in 0..n {
                    pairs.push((self.string()?, self.string()?));
                }
                hash(pairs)?
            }
            TYPE_HASH_ZIPMAP => hash(zipmap(&self.string()?)?)?,
            TYPE_LIST_ZIPLIST => Object::List(nonempty(ziplist(&self.string()?)?)?),
            TYPE_SET_INTSET => Object::Set(nonempty(read_intset(&self.string()?)?)?),
            TYPE_ZSET_ZIPLIST => zset_pairs(ziplist(&self.string()?)?)?,
            TYPE_HASH_ZIPLIST => hash(pairs(ziplist(&self.string()?)?)?)?,
            TYPE_HASH_LISTPACK => hash(pairs(listpack(&self.string()?)?)?)?,
            TYPE_ZSET_LISTPACK => zset_pairs(listpack(&self.string()?)?)?,
            TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => {
                let n = self.count(1)?;
                let mut items = Vec::new();
                for _ in 0..n {
                    if kind == TYPE_LIST_QUICKLIST {
                        items.extend(ziplist(&self.string()?)?);
                        continue;
                    }
                    match self.len()? {
                        NODE_PLAIN => items.push(self.string()?),
                        // An empty node is skipped, as Redis does.
                        NODE_PACKED => items.extend(listpack(&self.string()?)?),
                        _ => return bad(),
                    }
                }
                Object::List(nonempty(items)?)
            }
            // Streams (15; 19 is Redis 7.2's), modules (6, 7), and
            // anything else.
            _ => return bad(),
        })
    }
}

fn int_bytes(v: i64) -> Bytes {
    Bytes::from(v.to_string())
}

fn nonempty<T>(items: Vec<T>) -> Result<Vec<T>> {
    if items.is_empty() { bad() } else { Ok(items) }
}

/// A set's members, refused when one repeats.
fn unique(members: Vec<Bytes>) -> Result<Vec<Bytes>> {
    let mut seen = HashSet::with_capacity(members.len());
    if members.iter().all(|m| seen.insert(m)) {
        nonempty(members)
    } else {
        bad()
    }
}

fn hash(pairs: Vec<(Bytes, Bytes)>) -> Result<Object> {
    let mut seen = HashSet::with_capacity(pairs.len());
    if !pairs.iter().all(|(f, _)| seen.insert(f)) {
        return bad();
    }
    Ok(Object::Hash(nonempty(pairs)?))
}

fn zset(members: Vec<(Bytes, f64)>) -> Result<Object> {
    let mut seen = HashSet::with_capacity(members.len());
    if !members.iter().all(|(m, s)| !s.is_nan() && seen.insert(m)) {
        return bad();
    }
    Ok(Object::ZSet(nonempty(members)?))
}

/// Consecutive entries as pairs; an odd count is malformed.
fn pairs(entries: Vec<Bytes>) -> Result<Vec<(Bytes, Bytes)>> {
    if !entries.len().is_multiple_of(2) {
        return bad();
    }
    let mut out = Vec::with_capacity(entries.len() / 2);
    let mut it = entries.into_iter();
    while let (Some(a), Some(b)) = (it.next(), it.next()) {
        out.push((a, b));
    }
    Ok(out)
}

/// A sorted set's listpack or ziplist: member, score, member, score, ...
/// (a score as an integer entry or as text).
fn zset_pairs(entries: Vec<Bytes>) -> Result<Object> {
    let members = pairs(entries)?
        .into_iter()
        .map(|(m, s)| {
            crate::cmd::helpers::scores::parse(&s)
                .map(|score| (m, score))
                .ok_or(DecodeError::BadFormat)
        })
        .collect::<Result<Vec<_>>>()?;
    zset(members)
}

fn u16_at(b: &[u8], at: usize) -> Result<u16> {
    Ok(u16::from_le_bytes(
        b.get(at..at + 2)
            .ok_or(DecodeError::BadFormat)?
            .try_into()
            .unwrap(),
    ))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32> {
    Ok(u32::from_le_bytes(
        b.get(at..at + 4)
            .ok_or(DecodeError::BadFormat)?
            .try_into()
            .unwrap(),
    ))
}

/// A little-endian signed integer of `width` bytes at `at`.
fn int_at(b: &[u8], at: usize, width: usize) -> Result<i64> {
    let bytes = b.get(at..at + width).ok_or(DecodeError::BadFormat)?;
    let mut buf = [0u8; 8];
    buf[..width].copy_from_slice(bytes);
    let shift = 64 - 8 * width as u32;
    Ok((i64::from_le_bytes(buf) << shift) >> shift)
}

fn slice(b: &[u8], at: usize, len: usize) -> Result<Bytes> {
    let end = at.checked_add(len).ok_or(DecodeError::BadFormat)?;
    Ok(Bytes::copy_from_slice(
        b.get(at..end).ok_or(DecodeError::BadFormat)?,
    ))
}

/// A listpack's entries (integers as their decimal text). The header's
/// byte count must be the blob's, and its entry count (unless 65535,
/// "unknown") the entries'.
fn listpack(lp: &[u8]) -> Result<Vec<Bytes>> {
    if lp.len() < 7 || u32_at(lp, 0)? as usize != lp.len() || lp[lp.len() - 1] != 0xFF {
        return bad();
    }
    let declared = u16_at(lp, 4)?;
    let end = lp.len() - 1;
    let mut entries = Vec::new();
    let mut p = 6;
    while p < end {
        let b = lp[p];
        let (value, size) = if b & 0x80 == 0 {
            (int_bytes((b & 0x7f) as i64), 1)
        } else if b & 0xC0 == 0x80 {
            let len = (b & 0x3f) as usize;
            (slice(lp, p + 1, len)?, 1 + len)
        } else if b & 0xE0 == 0xC0 {
            let raw =
                (((b & 0x1f) as u16) << 8) | *lp.get(p + 1).ok_or(DecodeError::BadFormat)? as u16;
            // 13-bit two's complement.
            let v = ((raw << 3) as i16 >> 3) as i64;
            (int_bytes(v), 2)
        } else if b & 0xF0 == 0xE0 {
            let len = (((b & 0x0f) as usize) << 8)
                | *lp.get(p + 1).ok_or(DecodeError::BadFormat)? as usize;
            (slice(lp, p + 2, len)?, 2 + len)
        } else {
            match b {
                0xF0 => {
                    let len = u32_at(lp, p + 1)? as usize;
                    (slice(lp, p + 5, len)?, 5 + len)
                }
                0xF1 => (int_bytes(int_at(lp, p + 1, 2)?), 3),
                0xF2 => (int_bytes(int_at(lp, p + 1, 3)?), 4),
                0xF3 => (int_bytes(int_at(lp, p + 1, 4)?), 5),
                0xF4 => (int_bytes(int_at(lp, p + 1, 8)?), 9),
                _ => return bad(),
            }
        };
        let back = backlen(size);
        let after = p + size;
        if lp.get(after..after + back.len()) != Some(&back[..]) {
            return bad();
        }
        p = after + back.len();
        entries.push(value);
    }
    if p != end || (declared != u16::MAX && declared as usize != entries.len()) {
        return bad();
    }
    Ok(entries)
}

/// A ziplist's entries (integers as their decimal text), checked as the
/// listpack's are.
fn ziplist(zl: &[u8]) -> Result<Vec<Bytes>> {
    if zl.len() < 11 || u32_at(zl, 0)? as usize != zl.len() || zl[zl.len() - 1] != 0xFF {
        return bad();
    }
    let declared = u16_at(zl, 8)?;
    let end = zl.len() - 1;
    let mut entries = Vec::new();
    let mut p = 10;
    while p < end {
        // The previous entry's length: one byte, or 0xFE and four.
        p += if zl[p] < 0xFE {
            1
        } else if zl[p] == 0xFE {
            5
        } else {
            return bad();
        };
        let b = *zl.get(p).ok_or(DecodeError::BadFormat)?;
        let (value, size) = match b >> 6 {
            0 => {
                let len = (b & 0x3f) as usize;
                (slice(zl, p + 1, len)?, 1 + len)
            }
            1 => {
                let len = (((b & 0x3f) as usize) << 8)
                    | *zl.get(p + 1).ok_or(DecodeError::BadFormat)? as usize;
                (slice(zl, p + 2, len)?, 2 + len)
            }
            2 if b == 0x80 => {
                let raw = zl.get(p + 1..p + 5).ok_or(DecodeError::BadFormat)?;
                let len = u32::from_be_bytes(raw.try_into().unwrap()) as usize;
                (slice(zl, p + 5, len)?, 5 + len)
            }
            2 => return bad(),
            _ => match b {
                0xC0 => (int_bytes(int_at(zl, p + 1, 2)?), 3),
                0xD0 => (int_bytes(int_at(zl, p + 1, 4)?), 5),
                0xE0 => (int_bytes(int_at(zl, p + 1, 8)?), 9),
                0xF0 => (int_bytes(int_at(zl, p + 1, 3)?), 4),
                0xFE => (int_bytes(int_at(zl, p + 1, 1)?), 2),
                0xF1..=0xFD => (int_bytes((b & 0x0f) as i64 - 1), 1),
                _ => return bad(),
            },
        };
        p += size;
        entries.push(value);
    }
    if p != end || (declared != u16::MAX && declared as usize != entries.len()) {
        return bad();
    }
    Ok(entries)
}

/// An intset's members (as decimal text): a width of 2, 4 or 8, a count
/// that fills the blob, strictly ascending values.
fn read_intset(is: &[u8]) -> Result<Vec<Bytes>> {
    let width = u32_at(is, 0)? as usize;
    let count = u32_at(is, 4)? as usize;
    if !matches!(width, 2 | 4 | 8) || count.checked_mul(width) != Some(is.len() - 8) {
        return bad();
    }
    let mut out = Vec::with_capacity(count);
    let mut last = None;
    for i in 0..count {
        let v = int_at(is, 8 + i * width, width)?;
        if last.is_some_and(|l| l >= v) {
            return bad();
        }
        last = Some(v);
        out.push(int_bytes(v));
    }
    Ok(out)
}

/// A zipmap's field/value pairs (Redis before 2.6): a count byte, then
/// per pair a length, the field, a length, a free-space byte, the value
/// and that much slack; 0xFF ends it. A length is one byte below 254, or
/// 254 and four little-endian bytes.
fn zipmap(zm: &[u8]) -> Result<Vec<(Bytes, Bytes)>> {
    let mut p = 1;
    let read_len = |p: &mut usize| -> Result<Option<usize>> {
        let b = *zm.get(*p).ok_or(DecodeError::BadFormat)?;
        Ok(match b {
            0xFF => None,
            0xFE => {
                let n = u32_at(zm, *p + 1)? as usize;
                *p += 5;
                Some(n)
            }
            n => {
                *p += 1;
                Some(n as usize)
            }
        })
    };
    let mut pairs = Vec::new();
    while let Some(flen) = read_len(&mut p)? {
        let field = slice(zm, p, flen)?;
        p += flen;
        let Some(vlen) = read_len(&mut p)? else {
            return bad();
        };
        let free = *zm.get(p).ok_or(DecodeError::BadFormat)? as usize;
        let value = slice(zm, p + 1, vlen)?;
        p += 1 + vlen + free;
        pairs.push((field, value));
    }
    if p != zm.len() - 1 {
        return bad();
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    /// A payload of `kind` and `body` with a valid footer.
    fn payload(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![kind];
        out.extend_from_slice(body);
        out.extend_from_slice(&RDB_VERSION.to_le_bytes());
        let crc = CRC64.checksum(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    fn string_body(s: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_string(&mut out, s);
        out
    }

    fn round_trip(object: Object) {
        assert_eq!(decode(&encode(&object)), Ok(object));
    }

    #[test]
    fn redis_7_0_dumps_byte_for_byte() {
        // Captured from Redis 7.0.15.
        let cases: &[(Object, &[u8])] = &[
            (
                Object::String(Bytes::from(vec![b'a'; 30])),
                b"\x00\xc3\t\x1e\x01aa\xe0\x11\x00\x01aa\n\x00Es|\xbb+d{\xbb",
            ),
            (
                Object::List(vec![b("a"), b("b"), b("1"), b("300"), b("-5")]),
                b"\x12\x01\x02\x15\x15\x00\x00\x00\x05\x00\x81a\x02\x81b\x02\x01\x01\xc1,\x02\xdf\xfb\x02\xff\n\x00O\xa1\xe8\xc2\xc4\xf2\x982",
            ),
            (
                Object::ZSet(vec![(b("a"), 1.5), (b("b"), 2.0)]),
                b"\x11\x14\x14\x00\x00\x00\x04\x00\x81a\x02\x831.5\x04\x81b\x02\x02\x01\xff\n\x00\xfa\x02\xb4%\xaf\x18\x87c",
            ),
        ];
        for (object, dump) in cases {
            assert_eq!(&encode(object)[..], *dump, "{object:?}");
            assert_eq!(decode(dump).as_ref(), Ok(object));
        }
    }

    #[test]
    fn crc_is_redis_crc64() {
        // Redis's crc64 test vector.
        assert_eq!(CRC64.checksum(b"123456789"), 0xe9c6d914c4b8d9ca);
    }

    #[test]
    fn strings_in_every_encoding() {
        for s in [
            "",
            "0",
            "-1",
            "127",
            "-128",
            "128",
            "32767",
            "-32768",
            "40000",
            "2147483647",
            "-2147483648",
            "2147483648",
            "007",
            "+5",
            "12345678901",
            "hello",
        ] {
            round_trip(Object::String(b(s)));
        }
        assert_eq!(string_body(b"5"), [0xC0, 5]);
        assert_eq!(string_body(b"-300"), [0xC1, 0xD4, 0xFE]);
        assert_eq!(string_body(b"100000"), [0xC2, 0xA0, 0x86, 0x01, 0x00]);
        assert_eq!(string_body(b"2147483648")[0], 10);
        let long = Bytes::from("xyz".repeat(1000));
        assert_eq!(string_body(&long)[0], 0xC3);
        round_trip(Object::String(long));
        let random: Vec<u8> = (0..300u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        round_trip(Object::String(Bytes::from(random)));
    }

    #[test]
    fn lengths_in_every_width() {
        for n in [
            0u64,
            63,
            64,
            16383,
            16384,
            u32::MAX as u64,
            u32::MAX as u64 + 1,
        ] {
            let mut out = Vec::new();
            write_len(&mut out, n);
            let mut r = Reader { buf: &out, pos: 0 };
            assert_eq!(r.len(), Ok(n));
            assert_eq!(r.left(), 0);
        }
    }

    #[test]
    fn listpack_entries_in_every_encoding() {
        let long_12 = "y".repeat(100);
        let long_32 = "z".repeat(5000);
        let values = [
            "0",
            "127",
            "128",
            "-1",
            "4095",
            "-4096",
            "4096",
            "32767",
            "-32768",
            "32768",
            "8388607",
            "-8388608",
            "8388608",
            "2147483647",
            "-2147483648",
            "2147483648",
            "9223372036854775807",
            "-9223372036854775808",
            "",
            "x",
            "01",
            &long_12,
            &long_32,
        ];
        let mut lp = Listpack::new();
        for v in values {
            lp.push(v.as_bytes());
        }
        let blob = lp.finish();
        let got = listpack(&blob).unwrap();
        assert_eq!(got, values.iter().map(|v| b(v)).collect::<Vec<_>>());
        // Truncated or with a wrong header, it is refused.
        assert!(listpack(&blob[..blob.len() - 1]).is_err());
        let mut wrong = blob.clone();
        wrong[4] ^= 1;
        assert!(listpack(&wrong).is_err());
    }

    #[test]
    fn backlen_widths() {
        assert_eq!(backlen(5), [5]);
        assert_eq!(backlen(127), [127]);
        assert_eq!(backlen(128), [1, 128]);
        assert_eq!(backlen(5003), [39, 128 | 11]);
        assert_eq!(backlen(16382), [127, 128 | 126]);
        assert_eq!(backlen(16383), [0, 255, 255]);
        assert_eq!(backlen(16384), [1, 128, 128]);
    }

    /// A ziplist of raw entries (each given as its encoding and data).
    fn ziplist_of(entries: &[Vec<u8>]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut prev = 0usize;
        for e in entries {
            if prev < 254 {
                body.push(prev as u8);
            } else {
                body.push(0xFE);
                body.extend_from_slice(&(prev as u32).to_le_bytes());
            }
            let start = body.len();
            body.extend_from_slice(e);
            prev = body.len() - start + if prev < 254 { 1 } else { 5 };
        }
        let mut zl = Vec::new();
        zl.extend_from_slice(&((11 + body.len()) as u32).to_le_bytes());
        zl.extend_from_slice(&0u32.to_le_bytes());
        zl.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        zl.extend_from_slice(&body);
        zl.push(0xFF);
        zl
    }

    fn zl_str(s: &[u8]) -> Vec<u8> {
        let mut e = Vec::new();
        if s.len() < 64 {
            e.push(s.len() as u8);
        } else if s.len() < 16384 {
            e.push(0x40 | (s.len() >> 8) as u8);
            e.push(s.len() as u8);
        } else {
            e.push(0x80);
            e.extend_from_slice(&(s.len() as u32).to_be_bytes());
        }
        e.extend_from_slice(s);
        e
    }

    fn ziplist_sample() -> (Vec<u8>, Vec<Bytes>) {
        let mid = "m".repeat(300);
        let big = "B".repeat(20000);
        let entries = vec![
            zl_str(b"abc"),
            zl_str(mid.as_bytes()),
            zl_str(big.as_bytes()),
            vec![0xF1],                         // 0
            vec![0xFD],                         // 12
            vec![0xFE, 0x80],                   // int8 -128
            vec![0xC0, 0x00, 0x80],             // int16 -32768
            vec![0xF0, 0xFF, 0xFF, 0x7F],       // int24 8388607
            vec![0xD0, 0x00, 0x00, 0x00, 0x80], // int32 -2^31
            [vec![0xE0], i64::MAX.to_le_bytes().to_vec()].concat(),
        ];
        let expect = [
            "abc",
            &mid,
            &big,
            "0",
            "12",
            "-128",
            "-32768",
            "8388607",
            "-2147483648",
            "9223372036854775807",
        ]
        .iter()
        .map(|s| b(s))
        .collect();
        (ziplist_of(&entries), expect)
    }

    #[test]
    fn ziplists_lists_hashes_zsets() {
        let (zl, expect) = ziplist_sample();
        assert_eq!(ziplist(&zl).unwrap(), expect);
        assert_eq!(
            decode(&payload(TYPE_LIST_ZIPLIST, &string_body(&zl))),
            Ok(Object::List(expect.clone()))
        );
        // A quicklist of ziplists, an empty one among them.
        let mut body = Vec::new();
        write_len(&mut body, 3);
        body.extend(string_body(&zl));
        body.extend(string_body(&ziplist_of(&[])));
        body.extend(string_body(&ziplist_of(&[zl_str(b"tail")])));
        let mut all = expect.clone();
        all.push(b("tail"));
        assert_eq!(
            decode(&payload(TYPE_LIST_QUICKLIST, &body)),
            Ok(Object::List(all))
        );

        let hz = ziplist_of(&[zl_str(b"f"), zl_str(b"v"), zl_str(b"n"), vec![0xF3]]);
        assert_eq!(
            decode(&payload(TYPE_HASH_ZIPLIST, &string_body(&hz))),
            Ok(Object::Hash(vec![(b("f"), b("v")), (b("n"), b("2"))]))
        );
        let zz = ziplist_of(&[zl_str(b"a"), zl_str(b"1.5"), zl_str(b"b"), vec![0xF3]]);
        assert_eq!(
            decode(&payload(TYPE_ZSET_ZIPLIST, &string_body(&zz))),
            Ok(Object::ZSet(vec![(b("a"), 1.5), (b("b"), 2.0)]))
        );
        // An odd number of entries is no hash.
        let odd = ziplist_of(&[zl_str(b"f")]);
        assert_eq!(
            decode(&payload(TYPE_HASH_ZIPLIST, &string_body(&odd))),
            Err(DecodeError::BadFormat)
        );
    }

    #[test]
    fn intsets_of_every_width() {
        for ints in [
            vec![-5i64, 1, 300],
            vec![-70000, 5],
            vec![i64::MIN, 0, i64::MAX],
        ] {
            let blob = intset(&ints);
            let expect: Vec<Bytes> = ints.iter().map(|v| int_bytes(*v)).collect();
            assert_eq!(
                decode(&payload(TYPE_SET_INTSET, &string_body(&blob))),
                Ok(Object::Set(expect))
            );
        }
        assert_eq!(intset(&[1, 2])[0], 2);
        assert_eq!(intset(&[1, 70000])[0], 4);
        assert_eq!(intset(&[1, 1 << 40])[0], 8);
        // Unsorted or the wrong size: refused.
        let mut unsorted = intset(&[1, 2]);
        unsorted.swap(8, 10);
        assert!(read_intset(&unsorted).is_err());
        assert!(read_intset(&intset(&[1, 2])[..11]).is_err());
    }

    #[test]
    fn zipmap_hashes() {
        let mut zm = vec![2u8];
        zm.extend_from_slice(&[1, b'f', 1, 0, b'v']);
        let long = "L".repeat(300);
        zm.extend_from_slice(&[1, b'g', 0xFE]);
        zm.extend_from_slice(&300u32.to_le_bytes());
        zm.push(2); // two free bytes after the value
        zm.extend_from_slice(long.as_bytes());
        zm.extend_from_slice(&[0, 0, 0xFF]);
        assert_eq!(
            decode(&payload(TYPE_HASH_ZIPMAP, &string_body(&zm))),
            Ok(Object::Hash(vec![(b("f"), b("v")), (b("g"), b(&long))]))
        );
    }

    #[test]
    fn plain_types_and_text_scores() {
        let mut body = Vec::new();
        write_len(&mut body, 2);
        body.extend(string_body(b"x"));
        body.extend_from_slice(&[3, b'2', b'.', b'5']);
        body.extend(string_body(b"y"));
        body.push(255);
        assert_eq!(
            decode(&payload(TYPE_ZSET, &body)),
            Ok(Object::ZSet(vec![
                (b("x"), 2.5),
                (b("y"), f64::NEG_INFINITY)
            ]))
        );
        let mut nan = Vec::new();
        write_len(&mut nan, 1);
        nan.extend(string_body(b"x"));
        nan.push(253);
        assert_eq!(
            decode(&payload(TYPE_ZSET, &nan)),
            Err(DecodeError::BadFormat)
        );
        let mut list = Vec::new();
        write_len(&mut list, 2);
        list.extend(string_body(b"a"));
        list.extend(string_body(b"12"));
        assert_eq!(
            decode(&payload(TYPE_LIST, &list)),
            Ok(Object::List(vec![b("a"), b("12")]))
        );
        // Duplicates and empty collections are refused.
        let mut dup = Vec::new();
        write_len(&mut dup, 2);
        dup.extend(string_body(b"a"));
        dup.extend(string_body(b"a"));
        assert_eq!(
            decode(&payload(TYPE_SET, &dup)),
            Err(DecodeError::BadFormat)
        );
        assert_eq!(
            decode(&payload(TYPE_SET, &[0])),
            Err(DecodeError::BadFormat)
        );
    }

    #[test]
    fn quicklist_2_plain_packed_and_compressed_nodes() {
        let big = Bytes::from(vec![b'P'; 10000]);
        let mut lp = Listpack::new();
        for i in 0..50 {
            lp.push(format!("element-{i}").as_bytes());
        }
        let packed = lp.finish();
        let mut body = Vec::new();
        write_len(&mut body, 3);
        write_len(&mut body, NODE_PLAIN);
        body.extend(string_body(&big));
        write_len(&mut body, NODE_PACKED);
        let node = string_body(&packed);
        assert_eq!(node[0], 0xC3, "the node is LZF-compressed");
        body.extend(node);
        write_len(&mut body, NODE_PACKED);
        body.extend(string_body(&Listpack::new().finish()));
        let mut expect = vec![big];
        expect.extend((0..50).map(|i| Bytes::from(format!("element-{i}"))));
        assert_eq!(
            decode(&payload(TYPE_LIST_QUICKLIST_2, &body)),
            Ok(Object::List(expect))
        );
        // An unknown container.
        let mut wrong = Vec::new();
        write_len(&mut wrong, 1);
        write_len(&mut wrong, 3);
        wrong.extend(string_body(b"x"));
        assert_eq!(
            decode(&payload(TYPE_LIST_QUICKLIST_2, &wrong)),
            Err(DecodeError::BadFormat)
        );
    }

    #[test]
    fn encoded_collections_round_trip() {
        let many: Vec<Bytes> = (0..20_000)
            .map(|i| Bytes::from(format!("item:{i}")))
            .collect();
        let nodes = quicklist_nodes(&many);
        assert!(nodes.len() > 1 && nodes.iter().all(|n| n.len() <= NODE_BYTES));
        round_trip(Object::List(many.clone()));
        round_trip(Object::List(vec![Bytes::from(vec![0u8; 20000]), b("1")]));
        round_trip(Object::Set(vec![b("-70000"), b("1"), b("2")]));
        round_trip(Object::Set(vec![b("a"), b("b")]));
        round_trip(Object::Set(many.clone()));
        round_trip(Object::Hash(vec![(b("f"), b("1")), (b("g"), b("v"))]));
        round_trip(Object::Hash(
            many.iter().map(|m| (m.clone(), b("v"))).collect(),
        ));
        let zs = vec![
            (b("b"), -0.1),
            (b("a"), 1.5),
            (b("d"), 1e300),
            (b("c"), f64::INFINITY),
        ];
        round_trip(Object::ZSet(zs.clone()));
        let big: Vec<(Bytes, f64)> = many
            .iter()
            .enumerate()
            .map(|(i, m)| (m.clone(), i as f64 / 3.0))
            .collect();
        // Encoded highest first; decoded in that order.
        let mut back = big.clone();
        back.reverse();
        assert_eq!(decode(&encode(&Object::ZSet(big))), Ok(Object::ZSet(back)));
        assert_eq!(
            encode(&Object::Set(vec![b("1"), b("-2")]))[0],
            TYPE_SET_INTSET
        );
        assert_eq!(
            encode(&Object::Hash(vec![(b("f"), Bytes::from("v".repeat(65)))]))[0],
            TYPE_HASH
        );
    }

    #[test]
    fn function_dumps_as_redis_7_0() {
        let code: &[u8] =
            b"#!lua name=mylib\nredis.register_function('f1', function() return 1 end)";
        // FUNCTION DUMP of Redis 7.0.15 with this one library loaded.
        let redis = b"\xf5@G#!lua name=mylib\x0aredis.register_function('f1', function() return 1 end)\x0a\x00\x07P\x04\x04\xcd\x92\xd1\xb3".to_vec();
        assert_eq!(encode_functions([code]), redis);
        assert_eq!(decode_functions(&redis), Ok(vec![Bytes::from(code)]));
        assert_eq!(decode_functions(&encode_functions([])), Ok(vec![]));
        // The release candidates' form: name, engine, no description, code.
        let mut old = vec![OPCODE_FUNCTION];
        for s in [&b"lib"[..], b"LUA"] {
            write_string(&mut old, s);
        }
        write_len(&mut old, 0);
        write_string(&mut old, b"return 1");
        assert_eq!(
            decode_functions(&finish(old)),
            Ok(vec![b("#!LUA name=lib\nreturn 1")])
        );
        let mut bad = redis.clone();
        bad[5] ^= 1;
        assert_eq!(
            decode_functions(&bad),
            Err(FunctionsError::VersionOrChecksum)
        );
        assert_eq!(
            decode_functions(&finish(vec![TYPE_STRING, 1, b'x'])),
            Err(FunctionsError::NotAFunction)
        );
        assert_eq!(
            decode_functions(&finish(vec![OPCODE_FUNCTION2, 30, b'x'])),
            Err(FunctionsError::NoPayload)
        );
    }

    #[test]
    fn bad_payloads() {
        let good = encode(&Object::String(b("hello")));
        assert_eq!(
            decode(&good[..good.len() - 1]),
            Err(DecodeError::VersionOrChecksum)
        );
        assert_eq!(decode(&good[..9]), Err(DecodeError::VersionOrChecksum));
        let mut later = good.clone();
        let at = later.len() - 10;
        later[at] = 11;
        assert_eq!(decode(&later), Err(DecodeError::VersionOrChecksum));
        for i in 0..good.len() {
            let mut flipped = good.clone();
            flipped[i] ^= 0x20;
            assert_eq!(
                decode(&flipped),
                Err(DecodeError::VersionOrChecksum),
                "byte {i}"
            );
        }
        // A stream, a module value, a truncated value with a valid CRC.
        assert_eq!(
            decode(&payload(15, &[1, 2, 3])),
            Err(DecodeError::BadFormat)
        );
        assert_eq!(decode(&payload(7, &[])), Err(DecodeError::BadFormat));
        assert_eq!(
            decode(&payload(0, &[12, b'a'])),
            Err(DecodeError::BadFormat)
        );
        // Redis reads a value that runs into the footer with its bytes.
        let into_footer = payload(0, &[3, b'a']);
        assert_eq!(
            decode(&into_footer),
            Ok(Object::String(Bytes::copy_from_slice(&into_footer[2..5])))
        );
        // A length claiming more than the payload holds.
        assert_eq!(
            decode(&payload(
                1,
                &[0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
            )),
            Err(DecodeError::BadFormat)
        );
        assert_eq!(
            decode(&payload(
                0,
                &[0xC3, 2, 0x80, 0xff, 0xff, 0xff, 0xff, 0, b'a']
            )),
            Err(DecodeError::BadFormat)
        );
    }

    #[test]
    fn never_panics_on_noise() {
        // Every prefix and a spread of mutations of valid payloads, with the
        // CRC fixed up so the decoder itself is exercised.
        let samples = [
            encode(&Object::List(
                (0..300).map(|i| Bytes::from(format!("{i}"))).collect(),
            )),
            encode(&Object::Hash(vec![(b("f"), b("v")), (b("n"), b("123456"))])),
            encode(&Object::ZSet(vec![(b("a"), 1.5)])),
            encode(&Object::Set(vec![b("1"), b("2")])),
            encode(&Object::String(Bytes::from("abc".repeat(50)))),
            payload(TYPE_LIST_ZIPLIST, &string_body(&ziplist_sample().0)),
        ];
        let mut seed = 0x9E3779B97F4A7C15u64;
        for sample in &samples {
            let body = &sample[..sample.len() - 10];
            for cut in 0..body.len() {
                let _ = decode(&payload(body[0], &body[1..cut.max(1)]));
            }
            for _ in 0..3000 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let mut m = body.to_vec();
                let at = (seed as usize) % m.len();
                m[at] = (seed >> 32) as u8;
                let _ = decode(&payload(m[0], &m[1..]));
            }
        }
    }
}
