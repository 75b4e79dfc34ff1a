//! Client-side RESP2/RESP3 reply decoder.
//!
//! This is a private stand-in for `redis_resp::decode`, which is being written
//! concurrently; it produces the shared [`Frame`] type so callers do not change
//! when the client switches over. It never panics on malformed input: every
//! protocol violation becomes a [`DecodeError`].

use bytes::{Buf, Bytes, BytesMut};
use redis_resp::Frame;

/// The server sent bytes that are not valid RESP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Protocol error: {0}")]
pub struct DecodeError(pub String);

/// Nesting bound: a hostile server must not be able to blow our stack.
const MAX_DEPTH: usize = 512;

/// Decodes one frame from the front of `buf`.
///
/// `Ok(None)` means the buffer holds only part of a frame and nothing was consumed.
pub fn decode(buf: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
    let mut cursor = Cursor {
        data: &buf[..],
        pos: 0,
    };
    match cursor.frame(0)? {
        Some(frame) => {
            let used = cursor.pos;
            buf.advance(used);
            Ok(Some(frame))
        }
        None => Ok(None),
    }
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    /// Returns the next CRLF-terminated line without its terminator.
    fn line(&mut self) -> Option<&[u8]> {
        let rest = self.data.get(self.pos..)?;
        let nl = rest.windows(2).position(|w| w == b"\r\n")?;
        let line = &rest[..nl];
        self.pos += nl + 2;
        Some(line)
    }

    fn int_line(&mut self) -> Result<Option<i64>, DecodeError> {
        let Some(line) = self.line() else {
            return Ok(None);
        };
        parse_int(line).map(Some)
    }

    /// Reads `len` payload bytes followed by CRLF.
    fn payload(&mut self, len: usize) -> Result<Option<Bytes>, DecodeError> {
        let end = self.pos.checked_add(len).ok_or_else(too_big)?;
        if self.data.len() < end.saturating_add(2) {
            return Ok(None);
        }
        if &self.data[end..end + 2] != b"\r\n" {
            return Err(DecodeError("bulk payload not terminated by CRLF".into()));
        }
        let out = Bytes::copy_from_slice(&self.data[self.pos..end]);
        self.pos = end + 2;
        Ok(Some(out))
    }

    fn items(&mut self, count: usize, depth: usize) -> Result<Option<Vec<Frame>>, DecodeError> {
        // Cap the preallocation: the count comes from the network.
        let mut out = Vec::with_capacity(count.min(1024));
        for _ in 0..count {
            match self.frame(depth + 1)? {
                Some(f) => out.push(f),
                None => return Ok(None),
            }
        }
        Ok(Some(out))
    }

    fn pairs(
        &mut self,
        count: usize,
        depth: usize,
    ) -> Result<Option<Vec<(Frame, Frame)>>, DecodeError> {
        let mut out = Vec::with_capacity(count.min(1024));
        for _ in 0..count {
            let Some(k) = self.frame(depth + 1)? else {
                return Ok(None);
            };
            let Some(v) = self.frame(depth + 1)? else {
                return Ok(None);
            };
            out.push((k, v));
        }
        Ok(Some(out))
    }

    fn frame(&mut self, depth: usize) -> Result<Option<Frame>, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError("reply nested too deeply".into()));
        }
        let Some(&tag) = self.data.get(self.pos) else {
            return Ok(None);
        };
        self.pos += 1;
        let frame = match tag {
            b'+' | b'-' | b'(' | b',' | b'#' | b'_' => {
                let Some(line) = self.line() else {
                    return Ok(None);
                };
                let text = Bytes::copy_from_slice(line);
                match tag {
                    b'+' => Frame::Simple(text),
                    b'-' => Frame::Error(text),
                    b'(' => Frame::BigNumber(text),
                    b',' => Frame::Double(parse_double(&text)?),
                    b'#' => match &text[..] {
                        b"t" => Frame::Boolean(true),
                        b"f" => Frame::Boolean(false),
                        _ => return Err(DecodeError("bad boolean".into())),
                    },
                    _ => Frame::Null,
                }
            }
            b':' => match self.int_line()? {
                Some(n) => Frame::Integer(n),
                None => return Ok(None),
            },
            b'$' | b'=' | b'!' => {
                let Some(len) = self.int_line()? else {
                    return Ok(None);
                };
                if len < 0 {
                    Frame::Null
                } else {
                    let len = usize::try_from(len).map_err(|_| too_big())?;
                    let Some(body) = self.payload(len)? else {
                        return Ok(None);
                    };
                    match tag {
                        b'$' => Frame::Bulk(body),
                        b'!' => Frame::Error(body),
                        _ => {
                            // Verbatim strings are "fmt:text"; keep the format apart.
                            if body.len() < 4 || body[3] != b':' {
                                return Err(DecodeError("bad verbatim string".into()));
                            }
                            let format = [body[0], body[1], body[2]];
                            Frame::Verbatim {
                                format,
                                text: body.slice(4..),
                            }
                        }
                    }
                }
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let Some(len) = self.int_line()? else {
                    return Ok(None);
                };
                if len < 0 {
                    Frame::NullArray
                } else {
                    let len = usize::try_from(len).map_err(|_| too_big())?;
                    match tag {
                        b'%' | b'|' => {
                            let Some(p) = self.pairs(len, depth)? else {
                                return Ok(None);
                            };
                            if tag == b'%' {
                                Frame::Map(p)
                            } else {
                                Frame::Attribute(p)
                            }
                        }
                        _ => {
                            let Some(items) = self.items(len, depth)? else {
                                return Ok(None);
                            };
                            match tag {
                                b'*' => Frame::Array(items),
                                b'~' => Frame::Set(items),
                                _ => Frame::Push(items),
                            }
                        }
                    }
                }
            }
            other => {
                return Err(DecodeError(format!(
                    "unexpected type byte '{}'",
                    other.escape_ascii()
                )))
            }
        };
        Ok(Some(frame))
    }
}

