//! The running set of listening sockets: one accept task per socket, each
//! spawning [`serve`] per connection, and runtime rebinding (`CONFIG SET
//! port` / `bind`, a new `unixsocket`).
//!
//! A listener lives in a slot shared by its accept task and [`Acceptors`];
//! the task polls it through the slot, so the acceptor set can close a
//! socket *synchronously* (take it out of the slot and drop it). That
//! matters for rebinding from a synchronous `CONFIG SET` handler on a
//! single-threaded runtime: the port must be free before the handler
//! returns, when the accept task has had no chance to run.

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::conn::serve;
use crate::listener::{
    bind_addr, bind_unix, parse_bind_addrs, tcp_bind_error, unix_path, BindAddr, BindError,
    Listeners, TcpBind,
};
use crate::service::{Peer, Service};

/// Pause after a failed `accept(2)` (typically out of descriptors), so the
/// loop backs off instead of spinning.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(10);

/// [`Acceptors::start`] was called outside a tokio runtime.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("acceptors can only be started inside a tokio runtime")]
pub struct NoRuntime;

/// An accepted connection and where it comes from.
type Accepted<S> = io::Result<(S, Peer)>;

/// A listening socket kind the accept loop can drive.
trait Listen: Send + Sync + Sized + 'static {
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    type Addr: Clone + Send + Sync + 'static;

    fn addr(&self) -> Option<Self::Addr>;

    /// Polls for a connection and describes its peer.
    fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Accepted<Self::Stream>>;

    /// Socket options for a new connection.
    fn configure<Svc: Service>(stream: &Self::Stream, svc: &Svc);

    /// Starts the accept task of `slot` (dispatch to the non-generic
    /// spawner).
    fn start(slot: Arc<Slot<Self>>, spawner: &dyn Spawn);
}

impl Listen for TcpListener {
    type Stream = TcpStream;
    type Addr = SocketAddr;

    fn addr(&self) -> Option<SocketAddr> {
        self.local_addr().ok()
    }

    fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Accepted<TcpStream>> {
        self.poll_accept(cx).map_ok(|(stream, addr)| {
            let laddr = stream
                .local_addr()
                .or_else(|_| self.local_addr())
                .map(|a| fmt_addr(&a))
                .unwrap_or_default();
            let peer = Peer {
                addr: fmt_addr(&addr),
                laddr,
                is_local: addr.ip().is_loopback(),
                is_unix: false,
                fd: i64::from(stream.as_raw_fd()),
            };
            (stream, peer)
        })
    }

    fn configure<Svc: Service>(stream: &TcpStream, svc: &Svc) {
        let _ = stream.set_nodelay(true);
        if let Some(time) = svc.tcp_keepalive().filter(|d| !d.is_zero()) {
            let ka = socket2::TcpKeepalive::new()
                .with_time(time)
                .with_interval((time / 3).max(Duration::from_secs(1)));
            let _ = socket2::SockRef::from(stream).set_tcp_keepalive(&ka);
        }
    }

    fn start(slot: Arc<Slot<Self>>, spawner: &dyn Spawn) {
        spawner.tcp(slot);
    }
}

impl Listen for UnixListener {
    type Stream = UnixStream;
    type Addr = PathBuf;

    fn addr(&self) -> Option<PathBuf> {
        unix_path(self)
    }

    fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Accepted<UnixStream>> {
        self.poll_accept(cx).map_ok(|(stream, _)| {
            let path = unix_path(self)
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            let peer = Peer {
                addr: format!("{path}:0"),
                laddr: format!("{path}:0"),
                is_local: true,
                is_unix: true,
                fd: i64::from(stream.as_raw_fd()),
            };
            (stream, peer)
        })
    }

    fn configure<Svc: Service>(_: &UnixStream, _: &Svc) {}

    fn start(slot: Arc<Slot<Self>>, spawner: &dyn Spawn) {
        spawner.unix(slot);
    }
}

/// Starts accept tasks for one service. A trait object, so [`Acceptors`]
/// need not be generic over the service (whoever handles `CONFIG SET`
/// can hold it without naming the service type); accepting is not on
/// the request path.
trait Spawn: Send + Sync {
    fn tcp(&self, slot: Arc<Slot<TcpListener>>);
    fn unix(&self, slot: Arc<Slot<UnixListener>>);
}

