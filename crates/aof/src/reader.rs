//! Incremental reader of the AOF command stream, with the acceptance rules
//! of Redis 7.0's loader (`loadSingleAppendOnlyFile`):
//!
//! - lines are read like `fgets` with a 1024-byte buffer, so a line longer
//!   than 1023 bytes is seen as several lines;
//! - a line starting with `#` is an annotation and is skipped (`#TS:` is
//!   decoded and reported through [`AofReader::last_timestamp`]);
//! - a command is `*<argc>` (parsed like `atoi`, must be ≥ 1) followed by
//!   `argc` times `$<len>` (parsed like `strtol`), `len` bytes and two more
//!   bytes that are skipped without being checked, exactly as upstream;
//! - running out of data inside a command is a truncated tail (what
//!   `aof-load-truncated` repairs); anything else out of place is a format
//!   error.
//!
//! The reader never allocates more than the input actually holds, however
//! large a corrupt length claims to be.
//!
//! A file (normally a base file) may start with an RDB preamble: check
//! [`has_rdb_preamble`] first, hand the file to the RDB reader, then
//! continue with [`AofReader::at_offset`] from where the RDB data ended.

use std::io::{self, BufRead, BufReader, Read};

use bytes::Bytes;

use crate::command::AOF_ANNOTATION_LINE_MAX_LEN;

/// The signature that marks an RDB preamble (and RDB base files).
pub const RDB_SIGNATURE: &[u8; 5] = b"REDIS";

/// True when `head` (the first bytes of a file) starts with the RDB
/// signature, the test upstream's loader applies.
pub fn has_rdb_preamble(head: &[u8]) -> bool {
    head.starts_with(RDB_SIGNATURE)
}

/// Reads the first bytes of `path` and tells whether it holds RDB data.
pub fn file_has_rdb_preamble(path: &std::path::Path) -> io::Result<bool> {
    let mut f = std::fs::File::open(path)?;
    let mut head = [0u8; 5];
    let mut got = 0;
    while got < head.len() {
        match f.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(has_rdb_preamble(&head[..got]))
}

/// One command read from the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The arguments, `argv[0]` being the command name.
    pub argv: Vec<Bytes>,
    /// File offset of the command's `*` line.
    pub offset: u64,
    /// File offset just past the command.
    pub end: u64,
}

/// How the stream ended.
#[derive(Debug)]
pub enum End {
    /// End of file after a complete command (or at the start).
    Clean,
    /// The data stops inside a command, or the file ends inside a
    /// `MULTI` that never saw its `EXEC`. `valid_up_to` is where to
    /// truncate under `aof-load-truncated` (upstream's choice: the end of
    /// the last complete command, or the offset before the dangling
    /// `MULTI`); commands queued after that `MULTI` must not be applied.
    Truncated {
        /// Offset to truncate the file at.
        valid_up_to: u64,
        /// Why (for logs).
        reason: &'static str,
    },
    /// Bytes that cannot be a command at `offset` (upstream: "Bad file
    /// format").
    Corrupt {
        /// Offset of the offending line.
        offset: u64,
        /// Why (for logs).
        reason: String,
    },
    /// An I/O error other than end of file.
    Io(io::Error),
}

/// What [`AofReader::next_event`] yields.
#[derive(Debug)]
pub enum Event {
    /// A complete command.
    Command(Command),
    /// The end of the stream; the reader yields it once, then keeps
    /// returning `End(Clean)`-free repeats of nothing (see `next_event`).
    End(End),
}

/// Streaming reader over any `Read`.
pub struct AofReader<R> {
    inner: BufReader<R>,
    pos: u64,
    valid_up_to: u64,
    before_multi: u64,
    in_multi: bool,
    done: bool,
    last_ts: Option<i64>,
    commands: u64,
    /// The last line `fgets` read (reused: no allocation per line).
    line: Vec<u8>,
}

