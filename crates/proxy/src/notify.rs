//! systemd readiness notification for `Type=notify` units: one datagram
//! (`READY=1`, `STOPPING=1`) to the socket named by `$NOTIFY_SOCKET`
//! (a path, or an abstract name written with a leading `@`). Without that
//! variable nothing is sent.

use std::os::unix::net::UnixDatagram;

/// Sends `msg` to systemd; true when it was sent.
pub fn notify(msg: &str) -> bool {
    let Some(target) = std::env::var_os("NOTIFY_SOCKET") else {
        return false;
    };
    let Ok(sock) = UnixDatagram::unbound() else {
        return false;
    };
    let target = target.to_string_lossy().into_owned();
    match target.strip_prefix('@') {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            match std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()) {
                Ok(addr) => sock.send_to_addr(msg.as_bytes(), &addr).is_ok(),
                Err(_) => false,
            }
        }
        None => sock.send_to(msg.as_bytes(), &target).is_ok(),
    }
}

#[cfg(test)]
#[path = "notify_tests.rs"]
mod tests;
