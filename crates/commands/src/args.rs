//! Argument parsing shared by handlers, with upstream's error replies.
//!
//! [`Args`] is a cursor over a command's arguments: handlers take typed
//! values off the front (`key`, `bytes`, `int`, `float`, `eat`…) and call
//! [`Args::finish`] when nothing more may follow. It borrows the argument
//! vector and allocates nothing, so plain commands pay only an index.
//!
//! The free functions (`int`, `int_or`, `is`, `which`, `parse_f64`,
//! `parse_timeout`, `scan_cursor`) parse one argument already in hand.

use bytes::Bytes;
use redis_common::glob::string_match;
use redis_storage::string::parse_i64_strict;

use redis_engine::error::{CmdError, NOT_FLOAT, NOT_INTEGER, SYNTAX};

/// A cursor over command arguments.
///
/// Every `next`-style method that finds no argument left answers
/// `ERR syntax error`, which is what upstream replies when an option misses
/// its value; the typed ones answer upstream's parse errors otherwise.
#[derive(Clone, Copy, Debug)]
pub struct Args<'a> {
    argv: &'a [Bytes],
    pos: usize,
}

impl<'a> Args<'a> {
    /// A cursor at the start of `argv` (usually `&argv[1..]` or after the key).
    pub fn new(argv: &'a [Bytes]) -> Args<'a> {
        Args { argv, pos: 0 }
    }

    /// True when every argument was taken.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.argv.len()
    }

    /// How many arguments are left.
    pub fn len(&self) -> usize {
        self.argv.len().saturating_sub(self.pos)
    }

    /// How many arguments were taken (the offset of the next one in the
    /// slice the cursor was made from).
    pub fn taken(&self) -> usize {
        self.pos
    }

    /// The arguments not taken yet.
    pub fn remaining(&self) -> &'a [Bytes] {
        self.argv.get(self.pos..).unwrap_or_default()
    }

    /// The next argument, not taken.
    pub fn peek(&self) -> Option<&'a Bytes> {
        self.argv.get(self.pos)
    }

    /// Takes the next argument if there is one.
    pub fn next_opt(&mut self) -> Option<&'a Bytes> {
        let a = self.argv.get(self.pos)?;
        self.pos += 1;
        Some(a)
    }

    /// Takes the next argument (`ERR syntax error` if none).
    pub fn bytes(&mut self) -> Result<&'a Bytes, CmdError> {
        self.next_opt().ok_or(SYNTAX)
    }

    /// Takes a key name; the same as [`Args::bytes`], named for reading.
    pub fn key(&mut self) -> Result<&'a Bytes, CmdError> {
        self.bytes()
    }

    /// Takes `n` arguments at once (`ERR syntax error` if fewer are left).
    pub fn take(&mut self, n: usize) -> Result<&'a [Bytes], CmdError> {
        let end = self.pos.checked_add(n).ok_or(SYNTAX)?;
        let s = self.argv.get(self.pos..end).ok_or(SYNTAX)?;
        self.pos = end;
        Ok(s)
    }

    /// Takes everything that is left.
    pub fn rest(&mut self) -> &'a [Bytes] {
        let s = self.remaining();
        self.pos = self.argv.len();
        s
    }

    /// Takes a signed 64-bit integer (`ERR value is not an integer or out
    /// of range`).
    pub fn int(&mut self) -> Result<i64, CmdError> {
        self.int_or(NOT_INTEGER)
    }

    /// Takes a signed 64-bit integer, answering `e` when malformed.
    pub fn int_or(&mut self, e: CmdError) -> Result<i64, CmdError> {
        let a = self.bytes()?;
        parse_i64_strict(a).ok_or(e)
    }

    /// Takes a float like upstream's `getDoubleFromObject` (`ERR value is
    /// not a valid float`).
    pub fn float(&mut self) -> Result<f64, CmdError> {
        self.float_or(NOT_FLOAT)
    }

    /// Takes a float, answering `e` when malformed.
    pub fn float_or(&mut self, e: CmdError) -> Result<f64, CmdError> {
        let a = self.bytes()?;
        parse_f64(a).ok_or(e)
    }

    /// True if the next argument is `kw` (any case); nothing is taken.
    pub fn at(&self, kw: &str) -> bool {
        self.peek().is_some_and(|a| is(a, kw))
    }

    /// Takes the next argument if it is `kw` (any case).
    pub fn eat(&mut self, kw: &str) -> bool {
        let hit = self.at(kw);
        if hit {
            self.pos += 1;
        }
        hit
    }

    /// Takes `kw` and its value when the next argument is `kw` *and* a value
    /// follows it, as upstream's `!strcasecmp(opt, kw) && moreargs`; a bare
    /// trailing `kw` is left in place (most callers then answer a syntax
    /// error for it).
    pub fn eat_with_value(&mut self, kw: &str) -> Option<&'a Bytes> {
        if self.len() >= 2 && self.at(kw) {
            let v = self.argv.get(self.pos + 1);
            self.pos += 2;
            v
        } else {
            None
        }
    }

    /// Takes the next argument if it is one of `kws` (any case) and returns
    /// its index in `kws`.
    pub fn keyword(&mut self, kws: &[&str]) -> Option<usize> {
        let i = which(self.peek()?, kws)?;
        self.pos += 1;
        Some(i)
    }

    /// Succeeds only if every argument was taken (`ERR syntax error`).
    pub fn finish(&self) -> Result<(), CmdError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(SYNTAX)
        }
    }
}

