//! Binding listeners like upstream: `bind` with several addresses (`*` for
//! every IPv4 address, `::*` for every IPv6 one, a leading `-` marks an
//! address whose absence is not fatal), `port 0` for no TCP at all, and an
//! optional `unixsocket` with `unixsocketperm`.

use std::net::{IpAddr, SocketAddr};

use socket2::{Domain, Socket, Type};
use tokio::net::{TcpListener, UnixListener};

use crate::Listeners;

/// Binds every configured listener. The error is upstream's log text.
pub fn bind_all(
    addrs: &[String],
    port: u16,
    backlog: i32,
    unixsocket: &str,
    unixperm: u32,
) -> Result<Listeners, Vec<String>> {
    let mut out = Listeners::default();
    let mut errors = Vec::new();
    if port != 0 {
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
                        errors.push(format!(
                            "Warning: Could not create server TCP listening socket {addr}:{port}: Name or service not known"
                        ));
                        return Err(errors_with_fail(errors, port));
                    }
                },
            };
            match bind_tcp(SocketAddr::new(ip, port), backlog) {
                Ok(l) => out.tcp.push(l),
                Err(e) => {
                    let unavailable = matches!(
                        e.raw_os_error(),
                        Some(libc::EADDRNOTAVAIL)
                            | Some(libc::EAFNOSUPPORT)
                            | Some(libc::EPROTONOSUPPORT)
                    );
                    if optional && unavailable {
                        continue;
                    }
                    errors.push(format!(
                        "Warning: Could not create server TCP listening socket {addr}:{port}: bind: {}",
                        strerror(&e)
                    ));
                    return Err(errors_with_fail(errors, port));
                }
            }
        }
    }
    if !unixsocket.is_empty() {
        let _ = std::fs::remove_file(unixsocket);
        match std::os::unix::net::UnixListener::bind(unixsocket) {
            Ok(l) => {
                if unixperm != 0 {
                    use std::os::unix::fs::PermissionsExt;
                    let _ = std::fs::set_permissions(
                        unixsocket,
                        std::fs::Permissions::from_mode(unixperm),
                    );
                }
                let _ = l.set_nonblocking(true);
                match UnixListener::from_std(l) {
                    Ok(l) => out.unix = Some(l),
                    Err(e) => {
                        errors.push(format!("Failed opening Unix socket: {}", strerror(&e)));
                        return Err(errors);
                    }
                }
            }
            Err(e) => {
                errors.push(format!("Failed opening Unix socket: {}", strerror(&e)));
                return Err(errors);
            }
        }
    }
    Ok(out)
}

fn errors_with_fail(mut errors: Vec<String>, port: u16) -> Vec<String> {
    errors.push(format!("Failed listening on port {port} (TCP), aborting."));
    errors
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

/// The C library's text for an I/O error (upstream prints `strerror`).
fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    // std formats as "Address already in use (os error 98)".
    match s.rfind(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}