fn too_big() -> DecodeError {
    DecodeError("length out of range".into())
}

fn parse_int(line: &[u8]) -> Result<i64, DecodeError> {
    std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| DecodeError("bad integer".into()))
}

fn parse_double(text: &[u8]) -> Result<f64, DecodeError> {
    let s = std::str::from_utf8(text).map_err(|_| DecodeError("bad double".into()))?;
    match s {
        "inf" | "+inf" => Ok(f64::INFINITY),
        "-inf" => Ok(f64::NEG_INFINITY),
        "nan" | "-nan" => Ok(f64::NAN),
        _ => s
            .parse::<f64>()
            .map_err(|_| DecodeError("bad double".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(input: &[u8]) -> Frame {
        let mut b = BytesMut::from(input);
        let f = decode(&mut b).unwrap().unwrap();
        assert!(b.is_empty(), "left over: {:?}", b);
        f
    }

    #[test]
    fn scalars() {
        assert_eq!(one(b"+OK\r\n"), Frame::Simple(Bytes::from_static(b"OK")));
        assert_eq!(
            one(b"-ERR x\r\n"),
            Frame::Error(Bytes::from_static(b"ERR x"))
        );
        assert_eq!(one(b":-5\r\n"), Frame::Integer(-5));
        assert_eq!(one(b"$-1\r\n"), Frame::Null);
        assert_eq!(one(b"*-1\r\n"), Frame::NullArray);
        assert_eq!(one(b"_\r\n"), Frame::Null);
        assert_eq!(one(b",1.5\r\n"), Frame::Double(1.5));
        assert_eq!(one(b"#t\r\n"), Frame::Boolean(true));
        assert_eq!(
            one(b"$3\r\na\r\n\r\n"),
            Frame::Bulk(Bytes::from_static(b"a\r\n"))
        );
        assert_eq!(
            one(b"=7\r\ntxt:abc\r\n"),
            Frame::Verbatim {
                format: *b"txt",
                text: Bytes::from_static(b"abc")
            }
        );
    }

    #[test]
    fn aggregates_and_partial_input() {
        let full = b"*2\r\n%1\r\n+k\r\n:1\r\n~1\r\n$1\r\nx\r\n";
        for cut in 0..full.len() {
            let mut b = BytesMut::from(&full[..cut]);
            assert_eq!(decode(&mut b).unwrap(), None);
            assert_eq!(b.len(), cut, "nothing consumed on partial input");
        }
        let f = one(full);
        assert!(matches!(f, Frame::Array(ref v) if v.len() == 2));
    }

    #[test]
    fn garbage_is_an_error() {
        let mut b = BytesMut::from(&b"?x\r\n"[..]);
        assert!(decode(&mut b).is_err());
        let mut b = BytesMut::from(&b":abc\r\n"[..]);
        assert!(decode(&mut b).is_err());
        let mut b = BytesMut::from(&b"$2\r\nabcd\r\n"[..]);
        assert!(decode(&mut b).is_err());
    }
}