impl<R> std::fmt::Debug for AofReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AofReader")
            .field("pos", &self.pos)
            .field("valid_up_to", &self.valid_up_to)
            .field("in_multi", &self.in_multi)
            .finish()
    }
}

/// C's `strtol` in base 10 on a line: leading whitespace, sign, digits,
/// saturating at the `long` range. `None` when there are no digits.
fn strtol(s: &[u8]) -> Option<i64> {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let start = i;
    let mut v: i64 = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        let d = (s[i] - b'0') as i64;
        v = if neg {
            v.saturating_mul(10).saturating_sub(d)
        } else {
            v.saturating_mul(10).saturating_add(d)
        };
        i += 1;
    }
    if i == start {
        None
    } else {
        Some(v)
    }
}

impl<R: Read> AofReader<R> {
    /// A reader whose first byte is at file offset 0.
    pub fn new(inner: R) -> AofReader<R> {
        AofReader::at_offset(inner, 0)
    }

    /// A reader whose first byte is at file offset `offset` (the AOF tail
    /// after an RDB preamble); all reported offsets are file offsets.
    pub fn at_offset(inner: R, offset: u64) -> AofReader<R> {
        AofReader {
            inner: BufReader::with_capacity(64 * 1024, inner),
            pos: offset,
            valid_up_to: offset,
            before_multi: offset,
            in_multi: false,
            done: false,
            last_ts: None,
            commands: 0,
            line: Vec::with_capacity(64),
        }
    }

    /// Current file offset (bytes consumed).
    pub fn offset(&self) -> u64 {
        self.pos
    }

    /// End offset of the last complete command.
    pub fn valid_up_to(&self) -> u64 {
        self.valid_up_to
    }

    /// True between a `MULTI` and its `EXEC`.
    pub fn in_multi(&self) -> bool {
        self.in_multi
    }

    /// The last `#TS:` annotation seen, if any.
    pub fn last_timestamp(&self) -> Option<i64> {
        self.last_ts
    }

    /// Commands read so far.
    pub fn commands_read(&self) -> u64 {
        self.commands
    }

    /// `fgets(buf, 1024)` into `self.line`: up to 1023 bytes, stopping
    /// after a newline. False when nothing was left.
    fn fgets(&mut self) -> io::Result<bool> {
        let limit = AOF_ANNOTATION_LINE_MAX_LEN - 1;
        let out = &mut self.line;
        out.clear();
        loop {
            let avail = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if avail.is_empty() {
                break;
            }
            let room = limit - out.len();
            let window = &avail[..avail.len().min(room)];
            let (take, newline) = match window.iter().position(|&c| c == b'\n') {
                Some(p) => (p + 1, true),
                None => (window.len(), false),
            };
            out.extend_from_slice(&window[..take]);
            self.inner.consume(take);
            self.pos += take as u64;
            if newline || out.len() >= limit {
                break;
            }
        }
        Ok(!out.is_empty())
    }

    /// Reads exactly `n` bytes, growing the buffer only as data arrives;
    /// `None` on a short read.
    fn read_exact_n(&mut self, n: u64) -> io::Result<Option<Vec<u8>>> {
        if let Ok(avail) = self.inner.fill_buf() {
            if (avail.len() as u64) >= n {
                // Common case: the whole argument is buffered already.
                let want = n as usize;
                let out = avail[..want].to_vec();
                self.inner.consume(want);
                self.pos += n;
                return Ok(Some(out));
            }
        }
        let mut out = Vec::with_capacity(n.min(64 * 1024) as usize);
        let got = (&mut self.inner).take(n).read_to_end(&mut out)?;
        self.pos += got as u64;
        if (got as u64) < n {
            Ok(None)
        } else {
            Ok(Some(out))
        }
    }

    fn finish(&mut self, end: End) -> Event {
        self.done = true;
        Event::End(end)
    }

    fn truncated(&mut self) -> Event {
        let valid_up_to = self.valid_up_to;
        self.finish(End::Truncated {
            valid_up_to,
            reason: "Unexpected end of file",
        })
    }

