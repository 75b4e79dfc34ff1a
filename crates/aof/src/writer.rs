//! The durable AOF writer: owns the current incr file, accepts appends
//! cheaply (a copy into a buffer under a short mutex) and writes/fsyncs in
//! background threads according to `appendfsync`.
//!
//! # Sequence numbers
//! [`AofWriter::append`] returns the total number of bytes appended so far
//! (across file switches), a monotonic sequence. A caller that must not
//! reply before its data is safe waits for that sequence to become
//! *durable*:
//! - `appendfsync always`: written and fsynced (unless
//!   `no-appendfsync-on-rewrite` suppresses fsync during a rewrite, where
//!   upstream also replies after the write only);
//! - `everysec` / `no`: written to the OS (upstream writes the AOF buffer
//!   before it sends replies; fsync happens once a second or never).
//!
//! # Group commit
//! One flusher thread takes everything appended so far, writes it with one
//! `write` and, under `always`, one `fsync`, then wakes every waiter whose
//! sequence is covered. Appends that arrive while a flush runs form the next
//! batch, so many clients share one disk flush.
//!
//! Under `always` the event loop does better on its own thread, like
//! upstream's `beforeSleep`: [`AofWriter::write_batch`] queues a client's
//! batch without waking the flusher, the connection yields so every other
//! ready client runs its batch too, then [`AofHandle::commit`] writes and
//! fsyncs all of them at once on that thread; the other connections find
//! their data durable and reply without any thread hand-off. A commit that
//! finds another round in flight waits for it with a callback instead, and
//! the flusher takes deferred data nobody committed after a few ms.
//!
//! Under `everysec` a second thread fsyncs at most once a second on its own
//! handle, so a slow fsync never delays writes (upstream's bio thread).
//!
//! # Writing on the caller's thread
//! [`AofWriter::write_batch`] is the event-loop form (upstream's
//! `flushAppendOnlyFile` in `beforeSleep`): under `everysec` and `no` it
//! writes the caller's whole batch with one `write(2)` right away, on the
//! calling thread, when nothing is queued ahead of it, no flusher write is
//! in flight and no background fsync runs (a write could stall behind it;
//! upstream postpones the write then, here the flusher thread takes it).
//! No other thread is woken on that path. Under `always` it queues the
//! batch for the caller's [`AofHandle::commit`] (see above).
//!
//! # Errors
//! A failed write keeps the data queued and is retried about once a second
//! (a partial write is cut back with `set_len`, as upstream's `ftruncate`);
//! the error is reported by [`AofWriter::write_status`] (for `-MISCONF` and
//! `aof_last_write_status:err`) and to waiters whose data is not durable.
//! Upstream exits on a write or fsync error under `always`; the server
//! decides that from the error returned by the wait.

use redis_common::os::strerror;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// `appendfsync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// fsync after every write, before replies.
    Always,
    /// fsync in the background about once a second.
    EverySec,
    /// Never fsync explicitly; the OS flushes.
    No,
}

impl FsyncPolicy {
    /// Parses the config value (case-insensitive).
    pub fn parse(s: &str) -> Option<FsyncPolicy> {
        match s.to_ascii_lowercase().as_str() {
            "always" => Some(FsyncPolicy::Always),
            "everysec" => Some(FsyncPolicy::EverySec),
            "no" => Some(FsyncPolicy::No),
            _ => None,
        }
    }

    /// The config value.
    pub fn as_str(self) -> &'static str {
        match self {
            FsyncPolicy::Always => "always",
            FsyncPolicy::EverySec => "everysec",
            FsyncPolicy::No => "no",
        }
    }
}

/// Why data is not durable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AofError {
    /// `write(2)` failed; the text is the `strerror` message.
    #[error("Error writing to the AOF file: {0}")]
    Write(String),
    /// `fsync(2)` failed.
    #[error("Error fsyncing the AOF file: {0}")]
    Fsync(String),
    /// The writer was closed before the data was written.
    #[error("AOF writer closed")]
    Closed,
}

