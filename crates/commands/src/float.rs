//! `INCRBYFLOAT` / `HINCRBYFLOAT` arithmetic, bit-exact with upstream.
//!
//! Upstream parses both operands with `strtold`, adds them in the C
//! `long double` type — on x86-64 the x87 80-bit extended format: 64-bit
//! mantissa with an explicit integer bit, exponent range ±16383, gradual
//! underflow down to 2^-16445 — and prints the sum with `"%.17Lf"`, then
//! strips trailing zeros and a trailing dot. Rust has no such type, so this
//! module implements it in software on top of a tiny unsigned big integer:
//!
//! * decimal and hexadecimal text → extended, correctly rounded
//!   (round-half-even), with the same acceptance rules as upstream's
//!   `string2ld` (length limit, leading whitespace, `strtold` grammar,
//!   overflow/underflow reported by `ERANGE` rejected);
//! * exact addition followed by one correct rounding, which is what the
//!   x87 unit does in its default extended-precision mode;
//! * exact binary → decimal with 17 fractional digits, exact ties rounded
//!   to even as glibc's `printf` does.
//!
//! Every computation is exact on integers, so there is no double rounding
//! anywhere; sizes stay small (operands are at most ~33 000 bits wide).

use std::cmp::Ordering;

use redis_engine::error::{CmdError, NOT_FLOAT};

/// Upstream's `MAX_LONG_DOUBLE_CHARS`: inputs of this length or longer are
/// rejected before parsing.
const MAX_LONG_DOUBLE_CHARS: usize = 5 * 1024;

/// Mantissa width of the x87 extended format (integer bit included).
const MANT_BITS: i64 = 64;
/// Exponent of the least significant mantissa bit of the smallest
/// subnormal: 2^-16382 (min normal) × 2^-63.
const MIN_EXP: i64 = -16445;
/// Values at or above 2^MAX_BITS overflow (largest finite < 2^16384).
const MAX_BITS: i64 = 16384;

/// Error for a sum that is infinite or not a number.
const NON_FINITE: CmdError = CmdError::fixed("ERR increment would produce NaN or Infinity");

/// Adds `incr` to the number in `cur`; returns the new textual value.
///
/// Errors: `ERR value is not a valid float` when either operand does not
/// parse, `ERR increment would produce NaN or Infinity` when the sum is not
/// finite (an infinite operand always leads there).
pub fn incr_by_float(cur: &[u8], incr: &[u8]) -> Result<Vec<u8>, CmdError> {
    let a = LongDouble::parse(cur).ok_or(NOT_FLOAT)?;
    let b = LongDouble::parse(incr).ok_or(NOT_FLOAT)?;
    let sum = a.checked_add(b).ok_or(NON_FINITE)?;
    Ok(sum.to_human())
}

/// `HINCRBYFLOAT` arithmetic: adds `incr` to the field value `cur` (`None`
/// when the field is missing, which counts as 0).
///
/// Upstream checks in this order, with these texts: the increment must
/// parse (`ERR value is not a valid float`) and be finite (`ERR value is NaN
/// or Infinity`); the stored value must parse (`ERR hash value is not a
/// float`; a stored `inf` parses); the sum must be finite (`ERR increment
/// would produce NaN or Infinity`).
pub fn hash_incr_by_float(cur: Option<&[u8]>, incr: &[u8]) -> Result<Vec<u8>, CmdError> {
    let b = LongDouble::parse(incr).ok_or(NOT_FLOAT)?;
    if matches!(b, LongDouble::Inf { .. }) {
        return Err(CmdError::fixed("ERR value is NaN or Infinity"));
    }
    let a = match cur {
        None => LongDouble::zero(false),
        Some(v) => LongDouble::parse(v).ok_or(CmdError::fixed("ERR hash value is not a float"))?,
    };
    let sum = a.checked_add(b).ok_or(NON_FINITE)?;
    Ok(sum.to_human())
}

/// A value of the x87 80-bit extended type.
///
/// Finite values are `mant × 2^exp`, kept canonical: either `mant` has its
/// top bit set (normal), or `exp == MIN_EXP` (subnormal), or `mant == 0`
/// (a zero, which still carries its sign).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LongDouble {
    /// A finite value (including signed zeros).
    Finite {
        /// Sign bit.
        neg: bool,
        /// Mantissa with explicit integer bit.
        mant: u64,
        /// Binary exponent of the mantissa's least significant bit.
        exp: i32,
    },
    /// Positive or negative infinity (only from the literal `inf` text).
    Inf {
        /// Sign bit.
        neg: bool,
    },
}