    fn corrupt(&mut self, offset: u64, reason: &str) -> Event {
        self.finish(End::Corrupt {
            offset,
            reason: reason.to_string(),
        })
    }

    /// The next command, or how the stream ended. After the end event,
    /// further calls return `End(Clean)` again without reading.
    pub fn next_event(&mut self) -> Event {
        if self.done {
            return Event::End(End::Clean);
        }
        match self.step() {
            Ok(ev) => ev,
            Err(e) => self.finish(End::Io(e)),
        }
    }

    /// Skips exactly `n` bytes; false on a short read.
    fn skip_n(&mut self, n: usize) -> io::Result<bool> {
        if let Ok(avail) = self.inner.fill_buf() {
            if avail.len() >= n {
                self.inner.consume(n);
                self.pos += n as u64;
                return Ok(true);
            }
        }
        Ok(self.read_exact_n(n as u64)?.is_some())
    }

    fn step(&mut self) -> io::Result<Event> {
        loop {
            let start = self.pos;
            if !self.fgets()? {
                if self.in_multi {
                    // Upstream treats a dangling MULTI as a short read
                    // and truncates it away.
                    self.valid_up_to = self.before_multi;
                    return Ok(self.truncated());
                }
                return Ok(self.finish(End::Clean));
            }
            let line = &self.line;
            match line.first() {
                Some(b'#') => {
                    if let Some(rest) = line.strip_prefix(b"#TS:") {
                        if let Some(ts) = strtol(rest) {
                            self.last_ts = Some(ts);
                        }
                    }
                    continue;
                }
                Some(b'*') => {}
                _ => return Ok(self.corrupt(start, "Bad file format: expected '*'")),
            }
            if line.len() < 2 {
                // "*" alone at the end of the data.
                return Ok(self.truncated());
            }
            // atoi: strtol then narrowed to int.
            let argc = strtol(&line[1..]).unwrap_or(0) as i32;
            if argc < 1 {
                return Ok(self.corrupt(start, "Bad file format: invalid multibulk length"));
            }
            let mut argv = Vec::with_capacity((argc as usize).min(1024));
            for _ in 0..argc {
                let lstart = self.pos;
                if !self.fgets()? {
                    return Ok(self.truncated());
                }
                let l = &self.line;
                if l.first() != Some(&b'$') {
                    return Ok(self.corrupt(lstart, "Bad file format: expected '$'"));
                }
                let len = strtol(&l[1..]).unwrap_or(0);
                if len < 0 {
                    // Upstream would try to allocate ~2^64 bytes and abort.
                    return Ok(self.corrupt(lstart, "Bad file format: negative bulk length"));
                }
                let data = match self.read_exact_n(len as u64)? {
                    Some(d) => d,
                    None => return Ok(self.truncated()),
                };
                // The CRLF after the data is skipped unchecked, as upstream.
                if !self.skip_n(2)? {
                    return Ok(self.truncated());
                }
                argv.push(Bytes::from(data));
            }
            let name = argv.first().map(|a| a.as_ref()).unwrap_or(b"");
            if name.eq_ignore_ascii_case(b"multi") {
                self.before_multi = self.valid_up_to;
                self.in_multi = true;
            } else if name.eq_ignore_ascii_case(b"exec") {
                self.in_multi = false;
            }
            self.valid_up_to = self.pos;
            self.commands += 1;
            return Ok(Event::Command(Command {
                argv,
                offset: start,
                end: self.pos,
            }));
        }
    }
}

impl<R: Read> Iterator for AofReader<R> {
    type Item = Result<Command, End>;

    /// Commands, then one `Err(end)` unless the stream ended cleanly.
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_event() {
            Event::Command(c) => Some(Ok(c)),
            Event::End(End::Clean) => None,
            Event::End(e) => Some(Err(e)),
        }
    }
}

#[cfg(test)]
#[path = "reader_tests.rs"]
mod tests;