impl AofError {
    /// The bare `strerror` text, as upstream's `-MISCONF Errors writing to
    /// the AOF file: <text>` shows it.
    pub fn reason(&self) -> &str {
        match self {
            AofError::Write(s) | AofError::Fsync(s) => s,
            AofError::Closed => "AOF writer closed",
        }
    }
}

/// Counters for `INFO persistence`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AofStats {
    /// Bytes appended since the writer was created (the sequence).
    pub appended: u64,
    /// Bytes handed to the OS.
    pub written: u64,
    /// Bytes known fsynced.
    pub synced: u64,
    /// What waiters are released at (see the module docs).
    pub durable: u64,
    /// Bytes queued and not yet written (`aof_buffer_length`).
    pub pending: u64,
    /// Size of the current incr file (`aof_last_incr_size` after writes).
    pub incr_size: u64,
    /// Times a write had to wait for a running fsync
    /// (`aof_delayed_fsync`).
    pub delayed_fsync: u64,
    /// The pending write error, if any (`aof_last_write_status:err`).
    pub write_error: Option<String>,
    /// The last background fsync error, if any.
    pub fsync_error: Option<String>,
    /// fsync calls made (group commit makes this far smaller than the
    /// number of appends under `always`).
    pub fsyncs: u64,
    /// Batches written directly on the caller's thread
    /// ([`AofWriter::write_batch`]).
    pub inline_writes: u64,
}

/// Called (outside any lock, from a writer thread) with the new durable
/// sequence each time it advances; a good place to wake async tasks.
pub type DurableHook = Arc<dyn Fn(u64) + Send + Sync>;

/// A one-shot continuation for [`AofWriter::on_durable`].
pub type DurableCallback = Box<dyn FnOnce(Result<(), AofError>) + Send>;

/// A callback whose outcome is known, ready to run outside the lock.
type ReadyCallback = (DurableCallback, Result<(), AofError>);

enum Op {
    Data(Vec<u8>),
    Switch(Arc<File>, u64),
}

struct State {
    ops: VecDeque<Op>,
    pending: u64,
    appended: u64,
    written: u64,
    synced: u64,
    durable: u64,
    policy: FsyncPolicy,
    no_fsync_on_rewrite: bool,
    rewrite_active: bool,
    file: Arc<File>,
    incr_size: u64,
    write_error: Option<String>,
    fsync_error: Option<String>,
    retry_at: Option<Instant>,
    force_sync: bool,
    syncing: bool,
    delayed_fsync: u64,
    fsyncs: u64,
    /// Writes done on the caller's thread by `write_batch`.
    inline_writes: u64,
    /// A flush round (the flusher's or a caller's `commit`) took ops and
    /// is writing them outside the lock.
    in_flight: bool,
    /// When data queued by `write_batch` under `always` without waking
    /// the flusher (its caller commits it) started waiting; the flusher
    /// takes it anyway once it is older than [`DEFERRED_GRACE`].
    deferred_at: Option<Instant>,
    /// How long deferred data is left to its committer.
    deferred_grace: Duration,
    /// Threads blocked on `done` (only then is it worth a wake-up).
    waiters: usize,
    shutdown: bool,
    stopped: bool,
    callbacks: Vec<(u64, DurableCallback)>,
    hook: Option<DurableHook>,
}

impl State {
    fn fsync_suppressed(&self) -> bool {
        self.no_fsync_on_rewrite && self.rewrite_active
    }

    /// Raises `durable` according to the policy; never lowers it.
    fn update_durable(&mut self) {
        let d = if self.policy == FsyncPolicy::Always && !self.fsync_suppressed() {
            self.synced
        } else {
            self.written
        };
        if d > self.durable {
            self.durable = d;
        }
    }

    fn error(&self) -> Option<AofError> {
        if let Some(e) = &self.write_error {
            return Some(AofError::Write(e.clone()));
        }
        if self.policy == FsyncPolicy::Always {
            if let Some(e) = &self.fsync_error {
                return Some(AofError::Fsync(e.clone()));
            }
        }
        None
    }