impl LongDouble {
    /// Parses like upstream's `string2ld`: `None` for text upstream
    /// rejects (NaN included); literal infinities are accepted.
    pub fn parse(s: &[u8]) -> Option<LongDouble> {
        if s.is_empty() || s.len() >= MAX_LONG_DOUBLE_CHARS {
            return None;
        }
        if s.first().is_some_and(|&c| is_c_space(c)) {
            return None;
        }
        // `strtold` stops at a NUL, and upstream insists that it consumed
        // the whole argument, so any NUL byte makes the text invalid.
        if s.contains(&0) {
            return None;
        }
        let (neg, body) = match s.split_first() {
            Some((b'-', rest)) => (true, rest),
            Some((b'+', rest)) => (false, rest),
            _ => (false, s),
        };
        if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
            return Some(LongDouble::Inf { neg });
        }
        let is_hex = body.len() >= 2
            && body.first() == Some(&b'0')
            && matches!(body.get(1), Some(b'x') | Some(b'X'));
        let v = if is_hex {
            parse_hex(neg, body.get(2..).unwrap_or_default())?
        } else {
            parse_dec(neg, body)?
        };
        Some(v)
    }

    /// A signed zero.
    fn zero(neg: bool) -> LongDouble {
        LongDouble::Finite {
            neg,
            mant: 0,
            exp: 0,
        }
    }

    /// `self + other` rounded to nearest-even; `None` when the result is an
    /// infinity or NaN.
    pub fn checked_add(self, other: LongDouble) -> Option<LongDouble> {
        let (
            LongDouble::Finite {
                neg: na,
                mant: ma,
                exp: ea,
            },
            LongDouble::Finite {
                neg: nb,
                mant: mb,
                exp: eb,
            },
        ) = (self, other)
        else {
            return None;
        };
        if ma == 0 && mb == 0 {
            // IEEE: -0 + -0 = -0, any other mix of zeros is +0.
            return Some(LongDouble::zero(na && nb));
        }
        if ma == 0 {
            return Some(other);
        }
        if mb == 0 {
            return Some(self);
        }
        // Align both on the smaller exponent; the shifted operand is at most
        // ~33 000 bits wide, so the exact sum is cheap to form.
        let e = ea.min(eb);
        let a = Big::from_u64(ma).shl(usize::try_from(i64::from(ea) - i64::from(e)).ok()?);
        let b = Big::from_u64(mb).shl(usize::try_from(i64::from(eb) - i64::from(e)).ok()?);
        let (neg, n) = if na == nb {
            let mut s = a;
            s.add(&b);
            (na, s)
        } else {
            match a.cmp(&b) {
                Ordering::Equal => return Some(LongDouble::zero(false)),
                Ordering::Greater => {
                    let mut d = a;
                    d.sub(&b);
                    (na, d)
                }
                Ordering::Less => {
                    let mut d = b;
                    d.sub(&a);
                    (nb, d)
                }
            }
        };
        match round(neg, n, i64::from(e)) {
            v @ LongDouble::Finite { .. } => Some(v),
            LongDouble::Inf { .. } => None,
        }
    }

    /// Upstream's "human" text: `%.17Lf`, trailing zeros and dot removed,
    /// `-0` shown as `0`. Infinities print as `inf` / `-inf`.
    pub fn to_human(self) -> Vec<u8> {
        let (neg, mant, exp) = match self {
            LongDouble::Inf { neg: false } => return b"inf".to_vec(),
            LongDouble::Inf { neg: true } => return b"-inf".to_vec(),
            LongDouble::Finite { neg, mant, exp } => (neg, mant, i64::from(exp)),
        };
        // Scale by 10^17 = 5^17 × 2^17 and round to an integer: that integer
        // is exactly the digit string `%.17Lf` prints, without the dot.
        let mut n = Big::from_u64(mant);
        n.mul_small_u64(762_939_453_125); // 5^17
        let shift = exp + 17;
        let scaled = if shift >= 0 {
            n.shl(usize::try_from(shift).unwrap_or(0))
        } else {
            let t = usize::try_from(-shift).unwrap_or(0);
            let half = n.bit(t - 1);
            let sticky = n.any_below(t - 1);
            let mut q = n.shr(t);
            if half && (sticky || q.bit(0)) {
                q.add(&Big::from_u64(1));
            }
            q
        };
        let mut int_part = scaled;
        let lo = int_part.divmod_small(100_000_000);
        let hi = int_part.divmod_small(1_000_000_000);
        let frac = format!("{:09}{:08}", hi, lo);
        let mut out = Vec::new();
        if neg {
            out.push(b'-');
        }
        out.extend_from_slice(&int_part.to_decimal());
        out.push(b'.');
        out.extend_from_slice(frac.as_bytes());
        while out.last() == Some(&b'0') {
            out.pop();
        }
        if out.last() == Some(&b'.') {
            out.pop();
        }
        if out == b"-0" {
            out = b"0".to_vec();
        }
        out
    }
}

