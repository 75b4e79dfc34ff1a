//! Reply rendering: the human ("tty"), raw and CSV formats of upstream redis-cli.
//!
//! Formatting is pure (frame in, bytes out) so it can be unit tested; the one
//! thing upstream cannot render (big numbers, under its hiredis) is reported as
//! [`Unrenderable`] so the caller can fail the way upstream does.

use redis_resp::Frame;

/// Upstream's hiredis has no renderer for this frame; the value is its type code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unrenderable(pub u32);

/// Output mode selected by `--raw`, `--no-raw`, `--csv` or the tty check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Standard,
    Raw,
    Csv,
    /// `--json`: strings JSON-escaped, other bytes as they are.
    Json,
    /// `--quoted-json`: strings quoted as `sdscatrepr` does, then their
    /// backslashes escaped (upstream's form, quotes left as they are).
    QuotedJson,
}

/// Appends `s` quoted the way upstream's `sdscatrepr` does.
pub fn repr(out: &mut Vec<u8>, s: &[u8]) {
    redis_common::repr::repr_into(out, s);
}

/// Formats a double like C's `%.17g`, which is how the server sends RESP3 doubles;
/// the decoded `f64` round-trips to the same text.
pub fn fmt_double(d: f64) -> String {
    if d.is_nan() {
        return if d.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf" } else { "-inf" }.into();
    }
    if d == 0.0 {
        return if d.is_sign_negative() { "-0" } else { "0" }.into();
    }
    const P: i32 = 17;
    let sci = format!("{:.*e}", (P - 1) as usize, d);
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..P).contains(&exp) {
        let mant = strip_zeros(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    } else {
        let fixed = format!("{:.*}", (P - 1 - exp) as usize, d);
        strip_zeros(&fixed).to_string()
    }
}

fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Writes a status (simple string) reply in the raw format; the Lua
/// debugger's status lines are coloured through this (see `ldb`).
pub type StatusWriter<'a> = &'a mut dyn FnMut(&[u8], &mut Vec<u8>);

/// Renders a reply in the requested mode, including the trailing separator.
/// `verbatim` is upstream's "raw strings" switch used for INFO-like commands;
/// `status` writes the status replies of the raw format.
pub fn format_reply(
    f: &Frame,
    mode: Output,
    verbatim: bool,
    mb_delim: &[u8],
    cmd_delim: &[u8],
    status: StatusWriter,
) -> Result<Vec<u8>, Unrenderable> {
    let mut out = Vec::new();
    if verbatim {
        raw_with(f, mb_delim, &mut out, status)?;
        return Ok(out);
    }
    match mode {
        Output::Standard => tty(f, "", &mut out)?,
        Output::Raw => {
            raw_with(f, mb_delim, &mut out, status)?;
            out.extend_from_slice(cmd_delim);
        }
        Output::Csv => {
            csv(f, &mut out)?;
            out.push(b'\n');
        }
        Output::Json | Output::QuotedJson => {
            json(f, mode == Output::QuotedJson, &mut out)?;
            out.push(b'\n');
        }
    }
    Ok(out)
}

/// A string in `--json` (escaped for JSON, bytes from 0x7f up as they
/// are) or `--quoted-json` (upstream's `sdscatrepr` quoting with every
/// backslash doubled) form, with the surrounding quotes.
fn json_string(s: &[u8], quoted: bool, out: &mut Vec<u8>) {
    out.push(b'"');
    if quoted {
        let r = redis_common::repr::repr(s);
        // Without repr's own quotes; only its backslashes are escaped.
        for &c in &r[1..r.len().saturating_sub(1)] {
            if c == b'\\' {
                out.extend_from_slice(b"\\\\");
            } else {
                out.push(c);
            }
        }
    } else {
        for &c in s {
            match c {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                0x08 => out.extend_from_slice(b"\\b"),
                0x0c => out.extend_from_slice(b"\\f"),
                0x00..=0x1f => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
                _ => out.push(c),
            }
        }
    }
    out.push(b'"');
}