    /// Callbacks that can run now, and the hook to call.
    fn ready(&mut self) -> (Vec<ReadyCallback>, Option<DurableHook>) {
        let err = self.error();
        let stopped = self.stopped;
        let durable = self.durable;
        let mut out = Vec::new();
        let mut keep = Vec::new();
        for (seq, cb) in self.callbacks.drain(..) {
            if seq <= durable {
                out.push((cb, Ok(())));
            } else if let Some(e) = &err {
                out.push((cb, Err(e.clone())));
            } else if stopped {
                out.push((cb, Err(AofError::Closed)));
            } else {
                keep.push((seq, cb));
            }
        }
        self.callbacks = keep;
        (out, self.hook.clone())
    }
}

struct Shared {
    st: Mutex<State>,
    /// Wakes the flusher (new data, shutdown, forced sync).
    work: Condvar,
    /// Wakes the everysec syncer.
    sync_work: Condvar,
    /// Wakes threads blocked in `wait_durable` / `sync_all`.
    done: Condvar,
    /// `DEBUG AOF-FLUSH-SLEEP`: microseconds to sleep before each write.
    flush_sleep_us: std::sync::atomic::AtomicU64,
}

impl Shared {
    /// Sleeps as `DEBUG AOF-FLUSH-SLEEP` asks before data is written
    /// (upstream sleeps in `flushAppendOnlyFile`, holding everything up).
    fn flush_sleep(&self) {
        let us = self
            .flush_sleep_us
            .load(std::sync::atomic::Ordering::Relaxed);
        if us > 0 {
            std::thread::sleep(Duration::from_micros(us));
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking writer thread must not take the server down with a
        // poisoned lock; the state stays consistent between statements.
        self.st.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wait<'a>(&self, cv: &Condvar, g: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        cv.wait(g).unwrap_or_else(|p| p.into_inner())
    }

    fn wait_timeout<'a>(
        &self,
        cv: &Condvar,
        g: MutexGuard<'a, State>,
        d: Duration,
    ) -> MutexGuard<'a, State> {
        match cv.wait_timeout(g, d) {
            Ok((g, _)) => g,
            Err(p) => p.into_inner().0,
        }
    }

    /// Runs ready callbacks and the hook after a state change (the guard
    /// is released first).
    fn notify(&self, mut g: MutexGuard<'_, State>) {
        let (cbs, hook) = g.ready();
        let durable = g.durable;
        drop(g);
        self.done.notify_all();
        for (cb, r) in cbs {
            cb(r);
        }
        if let Some(h) = hook {
            h(durable);
        }
    }
}

/// Writes `data` fully; on failure reports how much was written.
fn write_all_counted(mut f: &File, mut data: &[u8]) -> (usize, Option<io::Error>) {
    let mut done = 0;
    while !data.is_empty() {
        match f.write(data) {
            Ok(0) => {
                return (
                    done,
                    Some(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "No space left on device",
                    )),
                )
            }
            Ok(n) => {
                done += n;
                data = &data[n..];
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (done, Some(e)),
        }
    }
    (done, None)
}

/// The AOF writer. Dropping it flushes, fsyncs (unless `no`) and stops
/// its threads; [`AofWriter::close`] does the same and reports errors.
pub struct AofWriter {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for AofWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AofWriter")
            .field("stats", &self.stats())
            .finish()
    }
}

/// How long a failed write waits before it is retried (upstream retries
/// from its once-a-second cron).
const RETRY_DELAY: Duration = Duration::from_secs(1);

/// How long data queued for a caller's [`AofHandle::commit`] may wait
/// before the flusher writes it instead (a safety net: the caller commits
/// within microseconds).
const DEFERRED_GRACE: Duration = Duration::from_millis(5);

