//! A connection's push mailbox: bytes other clients and the server send to
//! it (pub/sub messages, MONITOR lines, replies to a blocked client, the
//! replication stream, kill wake-ups), read by the connection task.
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
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};

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
#[derive(Debug, Clone, PartialEq, Eq)]
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
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// Bytes queued and not yet taken by the receiver (for the memory
    /// the replication buffers hold).
    pub fn queued_bytes(&self) -> usize {
        self.0.lock().queue.iter().map(Bytes::len).sum()
    }
}

impl std::fmt::Debug for PushSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PushSender")
    }
}

impl PushReceiver {
    /// The next message, waiting for one. Cancel-safe: a message is only
    /// taken by the poll that returns it. Never returns `None` (the
    /// `Option` keeps the shape of a channel's `recv`).
    pub async fn recv(&mut self) -> Option<Bytes> {
        poll_fn(|cx| {
            let mut m = self.0.lock();
            if let Some(b) = m.queue.pop_front() {
                return Poll::Ready(Some(b));
            }
            match &m.waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => m.waker = Some(cx.waker().clone()),
            }
            Poll::Pending
        })
        .await
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fifo_wake_and_close() {
        let (tx, mut rx) = push_channel();
        tx.send(Bytes::from_static(b"a")).unwrap();
        tx.send(Bytes::from_static(b"b")).unwrap();
        assert_eq!(rx.recv().await.unwrap(), "a");
        assert_eq!(rx.try_recv().unwrap(), "b");
        assert_eq!(rx.try_recv(), None);
        // A waiting receiver is woken by a send from another thread.
        let tx2 = tx.clone();
        let h = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            tx2.send(Bytes::from_static(b"c")).unwrap();
        });
        assert_eq!(rx.recv().await.unwrap(), "c");
        h.join().unwrap();
        drop(rx);
        assert_eq!(tx.send(Bytes::from_static(b"d")), Err(Closed));
    }
}
