//! The network side of `redis-server`: listeners, connections, the periodic
//! cron and shutdown. Command execution lives in `redis-engine` (handlers in `redis-commands`).
//!
//! # Layout
//! - [`run`]: the testable entry point — serves the given listeners until
//!   shutdown.
//! - [`conn`]: one connection (read, parse, execute a batch, write).
//! - [`listen`]: binding `bind`/`port`/`unixsocket` like upstream.
//! - [`log`]: upstream-format log lines; [`notify`]: systemd notification.
//!
//! Only `main.rs` builds the runtime, installs signal handlers or exits.

pub mod conn;
pub mod listen;
pub mod log;
pub mod notify;
pub mod replica_link;

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis_engine::State;
use tokio::net::{TcpListener, UnixListener};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::conn::Peer;

/// State shared by every task.
pub struct Shared {
    /// The one server lock (see `redis_engine::state`).
    pub state: Mutex<State>,
    /// Cancelled when the server shuts down.
    pub shutdown: CancellationToken,
    /// Live connections (for diagnostics).
    pub connected: AtomicUsize,
}

impl Shared {
    /// Wraps a prepared state.
    pub fn new(state: State) -> Arc<Shared> {
        Arc::new(Shared {
            state: Mutex::new(state),
            shutdown: CancellationToken::new(),
            connected: AtomicUsize::new(0),
        })
    }
}

/// Unix time in milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The listening sockets of a server.
#[derive(Default)]
pub struct Listeners {
    pub tcp: Vec<TcpListener>,
    pub unix: Option<UnixListener>,
}

/// Serves `listeners` until `shared.shutdown` is cancelled, then waits for
/// connection tasks to finish.
pub async fn run(listeners: Listeners, shared: Arc<Shared>) {
    let tracker = TaskTracker::new();
    for l in listeners.tcp {
        tracker.spawn(accept_tcp(l, shared.clone(), tracker.clone()));
    }
    if let Some(u) = listeners.unix {
        tracker.spawn(accept_unix(u, shared.clone(), tracker.clone()));
    }
    tracker.spawn(cron(shared.clone()));
    tracker.spawn(background(shared.clone()));
    tracker.spawn(replica_link::run(shared.clone()));
    shared.shutdown.cancelled().await;
    tracker.close();
    // Connections do not watch the token (one more waker per request on
    // the hot path): they are killed through their signals, and a
    // connection admitted from now on sees the cancellation (`admit`).
    if let Ok(st) = shared.state.lock() {
        for c in st.clients.values() {
            c.signal.kill();
        }
    }
    // Connections notice the kill at their next wait; bound the wait so a
    // stuck peer cannot hold the exit.
    let _ = tokio::time::timeout(Duration::from_secs(2), tracker.wait()).await;
}

async fn accept_tcp(l: TcpListener, shared: Arc<Shared>, tracker: TaskTracker) {
    let laddr = l.local_addr().map(|a| a.to_string()).unwrap_or_default();
    loop {
        tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            r = l.accept() => match r {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    let keepalive = shared.state.lock().map_or(0, |s| s.cached.tcp_keepalive);
                    if keepalive > 0 {
                        let sock = socket2::SockRef::from(&stream);
                        let ka = socket2::TcpKeepalive::new()
                            .with_time(Duration::from_secs(keepalive))
                            .with_interval(Duration::from_secs((keepalive / 3).max(1)));
                        let _ = sock.set_tcp_keepalive(&ka);
                    }
                    use std::os::fd::AsRawFd;
                    let peer = Peer {
                        addr: fmt_addr(&addr),
                        laddr: stream.local_addr().map(|a| fmt_addr(&a)).unwrap_or_else(|_| laddr.clone()),
                        is_local: addr.ip().is_loopback(),
                        is_unix: false,
                        fd: i64::from(stream.as_raw_fd()),
                    };
                    tracker.spawn(conn::serve(shared.clone(), stream, peer));
                }
                Err(e) => {
                    log::warning(&format!("Accepting client connection: {e}"));
                    // Out of descriptors: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }
}

async fn accept_unix(l: UnixListener, shared: Arc<Shared>, tracker: TaskTracker) {
    let path = l
        .local_addr()
        .ok()
        .and_then(|a| a.as_pathname().map(|p| p.display().to_string()))
        .unwrap_or_default();
    loop {
        tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            r = l.accept() => match r {
                Ok((stream, _)) => {
                    use std::os::fd::AsRawFd;
                    let fd = i64::from(stream.as_raw_fd());
                    let peer = Peer {
                        addr: format!("{path}:0"),
                        laddr: format!("{path}:0"),
                        is_local: true,
                        is_unix: true,
                        fd,
                    };
                    tracker.spawn(conn::serve(shared.clone(), stream, peer));
                }
                Err(e) => {
                    log::warning(&format!("Accepting client connection: {e}"));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }
}

/// `ip:port`, with IPv6 addresses unbracketed like upstream's CLIENT LIST.
fn fmt_addr(a: &std::net::SocketAddr) -> String {
    format!("{}:{}", a.ip(), a.port())
}

/// Drives background work (saves, AOF rewrites, full syncs) in slices of
/// bounded wall time under the lock, yielding between slices so clients
/// keep being served: with nobody waiting, the next slice starts at once.
async fn background(shared: Arc<Shared>) {
    let Some(wake) = shared.state.lock().ok().map(|s| s.bg_notify.clone()) else {
        return;
    };
    loop {
        tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            _ = wake.notified() => {}
        }
        // Bounded by the save: each step makes progress or waits for the
        // writer thread with a short sleep.
        loop {
            let (more, waiting) = match shared.state.lock() {
                Ok(mut st) => (
                    st.bgsave_slice(redis_engine::persist::SLICE_BUDGET),
                    st.bgsave_waiting(),
                ),
                Err(_) => return,
            };
            if !more {
                break;
            }
            if waiting {
                tokio::time::sleep(Duration::from_millis(1)).await;
            } else {
                tokio::task::yield_now().await;
            }
            if shared.shutdown.is_cancelled() {
                return;
            }
        }
    }
}

/// Periodic work at `hz`.
async fn cron(shared: Arc<Shared>) {
    loop {
        let hz = shared.state.lock().map_or(10, |s| s.cached.hz.max(1));
        tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(1000 / hz)) => {}
        }
        if let Ok(mut st) = shared.state.lock() {
            st.cron(now_ms());
        }
    }
}
