//! Reception of a full sync's RDB payload, in either of its two forms:
//!
//! - `$<len>\r\n` then exactly `len` bytes (disk-based primaries);
//! - `$EOF:<40-byte mark>\r\n` then the RDB then the mark again (diskless
//!   primaries, which do not know the size in advance). The primary sends
//!   nothing after the mark until we acknowledge, so the mark is the tail
//!   of what we read.
//!
//! The payload goes to memory (to be parsed from there) or to a temp
//! file `temp-<unix secs>.<pid>.rdb` (renamed over `dbfilename` by the
//! caller). Bytes after a `$<len>` payload stay in the link's buffer.

use std::path::{Path, PathBuf};

use bytes::Buf;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufWriter};

use crate::error::{os_text, ReplError};
use crate::ids::REPLID_LEN;
use crate::line::{LineLink, Phase};
use crate::log::{notice, Log};

/// Length of the EOF mark.
const MARK_LEN: usize = REPLID_LEN;

/// Write buffer of the temp file.
const FILE_BUFFER: usize = 1 << 20;

/// Data written between two `fsync`s of the temp file, so the final one
/// does not stall on the whole payload (upstream does the same every 8 MB).
const FSYNC_EVERY: u64 = 8 << 20;

/// Where the payload goes (`repl-diskless-load`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PayloadTarget {
    /// Into memory, for a diskless load ("to parser" in the log).
    Memory,
    /// Into a temp file in `dir` ("to disk").
    Disk {
        /// Directory of the temp file (the server's working directory).
        dir: PathBuf,
    },
}

/// A received payload.
#[derive(Debug)]
pub enum Payload {
    /// The RDB bytes.
    Memory(Vec<u8>),
    /// The temp file holding the RDB, fsynced.
    File(TempFile),
}

/// A temp file that is removed when dropped unless it was kept or
/// renamed into place.
#[derive(Debug)]
pub struct TempFile {
    path: PathBuf,
    keep: bool,
}

impl TempFile {
    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Keeps the file (it will not be removed) and returns its path.
    pub fn keep(mut self) -> PathBuf {
        self.keep = true;
        std::mem::take(&mut self.path)
    }

