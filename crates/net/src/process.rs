//! Process-level helpers every daemon of the suite needs around its
//! network service: `daemonize yes` and systemd readiness notification
//! (`sd_notify`), written directly over the `$NOTIFY_SOCKET` datagram
//! socket (`READY=1` once connections are accepted, `STOPPING=1` at
//! shutdown, `STATUS=` lines like upstream).

use std::os::unix::net::UnixDatagram;

/// Sends `msg` to systemd if the daemon runs under a notify-type unit.
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

/// `supervised` as the daemon runs it: `auto` picks systemd or upstart
/// from the environment, anything unknown is `no`.
pub fn supervised_mode(s: &str) -> &'static str {
    match s {
        "systemd" => "systemd",
        "upstart" => "upstart",
        "auto" if std::env::var_os("NOTIFY_SOCKET").is_some() => "systemd",
        "auto" if std::env::var_os("UPSTART_JOB").is_some() => "upstart",
        _ => "no",
    }
}

/// `daemonize yes`: forks; the parent exits, the child starts a new
/// session with its standard streams on /dev/null.
///
/// Call it from `main` before the runtime or any thread exists, so
/// forking is safe (the architecture forbids forking a running tokio
/// process, not a single-threaded program that has not started one).
#[allow(unsafe_code)]
pub fn daemonize() {
    // SAFETY: called from main before any other thread is spawned; the
    // child only continues ordinary single-threaded Rust code.
    unsafe {
        match libc::fork() {
            -1 => return,
            0 => {}
            _ => libc::_exit(0),
        }
        libc::setsid();
        let devnull = c"/dev/null";
        let fd = libc::open(devnull.as_ptr(), libc::O_RDWR, 0);
        if fd >= 0 {
            libc::dup2(fd, 0);
            libc::dup2(fd, 1);
            libc::dup2(fd, 2);
            if fd > 2 {
                libc::close(fd);
            }
        }
    }
}
