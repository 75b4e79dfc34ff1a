//! Shutdown as 7.0 does it (`SHUTDOWN`, SIGTERM, SIGINT): a primary whose
//! replicas have not acknowledged the whole stream pauses writes, asks
//! them for an acknowledgement (`REPLCONF GETACK *`) and waits up to
//! `shutdown-timeout` seconds for them before saving and exiting, so a
//! clean shutdown loses no acknowledged write. `NOW` skips the wait,
//! `SHUTDOWN ABORT` cancels it, `FORCE` exits despite save errors.
//!
//! The exit itself belongs to the binary: a finished shutdown sets
//! [`State::shutdown`] and wakes [`State::shutdown_notify`].

use bytes::Bytes;
use redis_replication::ReplicaState;

use crate::state::{ShutdownRequest, State};

/// A shutdown waiting for replicas.
#[derive(Debug)]
pub struct PendingShutdown {
    /// What was asked (by the first `SHUTDOWN` or the signal).
    pub req: ShutdownRequest,
    /// Unix ms when the wait ends regardless.
    pub deadline_ms: i64,
    /// Clients blocked in `SHUTDOWN`: they get an error if it fails or is
    /// aborted, and nothing (the connection closes) if it succeeds.
    pub waiters: Vec<u64>,
    /// The pause in force before the wait, restored on cancel.
    prev_pause: Option<(i64, bool)>,
}

/// Where a shutdown request went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShutdownStep {
    /// Done: the process exits ([`State::shutdown`] is set).
    Exit,
    /// Waiting for replicas; the cron finishes it.
    Waiting,
    /// Failed (logged); the server keeps running.
    Failed,
}

/// The error blocked `SHUTDOWN` callers get when it fails or is aborted.
const SHUTDOWN_FAILED: &[u8] = b"-ERR Errors trying to SHUTDOWN. Check logs.\r\n";

impl ShutdownRequest {
    /// The flags of a signal-triggered shutdown from `shutdown-on-sigterm`
    /// / `shutdown-on-sigint` (`default`, or any of `save`, `nosave`,
    /// `now`, `force`).
    pub fn from_signal_config(value: &str) -> ShutdownRequest {
        let mut req = ShutdownRequest::default();
        for word in value.split_whitespace() {
            match word.to_ascii_lowercase().as_str() {
                "save" => req.save = true,
                "nosave" => req.nosave = true,
                "now" => req.now = true,
                "force" => req.force = true,
                _ => {}
            }
        }
        req
    }
}

impl State {
    /// Whether every replica acknowledged the whole stream.
    fn replicas_caught_up(&self) -> bool {
        let offset = self.repl.ids.master_repl_offset;
        self.repl.replicas.iter().all(|r| r.ack_offset >= offset)
    }

    /// Starts a shutdown (`SHUTDOWN`, or a signal through the binary).
    /// A shutdown already waiting is not restarted: the caller joins it.
    pub fn request_shutdown(&mut self, req: ShutdownRequest, now: i64) -> ShutdownStep {
        if self.shutdown_pending.is_some() {
            return ShutdownStep::Waiting;
        }
        self.log_warning("User requested shutdown...");
        let timeout = self.config.get_int("shutdown-timeout");
        if !req.now && timeout > 0 && !self.replicas_caught_up() {
            let prev_pause = self.pause;
            if prev_pause.is_none() {
                self.request_acks();
            }
            // Writes wait (readers go on) so the offsets stop moving.
            self.pause = Some((i64::MAX, true));
            self.shutdown_pending = Some(PendingShutdown {
                req,
                deadline_ms: now.saturating_add(timeout.saturating_mul(1000)),
                waiters: Vec::new(),
                prev_pause,
            });
            self.log_notice("Waiting for replicas before shutting down.");
            return ShutdownStep::Waiting;
        }
        self.finish_shutdown(req, now, Vec::new())
    }

    /// Registers `client` as blocked on the pending shutdown.
    pub fn wait_for_shutdown(&mut self, client: u64) {
        if let Some(p) = self.shutdown_pending.as_mut() {
            p.waiters.push(client);
        }
    }

    /// From the cron: a waiting shutdown goes on once every replica caught
    /// up or `shutdown-timeout` passed.
    pub fn shutdown_cron(&mut self, now: i64) {
        let due = self
            .shutdown_pending
            .as_ref()
            .is_some_and(|p| now >= p.deadline_ms || self.replicas_caught_up());
        if !due {
            return;
        }
        if let Some(p) = self.shutdown_pending.as_mut() {
            let waiters = std::mem::take(&mut p.waiters);
            let req = p.req;
            self.finish_shutdown(req, now, waiters);
        }
    }

    /// `SHUTDOWN ABORT`: cancels a waiting shutdown; false when none.
    pub fn abort_shutdown(&mut self) -> bool {
        if self.shutdown_pending.is_none() {
            return false;
        }
        self.cancel_shutdown(Vec::new());
        self.log_notice("Shutdown manually aborted.");
        true
    }

    /// Ends a waiting shutdown: the pause lifts and blocked callers get
    /// the error.
    fn cancel_shutdown(&mut self, mut waiters: Vec<u64>) {
        if let Some(p) = self.shutdown_pending.take() {
            waiters.extend(p.waiters);
            if self.pause == Some((i64::MAX, true)) {
                self.pause = p.prev_pause;
            }
        }
        for id in waiters {
            if let Some(w) = self.unblock(id) {
                let _ = w.signal.push.send(Bytes::from_static(SHUTDOWN_FAILED));
            }
        }
    }

    /// Logs the replicas still behind, saves and prepares the exit.
    fn finish_shutdown(
        &mut self,
        req: ShutdownRequest,
        now: i64,
        waiters: Vec<u64>,
    ) -> ShutdownStep {
        let offset = self.repl.ids.master_repl_offset;
        let total = self.repl.replicas.len();
        let mut lagging = Vec::new();
        for r in &self.repl.replicas {
            if r.ack_offset == offset {
                continue;
            }
            let lag = if r.state == ReplicaState::Online {
                (now - r.last_ack_ms).max(0) / 1000
            } else {
                0
            };
            lagging.push(format!(
                "Lagging replica {} reported offset {} behind master, lag={lag}, state={}.",
                r.name(),
                offset - r.ack_offset,
                r.state.info_word()
            ));
        }
        for line in &lagging {
            self.log_warning(line);
        }
        if total > 0 {
            self.log_notice(&format!(
                "{} of {total} replicas are in sync when shutting down.",
                total - lagging.len()
            ));
        }
        if self.prepare_shutdown(req).is_err() {
            self.log_warning(
                "Errors trying to shut down the server. Check the logs for more information.",
            );
            self.cancel_shutdown(waiters);
            return ShutdownStep::Failed;
        }
        self.shutdown_pending = None;
        self.shutdown = Some(req);
        // The ports close now, before any connection sees its reply or
        // its end: a client reconnecting right after SHUTDOWN is refused,
        // as with upstream, whose process is gone by then.
        if let Some(l) = self.listeners.take() {
            l.close();
        }
        self.shutdown_notify.notify_one();
        ShutdownStep::Exit
    }
}

#[cfg(test)]
#[path = "shutdown_tests.rs"]
mod tests;