/// `isspace` in the C locale.
fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Parses an optional `strtold` exponent (`e`/`p` already consumed) made of
/// an optional sign and at least one digit; saturates far outside the range
/// that matters. `None` when no digit follows (the exponent letter is then
/// not part of the number, which makes the whole text invalid here).
fn parse_exp(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        v = (v * 10 + i64::from(d - b'0')).min(1_000_000_000);
    }
    Some(if neg { -v } else { v })
}

/// Splits `digits[.digits]` into (integer digits, fraction digits, rest).
/// `is_digit` decides the digit class (decimal or hexadecimal).
fn split_mantissa(s: &[u8], is_digit: fn(&u8) -> bool) -> (&[u8], &[u8], &[u8]) {
    let int_len = s.iter().take_while(|c| is_digit(c)).count();
    let (int, rest) = s.split_at(int_len);
    match rest.split_first() {
        Some((b'.', after)) => {
            let frac_len = after.iter().take_while(|c| is_digit(c)).count();
            let (frac, rest) = after.split_at(frac_len);
            (int, frac, rest)
        }
        _ => (int, &[], rest),
    }
}

/// Decimal `strtold` syntax: `digits[.digits][(e|E)[sign]digits]`, with at
/// least one digit in the mantissa; the whole slice must be consumed.
fn parse_dec(neg: bool, s: &[u8]) -> Option<LongDouble> {
    let (int, frac, rest) = split_mantissa(s, u8::is_ascii_digit);
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let exp10 = match rest.split_first() {
        None => 0,
        Some((b'e' | b'E', e)) => parse_exp(e)?,
        Some(_) => return None,
    };
    let digits = int.iter().chain(frac.iter());
    let sig: Vec<u8> = digits
        .skip_while(|&&d| d == b'0')
        .map(|&d| d - b'0')
        .collect();
    if sig.is_empty() {
        return Some(LongDouble::zero(neg));
    }
    let frac_len = i64::try_from(frac.len()).ok()?;
    let nd = i64::try_from(sig.len()).ok()?;
    // value = D × 10^k with 10^(mag-1) <= value < 10^mag.
    let k = exp10 - frac_len;
    let mag = k + nd;
    if mag - 1 > 4933 {
        return None; // >= 1e4933: overflow, ERANGE.
    }
    if mag < -4952 {
        return None; // < 1e-4952, under half the least subnormal: ERANGE to 0.
    }
    let mut d = Big::default();
    for chunk in sig.chunks(9) {
        let mut mult = 1u32;
        let mut add = 0u32;
        for &x in chunk {
            mult *= 10;
            add = add * 10 + u32::from(x);
        }
        d.mul_small(mult);
        d.add_small(add);
    }
    let v = if k >= 0 {
        let mut k = k;
        while k >= 9 {
            d.mul_small(1_000_000_000);
            k -= 9;
        }
        for _ in 0..k {
            d.mul_small(10);
        }
        round(neg, d, 0)
    } else {
        // D / 10^m = D / (5^m × 2^m). Pre-scale by 2^s so the integer
        // quotient by 5^m has at least 66 bits, then keep the remainder as
        // a sticky bit below it: enough for one correct rounding.
        let m = -k;
        let five_bits = m * 233 / 100 + 1; // >= log2(5^m)
        let s = (66 + five_bits + 1 - i64::try_from(d.bit_len()).ok()?).max(0);
        let mut n = d.shl(usize::try_from(s).ok()?);
        let mut inexact = false;
        let mut left = m;
        while left >= 13 {
            inexact |= n.divmod_small(1_220_703_125) != 0; // 5^13
            left -= 13;
        }
        let mut last = 1u32;
        for _ in 0..left {
            last *= 5;
        }
        inexact |= n.divmod_small(last) != 0;
        let mut n = n.shl(1);
        if inexact {
            n.add_small(1);
        }
        round(neg, n, -s - m - 1)
    };
    finite_or_erange(v)
}

