//! Blocking connections for what happens before and around a run: the
//! server's `save`/`appendonly` for the report, and the cluster's masters
//! and slots. Messages and exits follow upstream 7.0.15: a connection that
//! fails is reported and the run goes on without the configuration; an
//! `AUTH` refused, or a `NOAUTH` answer, ends the program.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;

use bytes::BytesMut;
use redis_common::os::strerror;
use redis_resp::{encode_request, DecodeLimits, Frame, Scanner};

use crate::opts::Config;

/// Where a server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addr {
    Tcp { host: String, port: i32 },
    Unix(String),
}

impl Addr {
    /// The address the options name.
    pub fn from_config(cfg: &Config) -> Addr {
        match &cfg.socket {
            Some(s) => Addr::Unix(s.clone()),
            None => Addr::Tcp {
                host: cfg.host.clone(),
                port: cfg.port,
            },
        }
    }
}

impl std::fmt::Display for Addr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Addr::Tcp { host, port } => write!(f, "{host}:{port}"),
            Addr::Unix(path) => write!(f, "{path}"),
        }
    }
}

/// The text hiredis gives for a failed name lookup or connect.
pub fn connect_error_text(e: &io::Error) -> String {
    let s = strerror(e);
    // std's lookup errors read "failed to lookup address information: X".
    match s.strip_prefix("failed to lookup address information: ") {
        Some(rest) => rest.to_string(),
        None => s,
    }
}

/// Every address of a TCP server, in getaddrinfo's order. The port is
/// taken as getaddrinfo takes its decimal text: a negative one is refused,
/// a larger one is cut to 16 bits.
pub fn resolve_all(host: &str, port: i32) -> io::Result<Vec<std::net::SocketAddr>> {
    use std::net::ToSocketAddrs;
    if port < 0 {
        return Err(io::Error::other("Servname not supported for ai_socktype"));
    }
    let addrs: Vec<_> = (host, port as u16).to_socket_addrs()?.collect();
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "Name or service not known",
        ));
    }
    Ok(addrs)
}

/// The address the benchmark clients use: the first one that accepts a
/// connection when the name has several (`localhost` may give `::1`
/// first while the server listens on 127.0.0.1 only), else the first.
pub fn resolve(host: &str, port: i32) -> io::Result<std::net::SocketAddr> {
    let addrs = resolve_all(host, port)?;
    if addrs.len() > 1 {
        if let Some(a) = addrs.iter().find(|a| TcpStream::connect(a).is_ok()) {
            return Ok(*a);
        }
    }
    Ok(addrs[0])
}

enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// One blocking connection that sends commands and decodes replies.
pub struct SyncConn {
    stream: Stream,
    buf: BytesMut,
    scanner: Scanner,
}

const LIMITS: DecodeLimits = DecodeLimits {
    max_depth: 512,
    max_bulk_len: usize::MAX,
    max_aggregate_len: usize::MAX,
};

impl SyncConn {
    pub fn connect(addr: &Addr) -> io::Result<SyncConn> {
        let stream = match addr {
            Addr::Tcp { host, port } => {
                let s = TcpStream::connect(&resolve_all(host, *port)?[..])?;
                let _ = s.set_nodelay(true);
                Stream::Tcp(s)
            }
            Addr::Unix(path) => Stream::Unix(UnixStream::connect(path)?),
        };
        Ok(SyncConn {
            stream,
            buf: BytesMut::with_capacity(16 * 1024),
            scanner: Scanner::default(),
        })
    }

    /// Sends one command and reads its reply.
    pub fn cmd(&mut self, args: &[&[u8]]) -> io::Result<Frame> {
        let mut out = BytesMut::new();
        encode_request(args, &mut out);
        match &mut self.stream {
            Stream::Tcp(s) => s.write_all(&out)?,
            Stream::Unix(s) => s.write_all(&out)?,
        }
        loop {
            match self.scanner.decode(&mut self.buf, &LIMITS) {
                Ok(Some(f)) => return Ok(f),
                Ok(None) => {}
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string())),
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = match &mut self.stream {
                Stream::Tcp(s) => s.read(&mut chunk)?,
                Stream::Unix(s) => s.read(&mut chunk)?,
            };
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "Server closed the connection",
                ));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// Text of a reply for messages.
pub fn frame_text(f: &Frame) -> String {
    match f {
        Frame::Simple(b) | Frame::Error(b) | Frame::Bulk(b) | Frame::BigNumber(b) => {
            String::from_utf8_lossy(b).into_owned()
        }
        Frame::Verbatim { text, .. } => String::from_utf8_lossy(text).into_owned(),
        Frame::Integer(i) => i.to_string(),
        _ => String::new(),
    }
}

/// Upstream's `getRedisContext`: connects and authenticates. A failed
/// connect is reported and gives `None`; a refused `AUTH` ends the program.
pub fn context(cfg: &Config, addr: &Addr) -> Option<SyncConn> {
    let mut c = match SyncConn::connect(addr) {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "Could not connect to Redis at {addr}: {}",
                connect_error_text(&e)
            );
            return None;
        }
    };
    let Some(pass) = &cfg.auth else {
        return Some(c);
    };
    let reply = match &cfg.user {
        None => c.cmd(&[b"AUTH", pass.as_bytes()]),
        Some(user) => c.cmd(&[b"AUTH", user.as_bytes(), pass.as_bytes()]),
    };
    match reply {
        Ok(Frame::Error(e)) => {
            eprintln!(
                "Node {addr} replied with error:\n{}",
                String::from_utf8_lossy(&e)
            );
            std::process::exit(1);
        }
        Ok(_) => Some(c),
        Err(_) => {
            eprintln!("ERROR: failed to fetch reply from {addr}");
            None
        }
    }
}

/// The two settings the report shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    pub save: String,
    pub appendonly: String,
}

/// Upstream's `getRedisConfig`: `CONFIG GET save` and `appendonly`.
/// `None` when they cannot be read; `NOAUTH` ends the program.
pub fn server_config(cfg: &Config, addr: &Addr) -> Option<ServerConfig> {
    let mut c = context(cfg, addr)?;
    let mut values = Vec::with_capacity(2);
    for name in [&b"save"[..], b"appendonly"] {
        match c.cmd(&[b"CONFIG", b"GET", name]) {
            Ok(Frame::Error(e)) => {
                if e.starts_with(b"NOAUTH") {
                    eprintln!(
                        "Node {addr} replied with error:\n{}",
                        String::from_utf8_lossy(&e)
                    );
                    std::process::exit(1);
                }
                return None;
            }
            Ok(Frame::Array(items)) | Ok(Frame::Set(items)) if items.len() >= 2 => {
                values.push(frame_text(&items[1]));
            }
            Ok(Frame::Map(pairs)) if !pairs.is_empty() => values.push(frame_text(&pairs[0].1)),
            _ => return None,
        }
    }
    let appendonly = values.pop()?;
    let save = values.pop()?;
    Some(ServerConfig { save, appendonly })
}
