//! Redis computes INCRBYFLOAT / HINCRBYFLOAT in C `long double`, which on
//! x86-64 is the x87 80-bit extended format (64-bit significand), parses
//! with `strtold` and prints with `%.17Lf` (trailing zeros trimmed). The
//! digits clients see depend on that precision (`10.5 + 0.1` then `-5`
//! then `5.0e3` answers `5005.60000000000000009`), so this module emulates
//! it exactly with big-integer arithmetic: correctly rounded parsing
//! (decimal, hex, `inf`), correctly rounded addition, and exact `%.17Lf`
//! formatting. Subnormal results keep a full 64-bit significand (they
//! print as 0 either way).

use std::cmp::Ordering;

/// Largest input `string2ld` accepts is one byte shorter than this.
const MAX_CHARS: usize = 5 * 1024;
/// 2^16384 is the first power of two past the largest finite value.
const EXP_OVERFLOW: i64 = 16384;
/// The unit of the smallest subnormal is 2^-16445.
const MIN_LSB: i64 = -16445;

/// An extended-precision number.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Ld {
    /// `(-1)^neg * mant * 2^exp`; `mant` has its top bit set, or is 0.
    Finite {
        neg: bool,
        mant: u64,
        exp: i64,
    },
    Inf {
        neg: bool,
    },
}

pub const ZERO: Ld = Ld::Finite {
    neg: false,
    mant: 0,
    exp: 0,
};

impl Ld {
    pub fn is_finite(self) -> bool {
        matches!(self, Ld::Finite { .. })
    }
}