/// Hexadecimal `strtold` syntax after `0x`: `hex[.hex][(p|P)[sign]digits]`
/// with at least one hex digit; the whole slice must be consumed.
fn parse_hex(neg: bool, s: &[u8]) -> Option<LongDouble> {
    let (int, frac, rest) = split_mantissa(s, u8::is_ascii_hexdigit);
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let exp2 = match rest.split_first() {
        None => 0,
        Some((b'p' | b'P', e)) => parse_exp(e)?,
        Some(_) => return None,
    };
    let mut n = Big::default();
    let mut any = false;
    for &c in int.iter().chain(frac.iter()) {
        let v = char::from(c).to_digit(16).unwrap_or(0);
        if any || v != 0 {
            any = true;
            n.mul_small(16);
            n.add_small(v);
        }
    }
    if n.is_zero() {
        return Some(LongDouble::zero(neg));
    }
    let e = exp2 - 4 * i64::try_from(frac.len()).ok()?;
    let top = e + i64::try_from(n.bit_len()).ok()?;
    if !(MIN_EXP - 1..=MAX_BITS + 1).contains(&top) {
        return None; // Far outside the range: ERANGE either way.
    }
    finite_or_erange(round(neg, n, e))
}

/// `strtold` results that `string2ld` rejects because of `ERANGE`: an
/// overflow to infinity or a non-zero input that rounded to zero.
fn finite_or_erange(v: LongDouble) -> Option<LongDouble> {
    match v {
        LongDouble::Finite { mant: 0, .. } | LongDouble::Inf { .. } => None,
        v => Some(v),
    }
}

/// Rounds the exact value `(-1)^neg × n × 2^e` to the extended format,
/// nearest-even, with gradual underflow and overflow to infinity.
///
/// When the caller's `n` is itself truncated, it must carry a sticky bit
/// (set when anything was dropped) below at least one exact bit beyond the
/// 64 kept, which the callers guarantee by keeping 66 quotient bits.
fn round(neg: bool, n: Big, e: i64) -> LongDouble {
    if n.is_zero() {
        return LongDouble::zero(neg);
    }
    let len = i64::try_from(n.bit_len()).unwrap_or(i64::MAX);
    let shift = (len - MANT_BITS).max(MIN_EXP - e);
    let (mant, mut exp) = if shift > 0 {
        let t = usize::try_from(shift).unwrap_or(usize::MAX);
        let half = n.bit(t - 1);
        let sticky = n.any_below(t - 1);
        let q = n.shr(t);
        let mut m = q.low_u64();
        let mut exp = e + shift;
        if half && (sticky || m & 1 == 1) {
            match m.checked_add(1) {
                Some(v) => m = v,
                None => {
                    // Carried out of the 64-bit mantissa.
                    m = 1 << 63;
                    exp += 1;
                }
            }
        }
        (m, exp)
    } else {
        let t = usize::try_from(-shift).unwrap_or(0);
        (n.shl(t).low_u64(), e + shift)
    };
    if mant == 0 {
        return LongDouble::zero(neg);
    }
    let bits = 64 - i64::from(mant.leading_zeros());
    if bits + exp > MAX_BITS {
        return LongDouble::Inf { neg };
    }
    if mant >> 63 == 0 {
        // Subnormal: the exponent is pinned at the minimum.
        exp = MIN_EXP;
    }
    LongDouble::Finite {
        neg,
        mant,
        exp: i32::try_from(exp).unwrap_or(i32::MIN),
    }
}

/// Unsigned big integer, little-endian base 2^32 limbs, no high zero limbs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Big {
    limbs: Vec<u32>,
}