/// The options of SCAN, HSCAN, SSCAN and ZSCAN:
/// `[MATCH pattern] [COUNT count] [TYPE type]` (TYPE for SCAN only).
///
/// Parsed like upstream's `scanGenericCommand`: options in any order, the
/// last one of a kind wins; a malformed COUNT is `ERR value is not an
/// integer or out of range`, a COUNT below 1, an unknown option or an
/// option without its value `ERR syntax error`, in argument order.
#[derive(Debug)]
pub struct ScanOpts<'a> {
    /// The MATCH pattern; `None` for none or `*` (upstream skips matching).
    pub pattern: Option<&'a [u8]>,
    /// The COUNT hint (default 10).
    pub count: usize,
    /// The TYPE filter (SCAN only).
    pub type_name: Option<&'a [u8]>,
}

impl<'a> ScanOpts<'a> {
    /// Parses the options after the cursor; `with_type` admits TYPE.
    pub fn parse(mut a: Args<'a>, with_type: bool) -> Result<ScanOpts<'a>, CmdError> {
        let mut o = ScanOpts {
            pattern: None,
            count: 10,
            type_name: None,
        };
        while !a.is_empty() {
            if let Some(v) = a.eat_with_value("count") {
                let c = int(v)?;
                if c < 1 {
                    return Err(SYNTAX);
                }
                o.count = usize::try_from(c).unwrap_or(usize::MAX);
            } else if let Some(v) = a.eat_with_value("match") {
                o.pattern = (v.as_ref() != b"*").then_some(v.as_ref());
            } else if let Some(v) = with_type.then(|| a.eat_with_value("type")).flatten() {
                o.type_name = Some(v.as_ref());
            } else {
                return Err(SYNTAX);
            }
        }
        Ok(o)
    }

    /// True if `elem` passes the MATCH filter.
    pub fn matches(&self, elem: &[u8]) -> bool {
        self.pattern.is_none_or(|p| string_match(p, elem, false))
    }
}

/// The tail `numkeys key [key ...] <where> [COUNT count]` of LMPOP, BLMPOP,
/// ZMPOP and BZMPOP (upstream `mpopGenericCommand`'s parsing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mpop<'a> {
    /// The keys, in order.
    pub keys: &'a [Bytes],
    /// Which of the two `<where>` keywords was given (0 or 1).
    pub side: usize,
    /// Elements to pop at most (1 without COUNT).
    pub count: usize,
}

/// `ERR numkeys should be greater than 0`.
pub const MPOP_NUMKEYS: CmdError = CmdError::fixed("ERR numkeys should be greater than 0");
/// `ERR count should be greater than 0`.
pub const MPOP_COUNT: CmdError = CmdError::fixed("ERR count should be greater than 0");

