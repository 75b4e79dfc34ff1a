//! In-place request framing on the forwarding path: [`scan`] finds a
//! complete multibulk request at the front of a client's read buffer and
//! the offsets of its arguments, without copying or allocating, so an
//! ordinary request is routed by looking at slices of the buffer and
//! forwarded as the exact bytes the client sent.
//!
//! Only the plain, valid form is taken here (`*<n>\r\n` then `n` times
//! `$<len>\r\n<data>\r\n`, canonical numbers); anything else (inline
//! requests, `*0`, malformed or oversized headers) is [`Scan::Slow`] and
//! goes through [`redis_resp::RequestParser`], which has upstream's exact
//! acceptance rules and error texts.

use bytes::Bytes;

/// What [`scan`] found at the front of the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scan {
    /// A whole request of this many bytes; the argument ranges are in
    /// the caller's vector.
    Complete(usize),
    /// A valid beginning: more input is needed (at least this many bytes
    /// in total when known).
    Incomplete(Option<usize>),
    /// Not the plain form: hand it to the full parser.
    Slow,
}

/// Longest header line the fast path waits for.
const MAX_HEADER: usize = 32;
/// Most arguments the fast path takes.
pub const MAX_ARGS: usize = 1 << 20;

/// Scans the request at the front of `buf`; on `Complete`, `ranges`
/// holds the `(start, end)` of every argument relative to `buf`.
pub fn scan(buf: &[u8], ranges: &mut Vec<(usize, usize)>, max_bulk: usize) -> Scan {
    ranges.clear();
    if buf.first() != Some(&b'*') {
        return if buf.is_empty() {
            Scan::Incomplete(None)
        } else {
            Scan::Slow
        };
    }
    let (n, mut pos) = match number(buf, 1) {
        Num::Done(n, next) => (n, next),
        Num::More => return Scan::Incomplete(None),
        Num::Bad => return Scan::Slow,
    };
    if n == 0 || n > MAX_ARGS {
        return Scan::Slow;
    }
    for _ in 0..n {
        match buf.get(pos) {
            None => return Scan::Incomplete(None),
            Some(b'$') => {}
            Some(_) => return Scan::Slow,
        }
        let (len, start) = match number(buf, pos + 1) {
            Num::Done(n, next) => (n, next),
            Num::More => return Scan::Incomplete(None),
            Num::Bad => return Scan::Slow,
        };
        if len > max_bulk {
            return Scan::Slow;
        }
        let end = start + len;
        // The two bytes after the payload are skipped unchecked, as the
        // servers do (they get these same bytes).
        pos = end + 2;
        if buf.len() < pos {
            return Scan::Incomplete(Some(pos));
        }
        ranges.push((start, end));
    }
    Scan::Complete(pos)
}

enum Num {
    Done(usize, usize),
    More,
    Bad,
}

/// A canonical non-negative decimal at `at`, ended by CRLF; the value
/// and the offset after the CRLF.
fn number(buf: &[u8], at: usize) -> Num {
    let mut v: usize = 0;
    let mut i = at;
    loop {
        let Some(&c) = buf.get(i) else {
            return if i - at > MAX_HEADER {
                Num::Bad
            } else {
                Num::More
            };
        };
        match c {
            b'0'..=b'9' => {
                if i - at >= 18 || (i > at && v == 0) {
                    // Too long, or a leading zero: not canonical.
                    return Num::Bad;
                }
                v = v * 10 + usize::from(c - b'0');
            }
            b'\r' if i > at => {
                return match buf.get(i + 1) {
                    None => Num::More,
                    Some(b'\n') => Num::Done(v, i + 2),
                    Some(_) => Num::Bad,
                };
            }
            _ => return Num::Bad,
        }
        i += 1;
    }
}

/// Access to a request's arguments, whether slices of a read buffer or
/// owned values.
pub trait ArgList {
    fn count(&self) -> usize;
    fn arg(&self, i: usize) -> Option<&[u8]>;
}

impl ArgList for [Bytes] {
    fn count(&self) -> usize {
        self.len()
    }
    fn arg(&self, i: usize) -> Option<&[u8]> {
        self.get(i).map(|b| b.as_ref())
    }
}

impl ArgList for Vec<Bytes> {
    fn count(&self) -> usize {
        self.len()
    }
    fn arg(&self, i: usize) -> Option<&[u8]> {
        self.get(i).map(|b| b.as_ref())
    }
}

/// A request's arguments as ranges into its raw bytes.
#[derive(Clone, Copy, Debug)]
pub struct Args<'a> {
    pub raw: &'a [u8],
    pub ranges: &'a [(usize, usize)],
}

impl<'a> Args<'a> {
    /// Argument `i`.
    pub fn get(&self, i: usize) -> Option<&'a [u8]> {
        let &(s, e) = self.ranges.get(i)?;
        self.raw.get(s..e)
    }

    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Owned copies of every argument (local commands, split requests).
    pub fn to_vec(&self) -> Vec<Bytes> {
        (0..self.len())
            .filter_map(|i| self.get(i))
            .map(Bytes::copy_from_slice)
            .collect()
    }
}

impl ArgList for Args<'_> {
    fn count(&self) -> usize {
        self.len()
    }
    fn arg(&self, i: usize) -> Option<&[u8]> {
        self.get(i)
    }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