impl AofWriter {
    /// Starts a writer appending to `file` (opened for append, current size
    /// `size`) with the given policy.
    pub fn new(file: File, size: u64, policy: FsyncPolicy) -> io::Result<AofWriter> {
        let shared = Arc::new(Shared {
            st: Mutex::new(State {
                ops: VecDeque::new(),
                pending: 0,
                appended: 0,
                written: 0,
                synced: 0,
                durable: 0,
                policy,
                no_fsync_on_rewrite: false,
                rewrite_active: false,
                file: Arc::new(file),
                incr_size: size,
                write_error: None,
                fsync_error: None,
                retry_at: None,
                force_sync: false,
                syncing: false,
                delayed_fsync: 0,
                fsyncs: 0,
                inline_writes: 0,
                in_flight: false,
                deferred_at: None,
                deferred_grace: DEFERRED_GRACE,
                waiters: 0,
                shutdown: false,
                stopped: false,
                callbacks: Vec::new(),
                hook: None,
            }),
            work: Condvar::new(),
            sync_work: Condvar::new(),
            done: Condvar::new(),
            flush_sleep_us: std::sync::atomic::AtomicU64::new(0),
        });
        let s1 = shared.clone();
        let flusher = std::thread::Builder::new()
            .name("aof-flush".into())
            .spawn(move || flusher_loop(&s1))?;
        let s2 = shared.clone();
        let syncer = std::thread::Builder::new()
            .name("aof-fsync".into())
            .spawn(move || syncer_loop(&s2))?;
        Ok(AofWriter {
            shared,
            threads: vec![flusher, syncer],
        })
    }

    /// Queues `data` and returns the sequence to wait for. Cheap: one
    /// short lock and a copy; safe to call under the server lock.
    pub fn append(&self, data: &[u8]) -> u64 {
        let mut g = self.shared.lock();
        if !data.is_empty() {
            match g.ops.back_mut() {
                Some(Op::Data(v)) => v.extend_from_slice(data),
                _ => g.ops.push_back(Op::Data(data.to_vec())),
            }
            g.appended += data.len() as u64;
            g.pending += data.len() as u64;
        }
        let seq = g.appended;
        drop(g);
        self.shared.work.notify_one();
        seq
    }

    /// Appends a whole batch (everything an event-loop iteration
    /// propagated) and returns its sequence, like [`AofWriter::append`].
    /// Under `everysec` and `no` the data is written with one `write(2)` on
    /// this thread when possible (see the module docs), so it is in the OS
    /// before the caller replies and no thread is woken; otherwise it is
    /// queued for the flusher.
    pub fn write_batch(&self, data: &[u8]) -> u64 {
        let mut g = self.shared.lock();
        let inline = g.policy != FsyncPolicy::Always
            && !data.is_empty()
            && g.ops.is_empty()
            && !g.in_flight
            && !g.syncing
            && !g.force_sync
            && !g.shutdown
            && g.write_error.is_none();
        if !inline {
            if g.policy == FsyncPolicy::Always && !data.is_empty() {
                // Queued without waking the flusher: the caller commits it
                // (with every batch queued meanwhile) on its own thread.
                match g.ops.back_mut() {
                    Some(Op::Data(v)) => v.extend_from_slice(data),
                    _ => g.ops.push_back(Op::Data(data.to_vec())),
                }
                g.appended += data.len() as u64;
                g.pending += data.len() as u64;
                if g.deferred_at.is_none() {
                    g.deferred_at = Some(Instant::now());
                }
                return g.appended;
            }
            drop(g);
            return self.append(data);
        }
        g.appended += data.len() as u64;
        let seq = g.appended;
        let file = g.file.clone();
        self.shared.flush_sleep();
        let (n, err) = write_all_counted(&file, data);
        g.inline_writes += 1;
        if let Some(e) = err {
            // Same recovery as the flusher: cut a partial write back and
            // keep the whole batch queued for the retry.
            let rest = if n > 0 && file.set_len(g.incr_size).is_err() {
                g.incr_size += n as u64;
                g.written += n as u64;
                data[n..].to_vec()
            } else {
                data.to_vec()
            };
            g.pending += rest.len() as u64;
            g.ops.push_back(Op::Data(rest));
            g.write_error = Some(strerror(&e));
            g.retry_at = Some(Instant::now() + RETRY_DELAY);
            g.update_durable();
            self.shared.notify(g);
            self.shared.work.notify_one();
            return seq;
        }
        g.written += n as u64;
        g.incr_size += n as u64;
        g.update_durable();
        if g.waiters > 0 || !g.callbacks.is_empty() || g.hook.is_some() {
            self.shared.notify(g);
        }
        seq
    }