struct Spawner<Svc> {
    svc: Arc<Svc>,
    tracker: TaskTracker,
    handle: Handle,
}

impl<Svc: Service> Spawn for Spawner<Svc> {
    fn tcp(&self, slot: Arc<Slot<TcpListener>>) {
        let task = accept_loop(slot, self.svc.clone(), self.tracker.clone());
        self.tracker.spawn_on(task, &self.handle);
    }

    fn unix(&self, slot: Arc<Slot<UnixListener>>) {
        let task = accept_loop(slot, self.svc.clone(), self.tracker.clone());
        self.tracker.spawn_on(task, &self.handle);
    }
}

/// One listening socket, shared by its accept task and the set.
struct Slot<L: Listen> {
    /// `None` once closed.
    listener: Mutex<Option<L>>,
    /// The address it was bound to (kept after closing, for restoring).
    addr: Option<L::Addr>,
    /// Ends the accept task; a child of the daemon's shutdown token.
    stop: CancellationToken,
}

impl<L: Listen> Slot<L> {
    fn new(l: L, stop: CancellationToken) -> Arc<Slot<L>> {
        Arc::new(Slot {
            addr: l.addr(),
            listener: Mutex::new(Some(l)),
            stop,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Option<L>> {
        // An `Option` swap cannot be left half-done by a panic.
        self.listener.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `None` once the socket is closed.
    fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Option<Accepted<L::Stream>>> {
        match self.lock().as_ref() {
            Some(l) => l.poll_next(cx).map(Some),
            None => Poll::Ready(None),
        }
    }

    /// Closes the socket now (the port is free when this returns) and ends
    /// the accept task.
    fn close(&self) {
        drop(self.lock().take());
        self.stop.cancel();
    }
}

/// The running listeners.
struct Running {
    tcp: Vec<Arc<Slot<TcpListener>>>,
    unix: Option<Arc<Slot<UnixListener>>>,
}

/// The set of accept tasks of a daemon. Every accepted connection is served
/// by [`serve`].
///
/// Methods are synchronous and may be called from any thread (the runtime
/// handle captured at start is used to spawn and to create sockets).
pub struct Acceptors {
    spawner: Box<dyn Spawn>,
    shutdown: CancellationToken,
    handle: Handle,
    running: Mutex<Running>,
}

impl std::fmt::Debug for Acceptors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acceptors")
            .field("tcp", &self.tcp_addrs())
            .field("unix", &self.unix_path())
            .finish()
    }
}

impl Acceptors {
    /// Starts accepting on `listeners`, serving every connection with
    /// `svc` on a task of `tracker`; the accept tasks end with `shutdown`
    /// (connections do not watch it: the service stops them through their
    /// signals). Must be called inside a tokio runtime, whose handle is
    /// kept for later rebinds.
    pub fn start<Svc: Service>(
        listeners: Listeners,
        svc: Arc<Svc>,
        tracker: TaskTracker,
        shutdown: CancellationToken,
    ) -> Result<Acceptors, NoRuntime> {
        let handle = Handle::try_current().map_err(|_| NoRuntime)?;
        let acceptors = Acceptors {
            spawner: Box::new(Spawner {
                svc,
                tracker,
                handle: handle.clone(),
            }),
            shutdown,
            handle,
            running: Mutex::new(Running {
                tcp: Vec::new(),
                unix: None,
            }),
        };
        acceptors.rebind(listeners);
        Ok(acceptors)
    }

    fn lock(&self) -> MutexGuard<'_, Running> {
        // Every update swaps whole vectors/options: no torn state.
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts an accept task for `l`.
    fn spawn<L: Listen>(&self, l: L) -> Arc<Slot<L>> {
        let slot = Slot::new(l, self.shutdown.child_token());
        L::start(slot.clone(), &*self.spawner);
        slot
    }

    /// Serves `new` instead of the running set: the new sockets are served
    /// before the old ones close. Connections already accepted are not
    /// affected (as upstream).
    pub fn rebind(&self, new: Listeners) {
        let tcp: Vec<_> = new.tcp.into_iter().map(|l| self.spawn(l)).collect();
        let unix = new.unix.map(|l| self.spawn(l));
        let (old_tcp, old_unix) = {
            let mut r = self.lock();
            (
                std::mem::replace(&mut r.tcp, tcp),
                std::mem::replace(&mut r.unix, unix),
            )
        };
        old_tcp.iter().for_each(|s| s.close());
        if let Some(s) = old_unix {
            s.close();
        }
    }

    /// `CONFIG SET port` / `CONFIG SET bind`: listens on `addrs` × `port`
    /// (nothing when `port` is 0) instead of the running TCP sockets.
    ///
    /// Sockets already bound to a wanted address are kept as they are. On
    /// failure the running set is left untouched, except in one case: when
    /// the port is held by our own sockets on other addresses (`*`
    /// replacing `127.0.0.1`), the kernel refuses to bind both, so, as
    /// upstream does, the old sockets are closed first and reopened if the
    /// new bind fails ([`BindError::listeners_lost`] if even that fails).
    pub fn rebind_tcp(&self, addrs: &[String], port: u16, backlog: i32) -> Result<(), BindError> {
        let _rt = self.handle.enter();
        let mut running = self.lock();
        if port == 0 {
            std::mem::take(&mut running.tcp)
                .iter()
                .for_each(|s| s.close());
            return Ok(());
        }
        let wanted = parse_bind_addrs(addrs, port)?;
        match bind_reusing(&running.tcp, &wanted, port, backlog) {
            Ok(set) => {
                let old = std::mem::take(&mut running.tcp);
                running.tcp = self.install(set);
                for s in old {
                    if !running.tcp.iter().any(|n| Arc::ptr_eq(n, &s)) {
                        s.close();
                    }
                }
                return Ok(());
            }
            Err(f) if !f.conflict => return Err(f.error),
            Err(_) => {}
        }
        // Our own sockets hold the port: close them, bind, restore.
        let old = std::mem::take(&mut running.tcp);
        old.iter().for_each(|s| s.close());
        match bind_reusing(&[], &wanted, port, backlog) {
            Ok(set) => {
                running.tcp = self.install(set);
                Ok(())
            }
            Err(BindFailure { mut error, .. }) => {
                for s in &old {
                    let Some(addr) = s.addr else { continue };
                    let again = BindAddr {
                        optional: false,
                        ip: addr.ip(),
                        text: addr.ip().to_string(),
                    };
                    match bind_addr(&again, addr.port(), backlog) {
                        TcpBind::Bound(l) => running.tcp.push(self.spawn(l)),
                        _ => error.listeners_lost = true,
                    }
                }
                if error.listeners_lost {
                    error
                        .lines
                        .push("Failed to restore old listening sockets.".into());
                }
                Err(error)
            }
        }
    }

    /// Listens on the Unix socket `path` (none when empty) with `perm`
    /// instead of the running one; the same path keeps its socket. The old
    /// socket's file is removed once it no longer serves. On failure the
    /// running socket is left untouched.
    pub fn rebind_unix(&self, path: &str, perm: u32) -> Result<(), BindError> {
        let _rt = self.handle.enter();
        let mut running = self.lock();
        let current = running.unix.as_ref().and_then(|s| s.addr.clone());
        if !path.is_empty() && current.as_deref() == Some(std::path::Path::new(path)) {
            if perm != 0 {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(perm));
            }
            return Ok(());
        }
        let new = if path.is_empty() {
            None
        } else {
            Some(self.spawn(bind_unix(path, perm)?))
        };
        if let Some(old) = std::mem::replace(&mut running.unix, new) {
            old.close();
            if let Some(p) = &old.addr {
                let _ = std::fs::remove_file(p);
            }
        }
        Ok(())
    }

    /// Starts the new sockets of a successful bind, keeping reused ones.
    fn install(&self, set: Vec<Bound>) -> Vec<Arc<Slot<TcpListener>>> {
        set.into_iter()
            .map(|b| match b {
                Bound::Kept(s) => s,
                Bound::New(l) => self.spawn(l),
            })
            .collect()
    }

    /// The TCP addresses listened on now.
    pub fn tcp_addrs(&self) -> Vec<SocketAddr> {
        self.lock().tcp.iter().filter_map(|s| s.addr).collect()
    }

    /// The Unix socket listened on now.
    pub fn unix_path(&self) -> Option<PathBuf> {
        self.lock().unix.as_ref().and_then(|s| s.addr.clone())
    }

    /// Closes every listening socket now and removes the Unix socket's
    /// file (upstream does both on shutdown). Accepted connections are not
    /// affected.
    pub fn close(&self) {
        let (tcp, unix) = {
            let mut r = self.lock();
            (std::mem::take(&mut r.tcp), r.unix.take())
        };
        tcp.iter().for_each(|s| s.close());
        if let Some(s) = unix {
            s.close();
            if let Some(p) = &s.addr {
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

impl Drop for Acceptors {
    /// The sockets close with the set (the file of a Unix socket stays;
    /// [`Acceptors::close`] removes it).
    fn drop(&mut self) {
        let r = self.lock();
        r.tcp.iter().for_each(|s| s.close());
        if let Some(s) = &r.unix {
            s.close();
        }
    }
}

/// One socket of a successful bind.
enum Bound {
    /// Already running on the wanted address.
    Kept(Arc<Slot<TcpListener>>),
    New(TcpListener),
}

struct BindFailure {
    error: BindError,
    /// The port is taken, and we hold sockets on it.
    conflict: bool,
}

/// Binds `wanted` on `port`, reusing the running sockets bound to the same
/// address. On failure the sockets bound here are closed again.
fn bind_reusing(
    running: &[Arc<Slot<TcpListener>>],
    wanted: &[BindAddr],
    port: u16,
    backlog: i32,
) -> Result<Vec<Bound>, BindFailure> {
    let mut set = Vec::with_capacity(wanted.len());
    for a in wanted {
        let addr = SocketAddr::new(a.ip, port);
        let kept = running.iter().find(|s| {
            s.addr == Some(addr)
                && !set
                    .iter()
                    .any(|b| matches!(b, Bound::Kept(k) if Arc::ptr_eq(k, s)))
        });
        if let Some(s) = kept {
            set.push(Bound::Kept(s.clone()));
            continue;
        }
        match bind_addr(a, port, backlog) {
            TcpBind::Bound(l) => set.push(Bound::New(l)),
            TcpBind::Skipped => {}
            TcpBind::Failed(e) => {
                let conflict = e.raw_os_error() == Some(libc::EADDRINUSE)
                    && running
                        .iter()
                        .any(|s| s.addr.is_some_and(|a| a.port() == port));
                return Err(BindFailure {
                    error: tcp_bind_error(a, port, &e),
                    conflict,
                });
            }
        }
    }
    Ok(set)
}

/// Accepts connections until the socket is closed or `slot.stop` fires,
/// serving each on a task of `tracker`. Closes the socket on the way out.
async fn accept_loop<L: Listen, Svc: Service>(
    slot: Arc<Slot<L>>,
    svc: Arc<Svc>,
    tracker: TaskTracker,
) {
    loop {
        // Both branches are cancel-safe: `cancelled` consumes nothing and a
        // poll of `accept` that loses the race accepted nothing.
        let next = tokio::select! {
            biased;
            _ = slot.stop.cancelled() => None,
            r = poll_fn(|cx| slot.poll_next(cx)) => r,
        };
        match next {
            None => break,
            Some(Ok((stream, peer))) => {
                L::configure(&stream, &*svc);
                tracker.spawn(serve(svc.clone(), stream, peer));
            }
            Some(Err(e)) => {
                svc.accept_error(&e);
                tokio::select! {
                    _ = slot.stop.cancelled() => break,
                    _ = tokio::time::sleep(ACCEPT_ERROR_BACKOFF) => {}
                }
            }
        }
    }
    slot.close();
}

/// `ip:port`, with IPv6 addresses unbracketed like upstream's CLIENT LIST.
fn fmt_addr(a: &SocketAddr) -> String {
    format!("{}:{}", a.ip(), a.port())
}