/// `--json` / `--quoted-json`: maps become objects (keys as strings),
/// arrays and sets arrays, errors `error:"…"`, as upstream's redis-cli.
pub fn json(f: &Frame, quoted: bool, out: &mut Vec<u8>) -> Result<(), Unrenderable> {
    match f {
        Frame::Error(e) => {
            out.extend_from_slice(b"error:");
            json_string(e, quoted, out);
        }
        Frame::Simple(s) | Frame::Bulk(s) => json_string(s, quoted, out),
        Frame::Verbatim { text, .. } => json_string(text, quoted, out),
        Frame::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Frame::Double(d) => out.extend_from_slice(fmt_double(*d).as_bytes()),
        Frame::BigNumber(_) => return Err(Unrenderable(13)),
        Frame::Null | Frame::NullArray => out.extend_from_slice(b"null"),
        Frame::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Frame::Attribute(_) => return Err(Unrenderable(14)),
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json(item, quoted, out)?;
            }
            out.push(b']');
        }
        Frame::Map(pairs) => {
            out.push(b'{');
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                match k {
                    Frame::Simple(s) | Frame::Bulk(s) => json_string(s, quoted, out),
                    // Object keys must be strings: other types as text.
                    other => {
                        let mut text = Vec::new();
                        json(other, quoted, &mut text)?;
                        json_string(&text, quoted, out);
                    }
                }
                out.push(b':');
                json(v, quoted, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// The human format; always ends with a newline.
pub fn tty(f: &Frame, prefix: &str, out: &mut Vec<u8>) -> Result<(), Unrenderable> {
    match f {
        Frame::Error(e) => {
            out.extend_from_slice(b"(error) ");
            out.extend_from_slice(e);
            out.push(b'\n');
        }
        Frame::Simple(s) => {
            out.extend_from_slice(s);
            out.push(b'\n');
        }
        Frame::Integer(n) => out.extend_from_slice(format!("(integer) {n}\n").as_bytes()),
        Frame::Double(d) => {
            out.extend_from_slice(format!("(double) {}\n", fmt_double(*d)).as_bytes())
        }
        Frame::Bulk(b) => {
            repr(out, b);
            out.push(b'\n');
        }
        Frame::Verbatim { text, .. } => {
            out.extend_from_slice(text);
            out.push(b'\n');
        }
        Frame::Null | Frame::NullArray => out.extend_from_slice(b"(nil)\n"),
        Frame::Boolean(b) => out.extend_from_slice(if *b { b"(true)\n" } else { b"(false)\n" }),
        Frame::BigNumber(_) => return Err(Unrenderable(13)),
        Frame::Attribute(_) => return Err(Unrenderable(14)),
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => {
            let (empty, sep): (&[u8], char) = match f {
                Frame::Array(_) => (b"(empty array)\n", ')'),
                Frame::Set(_) => (b"(empty set)\n", '~'),
                _ => (b"(empty aggregate type)\n", ')'),
            };
            if items.is_empty() {
                out.extend_from_slice(empty);
                return Ok(());
            }
            let width = digits(items.len());
            let child_prefix = format!("{prefix}{}", " ".repeat(width + 2));
            for (i, item) in items.iter().enumerate() {
                // The first index follows whatever the parent already printed on this line.
                let lead = if i == 0 { "" } else { prefix };
                out.extend_from_slice(format!("{lead}{:>width$}{sep} ", i + 1).as_bytes());
                tty(item, &child_prefix, out)?;
            }
        }
        Frame::Map(pairs) => {
            if pairs.is_empty() {
                out.extend_from_slice(b"(empty hash)\n");
                return Ok(());
            }
            let width = digits(pairs.len());
            let child_prefix = format!("{prefix}{}", " ".repeat(width + 2));
            for (i, (k, v)) in pairs.iter().enumerate() {
                let lead = if i == 0 { "" } else { prefix };
                out.extend_from_slice(format!("{lead}{:>width$}# ", i + 1).as_bytes());
                tty(k, &child_prefix, out)?;
                out.pop();
                out.extend_from_slice(b" => ");
                tty(v, &child_prefix, out)?;
            }
        }
    }
    Ok(())
}

fn digits(mut n: usize) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

/// The raw format (default when stdout is not a tty); no trailing separator.
pub fn raw(f: &Frame, mb_delim: &[u8], out: &mut Vec<u8>) -> Result<(), Unrenderable> {
    raw_with(f, mb_delim, out, &mut |s, o| o.extend_from_slice(s))
}

/// [`raw`] with status replies written by `status`.
pub fn raw_with(
    f: &Frame,
    mb_delim: &[u8],
    out: &mut Vec<u8>,
    status: StatusWriter,
) -> Result<(), Unrenderable> {
    match f {
        Frame::Null | Frame::NullArray => {}
        Frame::Error(e) => {
            out.extend_from_slice(e);
            out.push(b'\n');
        }
        Frame::Simple(s) => status(s, out),
        Frame::Bulk(s) => out.extend_from_slice(s),
        Frame::Verbatim { text, .. } => out.extend_from_slice(text),
        Frame::Boolean(b) => out.extend_from_slice(if *b { b"(true)" } else { b"(false)" }),
        Frame::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Frame::Double(d) => out.extend_from_slice(fmt_double(*d).as_bytes()),
        Frame::BigNumber(_) => return Err(Unrenderable(13)),
        Frame::Attribute(_) => return Err(Unrenderable(14)),
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(mb_delim);
                }
                raw_with(item, mb_delim, out, status)?;
            }
        }
        Frame::Map(pairs) => {
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(mb_delim);
                }
                raw_with(k, mb_delim, out, status)?;
                out.push(b' ');
                raw_with(v, mb_delim, out, status)?;
            }
        }
    }
    Ok(())
}

/// The `--csv` format; aggregates are flattened into one comma separated line.
pub fn csv(f: &Frame, out: &mut Vec<u8>) -> Result<(), Unrenderable> {
    match f {
        Frame::Error(e) => {
            out.extend_from_slice(b"ERROR,");
            // Upstream quotes the error up to its first NUL (it uses strlen).
            let end = e.iter().position(|&c| c == 0).unwrap_or(e.len());
            repr(out, &e[..end]);
        }
        Frame::Simple(s) | Frame::Bulk(s) => repr(out, s),
        Frame::Verbatim { text, .. } => repr(out, text),
        Frame::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Frame::Double(d) => out.extend_from_slice(fmt_double(*d).as_bytes()),
        Frame::Null | Frame::NullArray => out.extend_from_slice(b"NULL"),
        Frame::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Frame::BigNumber(_) => return Err(Unrenderable(13)),
        Frame::Attribute(_) => return Err(Unrenderable(14)),
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => {
            for (i, item) in items.iter().enumerate() {
                csv(item, out)?;
                if i + 1 != items.len() {
                    out.push(b',');
                }
            }
        }
        Frame::Map(pairs) => {
            for (i, (k, v)) in pairs.iter().enumerate() {
                csv(k, out)?;
                out.push(b',');
                csv(v, out)?;
                if i + 1 != pairs.len() {
                    out.push(b',');
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "format_tests.rs"]
mod tests;
