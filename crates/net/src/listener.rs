//! Binding listeners like upstream: `bind` with several addresses (`*` for
//! every IPv4 address, `::*` for every IPv6 one, a leading `-` marks an
//! address whose absence is not fatal), `port 0` for no TCP at all, and an
//! optional `unixsocket` with `unixsocketperm`. Failures carry upstream's
//! log lines.
//!
//! Binding is synchronous (std sockets handed to tokio with `from_std`), so
//! it can run from synchronous code, e.g. a `CONFIG SET` handler, as long
//! as a tokio runtime is current on the thread.

use redis_common::os::strerror;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use socket2::{Domain, Socket, Type};
use tokio::net::{TcpListener, UnixListener};

/// The listening sockets of a daemon.
#[derive(Debug, Default)]
pub struct Listeners {
    pub tcp: Vec<TcpListener>,
    pub unix: Option<UnixListener>,
}

impl Listeners {
    /// The bound TCP addresses (with the actual port when 0 was asked).
    pub fn tcp_addrs(&self) -> Vec<SocketAddr> {
        self.tcp
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// The Unix socket's path, if any.
    pub fn unix_path(&self) -> Option<PathBuf> {
        self.unix.as_ref().and_then(unix_path)
    }
}

/// Binding failed. `lines` are upstream's log lines, in order; the last one
/// is the fatal one at startup. Nothing bound by the failed call stays
/// open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .lines.join("\n"))]
pub struct BindError {
    pub lines: Vec<String>,
    /// Set by [`Acceptors::rebind_tcp`](crate::Acceptors::rebind_tcp) when
    /// it had to close the running sockets and could not reopen them:
    /// the daemon no longer listens on TCP (upstream panics then).
    pub listeners_lost: bool,
}

impl BindError {
    fn new(lines: Vec<String>) -> BindError {
        BindError {
            lines,
            listeners_lost: false,
        }
    }
}

/// One `bind` entry, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BindAddr {
    /// `-` prefix: skip the address when the host does not have it.
    pub optional: bool,
    pub ip: IpAddr,
    /// As configured, without the `-` (error texts print it).
    pub text: String,
}

/// Parses `bind` entries; the error is upstream's log text.
pub(crate) fn parse_bind_addrs(addrs: &[String], port: u16) -> Result<Vec<BindAddr>, BindError> {
    let mut out = Vec::with_capacity(addrs.len());
    for raw in addrs {
        let (optional, addr) = match raw.strip_prefix('-') {
            Some(a) => (true, a),
            None => (false, raw.as_str()),
        };
        let ip: IpAddr = match addr {
            "*" => IpAddr::from([0u8, 0, 0, 0]),
            "::*" => IpAddr::from([0u16; 8]),
            a => match a.parse() {
                Ok(ip) => ip,
                Err(_) => {
                    return Err(fail_tcp(
                        format!(
                            "Warning: Could not create server TCP listening socket {addr}:{port}: Name or service not known"
                        ),
                        port,
                    ))
                }
            },
        };
        out.push(BindAddr {
            optional,
            ip,
            text: addr.to_string(),
        });
    }
    Ok(out)
}

/// The outcome of binding one TCP address.
pub(crate) enum TcpBind {
    Bound(TcpListener),
    /// An optional address the host does not have.
    Skipped,
    Failed(std::io::Error),
}

/// Binds one parsed `bind` entry.
pub(crate) fn bind_addr(a: &BindAddr, port: u16, backlog: i32) -> TcpBind {
    match bind_tcp(SocketAddr::new(a.ip, port), backlog) {
        Ok(l) => TcpBind::Bound(l),
        Err(e) => {
            let unavailable = matches!(
                e.raw_os_error(),
                Some(libc::EADDRNOTAVAIL) | Some(libc::EAFNOSUPPORT) | Some(libc::EPROTONOSUPPORT)
            );
            if a.optional && unavailable {
                TcpBind::Skipped
            } else {
                TcpBind::Failed(e)
            }
        }
    }
}

