//! A connection's push mailbox and its cross-task signal.
//!
//! The mailbox carries bytes other tasks send to a connection (pub/sub
//! messages, MONITOR lines, replies to a blocked client, the replication
//! stream, kill wake-ups); the connection task reads it. [`ConnSignal`]
//! bundles the sending half with the kill and close-after-flush flags.
//!
//! It replaces an unbounded `tokio::sync::mpsc` channel whose receive
//! future, polled by every connection on every request, cost hundreds of
//! instructions per request in profiles. Here a poll is one uncontended
//! lock, an empty-queue check and, only when the task changed, a waker
//! clone. Semantics are those of the channel as the server used it: FIFO,
//! unbounded, `send` fails once the receiver is gone (so nothing piles up
//! for a closed connection), `recv` never ends while the receiver lives.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;

#[derive(Default)]
struct Mailbox {
    queue: VecDeque<Bytes>,
    waker: Option<Waker>,
    closed: bool,
}

struct Shared(Mutex<Mailbox>);

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Mailbox> {
        // The mailbox stays consistent between statements; a panic while
        // holding the lock cannot leave it half-updated.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The sending half; cheap to clone.
#[derive(Clone)]
pub struct PushSender(Arc<Shared>);

/// The receiving half, owned by the connection task.
pub struct PushReceiver(Arc<Shared>);

/// The receiver is gone; the message was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the connection is closed")]
pub struct Closed;

/// A new mailbox.
pub fn push_channel() -> (PushSender, PushReceiver) {
    let shared = Arc::new(Shared(Mutex::new(Mailbox::default())));
    (PushSender(shared.clone()), PushReceiver(shared))
}

impl PushSender {
    /// Queues `msg` and wakes the receiver.
    pub fn send(&self, msg: Bytes) -> Result<(), Closed> {
        let waker = {
            let mut m = self.0.lock();
            if m.closed {
                return Err(Closed);
            }
            m.queue.push_back(msg);
            m.waker.take()
        };
        // Woken outside the lock: the woken task may poll at once.
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }
}

impl PushSender {
    /// Bytes queued and not yet taken by the receiver (the memory the
    /// replication buffers hold, INFO `mem_total_replication_buffers`).
    pub fn queued_bytes(&self) -> usize {
        self.0.lock().queue.iter().map(Bytes::len).sum()
    }
}

impl std::fmt::Debug for PushSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PushSender")
    }
}

impl std::fmt::Debug for PushReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PushReceiver")
    }
}

impl PushReceiver {
    /// The next message, waiting for one. Cancel-safe: a message is only
    /// taken by the poll that returns it. Never returns `None` (the
    /// `Option` keeps the shape of a channel's `recv`).
    pub async fn recv(&mut self) -> Option<Bytes> {
        Some(poll_fn(|cx| self.poll_recv(cx)).await)
    }

    /// Polls for the next message; on `Pending` the task is woken by the
    /// next `send`. Only the poll that returns a message takes it.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Bytes> {
        let mut m = self.0.lock();
        if let Some(b) = m.queue.pop_front() {
            return Poll::Ready(b);
        }
        // The connection task polls with the same waker every time: skip
        // the clone (an atomic increment) then.
        match &m.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => m.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// The next message if one is queued.
    pub fn try_recv(&mut self) -> Option<Bytes> {
        self.0.lock().queue.pop_front()
    }
}

impl Drop for PushReceiver {
    fn drop(&mut self) {
        let mut m = self.0.lock();
        m.closed = true;
        m.queue.clear();
        m.waker = None;
    }
}

/// Cross-task signals for one connection: kill requests, close-after-flush
/// requests and pushed messages (`MONITOR` lines, pub/sub messages, replies
/// to a blocked client, the replication stream) through its mailbox.
///
/// The connection loop creates it and hands it to
/// [`Service::open`](crate::Service::open); the service keeps it wherever
/// other clients can reach it (CLIENT KILL, shutdown, PUBLISH...).
#[derive(Debug)]
pub struct ConnSignal {
    killed: AtomicBool,
    close_requested: AtomicBool,
    /// Bytes of output the connection owes its client (CLIENT LIST
    /// `obl`/`oll`/`omem`, INFO `client_recent_max_output_buffer`).
    output_len: AtomicUsize,
    /// The memory the owed output occupies (its buffer's capacity while
    /// anything is owed, else 0).
    output_mem: AtomicUsize,
    /// Sends bytes to be written to this connection, in order, after the
    /// replies already produced.
    pub push: PushSender,
    /// Run by `kill` (see [`ConnSignal::on_kill`]).
    kill_hook: std::sync::OnceLock<KillHook>,
}

/// What `kill` does besides waking the connection: closing its socket at
/// once, for a connection whose task may be busy for a while.
struct KillHook(Box<dyn Fn() + Send + Sync>);

impl std::fmt::Debug for KillHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KillHook")
    }
}

impl ConnSignal {
    /// A new signal with the sending half of the push mailbox.
    pub fn new(push: PushSender) -> ConnSignal {
        ConnSignal {
            killed: AtomicBool::new(false),
            close_requested: AtomicBool::new(false),
            output_len: AtomicUsize::new(0),
            output_mem: AtomicUsize::new(0),
            push,
            kill_hook: std::sync::OnceLock::new(),
        }
    }

    /// Sets what `kill` runs besides waking the connection (once; later
    /// calls are ignored). A replica's link to its primary shuts its
    /// socket down there, so the primary sees it gone at once even while
    /// the link's task waits for the state (upstream closes the socket
    /// inside `CLIENT KILL`).
    pub fn on_kill(&self, hook: impl Fn() + Send + Sync + 'static) {
        let _ = self.kill_hook.set(KillHook(Box::new(hook)));
    }

    /// Asks the connection to close now, without writing what it owes.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        // Wake the connection through its push mailbox: it checks the flag
        // on every wake-up and at the top of its loop (a Notify future per
        // loop iteration showed up in profiles of the request path).
        let _ = self.push.send(Bytes::new());
        if let Some(hook) = self.kill_hook.get() {
            (hook.0)();
        }
    }

    /// Asks the connection to close once everything pushed so far is
    /// written (an RDB-only replica after its payload).
    pub fn close_after_flush(&self) {
        self.close_requested.store(true, Ordering::Release);
        let _ = self.push.send(Bytes::new());
    }

    /// True once `close_after_flush` was called.
    pub fn close_requested(&self) -> bool {
        self.close_requested.load(Ordering::Acquire)
    }

    /// Records the output owed and the buffer holding it (`capacity`).
    pub fn set_output(&self, len: usize, capacity: usize) {
        self.output_len.store(len, Ordering::Relaxed);
        let mem = if len == 0 { 0 } else { capacity.max(len) };
        self.output_mem.store(mem, Ordering::Relaxed);
    }

    /// Memory of the output owed, as last recorded (see
    /// [`ConnSignal::set_output`]).
    pub fn output_mem(&self) -> usize {
        self.output_mem.load(Ordering::Relaxed)
    }

    /// Bytes of output owed to the client, as last recorded.
    pub fn output_len(&self) -> usize {
        self.output_len.load(Ordering::Relaxed)
    }

    /// True once `kill` was called.
    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }
}

#[cfg(test)]
#[path = "mailbox_tests.rs"]
mod tests;
