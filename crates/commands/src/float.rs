//! `INCRBYFLOAT` arithmetic.
//!
//! Upstream computes in the C `long double` type and prints with `%.17Lf`,
//! trailing zeros removed. This interim version uses `f64` and prints the
//! shortest representation that round-trips, which agrees with upstream for
//! the common cases (`0.1` steps on small values) but not for every input;
//! see docs/compatibility.md.

use crate::args::parse_f64;
use crate::error::{CmdError, NOT_FLOAT};

/// Adds `incr` to the number in `cur`; returns the new textual value.
pub fn incr_by_float(cur: &[u8], incr: &[u8]) -> Result<Vec<u8>, CmdError> {
    let a = parse_f64(cur).ok_or(NOT_FLOAT)?;
    let b = parse_f64(incr).ok_or(NOT_FLOAT)?;
    let r = a + b;
    if !r.is_finite() {
        return Err(CmdError::fixed(
            "ERR increment would produce NaN or Infinity",
        ));
    }
    Ok(format_human(r).into_bytes())
}

fn format_human(r: f64) -> String {
    let s = format!("{r}");
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}
