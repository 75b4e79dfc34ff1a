//! A RESP2/RESP3 reply-boundary scanner, an escaper for readable failure
//! output, and an order-insensitive normalizer for replies whose element
//! order is an implementation detail (KEYS, SMEMBERS, SCAN, ...).
//!
//! The scanner only finds where one complete reply ends; it does not build
//! values. Tests compare raw bytes, so the scanner must be lenient about
//! content and strict only about framing.

use std::fmt;

/// Why a buffer cannot be the start of a valid reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanError {
    /// The first byte of a value is not a known RESP2/RESP3 type byte.
    BadType { offset: usize, byte: u8 },
    /// A length or count field is not an integer >= -1.
    BadLength { offset: usize },
    /// A bulk payload is not followed by `\r\n`.
    MissingCrlf { offset: usize },
}

impl fmt::Display for ScanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScanError::BadType { offset, byte } => {
                write!(
                    f,
                    "unknown RESP type byte {:?} at offset {offset}",
                    *byte as char
                )
            }
            ScanError::BadLength { offset } => write!(f, "bad length field at offset {offset}"),
            ScanError::MissingCrlf { offset } => {
                write!(f, "bulk payload not followed by CRLF at offset {offset}")
            }
        }
    }
}

impl std::error::Error for ScanError {}

/// Index just past the `\r\n` that ends the line starting at `from`, or
/// `None` when the line is not complete yet.
fn line_end(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|p| from + p + 2)
}

/// Parses the integer between the type byte at `start` and the CRLF ending at
/// `end`.
fn header_int(buf: &[u8], start: usize, end: usize) -> Result<i64, ScanError> {
    let text = std::str::from_utf8(&buf[start + 1..end - 2])
        .map_err(|_| ScanError::BadLength { offset: start })?;
    match text.parse::<i64>() {
        Ok(n) if n >= -1 => Ok(n),
        _ => Err(ScanError::BadLength { offset: start }),
    }
}

/// Returns the length of the first complete reply in `buf`: `Ok(Some(n))`
/// when `buf[..n]` is exactly one reply, `Ok(None)` when more bytes are
/// needed. Iterative (a count of values still owed) so that deeply nested
/// input cannot overflow the stack.
pub fn reply_len(buf: &[u8]) -> Result<Option<usize>, ScanError> {
    let mut pos = 0usize;
    // Number of complete values still needed to finish the outermost reply.
    let mut owed: u64 = 1;
    while owed > 0 {
        let Some(&ty) = buf.get(pos) else {
            return Ok(None);
        };
        let Some(end) = line_end(buf, pos) else {
            return Ok(None);
        };
        owed -= 1;
        match ty {
            // Simple line types: status, error, integer, null, double,
            // boolean, big number.
            b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => pos = end,
            // Length-prefixed types: bulk string, verbatim string, blob error.
            b'$' | b'=' | b'!' => {
                let n = header_int(buf, pos, end)?;
                if n == -1 {
                    pos = end;
                    continue;
                }
                let n = n as usize;
                let total = end + n + 2;
                if buf.len() < total {
                    return Ok(None);
                }
                if &buf[end + n..total] != b"\r\n" {
                    return Err(ScanError::MissingCrlf { offset: end + n });
                }
                pos = total;
            }
            // Aggregates: array, set, push, map, attribute.
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let n = header_int(buf, pos, end)?;
                pos = end;
                if n == -1 {
                    continue;
                }
                let n = n as u64;
                owed += match ty {
                    b'%' => 2 * n,
                    // An attribute map decorates the value that follows it,
                    // so that value belongs to the same reply.
                    b'|' => 2 * n + 1,
                    _ => n,
                };
            }
            other => {
                return Err(ScanError::BadType {
                    offset: pos,
                    byte: other,
                })
            }
        }
    }
    Ok(Some(pos))
}

/// Renders bytes as printable text with `\r`, `\n`, `\t`, `\\` and `\xHH`
/// escapes, so CRLF framing is visible in assertion messages.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 8);
    for &b in bytes {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

/// One parsed value: its own header (or whole leaf) bytes plus children.
struct Node {
    head: Vec<u8>,
    ty: u8,
    children: Vec<Node>,
}

impl Node {
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.head);
        for c in &self.children {
            c.write(out);
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write(&mut v);
        v
    }
}

fn parse_node(buf: &[u8], pos: &mut usize) -> Result<Node, ScanError> {
    let start = *pos;
    let len = reply_len(&buf[start..])?.ok_or(ScanError::BadLength { offset: start })?;
    let ty = buf[start];
    let end = line_end(buf, start).ok_or(ScanError::BadLength { offset: start })?;
    if matches!(ty, b'*' | b'~' | b'>' | b'%' | b'|') {
        let n = header_int(buf, start, end)?;
        *pos = end;
        let count = match (n, ty) {
            (-1, _) => 0,
            (n, b'%') => 2 * n as usize,
            (n, b'|') => 2 * n as usize + 1,
            (n, _) => n as usize,
        };
        let mut children = Vec::with_capacity(count);
        for _ in 0..count {
            children.push(parse_node(buf, pos)?);
        }
        Ok(Node {
            head: buf[start..end].to_vec(),
            ty,
            children,
        })
    } else {
        *pos = start + len;
        Ok(Node {
            head: buf[start..start + len].to_vec(),
            ty,
            children: Vec::new(),
        })
    }
}

fn sort_node(node: &mut Node) {
    for c in &mut node.children {
        sort_node(c);
    }
    match node.ty {
        b'*' | b'~' => node.children.sort_by_key(Node::bytes),
        b'%' => {
            // Keep each key next to its value while ordering the pairs.
            let mut pairs: Vec<(Vec<u8>, Node, Node)> = Vec::new();
            let mut it = std::mem::take(&mut node.children).into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                let mut key = k.bytes();
                key.extend(v.bytes());
                pairs.push((key, k, v));
            }
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            for (_, k, v) in pairs {
                node.children.push(k);
                node.children.push(v);
            }
        }
        _ => {}
    }
}

/// Returns `reply` with the elements of every array, set and map sorted
/// (recursively, maps by key/value pair), so that two servers that return
/// the same members in a different order compare equal. Input that is not a
/// single complete reply is returned unchanged so the comparison still fails
/// visibly.
pub fn normalize_unordered(reply: &[u8]) -> Vec<u8> {
    let mut pos = 0;
    match parse_node(reply, &mut pos) {
        Ok(mut node) if pos == reply.len() => {
            sort_node(&mut node);
            node.bytes()
        }
        _ => reply.to_vec(),
    }
}

#[cfg(test)]
#[path = "resp_tests.rs"]
mod tests;
