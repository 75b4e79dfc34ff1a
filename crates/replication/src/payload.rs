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
mod tests {
    use super::*;
    use redis_common::log::LogLevel;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;
    use tokio::io::{AsyncWriteExt, DuplexStream};

    const T: Duration = Duration::from_secs(10);
    const MARK: &[u8; 40] = b"abcdefghijabcdefghijabcdefghijabcdefghij";

    /// Sends `parts` one write each (yielding between them so they tend
    /// to arrive as separate reads), then closes.
    fn feeder(mut w: DuplexStream, parts: Vec<Vec<u8>>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            for p in parts {
                // The reader may stop early (an error): later parts are moot.
                if w.write_all(&p).await.is_err() {
                    return;
                }
                tokio::task::yield_now().await;
            }
        })
    }

    type Lines = Arc<Mutex<Vec<String>>>;

    async fn receive(
        parts: Vec<Vec<u8>>,
        target: PayloadTarget,
    ) -> (Result<Payload, ReplError>, Vec<u8>, Vec<String>) {
        tokio::time::timeout(T, async move {
            // A small pipe so large payloads really arrive in pieces.
            let (a, b) = tokio::io::duplex(97);
            let w = feeder(b, parts);
            let mut link = LineLink::new(a, Duration::from_secs(5));
            let lines: Lines = Arc::default();
            let sink = lines.clone();
            let mut log = move |_: LogLevel, m: String| sink.lock().unwrap().push(m);
            let out = receive_payload(&mut link, &target, &mut log).await;
            // Whatever else arrives after the payload.
            while link.read_more(Phase::Transfer).await.is_ok() {}
            let rest = link.buffer().to_vec();
            drop(link);
            w.await.unwrap();
            let lines = lines.lock().unwrap().clone();
            (out, rest, lines)
        })
        .await
        .unwrap()
    }

    fn memory(p: Payload) -> Vec<u8> {
        match p {
            Payload::Memory(v) => v,
            Payload::File(_) => panic!("file"),
        }
    }

    fn rdb(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 13) as u8).collect()
    }

    #[tokio::test]
    async fn len_form_split_at_every_offset_keeps_what_follows() {
        let body = rdb(150);
        let mut whole = b"\n\n$150\r\n".to_vec();
        whole.extend_from_slice(&body);
        whole.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
        for cut in 0..whole.len() {
            let parts = vec![whole[..cut].to_vec(), whole[cut..].to_vec()];
            let (out, rest, lines) = receive(parts, PayloadTarget::Memory).await;
            assert_eq!(memory(out.unwrap()), body, "cut {cut}");
            assert_eq!(rest, b"*1\r\n$4\r\nPING\r\n", "cut {cut}");
            assert_eq!(
                lines,
                ["MASTER <-> REPLICA sync: receiving 150 bytes from master to parser"]
            );
        }
    }

    #[tokio::test]
    async fn eof_form_split_at_every_offset() {
        let body = rdb(130);
        let mut whole = b"$EOF:".to_vec();
        whole.extend_from_slice(MARK);
        whole.extend_from_slice(b"\r\n");
        whole.extend_from_slice(&body);
        whole.extend_from_slice(MARK);
        for cut in 0..whole.len() {
            let parts = vec![whole[..cut].to_vec(), whole[cut..].to_vec()];
            let (out, rest, lines) = receive(parts, PayloadTarget::Memory).await;
            assert_eq!(memory(out.unwrap()), body, "cut {cut}");
            assert!(rest.is_empty());
            assert_eq!(
                lines,
                ["MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to parser"]
            );
        }
    }

    #[tokio::test]
    async fn eof_mark_straddling_many_small_reads() {
        let body = rdb(1000);
        let mut whole = b"$EOF:".to_vec();
        whole.extend_from_slice(MARK);
        whole.extend_from_slice(b"\r\n");
        let head = whole.len();
        whole.extend_from_slice(&body);
        // A fake partial mark inside the body must not end it early.
        whole.extend_from_slice(&MARK[..39]);
        whole.extend_from_slice(b"Z");
        whole.extend_from_slice(MARK);
        let mut want = body.clone();
        want.extend_from_slice(&MARK[..39]);
        want.push(b'Z');
        for step in [1usize, 3, 17, 39, 40, 41] {
            let mut parts = vec![whole[..head].to_vec()];
            parts.extend(whole[head..].chunks(step).map(<[u8]>::to_vec));
            let (out, _, _) = receive(parts, PayloadTarget::Memory).await;
            assert_eq!(memory(out.unwrap()), want, "step {step}");
        }
    }

    #[tokio::test]
    async fn empty_payloads() {
        let (out, _, _) = receive(vec![b"$0\r\n".to_vec()], PayloadTarget::Memory).await;
        assert!(memory(out.unwrap()).is_empty());
        let mut eof = b"$EOF:".to_vec();
        eof.extend_from_slice(MARK);
        eof.extend_from_slice(b"\r\n");
        eof.extend_from_slice(MARK);
        let (out, _, _) = receive(vec![eof], PayloadTarget::Memory).await;
        assert!(memory(out.unwrap()).is_empty());
    }

    #[tokio::test]
    async fn bad_headers_are_errors() {
        let cases: Vec<(&[u8], ReplError)> = vec![
            (b"-ERR no\r\n", ReplError::MasterAborted("ERR no".into())),
            (b"+OK\r\n", ReplError::BadPayloadHeader("+OK".into())),
            (b"$-1\r\n", ReplError::BadPayloadLength("-1".into())),
            (
                b"$99999999999999999999999999\r\n",
                ReplError::BadPayloadLength("99999999999999999999999999".into()),
            ),
            (
                b"$EOF:short\r\n",
                ReplError::BadPayloadLength("EOF:short".into()),
            ),
        ];
        for (header, want) in cases {
            let (out, _, _) = receive(vec![header.to_vec()], PayloadTarget::Memory).await;
            assert_eq!(out.unwrap_err(), want);
        }
    }

    #[tokio::test]
    async fn truncated_payload_is_an_io_error() {
        let (out, _, _) = receive(vec![b"$100\r\nabc".to_vec()], PayloadTarget::Memory).await;
        assert_eq!(
            out.unwrap_err().to_string(),
            "I/O error trying to sync with MASTER: connection lost"
        );
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "redis-replication-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[tokio::test]
    async fn to_disk_file_is_named_fsynced_and_removed_unless_kept() {
        let dir = temp_dir("disk");
        let body = rdb(5000);
        let mut whole = b"$EOF:".to_vec();
        whole.extend_from_slice(MARK);
        whole.extend_from_slice(b"\r\n");
        whole.extend_from_slice(&body);
        whole.extend_from_slice(MARK);
        let target = PayloadTarget::Disk { dir: dir.clone() };
        let (out, _, lines) = receive(vec![whole.clone()], target.clone()).await;
        assert_eq!(
            lines,
            ["MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to disk"]
        );
        let Payload::File(f) = out.unwrap() else {
            panic!("memory")
        };
        let name = f.path().file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("temp-"), "{name}");
        assert!(
            name.ends_with(&format!(".{}.rdb", std::process::id())),
            "{name}"
        );
        assert_eq!(std::fs::read(f.path()).unwrap(), body);
        let path = f.path().to_path_buf();
        drop(f);
        assert!(!path.exists());

        // Renamed into place: stays.
        let (out, _, _) = receive(vec![whole], target).await;
        let Payload::File(f) = out.unwrap() else {
            panic!("memory")
        };
        let dump = dir.join("dump.rdb");
        f.persist_as(&dump).unwrap();
        assert_eq!(std::fs::read(&dump).unwrap(), body);

        // A failed rename removes the temp file and says why.
        let mut len_form = b"$3\r\nxyz".to_vec();
        len_form.extend_from_slice(b"tail");
        let (out, rest, _) =
            receive(vec![len_form], PayloadTarget::Disk { dir: dir.clone() }).await;
        assert_eq!(rest, b"tail");
        let Payload::File(f) = out.unwrap() else {
            panic!("memory")
        };
        let tmp = f.path().to_path_buf();
        let err = f
            .persist_as(&dir.join("missing-dir").join("dump.rdb"))
            .unwrap_err();
        assert!(err
            .to_string()
            .starts_with("Failed trying to rename the temp DB into "));
        assert!(!tmp.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn unwritable_dir_is_an_open_error() {
        let dir = temp_dir("nodir").join("does-not-exist");
        let (out, _, _) = receive(vec![b"$1\r\nx".to_vec()], PayloadTarget::Disk { dir }).await;
        assert!(out
            .unwrap_err()
            .to_string()
            .starts_with("Opening the temp file needed for MASTER <-> REPLICA synchronization: "));
    }
}
