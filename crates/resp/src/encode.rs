//! Encoding [`Frame`]s byte-exactly like upstream 7.0, and the number
//! formatting shared with [`crate::write`]: a stack-only integer formatter and
//! the `%.17g` double formatter.

use bytes::BytesMut;

use crate::frame::{Frame, Protocol};
use crate::write;

impl Frame {
    /// Appends the frame to `out` as a server speaking `proto` would send it.
    ///
    /// RESP2 downgrades: Map → flat array of 2n, Set/Push → array, Double →
    /// bulk `%.17g` text, Boolean → integer 1/0, BigNumber → bulk, Verbatim →
    /// bulk of the text only, Attribute → nothing at all.
    pub fn encode(&self, proto: Protocol, out: &mut BytesMut) {
        match self {
            Frame::Simple(s) => write::write_simple(out, s),
            Frame::Error(s) => write::write_error(out, s),
            Frame::Integer(n) => write::write_integer(out, *n),
            Frame::Bulk(b) => write::write_bulk(out, b),
            Frame::Null => write::write_null(out, proto),
            Frame::NullArray => write::write_null_array(out, proto),
            Frame::Array(items) => {
                write::write_array_len(out, counted(items));
                encode_all(items, proto, out);
            }
            Frame::Double(d) => write::write_double(out, proto, *d),
            Frame::Boolean(b) => write::write_boolean(out, proto, *b),
            Frame::BigNumber(n) => write::write_big_number(out, proto, n),
            Frame::Verbatim { format, text } => write::write_verbatim(out, proto, *format, text),
            Frame::Map(pairs) => {
                write::write_map_len(out, proto, pairs.len());
                encode_pairs(pairs, proto, out);
            }
            Frame::Set(items) => {
                write::write_set_len(out, proto, counted(items));
                encode_all(items, proto, out);
            }
            Frame::Attribute(pairs) => {
                // RESP2 has no out-of-band data: the attribute simply vanishes.
                if proto == Protocol::Resp3 {
                    write::write_attribute_len(out, pairs.len());
                    encode_pairs(pairs, proto, out);
                }
            }
            Frame::Push(items) => {
                write::write_push_len(out, proto, counted(items));
                encode_all(items, proto, out);
            }
        }
    }

    /// Convenience: the encoding as a fresh buffer.
    pub fn to_bytes(&self, proto: Protocol) -> BytesMut {
        let mut out = BytesMut::new();
        self.encode(proto, &mut out);
        out
    }
}

/// Elements that count toward an aggregate's length: attributes ride along
/// out-of-band and are not elements.
fn counted(items: &[Frame]) -> usize {
    items
        .iter()
        .filter(|f| !matches!(f, Frame::Attribute(_)))
        .count()
}

fn encode_all(items: &[Frame], proto: Protocol, out: &mut BytesMut) {
    for item in items {
        item.encode(proto, out);
    }
}

fn encode_pairs(pairs: &[(Frame, Frame)], proto: Protocol, out: &mut BytesMut) {
    for (k, v) in pairs {
        k.encode(proto, out);
        v.encode(proto, out);
    }
}

/// Formats `v` as C's `printf("%.17g")` does with glibc, which is what Redis
/// 7.0 uses for double replies (`0.1` → `0.10000000000000001`, `1e20` →
/// `1e+20`, infinities → `inf`/`-inf`, NaN → `nan` or `-nan` by sign bit).
pub fn format_double(v: f64) -> String {
    let mut buf = [0u8; G17_MAX];
    let n = format_g17(v, &mut buf);
    // Only ASCII is ever written, so this conversion cannot fail.
    String::from_utf8_lossy(buf.get(..n).unwrap_or_default()).into_owned()
}

/// Longest `%.17g` output: sign, 17 digits, point, `e-308`.
pub(crate) const G17_MAX: usize = 32;

