//! Upstream's `sdscatrepr` quoting: a double-quoted string with C escapes
//! (`\n \r \t \a \b \\ \"`) and `\xHH` for every other byte outside
//! printable ASCII. Used by MONITOR lines, `redis-cli` output and AOF
//! manifests, which all print it exactly like upstream.

/// Appends the quoted form of `s` to `out`.
pub fn repr_into(out: &mut Vec<u8>, s: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for &c in s {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            // isprint() in the C locale.
            0x20..=0x7e => out.push(c),
            _ => out.extend_from_slice(&[
                b'\\',
                b'x',
                HEX[usize::from(c >> 4)],
                HEX[usize::from(c & 0xf)],
            ]),
        }
    }
    out.push(b'"');
}

/// The quoted form of `s`.
pub fn repr(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() + 2);
    repr_into(&mut out, s);
    out
}

#[cfg(test)]
#[path = "repr_tests.rs"]
mod tests;
