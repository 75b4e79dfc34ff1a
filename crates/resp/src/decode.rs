//! Client-side decoder for server replies: every RESP2 and RESP3 type.
//!
//! Decoding happens in two passes. A [`Scanner`] first walks the framing
//! (headers and lengths) without building anything; it is resumable, so a
//! reply arriving in many pieces is walked once in total rather than once per
//! piece. Only when a whole top-level frame is present does the builder turn
//! it into a [`Frame`], with zero-copy `Bytes` for string payloads.
//!
//! # Attributes
//! A top-level `|` attribute is returned as its own [`Frame::Attribute`];
//! the value it describes is returned by the next call. Inside an
//! array/set/push, an attribute is kept as an extra element right before the
//! element it describes and is not counted in the aggregate's length
//! (which is also how the encoder treats it, so encoding round-trips). Inside
//! a map or attribute, attributes before keys/values are discarded, as a
//! pair has no room for them.
//!
//! # Other choices
//! `!` blob errors decode as [`Frame::Error`]. RESP3 streamed strings and
//! aggregates (`$?`, `*?`) are rejected: Redis never sends them.

use bytes::{Bytes, BytesMut};

use crate::frame::Frame;
use crate::request::parse_ll;

/// Bounds that protect the client from a hostile or broken server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Deepest aggregate nesting accepted.
    pub max_depth: usize,
    /// Largest string payload (and longest simple line) accepted.
    pub max_bulk_len: usize,
    /// Largest aggregate element count accepted.
    pub max_aggregate_len: usize,
}

impl Default for DecodeLimits {
    fn default() -> DecodeLimits {
        DecodeLimits {
            max_depth: 128,
            max_bulk_len: 512 * 1024 * 1024,
            max_aggregate_len: i32::MAX as usize,
        }
    }
}

/// The input is not valid RESP (or exceeds a [`DecodeLimits`] bound).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("Protocol error: {0}")]
    Invalid(String),
    #[error("Protocol error: nesting deeper than {0}")]
    TooDeep(usize),
    #[error("Protocol error: length {0} exceeds the limit")]
    TooLarge(u64),
    /// A value starts with a byte that is no RESP type. The text is the
    /// one hiredis gives, so `redis-cli` can print it as upstream does.
    #[error("Protocol error, got \"{}\" as reply type byte", quote_byte(*.0))]
    UnknownType(u8),
}

/// One byte as hiredis quotes it (C-style escapes, `\xNN` otherwise).
fn quote_byte(b: u8) -> String {
    match b {
        b'\\' => "\\\\".into(),
        b'"' => "\\\"".into(),
        b'\n' => "\\n".into(),
        b'\r' => "\\r".into(),
        b'\t' => "\\t".into(),
        0x07 => "\\a".into(),
        0x08 => "\\b".into(),
        0x20..=0x7e => char::from(b).to_string(),
        _ => format!("\\x{b:02x}"),
    }
}

fn invalid(msg: &str) -> DecodeError {
    DecodeError::Invalid(msg.to_owned())
}

/// Decodes one frame from the front of `buf` with default limits.
///
/// `Ok(None)` means the buffer holds only part of a frame; nothing is
/// consumed then. On success exactly the frame's bytes are consumed.
pub fn decode(buf: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
    decode_with(buf, &DecodeLimits::default())
}

/// [`decode`] with explicit limits.
pub fn decode_with(
    buf: &mut BytesMut,
    limits: &DecodeLimits,
) -> Result<Option<Frame>, DecodeError> {
    let mut scanner = Scanner::default();
    scanner.decode(buf, limits)
}

/// Resumable framing walker; keep one per connection (as
/// [`crate::FrameCodec`] does) to make decoding of large replies linear.
#[derive(Debug, Default, Clone)]
pub struct Scanner {
    /// Offset of the first byte not yet walked.
    pos: usize,
    /// Offset up to which the header at `pos` was searched for its LF.
    line_scan: usize,
    /// Open aggregates, innermost last.
    stack: Vec<Open>,
}