    /// The sequence of everything appended so far.
    pub fn appended(&self) -> u64 {
        self.shared.lock().appended
    }

    /// The durable sequence (see the module docs).
    pub fn durable(&self) -> u64 {
        self.shared.lock().durable
    }

    /// Blocks until data up to `seq` is durable. Call it outside the
    /// server lock (a blocking thread, e.g. `spawn_blocking`).
    pub fn wait_durable(&self, seq: u64) -> Result<(), AofError> {
        let mut g = self.shared.lock();
        loop {
            if g.durable >= seq {
                return Ok(());
            }
            if let Some(e) = g.error() {
                return Err(e);
            }
            if g.stopped {
                return Err(AofError::Closed);
            }
            g.waiters += 1;
            g = self.shared.wait(&self.shared.done, g);
            g.waiters -= 1;
        }
    }

    /// [`AofWriter::wait_durable`] with a time limit; `Ok(false)` on
    /// timeout.
    pub fn wait_durable_timeout(&self, seq: u64, timeout: Duration) -> Result<bool, AofError> {
        let deadline = Instant::now() + timeout;
        let mut g = self.shared.lock();
        loop {
            if g.durable >= seq {
                return Ok(true);
            }
            if let Some(e) = g.error() {
                return Err(e);
            }
            if g.stopped {
                return Err(AofError::Closed);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            g.waiters += 1;
            g = self
                .shared
                .wait_timeout(&self.shared.done, g, deadline - now);
            g.waiters -= 1;
        }
    }

    /// Runs `cb` once data up to `seq` is durable (or with the error that
    /// prevents it). It runs on a writer thread, or right here when the
    /// outcome is already known: keep it short (send on a channel, wake a
    /// task). This is the async-friendly form of `wait_durable`.
    pub fn on_durable(&self, seq: u64, cb: DurableCallback) {
        let mut g = self.shared.lock();
        g.callbacks.push((seq, cb));
        self.shared.notify(g);
    }

    /// A handle for [`AofHandle::commit`] outside the server lock.
    pub fn handle(&self) -> AofHandle {
        AofHandle {
            shared: self.shared.clone(),
        }
    }

    /// How long the flusher leaves data queued by `write_batch` under
    /// `always` to the caller's commit before writing it itself (default
    /// 5 ms; tests make it long to check who flushed).
    pub fn set_commit_grace(&self, grace: Duration) {
        self.shared.lock().deferred_grace = grace;
    }

    /// Installs the hook called with each new durable sequence.
    pub fn set_hook(&self, hook: Option<DurableHook>) {
        self.shared.lock().hook = hook;
    }

    /// Changes `appendfsync` at runtime.
    pub fn set_policy(&self, policy: FsyncPolicy) {
        let mut g = self.shared.lock();
        g.policy = policy;
        g.update_durable();
        self.shared.notify(g);
        self.shared.work.notify_one();
        self.shared.sync_work.notify_one();
    }

    /// The current policy.
    pub fn policy(&self) -> FsyncPolicy {
        self.shared.lock().policy
    }

    /// `DEBUG AOF-FLUSH-SLEEP`: sleep `micros` before each write.
    pub fn set_flush_sleep(&self, micros: u64) {
        self.shared
            .flush_sleep_us
            .store(micros, std::sync::atomic::Ordering::Relaxed);
    }

    /// `no-appendfsync-on-rewrite`.
    pub fn set_no_fsync_on_rewrite(&self, on: bool) {
        let mut g = self.shared.lock();
        g.no_fsync_on_rewrite = on;
        g.update_durable();
        self.shared.notify(g);
    }

    /// Tells the writer a rewrite (or any background save) is running, for
    /// `no-appendfsync-on-rewrite`.
    pub fn set_rewrite_active(&self, active: bool) {
        let mut g = self.shared.lock();
        g.rewrite_active = active;
        g.update_durable();
        self.shared.notify(g);
        self.shared.work.notify_one();
        self.shared.sync_work.notify_one();
    }

    /// Makes everything appended before this call go to the current file
    /// and everything after it to `file` (size `size`). The old file is
    /// fsynced (unless `no`) and closed by the writer thread, like
    /// upstream's background fsync-and-close.
    pub fn switch_file(&self, file: File, size: u64) {
        let mut g = self.shared.lock();
        g.ops.push_back(Op::Switch(Arc::new(file), size));
        drop(g);
        self.shared.work.notify_one();
    }

    /// Writes and fsyncs everything appended so far, whatever the policy
    /// (shutdown, `appendonly no`, before a rewrite hands over). Blocks.
    pub fn sync_all(&self) -> Result<(), AofError> {
        let mut g = self.shared.lock();
        let target = g.appended;
        g.force_sync = true;
        g.retry_at = None;
        self.shared.work.notify_one();
        loop {
            if g.synced >= target && g.written >= target {
                return Ok(());
            }
            if let Some(e) = &g.write_error {
                return Err(AofError::Write(e.clone()));
            }
            if let Some(e) = &g.fsync_error {
                return Err(AofError::Fsync(e.clone()));
            }
            if g.stopped {
                return Err(AofError::Closed);
            }
            if !g.force_sync {
                // A forced pass finished without covering us (new data
                // raced in): ask again.
                g.force_sync = true;
                self.shared.work.notify_one();
            }
            g.waiters += 1;
            g = self.shared.wait(&self.shared.done, g);
            g.waiters -= 1;
        }
    }

    /// `Ok` or the error `-MISCONF` should report (`aof_last_write_status`
    /// and the background fsync status).
    pub fn write_status(&self) -> Result<(), AofError> {
        let g = self.shared.lock();
        if let Some(e) = &g.write_error {
            return Err(AofError::Write(e.clone()));
        }
        if let Some(e) = &g.fsync_error {
            return Err(AofError::Fsync(e.clone()));
        }
        Ok(())
    }

    /// Forgets a recorded error (upstream clears it when AOF is turned
    /// back on).
    pub fn clear_errors(&self) {
        let mut g = self.shared.lock();
        g.write_error = None;
        g.fsync_error = None;
        g.retry_at = None;
        drop(g);
        self.shared.work.notify_one();
    }

    /// Counters.
    pub fn stats(&self) -> AofStats {
        let g = self.shared.lock();
        AofStats {
            appended: g.appended,
            written: g.written,
            synced: g.synced,
            durable: g.durable,
            pending: g.pending,
            incr_size: g.incr_size,
            delayed_fsync: g.delayed_fsync,
            write_error: g.write_error.clone(),
            fsync_error: g.fsync_error.clone(),
            fsyncs: g.fsyncs,
            inline_writes: g.inline_writes,
        }
    }

    /// Flushes and fsyncs everything, then stops the threads.
    pub fn close(mut self) -> Result<(), AofError> {
        let r = self.sync_all();
        self.stop();
        r
    }

    fn stop(&mut self) {
        {
            let mut g = self.shared.lock();
            g.shutdown = true;
            // The last pass writes what is queued and fsyncs it, as
            // upstream does when it stops appending or shuts down.
            g.force_sync = true;
        }
        self.shared.work.notify_all();
        self.shared.sync_work.notify_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        let mut g = self.shared.lock();
        g.stopped = true;
        self.shared.notify(g);
    }
}

impl Drop for AofWriter {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.stop();
        }
    }
}

