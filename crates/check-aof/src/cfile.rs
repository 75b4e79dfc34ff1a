//! A small model of the stdio calls upstream's checker is written against
//! (`fgets`, `fread`, `ftello`, `feof`, `ftruncate`) over a buffered file,
//! so positions, end-of-file flags and line splitting behave identically:
//! the tool's report (offsets, line counts) depends on them.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};

/// A file read the way a C `FILE*` is.
pub struct CFile {
    inner: BufReader<File>,
    pos: u64,
    eof: bool,
}

impl CFile {
    /// Wraps an open file, positioned at its start.
    pub fn new(f: File) -> CFile {
        CFile {
            inner: BufReader::with_capacity(64 * 1024, f),
            pos: 0,
            eof: false,
        }
    }

    /// `ftello`.
    pub fn tell(&self) -> u64 {
        self.pos
    }

    /// `feof`: true once a read hit the end of the file.
    pub fn eof(&self) -> bool {
        self.eof
    }

    /// Moves to an absolute offset (clears the end-of-file flag, like
    /// `fseek`).
    pub fn seek_to(&mut self, pos: u64) -> io::Result<()> {
        self.inner.seek(SeekFrom::Start(pos))?;
        self.pos = pos;
        self.eof = false;
        Ok(())
    }

    /// The next byte without consuming it (`fgets(buf, 2)` followed by
    /// `fseek(-1)`); `None` at end of file, which sets the flag.
    pub fn peek(&mut self) -> io::Result<Option<u8>> {
        let b = self.inner.fill_buf()?;
        match b.first() {
            Some(&c) => Ok(Some(c)),
            None => {
                self.eof = true;
                Ok(None)
            }
        }
    }

    /// `fgets(buf, size)`: up to `size - 1` bytes, stopping after a
    /// newline; `None` when nothing could be read.
    pub fn fgets(&mut self, size: usize) -> io::Result<Option<Vec<u8>>> {
        let limit = size.saturating_sub(1);
        let mut out = Vec::new();
        while out.len() < limit {
            let avail = self.inner.fill_buf()?;
            if avail.is_empty() {
                self.eof = true;
                break;
            }
            let window = &avail[..avail.len().min(limit - out.len())];
            let (take, nl) = match window.iter().position(|&c| c == b'\n') {
                Some(p) => (p + 1, true),
                None => (window.len(), false),
            };
            out.extend_from_slice(&window[..take]);
            self.inner.consume(take);
            self.pos += take as u64;
            if nl {
                break;
            }
        }
        if out.is_empty() {
            Ok(None)
        } else {
            Ok(Some(out))
        }
    }

    /// `fread(buf, 1, n)`: as many bytes as there are, up to `n`, growing
    /// the buffer only as data arrives.
    pub fn fread(&mut self, n: u64) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(n.min(64 * 1024) as usize);
        let got = (&mut self.inner).take(n).read_to_end(&mut out)?;
        self.pos += got as u64;
        if (got as u64) < n {
            self.eof = true;
        }
        Ok(out)
    }

    /// `ftruncate(fileno(fp), len)`.
    pub fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.inner.get_ref().set_len(len)
    }

    /// The underlying file (the RDB checker reads it directly).
    pub fn file(&self) -> &File {
        self.inner.get_ref()
    }
}
