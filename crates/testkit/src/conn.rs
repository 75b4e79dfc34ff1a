//! A raw synchronous TCP client for tests. It sends requests as given and
//! returns reply bytes exactly as the server wrote them, one complete reply
//! at a time, so tests can compare framing byte for byte.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::resp::{escape, reply_len};

/// How long a single read may block before the test fails instead of hanging.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// One client connection with a buffer of bytes read but not yet returned.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    addr: SocketAddr,
}

/// Encodes arguments as a RESP multibulk request with
/// [`redis_resp::encode_request`], as an owned buffer for [`Conn::send_raw`].
pub fn encode_request<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = bytes::BytesMut::new();
    redis_resp::encode_request(args, &mut out);
    out.to_vec()
}

impl Conn {
    /// Connects to `addr` with the standard read/write timeouts.
    pub fn connect(addr: SocketAddr) -> std::io::Result<Conn> {
        let stream = TcpStream::connect_timeout(&addr, READ_TIMEOUT)?;
        stream.set_read_timeout(Some(READ_TIMEOUT))?;
        stream.set_write_timeout(Some(READ_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::new(),
            addr,
        })
    }

    /// The address this connection talks to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Writes bytes as they are (malformed protocol, inline commands,
    /// pipelines).
    pub fn send_raw(&mut self, bytes: &[u8]) {
        if let Err(e) = self.stream.write_all(bytes) {
            panic!(
                "write to {} failed: {e} (sending {})",
                self.addr,
                escape(bytes)
            );
        }
    }

    /// Like [`Conn::send_raw`] but reports a write error instead of
    /// panicking, for tests where the server may already have hung up.
    pub fn try_send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Sends one command as a multibulk request and returns the raw bytes of
    /// exactly one complete reply.
    pub fn cmd(&mut self, args: &[&str]) -> Vec<u8> {
        self.cmd_bytes(args)
    }

    /// [`Conn::cmd`] for binary arguments.
    pub fn cmd_bytes<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<u8> {
        self.send_raw(&encode_request(args));
        self.read_reply_raw()
    }

    /// The value of `name` in `INFO section`, if the server reports it.
    pub fn info_field(&mut self, section: &str, name: &str) -> Option<String> {
        let raw = self.cmd(&["INFO", section]);
        let prefix = format!("{name}:");
        String::from_utf8_lossy(&raw)
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .map(|v| v.trim().to_string())
    }

    /// Reads one complete reply; panics on timeout, close or bad framing.
    pub fn read_reply_raw(&mut self) -> Vec<u8> {
        match self.try_read_reply_raw() {
            Ok(r) => r,
            Err(e) => panic!("reading a reply from {}: {e}", self.addr),
        }
    }

    /// Reads one complete reply, reporting timeout, close or bad framing as
    /// an error message that includes the bytes received so far.
    pub fn try_read_reply_raw(&mut self) -> Result<Vec<u8>, String> {
        loop {
            match reply_len(&self.buf) {
                Ok(Some(n)) => return Ok(self.buf.drain(..n).collect()),
                Ok(None) => {}
                Err(e) => return Err(format!("{e} in {}", escape(&self.buf))),
            }
            let mut chunk = [0u8; 16 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    return Err(format!(
                        "connection closed before a complete reply (have {})",
                        escape(&self.buf)
                    ))
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(format!(
                        "read failed: {e} (timeout is {READ_TIMEOUT:?}; have {})",
                        escape(&self.buf)
                    ))
                }
            }
        }
    }

    /// Reads until the server closes the connection (bounded by
    /// [`READ_TIMEOUT`]) and returns every byte that arrived before the
    /// close, or an error if the connection stayed open.
    pub fn read_until_close(&mut self) -> Result<Vec<u8>, String> {
        let deadline = Instant::now() + READ_TIMEOUT;
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(std::mem::take(&mut self.buf)),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // A reset is a close too; the bytes before it still count.
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
                    ) =>
                {
                    return Ok(std::mem::take(&mut self.buf))
                }
                Err(e) => {
                    return Err(format!(
                        "connection still open after {READ_TIMEOUT:?} ({e}); received {}",
                        escape(&self.buf)
                    ))
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "server kept sending without closing for {READ_TIMEOUT:?}; received {}",
                    escape(&self.buf)
                ));
            }
        }
    }

    /// True when the server has closed the connection. Waits at most 200 ms
    /// for the close to arrive; unread reply bytes mean "not closed".
    pub fn is_closed(&mut self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let short = Duration::from_millis(200);
        self.stream
            .set_read_timeout(Some(short))
            .unwrap_or_else(|e| panic!("set_read_timeout: {e:?}"));
        let mut one = [0u8; 1];
        let closed = match self.stream.peek(&mut one) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => false,
            Err(_) => true,
        };
        self.stream
            .set_read_timeout(Some(READ_TIMEOUT))
            .unwrap_or_else(|e| panic!("set_read_timeout: {e:?}"));
        closed
    }

    /// True when reply bytes are waiting or arrive within `wait` (a
    /// command the server holds, e.g. under `CLIENT PAUSE`, has none).
    pub fn reply_pending(&mut self, wait: Duration) -> bool {
        if !self.buf.is_empty() {
            return true;
        }
        self.stream
            .set_read_timeout(Some(wait.max(Duration::from_millis(1))))
            .unwrap_or_else(|e| panic!("set_read_timeout: {e:?}"));
        let mut one = [0u8; 1];
        let pending = matches!(self.stream.peek(&mut one), Ok(n) if n > 0);
        self.stream
            .set_read_timeout(Some(READ_TIMEOUT))
            .unwrap_or_else(|e| panic!("set_read_timeout: {e:?}"));
        pending
    }
}