/// Upstream's log lines for a failed TCP bind.
pub(crate) fn tcp_bind_error(a: &BindAddr, port: u16, e: &std::io::Error) -> BindError {
    fail_tcp(
        format!(
            "Warning: Could not create server TCP listening socket {}:{port}: bind: {}",
            a.text,
            strerror(e)
        ),
        port,
    )
}

/// Binds every `bind` address on `port` (none when `port` is 0); on
/// failure nothing stays bound.
pub fn bind_tcp_all(
    addrs: &[String],
    port: u16,
    backlog: i32,
) -> Result<Vec<TcpListener>, BindError> {
    runtime_check()?;
    let mut out = Vec::new();
    if port == 0 {
        return Ok(out);
    }
    for a in parse_bind_addrs(addrs, port)? {
        match bind_addr(&a, port, backlog) {
            TcpBind::Bound(l) => out.push(l),
            TcpBind::Skipped => {}
            TcpBind::Failed(e) => return Err(tcp_bind_error(&a, port, &e)),
        }
    }
    Ok(out)
}

/// Binds the Unix socket at `path` (replacing a stale file), with
/// `perm` (`unixsocketperm`, 0 to leave the default).
pub fn bind_unix(path: &str, perm: u32) -> Result<UnixListener, BindError> {
    runtime_check()?;
    let unix_error = |e: &std::io::Error| {
        BindError::new(vec![format!("Failed opening Unix socket: {}", strerror(e))])
    };
    let _ = std::fs::remove_file(path);
    let l = std::os::unix::net::UnixListener::bind(path).map_err(|e| unix_error(&e))?;
    if perm != 0 {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(perm));
    }
    l.set_nonblocking(true).map_err(|e| unix_error(&e))?;
    UnixListener::from_std(l).map_err(|e| unix_error(&e))
}

/// Binds every configured listener (`bind` × `port`, then `unixsocket`
/// when not empty). The error is upstream's log text; nothing bound by
/// this call stays open after an error.
pub fn bind_all(
    addrs: &[String],
    port: u16,
    backlog: i32,
    unixsocket: &str,
    unixperm: u32,
) -> Result<Listeners, BindError> {
    let tcp = bind_tcp_all(addrs, port, backlog)?;
    let unix = if unixsocket.is_empty() {
        None
    } else {
        Some(bind_unix(unixsocket, unixperm)?)
    };
    Ok(Listeners { tcp, unix })
}

/// `from_std` needs the runtime's I/O driver; without one tokio would
/// panic, so say it instead.
fn runtime_check() -> Result<(), BindError> {
    match tokio::runtime::Handle::try_current() {
        Ok(_) => Ok(()),
        Err(_) => Err(BindError::new(vec![
            "Listening sockets can only be created inside a tokio runtime".into(),
        ])),
    }
}

fn fail_tcp(line: String, port: u16) -> BindError {
    BindError::new(vec![
        line,
        format!("Failed listening on port {port} (TCP), aborting."),
    ])
}

fn bind_tcp(addr: SocketAddr, backlog: i32) -> std::io::Result<TcpListener> {
    let domain = if addr.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let sock = Socket::new(domain, Type::STREAM, None)?;
    sock.set_reuse_address(true)?;
    if addr.is_ipv6() {
        // Like upstream: the IPv6 socket does not also take IPv4 traffic,
        // so `* ::*` can bind both.
        sock.set_only_v6(true)?;
    }
    sock.bind(&addr.into())?;
    sock.listen(backlog.max(1))?;
    sock.set_nonblocking(true)?;
    TcpListener::from_std(sock.into())
}

pub(crate) fn unix_path(l: &UnixListener) -> Option<PathBuf> {
    l.local_addr()
        .ok()
        .and_then(|a| a.as_pathname().map(|p| p.to_path_buf()))
}

#[cfg(test)]
#[path = "listener_tests.rs"]
mod tests;