/// What [`AofHandle::commit`] achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Commit {
    /// The sequence is durable.
    Durable,
    /// Another round is writing it (or the policy is not `always`): wait
    /// with [`AofHandle::on_durable`].
    Pending,
    /// It cannot become durable now (the error, or `Closed`).
    Failed(AofError),
}

/// A cheap handle on a writer, usable without the server lock: the
/// event-loop side of group commit under `appendfsync always`.
#[derive(Clone)]
pub struct AofHandle {
    shared: Arc<Shared>,
}

impl AofHandle {
    /// Makes `seq` durable on the calling thread when no other round is
    /// in flight: writes and fsyncs everything queued so far (every batch
    /// appended since the last round shares this fsync, as in upstream's
    /// `beforeSleep`), then runs the callbacks it made ready. Blocks for
    /// the disk flush; call it outside the server lock.
    pub fn commit(&self, seq: u64) -> Commit {
        let mut g = self.shared.lock();
        for _ in 0..2 {
            if g.durable >= seq {
                return Commit::Durable;
            }
            if let Some(e) = g.error() {
                return Commit::Failed(e);
            }
            if g.stopped {
                return Commit::Failed(AofError::Closed);
            }
            if g.shutdown
                || g.in_flight
                || g.ops.is_empty()
                || g.retry_at.is_some()
                || g.policy != FsyncPolicy::Always
            {
                // Whoever is busy, the flusher takes the queued data as
                // soon as it can instead of waiting out the grace period.
                if !g.ops.is_empty() && g.deferred_at.take().is_some() {
                    drop(g);
                    self.shared.work.notify_one();
                }
                return Commit::Pending;
            }
            g = flush_round(&self.shared, g);
        }
        if g.durable >= seq {
            Commit::Durable
        } else {
            Commit::Pending
        }
    }

