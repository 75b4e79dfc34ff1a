//! The network side of `redis-server`: the service `redis-net`'s
//! connection loop runs for every client, the periodic cron, the
//! background driver, the replica link and shutdown. Command execution
//! lives in `redis-engine` (handlers in `redis-commands`).
//!
//! # Layout
//! - [`run`]: the testable entry point — serves the given listeners until
//!   shutdown.
//! - [`session`]: admission and one client's session (the engine side of
//!   `redis-net`'s connection loop).
//! - [`replica_link`]: following a primary.
//! - [`cluster_bus`]: the cluster bus (listener, links, cron) in cluster
//!   mode.
//! - [`log`]: upstream-format log lines; [`notify`]: systemd notification.
//! - [`error`]: the fatal startup errors.
//!
//! Only `main.rs` builds the runtime, installs signal handlers or exits.

pub mod cluster_bus;
pub mod error;
pub mod log;
pub mod notify;
pub mod proctitle;
pub mod replica_link;
pub mod session;

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use redis_engine::script::{Access, ScriptWatch};
use redis_engine::State;
use redis_net::Acceptors;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// State shared by every task.
pub struct Shared {
    /// The one server lock (see `redis_engine::state`).
    pub state: Mutex<State>,
    /// Cancelled when the server shuts down.
    pub shutdown: CancellationToken,
    /// Live connections (for diagnostics).
    pub connected: AtomicUsize,
    /// The cluster bus listeners, bound at startup, taken by the bus task.
    pub bus_listeners: Mutex<Vec<std::net::TcpListener>>,
    /// What tasks may know of a running script without the lock (see
    /// `redis_engine::script`): nobody waits behind a busy one.
    pub watch: Arc<ScriptWatch>,
}

impl Shared {
    /// Wraps a prepared state.
    pub fn new(state: State) -> Arc<Shared> {
        let watch = Arc::clone(&state.scripting.watch);
        Arc::new(Shared {
            watch,
            state: Mutex::new(state),
            shutdown: CancellationToken::new(),
            connected: AtomicUsize::new(0),
            bus_listeners: Mutex::new(Vec::new()),
        })
    }
}

impl Shared {
    /// The lock, waited for even behind a busy script (paths that can
    /// neither skip their work nor hand it over). On a runtime worker the
    /// wait behind a busy script hands the worker's other connections to
    /// another thread first ([`off_worker`]), so they are answered
    /// (`-BUSY`, `SCRIPT KILL`) meanwhile.
    pub fn lock(&self) -> Option<MutexGuard<'_, State>> {
        match self.watch.access(&self.state) {
            Access::Locked(g) => return Some(g),
            Access::Poisoned => return None,
            Access::Busy => {}
        }
        off_worker(|| loop {
            match self.watch.access(&self.state) {
                Access::Locked(g) => return Some(g),
                Access::Poisoned => return None,
                Access::Busy => std::thread::sleep(Duration::from_millis(1)),
            }
        })
    }

    /// The lock, or `None` while a script is busy (periodic work that
    /// skips a round, as upstream's cron does during a busy script).
    pub fn lock_unless_busy(&self) -> Option<MutexGuard<'_, State>> {
        match self.watch.access(&self.state) {
            Access::Locked(g) => Some(g),
            Access::Poisoned | Access::Busy => None,
        }
    }

    /// The lock, waiting asynchronously behind a busy script (the
    /// primary's stream is applied once the script is over, as upstream).
    pub async fn lock_async(&self) -> Option<MutexGuard<'_, State>> {
        loop {
            match self.watch.access(&self.state) {
                Access::Locked(g) => return Some(g),
                Access::Poisoned => return None,
                Access::Busy => {}
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// Runs `wait` (something that blocks the thread) so that, on a worker
/// of tokio's multi-thread scheduler, the worker's other tasks move to
/// another thread first (`block_in_place`); elsewhere (the current-thread
/// runtime, a blocking thread, no runtime) it just runs.
pub fn off_worker<R>(wait: impl FnOnce() -> R) -> R {
    let multi = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if multi {
        tokio::task::block_in_place(wait)
    } else {
        wait()
    }
}

pub use redis_common::time::now_ms;

pub use redis_net::Listeners;

/// Serves `listeners` until `shared.shutdown` is cancelled, then waits for
/// connection tasks to finish. The running listeners are handed to the
/// engine so `CONFIG SET port|bind|unixsocket` can rebind them.
pub async fn run(listeners: Listeners, shared: Arc<Shared>) {
    let tracker = TaskTracker::new();
    let svc = Arc::new(session::ServerService::new(shared.clone()));
    let acceptors = match Acceptors::start(listeners, svc, tracker.clone(), shared.shutdown.clone())
    {
        Ok(a) => Arc::new(a),
        Err(_) => {
            log::warning("Failed creating the event loop: no runtime");
            return;
        }
    };
    if let Ok(mut st) = shared.state.lock() {
        st.listeners = Some(acceptors.clone());
    }
    tracker.spawn(cron(shared.clone()));
    tracker.spawn(background(shared.clone()));
    tracker.spawn(tracking_flusher(shared.clone()));
    tracker.spawn(replica_link::run(shared.clone()));
    let bus = shared
        .bus_listeners
        .lock()
        .map(|mut l| std::mem::take(&mut *l))
        .unwrap_or_default();
    if shared.state.lock().is_ok_and(|s| s.cluster.is_some()) {
        tracker.spawn(cluster_bus::run(shared.clone(), bus));
    }
    shared.shutdown.cancelled().await;
    acceptors.close();
    tracker.close();
    // Connections do not watch the token (one more waker per request on
    // the hot path): they are killed through their signals, and a
    // connection admitted from now on sees the cancellation (`open`).
    if let Ok(mut st) = shared.state.lock() {
        st.listeners = None;
        for c in st.clients.values() {
            c.signal.kill();
        }
    }
    // Connections notice the kill at their next wait; bound the wait so a
    // stuck peer cannot hold the exit.
    let _ = tokio::time::timeout(Duration::from_secs(2), tracker.wait()).await;
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
            let (more, waiting) = match shared.lock_async().await {
                Some(mut st) => (
                    st.bgsave_slice(redis_engine::persist::SLICE_BUDGET),
                    st.bgsave_waiting(),
                ),
                None => return,
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

/// Sends the broadcast invalidations connections left pending (see
/// `State::tracking_broadcast_soon`): after a yield, so that the
/// connections already scheduled run their batches first and their
/// invalidations go out together.
async fn tracking_flusher(shared: Arc<Shared>) {
    let Some(wake) = shared.state.lock().ok().map(|s| s.tracking.flush_signal()) else {
        return;
    };
    loop {
        tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            _ = wake.notified() => {}
        }
        tokio::task::yield_now().await;
        match shared.lock_async().await {
            Some(mut st) => st.tracking_flush_deferred(),
            None => return,
        }
    }
}

/// Periodic work at `hz` (raised with many clients by `dynamic-hz`).
async fn cron(shared: Arc<Shared>) {
    loop {
        let hz = shared.lock_unless_busy().map_or(10, |s| s.hz.max(1));
        tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(1000 / hz)) => {}
        }
        if let Some(mut st) = shared.lock_unless_busy() {
            st.cron(now_ms());
        }
    }
}