#[derive(Debug, Clone, Copy)]
struct Open {
    /// Counted children still due.
    remaining: u64,
    /// Whether finishing this aggregate counts as a child of its parent
    /// (false for attributes).
    counts: bool,
}

/// What one header describes.
enum Item {
    /// A value complete with its header line (scalars, `$-1`, `*-1`).
    Line,
    /// A string payload of this many bytes starting right after the header.
    Blob { len: usize },
    /// An aggregate with this many child values.
    Aggregate { kind: u8, children: u64 },
}

impl Scanner {
    /// Walks as far as the input allows; on a complete top-level frame,
    /// builds it, consumes its bytes and resets.
    pub fn decode(
        &mut self,
        buf: &mut BytesMut,
        limits: &DecodeLimits,
    ) -> Result<Option<Frame>, DecodeError> {
        let Some(end) = self.walk(buf, limits)? else {
            return Ok(None);
        };
        *self = Scanner::default();
        let data = buf.split_to(end.min(buf.len())).freeze();
        let mut builder = Builder {
            data: &data,
            pos: 0,
            limits,
        };
        builder.value(0).map(Some)
    }

    /// Returns the end offset of the first complete top-level frame.
    fn walk(&mut self, buf: &[u8], limits: &DecodeLimits) -> Result<Option<usize>, DecodeError> {
        loop {
            let Some((item, next)) = self.header(buf, limits)? else {
                return Ok(None);
            };
            let (done_at, counts) = match item {
                Item::Line => (next, true),
                Item::Blob { len, .. } => {
                    let end = next.saturating_add(len).saturating_add(2);
                    if buf.len() < end {
                        return Ok(None);
                    }
                    if buf.get(end - 2..end) != Some(b"\r\n".as_slice()) {
                        return Err(invalid("bulk payload not followed by CRLF"));
                    }
                    (end, true)
                }
                Item::Aggregate { kind, children } => {
                    let counts = kind != b'|';
                    if children > 0 {
                        if self.stack.len() >= limits.max_depth {
                            return Err(DecodeError::TooDeep(limits.max_depth));
                        }
                        self.stack.push(Open {
                            remaining: children,
                            counts,
                        });
                        self.advance(next);
                        continue;
                    }
                    (next, counts)
                }
            };
            self.advance(done_at);
            if self.finish_value(counts) {
                return Ok(Some(done_at));
            }
        }
    }

    fn advance(&mut self, pos: usize) {
        self.pos = pos;
        self.line_scan = pos;
    }

    /// Records that a value ended; true when that completes the top level.
    fn finish_value(&mut self, mut counts: bool) -> bool {
        loop {
            let Some(top) = self.stack.last_mut() else {
                return true;
            };
            if !counts {
                // An attribute inside an aggregate is not one of its children.
                return false;
            }
            top.remaining = top.remaining.saturating_sub(1);
            if top.remaining > 0 {
                return false;
            }
            counts = top.counts;
            self.stack.pop();
        }
    }

