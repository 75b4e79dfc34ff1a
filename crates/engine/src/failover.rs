//! `FAILOVER`: a coordinated switchover from this primary to one of its
//! replicas (upstream 7.0 semantics). Writes are paused, the target is
//! waited for until it has acknowledged the whole stream, then this server
//! becomes a replica of the target and asks it, with `PSYNC … FAILOVER`, to
//! promote itself; the target answers `+CONTINUE`, so nothing resyncs.

use crate::state::State;

/// A failover in progress on the primary.
#[derive(Clone, Debug)]
pub struct Failover {
    pub host: String,
    pub port: u16,
    /// Unix ms after which the failover aborts (or is forced), if any.
    pub deadline: Option<i64>,
    pub force: bool,
    /// Offset the target must acknowledge.
    pub offset: i64,
}

impl State {
    /// Drives a failover from cron: once the target acknowledged the whole
    /// stream (or the timeout passed with FORCE), demote to its replica.
    pub fn failover_cron(&mut self, now: i64) {
        let Some(f) = self.failover.clone() else {
            return;
        };
        // Writes are paused, so the stream only grows by GETACKs: the
        // target is in sync once it acknowledged the offset of the request.
        let caught_up = self
            .repl
            .replicas
            .iter()
            .any(|r| r.ip == f.host && r.listening_port == f.port && r.ack_offset >= f.offset);
        if !caught_up {
            self.request_acks();
        }
        let timed_out = f.deadline.is_some_and(|d| now >= d);
        let forced = timed_out && f.force;
        if !caught_up && !forced {
            if timed_out {
                self.failover = None;
                self.pause = None;
                self.log_notice(&format!(
                    "FAILOVER to {}:{} aborted: Replica never caught up before timeout",
                    f.host, f.port
                ));
            }
            return;
        }
        self.failover = None;
        if caught_up {
            self.log_notice(&format!(
                "Failover target {}:{} is synced, failing over.",
                f.host, f.port
            ));
        } else {
            self.log_notice(&format!(
                "FAILOVER to {}:{} time out exceeded, failing over.",
                f.host, f.port
            ));
        }
        self.become_replica(f.host, f.port, now);
        if let Some(m) = self.master.as_mut() {
            m.failover = true;
        }
        self.pause = None;
    }
}

#[cfg(test)]
#[path = "failover_tests.rs"]
mod tests;
