//! Argument parsing shared by handlers, with upstream's error replies.

use bytes::Bytes;
use redis_storage::string::parse_i64_strict;

use redis_engine::error::{CmdError, NOT_FLOAT, NOT_INTEGER};

/// Parses an integer argument (`ERR value is not an integer or out of range`).
pub fn int(a: &[u8]) -> Result<i64, CmdError> {
    parse_i64_strict(a).ok_or(NOT_INTEGER)
}

/// Parses an integer argument with a custom error.
pub fn int_or(a: &[u8], e: CmdError) -> Result<i64, CmdError> {
    parse_i64_strict(a).ok_or(e)
}

/// Parses a float argument like upstream's `getDoubleFromObject`: the whole
/// string must be a number, no spaces, NaN rejected; `inf`/`-inf` accepted.
pub fn float(a: &[u8]) -> Result<f64, CmdError> {
    parse_f64(a).ok_or(NOT_FLOAT)
}

/// See [`float`].
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
pub fn is(a: &Bytes, opt: &str) -> bool {
    a.eq_ignore_ascii_case(opt.as_bytes())
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
