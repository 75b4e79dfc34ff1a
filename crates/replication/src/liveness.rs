//! Timing of a replication link as pure state machines: the caller passes
//! the clock (unix ms) and sleeps until [`ReplicaLiveness::next_wakeup`];
//! nothing here sleeps or reads a clock, so tests drive time directly.
//!
//! - Replica side: `REPLCONF ACK <offset>` once a second (and at once
//!   when the stream starts), and `repl-timeout` when the primary sends
//!   neither data nor its periodic `PING`.
//! - Primary side: the `PING` every `repl-ping-replica-period` seconds,
//!   the replica ack timeout, "good" replicas for
//!   `min-replicas-max-lag`, and `repl-backlog-ttl`.

use crate::error::ReplError;

/// Interval between two `REPLCONF ACK`s from a replica.
pub const ACK_PERIOD_MS: i64 = 1000;

/// What the replica's link should do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicaAction {
    /// Send `REPLCONF ACK <our offset>`.
    SendAck,
    /// The primary has been silent past `repl-timeout`: drop the link
    /// ([`ReplicaLiveness::timeout_error`] is the line to log).
    Timeout,
}

/// The connected replica's schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaLiveness {
    last_data_ms: i64,
    next_ack_ms: i64,
}

impl ReplicaLiveness {
    /// The stream starts at `now`: the first ACK is due at once (it puts
    /// a replica that loaded an EOF-marked RDB online on the primary).
    pub fn new(now: i64) -> ReplicaLiveness {
        ReplicaLiveness {
            last_data_ms: now,
            next_ack_ms: now,
        }
    }

    /// Bytes (stream or keep-alive) arrived at `now`.
    pub fn on_data(&mut self, now: i64) {
        self.last_data_ms = self.last_data_ms.max(now);
    }

    /// When data last arrived.
    pub fn last_data_ms(&self) -> i64 {
        self.last_data_ms
    }

    /// What is due at `now` with `repl-timeout` of `timeout_secs` (at
    /// least 1). A timeout wins over an ACK and stays due; an ACK is
    /// reported once, the next one a period later.
    pub fn poll(&mut self, now: i64, timeout_secs: i64) -> Option<ReplicaAction> {
        if now - self.last_data_ms > timeout_ms(timeout_secs) {
            return Some(ReplicaAction::Timeout);
        }
        if now >= self.next_ack_ms {
            // From now, not from the missed slot: a stalled task sends one
            // ACK, not a burst.
            self.next_ack_ms = now + ACK_PERIOD_MS;
            return Some(ReplicaAction::SendAck);
        }
        None
    }

    /// The earliest time [`ReplicaLiveness::poll`] can return something.
    pub fn next_wakeup(&self, timeout_secs: i64) -> i64 {
        self.next_ack_ms
            .min(self.last_data_ms + timeout_ms(timeout_secs) + 1)
    }

    /// The error (and log line) of [`ReplicaAction::Timeout`].
    pub fn timeout_error() -> ReplError {
        ReplError::MasterTimeout
    }
}

fn timeout_ms(secs: i64) -> i64 {
    secs.max(1).saturating_mul(1000)
}

/// The primary's keep-alive `PING` into the stream (part of the offsets,
/// so replicas can tell a silent primary from a dead one).
///
/// Upstream counts the runs of its once-a-second replication cron since
/// start and pings on every multiple of `repl-ping-replica-period`; the
/// seconds elapsed since start stand for that counter here, so a replica
/// that attaches between two multiples waits for the next one (a test
/// harness reading the stream relies on that, with a large period), and a
/// new period pings at its own next multiple, not at once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PingSchedule {
    /// Seconds since start at the previous call.
    last_secs: Option<i64>,
}

impl PingSchedule {
    /// A schedule that has not pinged yet.
    pub fn new() -> PingSchedule {
        PingSchedule::default()
    }

    /// Whether a `PING` is due `secs_since_start` seconds after the server
    /// started, with `repl-ping-replica-period` of `period_secs` (at least
    /// 1): at the first call ever (upstream's cron run 0), then when a
    /// multiple of the period was reached since the previous call. The
    /// caller asks on every cron run, replicas or not (so the schedule
    /// keeps pace with time), and sends the `PING` only when it has
    /// replicas and no failover or pause holds the offsets still.
    pub fn due(&mut self, secs_since_start: i64, period_secs: i64) -> bool {
        let p = period_secs.max(1);
        let due = match self.last_secs {
            None => true,
            Some(prev) => secs_since_start.div_euclid(p) != prev.div_euclid(p),
        };
        self.last_secs = Some(secs_since_start);
        due
    }
}

/// Whether an online replica that last acknowledged at `last_ack_ms` has
/// been silent past `repl-timeout` (replicas that came with `SYNC` never
/// acknowledge and are not checked by the caller).
pub fn replica_timed_out(now: i64, last_ack_ms: i64, timeout_secs: i64) -> bool {
    now - last_ack_ms > timeout_ms(timeout_secs)
}

/// The line logged when [`replica_timed_out`] drops a replica.
pub fn replica_timeout_line(replica: &str) -> String {
    format!("Disconnecting timedout replica (streaming sync): {replica}")
}

/// Whether a replica counts for `min-replicas-to-write`: its lag (whole
/// seconds since its last ack) is at most `max_lag_secs`.
pub fn is_good_replica(now: i64, last_ack_ms: i64, max_lag_secs: i64) -> bool {
    (now - last_ack_ms) / 1000 <= max_lag_secs
}

/// `repl-backlog-ttl`: a primary without replicas frees its backlog after
/// that long (replicas keep theirs: they may be promoted).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BacklogTtl {
    no_replicas_since_ms: Option<i64>,
}

impl BacklogTtl {
    /// Not counting yet.
    pub fn new() -> BacklogTtl {
        BacklogTtl::default()
    }

    /// Restarts the count at `now` (a replica turned primary: its
    /// replicas get time to reconnect).
    pub fn restart(&mut self, now: i64) {
        self.no_replicas_since_ms = Some(now);
    }

    /// Once a second: whether the backlog should be freed now. `idle` is
    /// true for a primary with an active backlog and no replicas; anything
    /// else stops the count. `ttl_secs` 0 keeps the backlog forever. When
    /// it returns true the caller calls [`crate::ReplIds::forget_history`]
    /// and [`crate::Backlog::deactivate`] and logs [`BacklogTtl::freed_line`].
    pub fn poll(&mut self, now: i64, idle: bool, ttl_secs: i64) -> bool {
        if !idle {
            self.no_replicas_since_ms = None;
            return false;
        }
        let since = *self.no_replicas_since_ms.get_or_insert(now);
        if ttl_secs <= 0 || now - since < ttl_secs.saturating_mul(1000) {
            return false;
        }
        self.no_replicas_since_ms = None;
        true
    }

    /// The line logged when the backlog is freed.
    pub fn freed_line(ttl_secs: i64) -> String {
        format!("Replication backlog freed after {ttl_secs} seconds without connected replicas.")
    }
}

#[cfg(test)]
#[path = "liveness_tests.rs"]
mod tests;
