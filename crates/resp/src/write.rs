//! Hot-path reply writers: append one RESP item to a `BytesMut` without
//! building a [`crate::Frame`]. Each matches [`crate::Frame::encode`] for the
//! same value byte for byte. Aggregate writers only write the header; the
//! caller writes the elements after it.

use bytes::BytesMut;

use crate::encode::{format_g17, put_i64, put_usize, G17_MAX};
use crate::frame::Protocol;

/// `+text\r\n`. `text` must not contain CR/LF (not checked, like upstream).
pub fn write_simple(out: &mut BytesMut, text: &[u8]) {
    out.reserve(text.len() + 3);
    out.extend_from_slice(b"+");
    out.extend_from_slice(text);
    out.extend_from_slice(b"\r\n");
}

/// `-text\r\n`; `text` includes the code, e.g. `ERR syntax error`.
pub fn write_error(out: &mut BytesMut, text: &[u8]) {
    out.reserve(text.len() + 3);
    out.extend_from_slice(b"-");
    out.extend_from_slice(text);
    out.extend_from_slice(b"\r\n");
}

/// `:n\r\n`.
pub fn write_integer(out: &mut BytesMut, n: i64) {
    out.reserve(23);
    out.extend_from_slice(b":");
    put_i64(out, n);
    out.extend_from_slice(b"\r\n");
}

/// `$len\r\ndata\r\n`.
pub fn write_bulk(out: &mut BytesMut, data: &[u8]) {
    out.reserve(data.len() + 25);
    out.extend_from_slice(b"$");
    put_usize(out, data.len());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// The null bulk: `$-1\r\n` in RESP2, `_\r\n` in RESP3.
pub fn write_null(out: &mut BytesMut, proto: Protocol) {
    out.extend_from_slice(match proto {
        Protocol::Resp2 => b"$-1\r\n",
        Protocol::Resp3 => b"_\r\n",
    });
}

/// The null array: `*-1\r\n` in RESP2, `_\r\n` in RESP3.
pub fn write_null_array(out: &mut BytesMut, proto: Protocol) {
    out.extend_from_slice(match proto {
        Protocol::Resp2 => b"*-1\r\n",
        Protocol::Resp3 => b"_\r\n",
    });
}

fn write_len(out: &mut BytesMut, prefix: u8, n: usize) {
    out.reserve(23);
    out.extend_from_slice(&[prefix]);
    put_usize(out, n);
    out.extend_from_slice(b"\r\n");
}

/// `*n\r\n`.
pub fn write_array_len(out: &mut BytesMut, n: usize) {
    write_len(out, b'*', n);
}

/// A map of `n` pairs: `%n` in RESP3, a flat `*2n` array in RESP2.
pub fn write_map_len(out: &mut BytesMut, proto: Protocol, n: usize) {
    match proto {
        Protocol::Resp2 => write_len(out, b'*', n.saturating_mul(2)),
        Protocol::Resp3 => write_len(out, b'%', n),
    }
}

/// A set of `n` members: `~n` in RESP3, `*n` in RESP2.
pub fn write_set_len(out: &mut BytesMut, proto: Protocol, n: usize) {
    write_len(out, if proto == Protocol::Resp3 { b'~' } else { b'*' }, n);
}

/// A push of `n` items: `>n` in RESP3, `*n` in RESP2 (pub/sub messages).
pub fn write_push_len(out: &mut BytesMut, proto: Protocol, n: usize) {
    write_len(out, if proto == Protocol::Resp3 { b'>' } else { b'*' }, n);
}

/// `|n\r\n`: RESP3 only. A RESP2 caller must skip the attribute and its
/// `n` pairs altogether, so there is no protocol argument.
pub fn write_attribute_len(out: &mut BytesMut, n: usize) {
    write_len(out, b'|', n);
}

/// A double as Redis 7.0 sends it: `,<%.17g>\r\n` in RESP3, a bulk string
/// of the same text in RESP2.
pub fn write_double(out: &mut BytesMut, proto: Protocol, v: f64) {
    let mut buf = [0u8; G17_MAX];
    let n = format_g17(v, &mut buf);
    let text = buf.get(..n).unwrap_or_default();
    match proto {
        Protocol::Resp2 => write_bulk(out, text),
        Protocol::Resp3 => {
            out.reserve(n + 3);
            out.extend_from_slice(b",");
            out.extend_from_slice(text);
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
pub fn write_boolean(out: &mut BytesMut, proto: Protocol, b: bool) {
    out.extend_from_slice(match (proto, b) {
        (Protocol::Resp2, true) => b":1\r\n",
        (Protocol::Resp2, false) => b":0\r\n",
        (Protocol::Resp3, true) => b"#t\r\n",
        (Protocol::Resp3, false) => b"#f\r\n",
    });
}

/// `(digits\r\n` in RESP3, a bulk string in RESP2.
pub fn write_big_number(out: &mut BytesMut, proto: Protocol, digits: &[u8]) {
    match proto {
        Protocol::Resp2 => write_bulk(out, digits),
        Protocol::Resp3 => {
            out.reserve(digits.len() + 3);
            out.extend_from_slice(b"(");
            out.extend_from_slice(digits);
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// `=len\r\nfmt:text\r\n` in RESP3 (len counts the `fmt:` prefix), a bulk
/// of `text` alone in RESP2.
pub fn write_verbatim(out: &mut BytesMut, proto: Protocol, format: [u8; 3], text: &[u8]) {
    match proto {
        Protocol::Resp2 => write_bulk(out, text),
        Protocol::Resp3 => {
            out.reserve(text.len() + 29);
            write_len(out, b'=', text.len() + 4);
            out.extend_from_slice(&format);
            out.extend_from_slice(b":");
            out.extend_from_slice(text);
            out.extend_from_slice(b"\r\n");
        }
    }
}
