//! Counting replies without decoding them: the benchmark only needs to
//! know where each top-level reply ends, whether it is an error (and its
//! text) and whether it is an out-of-band push. Nothing is allocated per
//! reply; the walk resumes where it stopped when a reply arrives in pieces
//! (string payloads still in flight are skipped by count, so even a huge
//! bulk reply never has to fit in the buffer).

/// What a complete top-level reply was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Any non-error reply.
    Value,
    /// `-...` (or a RESP3 blob error `!`): the error text.
    Error(String),
    /// A RESP3 push (`>`): not an answer to a request.
    Push,
}

/// The reply stream broke the protocol; the text is hiredis' wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

/// Resumable walker over a connection's reply stream.
#[derive(Debug, Default)]
pub struct Scanner {
    /// Children still due for each open aggregate, innermost last; the
    /// flag is false for attributes, which do not count in their parent.
    stack: Vec<(u64, bool)>,
    /// Payload bytes (plus CRLF) of a string still to skip.
    skip: u64,
    /// Type byte of the top-level reply in progress (0: none yet).
    top: u8,
    /// Text of a blob error at top level, kept while it arrives.
    blob_error: Option<Vec<u8>>,
}

/// Position of the CRLF that ends the header starting at `from`.
fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < buf.len() {
        let p = i + buf[i..].iter().position(|&b| b == b'\r')?;
        if p + 1 >= buf.len() {
            return None;
        }
        if buf[p + 1] == b'\n' {
            return Some(p);
        }
        i = p + 1;
    }
    None
}

/// A signed decimal length/count, as hiredis reads it.
fn parse_len(digits: &[u8]) -> Result<i64, ProtocolError> {
    let (neg, d) = match digits.first() {
        Some(b'-') => (true, &digits[1..]),
        _ => (false, digits),
    };
    if d.is_empty() || d.len() > 19 || !d.iter().all(u8::is_ascii_digit) {
        return Err(ProtocolError("Bad integer value".into()));
    }
    let mut v: i64 = 0;
    for &c in d {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(c - b'0')))
            .ok_or_else(|| ProtocolError("Bad integer value".into()))?;
    }
    Ok(if neg { -v } else { v })
}

impl Scanner {
    /// Walks `buf` from `*pos`; returns the next complete top-level reply,
    /// advancing `*pos` past what was consumed, or `None` when more bytes
    /// are needed (bytes of a partial header are left unconsumed).
    pub fn next(&mut self, buf: &[u8], pos: &mut usize) -> Result<Option<Reply>, ProtocolError> {
        loop {
            if self.skip > 0 {
                let avail = (buf.len() - *pos) as u64;
                let take = avail.min(self.skip);
                if let Some(e) = self.blob_error.as_mut() {
                    e.extend_from_slice(&buf[*pos..*pos + take as usize]);
                }
                *pos += take as usize;
                self.skip -= take;
                if self.skip > 0 {
                    return Ok(None);
                }
                if let Some(done) = self.value_done() {
                    return Ok(Some(done));
                }
                continue;
            }
            let start = *pos;
            let Some(&kind) = buf.get(start) else {
                return Ok(None);
            };
            let Some(end) = find_crlf(buf, start + 1) else {
                return Ok(None);
            };
            let at_top = self.stack.is_empty();
            if at_top && kind != b'|' {
                self.top = kind;
            }
            let line = &buf[start + 1..end];
            *pos = end + 2;
            match kind {
                b'+' | b':' | b',' | b'#' | b'(' | b'_' => {}
                b'-' => {
                    if at_top {
                        let text = String::from_utf8_lossy(line).into_owned();
                        self.reset();
                        return Ok(Some(Reply::Error(text)));
                    }
                }
                b'$' | b'=' | b'!' => {
                    let n = parse_len(line)?;
                    if n >= 0 {
                        if at_top && kind == b'!' {
                            self.blob_error = Some(Vec::new());
                        }
                        self.skip = n as u64 + 2;
                        continue;
                    }
                }
                b'*' | b'~' | b'>' | b'%' | b'|' => {
                    let n = parse_len(line)?;
                    let children = match kind {
                        b'%' | b'|' => (n.max(0) as u64).saturating_mul(2),
                        _ => n.max(0) as u64,
                    };
                    if children > 0 {
                        self.stack.push((children, kind != b'|'));
                        continue;
                    }
                    if kind == b'|' {
                        // An empty attribute: the value it annotates follows.
                        continue;
                    }
                }
                other => {
                    let shown = match other {
                        b'\\' => "\\\\".to_string(),
                        b'"' => "\\\"".to_string(),
                        b'\n' => "\\n".to_string(),
                        b'\r' => "\\r".to_string(),
                        b'\t' => "\\t".to_string(),
                        0x07 => "\\a".to_string(),
                        0x08 => "\\b".to_string(),
                        0x20..=0x7e => char::from(other).to_string(),
                        _ => format!("\\x{other:02x}"),
                    };
                    return Err(ProtocolError(format!(
                        "Protocol error, got \"{shown}\" as reply type byte"
                    )));
                }
            }
            if let Some(done) = self.value_done() {
                return Ok(Some(done));
            }
        }
    }

    /// One value finished: pops finished aggregates; returns the reply
    /// when the top-level value is complete.
    fn value_done(&mut self) -> Option<Reply> {
        let mut counts = true;
        while let Some(top) = self.stack.last_mut() {
            if counts {
                top.0 -= 1;
            }
            if top.0 > 0 {
                return None;
            }
            counts = top.1;
            self.stack.pop();
        }
        if !counts {
            // A top-level attribute ended: its value is still to come.
            return None;
        }
        let reply = match self.top {
            b'>' => Reply::Push,
            b'!' => Reply::Error(
                String::from_utf8_lossy(
                    self.blob_error
                        .as_deref()
                        .map(|e| &e[..e.len().saturating_sub(2)])
                        .unwrap_or_default(),
                )
                .into_owned(),
            ),
            _ => Reply::Value,
        };
        self.reset();
        Some(reply)
    }

    fn reset(&mut self) {
        self.stack.clear();
        self.skip = 0;
        self.top = 0;
        self.blob_error = None;
    }
}

#[cfg(test)]
#[path = "reply_tests.rs"]
mod tests;