impl<'a> Mpop<'a> {
    /// Parses from `numkeys` on; `wheres` are the two side keywords
    /// (`["left", "right"]` or `["min", "max"]`). A numkeys beyond the
    /// arguments, an unknown side, a repeated or bare COUNT are syntax
    /// errors.
    pub fn parse(mut a: Args<'a>, wheres: [&str; 2]) -> Result<Mpop<'a>, CmdError> {
        let numkeys = a.int_or(MPOP_NUMKEYS)?;
        if numkeys < 1 {
            return Err(MPOP_NUMKEYS);
        }
        // The keys must leave room for the side keyword.
        let numkeys = usize::try_from(numkeys).map_err(|_| SYNTAX)?;
        if numkeys >= a.len() {
            return Err(SYNTAX);
        }
        let keys = a.take(numkeys)?;
        let side = a.keyword(&wheres).ok_or(SYNTAX)?;
        let mut count = None;
        while !a.is_empty() {
            match a.eat_with_value("count") {
                Some(v) if count.is_none() => {
                    let c = int_or(v, MPOP_COUNT)?;
                    if c < 1 {
                        return Err(MPOP_COUNT);
                    }
                    count = Some(usize::try_from(c).unwrap_or(usize::MAX));
                }
                _ => return Err(SYNTAX),
            }
        }
        Ok(Mpop {
            keys,
            side,
            count: count.unwrap_or(1),
        })
    }
}

/// Parses a `*SCAN` cursor like upstream (`strtoull` over the whole
/// argument): no leading space, an optional sign (a negative value wraps
/// modulo 2^64), decimal digits; the empty string is cursor 0.
pub fn scan_cursor(a: &[u8]) -> Result<u64, CmdError> {
    const INVALID_CURSOR: CmdError = CmdError::fixed("ERR invalid cursor");
    if a.is_empty() {
        return Ok(0);
    }
    let (neg, digits) = match a.first() {
        Some(b'-') => (true, a.get(1..).unwrap_or_default()),
        Some(b'+') => (false, a.get(1..).unwrap_or_default()),
        _ => (false, a),
    };
    if digits.is_empty() {
        return Err(INVALID_CURSOR);
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return Err(INVALID_CURSOR);
        }
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(c - b'0')))
            .ok_or(INVALID_CURSOR)?;
    }
    Ok(if neg { v.wrapping_neg() } else { v })
}

/// Parses an integer argument (`ERR value is not an integer or out of range`).
pub fn int(a: &[u8]) -> Result<i64, CmdError> {
    parse_i64_strict(a).ok_or(NOT_INTEGER)
}

/// Parses an integer argument with a custom error.
pub fn int_or(a: &[u8], e: CmdError) -> Result<i64, CmdError> {
    parse_i64_strict(a).ok_or(e)
}

/// Parses a float like upstream's `getDoubleFromObject`: the whole string
/// must be a number, no spaces, NaN rejected; `inf`/`-inf` accepted.
pub fn parse_f64(a: &[u8]) -> Option<f64> {
    if a.is_empty() || a.len() > 5000 {
        return None;
    }
    if a[0].is_ascii_whitespace() || a[a.len() - 1].is_ascii_whitespace() {
        return None;
    }
    let s = std::str::from_utf8(a).ok()?;
    let lower = s.to_ascii_lowercase();
    let v = match lower.as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => {
            // Rust accepts "nan"/"inf" spellings handled above, and
            // rejects hexadecimal floats, which strtod would accept.
            if lower.contains("nan") || lower.contains("inf") {
                return None;
            }
            s.parse::<f64>().ok()?
        }
    };
    if v.is_nan() {
        None
    } else {
        Some(v)
    }
}

/// Case-insensitive comparison of an argument with an option name.
pub fn is(a: &[u8], opt: &str) -> bool {
    a.eq_ignore_ascii_case(opt.as_bytes())
}

/// The index in `kws` of the option name `a` (any case).
pub fn which(a: &[u8], kws: &[&str]) -> Option<usize> {
    kws.iter().position(|k| is(a, k))
}

/// Parses a blocking timeout in seconds (fractions allowed) into an
/// absolute deadline; 0 means forever.
pub fn parse_timeout(arg: &[u8], now: i64) -> Result<Option<i64>, CmdError> {
    let t = crate::args::parse_f64(arg)
        .filter(|v| v.is_finite())
        .ok_or(CmdError::fixed(
            "ERR timeout is not a float or out of range",
        ))?;
    if t < 0.0 {
        return Err(CmdError::fixed("ERR timeout is negative"));
    }
    if t == 0.0 {
        return Ok(None);
    }
    let ms = (t * 1000.0).ceil();
    if ms > 1e15 {
        return Err(CmdError::fixed("ERR timeout is out of range"));
    }
    Ok(Some(now + ms as i64))
}

#[cfg(test)]
#[path = "args_tests.rs"]
mod tests;