    /// Parses the header at `self.pos`; returns it and the offset after it.
    fn header(
        &mut self,
        buf: &[u8],
        limits: &DecodeLimits,
    ) -> Result<Option<(Item, usize)>, DecodeError> {
        // Like hiredis, reject a bad type byte at once rather than waiting
        // for a line that a broken server may never finish.
        if let Some(&kind) = buf.get(self.pos) {
            if !b"+-:,#(_$=!*%~|>".contains(&kind) {
                return Err(DecodeError::UnknownType(kind));
            }
        }
        let from = self.line_scan.max(self.pos).min(buf.len());
        let Some(lf) = buf
            .get(from..)
            .unwrap_or_default()
            .iter()
            .position(|&b| b == b'\n')
        else {
            self.line_scan = buf.len();
            if buf.len() - self.pos.min(buf.len()) > limits.max_bulk_len.saturating_add(3) {
                return Err(DecodeError::TooLarge(buf.len() as u64));
            }
            return Ok(None);
        };
        let lf = from + lf;
        self.line_scan = lf;
        let line = buf.get(self.pos..lf).unwrap_or_default();
        let Some((&kind, rest)) = line.split_first() else {
            return Err(invalid("empty line"));
        };
        let Some(body) = rest.strip_suffix(b"\r") else {
            return Err(invalid("line not terminated by CRLF"));
        };
        let next = lf + 1;
        let item = match kind {
            b'+' | b'-' | b':' | b',' | b'#' | b'(' | b'_' => {
                check_scalar(kind, body)?;
                Item::Line
            }
            b'$' | b'=' | b'!' => {
                let n = parse_len(body)?;
                match n {
                    -1 if kind == b'$' => Item::Line,
                    n if n < 0 => return Err(invalid("invalid bulk length")),
                    n => {
                        let len = n as u64;
                        if len > limits.max_bulk_len as u64 {
                            return Err(DecodeError::TooLarge(len));
                        }
                        if kind == b'=' && len < 4 {
                            return Err(invalid("verbatim string shorter than its format"));
                        }
                        Item::Blob { len: len as usize }
                    }
                }
            }
            b'*' | b'%' | b'~' | b'|' | b'>' => {
                let n = parse_len(body)?;
                match n {
                    -1 if kind == b'*' => Item::Line,
                    n if n < 0 => return Err(invalid("invalid aggregate length")),
                    n => {
                        let n = n as u64;
                        if n > limits.max_aggregate_len as u64 {
                            return Err(DecodeError::TooLarge(n));
                        }
                        let children = if kind == b'%' || kind == b'|' {
                            n.saturating_mul(2)
                        } else {
                            n
                        };
                        Item::Aggregate { kind, children }
                    }
                }
            }
            other => return Err(DecodeError::UnknownType(other)),
        };
        Ok(Some((item, next)))
    }
}

/// Length headers: strict decimal, or `?` (streamed) which is rejected.
fn parse_len(body: &[u8]) -> Result<i64, DecodeError> {
    if body == b"?" {
        return Err(invalid("streamed RESP3 types are not supported"));
    }
    parse_ll(body).ok_or_else(|| invalid("invalid length"))
}

/// Validates the line of a one-line type; the walker rejects bad values
/// early so the builder cannot fail on framing.
fn check_scalar(kind: u8, body: &[u8]) -> Result<(), DecodeError> {
    match kind {
        b':' => parse_integer(body).map(|_| ()),
        b',' => parse_double(body).map(|_| ()),
        b'#' => parse_bool(body).map(|_| ()),
        b'(' => check_big_number(body),
        b'_' if body.is_empty() => Ok(()),
        b'_' => Err(invalid("null with content")),
        _ => Ok(()),
    }
}

fn parse_integer(body: &[u8]) -> Result<i64, DecodeError> {
    std::str::from_utf8(body)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| invalid("invalid integer"))
}

fn parse_double(body: &[u8]) -> Result<f64, DecodeError> {
    // Rust's parser also takes inf/-inf/nan (any case), as sent by Redis.
    std::str::from_utf8(body)
        .ok()
        .filter(|s| !s.is_empty())
        .and_then(|s| s.parse::<f64>().ok())
        .ok_or_else(|| invalid("invalid double"))
}

fn parse_bool(body: &[u8]) -> Result<bool, DecodeError> {
    match body {
        b"t" => Ok(true),
        b"f" => Ok(false),
        _ => Err(invalid("invalid boolean")),
    }
}

fn check_big_number(body: &[u8]) -> Result<(), DecodeError> {
    let digits = match body.split_first() {
        Some((b'-' | b'+', rest)) => rest,
        _ => body,
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid("invalid big number"));
    }
    Ok(())
}

/// Builds frames from bytes the [`Scanner`] has already validated as one
/// complete frame.
struct Builder<'a> {
    data: &'a Bytes,
    pos: usize,
    limits: &'a DecodeLimits,
}

