//! The server-side request parser: upstream's inline and multibulk request
//! formats, with the same error texts and the same (sometimes surprising)
//! acceptance rules as Redis 7.0.
//!
//! Rules reproduced from observing the reference server:
//! - A request starting with `*` is multibulk: `*<n>\r\n` then `n` times
//!   `$<len>\r\n<data>\r\n`. Header lines are found by searching for `\r`;
//!   the byte after it is skipped without being checked, and the two bytes
//!   after a bulk payload are skipped unchecked too.
//! - `n <= 0` requests are skipped silently; `n > i32::MAX` is an error.
//! - Numbers follow upstream's strict `string2ll`: no `+`, no leading zeros,
//!   no `-0`, at most 20 characters.
//! - Anything else is an inline request: a line ended by `\n` (a `\r` before
//!   it is dropped), split with upstream's quoting rules; blank lines are
//!   skipped.
//! - Upstream searches line ends with `strchr`, so a NUL byte before the
//!   line end hides it: the request then waits until the 64 KiB limit turns
//!   it into a "too big" error. This parser does the same.

use bytes::{Buf, Bytes, BytesMut};

/// Longest header or inline line accepted without its terminator
/// (upstream `PROTO_INLINE_MAX_SIZE`).
pub const INLINE_MAX: usize = 64 * 1024;
/// Largest multibulk count (upstream 7.0 checks `ll > INT_MAX`).
pub const MAX_MULTIBULK_LEN: i64 = i32::MAX as i64;
/// Most arguments an unauthenticated client may announce.
pub const UNAUTH_MAX_MULTIBULK_LEN: i64 = 10;
/// Largest bulk an unauthenticated client may announce.
pub const UNAUTH_MAX_BULK_LEN: i64 = 16384;
/// Argument vectors are preallocated at most this large, whatever the
/// header claims, so a lying header cannot reserve much memory.
const MAX_PREALLOC_ARGS: usize = 1024;

/// Limits applied by [`RequestParser`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest bulk argument (`proto-max-bulk-len`, default 512 MiB).
    pub max_bulk_len: usize,
}

impl Limits {
    /// Upstream's default `proto-max-bulk-len`.
    pub const DEFAULT_MAX_BULK_LEN: usize = 512 * 1024 * 1024;

    /// Limits with the given `proto-max-bulk-len`.
    pub fn new(max_bulk_len: usize) -> Limits {
        Limits { max_bulk_len }
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::new(Limits::DEFAULT_MAX_BULK_LEN)
    }
}

/// A protocol error; its Display is the text after `-ERR `.
///
/// Upstream can put one raw input byte in the message (`expected '$', got
/// 'X'`). Such a byte is stored as the char U+0000..U+00FF of the same value;
/// [`ProtocolError::reply_bytes`] turns it back into the exact bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProtocolError(pub String);

impl ProtocolError {
    fn new(text: &str) -> ProtocolError {
        ProtocolError(text.to_owned())
    }

    /// The message as the exact bytes upstream sends after `-ERR `: chars up
    /// to U+00FF become one byte each, anything else its UTF-8.
    pub fn reply_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.0.len());
        for c in self.0.chars() {
            match u8::try_from(u32::from(c)) {
                Ok(b) => out.push(b),
                Err(_) => {
                    let mut tmp = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                }
            }
        }
        out
    }
}

