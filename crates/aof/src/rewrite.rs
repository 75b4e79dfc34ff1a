//! Writing a new base file during a rewrite: a temp file in the AOF
//! directory that the RDB writer (preamble) or the command encoder (RESP
//! base) writes into, with `aof-rewrite-incremental-fsync` (an fsync every
//! 4 MB so the final fsync never has gigabytes of dirty pages to flush),
//! then fsync and hand-over to [`crate::AofDir::install_rewritten_base`].
//! The engine's RDB saves use the same file type for
//! `rdb-save-incremental-fsync`.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::command;

/// Bytes between incremental fsyncs (upstream's `REDIS_AUTOSYNC_BYTES`).
pub const AUTOSYNC_BYTES: u64 = 4 * 1024 * 1024;

/// A base file being written.
#[derive(Debug)]
pub struct RewriteFile {
    out: BufWriter<File>,
    path: PathBuf,
    incremental_fsync: bool,
    written: u64,
    since_sync: u64,
    fsyncs: u64,
}

impl RewriteFile {
    /// Creates (truncating) `path`. With `incremental_fsync` the data is
    /// fsynced every [`AUTOSYNC_BYTES`].
    pub fn create(path: &Path, incremental_fsync: bool) -> io::Result<RewriteFile> {
        let f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        Ok(RewriteFile {
            out: BufWriter::with_capacity(64 * 1024, f),
            path: path.to_path_buf(),
            incremental_fsync,
            written: 0,
            since_sync: 0,
            fsyncs: 0,
        })
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Incremental fsyncs done so far.
    pub fn incremental_fsyncs(&self) -> u64 {
        self.fsyncs
    }

    /// Writes one command (RESP base files).
    pub fn write_command<A: AsRef<[u8]>>(&mut self, argv: &[A]) -> io::Result<()> {
        let mut buf = Vec::new();
        command::write_command(&mut buf, argv);
        self.write_all(&buf)
    }

    /// Writes `SELECT <db>`.
    pub fn write_select(&mut self, db: u32) -> io::Result<()> {
        let mut buf = Vec::new();
        command::write_select(&mut buf, db);
        self.write_all(&buf)
    }

    /// Writes a `#TS:` annotation (a RESP base starts with one when
    /// `aof-timestamp-enabled`).
    pub fn write_timestamp(&mut self, unix: i64) -> io::Result<()> {
        let mut buf = Vec::new();
        command::write_timestamp(&mut buf, unix);
        self.write_all(&buf)
    }

    /// Flushes, fsyncs and closes the file; returns its path and size.
    pub fn finish(mut self) -> io::Result<(PathBuf, u64)> {
        self.out.flush()?;
        let f = self.out.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        Ok((self.path, self.written))
    }
}

impl Write for RewriteFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.written += n as u64;
        self.since_sync += n as u64;
        if self.incremental_fsync && self.since_sync >= AUTOSYNC_BYTES {
            self.out.flush()?;
            self.out.get_ref().sync_data()?;
            self.since_sync = 0;
            self.fsyncs += 1;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
#[path = "rewrite_tests.rs"]
mod tests;