/// `v * 1000` rounded up, as Redis 7.0's `(long long) ceill(v * 1000.0)`
/// in `long double` computes a timeout in milliseconds (so 0.0001 s waits
/// 1 ms, and -0.0001 s is 0, forever); `None` when it does not fit (where
/// the C cast gives `LLONG_MIN`).
pub fn millis(v: Ld) -> Option<i64> {
    let Ld::Finite { neg, mant, exp } = v else {
        return None;
    };
    if mant == 0 {
        return Some(0);
    }
    // The product, rounded to the 64-bit significand as the x87 does.
    let mut scaled = mant as u128 * 1000;
    let bits = 128 - scaled.leading_zeros();
    if bits > 64 {
        let shift = bits - 64;
        let (mut q, rem, half) = (
            scaled >> shift,
            scaled & ((1 << shift) - 1),
            1 << (shift - 1),
        );
        if rem > half || (rem == half && q & 1 == 1) {
            q += 1;
        }
        scaled = q << shift;
    }
    let magnitude = if exp >= 0 {
        if exp > 64 || scaled.leading_zeros() < exp as u32 {
            return None;
        }
        scaled << exp
    } else {
        // ceill: a fraction left over rounds a positive product up (a
        // negative one's magnitude down, towards zero).
        let (whole, fraction) = if exp < -127 {
            (0, scaled != 0)
        } else {
            (scaled >> (-exp), scaled & ((1 << (-exp)) - 1) != 0)
        };
        whole + u128::from(fraction && !neg)
    };
    if neg {
        0i64.checked_sub_unsigned(u64::try_from(magnitude).ok()?)
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// Redis's `string2ld`: `strtold` over the whole string, no leading
/// space, no NaN, no overflow, no underflow to zero.
pub fn parse(s: &[u8]) -> Option<Ld> {
    if s.is_empty() || s.len() >= MAX_CHARS {
        return None;
    }
    if s[0].is_ascii_whitespace() || s[0] == 0x0b {
        return None;
    }
    let (neg, body) = match s[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
        return Some(Ld::Inf { neg });
    }
    if body.len() > 2 && body[0] == b'0' && (body[1] | 0x20) == b'x' {
        if let Some(v) = parse_hex(neg, &body[2..]) {
            return v;
        }
        // "0x" without hex digits: strtold stops after the "0".
        return None;
    }
    parse_decimal(neg, body)
}

/// Digits, an optional fraction and an optional exponent: the mantissa
/// digits, the count of fraction digits, and the exponent.
fn split_number(body: &[u8], hex: bool) -> Option<(&[u8], Vec<u8>, usize, i64)> {
    let is_digit = |c: u8| {
        if hex {
            c.is_ascii_hexdigit()
        } else {
            c.is_ascii_digit()
        }
    };
    let mut i = 0;
    let mut digits = Vec::new();
    while i < body.len() && is_digit(body[i]) {
        digits.push(body[i]);
        i += 1;
    }
    let mut frac = 0;
    if i < body.len() && body[i] == b'.' {
        i += 1;
        while i < body.len() && is_digit(body[i]) {
            digits.push(body[i]);
            frac += 1;
            i += 1;
        }
    }
    if digits.is_empty() {
        return None;
    }
    let mut exp: i64 = 0;
    let marker = if hex { b'p' } else { b'e' };
    if i < body.len() && (body[i] | 0x20) == marker {
        i += 1;
        let negative = match body.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        while i < body.len() && body[i].is_ascii_digit() {
            exp = (exp * 10 + (body[i] - b'0') as i64).min(1 << 40);
            i += 1;
        }
        if i == start {
            return None;
        }
        if negative {
            exp = -exp;
        }
    }
    Some((&body[i..], digits, frac, exp))
}

fn parse_decimal(neg: bool, body: &[u8]) -> Option<Ld> {
    let (rest, digits, frac, exp) = split_number(body, false)?;
    if !rest.is_empty() {
        return None;
    }
    let first = digits.iter().position(|&d| d != b'0');
    let Some(first) = first else {
        return Some(Ld::Finite {
            neg,
            mant: 0,
            exp: 0,
        });
    };
    let digits = &digits[first..];
    let e10 = exp - frac as i64;
    // Quick range checks: the value is below 10^(len + e10) and at
    // least 10^(len - 1 + e10).
    let magnitude = digits.len() as i64 + e10;
    if magnitude > 4934 {
        return None;
    }
    if magnitude < -4952 {
        return None;
    }
    let mut d = Big::zero();
    for chunk in digits.chunks(9) {
        let mut v = 0u32;
        for &c in chunk {
            v = v * 10 + (c - b'0') as u32;
        }
        d.mul_add_small(10u32.pow(chunk.len() as u32), v);
    }
    let rounded = if e10 >= 0 {
        d.mul_pow10(e10 as u64);
        round(neg, d, 0, false)
    } else {
        let b = Big::pow10((-e10) as u64);
        let s = d.bits() as i64 - b.bits() as i64;
        let (shift_a, shift_b) = ((66 - s).max(0) as u64, (s - 66).max(0) as u64);
        let (q, exact) = divide(d.shl(shift_a), b.shl(shift_b), 68);
        round(neg, q, shift_b as i64 - shift_a as i64, !exact)
    };
    finite_or_reject(rounded)
}

/// `Some(result)` when the text after "0x" is a hex float (or fails as
/// one); `None` when there are no hex digits at all.
fn parse_hex(neg: bool, body: &[u8]) -> Option<Option<Ld>> {
    let (rest, digits, frac, exp) = split_number(body, true)?;
    if !rest.is_empty() {
        return Some(None);
    }
    let mut h = Big::zero();
    for &c in &digits {
        h.mul_add_small(16, (c as char).to_digit(16).unwrap_or(0));
    }
    if h.is_zero() {
        return Some(Some(Ld::Finite {
            neg,
            mant: 0,
            exp: 0,
        }));
    }
    let exp = exp - 4 * frac as i64;
    if h.bits() as i64 + exp > EXP_OVERFLOW + 1 || (h.bits() as i64 + exp) < MIN_LSB - 2 {
        return Some(None);
    }
    Some(finite_or_reject(round(neg, h, exp, false)))
}

/// `strtold` reports overflow and underflow to zero as ERANGE, which
/// `string2ld` rejects.
fn finite_or_reject(v: Ld) -> Option<Ld> {
    match v {
        Ld::Finite { mant: 0, .. } | Ld::Inf { .. } => None,
        v => Some(v),
    }
}

/// Rounds `n * 2^exp` (plus a nonzero remainder below its last bit when
/// `sticky`) to 64 significant bits, ties to even.
fn round(neg: bool, n: Big, exp: i64, sticky: bool) -> Ld {
    let bits = n.bits() as i64;
    if bits == 0 {
        return Ld::Finite {
            neg,
            mant: 0,
            exp: 0,
        };
    }
    // Drop bits beyond the 64-bit significand, and below the smallest
    // subnormal's unit.
    let shift = (bits - 64).max(MIN_LSB - exp);
    let (q, exp) = if shift <= 0 {
        (n.low_u128() as u64, exp)
    } else {
        let shift = shift as u64;
        let mut q = n.shr(shift).low_u128() as u64;
        let half = n.bit(shift - 1);
        let below = sticky || n.any_below(shift - 1);
        let mut e = exp + shift as i64;
        if half && (below || q & 1 == 1) {
            q = q.wrapping_add(1);
            if q == 0 {
                q = 1 << 63;
                e += 1;
            }
        }
        (q, e)
    };
    if q == 0 {
        return Ld::Finite {
            neg,
            mant: 0,
            exp: 0,
        };
    }
    let lz = q.leading_zeros() as i64;
    let (mant, exp) = (q << lz, exp - lz);
    if exp + 64 > EXP_OVERFLOW {
        return Ld::Inf { neg };
    }
    Ld::Finite { neg, mant, exp }
}

/// The correctly rounded sum.
pub fn add(a: Ld, b: Ld) -> Ld {
    let (
        Ld::Finite {
            neg: na,
            mant: ma,
            exp: ea,
        },
        Ld::Finite {
            neg: nb,
            mant: mb,
            exp: eb,
        },
    ) = (a, b)
    else {
        return match (a, b) {
            (Ld::Inf { neg: x }, Ld::Inf { neg: y }) if x != y => Ld::Inf { neg: false },
            (Ld::Inf { neg }, _) | (_, Ld::Inf { neg }) => Ld::Inf { neg },
            _ => unreachable!(),
        };
    };
    if mb == 0 {
        return if ma == 0 {
            Ld::Finite {
                neg: na && nb,
                mant: 0,
                exp: 0,
            }
        } else {
            a
        };
    }
    if ma == 0 {
        return b;
    }
    let low = ea.min(eb);
    let x = Big::from_u128(ma as u128).shl((ea - low) as u64);
    let y = Big::from_u128(mb as u128).shl((eb - low) as u64);
    if na == nb {
        return round(na, x.add(&y), low, false);
    }
    match x.cmp(&y) {
        Ordering::Equal => Ld::Finite {
            neg: false,
            mant: 0,
            exp: 0,
        },
        Ordering::Greater => round(na, x.sub(&y), low, false),
        Ordering::Less => round(nb, y.sub(&x), low, false),
    }
}

/// `%.17Lf` with trailing zeros (and a bare point) removed, `-0` as
/// `0`: Redis's `ld2string(LD_STR_HUMAN)`. Infinity prints as
/// `inf`/`-inf` (callers refuse it before).
pub fn format(v: Ld) -> String {
    let (neg, mant, exp) = match v {
        Ld::Inf { neg } => return if neg { "-inf".into() } else { "inf".into() },
        Ld::Finite { neg, mant, exp } => (neg, mant, exp),
    };
    let mut text = if exp >= 0 {
        Big::from_u128(mant as u128).shl(exp as u64).to_decimal()
    } else {
        const SCALE: u128 = 100_000_000_000_000_000;
        let p = mant as u128 * SCALE;
        let k = (-exp) as u64;
        let q = if k >= 128 {
            0
        } else {
            let q = p >> k;
            let rem = p & ((1u128 << k) - 1);
            let half = 1u128 << (k - 1);
            if rem > half || (rem == half && q & 1 == 1) {
                q + 1
            } else {
                q
            }
        };
        let mut s = format!("{}.{:017}", q / SCALE, q % SCALE);
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
        s
    };
    if neg && text != "0" {
        text.insert(0, '-');
    }
    text
}

/// `a / b` for a quotient known to be below 2^`bits`; and whether the
/// division was exact.
fn divide(mut a: Big, b: Big, bits: u64) -> (Big, bool) {
    let mut q = Big::zero();
    let mut t = b.shl(bits - 1);
    for i in (0..bits).rev() {
        if a.cmp(&t) != Ordering::Less {
            a = a.sub(&t);
            q = q.add(&Big::from_u128(1).shl(i));
        }
        t = t.shr(1);
    }
    (q, a.is_zero())
}

/// A minimal unsigned big integer: little-endian 32-bit limbs, no
/// high zero limbs.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Big(Vec<u32>);

impl Big {
    fn zero() -> Big {
        Big(Vec::new())
    }

    fn from_u128(mut v: u128) -> Big {
        let mut limbs = Vec::new();
        while v != 0 {
            limbs.push(v as u32);
            v >>= 32;
        }
        Big(limbs)
    }

    fn pow10(n: u64) -> Big {
        let mut b = Big::from_u128(1);
        b.mul_pow10(n);
        b
    }

    fn trim(mut self) -> Big {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
        self
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    fn bits(&self) -> u64 {
        match self.0.last() {
            None => 0,
            Some(&top) => (self.0.len() as u64 - 1) * 32 + (32 - top.leading_zeros() as u64),
        }
    }

    fn bit(&self, i: u64) -> bool {
        self.0
            .get((i / 32) as usize)
            .is_some_and(|l| l >> (i % 32) & 1 == 1)
    }

    /// Whether any bit below position `i` is set.
    fn any_below(&self, i: u64) -> bool {
        let (whole, part) = ((i / 32) as usize, i % 32);
        self.0.iter().take(whole).any(|&l| l != 0)
            || (part > 0
                && self
                    .0
                    .get(whole)
                    .is_some_and(|&l| l & ((1u32 << part) - 1) != 0))
    }

    fn low_u128(&self) -> u128 {
        self.0
            .iter()
            .take(4)
            .rev()
            .fold(0u128, |acc, &l| (acc << 32) | l as u128)
    }

    fn mul_add_small(&mut self, m: u32, a: u32) {
        let mut carry = a as u64;
        for limb in &mut self.0 {
            let v = *limb as u64 * m as u64 + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
        let trimmed = std::mem::take(self).trim();
        *self = trimmed;
    }

    fn mul_pow10(&mut self, mut n: u64) {
        while n >= 9 {
            self.mul_add_small(1_000_000_000, 0);
            n -= 9;
        }
        self.mul_add_small(10u32.pow(n as u32), 0);
    }

    fn shl(&self, bits: u64) -> Big {
        if self.is_zero() {
            return Big::zero();
        }
        let (whole, part) = ((bits / 32) as usize, bits % 32);
        let mut limbs = vec![0u32; whole];
        let mut carry = 0u32;
        for &l in &self.0 {
            if part == 0 {
                limbs.push(l);
            } else {
                limbs.push((l << part) | carry);
                carry = l >> (32 - part);
            }
        }
        if carry != 0 {
            limbs.push(carry);
        }
        Big(limbs).trim()
    }

    fn shr(&self, bits: u64) -> Big {
        let (whole, part) = ((bits / 32) as usize, bits % 32);
        if whole >= self.0.len() {
            return Big::zero();
        }
        let src = &self.0[whole..];
        let limbs = (0..src.len())
            .map(|i| {
                let lo = src[i] >> part;
                let hi = if part == 0 {
                    0
                } else {
                    src.get(i + 1).map_or(0, |&h| h << (32 - part))
                };
                lo | hi
            })
            .collect();
        Big(limbs).trim()
    }

    fn add(&self, other: &Big) -> Big {
        let mut limbs = Vec::with_capacity(self.0.len().max(other.0.len()) + 1);
        let mut carry = 0u64;
        for i in 0..self.0.len().max(other.0.len()) {
            let v =
                *self.0.get(i).unwrap_or(&0) as u64 + *other.0.get(i).unwrap_or(&0) as u64 + carry;
            limbs.push(v as u32);
            carry = v >> 32;
        }
        if carry != 0 {
            limbs.push(carry as u32);
        }
        Big(limbs).trim()
    }

    /// `self - other`, for `self >= other`.
    fn sub(&self, other: &Big) -> Big {
        let mut limbs = Vec::with_capacity(self.0.len());
        let mut borrow = 0i64;
        for i in 0..self.0.len() {
            let mut v = self.0[i] as i64 - *other.0.get(i).unwrap_or(&0) as i64 - borrow;
            borrow = 0;
            if v < 0 {
                v += 1 << 32;
                borrow = 1;
            }
            limbs.push(v as u32);
        }
        Big(limbs).trim()
    }

    fn cmp(&self, other: &Big) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }

    fn to_decimal(&self) -> String {
        if self.is_zero() {
            return "0".into();
        }
        let mut limbs = self.0.clone();
        let mut chunks = Vec::new();
        while !limbs.is_empty() {
            let mut rem = 0u64;
            for limb in limbs.iter_mut().rev() {
                let v = (rem << 32) | *limb as u64;
                *limb = (v / 1_000_000_000) as u32;
                rem = v % 1_000_000_000;
            }
            while limbs.last() == Some(&0) {
                limbs.pop();
            }
            chunks.push(rem as u32);
        }
        let mut out = chunks.pop().map(|c| c.to_string()).unwrap_or_default();
        for c in chunks.iter().rev() {
            out.push_str(&format!("{c:09}"));
        }
        out
    }
}

impl Default for Big {
    fn default() -> Big {
        Big::zero()
    }
}

#[cfg(test)]
mod tests {
    use super::{add, format, parse};

    fn incr(a: &str, b: &str) -> String {
        format(add(
            parse(a.as_bytes()).unwrap(),
            parse(b.as_bytes()).unwrap(),
        ))
    }

    #[test]
    fn matches_redis_long_double() {
        // Answers of Redis 7.0 on x86-64.
        assert_eq!(incr("10.5", "0.1"), "10.6");
        assert_eq!(incr("5.6", "5.0e3"), "5005.60000000000000009");
        assert_eq!(
            incr("5005.60000000000000009", "3e-2"),
            "5005.62999999999999989"
        );
        assert_eq!(incr("0", "1.23456789012345678"), "1.23456789012345678");
        assert_eq!(incr("0.000001", "1e-20"), "0.000001");
        assert_eq!(incr("0", "12345678901234567"), "12345678901234567");
        assert_eq!(incr("0", "2.5e-18"), "0");
        assert_eq!(incr("2.5e-18", "7.5e-18"), "0.00000000000000001");
        assert_eq!(incr("0", "0x1p-2"), "0.25");
        assert_eq!(
            incr("1.50000000000000002", "-0x.8p1"),
            "0.50000000000000002"
        );
        assert_eq!(incr("0", "-0.0"), "0");
        assert_eq!(incr("0.1", "0.1"), "0.2");
        assert!(incr("1.7976931348623157e308", "1.7976931348623157e308").starts_with("35953862697246313999184209354820886809677289388865835697062884153035325704624879270940373721677417112885758683885104137861741672690227211071579455605295523414699795537257678967123632658809118886985907489458125496133883476929775824555243666719790770566420656500950322338241623544031997185275360493372667907"));
        assert!(incr("1e4932", "1e4932").starts_with("inf"));
    }

    #[test]
    fn parses_like_string2ld() {
        for bad in [
            "", " 1", "1 ", "abc", "nan", "1e", "1e+", ".", "0x", "0x1p", "1e5000", "1e-5000",
            "--1",
        ] {
            assert!(parse(bad.as_bytes()).is_none(), "{bad}");
        }
        for good in [
            "1",
            "+1",
            "-1",
            "1.",
            ".5",
            "1E2",
            "inf",
            "-Infinity",
            "0x10",
            "0X.8P1",
            "1e-4940",
            "0e99999",
        ] {
            assert!(parse(good.as_bytes()).is_some(), "{good}");
        }
    }
}
