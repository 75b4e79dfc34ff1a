//! systemd readiness notification (`sd_notify`), written directly over the
//! `$NOTIFY_SOCKET` datagram socket: `READY=1` once connections are
//! accepted, `STOPPING=1` at shutdown, `STATUS=` lines like upstream.

use std::os::unix::net::UnixDatagram;

/// Sends `msg` to systemd if the service runs under a notify-type unit.
/// Returns true if a message was sent.
pub fn notify(msg: &str) -> bool {
    let Ok(path) = std::env::var("NOTIFY_SOCKET") else {
        return false;
    };
    let Ok(sock) = UnixDatagram::unbound() else {
        return false;
    };
    if let Some(abstract_name) = path.strip_prefix('@') {
        // Abstract socket namespace: a leading NUL byte replaces the '@'.
        use std::os::linux::net::SocketAddrExt;
        let Ok(addr) = std::os::unix::net::SocketAddr::from_abstract_name(abstract_name.as_bytes())
        else {
            return false;
        };
        sock.send_to_addr(msg.as_bytes(), &addr).is_ok()
    } else {
        sock.send_to(msg.as_bytes(), &path).is_ok()
    }
}