/// Writes `%.17g` of `v` into `dst`, returning the length used.
pub(crate) fn format_g17(v: f64, dst: &mut [u8; G17_MAX]) -> usize {
    let mut w = StackWriter { buf: dst, len: 0 };
    let neg = v.is_sign_negative();
    if neg {
        w.push(b'-');
    }
    if v.is_nan() {
        w.extend(b"nan");
        return w.len;
    }
    if v.is_infinite() {
        w.extend(b"inf");
        return w.len;
    }
    // Rust's `{:.16e}` is correctly rounded (ties to even on the exact binary
    // value), exactly like glibc, and gives the 17 significant digits and
    // the decimal exponent that `%g` needs to pick its style.
    let mut sci = StackText {
        buf: [0; 40],
        len: 0,
    };
    if std::fmt::Write::write_fmt(&mut sci, format_args!("{:.16e}", v.abs())).is_err() {
        w.extend(b"nan");
        return w.len;
    }
    let text = sci.buf.get(..sci.len).unwrap_or_default();
    let e_pos = text.iter().position(|&c| c == b'e').unwrap_or(text.len());
    let mut digits = [b'0'; 17];
    let mut nd = 0;
    for &c in text.get(..e_pos).unwrap_or_default() {
        if c.is_ascii_digit() && nd < digits.len() {
            if let Some(slot) = digits.get_mut(nd) {
                *slot = c;
            }
            nd += 1;
        }
    }
    let exp: i32 = std::str::from_utf8(text.get(e_pos + 1..).unwrap_or_default())
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    // `%g` drops trailing zeros of the fraction (no `#` flag).
    let mut sig = digits.len();
    while sig > 1 && digits.get(sig - 1) == Some(&b'0') {
        sig -= 1;
    }
    let sig_digits = digits.get(..sig).unwrap_or_default();
    if (-4..17).contains(&exp) {
        // Style f with precision 16 - exp: the same 17 significant digits,
        // with the point placed by the exponent.
        if exp >= 0 {
            let int_len = (exp as usize) + 1;
            for i in 0..int_len {
                w.push(*sig_digits.get(i).unwrap_or(&b'0'));
            }
            if sig > int_len {
                w.push(b'.');
                w.extend(sig_digits.get(int_len..).unwrap_or_default());
            }
        } else {
            w.extend(b"0.");
            for _ in 0..(-exp - 1) {
                w.push(b'0');
            }
            w.extend(sig_digits);
        }
    } else {
        let (first, rest) = sig_digits.split_first().unwrap_or((&b'0', &[]));
        w.push(*first);
        if !rest.is_empty() {
            w.push(b'.');
            w.extend(rest);
        }
        w.push(b'e');
        w.push(if exp < 0 { b'-' } else { b'+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            w.push(b'0');
        }
        let mut ibuf = [0u8; 20];
        let s = fmt_u64(u64::from(e), &mut ibuf);
        w.extend(s);
    }
    w.len
}

/// Bounded writer over a fixed array; excess is dropped (never happens for
/// the sizes used here, and dropping beats panicking).
struct StackWriter<'a> {
    buf: &'a mut [u8; G17_MAX],
    len: usize,
}

impl StackWriter<'_> {
    fn push(&mut self, c: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = c;
            self.len += 1;
        }
    }

    fn extend(&mut self, s: &[u8]) {
        for &c in s {
            self.push(c);
        }
    }
}

/// `fmt::Write` sink on the stack so formatting a double allocates nothing.
struct StackText {
    buf: [u8; 40],
    len: usize,
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Decimal digits of `n`, written right-aligned into `buf`; returns the
/// used tail. Avoids `format!` on the reply hot path.
pub(crate) fn fmt_u64(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        if let Some(slot) = buf.get_mut(i) {
            *slot = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    buf.get(i..).unwrap_or_default()
}

/// Appends the decimal text of `n` to `out`.
pub(crate) fn put_i64(out: &mut BytesMut, n: i64) {
    if n < 0 {
        out.extend_from_slice(b"-");
    }
    let mut buf = [0u8; 20];
    out.extend_from_slice(fmt_u64(n.unsigned_abs(), &mut buf));
}

/// Appends the decimal text of `n` to `out`.
pub(crate) fn put_usize(out: &mut BytesMut, n: usize) {
    let mut buf = [0u8; 20];
    out.extend_from_slice(fmt_u64(n as u64, &mut buf));
}

#[cfg(test)]
#[path = "encode_tests.rs"]
mod tests;
