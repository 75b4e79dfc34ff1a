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
mod tests {
    use super::*;
    use crate::client::ConnSignal;
    use crate::replication::ReplicaLink;
    use redis_config::Config;
    use redis_replication::ReplicaState;
    use std::sync::Arc;

    /// A primary with one online replica at `127.0.0.1:6380` that has
    /// acknowledged `ack`, failing over to it until `deadline` (Unix ms).
    fn failing_over(ack: i64, deadline: i64, force: bool) -> (State, redis_net::PushReceiver) {
        let mut st = State::new(Config::default(), 1_000_000, crate::Registry::empty());
        let (tx, rx) = redis_net::push_channel();
        st.repl.replicas.push(ReplicaLink {
            client_id: 7,
            ip: "127.0.0.1".into(),
            listening_port: 6380,
            state: ReplicaState::Online,
            ack_offset: ack,
            last_ack_ms: 1_000_000,
            pending: bytes::BytesMut::new(),
            signal: Arc::new(ConnSignal::new(tx)),
            capa_eof: true,
            capa_psync2: true,
            pre_psync: false,
            rdb_only: false,
            stream_on_ack: false,
            wait_since_ms: 0,
        });
        st.pause = Some((i64::MAX, true));
        st.failover = Some(Failover {
            host: "127.0.0.1".into(),
            port: 6380,
            deadline: Some(deadline),
            force,
            offset: 100,
        });
        (st, rx)
    }

    /// The decision runs on the clock passed in: no sleeping through the
    /// timeout. A lagging target is waited for until the deadline, then
    /// the failover aborts and writes resume.
    #[test]
    fn lagging_target_is_waited_for_then_the_failover_aborts() {
        let (mut st, _rx) = failing_over(50, 2_000_000, false);
        st.failover_cron(1_999_999);
        assert!(st.failover.is_some());
        assert!(st.master.is_none());
        st.failover_cron(2_000_000);
        assert!(st.failover.is_none());
        assert!(st.pause.is_none());
        assert!(st.master.is_none(), "still the primary");
    }

    /// A target that acknowledged the offset is followed at once; with
    /// FORCE, a lagging one is followed once the deadline passed.
    #[test]
    fn synced_or_forced_target_becomes_our_primary() {
        let (mut st, _rx) = failing_over(100, 2_000_000, false);
        st.failover_cron(1_000_001);
        assert!(st.failover.is_none());
        assert!(st.pause.is_none());
        let m = st.master.as_ref().expect("a replica of the target");
        assert_eq!(
            (m.host.as_str(), m.port, m.failover),
            ("127.0.0.1", 6380, true)
        );

        let (mut st, _rx) = failing_over(50, 2_000_000, true);
        st.failover_cron(1_500_000);
        assert!(st.master.is_none());
        st.failover_cron(2_000_000);
        assert!(st.master.as_ref().is_some_and(|m| m.failover));
    }
}
