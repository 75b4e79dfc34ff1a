//! Freeing large values off the server thread (upstream's "lazy free").
//!
//! Dropping a big collection walks every element and returns each
//! allocation to the allocator, which for millions of elements takes long
//! enough to stall every client. [`LazyFree`] hands such values (or whole
//! emptied databases) to one background thread that drops them, and keeps
//! the two counters `INFO memory` reports: objects queued and not yet freed
//! (`lazyfree_pending_objects`) and objects freed that way so far
//! (`lazyfreed_objects`).
//!
//! Only values whose freeing costs more than [`LAZYFREE_THRESHOLD`]
//! allocations go to the thread (see [`free_effort`]); small ones are
//! cheaper to drop in place than to send.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use crate::value::Value;

/// Values that take more allocations than this to free are freed by the
/// background thread (upstream's threshold).
pub const LAZYFREE_THRESHOLD: usize = 64;

/// Something the thread drops, with the number of objects it counts as.
struct Job {
    garbage: Box<dyn Send>,
    objects: u64,
}

/// Counters shared with the thread.
#[derive(Debug, Default)]
struct Counters {
    pending: AtomicU64,
    freed: AtomicU64,
}

/// A handle on the lazy-free thread (cheap to clone; the thread starts on
/// first use and ends when every handle is gone).
#[derive(Clone, Debug, Default)]
pub struct LazyFree {
    counters: Arc<Counters>,
    /// The thread's queue; `None` until the first job, or when the thread
    /// could not be started (values are then dropped in place).
    tx: Arc<Mutex<Option<mpsc::Sender<Job>>>>,
}

impl LazyFree {
    /// A handle whose thread is not started yet.
    pub fn new() -> LazyFree {
        LazyFree::default()
    }

    /// Objects queued and not yet freed (`lazyfree_pending_objects`).
    pub fn pending(&self) -> u64 {
        self.counters.pending.load(Ordering::Relaxed)
    }

    /// Objects freed by the thread since the last reset
    /// (`lazyfreed_objects`).
    pub fn freed(&self) -> u64 {
        self.counters.freed.load(Ordering::Relaxed)
    }

    /// `CONFIG RESETSTAT`: the freed counter starts again from zero.
    pub fn reset_stats(&self) {
        self.counters.freed.store(0, Ordering::Relaxed);
    }

    /// Frees `value` in the background when that is worth it (more than
    /// [`LAZYFREE_THRESHOLD`] allocations), in place otherwise. Returns
    /// true when it went to the thread.
    pub fn free_value(&self, value: Value) -> bool {
        if free_effort(&value) <= LAZYFREE_THRESHOLD {
            return false;
        }
        self.free(Box::new(value), 1);
        true
    }

    /// Hands `garbage` to the thread, counting it as `objects` objects (a
    /// database counts its keys). If the thread cannot be reached the
    /// garbage is dropped here, as a synchronous free.
    pub fn free(&self, garbage: Box<dyn Send>, objects: u64) {
        let Ok(mut guard) = self.tx.lock() else {
            return;
        };
        if guard.is_none() {
            *guard = self.spawn();
        }
        let Some(tx) = guard.as_ref() else {
            drop(guard);
            drop(garbage);
            return;
        };
        self.counters.pending.fetch_add(objects, Ordering::Relaxed);
        if let Err(mpsc::SendError(job)) = tx.send(Job { garbage, objects }) {
            self.counters.pending.fetch_sub(objects, Ordering::Relaxed);
            *guard = None;
            drop(guard);
            drop(job.garbage);
        }
    }

    /// Waits (boundedly) until the thread has freed everything queued so
    /// far; for tests and for callers that need the memory back.
    pub fn wait_idle(&self, limit: std::time::Duration) -> bool {
        let start = std::time::Instant::now();
        while self.pending() > 0 {
            if start.elapsed() >= limit {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        true
    }

    fn spawn(&self) -> Option<mpsc::Sender<Job>> {
        let (tx, rx) = mpsc::channel::<Job>();
        let counters = self.counters.clone();
        std::thread::Builder::new()
            .name("lazyfree".into())
            .spawn(move || {
                for job in rx {
                    drop(job.garbage);
                    counters.pending.fetch_sub(job.objects, Ordering::Relaxed);
                    counters.freed.fetch_add(job.objects, Ordering::Relaxed);
                }
            })
            .ok()?;
        Some(tx)
    }
}

/// Roughly how many allocations freeing `v` takes: one per element of a
/// table-encoded hash, set or sorted set, one per node of a list, one per
/// node and consumer-group entry of a stream; compact encodings and
/// strings are a single allocation.
pub fn free_effort(v: &Value) -> usize {
    match v {
        Value::Str(_) => 1,
        Value::List(l) => l.node_count(),
        Value::Hash(crate::hash::HashValue::Table(t)) => t.len(),
        Value::Set(crate::set::SetValue::Table(t)) => t.len(),
        Value::ZSet(z @ crate::zset::ZSetValue::Ranked(_)) => z.len(),
        Value::Stream(s) => s.free_effort(),
        _ => 1,
    }
}

#[cfg(test)]
#[path = "lazyfree_tests.rs"]
mod tests;