    /// Same as [`AofWriter::on_durable`].
    pub fn on_durable(&self, seq: u64, cb: DurableCallback) {
        let mut g = self.shared.lock();
        g.callbacks.push((seq, cb));
        self.shared.notify(g);
    }
}

/// The flusher: writes batches, fsyncs under `always` or when forced.
fn flusher_loop(sh: &Shared) {
    let mut g = sh.lock();
    loop {
        let now = Instant::now();
        let retry_blocked = matches!(g.retry_at, Some(t) if t > now);
        let has_data = !g.ops.is_empty();
        if g.shutdown && !g.in_flight && ((!has_data && !g.force_sync) || g.write_error.is_some()) {
            // On shutdown with a pending error one last attempt was made
            // by close(); give up rather than spin.
            break;
        }
        if g.in_flight {
            // A caller's commit is writing; look again when it is done.
            g = sh.wait_timeout(&sh.done, g, Duration::from_millis(1));
            continue;
        }
        // Data a caller will commit itself is left to it for a moment.
        let deferred_wait = match g.deferred_at {
            Some(t) if has_data && !g.force_sync && g.policy == FsyncPolicy::Always => {
                (t + g.deferred_grace).checked_duration_since(now)
            }
            _ => None,
        };
        if (!has_data || retry_blocked || deferred_wait.is_some()) && !g.force_sync {
            g = match (g.retry_at, deferred_wait) {
                (Some(t), _) if has_data && t > now => sh.wait_timeout(&sh.work, g, t - now),
                (_, Some(d)) => sh.wait_timeout(&sh.work, g, d),
                // Under `always`, look regularly for deferred data whose
                // caller never committed it.
                _ if g.policy == FsyncPolicy::Always => {
                    let grace = g.deferred_grace;
                    sh.wait_timeout(&sh.work, g, grace)
                }
                _ => sh.wait(&sh.work, g),
            };
            continue;
        }
        g = flush_round(sh, g);
    }
}