    /// Renames the file over `target` (the RDB to load). On failure the
    /// temp file is removed and the error is upstream's line.
    pub fn persist_as(mut self, target: &Path) -> Result<(), ReplError> {
        match std::fs::rename(&self.path, target) {
            Ok(()) => {
                self.keep = true;
                Ok(())
            }
            Err(e) => Err(ReplError::TempRename {
                target: target.display().to_string(),
                reason: os_text(&e),
            }),
        }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The destination of a payload being received.
enum Sink {
    Memory(Vec<u8>),
    File {
        writer: BufWriter<tokio::fs::File>,
        file: TempFile,
        /// Bytes written since the last fsync.
        unsynced: u64,
    },
}

impl Sink {
    async fn open(target: &PayloadTarget) -> Result<Sink, ReplError> {
        let dir = match target {
            PayloadTarget::Memory => return Ok(Sink::Memory(Vec::new())),
            PayloadTarget::Disk { dir } => dir,
        };
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let path = dir.join(format!("temp-{secs}.{}.rdb", std::process::id()));
        let f = tokio::fs::File::create(&path)
            .await
            .map_err(|e| ReplError::TempOpen(os_text(&e)))?;
        Ok(Sink::File {
            writer: BufWriter::with_capacity(FILE_BUFFER, f),
            file: TempFile { path, keep: false },
            unsynced: 0,
        })
    }

    async fn write(&mut self, data: &[u8]) -> Result<(), ReplError> {
        match self {
            Sink::Memory(v) => {
                v.extend_from_slice(data);
                Ok(())
            }
            Sink::File {
                writer, unsynced, ..
            } => {
                let werr = |e: std::io::Error| ReplError::TempWrite(os_text(&e));
                writer.write_all(data).await.map_err(werr)?;
                *unsynced += data.len() as u64;
                if *unsynced >= FSYNC_EVERY {
                    *unsynced = 0;
                    writer.flush().await.map_err(werr)?;
                    writer.get_ref().sync_data().await.map_err(werr)?;
                }
                Ok(())
            }
        }
    }

    async fn finish(self) -> Result<Payload, ReplError> {
        match self {
            Sink::Memory(v) => Ok(Payload::Memory(v)),
            Sink::File {
                mut writer, file, ..
            } => {
                let synced = match writer.flush().await {
                    Ok(()) => writer.get_ref().sync_all().await,
                    Err(e) => Err(e),
                };
                synced.map_err(|e| ReplError::TempSync(os_text(&e)))?;
                Ok(Payload::File(file))
            }
        }
    }
}

/// The announced form of the payload.
enum Form {
    Len(usize),
    Eof([u8; MARK_LEN]),
}

/// Reads the payload header line (skipping keep-alive newlines).
async fn header<S: AsyncRead + AsyncWrite + Unpin>(
    link: &mut LineLink<S>,
    log: &mut dyn Log,
) -> Result<Form, ReplError> {
    let line = loop {
        let l = link.read_line(Phase::Transfer).await?;
        log.transfer_progress(-1, 0);
        if !l.is_empty() {
            break l;
        }
    };
    if let Some(err) = line.strip_prefix('-') {
        return Err(ReplError::MasterAborted(err.to_string()));
    }
    let Some(spec) = line.strip_prefix('$') else {
        return Err(ReplError::BadPayloadHeader(line));
    };
    if let Some(mark) = spec
        .strip_prefix("EOF:")
        .and_then(|m| m.as_bytes().get(..MARK_LEN))
    {
        let mut m = [0u8; MARK_LEN];
        m.copy_from_slice(mark);
        return Ok(Form::Eof(m));
    }
    spec.parse::<usize>()
        .map(Form::Len)
        .map_err(|_| ReplError::BadPayloadLength(spec.to_string()))
}

/// Receives the RDB payload that follows `+FULLRESYNC` (or `SYNC`), into
/// memory or a temp file as `target` says, logging upstream's lines.
/// After a `$<len>` payload, what follows stays in `link`'s buffer.
pub async fn receive_payload<S: AsyncRead + AsyncWrite + Unpin>(
    link: &mut LineLink<S>,
    target: &PayloadTarget,
    log: &mut dyn Log,
) -> Result<Payload, ReplError> {
    let form = header(link, log).await?;
    let to = match target {
        PayloadTarget::Memory => "parser",
        PayloadTarget::Disk { .. } => "disk",
    };
    match &form {
        Form::Eof(_) => notice(
            log,
            format!("MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to {to}"),
        ),
        Form::Len(n) => notice(
            log,
            format!("MASTER <-> REPLICA sync: receiving {n} bytes from master to {to}"),
        ),
    }
    let mut sink = Sink::open(target).await?;
    match form {
        Form::Len(len) => receive_len(link, &mut sink, len, log).await?,
        Form::Eof(mark) => receive_eof(link, &mut sink, &mark, log).await?,
    }
    sink.finish().await
}

async fn receive_len<S: AsyncRead + AsyncWrite + Unpin>(
    link: &mut LineLink<S>,
    sink: &mut Sink,
    len: usize,
    log: &mut dyn Log,
) -> Result<(), ReplError> {
    let total = i64::try_from(len).unwrap_or(i64::MAX);
    let mut left = len;
    loop {
        let n = left.min(link.buffer().len());
        if n > 0 {
            sink.write(&link.buffer()[..n]).await?;
            link.buffer_mut().advance(n);
            left -= n;
            log.transfer_progress(total, (len - left) as i64);
        }
        if left == 0 {
            return Ok(());
        }
        link.read_more(Phase::Transfer).await?;
    }
}

async fn receive_eof<S: AsyncRead + AsyncWrite + Unpin>(
    link: &mut LineLink<S>,
    sink: &mut Sink,
    mark: &[u8; MARK_LEN],
    log: &mut dyn Log,
) -> Result<(), ReplError> {
    // The last MARK_LEN bytes seen are held back until we know whether
    // they are the mark.
    let mut held: Vec<u8> = Vec::with_capacity(2 * MARK_LEN);
    let mut read: i64 = 0;
    loop {
        let chunk_len = link.buffer().len();
        if chunk_len > 0 {
            read += chunk_len as i64;
            if chunk_len >= MARK_LEN {
                sink.write(&held).await?;
                held.clear();
                let chunk = &link.buffer()[..];
                sink.write(&chunk[..chunk_len - MARK_LEN]).await?;
                held.extend_from_slice(&chunk[chunk_len - MARK_LEN..]);
            } else {
                held.extend_from_slice(&link.buffer()[..]);
                if held.len() > MARK_LEN {
                    let excess = held.len() - MARK_LEN;
                    sink.write(&held[..excess]).await?;
                    held.drain(..excess);
                }
            }
            link.buffer_mut().clear();
            log.transfer_progress(0, read);
            if held.as_slice() == mark.as_slice() {
                return Ok(());
            }
        }
        link.read_more(Phase::Transfer).await?;
    }
}

#[cfg(test)]
#[path = "payload_tests.rs"]
mod tests;
