//! Small async Redis client used by `redis-cli`, the tests, and later by
//! replication and sentinel.
//!
//! # Layout
//! - [`Client`]: one connection (TCP or Unix socket) with buffered writes, so
//!   callers can pipeline: [`Client::queue`] many requests, [`Client::flush`],
//!   then [`Client::read_frame`] as many replies.
//! - Replies are decoded by redis-resp's [`Scanner`] (one per connection, so a
//!   large reply arriving in pieces is walked once) and requests are written
//!   by [`redis_resp::encode_request`]: the client has no RESP code of its own.
//!
//! Nothing here panics on what the server sends: malformed replies become
//! [`Error::Protocol`], a closed connection becomes [`Error::Closed`].

use std::io;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use redis_resp::{encode_request, DecodeLimits, Scanner};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

pub use redis_resp::{DecodeError, Frame};

/// What can go wrong talking to a server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("{0}")]
    Protocol(#[from] DecodeError),
    /// The server closed the connection (possibly in the middle of a reply).
    #[error("Server closed the connection")]
    Closed,
}

pub type Result<T> = std::result::Result<T, Error>;

type BoxRead = Box<dyn AsyncRead + Unpin + Send>;
type BoxWrite = Box<dyn AsyncWrite + Unpin + Send>;

/// The client reads whatever a server it chose to talk to sends, as
/// hiredis (and so upstream's redis-cli) does: no cap on string or
/// aggregate lengths (a server may raise `proto-max-bulk-len`), only a
/// nesting bound so a broken server cannot exhaust the stack.
const LIMITS: DecodeLimits = DecodeLimits {
    max_depth: 512,
    max_bulk_len: usize::MAX,
    max_aggregate_len: usize::MAX,
};

/// The reading side of a connection: decodes replies.
pub struct FrameReader {
    inner: BoxRead,
    buf: BytesMut,
    scanner: Scanner,
}

impl FrameReader {
    /// Reads the next complete reply.
    pub async fn read_frame(&mut self) -> Result<Frame> {
        loop {
            if let Some(f) = self.scanner.decode(&mut self.buf, &LIMITS)? {
                return Ok(f);
            }
            self.buf.reserve(16 * 1024);
            let n = self.inner.read_buf(&mut self.buf).await?;
            if n == 0 {
                return Err(Error::Closed);
            }
        }
    }
}

/// The writing side of a connection: buffers requests until flushed.
pub struct FrameWriter {
    inner: BoxWrite,
    buf: BytesMut,
}

impl FrameWriter {
    /// Buffers one request without sending it.
    pub fn queue<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        encode_request(args, &mut self.buf);
    }

    /// Buffers bytes verbatim (inline commands, `--pipe` input).
    pub fn queue_raw(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Writes everything buffered so far.
    pub async fn flush(&mut self) -> Result<()> {
        if !self.buf.is_empty() {
            self.inner.write_all(&self.buf).await?;
            self.buf.clear();
        }
        self.inner.flush().await?;
        Ok(())
    }

    /// Closes the write direction (the server then sees EOF after our data).
    pub async fn shutdown(&mut self) -> Result<()> {
        self.flush().await?;
        self.inner.shutdown().await?;
        Ok(())
    }
}

/// One connection to a server.
pub struct Client {
    reader: FrameReader,
    writer: FrameWriter,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

impl Client {
    /// Connects over TCP to `addr` (`host:port`).
    pub async fn connect(addr: &str) -> io::Result<Client> {
        let stream = TcpStream::connect(addr).await?;
        // Requests are small and latency matters more than batching for a CLI.
        stream.set_nodelay(true)?;
        Ok(Self::from_stream(stream))
    }

    /// Like [`Client::connect`] but gives up after `timeout`.
    pub async fn connect_timeout(addr: &str, timeout: Duration) -> io::Result<Client> {
        match tokio::time::timeout(timeout, Self::connect(addr)).await {
            Ok(r) => r,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "Connection timed out",
            )),
        }
    }

    /// Connects to a Unix domain socket.
    pub async fn connect_unix(path: &str) -> io::Result<Client> {
        let stream = UnixStream::connect(path).await?;
        Ok(Self::from_stream(stream))
    }

    /// Wraps an already connected stream.
    pub fn from_stream<S>(stream: S) -> Client
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (r, w) = tokio::io::split(stream);
        Client {
            reader: FrameReader {
                inner: Box::new(r),
                buf: BytesMut::with_capacity(16 * 1024),
                scanner: Scanner::default(),
            },
            writer: FrameWriter {
                inner: Box::new(w),
                buf: BytesMut::new(),
            },
        }
    }

    /// Splits into independent halves, for writing and reading concurrently.
    pub fn into_split(self) -> (FrameReader, FrameWriter) {
        (self.reader, self.writer)
    }

    /// Buffers one request (pipelining); nothing is sent until [`Client::flush`].
    pub fn queue<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        self.writer.queue(args);
    }

    /// Buffers raw protocol bytes.
    pub fn queue_raw(&mut self, data: &[u8]) {
        self.writer.queue_raw(data);
    }

    /// Sends everything queued.
    pub async fn flush(&mut self) -> Result<()> {
        self.writer.flush().await
    }

    /// Sends one request now.
    pub async fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<()> {
        self.writer.queue(args);
        self.writer.flush().await
    }

    /// Reads the next reply.
    pub async fn read_frame(&mut self) -> Result<Frame> {
        self.reader.read_frame().await
    }

    /// Sends one request and reads its reply. Error replies are `Ok(Frame::Error)`.
    pub async fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Frame> {
        self.send(args).await?;
        self.read_frame().await
    }

    /// Sends all requests in one write, then reads one reply for each.
    pub async fn pipeline<A: AsRef<[u8]>>(&mut self, cmds: &[Vec<A>]) -> Result<Vec<Frame>> {
        for c in cmds {
            self.writer.queue(c);
        }
        self.writer.flush().await?;
        let mut out = Vec::with_capacity(cmds.len());
        for _ in cmds {
            out.push(self.read_frame().await?);
        }
        Ok(out)
    }

    /// Sends `HELLO proto [AUTH user pass] [SETNAME name]` and returns the reply.
    pub async fn hello(
        &mut self,
        proto: u8,
        auth: Option<(&str, &str)>,
        name: Option<&str>,
    ) -> Result<Frame> {
        let mut args: Vec<Bytes> =
            vec![Bytes::from_static(b"HELLO"), Bytes::from(proto.to_string())];
        if let Some((user, pass)) = auth {
            args.push(Bytes::from_static(b"AUTH"));
            args.push(Bytes::copy_from_slice(user.as_bytes()));
            args.push(Bytes::copy_from_slice(pass.as_bytes()));
        }
        if let Some(n) = name {
            args.push(Bytes::from_static(b"SETNAME"));
            args.push(Bytes::copy_from_slice(n.as_bytes()));
        }
        self.cmd(&args).await
    }
}

#[cfg(test)]
#[path = "lib_tests.rs"]
mod tests;
