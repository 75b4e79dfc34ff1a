//! Parsing of the value syntaxes shared by `redis.conf` and `CONFIG SET`:
//! memory sizes with unit suffixes and `yes`/`no` booleans.

/// Parses a memory size the way upstream's `memtoull` does: a plain
/// non-negative decimal integer, optionally followed by one of the
/// case-insensitive units `b`, `k` (1000), `kb` (1024), `m` (10^6),
/// `mb` (2^20), `g` (10^9) or `gb` (2^30). Returns `None` for anything
/// else (signs, fractions, white space) and for values that do not fit in
/// an `i64`; use [`parse_memory_u64`] for the full range.
pub fn parse_memory(s: &str) -> Option<i64> {
    parse_memory_u64(s).and_then(|v| i64::try_from(v).ok())
}

/// Like [`parse_memory`] but over the full unsigned 64-bit range, which
/// upstream accepts for a few directives such as `maxmemory`. Numbers too
/// large for 64 bits saturate and the unit multiplication wraps, exactly
/// like upstream's `memtoull`.
pub fn parse_memory_u64(s: &str) -> Option<u64> {
    let digits_end = s
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(digits_end);
    if num.is_empty() {
        return None;
    }
    let mul: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    // Upstream's strtoull saturates on overflow and the unit multiplication
    // wraps; both are reproduced so huge values behave identically.
    let n = num.parse::<u64>().unwrap_or(u64::MAX);
    Some(n.wrapping_mul(mul))
}

/// Parses upstream's boolean syntax: `yes` or `no`, case-insensitive.
pub fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("yes") {
        Some(true)
    } else if s.eq_ignore_ascii_case("no") {
        Some(false)
    } else {
        None
    }
}

/// Formats a boolean the way `CONFIG GET` prints it.
pub fn format_bool(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// C `atoi`/`strtoll`: leading blanks, optional sign, digits up to the
/// first non-digit; 0 when there are none. Saturates instead of
/// overflowing.
pub fn atoi(s: &str) -> i64 {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut n: i64 = 0;
    for c in digits.bytes().take_while(u8::is_ascii_digit) {
        n = n.saturating_mul(10).saturating_add(i64::from(c - b'0'));
    }
    if neg {
        -n
    } else {
        n
    }
}

#[cfg(test)]
#[path = "units_tests.rs"]
mod tests;
