//! Raw RESP framing on the forwarding path: [`RawScanner`] finds where
//! one complete reply ends in a backend's read buffer without building a
//! [`redis_resp::Frame`], so replies are handed to clients as the exact
//! bytes the backend sent (a zero-copy slice of the read buffer).
//!
//! The scanner is resumable: it remembers how far it walked and how many
//! values are still due, so a large reply arriving in many reads is
//! walked once. Only replies the proxy must look into (redirections,
//! merged multi-key replies, `ROLE`) are decoded into frames.

use bytes::{Bytes, BytesMut};
use redis_resp::{DecodeLimits, Frame, Scanner};

/// The backend sent bytes that are not RESP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Protocol error from the backend: {0}")]
pub struct Malformed(pub &'static str);

/// Most values one reply may announce in total (a broken backend must
/// not make the counter overflow).
const MAX_PENDING: u64 = 1 << 40;

/// Resumable walker over replies; one per backend connection.
#[derive(Debug, Default, Clone)]
pub struct RawScanner {
    /// Offset of the first value not yet walked.
    pos: usize,
    /// Values still due before the reply is complete (0: between replies).
    pending: u64,
}

impl RawScanner {
    /// The length of the complete reply at the front of `buf`, or `None`
    /// when more input is needed. After `Some`, the caller removes that
    /// many bytes from the front of `buf`; the scanner has reset.
    pub fn next_len(&mut self, buf: &[u8]) -> Result<Option<usize>, Malformed> {
        if self.pending == 0 {
            self.pos = 0;
            self.pending = 1;
        }
        while self.pending > 0 {
            let Some(rel) = find_crlf(buf.get(self.pos..).unwrap_or_default()) else {
                return Ok(None);
            };
            let line_end = self.pos + rel;
            let kind = buf.get(self.pos).copied().ok_or(Malformed("empty line"))?;
            let body = buf.get(self.pos + 1..line_end).unwrap_or_default();
            let after = line_end + 2;
            match kind {
                b'+' | b'-' | b':' | b',' | b'#' | b'_' | b'(' => {
                    self.pos = after;
                    self.pending -= 1;
                }
                b'$' | b'!' | b'=' => {
                    let n = parse_len(body)?;
                    if n < 0 {
                        self.pos = after;
                    } else {
                        let end = usize::try_from(n)
                            .ok()
                            .and_then(|n| after.checked_add(n))
                            .and_then(|e| e.checked_add(2))
                            .ok_or(Malformed("bulk length"))?;
                        if buf.len() < end {
                            return Ok(None);
                        }
                        self.pos = end;
                    }
                    self.pending -= 1;
                }
                b'*' | b'~' | b'>' | b'%' | b'|' => {
                    let n = parse_len(body)?;
                    self.pos = after;
                    self.pending -= 1;
                    if n > 0 {
                        let n = n as u64;
                        let add = match kind {
                            b'%' => n * 2,
                            // An attribute comes before the value it describes.
                            b'|' => n * 2 + 1,
                            _ => n,
                        };
                        self.pending = self
                            .pending
                            .checked_add(add)
                            .filter(|p| *p <= MAX_PENDING)
                            .ok_or(Malformed("aggregate length"))?;
                    } else if kind == b'|' {
                        self.pending += 1;
                    }
                }
                _ => return Err(Malformed("unknown type byte")),
            }
        }
        let len = self.pos;
        self.pos = 0;
        Ok(Some(len))
    }
}

fn find_crlf(b: &[u8]) -> Option<usize> {
    b.windows(2).position(|w| w == b"\r\n")
}

fn parse_len(b: &[u8]) -> Result<i64, Malformed> {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|n| *n >= -1 && *n <= i64::from(i32::MAX) * 2)
        .ok_or(Malformed("invalid length"))
}

/// The text of an error reply (`-MOVED 3999 1.2.3.4:6381\r\n` gives
/// `MOVED 3999 1.2.3.4:6381`), `None` for any other reply.
pub fn error_text(reply: &[u8]) -> Option<&[u8]> {
    let rest = reply.strip_prefix(b"-")?;
    Some(rest.strip_suffix(b"\r\n").unwrap_or(rest))
}

/// Decodes one complete raw reply into a frame (for the replies the proxy
/// merges or inspects).
pub fn decode(reply: &Bytes) -> Option<Frame> {
    let limits = DecodeLimits {
        max_depth: 512,
        max_bulk_len: usize::MAX,
        max_aggregate_len: usize::MAX,
    };
    let mut buf = BytesMut::from(reply.as_ref());
    Scanner::default().decode(&mut buf, &limits).ok().flatten()
}

/// An error reply line: `-<text>\r\n`.
pub fn error_reply(text: &str) -> Bytes {
    let mut b = BytesMut::with_capacity(text.len() + 3);
    b.extend_from_slice(b"-");
    b.extend_from_slice(text.as_bytes());
    b.extend_from_slice(b"\r\n");
    b.freeze()
}

#[cfg(test)]
#[path = "resp_tests.rs"]
mod tests;