impl<'a> Builder<'a> {
    fn line(&mut self) -> Result<(u8, &'a [u8]), DecodeError> {
        let data: &'a Bytes = self.data;
        let rest = data.get(self.pos..).unwrap_or_default();
        let lf = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| invalid("truncated frame"))?;
        let line = rest.get(..lf).unwrap_or_default();
        self.pos += lf + 1;
        let (&kind, body) = line.split_first().ok_or_else(|| invalid("empty line"))?;
        Ok((kind, body.strip_suffix(b"\r").unwrap_or(body)))
    }

    fn blob(&mut self, len: usize) -> Result<Bytes, DecodeError> {
        let end = self.pos.saturating_add(len);
        if end.saturating_add(2) > self.data.len() {
            return Err(invalid("truncated frame"));
        }
        let out = self.data.slice(self.pos..end);
        self.pos = end + 2;
        Ok(out)
    }

    fn value(&mut self, depth: usize) -> Result<Frame, DecodeError> {
        if depth > self.limits.max_depth {
            return Err(DecodeError::TooDeep(self.limits.max_depth));
        }
        let start = self.pos;
        let (kind, body) = self.line()?;
        let body_start = start + 1;
        let data: &'a Bytes = self.data;
        let text = || data.slice(body_start..body_start + body.len());
        Ok(match kind {
            b'+' => Frame::Simple(text()),
            b'-' => Frame::Error(text()),
            b':' => Frame::Integer(parse_integer(body)?),
            b',' => Frame::Double(parse_double(body)?),
            b'#' => Frame::Boolean(parse_bool(body)?),
            b'(' => Frame::BigNumber(text()),
            b'_' => Frame::Null,
            b'$' | b'=' | b'!' => {
                let n = parse_len(body)?;
                if n < 0 {
                    return Ok(Frame::Null);
                }
                let payload = self.blob(n as usize)?;
                match kind {
                    b'$' => Frame::Bulk(payload),
                    b'!' => Frame::Error(payload),
                    _ => {
                        let mut format = [0u8; 3];
                        for (dst, src) in format.iter_mut().zip(payload.iter()) {
                            *dst = *src;
                        }
                        if payload.get(3) != Some(&b':') {
                            return Err(invalid("verbatim string without format"));
                        }
                        Frame::Verbatim {
                            format,
                            text: payload.slice(4..),
                        }
                    }
                }
            }
            b'*' | b'~' | b'>' => {
                let n = parse_len(body)?;
                if n < 0 {
                    return Ok(Frame::NullArray);
                }
                let items = self.list(n as u64, depth)?;
                match kind {
                    b'*' => Frame::Array(items),
                    b'~' => Frame::Set(items),
                    _ => Frame::Push(items),
                }
            }
            b'%' | b'|' => {
                let n = parse_len(body)?;
                let pairs = self.pairs(n.max(0) as u64, depth)?;
                if kind == b'%' {
                    Frame::Map(pairs)
                } else {
                    Frame::Attribute(pairs)
                }
            }
            other => return Err(DecodeError::UnknownType(other)),
        })
    }

    fn list(&mut self, n: u64, depth: usize) -> Result<Vec<Frame>, DecodeError> {
        // Never trust a header for preallocation: cap by the bytes present
        // (each element takes at least 3).
        let cap = n.min((self.data.len() / 3) as u64) as usize;
        let mut items = Vec::with_capacity(cap);
        let mut got = 0;
        while got < n {
            let item = self.value(depth + 1)?;
            if !matches!(item, Frame::Attribute(_)) {
                got += 1;
            }
            items.push(item);
        }
        Ok(items)
    }

    fn pairs(&mut self, n: u64, depth: usize) -> Result<Vec<(Frame, Frame)>, DecodeError> {
        let cap = n.min((self.data.len() / 6) as u64) as usize;
        let mut pairs = Vec::with_capacity(cap);
        for _ in 0..n {
            let k = self.counted_value(depth)?;
            let v = self.counted_value(depth)?;
            pairs.push((k, v));
        }
        Ok(pairs)
    }

    /// The next value that is not an attribute (attributes are dropped).
    fn counted_value(&mut self, depth: usize) -> Result<Frame, DecodeError> {
        loop {
            let v = self.value(depth + 1)?;
            if !matches!(v, Frame::Attribute(_)) {
                return Ok(v);
            }
        }
    }
}