impl Big {
    fn from_u64(v: u64) -> Big {
        let mut b = Big {
            limbs: vec![v as u32, (v >> 32) as u32],
        };
        b.trim();
        b
    }

    fn trim(&mut self) {
        while self.limbs.last() == Some(&0) {
            self.limbs.pop();
        }
    }

    fn is_zero(&self) -> bool {
        self.limbs.is_empty()
    }

    fn bit_len(&self) -> usize {
        match self.limbs.last() {
            None => 0,
            Some(&top) => self.limbs.len() * 32 - top.leading_zeros() as usize,
        }
    }

    /// Bit `i` (0 = least significant).
    fn bit(&self, i: usize) -> bool {
        self.limbs
            .get(i / 32)
            .is_some_and(|&l| (l >> (i % 32)) & 1 == 1)
    }

    /// Whether any bit strictly below position `i` is set.
    fn any_below(&self, i: usize) -> bool {
        let full = i / 32;
        if self.limbs.iter().take(full).any(|&l| l != 0) {
            return true;
        }
        let rem = i % 32;
        rem != 0
            && self
                .limbs
                .get(full)
                .is_some_and(|&l| l & ((1u32 << rem) - 1) != 0)
    }

    /// The low 64 bits.
    fn low_u64(&self) -> u64 {
        let lo = u64::from(self.limbs.first().copied().unwrap_or(0));
        let hi = u64::from(self.limbs.get(1).copied().unwrap_or(0));
        lo | (hi << 32)
    }

    fn mul_small(&mut self, m: u32) {
        let mut carry = 0u64;
        for l in self.limbs.iter_mut() {
            let v = u64::from(*l) * u64::from(m) + carry;
            *l = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.limbs.push(carry as u32);
        }
        self.trim();
    }

    /// Multiplies by a constant that may exceed a limb, as two small steps.
    fn mul_small_u64(&mut self, m: u64) {
        let lo = (m & 0xffff_ffff) as u32;
        let hi = (m >> 32) as u32;
        if hi == 0 {
            self.mul_small(lo);
        } else {
            let mut h = self.clone();
            h.mul_small(hi);
            let h = h.shl(32);
            self.mul_small(lo);
            self.add(&h);
        }
    }

    fn add_small(&mut self, a: u32) {
        let mut carry = u64::from(a);
        for l in self.limbs.iter_mut() {
            if carry == 0 {
                break;
            }
            let v = u64::from(*l) + carry;
            *l = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.limbs.push(carry as u32);
        }
    }

    fn add(&mut self, o: &Big) {
        if self.limbs.len() < o.limbs.len() {
            self.limbs.resize(o.limbs.len(), 0);
        }
        let mut carry = 0u64;
        let mut other = o.limbs.iter();
        for l in self.limbs.iter_mut() {
            let v = u64::from(*l) + u64::from(other.next().copied().unwrap_or(0)) + carry;
            *l = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.limbs.push(carry as u32);
        }
    }

    /// `self -= o`; requires `self >= o`.
    fn sub(&mut self, o: &Big) {
        let mut borrow = 0i64;
        let mut other = o.limbs.iter();
        for l in self.limbs.iter_mut() {
            let mut v = i64::from(*l) - i64::from(other.next().copied().unwrap_or(0)) - borrow;
            borrow = 0;
            if v < 0 {
                v += 1 << 32;
                borrow = 1;
            }
            *l = v as u32;
        }
        self.trim();
    }

    fn cmp(&self, o: &Big) -> Ordering {
        self.limbs
            .len()
            .cmp(&o.limbs.len())
            .then_with(|| self.limbs.iter().rev().cmp(o.limbs.iter().rev()))
    }

    fn shl(&self, bits: usize) -> Big {
        if self.is_zero() {
            return Big::default();
        }
        let (words, rem) = (bits / 32, bits % 32);
        let mut limbs = vec![0u32; words];
        limbs.reserve(self.limbs.len() + 1);
        let mut carry = 0u32;
        for &l in &self.limbs {
            if rem == 0 {
                limbs.push(l);
            } else {
                limbs.push((l << rem) | carry);
                carry = l >> (32 - rem);
            }
        }
        if carry != 0 {
            limbs.push(carry);
        }
        let mut b = Big { limbs };
        b.trim();
        b
    }