/// One flush: takes every queued op, writes it (fsyncing as the policy or
/// a forced sync asks), records the outcome and runs the callbacks it
/// made ready. Called with the lock held and no round in flight; returns
/// with the lock held again.
fn flush_round<'a>(sh: &'a Shared, mut g: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
    let force = g.force_sync;
    let ops: Vec<Op> = g.ops.drain(..).collect();
    let mut file = g.file.clone();
    let mut size = g.incr_size;
    let batch_start_written = g.written;
    let policy = g.policy;
    let suppressed = g.fsync_suppressed();
    if g.syncing {
        // A background fsync is running: the write may stall behind it.
        g.delayed_fsync += 1;
    }
    g.in_flight = true;
    g.deferred_at = None;
    drop(g);

    let mut written_now: u64 = 0;
    let mut requeue: VecDeque<Op> = VecDeque::new();
    let mut werr: Option<String> = None;
    let mut ferr: Option<String> = None;
    let mut iter = ops.into_iter();
    while let Some(op) = iter.next() {
        match op {
            Op::Data(buf) => {
                sh.flush_sleep();
                let (n, err) = write_all_counted(&file, &buf);
                if let Some(e) = err {
                    werr = Some(strerror(&e));
                    // Cut a partial write back so the file never ends
                    // in half a command; keep the whole buffer queued.
                    let rest = if n > 0 && file.set_len(size).is_err() {
                        size += n as u64;
                        written_now += n as u64;
                        buf[n..].to_vec()
                    } else {
                        buf
                    };
                    requeue.push_back(Op::Data(rest));
                    requeue.extend(iter.by_ref());
                    break;
                }
                size += n as u64;
                written_now += n as u64;
            }
            Op::Switch(newf, newsize) => {
                if policy != FsyncPolicy::No {
                    if let Err(e) = file.sync_data() {
                        ferr = Some(strerror(&e));
                    }
                }
                file = newf;
                size = newsize;
            }
        }
    }
    let mut synced_to = None;
    if werr.is_none() {
        let want_sync = force || (policy == FsyncPolicy::Always && !suppressed);
        if want_sync {
            match file.sync_data() {
                Ok(()) => synced_to = Some(batch_start_written + written_now),
                Err(e) => ferr = Some(strerror(&e)),
            }
        }
    }

    g = sh.lock();
    g.in_flight = false;
    // Put back what failed, ahead of anything appended meanwhile.
    while let Some(op) = requeue.pop_back() {
        match (&op, g.ops.front_mut()) {
            (Op::Data(a), Some(Op::Data(b))) => {
                let mut merged = a.clone();
                merged.extend_from_slice(b);
                *b = merged;
            }
            _ => g.ops.push_front(op),
        }
    }
    g.written += written_now;
    g.pending = g.pending.saturating_sub(written_now);
    g.file = file;
    g.incr_size = size;
    if let Some(s) = synced_to {
        g.fsyncs += 1;
        if s > g.synced {
            g.synced = s;
        }
        g.fsync_error = None;
    }
    match werr {
        Some(e) => {
            g.write_error = Some(e);
            g.retry_at = Some(Instant::now() + RETRY_DELAY);
        }
        None => {
            g.write_error = None;
            g.retry_at = None;
        }
    }
    if let Some(e) = ferr {
        g.fsync_error = Some(e);
    }
    if force && (g.ops.is_empty() || g.write_error.is_some() || g.fsync_error.is_some()) {
        g.force_sync = false;
    }
    // The everysec syncer only needs a nudge when this batch is the
    // first unsynced data (otherwise it is already counting down).
    let nudge_syncer =
        g.policy == FsyncPolicy::EverySec && written_now > 0 && g.synced == g.written - written_now;
    g.update_durable();
    sh.notify(g);
    if nudge_syncer {
        sh.sync_work.notify_one();
    }
    sh.lock()
}

/// The everysec syncer: fsyncs the current file at most once a second
/// when there is written data not yet fsynced.
fn syncer_loop(sh: &Shared) {
    let mut last = Instant::now();
    let mut g = sh.lock();
    loop {
        if g.shutdown {
            break;
        }
        let due = last + Duration::from_secs(1);
        let now = Instant::now();
        let wanted =
            g.policy == FsyncPolicy::EverySec && g.written > g.synced && !g.fsync_suppressed();
        if !wanted {
            g = sh.wait_timeout(&sh.sync_work, g, Duration::from_secs(1));
            continue;
        }
        if now < due {
            g = sh.wait_timeout(&sh.sync_work, g, due - now);
            continue;
        }
        let file = g.file.clone();
        let target = g.written;
        g.syncing = true;
        drop(g);
        let r = file.sync_data();
        last = Instant::now();
        g = sh.lock();
        g.syncing = false;
        g.fsyncs += 1;
        match r {
            Ok(()) => {
                // Only count it if no switch happened meanwhile that would
                // make `target` refer to another file's data (switches
                // fsync the old file themselves, so this is conservative).
                if Arc::ptr_eq(&file, &g.file) && target > g.synced {
                    g.synced = target;
                }
                g.fsync_error = None;
            }
            Err(e) => g.fsync_error = Some(strerror(&e)),
        }
        g.update_durable();
        sh.notify(g);
        g = sh.lock();
    }
}
