//! Number text forms shared with the server: the canonical integer test
//! that decides when a string is stored as an integer, and the `%.17g`
//! double formatting upstream uses for scores stored as text.

/// Parses `s` as an i64 only if it is in canonical form (what formatting
/// the number back would give): no sign other than a leading '-', no
/// leading zeros, no "-0", no spaces, at most 20 bytes.
pub fn canonical_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if digits[0] == b'0' && (digits.len() > 1 || neg) {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        let d = (d - b'0') as i64;
        v = v.checked_mul(10)?;
        v = if neg {
            v.checked_sub(d)?
        } else {
            v.checked_add(d)?
        };
    }
    Some(v)
}

/// Formats like C's `printf("%.17g", v)` for finite values.
pub fn fmt_g17(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // 17 significant digits in scientific form, e.g. "1.2345000000000000e3".
    let sci = format!("{:.16e}", v);
    let (mant, exp) = match sci.split_once('e') {
        Some(p) => p,
        None => return sci,
    };
    let exp: i32 = exp.parse().unwrap_or(0);
    let neg = mant.starts_with('-');
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if !(-4..17).contains(&exp) {
        // Scientific: d.ddd with trailing zeros trimmed, exponent >= 2 digits.
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        let rest = rest.trim_end_matches('0');
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.abs()));
    } else if exp >= 0 {
        let point = (exp + 1) as usize;
        let (int_part, frac) = digits.split_at(point.min(digits.len()));
        out.push_str(int_part);
        let frac = frac.trim_end_matches('0');
        if !frac.is_empty() {
            out.push('.');
            out.push_str(frac);
        }
    } else {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(digits.trim_end_matches('0'));
    }
    out
}

/// Upstream's `d2string`: integral values in (-2^52, 2^52) print as
/// integers, everything else as `%.17g`.
pub fn d2string(v: f64) -> String {
    const LIMIT: f64 = 4_503_599_627_370_496.0;
    if v.is_finite() && v != 0.0 && v > -LIMIT && v < LIMIT && v == (v as i64) as f64 {
        return (v as i64).to_string();
    }
    fmt_g17(v)
}

/// Parses a score the way `strtod` would for RDB text (accepts "inf",
/// "-inf", "nan" and ordinary decimal/exponent forms).
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    let t = std::str::from_utf8(s).ok()?;
    match t {
        "inf" | "+inf" | "infinity" | "+infinity" => return Some(f64::INFINITY),
        "-inf" | "-infinity" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    t.parse::<f64>().ok()
}

#[cfg(test)]
#[path = "numfmt_tests.rs"]
mod tests;