/// Incremental request parser.
///
/// Feed it the connection's read buffer after every read; it removes each
/// complete request from the front and returns its arguments. State is kept
/// between calls (arguments received so far, arguments still due, the length
/// of a bulk whose header was read), so a large request arriving in many
/// small reads costs O(total) work. Arguments are zero-copy slices of the
/// read buffer.
///
/// Note for callers: a zero-copy argument keeps the whole read-buffer
/// allocation it came from alive; copy small values that are stored for a
/// long time.
#[derive(Debug)]
pub struct RequestParser {
    limits: Limits,
    auth_required: bool,
    /// Arguments of the multibulk request being received.
    args: Vec<Bytes>,
    /// Arguments still due; 0 between requests.
    pending_args: usize,
    /// Payload length of a bulk whose header has been consumed.
    pending_bulk: Option<usize>,
    /// Prefix of the buffer already searched for a line end without success,
    /// so byte-by-byte arrival does not rescan it each time.
    scanned: usize,
    /// A NUL was met before the line end: upstream's `strchr` cannot see
    /// past it, so no line end will be found in the current buffer.
    stuck: bool,
    /// Bytes the pending bulk still needed at the last `parse` call.
    missing: usize,
    /// Bytes of `args` (with their CRLFs), kept as they arrive.
    held: usize,
}

impl Default for RequestParser {
    fn default() -> RequestParser {
        RequestParser::new()
    }
}

impl RequestParser {
    /// A parser with default limits and no authentication gate.
    pub fn new() -> RequestParser {
        RequestParser::with_limits(Limits::default())
    }

    /// A parser with the given limits.
    pub fn with_limits(limits: Limits) -> RequestParser {
        RequestParser {
            limits,
            auth_required: false,
            args: Vec::new(),
            pending_args: 0,
            pending_bulk: None,
            scanned: 0,
            stuck: false,
            missing: 0,
            held: 0,
        }
    }

    /// Changes the limits (e.g. after `CONFIG SET proto-max-bulk-len`);
    /// they apply to headers parsed from now on.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// The current limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Whether the client still has to authenticate. While true, upstream
    /// rejects multibulk counts above 10 and bulks above 16384 bytes
    /// (`Protocol error: unauthenticated ...`) to bound memory use by
    /// strangers.
    pub fn set_auth_required(&mut self, required: bool) {
        self.auth_required = required;
    }

    /// Bytes the bulk argument being received still needs beyond what the
    /// buffer held at the last [`parse`](Self::parse) call (including its
    /// trailing CRLF); 0 when no bulk payload is pending. Lets the server
    /// reserve room for a big argument in one go.
    pub fn reserve_hint(&self) -> usize {
        self.missing
    }

    /// True when part of a request has been consumed and more is due.
    pub fn in_request(&self) -> bool {
        self.pending_args > 0
    }

    /// Bytes of the request being received that the parser already took
    /// out of the buffer (its complete arguments): with what is still in
    /// the buffer, the query buffer upstream would report.
    pub fn held_bytes(&self) -> usize {
        if self.pending_args == 0 {
            return 0;
        }
        self.held
    }

