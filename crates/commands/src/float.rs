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
#[path = "float_tests.rs"]
mod tests;
