//! Small async Redis client used by `redis-cli`, the tests, and later by
//! replication and sentinel.
//!
//! # Layout
//! - [`Client`]: one connection (TCP or Unix socket) with buffered writes, so
//!   callers can pipeline: [`Client::queue`] many requests, [`Client::flush`],
//!   then [`Client::read_frame`] as many replies.
//! - [`decode`]: the reply decoder (private stand-in for `redis_resp::decode`).
//!
//! Nothing here panics on what the server sends: malformed replies become
//! [`Error::Protocol`], a closed connection becomes [`Error::Closed`].

pub mod decode;

use std::io;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

pub use decode::DecodeError;
pub use redis_resp::Frame;

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

/// Appends `args` to `out` as a RESP multibulk request.
pub fn encode_request<A: AsRef<[u8]>>(args: &[A], out: &mut BytesMut) {
    // Kept local until redis-resp ships `encode_request`; the format is fixed by RESP.
    out.put_u8(b'*');
    out.put_slice(args.len().to_string().as_bytes());
    out.put_slice(b"\r\n");
    for a in args {
        let a = a.as_ref();
        out.put_u8(b'$');
        out.put_slice(a.len().to_string().as_bytes());
        out.put_slice(b"\r\n");
        out.put_slice(a);
        out.put_slice(b"\r\n");
    }
}

/// The reading side of a connection: decodes replies.
pub struct FrameReader {
    inner: BoxRead,
    buf: BytesMut,
}

impl FrameReader {
    /// Reads the next complete reply.
    pub async fn read_frame(&mut self) -> Result<Frame> {
        loop {
            if let Some(f) = decode::decode(&mut self.buf)? {
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