    fn shr(&self, bits: usize) -> Big {
        let (words, rem) = (bits / 32, bits % 32);
        let src = self.limbs.get(words..).unwrap_or_default();
        let mut limbs = Vec::with_capacity(src.len());
        for (i, &l) in src.iter().enumerate() {
            let next = src.get(i + 1).copied().unwrap_or(0);
            limbs.push(if rem == 0 {
                l
            } else {
                (l >> rem) | (next << (32 - rem))
            });
        }
        let mut b = Big { limbs };
        b.trim();
        b
    }

    /// `self /= d`, returning the remainder; `d` must be non-zero.
    fn divmod_small(&mut self, d: u32) -> u32 {
        let d = u64::from(d.max(1));
        let mut rem = 0u64;
        for l in self.limbs.iter_mut().rev() {
            let cur = (rem << 32) | u64::from(*l);
            *l = (cur / d) as u32;
            rem = cur % d;
        }
        self.trim();
        rem as u32
    }

    /// Decimal digits, `0` for zero.
    fn to_decimal(&self) -> Vec<u8> {
        let mut n = self.clone();
        let mut groups = Vec::new();
        while !n.is_zero() {
            groups.push(n.divmod_small(1_000_000_000));
        }
        let mut out = String::new();
        match groups.split_last() {
            None => out.push('0'),
            Some((top, rest)) => {
                out.push_str(&top.to_string());
                for g in rest.iter().rev() {
                    out.push_str(&format!("{g:09}"));
                }
            }
        }
        out.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const E_FLOAT: &str = "ERR value is not a valid float";
    const E_NAN: &str = "ERR increment would produce NaN or Infinity";

    /// (stored value, increment, reply) recorded from the reference
    /// redis-server 7.0.15 (x86-64). A reply written `#len:head...tail`
    /// abbreviates a long integer text.
    const VECTORS: &[(&str, &str, &str)] = &[
        ("10.5", "0.1", "10.6"),
        ("0", "0.1", "0.1"),
        ("0.1", "0.2", "0.3"),
        ("100000", "0.1", "100000.10000000000000142"),
        ("5000.6", "5", "5005.60000000000000009"),
        (
            "1",
            "1e400",
            "#401:100000000000000000002818...2497430221946880",
        ),
        ("3", "inf", E_NAN),
        ("abc", "1", E_FLOAT),
        ("1", "abc", E_FLOAT),
        ("-0.0", "0", "0"),
        ("-0", "-0", "0"),
        ("0", "-0", "0"),
        ("-1e-20", "0", "0"),
        ("1e-4940", "0", "0"),
        ("0x1p-16445", "0", "0"),
        ("0x1p-16446", "0", E_FLOAT),
        ("0x1p-18", "0", "0.00000381469726562"),
        ("0x3p-19", "0", "0.00000572204589844"),
        ("1.5", "0x1.8p1", "4.5"),
        ("1e4932", "1e4932", E_NAN),
        (
            "1.18973149535723176502e4932",
            "0",
            "#4933:118973149535723176502126...2086811989770240",
        ),
        ("1.18973149535723176502e4932", "1e4913", E_NAN),
        ("1.18973149535723176508575932662800702e4932", "0", E_FLOAT),
        ("-1.18973149535723176502e4932", "-1e4931", E_NAN),
        ("3.3621031431120935063e-4932", "0", "0"),
        (
            "3.6451995318824746025e-4951",
            "3.6451995318824746025e-4951",
            "0",
        ),
        ("0.1", "-0.1", "0"),
        ("1e-300", "1", "1"),
        ("1e300", "-1e300", "0"),
        (
            "123456789012345678901234567890",
            "0.5",
            "123456789012345678899921813504",
        ),
        ("18446744073709551615", "1", "18446744073709551616"),
        ("9223372036854775807", "1", "9223372036854775808"),
        ("-9223372036854775808", "-1", "-9223372036854775809"),
        ("1e20", "0.1", "100000000000000000000"),
        ("0.3333333333333333333333", "0.6666666666666666666667", "1"),
        ("2.5e-17", "0", "0.00000000000000002"),
        ("1.5e-17", "0", "0.00000000000000002"),
        ("5e-18", "0", "0"),
        ("5.000000000000001e-18", "0", "0.00000000000000001"),
        ("-5e-18", "0", "0"),
        ("-2.5e-17", "0", "-0.00000000000000002"),
        ("1e", "1", E_FLOAT),
        (".5", ".5", "1"),
        ("5.", "5.", "10"),
        ("+1", "+1", "2"),
        (" 1", "1", E_FLOAT),
        ("1 ", "1", E_FLOAT),
        ("0x10", "0X.8P1", "17"),
        ("nan", "1", E_FLOAT),
        ("1", "-inf", E_NAN),
        ("infinity", "1", E_NAN),
        ("1e5000", "1", E_FLOAT),
        ("1e-5000", "1", E_FLOAT),
        ("0e-99999", "7", "7"),
        ("00001.2500000", "-0.25", "1"),
        (
            "1.7976931348623157e308",
            "1.7976931348623157e308",
            "#309:359538626972463139991842...4933726679072768",
        ),
        ("4.9406564584124654e-324", "1e-330", "0"),
        ("12345.6789", "-12345.6789", "0"),
        ("12345.6789", "-12345.6788", "0.00009999999999977"),
        (
            "99999999999999999999",
            "0.00000000000000001",
            "100000000000000000000",
        ),
        ("0.99999999999999999", "0.000000000000000005", "1"),
        ("1e-17", "4e-18", "0.00000000000000001"),
        ("7.77", "-2.22e-1", "7.548"),
        ("1e30", "-1e-30", "1000000000000000000024696061952"),
        (
            "3.14159265358979323846264338327950288",
            "2.71828182845904523536028747135266250",
            "5.85987448204883847",
        ),
        ("1e-4950", "-1e-4950", "0"),
        ("6e-4951", "0", "0"),
        ("1e-4951", "1e-4951", E_FLOAT),
        (
            "0x1.fffffffffffffffep16383",
            "0",
            "#4933:118973149535723176502126...2086811989770240",
        ),
        ("0x1.fffffffffffffffep16383", "0x1p16319", E_NAN),
        (
            "0x1.fffffffffffffffep16383",
            "0x1p16318",
            "#4933:118973149535723176502126...2086811989770240",
        ),
        ("-1e4932", "-1e4932", E_NAN),
        ("10", "-10", "0"),
        ("-10", "10", "0"),
        ("-3.5", "1.25", "-2.25"),
        ("0.1", "0.7", "0.8"),
        (
            "1234567.1234567",
            "7654321.7654321",
            "8888888.8888888000001316",
        ),
        (
            "-2.1035e-4169",
            "71764.00861337851",
            "71764.00861337850999888",
        ),
        (
            "8.2e-1443",
            "-132708.6326752283",
            "-132708.63267522830000189",
        ),
        (
            "-818573.9733122699",
            "-7.523960777007088652e-1303",
            "-818573.97331226990002051",
        ),
        (
            "-9085238639320573420.6252221",
            "1800088482.658218672219201984",
            "-9085238637520484938",
        ),
        (
            "-6.385472401521250063183e4568",
            "601703882578.9012421865441972121655",
            "#4570:-63854724015212500633623...7711061280227328",
        ),
        (
            "6833645083504639584135.9362026906",
            "149",
            "6833645083504639584256",
        ),
        (
            "4.5889057888e-243",
            "7387.21390406252590",
            "7387.21390406252589989",
        ),
        (
            "0x3d91b80a097c97p-11414",
            "5.781883429807097643e+21",
            "5781883429807097643008",
        ),
        (
            "-2.9964322456166332386829e3177",
            "-894619369758466.509059210",
            "#3179:-29964322456166332387597...2414551432364032",
        ),
        (
            "-366.811529381761590249651",
            "4.332555888e+25",
            "43325558880000000001048576",
        ),
        (
            "189203426030111.9107028356925881720",
            "-425136.1470022765",
            "189203425604975.763702392578125",
        ),
        (
            "-2.181005937335e+24",
            "-1.01625e4042",
            "#4044:-10162499999999999999733...8969644030885888",
        ),
        (
            "-726147.7139699484",
            "-4.43157870972205714e1844",
            "#1846:-44315787097220571399223...6766077461921792",
        ),
        (
            "0x7625f52ddf5dp-6610",
            "-697403.2337671986",
            "-697403.23376719859999184",
        ),
        (
            "4733222247073221.17581913",
            "2.19624870514e260",
            "#261:219624870513999999998562...7372540405415936",
        ),
        (
            "0x29e1a8ef4f341e07ap-12962",
            "9.037724416630442902942377e4203",
            "#4204:903772441663044290308185...7333020898426880",
        ),
        (
            "-2.117599680493e2929",
            "1129805.7392492",
            "#2931:-21175996804929999998895...3854497358217216",
        ),
        (
            "-319892.6955353132",
            "-999533.4361972867",
            "-1319426.13173259990003316",
        ),
        ("-797071.263954807", "-9e-1553", "-797071.26395480700000462"),
        (
            "423453643803100082238.8746550756401336488",
            "-23863.881929178373",
            "423453643803100058368",
        ),
    ];

    fn run(a: &[u8], b: &[u8]) -> String {
        match incr_by_float(a, b) {
            Ok(v) => String::from_utf8(v).unwrap(),
            Err(e) => format!("{e:?}"),
        }
    }

    #[test]
    fn reference_vectors() {
        for &(a, b, want) in VECTORS {
            let got = match incr_by_float(a.as_bytes(), b.as_bytes()) {
                Ok(v) => String::from_utf8(v).unwrap(),
                Err(e) => {
                    let msg = format!("{e:?}");
                    assert!(
                        (want == E_FLOAT || want == E_NAN) && msg.contains(want),
                        "{a} + {b}: got error {msg}, want {want}"
                    );
                    continue;
                }
            };
            if let Some(abbr) = want.strip_prefix('#') {
                let (len, rest) = abbr.split_once(':').unwrap();
                let (head, tail) = rest.split_once("...").unwrap();
                assert_eq!(got.len(), len.parse::<usize>().unwrap(), "{a} + {b}");
                assert!(
                    got.starts_with(head) && got.ends_with(tail),
                    "{a} + {b}: {got}"
                );
            } else {
                assert_eq!(got, want, "{a} + {b}");
            }
        }
    }

    #[test]
    fn embedded_nul_and_length_limit() {
        // Recorded from the reference: NUL bytes are never accepted, and
        // 5120 bytes is one too many.
        assert!(run(b"1\0abc", b"1").contains(E_FLOAT));
        assert!(run(b"\0", b"1").contains(E_FLOAT));
        assert!(run(b"1", b"2\0x").contains(E_FLOAT));
        assert!(run(b"\x0b1", b"1").contains(E_FLOAT));
        let long = vec![b'1'; MAX_LONG_DOUBLE_CHARS];
        assert!(run(&long, b"0").contains(E_FLOAT));
        let mut ok = vec![b'0'; MAX_LONG_DOUBLE_CHARS - 2];
        ok.push(b'7');
        assert_eq!(run(&ok, b"0"), "7");
    }

    #[test]
    fn hash_variant_errors() {
        // Recorded from the reference's HINCRBYFLOAT.
        let h =
            |a: Option<&str>, b: &str| match hash_incr_by_float(a.map(str::as_bytes), b.as_bytes())
            {
                Ok(v) => String::from_utf8(v).unwrap(),
                Err(e) => format!("{e:?}"),
            };
        assert!(h(Some("abc"), "1").contains("ERR hash value is not a float"));
        assert!(h(Some("abc"), "x").contains(E_FLOAT));
        assert!(h(Some("abc"), "inf").contains("ERR value is NaN or Infinity"));
        assert!(h(Some("abc"), "nan").contains(E_FLOAT));
        assert!(h(Some("inf"), "1").contains(E_NAN));
        assert!(h(Some("1.18973149535723176502e4932"), "1e4931").contains(E_NAN));
        assert_eq!(h(Some("1"), "0.1"), "1.1");
        assert_eq!(h(Some("-0.0"), "0"), "0");
        assert_eq!(h(None, "1e400").len(), 401);
    }

    #[test]
    fn round_trip_of_own_output() {
        // Re-parsing the printed text of a sum must not drift for
        // integers within the mantissa.
        assert_eq!(run(b"18446744073709551615", b"0"), "18446744073709551615");
        assert_eq!(run(b"-0", b"-0"), "0");
    }
}
