//! String type API.
//!
//! Upstream keeps three encodings and clients observe them through
//! `OBJECT ENCODING`: `int` for canonical 64-bit integers of at most 20
//! characters, `embstr` for strings of at most 44 bytes, `raw` otherwise and
//! for any string modified in place (`APPEND`, `SETRANGE`). We keep the same
//! distinctions because they are also the right memory trade-offs.

use bytes::Bytes;

/// Longest string stored with the `embstr` encoding.
pub const EMBSTR_MAX: usize = 44;

/// Longest string kept inline in the value itself (no allocation).
pub const INLINE_MAX: usize = 30;

/// A short string stored inside the value: most cache values are short,
/// and a separate allocation would cost more than the string itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InlineStr {
    len: u8,
    data: [u8; INLINE_MAX],
}

impl InlineStr {
    /// `None` if `b` is longer than [`INLINE_MAX`].
    pub fn new(b: &[u8]) -> Option<InlineStr> {
        if b.len() > INLINE_MAX {
            return None;
        }
        let mut data = [0u8; INLINE_MAX];
        data[..b.len()].copy_from_slice(b);
        Some(InlineStr {
            len: b.len() as u8,
            data,
        })
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.data[..usize::from(self.len).min(INLINE_MAX)]
    }
}

/// A string value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StrValue {
    /// A canonical integer (`int`).
    Int(i64),
    /// A short string held inline (`embstr`).
    Inline(InlineStr),
    /// An immutable string (`embstr` when short, `raw` when long).
    Shared(Bytes),
    /// A string modified in place; always reported as `raw`.
    Owned(Vec<u8>),
}

impl StrValue {
    /// Builds the value the way `SET` stores it: integers become `int`,
    /// everything else is copied out of the request buffer so the value does
    /// not pin the (much larger) buffer it arrived in.
    pub fn from_request(data: &Bytes) -> StrValue {
        if let Some(i) = parse_canonical_i64(data) {
            return StrValue::Int(i);
        }
        if let Some(i) = InlineStr::new(data) {
            return StrValue::Inline(i);
        }
        if data.len() >= 32 * 1024 {
            // Big arguments arrive in a buffer of their own (see the request
            // parser), so keeping the slice is zero-copy and pins nothing else.
            StrValue::Shared(data.clone())
        } else {
            StrValue::Shared(Bytes::copy_from_slice(data))
        }
    }

    /// Builds a string that must keep its exact bytes (no `int` conversion).
    pub fn from_vec(v: Vec<u8>) -> StrValue {
        StrValue::Owned(v)
    }

    /// The encoding name for `OBJECT ENCODING`.
    pub fn encoding(&self) -> &'static str {
        match self {
            StrValue::Int(_) => "int",
            StrValue::Inline(_) => "embstr",
            StrValue::Shared(b) if b.len() <= EMBSTR_MAX => "embstr",
            StrValue::Shared(_) | StrValue::Owned(_) => "raw",
        }
    }

    /// Length in bytes of the string form.
    pub fn len(&self) -> usize {
        match self {
            StrValue::Int(i) => int_len(*i),
            StrValue::Inline(i) => i.as_bytes().len(),
            StrValue::Shared(b) => b.len(),
            StrValue::Owned(v) => v.len(),
        }
    }

    /// True for the empty string.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` with the bytes of the string without allocating for the
    /// common encodings.
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            StrValue::Int(i) => {
                let buf = itoa_buf(*i);
                f(buf.as_bytes())
            }
            StrValue::Inline(i) => f(i.as_bytes()),
            StrValue::Shared(b) => f(b),
            StrValue::Owned(v) => f(v),
        }
    }

    /// The bytes as an owned `Bytes` (cheap for `Shared`).
    pub fn to_bytes(&self) -> Bytes {
        match self {
            StrValue::Int(i) => Bytes::from(i.to_string()),
            StrValue::Inline(i) => Bytes::copy_from_slice(i.as_bytes()),
            StrValue::Shared(b) => b.clone(),
            StrValue::Owned(v) => Bytes::copy_from_slice(v),
        }
    }

    /// The integer value, if the string is a valid integer for `INCR`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            StrValue::Int(i) => Some(*i),
            StrValue::Inline(i) => parse_i64_strict(i.as_bytes()),
            StrValue::Shared(b) => parse_i64_strict(b),
            StrValue::Owned(v) => parse_i64_strict(v),
        }
    }

    /// Turns the value into a mutable byte vector (encoding becomes `raw`).
    pub fn make_owned(&mut self) -> &mut Vec<u8> {
        if !matches!(self, StrValue::Owned(_)) {
            let v = self.with_bytes(|b| b.to_vec());
            *self = StrValue::Owned(v);
        }
        match self {
            StrValue::Owned(v) => v,
            // Unreachable: the value was converted to `Owned` just above.
            _ => unreachable!("value converted to Owned above"),
        }
    }

    /// Approximate heap usage.
    pub fn mem_usage(&self) -> usize {
        match self {
            StrValue::Int(_) | StrValue::Inline(_) => 16,
            StrValue::Shared(b) => 16 + b.len(),
            StrValue::Owned(v) => 16 + v.capacity(),
        }
    }
}

/// A small stack buffer holding the decimal form of an integer.
pub struct IntBuf {
    buf: [u8; 20],
    start: usize,
}

impl IntBuf {
    /// The digits.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}

/// "00" "01" … "99": two digits per division in [`itoa_buf`].
const DIGIT_PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Formats `i` without allocating. Every reply's lengths and integers go
/// through here (600 times per `LRANGE 0 599`), so digits are produced two
/// at a time from a table.
#[inline]
pub fn itoa_buf(i: i64) -> IntBuf {
    let mut buf = [0u8; 20];
    // i64::MIN is 19 digits and a sign: exactly the buffer.
    let mut pos = buf.len();
    let mut n = i.unsigned_abs();
    while n >= 100 {
        let d = (n % 100) as usize * 2;
        n /= 100;
        pos -= 2;
        buf[pos..pos + 2].copy_from_slice(&DIGIT_PAIRS[d..d + 2]);
    }
    if n >= 10 {
        let d = n as usize * 2;
        pos -= 2;
        buf[pos..pos + 2].copy_from_slice(&DIGIT_PAIRS[d..d + 2]);
    } else {
        pos -= 1;
        buf[pos] = b'0' + n as u8;
    }
    if i < 0 {
        pos -= 1;
        buf[pos] = b'-';
    }
    IntBuf { buf, start: pos }
}

fn int_len(i: i64) -> usize {
    itoa_buf(i).as_bytes().len()
}

/// Parses a canonical integer: the form that prints back identically
/// (no leading zeros, no `+`, no `-0`), at most 20 characters. This is the
/// test upstream applies before choosing the `int` encoding.
pub fn parse_canonical_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let v = parse_i64_strict(s)?;
    if itoa_buf(v).as_bytes() == s {
        Some(v)
    } else {
        None
    }
}

/// Parses an integer the way upstream's `string2ll` does: optional `-`,
/// digits only, no leading zeros (except "0"), no spaces, no overflow.
pub fn parse_i64_strict(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || digits[0] == b'0' {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if neg {
        if v > (i64::MAX as u64) + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

#[cfg(test)]
#[path = "string_tests.rs"]
mod tests;
