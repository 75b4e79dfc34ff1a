//! A line-oriented reader over the replica's connection to its primary,
//! used by the handshake and the payload reception, then handed to the
//! stream phase with whatever it already buffered.

use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::{os_text, ReplError};

/// Longest reply line accepted without a newline. Upstream's lines here
/// are a few dozen bytes; the bound only stops a garbage peer from growing
/// the buffer forever.
pub const MAX_LINE: usize = 64 * 1024;

/// Spare room below which a read first grows the buffer.
const MIN_ROOM: usize = 16 * 1024;
/// How much it grows by.
const GROW: usize = 256 * 1024;

/// Which step the link is in, for the error a failed read becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Handshake: a timeout is "Timeout connecting to the MASTER...".
    Handshake,
    /// Payload transfer: a timeout is "Timeout receiving bulk data…".
    Transfer,
}

/// The primary's connection with a read buffer.
#[derive(Debug)]
pub struct LineLink<S> {
    stream: S,
    buf: BytesMut,
    /// Bytes of `buf` already searched for a newline.
    scanned: usize,
    /// Longest wait for one read or write (`repl-timeout`).
    timeout: Duration,
}

impl<S> LineLink<S> {
    /// Wraps a connected stream; every read and write of the handshake
    /// and the transfer waits at most `timeout` (`repl-timeout`).
    pub fn new(stream: S, timeout: Duration) -> LineLink<S> {
        LineLink {
            stream,
            buf: BytesMut::new(),
            scanned: 0,
            timeout,
        }
    }

    /// Changes the I/O timeout (`CONFIG SET repl-timeout`).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Bytes received and not consumed yet.
    pub fn buffer(&self) -> &BytesMut {
        &self.buf
    }

    /// The buffer, to consume from (the stream phase parses it in place).
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        self.scanned = 0;
        &mut self.buf
    }

    /// The underlying stream (for its addresses).
    pub fn stream(&self) -> &S {
        &self.stream
    }

    /// The underlying stream.
    pub fn stream_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// The stream and the bytes already read from it.
    pub fn into_parts(self) -> (S, BytesMut) {
        (self.stream, self.buf)
    }

    /// Makes room for a large read: `read_buf` only fills spare capacity,
    /// and a buffer left small by the handshake lines would take the
    /// payload and the stream a few dozen bytes per read.
    pub fn make_room(&mut self) {
        if self.buf.capacity() - self.buf.len() < MIN_ROOM {
            self.buf.reserve(GROW);
        }
    }

    /// Makes room for `missing` more bytes at once: the rest of a big
    /// argument whose size the parser knows. Grown step by step, the
    /// buffer would double on the way, and the argument, a slice of it,
    /// would keep the whole allocation alive in the dataset (a 32 MB value
    /// held 64 MB on a replica).
    pub fn reserve_for(&mut self, missing: usize) {
        if missing > self.buf.capacity() - self.buf.len() {
            self.buf.reserve(missing);
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> LineLink<S> {
    /// One read into the buffer, bounded by the timeout. A closed
    /// connection is an error.
    pub async fn read_more(&mut self, phase: Phase) -> Result<usize, ReplError> {
        self.make_room();
        let read = tokio::time::timeout(self.timeout, self.stream.read_buf(&mut self.buf)).await;
        match (read, phase) {
            (Err(_), Phase::Handshake) => Err(ReplError::ConnectTimeout),
            (Err(_), Phase::Transfer) => Err(ReplError::TransferTimeout),
            (Ok(Ok(0)), Phase::Handshake) => Err(ReplError::ConnectionLost),
            (Ok(Ok(0)), Phase::Transfer) => Err(ReplError::TransferIo("connection lost".into())),
            (Ok(Ok(n)), _) => Ok(n),
            (Ok(Err(e)), Phase::Handshake) => Err(ReplError::Socket(os_text(&e))),
            (Ok(Err(e)), Phase::Transfer) => Err(ReplError::TransferIo(os_text(&e))),
        }
    }

    /// One read into the buffer without a timeout (the stream phase,
    /// where [`crate::ReplicaLiveness`] decides when silence is too long).
    /// `Ok(0)` means the primary closed the connection.
    pub async fn read_available(&mut self) -> std::io::Result<usize> {
        self.make_room();
        self.stream.read_buf(&mut self.buf).await
    }

    /// The next line without its `\r\n` (lossy UTF-8), reading as needed.
    pub async fn read_line(&mut self, phase: Phase) -> Result<String, ReplError> {
        loop {
            if let Some(p) = self.buf[self.scanned..].iter().position(|&b| b == b'\n') {
                let line = self.buf.split_to(self.scanned + p + 1);
                self.scanned = 0;
                let text = String::from_utf8_lossy(&line);
                return Ok(text.trim_end_matches(['\r', '\n']).to_string());
            }
            self.scanned = self.buf.len();
            if self.scanned > MAX_LINE {
                return Err(ReplError::LineTooLong(MAX_LINE));
            }
            self.read_more(phase).await?;
        }
    }

    /// Writes raw bytes, bounded by the timeout.
    pub async fn write_raw(&mut self, bytes: &[u8]) -> Result<(), ReplError> {
        match tokio::time::timeout(self.timeout, self.stream.write_all(bytes)).await {
            Err(_) => Err(ReplError::HandshakeWrite("Connection timed out".into())),
            Ok(Err(e)) => Err(ReplError::HandshakeWrite(os_text(&e))),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Sends one command as a multibulk request.
    pub async fn send(&mut self, args: &[&[u8]]) -> Result<(), ReplError> {
        let mut out = BytesMut::new();
        redis_resp::encode_request(args, &mut out);
        self.write_raw(&out).await
    }
}

#[cfg(test)]
#[path = "line_tests.rs"]
mod tests;