    /// Parses the next complete request from the front of `buf`.
    ///
    /// `Ok(Some(args))` removes the request's bytes from `buf`; `Ok(None)`
    /// means more input is needed (headers of a partial request may have
    /// been consumed into the parser's state). After `Err` the connection
    /// must be closed, as upstream does after replying `-ERR <text>`.
    pub fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        self.missing = 0;
        loop {
            if self.pending_args == 0 {
                let Some(&first) = buf.first() else {
                    return Ok(None);
                };
                if first != b'*' {
                    match self.parse_inline(buf)? {
                        Step::NeedMore => return Ok(None),
                        Step::Skipped => continue,
                        Step::Done(args) => return Ok(Some(args)),
                    }
                }
                if let Some(args) = self.parse_complete(buf) {
                    return Ok(Some(args));
                }
                if !self.parse_multibulk_header(buf)? {
                    return Ok(None);
                }
                if self.pending_args == 0 {
                    // `*0`, `*-1`: nothing to run; look at the next request.
                    continue;
                }
            }
            while self.pending_args > 0 {
                let len = match self.pending_bulk {
                    Some(len) => len,
                    None => match self.parse_bulk_header(buf)? {
                        Some(len) => len,
                        None => return Ok(None),
                    },
                };
                let need = len.saturating_add(2);
                if buf.len() < need {
                    self.missing = need - buf.len();
                    return Ok(None);
                }
                let arg = buf.split_to(len).freeze();
                // Upstream skips the two bytes after the payload unchecked.
                buf.advance(2);
                self.held += arg.len() + 2;
                self.args.push(arg);
                // The buffer front moved: forget any line-search position.
                self.scanned = 0;
                self.stuck = false;
                self.pending_bulk = None;
                self.pending_args -= 1;
            }
            self.held = 0;
            return Ok(Some(std::mem::take(&mut self.args)));
        }
    }

    /// The fast path for the common case: a whole, valid multibulk
    /// request of at most [`FAST_MAX_ARGS`] arguments at the front of
    /// `buf`, taken in one split. Anything else (incomplete, malformed,
    /// over a limit, a NUL in a header) returns `None` without consuming,
    /// and the incremental path handles it with upstream's exact rules.
    fn parse_complete(&mut self, buf: &mut BytesMut) -> Option<Vec<Bytes>> {
        let b: &[u8] = buf;
        let (n, mut pos) = header_line(b, 0, b'*')?;
        if n <= 0 || n > FAST_MAX_ARGS as i64 {
            return None;
        }
        if self.auth_required && n > UNAUTH_MAX_MULTIBULK_LEN {
            return None;
        }
        let n = n as usize;
        let mut ranges = [(0usize, 0usize); FAST_MAX_ARGS];
        for r in ranges.iter_mut().take(n) {
            let (len, start) = header_line(b, pos, b'$')?;
            let len = usize::try_from(len).ok()?;
            if len > self.limits.max_bulk_len
                || (self.auth_required && len > UNAUTH_MAX_BULK_LEN as usize)
            {
                return None;
            }
            let end = start.checked_add(len)?;
            if end.checked_add(2)? > b.len() {
                return None;
            }
            *r = (start, end);
            // The two bytes after the payload are skipped unchecked.
            pos = end + 2;
        }
        // Every argument but the last is a slice of the request (one
        // reference count each); the last is the request itself, cut down
        // to it, which saves a count and its release per request.
        let (&(last_start, last_end), rest) = ranges.get(..n)?.split_last()?;
        let mut whole = buf.split_to(pos).freeze();
        self.scanned = 0;
        self.stuck = false;
        let mut args = Vec::with_capacity(n);
        args.extend(rest.iter().map(|&(s, e)| whole.slice(s..e)));
        whole.truncate(last_end);
        whole.advance(last_start);
        args.push(whole);
        Some(args)
    }

    /// Finds `target` in `buf` as upstream's `strchr` would (a NUL stops
    /// the search), resuming after the part already searched.
    fn find(&mut self, buf: &[u8], target: u8) -> Option<usize> {
        if self.stuck {
            return None;
        }
        let start = self.scanned.min(buf.len());
        let rest = buf.get(start..).unwrap_or_default();
        match rest.iter().position(|&b| b == target || b == 0) {
            Some(i) if rest.get(i) == Some(&target) => {
                self.scanned = start + i;
                Some(start + i)
            }
            Some(_) => {
                self.stuck = true;
                None
            }
            None => {
                self.scanned = buf.len();
                None
            }
        }
    }

    /// Drops `n` bytes of parsed input and forgets the search position.
    fn consume(&mut self, buf: &mut BytesMut, n: usize) {
        buf.advance(n.min(buf.len()));
        self.scanned = 0;
        self.stuck = false;
    }

    fn parse_inline(&mut self, buf: &mut BytesMut) -> Result<Step, ProtocolError> {
        let Some(nl) = self.find(buf, b'\n') else {
            if buf.len() > INLINE_MAX {
                return Err(ProtocolError::new("Protocol error: too big inline request"));
            }
            return Ok(Step::NeedMore);
        };
        let mut end = nl;
        if end > 0 && buf.get(end - 1) == Some(&b'\r') {
            end -= 1;
        }
        let line = buf.get(..end).unwrap_or_default();
        let parts = redis_common::args::split_args(line)
            .ok_or_else(|| ProtocolError::new("Protocol error: unbalanced quotes in request"))?;
        self.consume(buf, nl + 1);
        if parts.is_empty() {
            return Ok(Step::Skipped);
        }
        Ok(Step::Done(parts.into_iter().map(Bytes::from).collect()))
    }

    /// Reads `*<n>\r\n`. Returns false when the line is incomplete.
    fn parse_multibulk_header(&mut self, buf: &mut BytesMut) -> Result<bool, ProtocolError> {
        let Some(cr) = self.find(buf, b'\r') else {
            if buf.len() > INLINE_MAX {
                return Err(ProtocolError::new(
                    "Protocol error: too big mbulk count string",
                ));
            }
            return Ok(false);
        };
        if cr + 2 > buf.len() {
            return Ok(false);
        }
        let n = match parse_ll(buf.get(1..cr).unwrap_or_default()) {
            Some(n) if n <= MAX_MULTIBULK_LEN => n,
            _ => {
                return Err(ProtocolError::new(
                    "Protocol error: invalid multibulk length",
                ))
            }
        };
        if self.auth_required && n > UNAUTH_MAX_MULTIBULK_LEN {
            return Err(ProtocolError::new(
                "Protocol error: unauthenticated multibulk length",
            ));
        }
        self.consume(buf, cr + 2);
        if n > 0 {
            let n = usize::try_from(n).unwrap_or(0);
            self.pending_args = n;
            self.args = Vec::with_capacity(n.min(MAX_PREALLOC_ARGS));
            self.held = 0;
        }
        Ok(true)
    }

    /// Reads `$<len>\r\n`. Returns `None` when the line is incomplete.
    fn parse_bulk_header(&mut self, buf: &mut BytesMut) -> Result<Option<usize>, ProtocolError> {
        let Some(cr) = self.find(buf, b'\r') else {
            if buf.len() > INLINE_MAX {
                return Err(ProtocolError::new(
                    "Protocol error: too big bulk count string",
                ));
            }
            return Ok(None);
        };
        if cr + 2 > buf.len() {
            return Ok(None);
        }
        let first = buf.first().copied().unwrap_or(b'\r');
        if first != b'$' {
            // Upstream's formatted errors turn CR/LF into spaces so the
            // reply stays one line.
            let shown = if first == b'\r' || first == b'\n' {
                ' '
            } else {
                char::from(first)
            };
            return Err(ProtocolError(format!(
                "Protocol error: expected '$', got '{shown}'"
            )));
        }
        let len = parse_ll(buf.get(1..cr).unwrap_or_default())
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n <= self.limits.max_bulk_len)
            .ok_or_else(|| ProtocolError::new("Protocol error: invalid bulk length"))?;
        if self.auth_required && len > UNAUTH_MAX_BULK_LEN as usize {
            return Err(ProtocolError::new(
                "Protocol error: unauthenticated bulk length",
            ));
        }
        self.consume(buf, cr + 2);
        self.pending_bulk = Some(len);
        Ok(Some(len))
    }
}

enum Step {
    NeedMore,
    Skipped,
    Done(Vec<Bytes>),
}

/// Most arguments a request may have to take [`RequestParser`]'s fast
/// path (larger ones are parsed incrementally).
const FAST_MAX_ARGS: usize = 16;

/// A complete `<marker><number>\r?` header line starting at `pos`: its
/// value and the position after the byte following the `\r`. `None` if
/// the line is incomplete, has a NUL before its `\r`, or is invalid.
fn header_line(b: &[u8], pos: usize, marker: u8) -> Option<(i64, usize)> {
    if *b.get(pos)? != marker {
        return None;
    }
    let rest = b.get(pos + 1..)?;
    let i = rest.iter().position(|&c| c == b'\r' || c == 0)?;
    if rest[i] != b'\r' || i + 2 > rest.len() {
        return None;
    }
    let v = parse_ll(&rest[..i])?;
    Some((v, pos + 1 + i + 2))
}

/// Upstream's `string2ll`: optional `-`, then digits without leading zeros
/// (except a lone `0`), no overflow, at most 20 characters.
pub(crate) fn parse_ll(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}
